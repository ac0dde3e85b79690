"""Hyperparameters: what the person chooses before training.

Parameters (``W[l]``, ``b[l]``) are learned; hyperparameters control how they are learned. An
experiment's hyperparameters are one frozen, validated :class:`Hyperparameters` value. Every
invalid value is refused with a :class:`~dnnstudio.core.errors.HyperparameterError` naming the
field, the value and what is allowed; the same validation serves the editor, the CLI and
session files.

Notation follows the course: the network has ``L`` layers with ``n[0] = n_x`` input features,
hidden layers ``n[1] .. n[L-1]`` and the output layer ``n[L]``; ``W[l]`` has shape
``(n[l], n[l-1])`` and ``b[l]`` has shape ``(n[l], 1)``.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import HyperparameterError

ACTIVATIONS: tuple[str, ...] = ("relu", "leaky_relu", "tanh", "sigmoid")
"""Hidden-layer activations. The output layer's activation follows the task."""
INITS: tuple[str, ...] = ("he", "xavier", "small")
"""Weight initialisations: He (``sqrt(2/n[l-1])``), Xavier (``sqrt(1/n[l-1])``) and the
course's first choice, small random numbers ``× 0.01``, which stalls deep networks."""
OPTIMIZERS: tuple[str, ...] = ("gd", "momentum", "rmsprop", "adam")
DECAYS: tuple[str, ...] = ("none", "inverse_time", "exponential", "step")
DTYPES: tuple[str, ...] = ("float32", "float64")

MAX_UNITS = 100_000
"""Most units one hidden layer may have."""
MAX_HIDDEN_LAYERS = 100
MAX_EPOCHS = 10_000_000


def _is_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    # An int too large for a float (10**400 from a JSON file) is refused like infinity, not
    # with an OverflowError from float().
    return isinstance(value, float) or abs(value) <= sys.float_info.max


