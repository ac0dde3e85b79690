"""The experiment queue, driven by a fake executor (no processes)."""

from __future__ import annotations

import numpy as np
import pytest

from dnnstudio.core.advisor import diagnose
from dnnstudio.core.data.spec import DatasetSpec
from dnnstudio.core.hyperparams import Hyperparameters
from dnnstudio.core.training import EpochRecord, TrainResult, train
from dnnstudio.runs.messages import Failed, Finished, Job, Message, Progress, Started
from dnnstudio.runs.queue import (
    INTERRUPTED_MESSAGE,
    Executor,
    ExperimentQueue,
    OrderChanged,
    ProgressAppended,
    QueueError,
    QueueEvent,
    QueueLoaded,
    QueueSettingsChanged,
    RecordAdded,
    RecordChanged,
    RecordRemoved,
)
from dnnstudio.runs.records import ExperimentRecord, ExperimentState

HP = Hyperparameters(alpha=0.5, epochs=20, hidden=(4,))


class FakeExecutor:
    """Records what the queue asks for; the test decides what the workers say."""

    def __init__(self, slots: int = 4) -> None:
        self.slots = slots
        self.jobs: list[Job] = []
        self.running: set[int] = set()
        self.cancelled: list[int] = []
        self.outbox: list[Message] = []
        self.auto_result: TrainResult | None = None
        """If set, every poll finishes every running job with this result."""

    def idle_count(self) -> int:
        return self.slots - len(self.running)

    def submit(self, job: Job) -> None:
        assert self.idle_count() > 0, "the queue submitted with no idle slot"
        assert job.experiment_id not in self.running
        self.jobs.append(job)
        self.running.add(job.experiment_id)

    def cancel(self, experiment_id: int) -> None:
        self.cancelled.append(experiment_id)

    def poll(self, timeout: float) -> list[Message]:
        if self.auto_result is not None:
            self.outbox += [Finished(i, self.auto_result) for i in sorted(self.running)]
        out, self.outbox = self.outbox, []
        for message in out:
            if isinstance(message, Finished | Failed):
                self.running.discard(message.experiment_id)
        return out

    @property
    def submitted(self) -> list[int]:
        return [job.experiment_id for job in self.jobs]


@pytest.fixture(scope="module")
def results() -> dict[str, TrainResult]:
    data = DatasetSpec().load().training_data()
    return {
        "completed": train(HP, data),
        "cancelled": train(HP, data, should_stop=lambda: True),
    }


@pytest.fixture
def executor() -> FakeExecutor:
    return FakeExecutor()


@pytest.fixture
def queue(executor: FakeExecutor) -> ExperimentQueue:
    return ExperimentQueue(executor, DatasetSpec(), max_parallel=2)


def _events(queue: ExperimentQueue) -> list[QueueEvent]:
    events: list[QueueEvent] = []
    queue.subscribe(events.append)
    return events


def _state(queue: ExperimentQueue, experiment_id: int) -> ExperimentState:
    return queue.records[experiment_id].state


def _finish(queue: ExperimentQueue, executor: FakeExecutor, experiment_id: int,
            result: TrainResult) -> None:
    executor.outbox.append(Finished(experiment_id, result))
    queue.handle(executor.poll(0))


def test_the_fake_is_an_executor(executor: FakeExecutor) -> None:
    pool: Executor = executor
    assert pool.idle_count() == 4


def test_ids_count_up_and_experiments_start_in_order_up_to_max_parallel(
    queue: ExperimentQueue, executor: FakeExecutor
) -> None:
    records = [queue.add(HP.replace(seed=i), note=f"n{i}") for i in range(4)]
    assert [r.id for r in records] == [1, 2, 3, 4]
    assert queue.order == [1, 2, 3, 4]
    assert records[0].state is ExperimentState.QUEUED  # add returns the record as queued
    assert executor.submitted == [1, 2]
    assert [_state(queue, i) for i in (1, 2, 3, 4)] == [
        ExperimentState.RUNNING, ExperimentState.RUNNING,
        ExperimentState.QUEUED, ExperimentState.QUEUED,
    ]
    job = executor.jobs[0]
    assert Hyperparameters.from_dict(job.hyperparameters) == HP.replace(seed=0)
    assert DatasetSpec.from_dict(job.dataset) == DatasetSpec()
    assert job.eval_every == 1


def test_the_executors_free_slots_limit_too(results: dict[str, TrainResult]) -> None:
    executor = FakeExecutor(slots=1)
    queue = ExperimentQueue(executor, DatasetSpec(), max_parallel=4)
    for i in range(3):
        queue.add(HP.replace(seed=i))
    assert executor.submitted == [1]
    _finish(queue, executor, 1, results["completed"])
    assert _state(queue, 1) is ExperimentState.COMPLETED
    assert executor.submitted == [1, 2]


