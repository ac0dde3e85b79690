"""The learned parameters that the chosen hyperparameters imply: the lesson's point, in a table.

Beside the hyperparameter editor, this panel lists every ``W[l]`` and ``b[l]`` the network
will have, with its shape and its number of entries. The person chooses the hyperparameters;
gradient descent learns these numbers. Changing ``n[l]`` or ``L`` changes the table at once.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from dnnstudio.core.hyperparams import Hyperparameters

__all__ = ["ParameterTableModel", "ParametersPanel"]

_Index = QModelIndex | QPersistentModelIndex

_EXPLANATION = "You choose the hyperparameters; training learns these W[l], b[l]."
_INVALID = (
    "The hyperparameters are not valid yet.\n\nFix the fields marked in red to see the "
    "parameters W[l], b[l] they imply."
)
_NO_DATA = (
    "Choose a dataset to see the parameters.\n\nThe number of input features n[0] and of "
    "output units n[L] come from the data; the hidden layers n[1] .. n[L-1] come from you."
)


class ParameterTableModel(QAbstractTableModel):
    """One row per learned array, ``W[1], b[1], ..., W[L], b[L]``.

    Columns are the name, the shape in the course's notation (``(n[l], n[l-1])`` or
    ``(n[l], 1)``), the shape in numbers (``(4, 2)``) and the number of entries. The count
    column's ``Qt.UserRole`` is the count as an int, for sorting.
    """

    COLUMNS = ("Parameter", "Notation", "Shape", "Count")
    NAME, NOTATION, SHAPE, COUNT = range(4)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._shapes: list[tuple[str, tuple[int, int]]] = []

    def set_shapes(self, shapes: list[tuple[str, tuple[int, int]]]) -> None:
        """Show ``shapes``, as :meth:`Hyperparameters.parameter_shapes` returns them."""
        self.beginResetModel()
        self._shapes = list(shapes)
        self.endResetModel()

    def total(self) -> int:
        """The number of learned numbers in all the rows."""
        return sum(rows * cols for _, (rows, cols) in self._shapes)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's default
        return 0 if parent.isValid() else len(self._shapes)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's default
        return 0 if parent.isValid() else len(self.COLUMNS)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self._shapes):
            return None
        name, (rows, cols) = self._shapes[index.row()]
        column = index.column()
        count = rows * cols
        if role == Qt.ItemDataRole.DisplayRole:
            if column == self.NAME:
                return name
            if column == self.NOTATION:
                return _notation(name)
            if column == self.SHAPE:
                return f"({rows}, {cols})"
            if column == self.COUNT:
                return f"{count:,}"
        elif role == Qt.ItemDataRole.UserRole and column == self.COUNT:
            return count
        elif role == Qt.ItemDataRole.TextAlignmentRole and column in (self.SHAPE, self.COUNT):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        elif role == Qt.ItemDataRole.ToolTipRole:
            return _describe(name, rows, cols)
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if (
            role == Qt.ItemDataRole.DisplayRole
            and orientation == Qt.Orientation.Horizontal
            and 0 <= section < len(self.COLUMNS)
        ):
            return self.COLUMNS[section]
        return None


def _layer_of(name: str) -> int:
    """``3`` for ``"W[3]"``."""
    return int(name[name.index("[") + 1 : name.index("]")])


def _notation(name: str) -> str:
    """``(n[l], n[l-1])`` for ``W[l]``, ``(n[l], 1)`` for ``b[l]``."""
    l = _layer_of(name)  # noqa: E741 - the course's layer index
    return f"(n[{l}], n[{l - 1}])" if name.startswith("W") else f"(n[{l}], 1)"


def _describe(name: str, rows: int, cols: int) -> str:
    """The shape in the course's notation, and what the array does."""
    l = _layer_of(name)  # noqa: E741 - the course's layer index
    if name.startswith("W"):
        return (
            f"{name}: shape (n[{l}], n[{l - 1}]) = ({rows}, {cols}), the weights from the "
            f"{cols} units of layer {l - 1} to the {rows} units of layer {l}."
        )
    return f"{name}: shape (n[{l}], 1) = ({rows}, 1), one bias per unit of layer {l}."


