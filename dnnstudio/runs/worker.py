"""The worker process's main loop: receive jobs, train them, report back.

A worker is a long-lived process (starting one costs a Python interpreter and a NumPy import),
driven through one :class:`~multiprocessing.connection.Connection` by
:class:`~dnnstudio.runs.pool.WorkerPool`. Commands it understands:

``("train", Job)``
    Train one experiment, sending :class:`~dnnstudio.runs.messages.Started`, batched
    :class:`~dnnstudio.runs.messages.Progress`, then :class:`~dnnstudio.runs.messages.Finished`
    or :class:`~dnnstudio.runs.messages.Failed`. A job with ``folds`` cross-validates: the
    first fold's epochs are sent as they train, the later folds' only as a count.
``("cancel", experiment_id)``
    Stop that experiment cooperatively (it finishes as ``cancelled``); ignored when that
    experiment is not the one running.
``("stop",)``
    Leave the loop (abandoning a running job without reporting it).

A bad job never kills the worker: any exception becomes a ``Failed`` message. Nothing global is
changed here (no environment, no NumPy state); BLAS threads are limited by the environment the
pool starts the process with.
"""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Sequence
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from ..core.advisor import Diagnosis, diagnose
from ..core.crossval import KFolds, cross_validate
from ..core.data.dataset import Splits, Task, TrainData
from ..core.data.spec import DatasetSpec
from ..core.errors import DnnStudioError
from ..core.hyperparams import Hyperparameters
from ..core.training import (
    EPOCH_COLUMNS,
    HISTORY_FIELDS,
    EpochRecord,
    EpochRows,
    History,
    TrainResult,
    metric_name,
    train,
)
from .messages import (
    HISTORY_PART_EPOCHS,
    LIVE_DIAGNOSIS_EPOCHS,
    Failed,
    Finished,
    HistoryPart,
    Job,
    Message,
    Progress,
    Snapshot,
    Started,
)
from .priority import lower_process_priority

__all__ = [
    "CANCEL_POLL_SECONDS",
    "DATASET_CACHE_SIZE",
    "PROGRESS_SECONDS",
    "failure_reason",
    "process_main",
    "worker_main",
]

PROGRESS_SECONDS = 0.1
"""Send at most one Progress message per run this often (10 a second: the plots draw five
frames a second and the tables follow once a second, so more would only cost the window
more turns; at 20 a second a planar run's p99 was 0.5-0.9 ms higher, interleaved)."""
CANCEL_POLL_SECONDS = 0.02
"""Look for a cancel command at most this often while training."""
DATASET_CACHE_SIZE = 4
"""Loaded datasets a worker keeps, so a queue of experiments on one dataset loads it once."""


class _ConnectionLost(Exception):
    """The pool's end of the connection is gone; the worker has no one to report to."""


class _Loaded:
    """A dataset as loaded: the split (or a user's own arrays) and, once asked for, the
    training data made from it."""

    def __init__(self, source: Splits | TrainData) -> None:
        self.source = source
        self._data = source if isinstance(source, TrainData) else None

    @property
    def task(self) -> Task:
        if isinstance(self.source, TrainData):
            return self.source.task
        return self.source.dataset.task

    def training_data(self) -> TrainData:
        if self._data is None:
            assert isinstance(self.source, Splits)
            self._data = self.source.training_data()
        return self._data


class _DatasetCache:
    """The last few loaded datasets, keyed by what they were loaded from."""

    def __init__(self, size: int) -> None:
        self._size = max(0, size)
        self._items: OrderedDict[Hashable, _Loaded] = OrderedDict()

    @staticmethod
    def _key(spec: DatasetSpec) -> Hashable:
        if spec.source not in ("csv", "npz"):
            return spec
        # A file may be edited between two experiments; its size and modification time
        # make the edited file a different key, so the worker reads it again.
        try:
            st = os.stat(spec.path)
        except OSError:
            return (spec, None)
        return (spec, st.st_size, st.st_mtime_ns)

    def loaded(self, spec: DatasetSpec) -> _Loaded:
        key = self._key(spec)
        item = self._items.get(key)
        if item is None:
            # An .npz file holds its own training and validation sets; the others are split.
            item = _Loaded(spec.training_data() if spec.source == "npz" else spec.load())
            if self._size:
                self._items[key] = item
                while len(self._items) > self._size:
                    self._items.popitem(last=False)
        else:
            self._items.move_to_end(key)
        return item


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def failure_reason(exc: BaseException) -> str:
    """A one-line reason for a job that raised ``exc``.

    Errors meant for the user (:class:`~dnnstudio.core.errors.DnnStudioError`) keep their
    message as it is; anything else is unexpected, so its type is named too.
    """
    message = _one_line(str(exc))
    if isinstance(exc, DnnStudioError) and message:
        return message
    if isinstance(exc, MemoryError):
        return ("out of memory: this experiment needs more memory than the computer could "
                "give it; try fewer or smaller hidden layers, a smaller mini-batch, float32, "
                "or fewer experiments at once")
    name = type(exc).__name__
    return f"{name}: {message}" if message else name


