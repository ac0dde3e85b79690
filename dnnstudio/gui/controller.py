"""The session controller: the one place where the queue, the workers and the file meet.

It owns the Qt-free :class:`~dnnstudio.runs.queue.ExperimentQueue`, the
:class:`~dnnstudio.runs.pool.WorkerPool` (through a :class:`~dnnstudio.gui.bridges.PoolBridge`
thread) and the :class:`~dnnstudio.sessions.writer.SessionWriter`, and turns the queue's
events into Qt signals for the panels. Everything here runs in the GUI thread except the
bridge's waiting and the writer's writing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QStandardPaths, QTimer, Signal

from ..core.data.spec import DatasetSpec
from ..core.hyperparams import Hyperparameters
from ..runs import evaluation as runs_evaluation
from ..runs import queue as runs_queue
from ..runs.pool import WorkerPool
from ..runs.queue import ExperimentQueue
from ..runs.records import ExperimentRecord, ExperimentState, TestEvaluation
from ..sessions.recorder import QueueRecorder
from ..sessions.store import SessionStore, StoredSearch
from ..sessions.writer import SessionWriter
from .bridges import PoolBridge

SESSION_SUFFIX = ".dnnsession"


def default_session_dir() -> Path:
    """Where untitled sessions live until the user saves them elsewhere."""
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or Path.home() / ".dnnstudio") / "sessions"


class SessionController(QObject):
    """A session's experiments, their execution and their file.

    Signals
    -------
    sessionLoaded()
        Everything was replaced (new or opened session): re-read :attr:`records`,
        :attr:`order` and :attr:`dataset`.
    recordAdded(object, int), recordChanged(object), recordRemoved(int), orderChanged(list)
        One experiment appeared (record, row), changed, or went; the order changed.
    progressAppended(int, object)
        New epochs (a tuple of EpochRecord) of a running experiment.
    parametersUpdated(int, int, object)
        Experiment id, epoch and current ``(W[l], b[l])`` of a running experiment (only
        after :meth:`set_live_parameters`).
    datasetChanged(object)
        The session's DatasetSpec.
    pathChanged(str)
        The session file, and whether it is untitled, changed.
    pausedChanged(bool)
    queueProgressChanged(float, int, int)
        Whole-queue fraction done, experiments running, experiments waiting.
    errorOccurred(str)
        Something failed that the user must know (a file could not be written).
    testEvaluated(object)
        An experiment was given its final evaluation (the TestEvaluation); the session is
        now marked: :meth:`tuning_warning` names it.
    sessionAboutToChange()
        The session is about to be replaced (new or opened): sent before its running
        experiments are abandoned, so a search can stop reacting to their ends.
    """

    sessionLoaded = Signal()
    recordAdded = Signal(object, int)
    recordChanged = Signal(object)
    recordRemoved = Signal(int)
    orderChanged = Signal(list)
    progressAppended = Signal(int, object)
    parametersUpdated = Signal(int, int, object)
    datasetChanged = Signal(object)
    pathChanged = Signal(str)
    pausedChanged = Signal(bool)
    queueProgressChanged = Signal(float, int, int)
    errorOccurred = Signal(str)
    testEvaluated = Signal(object)
    sessionAboutToChange = Signal()

    def __init__(
        self,
        *,
        workers: int | None = None,
        session_dir: Path | None = None,
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self.workers = workers or os.cpu_count() or 1
        self.session_dir = session_dir or default_session_dir()
        self.pool = WorkerPool(self.workers)
        self.queue = ExperimentQueue(self.pool, DatasetSpec(), max_parallel=self.workers)
        self.writer: SessionWriter | None = None
        # Saves every change to the file first; the signals below follow.
        self.recorder = QueueRecorder(self.queue, lambda: self.writer)
        self.queue.subscribe(self._on_event)
        self.bridge = PoolBridge(self.pool, self)
        self.bridge.messagesReceived.connect(self._on_messages)
        self.path: Path | None = None
        self.untitled = True
        self._closed = False
        # The test set's audit trail of the open session, oldest first.
        self.evaluations: list[TestEvaluation] = []
        # The searches saved in the session as it was opened (the search manager rebuilds
        # them on sessionLoaded and writes their changes).
        self.stored_searches: list[StoredSearch] = []
        # The whole-queue progress is shown at most five times a second, whatever the
        # number of messages.
        self._progress_timer = QTimer(self)
        self._progress_timer.setSingleShot(True)
        self._progress_timer.setInterval(200)
        self._progress_timer.timeout.connect(self._emit_progress_now)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Start relaying worker messages (call once the signals are connected)."""
        self.bridge.start()

    def warm_up(self) -> None:
        """Start the worker processes now rather than when the first experiment is queued."""
        if not self._closed:
            self.pool.warm_up()

    def shutdown(self) -> None:
        """Stop the workers, write what is pending and close the file. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for record in list(self.queue.records.values()):
            if record.state is ExperimentState.RUNNING:
                self.queue.cancel(record.id)
        self.bridge.stop()
        self.pool.shutdown()
        if self.writer is not None:
            for record in self.queue.records.values():
                if record.state is ExperimentState.RUNNING:
                    self.writer.put_experiment(record.replace(
                        state=ExperimentState.INTERRUPTED,
                        message="interrupted: the program stopped while it was training"))
            self.writer.close()
            self.writer = None

    # -- sessions --------------------------------------------------------------------------
    def new_session(self, dataset: DatasetSpec | None = None) -> Path:
        """Start an empty, untitled session (kept in :attr:`session_dir` until saved).

        Experiments still running in the current session are stopped and saved as cancelled.
        """
        self._stop_running("a new session was started")
        self.session_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = self.session_dir / f"untitled-{stamp}{SESSION_SUFFIX}"
        n = 1
        while path.exists():
            n += 1
            path = self.session_dir / f"untitled-{stamp}-{n}{SESSION_SUFFIX}"
        self._switch_writer(SessionWriter(path, create=True, on_error=self.errorOccurred.emit))
        self.untitled = True
        spec = dataset or DatasetSpec()
        self.queue.load([], [], dataset=spec)
        self.writer_put_dataset(spec)
        self.evaluations = []
        self.stored_searches = []
        self.sessionLoaded.emit()
        self.datasetChanged.emit(spec)
        self.pathChanged.emit(str(path))
        self._emit_progress()
        return path

    def open_session(self, path: Path | str) -> None:
        """Open a session file; raises SessionError (file untouched) if it is not one.

        Experiments still running in the current session are stopped and saved as cancelled
        (only once the file has been read: a refused file changes nothing).
        """
        path = Path(path)
        with SessionStore.open(path) as store:
            data = store.load()
        self._stop_running("another session was opened")
        writer = SessionWriter(path, create=False, on_error=self.errorOccurred.emit)
        self._switch_writer(writer)
        self.untitled = self._is_untitled(path)
        spec = data.dataset or DatasetSpec()
        self.queue.load(data.records, data.order, dataset=spec, next_id=data.next_id)
        self.evaluations = list(data.evaluations)
        self.stored_searches = list(data.searches)
        # Runs that were cut short by a crash are marked in the file too.
        for record in self.queue.records.values():
            if record.state is ExperimentState.INTERRUPTED:
                writer.put_experiment(record)
        self.sessionLoaded.emit()
        self.datasetChanged.emit(spec)
        self.pathChanged.emit(str(path))
        # Experiments that were waiting in the queue when the file was saved go on waiting
        # their turn: the queue runs unless the user paused it.
        self.queue.dispatch()
        self._emit_progress()

    def save_as(self, path: Path | str) -> None:
        """Copy the session to ``path`` and go on working there."""
        path = Path(path)
        if self.writer is None:
            raise RuntimeError("no session is open")
        if path.resolve() == self.writer.path.resolve():
            self.writer.flush()
            return
        result: list[SessionStore | BaseException] = []

        def copy(store: SessionStore) -> None:
            try:
                store.save_as(path).close()
                result.append(store)
            except BaseException as exc:
                result.append(exc)

        self.writer.call(copy)
        self.writer.flush()
        if result and isinstance(result[0], BaseException):
            raise result[0]
        old = self.writer
        self.writer = SessionWriter(path, create=False, on_error=self.errorOccurred.emit)
        old.close()
        if self.untitled and self._is_untitled(old.path):
            old.path.unlink(missing_ok=True)
        self.path = path
        self.untitled = False
        self.pathChanged.emit(str(path))

    def flush(self) -> None:
        if self.writer is not None:
            self.writer.flush()

    def _switch_writer(self, writer: SessionWriter) -> None:
        if self.writer is not None:
            self.writer.close()
        self.writer = writer
        self.path = writer.path
        # What was last written belongs to the old file.
        self.recorder.forget()

    def _is_untitled(self, path: Path) -> bool:
        return path.parent.resolve() == self.session_dir.resolve() and path.name.startswith(
            "untitled-")

    def _stop_running(self, why: str) -> None:
        """Cancel running experiments at once (their workers stop within milliseconds)."""
        self.sessionAboutToChange.emit()
        self.queue.abandon_running(f"interrupted: {why} while it was training")

    def writer_put_dataset(self, spec: DatasetSpec) -> None:
        if self.writer is not None:
            self.writer.put_dataset(spec)

    # -- the queue -------------------------------------------------------------------------
    @property
    def records(self) -> list[ExperimentRecord]:
        return [self.queue.records[i] for i in self.queue.order]

    @property
    def dataset(self) -> DatasetSpec:
        return self.queue.dataset

    def set_dataset(self, spec: DatasetSpec) -> None:
        """Use ``spec`` for this session (only while it has no experiments)."""
        self.queue.set_dataset(spec)
        self.writer_put_dataset(spec)
        self.datasetChanged.emit(spec)

    def add_experiment(self, hp: Hyperparameters, note: str = "") -> ExperimentRecord:
        record = self.queue.add(hp, note=note)
        self.queue.dispatch()
        return record

    def duplicate(self, experiment_id: int) -> ExperimentRecord:
        record = self.queue.duplicate(experiment_id)
        self.queue.dispatch()
        return record

    def remove(self, ids: Sequence[int]) -> None:
        for experiment_id in ids:
            self.queue.remove(experiment_id)

    def cancel(self, ids: Sequence[int]) -> None:
        for experiment_id in ids:
            self.queue.cancel(experiment_id)

    def requeue(self, ids: Sequence[int]) -> None:
        for experiment_id in ids:
            if self.queue.records[experiment_id].state.can_requeue():
                self.queue.requeue(experiment_id)
        self.queue.dispatch()

    def move(self, experiment_id: int, index: int) -> None:
        self.queue.move(experiment_id, index)

    def set_note(self, experiment_id: int, text: str) -> None:
        self.queue.set_note(experiment_id, text)

    def set_paused(self, paused: bool) -> None:
        if paused:
            self.queue.pause()
        else:
            self.queue.resume()
        self.pausedChanged.emit(self.queue.paused)

    def set_live_parameters(self, seconds: float | None) -> None:
        """Have experiments started from now on send their parameters this often."""
        self.queue.snapshot_seconds = seconds

    def set_parallel(self, n: int) -> None:
        self.queue.set_max_parallel(n)
        if n > self.pool.size:
            self.pool.resize(n)
        self.queue.dispatch()

    # -- the test set ----------------------------------------------------------------------
    def evaluation_refusal(self, ids: Sequence[int]) -> str | None:
        """Why the experiments ``ids`` (a selection) cannot be given the final evaluation,
        or None when they can: exactly one completed experiment, never evaluated."""
        if len(ids) != 1:
            return "Select exactly one completed experiment for its final evaluation."
        record = self.queue.records.get(ids[0])
        if record is None:
            return f"There is no experiment {ids[0]}."
        reason = runs_evaluation.evaluation_refusal(record)
        return None if reason is None else reason[0].upper() + reason[1:] + "."

    def final_evaluation(self, experiment_id: int) -> TestEvaluation:
        """Evaluate one experiment on the test set, once, and record it in the session.

        The audit-trail entry and the experiment's test figures go to the file together;
        the record in the queue gets them too. Evaluating takes milliseconds on the data
        DNN Studio is meant for (a few thousand rows), so it runs here, in the GUI thread.

        Raises
        ------
        EvaluationError
            The experiment cannot be evaluated (see
            :func:`~dnnstudio.runs.evaluation.evaluation_refusal`).
        DnnStudioError
            The data cannot be loaded.
        """
        if self.writer is None:
            raise RuntimeError("no session is open")
        record = self.queue.get(experiment_id)
        evaluation = runs_evaluation.final_evaluation(record, self.dataset)
        self.writer.add_test_evaluation(evaluation)
        self.queue.set_test_evaluation(evaluation)
        self.evaluations.append(evaluation)
        self.testEvaluated.emit(evaluation)
        return evaluation

    def evaluations_on_split(self) -> list[TestEvaluation]:
        """The audit trail's entries that used the test set of the current split."""
        return runs_evaluation.evaluations_on_split(self.evaluations, self.dataset)

    def tuning_warning(self) -> str | None:
        """The warning to show while tuning on this split goes on, or None."""
        compared = runs_evaluation.compared_count(self.queue.records.values())
        return runs_evaluation.tuning_warning(self.evaluations, self.dataset, compared)

    # -- events ----------------------------------------------------------------------------
    def _on_messages(self, messages: list[Any]) -> None:
        self.queue.handle(messages)
        self._emit_progress()

    def _on_event(self, event: Any) -> None:
        if isinstance(event, runs_queue.ProgressAppended):
            self.progressAppended.emit(event.experiment_id, event.records)
        elif isinstance(event, runs_queue.ParametersSnapshot):
            self.parametersUpdated.emit(event.experiment_id, event.epoch, event.params)
        elif isinstance(event, runs_queue.RecordChanged):
            self.recordChanged.emit(event.record)
            self._emit_progress()
        elif isinstance(event, runs_queue.RecordAdded):
            self.recordAdded.emit(event.record, event.index)
            self._emit_progress()
        elif isinstance(event, runs_queue.RecordRemoved):
            self.recordRemoved.emit(event.experiment_id)
            self._emit_progress()
        elif isinstance(event, runs_queue.OrderChanged):
            self.orderChanged.emit(list(event.order))

    def _emit_progress(self) -> None:
        if not self._progress_timer.isActive():
            self._progress_timer.start()

    def _emit_progress_now(self) -> None:
        states = [r.state for r in self.queue.records.values()]
        running = sum(s is ExperimentState.RUNNING for s in states)
        waiting = sum(s is ExperimentState.QUEUED for s in states)
        self.queueProgressChanged.emit(self.queue.overall_progress(), running, waiting)
