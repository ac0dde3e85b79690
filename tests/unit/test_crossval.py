"""k-fold cross-validation: folds, per-fold standardisation, the averaged result."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from dnnstudio.core import crossval
from dnnstudio.core.crossval import KFolds, cross_validate
from dnnstudio.core.data.dataset import Dataset, Splits, Task, TrainData
from dnnstudio.core.data.splits import split_dataset
from dnnstudio.core.errors import DataError
from dnnstudio.core.hyperparams import Hyperparameters
from dnnstudio.core.training import (
    HISTORY_FIELDS,
    EpochRecord,
    History,
    TrainResult,
    TrainStatus,
    train,
)


def _classes(counts: tuple[int, ...] = (50, 20, 7), seed: int = 0) -> Dataset:
    """Unbalanced classes around distinct centres, features on very different scales."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(counts)), counts)
    rng.shuffle(y)
    centres = np.array([[0.0, 0.0], [3.0, 1.0], [-2.0, 3.0]])[: len(counts)]
    X = (centres[y] + rng.standard_normal((len(y), 2))) * [1.0, 100.0] + [5.0, -300.0]
    names = tuple(f"c{i}" for i in range(len(counts)))
    task = Task.BINARY if len(counts) == 2 else Task.MULTICLASS
    return Dataset("blobs", X, y.astype(np.int64), task, ("x1", "x2"), class_names=names)


def _values(m: int = 60, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, 3)) * [1.0, 5.0, 0.1]
    y = 10.0 + 4.0 * (X @ [1.0, 0.2, -3.0]) + rng.standard_normal(m)
    return Dataset("line", X, y, Task.REGRESSION, ("a", "b", "c"))


def _splits(dataset: Dataset, seed: int = 1) -> Splits:
    return split_dataset(dataset, (0.6, 0.2, 0.2), seed=seed)


# -- the folds --------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [2, 5, 7])
def test_folds_partition_the_training_and_validation_rows_and_never_the_test_rows(
    k: int,
) -> None:
    splits = _splits(_classes())
    folds = KFolds(splits, k, seed=3)
    pooled = np.concatenate([splits.train_index, splits.val_index])
    assert sorted(folds.rows.tolist()) == sorted(pooled.tolist())
    seen = np.concatenate([folds.val_rows(f) for f in range(k)])
    assert sorted(seen.tolist()) == sorted(pooled.tolist())  # each row validates exactly once
    assert not set(seen.tolist()) & set(splits.test_index.tolist())
    for f in range(k):
        train_rows, val_rows = folds.train_rows(f), folds.val_rows(f)
        assert not set(train_rows.tolist()) & set(val_rows.tolist())
        assert sorted(np.concatenate([train_rows, val_rows]).tolist()) == sorted(pooled.tolist())
        data = folds.data(f)
        assert data.X_val.shape == (len(val_rows), 2)
        assert data.X_train.shape == (len(train_rows), 2)
        np.testing.assert_array_equal(data.y_val, splits.dataset.y[val_rows])
    assert sum(folds.sizes) == len(pooled)
    assert max(folds.sizes) - min(folds.sizes) <= 1
    assert folds.sizes == tuple(len(folds.val_rows(f)) for f in range(k))


def test_folds_are_stratified_within_one_example_per_class() -> None:
    splits = _splits(_classes((50, 20, 7)))
    pooled_y = splits.dataset.y[np.concatenate([splits.train_index, splits.val_index])]
    k = 4
    folds = KFolds(splits, k, seed=0)
    assert folds.stratified
    for c in range(3):
        per_fold = [int(np.sum(splits.dataset.y[folds.val_rows(f)] == c)) for f in range(k)]
        n_c = int(np.sum(pooled_y == c))
        assert sum(per_fold) == n_c
        assert max(per_fold) - min(per_fold) <= 1, (c, per_fold)
    # Without stratification the rare class is not spread evenly for every seed.
    spreads = []
    for seed in range(20):
        plain = KFolds(splits, k, seed=seed, stratify=False)
        assert not plain.stratified
        rare = [int(np.sum(splits.dataset.y[plain.val_rows(f)] == 2)) for f in range(k)]
        spreads.append(max(rare) - min(rare))
    assert max(spreads) > 1
    assert not KFolds(_splits(_values()), 3).stratified  # regression: plain folds


