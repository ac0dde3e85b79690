"""The search dialog: which hyperparameters vary and how, the strategy, the budget.

It starts from the editor's hyperparameters: everything not varied stays as the editor has
it. Each varied hyperparameter is one row: a list of values, a range (linear or log scale,
with a number of steps for a grid), or, for activation, optimizer, initialisation, decay and
precision, the choices to try. Every edit goes through
:meth:`~dnnstudio.search.SearchSpec.from_dict`, the same validation a spec file for
``dnnstudio sweep`` gets, so a bad value is named by the same key (``search.space.alpha``),
and the dialog cannot be accepted until the search can run.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...core.hyperparams import ACTIVATIONS, DECAYS, DTYPES, INITS, OPTIMIZERS, Hyperparameters
from ...search.space import INTEGER_NAMES, LOG_BY_DEFAULT, Range, SpecError, Values
from ...search.spec import SearchSpec
from ..tooltips import TOOLTIPS

__all__ = ["SearchDialog", "DimensionRow", "grid_summary", "parse_values"]

CHOICES: dict[str, tuple[str, ...]] = {
    "activation": ACTIVATIONS,
    "optimizer": OPTIMIZERS,
    "init": INITS,
    "decay": DECAYS,
    "dtype": DTYPES,
}
"""Hyperparameters that are a choice among names: tried as checked choices."""
NAMES: tuple[str, ...] = (
    "alpha", "epochs", "layers", "units", "hidden", "activation", "optimizer", "init",
    "batch_size", "l2", "keep_prob", "decay", "decay_rate", "decay_step", "beta", "beta1",
    "beta2", "epsilon", "patience", "seed", "dtype",
)
"""What a search can vary, in the order the lesson meets them."""
LABELS: dict[str, str] = {
    "alpha": "alpha",
    "epochs": "epochs",
    "layers": "L (hidden layers)",
    "units": "n[l] (units)",
    "hidden": "hidden n[1..]",
    "activation": "activation",
    "optimizer": "optimizer",
    "init": "init W[l]",
    "batch_size": "mini-batch",
    "l2": "L2 lambda",
    "keep_prob": "keep_prob",
    "decay": "alpha decay",
    "decay_rate": "decay rate",
    "decay_step": "decay step",
    "beta": "beta",
    "beta1": "beta1",
    "beta2": "beta2",
    "epsilon": "epsilon",
    "patience": "patience",
    "seed": "seed",
    "dtype": "dtype",
}
DEFAULT_VALUES: dict[str, str] = {
    "alpha": "0.001, 0.003, 0.01, 0.03, 0.1, 0.3",
    "epochs": "500, 1000, 2000",
    "layers": "1, 2, 3",
    "units": "4, 16, 64",
    "hidden": "4; 8; 16,16",
    "batch_size": "32, 64, 128, full",
    "l2": "0, 0.01, 0.1, 1",
    "keep_prob": "0.5, 0.8, 1",
    "decay_rate": "0.001, 0.01, 0.1",
    "decay_step": "100, 500, 1000",
    "beta": "0.8, 0.9, 0.99",
    "beta1": "0.8, 0.9, 0.99",
    "beta2": "0.99, 0.999",
    "epsilon": "1e-8, 1e-6, 1e-4",
    "patience": "20, 50, 100, off",
    "seed": "0, 1, 2",
}
DEFAULT_RANGES: dict[str, tuple[str, str, int]] = {
    "alpha": ("0.001", "1", 4),
    "l2": ("0.0001", "1", 5),
    "epsilon": ("1e-10", "1e-4", 4),
}
DEFAULT_CHOICES: dict[str, tuple[str, ...]] = {
    "activation": ("relu", "tanh"),
    "optimizer": ("gd", "adam"),
    "init": ("he", "xavier"),
    "decay": ("none", "inverse_time"),
    "dtype": ("float32", "float64"),
}
NONE_WORDS = {"batch_size": "full", "patience": "off"}
"""The word for None in a list of values: a full batch, early stopping off."""

STRATEGY_NAMES = {"grid": "Grid", "random": "Random", "bayesian": "Bayesian (TPE)"}
STRATEGY_TIPS = {
    "grid": "<p><b>Grid search</b><br>Try all combinations: alpha = {0.01, 0.03, 0.1} and "
            "L = {2, 3, 4} make 3 × 3 = 9 experiments. Exhaustive, so its size grows as the "
            "product of the lists: keep them short.</p>",
    "random": "<p><b>Random search</b><br>Sample the values randomly from the ranges, N "
              "times, from a seed. Often more efficient than a grid: every trial tries a new "
              "value of every hyperparameter, so the ones that matter get more distinct "
              "values.</p>",
    "bayesian": "<p><b>Bayesian optimisation (TPE)</b><br>Use previous results to guide the "
                "next experiments: train A and B, use their scores to pick C near what worked, "
                "repeat. Finds good hyperparameters with fewer experiments.</p>",
}
OBJECTIVE_TIP = (
    "<p><b>Objective</b><br>Tune on the validation set, never on the test set: the test set "
    "is kept for the final, unbiased evaluation. Validation accuracy (R² for a regression) is "
    "maximised; the validation cost is minimised.</p>")
TRIALS_TIP = (
    "<p><b>Trials</b><br>Most experiments to run. Trying too many combinations can overfit "
    "the validation set itself, so set a limit. A grid runs all its points unless this is "
    "smaller; random and Bayesian search need a number of trials or a time budget.</p>")
SECONDS_TIP = (
    "<p><b>Time budget</b><br>No new trial starts after this many seconds; running ones "
    "finish. Consider training time: the best hyperparameters may be too slow to use.</p>")
SEED_TIP = ("<p><b>Seed of the search</b><br>Seeds the random and Bayesian choices: the same "
            "seed gives the same trials. Each trial's own seed is a hyperparameter.</p>")
PARALLEL_TIP = ("<p><b>At once</b><br>Most trials of this search queued or running at a time. "
                "A Bayesian search learns from each result before it proposes the next, so "
                "fewer at once makes better use of its budget.</p>")
FOLDS_TIP = (
    "<p><b>Judge by k-fold cross-validation</b><br>Compare many configurations on one "
    "validation set and the best of them looks better than it is: it was partly chosen for "
    "that set's luck. Cross-validation trains each trial k times, each time holding out a "
    "different k-th of the training and validation rows, and scores it by the mean. Less "
    "optimistic, and k times the work, so best for small datasets. The test set is never "
    "used.</p>")
PRUNING_TIP = (
    "<p><b>Stop hopeless trials early (median rule)</b><br>After a few trials have finished, "
    "a running trial whose best validation cost is worse than the median of the finished "
    "ones at the same epoch is stopped (never before 10% of its epochs), so the budget goes "
    "to promising values. Its record says at which epoch and why.</p>")
VALUES_TIP = (
    "<p><b>Values to try</b><br>Separated by commas, e.g. 0.001, 0.01, 0.1. For hidden "
    "layers separate the networks with ';' and the layers with ',': 4; 8; 16,16. "
    "'full' is a full batch, 'off' turns early stopping off.</p>")
LOG_TIP = (
    "<p><b>Log scale</b><br>Values such as alpha span orders of magnitude (0.001, 0.01, 0.1), "
    "so each factor of ten gets the same share of the trials. The default for alpha, L2 and "
    "epsilon.</p>")
STEPS_TIP = ("<p><b>Grid steps</b><br>How many evenly spaced points a grid takes from the "
             "range, ends included (on the log scale when log is on). Random and Bayesian "
             "search sample the whole range and ignore it.</p>")
SHAPE_TIPS = {
    "layers": "<p><b>L: number of hidden layers</b><br>The network gets this many hidden "
              "layers of n[l] units each (the editor's first layer size unless n[l] varies "
              "too). The lesson tries L = 2, 3, 4, 5.</p>",
    "units": "<p><b>n[l]: units in each hidden layer</b><br>Every hidden layer gets this "
             "many units. The lesson tries 50, 100, 200.</p>",
}
_STYLE = """
QFrame[invalid="true"] { border: 2px solid #d32f2f; border-radius: 3px; }
QLabel[role="error"] { color: #b71c1c; }
QLabel[role="note"] { color: #616161; }
QLabel[role="summary"] { font-weight: bold; }
"""


def _tip(name: str) -> str:
    return SHAPE_TIPS.get(name) or TOOLTIPS.get(name, "")


def _key(name: str) -> str:
    return f"search.space.{name}"


def _number(name: str, text: str, key: str) -> int | float:
    integer = name in INTEGER_NAMES
    try:
        value = float(text)
    except ValueError:
        raise SpecError(key, f"{text!r} is not a number") from None
    if integer:
        if not math.isfinite(value) or not value.is_integer():
            raise SpecError(key, f"{text!r} is not a whole number")
        return int(value)
    return value


def parse_values(name: str, text: str) -> list[Any]:
    """The values typed for ``name``: numbers separated by commas, or for ``hidden`` networks
    separated by ``;`` whose layers are separated by ``,`` (``"4; 8; 16,16"``).

    Raises
    ------
    SpecError
        A value is not a number (the key is ``search.space.<name>``).
    """
    key = _key(name)
    out: list[Any] = []
    if name == "hidden":
        for part in text.split(";"):
            part = part.strip()
            if not part:
                continue
            if part.lower() in ("none", "[]"):
                out.append([])
                continue
            layers = []
            for unit in re.split(r"[,\s]+", part):
                if not unit:
                    continue
                try:
                    layers.append(int(unit))
                except ValueError:
                    raise SpecError(key, f"{unit!r} is not a whole number of units (write a "
                                    "network as 16,16 and separate networks with ;)") from None
            out.append(layers)
        return out
    for token in re.split(r"[,;\s]+", text.strip()):
        if not token:
            continue
        if token.lower() == NONE_WORDS.get(name):
            out.append(None)
        else:
            out.append(_number(name, token, key))
    return out


def format_values(name: str, values: Sequence[Any]) -> str:
    """The text :func:`parse_values` reads back as ``values``."""
    if name == "hidden":
        return "; ".join(",".join(str(u) for u in v) if v else "none" for v in values)
    return ", ".join(NONE_WORDS.get(name, "none") if v is None else f"{v:g}"
                     if isinstance(v, float) else str(v) for v in values)


def grid_summary(spec: SearchSpec) -> str:
    """What the search will run, in a line: ``"Grid: 3 × 2 = 6 trials"``, or the budget of a
    random or Bayesian search."""
    seconds = "" if spec.seconds is None else f"; no trial starts after {spec.seconds:g} s"
    if spec.strategy == "grid":
        sizes = [len(dim.values) if isinstance(dim, Values) else len(dim.grid())
                 for dim in spec.space.dimensions.values()]
        size = math.prod(sizes)
        product = f"{' × '.join(str(s) for s in sizes)} = " if len(sizes) > 1 else ""
        if spec.trials is not None and spec.trials < size:
            return (f"Grid: {product}{size} points; the first {spec.trials} run "
                    f"(trials = {spec.trials}){seconds}")
        return f"Grid: {product}{size} trials{seconds}"
    name = STRATEGY_NAMES[spec.strategy]
    how = ("drawn from the ranges" if spec.strategy == "random"
           else "each chosen from the results so far")
    if spec.trials is None:
        assert spec.seconds is not None
        return f"{name}: trials {how} (seed {spec.seed}) until {spec.seconds:g} s have passed"
    return f"{name}: {spec.trials} trials {how} (seed {spec.seed}){seconds}"


def _set_invalid(widget: QWidget, invalid: bool) -> None:
    if bool(widget.property("invalid")) == invalid:
        return
    widget.setProperty("invalid", invalid)
    if isinstance(widget, QAbstractSpinBox):
        palette = QPalette()
        if invalid:
            palette = QPalette(widget.palette())
            palette.setColor(QPalette.ColorRole.Base, QColor("#ffd9d9"))
        widget.setPalette(palette)
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def _line_edit(text: str = "", width: int | None = None) -> QLineEdit:
    edit = QLineEdit(text)
    if width is not None:
        edit.setMaximumWidth(width)
        edit.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return edit


class DimensionRow(QFrame):
    """One varied hyperparameter: its name, and a list of values, a range or choices.

    Signals
    -------
    edited()
    removeRequested(object)
        The row (its remove button was pressed).
    """

    edited = Signal()
    removeRequested = Signal(object)

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dimension")
        self._filling = False
        self.name_combo = QComboBox(self)
        for item in NAMES:
            self.name_combo.addItem(LABELS[item], item)
            self.name_combo.setItemData(self.name_combo.count() - 1, _tip(item),
                                        Qt.ItemDataRole.ToolTipRole)
        self.name_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.name_combo.setMinimumContentsLength(12)
        self.kind_combo = QComboBox(self)

        self.values_edit = _line_edit()
        self.values_edit.setToolTip(VALUES_TIP)
        self.low_edit = _line_edit(width=80)
        self.high_edit = _line_edit(width=80)
        self.log_check = QCheckBox("log", self)
        self.log_check.setToolTip(LOG_TIP)
        self.steps_spin = QSpinBox(self)
        self.steps_spin.setRange(0, 1000)
        self.steps_spin.setSpecialValueText("–")
        self.steps_spin.setPrefix("steps ")
        self.steps_spin.setToolTip(STEPS_TIP)
        range_page = QWidget(self)
        range_row = QHBoxLayout(range_page)
        range_row.setContentsMargins(0, 0, 0, 0)
        range_row.addWidget(QLabel("from"))
        range_row.addWidget(self.low_edit)
        range_row.addWidget(QLabel("to"))
        range_row.addWidget(self.high_edit)
        range_row.addWidget(self.log_check)
        range_row.addWidget(self.steps_spin)
        range_row.addStretch(1)
        self.choices_page = QWidget(self)
        self._choice_row = QHBoxLayout(self.choices_page)
        self._choice_row.setContentsMargins(0, 0, 0, 0)
        self.choice_checks: dict[str, QCheckBox] = {}

        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.values_edit)
        self.stack.addWidget(range_page)
        self.stack.addWidget(self.choices_page)
        self.stack.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.remove_button = QToolButton(self)
        self.remove_button.setText("✕")
        self.remove_button.setToolTip("Stop varying this hyperparameter")
        self.remove_button.setAutoRaise(True)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 2, 2)
        layout.addWidget(self.name_combo)
        layout.addWidget(self.kind_combo)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.remove_button)

        self.name_combo.currentIndexChanged.connect(self._on_name_chosen)
        self.kind_combo.currentIndexChanged.connect(self._on_kind_chosen)
        for edit in (self.values_edit, self.low_edit, self.high_edit):
            edit.textEdited.connect(self._on_edited)
        self.log_check.toggled.connect(self._on_edited)
        self.steps_spin.valueChanged.connect(self._on_edited)
        self.remove_button.clicked.connect(lambda: self.removeRequested.emit(self))
        self.set_name(name)

    # -- reading ---------------------------------------------------------------------------
    def name(self) -> str:
        return str(self.name_combo.currentData())

    def kind(self) -> str:
        """``values``, ``range`` or ``choices``."""
        return str(self.kind_combo.currentData())

    def data(self) -> Any:
        """The dimension as a spec's ``search.space`` entry: a list, or a range table.

        Raises
        ------
        SpecError
            A number cannot be read.
        """
        name, kind = self.name(), self.kind()
        if kind == "choices":
            return [c for c, check in self.choice_checks.items() if check.isChecked()]
        if kind == "values":
            return parse_values(name, self.values_edit.text())
        key = _key(name)
        out: dict[str, Any] = {
            "low": _number(name, self.low_edit.text().strip(), f"{key}.low"),
            "high": _number(name, self.high_edit.text().strip(), f"{key}.high"),
            "log": self.log_check.isChecked(),
        }
        if self.steps_spin.value() > 0:
            out["steps"] = self.steps_spin.value()
        return out

    # -- writing ---------------------------------------------------------------------------
    def set_name(self, name: str) -> None:
        """Vary ``name``, starting from its usual values."""
        self.name_combo.blockSignals(True)
        self.name_combo.setCurrentIndex(self.name_combo.findData(name))
        self.name_combo.blockSignals(False)
        self._reset(name)

    def set_values(self, values: Sequence[Any]) -> None:
        self._filling = True
        try:
            if self.name() in CHOICES:
                self._set_kind("choices")
                for choice, check in self.choice_checks.items():
                    check.setChecked(choice in values)
            else:
                self._set_kind("values")
                self.values_edit.setText(format_values(self.name(), values))
        finally:
            self._filling = False
        self.edited.emit()

    def set_range(self, low: float, high: float, log: bool, steps: int | None) -> None:
        self._filling = True
        try:
            self._set_kind("range")
            integer = self.name() in INTEGER_NAMES
            self.low_edit.setText(f"{int(low)}" if integer else f"{low:g}")
            self.high_edit.setText(f"{int(high)}" if integer else f"{high:g}")
            self.log_check.setChecked(log)
            self.steps_spin.setValue(steps or 0)
        finally:
            self._filling = False
        self.edited.emit()

    def set_kind(self, kind: str) -> None:
        """Switch to ``values`` or ``range`` (what the other held is carried over)."""
        self.kind_combo.setCurrentIndex(self.kind_combo.findData(kind))

    def set_invalid(self, invalid: bool) -> None:
        _set_invalid(self, invalid)

    # -- internals -------------------------------------------------------------------------
    def _set_kind(self, kind: str) -> None:
        self.kind_combo.blockSignals(True)
        self.kind_combo.setCurrentIndex(self.kind_combo.findData(kind))
        self.kind_combo.blockSignals(False)
        self.stack.setCurrentIndex({"values": 0, "range": 1, "choices": 2}[kind])

    def _reset(self, name: str) -> None:
        self._filling = True
        try:
            self.name_combo.setToolTip(_tip(name))
            self.kind_combo.blockSignals(True)
            self.kind_combo.clear()
            if name in CHOICES:
                self.kind_combo.addItem("choices", "choices")
            else:
                self.kind_combo.addItem("values", "values")
                if name != "hidden":
                    self.kind_combo.addItem("range", "range")
            self.kind_combo.setEnabled(self.kind_combo.count() > 1)
            self.kind_combo.setToolTip("A list of values to try, or a range: low to high on a "
                                       "linear or log scale")
            self.kind_combo.blockSignals(False)
            for check in self.choice_checks.values():
                self._choice_row.removeWidget(check)
                check.hide()
                check.deleteLater()
            self.choice_checks = {}
            for choice in CHOICES.get(name, ()):
                check = QCheckBox(choice, self.choices_page)
                check.setChecked(choice in DEFAULT_CHOICES.get(name, ()))
                check.setToolTip(_tip(name))
                check.toggled.connect(self._on_edited)
                self._choice_row.addWidget(check)
                self.choice_checks[choice] = check
            self.values_edit.setText(DEFAULT_VALUES.get(name, ""))
            low, high, steps = DEFAULT_RANGES.get(name, ("", "", 0))
            self.low_edit.setText(low)
            self.high_edit.setText(high)
            self.steps_spin.setValue(steps)
            self.log_check.setChecked(name in LOG_BY_DEFAULT)
            self._set_kind("choices" if name in CHOICES else "values")
        finally:
            self._filling = False

    def _on_name_chosen(self, index: int) -> None:
        self._reset(self.name())
        self.edited.emit()

    def _on_kind_chosen(self, index: int) -> None:
        kind = self.kind()
        if kind == "range" and not self.low_edit.text().strip():
            # Carry the listed values over as the range's ends and its grid steps.
            try:
                numbers = [v for v in parse_values(self.name(), self.values_edit.text())
                           if isinstance(v, int | float)]
            except SpecError:
                numbers = []
            if numbers:
                self._filling = True
                self.low_edit.setText(f"{min(numbers):g}")
                self.high_edit.setText(f"{max(numbers):g}")
                self.steps_spin.setValue(len(numbers))
                self._filling = False
        self._set_kind(kind)
        self.edited.emit()

    def _on_edited(self, *args: Any) -> None:
        if not self._filling:
            self.edited.emit()


class SearchDialog(QDialog):
    """Set up a search; :meth:`spec` is the search to start once the dialog is accepted.

    Parameters
    ----------
    hyperparameters : Hyperparameters, optional
        What the search starts from (the editor's): every hyperparameter not varied keeps
        its value here. Default: ``Hyperparameters()``.
    parent : QWidget, optional
    spec : SearchSpec, optional
        A search to show instead of the default (its fixed values replace
        ``hyperparameters``).

    Signals
    -------
    specChanged(object)
        After every edit: the SearchSpec, or None while the values cannot run.
    """

    specChanged = Signal(object)

    def __init__(self, hyperparameters: Hyperparameters | None = None,
                 parent: QWidget | None = None, *, spec: SearchSpec | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New search")
        self.setStyleSheet(_STYLE)
        hp = hyperparameters if hyperparameters is not None else Hyperparameters()
        # A None (full batch, early stopping off) is each field's default anyway.
        self._fixed: dict[str, Any] = {k: v for k, v in hp.to_dict().items() if v is not None}
        self._rows: list[DimensionRow] = []
        self._spec: SearchSpec | None = None
        self._error: SpecError | None = None
        self._updating = False

        intro = QLabel(
            "Hyperparameters control how the parameters W[l], b[l] are learned, and the best "
            "values can only be found by trying them. Choose what varies; everything else "
            "stays as in the editor. Trials are compared on the validation set.")
        intro.setWordWrap(True)
        intro.setProperty("role", "note")

        vary_box = QGroupBox("What varies")
        self._rows_layout = QVBoxLayout()
        self._rows_layout.setContentsMargins(0, 0, 0, 0)
        self._rows_layout.setSpacing(2)
        rows_widget = QWidget()
        rows_column = QVBoxLayout(rows_widget)
        rows_column.setContentsMargins(0, 0, 0, 0)
        rows_column.addLayout(self._rows_layout)
        rows_column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(rows_widget)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumHeight(170)
        self.add_button = QPushButton("Add hyperparameter")
        self.add_menu = QMenu(self.add_button)
        for name in NAMES:
            action = self.add_menu.addAction(LABELS[name])
            action.setData(name)
            action.setToolTip(_tip(name))
            action.triggered.connect(lambda _=False, n=name: self.add_dimension(n))
        self.add_button.setMenu(self.add_menu)
        self.add_button.setToolTip("Vary one more hyperparameter")
        self.fixed_label = QLabel()
        self.fixed_label.setWordWrap(True)
        self.fixed_label.setProperty("role", "note")
        self.fixed_label.setTextFormat(Qt.TextFormat.PlainText)
        vary_layout = QVBoxLayout(vary_box)
        vary_layout.addWidget(scroll, 1)
        add_row = QHBoxLayout()
        add_row.addWidget(self.add_button)
        add_row.addStretch(1)
        vary_layout.addLayout(add_row)
        vary_layout.addWidget(self.fixed_label)

        how_box = QGroupBox("Strategy and budget")
        form = QFormLayout(how_box)
        self.strategy_combo = QComboBox()
        for key, label in STRATEGY_NAMES.items():
            self.strategy_combo.addItem(label, key)
            self.strategy_combo.setItemData(self.strategy_combo.count() - 1, STRATEGY_TIPS[key],
                                            Qt.ItemDataRole.ToolTipRole)
        self.trials_spin = QSpinBox()
        self.trials_spin.setRange(0, 100_000)
        self.trials_spin.setToolTip(TRIALS_TIP)
        self.seconds_check = QCheckBox("stop starting trials after")
        self.seconds_check.setToolTip(SECONDS_TIP)
        self.seconds_spin = QSpinBox()
        self.seconds_spin.setRange(1, 7 * 24 * 3600)
        self.seconds_spin.setValue(600)
        self.seconds_spin.setSuffix(" s")
        self.seconds_spin.setToolTip(SECONDS_TIP)
        seconds_row = QWidget()
        seconds_layout = QHBoxLayout(seconds_row)
        seconds_layout.setContentsMargins(0, 0, 0, 0)
        seconds_layout.addWidget(self.seconds_check)
        seconds_layout.addWidget(self.seconds_spin, 1)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setToolTip(SEED_TIP)
        self.objective_combo = QComboBox()
        self.objective_combo.addItem("validation accuracy (R² for regression)", "accuracy")
        self.objective_combo.addItem("validation cost", "cost")
        self.objective_combo.setToolTip(OBJECTIVE_TIP)
        self.parallel_spin = QSpinBox()
        self.parallel_spin.setRange(0, 1024)
        self.parallel_spin.setSpecialValueText("as many as the queue runs")
        self.parallel_spin.setToolTip(PARALLEL_TIP)
        self.folds_check = QCheckBox("Judge by k-fold cross-validation, k =")
        self.folds_check.setToolTip(FOLDS_TIP)
        self.folds_spin = QSpinBox()
        self.folds_spin.setRange(2, 20)
        self.folds_spin.setValue(5)
        self.folds_spin.setToolTip(FOLDS_TIP)
        folds_row = QWidget()
        folds_layout = QHBoxLayout(folds_row)
        folds_layout.setContentsMargins(0, 0, 0, 0)
        folds_layout.addWidget(self.folds_check)
        folds_layout.addWidget(self.folds_spin)
        folds_layout.addStretch(1)
        self.pruning_check = QCheckBox("Stop hopeless trials early (median rule)")
        self.pruning_check.setChecked(True)
        self.pruning_check.setToolTip(PRUNING_TIP)
        for label, widget, tip in (
                ("Strategy", self.strategy_combo, STRATEGY_TIPS["grid"]),
                ("Trials", self.trials_spin, TRIALS_TIP),
                ("Time budget", seconds_row, SECONDS_TIP),
                ("Seed", self.seed_spin, SEED_TIP),
                ("Objective", self.objective_combo, OBJECTIVE_TIP),
                ("At once", self.parallel_spin, PARALLEL_TIP)):
            label_widget = QLabel(label)
            label_widget.setToolTip(tip)
            form.addRow(label_widget, widget)
        form.addRow(folds_row)
        form.addRow(self.pruning_check)

        self.summary_label = QLabel()
        self.summary_label.setProperty("role", "summary")
        self.summary_label.setWordWrap(True)
        self.error_label = QLabel()
        self.error_label.setProperty("role", "error")
        self.error_label.setWordWrap(True)
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Start search")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(vary_box, 1)
        layout.addWidget(how_box)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.resize(760, 700)

        self.strategy_combo.currentIndexChanged.connect(self._on_strategy)
        for spin in (self.trials_spin, self.seconds_spin, self.seed_spin, self.parallel_spin,
                     self.folds_spin):
            spin.valueChanged.connect(self._revalidate)
        for check in (self.seconds_check, self.pruning_check, self.folds_check):
            check.toggled.connect(self._revalidate)
        self.objective_combo.currentIndexChanged.connect(self._revalidate)

        if spec is not None:
            self.set_spec(spec)
        else:
            self._on_strategy()
            self.add_dimension("alpha")

    # -- reading ---------------------------------------------------------------------------
    def spec(self) -> SearchSpec | None:
        """The search as set up, or None while something is refused (see :meth:`error`)."""
        return self._spec

    def error(self) -> SpecError | None:
        """What is refused (``.key`` names it), or None."""
        return self._error

    def dimensions(self) -> list[DimensionRow]:
        return list(self._rows)

    def dimension(self, name: str) -> DimensionRow:
        """The row varying ``name`` (KeyError if none does)."""
        for row in self._rows:
            if row.name() == name:
                return row
        raise KeyError(name)

    def data(self) -> dict[str, Any]:
        """The search in the layout of a spec file (what :meth:`SearchSpec.from_dict` reads).

        Raises
        ------
        SpecError
            A value typed in a row cannot be read, or a hyperparameter is varied twice.
        """
        space: dict[str, Any] = {}
        for row in self._rows:
            name = row.name()
            if name in space:
                raise SpecError(_key(name), "is varied in two rows; keep one")
            space[name] = row.data()
        fixed = {k: v for k, v in self._fixed.items() if k not in space}
        search: dict[str, Any] = {
            "strategy": self.strategy_combo.currentData(),
            "seed": self.seed_spin.value(),
            "objective": self.objective_combo.currentData(),
            "prune": self.pruning_check.isChecked(),
            "space": space,
        }
        if self.trials_spin.value() > 0:
            search["trials"] = self.trials_spin.value()
        if self.seconds_check.isChecked():
            search["seconds"] = self.seconds_spin.value()
        if self.parallel_spin.value() > 0:
            search["parallel"] = self.parallel_spin.value()
        if self.folds_check.isChecked():
            search["folds"] = self.folds_spin.value()
        return {"fixed": fixed, "search": search}

    # -- writing ---------------------------------------------------------------------------
    def add_dimension(self, name: str | None = None) -> DimensionRow:
        """Vary one more hyperparameter (default: the first not varied yet)."""
        used = {row.name() for row in self._rows}
        if name is None:
            name = next((n for n in NAMES if n not in used), NAMES[0])
        row = DimensionRow(name, self)
        row.edited.connect(self._revalidate)
        row.removeRequested.connect(self._on_remove)
        self._rows.append(row)
        self._rows_layout.addWidget(row)
        self._revalidate()
        return row

    def remove_dimension(self, name: str) -> None:
        self._on_remove(self.dimension(name))

    def set_spec(self, spec: SearchSpec) -> None:
        """Show ``spec``: its fixed values, what it varies, its strategy and budget."""
        self._updating = True
        try:
            self._fixed = dict(spec.fixed)
            for row in list(self._rows):
                self._drop(row)
            for name, dim in spec.space.dimensions.items():
                row = self.add_dimension(name)
                if isinstance(dim, Range):
                    row.set_range(dim.low, dim.high, dim.log, dim.steps)
                else:
                    row.set_values([list(v) if isinstance(v, tuple) else v for v in dim.values])
            self.strategy_combo.setCurrentIndex(self.strategy_combo.findData(spec.strategy))
            self.trials_spin.setValue(spec.trials or 0)
            self.seconds_check.setChecked(spec.seconds is not None)
            if spec.seconds is not None:
                self.seconds_spin.setValue(max(1, round(spec.seconds)))
            self.seed_spin.setValue(spec.seed)
            self.objective_combo.setCurrentIndex(self.objective_combo.findData(spec.objective))
            self.parallel_spin.setValue(spec.parallel or 0)
            self.folds_check.setChecked(spec.folds is not None)
            if spec.folds is not None:
                self.folds_spin.setValue(spec.folds)
            self.pruning_check.setChecked(spec.pruning.enabled)
        finally:
            self._updating = False
        self._update_trials_text()
        self._revalidate()

    # -- internals -------------------------------------------------------------------------
    def _drop(self, row: DimensionRow) -> None:
        self._rows.remove(row)
        self._rows_layout.removeWidget(row)
        row.hide()
        row.deleteLater()

    def _on_remove(self, row: object) -> None:
        if isinstance(row, DimensionRow) and row in self._rows:
            self._drop(row)
            self._revalidate()

    def _on_strategy(self, *args: Any) -> None:
        strategy = self.strategy_combo.currentData()
        self.strategy_combo.setToolTip(STRATEGY_TIPS[strategy])
        if strategy != "grid" and self.trials_spin.value() == 0 and not self._updating:
            self.trials_spin.setValue(20)
        self._update_trials_text()
        self._revalidate()

    def _update_trials_text(self) -> None:
        grid = self.strategy_combo.currentData() == "grid"
        self.trials_spin.setSpecialValueText("all the grid's points" if grid
                                             else "no limit (time budget only)")

    def _revalidate(self, *args: Any) -> None:
        if self._updating:
            return
        self.seconds_spin.setEnabled(self.seconds_check.isChecked())
        used = {row.name() for row in self._rows}
        for action in self.add_menu.actions():
            action.setEnabled(action.data() not in used)
        try:
            spec = SearchSpec.from_dict(self.data())
            error = None
        except SpecError as exc:
            spec, error = None, exc
        self._spec, self._error = spec, error
        self._show(spec, error)
        self.specChanged.emit(spec)

    def _show(self, spec: SearchSpec | None, error: SpecError | None) -> None:
        self.ok_button.setEnabled(spec is not None)
        self.summary_label.setText("" if spec is None else grid_summary(spec))
        self.summary_label.setVisible(spec is not None)
        self.error_label.setText("" if error is None else f"{error.key}: {error.problem}")
        self.error_label.setVisible(error is not None)
        key = "" if error is None else error.key
        for row in self._rows:
            prefix = _key(row.name())
            row.set_invalid(key == prefix or key.startswith((prefix + ".", prefix + "[")))
        _set_invalid(self.trials_spin, key == "search.trials")
        _set_invalid(self.seconds_spin, key == "search.seconds")
        varied = {row.name() for row in self._rows}
        shown = [f"{k} = {_plain(v)}" for k, v in self._fixed.items() if k not in varied]
        self.fixed_label.setText("Stays as in the editor: " + ", ".join(shown))


def _plain(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


if __name__ == "__main__":
    from dnnstudio.gui.preview import preview

    raise SystemExit(preview(lambda: SearchDialog(Hyperparameters(hidden=(4,),
                                                                  activation="tanh"))))
