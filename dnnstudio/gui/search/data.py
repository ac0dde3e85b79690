"""What the search views draw, as plain data: a search's trials at one moment.

The views never read the queue or the runners: the manager (or a test) hands them
:class:`SearchSnapshot` values, frozen and holding copies, so a view can be drawn from
constructed trials and a redraw can never see a record change under it. Nothing here
imports Qt.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...search.presets import (
    COMPARISON_EXPLANATION,
    LR_LAB_EXPLANATION,
    learning_rate_lab,
    strategy_comparison,
)
from ...search.space import Range, Values
from ...search.spec import SearchSpec
from ...search.strategies import TrialResult, TrialState

__all__ = [
    "SearchSnapshot",
    "TrialView",
    "best_so_far",
    "categories",
    "explanation_for",
    "format_params",
    "format_value",
    "is_categorical",
]


@dataclass(frozen=True)
class TrialView:
    """One trial as the views show it.

    Attributes
    ----------
    result : TrialResult
        Number, experiment id, the values tried, the search's state of the trial and its
        objective.
    status : str
        The experiment's own state (``completed``, ``pruned``, ``diverged``, ``cancelled``,
        ``failed``, ``interrupted``, ``running`` or ``queued``): the views draw pruned and
        diverged trials differently although the search counts both as pruned.
    verdict : str
        The cost-curve advisor's label (``"LR too small: try ×3"``), "" before it has one.
    detail : str
        The advisor's explanation.
    train_cost : ndarray, shape (epochs,)
        The training cost per epoch (a copy; NaN where not measured).
    message : str
        How the experiment ended (a pruned trial's message says at which epoch and why).
    """

    result: TrialResult
    status: str
    verdict: str = ""
    detail: str = ""
    train_cost: np.ndarray = field(default_factory=lambda: np.empty(0))
    message: str = ""

    @property
    def number(self) -> int:
        return self.result.number

    @property
    def experiment_id(self) -> int:
        return self.result.experiment_id

    @property
    def params(self) -> Mapping[str, Any]:
        return self.result.params

    @property
    def value(self) -> float | None:
        value = self.result.value
        return value if value is not None and math.isfinite(value) else None

    @property
    def complete(self) -> bool:
        return self.result.state is TrialState.COMPLETE and self.value is not None

    @property
    def finished(self) -> bool:
        return self.result.state is not TrialState.RUNNING


@dataclass(frozen=True)
class SearchSnapshot:
    """A search and its trials at one moment.

    Attributes
    ----------
    name : str
    spec : SearchSpec
    state : str
        ``running``, ``paused``, ``finished`` or ``cancelled``.
    trials : tuple of TrialView
        By trial number.
    metric : str
        ``accuracy`` or ``r2``: what "validation metric" means on this session's data.
    progress : str
        The runner's one line (``"grid search 1: running, 4/12 trials done, best 0.9"``).
    """

    name: str
    spec: SearchSpec
    state: str
    trials: tuple[TrialView, ...] = ()
    metric: str = "accuracy"
    progress: str = ""

    @property
    def objective_label(self) -> str:
        """The axis label of the objective: ``val. accuracy``, ``val. R²`` or ``val. cost``."""
        if not self.spec.maximize:
            return "val. cost"
        return "val. R²" if self.metric == "r2" else "val. accuracy"

    def results(self) -> list[TrialResult]:
        return [t.result for t in self.trials]

    def best(self) -> TrialView | None:
        done = [t for t in self.trials if t.complete]
        if not done:
            return None
        key = (lambda t: t.value) if self.spec.maximize else (lambda t: -t.value)
        return max(done, key=key)


def best_so_far(trials: Iterable[TrialView], maximize: bool) -> tuple[np.ndarray, np.ndarray]:
    """The best complete objective among trials ``1 .. n``, for each trial number ``n``.

    Returns
    -------
    numbers : ndarray, shape (k,)
        Trial numbers, from the first complete trial on (before it there is no best).
    best : ndarray, shape (k,)
    """
    numbers: list[float] = []
    values: list[float] = []
    best = -math.inf if maximize else math.inf
    for trial in sorted(trials, key=lambda t: t.number):
        if not trial.finished:
            continue
        value = trial.value
        if trial.complete and value is not None:
            best = max(best, value) if maximize else min(best, value)
        if math.isfinite(best):
            numbers.append(trial.number)
            values.append(best)
    return np.asarray(numbers, dtype=float), np.asarray(values, dtype=float)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(
        value)


def is_categorical(spec: SearchSpec, name: str) -> bool:
    """True if ``name`` takes values that are not all numbers (choices, hidden-layer lists,
    ``full`` batches): the views place them at evenly spaced positions with their names."""
    dim = spec.space.dimensions[name]
    if isinstance(dim, Range):
        return False
    return not all(_is_number(v) for v in dim.values)


def categories(spec: SearchSpec, name: str) -> list[Any]:
    """The values of a categorical dimension, in the spec's order, as plain data."""
    dim = spec.space.dimensions[name]
    assert isinstance(dim, Values)
    return [list(v) if isinstance(v, tuple) else v for v in dim.values]


def format_value(name: str, value: Any) -> str:
    """A value as a person reads it: ``4-8`` for hidden layers, ``full`` for a full batch."""
    if isinstance(value, list | tuple):
        return "-".join(str(v) for v in value) if value else "none"
    if value is None:
        return "full" if name == "batch_size" else "off"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_params(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{name}={format_value(name, value)}" for name, value in params.items())


def _same_search(a: SearchSpec, b: SearchSpec) -> bool:
    return a.to_dict() == b.to_dict()


def explanation_for(spec: SearchSpec) -> str:
    """Why a preset search tries what it tries ("" for a search of the person's own)."""
    _, lab = learning_rate_lab()
    if _same_search(spec, lab):
        return LR_LAB_EXPLANATION
    _, compared = strategy_comparison()
    if any(_same_search(spec, other) for other in compared):
        return COMPARISON_EXPLANATION
    return ""


def numeric_bounds(spec: SearchSpec, name: str, seen: Sequence[float] = ()) -> tuple[float,
                                                                                      float]:
    """The span of a numeric dimension: a range's ends, or the listed values' extremes
    (widened to include any value ``seen`` outside them)."""
    dim = spec.space.dimensions[name]
    if isinstance(dim, Range):
        low, high = dim.low, dim.high
    else:
        numbers = [float(v) for v in dim.values if _is_number(v)]
        low, high = (min(numbers), max(numbers)) if numbers else (0.0, 1.0)
    finite = [v for v in seen if math.isfinite(v)]
    if finite:
        low, high = min(low, *finite), max(high, *finite)
    return low, high
