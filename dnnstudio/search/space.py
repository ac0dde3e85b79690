"""What a search varies: one dimension per hyperparameter, and the space they make together.

A dimension is either a list of values to try (:class:`Values`: numbers, choices such as
activations, or hidden-layer lists) or a range (:class:`Range`: low to high, on a linear or a
log scale, whole numbers or not). A grid search takes the exact Cartesian product, so a range
in a grid needs ``steps``; random and Bayesian search sample ranges directly.

Besides every field of :class:`~dnnstudio.core.hyperparams.Hyperparameters`, a space (and a
search's fixed values) may name ``layers`` and ``units``: the network then has ``layers``
hidden layers of ``units`` each (``hidden = [units] * layers``), which is how the lesson
varies ``L`` and ``n[l]``.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np

from ..core.errors import DnnStudioError, HyperparameterError
from ..core.hyperparams import MAX_HIDDEN_LAYERS, Hyperparameters

__all__ = [
    "INTEGER_NAMES",
    "LOG_BY_DEFAULT",
    "SHAPE_NAMES",
    "Dimension",
    "Range",
    "SearchSpace",
    "SpecError",
    "Values",
    "hyperparameters_for",
    "params_of",
]

SHAPE_NAMES = ("layers", "units")
"""Names that describe the hidden layers together: ``hidden = [units] * layers``."""
LOG_BY_DEFAULT = frozenset({"alpha", "l2", "epsilon"})
"""Ranges of these are searched on a log scale unless the spec says ``log = false``: their
sensible values span orders of magnitude (the lesson's 0.001, 0.01, 0.1 ...)."""
INTEGER_NAMES = frozenset(
    {"epochs", "layers", "units", "batch_size", "patience", "seed", "decay_step"})
"""Hyperparameters that take whole numbers; their ranges are integer ranges."""
_HP_NAMES = frozenset(f.name for f in dataclasses.fields(Hyperparameters) if f.init)
KNOWN_NAMES = _HP_NAMES | set(SHAPE_NAMES)
MAX_GRID = 100_000
"""Largest grid a search may enumerate."""


class SpecError(DnnStudioError, ValueError):
    """A search spec that cannot run; ``key`` names the entry (``"search.space.alpha"``)."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"{key}: {problem}")


@dataclass(frozen=True)
class Values:
    """These values, in this order (a grid tries each; sampling picks one uniformly)."""

    values: tuple[Any, ...]

    def to_data(self) -> list[Any]:
        return [list(v) if isinstance(v, tuple) else v for v in self.values]


@dataclass(frozen=True)
class Range:
    """From ``low`` to ``high`` inclusive; ``log`` samples ``log(value)`` uniformly;
    ``integer`` rounds to whole numbers; ``steps`` is how many points a grid takes."""

    low: float
    high: float
    log: bool = False
    integer: bool = False
    steps: int | None = None

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {"low": self.low, "high": self.high, "log": self.log}
        if self.integer:
            out["int"] = True
        if self.steps is not None:
            out["steps"] = self.steps
        return out

    def grid(self) -> list[float | int]:
        """``steps`` evenly spaced points (on the log scale if ``log``), ends included."""
        if self.steps is None:
            raise ValueError("a range without steps has no grid")
        if self.steps == 1:
            points = np.array([self.low])
        elif self.log:
            points = np.geomspace(self.low, self.high, self.steps)
        else:
            points = np.linspace(self.low, self.high, self.steps)
        if self.integer:
            return list(dict.fromkeys(int(round(p)) for p in points))
        # Round away floating-point noise (0.30000000000000004) so values read well.
        return [float(f"{p:.12g}") for p in points]

    def sample(self, rng: np.random.Generator) -> float | int:
        if self.integer:
            if self.log:  # uniform in log(value) over [low, high + 1), then floored
                value = math.floor(math.exp(rng.uniform(math.log(self.low),
                                                        math.log(self.high + 1))))
                return int(min(self.high, max(self.low, value)))
            return int(rng.integers(int(self.low), int(self.high) + 1))
        if self.log:
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return float(rng.uniform(self.low, self.high))


Dimension: TypeAlias = Values | Range


def finite(value: float) -> bool:
    """True for a number that is finite as a float (an int too large for one is not)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _key(name: str) -> str:
    return f"search.space.{name}"


def _parse_dimension(name: str, data: Any) -> Dimension:
    key = _key(name)
    if isinstance(data, list | tuple):
        if not data:
            raise SpecError(key, "the list of values is empty; give at least one")
        values = tuple(tuple(v) if isinstance(v, list) else v for v in data)
        try:
            keys = {json.dumps(v, sort_keys=True) for v in values}
        except (TypeError, ValueError):
            raise SpecError(key, "values must be numbers, text, true/false or lists of them "
                            "(not dates or tables)") from None
        if len(keys) != len(values):
            raise SpecError(key, "a value is listed twice")
        return Values(values)
    if isinstance(data, Mapping):
        unknown = set(data) - {"low", "high", "log", "int", "steps"}
        if unknown:
            raise SpecError(f"{key}.{sorted(unknown)[0]}",
                            "unknown key; a range takes low, high, log, int and steps")
        for bound in ("low", "high"):
            value = data.get(bound)
            if value is None:
                raise SpecError(key, f"a range needs {bound} = a number")
            if (isinstance(value, bool) or not isinstance(value, int | float)
                    or not finite(value)):
                raise SpecError(f"{key}.{bound}", f"{value!r} is not a finite number")
        low, high = float(data["low"]), float(data["high"])
        if low > high:
            raise SpecError(key, f"low ({data['low']}) is above high ({data['high']})")
        log = data.get("log", name in LOG_BY_DEFAULT)
        if not isinstance(log, bool):
            raise SpecError(f"{key}.log", f"{log!r} is not true or false")
        if log and low <= 0:
            raise SpecError(key, f"a log-scale range needs low > 0, not {data['low']}")
        integer = data.get("int", name in INTEGER_NAMES)
        if not isinstance(integer, bool):
            raise SpecError(f"{key}.int", f"{integer!r} is not true or false")
        if name in INTEGER_NAMES and not integer:
            raise SpecError(f"{key}.int", f"{name} takes whole numbers only")
        if integer and (not float(low).is_integer() or not float(high).is_integer()):
            raise SpecError(key, "an integer range needs whole-number low and high")
        steps = data.get("steps")
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int)
                                  or not 1 <= steps <= MAX_GRID):
            raise SpecError(f"{key}.steps", f"{steps!r} is not a whole number from 1 to "
                            f"{MAX_GRID:,}")
        if name not in INTEGER_NAMES and integer is False and name in (
                "hidden", "activation", "init", "optimizer", "decay", "dtype"):
            raise SpecError(key, "this hyperparameter is not a number; give a list of values")
        return Range(low, high, log=log, integer=integer, steps=steps)
    raise SpecError(key, "give a list of values, or a range { low = ..., high = ... }")


