"""Hyperparameter search: grid, random and Bayesian, with pruning. No Qt here.

A :class:`SearchSpec` says what varies and how (:mod:`.space`), which strategy chooses the
trials (:mod:`.strategies`: every one speaks ask/tell), the budget and the objective; a
:class:`SearchRunner` runs it as a group of experiments on the experiment queue, stopping
hopeless trials with the median rule (:mod:`.pruning`).
"""

from __future__ import annotations

from dnnstudio.search.pruning import MedianRule, PruneDecision
from dnnstudio.search.runner import (
    SearchRunner,
    SearchState,
    next_search_name,
    objective_value,
    restore_all,
    trial_results,
)
from dnnstudio.search.space import Range, SearchSpace, SpecError, Values
from dnnstudio.search.spec import PruningSpec, SearchSpec
from dnnstudio.search.strategies import (
    BayesianStrategy,
    GridStrategy,
    RandomStrategy,
    Strategy,
    TrialResult,
    TrialState,
    make_strategy,
    optuna_study,
)

__all__ = [
    "BayesianStrategy",
    "GridStrategy",
    "MedianRule",
    "PruneDecision",
    "PruningSpec",
    "RandomStrategy",
    "Range",
    "SearchRunner",
    "SearchSpace",
    "SearchSpec",
    "SearchState",
    "SpecError",
    "Strategy",
    "TrialResult",
    "TrialState",
    "Values",
    "make_strategy",
    "next_search_name",
    "objective_value",
    "optuna_study",
    "restore_all",
    "trial_results",
]
