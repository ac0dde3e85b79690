"""Experiment records: lifecycle transitions, progress and time estimates."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dnnstudio.core.advisor import diagnose
from dnnstudio.core.data.spec import DatasetSpec
from dnnstudio.core.hyperparams import Hyperparameters
from dnnstudio.core.training import HISTORY_FIELDS, EpochRecord, train
from dnnstudio.runs.records import ExperimentRecord, ExperimentState

HP = Hyperparameters(alpha=0.5, epochs=40, hidden=(4,))


def _epoch(n: int, elapsed: float) -> EpochRecord:
    return EpochRecord(n, 0.7 - n / 100, 0.75, 0.5, 0.5, 0.5, elapsed)


def test_a_new_record_is_queued_and_empty() -> None:
    record = ExperimentRecord(id=1, hyperparameters=HP, note="baseline")
    assert record.state is ExperimentState.QUEUED
    assert record.epochs_run == 0
    assert set(record.history) == set(HISTORY_FIELDS)
    assert all(len(v) == 0 for v in record.history.values())
    assert math.isnan(record.val_metric)
    assert record.progress == 0.0
    assert record.seconds_left() is None


def test_progress_appends_history_and_estimates_time_left() -> None:
    record = ExperimentRecord(id=1, hyperparameters=HP).started(when=100.0)
    assert record.state is ExperimentState.RUNNING
    assert record.started_at == 100.0
    assert record.seconds_left() is None  # no pace yet

    step = record.progressed([_epoch(1, 0.1), _epoch(2, 0.2)])
    assert step is not record
    assert step.epochs_run == 2
    assert step.history["elapsed_s"] == [0.1, 0.2]
    assert list(record.history["elapsed_s"]) == []  # the earlier record is unchanged
    assert step.progress == pytest.approx(2 / 40)
    seconds = step.seconds_left()
    assert seconds == pytest.approx(0.1 * 38)
    assert step.progressed([]) is step


def test_finished_takes_the_results_of_the_run() -> None:
    data = DatasetSpec().load().training_data()
    result = train(HP, data)
    record = ExperimentRecord(id=3, hyperparameters=HP).started().finished(result, when=5.0)
    assert record.state is ExperimentState.COMPLETED
    assert record.finished_at == 5.0
    assert record.epochs_run == 40
    assert record.val_metric == result.val_metric
    assert record.history["train_cost"] == result.history.train_cost.tolist()
    assert record.params is not None
    assert len(record.params) == 2
    assert record.progress == 1.0
    assert record.seconds_left() is None
    assert record.state.is_finished()
    assert not record.state.can_requeue()


def test_failed_keeps_the_history_so_far_and_says_why() -> None:
    record = ExperimentRecord(id=1, hyperparameters=HP).started().progressed([_epoch(1, 0.1)])
    failed = record.failed("the worker process died (killed by signal 9)")
    assert failed.state is ExperimentState.FAILED
    assert failed.message.endswith("(killed by signal 9)")
    assert failed.epochs_run == 1
    assert failed.finished_at is not None
    assert failed.state.can_requeue()


def test_a_diagnosis_holds_until_the_state_changes_without_bringing_one() -> None:
    so_far = diagnose({"train_cost": np.linspace(1.0, 0.5, 50)}, running=True)
    whole = diagnose({"train_cost": np.linspace(1.0, 0.1, 50)})
    record = ExperimentRecord(id=1, hyperparameters=HP).started()
    record = record.progressed([_epoch(1, 0.1)], so_far)
    assert record.diagnosis is so_far
    record = record.progressed([_epoch(2, 0.1)]).replace(note="kept")
    assert record.diagnosis is so_far  # until the next one
    assert record.failed("died").diagnosis is None
    assert record.replace(state=ExperimentState.INTERRUPTED).diagnosis is None
    assert record.replace(state=ExperimentState.RUNNING).diagnosis is so_far  # no change
    result = train(HP, DatasetSpec().load().training_data())
    assert record.finished(result).diagnosis is None
    ended = record.finished(result, diagnosis=whole)
    assert ended.diagnosis is whole
    assert ended.pruned("pruned at epoch 2").diagnosis is whole  # the same curve
    assert ended.requeued().diagnosis is None
    assert ended.requeued().started().diagnosis is None


def test_requeued_is_fresh_but_keeps_note_group_and_creation_time() -> None:
    record = ExperimentRecord(id=7, hyperparameters=HP, note="try tanh", group="search-1",
                              created_at=10.0)
    spent = record.started().progressed([_epoch(1, 0.1)]).failed("boom")
    again = spent.requeued()
    assert again.state is ExperimentState.QUEUED
    assert (again.id, again.note, again.group, again.created_at) == (7, "try tanh", "search-1",
                                                                     10.0)
    assert again.hyperparameters == HP
    assert again.epochs_run == 0
    assert again.message == ""
    assert again.started_at is None
    assert again.finished_at is None
    assert all(len(v) == 0 for v in again.history.values())


def test_interrupted_progress_counts_only_epochs_done() -> None:
    record = ExperimentRecord(id=1, hyperparameters=HP).started().progressed(
        [_epoch(i, i / 10) for i in range(1, 11)]
    )
    interrupted = record.replace(state=ExperimentState.INTERRUPTED)
    assert interrupted.progress == pytest.approx(10 / 40)
    assert interrupted.seconds_left() is None
    assert interrupted.state.can_requeue()


@pytest.mark.parametrize(
    ("state", "finished"),
    [
        (ExperimentState.QUEUED, False),
        (ExperimentState.RUNNING, False),
        (ExperimentState.COMPLETED, True),
        (ExperimentState.DIVERGED, True),
        (ExperimentState.CANCELLED, True),
        (ExperimentState.FAILED, True),
        (ExperimentState.INTERRUPTED, True),
    ],
)
def test_which_states_are_finished(state: ExperimentState, finished: bool) -> None:
    assert state.is_finished() is finished


def test_history_views_share_buffers_and_keep_their_prefix() -> None:
    from dnnstudio.core.training import EpochRecord
    from dnnstudio.runs.records import HistoryColumns

    def epochs(first: int, n: int) -> list[EpochRecord]:
        return [EpochRecord(e, 1.0 / e, 2.0, 0.5, 0.4, 0.01, 0.1 * e)
                for e in range(first, first + n)]

    h0 = HistoryColumns()
    h1 = h0.appended(epochs(1, 3))
    h2 = h1.appended(epochs(4, 40))  # grows past the initial capacity
    assert h1["train_cost"] == [1.0, 0.5, 1.0 / 3]
    assert len(h2["train_cost"]) == 43
    assert h2["elapsed_s"][-1] == pytest.approx(4.3)
    # Extending the latest view writes in place: no copy of what was there.
    h3 = h2.appended(epochs(44, 1))
    assert np.shares_memory(np.asarray(h2["val_cost"]), np.asarray(h3["val_cost"]))
    # Extending an older view copies, and leaves the newer ones as they were.
    branch = h1.appended(epochs(100, 1))
    assert branch["train_cost"][-1] == pytest.approx(0.01)
    assert h2["train_cost"][3] == pytest.approx(0.25)
    assert not np.shares_memory(np.asarray(branch["val_cost"]), np.asarray(h2["val_cost"]))
    with pytest.raises(ValueError, match="read-only"):
        np.asarray(h2["train_cost"])[0] = 5.0


def test_a_finished_runs_history_is_adopted_not_copied() -> None:
    from dnnstudio.runs.records import HistoryColumns

    arrays = {name: np.arange(5, dtype=np.float64) + i for i, name in enumerate(HISTORY_FIELDS)}
    adopted = HistoryColumns.adopt(arrays)
    assert adopted["val_cost"] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert np.shares_memory(np.asarray(adopted["train_cost"]), arrays["train_cost"])
    # Appending copies first: the adopted arrays are never written.
    longer = adopted.appended([EpochRecord(6, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0)])
    assert longer["train_cost"] == [0.0, 1.0, 2.0, 3.0, 4.0, 9.0]
    assert arrays["train_cost"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    empty = HistoryColumns.adopt({name: np.empty(0) for name in HISTORY_FIELDS})
    assert len(empty["val_cost"]) == 0
    with pytest.raises(ValueError, match="differ in length"):
        HistoryColumns.adopt({**arrays, "val_cost": np.zeros(3)})
