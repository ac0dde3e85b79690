"""Scheduling priorities: the window's thread first, then the threads that serve it, then
training.

Training keeps every core busy, and a window that shows it must still get a core the moment
it has something to do. Workers (whole processes) run in Linux's idle scheduling class. The
app's own service threads (the one that reads the workers' pipes, the session writer, the
diagnosis of a long run opened from a file) do light but bursty work beside the window's
thread; on Linux they run in the idle class too, so that the window's thread, waking,
takes the core from them at once.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading

__all__ = ["SERVICE_NICENESS", "WORKER_NICENESS", "lower_process_priority",
           "lower_thread_priority"]

WORKER_NICENESS = 19
"""How much lower than the app's the workers' scheduling priority is (where the idle
scheduling class is not to be had)."""

SERVICE_NICENESS = 10
"""How much lower than the window's thread the app's service threads run where the idle
class cannot be had (Linux only)."""


def lower_process_priority() -> None:
    """Make this process yield its core at once to anything else that wants it.

    On Linux the idle scheduling class (``SCHED_IDLE``) does that: a task of any normal
    priority that wakes up preempts it straight away, where a nice +19 task may first finish
    its time slice (measured in the window: timers late by 2.5-7 ms while both cores
    trained). Training loses nothing while nothing else wants the cores. Elsewhere, nice
    +:data:`WORKER_NICENESS`; where neither can be set, nothing changes.
    """
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            return
        except OSError:
            pass
    if hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(WORKER_NICENESS)


def lower_thread_priority(niceness: int = SERVICE_NICENESS) -> bool:
    """Lower the calling thread's priority (not its process's): into the idle scheduling
    class, or where that fails to nice ``niceness``.

    Nice +10 was not enough: the window's thread, waking on a core where such a thread ran,
    could wait for the rest of its time slice (the planar benchmark, 9 interleaved pairs:
    p99 2.10 ms niced, 1.89 ms in the idle class; ticks over 2 ms 1.09% and 0.95%). In the
    idle class it shares what the workers leave, which is plenty for its bursts.

    Only Linux schedules threads by their own policy and nice value (elsewhere the call
    would name a process, or nothing). Returns True if the thread was lowered, False if it
    was already that low or this is not Linux. A thread cannot raise its priority back
    without privileges: call this only from threads that serve the window for their whole
    life.
    """
    if not sys.platform.startswith("linux") or not hasattr(os, "setpriority"):
        return False
    tid = threading.get_native_id()
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        try:
            if os.sched_getscheduler(tid) == os.SCHED_IDLE:
                return False
            os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
            return True
        except OSError:
            pass
    try:
        now = os.getpriority(os.PRIO_PROCESS, tid)
        if now >= niceness:
            return False
        os.setpriority(os.PRIO_PROCESS, tid, niceness)
    except OSError:
        return False
    return True
