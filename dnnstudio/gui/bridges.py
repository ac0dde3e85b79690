"""Thin adapters that turn the worker pool's messages into Qt signals."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QThread, Signal

from ..runs.pool import WorkerPool
from ..runs.priority import lower_thread_priority


class PoolBridge(QThread):
    """Waits on the worker processes off the GUI thread and relays what they say.

    Its thread only blocks in :meth:`WorkerPool.poll`; the messages (frozen dataclasses of
    plain data) arrive in the GUI thread through ``messagesReceived``, where the queue applies
    them. Workers already throttle their progress to about 10 messages a second per run.

    Signals
    -------
    messagesReceived(list)
        A batch of :mod:`dnnstudio.runs.messages` values, in the order they arrived.
    """

    messagesReceived = Signal(list)

    def __init__(self, pool: WorkerPool, parent: Any = None, *, interval: float = 0.05) -> None:
        super().__init__(parent)
        self._pool = pool
        self._interval = interval

    def run(self) -> None:
        # Reading and unpacking 35,000 epochs a second of two tiny runs keeps this thread
        # busy in bursts; in the idle class, it never holds the core the window's thread
        # wakes up on.
        lower_thread_priority()
        while not self.isInterruptionRequested():
            messages = self._pool.poll(self._interval)
            if messages:
                self.messagesReceived.emit(list(messages))

    def stop(self) -> None:
        """Ask the thread to end and wait for it (at most one poll interval)."""
        self.requestInterruption()
        self.wait()
