"""How a search chooses its next trial: grid, random, or Bayesian (Optuna's TPE).

Every strategy speaks the same small protocol, so the queue runs them all the same way:
:meth:`~Strategy.ask` for the next trial's values when a slot frees up (None when there is
nothing left to try), :meth:`~Strategy.tell` with the outcome when its experiment ends, and
:meth:`~Strategy.restore` to rebuild the strategy from trials that already exist (a reopened
session holds its search's experiments; that is all a strategy needs, so nothing of Optuna's
is saved: its study is rebuilt from them).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import numpy as np

from .space import Range, SearchSpace, Values
from .spec import SearchSpec

__all__ = [
    "BayesianStrategy",
    "GridStrategy",
    "RandomStrategy",
    "Strategy",
    "TrialResult",
    "TrialState",
    "make_strategy",
    "optuna_study",
]


class TrialState(StrEnum):
    RUNNING = "running"
    """Queued, running, or interrupted: no outcome yet."""
    COMPLETE = "complete"
    PRUNED = "pruned"
    """Stopped early as hopeless, or diverged."""
    FAILED = "failed"
    """Cancelled, or the worker failed: says nothing about the values."""


@dataclass(frozen=True)
class TrialResult:
    """One trial of a search as its experiment stands.

    Attributes
    ----------
    number : int
        1, 2, ... in the order the trials were asked for.
    experiment_id : int
    params : dict
        The values the search chose (plain data: lists, not tuples).
    state : TrialState
    value : float or None
        The objective (validation accuracy/R², or cost) when complete; for a pruned trial the
        best it had reached.
    epoch : int
        Epochs it ran.
    """

    number: int
    experiment_id: int
    params: dict[str, Any]
    state: TrialState
    value: float | None = None
    epoch: int = 0


class Strategy(Protocol):
    """What the search runner needs from a strategy."""

    def ask(self) -> dict[str, Any] | None:
        """The next trial's values, or None when there is nothing left to try."""
        ...

    def tell(self, number: int, state: TrialState, value: float | None, epoch: int) -> None:
        """Trial ``number`` (1-based, in ask order) ended."""
        ...

    def restore(self, trials: Sequence[TrialResult]) -> None:
        """Continue after ``trials`` (every trial asked so far, by number; running ones will
        still be told)."""
        ...


