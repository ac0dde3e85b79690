"""Final evaluation… in the window: when it is offered, the confirmation, the result, the
warning banner, and the audit trail in the session file.

Sessions are written here with experiments trained in this process (or constructed, when
only their number matters), then opened in a window: no worker trains anything except in the
one end-to-end test. Message boxes are intercepted, so none ever blocks.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from fakes import Dialogs
from PySide6.QtCore import QCoreApplication, QEvent, QItemSelectionModel, QSettings
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from dnnstudio.core.data.dataset import Splits
from dnnstudio.core.data.spec import DatasetSpec
from dnnstudio.core.hyperparams import Hyperparameters
from dnnstudio.core.training import train
from dnnstudio.gui.controller import SessionController
from dnnstudio.gui.main_window import MainWindow
from dnnstudio.runs.evaluation import VALIDATION_OVERFIT_TRIALS, final_evaluation
from dnnstudio.runs.records import ExperimentRecord, ExperimentState, TestEvaluation
from dnnstudio.sessions.store import SessionData, SessionStore

WAIT_MS = 30_000
YES = QMessageBox.StandardButton.Yes
NO = QMessageBox.StandardButton.No
PLANAR = DatasetSpec()
HP = Hyperparameters(alpha=0.3, epochs=60, hidden=(4,), activation="tanh")
WHEN = 1_700_000_000.0


@pytest.fixture
def looks(monkeypatch: pytest.MonkeyPatch) -> list[Splits]:
    """Every read of a test set, in this process."""
    calls: list[Splits] = []
    original = Splits.test_data

    def spy(self: Splits) -> tuple[np.ndarray, np.ndarray]:
        calls.append(self)
        return original(self)

    monkeypatch.setattr(Splits, "test_data", spy)
    return calls


@pytest.fixture
def make_window(
    qtbot: QtBot, dialogs: Dialogs, tmp_path: Path
) -> Iterator[Callable[[], MainWindow]]:
    made: list[MainWindow] = []

    def make() -> MainWindow:
        controller = SessionController(workers=1,
                                       session_dir=tmp_path / f"sessions-{len(made) + 1}")
        settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
        window = MainWindow(controller, settings)
        made.append(window)
        controller.new_session()
        controller.start()
        return window

    yield make
    dialogs.answer = YES  # "stop the running experiments and quit?"
    for window in made:
        window.close()
        window.controller.shutdown()
        window.dataset_panel.shutdown()
        QCoreApplication.processEvents()
        window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    made.clear()
    gc.collect()


# -- sessions to open --------------------------------------------------------------------------

def trained(ident: int, alpha: float = 0.3) -> ExperimentRecord:
    hp = HP.replace(alpha=alpha)
    result = train(hp, PLANAR.load().training_data())
    return ExperimentRecord(id=ident, hyperparameters=hp).started().finished(result)


def compared(ident: int) -> ExperimentRecord:
    """A completed experiment as a number in a count: figures, no parameters."""
    return ExperimentRecord(id=ident, hyperparameters=HP.replace(alpha=0.001 * ident),
                            state=ExperimentState.COMPLETED, epochs_run=60, train_cost=0.5,
                            val_cost=0.6, train_metric=0.8, val_metric=0.75, train_time_s=0.1,
                            parameter_count=17)


def write_session(path: Path, records: Sequence[ExperimentRecord],
                  evaluations: Sequence[TestEvaluation] = ()) -> Path:
    with SessionStore.create(path) as store:
        store.put_dataset(PLANAR)
        for record in records:
            store.put_experiment(record, history=True)
        for evaluation in evaluations:
            store.add_test_evaluation(evaluation)
    return path


def read_session(path: Path) -> SessionData:
    with SessionStore.open(path, read_only=True) as store:
        return store.load()


def opened(qtbot: QtBot, make_window: Callable[[], MainWindow], path: Path) -> MainWindow:
    window = make_window()
    assert window.open_session(str(path))
    panel = window.dataset_panel
    qtbot.waitUntil(lambda: panel.splits() is not None and not panel.is_loading(),
                    timeout=WAIT_MS)
    return window


def select(window: MainWindow, ids: Sequence[int]) -> None:
    panel = window.results
    selection = panel.table.selectionModel()
    selection.clearSelection()
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    for ident in ids:
        row = panel.model.row_of(ident)
        assert row is not None
        selection.select(panel.proxy.mapFromSource(panel.model.index(row, 0)), flags)
    assert panel.selected_ids() == sorted(ids)


def banner(window: MainWindow) -> str | None:
    """The warning banner's text, or None while it is hidden."""
    label = window.warning_banner
    return None if label.isHidden() else label.text()


