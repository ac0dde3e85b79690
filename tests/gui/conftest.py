"""GUI test fixtures: every QThread a test starts must have finished when it ends."""

from __future__ import annotations

import weakref
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QThread


@pytest.fixture(autouse=True)
def _no_dangling_qthreads(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    started: list[weakref.ref[QThread]] = []
    original = QThread.start

    def start(self: QThread, *args: object) -> None:
        started.append(weakref.ref(self))
        original(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(QThread, "start", start)
    yield
    running = [t for ref in started if (t := ref()) is not None and t.isRunning()]
    if running:
        for thread in running:
            thread.requestInterruption()
            thread.quit()
            thread.wait(5000)
        pytest.fail(f"the test left {len(running)} QThread(s) running: {running}")
