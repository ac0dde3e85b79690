"""The experiment queue: what waits, what runs, and the buttons to steer it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSpinBox,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QTableView,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from ...runs.records import ExperimentRecord, ExperimentState
from ..models.queue import PROGRESS_ROLE, QueueModel
from ..models.results import ID_ROLE


class ProgressDelegate(QStyledItemDelegate):
    """Draws the progress column as a progress bar."""

    def paint(self, painter: Any, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        fraction = index.data(PROGRESS_ROLE)
        if fraction is None:
            super().paint(painter, option, index)
            return
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(2, 3, -2, -3)
        bar.minimum = 0
        bar.maximum = 1000
        bar.progress = int(1000 * float(fraction))
        bar.text = index.data(Qt.ItemDataRole.DisplayRole) or ""
        bar.textVisible = True
        bar.state = option.state
        style = option.widget.style() if option.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter)


class QueuePanel(QWidget):
    """The queue, with actions on the selected experiments.

    The panel only asks; the owner (the session controller) decides and updates the model.

    Signals
    -------
    duplicateRequested(int), removeRequested(list), cancelRequested(list),
    requeueRequested(list), moveRequested(int, int)
        Experiment ids (and for a move, the new row).
    pauseToggled(bool)
        True to pause the queue.
    parallelChanged(int)
        How many experiments may train at once.
    selectionChanged(list)
    """

    duplicateRequested = Signal(int)
    removeRequested = Signal(list)
    cancelRequested = Signal(list)
    requeueRequested = Signal(list)
    moveRequested = Signal(int, int)
    pauseToggled = Signal(bool)
    parallelChanged = Signal(int)
    selectionChanged = Signal(list)

    def __init__(self, parent: Any = None, *, parallel: int = 2, max_parallel: int = 16) -> None:
        super().__init__(parent)
        self.model = QueueModel(self)
        self.view = QTableView(self)
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.verticalHeader().hide()
        self.view.setItemDelegateForColumn(2, ProgressDelegate(self.view))
        header = self.view.horizontalHeader()
        # Fixed widths: resizing to contents measures every row on every progress update.
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in enumerate((44, 86, 110, 70)):
            header.resizeSection(column, width)
        header.setStretchLastSection(True)
        self.view.selectionModel().selectionChanged.connect(self._on_selection)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)

        self.duplicate_action = self._action("Clone and vary", "Duplicate the selected "
                                             "experiment right after it, to change one thing",
                                             self._on_duplicate, "Ctrl+D")
        self.up_action = self._action("Move up", "Run earlier", lambda: self._on_move(-1))
        self.down_action = self._action("Move down", "Run later", lambda: self._on_move(+1))
        self.cancel_action = self._action("Cancel", "Stop the selected experiments",
                                          lambda: self.cancelRequested.emit(self.selected_ids()),
                                          "Ctrl+.")
        self.requeue_action = self._action(
            "Queue again", "Run a cancelled, failed or interrupted experiment again",
            lambda: self.requeueRequested.emit(self.selected_ids()))
        self.remove_action = self._action("Remove", "Remove the selected experiments",
                                          lambda: self.removeRequested.emit(self.selected_ids()),
                                          "Del")
        self.pause_action = QAction("Pause queue", self)
        self.pause_action.setCheckable(True)
        self.pause_action.setToolTip("Finish what is running but start nothing new")
        self.pause_action.toggled.connect(self.pauseToggled)

        buttons = QHBoxLayout()
        # A tool bar folds the actions that do not fit into a ">>" menu, so the panel can be
        # narrow; the same actions are in the table's context menu.
        toolbar = QToolBar(self)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        toolbar.addActions([self.pause_action, self.duplicate_action, self.cancel_action,
                            self.requeue_action, self.up_action, self.down_action,
                            self.remove_action])
        buttons.addWidget(toolbar, 1)
        self.parallel = QSpinBox(self)
        self.parallel.setRange(1, max_parallel)
        self.parallel.setValue(parallel)
        self.parallel.setToolTip("How many experiments train at once, each in its own process "
                                 "(default: the number of CPU cores)")
        self.parallel.valueChanged.connect(self.parallelChanged)
        buttons.addWidget(QLabel("At once:", self))
        buttons.addWidget(self.parallel)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(buttons)
        layout.addWidget(self.view)
        self._update_actions()

    def _action(self, text: str, tip: str, slot: Any, shortcut: str | None = None) -> QAction:
        action = QAction(text, self)
        action.setToolTip(tip)
        action.triggered.connect(slot)
        if shortcut:
            action.setShortcut(shortcut)
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.view.addAction(action)
        return action

    # -- feeding ---------------------------------------------------------------------------
    def set_records(self, records: Sequence[ExperimentRecord]) -> None:
        self.model.set_records(records)
        self._update_actions()

    def update_record(self, record: ExperimentRecord) -> None:
        self.model.update_record(record)
        self._update_actions()

    def add_record(self, record: ExperimentRecord, row: int) -> None:
        self.model.add_record(record, row)

    def remove_record(self, experiment_id: int) -> None:
        self.model.remove_record(experiment_id)
        self._update_actions()

    def set_order(self, order: Sequence[int]) -> None:
        self.model.set_order(order)

    def set_paused(self, paused: bool) -> None:
        self.pause_action.blockSignals(True)
        self.pause_action.setChecked(paused)
        self.pause_action.setText("Resume queue" if paused else "Pause queue")
        self.pause_action.blockSignals(False)

    # -- selection -------------------------------------------------------------------------
    def selected_ids(self) -> list[int]:
        return [int(i.data(ID_ROLE)) for i in self.view.selectionModel().selectedRows()]

    def select(self, ids: Sequence[int]) -> None:
        self.view.clearSelection()
        for ident in ids:
            row = self.model.row_of(ident)
            if row is not None:
                self.view.selectRow(row)

    def _selected_records(self) -> list[ExperimentRecord]:
        return [self.model.record_at(i.row()) for i in self.view.selectionModel().selectedRows()]

    def _on_selection(self, *args: Any) -> None:
        self._update_actions()
        self.selectionChanged.emit(self.selected_ids())

    def _update_actions(self) -> None:
        records = self._selected_records()
        one = len(records) == 1
        self.duplicate_action.setEnabled(one)
        self.up_action.setEnabled(one)
        self.down_action.setEnabled(one)
        self.cancel_action.setEnabled(any(not r.state.is_finished() for r in records))
        self.requeue_action.setEnabled(any(r.state.can_requeue() for r in records))
        self.remove_action.setEnabled(
            bool(records) and all(r.state is not ExperimentState.RUNNING for r in records)
        )

    def _on_duplicate(self) -> None:
        ids = self.selected_ids()
        if len(ids) == 1:
            self.duplicateRequested.emit(ids[0])

    def _on_move(self, step: int) -> None:
        ids = self.selected_ids()
        if len(ids) != 1:
            return
        row = self.model.row_of(ids[0])
        if row is None:
            return
        target = row + step
        if 0 <= target < self.model.rowCount():
            self.moveRequested.emit(ids[0], target)