def _is_int(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    # 10.0 from a JSON file or a spin box is an integer; 10.5 is not.
    return isinstance(value, float) and math.isfinite(value) and value.is_integer()


@dataclass(frozen=True)
class Hyperparameters:
    """One experiment's hyperparameters, in the lesson's terms.

    Attributes
    ----------
    alpha : float
        Learning rate, > 0. Too small learns slowly; too large oscillates or diverges.
    epochs : int
        Passes over the training set (with full-batch gradient descent: iterations), >= 1.
    hidden : tuple of int
        Hidden layer sizes ``n[1] .. n[L-1]``; empty means no hidden layer (logistic or
        softmax regression), so ``L = len(hidden) + 1``.
    activation : str or tuple of str
        Hidden activation, one for all hidden layers or one per hidden layer.
    init : str
        ``"he"``, ``"xavier"`` or ``"small"`` (random × 0.01). Biases start at zero.
    optimizer : str
        ``"gd"``, ``"momentum"`` (uses ``beta``), ``"rmsprop"`` (uses ``beta2``, ``epsilon``)
        or ``"adam"`` (uses ``beta1``, ``beta2``, ``epsilon``).
    beta, beta1, beta2, epsilon : float
        Optimizer constants; betas in [0, 1), epsilon > 0.
    batch_size : int or None
        Mini-batch size; None means full batch (every example in every step).
    l2 : float
        L2 regularisation lambda, >= 0: adds ``lambda / (2 m) * sum ||W[l]||^2`` to the cost.
    keep_prob : float
        Inverted-dropout keep probability for hidden layers, in (0, 1]; 1 means no dropout.
    decay : str
        Learning-rate decay per epoch: ``"none"``; ``"inverse_time"``:
        ``alpha / (1 + decay_rate * epoch)``; ``"exponential"``: ``alpha * decay_rate ** epoch``;
        ``"step"``: ``alpha * decay_rate ** (epoch // decay_step)``.
    decay_rate : float
    decay_step : int
    patience : int or None
        Early stopping: stop after this many epochs without a lower validation cost and keep
        the best parameters. None turns it off.
    seed : int
        Seeds initialisation, shuffling and dropout; the same seed gives the same result.
    dtype : str
        ``"float32"`` (faster) or ``"float64"``.
    """

    alpha: float = 0.01
    epochs: int = 1000
    hidden: tuple[int, ...] = (64, 64)
    activation: str | tuple[str, ...] = "relu"
    init: str = "he"
    optimizer: str = "gd"
    beta: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    batch_size: int | None = None
    l2: float = 0.0
    keep_prob: float = 1.0
    decay: str = "none"
    decay_rate: float = 1.0
    decay_step: int = 100
    patience: int | None = None
    seed: int = 0
    dtype: str = "float32"

    def __post_init__(self) -> None:
        # Normalise friendly forms (a list for a tuple, 10.0 for 10) so that equal choices
        # compare equal and round-trip through JSON unchanged.
        hidden = self.hidden
        # Bytes are sequences of ints too, but b"@@" is no list of layer sizes.
        if isinstance(hidden, Sequence) and not isinstance(
            hidden, str | bytes | bytearray | memoryview | tuple
        ):
            object.__setattr__(self, "hidden", tuple(hidden))
        for name in ("epochs", "decay_step", "seed"):
            value = getattr(self, name)
            if _is_int(value):
                object.__setattr__(self, name, int(value))
        for name in ("batch_size", "patience"):
            value = getattr(self, name)
            if value is not None and _is_int(value):
                object.__setattr__(self, name, int(value))
        if isinstance(self.hidden, tuple) and all(_is_int(n) for n in self.hidden):
            object.__setattr__(self, "hidden", tuple(int(n) for n in self.hidden))
        activation = self.activation
        if isinstance(activation, list | tuple):
            acts = tuple(activation)
            if len(acts) > 0 and all(a == acts[0] for a in acts) and isinstance(acts[0], str):
                object.__setattr__(self, "activation", acts[0])
            else:
                object.__setattr__(self, "activation", acts)
        for name in ("alpha", "beta", "beta1", "beta2", "epsilon", "l2", "keep_prob",
                     "decay_rate"):
            value = getattr(self, name)
            if _is_number(value):
                object.__setattr__(self, name, float(value))
        self._validate()

    # -- validation -----------------------------------------------------------------------
    def _validate(self) -> None:
        _positive_float("alpha", self.alpha)
        _int_in("epochs", self.epochs, 1, MAX_EPOCHS)
        if not isinstance(self.hidden, tuple):
            raise HyperparameterError(
                "hidden", self.hidden, "a list of layer sizes, e.g. [64, 64] (or [] for none)"
            )
        if len(self.hidden) > MAX_HIDDEN_LAYERS:
            raise HyperparameterError(
                "hidden", self.hidden, f"at most {MAX_HIDDEN_LAYERS} hidden layers"
            )
        for i, units in enumerate(self.hidden, start=1):
            if not _is_int(units) or not 1 <= units <= MAX_UNITS:
                raise HyperparameterError(
                    f"n[{i}]", units, f"a whole number of units from 1 to {MAX_UNITS:,}"
                )
        if isinstance(self.activation, str):
            _choice("activation", self.activation, ACTIVATIONS)
        elif isinstance(self.activation, tuple):
            if len(self.activation) != len(self.hidden):
                raise HyperparameterError(
                    "activation",
                    list(self.activation),
                    f"one name for all hidden layers, or a list of {len(self.hidden)} "
                    "(one per hidden layer)",
                )
            for i, act in enumerate(self.activation, start=1):
                _choice(f"activation[{i}]", act, ACTIVATIONS)
        else:
            raise HyperparameterError("activation", self.activation, _one_of(ACTIVATIONS))
        _choice("init", self.init, INITS)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        for name in ("beta", "beta1", "beta2"):
            value = getattr(self, name)
            if not _is_number(value) or not 0.0 <= value < 1.0:
                raise HyperparameterError(name, value, "a number from 0 up to (not including) 1")
        _positive_float("epsilon", self.epsilon)
        if self.batch_size is not None:
            _int_in("batch_size", self.batch_size, 1, 2**31 - 1, none_hint=True)
        if not _is_number(self.l2) or not (math.isfinite(self.l2) and self.l2 >= 0):
            raise HyperparameterError("l2", self.l2, "a number >= 0 (0 turns L2 off)")
        if not _is_number(self.keep_prob) or not 0.0 < self.keep_prob <= 1.0:
            raise HyperparameterError(
                "keep_prob", self.keep_prob, "a probability in (0, 1] (1 turns dropout off)"
            )
        _choice("decay", self.decay, DECAYS)
        if self.decay == "exponential" or self.decay == "step":
            if not _is_number(self.decay_rate) or not 0.0 < self.decay_rate <= 1.0:
                raise HyperparameterError(
                    "decay_rate", self.decay_rate,
                    f"a factor in (0, 1] for {self.decay} decay (e.g. 0.95)",
                )
        elif not _is_number(self.decay_rate) or not (
            math.isfinite(self.decay_rate) and self.decay_rate >= 0
        ):
            raise HyperparameterError("decay_rate", self.decay_rate, "a number >= 0")
        _int_in("decay_step", self.decay_step, 1, MAX_EPOCHS)
        if self.patience is not None:
            _int_in("patience", self.patience, 1, MAX_EPOCHS, none_hint=True)
        _int_in("seed", self.seed, 0, 2**32 - 1)
        _choice("dtype", self.dtype, DTYPES)

    # -- derived values -------------------------------------------------------------------
    @property
    def L(self) -> int:
        """Number of layers with parameters (hidden layers plus the output layer)."""
        return len(self.hidden) + 1

    @property
    def hidden_activations(self) -> tuple[str, ...]:
        """The activation of each hidden layer ``1 .. L-1``."""
        if isinstance(self.activation, str):
            return (self.activation,) * len(self.hidden)
        return self.activation

    def layer_sizes(self, n_x: int, n_y: int) -> tuple[int, ...]:
        """``(n[0], n[1], ..., n[L])`` for ``n_x`` input features and ``n_y`` outputs."""
        return (int(n_x), *self.hidden, int(n_y))

    def parameter_shapes(self, n_x: int, n_y: int) -> list[tuple[str, tuple[int, int]]]:
        """Names and shapes of the learned parameters, in the course's orientation.

        Returns
        -------
        list of (name, shape)
            ``[("W[1]", (n[1], n[0])), ("b[1]", (n[1], 1)), ..., ("b[L]", (n[L], 1))]``.
        """
        sizes = self.layer_sizes(n_x, n_y)
        shapes: list[tuple[str, tuple[int, int]]] = []
        for l in range(1, len(sizes)):  # noqa: E741 - the course's layer index
            shapes.append((f"W[{l}]", (sizes[l], sizes[l - 1])))
            shapes.append((f"b[{l}]", (sizes[l], 1)))
        return shapes

    def parameter_count(self, n_x: int, n_y: int) -> int:
        """Total number of learned numbers in all ``W[l]`` and ``b[l]``."""
        return sum(rows * cols for _, (rows, cols) in self.parameter_shapes(n_x, n_y))

    def learning_rate(self, epoch: int) -> float:
        """The learning rate in effect during ``epoch`` (0-based), after decay."""
        if self.decay == "inverse_time":
            return self.alpha / (1.0 + self.decay_rate * epoch)
        if self.decay == "exponential":
            return self.alpha * self.decay_rate**epoch
        if self.decay == "step":
            return self.alpha * self.decay_rate ** (epoch // self.decay_step)
        return self.alpha

    def replace(self, **changes: Any) -> Hyperparameters:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    # -- plain data -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-ready dict; :meth:`from_dict` turns it back into an equal value."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if not f.init:
                continue
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Hyperparameters:
        """Build from a dict such as :meth:`to_dict` writes; unknown keys are refused.

        Missing keys take their defaults, so files written by older versions still load.
        """
        if not isinstance(data, Mapping):
            raise HyperparameterError("hyperparameters", data, "a mapping of names to values")
        known = {f.name for f in dataclasses.fields(cls) if f.init}
        for key in data:
            if key not in known:
                raise HyperparameterError(
                    str(key), data[key], f"a known hyperparameter ({', '.join(sorted(known))})"
                )
        return cls(**dict(data))

    def differences(self, other: Hyperparameters) -> dict[str, tuple[Any, Any]]:
        """Fields whose values differ: ``{name: (self's, other's)}``."""
        mine, theirs = self.to_dict(), other.to_dict()
        return {k: (mine[k], theirs[k]) for k in mine if mine[k] != theirs[k]}


def _one_of(choices: Sequence[str]) -> str:
    return "one of " + ", ".join(repr(c) for c in choices)


def _choice(name: str, value: object, choices: Sequence[str]) -> None:
    if not isinstance(value, str) or value not in choices:
        raise HyperparameterError(name, value, _one_of(choices))


def _positive_float(name: str, value: object) -> None:
    if not _is_number(value) or not (math.isfinite(float(value)) and float(value) > 0):  # type: ignore[arg-type]
        raise HyperparameterError(name, value, "a finite number > 0")


def _int_in(name: str, value: object, low: int, high: int, *, none_hint: bool = False) -> None:
    if not _is_int(value) or not low <= int(value) <= high:  # type: ignore[call-overload]
        allowed = f"a whole number from {low:,} to {high:,}"
        if none_hint:
            allowed += " (or none to turn it off)"
        raise HyperparameterError(name, value, allowed)
