"""Open one widget on its own in a window, for a quick look while working on it.

Each panel module ends with::

    if __name__ == "__main__":
        raise SystemExit(preview(MyPanel))

so ``python -m dnnstudio.gui.panels.editor`` shows the editor without the main window (the idea
of Orange's ``WidgetPreview``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from PySide6.QtWidgets import QApplication, QWidget

__all__ = ["preview"]


def preview(
    widget_factory: Callable[[], QWidget],
    *,
    title: str | None = None,
    size: tuple[int, int] | None = None,
) -> int:
    """Show the widget ``widget_factory()`` makes in a window and run the event loop.

    Parameters
    ----------
    widget_factory : callable
        Makes the widget; called after the QApplication exists (widgets need one).
    title : str, optional
        The window title (default: the widget's class name).
    size : (width, height), optional
        The window's initial size (default: the widget's size hint).

    Returns
    -------
    int
        The event loop's exit code, for ``raise SystemExit(preview(...))``.
    """
    app = QApplication.instance() or QApplication(sys.argv)
    widget = widget_factory()
    widget.setWindowTitle(title or type(widget).__name__)
    if size is not None:
        widget.resize(*size)
    widget.show()
    return app.exec()
