"""The experiment queue as a Qt item model: order, status, progress and time left."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from ...runs.records import ExperimentRecord, ExperimentState
from ..palette import color_for
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


class QueueModel(QAbstractTableModel):
    """Experiments in queue order."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._records: list[ExperimentRecord] = []
        self._row_of: dict[int, int] = {}

    def set_records(self, records: Sequence[ExperimentRecord]) -> None:
        self.beginResetModel()
        self._records = list(records)
        self._row_of = {r.id: i for i, r in enumerate(self._records)}
        self.endResetModel()

    def update_record(self, record: ExperimentRecord) -> None:
        row = self._row_of.get(record.id)
        if row is None:
            self.add_record(record, len(self._records))
            return
        self._records[row] = record
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(HEADERS) - 1))

    def add_record(self, record: ExperimentRecord, row: int) -> None:
        row = max(0, min(row, len(self._records)))
        self.beginInsertRows(QModelIndex(), row, row)
        self._records.insert(row, record)
        self._row_of = {r.id: i for i, r in enumerate(self._records)}
        self.endInsertRows()

    def remove_record(self, experiment_id: int) -> None:
        row = self._row_of.get(experiment_id)
        if row is None:
            return
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._records[row]
        self._row_of = {r.id: i for i, r in enumerate(self._records)}
        self.endRemoveRows()

    def set_order(self, order: Sequence[int]) -> None:
        by_id = {r.id: r for r in self._records}
        if set(order) != set(by_id):
            return
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        old_ids = [self._records[p.row()].id for p in persistent]
        self._records = [by_id[i] for i in order]
        self._row_of = {r.id: i for i, r in enumerate(self._records)}
        self.changePersistentIndexList(
            persistent,
            [self.index(self._row_of[i], p.column())
             for i, p in zip(old_ids, persistent, strict=True)],
        )
        self.layoutChanged.emit()

    def record_at(self, row: int) -> ExperimentRecord:
        return self._records[row]

    def row_of(self, experiment_id: int) -> int | None:
        return self._row_of.get(experiment_id)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._records)

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
