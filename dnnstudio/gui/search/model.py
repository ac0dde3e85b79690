"""The list of a session's searches: a Qt item model over one summary row per search."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from ...search.runner import SearchRunner
from ...search.strategies import TrialState

__all__ = ["NAME_ROLE", "SearchListModel", "SearchRow", "row_of"]

Index = QModelIndex | QPersistentModelIndex
NAME_ROLE = Qt.ItemDataRole.UserRole + 1
"""The search's name, in every column."""


@dataclass(frozen=True)
class SearchRow:
    """What the list shows of one search."""

    name: str
    strategy: str
    state: str
    done: int
    asked: int
    planned: int | None
    best: float | None
    best_id: int | None
    elapsed: float
    seconds: float | None
    description: str
    maximize: bool = True

    @property
    def trials_text(self) -> str:
        of = f"/{self.planned}" if self.planned is not None else ""
        busy = self.asked - self.done
        return f"{self.done}{of}" + (f" +{busy}" if busy else "")

    @property
    def best_text(self) -> str:
        if self.best is None:
            return ""
        return f"{self.best:.4f} (#{self.best_id})"

    @property
    def time_text(self) -> str:
        used = f"{self.elapsed:.0f} s"
        return f"{used} of {self.seconds:g} s" if self.seconds is not None else used


def row_of(runner: SearchRunner) -> SearchRow:
    trials = runner.trials()
    best = runner.best()
    return SearchRow(
        name=runner.name,
        strategy=runner.spec.strategy,
        state=runner.state.value,
        done=sum(t.state is not TrialState.RUNNING for t in trials),
        asked=len(trials),
        planned=runner.planned(),
        best=None if best is None or best.value is None or not math.isfinite(best.value)
        else best.value,
        best_id=None if best is None else best.experiment_id,
        elapsed=runner.elapsed(),
        seconds=runner.spec.seconds,
        description=runner.spec.describe(),
        maximize=runner.spec.maximize,
    )


_COLUMNS = ("Search", "State", "Trials done", "Best", "Time")
_TIPS = (
    "The search's name: its experiments form a group of that name",
    "running, paused (no new trials start), finished or cancelled",
    "Trials finished, of the most it will run (+ those queued or running)",
    "The best validation figure so far (accuracy or R², or cost), and its experiment",
    "Time used, of the time budget",
)
_STATE_COLOURS = {
    "running": QBrush(QColor(0, 90, 200)),
    "paused": QBrush(QColor(170, 110, 0)),
    "cancelled": QBrush(QColor(120, 120, 120)),
}


class SearchListModel(QAbstractTableModel):
    """One row per search, oldest first; the owner feeds :class:`SearchRow` values."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[SearchRow] = []

    def set_rows(self, rows: Sequence[SearchRow]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def update_row(self, row: SearchRow) -> None:
        """Replace the row of the same name (unknown names are ignored)."""
        for i, old in enumerate(self._rows):
            if old.name == row.name:
                if old != row:
                    self._rows[i] = row
                    self.dataChanged.emit(self.index(i, 0),
                                          self.index(i, len(_COLUMNS) - 1))
                return

    def row_at(self, row: int) -> SearchRow:
        return self._rows[row]

    def row_named(self, name: str) -> int | None:
        return next((i for i, r in enumerate(self._rows) if r.name == name), None)

    # -- Qt model API ----------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(_COLUMNS)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(_COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return _COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return _TIPS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (row.name, row.state, row.trials_text, row.best_text, row.time_text)[column]
        if role == NAME_ROLE:
            return row.name
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.description
        if role == Qt.ItemDataRole.ForegroundRole and column == 1:
            return _STATE_COLOURS.get(row.state)
        if role == Qt.ItemDataRole.TextAlignmentRole and column >= 2:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None
