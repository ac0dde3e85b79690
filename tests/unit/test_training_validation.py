"""Full-batch validation measured in bulk gives the figures of a one-by-one evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from dnnstudio.core.data.dataset import Task, TrainData
from dnnstudio.core.hyperparams import Hyperparameters
from dnnstudio.core.nn import Network
from dnnstudio.core.training import train


def _data(task: Task, seed: int = 0, m: int = 90) -> TrainData:
    rng = np.random.default_rng(seed)
    X, Xv = rng.standard_normal((m, 3)), rng.standard_normal((m // 2 + 7, 3))
    w = np.array([1.5, -2.0, 0.5])
    if task is Task.REGRESSION:
        return TrainData(X, X @ w + 0.3 * rng.standard_normal(m), Xv,
                         Xv @ w + 0.3 * rng.standard_normal(len(Xv)), task)
    k = 2 if task is Task.BINARY else 3
    # Noisy labels, so that accuracy keeps moving and some outputs sit near the boundary.
    y = (np.digitize(X @ w + rng.standard_normal(m), [-1.0, 1.0]) % k).astype(np.int64)
    yv = (np.digitize(Xv @ w + rng.standard_normal(len(Xv)), [-1.0, 1.0]) % k).astype(np.int64)
    return TrainData(X, y, Xv, yv, task, tuple(str(i) for i in range(k)))


def test_binary_cost_and_hits_match_the_textbook() -> None:
    rng = np.random.default_rng(0)
    z = np.concatenate([rng.standard_normal(40) * 4, [0.0, 0.0, 30.0, -30.0, 800.0, -800.0]])
    y = np.concatenate([rng.integers(0, 2, 40), [0, 1, 0, 1, 1, 0]])
    net = Network((1, 1), (), Task.BINARY, np.dtype("float64"))
    Y = net.output.targets(y, 1, net.dtype)
    loss, hits = net.output.evaluate(z.reshape(-1, 1), Y, y)
    # -[y log s(z) + (1 - y) log(1 - s(z))], written plainly (log s(z) = -log(1 + e^-z)).
    expected = np.sum(y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z))
    assert float(loss) == pytest.approx(expected, rel=1e-13)
    assert float(hits) == np.sum((z > 0) == y)  # z = 0 predicts class 0
    # The same outputs as snapshots of a batch, one of them shifted.
    Zs = np.stack([z, z + 1.0, -z]).reshape(3, -1, 1)
    losses, many_hits = net.output.evaluate(Zs, Y, y)
    for j in range(3):
        one_loss, one_hits = net.output.evaluate(Zs[j], Y, y)
        assert losses[j] == pytest.approx(float(one_loss), rel=1e-13)
        assert many_hits[j] == float(one_hits)


@pytest.mark.parametrize("task", list(Task))
@pytest.mark.parametrize("hidden", [(), (5,), (6, 3)])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_full_batch_validation_equals_one_by_one_evaluation(
    task: Task, hidden: tuple[int, ...], dtype: str
) -> None:
    """The full-batch loop validates stored snapshots in bulk; the general loop (taken when
    early stopping is on, here with a patience it never reaches) calls ``Network.evaluate``
    after every epoch. Both train the same parameters, so their validation must agree."""
    data = _data(task)
    hp = Hyperparameters(alpha=0.2, epochs=60, hidden=hidden, activation="tanh", dtype=dtype,
                         seed=4)
    bulk = train(hp, data).history
    single = train(hp.replace(patience=10_000), data).history
    rtol = 1e-12 if dtype == "float64" else 2e-6
    # The same parameters after every epoch: only the rounding of the mean cost differs.
    np.testing.assert_allclose(bulk.train_cost, single.train_cost, rtol=rtol)
    np.testing.assert_allclose(bulk.val_cost, single.val_cost, rtol=rtol)
    if dtype == "float64" or task is Task.REGRESSION:
        np.testing.assert_allclose(bulk.val_metric, single.val_metric, rtol=rtol, atol=1e-12)
    else:
        # In float32 an output within rounding of the boundary may fall either side.
        assert np.max(np.abs(bulk.val_metric - single.val_metric)) <= 1 / len(data.y_val)
    every_third = train(hp, data, eval_every=3).history
    measured = np.isfinite(every_third.val_cost)
    assert measured.sum() == 20
    np.testing.assert_array_equal(every_third.val_cost[measured], bulk.val_cost[measured])


def test_full_batch_validation_is_repeatable_bit_for_bit() -> None:
    data = _data(Task.BINARY)
    hp = Hyperparameters(alpha=0.5, epochs=300, hidden=(4,), activation="tanh",
                         dtype="float32", seed=9)
    a, b = train(hp, data), train(hp, data)
    for name in ("train_cost", "val_cost", "train_metric", "val_metric"):
        np.testing.assert_array_equal(getattr(a.history, name), getattr(b.history, name))
    assert np.all(np.isfinite(a.history.val_cost))
    c = train(hp.replace(seed=10), data)
    assert not np.array_equal(a.history.val_cost, c.history.val_cost)
