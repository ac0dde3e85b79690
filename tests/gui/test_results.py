"""The results table model, its proxy, the queue model and the accuracy/time scatter."""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from dnnstudio.core.advisor import diagnose
from dnnstudio.core.hyperparams import Hyperparameters
from dnnstudio.core.training import HISTORY_FIELDS
from dnnstudio.gui.models.queue import PROGRESS_ROLE, QueueModel
from dnnstudio.gui.models.results import ID_ROLE, ResultsModel, ResultsProxy, differing_fields
from dnnstudio.gui.panels.details import DetailsPanel
from dnnstudio.gui.panels.results import ResultsPanel, pareto_front
from dnnstudio.runs.records import ExperimentRecord, ExperimentState, HistoryColumns


def _record(ident: int, alpha: float, val: float, time_s: float, *,
            state: ExperimentState = ExperimentState.COMPLETED, note: str = "",
            hidden: tuple[int, ...] = (4,)) -> ExperimentRecord:
    return ExperimentRecord(
        id=ident, hyperparameters=Hyperparameters(alpha=alpha, hidden=hidden, epochs=100),
        state=state, note=note, val_metric=val, train_metric=min(1.0, val + 0.05),
        train_cost=0.3, val_cost=0.4, train_time_s=time_s, epochs_run=100,
        parameter_count=17,
    )


RECORDS = [
    _record(1, 0.01, 0.80, 3.0, note="slow but steady"),
    _record(2, 0.03, 0.91, 2.0, note="good"),
    _record(3, 0.3, math.nan, 1.0, state=ExperimentState.DIVERGED),
    _record(4, 0.1, 0.93, 8.0, hidden=(8,)),
]


def _column(model: ResultsModel, key: str) -> int:
    return model.column_keys().index(key)


def test_model_passes_qt_model_tester(qtmodeltester) -> None:  # noqa: ANN001
    model = ResultsModel()
    model.set_records(RECORDS)
    qtmodeltester.check(model)
    proxy = ResultsProxy()
    proxy.setSourceModel(model)
    qtmodeltester.check(proxy)
    queue = QueueModel()
    queue.set_records(RECORDS)
    qtmodeltester.check(queue)


def test_a_search_column_appears_once_an_experiment_belongs_to_one() -> None:
    model = ResultsModel()
    model.set_records(RECORDS)
    assert "group" not in model.column_keys()
    model.add_record(_record(5, 0.01, 0.5, 1.0).replace(group="grid search 1", folds=5), 4)
    assert model.column_keys()[:3] == ["id", "state", "group"]
    assert model.index(4, _column(model, "group")).data() == "grid search 1 (5-fold)"
    assert model.index(0, _column(model, "group")).data() == ""


def test_only_differing_hyperparameters_get_columns() -> None:
    assert differing_fields([r.hyperparameters for r in RECORDS]) == ["alpha", "hidden"]
    model = ResultsModel()
    model.set_records(RECORDS)
    keys = model.column_keys()
    assert keys[:4] == ["id", "state", "hp:alpha", "hp:hidden"]
    assert "hp:epochs" not in keys
    assert model.index(3, _column(model, "hp:hidden")).data() == "8"
    # Adding a record that differs in the optimizer adds that column.
    model.add_record(_record(5, 0.01, 0.5, 1.0).replace(
        hyperparameters=Hyperparameters(alpha=0.01, hidden=(4,), epochs=100,
                                        optimizer="adam")), 4)
    assert "hp:optimizer" in model.column_keys()


def test_best_validation_accuracy_is_highlighted() -> None:
    model = ResultsModel()
    model.set_records(RECORDS)
    assert model.best_id == 4
    assert model.index(3, 0).data(Qt.ItemDataRole.BackgroundRole) is not None
    assert model.index(1, 0).data(Qt.ItemDataRole.BackgroundRole) is None
    model.update_record(_record(2, 0.03, 0.97, 2.0))
    assert model.best_id == 2