# -- tests -------------------------------------------------------------------------------------

def test_offered_only_for_one_completed_experiment_never_evaluated(
    qtbot: QtBot, make_window: Callable[[], MainWindow], tmp_path: Path
) -> None:
    first, second = trained(1), trained(2, alpha=0.5)
    records = [
        first,
        second,
        compared(3).replace(state=ExperimentState.DIVERGED, params=None),
        trained(4).replace(state=ExperimentState.CANCELLED),
        compared(5),  # completed, but no parameters were stored
    ]
    earlier = final_evaluation(second, PLANAR, now=WHEN)
    window = opened(qtbot, make_window,
                    write_session(tmp_path / "s.dnnsession", records, [earlier]))
    action = window.final_evaluation_action
    assert action in window.results.table.actions()  # the table's context menu
    assert action.isEnabled() is False  # nothing selected

    select(window, [1])
    assert action.isEnabled()
    for ident, why in [(2, "already evaluated"), (3, "diverged"), (4, "cancelled"),
                       (5, "no learned parameters")]:
        select(window, [ident])
        assert not action.isEnabled(), ident
        assert why in action.toolTip(), (ident, action.toolTip())
    select(window, [1, 4])
    assert not action.isEnabled()
    assert "exactly one" in action.toolTip()
    # Experiment 2's evaluation, read from the file, marks the session.
    text = banner(window)
    assert text is not None
    assert "#2" in text


def test_declining_the_confirmation_computes_and_stores_nothing(
    qtbot: QtBot, make_window: Callable[[], MainWindow], dialogs: Dialogs,
    looks: list[Splits], tmp_path: Path
) -> None:
    path = write_session(tmp_path / "s.dnnsession", [trained(1)])
    window = opened(qtbot, make_window, path)
    assert banner(window) is None
    select(window, [1])
    dialogs.answer = NO
    window.final_evaluation_action.trigger()

    ((_, question),) = dialogs.questions
    assert "experiment #1" in question
    assert "validation set" in question
    assert "evaluated on it once" in question
    assert "optimistic" in question
    assert looks == []
    assert dialogs.informations == []
    assert window.controller.evaluations == []
    assert not window.controller.queue.records[1].tested
    assert window.final_evaluation_action.isEnabled()
    assert banner(window) is None
    window.controller.flush()
    stored = read_session(path)
    assert stored.evaluations == []
    assert not stored.records[0].tested


