"""Generated hyperparameter forms: every one is accepted, or refused with a message naming the
field, by the one validation that the editor, the CLI and the sweep spec share.

An independent model of the rules (:func:`_faults`) says which fields of a form are wrong, so
an accepted form that should have been refused, or a refusal that blames the wrong field,
fails the test as surely as an exception of the wrong type does.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from dnnstudio import cli
from dnnstudio.core import training
from dnnstudio.core.data.dataset import Task, TrainData
from dnnstudio.core.errors import HyperparameterError
from dnnstudio.core.hyperparams import (
    ACTIVATIONS,
    DECAYS,
    DTYPES,
    INITS,
    MAX_EPOCHS,
    MAX_HIDDEN_LAYERS,
    MAX_UNITS,
    OPTIMIZERS,
    Hyperparameters,
)
from dnnstudio.core.training import check_fits, memory_estimate_bytes, train
from dnnstudio.search.space import SHAPE_NAMES, SpecError
from dnnstudio.search.spec import SearchSpec

T = TypeVar("T")
E = TypeVar("E", bound=Exception)
FIELDS = tuple(f.name for f in dataclasses.fields(Hyperparameters) if f.init)
CHOICES = {"activation": ACTIVATIONS, "init": INITS, "optimizer": OPTIMIZERS, "decay": DECAYS,
           "dtype": DTYPES}
FUZZ = settings(max_examples=1200, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
CLI_FUZZ = settings(max_examples=300, derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])


# -- an independent model of the rules --------------------------------------------------------

def _number(v: object) -> float | None:
    """``v`` as a float if it is a number the rules accept as one (not bool, not too big)."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    if isinstance(v, int) and abs(v) > sys.float_info.max:
        return None
    return float(v)


def _whole(v: object, low: int, high: int) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, float):
        if not (math.isfinite(v) and v.is_integer()):
            return False
        v = int(v)
    return isinstance(v, int) and low <= v <= high


def _faults(form: Mapping[str, Any]) -> set[str]:
    """The fields an error may name for ``form`` (empty: it must be accepted)."""
    values = {f.name: f.default for f in dataclasses.fields(Hyperparameters) if f.init}
    bad = {str(k) for k in form if k not in values}
    values.update({k: v for k, v in form.items() if k in values})

    def number_in(name: str, ok: Any) -> None:
        x = _number(values[name])
        if x is None or not ok(x):
            bad.add(name)

    number_in("alpha", lambda x: math.isfinite(x) and x > 0)
    number_in("epsilon", lambda x: math.isfinite(x) and x > 0)
    for name in ("beta", "beta1", "beta2"):
        number_in(name, lambda x: 0 <= x < 1)
    number_in("l2", lambda x: math.isfinite(x) and x >= 0)
    number_in("keep_prob", lambda x: 0 < x <= 1)
    if values["decay"] in ("exponential", "step"):
        number_in("decay_rate", lambda x: 0 < x <= 1)
    else:
        number_in("decay_rate", lambda x: math.isfinite(x) and x >= 0)
    for name, low, high in (("epochs", 1, MAX_EPOCHS), ("decay_step", 1, MAX_EPOCHS),
                            ("seed", 0, 2**32 - 1)):
        if not _whole(values[name], low, high):
            bad.add(name)
    for name, high in (("batch_size", 2**31 - 1), ("patience", MAX_EPOCHS)):
        if values[name] is not None and not _whole(values[name], 1, high):
            bad.add(name)
    for name in ("init", "optimizer", "decay", "dtype"):
        if not isinstance(values[name], str) or values[name] not in CHOICES[name]:
            bad.add(name)
    hidden = values["hidden"]
    if not isinstance(hidden, list | tuple) or len(hidden) > MAX_HIDDEN_LAYERS:
        bad.add("hidden")
        hidden_ok = False
    else:
        bad.update(f"n[{i}]" for i, n in enumerate(hidden, 1) if not _whole(n, 1, MAX_UNITS))
        hidden_ok = all(_whole(n, 1, MAX_UNITS) for n in hidden)
    act = values["activation"]
    if isinstance(act, list | tuple) and act and isinstance(act[0], str) and all(
            a == act[0] for a in act):
        act = act[0]  # one name given once per layer is that name for all
    if isinstance(act, str):
        if act not in ACTIVATIONS:
            bad.add("activation")
    elif isinstance(act, list | tuple):
        if hidden_ok and len(act) != len(hidden):
            bad.add("activation")
        elif hidden_ok:
            bad.update(f"activation[{i}]" for i, a in enumerate(act, 1)
                       if not isinstance(a, str) or a not in ACTIVATIONS)
    else:
        bad.add("activation")
    return bad


# -- generated forms ----------------------------------------------------------------------------

HUGE = st.sampled_from([10**400, -(10**400), 2**63, 2**64 + 1, 10**12, 2**31, 2**32])
NUMBERS = st.one_of(
    st.integers(-3, 12), st.integers(-(2**70), 2**70), HUGE,
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, 0.5, 0.999, 1e-8, 1e308, 5e-324, math.nan, math.inf,
                     -math.inf, 2.5, 1e6, 1e7, 1e7 + 1, 4294967295.0, 4294967296.0]),
)
ODD = st.one_of(
    st.none(), st.booleans(), st.just(""), st.text(max_size=8), st.binary(max_size=4),
    st.sampled_from(["0.1", "nan", "inf", "1e3", " relu", "RELU", "64,64", "[]", "None",
                     "float16", "sgd", "swish"]),
    st.sampled_from(list(ACTIVATIONS + INITS + OPTIMIZERS + DECAYS + DTYPES)),
    st.builds(complex, st.floats(-2, 2), st.floats(-2, 2)),
    st.dictionaries(st.text(max_size=3), st.integers(0, 3), max_size=2),
    st.frozensets(st.integers(0, 3), max_size=2),
)
LAYERS = st.one_of(
    st.lists(st.integers(1, 64), max_size=4),
    st.lists(st.one_of(st.integers(-2, 10**7), HUGE, NUMBERS, ODD), max_size=5),
    st.lists(st.just(MAX_UNITS), min_size=1, max_size=MAX_HIDDEN_LAYERS + 2),
    st.lists(st.sampled_from([1, 2]), min_size=MAX_HIDDEN_LAYERS - 1,
             max_size=MAX_HIDDEN_LAYERS + 3),
    st.tuples(st.integers(1, 8), st.integers(1, 8)),
)
ACTS = st.one_of(
    st.sampled_from(ACTIVATIONS),
    st.lists(st.sampled_from(ACTIVATIONS), max_size=4),
    st.lists(st.one_of(st.sampled_from(ACTIVATIONS), ODD), max_size=4),
)
VALUES = st.one_of(NUMBERS, ODD, LAYERS, ACTS, st.lists(NUMBERS, max_size=3))
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "alpha": st.floats(1e-6, 10), "epochs": st.integers(1, 5000), "hidden": LAYERS,
    "activation": ACTS, "init": st.sampled_from(INITS), "optimizer": st.sampled_from(OPTIMIZERS),
    "beta": st.floats(0, 0.999), "beta1": st.floats(0, 0.999), "beta2": st.floats(0, 0.999),
    "epsilon": st.floats(1e-12, 1e-3), "batch_size": st.one_of(st.none(), st.integers(1, 512)),
    "l2": st.floats(0, 10), "keep_prob": st.floats(0.05, 1), "decay": st.sampled_from(DECAYS),
    "decay_rate": st.floats(0, 2), "decay_step": st.integers(1, 1000),
    "patience": st.one_of(st.none(), st.integers(1, 100)), "seed": st.integers(0, 2**32 - 1),
    "dtype": st.sampled_from(DTYPES),
}
KEYS = st.one_of(st.sampled_from(FIELDS), st.sampled_from(FIELDS),
                 st.text(min_size=1, max_size=8).filter(lambda k: k not in SHAPE_NAMES))


@st.composite
def forms(draw: st.DrawFn) -> dict[str, Any]:
    """A form: mostly sensible values, with any number of them replaced by anything."""
    form: dict[str, Any] = {}
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=8, unique=True)):
        form[name] = draw(PLAUSIBLE[name])
    for key in draw(st.lists(KEYS, max_size=3, unique=True)):
        form[key] = draw(VALUES)
    return form


def _attempt(make: Callable[[], T], refusal: type[E]) -> tuple[Any, E | None]:
    """``(make(), None)``, or ``(None, the refusal)`` when ``make`` raises ``refusal``."""
    try:
        return make(), None
    except refusal as exc:
        return None, exc


def _check_refusal(exc: HyperparameterError, form: Mapping[str, Any], faults: set[str]) -> None:
    message = str(exc)
    assert exc.field in faults, (exc.field, faults, form)
    assert message.startswith(f"{exc.field} = "), message
    assert " must be " in message, message
    assert exc.allowed
    assert exc.allowed in message


def _spec_for(form: Mapping[str, Any]) -> dict[str, Any]:
    """A sweep spec whose [fixed] is ``form``, varying a field the form does not set."""
    free = next(name for name in FIELDS if name not in form)  # a form sets at most 11
    default = getattr(Hyperparameters(), free)
    value = list(default) if isinstance(default, tuple) else default
    return {"fixed": dict(form), "search": {"space": {free: [value]}}}


@FUZZ
@given(forms())
def test_every_form_is_accepted_or_refused_naming_the_field(form: dict[str, Any]) -> None:
    faults = _faults(form)
    hp, error = _attempt(lambda: Hyperparameters.from_dict(form), HyperparameterError)
    if error is not None:
        assert faults, f"refused a valid form {form!r}: {error}"
        _check_refusal(error, form, faults)
        event("refused")
    else:
        assert not faults, f"accepted {form!r} although {sorted(faults)} are wrong"
        text = json.dumps(hp.to_dict(), allow_nan=False)  # nothing non-finite got through
        assert Hyperparameters.from_dict(json.loads(text)) == hp
        event("accepted")

    # The sweep spec's [fixed] table goes through the same validation and names the same
    # field, under "fixed.".
    spec, spec_error = _attempt(lambda: SearchSpec.from_dict(_spec_for(form)), SpecError)
    if spec_error is not None:
        assert error is not None, f"the spec refused what the form accepted: {spec_error}"
        assert spec_error.key == f"fixed.{error.field}", (spec_error.key, error.field)
    else:
        assert error is None, f"the spec accepted what the form refused ({error})"
        assert spec.hyperparameters({}) == hp


# -- the CLI ------------------------------------------------------------------------------------

OPTIONS = {"alpha": "--alpha", "epochs": "--epochs", "hidden": "--hidden",
           "activation": "--activation", "beta": "--beta", "beta1": "--beta1",
           "beta2": "--beta2", "epsilon": "--epsilon", "batch_size": "--batch-size",
           "l2": "--l2", "keep_prob": "--keep-prob", "decay_rate": "--decay-rate",
           "decay_step": "--decay-step", "patience": "--patience", "seed": "--seed",
           "init": "--init", "optimizer": "--optimizer", "decay": "--decay", "dtype": "--dtype"}
TEXTS = st.one_of(
    st.sampled_from(["", " ", "0", "1", "-1", "0.5", "1e400", "-1e400", "nan", "inf", "-inf",
                     "1e-320", "10000000", "10000001", "100000", "100001", "4294967296",
                     "2.5", "1_000", "１２", "0x10", "64,64", "4,0", ",", "relu", "tanh,relu",
                     "relu,relu,relu", "9" * 50, "he", "adam", "step", "float64", "float16"]),
    NUMBERS.map(str),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
            max_size=10),
)


class _Accepted(Exception):
    """Raised instead of loading data: the hyperparameters were accepted."""


@CLI_FUZZ
@given(args=st.dictionaries(st.sampled_from(sorted(OPTIONS)), TEXTS, min_size=1, max_size=4))
def test_cli_refuses_bad_hyperparameters_with_status_2_and_one_line(
        args: dict[str, str], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    def accepted(_: object) -> None:
        raise _Accepted

    monkeypatch.setattr(cli, "_load", accepted)
    argv = ["train", *(f"{OPTIONS[name]}={text}" for name, text in args.items())]
    capsys.readouterr()
    try:
        code = cli.main(argv)
    except _Accepted:
        code = None
    except SystemExit as exc:  # argparse: a value that is not even a number
        code = exc.code
    err = capsys.readouterr().err
    if code is None:
        assert err == ""
        return
    assert code == cli.EXIT_USAGE, (argv, code, err)
    lines = err.splitlines()
    assert len(lines) == 1, err
    named = [n for n in args if n in lines[0] or OPTIONS[n] in lines[0]]
    assert named or "n[" in lines[0] or "activation[" in lines[0], (argv, err)


# -- too big for memory -----------------------------------------------------------------------

def _tiny_data() -> TrainData:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 2))
    y = (X[:, 0] > 0).astype(np.int64)
    return TrainData(X[:30], y[:30], X[30:], y[30:], Task.BINARY, ("0", "1"))


def test_the_largest_allowed_network_is_refused_for_memory_with_its_size() -> None:
    # Every field is in range, so the form is valid; only the data's size says it cannot fit.
    hp = Hyperparameters(hidden=(MAX_UNITS,) * MAX_HIDDEN_LAYERS, epochs=1)
    need = memory_estimate_bytes(hp, 2, 1, 30, 10)
    assert need > 2**40  # terabytes: far beyond any machine this runs on
    with pytest.raises(HyperparameterError) as caught:
        check_fits(hp, 2, 1, 30, 10)
    assert caught.value.field == "hidden"
    assert f"would need about {need / 2**30:.1f} GiB" in str(caught.value)
    # train() checks before it allocates anything, so this returns at once.
    with pytest.raises(HyperparameterError, match=r"would need about [\d.]+ GiB"):
        train(hp, _tiny_data())


@settings(max_examples=60, derandomize=True, database=None, deadline=None)
@given(st.lists(st.integers(1, MAX_UNITS), max_size=6), st.integers(1, 5000),
       st.one_of(st.none(), st.integers(1, 10_000)))
def test_memory_check_refuses_exactly_what_its_estimate_says_does_not_fit(
        hidden: list[int], n_x: int, batch_size: int | None) -> None:
    hp = Hyperparameters(hidden=hidden, batch_size=batch_size, epochs=1)
    need = memory_estimate_bytes(hp, n_x, 3, 5000, 1000)
    assert need >= 4 * hp.parameter_count(n_x, 3)  # at least the float32 parameters
    have = training._available_memory()
    assert have is not None
    _, error = _attempt(lambda: check_fits(hp, n_x, 3, 5000, 1000), HyperparameterError)
    assert (error is not None) == (need > 0.8 * have)
    if error is not None:
        assert f"{need / 2**30:.1f} GiB" in str(error)


def test_cli_reports_a_network_too_big_for_memory_in_one_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["train", "--dataset", "xor", "--epochs", "1",
                     "--hidden", ",".join([str(MAX_UNITS)] * MAX_HIDDEN_LAYERS)])
    err = capsys.readouterr().err
    assert code == 2  # bad input, refused before a worker starts
    assert len(err.splitlines()) == 1, err
    assert "hidden" in err
    assert re.search(r"would need about [\d.]+ GiB", err), err


def test_a_grid_with_a_network_too_big_for_memory_is_refused_before_it_starts(
        tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "big.toml"
    spec.write_text('[dataset]\nname = "xor"\n[fixed]\nepochs = 1\n[search.space]\n'
                    f'layers = [1, {MAX_HIDDEN_LAYERS}]\nunits = [{MAX_UNITS}]\n',
                    encoding="utf-8")
    code = cli.main(["sweep", str(spec)])
    err = capsys.readouterr().err
    assert code == 2
    assert re.search(r"would need about [\d.]+ GiB", err), err
