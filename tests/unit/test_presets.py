"""The presets do what they say: the learning-rate lab shows the lesson's three outcomes."""

from __future__ import annotations

import pytest

from dnnstudio.core.advisor import diagnose
from dnnstudio.core.training import TrainStatus, train
from dnnstudio.search.presets import LR_LAB_ALPHAS, learning_rate_lab, strategy_comparison


def test_learning_rate_lab_reproduces_too_small_good_and_too_large_on_planar() -> None:
    dataset, spec = learning_rate_lab()
    assert dataset.name == "planar"
    assert spec.strategy == "grid"
    assert spec.planned_trials() == len(LR_LAB_ALPHAS)
    assert [p["alpha"] for p in spec.space.grid()] == list(LR_LAB_ALPHAS)
    data = dataset.load().training_data()
    verdicts = {}
    for alpha in LR_LAB_ALPHAS:
        result = train(spec.hyperparameters({"alpha": alpha}), data)
        verdicts[alpha] = (result.status, diagnose(result).cost_verdict, result.val_metric)
    for alpha in (0.001, 0.003, 0.01, 0.03, 0.1):
        assert verdicts[alpha][1] == "too_small", alpha
    for alpha in (0.3, 1.0):
        assert verdicts[alpha][1] == "good", alpha
        assert verdicts[alpha][2] >= 0.85
    for alpha in (3.0, 10.0, 30.0, 100.0):
        assert verdicts[alpha][1] == "too_large", alpha
    assert verdicts[300.0][0] is TrainStatus.DIVERGED
    assert verdicts[300.0][1] == "diverged"


def test_strategy_comparison_gives_each_strategy_the_same_budget() -> None:
    dataset, specs = strategy_comparison(trials=12)
    assert dataset.name == "planar"
    assert [s.strategy for s in specs] == ["grid", "random", "bayesian"]
    assert [s.planned_trials() for s in specs] == [12, 12, 12]
    assert {tuple(s.space.names) for s in specs} == {("alpha", "units")}
    assert specs[0].space.grid_size() == 12
    hp = specs[1].hyperparameters({"alpha": 0.1, "units": 7})
    assert hp.hidden == (7,)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_comparison_specs_round_trip(index: int) -> None:
    from dnnstudio.search.spec import SearchSpec

    spec = strategy_comparison()[1][index]
    assert SearchSpec.from_dict(spec.to_dict()) == spec
