"""The hyperparameter editor: every choice the person makes before training, in one panel.

Fields are grouped as the lesson groups them: *Core* (alpha, epochs, the hidden layers
``n[1] .. n[L-1]`` and their activations) and *Advanced* (optimizer, mini-batches,
regularisation, decay, initialisation, early stopping, seed, precision). The editor holds no
rules of its own: every edit builds a :class:`~dnnstudio.core.hyperparams.Hyperparameters`, and
the engine's :class:`~dnnstudio.core.errors.HyperparameterError` says what is wrong, which the
editor shows beside the field it names.
"""

from __future__ import annotations

import functools
import html
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QPalette
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from dnnstudio.core.errors import HyperparameterError
from dnnstudio.core.hyperparams import (
    ACTIVATIONS,
    DECAYS,
    DTYPES,
    INITS,
    OPTIMIZERS,
    Hyperparameters,
)
from dnnstudio.gui.tooltips import TOOLTIPS
from dnnstudio.gui.widgets import fill_with_scrolling

__all__ = ["HyperparameterEditor"]

# What the person reads in the combo boxes; the engine's own name is the item data. A name the
# engine adds later still shows up, as itself.
_ACTIVATION_NAMES = {
    "relu": "ReLU",
    "leaky_relu": "Leaky ReLU",
    "tanh": "tanh",
    "sigmoid": "sigmoid",
}
_INIT_NAMES = {"he": "He", "xavier": "Xavier", "small": "Small random (× 0.01)"}
_OPTIMIZER_NAMES = {
    "gd": "Gradient descent",
    "momentum": "Momentum",
    "rmsprop": "RMSprop",
    "adam": "Adam",
}
_DECAY_NAMES = {
    "none": "None",
    "inverse_time": "1/t (inverse time)",
    "exponential": "Exponential",
    "step": "Step",
}
_DECAY_FORMULAS = {
    "none": "alpha stays as it is",
    "inverse_time": "alpha / (1 + rate · epoch)",
    "exponential": "alpha · rate^epoch",
    "step": "alpha · rate^(epoch // step)",
}
_OPTIMIZER_USES: dict[str, tuple[str, ...]] = {
    "gd": (),
    "momentum": ("beta",),
    "rmsprop": ("beta2", "epsilon"),
    "adam": ("beta1", "beta2", "epsilon"),
}
_ALPHA_PRESETS = ("0.001", "0.003", "0.01", "0.03", "0.1", "0.3")
"""The lesson's learning-rate search: each value about three times the one before."""

_CORE_FIELDS = frozenset({"alpha", "epochs", "hidden", "activation"})
_LAYER_FIELD = re.compile(r"^(n|activation)\[(\d+)\]$")
# Spin boxes take any int the widget can hold; the engine, not the range, says what is allowed.
_INT_MAX = 2**31 - 1
_DEFAULT_NEW_UNITS = 4
_DEFAULT_BATCH = 64
_DEFAULT_PATIENCE = 50

_INVALID_BACKGROUND = "#ffd9d9"
_INVALID_TEXT = "#b71c1c"
_STYLE = """
QLineEdit[invalid="true"], QComboBox[invalid="true"] {
    border: 2px solid #d32f2f;
    border-radius: 3px;
    background-color: #fff3f3;
}
QFrame#hiddenLayers[invalid="true"] {
    border: 2px solid #d32f2f;
    border-radius: 3px;
}
QToolButton#alphaPresets::menu-indicator { image: none; width: 0px; }
QLabel[role="error"] { color: #b71c1c; }
QLabel[role="note"] { color: #757575; }
"""


def _format_number(value: float) -> str:
    """The shortest text that reads back as exactly ``value`` (``0.01``, ``1e-08``, ``1``)."""
    if isinstance(value, int):
        return str(value)
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _parse_number(text: str, *, integer: bool) -> int | float | str:
    """The number in ``text``, or ``text`` itself when it is none, for the engine to refuse."""
    stripped = text.strip()
    if integer:
        try:
            return int(stripped)
        except ValueError:
            pass
    for candidate in (stripped, stripped.replace(",", ".")):
        try:
            return float(candidate)
        except ValueError:
            continue
    return text


