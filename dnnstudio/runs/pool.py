"""A pool of persistent worker processes that train one experiment each at a time.

Processes, not threads: training is NumPy-bound and one run per core is the fastest way to
try many hyperparameter choices, and a run that exhausts memory or crashes takes down only its
worker. Workers are reused because starting one (an interpreter and a NumPy import) costs
about 0.15 s. Each worker starts with its BLAS limited to one thread, so ``n`` parallel runs
use ``n`` cores instead of fighting over them.

The pool is thread-safe: :meth:`WorkerPool.poll` is meant to run in a supervisor thread while
:meth:`~WorkerPool.submit` and :meth:`~WorkerPool.cancel` are called from another. It has no
thread of its own; whoever calls ``poll`` receives the messages.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import Any

import numpy as np

from ..core.training import HISTORY_FIELDS, EpochRows, History
from .messages import HISTORY_PART_EPOCHS, Failed, Finished, HistoryPart, Job, Message, Progress
from .worker import process_main

__all__ = ["WORKER_ENVIRONMENT", "WorkerPool", "death_reason"]

WORKER_ENVIRONMENT = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
}
"""Set in each worker's environment: one BLAS thread per worker, one worker per core."""

# The environment is process-wide, so every pool (not each one) must take turns changing it.
_ENVIRONMENT_LOCK = threading.Lock()


@contextmanager
def _worker_environment() -> Iterator[None]:
    """``os.environ`` with :data:`WORKER_ENVIRONMENT` applied, restored on exit.

    A spawned child copies the environment when it is started; BLAS libraries read these
    variables when NumPy is imported there, which is too late to change from inside.
    """
    with _ENVIRONMENT_LOCK:
        saved = {name: os.environ.get(name) for name in WORKER_ENVIRONMENT}
        os.environ.update(WORKER_ENVIRONMENT)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def death_reason(exitcode: int | None) -> str:
    """What to tell the user about a worker that ended with ``exitcode``."""
    if exitcode is None:
        return "the worker process died"
    if exitcode < 0:
        return f"the worker process died (killed by signal {-exitcode})"
    return f"the worker process died (exit code {exitcode})"


def _gather(w: _Worker, part: HistoryPart) -> None:
    """Copy ``part`` into the history ``w`` is sending (a part at 0 starts a new one)."""
    if part.start == 0 or not w.history:
        w.history = [np.empty(part.total) for _ in HISTORY_FIELDS]
        w.history_filled = 0
    for whole, piece in zip(w.history, part.arrays, strict=True):
        whole[part.start:part.start + len(piece)] = piece
    w.history_filled += len(part.arrays[0])


def _keep_streamed(w: _Worker, progress: Progress) -> None:
    """Copy the epochs of ``progress`` (of ``w``'s job) into the history being streamed."""
    if progress.folds != 1 or not progress.records or w.streamed < 0:
        return
    rows = EpochRows.from_records(progress.records).array
    start, stop = w.streamed, w.streamed + len(rows)
    if rows[0, 0] != start + 1:
        w.streamed = -1  # out of order: the worker will not say it streamed this run
        return
    capacity = 0 if w.stream is None else w.stream.shape[1]
    if stop > capacity:
        # Sized once for the planned epochs: doubling a long buffer would hold the GIL,
        # and with it the window's thread, for milliseconds.
        grown = np.empty((len(HISTORY_FIELDS), max(stop, w.planned, 2 * capacity)))
        if w.stream is not None:
            grown[:, :start] = w.stream[:, :start]
        w.stream = grown
    assert w.stream is not None
    w.stream[:, start:stop] = rows[:, 1:].T
    w.streamed = stop


def _from_stream(w: _Worker, finished: Finished) -> Message:
    """``finished`` with the history its progress brought (Failed if some went missing)."""
    stream, streamed = w.stream, w.streamed
    w.stream, w.streamed = None, 0
    if stream is None or streamed != finished.streamed:
        return Failed(finished.experiment_id,
                      f"the result arrived incomplete: {max(streamed, 0)} of "
                      f"{finished.streamed} epochs of its history came from the worker; "
                      "queue it again")
    # Views of the buffer, which nothing here writes to again.
    history = History(**{name: stream[i, :streamed] for i, name in enumerate(HISTORY_FIELDS)})
    return Finished(finished.experiment_id, replace(finished.result, history=history),
                    diagnosis=finished.diagnosis)