def test_finishing_one_starts_the_next_in_queue_order(
    queue: ExperimentQueue, executor: FakeExecutor, results: dict[str, TrainResult]
) -> None:
    for i in range(4):
        queue.add(HP.replace(seed=i))
    queue.move(4, 2)  # order 1 2 4 3: 4 goes before 3
    _finish(queue, executor, 2, results["completed"])
    assert executor.submitted == [1, 2, 4]
    record = queue.records[2]
    assert record.state is ExperimentState.COMPLETED
    assert record.val_metric == results["completed"].val_metric
    assert record.params is not None


def test_max_parallel_is_respected_and_can_change(
    queue: ExperimentQueue, executor: FakeExecutor
) -> None:
    events = _events(queue)
    for i in range(5):
        queue.add(HP.replace(seed=i))
    assert len(executor.running) == 2
    queue.set_max_parallel(3)
    assert executor.submitted == [1, 2, 3]
    assert queue.max_parallel == 3
    assert QueueSettingsChanged(False, 3, DatasetSpec()) in events
    queue.set_max_parallel(1)  # lowering lets running ones finish
    assert queue.count(ExperimentState.RUNNING) == 3
    with pytest.raises(ValueError, match="max_parallel"):
        queue.set_max_parallel(0)


def test_duplicate_is_queued_right_after_the_original(queue: ExperimentQueue) -> None:
    queue.pause()
    for i in range(3):
        queue.add(HP.replace(seed=i), note=f"note {i}", group="g")
    events = _events(queue)
    copy = queue.duplicate(1)
    assert copy.id == 4
    assert queue.order == [1, 4, 2, 3]
    assert copy.state is ExperimentState.QUEUED
    assert copy.hyperparameters == queue.records[1].hyperparameters
    assert copy.note == "note 0"
    assert events == [RecordAdded(copy, 1)]
    assert queue.duplicate(3).id == 5
    assert queue.order == [1, 4, 2, 3, 5]


def test_move_reorders_and_clamps(queue: ExperimentQueue) -> None:
    queue.pause()
    for i in range(4):
        queue.add(HP.replace(seed=i))
    events = _events(queue)
    queue.move(4, 0)
    assert queue.order == [4, 1, 2, 3]
    queue.move(4, 99)
    assert queue.order == [1, 2, 3, 4]
    queue.move(1, -5)  # already first: nothing happens
    assert events == [OrderChanged((4, 1, 2, 3)), OrderChanged((1, 2, 3, 4))]
    with pytest.raises(KeyError, match="no experiment 9"):
        queue.move(9, 0)


def test_remove_refuses_a_running_experiment(
    queue: ExperimentQueue, executor: FakeExecutor, results: dict[str, TrainResult]
) -> None:
    queue.add(HP)
    queue.add(HP)
    queue.add(HP)
    with pytest.raises(QueueError, match="running.*cancel it first"):
        queue.remove(1)
    events = _events(queue)
    queue.remove(3)
    assert queue.order == [1, 2]
    assert 3 not in queue.records
    assert events == [RecordRemoved(3)]
    _finish(queue, executor, 1, results["completed"])
    queue.remove(1)
    assert queue.order == [2]
    # Ids are not reused after a removal.
    assert queue.add(HP).id == 4


def test_cancel_a_queued_experiment_at_once(
    queue: ExperimentQueue, executor: FakeExecutor
) -> None:
    queue.pause()
    queue.add(HP)
    queue.cancel(1)
    record = queue.records[1]
    assert record.state is ExperimentState.CANCELLED
    assert record.message
    assert executor.cancelled == []
    queue.resume()
    assert executor.submitted == []


def test_cancel_a_running_experiment_waits_for_its_worker(
    queue: ExperimentQueue, executor: FakeExecutor, results: dict[str, TrainResult]
) -> None:
    queue.add(HP)
    queue.cancel(1)
    assert executor.cancelled == [1]
    assert _state(queue, 1) is ExperimentState.RUNNING  # until the worker reports
    assert queue.is_cancelling(1)
    queue.cancel(1)  # asking twice sends nothing more
    assert executor.cancelled == [1]
    _finish(queue, executor, 1, results["cancelled"])
    assert _state(queue, 1) is ExperimentState.CANCELLED
    assert not queue.is_cancelling(1)
    assert queue.records[1].message.startswith("Cancelled after")


