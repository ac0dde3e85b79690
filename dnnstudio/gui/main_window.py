"""The main window: the composition root.

It builds the panels, puts them in docks, and wires their signals to the session controller.
It holds no state of its own beyond the window's: experiments live in the controller's
queue, hyperparameters in the editor, data in the dataset panel.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QCursor, QGuiApplication, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from .. import __version__
from ..core.data.dataset import Task
from ..core.data.spec import DatasetSpec
from ..core.errors import DnnStudioError
from ..runs.evaluation import format_metric, format_time, metric_name
from ..runs.records import ExperimentRecord, ExperimentState, TestEvaluation
from ..sessions.export import export_csv, export_parameters_npz
from ..sessions.store import SessionStore
from .controller import SESSION_SUFFIX, SessionController
from .panels.boundary import DecisionBoundaryView
from .panels.dataset import DatasetPanel
from .panels.details import DetailsPanel
from .panels.editor import HyperparameterEditor
from .panels.parameters import ParametersPanel
from .panels.plots import CostPlotsPanel
from .panels.queue import QueuePanel
from .panels.results import ResultsPanel
from .search import SearchManager, SearchPanel

MAX_RECENT = 8
ROWS_MS = 500
"""How often the running experiments' progress reaches a table: the queue and the results
table take turns, so each follows once a second and repainting one table's running rows is
a stretch of the GUI thread of its own (both at once took 2.5-8 ms)."""
SESSION_FILTER = f"DNN Studio sessions (*{SESSION_SUFFIX});;All files (*)"
BANNER_STYLE = ("QLabel#tuningWarning { background: #fff3b0; color: #3d3100; "
                "border: 1px solid #d9b500; border-radius: 3px; padding: 6px; }")
FINAL_EVALUATION_TIP = ("Evaluate the selected completed experiment on the held-out test set, "
                        "once")
WHY_TEST_ONCE = (
    "Hyperparameters are chosen on the validation set; the test set is held back for one "
    "final, unbiased estimate of how the chosen model does on new data, so each experiment "
    "is evaluated on it once.\n\n"
    "Once you have looked at a test result, going on tuning on this split lets what you saw "
    "leak into your choices, and the test estimate becomes optimistic.\n\n"
    "The evaluation is recorded in the session (which experiment, and when), and the window "
    "warns while tuning continues on this split."
)


def label_for(record: ExperimentRecord) -> str:
    """A short legend label (the plots put "#id" before it)."""
    hp = record.hyperparameters
    hidden = "-".join(str(n) for n in hp.hidden) or "none"
    return f"alpha={hp.alpha:g} [{hidden}] {hp.optimizer}"


class MainWindow(QMainWindow):
    """DNN Studio's window.

    Parameters
    ----------
    controller : SessionController
        Already holding a session (new or opened).
    settings : QSettings, optional
        Where the layout and recent files are remembered.
    """

    def __init__(self, controller: SessionController, settings: QSettings | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.settings = settings or QSettings()
        self.setObjectName("MainWindow")
        self.setDockNestingEnabled(True)
        self.resize(1400, 900)

        self.dataset_panel = DatasetPanel(self)
        self.editor = HyperparameterEditor(self)
        self.parameters_panel = ParametersPanel(self)
        self.queue_panel = QueuePanel(self, parallel=controller.workers)
        self.plots = CostPlotsPanel(self)
        self.boundary = DecisionBoundaryView(self)
        self.results = ResultsPanel(self)
        self.details = DetailsPanel(self)
        # The warning banner sits above the curves, in sight while tuning goes on.
        self.warning_banner = QLabel(self)
        self.warning_banner.setObjectName("tuningWarning")
        self.warning_banner.setStyleSheet(BANNER_STYLE)
        self.warning_banner.setWordWrap(True)
        self.warning_banner.hide()
        centre = QWidget(self)
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.setSpacing(2)
        centre_layout.addWidget(self.warning_banner)
        centre_layout.addWidget(self.plots, 1)
        self.setCentralWidget(centre)
        self.plots.setMinimumWidth(420)

        self.docks: dict[str, QDockWidget] = {}
        left, right, bottom = (Qt.DockWidgetArea.LeftDockWidgetArea,
                               Qt.DockWidgetArea.RightDockWidgetArea,
                               Qt.DockWidgetArea.BottomDockWidgetArea)
        self._dock("Data", self.dataset_panel, left)
        self._dock("Hyperparameters", self.editor, left)
        self._dock("Parameters W[l], b[l]", self.parameters_panel, left)
        self._dock("Queue", self.queue_panel, right)
        self._dock("Decision boundary", self.boundary, right)
        self._dock("Results", self.results, bottom)
        self._dock("Details and notes", self.details, bottom)
        self.tabifyDockWidget(self.docks["Data"], self.docks["Hyperparameters"])
        self.docks["Hyperparameters"].raise_()
        self.splitDockWidget(self.docks["Hyperparameters"],
                             self.docks["Parameters W[l], b[l]"], Qt.Orientation.Vertical)
        self.splitDockWidget(self.docks["Results"], self.docks["Details and notes"],
                             Qt.Orientation.Horizontal)
        # -- hyperparameter search: the manager runs the session's searches; its dock shares
        # the results' place (a search is looked at instead of, then beside, the table).
        self.search_manager = SearchManager(controller, self)
        self.search_panel = SearchPanel(self.search_manager, controller,
                                        self.editor.hyperparameters, self.use_dataset, self)
        self._dock("Search", self.search_panel, bottom)
        self.tabifyDockWidget(self.docks["Results"], self.docks["Search"])
        self.docks["Results"].raise_()

        # Progress of running experiments reaches the two tables in turn, ROWS_MS apart.
        self._pending_rows: tuple[dict[int, ExperimentRecord], ...] = ({}, {})
        self._rows_turn = 0
        self._rows_timer = QTimer(self)
        self._rows_timer.setSingleShot(True)
        self._rows_timer.setInterval(ROWS_MS)
        self._rows_timer.timeout.connect(self._flush_rows)
        # New experiments' curves are made just after the rows that show them, one experiment
        # per turn of the event loop: queuing two was one 16-19 ms stretch of this thread.
        self._new_curves: dict[int, ExperimentRecord] = {}
        self._curves_timer = QTimer(self)
        self._curves_timer.setSingleShot(True)
        self._curves_timer.setInterval(0)
        self._curves_timer.timeout.connect(self._add_new_curves)

        self._build_actions()
        self._build_status_bar()
        self._wire()
        self._restore_layout()
        self._reload_from_controller()
        self._update_test_lock()

    # -- construction ----------------------------------------------------------------------
    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock:{title}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.docks[title] = dock
        return dock

    def _action(self, text: str, slot: Any,
                shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
                tip: str = "") -> QAction:
        action = QAction(text, self)
        action.triggered.connect(slot)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        return action

    def _build_actions(self) -> None:
        std = QKeySequence.StandardKey
        self.new_action = self._action("&New session", self.new_session, std.New,
                                       "Start an empty session")
        self.open_action = self._action("&Open session…", self.open_session_dialog, std.Open)
        self.save_action = self._action("&Save", self.save, std.Save,
                                        "Sessions save as you work; this names an untitled one")
        self.save_as_action = self._action("Save &as…", self.save_as_dialog, std.SaveAs)
        self.export_csv_action = self._action("Export results as &CSV…", self.export_csv_dialog,
                                              "Ctrl+E")
        self.export_png_action = self._action("Export plots as &PNG…", self.export_png_dialog)
        self.export_npz_action = self._action("Export parameters W[l], b[l] (.npz)…",
                                              self.export_npz_dialog)
        self.quit_action = self._action("&Quit", self.close, std.Quit)
        self.add_action = self._action("&Add to queue", self.add_to_queue, "Ctrl+Return",
                                       "Queue an experiment with the editor's hyperparameters")
        self.run_action = self._action("&Run queue", lambda checked: self.controller.set_paused(
            not checked), "Ctrl+R", "Run or pause the queue")
        self.run_action.setCheckable(True)
        self.run_action.setChecked(True)
        self.cancel_action = self._action("&Cancel selected", self.cancel_selected, "Ctrl+.",
                                          "Stop the selected experiments")
        self.final_evaluation_action = self._action(
            "&Final evaluation…", self.final_evaluation_dialog, tip=FINAL_EVALUATION_TIP)
        self.final_evaluation_action.setEnabled(False)
        self.about_action = self._action("&About DNN Studio", self.about)

        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addActions([self.new_action, self.open_action])
        self.recent_menu = file_menu.addMenu("Open &recent")
        file_menu.addSeparator()
        file_menu.addActions([self.save_action, self.save_as_action])
        file_menu.addSeparator()
        file_menu.addActions([self.export_csv_action, self.export_png_action,
                              self.export_npz_action])
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        exp_menu = menu.addMenu("&Experiments")
        exp_menu.addActions([self.add_action, self.run_action, self.cancel_action,
                             self.queue_panel.duplicate_action])
        exp_menu.addSeparator()
        exp_menu.addAction(self.final_evaluation_action)
        table = self.results.table
        table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        table.addAction(self.final_evaluation_action)
        # -- the Search menu (its actions are the search panel's) --
        search = self.search_panel
        search_menu = menu.addMenu("&Search")
        search_menu.addActions([search.new_action, search.lab_action, search.compare_action])
        search_menu.addSeparator()
        search_menu.addActions([search.pause_action, search.resume_action,
                                search.cancel_action])
        view_menu = menu.addMenu("&View")
        for dock in self.docks.values():
            view_menu.addAction(dock.toggleViewAction())
        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self.about_action)

        toolbar = QToolBar("Main", self)
        toolbar.setObjectName("toolbar:main")
        toolbar.addActions([self.new_action, self.open_action, self.save_action])
        toolbar.addSeparator()
        toolbar.addActions([self.add_action, self.run_action, self.cancel_action])
        toolbar.addSeparator()
        toolbar.addAction(self.export_csv_action)
        self.addToolBar(toolbar)
        self._refresh_recent_menu()

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.data_label = QLabel(self)
        self.queue_label = QLabel(self)
        self.queue_progress = QProgressBar(self)
        self.queue_progress.setRange(0, 1000)
        self.queue_progress.setMaximumWidth(180)
        self.queue_progress.setTextVisible(False)
        bar.addWidget(self.data_label, 1)
        bar.addPermanentWidget(self.queue_label)
        bar.addPermanentWidget(self.queue_progress)

    def _wire(self) -> None:
        c = self.controller
        c.sessionLoaded.connect(self._reload_from_controller)
        c.recordAdded.connect(self._on_record_added)
        c.recordChanged.connect(self._on_record_changed)
        c.recordRemoved.connect(self._on_record_removed)
        c.orderChanged.connect(self._on_order_changed)
        # Epochs that come before their experiment's turn to get curves make the
        # curves; the plan follows with them (CostPlotsPanel.add_experiment).
        c.progressAppended.connect(self.plots.append)
        self.plots.history_source = self._history_of
        c.parametersUpdated.connect(self._on_live_parameters)
        c.datasetChanged.connect(self._on_controller_dataset)
        c.pathChanged.connect(self._on_path_changed)
        c.pausedChanged.connect(self._on_paused)
        c.queueProgressChanged.connect(self._on_queue_progress)
        c.errorOccurred.connect(self._show_error)
        c.testEvaluated.connect(self._on_test_evaluated)
        c.sessionLoaded.connect(self._update_test_lock)
        c.datasetChanged.connect(self._update_test_lock)
        c.recordRemoved.connect(self._update_test_lock)
        c.recordChanged.connect(self._on_record_state)

        self.dataset_panel.datasetChanged.connect(self._on_dataset_chosen)
        self.editor.hyperparametersChanged.connect(self._update_parameters_panel)
        self.editor.validityChanged.connect(self._update_add_action)

        q = self.queue_panel
        q.duplicateRequested.connect(c.duplicate)
        q.removeRequested.connect(c.remove)
        q.cancelRequested.connect(c.cancel)
        q.requeueRequested.connect(c.requeue)
        q.moveRequested.connect(c.move)
        q.pauseToggled.connect(c.set_paused)
        q.parallelChanged.connect(c.set_parallel)
        q.selectionChanged.connect(self._on_queue_selection)

        self.results.selectionChanged.connect(self._on_selection)
        self.results.selectionChanged.connect(self._update_evaluation_action)
        self.results.noteEdited.connect(c.set_note)
        self.details.noteEdited.connect(c.set_note)

        # -- search: a point clicked in its views selects the experiment's row, as the
        # scatter's do; a started search is brought into view.
        self.search_panel.experimentSelected.connect(self.results.select)
        self.search_panel.searchStarted.connect(lambda _: self.docks["Search"].raise_())
        self.results.selectionChanged.connect(self.search_panel.set_selected_experiments)

    # -- layout and recent files -----------------------------------------------------------
    def _restore_layout(self) -> None:
        geometry = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        self._layout_restored = isinstance(state, QByteArray) and self.restoreState(state)
        results = self.settings.value("window/results")
        if isinstance(results, QByteArray):
            self.results.splitter.restoreState(results)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        if not self._layout_restored:
            self._layout_restored = True
            # Dock sizes only take once the window has its size.
            QTimer.singleShot(0, self._default_dock_sizes)

    def _default_dock_sizes(self) -> None:
        """The curves are the centre of the loop: they get the room, docks what they need."""
        width, height = self.width(), self.height()
        self.resizeDocks([self.docks["Hyperparameters"], self.docks["Queue"]],
                         [max(360, width // 4), max(380, width // 3)],
                         Qt.Orientation.Horizontal)
        self.resizeDocks([self.docks["Results"]], [max(300, int(height * 0.38))],
                         Qt.Orientation.Vertical)
        self.resizeDocks([self.docks["Results"], self.docks["Details and notes"]],
                         [int(width * 0.68), int(width * 0.32)], Qt.Orientation.Horizontal)
        self.resizeDocks([self.docks["Queue"], self.docks["Decision boundary"]],
                         [int(height * 0.3), int(height * 0.4)], Qt.Orientation.Vertical)
        self.results.splitter.setSizes([580, 420])

    def _save_layout(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("window/results", self.results.splitter.saveState())

    def recent_files(self) -> list[str]:
        value: Any = self.settings.value("recent/files", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in value or []]

    def _add_recent(self, path: str) -> None:
        files = [path] + [f for f in self.recent_files() if f != path]
        self.settings.setValue("recent/files", files[:MAX_RECENT])
        self._refresh_recent_menu()

    def _refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = self.recent_files()
        for path in files:
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: self.open_session(p))
        self.recent_menu.setEnabled(bool(files))

    # -- session actions -------------------------------------------------------------------
    def new_session(self) -> None:
        if not self._confirm_stop_running("start a new session"):
            return
        self.controller.new_session(self.controller.dataset)

    def open_session_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open session", "", SESSION_FILTER)
        if path:
            self.open_session(path)

    def open_session(self, path: str) -> bool:
        if not self._confirm_stop_running("open another session"):
            return False
        if not self._confirm_data_file(path):
            return False
        try:
            self.controller.open_session(path)
        except Exception as exc:  # SessionError and OSError: say it, keep the session open
            self._show_error(f"Could not open {path}: {exc}")
            return False
        self._add_recent(str(Path(path).resolve()))
        return True

    def _confirm_data_file(self, path: str) -> bool:
        """A session names the file its data comes from; one that does not look like data
        (``/etc/passwd``, say, in a session someone sent) is read only if the user agrees."""
        try:
            with SessionStore.open(path, read_only=True) as store:
                spec = store.dataset()
        except Exception:  # SessionError and OSError: open_session reports them
            return True
        if spec is None or not spec.unusual_file():
            return True
        answer = QMessageBox.question(
            self, "Read this data file?",
            f"The session {Path(path).name} trains on the file\n{spec.path}\nwhich does not "
            "look like a data file (CSV or .npz). Opening the session reads it, and its "
            "queued experiments train on it. Read it?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def save(self) -> None:
        if self.controller.untitled:
            self.save_as_dialog()
        else:
            self.controller.flush()
            self.statusBar().showMessage("Saved (sessions are saved as you work)", 3000)

    def save_as_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save session as", "session" +
                                              SESSION_SUFFIX, SESSION_FILTER)
        if not path:
            return
        if not path.endswith(SESSION_SUFFIX):
            path += SESSION_SUFFIX
        self.save_as(path)

    def save_as(self, path: str) -> bool:
        try:
            self.controller.save_as(path)
        except Exception as exc:
            self._show_error(f"Could not save the session as {path}: {exc}")
            return False
        self._add_recent(str(Path(path).resolve()))
        self.statusBar().showMessage(f"Saved as {path}", 3000)
        return True

    def export_csv_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export results", "results.csv",
                                              "CSV files (*.csv)")
        if path:
            self.export_csv(path)

    def export_csv(self, path: str) -> bool:
        try:
            export_csv(self.controller.records, path, dataset=self.controller.dataset)
        except (OSError, DnnStudioError) as exc:
            self._show_error(f"Could not write {path}: {exc}")
            return False
        self.statusBar().showMessage(f"Exported {len(self.controller.records)} experiments "
                                     f"to {path}", 3000)
        return True

    def export_png_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export plots", "curves.png",
                                              "PNG images (*.png)")
        if path:
            try:
                self.plots.export_png(path)
            except Exception as exc:
                self._show_error(f"Could not write {path}: {exc}")

    def export_npz_dialog(self) -> None:
        record = self._current_record()
        if record is None or record.params is None:
            self._show_error("Select a finished experiment first: its learned W[l] and b[l] "
                             "are what is exported.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export parameters",
                                              f"experiment-{record.id}.npz",
                                              "NumPy archives (*.npz)")
        if path:
            try:
                export_parameters_npz(record, path)
            except (OSError, DnnStudioError) as exc:
                self._show_error(f"Could not write {path}: {exc}")

    def add_to_queue(self) -> None:
        hp = self.editor.hyperparameters()
        if hp is None:
            self._show_error("Fix the hyperparameters marked in red first.")
            return
        record = self.controller.add_experiment(hp)
        used = self.controller.evaluations_on_split()
        if used:
            which = ", ".join(f"#{e.experiment_id}" for e in used)
            self.statusBar().showMessage(
                f"Queued experiment #{record.id}. The test set of this split was already used "
                f"(final evaluation of {which}): tuning further makes its estimate "
                "optimistic.", 15000)
        else:
            self.statusBar().showMessage(f"Queued experiment #{record.id}", 3000)

    def cancel_selected(self) -> None:
        ids = sorted(set(self.results.selected_ids()) | set(self.queue_panel.selected_ids()))
        self.controller.cancel(ids)

    def final_evaluation_dialog(self) -> None:
        """Ask, then evaluate the selected experiment on the test set and show the result."""
        ids = self.results.selected_ids()
        refusal = self.controller.evaluation_refusal(ids)
        if refusal is not None:
            self._show_error(refusal)
            return
        experiment_id = ids[0]
        text = f"Evaluate experiment #{experiment_id} on the test set?\n\n{WHY_TEST_ONCE}"
        used = self.controller.evaluations_on_split()
        if used:
            earlier = ", ".join(f"#{e.experiment_id} at {format_time(e.at)}" for e in used)
            text += (f"\n\nThe test set of this split was already used for {earlier}; this "
                     "is another look at it.")
        answer = QMessageBox.question(
            self, "Final evaluation", text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        if answer != QMessageBox.StandardButton.Yes:
            self.statusBar().showMessage("Not evaluated: the test set was not touched", 5000)
            return
        QGuiApplication.setOverrideCursor(QCursor(Qt.CursorShape.WaitCursor))
        try:
            evaluation = self.controller.final_evaluation(experiment_id)
        except (DnnStudioError, OSError) as exc:  # refused, or the data cannot be read
            self._show_error(f"Experiment #{experiment_id} was not evaluated: {exc}")
            return
        finally:
            QGuiApplication.restoreOverrideCursor()
        record = self.controller.queue.records[experiment_id]
        name = metric_name(evaluation.metric)
        QMessageBox.information(
            self, "Final evaluation",
            f"Experiment #{experiment_id} on the test set ({evaluation.samples} examples):\n\n"
            f"test {name}: {format_metric(evaluation.metric, evaluation.test_metric)}\n"
            f"validation {name}: {format_metric(record.metric, record.val_metric)}\n\n"
            f"Recorded in the session at {format_time(evaluation.at)}. Keep this figure as "
            "the estimate for new data; further tuning on this split makes it optimistic.")

    def about(self) -> None:
        QMessageBox.about(
            self, "About DNN Studio",
            f"<b>DNN Studio {__version__}</b><p>The empirical loop of deep learning: have an "
            "idea, train, observe, refine.</p><p>You choose the hyperparameters (alpha, L, "
            "n[l], activations, …); training learns the parameters W[l], b[l].</p>")

    # -- reacting to the controller --------------------------------------------------------
    def _history_of(self, experiment_id: int) -> Any:
        record = self.controller.queue.records.get(experiment_id)
        return None if record is None else record.history

    def _reload_from_controller(self) -> None:
        for pending in self._pending_rows:
            pending.clear()
        self._new_curves.clear()
        records = self.controller.records
        self.queue_panel.set_records(records)
        self.results.set_records(records)
        self.plots.clear()
        for record in records:
            self.plots.add_experiment(record.id, label_for(record), record.hyperparameters.epochs)
            if record.epochs_run:
                self.plots.set_history(record.id, record.history)
            if record.state is ExperimentState.DIVERGED and record.diverged_epoch:
                self.plots.mark_diverged(record.id, record.diverged_epoch)
            if record.state.is_finished():
                self.plots.mark_finished(record.id)
        self.details.show_record(None)
        self.boundary.set_model(None, (), Task.BINARY)
        self.queue_panel.set_paused(self.controller.queue.paused)

    def _on_record_added(self, record: ExperimentRecord, row: int) -> None:
        self.queue_panel.add_record(record, row)
        self.results.add_record(record, row)
        self._new_curves[record.id] = record
        self._curves_timer.start()

    def _add_new_curves(self) -> None:
        """Make one new experiment's curves; the next ones follow, a turn of the event loop
        each (an experiment's four curves and legend entry take ~3 ms)."""
        if not self._new_curves:
            return
        record = self._new_curves.pop(next(iter(self._new_curves)))
        self.plots.add_experiment(record.id, label_for(record), record.hyperparameters.epochs)
        if self._new_curves:
            self._curves_timer.start()

    def _on_record_changed(self, record: ExperimentRecord) -> None:
        shown = self.queue_panel.model.row_of(record.id)
        previous = None if shown is None else self.queue_panel.model.record_at(shown)
        if (previous is not None and record.state is ExperimentState.RUNNING
                and previous.state is record.state and previous.note == record.note
                and record.epochs_run > 0):
            # Progress alone: the rows follow once a second, not with each message (every
            # update repaints a table's row).
            for pending in self._pending_rows:
                pending[record.id] = record
            if not self._rows_timer.isActive():
                self._rows_timer.start()
            return
        for pending in self._pending_rows:
            pending.pop(record.id, None)
        self.queue_panel.update_record(record)
        self.results.update_record(record)
        if (record.state is ExperimentState.RUNNING and record.epochs_run == 0
                and record.id not in self._new_curves):
            self.plots.set_history(record.id, record.history)  # a requeued run starts afresh
        if record.state.is_finished():
            # Curves fed by progress already hold every epoch; replacing a long one would
            # redo its reduction for nothing.
            if self.plots.epochs_shown(record.id) != record.epochs_run:
                self.plots.set_history(record.id, record.history)
            if record.state is ExperimentState.DIVERGED and record.diverged_epoch:
                self.plots.mark_diverged(record.id, record.diverged_epoch)
            self.plots.mark_finished(record.id)
        if self.details.experiment_id == record.id:
            self.details.show_record(record)
            self._show_boundary(record)

    def _flush_rows(self) -> None:
        """Show the progress held back for one table (the other's turn comes next)."""
        panels = (self.queue_panel, self.results)
        for _ in panels:
            turn = self._rows_turn
            self._rows_turn = 1 - turn
            pending = self._pending_rows[turn]
            if pending:
                records = list(pending.values())
                pending.clear()
                for record in records:
                    panels[turn].update_record(record)
                break
        if any(self._pending_rows):
            self._rows_timer.start()

    def _on_record_removed(self, experiment_id: int) -> None:
        for pending in self._pending_rows:
            pending.pop(experiment_id, None)
        self._new_curves.pop(experiment_id, None)
        self.queue_panel.remove_record(experiment_id)
        self.results.remove_record(experiment_id)
        self.plots.remove_experiment(experiment_id)
        if self.details.experiment_id == experiment_id:
            self.details.show_record(None)

    def _on_order_changed(self, order: list[int]) -> None:
        self.queue_panel.set_order(order)
        self.results.set_order(order)

    def _on_path_changed(self, path: str) -> None:
        name = "Untitled" if self.controller.untitled else Path(path).name
        self.setWindowTitle(f"{name} — DNN Studio")
        self.setWindowFilePath(path)

    def _on_paused(self, paused: bool) -> None:
        self.queue_panel.set_paused(paused)
        self.run_action.blockSignals(True)
        self.run_action.setChecked(not paused)
        self.run_action.blockSignals(False)

    def _on_queue_progress(self, fraction: float, running: int, waiting: int) -> None:
        self.queue_progress.setValue(int(1000 * fraction))
        paused = " (paused)" if self.controller.queue.paused else ""
        self.queue_label.setText(f"{running} running, {waiting} waiting{paused}")

    # -- the test set ----------------------------------------------------------------------
    def _on_test_evaluated(self, evaluation: TestEvaluation) -> None:
        self._update_test_lock()
        self.statusBar().showMessage(
            f"Experiment #{evaluation.experiment_id} evaluated on the test set: test "
            f"{metric_name(evaluation.metric)} "
            f"{format_metric(evaluation.metric, evaluation.test_metric)}", 10000)

    def _on_record_state(self, record: ExperimentRecord) -> None:
        # Progress of a running experiment changes neither the banner nor the action.
        if record.state.is_finished():
            self._update_test_lock()

    def _update_test_lock(self, *args: Any) -> None:
        """The banner and the Final evaluation action, as the session now stands."""
        text = self.controller.tuning_warning()
        if text is None:
            self.warning_banner.hide()
            self.warning_banner.clear()
        else:
            self.warning_banner.setText(text)
            self.warning_banner.show()
        self._update_evaluation_action()

    def _update_evaluation_action(self, *args: Any) -> None:
        refusal = self.controller.evaluation_refusal(self.results.selected_ids())
        self.final_evaluation_action.setEnabled(refusal is None)
        tip = FINAL_EVALUATION_TIP if refusal is None else refusal
        self.final_evaluation_action.setToolTip(tip)
        self.final_evaluation_action.setStatusTip(tip)

    # -- data and hyperparameters ----------------------------------------------------------
    def _on_dataset_chosen(self, spec: DatasetSpec) -> None:
        # The panel reports only its latest request (older loads are discarded), so this is
        # either the session's own dataset coming back or the user's new choice.
        if spec != self.controller.dataset and not self.use_dataset(spec):
            self.dataset_panel.set_spec(self.controller.dataset)
            return
        self._after_dataset_loaded()

    def use_dataset(self, spec: DatasetSpec, why: str = "") -> bool:
        """Make ``spec`` the session's data: at once if the session has no experiments, else
        in a new session once the person agrees (and agrees to stop what is training).

        ``why`` names what needs the data ("the learning-rate lab"), for the question.
        """
        if spec == self.controller.dataset:
            return True
        if not self.controller.records:
            self.controller.set_dataset(spec)
            return True
        reason = f"{why[:1].upper()}{why[1:]} trains on {spec.title}. " if why else ""
        answer = QMessageBox.question(
            self, "New session for this data?",
            f"{reason}The experiments of a session share their data and split, so that their "
            "validation accuracies can be compared.\n\nStart a new session with "
            f"{spec.title}? The current session stays saved in its file.")
        if answer != QMessageBox.StandardButton.Yes:
            return False
        if not self._confirm_stop_running("start a new session"):
            return False
        self.controller.new_session(spec)
        return True

    def _on_controller_dataset(self, spec: DatasetSpec) -> None:
        if self.dataset_panel.spec() != spec:
            self.dataset_panel.set_spec(spec)
        else:
            self._after_dataset_loaded()

    def _after_dataset_loaded(self) -> None:
        splits = self.dataset_panel.splits()
        if splits is None:
            self.data_label.setText("No data loaded")
            return
        ds = splits.dataset
        n_train, n_val, n_test = splits.sizes
        classes = f", {ds.n_classes} classes" if ds.n_classes else ", regression"
        self.data_label.setText(
            f"{self.controller.dataset.title}: {ds.n_samples} examples, {ds.n_features} "
            f"features{classes}; split {n_train}/{n_val}/{n_test} (test set held back)")
        live = ds.n_features == 2 and ds.task.is_classification
        # Only a two-feature dataset has a map to draw; only then do workers send parameters.
        self.controller.set_live_parameters(0.3 if live else None)
        if live:
            data = splits.training_data()
            self.boundary.set_points(data.X_train, data.y_train, ds.class_names)
        self._update_parameters_panel()
        self._update_add_action()

    def _shape(self) -> tuple[int, int] | None:
        splits = self.dataset_panel.splits()
        if splits is None:
            return None
        data = splits.training_data()
        return data.n_features, data.n_outputs

    def _update_parameters_panel(self, *args: Any) -> None:
        shape = self._shape()
        hp = self.editor.hyperparameters()
        if shape is None:
            self.parameters_panel.set_context(hp, None, None)
        else:
            self.parameters_panel.set_context(hp, *shape)

    def _update_add_action(self, *args: Any) -> None:
        self.add_action.setEnabled(self.editor.hyperparameters() is not None)

    # -- selection -------------------------------------------------------------------------
    def _on_queue_selection(self, ids: list[int]) -> None:
        if ids and ids != self.results.selected_ids():
            self.results.select(ids[0])

    def _on_selection(self, ids: Sequence[int]) -> None:
        self.plots.highlight(ids)
        record = self.controller.queue.records.get(ids[0]) if ids else None
        self.details.show_record(record)
        if record is not None:
            self._show_boundary(record)

    def _on_live_parameters(self, experiment_id: int, epoch: int, params: Any) -> None:
        if self.details.experiment_id != experiment_id:
            return
        record = self.controller.queue.records.get(experiment_id)
        splits = self.dataset_panel.splits()
        if record is None or splits is None:
            return
        self.boundary.set_model(list(params), record.hyperparameters.hidden_activations,
                                splits.dataset.task)

    def _current_record(self) -> ExperimentRecord | None:
        ident = self.details.experiment_id
        return None if ident is None else self.controller.queue.records.get(ident)

    def _show_boundary(self, record: ExperimentRecord) -> None:
        splits = self.dataset_panel.splits()
        if splits is None or splits.dataset.n_features != 2:
            return
        hp = record.hyperparameters
        self.boundary.set_model(record.params, hp.hidden_activations, splits.dataset.task)

    # -- closing and errors ----------------------------------------------------------------
    def _running(self) -> list[ExperimentRecord]:
        return [r for r in self.controller.records if r.state is ExperimentState.RUNNING]

    def _confirm_stop_running(self, what: str) -> bool:
        running = self._running()
        if not running:
            return True
        answer = QMessageBox.question(
            self, "Experiments are running",
            f"{len(running)} experiment(s) are training. Stop them to {what}? Finished "
            "experiments are kept.")
        # The controller stops them itself when the session is replaced.
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        running = self._running()
        if running:
            answer = QMessageBox.question(
                self, "Quit DNN Studio?",
                f"{len(running)} experiment(s) are still training. Stop them and quit? "
                "Finished experiments are saved.")
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        self._save_layout()
        self.search_manager.shutdown()  # no new trial once the window goes
        self.search_panel.shutdown()
        self.controller.shutdown()
        event.accept()

    def _show_error(self, message: str) -> None:
        self.statusBar().showMessage(message, 10000)
        # Shown after the current event, so a worker's error never nests an event loop in
        # the middle of handling a batch of messages.
        QTimer.singleShot(0, lambda: QMessageBox.warning(self, "DNN Studio", message))
