"""The part every table of experiments shares: a list of records in queue order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex

from ...runs.records import ExperimentRecord

Index = QModelIndex | QPersistentModelIndex


class RecordListModel(QAbstractTableModel):
    """Rows are experiment records, in the order the owner gives; columns are the subclass's.

    The owner feeds changes in (:meth:`add_record`, :meth:`update_record`, ...); the model
    never changes a record itself.
    """

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._records: list[ExperimentRecord] = []
        self._row_of: dict[int, int] = {}

    # -- feeding ---------------------------------------------------------------------------
    def set_records(self, records: Sequence[ExperimentRecord]) -> None:
        self.beginResetModel()
        self._records = list(records)
        self._reindex()
        self._records_reset()
        self.endResetModel()

    def update_record(self, record: ExperimentRecord) -> None:
        """A record changed (state, figures or note); an unknown one is added at the end."""
        row = self._row_of.get(record.id)
        if row is None:
            self.add_record(record, len(self._records))
            return
        old = self._records[row]
        self._records[row] = record
        if not self._record_replaced(old, record):
            self.dataChanged.emit(self.index(row, 0), self.index(row, self.columnCount() - 1))

    def add_record(self, record: ExperimentRecord, row: int) -> None:
        row = max(0, min(row, len(self._records)))
        self.beginInsertRows(QModelIndex(), row, row)
        self._records.insert(row, record)
        self._reindex()
        self.endInsertRows()
        self._records_changed()

    def remove_record(self, experiment_id: int) -> None:
        row = self._row_of.get(experiment_id)
        if row is None:
            return
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._records[row]
        self._reindex()
        self.endRemoveRows()
        self._records_changed()

    def set_order(self, order: Sequence[int]) -> None:
        """Put the rows in ``order`` (experiment ids); ignored unless it names every row."""
        by_id = {r.id: r for r in self._records}
        if sorted(order) != sorted(by_id):
            return
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        old_ids = [self._records[p.row()].id for p in persistent]
        self._records = [by_id[i] for i in order]
        self._reindex()
        self.changePersistentIndexList(
            persistent,
            [self.index(self._row_of[i], p.column())
             for i, p in zip(old_ids, persistent, strict=True)],
        )
        self.layoutChanged.emit()

    # -- queries ---------------------------------------------------------------------------
    def record_at(self, row: int) -> ExperimentRecord:
        return self._records[row]

    def row_of(self, experiment_id: int) -> int | None:
        return self._row_of.get(experiment_id)

    def records(self) -> list[ExperimentRecord]:
        return list(self._records)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._records)

    # -- hooks for subclasses --------------------------------------------------------------
    def _records_reset(self) -> None:
        """Called inside a model reset, after the records were replaced."""

    def _records_changed(self) -> None:
        """Called after a record was added or removed."""

    def _record_replaced(self, old: ExperimentRecord, new: ExperimentRecord) -> bool:
        """Called after ``old`` was replaced by ``new``; True if the subclass already told
        the views (by a reset), so no dataChanged is needed."""
        return False

    def _reindex(self) -> None:
        self._row_of = {r.id: row for row, r in enumerate(self._records)}
