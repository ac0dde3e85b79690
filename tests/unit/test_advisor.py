"""The cost-curve advisor: verdicts on synthetic curves, its thresholds, and real training."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dnnstudio.core import advisor
from dnnstudio.core.advisor import Diagnosis, diagnose, diagnose_curves
from dnnstudio.core.data.dataset import TrainData
from dnnstudio.core.data.spec import DatasetSpec
from dnnstudio.core.hyperparams import Hyperparameters
from dnnstudio.core.training import HISTORY_FIELDS, TrainStatus, train
from dnnstudio.runs.records import ExperimentRecord, ExperimentState, HistoryColumns

N = 1000
"""Epochs of most synthetic curves: long enough that the smoothing window is full."""


def decay(n: int = N, scale: float = 200.0) -> np.ndarray:
    """A healthy curve: exponential decay from 0.7 towards 0.1."""
    return 0.1 + 0.6 * np.exp(-np.arange(n) / scale)


def linear(half_drop: float, n: int = N) -> np.ndarray:
    """A straight line from 1 whose last half falls by about ``half_drop`` of its value."""
    half = n - 1 - n // 2
    slope = half_drop / (half + half_drop * (n // 2))
    return 1.0 - slope * np.arange(n)


def zigzag(amplitude: float, n: int = 200) -> np.ndarray:
    """No trend: 1 + amplitude on even epochs, 1 on odd ones (starting high)."""
    return 1.0 + amplitude * (np.arange(n) % 2 == 0)


def step_down(total_drop: float, n: int = N) -> np.ndarray:
    """One step from 1 to ``1 - total_drop`` after the first epoch, then flat."""
    c = np.full(n, 1.0 - total_drop)
    c[0] = 1.0
    return c


# -- the verdicts -------------------------------------------------------------------------

def test_exponential_decay_is_good() -> None:
    d = diagnose_curves(decay())
    assert (d.verdict, d.cost_verdict, d.epoch) == ("good", "good", None)
    assert d.label == "Good: cost falling"
    assert d.half_drop == pytest.approx(0.30, abs=0.02)
    assert f"fell {100 * d.half_drop:.1f}% over the last half" in d.detail
    assert "learning is happening" in d.detail
    assert d.gap_verdict is None
    assert d.gap_detail == ""


def test_slow_linear_decay_means_learning_rate_too_small() -> None:
    d = diagnose_curves(linear(0.01), alpha=0.001)
    assert d.verdict == "too_small"
    assert d.label == "LR too small: try ×3"
    assert "1.0%" in d.detail
    assert "0.003 instead of 0.001" in d.detail


def test_flat_curve_is_stuck() -> None:
    d = diagnose_curves(np.full(300, 0.6931), alpha=0.5, init="he", hidden_layers=3)
    assert d.verdict == "stuck"
    assert "larger alpha" in d.detail
    assert "5 instead of 0.5" in d.detail
    assert "init = small" not in d.detail


def test_stuck_deep_net_with_small_init_is_explained() -> None:
    shallow = diagnose_curves(np.full(300, 0.6931), init="small", hidden_layers=1)
    deep = diagnose_curves(np.full(300, 0.6931), init="small", hidden_layers=2)
    assert shallow.verdict == deep.verdict == "stuck"
    assert "× 0.01" not in shallow.detail
    assert "init = small (random × 0.01) and 2 hidden layers" in deep.detail


def test_converged_curve_is_good_not_stuck() -> None:
    d = diagnose_curves(decay(scale=50))
    assert d.verdict == "good"
    assert d.label == "Good: levelled off"
    assert d.half_drop < advisor.FLAT_DROP


def test_increasing_cost_is_too_large_with_the_epoch() -> None:
    c = decay(400, scale=60)
    # From index 199 on the cost rises 1.2% of its lowest value per epoch: index 204 is 6%
    # above the lowest (more than 5%), so epoch 205 is where it went wrong.
    c[199:] = c[199] * (1 + 0.012 * np.arange(201))
    d = diagnose_curves(c, alpha=0.3)
    assert d.verdict == "too_large"
    assert d.label == "Cost rising: cut alpha ÷10"
    assert d.epoch == 205
    assert "epoch 205" in d.detail
    assert "0.03 instead of 0.3" in d.detail


def test_zigzag_is_too_large() -> None:
    i = np.arange(N)
    c = 0.7 * np.exp(-i / 500) + 0.05 * (-1.0) ** i
    d = diagnose_curves(c, alpha=3.0)
    assert d.verdict == "too_large"
    assert d.label == "Oscillating: cut alpha ÷3"
    assert d.rise_share == pytest.approx(0.5, abs=0.05)
    # Epoch 2 fell to 0.649; epoch 3 jumped back to 0.747, more than 5% above it.
    assert d.epoch == 3
    assert "1 instead of 3" in d.detail


@pytest.mark.parametrize("k", [4, 57, 900])
def test_nan_tail_diverged_at_epoch(k: int) -> None:
    c = decay()
    c[k - 1:] = np.nan
    d = diagnose_curves(c, alpha=30.0)
    assert (d.verdict, d.epoch) == ("diverged", k)
    assert d.label == "Diverged: cut alpha ÷10"
    assert f"epoch {k}" in d.detail
    assert "3 instead of 30" in d.detail


def test_infinity_diverged_at_its_epoch() -> None:
    c = decay()
    c[41] = np.inf
    c[42:] = np.nan
    assert diagnose_curves(c).epoch == 42
    c[42:] = 5.0  # an infinity counts even if finite values follow
    assert diagnose_curves(c).verdict == "diverged"


def test_trainer_says_diverged() -> None:
    d = diagnose_curves(decay(3), diverged_epoch=4)
    assert (d.verdict, d.epoch) == ("diverged", 4)
    assert diagnose_curves(decay(), diverged=True).verdict == "diverged"


def test_interior_nans_are_ignored() -> None:
    c = decay()
    c[1::3] = np.nan  # not the last epoch: a curve that ends non-finite diverged
    d = diagnose_curves(c)
    assert d.verdict == "good"
    assert d.epochs == np.count_nonzero(np.isfinite(c))


def test_too_few_epochs_is_too_early() -> None:
    d = diagnose_curves(decay(5), running=True)
    assert d.verdict == "too_early"
    assert d.label == "Too early to judge"
    assert "Only 5 epochs so far" in d.detail
    assert diagnose_curves([]).detail.startswith("No epochs yet")
    assert diagnose_curves([math.nan] * 40).verdict == "too_early"


# -- the gap ------------------------------------------------------------------------------

def test_small_gap_generalises() -> None:
    d = diagnose_curves(decay(), train_metric=0.93, val_metric=0.91)
    assert (d.verdict, d.gap_verdict) == ("good", "small_gap")
    assert d.gap == pytest.approx(0.02)
    assert "2.0 points" in d.gap_detail
    assert "generalises" in d.gap_detail


def test_large_gap_is_overfitting() -> None:
    d = diagnose_curves(decay(), train_metric=0.99, val_metric=0.85)
    assert (d.verdict, d.cost_verdict, d.gap_verdict) == ("overfitting", "good", "large_gap")
    assert d.label == "Overfitting: add L2/dropout"
    assert "14.0 points" in d.gap_detail
    assert "L2 or dropout" in d.gap_detail
    assert d.gap_detail in d.text
    assert d.detail in d.text


def test_a_worse_cost_verdict_outranks_the_gap() -> None:
    d = diagnose_curves(linear(0.01), train_metric=0.99, val_metric=0.85)
    assert (d.verdict, d.gap_verdict) == ("too_small", "large_gap")
    assert "training cost right first" in d.gap_detail


def test_regression_gap_in_r2() -> None:
    small = diagnose_curves(decay(), train_metric=0.91, val_metric=0.87, metric="r2")
    large = diagnose_curves(decay(), train_metric=0.91, val_metric=0.80, metric="r2")
    assert (small.gap_verdict, large.gap_verdict) == ("small_gap", "large_gap")
    assert large.verdict == "overfitting"
    assert "Train R² 0.910 vs validation 0.800: a gap of 0.110" in large.gap_detail
    assert "points" not in large.gap_detail


def val_curve(rise: float, n: int = N) -> np.ndarray:
    """Validation cost falling to 0.3 by index 300, flat, and ``rise`` higher for the last
    200 epochs; NaN on every other epoch (validated every second epoch)."""
    v = np.full(n, 0.3)
    v[:300] = np.linspace(0.7, 0.3, 300)
    v[-200:] = 0.3 * (1 + rise)
    v[1::2] = np.nan
    return v


def test_rising_validation_cost_with_nan_gaps_is_overfitting() -> None:
    d = diagnose_curves(decay(), val_curve(0.4))
    assert (d.verdict, d.gap_verdict) == ("overfitting", "large_gap")
    assert d.val_rise == pytest.approx(0.4)
    assert math.isnan(d.gap)
    assert "40.0% above its lowest (0.3 around epoch 3" in d.gap_detail


def test_flat_validation_cost_with_nan_gaps_is_no_evidence() -> None:
    d = diagnose_curves(decay(), val_curve(0.0), train_metric=0.9, val_metric=0.89)
    assert (d.verdict, d.gap_verdict) == ("good", "small_gap")
    assert d.val_rise == pytest.approx(0.0, abs=1e-9)


def test_validation_rise_does_not_count_when_the_training_cost_rises() -> None:
    c = np.concatenate([decay(500, scale=50), np.linspace(0.1, 0.5, 500)])
    d = diagnose_curves(c, val_curve(0.4))
    assert (d.verdict, d.gap_verdict) == ("too_large", None)


# -- every threshold flips its verdict ----------------------------------------------------

UNDER, OVER = 0.9, 1.1


def test_min_epochs_boundary() -> None:
    n = advisor.MIN_EPOCHS
    assert diagnose_curves(decay(n - 1, scale=3)).verdict == "too_early"
    assert diagnose_curves(decay(n, scale=3)).verdict == "good"


def test_flat_drop_boundary() -> None:
    under = diagnose_curves(linear(advisor.FLAT_DROP * UNDER))
    over = diagnose_curves(linear(advisor.FLAT_DROP * OVER))
    assert under.half_drop == pytest.approx(advisor.FLAT_DROP * UNDER, rel=0.02)
    assert (under.verdict, over.verdict) == ("stuck", "too_small")


def test_slow_drop_boundary() -> None:
    under = diagnose_curves(linear(advisor.SLOW_DROP * UNDER))
    over = diagnose_curves(linear(advisor.SLOW_DROP * OVER))
    assert over.half_drop == pytest.approx(advisor.SLOW_DROP * OVER, rel=0.02)
    assert over.total_drop < advisor.CONVERGED_DROP
    assert (under.verdict, over.verdict) == ("too_small", "good")


def test_converged_drop_boundary() -> None:
    under = diagnose_curves(step_down(advisor.CONVERGED_DROP * 0.95))
    over = diagnose_curves(step_down(advisor.CONVERGED_DROP * 1.05))
    assert over.total_drop == pytest.approx(advisor.CONVERGED_DROP * 1.05)
    assert (under.verdict, over.verdict) == ("stuck", "good")


def rise_at_end(rise: float, epochs: int = 100) -> np.ndarray:
    """Falls from 1 to 0.5 at once, then ``rise`` above 0.5 for the last ``epochs``."""
    c = step_down(0.5)
    c[-epochs:] = 0.5 * (1 + rise)
    return c


def test_rise_tolerance_boundary() -> None:
    under = diagnose_curves(rise_at_end(advisor.RISE_TOLERANCE * UNDER))
    over = diagnose_curves(rise_at_end(advisor.RISE_TOLERANCE * OVER))
    assert over.rise == pytest.approx(advisor.RISE_TOLERANCE * OVER)
    assert under.verdict != "too_large"
    assert (over.verdict, over.epoch) == ("too_large", N - 100 + 1)


def test_smoothing_window_averages_out_a_short_rise() -> None:
    # A 10% rise must last RISE_TOLERANCE / 10% of the window before the mean sees it.
    lasting = int(advisor.SMOOTH_WINDOW * advisor.RISE_TOLERANCE / 0.1)
    assert diagnose_curves(rise_at_end(0.1, lasting)).verdict != "too_large"
    assert diagnose_curves(rise_at_end(0.1, lasting + 1)).verdict == "too_large"


def shared_zigzag(share: float, n: int = 200) -> np.ndarray:
    """Alternately down 0.005 and up ``0.005 * share / (1 - share)``: of the movement, the
    fraction ``share`` goes up."""
    down = 0.005
    up = down * share / (1 - share)
    steps = np.where(np.arange(n - 1) % 2 == 0, -down, up)
    return np.concatenate([[1.0], 1.0 + np.cumsum(steps)])


def test_oscillation_share_boundary() -> None:
    under = diagnose_curves(shared_zigzag(advisor.OSCILLATION_SHARE * UNDER))
    over = diagnose_curves(shared_zigzag(advisor.OSCILLATION_SHARE * OVER))
    assert over.rise_share == pytest.approx(advisor.OSCILLATION_SHARE * OVER, rel=0.02)
    assert over.jitter > advisor.JITTER_FLOOR
    assert (under.verdict, over.verdict) == ("good", "too_large")


def jittery(jitter: float) -> np.ndarray:
    """A zig-zag whose mean epoch-to-epoch change is ``jitter`` of its mean level."""
    return zigzag(jitter / (1 - jitter / 2))


@pytest.mark.parametrize(("floor", "stochastic"),
                         [(advisor.JITTER_FLOOR, False), (advisor.NOISY_JITTER, True)])
def test_jitter_floor_boundary(floor: float, stochastic: bool) -> None:
    under = diagnose_curves(jittery(floor * UNDER), stochastic=stochastic)
    over = diagnose_curves(jittery(floor * OVER), stochastic=stochastic)
    assert over.jitter == pytest.approx(floor * OVER)
    assert under.verdict != "too_large"
    assert over.verdict == "too_large"
    assert over.label.startswith("Oscillating")


def test_mini_batch_noise_is_not_oscillation() -> None:
    noise = np.random.default_rng(0).normal(0.0, 0.02, N)
    c = decay() * (1 + noise)
    # Full batch, epoch-to-epoch ups and downs of 2% are not normal; with mini-batches they are.
    assert diagnose_curves(c).verdict == "too_large"
    assert diagnose_curves(c, stochastic=True).verdict == "good"


@pytest.mark.parametrize(("metric", "limit"),
                         [("accuracy", advisor.GAP_ACCURACY), ("r2", advisor.GAP_R2)])
def test_gap_boundary(metric: str, limit: float) -> None:
    def judged(gap: float) -> Diagnosis:
        return diagnose_curves(decay(), train_metric=0.9, val_metric=0.9 - gap, metric=metric)

    assert (judged(limit * UNDER).verdict, judged(limit * UNDER).gap_verdict) == (
        "good", "small_gap")
    assert (judged(limit * OVER).verdict, judged(limit * OVER).gap_verdict) == (
        "overfitting", "large_gap")


def test_validation_rise_boundary() -> None:
    under = diagnose_curves(decay(), val_curve(advisor.VAL_RISE * UNDER))
    over = diagnose_curves(decay(), val_curve(advisor.VAL_RISE * OVER))
    assert over.val_rise == pytest.approx(advisor.VAL_RISE * OVER)
    assert (under.verdict, under.gap_verdict) == ("good", None)
    assert (over.verdict, over.gap_verdict) == ("overfitting", "large_gap")


# -- records, results and speed -----------------------------------------------------------

def history(train_cost: np.ndarray, **curves: np.ndarray) -> HistoryColumns:
    n = len(train_cost)
    columns = {name: np.full(n, np.nan) for name in HISTORY_FIELDS}
    columns.update(train_cost=train_cost, **curves)
    return HistoryColumns.from_mapping(columns)


def test_record_adapter_uses_state_and_hyperparameters() -> None:
    hp = Hyperparameters(alpha=0.002, hidden=(8, 8), init="small", epochs=N)
    flat = ExperimentRecord(id=1, hyperparameters=hp, state=ExperimentState.COMPLETED,
                            epochs_run=300, history=history(np.full(300, 0.69)),
                            train_metric=0.55, val_metric=0.52)
    d = diagnose(flat)
    assert (d.verdict, d.gap_verdict) == ("stuck", "small_gap")
    assert "0.02 instead of 0.002" in d.detail
    assert "init = small" in d.detail
    diverged = flat.replace(state=ExperimentState.DIVERGED, diverged_epoch=57,
                            history=history(decay(56)))
    assert (diagnose(diverged).verdict, diagnose(diverged).epoch) == ("diverged", 57)
    queued = ExperimentRecord(id=2, hyperparameters=hp)
    assert diagnose(queued).verdict == "too_early"


def test_running_record_uses_its_latest_measured_figures() -> None:
    n = 300
    val_metric = np.full(n, np.nan)
    val_metric[::10] = np.linspace(0.5, 0.80, 30)
    record = ExperimentRecord(
        id=3, hyperparameters=Hyperparameters(alpha=0.1, hidden=(4,), epochs=N),
        state=ExperimentState.RUNNING, epochs_run=n,
        history=history(decay(n, scale=100), train_metric=np.linspace(0.5, 0.95, n),
                        val_metric=val_metric),
    )
    d = diagnose(record)
    assert (d.verdict, d.gap_verdict) == ("overfitting", "large_gap")
    assert d.gap == pytest.approx(0.15)
    assert "so far" in d.detail


def test_stochastic_runs_are_judged_with_the_noisy_floor() -> None:
    c = zigzag(0.05)  # jitter about 5%: oscillation for full batch, noise for mini-batch
    full = Hyperparameters(hidden=(4,), epochs=N)
    for hp, verdict in ((full, "too_large"), (full.replace(batch_size=32), "stuck"),
                        (full.replace(keep_prob=0.8), "stuck")):
        record = ExperimentRecord(id=1, hyperparameters=hp, state=ExperimentState.COMPLETED,
                                  epochs_run=len(c), history=history(c))
        assert diagnose(record).verdict == verdict


def test_mapping_of_curves() -> None:
    assert diagnose({"train_cost": list(decay())}).verdict == "good"
    assert diagnose({"train_cost": decay()}, alpha=1.0, diverged_epoch=9).epoch == 9


def test_long_history_with_validation_every_other_epoch() -> None:
    n = 10_000
    val = decay(n, scale=2000) + 0.05
    val[1::2] = np.nan
    record = ExperimentRecord(
        id=1, hyperparameters=Hyperparameters(hidden=(4,), epochs=n),
        state=ExperimentState.COMPLETED, epochs_run=n, train_metric=0.9, val_metric=0.88,
        history=history(decay(n, scale=2000), val_cost=val),
    )
    diagnosis = diagnose(record)
    assert diagnosis.verdict == "good"
    assert diagnosis.epochs == n


# -- real training on the planar dataset --------------------------------------------------

@pytest.fixture(scope="module")
def planar() -> TrainData:
    return DatasetSpec().load().training_data()


def trained(data: TrainData, alpha: float) -> tuple[Diagnosis, Diagnosis]:
    """The diagnosis of the training result and of the experiment record made from it."""
    hp = Hyperparameters(alpha=alpha, epochs=400, hidden=(4,), activation="tanh",
                         optimizer="gd", init="xavier", dtype="float64")
    result = train(hp, data)
    record = ExperimentRecord(id=1, hyperparameters=hp).started().finished(result)
    return diagnose(result), diagnose(record)


def test_real_training_learning_rates(planar: TrainData) -> None:
    slow, slow_record = trained(planar, 0.001)
    assert slow.verdict == slow_record.verdict == "too_small"

    good, good_record = trained(planar, 1.0)
    assert good.cost_verdict == good_record.cost_verdict == "good"
    assert good.half_drop > 0.3

    rising, _ = trained(planar, 60.0)
    assert rising.verdict == "too_large"
    assert rising.epoch is not None
    assert rising.epoch < 10


def test_real_training_divergence(planar: TrainData) -> None:
    hp = Hyperparameters(alpha=300.0, epochs=400, hidden=(4,), activation="tanh",
                         optimizer="gd", init="xavier", dtype="float64")
    result = train(hp, planar)
    assert result.status is TrainStatus.DIVERGED
    record = ExperimentRecord(id=1, hyperparameters=hp).started().finished(result)
    for d in (diagnose(result), diagnose(record)):
        assert (d.verdict, d.epoch) == ("diverged", result.diverged_epoch)
        assert "30 instead of 300" in d.detail
