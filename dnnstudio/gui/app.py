"""Starting the desktop app: ``dnnstudio`` with no command, or ``dnnstudio FILE``."""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from .. import __version__
from .controller import SessionController
from .main_window import MainWindow


def app_icon() -> QIcon:
    """The application icon (an SVG under ``resources/icons``)."""
    icon = resources.files("dnnstudio.resources").joinpath("icons", "dnnstudio.svg")
    with resources.as_file(icon) as path:
        return QIcon(str(path))


def create_window(session: str | None = None) -> MainWindow:
    """A ready main window on a new session, or on ``session`` if given and readable."""
    controller = SessionController()
    window = MainWindow(controller)
    opened = False
    if session is not None:
        opened = window.open_session(str(Path(session)))
    if not opened:
        controller.new_session()
    controller.start()
    # Spawning workers takes a few tens of milliseconds of this thread each: do it once the
    # window is up, not when the first experiment is queued.
    QTimer.singleShot(1000, controller.warm_up)
    return window


def run(session: str | None = None) -> int:
    """Open the main window and run the event loop; returns the exit status."""
    QCoreApplication.setOrganizationName("DNN Studio")
    QCoreApplication.setApplicationName("DNN Studio")
    QCoreApplication.setApplicationVersion(__version__)
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setWindowIcon(app_icon())
    app.setDesktopFileName("dnnstudio")
    try:
        window = create_window(session)
    except Exception as exc:  # the window cannot even start: say why in a dialog too
        QMessageBox.critical(None, "DNN Studio", f"DNN Studio could not start: {exc}")
        raise
    window.show()
    return int(app.exec())
