"""The parameters panel: the W[l], b[l] a choice of hyperparameters implies, counted."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from dnnstudio.core.hyperparams import Hyperparameters
from dnnstudio.gui.panels.parameters import ParametersPanel, ParameterTableModel


@pytest.fixture
def panel(qtbot: QtBot) -> ParametersPanel:
    widget = ParametersPanel()
    qtbot.addWidget(widget)
    return widget


def _rows(model: ParameterTableModel) -> list[tuple[str, ...]]:
    return [
        tuple(
            str(model.data(model.index(row, column), Qt.ItemDataRole.DisplayRole))
            for column in range(model.columnCount())
        )
        for row in range(model.rowCount())
    ]


def _shown_texts(panel: ParametersPanel) -> list[str]:
    return [label.text() for label in panel.findChildren(QLabel) if label.isVisibleTo(panel)]


def test_one_hidden_layer_of_four_units_for_two_features(panel: ParametersPanel) -> None:
    panel.set_context(Hyperparameters(hidden=(4,), activation="tanh"), 2, 1)
    assert _rows(panel.model()) == [
        ("W[1]", "(n[1], n[0])", "(4, 2)", "8"),
        ("b[1]", "(n[1], 1)", "(4, 1)", "4"),
        ("W[2]", "(n[2], n[1])", "(1, 4)", "4"),
        ("b[2]", "(n[2], 1)", "(1, 1)", "1"),
    ]
    assert panel.total() == 17
    texts = _shown_texts(panel)
    assert "17 parameters learned by gradient descent" in texts
    assert any("You choose the hyperparameters; training learns these W[l], b[l]" in t
               for t in texts)
    assert panel.placeholder_text() == ""


def test_counts_are_numbers_for_sorting_and_shapes_are_explained(panel: ParametersPanel) -> None:
    panel.set_context(Hyperparameters(hidden=(300,)), 784, 10)
    model = panel.model()
    counts = [model.data(model.index(r, model.COUNT), Qt.ItemDataRole.UserRole)
              for r in range(model.rowCount())]
    assert counts == [235_200, 300, 3000, 10]
    assert model.data(model.index(0, model.COUNT)) == "235,200"
    assert panel.total() == 238_510
    assert "238,510 parameters learned by gradient descent" in _shown_texts(panel)
    tip = str(model.data(model.index(0, model.SHAPE), Qt.ItemDataRole.ToolTipRole))
    assert "(n[1], n[0]) = (300, 784)" in tip


def test_updates_when_the_context_changes(qtbot: QtBot, panel: ParametersPanel) -> None:
    panel.set_context(Hyperparameters(hidden=(4,)), 2, 1)
    with qtbot.waitSignal(panel.model().modelReset):
        panel.set_context(Hyperparameters(hidden=(4, 3)), 2, 3)
    names = [row[0] for row in _rows(panel.model())]
    assert names == ["W[1]", "b[1]", "W[2]", "b[2]", "W[3]", "b[3]"]
    assert _rows(panel.model())[4] == ("W[3]", "(n[3], n[2])", "(3, 3)", "9")
    assert panel.total() == 8 + 4 + 12 + 3 + 9 + 3
    assert "39 parameters learned by gradient descent" in _shown_texts(panel)

    panel.set_context(Hyperparameters(hidden=()), 5, 1)  # logistic regression: one layer
    assert [row[0] for row in _rows(panel.model())] == ["W[1]", "b[1]"]
    assert "6 parameters learned by gradient descent" in _shown_texts(panel)


def test_a_single_parameter_is_singular(panel: ParametersPanel) -> None:
    panel.set_context(Hyperparameters(hidden=()), 0, 1)
    assert "1 parameter learned by gradient descent" in _shown_texts(panel)


@pytest.mark.parametrize(
    ("hp", "n_x", "n_y", "words"),
    [
        (None, 2, 1, "not valid"),
        (None, None, None, "not valid"),
        (Hyperparameters(), None, None, "Choose a dataset"),
        (Hyperparameters(), 2, None, "Choose a dataset"),
    ],
)
def test_a_placeholder_shows_while_there_is_nothing_to_count(
    panel: ParametersPanel,
    hp: Hyperparameters | None,
    n_x: int | None,
    n_y: int | None,
    words: str,
) -> None:
    panel.set_context(Hyperparameters(hidden=(4,)), 2, 1)
    panel.set_context(hp, n_x, n_y)
    assert words in panel.placeholder_text()
    assert panel.total() is None
    assert panel.model().rowCount() == 0
    assert not any("learned by gradient descent" in t for t in _shown_texts(panel))


def test_the_model_passes_qt_model_tester(qtmodeltester: object, panel: ParametersPanel) -> None:
    panel.set_context(Hyperparameters(hidden=(4, 3)), 2, 3)
    qtmodeltester.check(panel.model())  # type: ignore[attr-defined]
    panel.set_context(None, 2, 3)
    qtmodeltester.check(panel.model())  # type: ignore[attr-defined]