def _log_step(value: float, up: bool) -> float:
    """The next value on the 1-3-10 ladder (0.001, 0.003, 0.01, ...) above or below ``value``."""
    exponent = math.floor(math.log10(value))
    mantissa = round(value / 10.0**exponent, 9)
    if up:
        m, e = (3, exponent) if mantissa < 3 else (1, exponent + 1)
    elif mantissa > 3:
        m, e = 3, exponent
    elif mantissa > 1:
        m, e = 1, exponent
    else:
        m, e = 3, exponent - 1
    # Through text, so that 3e-2 is exactly the float 0.03 a person would type.
    return float(f"{m}e{e}")


class _NumberEdit(QLineEdit):
    """A line edit for one number that accepts ``1e-3`` style and leaves judging to the engine.

    Parameters
    ----------
    integer : bool
        Read whole numbers as int (a seed); otherwise as float.
    log_steps : bool
        Up/Down step along 0.001, 0.003, 0.01, 0.03, ... (for alpha, searched on a log scale).
    """

    def __init__(self, *, integer: bool = False, log_steps: bool = False) -> None:
        super().__init__()
        self._integer = integer
        self._log_steps = log_steps
        self.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def value(self) -> int | float | str:
        """The number typed, or the raw text when it is not a number."""
        return _parse_number(self.text(), integer=self._integer)

    def set_value(self, value: float) -> None:
        self.setText(_format_number(value))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if self._log_steps and key in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            value = self.value()
            if isinstance(value, float | int) and math.isfinite(value) and value > 0:
                self.setText(_format_number(_log_step(float(value), key == Qt.Key.Key_Up)))
            event.accept()
            return
        super().keyPressEvent(event)


def _combo(
    choices: Sequence[str], names: Mapping[str, str], tips: Mapping[str, str] | None = None
) -> QComboBox:
    combo = QComboBox()
    for choice in choices:
        combo.addItem(names.get(choice, choice), choice)
        if tips and choice in tips:
            combo.setItemData(combo.count() - 1, tips[choice], Qt.ItemDataRole.ToolTipRole)
    # Sized by a few characters, not by the longest item, so the panel fits a narrow dock.
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(6)
    return combo


def _set_combo(combo: QComboBox, value: str) -> None:
    combo.setCurrentIndex(combo.findData(value))


def _combo_value(combo: QComboBox) -> str | None:
    data = combo.currentData()
    return data if isinstance(data, str) else None


def _spin(minimum: int = 0, maximum: int = _INT_MAX) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(minimum, maximum)
    spin.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    spin.setGroupSeparatorShown(True)
    # The range's widest number would make every spin box 10 digits wide.
    spin.setMinimumWidth(70)
    spin.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    return spin


def _set_property(widget: QWidget, name: str, value: bool) -> None:
    if bool(widget.property(name)) == value:
        return
    widget.setProperty(name, value)
    # Dynamic properties in style sheets are only re-read on a re-polish.
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def _set_invalid(widget: QWidget, invalid: bool) -> None:
    """Mark ``widget`` as holding an invalid value (its ``invalid`` property), or unmark it."""
    _set_property(widget, "invalid", invalid)
    if isinstance(widget, QAbstractSpinBox):
        # A border from a style sheet makes Qt draw the spin box's arrows itself, badly; a
        # tinted field inside the native frame reads as clearly and keeps the arrows.
        palette = QPalette()  # the inherited colours
        if invalid:
            palette = QPalette(widget.palette())
            palette.setColor(QPalette.ColorRole.Base, QColor(_INVALID_BACKGROUND))
            palette.setColor(QPalette.ColorRole.Text, QColor(_INVALID_TEXT))
        widget.setPalette(palette)
        inner = widget.findChild(QLineEdit)
        if inner is not None:
            inner.setPalette(palette)


def _error_html(message: str) -> str:
    return f'<p style="color:#b71c1c">{html.escape(message)}</p>'


def _note(text: str) -> QLabel:
    label = QLabel(text)
    label.setProperty("role", "note")
    label.setWordWrap(True)
    return label


