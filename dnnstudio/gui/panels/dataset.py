"""Choose the data: a built-in dataset or a CSV file, how it is split, and a look at it.

The panel describes the choice as a :class:`~dnnstudio.core.data.spec.DatasetSpec` and loads it
off the GUI thread (reading and splitting a large CSV file can take seconds). Only when loading
succeeded does it emit ``datasetChanged``; on an error the engine's message (naming the line
and column of a bad CSV file) is shown and the previous dataset stays.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, QObject, Qt, QThreadPool, Signal
from PySide6.QtGui import (
    QCloseEvent,
    QColor,
    QDragEnterEvent,
    QDropEvent,
    QPalette,
    QStandardItemModel,
)
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from dnnstudio.core.data.csv_import import suggest_task
from dnnstudio.core.data.dataset import Splits, Task
from dnnstudio.core.data.registry import DatasetInfo, list_datasets
from dnnstudio.core.data.spec import DatasetSpec
from dnnstudio.core.errors import DataError, DnnStudioError
from dnnstudio.gui.palette import class_color
from dnnstudio.gui.widgets import fill_with_scrolling

__all__ = ["DatasetPanel", "read_header"]

CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt", ".txt.gz")
"""File names the panel accepts from a file dialog or a drop."""
_HEADER_BYTES = 256 * 1024
"""How much of a file :func:`read_header` reads: the header and a sample of rows, never all."""
_SAMPLE_ROWS = 200
_MAX_CLASSES_SHOWN = 10
_TASK_WORDS = {
    Task.BINARY: "binary classification (one sigmoid output unit)",
    Task.MULTICLASS: "{k}-class classification (softmax, n[L] = {k})",
    Task.REGRESSION: "regression (one linear output unit)",
}
_CSV_ITEM = ":csv:"
"""The dataset combo's item data for the CSV file (no built-in dataset has this name)."""
_TASK_CHOICES = (
    ("Auto", None),
    ("Classification", Task.MULTICLASS.value),  # read_csv gives BINARY for two classes
    ("Regression", Task.REGRESSION.value),
)


def read_header(path: str | Path) -> tuple[list[str], list[list[str]]]:
    """The column names and a sample of the first rows of a CSV file, read cheaply.

    Only the first 256 KB are read (decompressed, for ``.gz``), so this is fast enough for the
    GUI thread even for a very large file; the full, strict read is
    :func:`~dnnstudio.core.data.csv_import.read_csv`'s, in a worker.

    Returns
    -------
    names : list of str
        The header's column names.
    rows : list of list of str
        Up to 200 data rows, for guessing the task of a target column.

    Raises
    ------
    DataError
        When the file cannot be opened or has no header line.
    """
    file = Path(path)
    try:
        if file.name.lower().endswith(".gz"):
            with gzip.open(file, "rb") as stream:
                data = stream.read(_HEADER_BYTES)
        else:
            with file.open("rb") as stream:
                data = stream.read(_HEADER_BYTES)
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read {str(file)!r}: {exc}.") from None
    text = data.decode("utf-8-sig", errors="replace")
    lines = text.splitlines()
    if len(data) == _HEADER_BYTES and len(lines) > 1:
        lines.pop()  # cut off in the middle
    lines = [line for line in lines if line.strip()]
    if not lines:
        raise DataError("the file is empty; a CSV file needs a header line and data rows.")
    try:
        # The delimiter that splits the header into the most fields (comma on a tie).
        delimiter = max(
            (",", ";", "\t"), key=lambda d: len(next(csv.reader([lines[0]], delimiter=d)))
        )
        sample = io.StringIO("\n".join(lines[: _SAMPLE_ROWS + 1]))
        rows = [row for row in csv.reader(sample, delimiter=delimiter) if row]
    except csv.Error as exc:
        raise DataError(f"the first lines cannot be read as CSV ({exc}).", row=1) from None
    names = [name.strip() for name in rows[0]]
    return names, [row for row in rows[1:] if len(row) == len(names)]


