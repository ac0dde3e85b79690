"""The main window's workflows, end to end: real worker processes, a real session file.

Every test builds a window on its own :class:`SessionController` (two workers, sessions in
``tmp_path``) and a QSettings ini file in ``tmp_path``, so the user's settings and sessions are
never touched. Experiments are tiny (the planar dataset, one hidden layer of 4 tanh units, a
few hundred epochs); "long" ones have so many epochs that they cannot finish during a test and
are cancelled, killed or interrupted. Message boxes are intercepted (recorded, answered by the
test) so none ever blocks, and the windows are never shown.
"""

from __future__ import annotations

import csv
import dataclasses
import gc
import math
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakes import Dialogs
from PySide6.QtCore import QCoreApplication, QEvent, QSettings, Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from dnnstudio.core.data.spec import DatasetSpec
from dnnstudio.core.hyperparams import MAX_EPOCHS, Hyperparameters
from dnnstudio.gui.controller import SessionController
from dnnstudio.gui.main_window import MainWindow
from dnnstudio.gui.models.results import ID_ROLE, ResultsModel
from dnnstudio.runs.records import ExperimentRecord, ExperimentState
from dnnstudio.sessions.store import SessionStore

WAIT_MS = 30_000
"""Generous: worker processes are spawned (an interpreter and a NumPy import each)."""
NOTE_MS = 5_000
"""The details panel sends a note half a second after the last keystroke."""
EPOCHS = 300
YES = QMessageBox.StandardButton.Yes
NO = QMessageBox.StandardButton.No
PLANAR = DatasetSpec()
MOONS = DatasetSpec(name="moons")


def tiny(alpha: float = 0.01, epochs: int = EPOCHS) -> Hyperparameters:
    return Hyperparameters(alpha=alpha, epochs=epochs, hidden=(4,), activation="tanh")


def long_run(alpha: float = 0.01) -> Hyperparameters:
    """An experiment that cannot finish while a test runs."""
    return tiny(alpha, epochs=MAX_EPOCHS)


# -- fixtures ---------------------------------------------------------------------------------
@pytest.fixture
def settings_path(tmp_path: Path) -> Path:
    return tmp_path / "s.ini"


def _dispose(window: MainWindow) -> None:
    window.close()  # asks (answered Yes) if something is running, then shuts the controller
    window.controller.shutdown()  # idempotent; in case the close was refused
    window.dataset_panel.shutdown()  # a dataset load still in its thread
    QCoreApplication.processEvents()  # errors shown after the event go to the fake boxes
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.fixture
def make_window(
    qtbot: QtBot, dialogs: Dialogs, tmp_path: Path, settings_path: Path
) -> Iterator[Callable[[], MainWindow]]:
    """Builds windows like the app does, on a new session; closes them all at the end."""
    made: list[MainWindow] = []

    def make() -> MainWindow:
        controller = SessionController(
            workers=2, session_dir=tmp_path / f"sessions-{len(made) + 1}"
        )
        settings = QSettings(str(settings_path), QSettings.Format.IniFormat)
        window = MainWindow(controller, settings)
        made.append(window)
        controller.new_session()
        controller.start()
        return window

    yield make
    dialogs.answer = YES  # "stop the running experiments and quit?"
    for window in made:
        _dispose(window)
    made.clear()
    # The controllers sit in reference cycles (a queue holds its controller's listener): free
    # them and their Qt objects now, in the GUI thread, not whenever the garbage collector
    # next runs, which may be in a worker-relay or session-writer thread.
    gc.collect()


@pytest.fixture
def window(qtbot: QtBot, make_window: Callable[[], MainWindow]) -> MainWindow:
    win = make_window()
    wait_for_dataset(qtbot, win, PLANAR)
    return win


# -- helpers ----------------------------------------------------------------------------------
def wait_for_dataset(qtbot: QtBot, window: MainWindow, spec: DatasetSpec) -> None:
    panel = window.dataset_panel
    qtbot.waitUntil(
        lambda: panel.spec() == spec and panel.splits() is not None and not panel.is_loading(),
        timeout=WAIT_MS,
    )


def queue(window: MainWindow, hp: Hyperparameters) -> int:
    """Queue ``hp`` as a person does: into the editor, then "Add to queue"."""
    window.editor.set_hyperparameters(hp)
    before = set(window.controller.queue.records)
    window.add_to_queue()
    (new,) = set(window.controller.queue.records) - before
    return new


def record(window: MainWindow, experiment_id: int) -> ExperimentRecord:
    return window.controller.queue.records[experiment_id]


def state_of(window: MainWindow, experiment_id: int) -> ExperimentState:
    """The state alone (a failed assertion on it then prints no history)."""
    return record(window, experiment_id).state


def wait_finished(qtbot: QtBot, window: MainWindow, ids: list[int]) -> None:
    qtbot.waitUntil(
        lambda: all(state_of(window, i).is_finished() for i in ids), timeout=WAIT_MS
    )


