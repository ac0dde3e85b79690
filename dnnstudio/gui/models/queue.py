"""The experiment queue as a Qt item model: order, status, progress and time left."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt

from ...runs.records import ExperimentRecord, ExperimentState
from ..palette import color_for
from .records import RecordListModel
from .results import ID_ROLE

PROGRESS_ROLE = Qt.ItemDataRole.UserRole + 10
"""Fraction done, 0..1, for the progress-bar delegate."""

Index = QModelIndex | QPersistentModelIndex

HEADERS = ("#", "Status", "Progress", "Time left", "Hyperparameters")


def summary(record: ExperimentRecord) -> str:
    """A one-line description of an experiment's main hyperparameters."""
    hp = record.hyperparameters
    hidden = "-".join(str(n) for n in hp.hidden) if hp.hidden else "none"
    acts = hp.activation if isinstance(hp.activation, str) else "-".join(hp.activation)
    batch = "full batch" if hp.batch_size is None else f"batch {hp.batch_size}"
    return (f"alpha={hp.alpha:g}, hidden {hidden} {acts}, {hp.optimizer}, {batch}, "
            f"{hp.epochs} epochs")


def _time_left(record: ExperimentRecord) -> str:
    seconds = record.seconds_left()
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


class QueueModel(RecordListModel):
    """Experiments in queue order."""

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole
                and 0 <= section < len(HEADERS)):
            return HEADERS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._records):
            return None
        record = self._records[index.row()]
        column = index.column()
        if role == ID_ROLE:
            return record.id
        if role == PROGRESS_ROLE:
            return record.progress
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return str(record.id)
            if column == 1:
                return record.state.value
            if column == 2:
                return f"{100 * record.progress:.0f}%"
            if column == 3:
                return _time_left(record)
            return summary(record)
        if role == Qt.ItemDataRole.DecorationRole and column == 0:
            return color_for(record.id)
        if role == Qt.ItemDataRole.ToolTipRole:
            if record.message:
                return record.message
            if record.state is ExperimentState.QUEUED:
                return "Waiting for a free worker"
        return None