def _assembled(w: _Worker, finished: Finished) -> Message:
    """``finished`` with the history its parts brought (Failed if some went missing)."""
    arrays, filled = w.history, w.history_filled
    w.history, w.history_filled = [], 0
    total = len(arrays[0]) if arrays else 0
    if not arrays or filled != total:
        return Failed(finished.experiment_id,
                      f"the result arrived incomplete: {filled} of {total} epochs of its "
                      "history came from the worker; queue it again")
    history = History(**dict(zip(HISTORY_FIELDS, arrays, strict=True)))
    return Finished(finished.experiment_id, replace(finished.result, history=history),
                    diagnosis=finished.diagnosis)


@dataclass(eq=False)
class _Worker:
    process: BaseProcess
    conn: Connection
    job: int | None = None
    """The experiment it is training, if any."""
    retiring: bool = False
    """Told to stop; it takes no more jobs and is reaped when it exits."""
    history: list[np.ndarray] = field(default_factory=list)
    """The finished run's history being put together from its parts."""
    history_filled: int = 0
    planned: int = 0
    """The job's planned epochs (sizes :attr:`stream`)."""
    stream: np.ndarray | None = None
    """The job's epochs so far as its progress brought them, ``(fields, capacity)``."""
    streamed: int = 0
    """How many epochs :attr:`stream` holds (-1: none kept, the run being short, or its
    epochs having come out of order)."""