def test_each_fold_standardises_with_its_own_training_rows() -> None:
    splits = _splits(_classes())
    X = splits.dataset.X
    folds = KFolds(splits, 3, seed=2)
    means = []
    for f in range(3):
        data = folds.data(f)
        raw_train, raw_val = X[folds.train_rows(f)], X[folds.val_rows(f)]
        mean, std = raw_train.mean(axis=0), raw_train.std(axis=0)
        means.append(mean)
        np.testing.assert_allclose(data.X_train, (raw_train - mean) / std, rtol=1e-12)
        np.testing.assert_allclose(data.X_val, (raw_val - mean) / std, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(data.X_train.mean(axis=0), 0.0, atol=1e-12)
        np.testing.assert_allclose(data.X_train.std(axis=0), 1.0, rtol=1e-12)
    # Not the split's statistics, and not the same statistics in every fold.
    assert splits.x_scaler is not None
    assert not np.allclose(means[0], splits.x_scaler.mean)
    assert not np.allclose(means[0], means[1])


def test_regression_folds_standardise_the_target_with_their_training_rows() -> None:
    splits = _splits(_values())
    folds = KFolds(splits, 4, seed=0)
    y = splits.dataset.y
    for f in range(4):
        data = folds.data(f)
        y_train = y[folds.train_rows(f)]
        mean, scale = y_train.mean(), y_train.std()
        np.testing.assert_allclose(data.y_train, (y_train - mean) / scale, rtol=1e-12)
        np.testing.assert_allclose(data.y_val, (y[folds.val_rows(f)] - mean) / scale,
                                   rtol=1e-12)


def test_an_unstandardised_split_and_own_arrays_are_folded_as_given() -> None:
    dataset = _classes()
    raw = split_dataset(dataset, (0.6, 0.2, 0.2), seed=1, standardize=False)
    data = KFolds(raw, 3, seed=0).data(1)
    assert set(map(tuple, data.X_train.tolist())) <= set(map(tuple, dataset.X.tolist()))
    own = raw.training_data()
    folds = KFolds(own, 3, seed=0)
    X_all = np.concatenate([own.X_train, own.X_val])
    y_all = np.concatenate([own.y_train, own.y_val])
    np.testing.assert_array_equal(folds.rows, np.arange(len(X_all)))
    fold = folds.data(2)
    np.testing.assert_array_equal(fold.X_val, X_all[folds.val_rows(2)])
    np.testing.assert_array_equal(fold.y_train, y_all[folds.train_rows(2)])
    assert fold.class_names == own.class_names


def test_the_fold_seed_decides_the_folds() -> None:
    splits = _splits(_classes())
    a, b = KFolds(splits, 5, seed=7), KFolds(splits, 5, seed=7)
    np.testing.assert_array_equal(a.fold_of, b.fold_of)
    assert not np.array_equal(a.fold_of, KFolds(splits, 5, seed=8).fold_of)


@pytest.mark.parametrize("k", [1, 0, -2, 2.5, True])
def test_too_few_folds_are_refused(k: Any) -> None:
    with pytest.raises(DataError, match="folds >= 2"):
        KFolds(_splits(_classes()), k)


def test_more_folds_than_rows_are_refused() -> None:
    splits = _splits(_classes((6, 4)))
    with pytest.raises(DataError, match="12 folds need at least 12"):
        KFolds(splits, 12)


# -- the averaged result, on made-up fold results ---------------------------------------------
def _fold_result(hp: Hyperparameters, data: TrainData, status: TrainStatus, epochs: int,
                 figures: tuple[float, float, float, float], base: float) -> TrainResult:
    curves = base + np.arange(epochs, dtype=np.float64)
    history = History(*(curves + i for i in range(len(HISTORY_FIELDS))))
    return TrainResult(
        status=status, message="Diverged at epoch 4: try alpha = 0.1.", hyperparameters=hp,
        task=data.task, metric="accuracy", epochs_run=epochs, history=history,
        train_cost=figures[0], val_cost=figures[1], train_metric=figures[2],
        val_metric=figures[3], train_time_s=1.5, parameter_count=17, model=None,
        diverged_epoch=epochs + 1 if status is TrainStatus.DIVERGED else None,
    )


def test_means_spread_and_shortest_history_over_the_folds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three folds with known figures: the means, sample standard deviations and the
    per-epoch mean over the first three epochs (the shortest fold) are worked by hand."""
    plan = [  # epochs, (train_cost, val_cost, train_metric, val_metric), history base
        (4, (0.2, 0.30, 0.90, 0.50), 0.0),
        (3, (0.4, 0.60, 0.80, 0.75), 3.0),
        (5, (0.3, 0.90, 1.00, 1.00), 6.0),
    ]
    trained: list[TrainData] = []

    def fake_train(hp: Hyperparameters, data: TrainData, **_: Any) -> TrainResult:
        epochs, figures, base = plan[len(trained)]
        trained.append(data)
        return _fold_result(hp, data, TrainStatus.COMPLETED, epochs, figures, base)

    monkeypatch.setattr(crossval, "train", fake_train)
    hp = Hyperparameters(epochs=5)
    ended: list[tuple[int, TrainResult]] = []
    result = cross_validate(hp, _splits(_classes()), 3, seed=0,
                            on_fold=lambda f, r: ended.append((f, r)))
    assert len(trained) == 3
    assert [f for f, _ in ended] == [0, 1, 2]
    assert result.status is TrainStatus.COMPLETED
    assert result.val_metric == pytest.approx(0.75)
    assert result.val_cost == pytest.approx(0.6)
    assert result.train_cost == pytest.approx(0.3)
    assert result.train_metric == pytest.approx(0.9)
    cv = result.cross_validation
    assert cv is not None
    assert cv.val_metric_std == pytest.approx(0.25)  # deviations -0.25, 0, 0.25; ddof = 1
    assert cv.val_cost_std == pytest.approx(0.3)
    assert cv.val_metrics == (0.5, 0.75, 1.0)
    assert cv.folds == 3
    assert cv.stopped_in_fold is None
    assert result.epochs_run == 3
    np.testing.assert_allclose(result.history.train_cost, [3.0, 4.0, 5.0])  # (0+3+6)/3, ...
    np.testing.assert_allclose(result.history.elapsed_s, [8.0, 9.0, 10.0])
    assert result.train_time_s == pytest.approx(4.5)
    assert result.model is None
    assert result.message == "3-fold cross-validation: validation accuracy 0.750 ± 0.250, " \
                             "cost 0.6 ± 0.3."
    summary = result.summary()
    assert summary["cross_validation"]["val_metrics"] == [0.5, 0.75, 1.0]


def test_a_diverging_fold_ends_the_cross_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def fake_train(hp: Hyperparameters, data: TrainData, **_: Any) -> TrainResult:
        calls.append(1)
        status = TrainStatus.DIVERGED if len(calls) == 2 else TrainStatus.COMPLETED
        return _fold_result(hp, data, status, 3, (0.1, 0.2, 0.9, 0.8), 0.0)

    monkeypatch.setattr(crossval, "train", fake_train)
    result = cross_validate(Hyperparameters(epochs=5), _splits(_classes()), 4)
    assert len(calls) == 2  # folds 3 and 4 are not trained
    assert result.status is TrainStatus.DIVERGED
    assert result.diverged_epoch == 4
    assert math.isnan(result.val_metric)
    assert result.cross_validation is not None
    assert result.cross_validation.stopped_in_fold == 2
    assert result.message.startswith("4-fold cross-validation stopped in fold 2 of 4. Diverged")


# -- real training ----------------------------------------------------------------------------
def test_cross_validation_is_the_mean_of_training_each_fold() -> None:
    splits = _splits(_classes())
    hp = Hyperparameters(alpha=0.3, epochs=40, hidden=(5,), seed=2)
    epochs: list[tuple[int, EpochRecord]] = []
    result = cross_validate(hp, splits, 3, seed=4, on_epoch=lambda f, r: epochs.append((f, r)))
    folds = KFolds(splits, 3, seed=4)
    each = [train(hp, folds.data(f)) for f in range(3)]
    assert result.status is TrainStatus.COMPLETED
    assert result.val_metric == pytest.approx(np.mean([r.val_metric for r in each]), rel=1e-12)
    assert result.val_cost == pytest.approx(np.mean([r.val_cost for r in each]), rel=1e-12)
    assert result.cross_validation is not None
    assert result.cross_validation.val_metric_std == pytest.approx(
        np.std([r.val_metric for r in each], ddof=1), rel=1e-12)
    np.testing.assert_allclose(result.history.val_cost,
                               np.mean([r.history.val_cost for r in each], axis=0), rtol=1e-12)
    assert [(f, r.epoch) for f, r in epochs] == [(f, e) for f in range(3) for e in range(1, 41)]
    cv = result.cross_validation
    assert result.message == (f"3-fold cross-validation: validation accuracy "
                              f"{result.val_metric:.3f} ± {cv.val_metric_std:.3f}, cost "
                              f"{result.val_cost:.3g} ± {cv.val_cost_std:.2g}.")


def test_the_same_seeds_give_the_same_result_bit_for_bit() -> None:
    splits = _splits(_values())
    hp = Hyperparameters(alpha=0.05, epochs=30, hidden=(4,), batch_size=8, dtype="float64")
    a, b = cross_validate(hp, splits, 3, seed=1), cross_validate(hp, splits, 3, seed=1)
    assert a.metric == "r2"
    assert "validation R²" in a.message
    for name in ("train_cost", "val_cost", "train_metric", "val_metric"):
        np.testing.assert_array_equal(getattr(a.history, name), getattr(b.history, name))
        assert getattr(a, name) == getattr(b, name)
    c = cross_validate(hp, splits, 3, seed=2)
    assert c.val_cost != a.val_cost


def test_cancelling_ends_the_cross_validation_in_its_fold() -> None:
    calls = 0

    def stop_in_second_fold() -> bool:
        nonlocal calls
        calls += 1
        return calls > 25

    hp = Hyperparameters(alpha=0.3, epochs=20, hidden=(3,))
    result = cross_validate(hp, _splits(_classes()), 3, should_stop=stop_in_second_fold)
    assert result.status is TrainStatus.CANCELLED
    assert result.cross_validation is not None
    assert result.cross_validation.stopped_in_fold == 2
    assert result.cross_validation.completed_folds == 1
    assert result.epochs_run == 5  # the shortest: the cancelled fold's five epochs
    assert result.message == "3-fold cross-validation cancelled in fold 2 of 3, after 5 of 20 " \
                             "epochs."
    assert result.val_metric == result.cross_validation.val_metrics[0]