def test_proxy_sorts_numbers_as_numbers_and_filters() -> None:
    model = ResultsModel()
    model.set_records(RECORDS + [_record(10, 0.02, 0.85, 12.0)])
    proxy = ResultsProxy()
    proxy.setSourceModel(model)
    proxy.sort(_column(model, "time"), Qt.SortOrder.AscendingOrder)
    ids = [proxy.index(r, 0).data(ID_ROLE) for r in range(proxy.rowCount())]
    assert ids == [3, 2, 1, 4, 10]  # 12.0 after 8.0, not before it as text would be
    proxy.sort(_column(model, "val_metric"), Qt.SortOrder.DescendingOrder)
    assert [proxy.index(r, 0).data(ID_ROLE) for r in range(proxy.rowCount())] == [4, 2, 10, 1, 3]
    proxy.setFilterFixedString("steady")
    assert proxy.rowCount() == 1
    proxy.setFilterFixedString("")
    proxy.set_states({"diverged"})
    assert [proxy.index(r, 0).data(ID_ROLE) for r in range(proxy.rowCount())] == [3]


def test_note_edits_are_requests(qtbot) -> None:  # noqa: ANN001
    model = ResultsModel()
    model.set_records(RECORDS)
    index = model.index(0, _column(model, "note"))
    assert model.flags(index) & Qt.ItemFlag.ItemIsEditable
    assert not model.flags(model.index(0, 0)) & Qt.ItemFlag.ItemIsEditable
    with qtbot.waitSignal(model.noteEdited) as blocker:
        assert model.setData(index, "=HYPERLINK(1)")
    assert blocker.args == [1, "=HYPERLINK(1)"]
    assert model.index(0, _column(model, "note")).data() == "slow but steady"


def test_order_and_removal() -> None:
    model = ResultsModel()
    model.set_records(RECORDS)
    model.set_order([4, 3, 2, 1])
    assert [model.index(r, 0).data(ID_ROLE) for r in range(4)] == [4, 3, 2, 1]
    model.remove_record(3)
    assert model.rowCount() == 3
    assert model.row_of(3) is None


def test_queue_model_progress() -> None:
    running = _record(7, 0.01, math.nan, math.nan, state=ExperimentState.RUNNING).replace(
        epochs_run=25, history={"elapsed_s": [0.1] * 24 + [2.5], "train_cost": [0.5] * 25,
                                "val_cost": [0.5] * 25, "train_metric": [0.5] * 25,
                                "val_metric": [0.5] * 25, "learning_rate": [0.01] * 25})
    model = QueueModel()
    model.set_records([running])
    assert model.index(0, 2).data(PROGRESS_ROLE) == pytest.approx(0.25)
    assert model.index(0, 3).data() == "8 s"  # 2.5 s for 25 epochs, 75 to go
    assert "alpha=0.01" in model.index(0, 4).data()


def test_pareto_front() -> None:
    points = [(3.0, 0.80, 1), (2.0, 0.91, 2), (8.0, 0.93, 4), (5.0, 0.90, 5), (1.0, 0.5, 6)]
    assert [p[2] for p in pareto_front(points)] == [6, 2, 4]


def test_panel_scatter_and_selection(qtbot) -> None:  # noqa: ANN001
    panel = ResultsPanel()
    qtbot.addWidget(panel)
    panel.set_records(RECORDS)
    assert panel.scatter.point_count() == 3  # the diverged run has no accuracy
    assert panel.scatter.front_ids() == [2, 4]
    with qtbot.waitSignal(panel.selectionChanged) as blocker:
        panel.scatter.experimentClicked.emit(4)
    assert blocker.args == [[4]]
    assert panel.selected_ids() == [4]


def test_queuing_redraws_the_scatter_and_fits_the_columns_a_moment_later(
        qtbot: QtBot) -> None:
    panel = ResultsPanel()
    qtbot.addWidget(panel)
    panel.set_records(RECORDS[:2])
    qtbot.waitUntil(panel.columns_fitted, timeout=5000)
    assert panel.scatter.point_count() == 2
    summary = _column(panel.model, "val_cost")
    header = panel.table.horizontalHeader()
    fitted = header.sectionSize(summary)
    header.resizeSection(summary, 30)
    panel.add_record(_record(5, 0.2, 0.95, 1.5), 2)
    # Not in the same stretch of the GUI thread as the new row:
    assert panel.scatter.point_count() == 2
    assert header.sectionSize(summary) == 30
    qtbot.waitUntil(lambda: panel.scatter.point_count() == 3, timeout=5000)
    qtbot.waitUntil(panel.columns_fitted, timeout=5000)
    assert header.sectionSize(summary) == fitted > 30