def test_prune_ends_a_running_experiment_pruned_with_its_reason(
    queue: ExperimentQueue, executor: FakeExecutor, results: dict[str, TrainResult]
) -> None:
    queue.add(HP)
    queue.add(HP)
    queue.prune(1, "pruned at epoch 5: worse than the median")
    queue.prune(1, "again")  # asking twice sends nothing more
    queue.prune(2, "a running one only")  # 2 runs too (4 slots): pruned below by its worker
    assert executor.cancelled == [1, 2]
    assert queue.is_pruning(1)
    assert _state(queue, 1) is ExperimentState.RUNNING
    _finish(queue, executor, 1, results["cancelled"])
    record = queue.records[1]
    assert record.state is ExperimentState.PRUNED
    assert record.message == "pruned at epoch 5: worse than the median"
    assert not queue.is_pruning(1)
    # A run that completed before its worker saw the request is not called pruned.
    _finish(queue, executor, 2, results["completed"])
    assert _state(queue, 2) is ExperimentState.COMPLETED


def test_pause_stops_new_starts_and_resume_continues(
    queue: ExperimentQueue, executor: FakeExecutor, results: dict[str, TrainResult]
) -> None:
    queue.add(HP)
    queue.pause()
    assert queue.paused
    queue.add(HP)
    queue.add(HP)
    _finish(queue, executor, 1, results["completed"])
    assert executor.submitted == [1]
    assert queue.is_idle()  # nothing running, and the queued ones wait for resume
    queue.resume()
    assert executor.submitted == [1, 2, 3]
    assert not queue.is_idle()


def test_progress_started_and_failed_messages(
    queue: ExperimentQueue, executor: FakeExecutor
) -> None:
    queue.add(HP)
    events = _events(queue)
    epochs = tuple(EpochRecord(n, 0.6, 0.7, 0.8, 0.75, 0.5, 0.01 * n) for n in (1, 2, 3))
    queue.handle([Started(1, 1234, 50.0), Progress(1, epochs[:2]), Progress(1, epochs[2:])])
    record = queue.records[1]
    assert record.started_at == 50.0
    assert record.epochs_run == 3
    assert record.history["elapsed_s"] == [0.01, 0.02, 0.03]
    appended = [e for e in events if isinstance(e, ProgressAppended)]
    assert appended == [ProgressAppended(1, epochs[:2]), ProgressAppended(1, epochs[2:])]
    assert all(isinstance(e, RecordChanged) for e in events if not isinstance(e, ProgressAppended))
    assert isinstance(events[-1], ProgressAppended)
    assert isinstance(events[-2], RecordChanged)
    assert events[-2].record is queue.records[1]

    executor.outbox.append(Failed(1, "DataError: bad file"))
    queue.handle(executor.poll(0))
    record = queue.records[1]
    assert record.state is ExperimentState.FAILED
    assert record.message == "DataError: bad file"
    assert record.epochs_run == 3  # what it did before failing is kept


def test_messages_about_other_experiments_change_nothing(
    queue: ExperimentQueue, results: dict[str, TrainResult]
) -> None:
    queue.pause()
    queue.add(HP)
    events = _events(queue)
    queue.handle([Finished(1, results["completed"]), Failed(7, "?"),
                  Progress(1, (EpochRecord(1, 0, 0, 0, 0, 0, 0),))])
    assert _state(queue, 1) is ExperimentState.QUEUED
    assert events == []


def test_requeue_a_failed_experiment(
    queue: ExperimentQueue, executor: FakeExecutor, results: dict[str, TrainResult]
) -> None:
    queue.add(HP, note="keep me")
    executor.outbox.append(Failed(1, "the worker process died (killed by signal 9)"))
    queue.handle(executor.poll(0))
    assert _state(queue, 1) is ExperimentState.FAILED
    again = queue.requeue(1)
    assert again.note == "keep me"
    assert executor.submitted == [1, 1]  # started again at once
    assert _state(queue, 1) is ExperimentState.RUNNING
    _finish(queue, executor, 1, results["completed"])
    with pytest.raises(QueueError, match="only cancelled, failed or interrupted"):
        queue.requeue(1)


def test_set_note_and_set_dataset(
    queue: ExperimentQueue, executor: FakeExecutor, results: dict[str, TrainResult]
) -> None:
    queue.add(HP)
    events = _events(queue)
    queue.set_note(1, "wider next time")
    assert queue.records[1].note == "wider next time"
    assert isinstance(events[-1], RecordChanged)
    moons = DatasetSpec(name="moons")
    with pytest.raises(QueueError, match="while experiments are running"):
        queue.set_dataset(moons)
    _finish(queue, executor, 1, results["completed"])
    queue.set_dataset(moons)
    assert queue.dataset == moons
    queue.add(HP)
    assert DatasetSpec.from_dict(executor.jobs[-1].dataset) == moons


