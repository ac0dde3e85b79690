"""Ready-made searches that show the lesson happen: the learning-rate lab, and grid vs random
vs Bayesian search on the same budget."""

from __future__ import annotations

from ..core.data.spec import DatasetSpec
from .spec import SearchSpec

__all__ = [
    "LR_LAB_ALPHAS",
    "LR_LAB_EXPLANATION",
    "COMPARISON_EXPLANATION",
    "learning_rate_lab",
    "strategy_comparison",
]

LR_LAB_ALPHAS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0)
"""The lesson's 1-3-10 steps, from far too small to far too large for this network."""

LR_LAB_EXPLANATION = (
    "The learning-rate lab trains the lesson's network on the planar 'flower' (4 tanh units, "
    "Xavier initialisation, plain gradient descent, full batch, 2,000 epochs) once for each "
    "alpha in 1-3-10 steps from 0.001 to 300. Plain gradient descent, so alpha alone sets the "
    "step; tanh units saturate, which keeps the cost bounded until alpha is very large, so the "
    "grid runs far above 1 to reach the point where training breaks down. On this data "
    "alpha up to 0.1 is still learning slowly after 2,000 epochs (too small: try x3); 0.3 and "
    "1 bring the cost down steadily (good); from 3 the cost zig-zags from one epoch to the "
    "next (too large: oscillating), though accuracy can still look fine; 30 and 100 make it "
    "climb; 300 diverges within a few epochs. Each run takes well under a second."
)

COMPARISON_EXPLANATION = (
    "Grid, random and Bayesian (TPE) search with the same budget of 12 trials over the same "
    "space (alpha from 0.001 to 10 on a log scale, 2 to 16 hidden units), on the planar "
    "data. The grid tries 4 alphas x 3 sizes; random search draws 12 points; TPE starts "
    "like random search and then proposes values near the best so far. Compare their "
    "best-so-far curves."
)


def learning_rate_lab() -> tuple[DatasetSpec, SearchSpec]:
    """The lab's data and its grid over alpha (see :data:`LR_LAB_EXPLANATION`)."""
    spec = SearchSpec.from_dict({
        "fixed": {"epochs": 2000, "hidden": [4], "activation": "tanh", "init": "xavier",
                  "optimizer": "gd"},
        "search": {"strategy": "grid", "prune": False, "objective": "accuracy",
                   "space": {"alpha": list(LR_LAB_ALPHAS)}},
    })
    return DatasetSpec(name="planar"), spec


def strategy_comparison(trials: int = 12, seed: int = 0) -> tuple[DatasetSpec,
                                                                  list[SearchSpec]]:
    """Three searches, one per strategy, on the same space and budget."""
    fixed = {"epochs": 1500, "activation": "tanh", "init": "xavier", "optimizer": "gd"}
    ranged = {"alpha": {"low": 0.001, "high": 10.0, "log": True},
              "units": {"low": 2, "high": 16, "log": True}}
    gridded = {"alpha": {"low": 0.001, "high": 10.0, "log": True, "steps": 4},
               "units": [2, 5, 16]}
    specs = [
        SearchSpec.from_dict({"fixed": {**fixed, "layers": 1}, "search": {
            "strategy": "grid", "trials": trials, "space": gridded, "prune": False}}),
        SearchSpec.from_dict({"fixed": {**fixed, "layers": 1}, "search": {
            "strategy": "random", "trials": trials, "seed": seed, "space": ranged,
            "prune": False}}),
        SearchSpec.from_dict({"fixed": {**fixed, "layers": 1}, "search": {
            "strategy": "bayesian", "trials": trials, "seed": seed, "space": ranged,
            "prune": False}}),
    ]
    return DatasetSpec(name="planar"), specs
