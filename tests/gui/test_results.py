"""The results table model, its proxy, the queue model and the accuracy/time scatter."""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import Qt

from dnnstudio.core.hyperparams import Hyperparameters
from dnnstudio.gui.models.queue import PROGRESS_ROLE, QueueModel
from dnnstudio.gui.models.results import ID_ROLE, ResultsModel, ResultsProxy, differing_fields
from dnnstudio.gui.panels.details import DetailsPanel
from dnnstudio.gui.panels.results import ResultsPanel, pareto_front
from dnnstudio.runs.records import ExperimentRecord, ExperimentState


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


def test_details_panel_debounces_note_edits(qtbot) -> None:  # noqa: ANN001
    panel = DetailsPanel()
    qtbot.addWidget(panel)
    panel.show_record(RECORDS[1])
    assert "Experiment #2" in panel.summary.text()
    assert "alpha = 0.03" in panel.summary.text()
    with qtbot.waitSignal(panel.noteEdited, timeout=3000) as blocker:
        panel.note.setPlainText("good: try 0.05 next")
    assert blocker.args == [2, "good: try 0.05 next"]