def wait_training(qtbot: QtBot, window: MainWindow, experiment_id: int) -> None:
    """Until the experiment runs and has reported a few epochs (its worker really trains)."""
    qtbot.waitUntil(
        lambda: state_of(window, experiment_id) is ExperimentState.RUNNING
        and record(window, experiment_id).epochs_run >= 10,
        timeout=WAIT_MS,
    )


def column(model: ResultsModel, key: str) -> int:
    return model.column_keys().index(key)


def results_cell(window: MainWindow, experiment_id: int, key: str,
                 role: Qt.ItemDataRole = Qt.ItemDataRole.DisplayRole) -> Any:
    model = window.results.model
    row = model.row_of(experiment_id)
    assert row is not None, f"experiment {experiment_id} is not in the results table"
    return model.index(row, column(model, key)).data(role)


def queue_status(window: MainWindow, experiment_id: int) -> str:
    model = window.queue_panel.model
    row = model.row_of(experiment_id)
    assert row is not None, f"experiment {experiment_id} is not in the queue table"
    return str(model.index(row, 1).data())


def ids_of(model: Any) -> list[int]:
    return [int(model.index(r, 0).data(ID_ROLE)) for r in range(model.rowCount())]


def curve_xy(window: MainWindow, experiment_id: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    curve = window.plots.curves(experiment_id)[name]
    x, y = curve.xData, curve.yData
    return (np.empty(0), np.empty(0)) if x is None else (np.asarray(x), np.asarray(y))


def check_curves(window: MainWindow, ids: list[int]) -> None:
    """Every experiment's curves show its whole history: a tiny run's every epoch; a long
    one's (which the panel may reduce to each bin's extremes before drawing) from its start
    to its end, with the same lowest and highest value."""
    for i in ids:
        history = record(window, i).history
        for name in ("train_cost", "val_cost", "train_metric", "val_metric"):
            x, y = curve_xy(window, i, name)
            values = np.asarray(history[name], dtype=float)
            n = len(values)
            epochs = np.arange(1, n + 1)[np.isfinite(values)]
            values = values[np.isfinite(values)]
            if n <= EPOCHS:
                np.testing.assert_array_equal(x, epochs, err_msg=f"#{i} {name}")
                np.testing.assert_array_equal(y, values, err_msg=f"#{i} {name}")
            else:
                assert len(x) > 0, f"#{i} {name}"
                assert x[0] <= 1 + n // 100, f"#{i} {name} starts at {x[0]} of {n}"
                assert x[-1] >= n - n // 100, f"#{i} {name} ends at {x[-1]} of {n}"
                assert (y.min(), y.max()) == (values.min(), values.max()), f"#{i} {name}"


def wait_curves(qtbot: QtBot, window: MainWindow, ids: list[int]) -> None:
    """Until the curves are drawn (frames are batched a few times a second)."""
    qtbot.waitUntil(lambda: check_curves(window, ids), timeout=WAIT_MS)


def load_file(path: Path) -> dict[int, ExperimentRecord]:
    with SessionStore.open(path, read_only=True) as store:
        data = store.load()
    return {r.id: r for r in data.records}


def assert_same_record(a: ExperimentRecord, b: ExperimentRecord) -> None:
    """Every field equal (NaN equal to NaN), histories and learned parameters included."""
    for f in dataclasses.fields(ExperimentRecord):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name == "history":
            assert set(x) == set(y)
            for name in x:
                np.testing.assert_array_equal(np.asarray(x[name], dtype=float),
                                              np.asarray(y[name], dtype=float), err_msg=name)
        elif f.name == "params":
            assert (x is None) == (y is None)
            for (wx, bx), (wy, by) in zip(x or [], y or [], strict=True):
                np.testing.assert_array_equal(wx, wy)
                np.testing.assert_array_equal(bx, by)
        elif isinstance(x, float) and math.isnan(x):
            assert isinstance(y, float), f.name
            assert math.isnan(y), f.name
        else:
            assert x == y, f.name


def assert_stopped_in_file(path: Path, experiment_id: int) -> None:
    """The experiment was running in the session at ``path`` and was stopped (interrupted)
    when the session was replaced: its file says so and keeps the epochs it ran."""
    stopped = load_file(path)[experiment_id]
    assert stopped.state is ExperimentState.INTERRUPTED
    assert stopped.epochs_run >= 10
    assert len(stopped.history["train_cost"]) == stopped.epochs_run


# -- 1. hyperparameters and the parameters they imply -----------------------------------------
def test_editing_hyperparameters_updates_the_parameter_counts(window: MainWindow) -> None:
    splits = window.dataset_panel.splits()
    assert splits is not None
    assert (splits.dataset.n_features, splits.dataset.n_classes) == (2, 2)  # n[0] = 2, n[L] = 1
    panel = window.parameters_panel

    window.editor.set_hyperparameters(tiny())
    # W[1] (4, 2) + b[1] (4, 1) + W[2] (1, 4) + b[2] (1, 1)
    assert panel.total() == 8 + 4 + 4 + 1
    assert panel.placeholder_text() == ""

    # A person adds a second hidden layer and resizes it in the editor's own widgets.
    window.editor.add_layer()
    units = window.editor.field("n[2]")
    units.setValue(3)  # type: ignore[attr-defined]
    model = panel.model()
    names = [model.index(r, 0).data() for r in range(model.rowCount())]
    shapes = [model.index(r, 2).data() for r in range(model.rowCount())]
    assert names == ["W[1]", "b[1]", "W[2]", "b[2]", "W[3]", "b[3]"]
    assert shapes == ["(4, 2)", "(4, 1)", "(3, 4)", "(3, 1)", "(1, 3)", "(1, 1)"]
    assert panel.total() == (8 + 4) + (12 + 3) + (3 + 1)

    # Invalid hyperparameters: no table, an explanation instead.
    alpha = window.editor.field("alpha")
    alpha.setText("-1")  # type: ignore[attr-defined]
    assert panel.total() is None
    assert "not valid" in panel.placeholder_text()
    assert not window.add_action.isEnabled()
    alpha.setText("0.1")  # type: ignore[attr-defined]
    assert panel.total() == 31
    assert window.add_action.isEnabled()


# -- 2. a queue of three runs to completion ----------------------------------------------------
def test_three_experiments_queue_run_and_compare(qtbot: QtBot, window: MainWindow,
                                                 dialogs: Dialogs) -> None:
    alphas = [0.01, 0.03, 0.3]
    ids = [queue(window, tiny(alpha)) for alpha in alphas]

    # In the order they were queued, in both tables, with the editor's hyperparameters.
    assert ids_of(window.queue_panel.model) == ids
    assert ids_of(window.results.model) == ids
    assert [record(window, i).hyperparameters for i in ids] == [tiny(a) for a in alphas]
    assert [results_cell(window, i, "hp:alpha") for i in ids] == ["0.01", "0.03", "0.3"]
    for i, alpha in zip(ids, alphas, strict=True):
        assert f"alpha={alpha:g}," in window.queue_panel.model.index(
            window.queue_panel.model.row_of(i), 4).data()
    # Two workers: the third waits for one of them.
    assert state_of(window, ids[2]) is ExperimentState.QUEUED

    wait_finished(qtbot, window, ids)
    records = [record(window, i) for i in ids]
    assert [r.state for r in records] == [ExperimentState.COMPLETED] * 3
    assert [r.epochs_run for r in records] == [EPOCHS] * 3
    assert [results_cell(window, i, "state") for i in ids] == ["completed"] * 3
    assert [queue_status(window, i) for i in ids] == ["completed"] * 3

    # The curves: one series per experiment, as long as its history.
    assert window.plots.experiment_ids() == ids
    wait_curves(qtbot, window, ids)
    for r in records:
        x, y = curve_xy(window, r.id, "train_cost")
        assert len(x) == r.epochs_run == EPOCHS
        np.testing.assert_array_equal(x, np.arange(1, EPOCHS + 1))
        np.testing.assert_allclose(y, r.history["train_cost"])

    # The table's validation accuracies, and the best one highlighted.
    for r in records:
        assert math.isfinite(r.val_metric)
        assert 0.0 <= r.val_metric <= 1.0
        assert results_cell(window, r.id, "val_metric") == f"{r.val_metric:.4f}"
    best = max(records, key=lambda r: r.val_metric)  # the first of equals, as the table does
    assert window.results.model.best_id == best.id
    for r in records:
        highlighted = results_cell(window, r.id, "val_metric", Qt.ItemDataRole.BackgroundRole)
        assert (highlighted is not None) == (r.id == best.id)

    # Accuracy against time: one point per completed experiment (a moment after the table).
    qtbot.waitUntil(lambda: window.results.scatter.point_count() == 3, timeout=WAIT_MS)
    # The status bar (updated a few times a second) says the queue is done.
    qtbot.waitUntil(lambda: window.queue_label.text() == "0 running, 0 waiting",
                    timeout=WAIT_MS)
    assert window.queue_progress.value() == 1000
    assert dialogs.warnings == []


# -- 3. cancelling -----------------------------------------------------------------------------
def test_progress_reaches_the_queue_and_the_results_table_in_turn(
        qtbot: QtBot, window: MainWindow) -> None:
    # Each refresh repaints one table's running rows: the two never share a stretch of the
    # GUI thread.
    ident = queue(window, long_run())
    wait_training(qtbot, window, ident)
    changed: list[str] = []
    window.queue_panel.model.dataChanged.connect(lambda *_: changed.append("queue"))
    diagnosis = column(window.results.model, "diagnosis")
    # (A diagnosis worked out in the background repaints its own cell when it is ready.)
    window.results.model.dataChanged.connect(
        lambda first, last, *_: None if first.column() == last.column() == diagnosis
        else changed.append("results"))
    turns = []
    for _ in range(4):
        changed.clear()
        with qtbot.waitSignal(window._rows_timer.timeout, timeout=WAIT_MS):
            pass
        turns.append(set(changed))
    assert turns in ([{"queue"}, {"results"}] * 2, [{"results"}, {"queue"}] * 2)
    row = window.queue_panel.model.row_of(ident)
    assert row is not None
    assert window.queue_panel.model.record_at(row).epochs_run >= 10
    assert int(results_cell(window, ident, "epochs")) >= 10


def test_cancel_selected_stops_a_long_run_and_the_queue_goes_on(
    qtbot: QtBot, window: MainWindow, dialogs: Dialogs
) -> None:
    window.queue_panel.parallel.setValue(1)  # one at a time: the next one waits
    assert window.controller.queue.max_parallel == 1
    long_id = queue(window, long_run())
    next_id = queue(window, tiny())
    wait_training(qtbot, window, long_id)
    assert state_of(window, next_id) is ExperimentState.QUEUED

    window.results.select(long_id)
    assert window.results.selected_ids() == [long_id]
    window.cancel_selected()

    qtbot.waitUntil(lambda: state_of(window, long_id).is_finished(), timeout=WAIT_MS)
    cancelled = record(window, long_id)
    assert cancelled.state is ExperimentState.CANCELLED
    assert 10 <= cancelled.epochs_run < MAX_EPOCHS
    assert results_cell(window, long_id, "state") == "cancelled"
    assert queue_status(window, long_id) == "cancelled"

    wait_finished(qtbot, window, [next_id])
    assert state_of(window, next_id) is ExperimentState.COMPLETED
    assert record(window, next_id).epochs_run == EPOCHS
    wait_curves(qtbot, window, [long_id, next_id])
    assert dialogs.warnings == []


def test_cancelling_a_queued_experiment_through_the_controller(
    qtbot: QtBot, window: MainWindow
) -> None:
    window.queue_panel.parallel.setValue(1)
    long_id = queue(window, long_run())
    waiting = queue(window, tiny())
    after = queue(window, tiny(0.03))
    wait_training(qtbot, window, long_id)

    window.controller.cancel([waiting, long_id])
    wait_finished(qtbot, window, [long_id, waiting, after])
    assert state_of(window, waiting) is ExperimentState.CANCELLED
    assert record(window, waiting).epochs_run == 0
    assert state_of(window, long_id) is ExperimentState.CANCELLED
    assert state_of(window, after) is ExperimentState.COMPLETED


# -- 4. a worker that dies ---------------------------------------------------------------------
def test_a_killed_worker_fails_its_experiment_and_the_queue_goes_on(
    qtbot: QtBot, window: MainWindow, dialogs: Dialogs
) -> None:
    window.queue_panel.parallel.setValue(1)
    victim = queue(window, long_run())
    next_id = queue(window, tiny())
    wait_training(qtbot, window, victim)
    assert state_of(window, next_id) is ExperimentState.QUEUED

    window.controller.pool.kill_worker(victim)

    qtbot.waitUntil(lambda: state_of(window, victim).is_finished(), timeout=WAIT_MS)
    failed = record(window, victim)
    assert failed.state is ExperimentState.FAILED
    assert "signal" in failed.message
    assert str(int(signal.SIGKILL)) in failed.message
    assert results_cell(window, victim, "state") == "failed"
    assert results_cell(window, victim, "state", Qt.ItemDataRole.ToolTipRole) == failed.message
    assert queue_status(window, victim) == "failed"

    wait_finished(qtbot, window, [next_id])
    assert state_of(window, next_id) is ExperimentState.COMPLETED
    assert record(window, next_id).epochs_run == EPOCHS
    # A failed experiment can be queued again.
    assert failed.state.can_requeue()


# -- 5. save, close, reopen --------------------------------------------------------------------
def test_save_close_and_reopen_restores_the_session(
    qtbot: QtBot, make_window: Callable[[], MainWindow], dialogs: Dialogs, tmp_path: Path
) -> None:
    first = make_window()
    wait_for_dataset(qtbot, first, PLANAR)
    # Not the default data, so that a reopened session visibly brings its own.
    first.dataset_panel.set_spec(MOONS)
    qtbot.waitUntil(lambda: first.controller.dataset == MOONS, timeout=WAIT_MS)
    done = [queue(first, tiny(0.01)), queue(first, tiny(0.3))]
    wait_finished(qtbot, first, done)
    first.controller.set_note(done[1], "fast; try 0.1 next")
    running = queue(first, long_run(0.03))
    wait_training(qtbot, first, running)

    path = tmp_path / "a.dnnsession"
    assert first.save_as(str(path))
    assert path.is_file()
    assert first.controller.path == path
    assert not first.controller.untitled
    assert first.windowTitle().startswith("a.dnnsession")
    saved = {i: record(first, i) for i in done}
    dataset = first.controller.dataset

    first.close()  # asks whether to stop the running experiment: answered Yes
    assert [title for title, _ in dialogs.questions] == ["Quit DNN Studio?"]
    assert first.controller.pool.closed
    assert not first.controller.bridge.isRunning()
    interrupted_epochs = record(first, running).epochs_run

    second = make_window()
    assert second.recent_files() == [str(path.resolve())]  # the same settings
    assert second.open_session(str(path))
    assert second.controller.path == path
    assert second.windowTitle().startswith("a.dnnsession")

    # The same experiments, in the same order, with everything that makes them comparable.
    assert [r.id for r in second.controller.records] == [*done, running]
    for i, before in saved.items():
        after = record(second, i)
        assert after.state is before.state is ExperimentState.COMPLETED
        assert after.epochs_run == before.epochs_run == EPOCHS
        assert_same_record(after, before)
    assert record(second, done[1]).note == "fast; try 0.1 next"

    # The one that was training when the window closed.
    back = record(second, running)
    assert back.state is ExperimentState.INTERRUPTED
    assert "interrupted" in back.message
    assert back.hyperparameters == long_run(0.03)
    assert back.epochs_run == interrupted_epochs >= 10
    assert results_cell(second, running, "state") == "interrupted"

    # The tables, the curves and the data are back too.
    assert ids_of(second.results.model) == [*done, running]
    assert ids_of(second.queue_panel.model) == [*done, running]
    assert second.plots.experiment_ids() == [*done, running]
    wait_curves(qtbot, second, [*done, running])
    assert dataset == MOONS
    assert second.controller.dataset == MOONS
    wait_for_dataset(qtbot, second, MOONS)
    assert second.data_label.text().startswith("moons")

    # The interrupted experiment can be queued again, and trains afresh.
    second.controller.requeue([running])
    qtbot.waitUntil(
        lambda: state_of(second, running) is ExperimentState.RUNNING
        and record(second, running).epochs_run > 0,
        timeout=WAIT_MS,
    )


# -- 6. a file that is not a session -----------------------------------------------------------
def test_opening_a_file_that_is_not_a_session_is_refused(
    qtbot: QtBot, window: MainWindow, dialogs: Dialogs, tmp_path: Path
) -> None:
    kept = queue(window, tiny())
    wait_finished(qtbot, window, [kept])
    session = window.controller.path
    title = window.windowTitle()
    bogus = tmp_path / "notes.dnnsession"
    content = b"These are my notes, not a session.\n" * 50
    bogus.write_bytes(content)

    assert not window.open_session(str(bogus))

    qtbot.waitUntil(lambda: len(dialogs.warnings) == 1, timeout=WAIT_MS)
    assert str(bogus) in dialogs.warnings[0]
    assert bogus.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("notes")) == [
        "notes.dnnsession"
    ]
    assert window.controller.path == session
    assert window.windowTitle() == title
    assert [r.id for r in window.controller.records] == [kept]
    assert ids_of(window.results.model) == [kept]
    assert str(bogus.resolve()) not in window.recent_files()
    # The session still works and is still written.
    window.controller.set_note(kept, "still here")
    window.controller.flush()
    assert load_file(session)[kept].note == "still here"


