"""The decision boundary of one experiment on a two-feature dataset.

The network is evaluated on a grid over the data's range (a NumPy forward pass of a few
milliseconds) and shown as an image under the training points: the probability of class 1
for two classes, with the line where it is 0.5; the predicted class, shaded by confidence,
for more; the predicted value for regression. While an experiment trains its parameters may
arrive many times a second, so refreshes are throttled: at most one every
:data:`REFRESH_MS`, always with the newest parameters.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QTimer, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ...core.data.dataset import Task
from ...core.nn.activations import ACTIVATIONS
from ...core.nn.network import Network
from ..palette import class_color

GRID_SIZE = 120
"""Grid points along each axis."""
REFRESH_MS = 250
"""Shortest time between two recomputations of the map."""
TINT = 0.55
"""How far a fully confident region moves from white towards its class colour."""
PADDING = 0.08
"""Margin around the data, as a fraction of its range on each axis."""

Params = Sequence[tuple[np.ndarray, np.ndarray]]


class DecisionBoundaryView(QWidget):
    """A decision-boundary map of one experiment with the training points on top.

    Signals
    -------
    refreshed()
        A new map was computed and shown.
    """

    refreshed = Signal()

    def __init__(self, parent: QWidget | None = None, *, grid_size: int = GRID_SIZE) -> None:
        super().__init__(parent)
        self.grid_size = int(grid_size)
        self.refresh_count = 0
        """Maps computed so far (for tests: throttling keeps it low)."""
        self.grid_values: np.ndarray | None = None
        """The last map, shape ``(grid_size, grid_size)``, row ``i`` at the ``i``-th second
        feature value: P(class 1) (binary), the predicted class (multiclass) or the predicted
        value (regression); None when nothing is shown."""

        self._X: np.ndarray | None = None
        self._y: np.ndarray | None = None
        self._class_names: tuple[str, ...] = ()
        self._xs = self._ys = np.empty(0)
        self._grid: np.ndarray | None = None
        self._pending: tuple[Network, list[tuple[np.ndarray, np.ndarray]]] | None = None
        self._network: Network | None = None
        self._last_refresh = -math.inf

        palette = self.palette()
        foreground = palette.color(QPalette.ColorRole.Text)
        self.plot_widget = pg.PlotWidget()
        self.plot_widget.setBackground(palette.color(QPalette.ColorRole.Base))
        self.plot: pg.PlotItem = self.plot_widget.getPlotItem()
        self.plot.setLabel("bottom", "x₁")
        self.plot.setLabel("left", "x₂")
        for name in ("left", "bottom"):
            self.plot.getAxis(name).setPen(foreground)
            self.plot.getAxis(name).setTextPen(foreground)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.image_item.setZValue(-10)
        self.plot.addItem(self.image_item)
        # The 0.5 line: PlotCurveItem with connect="pairs" draws independent segments.
        self.boundary_curve = pg.PlotCurveItem(
            pen=pg.mkPen(QColor(40, 40, 40), width=2), connect="pairs"
        )
        self.plot.addItem(self.boundary_curve)
        legend_brush = QColor(palette.color(QPalette.ColorRole.Base))
        legend_brush.setAlpha(210)
        self.legend: pg.LegendItem = self.plot.addLegend(
            offset=(10, 10), labelTextColor=foreground, brush=legend_brush
        )
        self.scatters: list[pg.ScatterPlotItem] = []
        """The training points, one item per class."""

        self.message = QLabel()
        self.message.setWordWrap(True)
        self.setToolTip(
            "Shading: the class the network predicts at each point, lighter where it is "
            "unsure. Dots: the training examples, coloured by their true class."
        )

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._on_refresh_due)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget, 1)
        layout.addWidget(self.message)
        self._show_message("Choose an experiment to see its decision boundary.")

    # -- public API -----------------------------------------------------------------------
    def set_points(
        self,
        X: np.ndarray,
        y: np.ndarray,
        class_names: Sequence[str] = (),
        feature_names: Sequence[str] = ("x₁", "x₂"),
    ) -> None:
        """Show the training points and set the map's range to theirs.

        Parameters
        ----------
        X : ndarray of shape (m, 2)
        y : ndarray of shape (m,)
            Class indices, or values for regression.
        class_names : sequence of str
            ``class_names[k]`` names class ``k``; empty for regression.
        feature_names : pair of str
            Axis labels.

        Raises
        ------
        ValueError
            ``X`` does not have two columns, or ``y`` does not match it.
        """
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        if X.ndim != 2 or X.shape[1] != 2:
            raise ValueError(f"a decision boundary needs exactly two features, X is {X.shape}")
        if y.shape != (X.shape[0],):
            raise ValueError(f"y must have shape ({X.shape[0]},), not {y.shape}")
        self._X, self._y, self._class_names = X, y, tuple(class_names)
        self.plot.setLabel("bottom", feature_names[0])
        self.plot.setLabel("left", feature_names[1])
        self._make_grid(X)
        self._draw_points()
        x0, x1, y0, y1 = self._xs[0], self._xs[-1], self._ys[0], self._ys[-1]
        self.plot.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        self._clear_map()
        if self._pending is None and self._network is not None:
            # New range, same model: recompute it on the new grid.
            self._pending = (self._network, self._network.parameters())
        self._schedule()

    def set_model(
        self,
        params: Params | None,
        hidden_activations: Sequence[str] = (),
        task: Task | str = Task.BINARY,
    ) -> None:
        """Show the map of a network; None shows only the points.

        Cheap to call often: only the newest parameters are kept, and the map is recomputed
        at most every :data:`REFRESH_MS`.

        Parameters
        ----------
        params : list of (W, b) or None
            ``W[l]`` of shape ``(n[l], n[l-1])`` with ``n[0] = 2``, ``b[l]`` of ``n[l]``
            values.
        hidden_activations : sequence of str
            One activation name per hidden layer.
        task : Task or str

        Raises
        ------
        ValueError
            The parameters do not describe a network with two inputs, or the activations do
            not match its layers.
        """
        if params is None:
            self._pending = None
            self._network = None
            self._timer.stop()
            self._clear_map()
            self._show_message("Choose an experiment to see its decision boundary.")
            return
        params = list(params)
        if not params or params[0][0].ndim != 2 or params[0][0].shape[1] != 2:
            raise ValueError("the decision boundary needs a network with two inputs")
        activations = tuple(hidden_activations)
        unknown = [a for a in activations if a not in ACTIVATIONS]
        if unknown:
            raise ValueError(f"unknown activation(s): {', '.join(unknown)}")
        sizes = (2, *(int(W.shape[0]) for W, _ in params))
        task = Task(task)
        net = self._network
        # One Network per architecture: its work arrays for the grid are then reused.
        if net is None or (net.sizes, net.output.task) != (sizes, task) or [
            a.name for a in net.activations
        ] != list(activations):
            net = Network(sizes, activations, task, np.dtype(np.float64))
        self._network = net
        self._pending = (net, params)
        self._schedule()

    def clear(self) -> None:
        """Forget the points and the model."""
        self.set_model(None)
        self._X = self._y = None
        self._grid = None
        for scatter in self.scatters:
            self.legend.removeItem(scatter)
            self.plot.removeItem(scatter)
        self.scatters = []

    @property
    def grid_axes(self) -> tuple[np.ndarray, np.ndarray]:
        """The grid's first- and second-feature values: ``grid_values[i, j]`` is at
        ``(xs[j], ys[i])``."""
        return self._xs, self._ys

    @property
    def refresh_pending(self) -> bool:
        """True while a newer model waits for its map."""
        return self._timer.isActive()

    # -- drawing --------------------------------------------------------------------------
    def _schedule(self) -> None:
        if self._pending is None or self._grid is None or self._timer.isActive():
            return
        since_ms = (time.monotonic() - self._last_refresh) * 1000
        self._timer.start(int(max(0.0, REFRESH_MS - since_ms)))

    def _on_refresh_due(self) -> None:
        if self._pending is None or self._grid is None:
            return
        net, params = self._pending
        self._pending = None
        self._last_refresh = time.monotonic()
        try:
            net.set_parameters(params)
        except ValueError as error:
            self._clear_map()
            self._show_message(f"Cannot show this network: {error}")
            return
        with np.errstate(all="ignore"):
            P = net.output.probabilities(net.predict_output(self._grid))
        self.refresh_count += 1
        if not np.all(np.isfinite(P)):
            self._clear_map()
            self._show_message(
                "This network's outputs are not finite (it diverged): there is no boundary "
                "to show."
            )
            self.refreshed.emit()
            return
        g = self.grid_size
        task = net.output.task
        if task is Task.BINARY:
            values = P[:, 0].reshape(g, g)
            rgba = self._binary_image(values)
            self._draw_boundary(values)
            message = "Shading: P(class 1); line: where it is 0.5 (the decision boundary)."
        elif task is Task.MULTICLASS:
            values = P.argmax(axis=1).reshape(g, g).astype(np.float64)
            rgba = self._multiclass_image(P)
            self.boundary_curve.setData([], [])
            message = "Shading: the predicted class, lighter where the network is unsure."
        else:
            values = P[:, 0].reshape(g, g)
            rgba = self._value_image(values)
            self.boundary_curve.setData([], [])
            message = "Shading: the predicted value."
        self.grid_values = values
        self.image_item.setImage(rgba, autoLevels=False)
        x0, x1, y0, y1 = self._xs[0], self._xs[-1], self._ys[0], self._ys[-1]
        dx, dy = (x1 - x0) / (g - 1), (y1 - y0) / (g - 1)
        # Pixel centres on the grid points.
        self.image_item.setRect(QRectF(x0 - dx / 2, y0 - dy / 2, x1 - x0 + dx, y1 - y0 + dy))
        self.image_item.setVisible(True)
        self._show_message(message)
        self.refreshed.emit()

    def _make_grid(self, X: np.ndarray) -> None:
        lo, hi = X.min(axis=0), X.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        lo, hi = lo - PADDING * span, hi + PADDING * span
        self._xs = np.linspace(lo[0], hi[0], self.grid_size)
        self._ys = np.linspace(lo[1], hi[1], self.grid_size)
        gx, gy = np.meshgrid(self._xs, self._ys)  # row i is ys[i]: row-major image order
        self._grid = np.column_stack([gx.ravel(), gy.ravel()])

    def _draw_points(self) -> None:
        for scatter in self.scatters:
            self.legend.removeItem(scatter)
            self.plot.removeItem(scatter)
        self.scatters = []
        assert self._X is not None
        assert self._y is not None
        X, y = self._X, self._y
        outline = pg.mkPen(QColor(30, 30, 30, 200), width=1)
        if self._class_names:
            n_classes = max(len(self._class_names), int(y.max(initial=0)) + 1)
            for k in range(n_classes):
                rows = y == k
                name = self._class_names[k] if k < len(self._class_names) else str(k)
                scatter = pg.ScatterPlotItem(
                    X[rows, 0], X[rows, 1], size=7, pen=outline,
                    brush=pg.mkBrush(class_color(k)),
                    name=f"class {name}" if name.isdigit() else name,
                )
                self.plot.addItem(scatter)
                self.scatters.append(scatter)
        else:
            values = y.astype(np.float64)
            lo, hi = float(values.min(initial=0)), float(values.max(initial=1))
            colors = _VALUE_MAP.map((values - lo) / (hi - lo or 1.0), mode="qcolor")
            scatter = pg.ScatterPlotItem(
                X[:, 0], X[:, 1], size=7, pen=outline,
                brush=[pg.mkBrush(c) for c in colors], name="examples",
            )
            self.plot.addItem(scatter)
            self.scatters.append(scatter)

    def _binary_image(self, p: np.ndarray) -> np.ndarray:
        """RGBA ``(g, g, 4)``: white at P = 0.5, towards class 0's or class 1's colour."""
        c0, c1 = _rgb(class_color(0)), _rgb(class_color(1))
        s = (np.abs(p - 0.5) * 2 * TINT)[..., None]
        target = np.where((p >= 0.5)[..., None], c1, c0)
        return _to_rgba(255.0 + (target - 255.0) * s)

    def _multiclass_image(self, P: np.ndarray) -> np.ndarray:
        """RGBA ``(g, g, 4)``: the predicted class's colour, lighter where P is low."""
        k = P.shape[1]
        colors = np.array([_rgb(class_color(i)) for i in range(k)])
        winner = P.argmax(axis=1)
        # Confidence 0 when the top probability is 1/k (a guess), 1 when it is 1.
        confidence = (P.max(axis=1) - 1.0 / k) / (1.0 - 1.0 / k)
        s = (0.2 + 0.8 * confidence) * TINT
        rgb = 255.0 + (colors[winner] - 255.0) * s[:, None]
        g = self.grid_size
        return _to_rgba(rgb.reshape(g, g, 3))

    def _value_image(self, values: np.ndarray) -> np.ndarray:
        lo, hi = float(values.min()), float(values.max())
        rgba = _VALUE_MAP.map(((values - lo) / (hi - lo or 1.0)).ravel(), mode="byte")
        g = self.grid_size
        return np.ascontiguousarray(np.asarray(rgba, dtype=np.uint8).reshape(g, g, 4))

    def _draw_boundary(self, p: np.ndarray) -> None:
        x, y = _contour_segments(p, self._xs, self._ys, 0.5)
        self.boundary_curve.setData(x, y)

    def _clear_map(self) -> None:
        self.grid_values = None
        self.image_item.clear()
        self.image_item.setVisible(False)
        self.boundary_curve.setData([], [])

    def _show_message(self, text: str) -> None:
        self.message.setText(text)


