"""Search: spaces and specs, the three strategies, the median rule, and the runner on a queue."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dnnstudio.core.data.dataset import Task
from dnnstudio.core.data.spec import DatasetSpec
from dnnstudio.core.hyperparams import Hyperparameters
from dnnstudio.core.training import History, TrainResult, TrainStatus
from dnnstudio.runs.messages import Finished, Job, Message, Progress
from dnnstudio.runs.queue import ExperimentQueue
from dnnstudio.runs.records import ExperimentState
from dnnstudio.search import (
    BayesianStrategy,
    GridStrategy,
    MedianRule,
    PruningSpec,
    RandomStrategy,
    Range,
    SearchRunner,
    SearchSpace,
    SearchSpec,
    SearchState,
    SpecError,
    TrialResult,
    TrialState,
    Values,
    next_search_name,
    restore_all,
    trial_results,
)
from dnnstudio.search.space import hyperparameters_for, params_of
from dnnstudio.sessions.store import SessionStore, StoredSearch

# -- spaces ---------------------------------------------------------------------------------------


def test_grid_is_exactly_the_cartesian_product() -> None:
    space = SearchSpace.from_data({"alpha": [0.001, 0.01, 0.1], "layers": [1, 2, 3],
                                   "activation": ["relu", "tanh"]})
    points = list(space.grid())
    assert space.grid_size() == len(points) == 18
    assert len({repr(sorted(p.items())) for p in points}) == 18
    assert {p["alpha"] for p in points} == {0.001, 0.01, 0.1}
    assert points[0] == {"alpha": 0.001, "layers": 1, "activation": "relu"}
    assert points[1] == {"alpha": 0.001, "layers": 1, "activation": "tanh"}  # last fastest


def test_grid_from_ranges_with_steps() -> None:
    space = SearchSpace.from_data({"alpha": {"low": 0.001, "high": 1.0, "steps": 4},
                                   "units": {"low": 2, "high": 8, "steps": 4}})
    alphas = sorted({p["alpha"] for p in space.grid()})
    assert alphas == [0.001, 0.01, 0.1, 1.0]  # alpha's ranges are log-scaled by default
    assert sorted({p["units"] for p in space.grid()}) == [2, 4, 6, 8]
    assert space.is_log("alpha")
    assert not space.is_log("units")


def test_random_respects_ranges_log_scale_and_seed() -> None:
    space = SearchSpace.from_data({
        "alpha": {"low": 1e-4, "high": 1.0},
        "units": {"low": 1, "high": 512, "log": True},
        "keep_prob": {"low": 0.5, "high": 1.0},
        "activation": ["relu", "tanh"],
    })
    first = RandomStrategy(space, seed=3)
    draws = [first.ask() for _ in range(2000)]
    again = RandomStrategy(space, seed=3)
    assert [again.ask() for _ in range(2000)] == draws
    other = RandomStrategy(space, seed=4)
    assert [other.ask() for _ in range(10)] != draws[:10]
    alphas = np.array([d["alpha"] for d in draws])
    assert alphas.min() >= 1e-4
    assert alphas.max() <= 1.0
    # Log scale: each decade gets about a quarter of the draws (a linear scale would put
    # 90% in the top one).
    decades = np.histogram(np.log10(alphas), bins=[-4, -3, -2, -1, 0])[0] / len(alphas)
    assert np.all(np.abs(decades - 0.25) < 0.05)
    units = [d["units"] for d in draws]
    assert all(isinstance(u, int) and 1 <= u <= 512 for u in units)
    assert np.mean(np.array(units) <= 22) > 0.4  # log: small sizes as likely as large ones
    keep = np.array([d["keep_prob"] for d in draws])
    assert keep.min() >= 0.5
    assert keep.max() <= 1.0
    assert abs(np.mean(keep) - 0.75) < 0.02  # linear
    assert {d["activation"] for d in draws} == {"relu", "tanh"}


def test_random_limit_and_restore_replays_the_same_draws() -> None:
    space = SearchSpace.from_data({"alpha": {"low": 1e-3, "high": 1.0}})
    strategy = RandomStrategy(space, seed=0, limit=5)
    draws = [strategy.ask() for _ in range(5)]
    assert strategy.ask() is None
    restored = RandomStrategy(space, seed=0, limit=5)
    restored.restore([TrialResult(n, n, d or {}, TrialState.COMPLETE, 0.5)
                      for n, d in enumerate(draws[:3], start=1)])
    assert [restored.ask(), restored.ask(), restored.ask()] == [*draws[3:], None]


def test_layers_and_units_make_the_hidden_layers() -> None:
    hp = hyperparameters_for({"epochs": 5}, {"layers": 3, "units": 8})
    assert hp.hidden == (8, 8, 8)
    assert params_of(hp, ["layers", "units", "epochs"]) == {"layers": 3, "units": 8, "epochs": 5}
    assert hyperparameters_for({"hidden": [5, 5]}, {"layers": 1}).hidden == (5,)
    assert hyperparameters_for({}, {"layers": 0}).hidden == ()


@pytest.mark.parametrize(("data", "key", "words"), [
    ({"fixed": {"alpha": -1}, "search": {"space": {"epochs": [1]}}}, "fixed.alpha", "> 0"),
    ({"search": {"space": {"alpha": [0.1, -2]}}}, "search.space.alpha[1]", "alpha"),
    ({"search": {"space": {"alpah": [0.1]}}}, "search.space.alpah", "not a hyperparameter"),
    ({"search": {"space": {"alpha": []}}}, "search.space.alpha", "empty"),
    ({"search": {"space": {"alpha": {"low": 1, "high": 0.1}}}}, "search.space.alpha", "above"),
    ({"search": {"space": {"alpha": {"low": 0, "high": 1}}}}, "search.space.alpha", "low > 0"),
    ({"search": {"space": {"alpha": {"low": 0.1}}}}, "search.space.alpha", "high"),
    ({"search": {"space": {"alpha": {"low": 0.1, "high": 1, "scale": 2}}}},
     "search.space.alpha.scale", "unknown key"),
    ({"search": {"space": {"alpha": {"low": 0.1, "high": 1}}}}, "search.space.alpha", "steps"),
    ({"search": {"strategy": "random", "space": {"alpha": [0.1]}}}, "search.trials", "budget"),
    ({"search": {"strategy": "annealing", "space": {"alpha": [0.1]}}}, "search.strategy",
     "grid"),
    ({"search": {"trials": 0, "space": {"alpha": [0.1]}}}, "search.trials", "from 1"),
    ({"search": {"seconds": -5, "space": {"alpha": [0.1]}}}, "search.seconds", "> 0"),
    ({"search": {"objective": "speed", "space": {"alpha": [0.1]}}}, "search.objective",
     "accuracy"),
    ({"search": {"space": {}}}, "search.space", "at least one"),
    ({"search": {"space": {"alpha": [0.1]}, "colour": 1}}, "search.colour", "unknown key"),
    ({"dataset": {"name": "mnist"}, "search": {"space": {"alpha": [0.1]}}}, "dataset.name",
     "planar"),
    ({"fixed": {"alpha": 0.1}, "search": {"space": {"alpha": [0.1]}}}, "search.space.alpha",
     "[fixed]"),
    ({"search": {"space": {"hidden": [[4]], "layers": [1]}}}, "search.space.hidden", "not both"),
    ({"search": {"space": {"units": {"low": 1.5, "high": 4, "steps": 2}}}},
     "search.space.units", "whole-number"),
    ({"search": {"space": {"alpha": [0.1]}, "pruning": {"warmup_trials": 0}}},
     "search.pruning.warmup_trials", "from 1"),
])
def test_spec_errors_name_the_key(data: dict[str, Any], key: str, words: str) -> None:
    with pytest.raises(SpecError) as caught:
        SearchSpec.from_dict(data)
    assert caught.value.key == key
    assert str(caught.value).startswith(f"{key}: ")
    assert words in str(caught.value)


def test_spec_from_toml_round_trips_through_to_dict(tmp_path: Path) -> None:
    path = tmp_path / "sweep.toml"
    path.write_text(
        '[dataset]\nname = "planar"\n'
        '[fixed]\nepochs = 2000\nhidden = [4]\nactivation = "tanh"\n'
        '[search]\nstrategy = "grid"\nseed = 0\n'
        '[search.space]\nalpha = [0.001, 0.01, 0.1]\nhidden = [[4], [8]]\n', encoding="utf-8")
    with pytest.raises(SpecError, match="is also in"):
        SearchSpec.from_toml(path)
    path.write_text(path.read_text().replace("hidden = [4]\n", ""), encoding="utf-8")
    spec = SearchSpec.from_toml(path)
    assert spec.planned_trials() == 6
    assert spec.dataset == DatasetSpec(name="planar")
    assert spec.space.dimensions["hidden"] == Values(((4,), (8,)))
    assert SearchSpec.from_dict(spec.to_dict()) == spec
    assert spec.hyperparameters({"alpha": 0.01, "hidden": [8]}) == Hyperparameters(
        alpha=0.01, epochs=2000, hidden=(8,), activation="tanh")


def test_spec_file_problems_are_spec_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[search\nstrategy = 'grid'", encoding="utf-8")
    with pytest.raises(SpecError, match="not valid TOML"):
        SearchSpec.from_toml(path)
    with pytest.raises(SpecError, match="cannot read"):
        SearchSpec.from_toml(tmp_path / "missing.toml")
    path.write_bytes(b"\xff\xfe[search]")
    with pytest.raises(SpecError, match="UTF-8"):
        SearchSpec.from_toml(path)


def test_csv_path_in_a_spec_is_relative_to_the_spec(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "s.toml"
    path.write_text('[dataset]\ncsv = "data.csv"\ntarget = "y"\n'
                    '[search.space]\nalpha = [0.1]\n', encoding="utf-8")
    spec = SearchSpec.from_toml(path)
    assert spec.dataset is not None
    assert Path(spec.dataset.path) == (tmp_path / "sub" / "data.csv").resolve()
    assert spec.dataset.target == "y"


# -- Bayesian ------------------------------------------------------------------------------------

def _score(params: dict[str, Any]) -> float:
    """A made-up objective: best at alpha = 0.1, and with tanh."""
    return 1.0 - abs(math.log10(params["alpha"]) + 1.0) / 4 - (
        0.1 if params["activation"] == "relu" else 0.0)


def test_bayesian_drives_optuna_through_ask_and_tell() -> None:
    spec = SearchSpec.from_dict({"search": {"strategy": "bayesian", "trials": 30, "seed": 1,
                                            "space": {"alpha": {"low": 1e-4, "high": 10.0},
                                                      "activation": ["relu", "tanh"]}}})
    strategy = BayesianStrategy(spec, spec.trials)
    scores = []
    for number in range(1, 31):
        params = strategy.ask()
        assert params is not None
        assert 1e-4 <= params["alpha"] <= 10.0
        scores.append(_score(params))
        strategy.tell(number, TrialState.COMPLETE, scores[-1], 10)
    assert strategy.ask() is None
    study = strategy.study
    assert len(study.trials) == 30
    assert study.best_value == max(scores)
    # TPE learns: the last ten trials beat the first ten (random start-up) on average.
    assert np.mean(scores[-10:]) > np.mean(scores[:10])


def test_bayesian_restores_its_study_from_trials() -> None:
    spec = SearchSpec.from_dict({"search": {"strategy": "bayesian", "trials": 12, "seed": 0,
                                            "space": {"alpha": {"low": 1e-3, "high": 1.0},
                                                      "hidden": [[4], [8, 8]]}}})
    first = BayesianStrategy(spec, spec.trials)
    trials = []
    for number in range(1, 6):
        params = first.ask()
        assert params is not None
        assert params["hidden"] in ([4], [8, 8])  # lists go through Optuna and come back
        state = TrialState.PRUNED if number == 2 else TrialState.COMPLETE
        trials.append(TrialResult(number, number, params, state, 0.1 * number, 7))
    trials.append(TrialResult(6, 6, {"alpha": 0.5, "hidden": [4]}, TrialState.RUNNING))
    restored = BayesianStrategy(spec, spec.trials)
    restored.restore(trials)
    study = restored.study
    states = [t.state.name for t in study.trials]
    assert states[:5] == ["COMPLETE", "PRUNED", "COMPLETE", "COMPLETE", "COMPLETE"]
    assert study.trials[1].intermediate_values == {7: pytest.approx(0.2)}
    # The running trial is an open Optuna trial with its values, told when it ends.
    restored.tell(6, TrialState.COMPLETE, 0.9, 10)
    assert study.best_value == pytest.approx(0.9)
    assert study.best_params["hidden"] == "[4]"
    asked = [restored.ask() for _ in range(7)]
    assert asked[-1] is None  # 12 in all
    assert all(a is not None for a in asked[:-1])


# -- the median rule -----------------------------------------------------------------------------

def _curve(start: float, end: float, n: int = 100) -> np.ndarray:
    return start + (end - start) * (1 - np.exp(-np.arange(1, n + 1) / 20))


def test_median_rule_waits_for_warm_up_trials_and_epochs() -> None:
    rule = MedianRule(PruningSpec(warmup_trials=3, warmup_fraction=0.2))
    bad = _curve(1.0, 0.9)
    for i, end in enumerate([0.2, 0.3]):
        rule.add_finished(i, _curve(1.0, end), completed=True)
    assert rule.check(bad[:50], 100) is None  # two finished trials only
    rule.add_finished(2, _curve(1.0, 0.25), completed=True)
    assert rule.check(bad[:19], 100) is None  # before 20% of its epochs
    decision = rule.check(bad[:20], 100)
    assert decision is not None
    assert decision.epoch == 20
    assert decision.compared == 3
    assert decision.value == pytest.approx(bad[19])
    assert decision.median == pytest.approx(_curve(1.0, 0.25)[19])
    assert decision.reason.startswith("pruned at epoch 20: its best validation cost so far")
    good = _curve(1.0, 0.1)
    assert rule.check(good[:60], 100) is None


def test_median_rule_uses_the_best_so_far_and_ignores_nan() -> None:
    rule = MedianRule(PruningSpec(warmup_trials=2, warmup_fraction=0.0))
    rule.add_finished(1, [1.0, 0.5, 0.9, 0.9], completed=True)
    rule.add_finished(2, [1.0, 0.6, 0.8, 0.8], completed=True)
    rule.add_finished(3, [1.0, 0.1], completed=False)  # pruned: compared, not warm-up
    assert rule.completed == 2
    # A noisy last epoch is not held against it: best so far 0.5 <= median(0.5, 0.6, 0.1).
    assert rule.check([1.0, 0.5, 3.0], 10) is None
    assert rule.check([1.0, math.nan, 0.7], 10) is not None  # 0.7 > median(0.5, 0.6)
    assert rule.check([math.nan, math.nan], 10) is None
    assert MedianRule(PruningSpec(enabled=False, warmup_trials=1)).check([9.0], 1) is None


# -- the runner on a queue -----------------------------------------------------------------------

def _result(hp: Hyperparameters, *, val: float, epochs: int | None = None,
            status: TrainStatus = TrainStatus.COMPLETED, cost: np.ndarray | None = None
            ) -> TrainResult:
    n = hp.epochs if epochs is None else epochs
    val_cost = np.linspace(1.0, 1.0 - val, n) if cost is None else cost[:n]
    history = History(np.linspace(1.0, 0.5, n), val_cost, np.full(n, val), np.full(n, val),
                      np.full(n, hp.alpha), np.linspace(0.01, 0.01 * n, n))
    return TrainResult(status, "done", hp, Task.BINARY, "accuracy", n, history, 0.5,
                       float(val_cost[-1]), val, val, 0.01 * n, 10, None,
                       n if status is TrainStatus.DIVERGED else None)


class ScriptedExecutor:
    """Finishes each job on poll with a result the test's function gives its
    hyperparameters; runs at most ``slots`` at once."""

    def __init__(self, outcome: Any, slots: int = 2) -> None:
        self.outcome = outcome
        self.slots = slots
        self.running: dict[int, Hyperparameters] = {}
        self.order: list[int] = []
        self.cancelled: list[int] = []
        self.outbox: list[Message] = []

    def idle_count(self) -> int:
        return self.slots - len(self.running)

    def submit(self, job: Job) -> None:
        self.running[job.experiment_id] = Hyperparameters.from_dict(job.hyperparameters)
        self.order.append(job.experiment_id)

    def cancel(self, experiment_id: int) -> None:
        self.cancelled.append(experiment_id)

    def poll(self, timeout: float) -> list[Message]:
        out, self.outbox = self.outbox, []
        for experiment_id, hp in sorted(self.running.items()):
            out.append(Finished(experiment_id, self.outcome(hp)))
        self.running.clear()
        return out


def _grid_spec(**search: Any) -> SearchSpec:
    return SearchSpec.from_dict({
        "fixed": {"epochs": 10, "hidden": [4]},
        "search": {"strategy": "grid", "space": {"alpha": [0.001, 0.01, 0.1],
                                                 "activation": ["relu", "tanh"]}, **search},
    })


def test_runner_runs_a_grid_search_to_the_end() -> None:
    executor = ScriptedExecutor(lambda hp: _result(hp, val=_score(hp.to_dict())), slots=2)
    queue = ExperimentQueue(executor, DatasetSpec(), max_parallel=2)
    queue.add(Hyperparameters(epochs=3))  # a single experiment shares the queue
    changes: list[SearchState] = []
    runner = SearchRunner(queue, _grid_spec(), "grid search 1")
    runner.subscribe(lambda r: changes.append(r.state))
    # A trial is asked for only when it can start: the single experiment has one worker.
    assert len(runner.records()) == 1
    queue.run_until_idle(timeout=10)
    assert runner.state is SearchState.FINISHED
    assert changes[-1] is SearchState.FINISHED
    trials = runner.trials()
    assert [t.number for t in trials] == [1, 2, 3, 4, 5, 6]
    assert [(t.params["alpha"], t.params["activation"]) for t in trials] == [
        (a, f) for a in (0.001, 0.01, 0.1) for f in ("relu", "tanh")]
    assert all(t.state is TrialState.COMPLETE for t in trials)
    best = runner.best()
    assert best is not None
    assert best.params == {"alpha": 0.1, "activation": "tanh"}
    assert {r.group for r in runner.records()} == {"grid search 1"}
    assert queue.records[1].group == ""
    assert "6/6 trials done, best 1" in runner.progress_text()


def test_runner_respects_parallel_and_trial_budget() -> None:
    executor = ScriptedExecutor(lambda hp: _result(hp, val=0.5), slots=4)
    queue = ExperimentQueue(executor, DatasetSpec(), max_parallel=4)
    runner = SearchRunner(queue, _grid_spec(parallel=1, trials=4), "s")
    assert len(runner.records()) == 1
    queue.run_until_idle(timeout=10)
    assert len(runner.records()) == 4
    assert runner.state is SearchState.FINISHED


def test_runner_time_budget_starts_no_trial_after_it() -> None:
    now = [0.0]
    executor = ScriptedExecutor(lambda hp: _result(hp, val=0.5), slots=1)
    queue = ExperimentQueue(executor, DatasetSpec(), max_parallel=1)
    spec = SearchSpec.from_dict({"search": {"strategy": "random", "seconds": 10, "space": {
        "alpha": {"low": 0.001, "high": 1.0}}}})
    runner = SearchRunner(queue, spec, "r", clock=lambda: now[0])
    for _ in range(3):
        queue.handle(executor.poll(0))
        now[0] += 4
        runner.tick()
    # Trials started at t = 0, 0 (the first ended at once), 4 and 8; at t = 12 the budget
    # is spent.
    assert len(runner.records()) == 4
    queue.handle(executor.poll(0))
    runner.tick()
    assert runner.state is SearchState.FINISHED
    assert runner.elapsed() == pytest.approx(12)


def test_runner_prunes_hopeless_trials_with_the_median_rule() -> None:
    # Good trials end at cost 0.2; trials with alpha 0.001 stay near 0.95.
    def curve(hp: Hyperparameters) -> np.ndarray:
        end = 0.95 if hp.alpha == 0.001 else 0.2
        return _curve(1.0, end, hp.epochs)

    executor = ScriptedExecutor(lambda hp: _result(hp, val=0.9, cost=curve(hp)), slots=1)
    queue = ExperimentQueue(executor, DatasetSpec(), max_parallel=1)
    spec = SearchSpec.from_dict({
        "fixed": {"epochs": 100},
        "search": {"strategy": "grid", "pruning": {"warmup_trials": 2, "warmup_fraction": 0.1},
                   "space": {"alpha": [0.1, 0.2, 0.001, 0.3]}}})
    runner = SearchRunner(queue, spec, "g")
    queue.handle(executor.poll(0))
    queue.handle(executor.poll(0))  # two complete: warm-up done; the third is running
    third = runner.records()[2]
    assert third.hyperparameters.alpha == 0.001
    executor.running.clear()  # it reports progress instead of finishing
    queue.handle([Progress(third.id, _epochs(curve(third.hyperparameters)[:5]))])
    assert not queue.is_pruning(third.id)  # 5 epochs < 10% of 100
    queue.handle([Progress(third.id, _epochs(curve(third.hyperparameters)[5:30], first=6))])
    assert queue.is_pruning(third.id)
    assert executor.cancelled == [third.id]
    cancelled = _result(third.hyperparameters, val=0.5, epochs=30,
                        status=TrainStatus.CANCELLED, cost=curve(third.hyperparameters))
    queue.handle([Finished(third.id, cancelled)])
    pruned = queue.records[third.id]
    assert pruned.state is ExperimentState.PRUNED
    assert pruned.message.startswith("pruned at epoch 30: its best validation cost so far")
    assert runner.trials()[2].state is TrialState.PRUNED
    queue.run_until_idle(timeout=10)
    assert [t.state for t in runner.trials()] == [TrialState.COMPLETE] * 2 + [
        TrialState.PRUNED, TrialState.COMPLETE]


def _epochs(val_cost: np.ndarray, first: int = 1) -> Any:
    from dnnstudio.core.training import EpochRecord

    return [EpochRecord(first + i, 0.5, float(c), 0.5, 0.5, 0.1, 0.01 * i)
            for i, c in enumerate(val_cost)]


def test_diverged_trials_count_as_pruned_and_cancelled_as_failed() -> None:
    executor = ScriptedExecutor(
        lambda hp: _result(hp, val=0.5, status=TrainStatus.DIVERGED if hp.alpha == 0.1
                           else TrainStatus.COMPLETED), slots=1)
    queue = ExperimentQueue(executor, DatasetSpec(), max_parallel=1)
    runner = SearchRunner(queue, _grid_spec(), "g")
    queue.cancel(runner.records()[0].id)  # running: its worker is asked to stop
    queue.run_until_idle(timeout=10)
    states = [t.state for t in runner.trials()]
    assert states.count(TrialState.PRUNED) == 2  # alpha 0.1, both activations
    assert runner.state is SearchState.FINISHED


def test_trials_wait_for_a_free_worker_and_leave_nothing_queued() -> None:
    executor = ScriptedExecutor(lambda hp: _result(hp, val=0.5), slots=2)
    queue = ExperimentQueue(executor, DatasetSpec(), max_parallel=2)
    queue.pause()
    runner = SearchRunner(queue, _grid_spec(), "g")
    assert runner.records() == []  # the queue is paused: nothing is asked for
    queue.resume()
    assert [r.state for r in runner.records()] == [ExperimentState.RUNNING] * 2
    queue.add(Hyperparameters(epochs=3))  # waits behind the two trials
    queue.handle(executor.poll(0))
    # The single experiment took the first free worker; the search the second.
    assert queue.records[3].state is ExperimentState.RUNNING
    assert queue.count(ExperimentState.QUEUED) == 0
    queue.run_until_idle(timeout=10)
    assert runner.state is SearchState.FINISHED
    assert len(runner.records()) == 6


def test_a_grid_of_whole_numbers_for_a_float_is_not_repeated_after_reopening() -> None:
    spec = SearchSpec.from_dict({"search": {"space": {"alpha": [1, 10]}}})
    grid = GridStrategy(spec.space)
    grid.restore([TrialResult(1, 1, {"alpha": 1.0}, TrialState.COMPLETE, 0.5)])
    assert grid.ask() == {"alpha": 10}
    assert grid.ask() is None


def test_pause_resume_and_cancel() -> None:
    executor = ScriptedExecutor(lambda hp: _result(hp, val=0.5), slots=1)
    queue = ExperimentQueue(executor, DatasetSpec(), max_parallel=1)
    runner = SearchRunner(queue, _grid_spec(), "g")
    runner.pause()
    queue.run_until_idle(timeout=10)
    assert len(runner.records()) == 1  # the running one finished; nothing new started
    assert runner.state is SearchState.PAUSED
    runner.resume()
    assert len(runner.records()) == 2
    runner.cancel()
    assert runner.state is SearchState.CANCELLED
    assert executor.cancelled == [runner.records()[1].id]
    queue.run_until_idle(timeout=10)
    assert len(runner.records()) == 2


def test_a_bayesian_search_survives_saving_and_reopening(tmp_path: Path) -> None:
    spec = SearchSpec.from_dict({"fixed": {"epochs": 5}, "search": {
        "strategy": "bayesian", "trials": 8, "seed": 2,
        "space": {"alpha": {"low": 1e-3, "high": 1.0}, "activation": ["relu", "tanh"]}}})
    outcome = lambda hp: _result(hp, val=_score(hp.to_dict()))  # noqa: E731
    executor = ScriptedExecutor(outcome, slots=1)
    queue = ExperimentQueue(executor, DatasetSpec(), max_parallel=1)
    runner = SearchRunner(queue, spec, "bayesian search 1")
    for _ in range(4):
        queue.handle(executor.poll(0))
    path = tmp_path / "s.dnnsession"
    with SessionStore.create(path) as store:
        for record in queue.records.values():
            store.put_experiment(record, history=True)
        store.put_search(StoredSearch(runner.name, spec.to_dict(), runner.state.value,
                                      runner.created_at))
    before = runner.trials()
    assert [t.state for t in before] == [TrialState.COMPLETE] * 4 + [TrialState.RUNNING]

    with SessionStore.open(path) as store:
        data = store.load()
    executor2 = ScriptedExecutor(outcome, slots=1)
    queue2 = ExperimentQueue(executor2, DatasetSpec(), max_parallel=1)
    queue2.load(data.records, data.order)
    [restored] = restore_all(queue2, data.searches)
    assert restored.state is SearchState.PAUSED  # nothing starts until the user resumes
    assert restored.trials()[:4] == before[:4]
    strategy = restored._strategy
    assert isinstance(strategy, BayesianStrategy)
    assert len(strategy.study.trials) == 5  # four told, the interrupted one held open
    restored.resume()
    queue2.run_until_idle(timeout=10)
    trials = restored.trials()
    assert len(trials) == 8
    assert trials[4].params == before[4].params  # the interrupted trial ran again, as itself
    assert all(t.state is TrialState.COMPLETE for t in trials)
    assert restored.state is SearchState.FINISHED
    assert len(strategy.study.trials) == 8


def test_trial_results_from_records() -> None:
    executor = ScriptedExecutor(lambda hp: _result(hp, val=0.75), slots=2)
    queue = ExperimentQueue(executor, DatasetSpec(), max_parallel=2)
    runner = SearchRunner(queue, _grid_spec(objective="cost", trials=2), "g")
    queue.run_until_idle(timeout=10)
    trials = trial_results(runner.spec, runner.records())
    assert [t.value for t in trials] == [pytest.approx(0.25)] * 2  # the final val cost
    assert not runner.spec.maximize


def test_next_search_name() -> None:
    assert next_search_name([], "grid") == "grid search 1"
    assert next_search_name(["grid search 1", "random search 1"], "grid") == "grid search 2"


def test_range_grid_rounds_and_dedups_integers() -> None:
    assert Range(1, 3, integer=True, steps=5).grid() == [1, 2, 3]
    assert Range(0.1, 0.3, steps=3).grid() == [0.1, 0.2, 0.3]
    assert GridStrategy(SearchSpace({"x": Values((1, 2))}), limit=1).ask() == {"x": 1}
