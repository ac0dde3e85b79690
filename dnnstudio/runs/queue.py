"""The experiment queue: a session's experiments, what runs next, and what the workers said.

:class:`ExperimentQueue` is a plain controller with no thread and no Qt. Whoever drives it (the
GUI thread, through a bridge that feeds it the pool's messages, or the CLI loop in
:meth:`ExperimentQueue.run_until_idle`) calls :meth:`~ExperimentQueue.handle` with worker
messages; the queue updates its frozen records, tells its listeners, and starts whatever may
start next. Listeners receive small frozen event objects (:data:`QueueEvent`), so a table can
update one row and a plot can append a few points without copying whole histories.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeAlias

import numpy as np

from ..core.data.spec import DatasetSpec
from ..core.errors import DnnStudioError
from ..core.hyperparams import Hyperparameters
from ..core.training import EpochRecord
from .messages import Failed, Finished, Job, Message, Progress, Snapshot, Started
from .records import ExperimentRecord, ExperimentState, TestEvaluation

__all__ = [
    "INTERRUPTED_MESSAGE",
    "ExperimentQueue",
    "Executor",
    "OrderChanged",
    "ParametersSnapshot",
    "ProgressAppended",
    "QueueError",
    "QueueEvent",
    "QueueLoaded",
    "QueueSettingsChanged",
    "RecordAdded",
    "RecordChanged",
    "RecordRemoved",
]

INTERRUPTED_MESSAGE = "interrupted: the program stopped while it was training"
CANCELLED_QUEUED_MESSAGE = "Cancelled before it started."
CANCELLING_MESSAGE = "Cancelling…"


class QueueError(DnnStudioError, ValueError):
    """A queue operation that is not allowed now; the message says why and what to do."""


class Executor(Protocol):
    """What the queue needs from whatever runs its jobs: :class:`~.pool.WorkerPool`, or a fake
    in tests."""

    def idle_count(self) -> int:
        """How many more jobs :meth:`submit` accepts now."""
        ...

    def submit(self, job: Job) -> None:
        """Start ``job``; its messages come back through :meth:`poll`."""
        ...

    def cancel(self, experiment_id: int) -> None:
        """Ask a running job to stop; it still reports how it ended."""
        ...

    def poll(self, timeout: float) -> list[Message]:
        """Messages that arrive within ``timeout`` seconds."""
        ...


# -- events -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RecordAdded:
    """``record`` was inserted at ``index`` of :attr:`ExperimentQueue.order`."""

    record: ExperimentRecord
    index: int


@dataclass(frozen=True, slots=True)
class RecordChanged:
    """An experiment's record was replaced by ``record`` (same id, same place)."""

    record: ExperimentRecord


@dataclass(frozen=True, slots=True)
class RecordRemoved:
    """The experiment with this id is gone."""

    experiment_id: int


@dataclass(frozen=True, slots=True)
class OrderChanged:
    """The queue's order is now ``order`` (same ids, moved)."""

    order: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ProgressAppended:
    """Experiment ``experiment_id`` finished the epochs in ``records``; its record (already
    updated, and announced by a :class:`RecordChanged` just before) has them at the end of its
    history."""

    experiment_id: int
    records: Sequence[EpochRecord]


@dataclass(frozen=True, slots=True)
class ParametersSnapshot:
    """The current parameters ``(W[l], b[l])`` of a running experiment, after ``epoch``
    epochs (sent only when :attr:`ExperimentQueue.snapshot_seconds` is set)."""

    experiment_id: int
    epoch: int
    params: tuple[tuple[np.ndarray, np.ndarray], ...]


@dataclass(frozen=True, slots=True)
class QueueLoaded:
    """:meth:`ExperimentQueue.load` replaced every experiment: rebuild views from
    :attr:`ExperimentQueue.records` and ``order``. No per-record events are sent for a load."""

    order: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class QueueSettingsChanged:
    """Pausing, the parallelism limit or the dataset changed."""

    paused: bool
    max_parallel: int
    dataset: DatasetSpec


QueueEvent: TypeAlias = (
    RecordAdded | RecordChanged | RecordRemoved | OrderChanged | ProgressAppended
    | ParametersSnapshot | QueueLoaded | QueueSettingsChanged
)
Listener = Callable[[QueueEvent], None]