def test_a_session_naming_a_file_that_is_not_data_asks_before_reading_it(
    window: MainWindow, dialogs: Dialogs, tmp_path: Path
) -> None:
    secret = tmp_path / "id_rsa"
    secret.write_text("-----BEGIN PRIVATE KEY-----\n", encoding="utf-8")
    sent = tmp_path / "sent.dnnsession"
    with SessionStore.create(sent) as store:
        store.put_dataset(DatasetSpec(source="csv", path=str(secret)))
    before = window.controller.path
    dialogs.answer = NO
    assert not window.open_session(str(sent))
    assert [title for title, _ in dialogs.questions] == ["Read this data file?"]
    assert str(secret) in dialogs.questions[0][1]
    assert window.controller.path == before  # nothing was opened, nothing read
    # A session on an ordinary CSV file opens without a question.
    data = tmp_path / "points.csv"
    data.write_text("x1,x2,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(40)),
                    encoding="utf-8")
    plain = tmp_path / "plain.dnnsession"
    with SessionStore.create(plain) as store:
        store.put_dataset(DatasetSpec(source="csv", path=str(data)))
    dialogs.questions.clear()
    assert window.open_session(str(plain))
    assert dialogs.questions == []


# -- 7. CSV export -----------------------------------------------------------------------------
def test_export_csv_writes_one_row_per_experiment(
    qtbot: QtBot, window: MainWindow, dialogs: Dialogs, tmp_path: Path
) -> None:
    ids = [queue(window, tiny(a)) for a in (0.01, 0.3)]
    wait_finished(qtbot, window, ids)
    window.controller.set_note(ids[0], "=1+1, a note with a comma")
    path = tmp_path / "results.csv"

    assert window.export_csv(str(path))

    with path.open(newline="", encoding="utf-8") as stream:
        rows = list(csv.reader(stream))
    header, body = rows[0], rows[1:]
    assert header[:4] == ["id", "state", "note", "group"]
    assert "val_accuracy (0-1)" in header
    assert len(body) == 2
    table = [dict(zip(header, row, strict=True)) for row in body]
    assert [int(row["id"]) for row in table] == ids
    assert [row["state"] for row in table] == ["completed", "completed"]
    for row, i in zip(table, ids, strict=True):
        assert float(row["val_accuracy (0-1)"]) == record(window, i).val_metric
        assert float(row["alpha"]) == record(window, i).hyperparameters.alpha
        assert row["dataset"] == "planar"
    assert table[0]["note"] == "'=1+1, a note with a comma"  # no formula in a spreadsheet
    assert dialogs.warnings == []


