"""Results: the comparison table and validation accuracy against training time.

The lesson's "95% in 1 hour or 96% in 10 hours" choice is the scatter: each finished
experiment is a point, and the Pareto front joins those that no other experiment beats on
both accuracy and time.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ...runs.records import ExperimentRecord, ExperimentState
from ..models.results import ID_ROLE, ResultsModel, ResultsProxy
from ..palette import color_for

SCATTER_DELAY_MS = 150
"""How long after an experiment finishes the scatter shows it."""

STATE_FILTERS = {
    "All experiments": None,
    "Finished": {"completed", "diverged", "cancelled", "failed", "interrupted", "pruned"},
    "Completed": {"completed"},
    "Running or queued": {"running", "queued"},
    "Diverged or failed": {"diverged", "failed"},
}


def pareto_front(points: Sequence[tuple[float, float, int]]) -> list[tuple[float, float, int]]:
    """Points ``(time, accuracy, id)`` that no other point beats on both counts.

    Returns them sorted by time: each is faster than every point after it, and every point
    after it is more accurate.
    """
    front: list[tuple[float, float, int]] = []
    best = -math.inf
    for point in sorted(points, key=lambda p: (p[0], -p[1])):
        if point[1] > best:
            front.append(point)
            best = point[1]
    return front


class AccuracyTimeScatter(pg.PlotWidget):
    """Validation accuracy against training time, one point per finished experiment."""

    experimentClicked = Signal(int)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent=parent, background="w")
        self.setLabel("bottom", "training time", units="s")
        self.setLabel("left", "validation accuracy")
        self.getAxis("left").enableAutoSIPrefix(False)
        self.showGrid(x=True, y=True, alpha=0.2)
        for name in ("left", "bottom"):
            # Major ticks and grid lines only: pyqtgraph draws every grid line of every
            # level on each repaint, and the finer levels took a repaint from ~3 to ~14 ms.
            self.getAxis(name).setStyle(maxTickLevel=0)
        self.setTitle("Accuracy against training time")
        self._front = self.plot([], [], pen=pg.mkPen((90, 90, 90), width=1.5,
                                                     style=Qt.PenStyle.DashLine))
        self._scatter = pg.ScatterPlotItem(size=11, hoverable=True, tip=self._tip)
        self._scatter.sigClicked.connect(self._on_clicked)
        self.addItem(self._scatter)
        self._selected: set[int] = set()
        self._records: list[ExperimentRecord] = []
        self._drawn: tuple[object, ...] | None = None

    def set_records(self, records: Sequence[ExperimentRecord]) -> None:
        self._records = [
            r for r in records
            if r.state is ExperimentState.COMPLETED
            and math.isfinite(r.train_time_s) and math.isfinite(r.val_metric)
        ]
        self._redraw()

    def set_selected(self, ids: Collection[int]) -> None:
        self._selected = set(ids)
        self._redraw()

    def point_count(self) -> int:
        return len(self._scatter.data)

    def front_ids(self) -> list[int]:
        return [p[2] for p in pareto_front(self._points())]

    def _points(self) -> list[tuple[float, float, int]]:
        return [(r.train_time_s, r.val_metric, r.id) for r in self._records]

    def _redraw(self) -> None:
        points = self._points()
        # Most record changes (a run starting, progress, a note) move no point: skip them.
        drawn = (tuple(points), frozenset(self._selected))
        if drawn == self._drawn:
            return
        self._drawn = drawn
        spots = []
        for t, acc, ident in points:
            selected = ident in self._selected
            spots.append({
                "pos": (t, acc),
                "data": ident,
                "brush": pg.mkBrush(color_for(ident)),
                "pen": pg.mkPen("k", width=2.5 if selected else 0.5),
                "size": 15 if selected else 11,
            })
        self._scatter.setData(spots)
        front = pareto_front(points)
        self._front.setData([p[0] for p in front], [p[1] for p in front])
        # Every finished experiment in view, whatever the user zoomed to before.
        self.getPlotItem().enableAutoRange()

    def _tip(self, x: float, y: float, data: Any) -> str:
        return f"#{data}: {100 * y:.1f}% in {x:.2f} s"

    def _on_clicked(self, item: Any, spots: Any, *args: Any) -> None:
        if len(spots):
            self.experimentClicked.emit(int(spots[0].data()))


class ResultsPanel(QWidget):
    """The results table (sortable, filterable, notes editable) above the scatter.

    Signals
    -------
    selectionChanged(list)
        Ids of the experiments selected in the table.
    noteEdited(int, str)
    """

    selectionChanged = Signal(list)
    noteEdited = Signal(int, str)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.model = ResultsModel(self)
        self.proxy = ResultsProxy(self)
        self.proxy.setSourceModel(self.model)
        self.model.noteEdited.connect(self.noteEdited)

        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText("Filter: any text, e.g. adam or 0.03")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self.proxy.setFilterFixedString)
        self.state_filter = QComboBox(self)
        self.state_filter.addItems(list(STATE_FILTERS))
        self.state_filter.currentTextChanged.connect(
            lambda text: self.proxy.set_states(STATE_FILTERS[text])
        )

        self.table = QTableView(self)
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        # Columns are fitted to their contents a moment after rows or columns change, one
        # column per turn of the event loop: the whole table at once took 7-10 ms.
        self._resize_timer = QTimer(self)
        self._resize_timer.setSingleShot(True)
        self._resize_timer.setInterval(300)
        self._resize_timer.timeout.connect(self._resize_columns)
        self._columns_to_fit: list[int] = []
        self._fit_timer = QTimer(self)
        self._fit_timer.setSingleShot(True)
        self._fit_timer.setInterval(0)
        self._fit_timer.timeout.connect(self._fit_next_column)
        for signal in (self.model.rowsInserted, self.model.modelReset):
            signal.connect(self._resize_timer.start)
        # A finish updates the table at once and the scatter a moment later: together, the
        # two repaints held the GUI thread ~20 ms in one go.
        self._scatter_timer = QTimer(self)
        self._scatter_timer.setSingleShot(True)
        self._scatter_timer.setInterval(SCATTER_DELAY_MS)
        self._scatter_timer.timeout.connect(self._refresh_scatter)

        self.scatter = AccuracyTimeScatter(self)
        self.scatter.setMinimumWidth(260)
        self.scatter.experimentClicked.connect(self.select)

        bar = QHBoxLayout()
        bar.addWidget(self.filter_edit, 1)
        bar.addWidget(self.state_filter)
        table_side = QWidget(self)
        table_layout = QVBoxLayout(table_side)
        table_layout.setContentsMargins(0, 0, 0, 0)
        table_layout.addLayout(bar)
        table_layout.addWidget(self.table)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(table_side)
        self.splitter.addWidget(self.scatter)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.splitter)

        # The scatter shows finished experiments only: it changes when rows come and go or
        # an experiment finishes, not with every epoch of a running one.
        # Queuing or removing an experiment redraws the scatter a moment later too, not in
        # the same stretch as the table (a scatter repaint is ~5 ms).
        for signal in (self.model.rowsInserted, self.model.rowsRemoved, self.model.modelReset):
            signal.connect(self._scatter_timer.start)

    # -- feeding ---------------------------------------------------------------------------
    def set_records(self, records: Sequence[ExperimentRecord]) -> None:
        self.model.set_records(records)
        self._refresh_scatter()

    def update_record(self, record: ExperimentRecord) -> None:
        row = self.model.row_of(record.id)
        old = None if row is None else self.model.record_at(row)
        self.model.update_record(record)
        if old is None or old.state is not record.state or (
            record.state.is_finished() and old.note != record.note
        ):
            self._scatter_timer.start()
            self._resize_timer.start()

    def add_record(self, record: ExperimentRecord, row: int) -> None:
        self.model.add_record(record, row)

    def remove_record(self, experiment_id: int) -> None:
        self.model.remove_record(experiment_id)

    def set_order(self, order: Sequence[int]) -> None:
        self.model.set_order(order)

    # -- selection -------------------------------------------------------------------------
    def selected_ids(self) -> list[int]:
        rows = self.table.selectionModel().selectedRows()
        return sorted(int(index.data(ID_ROLE)) for index in rows)

    def select(self, experiment_id: int) -> None:
        row = self.model.row_of(experiment_id)
        if row is None:
            return
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not index.isValid():
            return
        flags = (QItemSelectionModel.SelectionFlag.ClearAndSelect
                 | QItemSelectionModel.SelectionFlag.Rows)
        self.table.selectionModel().select(QItemSelection(index, index), flags)
        self.table.scrollTo(index)

    def _on_selection(self, *args: Any) -> None:
        ids = self.selected_ids()
        self.scatter.set_selected(ids)
        self.selectionChanged.emit(ids)

    def _refresh_scatter(self, *args: Any) -> None:
        self._scatter_timer.stop()
        self.scatter.set_records(self.model.records())

    def _resize_columns(self) -> None:
        """Fit every column to its contents (at most 160 pixels), from the next turn of the
        event loop on, one column a turn."""
        self._columns_to_fit = list(range(self.table.horizontalHeader().count()))
        self._fit_timer.start()

    def _fit_next_column(self) -> None:
        header = self.table.horizontalHeader()
        while self._columns_to_fit:
            column = self._columns_to_fit.pop(0)
            if column < header.count():
                self.table.resizeColumnToContents(column)
                header.resizeSection(column, min(header.sectionSize(column), 160))
                break
        if self._columns_to_fit:
            self._fit_timer.start()

    def columns_fitted(self) -> bool:
        """Whether no fitting of the columns to their contents is due or under way."""
        return not (self._columns_to_fit or self._resize_timer.isActive()
                    or self._fit_timer.isActive())

