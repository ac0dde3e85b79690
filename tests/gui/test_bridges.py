"""The thread that relays the workers' messages to the window."""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

import pytest

from dnnstudio.gui.bridges import PoolBridge
from dnnstudio.runs.priority import SERVICE_NICENESS


class _Pool:
    """Answers every poll with the nice value of the thread that polls."""

    def poll(self, timeout: float) -> list[Any]:
        return [os.getpriority(os.PRIO_PROCESS, threading.get_native_id())]


@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="only Linux schedules threads by their own nice value")
def test_the_bridge_thread_runs_below_the_window(qtbot: Any) -> None:
    # It reads and unpacks the workers' messages in bursts; niced, it never holds the core
    # the window's thread wakes up on.
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    bridge = PoolBridge(_Pool())  # type: ignore[arg-type]
    with qtbot.waitSignal(bridge.messagesReceived, timeout=10_000) as blocker:
        bridge.start()
    bridge.stop()
    assert blocker.args == [[max(mine, SERVICE_NICENESS)]]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine
