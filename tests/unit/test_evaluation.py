"""The final evaluation: refusals, the figures, the audit trail, the warnings, and the lock."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import dnnstudio
from dnnstudio.core.data.dataset import Splits
from dnnstudio.core.data.spec import DatasetSpec
from dnnstudio.core.hyperparams import Hyperparameters
from dnnstudio.core.training import TrainedModel, train
from dnnstudio.runs.evaluation import (
    VALIDATION_OVERFIT_TRIALS,
    EvaluationError,
    compared_count,
    evaluation_refusal,
    evaluations_on_split,
    final_evaluation,
    format_time,
    split_key,
    tuning_warning,
)
from dnnstudio.runs.records import ExperimentRecord, ExperimentState, TestEvaluation
from dnnstudio.sessions.store import SessionStore

PACKAGE = Path(dnnstudio.__file__).parent
SPEC = DatasetSpec(name="moons", n_samples=200, seed=3)
HP = Hyperparameters(alpha=0.3, epochs=40, hidden=(4,), activation="tanh")
WHEN = 1_700_000_000.25


def completed(spec: DatasetSpec = SPEC, ident: int = 1) -> ExperimentRecord:
    """A record trained here, in this process, as a worker would have trained it."""
    result = train(HP, spec.load().training_data())
    return ExperimentRecord(id=ident, hyperparameters=HP).started().finished(result)


def evaluation(ident: int, spec: DatasetSpec = SPEC, at: float = WHEN) -> TestEvaluation:
    return TestEvaluation(ident, at, 0.3, 0.9, "accuracy", 40, spec.to_dict())


# -- the figures -----------------------------------------------------------------------------------

def test_evaluates_the_test_rows_with_the_learned_parameters() -> None:
    record = completed()
    result = final_evaluation(record, SPEC, now=WHEN)
    splits = SPEC.load()
    X_test, y_test = splits.test_data()
    assert record.params is not None
    expected = TrainedModel(HP, splits.dataset.task, record.params).evaluate(X_test, y_test)
    assert (result.test_cost, result.test_metric) == pytest.approx(expected, abs=0)
    assert result.experiment_id == 1
    assert result.at == WHEN
    assert result.metric == "accuracy"
    assert result.samples == splits.sizes[2] == 40
    assert result.dataset == SPEC.to_dict()
    # The test rows are not the validation rows: the figures are not the validation ones.
    assert 0.0 <= result.test_metric <= 1.0
    assert len(set(splits.test_index) & set(splits.val_index)) == 0


def test_regression_is_evaluated_with_r2(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 2))
    y = 3 * X[:, 0] - X[:, 1] + 0.1 * rng.standard_normal(100)
    path = tmp_path / "quantities.csv"
    lines = ["a,b,y", *(f"{a},{b},{t}" for (a, b), t in zip(X, y, strict=True))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    spec = DatasetSpec(source="csv", path=str(path), name="quantities", task="regression")
    result = final_evaluation(completed(spec), spec)
    assert result.metric == "r2"
    assert result.test_metric > 0.5  # a linear target, learned
    assert result.samples == 20


def test_the_time_defaults_to_now() -> None:
    import time

    before = time.time()
    result = final_evaluation(completed(), SPEC)
    assert before <= result.at <= time.time()


# -- refusals ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("state", "needle"),
    [
        (ExperimentState.QUEUED, "has not finished training"),
        (ExperimentState.RUNNING, "wait until it completes"),
        (ExperimentState.DIVERGED, "diverged"),
        (ExperimentState.CANCELLED, "queue it again and let it finish"),
        (ExperimentState.PRUNED, "not completed"),
        (ExperimentState.FAILED, "not completed"),
    ],
)
def test_refuses_an_experiment_that_did_not_complete(
    state: ExperimentState, needle: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = completed().replace(state=state)
    looked = _spy_test_data(monkeypatch)
    with pytest.raises(EvaluationError, match=needle):
        final_evaluation(record, SPEC)
    assert evaluation_refusal(record) is not None
    assert looked == []  # refused before the test set was touched


def test_refuses_a_completed_experiment_without_parameters() -> None:
    record = completed().replace(params=None)
    with pytest.raises(EvaluationError, match=r"no learned parameters W\[l\], b\[l\]"):
        final_evaluation(record, SPEC)


def test_refuses_a_second_evaluation_and_says_what_the_first_gave(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    first = final_evaluation(completed(), SPEC, now=WHEN)
    record = completed().replace(test_cost=first.test_cost, test_metric=first.test_metric,
                                 tested_at=first.at)
    looked = _spy_test_data(monkeypatch)
    with pytest.raises(EvaluationError) as info:
        final_evaluation(record, SPEC)
    message = str(info.value)
    assert "the test set is used once per experiment" in message
    assert f"{100 * first.test_metric:.2f}%" in message
    assert format_time(WHEN) in message
    assert looked == []


def test_refuses_data_without_a_test_set(tmp_path: Path) -> None:
    record = completed()
    with pytest.raises(EvaluationError, match="no test set"):
        final_evaluation(record, DatasetSpec(source="npz", path=str(tmp_path / "a.npz")))
    no_test = SPEC.replace(split=(0.8, 0.2, 0.0))
    with pytest.raises(EvaluationError, match="gives the test set no examples"):
        final_evaluation(record, no_test)


def test_refuses_an_experiment_trained_on_other_data() -> None:
    iris = DatasetSpec(name="iris")
    with pytest.raises(EvaluationError, match="trained on 2 features but iris has 4"):
        final_evaluation(completed(), iris)


def _spy_test_data(monkeypatch: pytest.MonkeyPatch) -> list[Splits]:
    calls: list[Splits] = []
    original = Splits.test_data

    def spy(self: Splits) -> tuple[np.ndarray, np.ndarray]:
        calls.append(self)
        return original(self)

    monkeypatch.setattr(Splits, "test_data", spy)
    return calls


# -- which split was used --------------------------------------------------------------------------

def test_split_key_follows_what_decides_the_test_rows(tmp_path: Path) -> None:
    assert split_key(SPEC) == split_key(SPEC.to_dict())
    for other in (SPEC.replace(seed=4), SPEC.replace(split=(0.7, 0.15, 0.15)),
                  SPEC.replace(n_samples=300), SPEC.replace(name="circles"),
                  SPEC.replace(noise=0.3), SPEC.replace(task="binary")):
        assert split_key(other) != split_key(SPEC), other
    # Settings that a built-in dataset ignores, and a CSV file's display name, do not count.
    assert split_key(SPEC.replace(path="x.csv", target="y")) == split_key(SPEC)
    csv = DatasetSpec(source="csv", path=str(tmp_path / "d.csv"), name="d", target="y")
    assert split_key(csv.replace(name="renamed")) == split_key(csv)
    assert split_key(csv.replace(target="z")) != split_key(csv)
    # An entry this version does not understand matches no split.
    assert split_key({**SPEC.to_dict(), "source": "sql"}) != split_key(SPEC)


def test_evaluations_on_split_keeps_this_splits_entries_oldest_first() -> None:
    trail = [evaluation(3, at=30.0), evaluation(1, SPEC.replace(seed=9), at=10.0),
             evaluation(2, at=20.0)]
    assert [e.experiment_id for e in evaluations_on_split(trail, SPEC)] == [2, 3]
    assert evaluations_on_split(trail, SPEC.replace(seed=5)) == []


# -- warnings ------------------------------------------------------------------------------------

def test_no_warning_before_the_test_set_is_used_and_with_few_trials() -> None:
    assert tuning_warning([], SPEC, VALIDATION_OVERFIT_TRIALS) is None
    other_split = [evaluation(1, SPEC.replace(seed=1))]
    assert tuning_warning(other_split, SPEC, 3) is None


def test_warning_once_the_test_set_of_this_split_was_used() -> None:
    text = tuning_warning([evaluation(7, at=WHEN)], SPEC, 2)
    assert text is not None
    assert "#7" in text
    assert format_time(WHEN) in text
    assert "optimistic" in text
    assert "cross-validation" not in text


def test_warning_after_many_configurations_on_one_validation_split() -> None:
    assert VALIDATION_OVERFIT_TRIALS == 50
    assert tuning_warning([], SPEC, 50) is None
    text = tuning_warning([], SPEC, 51)
    assert text is not None
    assert "51 configurations" in text
    assert "k-fold cross-validation" in text
    both = tuning_warning([evaluation(2)], SPEC, 80)
    assert both is not None
    assert both.count("\n") == 1
    assert "#2" in both
    assert "cross-validation" in both


def test_compared_count_counts_what_was_judged_on_validation() -> None:
    states = [ExperimentState.COMPLETED, ExperimentState.DIVERGED, ExperimentState.PRUNED,
              ExperimentState.QUEUED, ExperimentState.RUNNING, ExperimentState.CANCELLED,
              ExperimentState.FAILED, ExperimentState.INTERRUPTED]
    records = [ExperimentRecord(id=i, hyperparameters=HP, state=s)
               for i, s in enumerate(states, start=1)]
    assert compared_count(records) == 3


# -- the audit trail -----------------------------------------------------------------------------

def test_the_audit_trail_survives_closing_reopening_and_save_as(tmp_path: Path) -> None:
    record = completed()
    path = tmp_path / "s.dnnsession"
    with SessionStore.create(path) as store:
        store.put_dataset(SPEC)
        store.put_experiment(record)
        entry = final_evaluation(record, SPEC, now=WHEN)
        store.add_test_evaluation(entry)
    with SessionStore.open(path) as store:
        data = store.load()
        copy = store.save_as(tmp_path / "copy.dnnsession")
        copy.close()
    with SessionStore.open(tmp_path / "copy.dnnsession", read_only=True) as store:
        copied = store.load()
    for loaded in (data, copied):
        assert loaded.evaluations == [entry]
        (stored,) = loaded.records
        assert stored.tested
        assert stored.tested_at == WHEN
        assert stored.test_metric == entry.test_metric
        # Reopened, the experiment is still refused a second look.
        with pytest.raises(EvaluationError, match="used once per experiment"):
            final_evaluation(stored, SPEC)
        assert evaluations_on_split(loaded.evaluations, SPEC) == [entry]


def test_removing_an_experiment_keeps_its_entry_in_the_trail(tmp_path: Path) -> None:
    record = completed()
    with SessionStore.create(tmp_path / "s.dnnsession") as store:
        store.put_experiment(record)
        store.add_test_evaluation(final_evaluation(record, SPEC, now=WHEN))
        store.delete_experiment(record.id)
        data = store.load()
    assert data.records == []
    assert [e.experiment_id for e in data.evaluations] == [1]


# -- the lock ------------------------------------------------------------------------------------

def _test_data_calls() -> dict[str, list[int]]:
    """Every call of a function or method named ``test_data`` in the package, by file."""
    found: dict[str, list[int]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name == "test_data":
                found.setdefault(path.relative_to(PACKAGE).as_posix(), []).append(node.lineno)
    return found


def _names_used(name: str) -> dict[str, list[int]]:
    """Every use of ``name`` as an attribute, a name or a string (``getattr(s, "...")``)."""
    found: dict[str, list[int]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            hit = (
                (isinstance(node, ast.Attribute) and node.attr == name)
                or (isinstance(node, ast.Name) and node.id == name)
                or (isinstance(node, ast.Constant) and node.value == name)
            )
            if hit:
                found.setdefault(path.relative_to(PACKAGE).as_posix(), []).append(
                    getattr(node, "lineno", 0))
    return found


def test_only_the_final_evaluation_reads_the_test_set() -> None:
    calls = _test_data_calls()
    assert set(calls) == {"runs/evaluation.py"}, calls
    assert len(calls["runs/evaluation.py"]) == 1
    # Nothing reaches the test rows another way: their index is used by the splitter that
    # makes it and by Splits itself only.
    users = _names_used("test_index")
    assert set(users) <= {"core/data/splits.py", "core/data/dataset.py"}, users