class _LayerRow(QWidget):
    """One hidden layer ``l``: its units ``n[l]``, its activation and a remove button."""

    edited = Signal()
    removeRequested = Signal(object)

    def __init__(self, units: int, activation: str) -> None:
        super().__init__()
        self.label = QLabel()
        self.label.setMinimumWidth(34)
        self.units_spin = _spin()
        self.units_spin.setValue(units)
        self.units_spin.setToolTip(TOOLTIPS["hidden"])
        self.activation_combo = _combo(ACTIVATIONS, _ACTIVATION_NAMES)
        _set_combo(self.activation_combo, activation)
        self.activation_combo.setToolTip(TOOLTIPS["activation"])
        self.remove_button = QToolButton()
        self.remove_button.setObjectName("removeLayerButton")
        self.remove_button.setText("−")
        self.remove_button.setAutoRaise(True)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.units_spin, 2)
        layout.addWidget(self.activation_combo, 3)
        layout.addWidget(self.remove_button)

        self.units_spin.valueChanged.connect(self.edited)
        self.activation_combo.currentIndexChanged.connect(self.edited)
        self.remove_button.clicked.connect(self._on_remove_clicked)

    def set_index(self, index: int) -> None:
        """Number this row as hidden layer ``index`` (1-based, as in the course)."""
        self.label.setText(f"n[{index}]")
        self.remove_button.setToolTip(f"Remove hidden layer {index}")

    def units(self) -> int:
        return self.units_spin.value()

    def activation(self) -> str:
        return _combo_value(self.activation_combo) or ACTIVATIONS[0]

    def _on_remove_clicked(self) -> None:
        self.removeRequested.emit(self)


