"""The decision-boundary map: right predictions on the grid, throttled refreshes, points."""

from __future__ import annotations

import time

import numpy as np
import pytest
from pytestqt.qtbot import QtBot

from dnnstudio.core.data.dataset import Task
from dnnstudio.gui.palette import class_color
from dnnstudio.gui.panels.boundary import GRID_SIZE, REFRESH_MS, DecisionBoundaryView

Params = list[tuple[np.ndarray, np.ndarray]]


def _x1_positive(sign: float = 1.0) -> Params:
    """A 2-2-1 ReLU network with ``z = 10 * sign * x1``: P(class 1) is high where ``sign * x1 > 0``.

    ``relu(x1) - relu(-x1) = x1``, so the hidden layer passes ``x1`` through both halves.
    """
    W1 = np.array([[1.0, 0.0], [-1.0, 0.0]])
    b1 = np.zeros((2, 1))
    W2 = np.array([[10.0 * sign, -10.0 * sign]])
    b2 = np.zeros((1, 1))
    return [(W1, b1), (W2, b2)]


@pytest.fixture
def points() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(200, 2))
    return X, (X[:, 0] > 0).astype(np.int64)


@pytest.fixture
def view(qtbot: QtBot) -> DecisionBoundaryView:
    widget = DecisionBoundaryView()
    qtbot.addWidget(widget)
    widget.resize(500, 450)
    return widget


def test_boundary_of_x1_greater_than_zero(
    qtbot: QtBot, view: DecisionBoundaryView, points: tuple[np.ndarray, np.ndarray]
) -> None:
    X, y = points
    view.set_points(X, y, ("left", "right"))
    with qtbot.waitSignal(view.refreshed, timeout=2000):
        view.set_model(_x1_positive(), ("relu",), Task.BINARY)

    grid = view.grid_values
    assert grid is not None
    assert grid.shape == (GRID_SIZE, GRID_SIZE)
    xs, ys = view.grid_axes
    assert xs[0] < X[:, 0].min()
    assert ys[-1] > X[:, 1].max()
    right, left = grid[:, xs > 0.2], grid[:, xs < -0.2]
    assert right.min() > 0.85
    assert left.max() < 0.15
    # The image is the map's colours: class 1's side leans towards class 1's colour.
    image = view.image_item.image
    assert image.shape == (GRID_SIZE, GRID_SIZE, 4)
    color = class_color(1)
    c1 = np.array([color.red(), color.green(), color.blue()], dtype=float)
    right_rgb, left_rgb = image[60, -1, :3].astype(float), image[60, 0, :3].astype(float)
    assert np.abs(right_rgb - c1).sum() < np.abs(left_rgb - c1).sum()
    # The drawn boundary line is the vertical line x1 = 0.
    bx, by = view.boundary_curve.getData()
    assert len(bx) > 0
    assert np.abs(bx).max() < xs[1] - xs[0]
    assert by.min() == pytest.approx(ys[0], abs=ys[1] - ys[0])
    assert by.max() == pytest.approx(ys[-1], abs=ys[1] - ys[0])


def test_bursts_of_models_are_throttled_and_the_newest_wins(
    qtbot: QtBot, view: DecisionBoundaryView, points: tuple[np.ndarray, np.ndarray]
) -> None:
    X, y = points
    view.set_points(X, y, ("0", "1"))
    refreshed_at: list[float] = []
    view.refreshed.connect(lambda: refreshed_at.append(time.monotonic()))

    for i in range(50):
        # Alternating sides; the last (i = 49) puts class 1 on the left.
        view.set_model(_x1_positive(1.0 if i % 2 == 0 else -1.0), ("relu",), "binary")
    assert view.refresh_count == 0  # nothing computed synchronously
    qtbot.waitUntil(lambda: view.refresh_count >= 1 and not view.refresh_pending, timeout=2000)
    assert view.refresh_count <= 2
    grid = view.grid_values
    assert grid is not None
    assert grid[:, 0].min() > 0.85  # the newest model: high on the left
    assert grid[:, -1].max() < 0.15

    # Another burst right after a refresh waits out the interval.
    for _ in range(20):
        view.set_model(_x1_positive(), ("relu",), Task.BINARY)
    assert view.refresh_pending
    count = view.refresh_count
    qtbot.waitUntil(lambda: view.refresh_count == count + 1 and not view.refresh_pending)
    assert refreshed_at[-1] - refreshed_at[-2] >= 0.8 * REFRESH_MS / 1000
    assert view.grid_values is not None
    assert view.grid_values[:, -1].min() > 0.85


def test_points_are_drawn_one_item_per_class(
    qtbot: QtBot, view: DecisionBoundaryView
) -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(90, 2))
    y = np.repeat([0, 1, 2], 30)
    view.set_points(X, y, ("setosa", "versicolor", "virginica"))

    assert len(view.scatters) == 3
    for k, scatter in enumerate(view.scatters):
        sx, sy = scatter.getData()
        np.testing.assert_array_equal(np.column_stack([sx, sy]), X[y == k])
        assert scatter.opts["brush"].color() == class_color(k)
    labels = [label.text for _, label in view.legend.items]
    assert labels == ["setosa", "versicolor", "virginica"]

    view.clear()
    assert view.scatters == []
    assert view.legend.items == []


def test_multiclass_map_shows_the_predicted_class(
    qtbot: QtBot, view: DecisionBoundaryView
) -> None:
    X = np.array([[-2.0, -2.0], [2.0, 2.0], [0.0, 0.0]])
    view.set_points(X, np.array([0, 1, 2]), ("a", "b", "c"))
    # Softmax of (-10 x1, 10 x1, 3): class 0 far left, class 1 far right, class 2 between.
    W = np.array([[-10.0, 0.0], [10.0, 0.0], [0.0, 0.0]])
    with qtbot.waitSignal(view.refreshed, timeout=2000):
        view.set_model([(W, np.array([[0.0], [0.0], [3.0]]))], (), Task.MULTICLASS)
    grid = view.grid_values
    assert grid is not None
    assert set(np.unique(grid[:, 0])) == {0.0}
    assert set(np.unique(grid[:, -1])) == {1.0}
    assert set(np.unique(grid[:, GRID_SIZE // 2])) == {2.0}


def test_a_diverged_network_shows_no_map(
    qtbot: QtBot, view: DecisionBoundaryView, points: tuple[np.ndarray, np.ndarray]
) -> None:
    X, y = points
    view.set_points(X, y, ("0", "1"))
    with qtbot.waitSignal(view.refreshed, timeout=2000):
        view.set_model(_x1_positive(), ("relu",), Task.BINARY)
    assert view.image_item.isVisible()
    nan_params = [(np.full_like(W, np.nan), b) for W, b in _x1_positive()]
    with qtbot.waitSignal(view.refreshed, timeout=2000):
        view.set_model(nan_params, ("relu",), Task.BINARY)
    assert view.grid_values is None
    assert not view.image_item.isVisible()
    assert "not finite" in view.message.text()


def test_set_model_rejects_what_cannot_be_drawn(view: DecisionBoundaryView) -> None:
    with pytest.raises(ValueError, match="two inputs"):
        view.set_model([(np.ones((1, 3)), np.zeros((1, 1)))], (), Task.BINARY)
    with pytest.raises(ValueError, match="activation"):
        view.set_model(_x1_positive(), ("swishy",), Task.BINARY)
    with pytest.raises(ValueError, match="two features"):
        view.set_points(np.zeros((5, 3)), np.zeros(5))
    assert not view.refresh_pending
