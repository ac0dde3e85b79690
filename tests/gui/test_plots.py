"""The cost and accuracy plots: buffered appends, timed redraws, and how curves look."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from dnnstudio.core.training import HISTORY_FIELDS, EpochRecord
from dnnstudio.gui.palette import color_for
from dnnstudio.gui.panels.plots import (
    DIMMED_ALPHA,
    MAX_POINTS,
    NORMAL_WIDTH,
    SELECTED_WIDTH,
    CostPlotsPanel,
    nice_ceiling,
)


def _record(epoch: int, cost: float, val_cost: float = math.nan) -> EpochRecord:
    return EpochRecord(
        epoch=epoch,
        train_cost=cost,
        val_cost=val_cost,
        train_metric=epoch / 10_000,
        val_metric=math.nan if math.isnan(val_cost) else epoch / 20_000,
        learning_rate=0.01,
        elapsed_s=epoch * 0.001,
    )


def _history(n: int, *, start: float = 1.0) -> dict[str, list[float]]:
    epochs = np.arange(1, n + 1, dtype=np.float64)
    cost = start / np.sqrt(epochs)
    return {
        "train_cost": cost.tolist(),
        "val_cost": (cost * 1.1).tolist(),
        "train_metric": (1 - cost / 2).tolist(),
        "val_metric": (1 - cost / 1.8).tolist(),
        "learning_rate": [0.01] * n,
        "elapsed_s": (epochs * 0.001).tolist(),
    }


@pytest.fixture
def panel(qtbot: QtBot) -> CostPlotsPanel:
    widget = CostPlotsPanel()
    qtbot.addWidget(widget)
    widget.resize(700, 500)
    return widget


def _points(curve: pg.PlotCurveItem) -> int:
    """How many points a curve was given (pyqtgraph stores no data as None)."""
    return 0 if curve.xData is None else len(curve.xData)


def _wait_for_frame(qtbot: QtBot, panel: CostPlotsPanel) -> None:
    before = panel.frames_drawn
    qtbot.waitUntil(lambda: panel.frames_drawn > before, timeout=2000)


def test_small_batches_are_buffered_and_drawn_in_order_on_the_next_frame(
    qtbot: QtBot, panel: CostPlotsPanel
) -> None:
    panel.add_experiment(1, "alpha = 0.01")
    frames = panel.frames_drawn
    records = [_record(e, 1.0 / e, 2.0 / e if e % 3 == 0 else math.nan) for e in range(1, 601)]
    for start in range(0, len(records), 3):
        panel.append(1, records[start : start + 3])

    # Appending only buffers: nothing is drawn until the frame timer fires.
    assert panel.frames_drawn == frames
    curves = panel.curves(1)
    assert _points(curves["train_cost"]) == 0

    _wait_for_frame(qtbot, panel)
    x, y = curves["train_cost"].xData, curves["train_cost"].yData
    np.testing.assert_array_equal(x, np.arange(1, 601))
    np.testing.assert_array_equal(y, [r.train_cost for r in records])
    np.testing.assert_array_equal(
        curves["train_metric"].yData, [r.train_metric for r in records]
    )
    # Validation measured every third epoch: the curve joins those epochs only.
    np.testing.assert_array_equal(curves["val_cost"].xData, np.arange(3, 601, 3))
    np.testing.assert_array_equal(
        curves["val_cost"].yData, [r.val_cost for r in records if r.epoch % 3 == 0]
    )


def test_many_appends_between_frames_make_one_frame(qtbot: QtBot, panel: CostPlotsPanel) -> None:
    panel.add_experiment(1)
    panel.add_experiment(2)
    for epoch in range(1, 201):
        panel.append(1, [_record(epoch, 1.0)])
        panel.append(2, [_record(epoch, 2.0)])
    _wait_for_frame(qtbot, panel)
    assert panel.frames_drawn == 1
    assert len(panel.curves(2)["train_cost"].xData) == 200


# Showing a window on the offscreen platform logs this harmless warning.
@pytest.mark.qt_log_ignore("does not support propagateSizeHints")
def test_a_10000_epoch_history_renders_downsampled(qtbot: QtBot, panel: CostPlotsPanel) -> None:
    panel.show()
    qtbot.waitExposed(panel)
    panel.set_history(1, _history(10_000))
    _wait_for_frame(qtbot, panel)
    curve = panel.curves(1)["train_cost"]
    # Reduced to each bin's min and max before pyqtgraph sees it: same envelope, fewer points.
    assert len(curve.xData) <= MAX_POINTS + 2
    assert curve.xData[0] == 1
    assert curve.xData[-1] == 10_000
    full = np.asarray(_history(10_000)["train_cost"])
    assert curve.yData.max() == pytest.approx(full.max())
    assert curve.yData.min() == pytest.approx(full.min())

    image = panel.graphics.grab().toImage()
    assert not image.isNull()


def test_unmeasured_validation_and_a_nonfinite_cost_do_not_break_drawing(
    qtbot: QtBot, panel: CostPlotsPanel
) -> None:
    history = _history(50)
    history["val_cost"] = [math.nan] * 50  # validation only measured after training
    history["val_metric"] = [None] * 50  # type: ignore[list-item]  # as JSON stores NaN
    history["train_cost"][-1] = math.inf
    panel.set_history(1, history)
    _wait_for_frame(qtbot, panel)
    curves = panel.curves(1)
    assert _points(curves["val_cost"]) == 0
    assert _points(curves["val_metric"]) == 0
    np.testing.assert_array_equal(curves["train_cost"].xData, np.arange(1, 50))
    panel.grab()  # paints without raising


def test_log_scale_checkbox_switches_the_cost_axis(qtbot: QtBot, panel: CostPlotsPanel) -> None:
    axis = panel.cost_plot.getAxis("left")
    assert not axis.logMode
    with qtbot.waitSignal(panel.logScaleToggled) as blocker:
        panel.log_check.setChecked(True)
    assert blocker.args == [True]
    assert axis.logMode
    assert panel.log_scale
    assert not panel.metric_plot.getAxis("left").logMode
    history = _history(20)
    history["train_cost"][3] = 0.0  # no logarithm: left out on the log axis
    panel.set_history(1, history)
    _wait_for_frame(qtbot, panel)
    curve = panel.curves(1)["train_cost"]
    kept = [c for c in history["train_cost"] if c > 0]
    np.testing.assert_allclose(curve.yData, np.log10(kept))
    np.testing.assert_allclose(panel.curves(1)["train_metric"].yData,
                               history["train_metric"])  # the metric axis stays linear
    panel.log_check.setChecked(False)
    assert not axis.logMode
    np.testing.assert_allclose(panel.curves(1)["train_cost"].yData, history["train_cost"])


def test_highlight_thickens_the_selection_and_dims_the_rest(
    qtbot: QtBot, panel: CostPlotsPanel
) -> None:
    for experiment_id in (1, 2, 3):
        panel.set_history(experiment_id, _history(20, start=experiment_id))

    def pens(experiment_id: int) -> list[tuple[float, int, str]]:
        return [
            (curve.opts["pen"].widthF(), curve.opts["pen"].color().alpha(),
             curve.opts["pen"].color().name())
            for curve in panel.curves(experiment_id).values()
        ]

    normal = pens(1)
    assert all(width == NORMAL_WIDTH and alpha == 255 for width, alpha, _ in normal)
    assert {name for *_, name in normal} == {color_for(1).name()}

    panel.highlight([2])
    assert all(width == SELECTED_WIDTH and alpha == 255 for width, alpha, _ in pens(2))
    for other in (1, 3):
        assert all(alpha == DIMMED_ALPHA for _, alpha, _ in pens(other))
    assert panel.curves(2)["train_cost"].zValue() > panel.curves(1)["train_cost"].zValue()

    panel.highlight([])
    assert pens(1) == normal
    assert all(width == NORMAL_WIDTH and alpha == 255 for width, alpha, _ in pens(2))


def test_mark_diverged_puts_a_marker_at_the_last_finite_cost(
    qtbot: QtBot, panel: CostPlotsPanel
) -> None:
    history = _history(8)
    history["train_cost"][7] = math.nan  # epoch 8 blew up
    panel.add_experiment(1, "alpha = 5")
    panel.set_history(1, history)
    panel.mark_diverged(1, 8)
    _wait_for_frame(qtbot, panel)

    marked = panel.diverged_marker(1)
    assert marked is not None
    marker, text = marked
    np.testing.assert_array_equal(marker.xData, [7.0])
    np.testing.assert_array_equal(marker.yData, [history["train_cost"][6]])
    assert text.toPlainText() == "diverged"
    assert text.pos().x() == 7.0
    assert "diverged" in panel.legend.getLabel(panel.curves(1)["train_cost"]).text

    # In log mode the label, which the plot does not map, follows the log axis.
    panel.set_log_scale(True)
    assert text.pos().y() == pytest.approx(math.log10(history["train_cost"][6]))


def test_remove_experiment_removes_its_curves_marker_and_legend_entry(
    qtbot: QtBot, panel: CostPlotsPanel
) -> None:
    panel.add_experiment(1, "first")
    panel.add_experiment(2, "second")
    panel.set_history(1, _history(10))
    panel.set_history(2, _history(10))
    panel.mark_diverged(1, 10)
    curves = list(panel.curves(1).values())
    marked = panel.diverged_marker(1)
    assert marked is not None

    panel.remove_experiment(1)

    items = panel.cost_plot.items + panel.metric_plot.items
    assert not any(curve in items for curve in curves)
    assert marked[0] not in items
    assert marked[1] not in items
    labels = [label.text for _, label in panel.legend.items]
    assert not any(text.startswith("#1 ") for text in labels)
    assert "#2 second" in labels
    assert panel.experiment_ids() == [2]
    panel.append(2, [_record(11, 0.1)])  # the panel keeps working
    _wait_for_frame(qtbot, panel)


def test_clear_and_set_label(qtbot: QtBot, panel: CostPlotsPanel) -> None:
    panel.add_experiment(4, "old")
    panel.set_label(4, "alpha = 0.3")
    assert panel.legend.getLabel(panel.curves(4)["train_cost"]).text == "#4 alpha = 0.3"
    panel.clear()
    assert panel.experiment_ids() == []
    assert [label.text for _, label in panel.legend.items] == ["training", "validation"]


def test_clicking_a_curve_reports_its_experiment(qtbot: QtBot, panel: CostPlotsPanel) -> None:
    panel.set_history(3, _history(10))
    curve = panel.curves(3)["val_metric"]
    with qtbot.waitSignal(panel.experimentClicked) as blocker:
        curve.sigClicked.emit(curve, None)
    assert blocker.args == [3]


def test_set_metric_names_the_lower_axis(panel: CostPlotsPanel) -> None:
    panel.set_metric("r2")
    assert panel.metric_plot.getAxis("left").labelText == "R²"
    with pytest.raises(ValueError, match="metric"):
        panel.set_metric("f1")


def test_export_png_writes_an_image(qtbot: QtBot, panel: CostPlotsPanel, tmp_path: Path) -> None:
    panel.set_history(1, _history(100))
    path = tmp_path / "plots.png"
    panel.export_png(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = QImage(str(path))
    assert image.width() > 100
    assert image.height() > 100
    # Not a blank canvas: the curves and axes put more than one colour in it.
    sample = {image.pixel(x, y) for x in range(0, image.width(), 7)
              for y in range(0, image.height(), 7)}
    assert len(sample) > 3


def test_nice_ceiling() -> None:
    assert [nice_ceiling(v) for v in (0.5, 1, 3, 10, 11, 260, 5001)] == [
        1, 1, 5, 10, 20, 500, 10_000]


def test_envelope_grows_incrementally_and_matches_a_full_reduction() -> None:
    from dnnstudio.gui.panels.plots import Envelope

    rng = np.random.default_rng(1)
    values = np.cumsum(rng.standard_normal(50_000))
    values[rng.integers(0, 50_000, 500)] = np.nan  # unmeasured epochs
    drawable = np.isfinite(values)
    envelope = Envelope(max_points=400)
    lazy = Envelope(max_points=400)
    asked: list[tuple[int, int]] = []

    def mask(start: int, stop: int) -> np.ndarray:
        asked.append((start, stop))
        return drawable[start:stop]

    previous = 0
    for stop in (10, 150, 399, 401, 5_000, 5_100, 20_000, 20_300, 50_000):
        index = envelope.indices(values[:stop], drawable[:stop])
        fresh = Envelope(max_points=400).indices(values[:stop], drawable[:stop])
        np.testing.assert_array_equal(index, fresh)  # incremental = from scratch
        # A mask made on demand gives the same, and is asked only about the new epochs
        # (plus the last bin) once the bins are in place.
        asked.clear()
        size = lazy.size
        np.testing.assert_array_equal(lazy.indices(values[:stop], mask), index)
        new = stop - previous if lazy.size == size else stop  # a new bin size: all again
        assert sum(b - a for a, b in asked) <= new + 3 * lazy.size
        previous = stop
        assert np.all(np.diff(index) > 0)
        assert np.all(drawable[index])
        assert len(index) <= 400 + 2 * 64  # bins, plus the raw tail of the last bin
        finite = values[:stop][drawable[:stop]]
        assert values[index].max() == finite.max()
        assert values[index].min() == finite.min()
        assert index[-1] == np.flatnonzero(drawable[:stop])[-1]  # ends at the newest epoch


def test_a_run_that_produces_nan_and_inf_does_not_poison_another_or_the_axes(
    qtbot: QtBot, panel: CostPlotsPanel
) -> None:
    healthy = _history(200)
    panel.set_history(1, healthy)
    broken = _history(60)
    broken["train_cost"][30:] = [math.nan, math.inf, -math.inf] * 10
    broken["val_cost"][40:] = [math.inf] * 20
    broken["val_metric"][20:] = [math.nan] * 40
    panel.set_history(2, broken)
    panel.append(2, [_record(61, math.nan, math.inf)])
    _wait_for_frame(qtbot, panel)
    kept = panel.curves(1)
    np.testing.assert_array_equal(kept["train_cost"].xData, np.arange(1, 201))
    np.testing.assert_allclose(kept["train_cost"].yData, healthy["train_cost"])
    bad = panel.curves(2)
    assert np.all(np.isfinite(bad["train_cost"].yData))
    for plot in (panel.cost_plot, panel.metric_plot):
        (x0, x1), (y0, y1) = plot.getViewBox().viewRange()
        assert all(math.isfinite(v) for v in (x0, x1, y0, y1))
    panel.grab()


def test_the_legend_names_at_most_a_few_experiments_then_the_selected_ones(
    panel: CostPlotsPanel,
) -> None:
    for i in range(1, 13):
        panel.add_experiment(i, f"alpha = {i}")

    def names() -> list[str]:
        return [label.text for _, label in panel.legend.items]

    assert names()[:2] == ["training", "validation"]
    assert names()[2:10] == [f"#{i} alpha = {i}" for i in range(5, 13)]  # the newest
    assert names()[10] == "… and 4 more (select rows to name them here)"
    panel.highlight({2, 3})
    assert names()[2:] == ["#2 alpha = 2", "#3 alpha = 3", "… and 10 more (not selected)"]
    panel.highlight(set())
    for i in range(1, 6):
        panel.remove_experiment(i)
    assert len(names()) == 2 + 7


def test_beyond_the_cap_the_oldest_finished_curves_leave_the_plot_until_selected(
    qtbot: QtBot, panel: CostPlotsPanel, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dnnstudio.gui.panels import plots as plots_module

    monkeypatch.setattr(plots_module, "PLOTTED_MAX", 5)
    histories = {i: _history(30 + i) for i in range(1, 9)}
    panel.history_source = histories.get
    for i in range(1, 8):
        panel.set_history(i, histories[i])
    panel.mark_diverged(2, 12)
    # Seven drawn: nothing has finished, so nothing may leave.
    assert panel.experiment_ids() == [1, 2, 3, 4, 5, 6, 7]
    for i in (1, 2, 3, 5):
        panel.mark_finished(i)
    # The oldest finished ones leave; running ones (4, 6, 7) stay whatever their age.
    assert panel.experiment_ids() == [3, 4, 5, 6, 7]
    assert panel.off_plot_ids() == [1, 2]
    assert "the oldest 2 are drawn only when selected" in panel.legend.items[-1][1].text
    # Selecting one brings its whole history back (and its divergence mark); another goes.
    panel.highlight({2})
    assert 2 in panel.experiment_ids()
    assert panel.off_plot_ids() == [1, 3]
    _wait_for_frame(qtbot, panel)
    assert _points(panel.curves(2)["train_cost"]) == 32
    assert panel.diverged_marker(2) is not None
    # Queued again, an experiment off the plot is drawn again as it runs.
    panel.set_history(1, {name: [] for name in histories[1]})
    assert 1 in panel.experiment_ids()
    assert panel.off_plot_ids() == [3, 5]  # 5, finished, made room
    panel.remove_experiment(3)
    assert panel.off_plot_ids() == [5]
    panel.clear()
    assert panel.experiment_ids() == []
    assert panel.off_plot_ids() == []


def test_the_cost_axis_fits_the_drawn_points_until_the_user_zooms(
    qtbot: QtBot, panel: CostPlotsPanel
) -> None:
    box = panel.cost_plot.getViewBox()
    assert box.autoRangeEnabled() == [False, False]  # the panel fits the axes itself
    history = _history(100, start=2.0)
    panel.set_history(1, history)
    _wait_for_frame(qtbot, panel)
    (_, _), (y0, y1) = box.viewRange()
    assert y0 <= min(history["train_cost"])
    assert y1 >= max(history["val_cost"])
    assert y1 - y0 < 1.5 * (max(history["val_cost"]) - min(history["train_cost"]))
    panel.log_check.setChecked(True)
    (_, _), (y0, y1) = box.viewRange()
    assert y1 < 1  # log10 of the costs
    assert box.autoRangeEnabled() == [False, False]
    box.setYRange(-5, 5, padding=0)  # as a wheel zoom would
    box.sigRangeChangedManually.emit([False, True])
    panel.append(1, [_record(101, 1e9)])  # far above what is shown: not followed
    _wait_for_frame(qtbot, panel)
    assert box.viewRange()[1] == pytest.approx([-5, 5])


def test_the_legend_is_rebuilt_only_when_what_it_names_changes(panel: CostPlotsPanel) -> None:
    panel.add_experiment(1, "a")
    panel.add_experiment(2, "b")
    first = [label for _, label in panel.legend.items]
    panel.mark_finished(1)
    panel.highlight({1})
    panel.highlight(set())
    assert [label for _, label in panel.legend.items] == first  # the same label items


def test_the_epoch_axis_reaches_the_planned_epochs_at_once(qtbot: QtBot,
                                                          panel: CostPlotsPanel) -> None:
    """A curve grows across a still axis: its range changes only when a longer run comes."""
    panel.add_experiment(1, "long", epochs=5_000)
    panel.append(1, [_record(e, 1.0 / e) for e in range(1, 11)])
    panel.draw_now()
    low, high = panel.cost_plot.viewRange()[0]
    assert 5_000 <= high <= 5_000 * 1.05
    panel.append(1, [_record(e, 1.0 / e) for e in range(11, 2_001)])
    panel.draw_now()
    assert panel.cost_plot.viewRange()[0][1] == high
    # Without a plan, the axis follows the epochs in 1-2-5 steps.
    panel.clear()
    panel.append(2, [_record(e, 1.0 / e) for e in range(1, 31)])
    panel.draw_now()
    assert 50 <= panel.cost_plot.viewRange()[0][1] <= 50 * 1.05


def test_epochs_that_come_before_their_experiment_is_added_still_get_its_plan(
        qtbot: QtBot, panel: CostPlotsPanel) -> None:
    # A warm worker can report before the window's turn to make the curves comes.
    panel.append(1, [_record(e, 1.0 / e) for e in range(1, 11)])
    panel.add_experiment(1, "long", epochs=300_000)
    series = panel._series[1]
    assert series.data.shape[1] >= 300_000  # no doubling of a long buffer later
    assert series.n == 10
    np.testing.assert_array_equal(series.row(0), np.arange(1, 11))
    panel.draw_now()
    assert 300_000 <= panel.cost_plot.viewRange()[0][1] <= 300_000 * 1.05
    assert panel.legend.getLabel(panel.curves(1)["train_cost"]).text == "#1 long"


def test_a_run_that_starts_again_keeps_buffers_for_its_plan(panel: CostPlotsPanel) -> None:
    panel.add_experiment(1, "long", epochs=300_000)
    panel.append(1, [_record(e, 1.0 / e) for e in range(1, 11)])
    # Started (again): the window hands the panel the empty history of the new run.
    panel.set_history(1, {name: [] for name in HISTORY_FIELDS})
    series = panel._series[1]
    assert series.n == 0
    assert series.data.shape[1] >= 300_000
    panel.append(1, [_record(e, 2.0 / e) for e in range(1, 4)])
    panel.draw_now()
    np.testing.assert_allclose(panel.curves(1)["train_cost"].getData()[1], [2.0, 1.0, 2 / 3])


def test_a_frame_reduces_one_experiment_at_a_time_and_repaints_each_plot_once(
        qtbot: QtBot, panel: CostPlotsPanel) -> None:
    """So that the GUI thread is never held by the plots for long: a frame's steps come
    SLICE_MS apart (the frame timer runs the first); each reduces one experiment's curves
    in one plot, or hands a plot's reduced curves to their items, all in one step."""
    drawn: list[tuple[int, str, int]] = []  # (experiment, curve, steps left in the frame)
    for experiment_id in (1, 2):
        panel.add_experiment(experiment_id)
        for name, curve in panel.curves(experiment_id).items():
            curve.sigPlotChanged.connect(
                lambda *_, key=(experiment_id, name): drawn.append((*key, len(panel._steps))))
    for experiment_id in (1, 2):
        panel.append(experiment_id, [_record(e, 1.0 / e) for e in range(1, 21)])
    frames = panel.frames_drawn
    # The frame timer fired and reduced the first experiment's costs: nothing shown yet.
    qtbot.waitUntil(lambda: len(panel._steps) == 5, timeout=2000)
    assert drawn == []
    qtbot.waitUntil(lambda: panel.frames_drawn > frames, timeout=2000)
    # Reduce 1, reduce 2, show the costs (3 steps left); the same for the metric (none left).
    assert drawn == [(1, "train_cost", 3), (1, "val_cost", 3), (2, "train_cost", 3),
                     (2, "val_cost", 3), (1, "train_metric", 0), (1, "val_metric", 0),
                     (2, "train_metric", 0), (2, "val_metric", 0)]
    assert panel.frames_drawn == frames + 1