def test_export_csv_to_a_missing_folder_shows_an_error(
    qtbot: QtBot, window: MainWindow, dialogs: Dialogs, tmp_path: Path
) -> None:
    target = tmp_path / "no such folder" / "results.csv"
    assert window.export_csv(str(target)) is False
    qtbot.waitUntil(lambda: len(dialogs.warnings) == 1, timeout=WAIT_MS)
    assert str(target) in dialogs.warnings[0]
    assert not target.parent.exists()


# -- 8. sorting and filtering the results ------------------------------------------------------
def test_results_sort_and_filter_through_the_proxy(
    qtbot: QtBot, window: MainWindow
) -> None:
    epochs = [300, 50, 1000]  # text order would be 1000, 300, 50
    ids = [queue(window, tiny(0.3, epochs=n)) for n in epochs]
    wait_finished(qtbot, window, ids)
    window.controller.set_note(ids[0], "baseline")
    window.controller.set_note(ids[2], "longer training")
    window.queue_panel.pause_action.trigger()  # paused: the next one stays queued
    assert window.controller.queue.paused
    waiting = queue(window, tiny(0.03))
    assert state_of(window, waiting) is ExperimentState.QUEUED
    qtbot.waitUntil(lambda: window.queue_label.text() == "0 running, 1 waiting (paused)",
                    timeout=WAIT_MS)

    results = window.results
    proxy = results.proxy
    model = results.model

    results.table.sortByColumn(column(model, "epochs"), Qt.SortOrder.AscendingOrder)
    assert ids_of(proxy) == [waiting, ids[1], ids[0], ids[2]]  # 0, 50, 300, 1000 epochs

    results.table.sortByColumn(column(model, "val_metric"), Qt.SortOrder.DescendingOrder)
    shown = ids_of(proxy)
    values = [record(window, i).val_metric for i in shown[:3]]
    assert values == sorted((record(window, i).val_metric for i in ids), reverse=True)
    assert shown[3] == waiting  # not measured: last

    results.filter_edit.setText("LONGER")  # any column, any case
    assert ids_of(proxy) == [ids[2]]
    results.filter_edit.setText("baseline")
    assert ids_of(proxy) == [ids[0]]
    results.filter_edit.clear()
    assert sorted(ids_of(proxy)) == sorted([*ids, waiting])

    results.state_filter.setCurrentText("Running or queued")
    assert ids_of(proxy) == [waiting]
    results.state_filter.setCurrentText("Completed")
    assert sorted(ids_of(proxy)) == sorted(ids)
    results.state_filter.setCurrentText("All experiments")
    assert proxy.rowCount() == 4

    # Selecting through the sorted, filtered view picks the right experiment.
    results.filter_edit.setText("baseline")
    results.select(ids[0])
    assert results.selected_ids() == [ids[0]]
    assert window.details.experiment_id == ids[0]


