"""The results table: a Qt item model over the session's experiment records.

One row per experiment, in queue order. Besides the figures every experiment has, the table
shows only the hyperparameters that differ between experiments: those are the ones being
compared. A sort/filter proxy (:class:`ResultsProxy`) sorts on raw values, not on text.

The *Diagnosis* column is the cost-curve advisor's verdict (:mod:`dnnstudio.core.advisor`),
computed when a cell first needs it and kept until the experiment's epochs or state change.
The test-set columns show only what an experiment's one final evaluation measured; the table
never evaluates anything itself.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRunnable,
    QSortFilterProxyModel,
    Qt,
    QThreadPool,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont

from ...core.advisor import Diagnosis, diagnose
from ...core.hyperparams import Hyperparameters
from ...runs.messages import LIVE_DIAGNOSIS_EPOCHS
from ...runs.priority import lower_thread_priority
from ...runs.records import ExperimentRecord, ExperimentState
from ..palette import color_for
from .records import RecordListModel

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
"""Raw value of a cell for sorting (numbers as numbers, NaN last)."""
ID_ROLE = Qt.ItemDataRole.UserRole + 2
"""The experiment id of a row, in every column."""

Index = QModelIndex | QPersistentModelIndex


def _fmt(value: float, digits: int = 4) -> str:
    return "" if not math.isfinite(value) else f"{value:.{digits}f}"


def hp_text(name: str, value: Any) -> str:
    if name == "hidden":
        return "-".join(str(n) for n in value) if value else "none"
    if name == "activation" and isinstance(value, list | tuple):
        return "-".join(value)
    if value is None:
        return "off" if name == "patience" else "full" if name == "batch_size" else ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@dataclass(frozen=True)
class Column:
    """One column: its header, how a record shows in it and how it sorts."""

    key: str
    header: str
    text: Callable[[ExperimentRecord], str]
    value: Callable[[ExperimentRecord], Any]
    tooltip: str = ""
    numeric: bool = False
    tip: Callable[[ExperimentRecord], str] | None = None
    """A tooltip for each record's cell; the column's ``tooltip`` when it gives ""."""


def _metric_name(record: ExperimentRecord) -> str:
    return "R²" if record.metric == "r2" else "accuracy"


def _group_text(record: ExperimentRecord) -> str:
    if record.folds:
        return f"{record.group} ({record.folds}-fold)".strip()
    return record.group


def time_text(t: float | None) -> str:
    """A Unix time as local ``YYYY-MM-DD HH:MM`` ("" for None)."""
    return "" if t is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(t))


FIXED_BEFORE = [
    Column("id", "#", lambda r: str(r.id), lambda r: r.id, "Experiment number", True),
    Column("state", "Status", lambda r: r.state.value, lambda r: r.state.value,
           "queued, running, completed, diverged, cancelled, failed, interrupted or pruned"),
]
GROUP_COLUMN = Column(
    "group", "Search", lambda r: _group_text(r), lambda r: _group_text(r).lower(),
    "The search this experiment is a trial of (blank: queued by hand); k-fold: judged by "
    "cross-validation, its validation figures are the means over the folds")
"""Shown only once some experiment belongs to a search or is cross-validated."""
FIXED_AFTER = [
    Column("train_metric", "Train acc.", lambda r: _fmt(r.train_metric),
           lambda r: r.train_metric, "Accuracy (R² for regression) on the training set", True),
    Column("val_metric", "Val. acc.", lambda r: _fmt(r.val_metric),
           lambda r: r.val_metric,
           "Accuracy (R² for regression) on the validation set: compare experiments on this",
           True),
    Column("gap", "Gap", lambda r: _fmt(r.gap), lambda r: r.gap,
           "Training minus validation accuracy: a large gap means overfitting", True),
    Column("train_cost", "Train cost", lambda r: _fmt(r.train_cost), lambda r: r.train_cost,
           "Final cost J on the training set (with the L2 penalty)", True),
    Column("val_cost", "Val. cost", lambda r: _fmt(r.val_cost), lambda r: r.val_cost,
           "Final cost on the validation set", True),
    # The diagnosis column goes here; it is the model's own (ResultsModel._diagnosis_column).
    Column("test_metric", "Test acc.", lambda r: _fmt(r.test_metric) if r.tested else "",
           lambda r: r.test_metric if r.tested else math.nan,
           "Accuracy (R² for regression) on the test set, from the experiment's one final "
           "evaluation; blank until then. Choose on validation, never on this", True),
    Column("tested_at", "Tested at", lambda r: time_text(r.tested_at) if r.tested else "",
           lambda r: r.tested_at if r.tested_at is not None else math.nan,
           "When the test set was used on this experiment (blank: never)", True),
    Column("time", "Time (s)", lambda r: _fmt(r.train_time_s, 2), lambda r: r.train_time_s,
           "Training time in seconds", True),
    Column("epochs", "Epochs", lambda r: str(r.epochs_run), lambda r: r.epochs_run,
           "Epochs run", True),
    Column("params", "Parameters", lambda r: f"{r.parameter_count:,}" if r.parameter_count
           else "", lambda r: r.parameter_count, "Number of learned W[l], b[l] entries", True),
    Column("note", "Note", lambda r: r.note, lambda r: r.note.lower(),
           "Your note: what you tried and why (double-click to edit)"),
]


_METRIC_KEYS = ("train_metric", "val_metric", "test_metric")
"""Columns whose header says "R²" instead of "acc." when every experiment is a regression."""


def _hp_column(name: str) -> Column:
    return Column(
        f"hp:{name}",
        name,
        lambda r: hp_text(name, r.hyperparameters.to_dict()[name]),
        lambda r: _hp_sort_value(r.hyperparameters.to_dict()[name]),
        f"Hyperparameter {name}: chosen by you",
        False,
    )


def _hp_sort_value(value: Any) -> Any:
    if isinstance(value, list):
        return (len(value), tuple(str(v) for v in value))
    if value is None:
        return -math.inf
    return value


def differing_fields(hps: Sequence[Hyperparameters]) -> list[str]:
    """Hyperparameter names whose values are not the same in all of ``hps``, in field order."""
    if len(hps) < 2:
        return []
    dicts = [hp.to_dict() for hp in hps]
    return [name for name in dicts[0] if any(d[name] != dicts[0][name] for d in dicts[1:])]


class _DiagnosisRelay(QObject):
    """Lives in the GUI thread; a task emits through it, so the slot runs there."""

    done = Signal(int, object, object)
    """Experiment id, the cache key the task was for, and its Diagnosis (None: it failed)."""


class _DiagnosisTask(QRunnable):
    """The diagnosis of a long finished run that came without one (from a session file)."""

    def __init__(self, record: ExperimentRecord, key: tuple[Any, ...],
                 relay: _DiagnosisRelay) -> None:
        super().__init__()
        # A record is frozen and its history is read only up to its own length, which the
        # GUI thread's later epochs never touch.
        self._record, self._key, self._relay = record, key, relay

    def run(self) -> None:
        lower_thread_priority()  # the model's own pool: its one thread only diagnoses
        try:
            found: Diagnosis | None = diagnose(self._record)
        except Exception:  # shown as no diagnosis; the finished run is diagnosed again
            found = None
        self._relay.done.emit(self._record.id, self._key, found)


class ResultsModel(RecordListModel):
    """Experiments as rows; the columns follow what differs between them.

    Signals
    -------
    noteEdited(int, str)
        The user edited a note in the table: experiment id and the new text. The model does
        not change the record itself; the owner applies the edit and calls
        :meth:`update_record`.
    """

    noteEdited = Signal(int, str)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._diagnoses: dict[int, tuple[tuple[Any, ...], Diagnosis]] = {}
        # Live diagnoses of long runs; the pool is made before the relay, so it is destroyed
        # (waiting for its task) after.
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = _DiagnosisRelay(self)
        self._relay.done.connect(self._on_diagnosed)
        self._in_flight: dict[int, tuple[Any, ...]] = {}
        self._diagnosis_column = Column(
            "diagnosis", "Diagnosis",
            lambda r: "" if (d := self.diagnosis(r)) is None else d.label,
            lambda r: "" if (d := self.diagnosis(r)) is None else d.label,
            "What the cost curve and the train/validation gap say, and what to try next "
            "(hover a cell for the numbers)",
            tip=lambda r: "" if (d := self.diagnosis(r)) is None else d.text,
        )
        self._columns: list[Column] = self._make_columns()
        self._best_id: int | None = None

    @property
    def best_id(self) -> int | None:
        """The finished experiment with the highest validation accuracy (or R²)."""
        return self._best_id

    def column_keys(self) -> list[str]:
        return [c.key for c in self._columns]

    def diagnosis(self, record: ExperimentRecord) -> Diagnosis | None:
        """The advisor's diagnosis of ``record`` (None while it is queued), computed once per
        (experiment, epochs run, state) so that repaints do not repeat it. The start time is
        part of the key too: a run queued again may end in the same state at the same epoch.

        A run past :data:`~dnnstudio.runs.messages.LIVE_DIAGNOSIS_EPOCHS` is diagnosed by its
        worker process (``record.diagnosis``): while it trains, each time its epochs have grown
        by a quarter (None until the first), and once on its whole curve when it ends. Reading
        a 300,000-epoch curve is ~9 ms of Python, which in this process would hold up the
        window's thread. A long finished run that came without one (from a session file) is
        diagnosed in a thread of this model's (:meth:`is_diagnosing`); the cell is repainted
        when that is done.
        """
        if record.state is ExperimentState.QUEUED:
            return None
        if record.diagnosis is not None:
            return record.diagnosis
        long = record.epochs_run > LIVE_DIAGNOSIS_EPOCHS
        if long and record.state is ExperimentState.RUNNING:
            return None  # its worker's first diagnosis is still to come
        key = (record.epochs_run, record.state, record.started_at)
        cached = self._diagnoses.get(record.id)
        if cached is not None and cached[0] == key:
            return cached[1]
        if long:
            if self._in_flight.get(record.id) != key:
                self._in_flight[record.id] = key
                self._pool.start(_DiagnosisTask(record, key, self._relay))
            return None
        found = diagnose(record)
        self._diagnoses[record.id] = (key, found)
        return found

    def is_diagnosing(self) -> bool:
        """Whether a long finished run's diagnosis is being worked out in a thread."""
        return bool(self._in_flight)

    def _on_diagnosed(self, experiment_id: int, key: tuple[Any, ...],
                      found: Diagnosis | None) -> None:
        if self._in_flight.get(experiment_id) == key:
            del self._in_flight[experiment_id]
        row = self._row_of.get(experiment_id)
        if row is None or found is None:
            return
        record = self._records[row]
        if (record.epochs_run, record.state, record.started_at) != key:
            return  # queued or run again since
        self._diagnoses[experiment_id] = (key, found)
        column = self._columns.index(self._diagnosis_column)
        self.dataChanged.emit(self.index(row, column), self.index(row, column))

    # -- Qt model API ----------------------------------------------------------------------
    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._columns)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self._columns):
            return None
        column = self._columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            if column.key in _METRIC_KEYS and self._records and all(
                r.metric == "r2" for r in self._records
            ):
                return column.header.replace("acc.", "R²")
            return column.header
        if role == Qt.ItemDataRole.ToolTipRole:
            return column.tooltip
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._records):
            return None
        record = self._records[index.row()]
        column = self._columns[index.column()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return column.text(record)
        if role == SORT_ROLE:
            value = column.value(record)
            if isinstance(value, float) and math.isnan(value):
                return -math.inf
            return value
        if role == ID_ROLE:
            return record.id
        if role == Qt.ItemDataRole.TextAlignmentRole and column.numeric:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.DecorationRole and column.key == "id":
            return color_for(record.id)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column.key in ("state", "id") and record.message:
                return record.message
            if column.tip is not None and (tip := column.tip(record)):
                return tip
            return column.tooltip or None
        if role == Qt.ItemDataRole.BackgroundRole and record.id == self._best_id:
            return QBrush(QColor(255, 236, 150))
        if role == Qt.ItemDataRole.FontRole and record.id == self._best_id:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ForegroundRole and column.key == "state":
            return _STATE_COLOURS.get(record.state)
        if role == Qt.ItemDataRole.ForegroundRole and column.key == "diagnosis":
            found = self.diagnosis(record)
            return None if found is None else _VERDICT_COLOURS.get(found.verdict)
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        flags = super().flags(index)
        if index.isValid() and self._columns[index.column()].key == "note":
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def setData(  # noqa: N802
        self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole
    ) -> bool:
        if (
            role != Qt.ItemDataRole.EditRole
            or not index.isValid()
            or self._columns[index.column()].key != "note"
        ):
            return False
        self.noteEdited.emit(self._records[index.row()].id, str(value))
        return True

    # -- hooks and internals ---------------------------------------------------------------
    def _records_reset(self) -> None:
        self._diagnoses.clear()  # a new session may reuse the experiment ids
        self._in_flight.clear()
        self._columns = self._make_columns()
        self._best_id = self._find_best()

    def _records_changed(self) -> None:
        for gone in self._diagnoses.keys() - self._row_of.keys():
            del self._diagnoses[gone]
        self._refresh_columns()
        self._refresh_best()

    def _record_replaced(self, old: ExperimentRecord, new: ExperimentRecord) -> bool:
        if old.hyperparameters != new.hyperparameters and self._refresh_columns():
            return True
        row = self._row_of[new.id]
        # Only the cells whose text changed are repainted (a running experiment's progress
        # changes about half of them), one signal per run of adjacent columns.
        for first, last in _runs(self._changed_columns(old, new)):
            self.dataChanged.emit(self.index(row, first), self.index(row, last))
        self._refresh_best()
        return True

    def _changed_columns(self, old: ExperimentRecord, new: ExperimentRecord) -> list[int]:
        if old.state is not new.state or old.message != new.message:
            return list(range(len(self._columns)))  # colours and tooltips follow the state
        known, before = self._shown_before(old)
        changed = []
        for i, column in enumerate(self._columns):
            if column is self._diagnosis_column:
                # The new record's diagnosis is computed now, as the repaint would.
                if not known or _shown(self.diagnosis(new)) != before:
                    changed.append(i)
            elif column.text(old) != column.text(new):
                changed.append(i)
        return changed

    def _shown_before(self, old: ExperimentRecord) -> tuple[bool, tuple[str, str] | None]:
        """Whether what ``old``'s diagnosis cell shows is known without diagnosing it, and
        what that is."""
        if old.state is ExperimentState.QUEUED:
            return True, None
        if old.diagnosis is not None:
            return True, _shown(old.diagnosis)
        cached = self._diagnoses.get(old.id)
        if cached is not None and cached[0] == (old.epochs_run, old.state, old.started_at):
            return True, _shown(cached[1])
        # A long run without its worker's diagnosis shows none until one comes.
        return old.epochs_run > LIVE_DIAGNOSIS_EPOCHS, None

    def _make_columns(self) -> list[Column]:
        varying = differing_fields([r.hyperparameters for r in self._records])
        after = list(FIXED_AFTER)
        after.insert([c.key for c in after].index("val_cost") + 1, self._diagnosis_column)
        before = list(FIXED_BEFORE)
        if any(r.group or r.folds for r in self._records):
            before.append(GROUP_COLUMN)
        return before + [_hp_column(name) for name in varying] + after

    def _refresh_columns(self) -> bool:
        """Rebuild the columns if the set of differing hyperparameters changed."""
        columns = self._make_columns()
        if [c.key for c in columns] == [c.key for c in self._columns]:
            return False
        self.beginResetModel()
        self._columns = columns
        self.endResetModel()
        return True

    def _find_best(self) -> int | None:
        best: ExperimentRecord | None = None
        for record in self._records:
            if record.state is not ExperimentState.COMPLETED:
                continue
            if not math.isfinite(record.val_metric):
                continue
            if best is None or record.val_metric > best.val_metric:
                best = record
        return None if best is None else best.id

    def _refresh_best(self) -> None:
        best = self._find_best()
        if best == self._best_id:
            return
        rows = [self._row_of.get(i) for i in (self._best_id, best) if i is not None]
        self._best_id = best
        for row in rows:
            if row is not None:
                self.dataChanged.emit(self.index(row, 0),
                                      self.index(row, self.columnCount() - 1))


def _shown(found: Diagnosis | None) -> tuple[str, str] | None:
    """What a diagnosis cell paints: its label, in its verdict's colour."""
    return None if found is None else (found.label, found.verdict)


def _runs(indices: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted ``indices`` as ``(first, last)`` runs of consecutive numbers."""
    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


_STATE_COLOURS = {
    ExperimentState.RUNNING: QBrush(QColor(0, 90, 200)),
    ExperimentState.DIVERGED: QBrush(QColor(200, 40, 40)),
    ExperimentState.FAILED: QBrush(QColor(200, 40, 40)),
    ExperimentState.CANCELLED: QBrush(QColor(120, 120, 120)),
    ExperimentState.INTERRUPTED: QBrush(QColor(170, 110, 0)),
    ExperimentState.PRUNED: QBrush(QColor(130, 90, 160)),
}
_VERDICT_COLOURS = {
    "good": QBrush(QColor(30, 130, 50)),
    "too_small": QBrush(QColor(170, 110, 0)),
    "stuck": QBrush(QColor(170, 110, 0)),
    "overfitting": QBrush(QColor(170, 110, 0)),
    "too_large": QBrush(QColor(200, 40, 40)),
    "diverged": QBrush(QColor(200, 40, 40)),
    "too_early": QBrush(QColor(120, 120, 120)),
}


class ResultsProxy(QSortFilterProxyModel):
    """Sorts on raw values and filters rows by text (any column) and by status."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterKeyColumn(-1)
        self._states: set[str] | None = None

    def set_states(self, states: set[str] | None) -> None:
        """Show only rows in these states (None: all)."""
        self.beginFilterChange()
        self._states = states
        self.endFilterChange()

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:  # noqa: N802
        model = self.sourceModel()
        if (
            self._states is not None
            and isinstance(model, ResultsModel)
            and model.record_at(source_row).state.value not in self._states
        ):
            return False
        return super().filterAcceptsRow(source_row, source_parent)

    def lessThan(self, left: Index, right: Index) -> bool:  # noqa: N802
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        try:
            return bool(a < b)
        except TypeError:
            return str(a) < str(b)
