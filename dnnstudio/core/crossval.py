"""k-fold cross-validation over the training and validation rows, as a tuning objective.

Tuning on one validation split is the normal loop. But when very many configurations are
compared on the same split, the best validation score among them is optimistic: some of its
lead is luck of that split. On a small dataset the split is also small and the luck large.
Cross-validation pools the training and validation rows, cuts them into ``k`` folds, trains
``k`` times (each fold validates once, the others train) and reports the mean of the ``k``
validation figures, with their spread.

The test rows are never among the pooled rows: they stay in :class:`Splits` for the final
evaluation. Each fold standardises with the statistics of its own training rows, as
:func:`~dnnstudio.core.data.splits.split_dataset` does for the plain split, so no fold's
validation rows leak into its training.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import numpy as np

from .data.dataset import Splits, Standardizer, Task, TrainData
from .errors import DataError
from .hyperparams import Hyperparameters
from .training import (
    HISTORY_FIELDS,
    CrossValidation,
    EpochRecord,
    History,
    TrainResult,
    TrainStatus,
    train,
)

__all__ = ["FoldCallback", "FoldEpochCallback", "KFolds", "cross_validate"]

FoldEpochCallback = Callable[[int, EpochRecord], None]
"""``on_epoch(fold, record)``: an epoch of fold ``fold`` (0-based) ended."""
FoldCallback = Callable[[int, TrainResult], None]
"""``on_fold(fold, result)``: fold ``fold`` (0-based) ended with ``result``."""


class KFolds:
    """The training and validation rows of ``source`` cut into ``k`` folds.

    Parameters
    ----------
    source : Splits or TrainData
        With :class:`Splits`, the rows are the dataset rows of its training and validation
        sets (never its test set), standardised per fold when the split was standardised. With
        :class:`TrainData` (a user's own arrays, used as given), the rows are its training rows
        followed by its validation rows, and they are not standardised.
    k : int
        Number of folds, at least 2 and at most the number of rows.
    seed : int
        Seed of the assignment of rows to folds.
    stratify : bool
        For classification, spread every class over the folds as evenly as possible (within
        one example per fold). Ignored for regression.

    Attributes
    ----------
    rows : ndarray of shape (m,), int64
        For :class:`Splits`, indices into ``source.dataset``; for :class:`TrainData`,
        positions in the training rows followed by the validation rows.
    fold_of : ndarray of shape (m,), int64
        The fold (0-based) in which each of ``rows`` validates.
    """

    def __init__(
        self, source: Splits | TrainData, k: int, *, seed: int = 0, stratify: bool = True
    ) -> None:
        if isinstance(source, Splits):
            self.rows = np.concatenate([source.train_index, source.val_index]).astype(np.int64)
            X, y = source.dataset.X, source.dataset.y
            self.task = source.dataset.task
            self.class_names = source.dataset.class_names
            self.feature_names = source.dataset.feature_names
            self.standardize = source.x_scaler is not None
        else:
            self.rows = np.arange(source.X_train.shape[0] + source.X_val.shape[0],
                                  dtype=np.int64)
            X = np.concatenate([source.X_train, source.X_val])
            y = np.concatenate([source.y_train, source.y_val])
            self.task = source.task
            self.class_names = source.class_names
            self.feature_names = source.feature_names
            self.standardize = False
        self._X, self._y = X, y
        m = len(self.rows)
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 2:
            raise DataError(f"cross-validation needs a whole number of folds >= 2, not {k!r}.")
        if k > m:
            raise DataError(
                f"{k} folds need at least {k} training and validation examples; there are {m}."
            )
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise DataError(f"seed must be a whole number >= 0, not {seed!r}.")
        self.k = int(k)
        self.seed = int(seed)
        self.stratified = bool(stratify) and self.task.is_classification
        rng = np.random.default_rng(self.seed)
        labels = y[self.rows]
        if self.stratified:
            # Each class's rows, shuffled, one class after another, dealt round-robin: every
            # class is spread within one example per fold, and the fold sizes within one.
            order = np.concatenate(
                [rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)]
            )
        else:
            order = rng.permutation(m)
        self.fold_of = np.empty(m, dtype=np.int64)
        self.fold_of[order] = np.arange(m) % self.k

    def __len__(self) -> int:
        return self.k

    @property
    def sizes(self) -> tuple[int, ...]:
        """Validation rows per fold."""
        return tuple(int(n) for n in np.bincount(self.fold_of, minlength=self.k))

    def val_rows(self, fold: int) -> np.ndarray:
        """The rows (see :attr:`rows`) that validate in ``fold``, in their original order."""
        return self.rows[self.fold_of == fold]

    def train_rows(self, fold: int) -> np.ndarray:
        """The rows that train in ``fold``: all the others."""
        return self.rows[self.fold_of != fold]

    def data(self, fold: int) -> TrainData:
        """What the trainer sees in ``fold``, standardised with its training rows' statistics.

        Built on demand, so only one fold's copy of the data exists at a time.
        """
        if not 0 <= fold < self.k:
            raise IndexError(f"fold {fold} of {self.k}")
        train_rows, val_rows = self.train_rows(fold), self.val_rows(fold)
        X_train, X_val = self._X[train_rows], self._X[val_rows]
        y_train, y_val = self._y[train_rows], self._y[val_rows]
        if self.standardize:
            scaler = Standardizer.fit(X_train)
            X_train, X_val = scaler.transform(X_train), scaler.transform(X_val)
            if self.task is Task.REGRESSION:
                mean = float(y_train.mean())
                spread = float(y_train.std())
                scale = spread if spread > 0 else 1.0
                y_train, y_val = (y_train - mean) / scale, (y_val - mean) / scale
        return TrainData(
            X_train=X_train,
            y_train=y_train,
            X_val=X_val,
            y_val=y_val,
            task=self.task,
            class_names=self.class_names,
            feature_names=self.feature_names,
        )


def cross_validate(
    hp: Hyperparameters,
    source: Splits | TrainData | KFolds,
    k: int = 5,
    *,
    seed: int = 0,
    stratify: bool = True,
    on_epoch: FoldEpochCallback | None = None,
    on_fold: FoldCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    eval_every: int | None = 1,
) -> TrainResult:
    """Train ``hp`` on each of ``k`` folds and report the means over the folds.

    Parameters
    ----------
    hp : Hyperparameters
        The same for every fold, seed included: the folds differ only in their rows.
    source : Splits, TrainData or KFolds
        The rows to fold (see :class:`KFolds`); a :class:`KFolds` is used as it is, and ``k``,
        ``seed`` and ``stratify`` are then ignored.
    k : int
        Number of folds.
    seed : int
        Seed of the assignment of rows to folds. Keep it fixed while comparing
        configurations, so that they are all measured on the same folds.
    stratify : bool
        Spread every class evenly over the folds (classification only).
    on_epoch : callable(fold, EpochRecord), optional
        Called for every epoch of every fold, in order; ``fold`` is 0-based.
    on_fold : callable(fold, TrainResult), optional
        Called when a fold ends, with that fold's own result.
    should_stop : callable() -> bool, optional
        Checked as :func:`~dnnstudio.core.training.train` checks it; returning True ends the
        fold as ``cancelled`` and the cross-validation with it.
    eval_every : int or None
        As for :func:`~dnnstudio.core.training.train`.

    Returns
    -------
    TrainResult
        With ``cross_validation`` set. ``status`` is ``completed`` when every fold completed,
        else that of the fold that ended it: the first fold to diverge (the folds after it are
        not trained) or the one cancelled. The final costs and metrics are means over the
        completed folds (NaN after a divergence; after a cancellation with no fold completed,
        the cancelled fold's own). The history is the per-epoch mean over the folds that ran,
        as long as the shortest of them (early stopping or an interruption can end folds at
        different epochs). ``train_time_s`` is the total over the folds, and ``model`` is None.
    """
    folds = source if isinstance(source, KFolds) else KFolds(source, k, seed=seed,
                                                            stratify=stratify)
    results: list[TrainResult] = []
    for fold in range(folds.k):
        result = train(
            hp,
            folds.data(fold),
            on_epoch=None if on_epoch is None else partial(on_epoch, fold),
            should_stop=should_stop,
            eval_every=eval_every,
        )
        results.append(result)
        if on_fold is not None:
            on_fold(fold, result)
        if result.status is not TrainStatus.COMPLETED:
            break
    return _combined(hp, folds, results)


def _std(values: list[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) >= 2 else math.nan


def _combined(hp: Hyperparameters, folds: KFolds, results: list[TrainResult]) -> TrainResult:
    """One result from the folds' results (the last of which may have ended the run)."""
    last = results[-1]
    done = [r for r in results if r.status is TrainStatus.COMPLETED]
    k = folds.k
    n = min(r.epochs_run for r in results)
    curves = np.array([[getattr(r.history, name)[:n] for name in HISTORY_FIELDS]
                       for r in results]).reshape(len(results), len(HISTORY_FIELDS), n)
    history = History(*curves.mean(axis=0))
    figures = ("train_cost", "val_cost", "train_metric", "val_metric")
    per_fold = {name: [float(getattr(r, name)) for r in done] for name in figures}
    if last.status is TrainStatus.DIVERGED:
        final = {name: math.nan for name in figures}
    elif done:
        final = {name: float(np.mean(values)) for name, values in per_fold.items()}
    else:
        final = {name: float(getattr(last, name)) for name in figures}
    stopped_in = None if last.status is TrainStatus.COMPLETED else len(results)
    cv = CrossValidation(
        folds=k,
        seed=folds.seed,
        stratified=folds.stratified,
        fold_sizes=folds.sizes,
        train_costs=tuple(per_fold["train_cost"]),
        val_costs=tuple(per_fold["val_cost"]),
        train_metrics=tuple(per_fold["train_metric"]),
        val_metrics=tuple(per_fold["val_metric"]),
        val_cost_std=_std(per_fold["val_cost"]),
        val_metric_std=_std(per_fold["val_metric"]),
        stopped_in_fold=stopped_in,
    )
    return TrainResult(
        status=last.status,
        message=_message(hp, cv, last, final),
        hyperparameters=hp,
        task=last.task,
        metric=last.metric,
        epochs_run=n,
        history=history,
        train_cost=final["train_cost"],
        val_cost=final["val_cost"],
        train_metric=final["train_metric"],
        val_metric=final["val_metric"],
        train_time_s=float(sum(r.train_time_s for r in results)),
        parameter_count=last.parameter_count,
        model=None,
        diverged_epoch=last.diverged_epoch,
        stopped_early=any(r.stopped_early for r in results),
        cross_validation=cv,
    )


def _message(
    hp: Hyperparameters, cv: CrossValidation, last: TrainResult, final: dict[str, float]
) -> str:
    what = f"{cv.folds}-fold cross-validation"
    if last.status is TrainStatus.DIVERGED:
        return f"{what} stopped in fold {cv.stopped_in_fold} of {cv.folds}. {last.message}"
    if last.status is TrainStatus.CANCELLED:
        return (f"{what} cancelled in fold {cv.stopped_in_fold} of {cv.folds}, after "
                f"{last.epochs_run} of {hp.epochs} epochs.")
    name = "accuracy" if last.metric == "accuracy" else "R²"
    return (f"{what}: validation {name} {final['val_metric']:.3f} ± {cv.val_metric_std:.3f}, "
            f"cost {final['val_cost']:.3g} ± {cv.val_cost_std:.2g}.")
