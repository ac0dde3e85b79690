"""Cost and accuracy (or R²) per epoch of many experiments, drawn while they train.

Data arrives often and in small batches (:meth:`CostPlotsPanel.append`); drawing is batched:
appending only writes into per-experiment NumPy buffers that grow by doubling and marks them
changed, and a single-shot timer redraws, at most :data:`FRAME_MS` apart, only the curves
whose buffers changed since the last frame, in short steps: each experiment's curves of a
plot are reduced in a step of their own, then the plot's curves are updated together. Each curve
is created once and updated with ``setData``; each long curve is first reduced to the minimum
and maximum of each of at most ``MAX_POINTS / 2`` bins (:class:`Envelope`, incrementally),
which keeps 10,000-epoch curves cheap to draw and to hold.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPalette, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QGraphicsItem,
    QHBoxLayout,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ...core.training import EpochRecord, EpochRows
from ..palette import color_for

FRAME_MS = 200
"""Shortest time between two frames (five a second: the curves of runs that take seconds to
minutes look live, and the window keeps its timers on time)."""
SLICE_MS = 25
"""Time between the steps of a frame (see :meth:`CostPlotsPanel._on_frame_due`)."""
SLICED_MAX = 4
"""Most changed experiments whose curves a frame reduces one experiment and plot at a time."""
LEGEND_MAX = 8
"""Most experiments the legend names at once (beyond, the selected ones)."""
PREALLOCATE_MAX = 1_000_000
"""Most epochs an experiment's plot buffers are sized for up front (40 MB of address space,
committed only as epochs arrive); longer runs grow them by doubling."""
PLOTTED_MAX = 100
"""Most experiments with curves at once. Beyond, the oldest finished ones that are not
selected are taken off the plot (their records keep everything); selecting one brings its
curves back. Hundreds of overlaid curves cannot be read, and each costs memory and paint
time."""
Y_FILL_MIN = 0.4
"""The cost axis is fitted again when the drawn points span less than this share of it."""
MAX_POINTS = 1600
"""Most points handed to a curve per frame; longer curves are reduced to the min and max of
each of ``MAX_POINTS / 2`` bins first (the same envelope at about two points per pixel
column of a wide plot, at a fraction of the drawing)."""


class Envelope:
    """The drawable points of one growing curve, reduced incrementally.

    Epochs are grouped in bins of a power-of-two size, chosen so that there are at most
    ``max_points / 2`` bins; each finished bin keeps the indices of its smallest and largest
    drawable value, computed once. A frame then costs the new bins plus a concatenation,
    not a pass over the whole curve; the bin size doubles (and the bins are recomputed)
    only when the curve doubles in length.
    """

    def __init__(self, max_points: int = MAX_POINTS) -> None:
        self.max_bins = max(1, max_points // 2)
        self.reset()

    def reset(self) -> None:
        self.size = 1
        self.done = 0
        self.parts: list[np.ndarray] = []

    def indices(self, values: np.ndarray,
                drawable: np.ndarray | Callable[[int, int], np.ndarray]) -> np.ndarray:
        """Indices into ``values`` (shape ``(n,)``) to draw.

        ``drawable`` marks the usable ones: a boolean array like ``values``, or a function
        that returns that mask for ``values[start:stop]`` given ``(start, stop)``, so that a
        frame looks only at the epochs that are new since the last one.
        """
        mask: Callable[[int, int], np.ndarray] = (
            drawable if callable(drawable) else lambda start, stop: drawable[start:stop])
        n = values.shape[0]
        size = 1
        while n > size * self.max_bins:
            size *= 2
        if size != self.size:
            self.size, self.done, self.parts = size, 0, []
        whole = n // size
        if whole > self.done:
            start, stop = self.done * size, whole * size
            if size == 1:
                self.parts.append(np.flatnonzero(mask(start, stop)) + start)
            else:
                block = values[start:stop].reshape(-1, size)
                ok = mask(start, stop).reshape(-1, size)
                lo = np.where(ok, block, np.inf).argmin(axis=1)
                hi = np.where(ok, block, -np.inf).argmax(axis=1)
                has = ok.any(axis=1)
                base = np.arange(self.done, whole)[has] * size
                lo, hi = lo[has], hi[has]
                # Each bin's two indices in order, bins in order: sorted already, and a
                # bin repeats an index only where its extremes are one epoch (np.unique
                # sorted them again: a third of the reduction).
                pair = np.empty((len(base), 2), dtype=np.intp)
                np.minimum(lo, hi, out=pair[:, 0])
                np.maximum(lo, hi, out=pair[:, 1])
                pair += base[:, None]
                keep = np.ones(pair.shape, dtype=bool)
                keep[:, 1] = lo != hi
                self.parts.append(pair[keep])
            # One array of the finished bins, so a frame concatenates two arrays, not one
            # per frame so far.
            self.parts = [np.concatenate(self.parts)]
            self.done = whole
        tail = np.flatnonzero(mask(whole * size, n)) + whole * size
        index = np.concatenate([*self.parts, tail]) if self.parts else tail
        # The curve ends at its newest drawable epoch, even when a bin's extremes lie before.
        last = np.flatnonzero(mask(max(0, n - size), n)) + max(0, n - size)
        if len(last) and (len(index) == 0 or index[-1] != last[-1]):
            index = np.append(index, last[-1])
        return index


def nice_step(value: float) -> float:
    """The smallest of 1, 2, 5 times a power of ten that is at least ``value`` (> 0)."""
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 5):
        if step * power >= value * (1 - 1e-9):
            return float(step * power)
    return 10 * power


def nice_range(low: float, high: float, steps: int = 5) -> tuple[float, float]:
    """``[low, high]`` widened to whole multiples of a 1-2-5 step of about a ``steps``-th of
    it (an empty or unusable span becomes one unit around it)."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        middle = low if math.isfinite(low) else 0.0
        return middle - 0.5, middle + 0.5
    step = nice_step((high - low) / steps)
    return math.floor(low / step) * step, math.ceil(high / step) * step


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 times a power of ten that is at least ``value``."""
    if value <= 1:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return float(step * power)
    return 10 * power  # pragma: no cover


NORMAL_WIDTH = 1.0
SELECTED_WIDTH = 3.0
DIMMED_ALPHA = 90
"""Alpha (of 255) of the curves that are not selected while others are."""

_INITIAL_CAPACITY = 256
# Rows of a series' buffer.
_EPOCH, _TRAIN_COST, _VAL_COST, _TRAIN_METRIC, _VAL_METRIC = range(5)
_CURVE_ROWS = (_TRAIN_COST, _VAL_COST, _TRAIN_METRIC, _VAL_METRIC)
_COST_ROWS = (_TRAIN_COST, _VAL_COST)
_METRIC_ROWS = (_TRAIN_METRIC, _VAL_METRIC)
_VAL_ROWS = (_VAL_COST, _VAL_METRIC)
_HISTORY_ROWS = {
    "train_cost": _TRAIN_COST,
    "val_cost": _VAL_COST,
    "train_metric": _TRAIN_METRIC,
    "val_metric": _VAL_METRIC,
}
_METRIC_LABELS = {"accuracy": "accuracy", "r2": "R²"}


class _Curve(pg.PlotCurveItem):
    """A curve item whose bounding rectangle comes from the panel, not from its arrays.

    The panel hands each curve finite points with their extent
    (``setData(x, y, extent=(x_min, x_max, y_min, y_max))``); pyqtgraph's own
    rectangle scanned both arrays for NaN-aware bounds and mapped the view's pixel vectors,
    in Python, on the first repaint after every update: a fifth of a plot's repaint. The
    pixel padding for the pen is kept until the view's transform changes. Without an
    extent the curve behaves as pyqtgraph's.
    """

    _extent: tuple[float, float, float, float] | None = None
    _pixel: tuple[float, float] | None = None
    _boundingRect: QRectF | None  # pyqtgraph's cache, emptied by every data change

    def setData(self, *args: object, **kwargs: object) -> None:  # noqa: N802 (Qt naming)
        extent = kwargs.pop("extent", None)
        self._extent = extent  # type: ignore[assignment]
        if extent is not None:
            kwargs["skipFiniteCheck"] = True  # the panel passes only finite points
        super().setData(*args, **kwargs)

    def boundingRect(self) -> QRectF:  # noqa: N802
        if self._extent is None:
            return super().boundingRect()
        if self._boundingRect is None:
            if self._pixel is None:
                self._pixel = self._pixel_size()
            pad = self.pixelPadding()
            dx, dy = pad * self._pixel[0], pad * self._pixel[1]
            x0, x1, y0, y1 = self._extent
            self._boundingRect = QRectF(x0 - dx, y0 - dy, x1 - x0 + 2 * dx, y1 - y0 + 2 * dy)
        return self._boundingRect

    def viewTransformChanged(self) -> None:  # noqa: N802
        self._pixel = None
        super().viewTransformChanged()

    def _pixel_size(self) -> tuple[float, float]:
        px, py = self.pixelVectors()
        if px is None or py is None:
            return (0.0, 0.0)  # not shown yet; the first view transform asks again
        try:
            return (px.length(), py.length())
        except OverflowError:
            return (0.0, 0.0)


class _Series:
    """One experiment: its epoch buffers and the plot items that show them.

    ``data`` has shape ``(5, capacity)``: rows epoch, training cost, validation cost,
    training metric and validation metric; columns ``0 .. n-1`` hold the epochs so far.
    Capacity doubles when full, so appending ``N`` epochs one at a time copies ``O(N)``.
    """

    def __init__(self, experiment_id: int, label: str, capacity: int = _INITIAL_CAPACITY
                 ) -> None:
        self.id = experiment_id
        self.label = label
        # Empty: only the first n columns are read. Memory is committed as it is written,
        # so a buffer sized for a run's planned epochs costs what the run fills.
        self.data = np.empty((5, max(capacity, _INITIAL_CAPACITY)))
        self.n = 0
        self.dirty = False
        self.planned = 0
        """The epochs the run is meant to train (0: not known)."""
        self.diverged_epoch: int | None = None
        self.curves: dict[int, _Curve] = {}
        self.envelopes: dict[int, Envelope] = {}
        self.y_bounds: dict[int, tuple[float, float] | None] = {}
        """Lowest and highest cost drawn per cost row (on the axis' scale)."""
        self.marker: pg.PlotDataItem | None = None
        self.marker_text: pg.TextItem | None = None

    def append(self, rows: np.ndarray) -> None:
        """Append ``rows`` of shape ``(k, 5)``."""
        need = self.n + rows.shape[0]
        capacity = self.data.shape[1]
        if need > capacity:
            while capacity < need:
                capacity *= 2
            self.reserve(capacity)
        self.data[:, self.n : need] = rows.T
        self.n = need
        self.dirty = True

    def reserve(self, capacity: int) -> None:
        """Make room for ``capacity`` epochs at once (a no-op if there is room already)."""
        if capacity > self.data.shape[1]:
            # Empty, not NaN-filled: only the first n columns are ever read, and filling a
            # 300,000-epoch buffer took the GUI thread 5-20 ms.
            grown = np.empty((5, capacity))
            grown[:, : self.n] = self.data[:, : self.n]
            self.data = grown

    def replace(self, data: np.ndarray) -> None:
        """Replace everything with ``data`` of shape ``(5, n)``."""
        n = data.shape[1]
        if n:
            # Exactly n (a whole history is usually a finished one); appending grows it.
            self.data = np.array(data, dtype=np.float64, copy=True).reshape(5, n)
        # Empty: a run starting (again) keeps the buffers sized for its plan. Shrunk to a
        # few hundred epochs, they doubled all run long, up to 40 ms at a time.
        self.n = n
        self.dirty = True
        for envelope in self.envelopes.values():
            envelope.reset()

    def n_epochs(self) -> float:
        """The last epoch held (0 when empty)."""
        return float(self.data[0, self.n - 1]) if self.n else 0.0

    def row(self, index: int) -> np.ndarray:
        """A view of one row over the epochs so far, shape ``(n,)``."""
        return self.data[index, : self.n]

    def last_finite_cost(self, up_to_epoch: int) -> tuple[float, float] | None:
        """``(epoch, training cost)`` of the last finite cost at or before ``up_to_epoch``."""
        epochs, cost = self.row(_EPOCH), self.row(_TRAIN_COST)
        ok = np.flatnonzero(np.isfinite(cost) & (epochs <= up_to_epoch))
        if ok.size == 0:
            return None
        j = ok[-1]
        return float(epochs[j]), float(cost[j])


class CostPlotsPanel(QWidget):
    """Two stacked plots: cost per epoch and accuracy (or R²) per epoch.

    Training curves are solid and validation curves dashed, one colour per experiment
    (:func:`~dnnstudio.gui.palette.color_for`). Validation figures that were not measured
    (NaN) are skipped, so the line joins the epochs that were.

    Signals
    -------
    experimentClicked(int)
        The user clicked a curve of this experiment.
    logScaleToggled(bool)
        The cost axis switched between linear and logarithmic.
    """

    experimentClicked = Signal(int)
    logScaleToggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._series: dict[int, _Series] = {}
        # Experiments known but not drawn (finished, beyond PLOTTED_MAX): id -> label, oldest
        # first; the finished ones that may be taken off; divergence epochs of every one.
        self._off_plot: dict[int, str] = {}
        self._finished: set[int] = set()
        self._diverged_at: dict[int, int] = {}
        self.history_source: Callable[[int], Mapping[str, Sequence[float]] | None] | None = None
        """Where to get the history of an experiment taken off the plot when it is selected
        again (the window sets it to read the records)."""
        self._curve_owner: dict[pg.PlotCurveItem, int] = {}
        self._selected: frozenset[int] = frozenset()
        self._metric = "accuracy"
        self.frames_drawn = 0
        """Frames that updated at least one curve (for tests and benchmarks)."""
        self.last_frame_s = 0.0
        """Seconds the last frame spent updating curves (``setData``, not painting)."""

        palette = self.palette()
        background = self._background = palette.color(QPalette.ColorRole.Base)
        self._foreground = palette.color(QPalette.ColorRole.Text)

        self.log_check = QCheckBox("log scale")
        self.log_check.setToolTip(
            "Show the cost on a logarithmic axis: slow progress late in training and "
            "curves of very different sizes stay readable."
        )
        self.log_check.toggled.connect(self._on_log_toggled)

        # Two views, not one layout of two plots: each repaints on its own, in half the time,
        # and the frame draws them half a frame apart (see _on_frame_due).
        self.cost_view = pg.PlotWidget(background=background)
        self.metric_view = pg.PlotWidget(background=background)
        self.graphics = QSplitter(Qt.Orientation.Vertical)
        """Both plots, one above the other (the user can move the line between them)."""
        self.graphics.setChildrenCollapsible(False)
        self.graphics.addWidget(self.cost_view)
        self.graphics.addWidget(self.metric_view)
        self.graphics.setSizes([1, 1])
        self.cost_plot: pg.PlotItem = self.cost_view.getPlotItem()
        self.metric_plot: pg.PlotItem = self.metric_view.getPlotItem()
        self.metric_plot.setXLink(self.cost_plot)
        self.cost_plot.setLabel("left", "cost J")
        self.metric_plot.setLabel("bottom", "epoch")
        for plot in (self.cost_plot, self.metric_plot):
            # Horizontal lines only, major and minor: pyqtgraph draws each grid line on every
            # repaint, and the finest level plus vertical lines cost ~15 ms a frame.
            plot.showGrid(x=False, y=True, alpha=0.2)
            plot.getAxis("left").setStyle(maxTickLevel=1)
            plot.setDownsampling(auto=True, mode="peak")
            plot.setClipToView(True)
            for name in ("left", "bottom"):
                axis = plot.getAxis(name)
                axis.setPen(self._foreground)
                axis.setTextPen(self._foreground)
                # "cost J (x0.001)" over labels like 8·10² reads worse than plain numbers.
                axis.enableAutoSIPrefix(False)
                # An axis (with its grid lines across the plot) is redrawn from a cached
                # pixmap while its range stays put, which the panel sees to (the x range
                # grows in 1-2-5 steps, the y range only when the data leaves it): replaying
                # its picture cost ~0.8 ms an axis on every paint.
                axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self._apply_metric_axis()

        legend_brush = QColor(background)
        legend_brush.setAlpha(210)
        self.legend: pg.LegendItem = self.cost_plot.addLegend(
            offset=(-10, 10), labelTextColor=self._foreground, brush=legend_brush
        )
        # Its translucent background cost ~0.4 ms on every paint of the plot; cached, it is
        # drawn again only when the legend changes size.
        self.legend.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        # Two grey samples explain the line styles once instead of per experiment.
        grey = QColor(self._foreground)
        grey.setAlpha(160)
        self._style_samples = (
            pg.PlotDataItem(pen=pg.mkPen(grey, width=NORMAL_WIDTH)),
            pg.PlotDataItem(pen=pg.mkPen(grey, width=NORMAL_WIDTH, style=Qt.PenStyle.DashLine)),
        )
        self.legend.addItem(self._style_samples[0], "training")
        self.legend.addItem(self._style_samples[1], "validation")
        self._more_sample = pg.PlotDataItem(pen=None)
        self._more_shown = (0, 0)

        self._x_bound = 0.0
        self.cost_plot.enableAutoRange(axis="x", enable=False)
        # The cost axis' height is set from the drawn points (each series remembers the
        # lowest and highest it drew), not by pyqtgraph's auto-range, which asks every curve
        # for its bounds on every paint. A zoom or pan by hand stops it until the next clear.
        self.cost_plot.enableAutoRange(axis="y", enable=False)
        self.metric_plot.enableAutoRange(axis="x", enable=False)
        self._y_range: tuple[float, float] | None = None
        self._manage_y = True
        self.cost_plot.getViewBox().sigRangeChangedManually.connect(self._on_manual_range)
        self._frame_timer = QTimer(self)
        self._frame_timer.setSingleShot(True)
        self._frame_timer.setInterval(FRAME_MS)
        self._frame_timer.timeout.connect(self._on_frame_due)
        # What is left of the frame being drawn, in steps a SLICE_MS apart: experiments to
        # reduce (with the rows of one plot), then that plot's rows to show. The reduced
        # points wait in _reduced for the step that shows them.
        self._steps: list[tuple[list[tuple[_Series, tuple[int, ...]]],
                                tuple[int, ...] | None]] = []
        self._reduced: list[tuple[_Series, int, np.ndarray, np.ndarray,
                                  tuple[float, float, float, float] | None]] = []
        self._step_timer = QTimer(self)
        self._step_timer.setSingleShot(True)
        self._step_timer.setInterval(SLICE_MS)
        self._step_timer.timeout.connect(self._draw_step)

        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addWidget(self.log_check)
        controls.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.graphics, 1)

    # -- experiments ----------------------------------------------------------------------
    def add_experiment(self, experiment_id: int, label: str = "",
                       epochs: int | None = None) -> None:
        """Make room for an experiment's curves (nothing is drawn until data arrives).

        ``epochs``, the run's planned epochs, sizes its buffers once (up to
        :data:`PREALLOCATE_MAX`), so a long run never pauses the window to grow them.
        Adding an experiment that is already shown changes its label, and sizes its buffers
        if its first epochs came before it was added.
        """
        if experiment_id in self._series:
            self.set_label(experiment_id, label)
            series = self._series[experiment_id]
            if epochs and not series.planned:
                # Now, while it holds a few epochs: growing a 262,144-epoch buffer by
                # doubling later held the window 7-44 ms.
                series.planned = epochs
                series.reserve(min(epochs, PREALLOCATE_MAX))
            return
        if experiment_id in self._off_plot:
            self._off_plot[experiment_id] = label
            return
        series = _Series(experiment_id, label, min(epochs or 0, PREALLOCATE_MAX))
        series.planned = epochs or 0
        for row in _CURVE_ROWS:
            plot = self.cost_plot if row in (_TRAIN_COST, _VAL_COST) else self.metric_plot
            # A bare curve item, not a PlotDataItem: that wraps each curve in a second item
            # and keeps extra copies of its data (about twice the memory per experiment),
            # for downsampling and clipping the Envelope below already does.
            curve = _Curve(pen=self._pen(experiment_id, dashed=row in _VAL_ROWS))
            curve.setClickable(True, width=6)
            curve.sigClicked.connect(self._on_curve_clicked)
            plot.addItem(curve)
            series.curves[row] = curve
            self._curve_owner[curve] = experiment_id
        self._series[experiment_id] = series
        self._take_off_old()
        self._sync_legend()
        self._restyle(series)

    def remove_experiment(self, experiment_id: int) -> None:
        """Remove an experiment's curves, marker and legend entry (unknown ids are ignored)."""
        self._finished.discard(experiment_id)
        self._diverged_at.pop(experiment_id, None)
        if self._off_plot.pop(experiment_id, None) is not None:
            self._sync_legend()
            return
        series = self._series.pop(experiment_id, None)
        if series is None:
            return
        for row, curve in series.curves.items():
            plot = self.cost_plot if row in (_TRAIN_COST, _VAL_COST) else self.metric_plot
            plot.removeItem(curve)
            del self._curve_owner[curve]
        self._remove_marker(series)
        self._sync_legend()
        self._fit_y_range()

    def clear(self) -> None:
        """Remove every experiment."""
        self._off_plot.clear()
        for experiment_id in list(self._series):
            self.remove_experiment(experiment_id)
        self._finished.clear()
        self._diverged_at.clear()
        self._x_bound = 0.0
        self._y_range = None
        self._manage_y = True

    def mark_finished(self, experiment_id: int) -> None:
        """The experiment will not change any more: its curves may be taken off the plot
        once more than :data:`PLOTTED_MAX` experiments are shown."""
        if experiment_id in self._series:
            self._finished.add(experiment_id)
            self._take_off_old()
            self._sync_legend()

    def off_plot_ids(self) -> list[int]:
        """Experiments known but not drawn now (oldest first)."""
        return list(self._off_plot)

    def _take_off_old(self) -> None:
        excess = len(self._series) - PLOTTED_MAX
        if excess <= 0:
            return
        for experiment_id in [i for i in self._series if i in self._finished
                              and i not in self._selected][:excess]:
            label = self._series[experiment_id].label
            diverged = self._diverged_at.get(experiment_id)
            self.remove_experiment(experiment_id)
            self._off_plot[experiment_id] = label
            if diverged is not None:
                self._diverged_at[experiment_id] = diverged

    def _bring_back(self, experiment_id: int) -> None:
        """Draw an experiment that was taken off the plot again, from its history."""
        label = self._off_plot.pop(experiment_id)
        history = None if self.history_source is None else self.history_source(experiment_id)
        diverged = self._diverged_at.get(experiment_id)
        self.add_experiment(experiment_id, label)
        if history is not None:
            self.set_history(experiment_id, history)
        if diverged is not None:
            self.mark_diverged(experiment_id, diverged)
        self._finished.add(experiment_id)

    def experiment_ids(self) -> list[int]:
        """The experiments shown, in the order they were added."""
        return list(self._series)

    def epochs_shown(self, experiment_id: int) -> int:
        """How many epochs of an experiment the curves hold (0 if it is not shown)."""
        series = self._series.get(experiment_id)
        return 0 if series is None else series.n

    def set_label(self, experiment_id: int, label: str) -> None:
        """Change the text after "#id" in the legend."""
        series = self._series.get(experiment_id)
        if series is None:
            return
        series.label = label
        self._update_legend_text(series)

    def set_metric(self, metric: str) -> None:
        """Name the lower plot's metric: ``"accuracy"`` (axis 0..1) or ``"r2"`` (R²)."""
        if metric not in _METRIC_LABELS:
            raise ValueError(f"metric must be 'accuracy' or 'r2', not {metric!r}")
        self._metric = metric
        self._apply_metric_axis()

    # -- data -----------------------------------------------------------------------------
    def append(self, experiment_id: int, records: Sequence[EpochRecord]) -> None:
        """Append epochs to an experiment's curves; they are drawn on the next frame.

        Cheap enough to call for every small batch of progress: it copies the numbers into
        the experiment's buffers and nothing more. An unknown experiment is added first.
        """
        if not records:
            return
        series = self._series.get(experiment_id)
        if series is None:
            self.add_experiment(experiment_id)
            series = self._series[experiment_id]
        # An EpochRows already is the array: columns epoch, train cost, val cost, metrics.
        series.append(EpochRows.from_records(records).array[:, :5])
        self._schedule_frame()

    def set_history(self, experiment_id: int, history: Mapping[str, Sequence[float]]) -> None:
        """Replace an experiment's curves with a whole history.

        Parameters
        ----------
        experiment_id : int
        history : mapping of str to sequence of float
            Keyed by :data:`~dnnstudio.core.training.HISTORY_FIELDS` (extra keys are
            ignored); epoch ``i + 1`` at index ``i``. NaN or None where not measured.
        """
        if experiment_id in self._off_plot:
            # Running again (queued again after it ended): drawn again, from this history.
            self.add_experiment(experiment_id, self._off_plot.pop(experiment_id))
        self._finished.discard(experiment_id)
        series = self._series.get(experiment_id)
        if series is None:
            self.add_experiment(experiment_id)
            series = self._series[experiment_id]
        n = len(history.get("train_cost", ()))
        data = np.full((5, n), np.nan)
        data[_EPOCH] = np.arange(1, n + 1)
        for name, row in _HISTORY_ROWS.items():
            # dtype=float turns the None of a JSON history into NaN.
            values = np.asarray(history.get(name, ()), dtype=np.float64)[:n]
            data[row, : values.shape[0]] = values
        series.replace(data)
        self._schedule_frame()

    def mark_diverged(self, experiment_id: int, epoch: int) -> None:
        """Mark that an experiment diverged at ``epoch``.

        A cross at its last finite cost and the word "diverged" show where; the legend
        entry says so too.
        """
        self._diverged_at[experiment_id] = int(epoch)
        series = self._series.get(experiment_id)
        if series is None:
            return
        series.diverged_epoch = int(epoch)
        if series.marker is None:
            color = color_for(experiment_id)
            series.marker = pg.PlotDataItem(
                pen=None, symbol="x", symbolSize=14, symbolBrush=color, symbolPen=color
            )
            fill = QColor(self._background)
            fill.setAlpha(200)
            # Anchored just right of and above the cross, so the label does not hide it.
            series.marker_text = pg.TextItem(
                "diverged", color=color, fill=fill, anchor=(-0.15, 1.0)
            )
            series.marker.setZValue(20)
            series.marker_text.setZValue(20)
            self.cost_plot.addItem(series.marker)
            # The label must not stretch the axes it sits in.
            self.cost_plot.addItem(series.marker_text, ignoreBounds=True)
        self._update_legend_text(series)
        series.dirty = True
        self._schedule_frame()

    # -- look -----------------------------------------------------------------------------
    def highlight(self, ids: Collection[int]) -> None:
        """Draw these experiments thick and opaque, the others dimmed; empty: all normal."""
        selected = frozenset(ids)
        if selected == self._selected:
            return
        # Kept as given: an experiment added later is styled by the same selection.
        self._selected = selected
        for experiment_id in [i for i in ids if i in self._off_plot]:
            self._bring_back(experiment_id)
        self._take_off_old()
        for series in self._series.values():
            self._restyle(series)
        self._sync_legend()

    @property
    def log_scale(self) -> bool:
        return self.log_check.isChecked()

    def set_log_scale(self, on: bool) -> None:
        """Show the cost on a logarithmic (True) or linear axis."""
        self.log_check.setChecked(on)

    def export_png(self, path: str | Path) -> None:
        """Save both plots as a PNG image.

        Raises
        ------
        OSError
            The file could not be written.
        """
        self.draw_now()  # what is saved should include the newest epochs
        image = self.graphics.grab()
        if image.isNull() or not image.save(str(path), "PNG"):
            raise OSError(f"could not write the plot image to {path}")

    def curves(self, experiment_id: int) -> dict[str, pg.PlotCurveItem]:
        """The experiment's curve items keyed by history field (for tests and export)."""
        series = self._series[experiment_id]
        return {name: series.curves[row] for name, row in _HISTORY_ROWS.items()}

    def diverged_marker(self, experiment_id: int) -> tuple[pg.PlotDataItem, pg.TextItem] | None:
        """The divergence cross and its label, or None if the experiment did not diverge."""
        series = self._series[experiment_id]
        if series.marker is None or series.marker_text is None:
            return None
        return series.marker, series.marker_text

    # -- drawing --------------------------------------------------------------------------
    def _schedule_frame(self) -> None:
        if not self._frame_timer.isActive():
            self._frame_timer.start()

    def draw_now(self) -> None:
        """Draw every pending change at once."""
        self._frame_timer.stop()
        self._on_frame_due()
        while self._steps:
            self._draw_step()

    def _on_frame_due(self) -> None:
        """Start a frame: the changed experiments' curves are drawn in steps.

        With a few experiments changed, a plot takes one step per experiment to reduce its
        curves (NumPy only), then one step to hand them all to their items, after which the
        plot repaints once. The steps follow each other :data:`SLICE_MS` apart, so the GUI
        thread is never held long by the plots: a timer due during a step waits for that
        step and, after a hand-over, the repaint, but not for the reductions too. A repaint
        costs about the same however many of a plot's curves changed, so one per plot and
        frame, not one per experiment. With many changed at once (a session opened), each
        plot is one step.
        """
        while self._steps:  # the previous frame's last steps first
            self._draw_step()
        dirty = [series for series in self._series.values() if series.dirty]
        if not dirty:
            return
        for series in dirty:
            series.dirty = False
        steps: list[tuple[list[tuple[_Series, tuple[int, ...]]], tuple[int, ...] | None]] = []
        for rows in (_COST_ROWS, _METRIC_ROWS):
            if len(dirty) <= SLICED_MAX:
                steps += [([(series, rows)], None) for series in dirty]
                steps.append(([], rows))
            else:
                steps.append(([(series, rows) for series in dirty], rows))
        self._steps = steps
        self.last_frame_s = 0.0
        self._draw_step()

    def _draw_step(self) -> None:
        if not self._steps:
            return
        tasks, show = self._steps.pop(0)
        started = time.perf_counter()
        for series, rows in tasks:
            if self._series.get(series.id) is series:  # not removed since the frame began
                self._reduce(series, rows)
        if show is not None:
            self._show(show)
        self.last_frame_s += time.perf_counter() - started
        if self._steps:
            self._step_timer.start()
        else:
            self.frames_drawn += 1

    def _reduce(self, series: _Series, rows: tuple[int, ...]) -> None:
        """Work out the points to draw of ``series``' curves in ``rows``, for :meth:`_show`."""
        epochs = series.row(_EPOCH)
        log_y = self.log_scale
        for row in rows:
            values = series.row(row)
            positive = log_y and row in (_TRAIN_COST, _VAL_COST)

            def drawable(start: int, stop: int, values: np.ndarray = values,
                         positive: bool = positive) -> np.ndarray:
                # Drop what cannot be drawn instead of passing NaN: unmeasured validation
                # epochs would break the line into dots, and a NaN would blank a whole bin.
                part = values[start:stop]
                keep = np.isfinite(part)
                if positive:
                    keep &= part > 0
                return keep

            envelope = series.envelopes.setdefault(row, Envelope())
            index = envelope.indices(values, drawable)
            x, y = epochs[index], values[index]
            if positive:
                y = np.log10(y)  # a curve item is not mapped by the plot's log mode
            extent = None
            if y.size:
                extent = (float(x.min()), float(x.max()), float(y.min()), float(y.max()))
            if row in (_TRAIN_COST, _VAL_COST):
                series.y_bounds[row] = None if extent is None else extent[2:]
            self._reduced.append((series, row, x, y, extent))

    def _show(self, rows: tuple[int, ...]) -> None:
        """Hand the reduced points of a plot's curves (``rows``) to their items."""
        reduced, self._reduced = self._reduced, []
        shown: list[_Series] = []
        for series, row, x, y, extent in reduced:
            if self._series.get(series.id) is not series:
                continue  # removed (or taken off the plot) since it was reduced
            series.curves[row].setData(x, y, extent=extent)
            if not shown or shown[-1] is not series:
                shown.append(series)
        if rows is _COST_ROWS:
            for series in shown:
                self._place_marker(series)
            self._extend_x_range(0.0)
            self._fit_y_range()

    def _extend_x_range(self, last_epoch: float) -> None:
        """Make the epoch axis reach the longest run's planned epochs (or, if not known,
        its epochs so far, in 1-2-5 steps), so that a curve grows across a still axis: each
        change of range lays out and draws both plots' axes again."""
        planned = max([0] + [s.planned for s in self._series.values()])
        seen = max([last_epoch] + [s.n_epochs() for s in self._series.values()])
        # The plan itself, not a 1-2-5 step above it: 300,000 epochs would leave 40% empty.
        bound = float(planned) if planned >= seen else nice_ceiling(seen)
        if bound != self._x_bound:
            self._x_bound = bound
            self.cost_plot.setXRange(0, bound, padding=0.02)

    def _fit_y_range(self) -> None:
        """Fit the cost axis to every drawn point, in whole tick steps.

        The range changes only when a point leaves it or the points fill less than
        :data:`Y_FILL_MIN` of it, so a falling cost moves the axis a few times a run, not
        every frame: each change lays out and draws the axis' labels again (~1.5 ms).
        """
        if not self._manage_y:
            return
        bounds = [b for s in self._series.values() for b in s.y_bounds.values()
                  if b is not None]
        if not bounds:
            return
        low = min(b[0] for b in bounds)
        high = max(b[1] for b in bounds)
        old = self._y_range
        if old is not None and old[0] <= low and high <= old[1] and \
                high - low >= Y_FILL_MIN * (old[1] - old[0]):
            return
        self._y_range = nice_range(low, high)
        self.cost_plot.setYRange(*self._y_range, padding=0.02)

    def _on_manual_range(self, *_args: object) -> None:
        self._manage_y = False

    def _place_marker(self, series: _Series) -> None:
        if series.marker is None or series.marker_text is None or series.diverged_epoch is None:
            return
        point = series.last_finite_cost(series.diverged_epoch)
        visible = point is not None and (point[1] > 0 or not self.log_scale)
        series.marker.setVisible(visible)
        series.marker_text.setVisible(visible)
        if point is None or not visible:
            series.marker.setData([], [])
            return
        x, y = point
        series.marker.setData([x], [y])
        # A TextItem is not a data item, so the plot's log mapping does not reach it.
        series.marker_text.setPos(x, math.log10(y) if self.log_scale else y)

    def _remove_marker(self, series: _Series) -> None:
        if series.marker is not None:
            self.cost_plot.removeItem(series.marker)
        if series.marker_text is not None:
            self.cost_plot.removeItem(series.marker_text)
        series.marker = series.marker_text = None

    def _pen(self, experiment_id: int, *, dashed: bool) -> QPen:
        color = color_for(experiment_id)
        width = NORMAL_WIDTH
        if self._selected:
            if experiment_id in self._selected:
                width = SELECTED_WIDTH
            else:
                color.setAlpha(DIMMED_ALPHA)
        style = Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine
        pen: QPen = pg.mkPen(color, width=width, style=style)
        return pen

    def _restyle(self, series: _Series) -> None:
        # Selected curves on top, so dimmed ones never hide them.
        z = 10 if series.id in self._selected else 0
        for row, curve in series.curves.items():
            curve.setPen(self._pen(series.id, dashed=row in _VAL_ROWS))
            curve.setZValue(z)

    def _legend_entries(self) -> list[_Series]:
        """The experiments the legend names: all of a few; of many, the selected ones (or,
        with none selected, the newest), so the legend never covers the curves."""
        if len(self._series) <= LEGEND_MAX:
            return list(self._series.values())
        chosen = [s for i, s in self._series.items() if i in self._selected]
        if not chosen:
            chosen = list(self._series.values())[-LEGEND_MAX:]
        return chosen[:LEGEND_MAX]

    def _sync_legend(self) -> None:
        entries = self._legend_entries()
        wanted = [s.curves[_TRAIN_COST] for s in entries]
        # The legend holds a sample item wrapping each curve it names.
        named = [getattr(sample, "item", sample) for sample, _ in self.legend.items]
        shown = [item for item in named
                 if item not in self._style_samples and item is not self._more_sample]
        more = len(self._series) + len(self._off_plot) - len(entries)
        state = (more, len(self._off_plot))
        if self._more_shown == state == (0, 0):
            # A few experiments, all named: add or remove single entries (a rebuild creates
            # a label item per entry, ~2 ms each).
            if shown == wanted[: len(shown)]:
                for series in entries[len(shown):]:
                    self.legend.addItem(series.curves[_TRAIN_COST], self._legend_text(series))
                return
            gone = [item for item in shown if item not in wanted]
            if [item for item in shown if item not in gone] == wanted:
                for item in gone:
                    self.legend.removeItem(item)
                return
        if shown == wanted and self._more_shown == state:
            return
        self.legend.clear()
        self.legend.addItem(self._style_samples[0], "training")
        self.legend.addItem(self._style_samples[1], "validation")
        for series in entries:
            self.legend.addItem(series.curves[_TRAIN_COST], self._legend_text(series))
        if more:
            hint = "select rows to name them here" if not self._selected else "not selected"
            if self._off_plot:
                hint += f"; the oldest {len(self._off_plot)} are drawn only when selected"
            self.legend.addItem(self._more_sample, f"… and {more} more ({hint})")
        self._more_shown = (more, len(self._off_plot))

    def _legend_text(self, series: _Series) -> str:
        text = f"#{series.id} {series.label}".rstrip()
        if series.diverged_epoch is not None:
            text += f" (diverged at epoch {series.diverged_epoch})"
        return text

    def _update_legend_text(self, series: _Series) -> None:
        label = self.legend.getLabel(series.curves[_TRAIN_COST])
        if label is not None:
            label.setText(self._legend_text(series))
            self.legend.updateSize()

    def _apply_metric_axis(self) -> None:
        self.metric_plot.setLabel("left", _METRIC_LABELS[self._metric])
        # A fixed metric axis makes experiments comparable at a glance; R² below -1 means
        # "far worse than predicting the mean", which needs no more detail.
        low = 0.0 if self._metric == "accuracy" else -1.0
        self.metric_plot.setYRange(low, 1.0, padding=0.02)

    # -- handlers -------------------------------------------------------------------------
    def _on_log_toggled(self, on: bool) -> None:
        self.cost_plot.setLogMode(y=on)
        # setLogMode turns pyqtgraph's auto-range back on; the panel fits both axes itself.
        self.cost_plot.enableAutoRange(enable=False)
        self._x_bound = 0.0
        self._y_range = None  # the drawn points change scale: fit them again
        # Costs of 0 have no logarithm: the curves are filtered again for the new axis.
        for series in self._series.values():
            series.dirty = True
            for envelope in series.envelopes.values():
                envelope.reset()
        self.draw_now()
        self.logScaleToggled.emit(on)

    def _on_curve_clicked(self, curve: pg.PlotCurveItem, *_event: object) -> None:
        experiment_id = self._curve_owner.get(curve)
        if experiment_id is not None:
            self.experimentClicked.emit(experiment_id)



