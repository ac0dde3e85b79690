"""The trainer: outcomes, callbacks, cancellation, determinism and what it learns."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dnnstudio.core.data.dataset import Task, TrainData
from dnnstudio.core.errors import DataError, HyperparameterError
from dnnstudio.core.hyperparams import Hyperparameters
from dnnstudio.core.training import EpochRecord, TrainStatus, memory_estimate_bytes, train


def _blobs(seed: int = 0, m: int = 120, k: int = 3) -> TrainData:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])[:k]

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.arange(n) % k
        return centres[y] + rng.standard_normal((n, 2)), y

    X, y = draw(m)
    Xv, yv = draw(m // 2)
    task = Task.BINARY if k == 2 else Task.MULTICLASS
    return TrainData(X, y, Xv, yv, task, tuple(str(i) for i in range(k)))


def _line(seed: int = 0, m: int = 100) -> TrainData:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, 3))
    Xv = rng.standard_normal((m // 2, 3))
    w = np.array([1.5, -2.0, 0.5])
    return TrainData(X, X @ w + 0.05 * rng.standard_normal(m), Xv,
                     Xv @ w + 0.05 * rng.standard_normal(m // 2), Task.REGRESSION)


def test_learns_separable_classes() -> None:
    result = train(Hyperparameters(alpha=0.1, epochs=200, hidden=(8,)), _blobs())
    assert result.status is TrainStatus.COMPLETED
    assert result.epochs_run == 200
    assert result.val_metric > 0.9
    assert result.history.train_cost[-1] < result.history.train_cost[0] / 3
    assert result.metric == "accuracy"
    assert result.message == "Completed 200 epochs."


def test_regression_reports_r2() -> None:
    hp = Hyperparameters(alpha=0.05, epochs=300, hidden=(), optimizer="momentum", dtype="float64")
    result = train(hp, _line())
    assert result.metric == "r2"
    assert result.val_metric > 0.99
    assert result.summary()["val_accuracy"] is None
    assert result.summary()["val_r2"] == pytest.approx(result.val_metric)


@pytest.mark.parametrize("batch_size", [None, 16])
def test_same_seed_same_result_bit_for_bit(batch_size: int | None) -> None:
    hp = Hyperparameters(alpha=0.05, epochs=30, hidden=(6, 5), optimizer="adam",
                         batch_size=batch_size, keep_prob=0.8, seed=7)
    a, b = train(hp, _blobs()), train(hp, _blobs())
    for name in ("train_cost", "val_cost", "train_metric", "val_metric"):
        np.testing.assert_array_equal(getattr(a.history, name), getattr(b.history, name))
    assert a.model is not None
    assert b.model is not None
    for (Wa, ba), (Wb, bb) in zip(a.model.params, b.model.params, strict=True):
        np.testing.assert_array_equal(Wa, Wb)
        np.testing.assert_array_equal(ba, bb)
    c = train(hp.replace(seed=8), _blobs())
    assert not np.array_equal(a.history.train_cost, c.history.train_cost)


def test_on_epoch_reports_every_epoch_in_order() -> None:
    records: list[EpochRecord] = []
    result = train(Hyperparameters(alpha=0.1, epochs=25, hidden=(4,)), _blobs(),
                   on_epoch=records.append)
    assert [r.epoch for r in records] == list(range(1, 26))
    assert all(b.elapsed_s >= a.elapsed_s for a, b in zip(records, records[1:], strict=False))
    assert records[-1].train_cost == result.history.train_cost[-1]
    assert all(math.isfinite(r.val_cost) and 0 <= r.val_metric <= 1 for r in records)
    assert all(r.learning_rate == 0.1 for r in records)


def test_eval_every_skips_validation_between() -> None:
    for batch_size in (None, 30):
        hp = Hyperparameters(alpha=0.1, epochs=10, hidden=(4,), batch_size=batch_size)
        history = train(hp, _blobs(), eval_every=4).history
        measured = np.isfinite(history.val_cost)
        assert measured.tolist() == [False, False, False, True, False, False, False, True,
                                     False, True]


def test_full_batch_and_general_paths_agree() -> None:
    """Full-batch runs score epochs in bulk; the general loop scores them one by one.
    Early stopping that never triggers sends a full-batch run down the general loop."""
    hp = Hyperparameters(alpha=0.3, epochs=40, hidden=(5,), activation="tanh", dtype="float64")
    fast = train(hp, _blobs()).history
    general = train(hp.replace(patience=1000), _blobs()).history
    np.testing.assert_allclose(fast.train_cost, general.train_cost, rtol=1e-12)
    np.testing.assert_allclose(fast.val_cost, general.val_cost, rtol=1e-10)
    np.testing.assert_array_equal(fast.val_metric, general.val_metric)


def test_divergence_is_an_outcome_with_epoch_and_advice() -> None:
    # Squared error with a huge step: the cost explodes within a few epochs.
    hp = Hyperparameters(alpha=50.0, epochs=500, hidden=(8,), dtype="float64")
    for batch_size in (None, 25):
        result = train(hp.replace(batch_size=batch_size), _line())
        assert result.status is TrainStatus.DIVERGED
        assert result.diverged_epoch is not None
        assert result.diverged_epoch < 50
        assert result.epochs_run == result.diverged_epoch - 1
        assert len(result.history) == result.epochs_run
        assert "learning rate" in result.message
        assert "alpha = 50" in result.message
        assert f"epoch {result.diverged_epoch}" in result.message
        assert result.model is None
        assert math.isnan(result.val_cost)
        assert np.all(np.isfinite(result.history.train_cost))


def test_cancellation_is_checked_before_every_mini_batch() -> None:
    calls = 0

    def stop_after_ten() -> bool:
        nonlocal calls
        calls += 1
        return calls > 10

    data = _blobs(m=120)
    hp = Hyperparameters(alpha=0.1, epochs=100, hidden=(4,), batch_size=30)  # 4 steps an epoch
    result = train(hp, data, should_stop=stop_after_ten)
    assert result.status is TrainStatus.CANCELLED
    assert calls == 11
    assert result.epochs_run == 2  # 10 steps: two whole epochs and half of the third
    assert result.message == "Cancelled after 2 of 100 epochs."
    assert result.model is not None

    calls = 0
    full = train(hp.replace(batch_size=None), data, should_stop=stop_after_ten)
    assert full.status is TrainStatus.CANCELLED
    assert full.epochs_run == 10


def test_early_stopping_keeps_the_best_parameters() -> None:
    rng = np.random.default_rng(1)
    # Few noisy examples and a wide net: validation cost turns up while training goes on.
    X, Xv = rng.standard_normal((30, 5)), rng.standard_normal((200, 5))
    y, yv = rng.integers(0, 2, 30), rng.integers(0, 2, 200)
    data = TrainData(X, y, Xv, yv, Task.BINARY, ("0", "1"))
    hp = Hyperparameters(alpha=0.01, epochs=2000, hidden=(64,), optimizer="adam", patience=20,
                         dtype="float64")
    result = train(hp, data)
    assert result.stopped_early
    assert result.best_epoch is not None
    assert result.epochs_run == result.best_epoch + 20
    best = int(np.argmin(result.history.val_cost)) + 1
    assert result.best_epoch == best
    assert result.val_cost == pytest.approx(result.history.val_cost[best - 1], rel=1e-12)
    assert "kept the parameters of epoch" in result.message


def test_learning_rate_decay_is_recorded() -> None:
    hp = Hyperparameters(alpha=0.2, epochs=6, hidden=(3,), decay="step", decay_rate=0.5,
                         decay_step=2)
    lrs = train(hp, _blobs()).history.learning_rate
    np.testing.assert_allclose(lrs, [0.2, 0.2, 0.1, 0.1, 0.05, 0.05])


def test_l2_shrinks_the_weights() -> None:
    hp = Hyperparameters(alpha=0.1, epochs=200, hidden=(16,), seed=3)
    plain = train(hp, _blobs())
    shrunk = train(hp.replace(l2=5.0), _blobs())
    assert plain.model is not None
    assert shrunk.model is not None

    def norm(params: list[tuple[np.ndarray, np.ndarray]]) -> float:
        return sum(float(np.sum(W**2)) for W, _ in params)

    assert norm(shrunk.model.params) < 0.5 * norm(plain.model.params)


def test_small_initialisation_stalls_a_deep_net() -> None:
    """The course's x0.01 initialisation leaves a deep tanh net stuck near its start."""
    hp = Hyperparameters(alpha=0.1, epochs=100, hidden=(10,) * 6, activation="tanh",
                         dtype="float64")
    stalled = train(hp.replace(init="small"), _blobs(k=2))
    learned = train(hp.replace(init="xavier"), _blobs(k=2))
    drop = stalled.history.train_cost[0] - stalled.history.train_cost[-1]
    assert drop < 0.01
    assert learned.history.train_cost[-1] < stalled.history.train_cost[-1] - 0.2


