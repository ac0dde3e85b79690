"""The trainer: ``train(hparams, data, *, on_epoch, should_stop) -> TrainResult``.

A plain function, not a Qt object: it reports through callbacks, never prints, checks for
cancellation before every mini-batch step, and returns a frozen :class:`TrainResult`. The
same seed and hyperparameters give the same result, bit for bit: the seed is split into
independent streams for initialisation, shuffling and dropout, and nothing touches NumPy's
global random state.

Divergence is an outcome, not an exception: when the cost becomes NaN or infinite, or grows
to more than :data:`EXPLODE_FACTOR` times its starting value, training stops with status
``diverged``, the epoch, and a message saying the learning rate is probably too large.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, overload

import numpy as np

from .data.dataset import Task, TrainData
from .errors import DataError, HyperparameterError
from .hyperparams import Hyperparameters
from .nn.network import Network
from .nn.optimizers import make_optimizer

EXPLODE_FACTOR = 100.0
"""A cost this many times the initial cost counts as divergence."""


class TrainStatus(StrEnum):
    """How a training run ended."""

    COMPLETED = "completed"
    """Ran all its epochs, or stopped early because validation cost stopped improving."""
    DIVERGED = "diverged"
    """The cost became non-finite or exploded; the learning rate is probably too large."""
    CANCELLED = "cancelled"
    """``should_stop`` asked it to stop."""


@dataclass(frozen=True, slots=True)
class EpochRecord:
    """What one epoch reports.

    ``train_metric`` and ``val_metric`` are accuracies in [0, 1] for classification and R²
    for regression. ``train_cost`` and ``train_metric`` are averaged over the epoch's
    mini-batches as they were trained (with dropout, if any), plus the L2 penalty for the
    cost; the validation figures are measured after the epoch, without dropout, and are NaN
    on epochs where validation was skipped (``eval_every > 1``).
    """

    epoch: int
    train_cost: float
    val_cost: float
    train_metric: float
    val_metric: float
    learning_rate: float
    elapsed_s: float

    def to_dict(self) -> dict[str, float | int]:
        return {
            "epoch": self.epoch,
            "train_cost": self.train_cost,
            "val_cost": self.val_cost,
            "train_metric": self.train_metric,
            "val_metric": self.val_metric,
            "learning_rate": self.learning_rate,
            "elapsed_s": self.elapsed_s,
        }


HISTORY_FIELDS = (
    "train_cost",
    "val_cost",
    "train_metric",
    "val_metric",
    "learning_rate",
    "elapsed_s",
)


EPOCH_COLUMNS = ("epoch", *HISTORY_FIELDS)
"""Columns of an :class:`EpochRows` array."""


class EpochRows(Sequence[EpochRecord]):
    """Many epochs' records as one ``(k, 7)`` float array (columns :data:`EPOCH_COLUMNS`).

    It is a sequence of :class:`EpochRecord` (built on access), but it crosses a process
    boundary and feeds plots and histories as a single array: a tiny network trains tens of
    thousands of epochs a second, and an object per epoch would cost more to send and unpack
    than the training itself.
    """

    __slots__ = ("array",)

    def __init__(self, array: np.ndarray) -> None:
        array = np.asarray(array, dtype=np.float64).reshape(-1, len(EPOCH_COLUMNS))
        array.flags.writeable = False
        self.array = array

    @classmethod
    def from_records(cls, records: Sequence[EpochRecord]) -> EpochRows:
        if isinstance(records, EpochRows):
            return records
        return cls(np.array([(r.epoch, r.train_cost, r.val_cost, r.train_metric,
                              r.val_metric, r.learning_rate, r.elapsed_s) for r in records],
                            dtype=np.float64).reshape(-1, len(EPOCH_COLUMNS)))

    def __len__(self) -> int:
        return int(self.array.shape[0])

    @overload
    def __getitem__(self, index: int) -> EpochRecord: ...
    @overload
    def __getitem__(self, index: slice) -> EpochRows: ...
    def __getitem__(self, index: int | slice) -> EpochRecord | EpochRows:
        if isinstance(index, slice):
            return EpochRows(self.array[index])
        row = self.array[index]
        return EpochRecord(int(row[0]), *(float(v) for v in row[1:]))

    def __reduce__(self) -> tuple[type[EpochRows], tuple[np.ndarray]]:
        return (EpochRows, (np.array(self.array),))

    def __repr__(self) -> str:
        return f"EpochRows({len(self)} epochs)"


@dataclass(frozen=True, eq=False)
class History:
    """Per-epoch curves, each an array of shape ``(epochs_run,)``; epoch ``i + 1`` is at ``i``."""

    train_cost: np.ndarray
    val_cost: np.ndarray
    train_metric: np.ndarray
    val_metric: np.ndarray
    learning_rate: np.ndarray
    elapsed_s: np.ndarray

    def __len__(self) -> int:
        return int(self.train_cost.shape[0])

    def to_dict(self) -> dict[str, list[float | None]]:
        """Plain lists, with NaN as None so the result is valid JSON."""
        return {name: _json_list(getattr(self, name)) for name in HISTORY_FIELDS}


@dataclass(frozen=True, eq=False)
class TrainedModel:
    """Learned parameters with what is needed to use them.

    Attributes
    ----------
    hyperparameters : Hyperparameters
    task : Task
    params : list of (W, b)
        ``W[l]`` of shape ``(n[l], n[l-1])`` and ``b[l]`` of shape ``(n[l], 1)``.
    """

    hyperparameters: Hyperparameters
    task: Task
    params: list[tuple[np.ndarray, np.ndarray]]

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.params[0][0].shape[1], *(W.shape[0] for W, _ in self.params))

    def _network(self) -> Network:
        hp = self.hyperparameters
        net = Network(self.sizes, hp.hidden_activations, self.task, np.dtype(hp.dtype),
                      l2=0.0, keep_prob=1.0)
        net.set_parameters(self.params)
        return net

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class indices ``(m,)`` (classification) or predicted values ``(m,)``."""
        net = self._network()
        with np.errstate(all="ignore"):
            Z = net.predict_output(np.ascontiguousarray(X, dtype=net.dtype))
        return net.output.predict(Z)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """``A[L]`` for each row: ``(m, n[L])`` sigmoid or softmax outputs."""
        net = self._network()
        with np.errstate(all="ignore"):
            Z = net.predict_output(np.ascontiguousarray(X, dtype=net.dtype))
        return net.output.probabilities(Z)

    def evaluate(self, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """Mean cost (without L2) and metric (accuracy, or R² for regression) on ``X``, ``y``."""
        net = self._network()
        n_out = self.params[-1][0].shape[0]
        Xc, Y, labels = _prepare(net, X, y, n_out)
        with np.errstate(all="ignore"):
            cost, score = net.evaluate(Xc, Y, labels)
        return cost, _metric(self.task, score, len(y), _sst(self.task, y))


@dataclass(frozen=True, eq=False)
class CrossValidation:
    """How a cross-validated result was measured (see :mod:`dnnstudio.core.crossval`).

    The :class:`TrainResult` that carries this reports the means over the folds; here are the
    folds' own figures, in fold order, for the folds that completed.

    Attributes
    ----------
    folds : int
        ``k``, the number of folds asked for.
    seed : int
        Seed of the assignment of rows to folds.
    stratified : bool
        Whether every class was spread evenly over the folds.
    fold_sizes : tuple of int, length k
        Validation rows of each fold; together, every training and validation row once.
    train_costs, val_costs, train_metrics, val_metrics : tuple of float
        The final figures of each completed fold.
    val_cost_std, val_metric_std : float
        Sample standard deviations (``ddof=1``) of the folds' validation figures; NaN with
        fewer than two completed folds.
    stopped_in_fold : int or None
        The fold (1-based) that diverged or was cancelled, ending the cross-validation.
    """

    folds: int
    seed: int
    stratified: bool
    fold_sizes: tuple[int, ...]
    train_costs: tuple[float, ...]
    val_costs: tuple[float, ...]
    train_metrics: tuple[float, ...]
    val_metrics: tuple[float, ...]
    val_cost_std: float
    val_metric_std: float
    stopped_in_fold: int | None = None

    @property
    def completed_folds(self) -> int:
        return len(self.val_metrics)

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {
            "folds": self.folds,
            "seed": self.seed,
            "stratified": self.stratified,
            "fold_sizes": list(self.fold_sizes),
            "train_costs": [_json_float(v) for v in self.train_costs],
            "val_costs": [_json_float(v) for v in self.val_costs],
            "train_metrics": [_json_float(v) for v in self.train_metrics],
            "val_metrics": [_json_float(v) for v in self.val_metrics],
            "val_cost_std": _json_float(self.val_cost_std),
            "val_metric_std": _json_float(self.val_metric_std),
            "stopped_in_fold": self.stopped_in_fold,
        }


@dataclass(frozen=True, eq=False)
class TrainResult:
    """A finished training run; immutable.

    Attributes
    ----------
    status : TrainStatus
    message : str
        One sentence for the user: how it ended and, if it went wrong, what to try.
    hyperparameters : Hyperparameters
    task : Task
    metric : str
        ``"accuracy"`` or ``"r2"``.
    epochs_run : int
    history : History
    train_cost, val_cost : float
        Final costs, measured on the whole sets with the final parameters and no dropout
        (the training cost includes the L2 penalty). NaN after divergence. Under
        cross-validation, all four final figures are means over the folds.
    train_metric, val_metric : float
        Final accuracy (or R²) on the training and validation sets.
    train_time_s : float
        Wall time of the training loop.
    parameter_count : int
    model : TrainedModel or None
        The learned parameters (None after divergence, since they are not finite).
    diverged_epoch : int or None
    best_epoch : int or None
        With early stopping: the epoch whose parameters were kept.
    stopped_early : bool
    cross_validation : CrossValidation or None
        Set when the figures are means over the folds of a cross-validation; the history is
        then the per-epoch mean over the folds, and ``model`` is None (each fold trained its
        own network, on its own standardisation).
    """

    status: TrainStatus
    message: str
    hyperparameters: Hyperparameters
    task: Task
    metric: str
    epochs_run: int
    history: History
    train_cost: float
    val_cost: float
    train_metric: float
    val_metric: float
    train_time_s: float
    parameter_count: int
    model: TrainedModel | None = field(repr=False)
    diverged_epoch: int | None = None
    best_epoch: int | None = None
    stopped_early: bool = False
    cross_validation: CrossValidation | None = None

    def summary(self) -> dict[str, Any]:
        """The headline figures as a JSON-ready dict (no history, no parameters)."""
        out: dict[str, Any] = {
            "status": self.status.value,
            "message": self.message,
            "task": self.task.value,
            "epochs_run": self.epochs_run,
            "train_cost": _json_float(self.train_cost),
            "val_cost": _json_float(self.val_cost),
        }
        if self.metric == "accuracy":
            out["train_accuracy"] = _json_float(self.train_metric)
            out["val_accuracy"] = _json_float(self.val_metric)
        else:
            out["train_accuracy"] = None
            out["val_accuracy"] = None
            out["train_r2"] = _json_float(self.train_metric)
            out["val_r2"] = _json_float(self.val_metric)
        out.update(
            train_time_s=self.train_time_s,
            parameter_count=self.parameter_count,
            diverged_epoch=self.diverged_epoch,
            best_epoch=self.best_epoch,
            stopped_early=self.stopped_early,
        )
        if self.cross_validation is not None:
            out["cross_validation"] = self.cross_validation.summary()
        return out


def _json_float(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _json_list(a: np.ndarray) -> list[float | None]:
    return [float(v) if math.isfinite(v) else None for v in a.tolist()]


def _sst(task: Task, y: np.ndarray) -> float:
    """Total sum of squares of a regression target (0 for classification)."""
    if task is not Task.REGRESSION or len(y) == 0:
        return 0.0
    yf = np.asarray(y, dtype=np.float64)
    return float(np.sum((yf - yf.mean()) ** 2))


def metric_name(task: Task) -> str:
    """The metric a task is measured by: ``"r2"`` for regression, else ``"accuracy"``."""
    return "r2" if task is Task.REGRESSION else "accuracy"


def _metric(task: Task, score: Any, m: int, sst: float) -> Any:
    """Accuracy from counts of correct predictions, or R² from sums of squared errors.

    ``score`` may be a number or an array of them (one per epoch).
    """
    if m == 0:
        return math.nan
    if task is Task.REGRESSION:
        if sst > 0:
            return 1.0 - np.asarray(score, dtype=np.float64) / sst
        return np.where(np.asarray(score) == 0, 1.0, -np.inf)
    return np.asarray(score, dtype=np.float64) / m


def _prepare(
    net: Network, X: np.ndarray, y: np.ndarray, n_out: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Contiguous ``X`` in the network's dtype, targets ``Y`` ``(m, n[L])``, labels ``(m,)``."""
    Xc = np.ascontiguousarray(X, dtype=net.dtype)
    Y = net.output.targets(np.asarray(y), n_out, net.dtype)
    if net.output.task.is_classification:
        labels = np.asarray(y, dtype=np.int64)
    else:
        labels = np.zeros(len(y), dtype=np.int64)
    return Xc, Y, labels


def memory_estimate_bytes(hp: Hyperparameters, n_x: int, n_y: int, m_train: int, m_val: int) -> int:
    """About how many bytes training these hyperparameters on such data needs.

    Counts parameters, gradients and optimizer state, the work arrays of a mini-batch and of a
    validation chunk, and the training set's shuffled copy.
    """
    itemsize = np.dtype(hp.dtype).itemsize
    P = hp.parameter_count(n_x, n_y)
    states = {"gd": 0, "momentum": 1, "rmsprop": 1, "adam": 2}[hp.optimizer]
    params = P * (3 + states + (1 if hp.patience else 0))
    units = sum(hp.layer_sizes(n_x, n_y)[1:])
    batch = min(hp.batch_size or m_train, m_train)
    per_row = units * (3 if hp.keep_prob < 1 else 2)
    work = (batch + min(m_val, 8192) + min(m_train, 8192)) * per_row
    data = 2 * m_train * (n_x + n_y + 1) + m_val * (n_x + n_y + 1)
    return int(itemsize * (params + work + data))


def _available_memory() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return None


def check_fits(hp: Hyperparameters, n_x: int, n_y: int, m_train: int, m_val: int) -> None:
    """Refuse a network whose training would not fit in this machine's memory."""
    need = memory_estimate_bytes(hp, n_x, n_y, m_train, m_val)
    have = _available_memory()
    if have is not None and need > 0.8 * have:
        raise HyperparameterError(
            "hidden",
            list(hp.hidden),
            f"small enough to fit in memory: this network would need about "
            f"{need / 2**30:.1f} GiB and this machine has {have / 2**30:.1f} GiB "
            "(use fewer or smaller layers, or a smaller mini-batch)",
        )


def _check_data(data: TrainData) -> None:
    for name in ("X_train", "X_val"):
        X = getattr(data, name)
        if X.ndim != 2:
            raise DataError(f"{name} must be a 2-D array (rows are examples), not {X.ndim}-D")
    if data.X_train.shape[0] < 1:
        raise DataError("the training set is empty")
    if data.X_val.shape[0] < 1:
        raise DataError("the validation set is empty; hyperparameters are tuned on it")
    if data.X_train.shape[1] != data.X_val.shape[1]:
        raise DataError(
            f"training rows have {data.X_train.shape[1]} features but validation rows have "
            f"{data.X_val.shape[1]}"
        )
    for X_name, y_name in (("X_train", "y_train"), ("X_val", "y_val")):
        X, y = getattr(data, X_name), getattr(data, y_name)
        if y.shape != (X.shape[0],):
            raise DataError(f"{y_name} must have shape ({X.shape[0]},), not {y.shape}")
        if not np.all(np.isfinite(X)):
            raise DataError(f"{X_name} holds NaN or infinite values")
        if data.task.is_classification:
            k = max(data.n_outputs, 2)
            if not np.all((y >= 0) & (y < k) & (y == np.floor(y))):
                raise DataError(f"{y_name} must hold class indices 0 to {k - 1}")
        elif not np.all(np.isfinite(y)):
            raise DataError(f"{y_name} holds NaN or infinite values")


Callback = Callable[[EpochRecord], None]
ParametersCallback = Callable[[int, list[tuple[np.ndarray, np.ndarray]]], None]


def train(
    hp: Hyperparameters,
    data: TrainData,
    *,
    on_epoch: Callback | None = None,
    should_stop: Callable[[], bool] | None = None,
    eval_every: int | None = 1,
    on_parameters: ParametersCallback | None = None,
    parameters_every: float = 0.25,
) -> TrainResult:
    """Train a network with hyperparameters ``hp`` on ``data``.

    Parameters
    ----------
    hp : Hyperparameters
    data : TrainData
        Training and validation sets; the trainer never sees a test set.
    on_epoch : callable(EpochRecord), optional
        Called once per epoch, in order, in this thread. Full-batch runs score their epochs
        in small groups (at most every 50 ms), so calls may come a few at a time. Keep it
        cheap; throttle in the caller.
    should_stop : callable() -> bool, optional
        Checked before every mini-batch step; returning True ends the run as ``cancelled``.
    eval_every : int or None
        Measure validation cost and metric every this many epochs (and after the last);
        None measures them only once, after training (the history's validation curves are
        then NaN). Early stopping measures every epoch regardless.
    on_parameters : callable(epoch, params), optional
        Called with copies of the current ``(W[l], b[l])`` at most every
        ``parameters_every`` seconds while training (to draw a decision boundary live).
    parameters_every : float

    Returns
    -------
    TrainResult

    Raises
    ------
    DataError
        The data cannot be trained on (shapes, NaN, labels).
    HyperparameterError
        The network would not fit in memory.
    """
    _check_data(data)
    if eval_every is not None and eval_every < 1:
        raise ValueError("eval_every must be >= 1 or None")
    check_fits(
        hp, data.n_features, data.n_outputs, data.X_train.shape[0], data.X_val.shape[0]
    )
    with np.errstate(all="ignore"):
        trainer = _Trainer(hp, data, on_epoch, should_stop, eval_every)
        trainer.on_parameters = on_parameters
        trainer.parameters_every = parameters_every
        return trainer.run()


FLUSH_SECONDS = 0.05
"""Full-batch runs score their stored outputs at least this often."""
FLUSH_EPOCHS = 256
"""... and at least every this many epochs."""


class _Trainer:
    """One training run's state; :func:`train` is its only user."""

    def __init__(
        self,
        hp: Hyperparameters,
        data: TrainData,
        on_epoch: Callback | None,
        should_stop: Callable[[], bool] | None,
        eval_every: int | None,
    ) -> None:
        self.hp = hp
        self.task = data.task
        self.on_epoch = on_epoch
        self.should_stop = should_stop
        self.on_parameters: ParametersCallback | None = None
        self.parameters_every = 0.25
        self._parameters_sent = -math.inf
        if hp.patience is not None:
            eval_every = 1
        # "Never" is an interval no epoch reaches; the last epoch is then not special either.
        self.eval_every = hp.epochs + 1 if eval_every is None else eval_every
        self.eval_last = eval_every is not None
        n_x, self.n_y = data.n_features, data.n_outputs
        self.m, self.m_val = data.X_train.shape[0], data.X_val.shape[0]

        init_seq, shuffle_seq, dropout_seq = np.random.SeedSequence(hp.seed).spawn(3)
        self.net = net = Network.for_hyperparameters(hp, n_x, self.n_y, data.task, self.m)
        net.initialize(hp.init, np.random.default_rng(init_seq))
        self.optimizer = make_optimizer(hp, net.parameter_count, net.dtype)
        self.shuffle_rng = np.random.default_rng(shuffle_seq)
        self.dropout_rng = np.random.default_rng(dropout_seq) if hp.keep_prob < 1 else None

        self.X, self.Y, self.labels = _prepare(net, data.X_train, data.y_train, self.n_y)
        self.Xv, self.Yv, self.labels_v = _prepare(net, data.X_val, data.y_val, self.n_y)
        self.sst = _sst(data.task, data.y_train)
        self.sst_v = _sst(data.task, data.y_val)
        self.batch = self.m if hp.batch_size is None else min(hp.batch_size, self.m)

        self.history = np.full((len(HISTORY_FIELDS), hp.epochs), np.nan)
        self.status = TrainStatus.COMPLETED
        self.epochs_run = 0
        self.initial_cost: float | None = None
        self.best_epoch: int | None = None
        self.best_val = math.inf
        self.best_theta: np.ndarray | None = None
        self.stopped_early = False
        self.t0 = 0.0

    # -- the loops ------------------------------------------------------------------------
    def run(self) -> TrainResult:
        self.t0 = time.perf_counter()
        full_batch = self.batch >= self.m
        if full_batch and self.dropout_rng is None and self.hp.patience is None:
            self._run_full_batch()
        else:
            self._run_mini_batches()
        train_time = time.perf_counter() - self.t0
        return self._result(train_time)

    def _stop_requested(self) -> bool:
        if self.should_stop is not None and self.should_stop():
            self.status = TrainStatus.CANCELLED
            return True
        return False

    def _run_mini_batches(self) -> None:
        """Mini-batch (or full-batch with dropout or early stopping) training.

        Each step's output ``Z[L]`` is copied aside before the gradient overwrites it, and the
        epoch's training cost and metric are computed from those copies in one call.
        """
        net, hp, m, batch = self.net, self.hp, self.m, self.batch
        outputs = np.empty((m, self.n_y), dtype=net.dtype)
        shuffled = batch < m
        if shuffled:
            # Each mini-batch is gathered into these small buffers, which stay in cache for
            # the products that follow; a shuffled copy of the whole training set would cost
            # a second pass over memory (and, on first touch, page faults worth an epoch).
            xb = np.empty((batch, self.X.shape[1]), dtype=net.dtype)
            yb = np.empty((batch, self.n_y), dtype=net.dtype)
        starts = range(0, m, batch)
        for epoch in range(hp.epochs):
            lr = hp.learning_rate(epoch)
            perm = self.shuffle_rng.permutation(m) if shuffled else None
            for start in starts:
                if self._stop_requested():
                    return
                stop = min(start + batch, m)
                if perm is None:
                    Xb, Yb = self.X[start:stop], self.Y[start:stop]
                else:
                    rows = perm[start:stop]
                    Xb, Yb = xb[: stop - start], yb[: stop - start]
                    # mode="clip" skips the bounds check that makes the default mode
                    # nearly three times slower; a permutation is always in bounds.
                    np.take(self.X, rows, axis=0, out=Xb, mode="clip")
                    np.take(self.Y, rows, axis=0, out=Yb, mode="clip")
                Z = net.forward(Xb, dropout_rng=self.dropout_rng)
                outputs[start:stop] = Z
                net.output.gradient(Z, Yb, 1.0 / (stop - start))
                net.backward(Xb, Z)
                self.optimizer.step(net.theta, net.grad, lr)
            if perm is None:
                Ye, Le = self.Y, self.labels
            else:
                Ye, Le = self.Y[perm], self.labels[perm]
            if self.initial_cost is None:
                first = slice(0, batch)
                loss0, _ = net.output.evaluate(outputs[first], Ye[first], Le[first])
                self.initial_cost = float(loss0) / min(batch, m)
            loss, score = net.output.evaluate(outputs, Ye, Le)
            if not self._record_train(epoch, float(loss) / m + net.l2_penalty(), float(score), lr):
                return
            row = self.history[:, epoch]
            if self.epochs_run % self.eval_every == 0 or (
                self.eval_last and self.epochs_run == hp.epochs
            ):
                self._record_val(row, *net.evaluate(self.Xv, self.Yv, self.labels_v))
                if hp.patience is not None:
                    self._early_stopping(row[1])
            row[5] = time.perf_counter() - self.t0
            self._report(row)
            self._maybe_send_parameters()
            if self.stopped_early:
                return

    def _run_full_batch(self) -> None:
        """Full-batch gradient descent, where per-step overhead is everything.

        Each epoch's ``Z[L]`` is stored in a ring, and on epochs that validate, a copy of the
        parameters; every 50 ms (or when the ring is full) the costs and metrics of all stored
        epochs are computed in a few vectorised calls, the validation ones through a single
        batched forward pass over the stored parameters. Per-epoch validation then costs
        one small copy a step instead of a forward pass.
        """
        net, hp, m = self.net, self.hp, self.m
        P = net.parameter_count
        widest = max(net.sizes[1:])
        budget = 16 * 2**20 // net.dtype.itemsize
        capacity = max(1, min(FLUSH_EPOCHS, hp.epochs,
                              budget // max(m * self.n_y, self.m_val * widest + P, 1)))
        ring = np.empty((capacity, m, self.n_y), dtype=net.dtype)
        penalties = np.zeros(capacity)
        thetas = np.empty((capacity, P), dtype=net.dtype)
        val_epochs = np.empty(capacity, dtype=np.intp)
        inv_m = 1.0 / m
        X, Y = self.X, self.Y
        theta = net.theta
        eval_every = self.eval_every
        every_epoch = eval_every == 1
        pending = n_val = first_pending = 0
        last_flush = time.perf_counter()
        for epoch in range(hp.epochs):
            if self._stop_requested():
                break
            lr = hp.learning_rate(epoch)
            Z = net.forward(X)
            ring[pending] = Z
            if net.l2:
                penalties[pending] = net.l2_penalty()
            net.output.gradient(Z, Y, inv_m)
            net.backward(X, Z)
            self.optimizer.step(net.theta, net.grad, lr)
            now = time.perf_counter()
            self.history[4, epoch] = lr
            self.history[5, epoch] = now - self.t0
            if every_epoch:
                # Snapshot i belongs to ring slot i: the epochs are implied.
                thetas[pending] = theta
                n_val += 1
            elif (epoch + 1) % eval_every == 0 or (self.eval_last and epoch + 1 == hp.epochs):
                thetas[n_val] = theta
                val_epochs[n_val] = epoch
                n_val += 1
            pending += 1
            if pending == capacity or now - last_flush >= FLUSH_SECONDS:
                if every_epoch:
                    val_epochs[:pending] = np.arange(first_pending, first_pending + pending)
                if not self._flush(ring[:pending], penalties[:pending], first_pending,
                                   thetas[:n_val], val_epochs[:n_val]):
                    return
                first_pending += pending
                pending = n_val = 0
                last_flush = time.perf_counter()
        if pending:
            if every_epoch:
                val_epochs[:pending] = np.arange(first_pending, first_pending + pending)
            self._flush(ring[:pending], penalties[:pending], first_pending,
                        thetas[:n_val], val_epochs[:n_val])

    def _flush(
        self,
        ring: np.ndarray,
        penalties: np.ndarray,
        first_epoch: int,
        thetas: np.ndarray,
        val_epochs: np.ndarray,
    ) -> bool:
        """Score stored full-batch epochs ``first_epoch ..``; False if the run diverged.

        ``ring`` holds each epoch's ``Z[L]`` ``(k, m, n[L])``; ``thetas`` the parameters
        ``(j, P)`` after the epochs listed in ``val_epochs`` ``(j,)``.
        """
        m, k = self.m, ring.shape[0]
        output = self.net.output
        loss, score = output.evaluate(ring, self.Y, self.labels)
        costs = loss / m + penalties
        if self.initial_cost is None:
            self.initial_cost = float(costs[0])
        bad = ~np.isfinite(costs) | (costs > EXPLODE_FACTOR * max(self.initial_cost, 1e-3))
        good = int(np.argmax(bad)) if bad.any() else k
        epochs = slice(first_epoch, first_epoch + good)
        self.history[0, epochs] = costs[:good]
        self.history[2, epochs] = _metric(self.task, score[:good], m, self.sst)
        keep = val_epochs < first_epoch + good
        if keep.any():
            Zv = self.net.forward_many(self.Xv, thetas[keep])
            val_loss, val_score = output.evaluate(Zv, self.Yv, self.labels_v)
            where = val_epochs[keep]
            self.history[1, where] = val_loss / self.m_val
            self.history[3, where] = _metric(self.task, val_score, self.m_val, self.sst_v)
        if self.on_epoch is not None:
            for epoch in range(first_epoch, first_epoch + good):
                self.epochs_run = epoch + 1
                self._report(self.history[:, epoch])
        self.epochs_run = first_epoch + good
        if good < k:
            self.status = TrainStatus.DIVERGED
            return False
        self._maybe_send_parameters()
        return True

    # -- bookkeeping ----------------------------------------------------------------------
    def _record_train(self, epoch: int, cost: float, score: float, lr: float) -> bool:
        """Store epoch ``epoch``'s training figures; False (and status diverged) when the cost
        is not finite or has exploded."""
        assert self.initial_cost is not None
        if not math.isfinite(cost) or cost > EXPLODE_FACTOR * max(self.initial_cost, 1e-3):
            self.status = TrainStatus.DIVERGED
            return False
        row = self.history[:, epoch]
        row[0] = cost
        row[2] = _metric(self.task, score, self.m, self.sst)
        row[4] = lr
        self.epochs_run = epoch + 1
        return True

    def _record_val(self, row: np.ndarray, cost: float, score: float) -> None:
        row[1] = cost
        row[3] = _metric(self.task, score, self.m_val, self.sst_v)

    def _maybe_send_parameters(self) -> None:
        if self.on_parameters is None:
            return
        now = time.perf_counter()
        if now - self._parameters_sent >= self.parameters_every:
            self._parameters_sent = now
            self.on_parameters(self.epochs_run, self.net.parameters())

    def _report(self, row: np.ndarray) -> None:
        if self.on_epoch is not None:
            self.on_epoch(EpochRecord(self.epochs_run, *(float(v) for v in row)))

    def _early_stopping(self, val_cost: float) -> None:
        assert self.hp.patience is not None
        if val_cost < self.best_val:
            self.best_val, self.best_epoch = val_cost, self.epochs_run
            if self.best_theta is None:
                self.best_theta = self.net.theta.copy()
            else:
                self.best_theta[...] = self.net.theta
        elif self.best_epoch is not None and self.epochs_run - self.best_epoch >= self.hp.patience:
            self.stopped_early = True

    def _result(self, train_time: float) -> TrainResult:
        hp, net = self.hp, self.net
        diverged_epoch = None
        if self.status is TrainStatus.DIVERGED:
            diverged_epoch = self.epochs_run + 1
            message = _divergence_message(hp, diverged_epoch)
        else:
            if self.best_theta is not None and self.best_epoch != self.epochs_run:
                net.theta[...] = self.best_theta
            if self.status is TrainStatus.CANCELLED:
                message = f"Cancelled after {self.epochs_run} of {hp.epochs} epochs."
            elif self.stopped_early:
                message = (
                    f"Stopped early at epoch {self.epochs_run}: the validation cost had not "
                    f"improved for {hp.patience} epochs; kept the parameters of epoch "
                    f"{self.best_epoch}."
                )
            else:
                message = f"Completed {self.epochs_run} epochs."

        final = (math.nan,) * 4
        finite = bool(np.all(np.isfinite(net.theta)))
        if self.status is not TrainStatus.DIVERGED and self.epochs_run > 0 and finite:
            cost_t, score_t = net.evaluate(self.X, self.Y, self.labels)
            cost_v, score_v = net.evaluate(self.Xv, self.Yv, self.labels_v)
            final = (
                cost_t + net.l2_penalty(),
                cost_v,
                _metric(self.task, score_t, self.m, self.sst),
                _metric(self.task, score_v, self.m_val, self.sst_v),
            )
        model = None
        if self.status is not TrainStatus.DIVERGED and finite:
            model = TrainedModel(hp, self.task, net.parameters())
        curves = self.history[:, : self.epochs_run].copy()
        return TrainResult(
            status=self.status,
            message=message,
            hyperparameters=hp,
            task=self.task,
            metric=metric_name(self.task),
            epochs_run=self.epochs_run,
            history=History(*curves),
            train_cost=final[0],
            val_cost=final[1],
            train_metric=final[2],
            val_metric=final[3],
            train_time_s=train_time,
            parameter_count=net.parameter_count,
            model=model,
            diverged_epoch=diverged_epoch,
            best_epoch=self.best_epoch,
            stopped_early=self.stopped_early,
        )


def _divergence_message(hp: Hyperparameters, epoch: int) -> str:
    suggestion = hp.alpha / 10
    return (
        f"Diverged at epoch {epoch}: the cost became non-finite or exploded. The learning rate "
        f"alpha = {hp.alpha:g} is likely too large; try alpha = {suggestion:g} (or a third of it)."
    )