_NO_EPOCHS = EpochRows(np.empty((0, len(EPOCH_COLUMNS))))
_CURVES = ("train_cost", "val_cost", "train_metric", "val_metric")
"""The history fields the advisor reads."""


@dataclasses.dataclass(frozen=True, slots=True)
class _SoFar:
    """A running experiment as the advisor reads a record: its curves so far."""

    history: dict[str, np.ndarray]
    hyperparameters: Hyperparameters
    metric: str
    state: str = "running"


def diagnose_so_far(sent: Sequence[np.ndarray], hp: Hyperparameters,
                    metric: str) -> Diagnosis:
    """The advisor's diagnosis of a running experiment from the
    :class:`~dnnstudio.core.training.EpochRows` arrays sent so far (epochs 1..n in order),
    as the window would make it from the record those arrays built."""
    history = {name: np.concatenate([rows[:, EPOCH_COLUMNS.index(name)] for rows in sent])
               for name in _CURVES}
    return diagnose(_SoFar(history, hp, metric))


def _final_diagnosis(result: TrainResult) -> Diagnosis | None:
    """The diagnosis :class:`Finished` carries: for a long run only, None if it failed."""
    if result.epochs_run <= LIVE_DIAGNOSIS_EPOCHS:
        return None
    try:
        return diagnose(result)
    except Exception:  # the window diagnoses it itself, and shows none if that fails too
        return None


