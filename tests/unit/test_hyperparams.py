"""Hyperparameters: validation messages, normalisation, round trips, parameter shapes."""

from __future__ import annotations

import json
import math

import pytest

from dnnstudio.core.errors import HyperparameterError
from dnnstudio.core.hyperparams import Hyperparameters


@pytest.mark.parametrize(
    ("changes", "field", "needle"),
    [
        ({"alpha": 0}, "alpha", "> 0"),
        ({"alpha": -0.1}, "alpha", "> 0"),
        ({"alpha": math.nan}, "alpha", "finite"),
        ({"alpha": math.inf}, "alpha", "finite"),
        ({"alpha": "0.1"}, "alpha", "number"),
        ({"alpha": True}, "alpha", "number"),
        ({"epochs": 0}, "epochs", "1 to"),
        ({"epochs": 2.5}, "epochs", "whole number"),
        ({"hidden": (4, 0)}, "n[2]", "1 to"),
        ({"hidden": (4, 10**9)}, "n[2]", "100,000"),
        ({"hidden": "64"}, "hidden", "list of layer sizes"),
        ({"activation": "swish"}, "activation", "'relu'"),
        ({"hidden": (4,), "activation": ("relu", "tanh")}, "activation", "a list of 1"),
        ({"hidden": (3, 3), "activation": ("relu", "bogus")}, "activation[2]", "'tanh'"),
        ({"init": "zeros"}, "init", "'he'"),
        ({"optimizer": "sgd"}, "optimizer", "'adam'"),
        ({"beta": 1.0}, "beta", "up to (not including) 1"),
        ({"beta1": -0.1}, "beta1", "from 0"),
        ({"beta2": math.nan}, "beta2", "from 0"),
        ({"epsilon": 0}, "epsilon", "> 0"),
        ({"batch_size": 0}, "batch_size", "or none"),
        ({"l2": -1}, "l2", ">= 0"),
        ({"l2": math.inf}, "l2", ">= 0"),
        ({"keep_prob": 0}, "keep_prob", "(0, 1]"),
        ({"keep_prob": 1.5}, "keep_prob", "(0, 1]"),
        ({"decay": "cosine"}, "decay", "'step'"),
        ({"decay": "exponential", "decay_rate": 1.5}, "decay_rate", "(0, 1]"),
        ({"decay": "inverse_time", "decay_rate": -1}, "decay_rate", ">= 0"),
        ({"decay_step": 0}, "decay_step", "1 to"),
        ({"patience": 0}, "patience", "or none"),
        ({"seed": -1}, "seed", "0 to"),
        ({"dtype": "float16"}, "dtype", "'float32'"),
    ],
)
def test_invalid_values_are_refused_with_field_value_and_range(
    changes: dict, field: str, needle: str
) -> None:
    with pytest.raises(HyperparameterError) as info:
        Hyperparameters(**changes)
    err = info.value
    assert err.field == field
    message = str(err)
    assert message.startswith(f"{field} = ")
    assert needle in message


def test_defaults_are_the_lessons_starting_point() -> None:
    hp = Hyperparameters()
    assert hp.alpha == 0.01
    assert hp.hidden_activations == ("relu", "relu")
    assert hp.L == 3
    assert hp.batch_size is None


def test_friendly_forms_normalise_to_equal_values() -> None:
    a = Hyperparameters(hidden=[8, 8], activation=["tanh", "tanh"], epochs=10.0, alpha=1)
    b = Hyperparameters(hidden=(8, 8), activation="tanh", epochs=10, alpha=1.0)
    assert a == b
    assert isinstance(a.epochs, int)
    assert a.hidden == (8, 8)


def test_per_layer_activations() -> None:
    hp = Hyperparameters(hidden=(4, 3), activation=("relu", "tanh"))
    assert hp.hidden_activations == ("relu", "tanh")
    assert Hyperparameters(hidden=(), activation="tanh").hidden_activations == ()


def test_round_trip_through_json_is_lossless() -> None:
    hp = Hyperparameters(
        alpha=0.0123456789, epochs=77, hidden=(5, 3), activation=("tanh", "leaky_relu"),
        init="small", optimizer="adam", beta1=0.8, beta2=0.99, epsilon=1e-7, batch_size=32,
        l2=0.3, keep_prob=0.8, decay="step", decay_rate=0.5, decay_step=10, patience=7,
        seed=12345, dtype="float64",
    )
    text = json.dumps(hp.to_dict())
    again = Hyperparameters.from_dict(json.loads(text))
    assert again == hp
    assert again.to_dict() == hp.to_dict()


def test_from_dict_refuses_unknown_keys_and_fills_defaults() -> None:
    with pytest.raises(HyperparameterError, match="alhpa"):
        Hyperparameters.from_dict({"alhpa": 0.1})
    assert Hyperparameters.from_dict({"alpha": 0.5}) == Hyperparameters(alpha=0.5)


def test_parameter_shapes_and_count_follow_the_course() -> None:
    hp = Hyperparameters(hidden=(4,))
    assert hp.parameter_shapes(2, 1) == [
        ("W[1]", (4, 2)), ("b[1]", (4, 1)), ("W[2]", (1, 4)), ("b[2]", (1, 1)),
    ]
    assert hp.parameter_count(2, 1) == 4 * 2 + 4 + 4 + 1
    # The MNIST-sized reference network: 784-256-128-10.
    assert Hyperparameters(hidden=(256, 128)).parameter_count(784, 10) == 235_146
    assert Hyperparameters(hidden=()).parameter_count(30, 1) == 31


@pytest.mark.parametrize(
    ("decay", "rate", "step", "epoch", "expected"),
    [
        ("none", 1.0, 100, 50, 0.2),
        ("inverse_time", 1.0, 100, 3, 0.2 / 4),
        ("exponential", 0.95, 100, 2, 0.2 * 0.95**2),
        ("step", 0.5, 10, 25, 0.2 * 0.25),
    ],
)
def test_learning_rate_decay(
    decay: str, rate: float, step: int, epoch: int, expected: float
) -> None:
    hp = Hyperparameters(alpha=0.2, decay=decay, decay_rate=rate, decay_step=step)
    assert hp.learning_rate(epoch) == pytest.approx(expected)


def test_differences() -> None:
    a, b = Hyperparameters(alpha=0.1), Hyperparameters(alpha=0.3, hidden=(4,))
    assert a.differences(b) == {"alpha": (0.1, 0.3), "hidden": ([64, 64], [4])}