def _fake_history(alpha: float, epochs: int, rng: np.random.Generator) -> dict[str, list[float]]:
    """A plausible history for learning rate ``alpha`` (for the preview only)."""
    t = np.arange(1, epochs + 1, dtype=np.float64)
    if alpha >= 1.0:
        # Too large: the cost oscillates and grows until it is no longer finite, and the
        # trainer stops there.
        cost = 0.69 * np.exp(t / 25) * (1 + 0.3 * np.sin(t))
        end = int(np.argmax(cost > 50))
        cost = cost[: end + 1]
        cost[end] = np.inf
        t = t[: end + 1]
    else:
        cost = 0.15 + 0.55 * np.exp(-alpha * t / 3)
    cost = cost * (1 + 0.02 * rng.standard_normal(t.shape[0]))
    val = cost * 1.08 + 0.02
    val[t % 5 != 0] = np.nan  # validation measured every 5 epochs (eval_every = 5)
    accuracy = np.clip(1.0 - cost / 1.4, 0.0, 1.0)
    return {
        "train_cost": cost.tolist(),
        "val_cost": val.tolist(),
        "train_metric": accuracy.tolist(),
        "val_metric": np.where(np.isnan(val), np.nan, accuracy - 0.03).tolist(),
    }


def _preview() -> CostPlotsPanel:
    """Three learning rates on fake data: too small, good, and too large (diverged)."""
    panel = CostPlotsPanel()
    rng = np.random.default_rng(0)
    runs = (
        (1, "alpha = 0.01 (too small)", 0.01),
        (2, "alpha = 0.3 (good)", 0.3),
        (3, "alpha = 3 (too large)", 3.0),
    )
    for experiment_id, label, alpha in runs:
        panel.add_experiment(experiment_id, label)
        history = _fake_history(alpha, 300, rng)
        panel.set_history(experiment_id, history)
        if alpha >= 1.0:
            panel.mark_diverged(experiment_id, len(history["train_cost"]))
    return panel


if __name__ == "__main__":  # pragma: no cover - a quick look by hand
    from ..preview import preview

    raise SystemExit(preview(_preview, title="Cost plots (fake data)", size=(800, 600)))