class _Run:
    """One job's callbacks: throttled progress and cheap cancellation checks."""

    def __init__(self, conn: Connection, experiment_id: int, backlog: deque[Any]) -> None:
        self.conn = conn
        self.experiment_id = experiment_id
        self.backlog = backlog
        self.pending: list[EpochRecord] = []
        self.sent: list[np.ndarray] = []
        """The epochs sent as progress, in order (the arrays themselves, not copies); under
        cross-validation, the first fold's."""
        self.hp: Hyperparameters | None = None
        self.metric = "accuracy"
        """What is diagnosed live, once the job is built (no hyperparameters: nothing)."""
        self.diagnose_at = LIVE_DIAGNOSIS_EPOCHS + 1
        """The epoch from which the next progress message carries a diagnosis."""
        self.fold, self.folds = 0, 1
        self.epoch = self.epoch_sent = 0
        """Epochs finished in the current fold, and as last sent."""
        # -inf: the first epoch goes out at once and the first should_stop call polls.
        self.last_sent = -math.inf
        self.last_poll = -math.inf
        self.cancelled = False
        self.exiting = False
        """A stop command arrived or the pool is gone: abandon the job and leave."""

    def send(self, message: Message) -> None:
        try:
            self.conn.send(message)
        except (BrokenPipeError, ConnectionError, EOFError, OSError) as exc:
            self.exiting = self.cancelled = True
            raise _ConnectionLost from exc

    def _unsent(self) -> bool:
        return bool(self.pending) or self.epoch != self.epoch_sent

    def flush(self, now: float | None = None) -> None:
        if self._unsent():
            records = EpochRows.from_records(self.pending) if self.pending else _NO_EPOCHS
            self.pending = []
            diagnosis = None
            if len(records) and self.fold == 0:
                self.sent.append(records.array)
                if self.epoch >= self.diagnose_at:
                    diagnosis = self._diagnose()
            self.send(Progress(self.experiment_id, records, self.fold, self.folds, self.epoch,
                               diagnosis))
            self.epoch_sent = self.epoch
        self.last_sent = time.monotonic() if now is None else now

    def _diagnose(self) -> Diagnosis | None:
        self.diagnose_at = math.ceil(self.epoch * 1.25)
        if self.hp is None:
            return None
        try:
            return diagnose_so_far(self.sent, self.hp, self.metric)
        except Exception:  # no live verdict this time; the training goes on regardless
            return None

    def on_epoch(self, record: EpochRecord) -> None:
        self.pending.append(record)
        self.epoch = record.epoch
        now = time.monotonic()
        if now - self.last_sent >= PROGRESS_SECONDS:
            self.flush(now)

    def on_fold_epoch(self, fold: int, record: EpochRecord) -> None:
        """Cross-validation: the first fold's epochs as records, the others as a count."""
        if fold != self.fold:
            self.flush()  # the previous fold's last epochs, under its own number
            self.fold, self.epoch_sent = fold, 0
        if fold == 0:
            self.on_epoch(record)
            return
        self.epoch = record.epoch
        now = time.monotonic()
        if now - self.last_sent >= PROGRESS_SECONDS:
            self.flush(now)

    def on_parameters(self, epoch: int, params: list[tuple[Any, Any]]) -> None:
        # Progress first, so the receiver never sees parameters of epochs it has not seen.
        self.flush()
        self.send(Snapshot(self.experiment_id, epoch, tuple(params)))

    def should_stop(self) -> bool:
        # Called before every mini-batch step: a clock read is all most calls cost.
        now = time.monotonic()
        if now - self.last_poll < CANCEL_POLL_SECONDS:
            return self.cancelled
        self.last_poll = now
        # Epochs held back by the throttle go out here too, so a slow next epoch does not
        # delay them.
        if self._unsent() and now - self.last_sent >= PROGRESS_SECONDS:
            self.flush(now)
        try:
            while self.conn.poll():
                self._command(self.conn.recv())
        except (EOFError, OSError):
            # The pool is gone; nobody wants this result.
            self.exiting = self.cancelled = True
        return self.cancelled

    def _command(self, command: Any) -> None:
        kind = command[0] if isinstance(command, tuple) and command else None
        if kind == "cancel":
            if len(command) > 1 and command[1] == self.experiment_id:
                self.cancelled = True
        elif kind == "stop":
            self.exiting = self.cancelled = True
        elif kind == "train":
            # The pool sends one job at a time; keep a stray one for afterwards.
            self.backlog.append(command)


def _run_job(conn: Connection, job: Job, cache: _DatasetCache, backlog: deque[Any]) -> bool:
    """Train ``job`` and report it; False when the worker should leave its loop."""
    run = _Run(conn, job.experiment_id, backlog)
    try:
        try:
            hp = Hyperparameters.from_dict(job.hyperparameters)
            spec = DatasetSpec.from_dict(job.dataset)
            loaded = cache.loaded(spec)
            run.hp = hp
            run.metric = metric_name(loaded.task)
            if job.folds is None:
                data = loaded.training_data()
                run.send(Started(job.experiment_id, os.getpid(), time.time()))
                snapshots = job.snapshot_seconds is not None
                result = train(hp, data, on_epoch=run.on_epoch, should_stop=run.should_stop,
                               eval_every=job.eval_every,
                               on_parameters=run.on_parameters if snapshots else None,
                               parameters_every=job.snapshot_seconds or 0.0)
            else:
                # The dataset's seed draws the folds, so every configuration tuned on this
                # dataset is measured on the same folds.
                folds = KFolds(loaded.source, job.folds, seed=spec.seed)
                run.folds = folds.k
                run.send(Started(job.experiment_id, os.getpid(), time.time()))
                result = cross_validate(hp, folds, on_epoch=run.on_fold_epoch,
                                        should_stop=run.should_stop,
                                        eval_every=job.eval_every)
        except _ConnectionLost:
            raise
        except Exception as exc:
            if run.exiting:
                return False
            run.flush()
            run.send(Failed(job.experiment_id, failure_reason(exc)))
            return True
        if run.exiting:
            return False
        run.flush()
        try:
            # Under cross-validation the history is the folds' average, not what was sent.
            send_finished(run.send, job.experiment_id, result,
                          streamed=run.sent if run.folds == 1 else None,
                          diagnosis=_final_diagnosis(result))
        except _ConnectionLost:
            raise
        except Exception as exc:  # e.g. the result could not be pickled
            run.send(Failed(job.experiment_id,
                            "could not send the result: " + failure_reason(exc)))
        return True
    except _ConnectionLost:
        return False


