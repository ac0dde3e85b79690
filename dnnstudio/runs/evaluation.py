"""The final evaluation: the one place where the test set is used.

Hyperparameters are tuned on the validation set; the test set is looked at once, for the
model finally chosen, so that its figure is an unbiased estimate of how the model does on
new data. Every further round of tuning after that look makes the figure optimistic, and so
does choosing among very many configurations on one validation set.

:func:`final_evaluation` is the only caller of :meth:`~dnnstudio.core.data.Splits.test_data`
in DNN Studio (a test checks the source for it): the desktop app's *Final evaluation…*,
``dnnstudio evaluate`` and ``dnnstudio train --evaluate-test`` all come through here. It
refuses an experiment that has not completed, and one that was already evaluated. The other
functions tell whether the test set of a split was already used and word the warnings the
window shows while tuning goes on.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..core.data.dataset import Task
from ..core.data.spec import DatasetSpec
from ..core.errors import DataError, DnnStudioError
from ..core.training import TrainedModel
from .records import ExperimentRecord, ExperimentState, TestEvaluation

VALIDATION_OVERFIT_TRIALS = 50
"""More configurations than this compared on one validation split, and the best validation
figure among them is itself optimistic: the window says so and suggests cross-validation."""

COMPARED_STATES = frozenset(
    {ExperimentState.COMPLETED, ExperimentState.DIVERGED, ExperimentState.PRUNED}
)
"""Experiments whose validation figures were looked at to choose between configurations."""


class EvaluationError(DnnStudioError):
    """The final evaluation was refused or could not be made; the message says why and what
    to do instead."""


# -- wording --------------------------------------------------------------------------------------

def format_time(at: float) -> str:
    """A Unix time as local date and time, to the second (``2025-11-24 14:48:00``)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def metric_name(metric: str) -> str:
    """``"accuracy"`` or ``"R²"``: how the figure is called in messages."""
    return "R²" if metric == "r2" else "accuracy"


def format_metric(metric: str, value: float) -> str:
    """An accuracy as a percentage (``92.50%``), an R² as a number; ``-`` when not measured."""
    if not math.isfinite(value):
        return "-"
    return f"{value:.4f}" if metric == "r2" else f"{100 * value:.2f}%"


# -- what may be evaluated ------------------------------------------------------------------------

def evaluation_refusal(record: ExperimentRecord) -> str | None:
    """Why ``record`` cannot be given its final evaluation, or None if it can.

    Only a completed experiment with learned parameters that was never evaluated qualifies.
    """
    ident = f"experiment {record.id}"
    if record.tested and record.tested_at is not None:
        return (
            f"{ident} was already evaluated on the test set: the test set is used once per "
            f"experiment; its test {metric_name(record.metric)} is "
            f"{format_metric(record.metric, record.test_metric)}, measured at "
            f"{format_time(record.tested_at)}"
        )
    state = record.state
    if state in (ExperimentState.QUEUED, ExperimentState.RUNNING):
        return (
            f"{ident} has not finished training (it is {state}); wait until it completes, "
            "then evaluate it"
        )
    if state is ExperimentState.DIVERGED:
        return (
            f"{ident} diverged, so it has no usable W[l], b[l] to evaluate; choose a completed "
            "experiment (a smaller alpha usually stops the divergence)"
        )
    if state is not ExperimentState.COMPLETED:
        return (
            f"{ident} is {state}, not completed; only a completed experiment is given the "
            "final evaluation: queue it again and let it finish, or choose another"
        )
    if record.params is None:
        return (
            f"{ident} has no learned parameters W[l], b[l] stored; duplicate it, let the copy "
            "train, and evaluate that"
        )
    return None


def check_evaluable(record: ExperimentRecord) -> None:
    """Raise :class:`EvaluationError` if :func:`evaluation_refusal` gives a reason."""
    reason = evaluation_refusal(record)
    if reason is not None:
        raise EvaluationError(reason)


def final_evaluation(
    record: ExperimentRecord, dataset_spec: DatasetSpec, *, now: float | None = None
) -> TestEvaluation:
    """Evaluate a completed experiment on the test set of ``dataset_spec``'s split, once.

    Parameters
    ----------
    record : ExperimentRecord
        A completed experiment with learned parameters, ``W[l]`` of shape ``(n[l], n[l-1])``
        and ``b[l]`` of shape ``(n[l], 1)``, never evaluated before.
    dataset_spec : DatasetSpec
        The data and split the experiment was trained on; its test rows, ``X_test`` of shape
        ``(m_test, n_x)``, are standardised with the training rows' statistics.
    now : float, optional
        The Unix time to record (default: the current time).

    Returns
    -------
    TestEvaluation
        The audit trail's entry. Nothing is stored here: the caller records it in the
        session (and on the experiment) in one step.

    Raises
    ------
    EvaluationError
        The experiment is not completed, has no parameters, was already evaluated, or the
        data has no test set or does not fit the network.
    DataError
        The data cannot be loaded.
    """
    check_evaluable(record)
    if dataset_spec.source == "npz":
        raise EvaluationError(
            "an .npz file holds only training and validation arrays: there is no test set to "
            "evaluate on; use a built-in dataset or a CSV file, which are split into training, "
            "validation and test sets"
        )
    splits = dataset_spec.load()
    X_test, y_test = splits.test_data()
    m_test = len(y_test)
    if m_test == 0:
        split = "/".join(f"{100 * f:g}" for f in dataset_spec.split)
        raise EvaluationError(
            f"the split {split} gives the test set no examples; a split with a test share "
            "(such as 60/20/20) is needed, and it must be chosen before tuning starts"
        )
    params = record.params
    assert params is not None  # check_evaluable made sure
    n_x = params[0][0].shape[1]
    if X_test.shape[1] != n_x:
        raise EvaluationError(
            f"experiment {record.id} was trained on {n_x} features but "
            f"{dataset_spec.title} has {X_test.shape[1]}; it belongs to other data"
        )
    task: Task = splits.dataset.task
    metric = "accuracy" if task.is_classification else "r2"
    if metric != record.metric:
        raise EvaluationError(
            f"experiment {record.id} measures {metric_name(record.metric)} but "
            f"{dataset_spec.title} is a {task.value} task; it belongs to other data"
        )
    model = TrainedModel(record.hyperparameters, task, params)
    try:
        cost, score = model.evaluate(X_test, y_test)
    except (ValueError, IndexError) as exc:
        raise EvaluationError(
            f"experiment {record.id} does not fit the test set of {dataset_spec.title}: {exc}"
        ) from None
    return TestEvaluation(
        experiment_id=record.id,
        at=time.time() if now is None else float(now),
        test_cost=float(cost),
        test_metric=float(score),
        metric=metric,
        samples=m_test,
        dataset=dataset_spec.to_dict(),
    )


