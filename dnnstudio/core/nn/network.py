"""The L-layer fully-connected network: forward and backward propagation in NumPy.

Rows are examples. For layer ``l = 1..L`` with ``n[l]`` units and a mini-batch of ``m``
examples::

    Z[l] = A[l-1] @ W[l].T + b[l]          Z[l], A[l]: (m, n[l]);  W[l]: (n[l], n[l-1])
    A[l] = g[l](Z[l]) * D[l] / keep_prob    D[l]: inverted-dropout mask, hidden layers only

and backward, from ``dZ[L] = dJ/dZ[L]``::

    dW[l] = dZ[l].T @ A[l-1] + (lambda / m_train) W[l]      db[l] = sum over rows of dZ[l]
    dA[l-1] = dZ[l] @ W[l]                                   dZ[l-1] = dA[l-1] * g'(Z[l-1])

``W[l]`` keeps the course's orientation ``(n[l], n[l-1])``; ``b[l]`` is stored as ``(n[l],)``
and shown as ``(n[l], 1)``. All ``W[l]``, ``b[l]`` are views into one flat vector ``theta``
(gradients into ``grad``) so an optimizer step is a few whole-vector operations. Work arrays
are allocated once per batch size and reused; ``dA[0]`` is never computed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..data.dataset import Task
from ..hyperparams import Hyperparameters
from .activations import ACTIVATIONS, Activation
from .losses import OUTPUTS, OutputLoss

INIT_SCALES = {
    "he": lambda n_prev: math.sqrt(2.0 / n_prev),
    "xavier": lambda n_prev: math.sqrt(1.0 / n_prev),
    "small": lambda n_prev: 0.01,
}
"""Standard deviation of the initial ``W[l]`` entries, by initialisation name."""


@dataclass
class _Work:
    """Work arrays for one batch size ``m``: ``Z[l]`` (holding ``A[l]`` after the
    activation), dropout masks ``D[l]`` and outputs ``A[l]`` after dropout, ``dA[l]``, and a
    row of ones ``(m,)`` that sums ``dZ[l]`` over the examples as a matrix-vector product
    (two to three times faster than ``np.sum(axis=0)`` on these shapes)."""

    Z: list[np.ndarray]
    D: list[np.ndarray | None]
    A: list[np.ndarray]
    dA: list[np.ndarray]
    ones: np.ndarray


class Network:
    """Parameters and the propagation code of one network.

    Parameters
    ----------
    sizes : sequence of int
        ``(n[0], n[1], ..., n[L])``.
    hidden_activations : sequence of str
        Activation of each hidden layer ``1 .. L-1``.
    task : Task
        Decides the output layer and the cost.
    dtype : numpy dtype
        float32 or float64.
    l2 : float
        L2 lambda; the penalty is ``lambda / (2 m_train) * sum ||W[l]||^2``.
    keep_prob : float
        Inverted-dropout keep probability for hidden layers.
    m_train : int
        Size of the training set (the ``m`` in the L2 term).
    """

    def __init__(
        self,
        sizes: tuple[int, ...],
        hidden_activations: tuple[str, ...],
        task: Task,
        dtype: np.dtype,
        *,
        l2: float = 0.0,
        keep_prob: float = 1.0,
        m_train: int = 1,
    ) -> None:
        self.sizes = tuple(int(n) for n in sizes)
        self.L = len(self.sizes) - 1
        if len(hidden_activations) != self.L - 1:
            raise ValueError("one activation per hidden layer is needed")
        self.activations: list[Activation] = [ACTIVATIONS[a] for a in hidden_activations]
        self.output: OutputLoss = OUTPUTS[task]
        self.dtype = np.dtype(dtype)
        self.l2 = float(l2)
        self.keep_prob = float(keep_prob)
        self.m_train = int(m_train)

        count = sum(self.sizes[l] * (self.sizes[l - 1] + 1) for l in range(1, self.L + 1))  # noqa: E741
        self.theta = np.zeros(count, dtype=self.dtype)
        self.grad = np.zeros(count, dtype=self.dtype)
        self.W: list[np.ndarray] = []
        self.b: list[np.ndarray] = []
        self.dW: list[np.ndarray] = []
        self.db: list[np.ndarray] = []
        offset = 0
        for l in range(1, self.L + 1):  # noqa: E741
            rows, cols = self.sizes[l], self.sizes[l - 1]
            pairs = ((self.W, self.dW, (rows, cols)), (self.b, self.db, (rows,)))
            for params, grads, shape in pairs:
                size = math.prod(shape)
                params.append(self.theta[offset : offset + size].reshape(shape))
                grads.append(self.grad[offset : offset + size].reshape(shape))
                offset += size
        # Transposed views, made once: W[l].T is what the forward product needs.
        self.WT = [W.T for W in self.W]
        self._work: dict[int, _Work] = {}
        self._dropout_on = False

    # -- set-up ---------------------------------------------------------------------------
    @classmethod
    def for_hyperparameters(
        cls, hp: Hyperparameters, n_x: int, n_y: int, task: Task, m_train: int
    ) -> Network:
        return cls(
            hp.layer_sizes(n_x, n_y),
            hp.hidden_activations,
            task,
            np.dtype(hp.dtype),
            l2=hp.l2,
            keep_prob=hp.keep_prob,
            m_train=m_train,
        )

    def initialize(self, init: str, rng: np.random.Generator) -> None:
        """Draw ``W[l] ~ N(0, scale^2)`` with the named scale; set ``b[l] = 0``."""
        scale = INIT_SCALES[init]
        for l, W in enumerate(self.W, start=1):  # noqa: E741
            # Drawn in float64 and then cast, so float32 and float64 runs start alike.
            W[...] = rng.standard_normal(W.shape) * scale(self.sizes[l - 1])
        for b in self.b:
            b[...] = 0

    @property
    def parameter_count(self) -> int:
        return int(self.theta.size)

    def parameters(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Copies of ``(W[l], b[l])`` for ``l = 1..L``; ``b[l]`` has shape ``(n[l], 1)``."""
        return [(W.copy(), b.reshape(-1, 1).copy()) for W, b in zip(self.W, self.b, strict=True)]

    def set_parameters(self, params: list[tuple[np.ndarray, np.ndarray]]) -> None:
        """Load ``(W[l], b[l])`` pairs as :meth:`parameters` returns them."""
        if len(params) != self.L:
            raise ValueError(f"expected {self.L} layers of parameters, got {len(params)}")
        for l, ((W, b), W_own, b_own) in enumerate(zip(params, self.W, self.b, strict=True), 1):  # noqa: E741
            if W.shape != W_own.shape or b.size != b_own.size:
                raise ValueError(
                    f"W[{l}] or b[{l}] has the wrong shape: {W.shape}, {b.shape} "
                    f"(expected {W_own.shape}, ({b_own.size}, 1))"
                )
            W_own[...] = W
            b_own[...] = b.reshape(-1)

    def _work_for(self, m: int) -> _Work:
        work = self._work.get(m)
        if work is None:
            n = self.sizes
            Z = [np.empty((m, n[l]), dtype=self.dtype) for l in range(1, self.L + 1)]  # noqa: E741
            dropout = self.keep_prob < 1.0
            D: list[np.ndarray | None] = [
                np.empty((m, n[l]), dtype=self.dtype) if dropout else None
                for l in range(1, self.L)  # noqa: E741
            ]
            A = [
                np.empty((m, n[l]), dtype=self.dtype) if dropout else Z[l - 1]
                for l in range(1, self.L)  # noqa: E741
            ]
            dA = [np.empty((m, n[l]), dtype=self.dtype) for l in range(1, self.L)]  # noqa: E741
            ones = np.ones(m, dtype=self.dtype)
            work = self._work[m] = _Work(Z=Z, D=D, A=A, dA=dA, ones=ones)
        return work

    # -- propagation ----------------------------------------------------------------------
    def forward(
        self,
        X: np.ndarray,
        *,
        dropout_rng: np.random.Generator | None = None,
        masks: list[np.ndarray] | None = None,
    ) -> np.ndarray:
        """Forward propagation.

        Parameters
        ----------
        X : ndarray of shape (m, n[0])
        dropout_rng : Generator, optional
            When given and ``keep_prob < 1``, draw fresh dropout masks (training).
        masks : list of ndarray of shape (m, n[l]), optional
            Fixed 0/1 keep-masks for the hidden layers (for gradient checks); they are
            scaled by ``1 / keep_prob`` here.

        Returns
        -------
        ndarray of shape (m, n[L])
            ``Z[L]``, a work array that the next call with the same ``m`` overwrites.
        """
        work = self._work_for(X.shape[0])
        dropout = self.keep_prob < 1.0 and (dropout_rng is not None or masks is not None)
        self._dropout_on = dropout
        A = X
        for l in range(self.L):  # noqa: E741 - 0-based here: layer l + 1
            Z = work.Z[l]
            np.matmul(A, self.WT[l], out=Z)
            Z += self.b[l]
            if l == self.L - 1:
                return Z
            self.activations[l].forward(Z)
            if dropout:
                D = work.D[l]
                assert D is not None
                if masks is not None:
                    np.multiply(masks[l], 1.0 / self.keep_prob, out=D)
                else:
                    assert dropout_rng is not None
                    dropout_rng.random(out=D, dtype=D.dtype)
                    np.less(D, self.keep_prob, out=D)
                    D *= 1.0 / self.keep_prob
                A = work.A[l]
                np.multiply(Z, D, out=A)
            else:
                A = Z
        raise AssertionError("unreachable")  # pragma: no cover

    def backward(self, X: np.ndarray, dZ: np.ndarray) -> None:
        """Backward propagation after :meth:`forward` on the same ``X``.

        Parameters
        ----------
        X : ndarray of shape (m, n[0])
        dZ : ndarray of shape (m, n[L])
            ``dJ/dZ[L]`` (already divided by ``m``); overwritten.

        Fills :attr:`grad` (the views ``dW[l]``, ``db[l]``) with ``dJ/dW[l]``, ``dJ/db[l]``.
        """
        work = self._work_for(X.shape[0])
        dropout = self._dropout_on
        for l in range(self.L - 1, -1, -1):  # noqa: E741
            A_prev = X if l == 0 else work.A[l - 1]
            np.matmul(dZ.T, A_prev, out=self.dW[l])
            if self.l2:
                self.dW[l] += (self.l2 / self.m_train) * self.W[l]
            np.matmul(work.ones, dZ, out=self.db[l])
            if l == 0:
                break
            dA = work.dA[l - 1]
            np.matmul(dZ, self.W[l], out=dA)
            if dropout:
                D = work.D[l - 1]
                assert D is not None
                dA *= D
            self.activations[l - 1].backward(work.Z[l - 1], dA)
            dZ = dA

    def l2_penalty(self) -> float:
        """``lambda / (2 m_train) * sum_l ||W[l]||_F^2`` (0 without L2)."""
        if not self.l2:
            return 0.0
        total = sum(float(np.vdot(W, W)) for W in self.W)
        return self.l2 / (2 * self.m_train) * total

    def cost_and_gradients(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        labels: np.ndarray,
        *,
        dropout_rng: np.random.Generator | None = None,
        masks: list[np.ndarray] | None = None,
    ) -> float:
        """One forward and backward pass: fills :attr:`grad` and returns the full cost ``J``.

        ``J`` is the mean data cost over the ``m`` rows of ``X`` plus the L2 penalty.
        """
        m = X.shape[0]
        Z = self.forward(X, dropout_rng=dropout_rng, masks=masks)
        loss, _ = self.output.evaluate(Z, Y, labels)
        self.output.gradient(Z, Y, 1.0 / m)
        self.backward(X, Z)
        return float(loss) / m + self.l2_penalty()

    def cost(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        labels: np.ndarray,
        *,
        masks: list[np.ndarray] | None = None,
    ) -> float:
        """The full cost ``J`` (data cost plus L2 penalty) without touching the gradients."""
        Z = self.forward(X, masks=masks)
        loss, _ = self.output.evaluate(Z, Y, labels)
        return float(loss) / X.shape[0] + self.l2_penalty()

    def evaluate(
        self, X: np.ndarray, Y: np.ndarray, labels: np.ndarray, chunk: int = 8192
    ) -> tuple[float, float]:
        """Mean data cost and summed score over ``X``, without dropout, in row chunks."""
        total_loss = total_score = 0.0
        for start in range(0, X.shape[0], chunk):
            stop = start + chunk
            Z = self.forward(X[start:stop])
            loss, score = self.output.evaluate(Z, Y[start:stop], labels[start:stop])
            total_loss += float(loss)
            total_score += float(score)
        return total_loss / max(X.shape[0], 1), total_score

    def forward_many(self, X: np.ndarray, thetas: np.ndarray) -> np.ndarray:
        """Forward ``X`` through ``k`` snapshots of the parameters at once, without dropout.

        Parameters
        ----------
        X : ndarray of shape (m, n[0])
        thetas : ndarray of shape (k, P)
            Flat parameter vectors laid out like :attr:`theta`.

        Returns
        -------
        ndarray of shape (k, m, n[L])
            ``Z[L]`` for each snapshot; a transposed view when ``n[L] > 1``. This is how
            full-batch training validates every epoch cheaply. Inside, a snapshot's
            activations are ``(n[l], m)``, units by examples: the first layer of all ``k``
            snapshots is one matrix product (every ``[W[1] b[1]]`` stacked, against ``X``
            with a column of ones), a later layer one batched product ``W[l] @ A[l-1]``:
            with a small ``n[l]``, two to four times faster than the examples-by-units
            ``A[l-1] @ W[l].T`` on the same snapshots.
        """
        k, m = thetas.shape[0], X.shape[0]
        n0, n1 = self.sizes[0], self.sizes[1]
        W1 = thetas[:, : n1 * n0].reshape(k, n1, n0)
        b1 = thetas[:, n1 * n0 : n1 * (n0 + 1)].reshape(k, n1, 1)
        Wb = np.concatenate([W1, b1], axis=2).reshape(k * n1, n0 + 1)
        Xa = np.empty((m, n0 + 1), dtype=thetas.dtype)
        Xa[:, :n0] = X
        Xa[:, n0] = 1
        A = np.matmul(Wb, Xa.T).reshape(k, n1, m)
        offset = n1 * (n0 + 1)
        for l in range(1, self.L):  # noqa: E741 - 0-based here: layer l + 1
            self.activations[l - 1].forward(A)
            rows, cols = self.sizes[l + 1], self.sizes[l]
            W = thetas[:, offset : offset + rows * cols].reshape(k, rows, cols)
            offset += rows * cols
            b = thetas[:, offset : offset + rows].reshape(k, rows, 1)
            offset += rows
            A = np.matmul(W, A)
            A += b
        return A.transpose(0, 2, 1)

    def predict_output(self, X: np.ndarray, chunk: int = 8192) -> np.ndarray:
        """``Z[L]`` for every row of ``X`` (a new array of shape ``(m, n[L])``)."""
        parts = [self.forward(X[s : s + chunk]).copy() for s in range(0, X.shape[0], chunk)]
        if not parts:
            return np.empty((0, self.sizes[-1]), dtype=self.dtype)
        return np.concatenate(parts)