class WorkerPool:
    """Persistent worker processes, one job each at a time.

    Parameters
    ----------
    size : int, optional
        Most workers at once (default: the number of CPUs). Workers start as jobs need them.
    start_method : str
        The :mod:`multiprocessing` start method. ``"spawn"`` (the default) is the only one that
        is safe in a program with threads (the GUI) and the only one where the workers' BLAS
        thread limit takes effect for sure: a forked child inherits its parent's BLAS.

    Notes
    -----
    Every method is thread-safe. :meth:`poll` waits without holding the pool's lock, so
    :meth:`submit` and :meth:`cancel` never wait for it; a worker started while ``poll`` is
    waiting wakes it up, so its messages are not delayed by the wait.
    """

    def __init__(self, size: int | None = None, *, start_method: str = "spawn") -> None:
        if size is not None and size < 1:
            raise ValueError(f"a pool needs at least one worker, not {size}")
        # Any: typeshed knows a context's Process class only for literal method names.
        self._context: Any = multiprocessing.get_context(start_method)
        self._size = size if size is not None else (os.cpu_count() or 1)
        self._workers: list[_Worker] = []
        self._lock = threading.RLock()
        self._closed = False
        self._started = 0
        # poll() waits on this too: submit() and resize() write one byte so that a waiting
        # poll() starts watching the new worker at once. One byte at most is ever pending.
        self._wake_r, self._wake_w = multiprocessing.Pipe(duplex=False)
        self._wake_pending = False

    # -- introspection --------------------------------------------------------------------
    @property
    def size(self) -> int:
        """Most jobs that run at once."""
        return self._size

    @property
    def closed(self) -> bool:
        return self._closed

    def idle_count(self) -> int:
        """How many more jobs :meth:`submit` would accept now (workers not yet started count)."""
        with self._lock:
            if self._closed:
                return 0
            busy = sum(1 for w in self._workers if w.job is not None)
            return max(0, self._size - busy)

    def running(self) -> dict[int, int]:
        """Experiment id -> pid of the worker training it."""
        with self._lock:
            return {w.job: w.process.pid or 0 for w in self._workers if w.job is not None}

    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (busy, idle or retiring)."""
        with self._lock:
            return [w.process.pid for w in self._workers if w.process.pid is not None]

    # -- control --------------------------------------------------------------------------
    def resize(self, n: int) -> None:
        """Allow ``n`` jobs at once.

        Growing takes effect at once (the new workers start when jobs arrive). Shrinking
        retires idle workers now and busy ones when their job ends; nothing is interrupted.
        """
        if n < 1:
            raise ValueError(f"a pool needs at least one worker, not {n}")
        with self._lock:
            self._size = n
            if not self._closed:
                self._retire_surplus()
                self._wake()

    def warm_up(self, n: int | None = None) -> None:
        """Start up to ``n`` (default: all) workers now, so the first jobs start at once."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the worker pool has been shut down")
            target = self._size if n is None else min(n, self._size)
            while self._active_count() < target:
                self._start_worker()
            self._wake()

    def submit(self, job: Job) -> None:
        """Start training ``job`` on an idle worker.

        Raises
        ------
        RuntimeError
            No worker is idle, or the pool has been shut down.
        ValueError
            An experiment with the same id is already running.
        """
        with self._lock:
            if self._closed:
                raise RuntimeError("the worker pool has been shut down")
            if any(w.job == job.experiment_id for w in self._workers):
                raise ValueError(f"experiment {job.experiment_id} is already running")
            if self.idle_count() == 0:
                raise RuntimeError("no idle worker: every worker is training")
            for _attempt in range(3):
                worker = next(
                    (w for w in self._workers
                     if w.job is None and not w.retiring and w.process.is_alive()),
                    None,
                )
                if worker is None:
                    worker = self._start_worker()
                try:
                    worker.conn.send(("train", job))
                except OSError:
                    # It died while idle and poll() has not reaped it yet; it never had this
                    # job, so nothing is lost. Let poll() reap it and use another.
                    worker.retiring = True
                    continue
                worker.job = job.experiment_id
                epochs = job.hyperparameters.get("epochs")
                worker.planned = epochs if isinstance(epochs, int) and epochs > 0 else 0
                # A history that fits one message comes whole with Finished: nothing to keep.
                short = 0 < worker.planned <= HISTORY_PART_EPOCHS
                worker.stream, worker.streamed = None, -1 if short else 0
                self._wake()
                return
            raise RuntimeError("could not start a worker process")

    def cancel(self, experiment_id: int) -> None:
        """Ask the worker training ``experiment_id`` to stop; it reports ``Finished``
        (cancelled) soon after. Does nothing when that experiment is not running."""
        with self._lock:
            for w in self._workers:
                if w.job == experiment_id:
                    # If it died, poll() reports the experiment as failed.
                    with suppress(OSError):
                        w.conn.send(("cancel", experiment_id))
                    return

    def kill_worker(self, experiment_id: int) -> None:
        """Kill (SIGKILL) the worker training ``experiment_id``; for tests of worker death."""
        with self._lock:
            pid = self.running().get(experiment_id)
        if pid is None:
            raise KeyError(f"experiment {experiment_id} is not running")
        os.kill(pid, signal.SIGKILL)

    # -- receiving ------------------------------------------------------------------------
    def poll(self, timeout: float) -> list[Message]:
        """Wait up to ``timeout`` seconds for messages; return all that have arrived.

        Returns as soon as there is at least one message. A worker that has died is noticed
        here: its experiment gets a :class:`~dnnstudio.runs.messages.Failed` message, and it
        is reaped and replaced. After :meth:`shutdown` this returns ``[]`` at once.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            with self._lock:
                if self._closed:
                    return []
                workers = list(self._workers)
                handles: list[Any] = [self._wake_r]
                for w in workers:
                    handles.append(w.conn)
                    handles.append(w.process.sentinel)
            try:
                ready = set(wait(handles, max(0.0, deadline - time.monotonic())))
            except (OSError, ValueError):
                # shutdown() in another thread closed what we were about to wait on.
                if self._closed:
                    return []
                raise
            messages: list[Message] = []
            with self._lock:
                if self._closed:
                    return []
                if self._wake_r in ready:
                    while self._wake_r.poll():
                        self._wake_r.recv_bytes()
                    self._wake_pending = False
                for w in workers:
                    if w not in self._workers:
                        continue  # reaped by a concurrent poll (which is not supported)
                    if w.conn in ready or w.process.sentinel in ready:
                        self._collect(w, messages)
            if messages or time.monotonic() >= deadline:
                return messages

    def _collect(self, w: _Worker, messages: list[Message]) -> None:
        """Read everything ``w`` has sent; reap and replace it if it has died."""
        dead = False
        try:
            while w.conn.poll():
                message = w.conn.recv()
                if isinstance(message, HistoryPart):
                    _gather(w, message)
                    continue
                if isinstance(message, Progress) and message.experiment_id == w.job:
                    _keep_streamed(w, message)
                elif isinstance(message, Finished) and message.streamed:
                    message = _from_stream(w, message)
                elif isinstance(message, Finished) and message.parts:
                    message = _assembled(w, message)
                messages.append(message)
                if isinstance(message, Finished | Failed) and message.experiment_id == w.job:
                    w.job = None
                    w.stream, w.streamed = None, 0
                    self._retire_surplus()
        except (EOFError, OSError):
            dead = True
        if not dead and w.process.is_alive():
            return
        # The process closed its pipe or exited: every message it sent has been read above
        # (a pipe delivers all data before EOF), so what is left is to account for it.
        w.process.join(1.0)
        if w.process.is_alive():
            w.process.kill()
            w.process.join()
        if w.job is not None:
            messages.append(Failed(w.job, death_reason(w.process.exitcode)))
        died_busy = w.job is not None and not w.retiring
        self._discard(w)
        # Replace a worker that died under a job, so the next one does not wait for a start;
        # one that died idle is replaced when a job needs it (no restart loop if it cannot
        # start at all).
        if died_busy and self._active_count() < self._size:
            self._start_worker()

    # -- shutting down --------------------------------------------------------------------
    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop every worker: ask, wait up to ``timeout`` seconds, then kill the rest.

        Running jobs are abandoned without messages. Calling it again does nothing.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            workers, self._workers = self._workers, []
        for w in workers:
            with suppress(OSError):
                w.conn.send(("stop",))
        deadline = time.monotonic() + max(0.0, timeout)
        alive = [w for w in workers if w.process.is_alive()]
        while alive and time.monotonic() < deadline:
            handles: list[Any] = [w.process.sentinel for w in alive]
            handles += [w.conn for w in alive if not w.conn.closed]
            ready = wait(handles, max(0.0, deadline - time.monotonic()))
            for w in alive:
                if w.conn in ready:
                    # Read and drop what it still sends, so a worker blocked writing a large
                    # result into a full pipe can get to the stop command.
                    try:
                        while w.conn.poll():
                            w.conn.recv_bytes()
                    except (EOFError, OSError):
                        w.conn.close()
            alive = [w for w in alive if w.process.is_alive()]
        for w in workers:
            if w.process.is_alive():
                w.process.kill()
            w.process.join()
            w.process.close()
            w.conn.close()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()

    # -- internals (called with the lock held) --------------------------------------------
    def _active_count(self) -> int:
        return sum(1 for w in self._workers if not w.retiring)

    def _start_worker(self) -> _Worker:
        parent_conn, child_conn = self._context.Pipe(duplex=True)
        self._started += 1
        process = self._context.Process(
            target=process_main,
            args=(child_conn,),
            name=f"dnnstudio-worker-{self._started}",
            # A daemon is terminated if the program exits without shutting the pool down.
            daemon=True,
        )
        with _worker_environment():
            process.start()
        # Only the child may hold its end: then the pipe reports EOF as soon as it dies.
        child_conn.close()
        worker = _Worker(process, parent_conn)
        self._workers.append(worker)
        return worker

    def _retire_surplus(self) -> None:
        """Stop idle workers beyond the pool's size."""
        surplus = self._active_count() - self._size
        for w in self._workers:
            if surplus <= 0:
                break
            if w.job is None and not w.retiring:
                w.retiring = True
                surplus -= 1
                with suppress(OSError):
                    w.conn.send(("stop",))

    def _discard(self, w: _Worker) -> None:
        self._workers.remove(w)
        w.process.close()
        w.conn.close()

    def _wake(self) -> None:
        if not self._wake_pending:
            self._wake_pending = True
            self._wake_w.send_bytes(b"w")