_VALUE_MAP = pg.colormap.get("viridis")


def _rgb(color: QColor) -> np.ndarray:
    return np.array([color.red(), color.green(), color.blue()], dtype=np.float64)


def _to_rgba(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGBA of shape ``(g, g, 4)`` from float RGB ``(g, g, 3)`` in 0..255."""
    out = np.empty((*rgb.shape[:2], 4), dtype=np.uint8)
    out[..., :3] = np.clip(np.rint(rgb), 0, 255)
    out[..., 3] = 255
    return out


def _contour_segments(
    values: np.ndarray, xs: np.ndarray, ys: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Line segments where ``values`` crosses ``level`` (vectorised marching squares).

    Parameters
    ----------
    values : ndarray of shape (len(ys), len(xs))
        ``values[i, j]`` at ``(xs[j], ys[i])``.
    xs, ys : ndarray
    level : float

    Returns
    -------
    x, y : ndarray of shape (2 * segments,)
        Segment end points in pairs, for a curve drawn with ``connect="pairs"``.
    """
    v = values - level
    a, b = v[:-1, :-1], v[:-1, 1:]  # bottom-left, bottom-right corner of each cell
    d, c = v[1:, :-1], v[1:, 1:]  # top-left, top-right
    x0, x1 = xs[:-1][None, :], xs[1:][None, :]
    y0, y1 = ys[:-1][:, None], ys[1:][:, None]
    shape = a.shape

    def crossing(p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Which cell edges from corner ``p`` to ``q`` cross, and where (0..1) they do."""
        hit = (p >= 0) != (q >= 0)
        with np.errstate(all="ignore"):
            t = np.where(hit, p / (p - q), 0.0)
        return hit, t

    hits, px, py = [], [], []
    for p, q, edge in ((a, b, "bottom"), (b, c, "right"), (d, c, "top"), (a, d, "left")):
        hit, t = crossing(p, q)
        hits.append(hit)
        if edge == "bottom":
            px.append(np.broadcast_to(x0 + t * (x1 - x0), shape))
            py.append(np.broadcast_to(y0, shape))
        elif edge == "right":
            px.append(np.broadcast_to(x1, shape))
            py.append(np.broadcast_to(y0 + t * (y1 - y0), shape))
        elif edge == "top":
            px.append(np.broadcast_to(x0 + t * (x1 - x0), shape))
            py.append(np.broadcast_to(y1, shape))
        else:
            px.append(np.broadcast_to(x0, shape))
            py.append(np.broadcast_to(y0 + t * (y1 - y0), shape))
    hit_all = np.stack(hits).reshape(4, -1)
    px_all = np.stack(px).reshape(4, -1)
    py_all = np.stack(py).reshape(4, -1)
    count = hit_all.sum(axis=0)
    xs_out, ys_out = [], []
    two = np.flatnonzero(count == 2)
    if two.size:
        # The two crossed edges of each cell, in edge order.
        first = np.argmax(hit_all[:, two], axis=0)
        second = 3 - np.argmax(hit_all[::-1, two], axis=0)
        seg_x = np.column_stack([px_all[first, two], px_all[second, two]])
        seg_y = np.column_stack([py_all[first, two], py_all[second, two]])
        xs_out.append(seg_x.ravel())
        ys_out.append(seg_y.ravel())
    four = np.flatnonzero(count == 4)
    if four.size:
        # A saddle: either pairing is a valid boundary at this resolution.
        for e1, e2 in ((0, 1), (2, 3)):
            xs_out.append(np.column_stack([px_all[e1, four], px_all[e2, four]]).ravel())
            ys_out.append(np.column_stack([py_all[e1, four], py_all[e2, four]]).ravel())
    if not xs_out:
        return np.empty(0), np.empty(0)
    return np.concatenate(xs_out), np.concatenate(ys_out)


def _preview() -> DecisionBoundaryView:
    """The planar "flower" with a small tanh network, trained before the window opens."""
    from ...core.data.dataset import TrainData
    from ...core.data.generators import planar
    from ...core.hyperparams import Hyperparameters
    from ...core.training import train

    data = planar(400, seed=1)
    view = DecisionBoundaryView()
    view.set_points(data.X, data.y, data.class_names)
    hp = Hyperparameters(hidden=(8,), activation="tanh", init="xavier", alpha=1.2, epochs=3000)
    split = TrainData(data.X, data.y, data.X, data.y, data.task, data.class_names)
    trained = train(hp, split)
    if trained.model is not None:
        view.set_model(trained.model.params, hp.hidden_activations, data.task)
    return view


if __name__ == "__main__":  # pragma: no cover - a quick look by hand
    from ..preview import preview

    raise SystemExit(preview(_preview, title="Decision boundary (planar)", size=(600, 560)))
