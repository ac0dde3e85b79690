"""Output layers with their costs: the output activation follows the task.

* binary: one sigmoid unit, binary cross-entropy ``-(y log a + (1-y) log(1-a))``;
* multiclass: softmax units, categorical cross-entropy ``-sum_k y_k log a_k``;
* regression: one linear unit, squared error ``(a - y)^2``.

Each pairs an in-place gradient, ``dJ/dZ[L] = (A[L] - Y) / m`` for the cross-entropies and
``2 (A[L] - Y) / m`` for squared error, with an evaluation of cost and score from ``Z[L]``.
Costs are computed from ``Z[L]`` in a numerically stable form (``log(1 + e^z)`` as
``max(z, 0) + log(1 + e^-|z|)``, log-sum-exp for softmax), so a saturated unit gives a large
finite cost.

Evaluation accepts leading dimensions: ``Z`` of shape ``(..., m, n[L])`` against ``Y`` of shape
``(m, n[L])`` gives sums of shape ``(...)``. The trainer uses that to score a whole epoch's (or
several full-batch epochs') outputs in a single call instead of once per step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..data.dataset import Task

Evaluate = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
Gradient = Callable[[np.ndarray, np.ndarray, float], None]


def _binary_eval(
    Z: np.ndarray, Y: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    z = Z[..., 0]
    m = z.shape[-1]
    t = np.empty(z.shape, dtype=z.dtype)
    if m < 2**24:
        # Correct predictions, (z > 0) == y, counted as #(y = 0) + [z > 0] . (2y - 1): a
        # matrix-vector product of whole numbers, exact below 2^24 rows and ten times faster
        # than count_nonzero along an axis.
        np.greater(z, 0, out=t, casting="unsafe")
        hits = t @ (2 * labels - 1).astype(z.dtype) + (m - np.count_nonzero(labels))
    else:
        hits = np.count_nonzero((z > 0) == labels, axis=-1)
    # With t = z where y = 0 and t = -z where y = 1, the cost -[y log s(z) + (1-y) log(1-s(z))]
    # is log(1 + e^t) = max(t, 0) + log(1 + e^-|t|), and max(t, 0) = (t + |t|) / 2 exactly:
    # stable, and made of SIMD-fast ufuncs (np.logaddexp and np.log1p cost 15-40 times more
    # per element, and np.maximum more than the two passes that replace it).
    np.multiply(z, 1 - 2 * Y[:, 0], out=t)
    u = np.abs(t)
    t += u
    t *= 0.5
    np.negative(u, out=u)
    np.exp(u, out=u)
    u += 1
    np.log(u, out=u)
    u += t
    return u.sum(axis=-1), np.asarray(hits)


def _binary_grad(Z: np.ndarray, Y: np.ndarray, inv_m: float) -> None:
    # sigmoid(z) = 1 / (1 + e^-z); e^-z overflows to inf for very negative z, giving 0.
    np.negative(Z, out=Z)
    np.exp(Z, out=Z)
    Z += 1
    np.reciprocal(Z, out=Z)
    Z -= Y
    Z *= inv_m


def _softmax_eval(
    Z: np.ndarray, Y: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    hits = np.count_nonzero(Z.argmax(axis=-1) == labels, axis=-1)
    shifted = Z - Z.max(axis=-1, keepdims=True)
    log_total = np.log(np.exp(shifted).sum(axis=-1))
    # -sum_k y_k log softmax(z)_k = log sum_j e^z_j - sum_k y_k z_k (one-hot y)
    loss = log_total.sum(axis=-1) - (Y * shifted).sum(axis=(-2, -1))
    return loss, hits


def _softmax_grad(Z: np.ndarray, Y: np.ndarray, inv_m: float) -> None:
    Z -= Z.max(axis=1, keepdims=True)
    np.exp(Z, out=Z)
    Z /= Z.sum(axis=1, keepdims=True)
    Z -= Y
    Z *= inv_m


def _squared_eval(
    Z: np.ndarray, Y: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    R = Z - Y
    R *= R
    sse = R.sum(axis=(-2, -1))
    return sse, sse


def _squared_grad(Z: np.ndarray, Y: np.ndarray, inv_m: float) -> None:
    Z -= Y
    Z *= 2 * inv_m


@dataclass(frozen=True)
class OutputLoss:
    """The output layer's activation and cost for one task.

    Attributes
    ----------
    task : Task
    activation : str
        The output activation's name, for display (``sigmoid``, ``softmax``, ``linear``).
    cost_name : str
    evaluate : callable(Z, Y, labels) -> (loss_sum, score_sum)
        For ``Z`` of shape ``(..., m, n[L])``: the cost summed over the ``m`` rows, and the
        number of correct predictions (classification) or the sum of squared errors
        (regression), each of shape ``(...)``. ``Z`` is not modified.
    gradient : callable(Z, Y, inv_m) -> None
        Overwrites ``Z`` (shape ``(m, n[L])``) with ``dJ/dZ[L]`` for a cost averaged with
        weight ``inv_m`` per row.
    """

    task: Task
    activation: str
    cost_name: str
    evaluate: Evaluate
    gradient: Gradient

    def targets(self, y: np.ndarray, n_outputs: int, dtype: np.dtype) -> np.ndarray:
        """Targets ``Y`` of shape ``(m, n[L])`` from labels or values ``y`` of shape ``(m,)``."""
        if self.task is Task.MULTICLASS:
            Y = np.zeros((y.shape[0], n_outputs), dtype=dtype)
            Y[np.arange(y.shape[0]), y.astype(np.intp)] = 1
            return Y
        return np.ascontiguousarray(y, dtype=dtype).reshape(-1, 1)

    def predict(self, Z: np.ndarray) -> np.ndarray:
        """Predictions from ``Z[L]``: class indices ``(m,)`` or values ``(m,)``."""
        if self.task is Task.BINARY:
            return (Z[:, 0] > 0).astype(np.int64)
        if self.task is Task.MULTICLASS:
            return np.asarray(Z.argmax(axis=1), dtype=np.int64)
        return np.asarray(Z[:, 0], dtype=np.float64)

    def probabilities(self, Z: np.ndarray) -> np.ndarray:
        """``A[L]``: sigmoid or softmax outputs ``(m, n[L])``, or the values for regression."""
        Z64 = Z.astype(np.float64)
        if self.task is Task.BINARY:
            return np.exp(Z64 - np.logaddexp(0, Z64))
        if self.task is Task.MULTICLASS:
            E = np.exp(Z64 - Z64.max(axis=1, keepdims=True))
            return np.asarray(E / E.sum(axis=1, keepdims=True))
        return Z64


OUTPUTS: dict[Task, OutputLoss] = {
    Task.BINARY: OutputLoss(
        Task.BINARY, "sigmoid", "binary cross-entropy", _binary_eval, _binary_grad
    ),
    Task.MULTICLASS: OutputLoss(
        Task.MULTICLASS, "softmax", "categorical cross-entropy", _softmax_eval, _softmax_grad
    ),
    Task.REGRESSION: OutputLoss(
        Task.REGRESSION, "linear", "mean squared error", _squared_eval, _squared_grad
    ),
}
"""Task-to-output-layer registry."""