def test_details_panel_debounces_note_edits(qtbot) -> None:  # noqa: ANN001
    panel = DetailsPanel()
    qtbot.addWidget(panel)
    panel.show_record(RECORDS[1])
    assert "Experiment #2" in panel.summary.text()
    assert "alpha = 0.03" in panel.summary.text()
    with qtbot.waitSignal(panel.noteEdited, timeout=3000) as blocker:
        panel.note.setPlainText("good: try 0.05 next")
    assert blocker.args == [2, "good: try 0.05 next"]


def _curved(ident: int, train_metric: float, val_metric: float, *, epochs: int = 300,
            state: ExperimentState = ExperimentState.COMPLETED,
            metric: str = "accuracy") -> ExperimentRecord:
    """A record whose training cost decays exponentially over ``epochs`` epochs."""
    cost = 0.1 + 0.6 * np.exp(-np.arange(epochs) / 60)
    history = {name: np.full(epochs, np.nan) for name in HISTORY_FIELDS}
    history["train_cost"] = cost
    return _record(ident, 0.1, val_metric, 1.0, state=state).replace(
        train_metric=train_metric, epochs_run=epochs, metric=metric,
        history=HistoryColumns.from_mapping(history))


def test_diagnosis_column_shows_the_verdict_with_the_numbers_as_tooltip(
        qtmodeltester) -> None:  # noqa: ANN001
    overfit, fine = _curved(11, 0.99, 0.85), _curved(12, 0.93, 0.92)
    model = ResultsModel()
    model.set_records([overfit, fine, _record(13, 0.1, math.nan, math.nan,
                                              state=ExperimentState.QUEUED)])
    qtmodeltester.check(model)
    column = _column(model, "diagnosis")
    assert model.headerData(column, Qt.Orientation.Horizontal) == "Diagnosis"
    assert column == _column(model, "val_cost") + 1
    assert model.index(0, column).data() == "Overfitting: add L2/dropout"
    assert "14.0 points" in model.index(0, column).data(Qt.ItemDataRole.ToolTipRole)
    assert model.index(1, column).data() == "Good: cost falling"
    assert model.index(2, column).data() == ""  # queued: nothing to judge yet
    assert model.index(0, column).data(Qt.ItemDataRole.ForegroundRole) is not None


def test_diagnosis_is_cached_until_epochs_or_state_change() -> None:
    running = _curved(14, 0.9, 0.88, epochs=100, state=ExperimentState.RUNNING)
    model = ResultsModel()
    model.set_records([running])
    first = model.diagnosis(running)
    assert first is not None
    assert "so far" in first.detail
    assert model.diagnosis(running.replace(note="repainted")) is first
    finished = _curved(14, 0.9, 0.88, epochs=100)
    assert model.diagnosis(finished) is not first
    longer = _curved(14, 0.9, 0.88, epochs=200, state=ExperimentState.RUNNING)
    model.update_record(longer)
    assert model.diagnosis(longer) is not first


def test_a_long_run_shows_its_worker_s_diagnosis_and_repaints_only_when_it_changes(
        qtbot: QtBot) -> None:
    falling = diagnose({"train_cost": np.linspace(1.0, 0.1, 50)}, running=True)
    flat = diagnose({"train_cost": np.full(50, 0.7)}, running=True)
    assert falling.label != flat.label
    model = ResultsModel()
    running = _curved(14, 0.9, 0.88, epochs=20_000, state=ExperimentState.RUNNING)
    model.set_records([running])
    column = model.column_keys().index("diagnosis")
    assert model.diagnosis(running) is None  # none until its worker's first one
    assert not model.is_diagnosing()  # nothing is diagnosed in this process
    spans: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda a, b, *_: spans.append((a.column(), b.column())))

    def update(record: ExperimentRecord) -> bool:
        spans.clear()
        model.update_record(record)
        return any(first <= column <= last for first, last in spans)

    live = _curved(14, 0.9, 0.88, epochs=24_000,
                   state=ExperimentState.RUNNING).replace(diagnosis=falling)
    assert update(live)
    assert model.index(0, column).data() == falling.label
    assert not update(live.replace(epochs_run=25_000, train_time_s=3.0))  # the same one
    assert not update(live.replace(epochs_run=26_000, diagnosis=dataclasses.replace(falling)))
    assert update(live.replace(epochs_run=30_000, diagnosis=flat))
    assert model.index(0, column).data() == flat.label
    done = _curved(14, 0.9, 0.88, epochs=30_000)
    final = diagnose(done)
    assert update(done.replace(diagnosis=final))  # a new state repaints the row anyway
    assert model.diagnosis(model.record_at(0)) is final
    assert not model.is_diagnosing()