# -- 9. notes ----------------------------------------------------------------------------------
def test_notes_typed_in_the_details_panel_reach_the_record_and_the_file(
    qtbot: QtBot, window: MainWindow
) -> None:
    ident = queue(window, tiny())
    wait_finished(qtbot, window, [ident])
    window.results.select(ident)
    details = window.details
    assert details.experiment_id == ident
    assert details.note.isEnabled()

    text = "tanh, 4 units: fine"
    qtbot.keyClicks(details.note, text)
    assert details.note.toPlainText() == text
    assert record(window, ident).note == ""  # debounced: not yet

    qtbot.waitUntil(lambda: record(window, ident).note == text, timeout=NOTE_MS)
    assert results_cell(window, ident, "note") == text
    window.controller.flush()
    assert load_file(window.controller.path)[ident].note == text

    # The table's note column is editable too.
    model = window.results.model
    index = model.index(model.row_of(ident), column(model, "note"))
    assert model.setData(index, "edited in the table")
    assert record(window, ident).note == "edited in the table"
    assert details.note.toPlainText() == "edited in the table"
    window.controller.flush()
    assert load_file(window.controller.path)[ident].note == "edited in the table"


# -- 10. changing the dataset ------------------------------------------------------------------
def test_choosing_another_dataset_asks_before_starting_a_new_session(
    qtbot: QtBot, window: MainWindow, dialogs: Dialogs
) -> None:
    ident = queue(window, tiny())
    wait_finished(qtbot, window, [ident])
    old_path = window.controller.path
    assert old_path is not None

    # No: the session and its data stay.
    dialogs.answer = NO
    window.dataset_panel.set_spec(MOONS)
    qtbot.waitUntil(lambda: len(dialogs.questions) == 1, timeout=WAIT_MS)
    assert dialogs.questions[0][0] == "New session for this data?"
    wait_for_dataset(qtbot, window, PLANAR)  # the panel goes back to the session's data
    assert window.controller.dataset == PLANAR
    assert window.controller.path == old_path
    assert [r.id for r in window.controller.records] == [ident]
    assert ids_of(window.results.model) == [ident]
    assert window.data_label.text().startswith("planar")

    # Yes: a new, empty session on the new data; the old one stays in its file.
    dialogs.answer = YES
    window.dataset_panel.set_spec(MOONS)
    qtbot.waitUntil(lambda: window.controller.dataset == MOONS, timeout=WAIT_MS)
    assert len(dialogs.questions) == 2
    assert window.controller.records == []
    assert window.controller.path != old_path
    assert ids_of(window.results.model) == []
    assert ids_of(window.queue_panel.model) == []
    assert window.plots.experiment_ids() == []
    assert window.dataset_panel.spec() == MOONS
    assert window.data_label.text().startswith("moons")
    assert list(load_file(old_path)) == [ident]
    window.controller.flush()
    with SessionStore.open(window.controller.path, read_only=True) as store:
        assert store.dataset() == MOONS
    assert dialogs.warnings == []


