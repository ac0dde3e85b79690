"""The thread that relays the workers' messages to the window."""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

import pytest

from dnnstudio.gui.bridges import PoolBridge


class _Pool:
    """Answers every poll with the scheduling policy of the thread that polls."""

    def poll(self, timeout: float) -> list[Any]:
        return [os.sched_getscheduler(threading.get_native_id())]


@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="only Linux schedules threads by their own policy")
def test_the_bridge_thread_runs_below_the_window(qtbot: Any) -> None:
    # It reads and unpacks the workers' messages in bursts; in the idle class, it never
    # holds the core the window's thread wakes up on.
    mine = os.sched_getscheduler(threading.get_native_id())
    bridge = PoolBridge(_Pool())  # type: ignore[arg-type]
    with qtbot.waitSignal(bridge.messagesReceived, timeout=10_000) as blocker:
        bridge.start()
    bridge.stop()
    assert blocker.args == [[os.SCHED_IDLE]]
    assert os.sched_getscheduler(threading.get_native_id()) == mine != os.SCHED_IDLE
