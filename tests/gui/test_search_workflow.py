"""Searches end to end: the search manager on a real session controller, queue and worker
processes; then the window's Search dock, menu, presets and selection.

Trials are tiny (planar data, one hidden layer of 4 tanh units, tens of epochs); "long"
ones cannot finish during a test and are paused, cancelled or interrupted. Message boxes are
answered by the test.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes import Dialogs
from PySide6.QtCore import QCoreApplication, QEvent, QSettings
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from dnnstudio.core.data.spec import DatasetSpec
from dnnstudio.core.hyperparams import MAX_EPOCHS, Hyperparameters
from dnnstudio.gui.controller import SessionController
from dnnstudio.gui.main_window import MainWindow
from dnnstudio.gui.search.manager import SearchManager
from dnnstudio.runs.records import ExperimentRecord, ExperimentState
from dnnstudio.search.presets import LR_LAB_EXPLANATION
from dnnstudio.search.runner import SearchState
from dnnstudio.search.spec import SearchSpec
from dnnstudio.sessions.store import SessionStore

WAIT_MS = 30_000
"""Generous: worker processes are spawned (an interpreter and a NumPy import each)."""
TINY = {"epochs": 40, "hidden": [4], "activation": "tanh"}


def grid(alphas: list[float], *, epochs: int = 40, parallel: int | None = None) -> SearchSpec:
    search: dict[str, Any] = {"strategy": "grid", "prune": False,
                              "space": {"alpha": alphas}}
    if parallel is not None:
        search["parallel"] = parallel
    return SearchSpec.from_dict({"fixed": {**TINY, "epochs": epochs}, "search": search})


class Session:
    """A controller (two workers, sessions in a temporary folder) and its search manager."""

    def __init__(self, folder: Path) -> None:
        self.controller = SessionController(workers=2, session_dir=folder)
        self.manager = SearchManager(self.controller)
        self.controller.new_session()
        self.controller.start()

    def records(self, name: str) -> list[ExperimentRecord]:
        return [r for r in self.controller.records if r.group == name]

    def close(self) -> None:
        self.manager.shutdown()
        self.controller.shutdown()


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[Callable[[], Session]]:
    made: list[Session] = []

    def make() -> Session:
        made.append(Session(tmp_path / "sessions"))
        return made[-1]

    yield make
    for session in made:
        session.close()
    gc.collect()


def stored(path: Path) -> dict[str, str]:
    with SessionStore.open(path, read_only=True) as store:
        return {s.name: s.state for s in store.load().searches}


def wait_state(qtbot: QtBot, manager: SearchManager, name: str, state: SearchState) -> None:
    qtbot.waitUntil(lambda: manager.runner(name).state is state, timeout=WAIT_MS)


def test_a_grid_search_runs_to_the_end_on_the_queue(qtbot: QtBot, sessions: Any) -> None:
    session = sessions()
    manager = session.manager
    changed: list[str] = []
    manager.searchChanged.connect(changed.append)
    with qtbot.waitSignal(manager.searchesChanged):
        runner = manager.start(grid([0.3, 1.0, 3.0]))
    assert runner.name == "grid search 1"
    assert manager.names() == ["grid search 1"]
    wait_state(qtbot, manager, runner.name, SearchState.FINISHED)
    records = session.records(runner.name)
    assert [r.hyperparameters.alpha for r in records] == [0.3, 1.0, 3.0]
    assert all(r.state is ExperimentState.COMPLETED for r in records)
    assert all(r.epochs_run == 40 for r in records)
    assert "grid search 1" in changed
    snapshot = manager.snapshot(runner.name)
    assert [t.value for t in snapshot.trials] == [r.val_metric for r in records]
    assert all(t.verdict for t in snapshot.trials)  # the advisor's label
    # The search is in the session file as it stands.
    session.controller.flush()
    assert stored(session.controller.writer.path) == {"grid search 1": "finished"}
    # A second one gets the next name.
    assert manager.start(grid([0.3])).name == "grid search 2"


def test_pause_resume_and_cancel(qtbot: QtBot, sessions: Any) -> None:
    session = sessions()
    manager = session.manager
    name = manager.start(grid([0.3, 1.0, 3.0], parallel=1)).name
    manager.pause(name)  # the first trial is queued: it runs, no other starts
    assert manager.runner(name).state is SearchState.PAUSED
    qtbot.waitUntil(lambda: all(r.state.is_finished() for r in session.records(name)),
                    timeout=WAIT_MS)
    assert len(session.records(name)) == 1
    session.controller.flush()
    assert stored(session.controller.writer.path)[name] == "paused"
    manager.resume(name)
    wait_state(qtbot, manager, name, SearchState.FINISHED)
    assert [r.hyperparameters.alpha for r in session.records(name)] == [0.3, 1.0, 3.0]

    long = manager.start(grid([0.01, 0.03, 0.1], epochs=MAX_EPOCHS, parallel=1)).name
    qtbot.waitUntil(lambda: any(r.state is ExperimentState.RUNNING and r.epochs_run > 5
                                for r in session.records(long)), timeout=WAIT_MS)
    manager.cancel(long)
    assert manager.runner(long).state is SearchState.CANCELLED
    qtbot.waitUntil(lambda: all(r.state is ExperimentState.CANCELLED
                                for r in session.records(long)), timeout=WAIT_MS)
    assert len(session.records(long)) == 1  # nothing more was started
    session.controller.flush()
    assert stored(session.controller.writer.path)[long] == "cancelled"


def test_a_search_survives_closing_and_reopening_the_session(qtbot: QtBot, sessions: Any,
                                                             tmp_path: Path) -> None:
    first = sessions()
    name = first.manager.start(grid([0.3, 1.0, 3.0], epochs=MAX_EPOCHS, parallel=1)).name
    qtbot.waitUntil(lambda: any(r.state is ExperimentState.RUNNING and r.epochs_run > 5
                                for r in first.records(name)), timeout=WAIT_MS)
    path = tmp_path / "search.dnnsession"
    first.controller.save_as(path)
    first.close()  # quit while the first trial trains
    assert stored(path) == {name: "running"}

    second = sessions()
    second.controller.open_session(path)
    manager = second.manager
    assert manager.names() == [name]
    runner = manager.runner(name)
    assert runner.state is SearchState.PAUSED  # rebuilt, paused
    assert [t.params for t in runner.trials()] == [{"alpha": 0.3}]
    assert second.records(name)[0].state is ExperimentState.INTERRUPTED
    second.controller.flush()
    assert stored(path) == {name: "paused"}
    # Resuming runs the interrupted trial again and goes on with the grid.
    manager.resume(name)
    qtbot.waitUntil(lambda: second.records(name)[0].state is ExperimentState.RUNNING,
                    timeout=WAIT_MS)
    assert len(second.records(name)) == 1  # parallel = 1
    manager.cancel(name)
    qtbot.waitUntil(lambda: all(r.state.is_finished() for r in second.records(name)),
                    timeout=WAIT_MS)


def test_a_paused_search_goes_on_after_reopening(qtbot: QtBot, sessions: Any,
                                                  tmp_path: Path) -> None:
    first = sessions()
    name = first.manager.start(grid([0.3, 1.0, 3.0], parallel=1)).name
    first.manager.pause(name)
    qtbot.waitUntil(lambda: all(r.state.is_finished() for r in first.records(name)),
                    timeout=WAIT_MS)
    path = tmp_path / "paused.dnnsession"
    first.controller.save_as(path)
    first.close()

    second = sessions()
    second.controller.open_session(path)
    manager = second.manager
    assert manager.runner(name).state is SearchState.PAUSED
    assert len(manager.runner(name).trials()) == 1
    manager.resume(name)
    wait_state(qtbot, manager, name, SearchState.FINISHED)
    # The grid went on where it was: no point twice.
    assert [r.hyperparameters.alpha for r in second.records(name)] == [0.3, 1.0, 3.0]
    second.controller.flush()
    assert stored(path) == {name: "finished"}


def test_replacing_the_session_leaves_no_trial_behind(qtbot: QtBot, sessions: Any) -> None:
    session = sessions()
    name = session.manager.start(grid([0.3, 1.0, 3.0], epochs=MAX_EPOCHS, parallel=1)).name
    qtbot.waitUntil(lambda: any(r.state is ExperimentState.RUNNING
                                for r in session.records(name)), timeout=WAIT_MS)
    old = session.controller.writer.path
    with qtbot.waitSignal(session.manager.searchesChanged):
        session.controller.new_session()
    # The abandoned trial did not make the search queue its next one in either session.
    assert session.controller.records == []
    assert session.manager.names() == []
    with SessionStore.open(old, read_only=True) as store:
        data = store.load()
    # Interrupted, like a crash: reopened and resumed, the search runs that trial again.
    assert [r.state for r in data.records] == [ExperimentState.INTERRUPTED]


# -- the window ----------------------------------------------------------------------------------
@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, dialogs: Dialogs
           ) -> Iterator[tuple[MainWindow, Dialogs]]:
    controller = SessionController(workers=2, session_dir=tmp_path / "sessions")
    win = MainWindow(controller, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    controller.new_session(DatasetSpec(name="moons"))
    controller.start()
    yield win, dialogs
    dialogs.answer = QMessageBox.StandardButton.Yes
    win.close()
    controller.shutdown()
    win.dataset_panel.shutdown()
    QCoreApplication.processEvents()
    win.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


def test_the_learning_rate_lab_in_the_window(qtbot: QtBot, window: Any) -> None:
    win, dialogs = window
    panel = win.search_panel
    menus = [a.text() for a in win.menuBar().actions()]
    assert "&Search" in menus
    # A session with experiments on other data: the lab asks first.
    controller = win.controller
    controller.add_experiment(Hyperparameters(epochs=20, hidden=(4,), activation="tanh"))
    qtbot.waitUntil(lambda: controller.records[0].state.is_finished(), timeout=WAIT_MS)
    dialogs.answer = QMessageBox.StandardButton.No
    assert panel.start_lab() is None
    assert controller.dataset == DatasetSpec(name="moons")
    assert win.search_manager.names() == []
    dialogs.answer = QMessageBox.StandardButton.Yes
    name = panel.start_lab()
    assert name == "grid search 1"
    assert "planar" in dialogs.questions[-1][1]
    assert controller.dataset == DatasetSpec(name="planar")  # a new session on planar
    assert panel.explanation.toPlainText() == LR_LAB_EXPLANATION
    assert panel.explanation.isVisibleTo(panel)
    wait_state(qtbot, win.search_manager, name, SearchState.FINISHED)

    by_alpha = {r.hyperparameters.alpha: r for r in controller.records}
    assert len(by_alpha) == 12
    for alpha, record in by_alpha.items():
        if alpha <= 0.1:  # too small: the cost is still high after 2,000 epochs
            assert record.state is ExperimentState.COMPLETED
            assert record.train_cost > 0.45, alpha
        elif 0.3 <= alpha <= 10:  # good
            assert record.val_metric >= 0.85, alpha
        elif alpha == 300:  # too large
            assert record.state is ExperimentState.DIVERGED
    # The advisor's verdicts are in the results table and beside the lab's curves.
    model = win.results.model
    column = model.column_keys().index("diagnosis")
    verdicts = {r.hyperparameters.alpha: model.index(model.row_of(r.id), column).data()
                for r in controller.records}
    assert "small" in verdicts[0.001].lower()
    assert "diverged" in verdicts[300.0].lower()
    qtbot.waitUntil(lambda: len(panel.views.curves.curve_ids()) == 12, timeout=WAIT_MS)
    assert "Diverged" in panel.views.curves.key.text()

    # Clicking the best point of the objective plot selects its row in the results table.
    best = win.search_manager.runner(name).best()
    assert best is not None
    panel.views.tabs.setCurrentIndex(0)
    qtbot.waitUntil(lambda: len(panel.views.objective.points("alpha")) == 11, timeout=WAIT_MS)
    item = panel.views.objective._items["alpha"]["complete"]
    point = next(p for p in item.points() if p.data() == best.experiment_id)
    item.sigClicked.emit(item, [point], None)
    assert win.results.selected_ids() == [best.experiment_id]
    assert win.details.experiment_id == best.experiment_id


# The offscreen platform says so when the (window-modal) dialog is shown.
@pytest.mark.qt_log_ignore("does not support propagateSizeHints")
def test_new_search_from_the_dialog_and_the_strategy_comparison(qtbot: QtBot,
                                                                window: Any) -> None:
    win, dialogs = window
    panel = win.search_panel
    win.editor.set_hyperparameters(Hyperparameters(alpha=0.5, epochs=30, hidden=(4,),
                                                   activation="tanh"))
    dialog = panel.new_search()
    assert dialog.spec() is not None
    assert dialog.spec().fixed["epochs"] == 30  # from the editor
    with qtbot.waitSignal(panel.searchStarted) as started:
        dialog.accept()
    assert started.args == ["grid search 1"]
    wait_state(qtbot, win.search_manager, "grid search 1", SearchState.FINISHED)
    assert len(win.controller.records) == 6  # the default grid: six alphas

    names = panel.compare_strategies()  # on planar: in a new session, once asked
    assert "planar" in dialogs.questions[-1][1]
    assert names == ["grid search 1", "random search 1", "bayesian search 1"]
    assert win.controller.dataset == DatasetSpec(name="planar")
    for name in names:
        wait_state(qtbot, win.search_manager, name, SearchState.FINISHED)
        assert len(win.search_manager.runner(name).trials()) == 12
    panel.views.set_current("bayesian search 1")
    qtbot.waitUntil(lambda: panel.views.best.names() == names, timeout=WAIT_MS)
    # Pause, resume and cancel follow the search shown.
    assert not panel.pause_action.isEnabled()
    assert not panel.cancel_action.isEnabled()
