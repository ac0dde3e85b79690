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
                           reason="only Linux schedules threads by their own nice value")


def _nice(tid: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, tid)


def _in_thread(target: object) -> list[object]:
    out: list[object] = []
    thread = threading.Thread(target=lambda: out.append(target()))  # type: ignore[operator]
    thread.start()
    thread.join(30)
    assert not thread.is_alive()
    return out


@linux
def test_only_the_calling_thread_is_lowered() -> None:
    mine = _nice(threading.get_native_id())

    def lower() -> tuple[bool, int, bool]:
        first = lower_thread_priority()
        return first, _nice(threading.get_native_id()), lower_thread_priority()

    [(first, theirs, again)] = _in_thread(lower)
    assert first is (mine < SERVICE_NICENESS)
    assert theirs == max(mine, SERVICE_NICENESS)
    assert again is False  # already that low: nothing to do
    assert _nice(threading.get_native_id()) == mine  # the caller's thread is untouched


@pytest.mark.skipif(sys.platform.startswith("linux"), reason="elsewhere only")
def test_elsewhere_nothing_changes() -> None:
    assert _in_thread(lower_thread_priority) == [False]


@linux
def test_the_session_writer_runs_below_the_window(tmp_path: Path) -> None:
    mine = _nice(threading.get_native_id())
    writer = SessionWriter(tmp_path / "s.dnnsession", create=True)
    try:
        native_id = writer._thread.native_id
        assert native_id is not None
        assert _nice(native_id) == max(mine, SERVICE_NICENESS)
        assert _nice(threading.get_native_id()) == mine
    finally:
        writer.close()