def params_of(hp: Hyperparameters, names: Sequence[str]) -> dict[str, Any]:
    """The values of ``names`` in ``hp`` (``layers``/``units`` read from ``hidden``), as plain
    data (lists, not tuples)."""
    data = hp.to_dict()
    out: dict[str, Any] = {}
    for name in names:
        if name == "layers":
            out[name] = len(hp.hidden)
        elif name == "units":
            out[name] = int(hp.hidden[0]) if hp.hidden else 0
        else:
            out[name] = data[name]
    return out


def hyperparameters_for(fixed: Mapping[str, Any], params: Mapping[str, Any]) -> Hyperparameters:
    """The experiment that ``params`` (a trial's values) on top of ``fixed`` describe.

    Raises
    ------
    HyperparameterError
        A value is refused; its message names the field.
    """
    values = {**fixed, **params}
    layers = values.pop("layers", None)
    units = values.pop("units", None)
    if layers is not None or units is not None:
        base = values.get("hidden", Hyperparameters().hidden)
        if not isinstance(base, list | tuple):
            raise HyperparameterError("hidden", base, "a list of layer sizes (with layers or "
                                      "units, the sizes they replace)")
        if layers is None:
            layers = len(base)
        if units is None:
            units = base[0] if len(base) else Hyperparameters().hidden[0]
        if (isinstance(layers, bool) or not isinstance(layers, int)
                or not 0 <= layers <= MAX_HIDDEN_LAYERS):
            raise HyperparameterError("layers", layers,
                                      f"a whole number from 0 to {MAX_HIDDEN_LAYERS}")
        values["hidden"] = [units] * layers
    values = {k: (list(v) if isinstance(v, tuple) else v) for k, v in values.items()}
    return Hyperparameters.from_dict(values)


