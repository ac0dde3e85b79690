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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..core.data.spec import DatasetSpec
from ..core.training import EpochRecord, EpochRows
from ..runs.records import ExperimentRecord
from .store import SessionStore

Op = Callable[[SessionStore], Any]
ErrorHandler = Callable[[str], None]


class SessionWriter:
    """A session store driven from one background thread.

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
        Longest time, in seconds, that buffered history waits before it is written.
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
        self._ops: queue.Queue[Op | None] = queue.Queue()
        self._lock = threading.Lock()
        self._pending: dict[int, list[Sequence[EpochRecord]]] = {}
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
        """Write a record's whole history (after it finished), replacing buffered epochs."""
        with self._lock:
            self._pending.pop(record.id, None)
        self._submit(lambda store: store.put_history(record))

    def append_history(self, experiment_id: int, records: Sequence[EpochRecord]) -> None:
        """Buffer new epochs of a running experiment; they are written within a second."""
        if not records:
            return
        with self._lock:
            # Kept as they came (often one array per batch); joined on the writer thread.
            self._pending.setdefault(experiment_id, []).append(records)

    def delete_experiment(self, experiment_id: int) -> None:
        with self._lock:
            self._pending.pop(experiment_id, None)
        self._submit(lambda store: store.delete_experiment(experiment_id))

    def put_order(self, ids: Sequence[int]) -> None:
        order = list(ids)
        self._submit(lambda store: store.put_order(order))

    def call(self, op: Op) -> None:
        """Run ``op(store)`` on the writer thread, after everything submitted before it."""
        self._submit(op)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far, buffered history included, is written."""
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
    def _submit(self, op: Op) -> None:
        if not self._thread.is_alive():
            raise RuntimeError("the session writer is closed")
        self._ops.put(op)

    def _run(self, create: bool) -> None:
        try:
            store = (SessionStore.create(self.path, overwrite=True) if create
                     else SessionStore.open(self.path))
        except BaseException as exc:  # handed to the constructor, which raises it
            self._open_error = exc
            self._opened.set()
            return
        self._opened.set()
        try:
            while True:
                try:
                    op = self._ops.get(timeout=self._flush_interval)
                except queue.Empty:
                    self._write_pending(store)
                    continue
                # History first, so an op that depends on it (flush, put_history) sees it.
                self._write_pending(store)
                if op is None:
                    break
                self._guard(functools.partial(op, store))
        finally:
            self._write_pending(store)
            self._guard(lambda: store.close())

    def _write_pending(self, store: SessionStore) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for experiment_id, batches in pending.items():
            rows = EpochRows(np.concatenate([EpochRows.from_records(b).array for b in batches]))
            self._guard(functools.partial(store.append_history, experiment_id,
                                          rows[0].epoch, rows))

    def _guard(self, write: Callable[[], Any]) -> None:
        try:
            write()
        except Exception as exc:  # a full disk must not end the writer
            if self._on_error is not None:
                self._on_error(f"Could not write the session file {self.path}: {exc}")