class _LoadRelay(QObject):
    """Carries a worker's result to the GUI thread (signals emitted from any thread queue)."""

    loaded = Signal(int, object, object)  # token, DatasetSpec, Splits
    failed = Signal(int, str)  # token, message


def _load_splits(spec: DatasetSpec, token: int, relay: _LoadRelay) -> None:
    """Load ``spec`` (in a worker thread) and report through ``relay``; never touches widgets."""
    try:
        splits = spec.load()
    except DnnStudioError as err:
        relay.failed.emit(token, f"{spec.title}: {err}")
    except Exception as err:
        # Anything else would vanish with the worker thread; the person should see it.
        relay.failed.emit(token, f"{spec.title}: unexpected error while loading: {err!r}")
    else:
        relay.loaded.emit(token, spec, splits)


def _grey_label(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet("color: #757575;")
    return label


class DatasetPanel(QWidget):
    """Chooses, loads and previews the dataset.

    Parameters
    ----------
    parent : QWidget, optional

    Signals
    -------
    datasetChanged(object)
        A :class:`DatasetSpec` that has just been loaded successfully (:meth:`splits` holds
        its splits).
    loadFailed(str)
        The message of a dataset that could not be loaded (the previous one stays).
    """

    datasetChanged = Signal(object)
    loadFailed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._infos: dict[str, DatasetInfo] = {info.name: info for info in list_datasets()}
        self._spec: DatasetSpec | None = None
        self._splits: Splits | None = None
        self._csv_path: str | None = None
        self._csv_rows: list[list[str]] = []
        self._token = 0
        self._loading = False
        # The pool is created before the relay: children are destroyed in creation order, so
        # a panel deleted while loading first waits for the worker, which still emits on the
        # relay, and only then destroys the relay.
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = _LoadRelay(self)
        self._relay.loaded.connect(self._on_loaded)
        self._relay.failed.connect(self._on_failed)
        # A panel inside a dock gets no closeEvent when the app quits; wait for the worker
        # then, before the interpreter starts tearing down what the worker uses.
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

        content = QWidget()
        column = QVBoxLayout(content)
        column.setContentsMargins(4, 4, 4, 4)
        column.addWidget(self._build_choice())
        column.addWidget(self._build_view())
        column.addStretch(1)

        fill_with_scrolling(self, content)

        self.setAcceptDrops(True)
        self._on_source_changed()
        self._show_loaded()

    # -- building -------------------------------------------------------------------------
    def _build_choice(self) -> QGroupBox:
        box = QGroupBox("Data")
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setContentsMargins(6, 6, 6, 6)
        form.setVerticalSpacing(4)
        self._form = form

        self._source = QComboBox()
        self._source.setObjectName("datasetCombo")
        self._source.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self._source.setMinimumContentsLength(10)
        for info in self._infos.values():
            self._source.addItem(info.title, info.name)
        self._source.currentIndexChanged.connect(self._on_source_changed)
        form.addRow("Dataset", self._source)
        self._description = _grey_label()
        form.addRow(self._description)

        self._import_button = QPushButton("Import CSV…")
        self._import_button.setObjectName("importCsvButton")
        self._import_button.setToolTip(
            "A CSV file with a header line: numeric feature columns and one target column. "
            "You can also drop a .csv file onto this panel."
        )
        self._import_button.clicked.connect(self._on_import_clicked)
        drop_hint = _grey_label("or drop a .csv file here")
        import_row = QWidget()
        import_layout = QHBoxLayout(import_row)
        import_layout.setContentsMargins(0, 0, 0, 0)
        import_layout.addWidget(self._import_button)
        import_layout.addWidget(drop_hint, 1)
        form.addRow(import_row)

        self._n_samples = QSpinBox()
        self._n_samples.setRange(0, 10_000_000)
        self._n_samples.setSingleStep(100)
        self._n_samples.setGroupSeparatorShown(True)
        self._n_samples.setToolTip("Number of examples m to generate.")
        self._noise_label = QLabel("Noise")
        self._n_samples_label = QLabel("Examples m")
        form.addRow(self._n_samples_label, self._n_samples)
        self._noise = QDoubleSpinBox()
        self._noise.setRange(0.0, 100.0)
        self._noise.setDecimals(2)
        self._noise.setSingleStep(0.05)
        self._noise.setToolTip(
            "How far the points scatter from the clean pattern: more noise, a harder problem."
        )
        form.addRow(self._noise_label, self._noise)

        self._target_label = QLabel("Target")
        self._target = QComboBox()
        self._target.setObjectName("targetCombo")
        self._target.setToolTip("The column to predict; every other column is a feature.")
        self._target.currentIndexChanged.connect(self._on_target_changed)
        form.addRow(self._target_label, self._target)
        self._task_label = QLabel("Task")
        self._task = QComboBox()
        self._task.setObjectName("taskCombo")
        for text, value in _TASK_CHOICES:
            self._task.addItem(text, value)
        self._task.setToolTip(
            "Auto: text labels and a few whole numbers are classes, other numbers a quantity "
            "to predict (regression)."
        )
        form.addRow(self._task_label, self._task)

        self._split: list[QSpinBox] = []
        split_row = QWidget()
        split_layout = QHBoxLayout(split_row)
        split_layout.setContentsMargins(0, 0, 0, 0)
        split_layout.setSpacing(2)
        tips = (
            "Training set: the parameters W[l], b[l] are learned from it.",
            "Validation set: used to choose the hyperparameters.",
            "Test set: held back for one final, unbiased evaluation.",
        )
        for percent, tip in zip((60, 20, 20), tips, strict=True):
            spin = QSpinBox()
            spin.setRange(0, 100)
            spin.setSuffix(" %")
            spin.setValue(percent)
            spin.setToolTip(tip)
            spin.valueChanged.connect(self._on_split_edited)
            self._split.append(spin)
            split_layout.addWidget(spin, 1)
        split_label = QLabel("Train/val/test")
        split_label.setToolTip(
            "How the examples are divided: train on the training set, tune hyperparameters on "
            "the validation set, and keep the test set for the end. The three must add up to "
            "100 %."
        )
        form.addRow(split_label, split_row)
        self._split_total = _grey_label()
        form.addRow(self._split_total)

        self._seed = QSpinBox()
        self._seed.setRange(0, 2**31 - 1)
        self._seed.setToolTip(
            "Seeds the split (and the points of a generated dataset): the same seed gives the "
            "same training, validation and test sets."
        )
        form.addRow("Seed", self._seed)

        self._apply_button = QPushButton("Apply")
        self._apply_button.setObjectName("applyButton")
        self._apply_button.setDefault(True)
        self._apply_button.clicked.connect(self.apply)
        self._busy = QProgressBar()
        self._busy.setRange(0, 0)  # no known length: an indeterminate, moving bar
        self._busy.setTextVisible(False)
        self._busy.setMaximumHeight(12)
        self._busy.setVisible(False)
        apply_row = QWidget()
        apply_layout = QHBoxLayout(apply_row)
        apply_layout.setContentsMargins(0, 0, 0, 0)
        apply_layout.addWidget(self._apply_button)
        apply_layout.addWidget(self._busy, 1)
        apply_layout.addStretch(0)
        form.addRow(apply_row)
        self._on_split_edited()
        return box

    def _build_view(self) -> QGroupBox:
        self._view_box = QGroupBox("Loaded")
        form = QFormLayout(self._view_box)
        form.setContentsMargins(6, 6, 6, 6)
        form.setVerticalSpacing(2)
        self._info: dict[str, QLabel] = {}
        for key, label in (
            ("examples", "Examples m"),
            ("features", "Features n_x"),
            ("task", "Task"),
            ("classes", "Classes"),
            ("split", "Split"),
        ):
            value = QLabel()
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self._info[key] = value
            form.addRow(label, value)

        palette = self.palette()
        foreground = palette.color(QPalette.ColorRole.Text)
        self.plot_widget = pg.PlotWidget()
        self.plot_widget.setBackground(palette.color(QPalette.ColorRole.Base))
        # Bounded: a graphics view asks for 480 px, which would push the form out of sight.
        self.plot_widget.setMinimumHeight(200)
        self.plot_widget.setMaximumHeight(280)
        self.plot_widget.setToolTip("The training examples, coloured by their class.")
        self.plot: pg.PlotItem = self.plot_widget.getPlotItem()
        for name in ("left", "bottom"):
            self.plot.getAxis(name).setPen(foreground)
            self.plot.getAxis(name).setTextPen(foreground)
        legend_brush = QColor(palette.color(QPalette.ColorRole.Base))
        legend_brush.setAlpha(200)
        self.legend: pg.LegendItem = self.plot.addLegend(
            offset=(5, 5), labelTextColor=foreground, brush=legend_brush
        )
        form.addRow(self.plot_widget)
        self._plot_note = _grey_label()
        form.addRow(self._plot_note)
        return self._view_box

    # -- public API -----------------------------------------------------------------------
    def spec(self) -> DatasetSpec | None:
        """The dataset loaded last (None before the first load succeeded)."""
        return self._spec

    def splits(self) -> Splits | None:
        """The splits of :meth:`spec` (None before the first load succeeded)."""
        return self._splits

    def set_spec(self, spec: DatasetSpec) -> None:
        """Show ``spec`` in the form and load it; ``datasetChanged`` follows on success."""
        if self._fill(spec):
            self.apply()

    def import_csv(self, path: str | Path) -> None:
        """Choose the CSV file at ``path`` (last column as target, task guessed) and load it."""
        if self._open_csv(str(path), target=None):
            self._task.setCurrentIndex(0)
            self.apply()

    def apply(self) -> None:
        """Load the dataset the form describes, off the GUI thread."""
        try:
            spec = self._form_spec()
        except DnnStudioError as err:
            self._fail(str(err))
            return
        self._token += 1
        self._set_busy(True)
        # A newer request supersedes an older one: only the last token's result is used.
        self._pool.start(functools.partial(_load_splits, spec, self._token, self._relay))

    def is_loading(self) -> bool:
        """Whether a dataset is being loaded."""
        return self._loading

    def summary(self) -> dict[str, str]:
        """What the panel shows about the loaded dataset: examples, features, task, classes,
        split (the texts, keyed by those words)."""
        return {key: label.text() for key, label in self._info.items()}

    def shutdown(self) -> None:
        """Wait for a load in progress to finish (loading cannot be interrupted midway)."""
        self._pool.clear()
        self._pool.waitForDone()

    # -- events ---------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_csv(event) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        path = self._dropped_csv(event)
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.import_csv(path)

    @staticmethod
    def _dropped_csv(event: QDropEvent) -> str | None:
        mime = event.mimeData()
        if not mime.hasUrls():
            return None
        for url in mime.urls():
            path = url.toLocalFile()
            if path and path.lower().endswith(CSV_SUFFIXES):
                return path
        return None

    # -- errors (a method, so tests can intercept it without a modal dialog) ---------------
    def _show_error(self, message: str) -> None:
        QMessageBox.warning(self, "Could not load the dataset", message)

    def _fail(self, message: str) -> None:
        self._show_error(message)
        self.loadFailed.emit(message)

    # -- form -----------------------------------------------------------------------------
    def _is_csv(self) -> bool:
        return self._source.currentData() == _CSV_ITEM

    def _csv_index(self) -> int:
        """The combo index of the CSV file entry (-1 before a file was chosen)."""
        return self._source.findData(_CSV_ITEM)

    def _open_csv(self, path: str, target: str | None) -> bool:
        """Read the header of ``path`` into the form; False (after reporting) on failure."""
        try:
            names, rows = read_header(path)
        except DataError as err:
            self._fail(f"{Path(path).name}: {err}")
            return False
        self._csv_path = path
        self._csv_rows = rows
        index = self._csv_index()
        title = f"CSV: {Path(path).name}"
        if index < 0:
            self._source.insertSeparator(self._source.count())
            self._source.addItem(title, _CSV_ITEM)
            index = self._source.count() - 1
        self._source.setItemText(index, title)
        self._source.setItemData(index, path, Qt.ItemDataRole.ToolTipRole)
        self._target.blockSignals(True)
        self._target.clear()
        self._target.addItems(names)
        self._target.blockSignals(False)
        chosen = self._target.findText(target) if target is not None else -1
        self._target.setCurrentIndex(chosen if chosen >= 0 else self._target.count() - 1)
        self._source.setCurrentIndex(index)
        self._on_source_changed()
        self._on_target_changed()
        return True

    def _fill(self, spec: DatasetSpec) -> bool:
        """Show ``spec`` in the form; False (after reporting) when its CSV file is unreadable."""
        for spin, fraction in zip(self._split, spec.split, strict=True):
            spin.setValue(round(fraction * 100))
        self._seed.setValue(spec.seed)
        if spec.source == "csv":
            if not self._open_csv(spec.path, spec.target):
                return False
            self._task.setCurrentIndex(max(0, self._task.findData(spec.task)))
            return True
        self._source.setCurrentIndex(self._source.findData(spec.name))
        info = self._infos.get(spec.name)
        if info is not None and info.kind == "generated":
            self._n_samples.setValue(spec.n_samples or info.n_samples)
            noise = spec.noise if spec.noise is not None else info.noise
            self._noise.setValue(noise or 0.0)
        return True

    def _form_spec(self) -> DatasetSpec:
        split = (
            self._split[0].value() / 100,
            self._split[1].value() / 100,
            self._split[2].value() / 100,
        )
        seed = self._seed.value()
        if self._is_csv():
            return DatasetSpec(
                source="csv",
                path=self._csv_path or "",
                target=self._target.currentText() or None,
                task=self._task.currentData(),
                seed=seed,
                split=split,
            )
        name = str(self._source.currentData())
        info = self._infos[name]
        n_samples: int | None = None
        noise: float | None = None
        if info.kind == "generated":
            # The dataset's own defaults are left unset, so a session keeps following them.
            if self._n_samples.value() != info.n_samples:
                n_samples = self._n_samples.value()
            if info.noise is None or not np.isclose(self._noise.value(), info.noise):
                noise = self._noise.value()
        return DatasetSpec(
            source="builtin", name=name, n_samples=n_samples, noise=noise, seed=seed, split=split
        )

    def _set_busy(self, busy: bool) -> None:
        self._loading = busy
        self._busy.setVisible(busy)
        self._apply_button.setEnabled(not busy)
        self._apply_button.setText("Loading…" if busy else "Apply")

    # -- showing a loaded dataset -----------------------------------------------------------
    def _show_loaded(self) -> None:
        splits = self._splits
        if splits is None or self._spec is None:
            self._view_box.setTitle("Loaded: nothing yet")
            for label in self._info.values():
                label.setText("—")
            self._show_scatter(None)
            self._plot_note.setText("Choose a dataset and press Apply.")
            return
        ds = splits.dataset
        info = self._infos.get(self._spec.name) if self._spec.source == "builtin" else None
        self._view_box.setTitle(f"Loaded: {info.title if info else self._spec.title}")
        self._info["examples"].setText(f"{ds.n_samples:,}")
        self._info["features"].setText(str(ds.n_features))
        self._info["features"].setToolTip(", ".join(ds.feature_names))
        self._info["task"].setText(_TASK_WORDS[ds.task].format(k=ds.n_classes))
        if ds.task.is_classification:
            names = list(ds.class_names[:_MAX_CLASSES_SHOWN])
            more = len(ds.class_names) - len(names)
            text = f"{ds.n_classes}: {', '.join(names)}" + (f", … ({more} more)" if more else "")
        else:
            text = f"none (predicts {ds.target_name!r})"
        self._info["classes"].setText(text)
        n_train, n_val, n_test = splits.sizes
        self._info["split"].setText(
            f"{n_train:,} train · {n_val:,} validation · {n_test:,} test"
        )
        if ds.n_features == 2:
            self._show_scatter(splits)
            self._plot_note.setText("Training examples (before standardisation).")
        else:
            self._show_scatter(None)
            self._plot_note.setText(
                f"A scatter plot is shown for data with two features; this dataset has "
                f"{ds.n_features}."
            )

    def _show_scatter(self, splits: Splits | None) -> None:
        self.plot.clear()  # also empties the legend
        self.plot_widget.setVisible(splits is not None)
        if splits is None:
            return
        ds = splits.dataset
        X = ds.X[splits.train_index]
        y = ds.y[splits.train_index]
        self.plot.setLabel("bottom", ds.feature_names[0])
        self.plot.setLabel("left", ds.feature_names[1])
        if ds.task.is_classification:
            for k, name in enumerate(ds.class_names):
                mask = y == k
                self.plot.addItem(
                    pg.ScatterPlotItem(
                        X[mask, 0], X[mask, 1], size=6, pen=None, brush=class_color(k),
                        name=name,
                    )
                )
        else:
            values = np.asarray(y, dtype=np.float64)
            span = float(np.ptp(values)) or 1.0
            colors = pg.colormap.get("viridis").mapToQColor((values - values.min()) / span)
            self.plot.addItem(
                pg.ScatterPlotItem(X[:, 0], X[:, 1], size=6, pen=None, brush=colors,
                                   name=f"colour: {ds.target_name}")
            )
        self.plot.autoRange()

    # -- handlers -------------------------------------------------------------------------
    def _on_source_changed(self) -> None:
        csv_chosen = self._is_csv()
        info = None if csv_chosen else self._infos.get(str(self._source.currentData()))
        generated = info is not None and info.kind == "generated"
        for spin in (self._n_samples, self._noise):
            self._form.setRowVisible(spin, generated)
        for combo in (self._target, self._task):
            self._form.setRowVisible(combo, csv_chosen)
        if info is not None:
            text = info.description
            if info.source:
                text += f"\n\nSource: {info.source}"
            self._description.setText(text)
            if generated:
                self._n_samples.setValue(info.n_samples)
                self._noise.setValue(info.noise or 0.0)
        elif self._csv_path is not None:
            self._description.setText(self._csv_path)

    def _on_target_changed(self) -> None:
        column = self._target.currentIndex()
        values = [row[column] for row in self._csv_rows if 0 <= column < len(row)]
        looks = suggest_task(values) if values else None
        numeric = bool(values)
        for value in values:
            try:
                float(value)
            except ValueError:
                numeric = False
                break
        # Regression needs a numeric target; offer it only when the column looks like one.
        regression = self._task.findData(Task.REGRESSION.value)
        model = self._task.model()
        if isinstance(model, QStandardItemModel):
            item = model.item(regression)
            if item is not None:
                item.setEnabled(numeric)
        if not numeric and self._task.currentIndex() == regression:
            self._task.setCurrentIndex(0)
        guess = "regression" if looks is Task.REGRESSION else "classification"
        self._task.setItemText(0, f"Auto ({guess})" if looks is not None else "Auto")

    def _on_split_edited(self) -> None:
        total = sum(spin.value() for spin in self._split)
        self._split_total.setText(f"Total {total} % (train + validation + test)")

    def _on_import_clicked(self) -> None:
        start = str(Path(self._csv_path).parent) if self._csv_path else ""
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Import a CSV file",
            start,
            "CSV files (*.csv *.csv.gz *.tsv *.txt);;All files (*)",
        )
        if path:
            self.import_csv(path)

    def _on_loaded(self, token: int, spec: DatasetSpec, splits: Splits) -> None:
        if token != self._token:
            return
        self._set_busy(False)
        self._spec = spec
        self._splits = splits
        self._show_loaded()
        self.datasetChanged.emit(spec)

    def _on_failed(self, token: int, message: str) -> None:
        if token != self._token:
            return
        self._set_busy(False)
        self._fail(message)


def _example() -> DatasetPanel:
    panel = DatasetPanel()
    panel.set_spec(DatasetSpec(name="planar"))
    return panel


if __name__ == "__main__":
    from dnnstudio.gui.preview import preview

    raise SystemExit(preview(_example, size=(320, 760)))