def test_an_evaluation_is_shown_recorded_and_reopened_with_the_session(
    qtbot: QtBot, make_window: Callable[[], MainWindow], dialogs: Dialogs,
    looks: list[Splits], tmp_path: Path
) -> None:
    path = write_session(tmp_path / "s.dnnsession", [trained(1), trained(2, alpha=0.5)])
    window = opened(qtbot, make_window, path)
    select(window, [2])
    with qtbot.waitSignal(window.controller.testEvaluated, timeout=WAIT_MS) as signal:
        window.final_evaluation_action.trigger()
    (evaluation,) = signal.args
    assert len(looks) == 1
    assert len(dialogs.questions) == 1

    record = window.controller.queue.records[2]
    assert record.tested
    assert record.tested_at == evaluation.at
    assert record.test_metric == evaluation.test_metric
    (shown,) = dialogs.informations
    assert f"test accuracy: {100 * evaluation.test_metric:.2f}%" in shown
    assert f"validation accuracy: {100 * record.val_metric:.2f}%" in shown
    assert f"({evaluation.samples} examples)" in shown
    assert not window.final_evaluation_action.isEnabled()
    assert "already evaluated" in window.final_evaluation_action.toolTip()
    text = banner(window)
    assert text is not None
    assert "#2" in text
    assert "optimistic" in text

    # Saved under a new name, closed and reopened: the trail and the mark are still there.
    saved = tmp_path / "saved.dnnsession"
    window.save_as(str(saved))
    window.close()
    assert read_session(saved).evaluations == [evaluation]
    again = opened(qtbot, make_window, saved)
    assert again.controller.evaluations == [evaluation]
    assert again.controller.queue.records[2].tested_at == evaluation.at
    reopened_text = banner(again)
    assert reopened_text is not None
    assert "#2" in reopened_text
    select(again, [2])
    assert not again.final_evaluation_action.isEnabled()
    select(again, [1])
    assert again.final_evaluation_action.isEnabled()  # once per experiment, not per session


def test_the_banner_follows_the_split_whose_test_set_was_used(
    qtbot: QtBot, make_window: Callable[[], MainWindow], tmp_path: Path
) -> None:
    first = trained(1)
    path = write_session(tmp_path / "s.dnnsession", [first],
                         [final_evaluation(first, PLANAR, now=WHEN)])
    window = opened(qtbot, make_window, path)
    assert banner(window) is not None
    controller = window.controller
    controller.remove([1])
    assert banner(window) is not None  # the trail outlives the experiment
    controller.set_dataset(PLANAR.replace(seed=5))
    assert banner(window) is None  # another split: its test set is untouched
    controller.set_dataset(PLANAR)
    assert banner(window) is not None
    controller.new_session(PLANAR)
    assert banner(window) is None


@pytest.mark.parametrize("count", [VALIDATION_OVERFIT_TRIALS, VALIDATION_OVERFIT_TRIALS + 1])
def test_the_banner_warns_about_many_configurations_on_one_validation_split(
    qtbot: QtBot, make_window: Callable[[], MainWindow], tmp_path: Path, count: int
) -> None:
    records = [compared(i) for i in range(1, count + 1)]
    window = opened(qtbot, make_window, write_session(tmp_path / "s.dnnsession", records))
    text = banner(window)
    if count <= VALIDATION_OVERFIT_TRIALS:
        assert text is None
    else:
        assert text is not None
        assert f"{count} configurations" in text
        assert "cross-validation" in text


def test_end_to_end_a_trained_experiment_tips_the_count_then_is_evaluated(
    qtbot: QtBot, make_window: Callable[[], MainWindow], dialogs: Dialogs, tmp_path: Path
) -> None:
    records = [compared(i) for i in range(1, VALIDATION_OVERFIT_TRIALS + 1)]
    window = opened(qtbot, make_window, write_session(tmp_path / "s.dnnsession", records))
    assert banner(window) is None

    window.editor.set_hyperparameters(HP)
    window.add_to_queue()
    assert window.statusBar().currentMessage() == "Queued experiment #51"
    qtbot.waitUntil(lambda: window.controller.queue.records[51].state.is_finished(),
                    timeout=WAIT_MS)
    assert window.controller.queue.records[51].state is ExperimentState.COMPLETED
    text = banner(window)
    assert text is not None
    assert "51 configurations" in text

    select(window, [51])
    window.final_evaluation_action.trigger()
    assert len(dialogs.informations) == 1
    text = banner(window)
    assert text is not None
    assert "#51" in text
    assert "cross-validation" in text

    # Tuning goes on: the status bar says the test set was already used.
    window.controller.set_paused(True)
    window.add_to_queue()
    message = window.statusBar().currentMessage()
    assert "Queued experiment #52" in message
    assert "already used" in message
    assert "#51" in message
