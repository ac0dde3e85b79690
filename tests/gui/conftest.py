"""GUI test fixtures: every QThread a test starts must have finished when it ends."""

from __future__ import annotations

import weakref
from collections.abc import Iterator

import pytest
from fakes import Dialogs
from PySide6.QtCore import QThread
from PySide6.QtWidgets import QMessageBox


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


@pytest.fixture
def dialogs(monkeypatch: pytest.MonkeyPatch) -> Dialogs:
    """No message box opens: each is recorded (and questions answered) by a fake."""
    fake = Dialogs()
    monkeypatch.setattr(QMessageBox, "question", staticmethod(fake.question))
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(fake.warning))
    monkeypatch.setattr(QMessageBox, "critical", staticmethod(fake.warning))
    monkeypatch.setattr(QMessageBox, "information", staticmethod(fake.information))
    monkeypatch.setattr(QMessageBox, "about", staticmethod(fake.about))
    return fake