@dataclass(frozen=True)
class SearchSpace:
    """The dimensions of a search, in the order the spec gives them."""

    dimensions: Mapping[str, Dimension]

    @classmethod
    def from_data(cls, data: Any, fixed: Mapping[str, Any] | None = None) -> SearchSpace:
        """Parse ``{name: [values] | {low=, high=, ...}}``; each value is checked against the
        hyperparameters' own validation (on top of ``fixed``), so a bad value is refused here
        with its key, not when its trial starts.

        Raises
        ------
        SpecError
        """
        if not isinstance(data, Mapping) or not data:
            raise SpecError("search.space", "name at least one hyperparameter to vary")
        fixed = dict(fixed or {})
        dimensions: dict[str, Dimension] = {}
        for name, value in data.items():
            if name not in KNOWN_NAMES:
                raise SpecError(_key(str(name)), "not a hyperparameter; known: "
                                + ", ".join(sorted(KNOWN_NAMES)))
            if name in fixed:
                raise SpecError(_key(name), "is also in [fixed]; keep it in one place")
            dimensions[name] = dim = _parse_dimension(name, value)
            probes = (dim.values if isinstance(dim, Values)
                      else (dim.low, dim.high) if not dim.integer
                      else (int(dim.low), int(dim.high)))
            for i, probe in enumerate(probes):
                try:
                    hyperparameters_for(fixed, {name: probe})
                except HyperparameterError as exc:
                    where = f"{_key(name)}[{i}]" if isinstance(dim, Values) else _key(name)
                    raise SpecError(where, str(exc)) from None
        if "hidden" in dimensions and ({"layers", "units"} & set(dimensions)):
            raise SpecError("search.space.hidden",
                            "vary either hidden or layers/units, not both")
        return cls(dimensions)

    def to_data(self) -> dict[str, Any]:
        return {name: dim.to_data() for name, dim in self.dimensions.items()}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.dimensions)

    def is_log(self, name: str) -> bool:
        """True if ``name`` is best shown on a log axis."""
        dim = self.dimensions[name]
        if isinstance(dim, Range):
            return dim.log
        numbers = [v for v in dim.values if isinstance(v, int | float)
                   and not isinstance(v, bool)]
        if len(numbers) != len(dim.values) or len(numbers) < 3 or min(numbers) <= 0:
            return name in LOG_BY_DEFAULT and bool(numbers) and min(numbers, default=0) > 0
        return max(numbers) / min(numbers) >= 100

    def grid_size(self) -> int:
        """How many points the grid has.

        Raises
        ------
        SpecError
            A range has no ``steps``.
        """
        size = 1
        for name, dim in self.dimensions.items():
            if isinstance(dim, Range):
                if dim.steps is None:
                    raise SpecError(_key(name), "a grid needs a list of values, or a range "
                                    "with steps = how many points")
                size *= len(dim.grid())
            else:
                size *= len(dim.values)
        return size

    def grid(self) -> Iterator[dict[str, Any]]:
        """Every combination, the last dimension varying fastest."""
        self.grid_size()
        axes = [dim.grid() if isinstance(dim, Range) else list(dim.values)
                for dim in self.dimensions.values()]
        for combo in itertools.product(*axes):
            yield {name: _plain(v) for name, v in zip(self.dimensions, combo, strict=True)}

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """One point drawn independently per dimension."""
        out: dict[str, Any] = {}
        for name, dim in self.dimensions.items():
            if isinstance(dim, Range):
                out[name] = dim.sample(rng)
            else:
                out[name] = _plain(dim.values[int(rng.integers(len(dim.values)))])
        return out


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
