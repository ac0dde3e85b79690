"""The Search panel: the session's searches, their controls, the presets and the views.

The list shows each search's state, trials done and best so far; Pause, Resume and Cancel
act on the search selected there (or picked above the views). *New search…* opens the
dialog on the editor's hyperparameters; *Learning-rate lab* and *Compare search strategies*
set up the lesson's presets on the planar data, with a few sentences on why those values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHeaderView,
    QSizePolicy,
    QSplitter,
    QTableView,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...core.data.spec import DatasetSpec
from ...core.hyperparams import Hyperparameters
from ...runs.records import ExperimentRecord
from ...search.presets import learning_rate_lab, strategy_comparison
from ...search.spec import SearchSpec
from ..controller import SessionController
from .data import explanation_for
from .dialog import SearchDialog
from .manager import SearchManager
from .model import NAME_ROLE, SearchListModel, row_of
from .views import SearchViews

__all__ = ["SearchPanel"]

EXPLANATION_STYLE = ("QTextBrowser#searchExplanation { background: #eef4fb; color: #1d3557; "
                     "border: 1px solid #b8cde6; border-radius: 3px; padding: 2px; }")
LAB_TIP = ("Train the lesson's network on the planar data once for each alpha from 0.001 to "
           "300, and watch too small, good and too large happen")
COMPARE_TIP = ("Grid, random and Bayesian search on the same space and budget, their "
               "best-so-far curves overlaid")


class SearchPanel(QWidget):
    """The searches of the session and their views.

    Parameters
    ----------
    manager : SearchManager
    controller : SessionController
        For the session's dataset and experiments (the presets change the data).
    hyperparameters : callable
        The editor's current hyperparameters (None while invalid): a new search starts
        from them.
    use_dataset : callable(DatasetSpec, str) -> bool
        Makes a preset's data the session's, asking first if that means a new session (the
        window's own rule); False if the person kept the current data.

    Signals
    -------
    experimentSelected(int)
        A point or line of the views was clicked.
    searchStarted(str)
    """

    experimentSelected = Signal(int)
    searchStarted = Signal(str)

    def __init__(self, manager: SearchManager, controller: SessionController,
                 hyperparameters: Callable[[], Hyperparameters | None],
                 use_dataset: Callable[[DatasetSpec, str], bool],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.manager = manager
        self.controller = controller
        self._hyperparameters = hyperparameters
        self._use_dataset = use_dataset

        self.new_action = self._action("&New search…", self.new_search, "Ctrl+Shift+F",
                                       "Vary hyperparameters by grid, random or Bayesian search")
        self.lab_action = self._action("&Learning-rate lab", self.start_lab, None, LAB_TIP)
        self.compare_action = self._action("&Compare search strategies",
                                           self.compare_strategies, None, COMPARE_TIP)
        self.pause_action = self._action("&Pause search", self.pause_current, None,
                                         "Start no new trials; running ones finish")
        self.resume_action = self._action("&Resume search", self.resume_current, None,
                                          "Go on with the search (interrupted trials run "
                                          "again)")
        self.cancel_action = self._action("Ca&ncel search", self.cancel_current, None,
                                          "Stop the search: its queued and running trials are "
                                          "cancelled")

        self.model = SearchListModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.setAlternatingRowColors(True)
        # Room for a few searches (the comparison makes three) before it scrolls.
        self.table.setMinimumHeight(120)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.table.addActions([self.pause_action, self.resume_action, self.cancel_action])
        self.table.selectionModel().selectionChanged.connect(self._on_table_selection)

        # Why a preset tries what it tries: a few sentences, scrolling when the dock is short.
        self.explanation = QTextBrowser(self)
        self.explanation.setObjectName("searchExplanation")
        self.explanation.setStyleSheet(EXPLANATION_STYLE)
        self.explanation.setMinimumWidth(300)
        self.explanation.hide()
        self.views = SearchViews(self)

        buttons = QGridLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.setHorizontalSpacing(4)
        buttons.setVerticalSpacing(2)
        for i, action in enumerate((self.new_action, self.lab_action, self.compare_action,
                                    self.pause_action, self.resume_action, self.cancel_action)):
            button = QToolButton(self)
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            buttons.addWidget(button, i // 3, i % 3)
        side = QWidget(self)
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addLayout(buttons)
        side_layout.addWidget(self.table, 2)
        side_layout.addWidget(self.explanation, 3)
        # Side by side: the dock sits below the curves, wide and not very tall.
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(side)
        self.splitter.addWidget(self.views)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 5)
        self.splitter.setSizes([400, 1000])
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.splitter)

        # The time column of running searches moves once a second.
        self._clock = QTimer(self)
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self._refresh_rows)

        manager.searchesChanged.connect(self._reload)
        manager.searchChanged.connect(self._on_search_changed)
        controller.recordChanged.connect(self._on_record_changed)
        self.views.currentChanged.connect(self._on_current_changed)
        self.views.experimentSelected.connect(self.experimentSelected)
        self.views.set_source(manager.snapshots)
        self._reload()

    def _action(self, text: str, slot: Callable[[], Any], shortcut: str | None,
                tip: str) -> QAction:
        action = QAction(text, self)
        action.triggered.connect(lambda _=False: slot())
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.setToolTip(tip)
        action.setStatusTip(tip)
        return action

    # -- what is shown ---------------------------------------------------------------------
    def current_name(self) -> str | None:
        """The search the views show and the buttons act on."""
        return self.views.current_name()

    def select_search(self, name: str) -> None:
        self.views.set_current(name)

    def set_selected_experiments(self, ids: list[int]) -> None:
        """Ring the experiments selected elsewhere (the results table) in the views."""
        self.views.set_selected(ids)

    # -- starting --------------------------------------------------------------------------
    def new_search(self) -> SearchDialog:
        """Open the search dialog on the editor's hyperparameters; accepting it starts the
        search. Returns the (window-modal, already open) dialog."""
        dialog = SearchDialog(self._hyperparameters(), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self._start_from(dialog))
        dialog.open()
        return dialog

    def start(self, spec: SearchSpec) -> str:
        """Start ``spec`` on the session's data and show it; returns its name."""
        runner = self.manager.start(spec)
        self.views.set_snapshots(self.manager.snapshots())
        self.views.set_current(runner.name)
        self._show_current()
        self.searchStarted.emit(runner.name)
        return runner.name

    def start_lab(self) -> str | None:
        """The learning-rate lab: the planar data, a grid over alpha, the cost curves with
        the advisor's verdicts. None if the person kept the current data."""
        dataset, spec = learning_rate_lab()
        if not self._use_dataset(dataset, "the learning-rate lab"):
            return None
        name = self.start(spec)
        self.views.tabs.setCurrentWidget(self.views.curves)
        return name

    def compare_strategies(self) -> list[str]:
        """Grid, random and Bayesian search on the same budget; the best-so-far view."""
        dataset, specs = strategy_comparison()
        if not self._use_dataset(dataset, "the comparison of search strategies"):
            return []
        names = [self.start(spec) for spec in specs]
        self.views.tabs.setCurrentWidget(self.views.best)
        return names

    def pause_current(self) -> None:
        name = self.current_name()
        if name is not None:
            self.manager.pause(name)

    def resume_current(self) -> None:
        name = self.current_name()
        if name is not None:
            self.manager.resume(name)

    def cancel_current(self) -> None:
        name = self.current_name()
        if name is not None:
            self.manager.cancel(name)

    def shutdown(self) -> None:
        self._clock.stop()
        self.views.shutdown()

    # -- internals -------------------------------------------------------------------------
    def _start_from(self, dialog: SearchDialog) -> None:
        spec = dialog.spec()
        if spec is not None:
            self.start(spec)

    def _reload(self) -> None:
        self.model.set_rows([row_of(r) for r in self.manager.runners()])
        self.views.set_snapshots(self.manager.snapshots())
        self._show_current()
        self._update_clock()

    def _on_search_changed(self, name: str) -> None:
        try:
            runner = self.manager.runner(name)
        except KeyError:
            return
        self.model.update_row(row_of(runner))
        self.views.refresh()
        if name == self.current_name():
            self._update_actions()
        self._update_clock()

    def _on_record_changed(self, record: ExperimentRecord) -> None:
        # A running trial's curve grows: the views follow (throttled by them).
        if record.group and record.group == self.current_name():
            self.views.refresh()

    def _refresh_rows(self) -> None:
        for runner in self.manager.runners():
            if runner.state.value == "running":
                self.model.update_row(row_of(runner))
        self._update_clock()

    def _update_clock(self) -> None:
        if self.manager.is_running():
            if not self._clock.isActive():
                self._clock.start()
        else:
            self._clock.stop()

    def _on_table_selection(self, *args: Any) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.views.set_current(str(rows[0].data(NAME_ROLE)))

    def _on_current_changed(self, name: str) -> None:
        self._show_current()

    def _show_current(self) -> None:
        name = self.current_name()
        row = None if name is None else self.model.row_named(name)
        selection = self.table.selectionModel()
        if row is not None:
            index = self.model.index(row, 0)
            if not selection.isRowSelected(row):
                selection.select(index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                                 | QItemSelectionModel.SelectionFlag.Rows)
        else:
            selection.clearSelection()
        text = ""
        if name is not None:
            try:
                text = explanation_for(self.manager.runner(name).spec)
            except KeyError:
                text = ""
        if self.explanation.toPlainText() != text:
            self.explanation.setPlainText(text)
        self.explanation.setVisible(bool(text))
        self._update_actions()

    def _update_actions(self) -> None:
        name = self.current_name()
        state = None
        if name is not None:
            try:
                state = self.manager.runner(name).state.value
            except KeyError:
                state = None
        self.pause_action.setEnabled(state == "running")
        self.resume_action.setEnabled(state == "paused")
        self.cancel_action.setEnabled(state in ("running", "paused"))