def test_a_long_finished_run_without_a_diagnosis_is_diagnosed_off_the_gui_thread(
        qtbot: QtBot) -> None:
    model = ResultsModel()
    loaded = _curved(14, 0.9, 0.88, epochs=20_000)  # as a session file brings it
    model.set_records([loaded])
    column = model.column_keys().index("diagnosis")
    with qtbot.waitSignal(model.dataChanged, timeout=5000) as changed:
        assert model.diagnosis(loaded) is None  # blank until the thread's answer comes
        assert model.is_diagnosing()
    assert changed.args[0].column() == column == changed.args[1].column()
    assert not model.is_diagnosing()
    found = model.diagnosis(loaded)
    assert found is not None
    assert repr(found) == repr(diagnose(loaded))
    assert "so far" not in found.detail
    assert model.index(0, column).data() == found.label
    assert model.diagnosis(loaded) is found  # once


def test_a_late_diagnosis_of_a_run_queued_again_meanwhile_is_dropped(qtbot: QtBot) -> None:
    model = ResultsModel()
    loaded = _curved(14, 0.9, 0.88, epochs=20_000, state=ExperimentState.INTERRUPTED)
    model.set_records([loaded])
    assert model.diagnosis(loaded) is None  # asked for, and at once queued again:
    queued = loaded.requeued()
    model.update_record(queued)
    repainted: list[int] = []
    model.dataChanged.connect(lambda a, *_: repainted.append(a.column()))
    qtbot.waitUntil(lambda: not model.is_diagnosing(), timeout=5000)
    assert repainted == []
    assert model.diagnosis(queued) is None


def test_only_the_cells_whose_text_changed_are_repainted(qtbot: QtBot) -> None:
    model = ResultsModel()
    running = _curved(14, 0.9, 0.88, epochs=100, state=ExperimentState.RUNNING)
    model.set_records([running])
    model.diagnosis(running)
    keys = model.column_keys()
    spans: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda a, b, *_: spans.append((a.column(), b.column())))
    later = running.replace(train_time_s=running.train_time_s + 1.0)
    model.update_record(later)
    assert spans == [(keys.index("time"), keys.index("time"))]
    spans.clear()
    model.update_record(later.replace(note="a note"))
    assert spans == [(keys.index("note"), keys.index("note"))]
    spans.clear()
    model.update_record(later.replace(state=ExperimentState.CANCELLED))
    assert spans == [(0, len(keys) - 1)]  # a new state: colours and tooltips too


def test_test_columns_are_blank_until_the_final_evaluation(qtmodeltester) -> None:  # noqa: ANN001
    tested = _curved(15, 0.93, 0.92).replace(test_metric=0.905, test_cost=0.25,
                                             tested_at=1_700_000_000.0)
    untested = _curved(16, 0.93, 0.92).replace(test_metric=0.7)  # never shown
    model = ResultsModel()
    model.set_records([tested, untested])
    qtmodeltester.check(model)
    metric, when = _column(model, "test_metric"), _column(model, "tested_at")
    assert model.headerData(metric, Qt.Orientation.Horizontal) == "Test acc."
    assert model.index(0, metric).data() == "0.9050"
    assert model.index(0, when).data() == time.strftime(
        "%Y-%m-%d %H:%M", time.localtime(1_700_000_000.0))
    assert model.index(1, metric).data() == ""
    assert model.index(1, when).data() == ""
    regression = ResultsModel()
    regression.set_records([_curved(17, 0.9, 0.88, metric="r2")])
    assert regression.headerData(metric, Qt.Orientation.Horizontal) == "Test R²"


def test_details_panel_shows_diagnosis_and_test_figures(qtbot) -> None:  # noqa: ANN001
    panel = DetailsPanel()
    qtbot.addWidget(panel)
    panel.show_record(_curved(18, 0.99, 0.85))
    text = panel.summary.text()
    assert "Diagnosis:</b> Overfitting: add L2/dropout — The training cost fell" in text
    assert "Test set" not in text
    panel.show_record(_curved(18, 0.93, 0.92).replace(test_metric=0.905, test_cost=0.25,
                                                       tested_at=1_700_000_000.0))
    assert "accuracy 0.9050, cost 0.2500" in panel.summary.text()