def test_choosing_another_dataset_without_experiments_does_not_ask(
    qtbot: QtBot, window: MainWindow, dialogs: Dialogs
) -> None:
    path = window.controller.path
    window.dataset_panel.set_spec(MOONS)
    qtbot.waitUntil(lambda: window.controller.dataset == MOONS, timeout=WAIT_MS)
    assert dialogs.questions == []
    assert window.controller.path == path
    window.controller.flush()
    with SessionStore.open(path, read_only=True) as store:
        assert store.dataset() == MOONS
    ident = queue(window, tiny())
    wait_finished(qtbot, window, [ident])
    assert state_of(window, ident) is ExperimentState.COMPLETED


def test_choosing_another_dataset_while_training_stops_it_and_starts_a_new_session(
    qtbot: QtBot, window: MainWindow, dialogs: Dialogs
) -> None:
    running = queue(window, long_run())
    wait_training(qtbot, window, running)
    old_path = window.controller.path

    with qtbot.captureExceptions() as exceptions:
        window.dataset_panel.set_spec(MOONS)  # answered Yes, and Yes to stopping the run
        qtbot.waitUntil(lambda: window.controller.dataset == MOONS or bool(exceptions),
                        timeout=WAIT_MS)
    assert exceptions == []
    assert [title for title, _ in dialogs.questions] == [
        "New session for this data?", "Experiments are running"]
    assert window.controller.records == []
    assert window.controller.path != old_path
    assert_stopped_in_file(old_path, running)
    assert dialogs.warnings == []