def _key(params: dict[str, Any]) -> str:
    """The same for equal values: 1 written in a spec and 1.0 read back from a record."""
    def plain(value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    return json.dumps({k: plain(v) for k, v in params.items()}, sort_keys=True)


class GridStrategy:
    """Every point of the grid once, in order (the last dimension varying fastest)."""

    def __init__(self, space: SearchSpace, limit: int | None = None) -> None:
        self._points = list(space.grid())
        if limit is not None:
            self._points = self._points[:limit]
        self._done: set[str] = set()
        self._next = 0

    def ask(self) -> dict[str, Any] | None:
        while self._next < len(self._points):
            point = self._points[self._next]
            self._next += 1
            if _key(point) not in self._done:
                self._done.add(_key(point))
                return dict(point)
        return None

    def tell(self, number: int, state: TrialState, value: float | None, epoch: int) -> None:
        pass

    def restore(self, trials: Sequence[TrialResult]) -> None:
        self._done = {_key(t.params) for t in trials}
        self._next = 0


class RandomStrategy:
    """Independent draws from the space, from a seed: the same seed gives the same trials."""

    def __init__(self, space: SearchSpace, seed: int, limit: int | None = None) -> None:
        self._space = space
        self._seed = seed
        self._rng = np.random.default_rng(seed)
        self._limit = limit
        self._asked = 0

    def ask(self) -> dict[str, Any] | None:
        if self._limit is not None and self._asked >= self._limit:
            return None
        self._asked += 1
        return self._space.sample(self._rng)

    def tell(self, number: int, state: TrialState, value: float | None, epoch: int) -> None:
        pass

    def restore(self, trials: Sequence[TrialResult]) -> None:
        # Replay the draws, so trial n + 1 is what it would have been without the reopening.
        self._rng = np.random.default_rng(self._seed)
        self._asked = 0
        for _ in trials:
            self.ask()


class _Codec:
    """Optuna's categorical choices must be scalars: lists (hidden layers) travel as JSON."""

    def __init__(self, space: SearchSpace) -> None:
        import optuna

        self.distributions: dict[str, Any] = {}
        self._decode: dict[str, dict[Any, Any]] = {}
        for name, dim in space.dimensions.items():
            if isinstance(dim, Range):
                if dim.integer:
                    self.distributions[name] = optuna.distributions.IntDistribution(
                        int(dim.low), int(dim.high), log=dim.log)
                else:
                    self.distributions[name] = optuna.distributions.FloatDistribution(
                        dim.low, dim.high, log=dim.log)
            else:
                assert isinstance(dim, Values)
                choices = [self._encode_value(v) for v in dim.values]
                self._decode[name] = {c: (list(v) if isinstance(v, tuple) else v)
                                      for c, v in zip(choices, dim.values, strict=True)}
                self.distributions[name] = optuna.distributions.CategoricalDistribution(choices)

    @staticmethod
    def _encode_value(value: Any) -> Any:
        if isinstance(value, list | tuple):
            return json.dumps(list(value))
        return value

    def encode(self, params: dict[str, Any]) -> dict[str, Any]:
        return {name: self._encode_value(params[name]) for name in self.distributions}

    def decode(self, params: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for name, value in params.items():
            table = self._decode.get(name)
            out[name] = table[value] if table is not None else value
        return out


def optuna_study(spec: SearchSpec, trials: Sequence[TrialResult], *, seed: int | None = None
                 ) -> Any:
    """An Optuna study holding ``trials`` (the finished ones), for the sampler or for
    Optuna's importance evaluators."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    codec = _Codec(spec.space)
    sampler = optuna.samplers.TPESampler(seed=spec.seed if seed is None else seed)
    study = optuna.create_study(direction="maximize" if spec.maximize else "minimize",
                                sampler=sampler)
    for trial in trials:
        frozen = _frozen(codec, trial)
        if frozen is not None:
            study.add_trial(frozen)
    return study


def _frozen(codec: _Codec, trial: TrialResult) -> Any:
    """The finished ``trial`` as Optuna's record, or None (running, or outside the space, as
    after a hand edit: then it is no evidence for this search)."""
    import optuna

    States = optuna.trial.TrialState
    if trial.state is TrialState.RUNNING:
        return None
    try:
        params = codec.encode(trial.params)
        if trial.state is TrialState.COMPLETE and trial.value is not None and math.isfinite(
                trial.value):
            return optuna.trial.create_trial(state=States.COMPLETE, value=trial.value,
                                             params=params, distributions=codec.distributions)
        if trial.state is TrialState.PRUNED:
            intermediate = ({} if trial.value is None or not math.isfinite(trial.value)
                            else {max(trial.epoch, 0): trial.value})
            return optuna.trial.create_trial(state=States.PRUNED, params=params,
                                             distributions=codec.distributions,
                                             intermediate_values=intermediate)
        return optuna.trial.create_trial(state=States.FAIL, params=params,
                                         distributions=codec.distributions)
    except (KeyError, TypeError, ValueError):
        return None


class BayesianStrategy:
    """Optuna's TPE sampler through its ask-and-tell interface.

    Each :meth:`ask` is ``study.ask()``: the sampler proposes values from every trial told so
    far; :meth:`tell` is ``study.tell()``. A pruned or diverged trial is told as pruned with
    the value it had reached, so TPE ranks it below every completed one.
    """

    def __init__(self, spec: SearchSpec, limit: int | None = None) -> None:
        self._spec = spec
        self._limit = limit
        self._codec = _Codec(spec.space)
        self._study = optuna_study(spec, ())
        self._trials: dict[int, Any] = {}
        self._asked = 0

    @property
    def study(self) -> Any:
        return self._study

    def ask(self) -> dict[str, Any] | None:
        if self._limit is not None and self._asked >= self._limit:
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trial = self._study.ask(self._codec.distributions)
        self._asked += 1
        self._trials[self._asked] = trial
        return self._codec.decode(dict(trial.params))

    def tell(self, number: int, state: TrialState, value: float | None, epoch: int) -> None:
        import optuna

        trial = self._trials.pop(number, None)
        if trial is None:
            return
        States = optuna.trial.TrialState
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if state is TrialState.COMPLETE and value is not None and math.isfinite(value):
                self._study.tell(trial, value)
            elif state is TrialState.PRUNED:
                if value is not None and math.isfinite(value):
                    trial.report(value, max(epoch, 0))
                self._study.tell(trial, state=States.PRUNED)
            else:
                self._study.tell(trial, state=States.FAIL)

    def restore(self, trials: Sequence[TrialResult]) -> None:
        self._study = optuna_study(self._spec, trials)
        self._trials = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for trial in trials:
                if trial.state is TrialState.RUNNING:
                    # Still to be told: hold an open Optuna trial with its values.
                    self._study.enqueue_trial(self._codec.encode(trial.params),
                                              skip_if_exists=False)
                    self._trials[trial.number] = self._study.ask(self._codec.distributions)
        self._asked = len(trials)


def make_strategy(spec: SearchSpec) -> GridStrategy | RandomStrategy | BayesianStrategy:
    """The strategy ``spec`` names, limited to its trial budget."""
    if spec.strategy == "grid":
        return GridStrategy(spec.space, spec.trials)
    if spec.strategy == "random":
        return RandomStrategy(spec.space, spec.seed, spec.trials)
    return BayesianStrategy(spec, spec.trials)