def test_load_marks_running_records_interrupted(
    queue: ExperimentQueue, executor: FakeExecutor
) -> None:
    queue.pause()
    queue.add(HP)
    saved = [
        ExperimentRecord(id=3, hyperparameters=HP).started(),
        ExperimentRecord(id=5, hyperparameters=HP),
        ExperimentRecord(id=8, hyperparameters=HP, state=ExperimentState.COMPLETED),
    ]
    events = _events(queue)
    moons = DatasetSpec(name="moons")
    queue.load(saved, [8, 3, 42], dataset=moons)
    assert queue.order == [8, 3, 5]  # unknown ids dropped, missing ones appended
    assert set(queue.records) == {3, 5, 8}
    interrupted = queue.records[3]
    assert interrupted.state is ExperimentState.INTERRUPTED
    assert interrupted.message == INTERRUPTED_MESSAGE
    assert queue.dataset == moons
    assert events[0] == QueueLoaded((8, 3, 5))
    assert isinstance(events[1], QueueSettingsChanged)
    assert executor.submitted == []  # nothing starts on load
    assert queue.add(HP).id == 9
    queue.resume()
    assert executor.submitted == [5, 9]
    with pytest.raises(QueueError, match="running"):
        queue.load([], [])


def test_events_for_add_and_start(queue: ExperimentQueue) -> None:
    events = _events(queue)
    record = queue.add(HP)
    assert events[0] == RecordAdded(record, 0)
    assert isinstance(events[1], RecordChanged)
    assert events[1].record.state is ExperimentState.RUNNING
    unsubscribe = queue.subscribe(lambda event: None)
    unsubscribe()
    unsubscribe()  # twice is harmless


def test_overall_progress_covers_the_current_batch(
    queue: ExperimentQueue, executor: FakeExecutor, results: dict[str, TrainResult]
) -> None:
    assert queue.overall_progress() == 0.0
    queue.add(HP)
    queue.add(HP)
    epochs = tuple(EpochRecord(n, 0, 0, 0, 0, 0, 0) for n in range(1, 11))  # 10 of 20
    queue.handle([Progress(1, epochs)])
    assert queue.overall_progress() == pytest.approx(0.25)
    _finish(queue, executor, 1, results["completed"])
    _finish(queue, executor, 2, results["completed"])
    assert queue.overall_progress() == 1.0
    assert queue.is_idle()
    queue.add(HP)  # a new batch begins
    assert queue.overall_progress() == 0.0


def test_run_until_idle_drives_the_queue(results: dict[str, TrainResult]) -> None:
    executor = FakeExecutor(slots=2)
    executor.auto_result = results["completed"]
    queue = ExperimentQueue(executor, DatasetSpec(), max_parallel=2)
    queue.pause()
    for i in range(5):
        queue.add(HP.replace(seed=i))
    queue.resume()
    queue.run_until_idle(poll_interval=0, timeout=5)
    assert all(r.state is ExperimentState.COMPLETED for r in queue.records.values())
    assert executor.submitted == [1, 2, 3, 4, 5]


def test_run_until_idle_refuses_to_spin_when_nothing_can_start() -> None:
    queue = ExperimentQueue(FakeExecutor(slots=0), DatasetSpec(), max_parallel=2)
    queue.add(HP)
    with pytest.raises(QueueError, match="cannot start"):
        queue.run_until_idle(poll_interval=0)


def test_a_worker_that_cannot_start_fails_only_its_experiment() -> None:
    class NoProcesses(FakeExecutor):
        def submit(self, job: Job) -> None:
            raise OSError(12, "Cannot allocate memory")

    queue = ExperimentQueue(NoProcesses(), DatasetSpec(), max_parallel=2)
    queue.add(HP)
    record = queue.records[1]
    assert record.state is ExperimentState.FAILED
    assert record.message.startswith("could not start a worker process")


def test_abandon_running_interrupts_at_once_and_ignores_late_reports(
    queue: ExperimentQueue, executor: FakeExecutor, results: dict[str, TrainResult]
) -> None:
    first, second, third = (queue.add(HP) for _ in range(3))
    assert queue.records[first.id].state is ExperimentState.RUNNING
    assert queue.records[third.id].state is ExperimentState.QUEUED
    queue.pause()  # nothing new may start when the runs are stopped
    ids = queue.abandon_running("interrupted: another session was opened")
    assert ids == [first.id, second.id]
    assert executor.cancelled == [first.id, second.id]
    for ident in ids:
        record = queue.records[ident]
        assert record.state is ExperimentState.INTERRUPTED
        assert record.message.startswith("interrupted: another session")
    # The workers' own answers arrive later and change nothing.
    executor.outbox.append(Finished(first.id, results["completed"]))
    queue.handle(executor.poll(0))
    assert queue.records[first.id].state is ExperimentState.INTERRUPTED
    assert queue.records[third.id].state is ExperimentState.QUEUED


