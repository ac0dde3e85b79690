"""Small widget helpers shared by the panels."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget


def fill_with_scrolling(panel: QWidget, content: QWidget) -> QScrollArea:
    """Make ``content`` the whole of ``panel``, scrolling vertically when the dock is short.

    Panels live in docks that the user can make small; a form that does not fit scrolls
    instead of being squeezed.
    """
    scroll = QScrollArea(panel)
    scroll.setWidget(content)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    outer = QVBoxLayout(panel)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.addWidget(scroll)
    return scroll
