"""Saving a queue's work as it happens: queue events in, session-file writes out.

A :class:`QueueRecorder` listens to an :class:`~dnnstudio.runs.queue.ExperimentQueue` and
hands every change to a :class:`~.writer.SessionWriter`: new and changed experiments, the
order, and the epochs of running ones as they arrive. The window's controller and the
headless ``dnnstudio sweep`` both use it, so a session is saved the same way whoever drives
the queue.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..core.training import HISTORY_FIELDS, EpochRows
from ..runs.queue import (
    ExperimentQueue,
    OrderChanged,
    ProgressAppended,
    QueueEvent,
    RecordAdded,
    RecordChanged,
    RecordRemoved,
)
from ..runs.records import ExperimentRecord, ExperimentState
from .writer import SessionWriter

__all__ = ["QueueRecorder"]


class QueueRecorder:
    """Writes what happens in ``queue`` through ``writer`` (see the module's description).

    Parameters
    ----------
    queue : ExperimentQueue
    writer : callable returning SessionWriter or None
        The writer to use now (None: nothing is written, e.g. while a session is replaced).
    """

    def __init__(self, queue: ExperimentQueue,
                 writer: Callable[[], SessionWriter | None]) -> None:
        self.queue = queue
        self._writer = writer
        self._written: dict[int, tuple[ExperimentState, str, float | None]] = {}
        # The last epoch sent to the file for each running experiment.
        self._appended: dict[int, int] = {}
        self._unsubscribe = queue.subscribe(self.record)

    def detach(self) -> None:
        self._unsubscribe()

    def forget(self) -> None:
        """Start afresh (the queue was loaded with another session)."""
        self._written.clear()
        self._appended.clear()

    def record(self, event: QueueEvent) -> None:
        writer = self._writer()
        if isinstance(event, ProgressAppended):
            if writer is not None and event.records:
                writer.append_history(event.experiment_id, event.records)
                self._appended[event.experiment_id] = event.records[-1].epoch
        elif isinstance(event, RecordChanged):
            record = event.record
            # Progress changes a running record 20 times a second; its epochs go to the file
            # through append_history, so the record itself is written only when its state
            # or note changes (a test evaluation writes its own figures).
            key = (record.state, record.note, record.started_at)
            if writer is not None and self._written.get(record.id) != key:
                self._written[record.id] = key
                writer.put_experiment(record)
                # A run that starts afresh clears what a previous run stored; then epochs go
                # by append_history only (a whole history written in the middle could
                # overtake epochs still buffered), and an ending adds the epochs that were not
                # reported as progress. Rewriting a long history at the end would hold the
                # GIL for a second.
                if record.state is ExperimentState.RUNNING and record.epochs_run == 0:
                    self._appended[record.id] = 0
                    writer.put_history(record)
                elif record.state.is_finished():
                    self._write_missing_epochs(writer, record)
        elif isinstance(event, RecordAdded):
            record = event.record
            self._written[record.id] = (record.state, record.note, record.started_at)
            if writer is not None:
                writer.put_experiment(record)
                writer.put_order(self.queue.order)
        elif isinstance(event, RecordRemoved):
            if writer is not None:
                writer.delete_experiment(event.experiment_id)
                writer.put_order(self.queue.order)
        elif isinstance(event, OrderChanged) and writer is not None:
            writer.put_order(event.order)

    def _write_missing_epochs(self, writer: SessionWriter, record: ExperimentRecord) -> None:
        done = self._appended.pop(record.id, None)
        if done is None or done > record.epochs_run:
            writer.put_history(record)  # not seen running here: write it whole
            return
        if done < record.epochs_run:
            # Only the missing tail is stacked (a whole long history would be tens of MB).
            rows = np.column_stack([np.arange(done + 1, record.epochs_run + 1),
                                    *(np.asarray(record.history[name])[done:] for name in
                                      HISTORY_FIELDS)])
            writer.append_history(record.id, EpochRows(rows))
