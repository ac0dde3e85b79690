"""A search, described as data: what varies, what stays fixed, how to choose, and the budget.

The same :class:`SearchSpec` comes from the search dialog, from a TOML file for
``dnnstudio sweep``, and from a session file, and every one of them goes through
:meth:`SearchSpec.from_dict`, so a bad value gets the same message naming its key wherever it
came from::

    [dataset]
    name = "planar"            # or: csv = "data.csv", target = "label"
    [fixed]
    epochs = 2000
    hidden = [4]
    activation = "tanh"
    [search]
    strategy = "grid"          # grid | random | bayesian
    trials = 20                # random and bayesian (a grid runs all its points)
    seconds = 600              # optional wall-time budget
    seed = 0
    objective = "accuracy"     # accuracy (R² for regression) | cost
    parallel = 2               # at most this many trials at once (default: the queue's)
    prune = true               # stop hopeless trials early (median rule)
    folds = 5                  # optional: judge each trial by k-fold cross-validation
    [search.space]
    alpha = [0.001, 0.01, 0.1]                  # a list: these values
    hidden = [[4], [8]]
    # alpha = { low = 1e-4, high = 1.0, log = true }   a range (log: the default for alpha)
    # units = { low = 2, high = 64, steps = 6 }        a range in a grid needs steps
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.data.spec import DatasetSpec
from ..core.errors import DnnStudioError, HyperparameterError
from ..core.hyperparams import Hyperparameters
from .space import SearchSpace, SpecError, finite, hyperparameters_for

__all__ = [
    "OBJECTIVES",
    "STRATEGIES",
    "PruningSpec",
    "SearchSpec",
]

STRATEGIES = ("grid", "random", "bayesian")
OBJECTIVES = ("accuracy", "cost")
"""``accuracy``: maximise the validation metric (accuracy, or R² for a regression);
``cost``: minimise the validation cost."""
_OBJECTIVE_ALIASES = {"accuracy": "accuracy", "val_metric": "accuracy", "r2": "accuracy",
                      "metric": "accuracy", "cost": "cost", "val_cost": "cost"}
MAX_TRIALS = 100_000
MAX_FOLDS = 20


@dataclass(frozen=True)
class PruningSpec:
    """The median rule: once ``warmup_trials`` trials have finished, a running trial whose best
    validation cost so far is above the median of the finished trials' best at the same epoch
    is stopped, but never before ``warmup_fraction`` of its epochs."""

    enabled: bool = True
    warmup_trials: int = 4
    warmup_fraction: float = 0.1

    def to_data(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _int(key: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SpecError(key, f"{value!r} is not a whole number from {low:,} to {high:,}")
    return value


def _check_keys(key: str, data: Mapping[str, Any], allowed: set[str]) -> None:
    for name in data:
        if name not in allowed:
            raise SpecError(f"{key}.{name}" if key else str(name),
                            "unknown key; expected one of " + ", ".join(sorted(allowed)))


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise SpecError(key, "must be a table of keys and values")
    return value


@dataclass(frozen=True)
class SearchSpec:
    """One search.

    Attributes
    ----------
    space : SearchSpace
    fixed : dict
        Hyperparameters every trial shares (the rest take their defaults).
    strategy : str
        ``grid``, ``random`` or ``bayesian``.
    trials : int or None
        Most trials to run (a grid runs all of its points unless this is smaller).
    seconds : float or None
        Wall-time budget: no trial starts after it (running ones finish).
    seed : int
    objective : str
        ``accuracy`` or ``cost``.
    parallel : int or None
        Most trials at once (None: the queue's limit).
    pruning : PruningSpec
    folds : int or None
        Judge each trial by k-fold cross-validation over the training and validation rows
        (the mean over the folds) instead of by the one validation set: less optimistic
        when many configurations are compared on a small dataset, and k times the work.
    dataset : DatasetSpec or None
        The data, for a search run on its own (``dnnstudio sweep``); the app uses the
        session's.
    """

    space: SearchSpace
    fixed: Mapping[str, Any] = field(default_factory=dict)
    strategy: str = "grid"
    trials: int | None = None
    seconds: float | None = None
    seed: int = 0
    objective: str = "accuracy"
    parallel: int | None = None
    pruning: PruningSpec = field(default_factory=PruningSpec)
    folds: int | None = None
    dataset: DatasetSpec | None = None

    # -- reading --------------------------------------------------------------------------
    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> SearchSpec:
        """Read a spec file.

        Raises
        ------
        SpecError
            The file cannot be read, is not TOML, or a value is refused; the message names
            the key (or the line, for TOML syntax).
        """
        path = Path(path)
        try:
            text = path.read_bytes().decode("utf-8")
        except OSError as exc:
            raise SpecError(str(path), f"cannot read the spec: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise SpecError(str(path), "the spec is not UTF-8 text") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SpecError(str(path), f"not valid TOML: {exc}") from None
        spec = cls.from_dict(data)
        if spec.dataset is not None and spec.dataset.source == "csv":
            # A CSV path in a spec is relative to the spec's own folder.
            csv = Path(spec.dataset.path)
            if not csv.is_absolute():
                spec = dataclasses.replace(spec, dataset=spec.dataset.replace(
                    path=str((path.parent / csv).resolve())))
        return spec

    @classmethod
    def from_dict(cls, data: Any) -> SearchSpec:
        """Build from the TOML layout (``dataset``, ``fixed``, ``search`` tables).

        Raises
        ------
        SpecError
        """
        if not isinstance(data, Mapping):
            raise SpecError("spec", "must be a table with [fixed] and [search]")
        _check_keys("", data, {"dataset", "fixed", "search"})
        dataset = _dataset(data["dataset"]) if "dataset" in data else None
        fixed = dict(_table(data, "fixed"))
        try:
            hyperparameters_for(fixed, {})
        except HyperparameterError as exc:
            raise SpecError(f"fixed.{exc.field}", str(exc)) from None
        search = _table(data, "search")
        _check_keys("search", search, {"strategy", "trials", "seconds", "seed", "objective",
                                       "parallel", "prune", "pruning", "space", "folds"})
        strategy = search.get("strategy", "grid")
        if not isinstance(strategy, str) or strategy not in STRATEGIES:
            raise SpecError("search.strategy",
                            f"{strategy!r} is not one of {', '.join(STRATEGIES)}")
        space = SearchSpace.from_data(search.get("space"), fixed)
        trials = search.get("trials")
        if trials is not None:
            trials = _int("search.trials", trials, 1, MAX_TRIALS)
        seconds = search.get("seconds")
        if seconds is not None and (isinstance(seconds, bool)
                                    or not isinstance(seconds, int | float)
                                    or not finite(seconds) or seconds <= 0):
            raise SpecError("search.seconds", f"{seconds!r} is not a number of seconds > 0")
        if strategy == "grid":
            space.grid_size()  # a range without steps is refused here, with its key
        elif trials is None and seconds is None:
            raise SpecError("search.trials", f"a {strategy} search needs a budget: trials = N "
                            "and/or seconds = S")
        seed = _int("search.seed", search.get("seed", 0), 0, 2**32 - 1)
        objective = search.get("objective", "accuracy")
        if not isinstance(objective, str) or objective not in _OBJECTIVE_ALIASES:
            raise SpecError("search.objective",
                            f"{objective!r} is not one of {', '.join(OBJECTIVES)}")
        parallel = search.get("parallel")
        if parallel is not None:
            parallel = _int("search.parallel", parallel, 1, 1024)
        pruning = _pruning(search)
        folds = search.get("folds")
        if folds is not None:
            folds = _int("search.folds", folds, 2, MAX_FOLDS)
        return cls(space=space, fixed=fixed, strategy=strategy, trials=trials,
                   seconds=None if seconds is None else float(seconds), seed=seed,
                   objective=_OBJECTIVE_ALIASES[objective], parallel=parallel,
                   pruning=pruning, folds=folds, dataset=dataset)

    def to_dict(self) -> dict[str, Any]:
        """Plain data in the TOML layout; :meth:`from_dict` reads it back equal."""
        search: dict[str, Any] = {"strategy": self.strategy, "seed": self.seed,
                                  "objective": self.objective,
                                  "pruning": self.pruning.to_data(),
                                  "space": self.space.to_data()}
        for key in ("trials", "seconds", "parallel", "folds"):
            if getattr(self, key) is not None:
                search[key] = getattr(self, key)
        out: dict[str, Any] = {"fixed": dict(self.fixed), "search": search}
        if self.dataset is not None:
            out["dataset"] = self.dataset.to_dict()
        return out

    # -- derived --------------------------------------------------------------------------
    @property
    def maximize(self) -> bool:
        return self.objective == "accuracy"

    def planned_trials(self) -> int | None:
        """How many trials at most (None: until the time budget runs out)."""
        if self.strategy == "grid":
            size = self.space.grid_size()
            return size if self.trials is None else min(size, self.trials)
        return self.trials

    def hyperparameters(self, params: Mapping[str, Any]) -> Hyperparameters:
        """The experiment for one trial's ``params``."""
        return hyperparameters_for(self.fixed, params)

    def describe(self) -> str:
        """One line for the user: strategy, what varies, budget."""
        planned = self.planned_trials()
        budget = [f"{planned} trials" if planned is not None else "",
                  f"{self.seconds:g} s" if self.seconds is not None else ""]
        if self.folds:
            budget.append(f"{self.folds}-fold cross-validation")
        return (f"{self.strategy} search over {', '.join(self.space.names)}"
                f" ({', '.join(b for b in budget if b)})")


def _pruning(search: Mapping[str, Any]) -> PruningSpec:
    prune = search.get("prune", True)
    if not isinstance(prune, bool):
        raise SpecError("search.prune", f"{prune!r} is not true or false")
    table = search.get("pruning", {})
    if not isinstance(table, Mapping):
        raise SpecError("search.pruning", "must be a table")
    _check_keys("search.pruning", table, {"enabled", "warmup_trials", "warmup_fraction"})
    enabled = table.get("enabled", prune)
    if not isinstance(enabled, bool):
        raise SpecError("search.pruning.enabled", f"{enabled!r} is not true or false")
    warmup = _int("search.pruning.warmup_trials", table.get("warmup_trials", 4), 1, 1000)
    fraction = table.get("warmup_fraction", 0.1)
    if (isinstance(fraction, bool) or not isinstance(fraction, int | float)
            or not 0 <= fraction < 1):
        raise SpecError("search.pruning.warmup_fraction",
                        f"{fraction!r} is not a fraction from 0 to below 1")
    return PruningSpec(enabled, warmup, float(fraction))


def _dataset(data: Any) -> DatasetSpec:
    if not isinstance(data, Mapping):
        raise SpecError("dataset", "must be a table: name = \"planar\" or csv = \"file.csv\"")
    if "source" in data:  # the layout to_dict writes
        try:
            return DatasetSpec.from_dict(data)
        except (DnnStudioError, TypeError, ValueError) as exc:
            raise SpecError("dataset", str(exc)) from None
    _check_keys("dataset", data, {"name", "csv", "target", "task", "n_samples", "noise",
                                  "seed", "split"})
    if "name" in data and "csv" in data:
        raise SpecError("dataset", "give name or csv, not both")
    values: dict[str, Any] = {}
    if "csv" in data:
        if not isinstance(data["csv"], str) or not data["csv"]:
            raise SpecError("dataset.csv", "must be the path of a CSV file")
        values.update(source="csv", path=data["csv"])
        if "target" in data:
            if not isinstance(data["target"], str):
                raise SpecError("dataset.target", "must be a column name")
            values["target"] = data["target"]
    else:
        from ..core.data.registry import list_datasets

        name = data.get("name", "planar")
        names = [info.name for info in list_datasets()]
        if name not in names:
            raise SpecError("dataset.name", f"{name!r} is not one of {', '.join(names)}")
        values.update(source="builtin", name=name)
        if "target" in data:
            raise SpecError("dataset.target", "only a csv dataset has a target column")
    for key in ("task", "n_samples", "noise", "seed", "split"):
        if key in data:
            values[key] = tuple(data[key]) if key == "split" and isinstance(
                data[key], list) else data[key]
    try:
        spec = DatasetSpec(**values)
        _check_split(spec)
    except (DnnStudioError, TypeError, ValueError) as exc:
        raise SpecError("dataset", str(exc)) from None
    return spec


def _check_split(spec: DatasetSpec) -> None:
    split = spec.split
    if len(split) != 3 or any(not 0 <= f <= 1 for f in split) or not math.isclose(
            sum(split), 1.0, abs_tol=1e-6):
        raise ValueError(f"split must be three fractions that add up to 1, not {list(split)}")
    if isinstance(spec.seed, bool) or not isinstance(spec.seed, int) or spec.seed < 0:
        raise ValueError(f"seed must be a whole number >= 0, not {spec.seed!r}")