def test_model_predicts_and_evaluates_like_the_result() -> None:
    data = _blobs()
    result = train(Hyperparameters(alpha=0.1, epochs=50, hidden=(6,)), data)
    assert result.model is not None
    cost, accuracy = result.model.evaluate(data.X_val, data.y_val)
    assert cost == pytest.approx(result.val_cost, rel=1e-6)
    assert accuracy == pytest.approx(result.val_metric)
    predictions = result.model.predict(data.X_val)
    assert np.mean(predictions == data.y_val) == pytest.approx(result.val_metric)
    proba = result.model.predict_proba(data.X_val)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_bad_data_is_refused_clearly() -> None:
    data = _blobs()
    bad = TrainData(data.X_train, data.y_train, data.X_val[:, :1], data.y_val, data.task,
                    data.class_names)
    with pytest.raises(DataError, match="2 features but validation rows have 1"):
        train(Hyperparameters(epochs=1), bad)
    X = data.X_train.copy()
    X[3, 1] = np.nan
    with pytest.raises(DataError, match="NaN"):
        train(Hyperparameters(epochs=1),
              TrainData(X, data.y_train, data.X_val, data.y_val, data.task, data.class_names))
    empty = TrainData(data.X_train, data.y_train, data.X_val[:0], data.y_val[:0], data.task,
                      data.class_names)
    with pytest.raises(DataError, match="validation set is empty"):
        train(Hyperparameters(epochs=1), empty)