class ExperimentQueue:
    """A session's experiments in queue order, and the rules for running them.

    Parameters
    ----------
    pool : Executor
        Runs the jobs (a :class:`~dnnstudio.runs.pool.WorkerPool`).
    dataset : DatasetSpec
        The data every experiment of the session trains on.
    max_parallel : int, optional
        Most experiments running at once (default: the number of CPUs); the pool's free
        workers limit it too.
    eval_every : int or None
        Passed to the trainer with every job.

    Attributes
    ----------
    records : dict of int to ExperimentRecord
        Every experiment by id. Read it; change it only through the methods.
    order : list of int
        Ids in queue (and table) order; queued experiments start in this order.

    Notes
    -----
    Methods that make room or add work (:meth:`add`, :meth:`duplicate`, :meth:`requeue`,
    :meth:`resume`, :meth:`set_max_parallel`, :meth:`handle`) start what they can at once;
    :meth:`load` does not, so a reopened session waits for :meth:`dispatch` or
    :meth:`resume`. Not thread-safe: call it from one thread.
    """

    def __init__(
        self,
        pool: Executor,
        dataset: DatasetSpec,
        max_parallel: int | None = None,
        *,
        eval_every: int | None = 1,
    ) -> None:
        self.pool = pool
        self.records: dict[int, ExperimentRecord] = {}
        self.order: list[int] = []
        self._dataset = dataset
        self._max_parallel = _check_parallel(max_parallel or os.cpu_count() or 1)
        self._paused = False
        self.eval_every = eval_every
        self.snapshot_seconds: float | None = None
        """Ask running experiments for their parameters this often (None: never)."""
        self._next_id = 1
        self._cancelling: set[int] = set()
        # Running experiments a search asked to prune, with the reason to record.
        self._pruning: dict[int, str] = {}
        # Ids of runs abandoned when their session was replaced, whose workers have not yet
        # said how they ended. Messages about them are ignored, and an experiment with the
        # same id (ids restart in every session) waits until that last message is in.
        self._abandoned: set[int] = set()
        # The experiments the overall progress bar is about: those queued since the queue
        # was last idle, so it goes from 0 to 1 over each batch of work.
        self._batch: set[int] = set()
        self._listeners: list[Listener] = []

    # -- listeners ------------------------------------------------------------------------
    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Call ``callback(event)`` after every change; returns a function that unsubscribes.

        Events are sent after the change is made, so the queue is consistent when a listener
        looks at it.
        """
        self._listeners.append(callback)

        def unsubscribe() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return unsubscribe

    def _emit(self, event: QueueEvent) -> None:
        for callback in list(self._listeners):
            callback(event)

    def _set(self, record: ExperimentRecord) -> None:
        self.records[record.id] = record
        self._emit(RecordChanged(record))

    # -- settings -------------------------------------------------------------------------
    @property
    def dataset(self) -> DatasetSpec:
        return self._dataset

    @property
    def max_parallel(self) -> int:
        return self._max_parallel

    @property
    def paused(self) -> bool:
        """While paused nothing new starts; running experiments go on."""
        return self._paused

    def _settings_changed(self) -> None:
        self._emit(QueueSettingsChanged(self._paused, self._max_parallel, self._dataset))

    def pause(self) -> None:
        if not self._paused:
            self._paused = True
            self._settings_changed()

    def resume(self) -> None:
        if self._paused:
            self._paused = False
            self._settings_changed()
        self.dispatch()

    def set_max_parallel(self, n: int) -> None:
        """Run at most ``n`` at once; lowering it lets running experiments finish."""
        n = _check_parallel(n)
        if n != self._max_parallel:
            self._max_parallel = n
            self._settings_changed()
        self.dispatch()

    def set_dataset(self, spec: DatasetSpec) -> None:
        """Train the experiments that start from now on on ``spec``.

        Raises
        ------
        QueueError
            While an experiment is running (its results would mix two datasets).
        """
        if spec == self._dataset:
            return
        if self.count(ExperimentState.RUNNING):
            raise QueueError(
                "the dataset cannot change while experiments are running; wait for them or "
                "cancel them first"
            )
        self._dataset = spec
        self._settings_changed()

    # -- experiments ----------------------------------------------------------------------
    def get(self, experiment_id: int) -> ExperimentRecord:
        """The record of ``experiment_id``.

        Raises
        ------
        KeyError
            There is no such experiment.
        """
        try:
            return self.records[experiment_id]
        except KeyError:
            raise KeyError(f"there is no experiment {experiment_id}") from None

    def _new_id(self) -> int:
        # Ids are never reused, even after a removal, so a plot or a saved reference to an
        # id never lands on a different experiment.
        new = max(self._next_id, max(self.records, default=0) + 1)
        self._next_id = new + 1
        return new

    def _insert(self, record: ExperimentRecord, index: int) -> ExperimentRecord:
        self.records[record.id] = record
        self.order.insert(index, record.id)
        self._join_batch(record.id)
        self._emit(RecordAdded(record, index))
        self.dispatch()
        return self.records[record.id]

    def add(self, hp: Hyperparameters, *, note: str = "", group: str = "",
            folds: int | None = None) -> ExperimentRecord:
        """Queue a new experiment at the end; returns its record as queued.

        ``folds``: measure it by k-fold cross-validation over the training and validation
        rows instead of on the validation set.
        """
        if folds is not None and (isinstance(folds, bool) or not isinstance(folds, int)
                                  or folds < 2):
            raise QueueError(f"cross-validation needs at least 2 folds, not {folds!r}")
        record = ExperimentRecord(id=self._new_id(), hyperparameters=hp, note=note,
                                  group=group, folds=folds)
        self._insert(record, len(self.order))
        return record

    def duplicate(self, experiment_id: int) -> ExperimentRecord:
        """Queue a copy of an experiment's hyperparameters and note right after it, to vary."""
        original = self.get(experiment_id)
        record = ExperimentRecord(
            id=self._new_id(), hyperparameters=original.hyperparameters, note=original.note,
            folds=original.folds,
        )
        self._insert(record, self.order.index(experiment_id) + 1)
        return record

    def move(self, experiment_id: int, index: int) -> None:
        """Put an experiment at position ``index`` of :attr:`order` (clamped to the ends)."""
        self.get(experiment_id)
        old = self.order.index(experiment_id)
        index = max(0, min(index, len(self.order) - 1))
        if index == old:
            return
        self.order.pop(old)
        self.order.insert(index, experiment_id)
        self._emit(OrderChanged(tuple(self.order)))

    def remove(self, experiment_id: int) -> None:
        """Forget an experiment.

        Raises
        ------
        QueueError
            It is running; cancel it first.
        """
        record = self.get(experiment_id)
        if record.state is ExperimentState.RUNNING:
            raise QueueError(
                f"experiment {experiment_id} is running and cannot be removed; cancel it "
                "first and remove it once it has stopped"
            )
        del self.records[experiment_id]
        self.order.remove(experiment_id)
        self._batch.discard(experiment_id)
        self._emit(RecordRemoved(experiment_id))

    def cancel(self, experiment_id: int) -> None:
        """Cancel an experiment: a queued one at once, a running one as soon as its worker
        notices (its record becomes cancelled when the worker reports). Finished ones are
        left as they are."""
        record = self.get(experiment_id)
        if record.state is ExperimentState.QUEUED:
            self._set(record.replace(state=ExperimentState.CANCELLED, finished_at=time.time(),
                                     message=CANCELLED_QUEUED_MESSAGE))
        elif record.state is ExperimentState.RUNNING and experiment_id not in self._cancelling:
            self._cancelling.add(experiment_id)
            self.pool.cancel(experiment_id)
            self._set(record.replace(message=CANCELLING_MESSAGE))

    def prune(self, experiment_id: int, reason: str) -> None:
        """Stop a running experiment as hopeless: like :meth:`cancel`, but its record ends
        ``PRUNED`` with ``reason`` (which should say at which epoch, and why)."""
        record = self.get(experiment_id)
        if record.state is not ExperimentState.RUNNING or experiment_id in self._pruning:
            return
        self._pruning[experiment_id] = reason
        if experiment_id not in self._cancelling:
            self._cancelling.add(experiment_id)
            self.pool.cancel(experiment_id)
        self._set(record.replace(message=f"Pruning… {reason}"))

    def is_pruning(self, experiment_id: int) -> bool:
        return experiment_id in self._pruning

    def set_test_evaluation(self, evaluation: TestEvaluation) -> None:
        """Record an experiment's one look at the test set (figures and time)."""
        record = self.get(evaluation.experiment_id)
        self._set(record.replace(test_cost=evaluation.test_cost,
                                 test_metric=evaluation.test_metric, tested_at=evaluation.at))

    def abandon_running(self, reason: str) -> list[int]:
        """Stop every running experiment now, without waiting for its worker.

        Each is asked to stop and marked interrupted at once with ``reason`` (it can be
        queued again, as after a crash); what its worker still reports is ignored (the record
        is no longer running), and the worker becomes free when it has stopped. Used when
        the session is replaced.

        Returns
        -------
        list of int
            The ids that were running.
        """
        ids = [i for i in self.order if self.records[i].state is ExperimentState.RUNNING]
        for experiment_id in ids:
            if experiment_id not in self._cancelling:
                self.pool.cancel(experiment_id)
            self._cancelling.discard(experiment_id)
            self._pruning.pop(experiment_id, None)
            self._abandoned.add(experiment_id)
            record = self.records[experiment_id]
            self._set(record.replace(state=ExperimentState.INTERRUPTED,
                                     finished_at=time.time(), message=reason))
        return ids

    def is_cancelling(self, experiment_id: int) -> bool:
        """True between cancelling a running experiment and its worker's answer."""
        return experiment_id in self._cancelling

    def requeue(self, experiment_id: int) -> ExperimentRecord:
        """Queue a cancelled, failed or interrupted experiment again, in its place.

        Raises
        ------
        QueueError
            It is queued, running, or finished normally (duplicate it instead).
        """
        record = self.get(experiment_id)
        if not record.state.can_requeue():
            raise QueueError(
                f"experiment {experiment_id} is {record.state.value}; only cancelled, failed "
                "or interrupted experiments can be queued again (duplicate it to run it again)"
            )
        fresh = record.requeued()
        self._join_batch(experiment_id)
        self._set(fresh)
        self.dispatch()
        return self.records[experiment_id]

    def set_note(self, experiment_id: int, text: str) -> None:
        record = self.get(experiment_id)
        if record.note != text:
            self._set(record.replace(note=text))

    def load(
        self,
        records: Iterable[ExperimentRecord] | Mapping[int, ExperimentRecord],
        order: Sequence[int] | None = None,
        *,
        dataset: DatasetSpec | None = None,
        next_id: int | None = None,
    ) -> None:
        """Replace every experiment with a saved session's (and the dataset, if given).

        New experiments get ids from ``next_id`` on (at least one more than the largest
        loaded), so a saved reference to a removed experiment never names a new one.

        Records that were running when the session was saved become interrupted (they can be
        queued again). Ids missing from ``order`` go at the end, by id; unknown ids in
        ``order`` are dropped. Listeners get one :class:`QueueLoaded` event (and
        :class:`QueueSettingsChanged` if the dataset changed), not an event per record.
        Nothing starts until :meth:`dispatch` or :meth:`resume`.

        Raises
        ------
        QueueError
            While an experiment of the current session is running.
        """
        if self.count(ExperimentState.RUNNING):
            raise QueueError("cannot open another session while experiments are running")
        values = records.values() if isinstance(records, Mapping) else records
        loaded: dict[int, ExperimentRecord] = {}
        for record in values:
            if record.state is ExperimentState.RUNNING:
                record = record.replace(state=ExperimentState.INTERRUPTED,
                                        message=INTERRUPTED_MESSAGE)
            loaded[record.id] = record
        new_order: list[int] = []
        for experiment_id in order or ():
            if experiment_id in loaded and experiment_id not in new_order:
                new_order.append(experiment_id)
        placed = set(new_order)
        new_order += sorted(i for i in loaded if i not in placed)

        self.records = {i: loaded[i] for i in new_order}
        self.order = new_order
        self._cancelling.clear()
        self._pruning.clear()
        self._batch = {i for i, r in loaded.items() if r.state is ExperimentState.QUEUED}
        self._next_id = max(max(loaded, default=0) + 1, next_id or 1)
        dataset_changed = dataset is not None and dataset != self._dataset
        if dataset is not None:
            self._dataset = dataset
        self._emit(QueueLoaded(tuple(self.order)))
        if dataset_changed:
            self._settings_changed()

    # -- running --------------------------------------------------------------------------
    def count(self, state: ExperimentState) -> int:
        """How many experiments are in ``state``."""
        return sum(1 for r in self.records.values() if r.state is state)

    def _job(self, record: ExperimentRecord) -> Job:
        return Job(record.id, record.hyperparameters.to_dict(), self._dataset.to_dict(),
                   self.eval_every, self.snapshot_seconds, folds=record.folds)

    def dispatch(self) -> None:
        """Start queued experiments, in order, while there is room.

        Room means: not paused, fewer than :attr:`max_parallel` running, and an idle worker.
        """
        if self._paused:
            return
        running = self.count(ExperimentState.RUNNING)
        for experiment_id in list(self.order):
            if running >= self._max_parallel:
                return
            # .get: a listener may have removed it while this loop started others.
            record = self.records.get(experiment_id)
            if record is None or record.state is not ExperimentState.QUEUED:
                continue
            if experiment_id in self._abandoned:
                continue
            if self.pool.idle_count() <= 0:
                return
            try:
                self.pool.submit(self._job(record))
            except RuntimeError:
                return  # no idle worker after all (the pool shrank, or was shut down)
            except OSError as exc:
                # The system refused a new process (out of memory or process slots): this
                # experiment fails with the reason; the rest wait for the next chance.
                self._join_batch(experiment_id)
                self._set(record.failed(f"could not start a worker process: {exc}"))
                return
            running += 1
            self._join_batch(experiment_id)
            self._set(record.started())

    def handle(self, messages: Iterable[Message]) -> None:
        """Apply the workers' messages to the records, then start what may start."""
        for message in messages:
            if message.experiment_id in self._abandoned:
                if isinstance(message, Finished | Failed):
                    self._abandoned.discard(message.experiment_id)
                continue
            record = self.records.get(message.experiment_id)
            # Messages about experiments that are not running here (a stale report after a
            # session was replaced) change nothing.
            if record is None or record.state is not ExperimentState.RUNNING:
                continue
            if isinstance(message, Started):
                self._set(record.replace(started_at=message.at))
            elif isinstance(message, Progress):
                if record.folds:
                    record = record.replace(
                        fold_progress=message.fraction_done(record.hyperparameters.epochs))
                    if not message.records:
                        self._set(record)
                if message.records:
                    self._set(record.progressed(message.records, message.diagnosis))
                    self._emit(ProgressAppended(record.id, message.records))
            elif isinstance(message, Snapshot):
                self._emit(ParametersSnapshot(record.id, message.epoch, message.params))
            elif isinstance(message, Finished):
                self._cancelling.discard(record.id)
                finished = record.finished(message.result, diagnosis=message.diagnosis)
                reason = self._pruning.pop(record.id, None)
                if reason is not None and finished.state is ExperimentState.CANCELLED:
                    finished = finished.pruned(reason)
                self._set(finished)
            elif isinstance(message, Failed):
                self._cancelling.discard(record.id)
                self._pruning.pop(record.id, None)
                self._set(record.failed(message.reason))
        self.dispatch()

    def _can_start_more(self) -> bool:
        return not self._paused and self.count(ExperimentState.QUEUED) > 0

    def is_idle(self) -> bool:
        """True when nothing is running and nothing queued can start (none, or paused)."""
        return not self.count(ExperimentState.RUNNING) and not self._can_start_more()

    def run_until_idle(self, poll_interval: float = 0.05, *, timeout: float | None = None) -> None:
        """Drive the queue from this thread until :meth:`is_idle` (for headless use).

        Raises
        ------
        QueueError
            Queued experiments cannot start because the executor takes no jobs.
        TimeoutError
            ``timeout`` seconds passed first; running experiments go on.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        self.dispatch()
        while not self.is_idle():
            if not self.count(ExperimentState.RUNNING):
                raise QueueError("queued experiments cannot start: the executor takes no jobs")
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"the queue was still busy after {timeout} s")
            self.handle(self.pool.poll(poll_interval))

    def _join_batch(self, experiment_id: int) -> None:
        if all(self.records[i].state.is_finished() for i in self._batch if i in self.records):
            # The previous batch is over: a new one begins with this experiment.
            self._batch.clear()
        self._batch.add(experiment_id)

    def overall_progress(self) -> float:
        """Progress of the current batch of work, 0..1.

        The batch is every experiment queued or started since the queue was last idle (those
        queued, running, and finished since); each counts equally, by its share of epochs.
        """
        ids = [i for i in self._batch if i in self.records]
        if not ids:
            return 0.0
        return sum(self.records[i].progress for i in ids) / len(ids)


def _check_parallel(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"max_parallel must be a whole number >= 1, not {n!r}")
    return n
