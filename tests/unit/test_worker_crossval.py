"""A cross-validation job through the real worker pool: progress per fold, averaged result."""

from __future__ import annotations

import time

import numpy as np

from dnnstudio.core.advisor import diagnose
from dnnstudio.core.crossval import cross_validate
from dnnstudio.core.data.spec import DatasetSpec
from dnnstudio.core.hyperparams import Hyperparameters
from dnnstudio.core.training import HISTORY_FIELDS, TrainStatus
from dnnstudio.runs.messages import (
    LIVE_DIAGNOSIS_EPOCHS,
    Failed,
    Finished,
    Job,
    Message,
    Progress,
    Snapshot,
    Started,
)
from dnnstudio.runs.pool import WorkerPool
from dnnstudio.runs.records import ExperimentRecord

DEADLINE = 60.0


def _run(pool: WorkerPool, job: Job) -> list[Message]:
    pool.submit(job)
    messages: list[Message] = []
    end = time.monotonic() + DEADLINE
    while not any(isinstance(m, Finished | Failed) for m in messages):
        assert time.monotonic() < end, f"timed out; got {messages}"
        messages += pool.poll(0.2)
    return messages


def test_a_job_with_folds_cross_validates_in_a_worker() -> None:
    spec = DatasetSpec(name="moons", seed=3)
    hp = Hyperparameters(alpha=0.5, epochs=300, hidden=(4,), activation="tanh", seed=1)
    job = Job(1, hp.to_dict(), spec.to_dict(), eval_every=1, snapshot_seconds=0.01, folds=3)
    with WorkerPool(1) as pool:
        messages = _run(pool, job)
        bad = _run(pool, Job(2, hp.to_dict(), spec.to_dict(), folds=1))
    assert isinstance(messages[0], Started)
    finished = messages[-1]
    assert isinstance(finished, Finished), finished
    result = finished.result
    progress = [m for m in messages if isinstance(m, Progress)]
    assert not any(isinstance(m, Snapshot) for m in messages)
    assert all(m.folds == 3 for m in progress)
    # The first fold's epochs arrive as records, each once and in order; the later folds
    # only say how far they are, in order, ending with their last epoch.
    first = [m for m in progress if m.fold == 0]
    assert [r.epoch for m in first for r in m.records] == list(range(1, 301))
    assert [m.fold for m in progress] == sorted(m.fold for m in progress)
    for fold in (1, 2):
        later = [m for m in progress if m.fold == fold]
        assert later, f"no progress from fold {fold}"
        assert all(len(m.records) == 0 for m in later)
        assert [m.epoch for m in later] == sorted(m.epoch for m in later)
        assert later[-1].epoch == 300
        assert later[-1].fraction_done(300) == (fold + 1) / 3
    assert first[-1].fraction_done(300) == 1 / 3

    expected = cross_validate(hp, spec.load(), 3, seed=spec.seed)
    assert result.status is TrainStatus.COMPLETED
    assert result.cross_validation is not None
    assert expected.cross_validation is not None
    assert result.cross_validation.folds == 3
    assert result.cross_validation.fold_sizes == expected.cross_validation.fold_sizes
    assert result.cross_validation.val_metrics == expected.cross_validation.val_metrics
    assert result.epochs_run == 300
    for name in HISTORY_FIELDS[:-1]:  # all but the wall-clock times
        np.testing.assert_array_equal(getattr(result.history, name),
                                      getattr(expected.history, name))
    assert (result.val_cost, result.val_metric) == (expected.val_cost, expected.val_metric)
    assert result.message == expected.message
    assert result.message.startswith("3-fold cross-validation: validation accuracy ")
    # The averaged history is not the first fold's, which the live curves showed.
    live = np.array([r.val_cost for m in first for r in m.records])
    assert not np.array_equal(live, result.history.val_cost)

    assert len(bad) == 1  # refused before it started
    failed = bad[0]
    assert isinstance(failed, Failed)
    assert failed.reason == "cross-validation needs a whole number of folds >= 2, not 1."


def test_a_long_cross_validated_run_is_diagnosed_on_its_first_fold_then_on_the_average(
) -> None:
    spec = DatasetSpec(name="moons", seed=3)
    hp = Hyperparameters(alpha=0.5, epochs=LIVE_DIAGNOSIS_EPOCHS + 3_000, hidden=(3,))
    with WorkerPool(1) as pool:
        messages = _run(pool, Job(1, hp.to_dict(), spec.to_dict(), folds=2))
    record = ExperimentRecord(1, hp, folds=2).started()
    live = []
    for message in messages:
        if isinstance(message, Progress):
            record = record.progressed(message.records)  # the first fold's, as shown live
            if message.diagnosis is not None:
                assert message.fold == 0
                assert repr(message.diagnosis) == repr(diagnose(record))
                live.append(message.diagnosis)
    assert live, "no live diagnosis"
    finished = messages[-1]
    assert isinstance(finished, Finished), finished
    assert finished.diagnosis is not None
    assert repr(finished.diagnosis) == repr(diagnose(record.finished(finished.result)))