def test_a_network_too_big_for_memory_is_refused_with_its_size() -> None:
    hp = Hyperparameters(hidden=(100_000, 100_000, 100_000), epochs=1)
    assert memory_estimate_bytes(hp, 2, 3, 120, 60) > 2**36
    with pytest.raises(HyperparameterError, match=r"would need about \d+\.\d GiB"):
        train(hp, _blobs())


def test_eval_every_none_validates_only_after_training() -> None:
    for batch_size in (None, 30):
        hp = Hyperparameters(alpha=0.1, epochs=5, hidden=(4,), batch_size=batch_size)
        result = train(hp, _blobs(), eval_every=None)
        assert np.all(np.isnan(result.history.val_cost))
        assert math.isfinite(result.val_cost)
        assert 0 <= result.val_metric <= 1


@pytest.mark.parametrize("batch_size", [None, 30])
def test_parameters_are_sent_while_training_throttled(batch_size: int | None) -> None:
    sent: list[tuple[int, list[tuple[np.ndarray, np.ndarray]]]] = []
    hp = Hyperparameters(alpha=0.1, epochs=300, hidden=(4,), batch_size=batch_size)
    result = train(hp, _blobs(), on_parameters=lambda e, p: sent.append((e, p)),
                   parameters_every=0.0)
    assert len(sent) >= 2
    epochs = [e for e, _ in sent]
    assert epochs == sorted(epochs)
    assert epochs[-1] <= 300
    assert [W.shape for W, _ in sent[0][1]] == [(4, 2), (3, 4)]
    assert result.model is not None
    throttled: list[int] = []
    train(hp, _blobs(), on_parameters=lambda e, p: throttled.append(e), parameters_every=60)
    assert len(throttled) == 1  # only the first, within a minute
