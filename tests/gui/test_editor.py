"""The hyperparameter editor: edits become validated Hyperparameters; the engine's refusals show."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
)
from pytestqt.qtbot import QtBot

from dnnstudio.core.hyperparams import Hyperparameters
from dnnstudio.gui.panels.editor import HyperparameterEditor
from dnnstudio.gui.tooltips import TOOLTIPS

FIELDS = [f.name for f in dataclasses.fields(Hyperparameters)]
START = Hyperparameters(hidden=(4,), activation="tanh")


@pytest.fixture
def editor(qtbot: QtBot) -> HyperparameterEditor:
    widget = HyperparameterEditor(hyperparameters=START)
    qtbot.addWidget(widget)
    return widget


@pytest.fixture
def emitted(editor: HyperparameterEditor) -> list[object]:
    values: list[object] = []
    editor.hyperparametersChanged.connect(values.append)
    return values


def _choose(combo: QComboBox, value: str) -> None:
    """Pick the item whose data is ``value``, as a person would (``activated`` included)."""
    index = combo.findData(value)
    assert index >= 0, value
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def _layer_buttons(editor: HyperparameterEditor) -> list[QToolButton]:
    return [
        b for b in editor.findChildren(QToolButton, "removeLayerButton") if b.isVisibleTo(editor)
    ]


def test_starts_from_the_given_hyperparameters(editor: HyperparameterEditor) -> None:
    assert editor.hyperparameters() == START
    assert editor.errors() == {}


def test_defaults_to_the_engines_defaults(qtbot: QtBot) -> None:
    widget = HyperparameterEditor()
    qtbot.addWidget(widget)
    assert widget.hyperparameters() == Hyperparameters()


@pytest.mark.parametrize(
    ("text", "expected"), [("0.03", 0.03), ("1e-3", 0.001), (" 0,5 ", 0.5), ("2", 2.0)]
)
def test_typing_alpha_emits_hyperparameters_with_that_alpha(
    qtbot: QtBot, editor: HyperparameterEditor, emitted: list[object], text: str, expected: float
) -> None:
    field = editor.field("alpha")
    assert isinstance(field, QLineEdit)
    field.clear()
    qtbot.keyClicks(field, text)
    assert emitted[-1] == START.replace(alpha=expected)
    assert editor.hyperparameters() == START.replace(alpha=expected)


def test_editing_other_fields_emits_their_values(
    editor: HyperparameterEditor, emitted: list[object]
) -> None:
    epochs = editor.field("epochs")
    assert isinstance(epochs, QSpinBox)
    epochs.setValue(2500)
    assert emitted[-1] == START.replace(epochs=2500)

    optimizer = editor.field("optimizer")
    assert isinstance(optimizer, QComboBox)
    _choose(optimizer, "adam")
    assert emitted[-1] == START.replace(epochs=2500, optimizer="adam")

    batch = editor.field("batch_size")
    assert isinstance(batch, QSpinBox)
    assert not batch.isEnabled()  # full batch by default
    full = editor.findChild(QCheckBox, "fullBatch")
    assert full is not None
    full.setChecked(False)
    batch.setValue(32)
    hp = editor.hyperparameters()
    assert hp is not None
    assert hp.batch_size == 32
    assert batch.isEnabled()


@pytest.mark.parametrize("text", ["0", "-0.1", "abc", ""])
def test_an_invalid_alpha_is_marked_and_makes_the_values_invalid(
    qtbot: QtBot, editor: HyperparameterEditor, emitted: list[object], text: str
) -> None:
    field = editor.field("alpha")
    assert isinstance(field, QLineEdit)
    with qtbot.waitSignal(editor.validityChanged) as blocker:
        field.setText(text)
    assert blocker.args == [False]
    assert editor.hyperparameters() is None
    assert emitted[-1] is None
    assert field.property("invalid") is True
    message = editor.errors()["alpha"]
    assert "alpha must be a finite number > 0" in message
    assert "must be a finite number &gt; 0" in field.toolTip()  # shown on the field itself
    shown = [label.text() for label in editor.findChildren(QLabel) if label.isVisibleTo(editor)]
    assert any(message in text_shown for text_shown in shown)

    with qtbot.waitSignal(editor.validityChanged) as blocker:
        field.setText("0.1")
    assert blocker.args == [True]
    assert editor.hyperparameters() == START.replace(alpha=0.1)
    assert field.property("invalid") is False
    assert editor.errors() == {}
    assert "finite number" not in field.toolTip()


def test_every_invalid_field_is_reported_at_once(editor: HyperparameterEditor) -> None:
    alpha = editor.field("alpha")
    keep_prob = editor.field("keep_prob")
    units = editor.field("n[1]")
    assert isinstance(alpha, QLineEdit)
    assert isinstance(keep_prob, QLineEdit)
    assert isinstance(units, QSpinBox)
    alpha.setText("0")
    keep_prob.setText("1.5")
    units.setValue(0)
    assert set(editor.errors()) == {"alpha", "keep_prob", "n[1]"}
    assert "n[1] = 0 is not allowed" in editor.errors()["n[1]"]
    for widget in (alpha, keep_prob, units):
        assert widget.property("invalid") is True
    units.setValue(3)
    assert set(editor.errors()) == {"alpha", "keep_prob"}
    assert units.property("invalid") is False


def test_adding_resizing_and_removing_hidden_layers(
    qtbot: QtBot, editor: HyperparameterEditor
) -> None:
    add = editor.findChild(QPushButton, "addLayerButton")
    depth = editor.findChild(QLabel, "depthLabel")
    assert add is not None
    assert depth is not None

    qtbot.mouseClick(add, Qt.MouseButton.LeftButton)
    hp = editor.hyperparameters()
    assert hp is not None
    assert hp.hidden == (4, 4)  # a new layer is as wide as the last one
    assert hp.L == 3
    assert depth.text().startswith("L = 3")

    units = editor.field("n[2]")
    assert isinstance(units, QSpinBox)
    units.setValue(8)
    hp = editor.hyperparameters()
    assert hp is not None
    assert hp.hidden == (4, 8)

    qtbot.mouseClick(_layer_buttons(editor)[0], Qt.MouseButton.LeftButton)  # remove n[1]
    hp = editor.hyperparameters()
    assert hp is not None
    assert hp.hidden == (8,)
    assert depth.text().startswith("L = 2")
    assert editor.field("n[1]") is units  # renumbered

    qtbot.mouseClick(_layer_buttons(editor)[0], Qt.MouseButton.LeftButton)
    hp = editor.hyperparameters()
    assert hp is not None
    assert hp.hidden == ()
    assert hp.L == 1
    assert depth.text().startswith("L = 1")
    assert _layer_buttons(editor) == []


def test_per_layer_and_all_layer_activations(editor: HyperparameterEditor) -> None:
    editor.add_layer()
    second = editor.field("activation[2]")
    assert isinstance(second, QComboBox)
    _choose(second, "relu")
    hp = editor.hyperparameters()
    assert hp is not None
    assert hp.activation == ("tanh", "relu")
    everything = editor.field("activation")
    assert isinstance(everything, QComboBox)
    assert everything.currentIndex() == -1  # "mixed"

    _choose(everything, "sigmoid")
    hp = editor.hyperparameters()
    assert hp is not None
    assert hp.activation == "sigmoid"
    assert hp.hidden_activations == ("sigmoid", "sigmoid")
    first = editor.field("activation[1]")
    assert isinstance(first, QComboBox)
    assert first.currentData() == "sigmoid"


@pytest.mark.parametrize(
    ("optimizer", "shown"),
    [
        ("gd", set()),
        ("momentum", {"beta"}),
        ("rmsprop", {"beta2", "epsilon"}),
        ("adam", {"beta1", "beta2", "epsilon"}),
    ],
)
def test_the_optimizer_shows_only_the_constants_it_uses(
    editor: HyperparameterEditor, optimizer: str, shown: set[str]
) -> None:
    combo = editor.field("optimizer")
    assert isinstance(combo, QComboBox)
    _choose(combo, "adam" if optimizer == "gd" else "gd")  # start from something else
    _choose(combo, optimizer)
    visible = {
        name
        for name in ("beta", "beta1", "beta2", "epsilon")
        if editor.field(name).isVisibleTo(editor)
    }
    assert visible == shown


@pytest.mark.parametrize(
    ("decay", "shown"),
    [
        ("none", set()),
        ("inverse_time", {"decay_rate"}),
        ("exponential", {"decay_rate"}),
        ("step", {"decay_rate", "decay_step"}),
    ],
)
def test_decay_shows_only_the_settings_it_uses(
    editor: HyperparameterEditor, decay: str, shown: set[str]
) -> None:
    combo = editor.field("decay")
    assert isinstance(combo, QComboBox)
    _choose(combo, "step" if decay == "none" else "none")
    _choose(combo, decay)
    visible = {n for n in ("decay_rate", "decay_step") if editor.field(n).isVisibleTo(editor)}
    assert visible == shown


def test_up_and_down_step_alpha_on_a_log_scale(
    qtbot: QtBot, editor: HyperparameterEditor
) -> None:
    field = editor.field("alpha")
    qtbot.keyClick(field, Qt.Key.Key_Up)
    assert field.property("text") == "0.03"
    qtbot.keyClick(field, Qt.Key.Key_Up)
    assert field.property("text") == "0.1"
    qtbot.keyClick(field, Qt.Key.Key_Down)
    qtbot.keyClick(field, Qt.Key.Key_Down)
    qtbot.keyClick(field, Qt.Key.Key_Down)
    assert field.property("text") == "0.003"


ROUND_TRIPS = [
    Hyperparameters(
        alpha=0.003,
        epochs=2500,
        hidden=(5, 7, 3),
        activation=("relu", "tanh", "sigmoid"),
        init="xavier",
        optimizer="adam",
        beta=0.8,
        beta1=0.85,
        beta2=0.99,
        epsilon=1e-7,
        batch_size=32,
        l2=0.1,
        keep_prob=0.8,
        decay="step",
        decay_rate=0.5,
        decay_step=50,
        patience=10,
        seed=4_000_000_000,  # more than a QSpinBox could hold
        dtype="float64",
    ),
    Hyperparameters(hidden=(), activation="leaky_relu", optimizer="momentum", l2=0.3 + 0.1),
    Hyperparameters(hidden=(2, 2), activation="sigmoid", decay="exponential", decay_rate=0.95),
]


def test_the_round_trip_cases_change_every_field() -> None:
    changed = set(ROUND_TRIPS[0].differences(Hyperparameters()))
    assert changed == set(FIELDS)


@pytest.mark.parametrize("hp", ROUND_TRIPS)
def test_set_hyperparameters_round_trips_every_field(
    qtbot: QtBot, editor: HyperparameterEditor, hp: Hyperparameters
) -> None:
    with qtbot.waitSignal(editor.hyperparametersChanged) as blocker:
        editor.set_hyperparameters(hp)
    assert blocker.args == [hp]
    assert editor.hyperparameters() == hp
    assert editor.errors() == {}

    editor.set_hyperparameters(START)
    assert editor.hyperparameters() == START


def test_setting_the_same_values_emits_nothing(
    editor: HyperparameterEditor, emitted: list[object]
) -> None:
    editor.set_hyperparameters(START)
    assert emitted == []


def test_every_field_has_the_lessons_tooltip(editor: HyperparameterEditor) -> None:
    assert set(TOOLTIPS) == set(FIELDS)
    for name in FIELDS:
        tip = editor.field(name).toolTip()
        assert tip.strip(), name
        assert TOOLTIPS[name] in tip, name
    assert TOOLTIPS["hidden"] in editor.field("n[1]").toolTip()
    assert TOOLTIPS["activation"] in editor.field("activation[1]").toolTip()
    with pytest.raises(KeyError):
        editor.field("n[2]")


@pytest.mark.parametrize("name", FIELDS)
def test_each_tooltip_says_what_too_small_or_too_large_does(name: str) -> None:
    tip = TOOLTIPS[name]
    assert tip.startswith("<p><b>")
    if name not in {"activation", "init", "optimizer", "decay", "seed", "dtype"}:
        assert "Too" in tip, name
