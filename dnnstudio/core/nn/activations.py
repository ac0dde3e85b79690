"""Hidden-layer activations ``g``: forward and backward side by side, in place.

Every derivative here can be written with the activation's output ``G = g(Z)`` alone (for
ReLU and leaky ReLU, ``Z > 0`` exactly when ``G > 0``), so the network computes ``g`` in the
``Z`` buffer and never keeps ``Z`` itself: half the memory traffic of keeping both.

All arrays have shape ``(m, n[l])``: ``m`` examples (rows), ``n[l]`` units.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

LEAKY_SLOPE = 0.01
"""Slope of leaky ReLU for negative inputs."""


def _relu(Z: np.ndarray) -> None:
    np.maximum(Z, 0, out=Z)


def _relu_backward(G: np.ndarray, dA: np.ndarray) -> None:
    # dZ = dA * 1[Z > 0]; G > 0 exactly where Z > 0.
    np.multiply(dA, G > 0, out=dA)


def _leaky_relu(Z: np.ndarray) -> None:
    np.maximum(Z, Z * LEAKY_SLOPE, out=Z)


def _leaky_relu_backward(G: np.ndarray, dA: np.ndarray) -> None:
    dA *= np.where(G > 0, 1.0, LEAKY_SLOPE).astype(dA.dtype, copy=False)


def _tanh(Z: np.ndarray) -> None:
    np.tanh(Z, out=Z)


def _tanh_backward(G: np.ndarray, dA: np.ndarray) -> None:
    # g'(Z) = 1 - tanh(Z)^2 = 1 - G^2
    slope = G * G
    np.subtract(1, slope, out=slope)
    dA *= slope


def _sigmoid(Z: np.ndarray) -> None:
    # 1 / (1 + exp(-Z)); exp overflows to inf for very negative Z, giving exactly 0.
    np.negative(Z, out=Z)
    np.exp(Z, out=Z)
    Z += 1
    np.reciprocal(Z, out=Z)


def _sigmoid_backward(G: np.ndarray, dA: np.ndarray) -> None:
    # g'(Z) = G (1 - G)
    slope = 1 - G
    slope *= G
    dA *= slope


@dataclass(frozen=True)
class Activation:
    """A hidden activation as an in-place pair.

    Attributes
    ----------
    name : str
    forward : callable(Z) -> None
        Overwrites ``Z`` (shape ``(m, n)``) with ``G = g(Z)``.
    backward : callable(G, dA) -> None
        Overwrites ``dA`` (shape ``(m, n)``) with ``dZ = dA * g'(Z)``, using ``G = g(Z)``.
    """

    name: str
    forward: Callable[[np.ndarray], None]
    backward: Callable[[np.ndarray, np.ndarray], None]


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("relu", _relu, _relu_backward),
        Activation("leaky_relu", _leaky_relu, _leaky_relu_backward),
        Activation("tanh", _tanh, _tanh_backward),
        Activation("sigmoid", _sigmoid, _sigmoid_backward),
    )
}
"""Name-to-activation registry; its keys are the allowed ``activation`` hyperparameters."""
