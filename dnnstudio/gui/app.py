"""Starting the desktop app: ``dnnstudio`` with no command, or ``dnnstudio FILE``."""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

import numpy as np
from PySide6.QtCore import QCoreApplication, QSettings, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from .. import __version__
from .controller import SessionController
from .main_window import MainWindow
from .recovery import SessionGuard


def app_icon() -> QIcon:
    """The application icon (an SVG under ``resources/icons``)."""
    icon = resources.files("dnnstudio.resources").joinpath("icons", "dnnstudio.svg")
    with resources.as_file(icon) as path:
        return QIcon(str(path))


def no_huge_pages() -> None:
    """Have NumPy allocate this process's arrays in ordinary pages.

    On Linux NumPy asks for transparent huge pages for every array over 4 MB. The window's
    curve and history buffers are sized for a run's planned epochs and filled as epochs
    arrive, so each first write into a 2 MB page made the kernel clear the whole page while
    the GUI thread waited: 14-60 ms at a time on a long planar run. Ordinary pages are
    cleared 4 KB at a time, a few microseconds each. Worker processes keep NumPy's default,
    which suits their large matrix products.
    """
    switch = getattr(getattr(np, "_core", None), "multiarray", None)
    if switch is not None and hasattr(switch, "_set_madvise_hugepage"):
        switch._set_madvise_hugepage(False)


def create_window(session: str | None = None, *, settings: QSettings | None = None,
                  guard: SessionGuard | None = None) -> MainWindow:
    """A ready main window on a new session, or on ``session`` if given and readable.

    Without ``session``, if the app did not close cleanly last time (``guard``), it offers to
    reopen the session that was open then.
    """
    no_huge_pages()
    if guard is not None and session is None:
        crashed = guard.crashed_session()
        if crashed is not None and QMessageBox.question(
                None, "Reopen the last session?",
                f"DNN Studio did not close properly last time. Everything that had finished "
                f"is saved in\n{crashed}\nReopen it? (Experiments that were training are "
                "marked interrupted; you can queue them again.)",
        ) == QMessageBox.StandardButton.Yes:
            session = str(crashed)
    controller = SessionController()
    if guard is not None:
        controller.pathChanged.connect(guard.opened)
    window = MainWindow(controller, settings)
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
    guard = SessionGuard(QSettings())
    try:
        window = create_window(session, guard=guard)
    except Exception as exc:  # the window cannot even start: say why in a dialog too
        QMessageBox.critical(None, "DNN Studio", f"DNN Studio could not start: {exc}")
        raise
    window.show()
    status = int(app.exec())
    # Reached only when the window closed normally; a crash or a kill leaves the mark.
    guard.closed_cleanly()
    return status