def test_a_new_session_waits_for_an_abandoned_run_with_the_same_id(
    queue: ExperimentQueue, executor: FakeExecutor, results: dict[str, TrainResult]
) -> None:
    old = queue.add(HP)
    assert queue.records[old.id].state is ExperimentState.RUNNING
    queue.abandon_running("interrupted: another session was opened")
    queue.load([], [], dataset=DatasetSpec(name="moons"))
    new = queue.add(HP)
    assert new.id == old.id  # ids start again in the new session
    assert executor.submitted == [old.id]  # not started while the old run may still report
    assert queue.records[new.id].state is ExperimentState.QUEUED
    # The old worker's answer arrives: it is not applied to the new experiment...
    executor.outbox.append(Finished(old.id, results["completed"]))
    queue.handle(executor.poll(0))
    # ... and only then does the new one start.
    assert executor.submitted == [old.id, new.id]
    assert queue.records[new.id].state is ExperimentState.RUNNING
    assert queue.records[new.id].epochs_run == 0


def test_load_keeps_new_ids_above_next_id(queue: ExperimentQueue) -> None:
    queue.load([ExperimentRecord(id=1, hyperparameters=HP, state=ExperimentState.COMPLETED)],
               [1], next_id=5)
    queue.pause()
    assert queue.add(HP).id == 5


def test_a_cross_validated_experiment_reports_progress_over_all_its_folds(
    queue: ExperimentQueue, executor: FakeExecutor
) -> None:
    with pytest.raises(QueueError, match="at least 2 folds"):
        queue.add(HP, folds=1)
    record = queue.add(HP, folds=4)
    assert executor.jobs[-1].folds == 4
    rows = [EpochRecord(e, 0.5, 0.6, 0.7, 0.6, 0.5, 0.01 * e) for e in range(1, 11)]
    queue.handle([Progress(record.id, rows, fold=0, folds=4, epoch=10)])
    assert queue.records[record.id].progress == pytest.approx(10 / 80)  # HP has 20 epochs
    assert queue.records[record.id].epochs_run == 10
    queue.handle([Progress(record.id, (), fold=2, folds=4, epoch=5)])
    now = queue.records[record.id]
    assert now.progress == pytest.approx((2 * 20 + 5) / 80)
    assert now.epochs_run == 10  # the curves are the first fold's
    assert queue.duplicate(record.id).folds == 4


def test_the_worker_s_diagnoses_reach_the_record_until_its_state_changes(
    queue: ExperimentQueue, executor: FakeExecutor, results: dict[str, TrainResult]
) -> None:
    live, later, final = (diagnose({"train_cost": np.linspace(1.0, end, 50)})
                          for end in (0.9, 0.5, 0.1))
    first, second = queue.add(HP), queue.add(HP)
    epochs = tuple(EpochRecord(n, 0.6, 0.7, 0.8, 0.75, 0.5, 0.01 * n) for n in (1, 2, 3))
    queue.handle([Progress(first.id, epochs[:1], diagnosis=live), Progress(first.id, epochs[1:2])])
    assert queue.records[first.id].diagnosis is live  # until the next one comes
    queue.handle([Progress(first.id, epochs[2:], diagnosis=later)])
    assert queue.records[first.id].diagnosis is later
    queue.prune(first.id, "pruned at epoch 3: worse than the median")
    executor.outbox.append(Finished(first.id, results["cancelled"], diagnosis=final))
    queue.handle(executor.poll(0))
    record = queue.records[first.id]
    assert record.state is ExperimentState.PRUNED
    assert record.diagnosis is final  # pruned is a cancel's end: the same curve
    # Failed or interrupted, a run's live diagnosis no longer says what its state shows.
    executor.outbox += [Progress(second.id, epochs[:1], diagnosis=live), Failed(second.id, "died")]
    queue.handle(executor.poll(0))
    assert queue.records[second.id].diagnosis is None
    queue.requeue(second.id)
    queue.handle([Progress(second.id, epochs[:1], diagnosis=live)])
    assert queue.records[second.id].diagnosis is live
    queue.abandon_running("interrupted: the window closed")
    assert queue.records[second.id].state is ExperimentState.INTERRUPTED
    assert queue.records[second.id].diagnosis is None
