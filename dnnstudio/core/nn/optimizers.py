"""Update rules for the parameters, in the course's formulas.

All parameters ``W[1], b[1], ..., W[L], b[L]`` live in one flat vector ``theta`` (and their
gradients in one flat ``grad``), so each rule is a handful of whole-vector NumPy operations
per step however many layers the network has. ``t`` counts steps from 1.

* gradient descent: ``theta -= alpha * dtheta``
* momentum:  ``v = beta v + (1 - beta) dtheta``; ``theta -= alpha v``
* RMSprop:   ``s = beta2 s + (1 - beta2) dtheta^2``; ``theta -= alpha dtheta / (sqrt(s) + eps)``
* Adam:      ``v = beta1 v + (1 - beta1) dtheta``; ``s = beta2 s + (1 - beta2) dtheta^2``;
  ``theta -= alpha v_hat / (sqrt(s_hat) + eps)`` with ``v_hat = v / (1 - beta1^t)`` and
  ``s_hat = s / (1 - beta2^t)``.

The moving averages are kept divided by their constant weights, ``v / (1 - beta)`` and
``s / (1 - beta2)``: then ``v' = beta v' + dtheta`` needs no multiplication of the gradient,
and the constants join the bias corrections in a scalar. The updates are the formulas above
(up to rounding) with one or two whole-vector passes fewer per step.
"""

from __future__ import annotations

import math

import numpy as np

from ..hyperparams import Hyperparameters


class Optimizer:
    """Gradient descent; the base of the others.

    Parameters
    ----------
    size : int
        Length of the flat parameter vector.
    dtype : numpy dtype
    hp : Hyperparameters
        Supplies the betas and epsilon.
    """

    name = "gd"

    def __init__(self, size: int, dtype: np.dtype, hp: Hyperparameters) -> None:
        self.t = 0
        self._scratch = np.empty(size, dtype=dtype)

    def step(self, theta: np.ndarray, grad: np.ndarray, alpha: float) -> None:
        """Update ``theta`` (shape ``(P,)``) in place from ``grad`` (shape ``(P,)``)."""
        self.t += 1
        np.multiply(grad, alpha, out=self._scratch)
        theta -= self._scratch


class Momentum(Optimizer):
    name = "momentum"

    def __init__(self, size: int, dtype: np.dtype, hp: Hyperparameters) -> None:
        super().__init__(size, dtype, hp)
        self.beta = hp.beta
        self.v = np.zeros(size, dtype=dtype)
        """``v / (1 - beta)``."""

    def step(self, theta: np.ndarray, grad: np.ndarray, alpha: float) -> None:
        self.t += 1
        self.v *= self.beta
        self.v += grad
        np.multiply(self.v, alpha * (1 - self.beta), out=self._scratch)
        theta -= self._scratch


class RMSprop(Optimizer):
    name = "rmsprop"

    def __init__(self, size: int, dtype: np.dtype, hp: Hyperparameters) -> None:
        super().__init__(size, dtype, hp)
        self.beta2 = hp.beta2
        self.epsilon = hp.epsilon
        self.s = np.zeros(size, dtype=dtype)
        """``s / (1 - beta2)``."""

    def step(self, theta: np.ndarray, grad: np.ndarray, alpha: float) -> None:
        self.t += 1
        scratch = self._scratch
        self.s *= self.beta2
        np.multiply(grad, grad, out=scratch)
        self.s += scratch
        # sqrt(s) = c sqrt(s') with c = sqrt(1 - beta2)
        c = math.sqrt(1 - self.beta2)
        np.sqrt(self.s, out=scratch)
        scratch += self.epsilon / c
        np.divide(grad, scratch, out=scratch)
        scratch *= alpha / c
        theta -= scratch


class Adam(Optimizer):
    name = "adam"

    def __init__(self, size: int, dtype: np.dtype, hp: Hyperparameters) -> None:
        super().__init__(size, dtype, hp)
        self.beta1 = hp.beta1
        self.beta2 = hp.beta2
        self.epsilon = hp.epsilon
        self.v = np.zeros(size, dtype=dtype)
        """``v / (1 - beta1)``."""
        self.s = np.zeros(size, dtype=dtype)
        """``s / (1 - beta2)``."""

    def step(self, theta: np.ndarray, grad: np.ndarray, alpha: float) -> None:
        self.t += 1
        scratch = self._scratch
        b1, b2 = self.beta1, self.beta2
        self.v *= b1
        self.v += grad
        self.s *= b2
        np.multiply(grad, grad, out=scratch)
        self.s += scratch
        # With v_hat = c1 v' and sqrt(s_hat) = c2 sqrt(s'), where c1 = (1 - beta1) /
        # (1 - beta1^t) and c2 = sqrt((1 - beta2) / (1 - beta2^t)):
        # alpha v_hat / (sqrt(s_hat) + eps) = (alpha c1 / c2) v' / (sqrt(s') + eps / c2).
        c1 = (1 - b1) / (1 - b1**self.t)
        c2 = math.sqrt((1 - b2) / (1 - b2**self.t))
        np.sqrt(self.s, out=scratch)
        scratch += self.epsilon / c2
        np.divide(self.v, scratch, out=scratch)
        scratch *= alpha * c1 / c2
        theta -= scratch


OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.name: cls for cls in (Optimizer, Momentum, RMSprop, Adam)
}
"""Name-to-optimizer registry; its keys are the allowed ``optimizer`` hyperparameters."""


def make_optimizer(hp: Hyperparameters, size: int, dtype: np.dtype) -> Optimizer:
    """The optimizer ``hp.optimizer`` names, for a flat parameter vector of ``size``."""
    return OPTIMIZERS[hp.optimizer](size, dtype, hp)