def worker_main(conn: Connection, *, cache_size: int = DATASET_CACHE_SIZE) -> None:
    """Serve commands from ``conn`` until ``("stop",)`` or until the other end closes.

    Parameters
    ----------
    conn : Connection
        This worker's end of a duplex pipe to the pool.
    cache_size : int
        How many loaded datasets to keep.
    """
    cache = _DatasetCache(cache_size)
    backlog: deque[Any] = deque()
    while True:
        if backlog:
            command = backlog.popleft()
        else:
            try:
                command = conn.recv()
            except (EOFError, OSError):
                return
        kind = command[0] if isinstance(command, tuple) and command else None
        if kind == "stop":
            return
        if (kind == "train" and len(command) > 1 and isinstance(command[1], Job)
                and not _run_job(conn, command[1], cache, backlog)):
            return
        # A cancel for a job that is not running (it ended first) and anything unknown are
        # ignored.


def send_finished(send: Callable[[Message], None], experiment_id: int,
                  result: TrainResult, *, streamed: Sequence[np.ndarray] | None = None,
                  diagnosis: Diagnosis | None = None) -> None:
    """Send ``result`` (with its ``diagnosis``, if any).

    A long history goes ahead of it in :class:`HistoryPart` messages, unless ``streamed``,
    the :class:`~dnnstudio.core.training.EpochRows` arrays already sent as progress, holds
    exactly that history: then it is not sent again (``Finished.streamed``). For a
    300,000-epoch run that saves sending 14 MB at its end, which the window's process had
    to read and unpack while it showed the run ending.
    """
    history = result.history
    n = len(history)
    if n <= HISTORY_PART_EPOCHS:
        send(Finished(experiment_id, result, diagnosis=diagnosis))
        return
    columns = [np.asarray(getattr(history, name)) for name in HISTORY_FIELDS]
    empty = History(**{name: c[:0] for name, c in zip(HISTORY_FIELDS, columns, strict=True)})
    bare = dataclasses.replace(result, history=empty)
    if streamed is not None and _same_epochs(streamed, columns):
        send(Finished(experiment_id, bare, streamed=n, diagnosis=diagnosis))
        return
    starts = range(0, n, HISTORY_PART_EPOCHS)
    for start in starts:
        stop = start + HISTORY_PART_EPOCHS
        send(HistoryPart(experiment_id, start, n, tuple(c[start:stop] for c in columns)))
    send(Finished(experiment_id, bare, len(starts), diagnosis=diagnosis))


def _same_epochs(sent: Sequence[np.ndarray], columns: Sequence[np.ndarray]) -> bool:
    """Whether the ``(k, 7)`` arrays ``sent`` are epochs ``1 .. n`` with exactly the values of
    the history ``columns`` (NaN where they have NaN)."""
    n = len(columns[0])
    if sum(len(rows) for rows in sent) != n:
        return False
    start = 0
    for rows in sent:
        stop = start + len(rows)
        if not np.array_equal(rows[:, 0], np.arange(start + 1, stop + 1)):
            return False
        for j, column in enumerate(columns, start=1):
            if not np.array_equal(rows[:, j], column[start:stop], equal_nan=True):
                return False
        start = stop
    return True


def process_main(conn: Connection) -> None:
    """Entry point of a worker process started by the pool.

    Ctrl+C in a terminal signals the whole process group; the worker leaves it to its parent,
    which cancels or shuts down cleanly, instead of dying with a traceback mid-run.

    Workers run at the lowest scheduling priority
    (:func:`~dnnstudio.runs.priority.lower_process_priority`): as many workers
    as cores keep every core busy, and the window that shows their progress must still get a
    core the moment it has something to draw. Training loses nothing while the window idles.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    lower_process_priority()
    try:
        worker_main(conn)
    finally:
        conn.close()