@pytest.mark.parametrize("action", ["new_session", "open_session"])
def test_a_new_or_opened_session_while_training_stops_the_run(
    qtbot: QtBot, window: MainWindow, dialogs: Dialogs, tmp_path: Path, action: str
) -> None:
    other = tmp_path / "other.dnnsession"
    with SessionStore.create(other) as store:
        store.put_dataset(PLANAR)
    running = queue(window, long_run())
    wait_training(qtbot, window, running)
    old_path = window.controller.path
    assert old_path is not None

    def switch() -> bool | None:
        if action == "new_session":
            return window.new_session()  # type: ignore[func-returns-value]
        return window.open_session(str(other))

    # "Stop them to ...?" No: nothing changes, the run goes on.
    dialogs.answer = NO
    assert not switch()
    assert window.controller.path == old_path
    assert state_of(window, running) is ExperimentState.RUNNING
    epochs = record(window, running).epochs_run
    qtbot.waitUntil(lambda: record(window, running).epochs_run > epochs, timeout=WAIT_MS)

    # Yes: the run stops, and the other session replaces this one.
    dialogs.answer = YES
    switch()
    assert [title for title, _ in dialogs.questions] == ["Experiments are running"] * 2
    assert window.controller.records == []
    assert window.controller.path != old_path
    if action == "open_session":
        assert window.controller.path == other
    assert_stopped_in_file(old_path, running)
    assert dialogs.warnings == []


def test_an_experiment_queued_right_after_a_training_session_was_replaced_completes(
    qtbot: QtBot, window: MainWindow, dialogs: Dialogs
) -> None:
    running = queue(window, long_run())
    wait_training(qtbot, window, running)
    window.new_session()  # "Stop them to start a new session?" Yes

    ident = queue(window, tiny())  # the new session's first experiment: #1 again

    wait_finished(qtbot, window, [ident])
    done = record(window, ident)
    assert done.state is ExperimentState.COMPLETED, done.message
    assert done.epochs_run == EPOCHS
    assert len(done.history["train_cost"]) == EPOCHS


# -- more of the session life cycle ------------------------------------------------------------
def test_quitting_while_training_can_be_refused(
    qtbot: QtBot, window: MainWindow, dialogs: Dialogs
) -> None:
    running = queue(window, long_run())
    wait_training(qtbot, window, running)
    dialogs.answer = NO

    assert not window.close()

    assert [title for title, _ in dialogs.questions] == ["Quit DNN Studio?"]
    assert not window.controller.pool.closed
    assert window.controller.bridge.isRunning()
    epochs = record(window, running).epochs_run
    qtbot.waitUntil(lambda: record(window, running).epochs_run > epochs, timeout=WAIT_MS)
    assert state_of(window, running) is ExperimentState.RUNNING


