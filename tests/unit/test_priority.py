"""Scheduling priorities: the window's thread first, its service threads next, training last."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from dnnstudio.runs.priority import SERVICE_NICENESS, lower_thread_priority
from dnnstudio.sessions.writer import SessionWriter

linux = pytest.mark.skipif(not sys.platform.startswith("linux"),
                           reason="only Linux schedules threads by their own policy")


def _nice(tid: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, tid)


def _idle(tid: int) -> bool:
    return os.sched_getscheduler(tid) == os.SCHED_IDLE


def _in_thread(target: object) -> list[object]:
    out: list[object] = []
    thread = threading.Thread(target=lambda: out.append(target()))  # type: ignore[operator]
    thread.start()
    thread.join(30)
    assert not thread.is_alive()
    return out


@linux
def test_only_the_calling_thread_is_lowered_into_the_idle_class() -> None:
    me = threading.get_native_id()
    mine = (os.sched_getscheduler(me), _nice(me))

    def lower() -> tuple[bool, bool, bool]:
        first = lower_thread_priority()
        return first, _idle(threading.get_native_id()), lower_thread_priority()

    [(first, idle, again)] = _in_thread(lower)
    assert (first, idle, again) == (True, True, False)  # the second time: already that low
    assert (os.sched_getscheduler(me), _nice(me)) == mine  # the caller's thread is untouched


@linux
def test_where_the_idle_class_is_refused_the_thread_is_niced(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> None:
        raise PermissionError("not here")

    monkeypatch.setattr(os, "sched_setscheduler", refuse)
    mine = _nice(threading.get_native_id())

    def lower() -> tuple[bool, int, bool]:
        first = lower_thread_priority()
        return first, _nice(threading.get_native_id()), lower_thread_priority()

    [(first, theirs, again)] = _in_thread(lower)
    assert first is (mine < SERVICE_NICENESS)
    assert theirs == max(mine, SERVICE_NICENESS)
    assert again is False
    assert _nice(threading.get_native_id()) == mine


@pytest.mark.skipif(sys.platform.startswith("linux"), reason="elsewhere only")
def test_elsewhere_nothing_changes() -> None:
    assert _in_thread(lower_thread_priority) == [False]


@linux
def test_the_session_writer_runs_below_the_window(tmp_path: Path) -> None:
    writer = SessionWriter(tmp_path / "s.dnnsession", create=True)
    try:
        native_id = writer._thread.native_id
        assert native_id is not None
        assert writer.flush(timeout=30)  # it has started, and lowered itself first
        assert _idle(native_id)
        assert not _idle(threading.get_native_id())
    finally:
        writer.close()