class ParametersPanel(QWidget):
    """The parameters ``W[l]``, ``b[l]`` that the current hyperparameters and data imply.

    Call :meth:`set_context` whenever the hyperparameters or the dataset change; until both
    are known (valid hyperparameters, and the data's ``n_x`` and ``n_y``) the panel shows a
    short explanation instead of the table.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model = ParameterTableModel(self)
        self._total: int | None = None

        self._sizes = QLabel()
        self._sizes.setWordWrap(True)
        self._view = QTableView()
        self._view.setModel(self._model)
        self._view.verticalHeader().hide()
        self._view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self._view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self._view.setAlternatingRowColors(True)
        self._view.setWordWrap(False)
        # Compact rows: the panel shares a narrow dock with the editor.
        self._view.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self._view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self._total_label = QLabel()
        font = self._total_label.font()
        font.setBold(True)
        self._total_label.setFont(font)
        self._total_label.setWordWrap(True)

        table_page = QWidget()
        table_layout = QVBoxLayout(table_page)
        table_layout.setContentsMargins(0, 0, 0, 0)
        table_layout.addWidget(self._sizes)
        table_layout.addWidget(self._view, 1)
        table_layout.addWidget(self._total_label)

        self._placeholder = QLabel()
        self._placeholder.setObjectName("placeholder")
        self._placeholder.setWordWrap(True)
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._placeholder.setStyleSheet("color: #757575; padding: 12px;")

        self._stack = QStackedWidget()
        self._stack.addWidget(self._placeholder)
        self._stack.addWidget(table_page)

        explanation = QLabel(_EXPLANATION)
        explanation.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(explanation)
        layout.addWidget(self._stack, 1)

        self.set_context(None, None, None)

    # -- public API -----------------------------------------------------------------------
    def set_context(
        self, hp: Hyperparameters | None, n_x: int | None, n_y: int | None
    ) -> None:
        """Show the parameters of ``hp`` for data with ``n_x`` features and ``n_y`` outputs.

        Parameters
        ----------
        hp : Hyperparameters or None
            The chosen hyperparameters; None while the editor holds invalid values.
        n_x : int or None
            ``n[0]``, the number of input features; None before a dataset is loaded.
        n_y : int or None
            ``n[L]``, the number of output units (1 for binary classification and
            regression, one per class otherwise); None before a dataset is loaded.
        """
        if hp is None or n_x is None or n_y is None:
            self._model.set_shapes([])
            self._total = None
            self._placeholder.setText(_INVALID if hp is None else _NO_DATA)
            self._stack.setCurrentWidget(self._placeholder)
            return
        self._model.set_shapes(hp.parameter_shapes(n_x, n_y))
        self._total = self._model.total()
        sizes = hp.layer_sizes(n_x, n_y)
        self._sizes.setText(
            f"Layer sizes n[0] .. n[L]: {' → '.join(str(n) for n in sizes)}   (L = {hp.L})"
        )
        self._total_label.setText(
            f"{self._total:,} parameter{'s' if self._total != 1 else ''} learned by gradient "
            "descent"
        )
        self._stack.setCurrentIndex(1)

    def model(self) -> ParameterTableModel:
        """The table's model (one row per ``W[l]`` and ``b[l]``)."""
        return self._model

    def total(self) -> int | None:
        """The number of learned parameters shown, or None while the placeholder shows."""
        return self._total

    def placeholder_text(self) -> str:
        """The explanation shown instead of the table, or ``""`` while the table shows."""
        if self._stack.currentWidget() is self._placeholder:
            return self._placeholder.text()
        return ""


def _example() -> ParametersPanel:
    panel = ParametersPanel()
    panel.set_context(Hyperparameters(hidden=(4,), activation="tanh"), 2, 1)
    return panel


if __name__ == "__main__":
    from dnnstudio.gui.preview import preview

    raise SystemExit(preview(_example, size=(320, 360)))