# -- which split's test set was used --------------------------------------------------------------

def _as_spec(spec: DatasetSpec | Mapping[str, Any]) -> DatasetSpec | None:
    if isinstance(spec, DatasetSpec):
        return spec
    known = set(DatasetSpec.__dataclass_fields__)
    try:
        return DatasetSpec.from_dict({k: v for k, v in spec.items() if k in known})
    except (DataError, TypeError, ValueError):
        return None


def split_key(spec: DatasetSpec | Mapping[str, Any]) -> tuple[Any, ...]:
    """What decides which rows are the test set: the data, the task, the fractions, the seed.

    The display name of a file and the settings that do not apply to the source (a CSV
    target for a built-in dataset, say) are left out, so two specs that give the same split
    have the same key. ``spec`` may be a :class:`DatasetSpec` or its :meth:`~DatasetSpec.to_dict`
    (as an audit-trail entry keeps it).
    """
    parsed = _as_spec(spec)
    if parsed is None:  # not understood: it matches no split
        items = spec.to_dict() if isinstance(spec, DatasetSpec) else dict(spec)
        return ("unknown", repr(sorted(items.items(), key=lambda kv: str(kv[0]))))
    if parsed.source == "builtin":
        data: tuple[Any, ...] = (parsed.name, parsed.n_samples, parsed.noise)
    else:
        data = (os.path.normcase(os.path.abspath(parsed.path)), parsed.target)
    split = tuple(float(f) for f in parsed.split)
    return (parsed.source, *data, parsed.task, int(parsed.seed), split)


def evaluations_on_split(
    evaluations: Iterable[TestEvaluation], spec: DatasetSpec
) -> list[TestEvaluation]:
    """The entries of the audit trail that used the test set of ``spec``'s split, oldest
    first."""
    key = split_key(spec)
    return sorted((e for e in evaluations if split_key(e.dataset) == key), key=lambda e: e.at)


def compared_count(records: Iterable[ExperimentRecord]) -> int:
    """How many configurations were compared on the validation set (see
    :data:`COMPARED_STATES`)."""
    return sum(1 for r in records if r.state in COMPARED_STATES)


def used_split_warning(evaluations: Sequence[TestEvaluation], spec: DatasetSpec) -> str | None:
    """The warning that the test set of this split was already used, or None."""
    used = evaluations_on_split(evaluations, spec)
    if not used:
        return None
    which = ", ".join(f"#{e.experiment_id} at {format_time(e.at)}" for e in used)
    count = "experiment" if len(used) == 1 else "experiments"
    return (
        f"The test set of this split was used for the final evaluation ({count} {which}). "
        "Further tuning on this split makes that test estimate optimistic: for an unbiased "
        "figure after more tuning, evaluate on data the models have never been judged on."
    )



def validation_overfit_warning(compared: int) -> str | None:
    """The warning that many configurations were compared on one validation split, or None."""
    if compared <= VALIDATION_OVERFIT_TRIALS:
        return None
    return (
        f"{compared} configurations have been compared on one validation split (more than "
        f"{VALIDATION_OVERFIT_TRIALS}): picking the best of so many overfits the validation "
        "set, so the best validation figure is optimistic. For a small dataset, judge "
        "configurations by k-fold cross-validation instead: tick it in Search > New search, "
        "or set folds = 5 under [search] in a sweep spec."
    )


def tuning_warning(
    evaluations: Sequence[TestEvaluation], spec: DatasetSpec, finished_count: int
) -> str | None:
    """The text of the window's warning banner while tuning goes on, or None for no banner.

    Parameters
    ----------
    evaluations : sequence of TestEvaluation
        The session's audit trail.
    spec : DatasetSpec
        The data and split being tuned on.
    finished_count : int
        Configurations compared on its validation set (:func:`compared_count`).
    """
    parts = [text for text in (used_split_warning(evaluations, spec),
                               validation_overfit_warning(finished_count)) if text]
    return "\n".join(parts) if parts else None