@pytest.mark.qt_log_ignore("does not support propagateSizeHints")
def test_curves_are_bounded_as_pyqtgraph_would_bound_their_points(
        qtbot: QtBot, panel: CostPlotsPanel) -> None:
    """A curve's bounding rectangle comes from the extent the panel hands it (so repaints
    do not scan its arrays): it must be the one pyqtgraph computes from the same points and
    pen, the pen's padding included, and follow the view and the log scale."""
    panel.show()
    qtbot.waitExposed(panel)
    panel.add_experiment(1)
    panel.append(1, [_record(e, 3.0 / e, 3.3 / e if e % 7 == 0 else math.nan)
                     for e in range(1, 400)])
    panel.draw_now()

    def assert_bounded_as_pyqtgraph() -> None:
        panel.cost_view.grab()  # a paint brings the view's transform up to date
        for name in ("train_cost", "val_cost", "train_metric"):
            curve = panel.curves(1)[name]
            plot = panel.cost_plot if "cost" in name else panel.metric_plot
            reference = pg.PlotCurveItem(*curve.getData(), pen=curve.opts["pen"])
            reference.setClickable(True, width=curve.opts["mouseWidth"])
            plot.addItem(reference)
            try:
                mine, theirs = curve.boundingRect(), reference.boundingRect()
                assert mine.width() > 0
                assert mine.height() > 0
                for edge in ("left", "right", "top", "bottom"):
                    assert getattr(mine, edge)() == pytest.approx(
                        getattr(theirs, edge)(), rel=1e-9, abs=1e-12), (name, edge)
            finally:
                plot.removeItem(reference)

    assert_bounded_as_pyqtgraph()
    panel.cost_plot.setYRange(0, 20, padding=0)  # ten times the height: a pixel is more cost
    assert_bounded_as_pyqtgraph()
    panel.set_log_scale(True)
    panel.draw_now()
    assert panel.curves(1)["train_cost"].getData()[1].max() == pytest.approx(math.log10(3.0))
    assert_bounded_as_pyqtgraph()
