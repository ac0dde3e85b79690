"""After a crash, the next launch offers to reopen the session that was open."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import Dialogs
from PySide6.QtCore import QCoreApplication, QEvent, QSettings
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from dnnstudio.gui import app as app_module
from dnnstudio.gui import controller as controller_module
from dnnstudio.gui.main_window import MainWindow
from dnnstudio.gui.recovery import SessionGuard


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def windows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[MainWindow]]:
    monkeypatch.setattr(controller_module, "default_session_dir",
                        lambda: tmp_path / "sessions")
    made: list[MainWindow] = []
    yield made
    for window in made:
        window.close()
        window.controller.shutdown()
        window.dataset_panel.shutdown()
        window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


def _launch(windows: list[MainWindow], settings: QSettings, guard: SessionGuard,
            session: str | None = None) -> MainWindow:
    window = app_module.create_window(session, settings=settings, guard=guard)
    windows.append(window)
    return window


def test_a_crash_leaves_a_mark_and_the_next_launch_offers_the_session(
        qtbot: QtBot, settings: QSettings, dialogs: Dialogs,
        windows: list[MainWindow]) -> None:
    guard = SessionGuard(settings)
    first = _launch(windows, settings, guard)
    path = first.controller.path
    assert path is not None
    assert guard.crashed_session() == path  # open, and not yet closed cleanly
    # The app dies here: run() never reaches closed_cleanly().
    first.close()
    second = _launch(windows, settings, SessionGuard(settings))
    assert [t for t, _ in dialogs.questions] == ["Reopen the last session?"]
    assert second.controller.path == path


def test_declining_starts_a_new_session(settings: QSettings, dialogs: Dialogs,
                                        windows: list[MainWindow]) -> None:
    guard = SessionGuard(settings)
    first = _launch(windows, settings, guard)
    first.close()
    dialogs.answer = QMessageBox.StandardButton.No
    second = _launch(windows, settings, guard)
    assert [t for t, _ in dialogs.questions] == ["Reopen the last session?"]
    assert second.controller.path != first.controller.path


def test_a_clean_exit_or_a_file_named_on_the_command_line_asks_nothing(
        settings: QSettings, dialogs: Dialogs, windows: list[MainWindow]) -> None:
    guard = SessionGuard(settings)
    first = _launch(windows, settings, guard)
    path = first.controller.path
    guard.closed_cleanly()
    assert guard.crashed_session() is None
    _launch(windows, settings, guard)
    assert dialogs.questions == []
    guard.opened(str(path))  # a crash again, but a session was asked for by name
    third = _launch(windows, settings, guard, session=str(path))
    assert dialogs.questions == []
    assert third.controller.path == path


def test_a_vanished_file_is_not_offered(tmp_path: Path, settings: QSettings) -> None:
    guard = SessionGuard(settings)
    guard.opened(str(tmp_path / "gone.dnnsession"))
    assert guard.crashed_session() is None