def test_changes_after_opening_a_session_in_the_same_window_are_saved(
    qtbot: QtBot, window: MainWindow, dialogs: Dialogs, tmp_path: Path
) -> None:
    window.queue_panel.pause_action.trigger()  # nothing starts: experiments stay queued
    assert window.controller.queue.paused
    saved = queue(window, tiny())
    path = tmp_path / "b.dnnsession"
    assert window.save_as(str(path))

    # Another session in the same window, where an experiment with the same id is cancelled.
    window.new_session()
    assert window.controller.records == []
    assert window.controller.path != path
    other = queue(window, tiny(0.03))
    assert other == saved
    window.controller.cancel([other])
    assert state_of(window, other) is ExperimentState.CANCELLED

    # Back to the first session: cancel its queued experiment too; the file must say so.
    assert window.open_session(str(path))
    assert state_of(window, saved) is ExperimentState.QUEUED
    window.controller.cancel([saved])
    assert state_of(window, saved) is ExperimentState.CANCELLED
    window.controller.flush()
    assert load_file(path)[saved].state is ExperimentState.CANCELLED
    assert dialogs.warnings == []


def test_a_note_on_a_training_experiment_loses_no_epochs_in_the_file(
    qtbot: QtBot, window: MainWindow, dialogs: Dialogs
) -> None:
    running = queue(window, long_run())
    wait_training(qtbot, window, running)
    path = window.controller.path
    assert path is not None

    # The disk is slow for a moment: the writer thread is busy while the user writes a note
    # and the experiment goes on training.
    writer = window.controller.writer
    assert writer is not None
    disk_free = threading.Event()
    writer.call(lambda store: disk_free.wait(10))
    window.controller.set_note(running, "watching it train")
    epochs = record(window, running).epochs_run
    qtbot.waitUntil(lambda: record(window, running).epochs_run > epochs, timeout=WAIT_MS)
    disk_free.set()

    window.close()  # "Stop it and quit?" Yes: it is saved as interrupted
    in_memory = record(window, running)
    saved = load_file(path)[running]
    assert saved.note == "watching it train"
    assert saved.epochs_run == in_memory.epochs_run
    assert len(saved.history["train_cost"]) == saved.epochs_run
    np.testing.assert_array_equal(np.asarray(saved.history["train_cost"]),
                                  np.asarray(in_memory.history["train_cost"]))


def test_an_experiment_that_starts_while_the_disk_is_slow_is_saved_whole(
    qtbot: QtBot, window: MainWindow, dialogs: Dialogs
) -> None:
    path = window.controller.path
    writer = window.controller.writer
    assert path is not None
    assert writer is not None
    disk_free = threading.Event()
    writer.call(lambda store: disk_free.wait(10))  # the writer thread is busy for a moment
    running = queue(window, long_run())
    wait_training(qtbot, window, running)
    disk_free.set()

    window.close()  # "Stop it and quit?" Yes: it is saved as interrupted
    in_memory = record(window, running)  # as it was when the window closed
    QCoreApplication.processEvents()  # a write error is reported through the event loop
    QCoreApplication.processEvents()
    assert dialogs.warnings == []
    saved = load_file(path)[running]
    assert saved.epochs_run == in_memory.epochs_run
    assert len(saved.history["train_cost"]) == saved.epochs_run
    np.testing.assert_array_equal(np.asarray(saved.history["train_cost"]),
                                  np.asarray(in_memory.history["train_cost"]))


def test_experiments_queued_in_a_saved_session_run_when_it_is_reopened(
    qtbot: QtBot, make_window: Callable[[], MainWindow], tmp_path: Path
) -> None:
    first = make_window()
    wait_for_dataset(qtbot, first, PLANAR)
    first.queue_panel.pause_action.trigger()  # queued, and kept waiting
    waiting = queue(first, tiny(0.1))
    assert state_of(first, waiting) is ExperimentState.QUEUED
    path = tmp_path / "waiting.dnnsession"
    assert first.save_as(str(path))
    first.close()

    second = make_window()
    assert second.open_session(str(path))
    assert not second.controller.queue.paused
    wait_finished(qtbot, second, [waiting])
    assert state_of(second, waiting) is ExperimentState.COMPLETED


def test_queuing_shows_the_rows_at_once_and_the_curves_a_moment_later(
        qtbot: QtBot, window: MainWindow) -> None:
    window.controller.set_paused(True)  # nothing starts: only the queuing is looked at
    record = window.controller.add_experiment(tiny(epochs=5_000))
    # The rows in the same turn of the event loop; the curves (and their legend entry) in
    # the next, so that queuing holds the window for a shorter time.
    assert window.queue_panel.model.row_of(record.id) is not None
    assert window.results.model.row_of(record.id) is not None
    assert record.id not in window.plots.experiment_ids()
    qtbot.waitUntil(lambda: record.id in window.plots.experiment_ids(), timeout=WAIT_MS)
    # Removed before its curves were made: none are made.
    gone = window.controller.add_experiment(tiny())
    window.controller.remove([gone.id])
    later = window.controller.add_experiment(tiny())
    qtbot.waitUntil(lambda: later.id in window.plots.experiment_ids(), timeout=WAIT_MS)
    assert window.plots.experiment_ids() == [record.id, later.id]
