"""The seeded 2-D toy datasets: shapes, balance, determinism, geometry, argument checks."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from dnnstudio.core.data import (
    Dataset,
    Task,
    blobs,
    circles,
    moons,
    planar,
    spirals,
    split_dataset,
    xor,
)
from dnnstudio.core.errors import DataError

Generator = Callable[..., Dataset]

# (generator, default size, default number of classes)
ALL: list[tuple[Generator, int, int]] = [
    (planar, 400, 2),
    (moons, 400, 2),
    (circles, 400, 2),
    (spirals, 600, 3),
    (xor, 400, 2),
    (blobs, 400, 3),
]
IDS = [g.__name__ for g, _, _ in ALL]


@pytest.mark.parametrize(("generate", "m", "k"), ALL, ids=IDS)
def test_shapes_types_and_names(generate: Generator, m: int, k: int) -> None:
    ds = generate()
    assert ds.name == generate.__name__
    assert ds.X.shape == (m, 2)
    assert ds.X.dtype == np.float64
    assert ds.y.shape == (m,)
    assert ds.y.dtype == np.int64
    assert ds.feature_names == ("x1", "x2")
    assert len(ds.class_names) == k
    assert ds.task is (Task.BINARY if k == 2 else Task.MULTICLASS)
    assert set(np.unique(ds.y)) == set(range(k))
    assert np.all(np.isfinite(ds.X))
    assert ds.description.endswith(".")


@pytest.mark.parametrize(("generate", "m", "k"), ALL, ids=IDS)
def test_classes_are_balanced_for_an_odd_size(generate: Generator, m: int, k: int) -> None:
    ds = generate(n_samples=401)
    counts = np.bincount(ds.y, minlength=k)
    assert counts.sum() == 401
    assert counts.max() - counts.min() <= 1


@pytest.mark.parametrize(("generate", "m", "k"), ALL, ids=IDS)
def test_same_seed_same_points_other_seed_other_points(
    generate: Generator, m: int, k: int
) -> None:
    a, b, c = generate(seed=5), generate(seed=5), generate(seed=6)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.X, c.X)


@pytest.mark.parametrize(("generate", "m", "k"), ALL, ids=IDS)
def test_global_random_state_is_untouched(generate: Generator, m: int, k: int) -> None:
    np.random.seed(1234)
    before = np.random.get_state()[1].copy()  # type: ignore[index]
    generate()
    after = np.random.get_state()[1]  # type: ignore[index]
    np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize(("generate", "m", "k"), ALL, ids=IDS)
def test_rows_are_shuffled(generate: Generator, m: int, k: int) -> None:
    # A block of one class at the start would make any unshuffled mini-batch one-sided.
    y = generate().y
    assert len(np.unique(y[:40])) == k


def _nearest_neighbour_accuracy(ds: Dataset) -> float:
    """Leave-one-out 1-NN accuracy: how cleanly the classes are apart."""
    d = np.linalg.norm(ds.X[:, None, :] - ds.X[None, :, :], axis=2)
    np.fill_diagonal(d, np.inf)
    return float(np.mean(ds.y[np.argmin(d, axis=1)] == ds.y))


@pytest.mark.parametrize(("generate", "m", "k"), ALL, ids=IDS)
def test_more_noise_mixes_the_classes(generate: Generator, m: int, k: int) -> None:
    calm = generate(noise=0.0 if generate is not blobs else 0.5)
    noisy = generate(noise=1.5 if generate is not blobs else 4.0)
    assert _nearest_neighbour_accuracy(calm) > 0.8
    assert _nearest_neighbour_accuracy(noisy) < _nearest_neighbour_accuracy(calm) - 0.15


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_samples": 3},
        {"n_samples": -5},
        {"n_samples": 10.5},
        {"n_samples": True},
        {"n_samples": 10**9},
        {"noise": -0.1},
        {"noise": float("nan")},
        {"noise": float("inf")},
        {"noise": "0.2"},
        {"seed": -1},
        {"seed": 1.5},
    ],
)
@pytest.mark.parametrize(("generate", "m", "k"), ALL, ids=IDS)
def test_invalid_arguments(
    generate: Generator, m: int, k: int, kwargs: dict[str, object]
) -> None:
    with pytest.raises(DataError) as info:
        generate(**kwargs)
    assert next(iter(kwargs)) in str(info.value)


@pytest.mark.parametrize("generate", [spirals, blobs])
def test_class_count_argument(generate: Generator) -> None:
    two = generate(n_classes=2, n_samples=100)
    assert two.task is Task.BINARY
    five = generate(n_classes=5, n_samples=100)
    assert five.task is Task.MULTICLASS
    assert five.class_names == ("0", "1", "2", "3", "4")
    for bad in (1, 11, 2.0):
        with pytest.raises(DataError, match="n_classes"):
            generate(n_classes=bad)
    with pytest.raises(DataError, match="two points for each of the 5 classes"):
        generate(n_classes=5, n_samples=9)


def test_circles_geometry_without_noise() -> None:
    ds = circles(noise=0.0, factor=0.3)
    radius = np.hypot(ds.X[:, 0], ds.X[:, 1])
    np.testing.assert_allclose(radius[ds.y == 0], 1.0)
    np.testing.assert_allclose(radius[ds.y == 1], 0.3)
    for bad in (0.0, 1.0, -0.5, 2.0):
        with pytest.raises(DataError, match="factor"):
            circles(factor=bad)


def test_moons_geometry_without_noise() -> None:
    ds = moons(noise=0.0)
    upper, lower = ds.X[ds.y == 0], ds.X[ds.y == 1]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0)
    assert upper[:, 1].min() >= -1e-12
    assert lower[:, 1].max() <= 0.5 + 1e-12


def test_xor_labels_follow_the_quadrants_without_noise() -> None:
    ds = xor(noise=0.0)
    opposite = np.sign(ds.X[:, 0]) != np.sign(ds.X[:, 1])
    np.testing.assert_array_equal(ds.y, opposite.astype(np.int64))
    assert np.abs(ds.X).max() <= 1.0


def test_spiral_arms_stay_in_the_unit_disc_without_noise() -> None:
    ds = spirals(noise=0.0)
    assert np.hypot(ds.X[:, 0], ds.X[:, 1]).max() <= 1.0 + 1e-12


def test_planar_petals_follow_the_rose_curve_without_noise() -> None:
    ds = planar(noise=0.0)
    x1, x2 = ds.X[:, 0], ds.X[:, 1]
    t = np.arctan2(x1, x2)  # X = [r sin t, r cos t], with r possibly negative
    r = np.hypot(x1, x2)
    np.testing.assert_allclose(r, np.abs(4.0 * np.sin(4.0 * t)), atol=1e-9)
    assert r.max() <= 4.0 + 1e-9


def test_blobs_clusters_are_around_distinct_centres() -> None:
    ds = blobs(noise=1.0, n_samples=600)
    centres = np.array([ds.X[ds.y == j].mean(axis=0) for j in range(3)])
    spread = np.array([ds.X[ds.y == j].std(axis=0).mean() for j in range(3)])
    gaps = [np.linalg.norm(centres[i] - centres[j]) for i in range(3) for j in range(i)]
    np.testing.assert_allclose(spread, 1.0, rtol=0.15)
    assert min(gaps) > 5.0
    nearest = np.argmin(np.linalg.norm(ds.X[:, None, :] - centres[None], axis=2), axis=1)
    assert np.mean(nearest == ds.y) > 0.97


def _fit_binary(
    X: np.ndarray, y: np.ndarray, hidden: int, iterations: int, rate: float
) -> Callable[[np.ndarray], np.ndarray]:
    """Full-batch gradient descent on binary cross-entropy; a tanh hidden layer when hidden > 0."""
    rng = np.random.default_rng(3)
    m, n = X.shape
    W1 = rng.standard_normal((n, hidden)) * 0.5
    b1 = np.zeros(hidden)
    W2 = rng.standard_normal((hidden if hidden else n, 1)) * 0.5
    b2 = np.zeros(1)
    Y = y[:, None].astype(np.float64)
    for _ in range(iterations):
        A1 = np.tanh(X @ W1 + b1) if hidden else X
        A2 = 1.0 / (1.0 + np.exp(-(A1 @ W2 + b2)))
        dZ2 = (A2 - Y) / m
        if hidden:
            dZ1 = (dZ2 @ W2.T) * (1.0 - A1**2)
            W1 -= rate * X.T @ dZ1
            b1 -= rate * dZ1.sum(axis=0)
        W2 -= rate * A1.T @ dZ2
        b2 -= rate * dZ2.sum(axis=0)

    def predict(Xn: np.ndarray) -> np.ndarray:
        A1 = np.tanh(Xn @ W1 + b1) if hidden else Xn
        return np.asarray((A1 @ W2 + b2)[:, 0] > 0, dtype=np.int64)

    return predict


def test_planar_needs_a_hidden_layer() -> None:
    # The course's claim: 4 tanh units reach about 90 %, logistic regression about 50 %.
    data = split_dataset(planar(seed=0), (0.6, 0.4, 0.0), seed=0).training_data()
    network = _fit_binary(data.X_train, data.y_train, hidden=4, iterations=3000, rate=1.2)
    logistic = _fit_binary(data.X_train, data.y_train, hidden=0, iterations=500, rate=1.0)
    assert np.mean(network(data.X_val) == data.y_val) >= 0.85
    assert np.mean(logistic(data.X_val) == data.y_val) <= 0.7
