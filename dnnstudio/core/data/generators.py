"""Seeded two-dimensional toy datasets, small enough to draw and to train on in seconds.

Each generator takes a ``seed`` and draws from its own ``np.random.default_rng(seed)``, so the
same arguments always give the same points, and nothing touches NumPy's global random state.
Classes get sizes as equal as possible (``n_samples`` split over the classes), and the rows are
shuffled so that no class comes in one block.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

from dnnstudio.core.data.dataset import Dataset, Task
from dnnstudio.core.errors import DataError

__all__ = [
    "MAX_GENERATED_CLASSES",
    "MAX_GENERATED_SAMPLES",
    "blobs",
    "circles",
    "moons",
    "planar",
    "spirals",
    "xor",
]

MAX_GENERATED_SAMPLES = 1_000_000
"""Most points a generator makes; more would only slow the studio down."""

MAX_GENERATED_CLASSES = 10
"""Most classes ``spirals`` and ``blobs`` make."""

_FEATURES = ("x1", "x2")


def _check_int(name: str, value: object, minimum: int, maximum: int, why: str = "") -> int:
    # bool is an Integral, but n_samples=True is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise DataError(f"{name} must be a whole number, not {value!r}.")
    number = int(value)
    if not minimum <= number <= maximum:
        raise DataError(
            f"{name} = {number} is not allowed: it must be {minimum}..{maximum}{why}."
        )
    return number


def _check_noise(value: object, name: str = "noise") -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise DataError(f"{name} must be a finite number, not {value!r}.")
    if float(value) < 0:
        raise DataError(f"{name} = {value} is not allowed: it must be >= 0.")
    return float(value)


def _check_samples(n_samples: object, n_classes: int) -> int:
    return _check_int(
        "n_samples",
        n_samples,
        2 * n_classes,
        MAX_GENERATED_SAMPLES,
        f" (at least two points for each of the {n_classes} classes)",
    )


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, Integral) or int(seed) < 0:
        raise DataError(f"seed must be a whole number >= 0, not {seed!r}.")
    return int(seed)


def _class_sizes(n_samples: int, n_classes: int) -> list[int]:
    """Sizes as equal as possible, the first classes one larger when it does not divide."""
    base, extra = divmod(n_samples, n_classes)
    return [base + (1 if j < extra else 0) for j in range(n_classes)]


def _finish(
    name: str,
    parts: list[np.ndarray],
    rng: np.random.Generator,
    class_names: tuple[str, ...],
    description: str,
) -> Dataset:
    """Stack per-class point arrays (each ``(m_j, 2)``), label them ``j`` and shuffle the rows."""
    X = np.concatenate(parts, axis=0)
    y = np.concatenate([np.full(len(part), j, dtype=np.int64) for j, part in enumerate(parts)])
    order = rng.permutation(len(y))
    return Dataset(
        name=name,
        X=np.ascontiguousarray(X[order], dtype=np.float64),
        y=y[order],
        task=Task.BINARY if len(class_names) == 2 else Task.MULTICLASS,
        feature_names=_FEATURES,
        target_name="class",
        class_names=class_names,
        description=description,
    )


def planar(n_samples: int = 400, noise: float = 0.2, seed: int = 0) -> Dataset:
    """The "flower": two classes on the four petals of a rose curve.

    Class ``j`` lies along ``t`` in ``[3.12 j, 3.12 (j + 1)]`` with radius ``r = 4 sin 4t``;
    ``noise`` is the standard deviation of the Gaussian noise added to ``t`` and to ``r``. The
    petals alternate between the classes, so no straight line separates them (logistic
    regression stays near 50 % accuracy) while a few tanh hidden units reach about 90 %.

    Parameters
    ----------
    n_samples : int
        Total number of points, at least 4.
    noise : float
        Standard deviation of the noise on angle and radius, >= 0.
    seed : int
        Seed for ``np.random.default_rng``.

    Returns
    -------
    Dataset
        ``X`` of shape ``(n_samples, 2)``, ``y`` of shape ``(n_samples,)`` in ``{0, 1}``.
    """
    n_samples = _check_samples(n_samples, 2)
    noise = _check_noise(noise)
    rng = np.random.default_rng(_check_seed(seed))
    parts = []
    for j, size in enumerate(_class_sizes(n_samples, 2)):
        t = np.linspace(j * 3.12, (j + 1) * 3.12, size) + noise * rng.standard_normal(size)
        r = 4.0 * np.sin(4.0 * t) + noise * rng.standard_normal(size)
        parts.append(np.column_stack([r * np.sin(t), r * np.cos(t)]))
    return _finish(
        "planar",
        parts,
        rng,
        ("0", "1"),
        "Two classes on the alternating petals of a flower: no straight line separates them, "
        "a small tanh hidden layer does.",
    )


def moons(n_samples: int = 400, noise: float = 0.2, seed: int = 0) -> Dataset:
    """Two interleaving half circles.

    Parameters
    ----------
    n_samples : int
        Total number of points, at least 4.
    noise : float
        Standard deviation of the Gaussian noise added to each coordinate, >= 0.
    seed : int
        Seed for ``np.random.default_rng``.

    Returns
    -------
    Dataset
        ``X`` of shape ``(n_samples, 2)``, ``y`` of shape ``(n_samples,)``: 0 for the upper
        moon, 1 for the lower one.
    """
    n_samples = _check_samples(n_samples, 2)
    noise = _check_noise(noise)
    rng = np.random.default_rng(_check_seed(seed))
    n_upper, n_lower = _class_sizes(n_samples, 2)
    a = np.linspace(0.0, math.pi, n_upper)
    b = np.linspace(0.0, math.pi, n_lower)
    upper = np.column_stack([np.cos(a), np.sin(a)])
    lower = np.column_stack([1.0 - np.cos(b), 0.5 - np.sin(b)])
    parts = [p + noise * rng.standard_normal(p.shape) for p in (upper, lower)]
    return _finish(
        "moons",
        parts,
        rng,
        ("upper", "lower"),
        "Two interleaving half moons: a gently curved boundary that a linear model only "
        "roughly follows.",
    )


def circles(
    n_samples: int = 400, noise: float = 0.1, factor: float = 0.5, seed: int = 0
) -> Dataset:
    """A ring of one class around a disc of the other.

    Parameters
    ----------
    n_samples : int
        Total number of points, at least 4.
    noise : float
        Standard deviation of the Gaussian noise added to each coordinate, >= 0.
    factor : float
        Radius of the inner circle relative to the outer one (radius 1), in ``(0, 1)``.
    seed : int
        Seed for ``np.random.default_rng``.

    Returns
    -------
    Dataset
        ``X`` of shape ``(n_samples, 2)``, ``y`` of shape ``(n_samples,)``: 0 outer, 1 inner.
    """
    n_samples = _check_samples(n_samples, 2)
    noise = _check_noise(noise)
    factor = _check_noise(factor, "factor")
    if not 0.0 < factor < 1.0:
        raise DataError(f"factor = {factor} is not allowed: it must be between 0 and 1.")
    rng = np.random.default_rng(_check_seed(seed))
    n_outer, n_inner = _class_sizes(n_samples, 2)
    parts = []
    for size, radius in ((n_outer, 1.0), (n_inner, factor)):
        angle = np.linspace(0.0, 2.0 * math.pi, size, endpoint=False)
        ring = radius * np.column_stack([np.cos(angle), np.sin(angle)])
        parts.append(ring + noise * rng.standard_normal(ring.shape))
    return _finish(
        "circles",
        parts,
        rng,
        ("outer", "inner"),
        "A ring around a disc: the boundary is a closed curve, which needs a hidden layer.",
    )


def spirals(n_samples: int = 600, noise: float = 0.2, n_classes: int = 3, seed: int = 0) -> Dataset:
    """Interleaved spiral arms, one per class.

    Arm ``j`` winds out from the centre: radius ``r`` from 0 to 1 and angle
    ``2 pi j / n_classes + 4 r`` plus Gaussian noise of standard deviation ``noise`` (radians).

    Parameters
    ----------
    n_samples : int
        Total number of points, at least ``2 * n_classes``.
    noise : float
        Standard deviation of the noise on the angle, >= 0.
    n_classes : int
        Number of arms (classes), 2 to 10.
    seed : int
        Seed for ``np.random.default_rng``.

    Returns
    -------
    Dataset
        ``X`` of shape ``(n_samples, 2)``, ``y`` of shape ``(n_samples,)`` in ``0..n_classes-1``;
        task ``MULTICLASS``, or ``BINARY`` for two arms.
    """
    n_classes = _check_int("n_classes", n_classes, 2, MAX_GENERATED_CLASSES)
    n_samples = _check_samples(n_samples, n_classes)
    noise = _check_noise(noise)
    rng = np.random.default_rng(_check_seed(seed))
    parts = []
    for j, size in enumerate(_class_sizes(n_samples, n_classes)):
        r = np.linspace(0.0, 1.0, size)
        t = 2.0 * math.pi * j / n_classes + 4.0 * r + noise * rng.standard_normal(size)
        parts.append(np.column_stack([r * np.sin(t), r * np.cos(t)]))
    return _finish(
        "spirals",
        parts,
        rng,
        tuple(str(j) for j in range(n_classes)),
        f"{n_classes} interleaved spiral arms: a hard boundary that needs several hidden units.",
    )


def xor(n_samples: int = 400, noise: float = 0.1, seed: int = 0) -> Dataset:
    """The exclusive or: points in the square, class 1 where exactly one coordinate is positive.

    Points are drawn uniformly from ``[-1, 1]^2`` less a margin of 0.1 along the axes and
    labelled by quadrant, then Gaussian noise of standard deviation ``noise`` is added, which
    blurs the boundary along the axes.

    Parameters
    ----------
    n_samples : int
        Total number of points, at least 4.
    noise : float
        Standard deviation of the noise added to each coordinate, >= 0.
    seed : int
        Seed for ``np.random.default_rng``.

    Returns
    -------
    Dataset
        ``X`` of shape ``(n_samples, 2)``, ``y`` of shape ``(n_samples,)`` in ``{0, 1}``.
    """
    n_samples = _check_samples(n_samples, 2)
    noise = _check_noise(noise)
    rng = np.random.default_rng(_check_seed(seed))
    parts = []
    for j, size in enumerate(_class_sizes(n_samples, 2)):
        # Draw in the first quadrant, then move each point into a random quadrant of its class,
        # so the class sizes are exact rather than binomial.
        corner = rng.uniform(0.1, 1.0, size=(size, 2))
        sign1 = rng.choice([-1.0, 1.0], size=size)
        sign2 = sign1 if j == 0 else -sign1
        points = corner * np.column_stack([sign1, sign2])
        parts.append(points + noise * rng.standard_normal(points.shape))
    return _finish(
        "xor",
        parts,
        rng,
        ("same sign", "opposite sign"),
        "The exclusive or: opposite quadrants share a class, the classic problem no single "
        "neuron can solve.",
    )


def blobs(n_samples: int = 400, n_classes: int = 3, noise: float = 1.0, seed: int = 0) -> Dataset:
    """Gaussian clusters, one per class, with centres evenly spaced on a circle.

    The circle's radius puts neighbouring centres 6 apart, so with the default ``noise`` (the
    clusters' standard deviation) of 1 the classes barely touch and a linear model does well.

    Parameters
    ----------
    n_samples : int
        Total number of points, at least ``2 * n_classes``.
    n_classes : int
        Number of clusters (classes), 2 to 10.
    noise : float
        Standard deviation of each cluster, >= 0.
    seed : int
        Seed for ``np.random.default_rng``.

    Returns
    -------
    Dataset
        ``X`` of shape ``(n_samples, 2)``, ``y`` of shape ``(n_samples,)`` in ``0..n_classes-1``;
        task ``MULTICLASS``, or ``BINARY`` for two clusters.
    """
    n_classes = _check_int("n_classes", n_classes, 2, MAX_GENERATED_CLASSES)
    n_samples = _check_samples(n_samples, n_classes)
    noise = _check_noise(noise)
    rng = np.random.default_rng(_check_seed(seed))
    radius = 3.0 / math.sin(math.pi / n_classes)
    parts = []
    for j, size in enumerate(_class_sizes(n_samples, n_classes)):
        angle = 2.0 * math.pi * j / n_classes
        centre = radius * np.array([math.cos(angle), math.sin(angle)])
        parts.append(centre + noise * rng.standard_normal((size, 2)))
    return _finish(
        "blobs",
        parts,
        rng,
        tuple(str(j) for j in range(n_classes)),
        f"{n_classes} round Gaussian clusters: nearly linearly separable, a first sanity check.",
    )
