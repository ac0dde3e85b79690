"""Writes a session file on a background thread, so the window never waits on the disk.

Every change of a session goes through a :class:`SessionWriter`, which owns the SQLite
connection on its own thread. Records are written as they change; per-epoch history is
buffered and written at most every ``flush_interval`` seconds, so a crash loses at most that
much of a running experiment's curve and never a finished experiment.
"""

from __future__ import annotations

import functools
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.data.spec import DatasetSpec
from ..core.training import EpochRecord, EpochRows
from ..runs.priority import lower_thread_priority
from ..runs.records import ExperimentRecord, TestEvaluation
from .store import SessionStore, StoredSearch

Op = Callable[[SessionStore], Any]
ErrorHandler = Callable[[str], None]


@dataclass(frozen=True)
class _Append:
    """Epochs of a running experiment, queued like any other write."""

    experiment_id: int
    records: Sequence[EpochRecord]


class SessionWriter:
    """A session store driven from one background thread.

    Every write is queued and done in the order it was asked for; epochs of running
    experiments are gathered for up to ``flush_interval`` seconds into one transaction, but
    never past a write that was asked for after them (so a history that is replaced is
    replaced after, never before, the epochs that came ahead of it).

    Parameters
    ----------
    path : Path
        The session file.
    create : bool
        Create a new file (``overwrite=True``) rather than open an existing one.
    on_error : callable(str), optional
        Called (on the writer thread) with a one-line message when a write fails, e.g. on a
        full or read-only disk. Writing goes on; what failed stays in memory.
    flush_interval : float
        Longest time, in seconds, that epochs wait before they are written.
    """

    def __init__(
        self,
        path: Path,
        *,
        create: bool,
        on_error: ErrorHandler | None = None,
        flush_interval: float = 1.0,
    ) -> None:
        self.path = Path(path)
        self._on_error = on_error
        self._flush_interval = flush_interval
        self._ops: queue.Queue[Op | _Append | None] = queue.Queue()
        self._opened = threading.Event()
        self._open_error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(create,), name="dnnstudio-session-writer", daemon=True
        )
        self._thread.start()
        self._opened.wait()
        if self._open_error is not None:
            self._thread.join()
            raise self._open_error

    # -- what callers use ------------------------------------------------------------------
    def put_dataset(self, spec: DatasetSpec) -> None:
        self._submit(lambda store: store.put_dataset(spec))

    def put_experiment(self, record: ExperimentRecord) -> None:
        self._submit(lambda store: store.put_experiment(record))

    def put_history(self, record: ExperimentRecord) -> None:
        """Write a record's whole history, replacing what is stored."""
        self._submit(lambda store: store.put_history(record))

    def append_history(self, experiment_id: int, records: Sequence[EpochRecord]) -> None:
        """Add epochs of a running experiment; they are written within ``flush_interval``."""
        if records:
            self._submit(_Append(experiment_id, records))

    def put_search(self, search: StoredSearch) -> None:
        self._submit(lambda store: store.put_search(search))

    def add_test_evaluation(self, evaluation: TestEvaluation) -> None:
        self._submit(lambda store: store.add_test_evaluation(evaluation))

    def delete_experiment(self, experiment_id: int) -> None:
        self._submit(lambda store: store.delete_experiment(experiment_id))

    def put_order(self, ids: Sequence[int]) -> None:
        order = list(ids)
        self._submit(lambda store: store.put_order(order))

    def call(self, op: Op) -> None:
        """Run ``op(store)`` on the writer thread, after everything submitted before it."""
        self._submit(op)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far is written."""
        done = threading.Event()
        self._submit(lambda store: done.set())
        return done.wait(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Write what is pending, close the file and end the thread. Idempotent."""
        if not self._thread.is_alive():
            return
        self._ops.put(None)
        self._thread.join(timeout)

    # -- the thread ------------------------------------------------------------------------
    def _submit(self, op: Op | _Append) -> None:
        if not self._thread.is_alive():
            raise RuntimeError("the session writer is closed")
        self._ops.put(op)

    def _run(self, create: bool) -> None:
        # Below the window's thread, which it works for (see dnnstudio.runs.priority).
        lower_thread_priority()
        try:
            store = (SessionStore.create(self.path, overwrite=True) if create
                     else SessionStore.open(self.path))
        except BaseException as exc:  # handed to the constructor, which raises it
            self._open_error = exc
            self._opened.set()
            return
        self._opened.set()
        epochs: dict[int, list[Sequence[EpochRecord]]] = {}
        deadline = 0.0
        try:
            while True:
                timeout = max(0.0, deadline - time.monotonic()) if epochs else None
                try:
                    op = self._ops.get(timeout=timeout)
                except queue.Empty:
                    self._write_epochs(store, epochs)
                    continue
                if isinstance(op, _Append):
                    if not epochs:
                        deadline = time.monotonic() + self._flush_interval
                    epochs.setdefault(op.experiment_id, []).append(op.records)
                    continue
                # Epochs asked for before this write go first.
                self._write_epochs(store, epochs)
                if op is None:
                    break
                self._guard(functools.partial(op, store))
        finally:
            self._write_epochs(store, epochs)
            self._guard(store.close)

    def _write_epochs(self, store: SessionStore,
                      epochs: dict[int, list[Sequence[EpochRecord]]]) -> None:
        if not epochs:
            return
        appends = []
        for experiment_id, batches in epochs.items():
            rows = EpochRows(np.concatenate([EpochRows.from_records(b).array for b in batches]))
            appends.append((experiment_id, int(rows.array[0, 0]), rows))
        epochs.clear()

        def write() -> None:
            # Every running experiment's epochs in one transaction: one sync of the file.
            for error in store.append_histories(appends):
                if error is not None:
                    self._report(error)

        self._guard(write)

    def _guard(self, write: Callable[[], Any]) -> None:
        try:
            write()
        except Exception as exc:  # a full disk must not end the writer
            self._report(exc)

    def _report(self, exc: Exception) -> None:
        if self._on_error is not None:
            self._on_error(f"Could not write the session file {self.path}: {exc}")
