"""Stand-ins shared by the GUI tests."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QMessageBox


class Dialogs:
    """Stands in for QMessageBox's static functions: records what was asked or said, and
    answers questions with :attr:`answer`."""

    def __init__(self) -> None:
        self.answer = QMessageBox.StandardButton.Yes
        self.questions: list[tuple[str, str]] = []
        """(title, text) of every question, in order."""
        self.warnings: list[str] = []
        """Texts of warnings and errors."""
        self.informations: list[str] = []

    def question(self, parent: Any, title: str, text: str, *args: Any, **kwargs: Any) -> Any:
        self.questions.append((title, text))
        return self.answer

    def warning(self, parent: Any, title: str, text: str, *args: Any, **kwargs: Any) -> Any:
        self.warnings.append(text)
        return QMessageBox.StandardButton.Ok

    def information(self, parent: Any, title: str, text: str, *args: Any, **kwargs: Any) -> Any:
        self.informations.append(text)
        return QMessageBox.StandardButton.Ok

    def about(self, *args: Any, **kwargs: Any) -> None:
        return None
