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

    def step(self, theta: np.ndarray, grad: np.ndarray, alpha: float) -> None:
        self.t += 1
        self.v *= self.beta
        np.multiply(grad, 1 - self.beta, out=self._scratch)
        self.v += self._scratch
        np.multiply(self.v, alpha, out=self._scratch)
        theta -= self._scratch


class RMSprop(Optimizer):
    name = "rmsprop"

    def __init__(self, size: int, dtype: np.dtype, hp: Hyperparameters) -> None:
        super().__init__(size, dtype, hp)
        self.beta2 = hp.beta2
        self.epsilon = hp.epsilon
        self.s = np.zeros(size, dtype=dtype)

    def step(self, theta: np.ndarray, grad: np.ndarray, alpha: float) -> None:
        self.t += 1
        scratch = self._scratch
        self.s *= self.beta2
        np.multiply(grad, grad, out=scratch)
        scratch *= 1 - self.beta2
        self.s += scratch
        np.sqrt(self.s, out=scratch)
        scratch += self.epsilon
        np.divide(grad, scratch, out=scratch)
        scratch *= alpha
        theta -= scratch


class Adam(Optimizer):
    name = "adam"

    def __init__(self, size: int, dtype: np.dtype, hp: Hyperparameters) -> None:
        super().__init__(size, dtype, hp)
        self.beta1 = hp.beta1
        self.beta2 = hp.beta2
        self.epsilon = hp.epsilon
        self.v = np.zeros(size, dtype=dtype)
        self.s = np.zeros(size, dtype=dtype)

    def step(self, theta: np.ndarray, grad: np.ndarray, alpha: float) -> None:
        self.t += 1
        scratch = self._scratch
        b1, b2 = self.beta1, self.beta2
        self.v *= b1
        np.multiply(grad, 1 - b1, out=scratch)
        self.v += scratch
        self.s *= b2
        np.multiply(grad, grad, out=scratch)
        scratch *= 1 - b2
        self.s += scratch
        # alpha v_hat / (sqrt(s_hat) + eps) = (alpha_1 / k) v / (sqrt(s) + eps / k), with
        # alpha_1 = alpha / (1 - beta1^t) and k = 1 / sqrt(1 - beta2^t): the bias corrections
        # become two scalars, and the step five passes over the vector.
        k = 1 / math.sqrt(1 - b2**self.t)
        np.sqrt(self.s, out=scratch)
        scratch += self.epsilon / k
        np.divide(self.v, scratch, out=scratch)
        scratch *= alpha / (1 - b1**self.t) / k
        theta -= scratch


OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.name: cls for cls in (Optimizer, Momentum, RMSprop, Adam)
}
"""Name-to-optimizer registry; its keys are the allowed ``optimizer`` hyperparameters."""


def make_optimizer(hp: Hyperparameters, size: int, dtype: np.dtype) -> Optimizer:
    """The optimizer ``hp.optimizer`` names, for a flat parameter vector of ``size``."""
    return OPTIMIZERS[hp.optimizer](size, dtype, hp)