class HyperparameterEditor(QWidget):
    """Edits every field of :class:`Hyperparameters`; the engine judges what is valid.

    Parameters
    ----------
    parent : QWidget, optional
    hyperparameters : Hyperparameters, optional
        The values to start from (default: ``Hyperparameters()``).

    Signals
    -------
    hyperparametersChanged(object)
        The new valid :class:`Hyperparameters` after an edit, or None when the edit made
        them invalid. Emitted only when the value changes.
    validityChanged(bool)
        When the values turn from valid to invalid or back.
    """

    hyperparametersChanged = Signal(object)
    validityChanged = Signal(bool)

    def __init__(
        self, parent: QWidget | None = None, *, hyperparameters: Hyperparameters | None = None
    ) -> None:
        super().__init__(parent)
        initial = hyperparameters if hyperparameters is not None else Hyperparameters()
        self._rows: list[_LayerRow] = []
        self._fields: dict[str, QWidget] = {}
        self._labels: dict[str, QLabel] = {}
        self._errors: dict[str, str] = {}
        self._hp: Hyperparameters | None = initial
        self._valid = True
        self._updating = False
        # The "all layers" choice, remembered for a network with no hidden layer.
        self._all_activation = ACTIVATIONS[0]

        content = QWidget()
        content.setStyleSheet(_STYLE)
        column = QVBoxLayout(content)
        column.setContentsMargins(4, 4, 4, 4)
        column.addWidget(self._build_core())
        column.addWidget(self._build_advanced())
        column.addStretch(1)

        fill_with_scrolling(self, content)

        for name, label in self._labels.items():
            label.setToolTip(TOOLTIPS[name])
        self._fill(initial)
        self._refresh(emit=False)

    # -- building -------------------------------------------------------------------------
    def _form(self, box: QGroupBox) -> QFormLayout:
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        form.setContentsMargins(6, 6, 6, 6)
        form.setVerticalSpacing(4)
        return form

    def _add_field(self, form: QFormLayout, name: str, label: str, widget: QWidget,
                   field: QWidget | None = None) -> None:
        """Add a form row for hyperparameter ``name``; ``field`` is marked when it is invalid."""
        label_widget = QLabel(label)
        self._labels[name] = label_widget
        self._fields[name] = field if field is not None else widget
        form.addRow(label_widget, widget)

    def _build_core(self) -> QGroupBox:
        box = QGroupBox("Core")
        form = self._form(box)

        self._alpha = _NumberEdit(log_steps=True)
        presets = QToolButton()
        presets.setObjectName("alphaPresets")
        presets.setText("▾")
        presets.setToolTip("The lesson's search: 0.001, 0.003, 0.01, 0.03, 0.1, 0.3")
        presets.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(presets)
        for text in _ALPHA_PRESETS:
            menu.addAction(text, functools.partial(self._alpha.setText, text))
        presets.setMenu(menu)
        alpha_row = QWidget()
        alpha_layout = QHBoxLayout(alpha_row)
        alpha_layout.setContentsMargins(0, 0, 0, 0)
        alpha_layout.setSpacing(2)
        alpha_layout.addWidget(self._alpha, 1)
        alpha_layout.addWidget(presets)
        self._add_field(form, "alpha", "alpha", alpha_row, self._alpha)

        self._epochs = _spin()
        self._epochs.setSingleStep(100)
        self._add_field(form, "epochs", "Epochs", self._epochs)

        heading = QLabel("Hidden layers n[1] .. n[L-1]")
        heading.setToolTip(TOOLTIPS["hidden"])
        form.addRow(heading)
        self._layers = QFrame()
        self._layers.setObjectName("hiddenLayers")
        self._layers_layout = QVBoxLayout(self._layers)
        self._layers_layout.setContentsMargins(2, 2, 2, 2)
        self._layers_layout.setSpacing(2)
        self._fields["hidden"] = self._layers
        form.addRow(self._layers)

        self._add_button = QPushButton("+ Add layer")
        self._add_button.setObjectName("addLayerButton")
        self._add_button.setToolTip("Add a hidden layer before the output layer")
        self._add_button.clicked.connect(self.add_layer)
        self._all_combo = _combo(ACTIVATIONS, _ACTIVATION_NAMES)
        # Shown when the layers have different activations.
        self._all_combo.setPlaceholderText("mixed")
        self._all_combo.setObjectName("allActivations")
        self._fields["activation"] = self._all_combo
        self._all_combo.activated.connect(self._on_all_activation_chosen)
        add_row = QWidget()
        add_layout = QHBoxLayout(add_row)
        add_layout.setContentsMargins(0, 0, 0, 0)
        add_layout.addWidget(self._add_button)
        add_layout.addStretch(1)
        all_label = QLabel("All:")
        all_label.setToolTip(TOOLTIPS["activation"])
        add_layout.addWidget(all_label)
        add_layout.addWidget(self._all_combo)
        form.addRow(add_row)

        self._output_note = _note("")
        form.addRow(self._output_note)
        self._depth = QLabel()
        self._depth.setObjectName("depthLabel")
        self._depth.setToolTip(
            "L counts the layers that have parameters W[l], b[l]: the hidden layers and the "
            "output layer (the input layer n[0] has none)."
        )
        form.addRow(self._depth)

        self._core_errors = self._error_label()
        form.addRow(self._core_errors)
        self._epochs.valueChanged.connect(self._on_edited)
        self._alpha.textChanged.connect(self._on_edited)
        return box

    def _build_advanced(self) -> QGroupBox:
        box = QGroupBox("Advanced")
        form = self._form(box)
        self._advanced_form = form

        self._optimizer = _combo(OPTIMIZERS, _OPTIMIZER_NAMES)
        self._add_field(form, "optimizer", "Optimizer", self._optimizer)
        self._beta = _NumberEdit()
        self._add_field(form, "beta", "beta", self._beta)
        self._beta1 = _NumberEdit()
        self._add_field(form, "beta1", "beta1", self._beta1)
        self._beta2 = _NumberEdit()
        self._add_field(form, "beta2", "beta2", self._beta2)
        self._epsilon = _NumberEdit()
        self._add_field(form, "epsilon", "epsilon", self._epsilon)

        self._batch = _spin()
        self._batch.setValue(_DEFAULT_BATCH)
        self._full_batch = QCheckBox("Full batch")
        self._full_batch.setObjectName("fullBatch")
        self._full_batch.setToolTip(TOOLTIPS["batch_size"])
        self._add_field(form, "batch_size", "Mini-batch",
                        self._pair(self._batch, self._full_batch), self._batch)

        self._l2 = _NumberEdit()
        self._add_field(form, "l2", "L2 lambda", self._l2)
        self._keep_prob = _NumberEdit()
        self._add_field(form, "keep_prob", "keep_prob", self._keep_prob)

        self._decay = _combo(DECAYS, _DECAY_NAMES, _DECAY_FORMULAS)
        self._add_field(form, "decay", "alpha decay", self._decay)
        self._decay_rate = _NumberEdit()
        self._add_field(form, "decay_rate", "Decay rate", self._decay_rate)
        self._decay_step = _spin()
        self._decay_step.setSingleStep(10)
        self._add_field(form, "decay_step", "Decay step", self._decay_step)

        self._init = _combo(INITS, _INIT_NAMES)
        self._add_field(form, "init", "Init W[l]", self._init)

        self._patience = _spin()
        self._patience.setValue(_DEFAULT_PATIENCE)
        self._patience.setPrefix("patience ")
        self._stop_off = QCheckBox("Off")
        self._stop_off.setObjectName("earlyStoppingOff")
        self._stop_off.setToolTip(TOOLTIPS["patience"])
        self._add_field(form, "patience", "Early stop",
                        self._pair(self._patience, self._stop_off), self._patience)

        self._seed = _NumberEdit(integer=True)
        self._add_field(form, "seed", "Seed", self._seed)
        self._dtype = _combo(DTYPES, {})
        self._add_field(form, "dtype", "Precision", self._dtype)

        self._advanced_errors = self._error_label()
        form.addRow(self._advanced_errors)

        for edit in (self._beta, self._beta1, self._beta2, self._epsilon, self._l2,
                     self._keep_prob, self._decay_rate, self._seed):
            edit.textChanged.connect(self._on_edited)
        for spin in (self._batch, self._decay_step, self._patience):
            spin.valueChanged.connect(self._on_edited)
        for combo in (self._optimizer, self._decay, self._init, self._dtype):
            combo.currentIndexChanged.connect(self._on_edited)
        for check in (self._full_batch, self._stop_off):
            check.toggled.connect(self._on_edited)
        return box

    @staticmethod
    def _pair(first: QWidget, second: QWidget) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(first, 1)
        layout.addWidget(second)
        return row

    @staticmethod
    def _error_label() -> QLabel:
        label = QLabel()
        label.setProperty("role", "error")
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setVisible(False)
        return label

    # -- public API -----------------------------------------------------------------------
    def hyperparameters(self) -> Hyperparameters | None:
        """The values shown, or None while any of them is invalid."""
        return self._hp

    def set_hyperparameters(self, hyperparameters: Hyperparameters) -> None:
        """Show ``hyperparameters`` in every field (emits the change signals if they change)."""
        self._fill(hyperparameters)
        self._refresh(emit=True)

    def errors(self) -> dict[str, str]:
        """The engine's message for each invalid field, keyed by field (``alpha``, ``n[2]``)."""
        return dict(self._errors)

    def field(self, name: str) -> QWidget:
        """The input widget of a field: a Hyperparameters field name, ``n[l]`` or
        ``activation[l]``; KeyError for any other name."""
        widget = self._widget_for(name)
        if widget is None:
            raise KeyError(name)
        return widget

    def add_layer(self) -> None:
        """Add a hidden layer before the output layer, as wide as the last hidden layer."""
        units = self._rows[-1].units() if self._rows else _DEFAULT_NEW_UNITS
        mixed = self._all_combo.currentIndex() < 0
        activation = self._rows[-1].activation() if mixed and self._rows else self._all_activation
        self._append_row(units, activation)
        self._renumber()
        self._on_edited()

    def remove_layer(self, index: int) -> None:
        """Remove hidden layer ``index`` (1-based, as in ``n[index]``)."""
        self._discard(self._rows.pop(index - 1))
        self._renumber()
        self._on_edited()

    # -- filling and reading --------------------------------------------------------------
    def _fill(self, hp: Hyperparameters) -> None:
        self._updating = True
        try:
            self._alpha.set_value(hp.alpha)
            self._epochs.setValue(hp.epochs)
            for row in self._rows:
                self._discard(row)
            self._rows = []
            for units, activation in zip(hp.hidden, hp.hidden_activations, strict=True):
                self._append_row(units, activation)
            if isinstance(hp.activation, str):
                self._all_activation = hp.activation
            self._renumber()
            _set_combo(self._optimizer, hp.optimizer)
            self._beta.set_value(hp.beta)
            self._beta1.set_value(hp.beta1)
            self._beta2.set_value(hp.beta2)
            self._epsilon.set_value(hp.epsilon)
            self._full_batch.setChecked(hp.batch_size is None)
            if hp.batch_size is not None:
                self._batch.setValue(hp.batch_size)
            self._l2.set_value(hp.l2)
            self._keep_prob.set_value(hp.keep_prob)
            _set_combo(self._decay, hp.decay)
            self._decay_rate.set_value(hp.decay_rate)
            self._decay_step.setValue(hp.decay_step)
            _set_combo(self._init, hp.init)
            self._stop_off.setChecked(hp.patience is None)
            if hp.patience is not None:
                self._patience.setValue(hp.patience)
            self._seed.set_value(hp.seed)
            _set_combo(self._dtype, hp.dtype)
        finally:
            self._updating = False

    def _append_row(self, units: int, activation: str) -> None:
        row = _LayerRow(units, activation)
        row.edited.connect(self._on_layer_edited)
        row.removeRequested.connect(self._on_remove_requested)
        self._rows.append(row)
        self._layers_layout.addWidget(row)

    def _discard(self, row: _LayerRow) -> None:
        self._layers_layout.removeWidget(row)
        # Hidden at once: deleteLater only takes effect when the event loop next runs.
        row.hide()
        row.deleteLater()

    def _renumber(self) -> None:
        for index, row in enumerate(self._rows, start=1):
            row.set_index(index)
        self._layers.setVisible(bool(self._rows))
        self._sync_all_combo()

    def _sync_all_combo(self) -> None:
        activations = {row.activation() for row in self._rows}
        if len(activations) == 1:
            self._all_activation = activations.pop()
        if len(activations) > 1:
            self._all_combo.setCurrentIndex(-1)
        else:
            _set_combo(self._all_combo, self._all_activation)

    def _values(self) -> dict[str, Any]:
        """Every field as typed: numbers where they parse, raw text where they do not."""
        activations = tuple(row.activation() for row in self._rows)
        activation: str | tuple[str, ...] = self._all_activation
        if len(set(activations)) > 1:
            activation = activations
        elif activations:
            activation = activations[0]
        return {
            "alpha": self._alpha.value(),
            "epochs": self._epochs.value(),
            "hidden": tuple(row.units() for row in self._rows),
            "activation": activation,
            "init": _combo_value(self._init),
            "optimizer": _combo_value(self._optimizer),
            "beta": self._beta.value(),
            "beta1": self._beta1.value(),
            "beta2": self._beta2.value(),
            "epsilon": self._epsilon.value(),
            "batch_size": None if self._full_batch.isChecked() else self._batch.value(),
            "l2": self._l2.value(),
            "keep_prob": self._keep_prob.value(),
            "decay": _combo_value(self._decay),
            "decay_rate": self._decay_rate.value(),
            "decay_step": self._decay_step.value(),
            "patience": None if self._stop_off.isChecked() else self._patience.value(),
            "seed": self._seed.value(),
            "dtype": _combo_value(self._dtype),
        }

    # -- validation (by the engine) -------------------------------------------------------
    @staticmethod
    def _validate(values: dict[str, Any]) -> tuple[Hyperparameters | None, dict[str, str]]:
        """Build Hyperparameters; on a refusal, note it and retry with that field made valid.

        The engine reports one problem at a time; putting a known-good value in the refused
        field and asking again finds every other problem too, so all of them can be marked.
        """
        errors: dict[str, str] = {}
        values = dict(values)
        defaults = Hyperparameters()
        for _ in range(len(values) + len(values["hidden"]) + 1):
            try:
                hp = Hyperparameters(**values)
            except HyperparameterError as err:
                if err.field in errors:
                    break
                errors[err.field] = str(err)
                match = _LAYER_FIELD.match(err.field)
                if match:
                    kind, index = match.group(1), int(match.group(2)) - 1
                    if kind == "n":
                        hidden = list(values["hidden"])
                        hidden[index] = 1
                        values["hidden"] = tuple(hidden)
                    else:
                        acts = list(values["activation"])
                        acts[index] = ACTIVATIONS[0]
                        values["activation"] = tuple(acts)
                elif err.field in ("hidden", "activation"):
                    values["hidden"] = ()
                    values["activation"] = defaults.activation
                elif err.field in values:
                    values[err.field] = getattr(defaults, err.field)
                else:
                    break
            else:
                return (hp if not errors else None), errors
        return None, errors

    def _on_edited(self) -> None:
        if not self._updating:
            self._refresh(emit=True)

    def _refresh(self, *, emit: bool) -> None:
        self._update_visibility()
        hp, errors = self._validate(self._values())
        self._show_errors(errors)
        self._errors = errors
        n_layers = len(self._rows)
        self._depth.setText(
            f"L = {n_layers + 1}: {n_layers} hidden layer{'s' if n_layers != 1 else ''} "
            "+ the output layer"
        )
        self._output_note.setText(
            f"n[{n_layers + 1}] = n[L]: the output layer, sized by the task (1 unit, or one "
            "per class)"
        )
        changed = hp != self._hp
        valid = hp is not None
        validity_changed = valid != self._valid
        self._hp = hp
        self._valid = valid
        if emit and changed:
            self.hyperparametersChanged.emit(hp)
        if emit and validity_changed:
            self.validityChanged.emit(valid)

    def _update_visibility(self) -> None:
        uses = _OPTIMIZER_USES.get(_combo_value(self._optimizer) or "", ())
        for name in ("beta", "beta1", "beta2", "epsilon"):
            self._advanced_form.setRowVisible(self._labels[name], name in uses)
        decay = _combo_value(self._decay)
        self._advanced_form.setRowVisible(self._labels["decay_rate"], decay != "none")
        self._advanced_form.setRowVisible(self._labels["decay_step"], decay == "step")
        self._batch.setEnabled(not self._full_batch.isChecked())
        self._patience.setEnabled(not self._stop_off.isChecked())

    def _widget_for(self, field: str) -> QWidget | None:
        match = _LAYER_FIELD.match(field)
        if match:
            index = int(match.group(2)) - 1
            if not 0 <= index < len(self._rows):
                return None
            row = self._rows[index]
            return row.units_spin if match.group(1) == "n" else row.activation_combo
        return self._fields.get(field)

    def _show_errors(self, errors: dict[str, str]) -> None:
        marked: dict[QWidget, str] = {}
        for field, message in errors.items():
            widget = self._widget_for(field)
            if widget is not None:
                marked[widget] = message
        for widget, base in self._tooltip_bases():
            problem = marked.get(widget)
            _set_invalid(widget, problem is not None)
            widget.setToolTip(base + (_error_html(problem) if problem else ""))

        core = [m for f, m in errors.items() if f in _CORE_FIELDS or _LAYER_FIELD.match(f)]
        advanced = [
            m for f, m in errors.items() if not (f in _CORE_FIELDS or _LAYER_FIELD.match(f))
        ]
        for label, messages in ((self._core_errors, core), (self._advanced_errors, advanced)):
            label.setText("\n".join(f"⚠ {m}" for m in messages))
            label.setVisible(bool(messages))

    def _tooltip_bases(self) -> list[tuple[QWidget, str]]:
        """Every markable widget with its tooltip when valid."""
        pairs: list[tuple[QWidget, str]] = [
            (widget, TOOLTIPS[name]) for name, widget in self._fields.items()
        ]
        for row in self._rows:
            pairs.append((row.units_spin, TOOLTIPS["hidden"]))
            pairs.append((row.activation_combo, TOOLTIPS["activation"]))
        return pairs

    # -- handlers -------------------------------------------------------------------------
    def _on_layer_edited(self) -> None:
        if not self._updating:
            self._sync_all_combo()
        self._on_edited()

    def _on_remove_requested(self, row: object) -> None:
        if isinstance(row, _LayerRow) and row in self._rows:
            self.remove_layer(self._rows.index(row) + 1)

    def _on_all_activation_chosen(self, index: int) -> None:
        activation = self._all_combo.itemData(index)
        if not isinstance(activation, str):
            return
        self._all_activation = activation
        self._updating = True
        try:
            for row in self._rows:
                _set_combo(row.activation_combo, activation)
        finally:
            self._updating = False
        self._on_edited()


if __name__ == "__main__":
    from dnnstudio.gui.preview import preview

    raise SystemExit(preview(HyperparameterEditor, size=(320, 720)))
