"""The worker pool with real processes: results, progress, cancellation, crashes, shutdown.

Every wait is a poll loop bounded by a deadline, and every pool is shut down by its fixture;
the autouse fixture in conftest.py fails a test that leaves a worker behind.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from dnnstudio.core.advisor import diagnose
from dnnstudio.core.data.dataset import Splits
from dnnstudio.core.data.spec import DatasetSpec
from dnnstudio.core.hyperparams import Hyperparameters
from dnnstudio.core.training import (
    HISTORY_FIELDS,
    EpochRows,
    TrainResult,
    TrainStatus,
    train,
)
from dnnstudio.runs.messages import (
    HISTORY_PART_EPOCHS,
    LIVE_DIAGNOSIS_EPOCHS,
    Failed,
    Finished,
    HistoryPart,
    Job,
    Message,
    Progress,
    Started,
)
from dnnstudio.runs.pool import (
    WorkerPool,
    _assembled,
    _from_stream,
    _gather,
    _keep_streamed,
    _Worker,
)
from dnnstudio.runs.queue import ExperimentQueue
from dnnstudio.runs.records import ExperimentRecord, ExperimentState
from dnnstudio.runs.worker import send_finished, worker_main

DEADLINE = 30.0
SPEC = DatasetSpec()
LONG = Hyperparameters(alpha=0.1, epochs=2_000_000, hidden=(4,))
"""Full batch on planar: hours of epochs, so it is surely still running when a test acts."""


def _job(experiment_id: int, hp: Hyperparameters, spec: DatasetSpec = SPEC) -> Job:
    return Job(experiment_id, hp.to_dict(), spec.to_dict())


def _wait_for(pool: WorkerPool, done: Callable[[Message], bool]) -> list[Message]:
    """Poll until a message satisfies ``done``; every message seen, in order."""
    seen: list[Message] = []
    end = time.monotonic() + DEADLINE
    while not any(done(m) for m in seen):
        assert time.monotonic() < end, f"timed out; got {seen}"
        seen += pool.poll(0.5)
    return seen


def _run_all(pool: WorkerPool, jobs: Sequence[Job]) -> dict[int, list[Message]]:
    """Submit ``jobs`` as workers free up; every message per experiment, in order."""
    pending = list(jobs)
    out: dict[int, list[Message]] = {job.experiment_id: [] for job in jobs}
    ended: set[int] = set()
    end = time.monotonic() + DEADLINE
    while len(ended) < len(jobs):
        while pending and pool.idle_count() > 0:
            pool.submit(pending.pop(0))
        assert time.monotonic() < end, f"timed out; got {out}"
        for message in pool.poll(0.5):
            out[message.experiment_id].append(message)
            if isinstance(message, Finished | Failed):
                ended.add(message.experiment_id)
    return out


def _last(messages: list[Message]) -> Message:
    assert messages, "no messages"
    return messages[-1]


def _result(messages: list[Message]) -> TrainResult:
    last = _last(messages)
    assert isinstance(last, Finished), last
    return last.result


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    pool = WorkerPool(2)
    try:
        yield pool
    finally:
        pool.shutdown()


def test_parallel_results_match_direct_training_bit_for_bit(pool: WorkerPool) -> None:
    choices = {
        1: Hyperparameters(alpha=0.5, epochs=60, hidden=(4,), seed=1),
        2: Hyperparameters(alpha=0.05, epochs=8, hidden=(8, 4), optimizer="adam", batch_size=32,
                           keep_prob=0.9, seed=2),
        3: Hyperparameters(alpha=0.3, epochs=40, hidden=(5,), activation="tanh", l2=0.01,
                           dtype="float64", seed=3),
    }
    out = _run_all(pool, [_job(i, hp) for i, hp in choices.items()])
    data = SPEC.load().training_data()
    for i, hp in choices.items():
        messages = out[i]
        assert isinstance(messages[0], Started)
        assert messages[0].pid in pool.worker_pids()
        got, expected = _result(messages), train(hp, data)
        assert got.status is expected.status is TrainStatus.COMPLETED
        assert got.hyperparameters == hp
        assert got.epochs_run == expected.epochs_run
        for name in HISTORY_FIELDS[:-1]:  # all but the wall-clock times
            np.testing.assert_array_equal(getattr(got.history, name),
                                          getattr(expected.history, name))
        assert (got.train_cost, got.val_cost, got.train_metric, got.val_metric) == (
            expected.train_cost, expected.val_cost, expected.train_metric, expected.val_metric)
        assert got.model is not None
        assert expected.model is not None
        for (W, b), (W0, b0) in zip(got.model.params, expected.model.params, strict=True):
            np.testing.assert_array_equal(W, W0)
            np.testing.assert_array_equal(b, b0)
    assert pool.running() == {}
    assert pool.idle_count() == 2


def test_a_long_history_arrives_whole(pool: WorkerPool) -> None:
    # The worker does not send it again: the pool puts it together from the progress.
    hp = Hyperparameters(alpha=0.5, epochs=2 * HISTORY_PART_EPOCHS + 1000, hidden=(3,), seed=4)
    out = _run_all(pool, [_job(1, hp)])
    assert not any(isinstance(m, HistoryPart) for m in out[1])
    got, expected = _result(out[1]), train(hp, SPEC.load().training_data())
    assert len(got.history) == hp.epochs
    for name in HISTORY_FIELDS[:-1]:
        np.testing.assert_array_equal(getattr(got.history, name),
                                      getattr(expected.history, name))
    assert got.history.elapsed_s[-1] > got.history.elapsed_s[0]


def test_a_history_with_a_missing_part_fails_its_experiment() -> None:
    result = train(Hyperparameters(alpha=0.5, epochs=2 * HISTORY_PART_EPOCHS + 10,
                                   hidden=(2,)), SPEC.load().training_data())
    sent: list[Message] = []
    send_finished(sent.append, 7, result)
    parts = [m for m in sent if isinstance(m, HistoryPart)]
    finished = sent[-1]
    assert isinstance(finished, Finished)
    assert (len(parts), finished.parts, len(finished.result.history)) == (3, 3, 0)
    w = _Worker(process=None, conn=None)  # type: ignore[arg-type]
    for part in parts:
        _gather(w, part)
    whole = _assembled(w, finished)
    assert isinstance(whole, Finished)
    np.testing.assert_array_equal(whole.result.history.train_cost, result.history.train_cost)
    for part in (parts[0], parts[2]):  # the middle one lost
        _gather(w, part)
    broken = _assembled(w, finished)
    assert isinstance(broken, Failed)
    total = 2 * HISTORY_PART_EPOCHS + 10
    assert broken.reason == (f"the result arrived incomplete: {total - HISTORY_PART_EPOCHS} of "
                             f"{total} epochs of its history came from the worker; queue it "
                             "again")


def _streamed(result: TrainResult, sizes: Sequence[int]) -> list[np.ndarray]:
    """``result``'s history as the ``(k, 7)`` arrays of progress messages of ``sizes``."""
    h = result.history
    rows = np.column_stack([np.arange(1, len(h) + 1),
                            *(getattr(h, name) for name in HISTORY_FIELDS)])
    return np.split(rows, np.cumsum(sizes)[:-1])


def test_a_streamed_history_is_not_sent_again_unless_it_differs() -> None:
    n = HISTORY_PART_EPOCHS + 10
    result = train(Hyperparameters(alpha=0.5, epochs=n, hidden=(2,)),
                   SPEC.load().training_data())
    sizes = [3, n - 1003, 1000]
    sent: list[Message] = []
    send_finished(sent.append, 7, result, streamed=_streamed(result, sizes))
    [finished] = sent
    assert isinstance(finished, Finished)
    assert (finished.streamed, finished.parts, len(finished.result.history)) == (n, 0, 0)

    w = _Worker(process=None, conn=None, job=7, planned=n)  # type: ignore[arg-type]
    for progress in _streamed(result, sizes):
        _keep_streamed(w, Progress(7, EpochRows(progress)))
    whole = _from_stream(w, finished)
    assert isinstance(whole, Finished)
    for name in HISTORY_FIELDS:
        np.testing.assert_array_equal(getattr(whole.result.history, name),
                                      getattr(result.history, name))
    assert whole.result.train_cost == result.train_cost

    # What the worker sent differs from its result: the history goes whole, in parts.
    for broken in ([a.copy() for a in _streamed(result, sizes)], _streamed(result, sizes)[:2]):
        broken[0][1, 2] += 1.0  # a validation cost
        sent.clear()
        send_finished(sent.append, 7, result, streamed=broken)
        assert isinstance(sent[-1], Finished)
        assert (sent[-1].streamed, sent[-1].parts) == (0, 2)
    sent.clear()
    send_finished(sent.append, 7, result)  # nothing was streamed (cross-validation)
    assert isinstance(sent[-1], Finished)
    assert (sent[-1].streamed, sent[-1].parts) == (0, 2)


def test_a_worker_streams_a_long_history_instead_of_sending_it_twice() -> None:
    ours, theirs = multiprocessing.Pipe()
    thread = threading.Thread(target=worker_main, args=(theirs,), daemon=True)
    thread.start()
    try:
        n = HISTORY_PART_EPOCHS + 100
        ours.send(("train", _job(1, Hyperparameters(alpha=0.5, epochs=n, hidden=(3,)))))
        seen: list[Message] = []
        end = time.monotonic() + DEADLINE
        while not seen or not isinstance(seen[-1], Finished | Failed):
            assert ours.poll(max(0.0, end - time.monotonic())), "timed out"
            seen.append(ours.recv())
        finished = seen[-1]
        assert isinstance(finished, Finished)
        assert (finished.streamed, finished.parts, len(finished.result.history)) == (n, 0, 0)
        assert not any(isinstance(m, HistoryPart) for m in seen)
        assert sum(len(m.records) for m in seen if isinstance(m, Progress)) == n
    finally:
        ours.send(("stop",))
        thread.join(DEADLINE)
        ours.close()
        theirs.close()


def test_a_long_run_is_diagnosed_by_its_worker_as_the_window_would(pool: WorkerPool) -> None:
    hp = Hyperparameters(alpha=0.5, epochs=40_000, hidden=(3,))
    pool.submit(_job(1, hp))
    seen = _wait_for(pool, lambda m: isinstance(m, Finished | Failed))
    record = ExperimentRecord(1, hp).started()
    diagnosed_at = []
    for message in seen:
        if isinstance(message, Progress):
            record = record.progressed(message.records)
            if message.diagnosis is not None:
                diagnosed_at.append(record.epochs_run)
                # What the window would have made of the record these epochs built.
                assert repr(message.diagnosis) == repr(diagnose(record))
                assert "so far" in message.diagnosis.detail
    assert diagnosed_at, "no live diagnosis"
    assert diagnosed_at[0] > LIVE_DIAGNOSIS_EPOCHS
    assert all(b >= 1.25 * a for a, b in zip(diagnosed_at, diagnosed_at[1:], strict=False))
    finished = seen[-1]
    assert isinstance(finished, Finished)
    assert finished.diagnosis is not None
    assert repr(finished.diagnosis) == repr(diagnose(record.finished(finished.result)))
    # A short run is diagnosed where it is shown.
    pool.submit(_job(2, hp.replace(epochs=LIVE_DIAGNOSIS_EPOCHS)))
    short = _wait_for(pool, lambda m: isinstance(m, Finished | Failed))
    assert isinstance(short[-1], Finished)
    assert all(getattr(m, "diagnosis", None) is None for m in short)


def test_a_short_run_s_progress_is_not_kept_by_the_pool(pool: WorkerPool) -> None:
    # Its history fits one message and comes whole with Finished.
    pool.submit(_job(1, Hyperparameters(alpha=0.5, epochs=300, hidden=(3,))))
    seen: list[Message] = []
    end = time.monotonic() + DEADLINE
    while not any(isinstance(m, Finished) for m in seen):
        assert time.monotonic() < end, f"timed out; got {seen}"
        seen += pool.poll(0.5)
        assert all(w.stream is None for w in pool._workers)
    assert any(isinstance(m, Progress) and m.records for m in seen)
    finished = next(m for m in seen if isinstance(m, Finished))
    assert len(finished.result.history) == 300


def test_a_streamed_history_with_missing_epochs_fails_its_experiment() -> None:
    result = train(Hyperparameters(alpha=0.5, epochs=50, hidden=(2,)),
                   SPEC.load().training_data())
    first, lost, last = _streamed(result, [20, 10, 20])
    finished = Finished(3, result, streamed=50)
    for received in ([first, last], [first, lost]):
        w = _Worker(process=None, conn=None, job=3, planned=50)  # type: ignore[arg-type]
        for progress in received:
            _keep_streamed(w, Progress(3, EpochRows(progress)))
        broken = _from_stream(w, finished)
        assert isinstance(broken, Failed)
        assert broken.reason == ("the result arrived incomplete: "
                                 f"{0 if received[1] is last else 30} of 50 epochs of its "
                                 "history came from the worker; queue it again")


def test_progress_is_batched_and_covers_every_epoch_once_in_order(pool: WorkerPool) -> None:
    hp = Hyperparameters(alpha=0.5, epochs=3000, hidden=(4,))
    messages = _run_all(pool, [_job(1, hp)])[1]
    result = _result(messages)
    assert result.epochs_run == 3000
    progress = [m for m in messages if isinstance(m, Progress)]
    epochs = [record.epoch for m in progress for record in m.records]
    assert epochs == list(range(1, 3001))
    # At most one message per 50 ms of training (plus the first and the final flush).
    assert len(progress) <= result.train_time_s / 0.05 + 2
    assert len(progress) < 3000 / 10
    assert isinstance(messages[0], Started)
    costs = [record.train_cost for m in progress for record in m.records]
    np.testing.assert_array_equal(np.asarray(costs), result.history.train_cost)


def test_cancel_mid_run_gives_a_cancelled_result(pool: WorkerPool) -> None:
    pool.submit(_job(1, LONG))
    assert pool.running().keys() == {1}
    pool.cancel(2)  # not running: ignored
    seen = _wait_for(pool, lambda m: isinstance(m, Progress))
    pool.cancel(1)
    seen += _wait_for(pool, lambda m: isinstance(m, Finished | Failed))
    result = _result(seen)
    assert result.status is TrainStatus.CANCELLED
    assert 0 < result.epochs_run < LONG.epochs
    assert result.message.startswith("Cancelled after")
    assert pool.running() == {}


def test_submit_refuses_when_every_worker_is_busy() -> None:
    with WorkerPool(1) as pool:
        pool.submit(_job(1, LONG))
        assert pool.idle_count() == 0
        with pytest.raises(RuntimeError, match="no idle worker"):
            pool.submit(_job(2, LONG))
        with pytest.raises(ValueError, match="already running"):
            pool.submit(_job(1, LONG))
    # Shut down mid-run: the worker stopped without finishing the run.
    assert pool.idle_count() == 0
    assert pool.poll(0.1) == []
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(_job(3, LONG))
    pool.shutdown()  # again: nothing happens


def test_a_killed_worker_fails_its_experiment_and_the_pool_goes_on() -> None:
    with WorkerPool(1) as pool:
        pool.submit(_job(1, LONG))
        seen = _wait_for(pool, lambda m: isinstance(m, Started))
        old_pid = pool.running()[1]
        pool.kill_worker(1)
        seen += _wait_for(pool, lambda m: isinstance(m, Failed))
        failed = _last(seen)
        assert isinstance(failed, Failed)
        assert failed.experiment_id == 1
        assert failed.reason == "the worker process died (killed by signal 9)"
        assert pool.running() == {}
        assert old_pid not in pool.worker_pids()
        assert pool.idle_count() == 1
        out = _run_all(pool, [_job(2, Hyperparameters(alpha=0.5, epochs=5, hidden=(4,)))])
        assert _result(out[2]).status is TrainStatus.COMPLETED


def test_bad_jobs_fail_with_their_message_and_the_worker_survives(tmp_path: Path) -> None:
    missing = DatasetSpec(source="csv", path=str(tmp_path / "missing.csv"))
    with WorkerPool(1) as pool:
        pool.warm_up()
        (pid,) = pool.worker_pids()
        out = _run_all(pool, [
            _job(1, Hyperparameters(epochs=5, hidden=(4,)), missing),
            Job(2, {"alpha": -1.0}, SPEC.to_dict()),
            _job(3, Hyperparameters(alpha=0.5, epochs=5, hidden=(4,))),
        ])
        bad_data = _last(out[1])
        assert isinstance(bad_data, Failed)
        assert bad_data.reason == f"there is no file at {str(tmp_path / 'missing.csv')!r}."
        bad_hp = _last(out[2])
        assert isinstance(bad_hp, Failed)
        assert bad_hp.reason.startswith("alpha = -1.0 is not allowed")
        started = out[3][0]
        assert isinstance(started, Started)
        assert started.pid == pid  # the same worker, still alive
        assert _result(out[3]).status is TrainStatus.COMPLETED
        assert pool.worker_pids() == [pid]


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_workers_get_one_blas_thread_and_the_parent_environment_is_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    with WorkerPool(1) as pool:
        # After a job the worker has surely exec'd its interpreter (before that, /proc may
        # still show the forking parent's state, or nothing).
        out = _run_all(pool, [_job(1, Hyperparameters(alpha=0.5, epochs=2, hidden=(4,)))])
        started = out[1][0]
        assert isinstance(started, Started)
        environ = Path(f"/proc/{started.pid}/environ").read_bytes().split(b"\0")
        assert b"OPENBLAS_NUM_THREADS=1" in environ
        assert b"OMP_NUM_THREADS=1" in environ
        assert b"MKL_NUM_THREADS=1" in environ
    assert os.environ["OMP_NUM_THREADS"] == "3"
    assert "OPENBLAS_NUM_THREADS" not in os.environ


def test_shrinking_retires_idle_workers(pool: WorkerPool) -> None:
    pool.warm_up()
    assert len(pool.worker_pids()) == 2
    pool.resize(1)
    assert pool.size == 1
    assert pool.idle_count() == 1
    end = time.monotonic() + DEADLINE
    while len(pool.worker_pids()) > 1:
        assert time.monotonic() < end
        assert pool.poll(0.2) == []
    out = _run_all(pool, [_job(1, Hyperparameters(alpha=0.5, epochs=5, hidden=(4,)))])
    assert _result(out[1]).status is TrainStatus.COMPLETED
    pool.resize(2)
    assert pool.idle_count() == 2


def test_a_queue_runs_its_experiments_on_a_real_pool(pool: WorkerPool) -> None:
    queue = ExperimentQueue(pool, SPEC, max_parallel=2)
    for seed in range(3):
        queue.add(Hyperparameters(alpha=0.5, epochs=30, hidden=(4,), seed=seed))
    queue.run_until_idle(timeout=DEADLINE)
    records = [queue.records[i] for i in queue.order]
    assert [r.state for r in records] == [ExperimentState.COMPLETED] * 3
    assert all(r.epochs_run == 30 and len(r.history["train_cost"]) == 30 for r in records)
    assert queue.overall_progress() == 1.0


def test_worker_loop_in_a_thread_caches_data_and_ignores_stray_cancels(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loads: list[DatasetSpec] = []
    real_load = DatasetSpec.load

    def counting_load(self: DatasetSpec) -> Splits:
        loads.append(self)
        return real_load(self)

    monkeypatch.setattr(DatasetSpec, "load", counting_load)
    ours, theirs = multiprocessing.Pipe()
    thread = threading.Thread(target=worker_main, args=(theirs,), daemon=True)
    thread.start()
    try:
        hp = Hyperparameters(alpha=0.5, epochs=5, hidden=(4,))
        ours.send(("cancel", 1))  # nothing is running: ignored
        ours.send(("train", _job(1, hp)))
        ours.send(("train", _job(2, hp.replace(seed=1))))
        ours.send(("bogus",))
        ours.send(("train", _job(3, hp, DatasetSpec(name="moons"))))
        ended: list[Message] = []
        end = time.monotonic() + DEADLINE
        while len(ended) < 3:
            assert ours.poll(max(0.0, end - time.monotonic())), "timed out"
            message = ours.recv()
            if isinstance(message, Finished | Failed):
                ended.append(message)
        assert [m.experiment_id for m in ended] == [1, 2, 3]
        assert all(isinstance(m, Finished) for m in ended)
        assert loads == [SPEC, DatasetSpec(name="moons")]  # planar was loaded once
    finally:
        ours.send(("stop",))
        thread.join(DEADLINE)
        ours.close()
        theirs.close()
    assert not thread.is_alive()


def test_a_poll_waiting_in_another_thread_sees_a_job_submitted_meanwhile(
    pool: WorkerPool,
) -> None:
    got: list[Message] = []
    took: list[float] = []

    def supervise() -> None:
        t0 = time.monotonic()
        got.extend(pool.poll(DEADLINE))  # returns with the first messages, not after 30 s
        took.append(time.monotonic() - t0)

    thread = threading.Thread(target=supervise, daemon=True)
    thread.start()
    pool.submit(_job(1, Hyperparameters(alpha=0.5, epochs=5, hidden=(4,))))
    thread.join(DEADLINE + 5)
    assert not thread.is_alive()
    assert got
    assert took[0] < DEADLINE / 2
    rest = got if isinstance(got[-1], Finished) else got + _wait_for(
        pool, lambda m: isinstance(m, Finished))
    assert _result(rest).status is TrainStatus.COMPLETED


def test_snapshots_of_parameters_arrive_while_training() -> None:
    from dnnstudio.runs.messages import Snapshot

    hp = Hyperparameters(alpha=0.5, epochs=4000, hidden=(4,), activation="tanh")
    job = Job(1, hp.to_dict(), DatasetSpec().to_dict(), 1, snapshot_seconds=0.05)
    with WorkerPool(1) as pool:
        pool.submit(job)
        messages = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
            isinstance(m, Finished | Failed) for m in messages
        ):
            messages += pool.poll(0.1)
    snapshots = [m for m in messages if isinstance(m, Snapshot)]
    assert snapshots, [type(m).__name__ for m in messages]
    assert [W.shape for W, _ in snapshots[0].params] == [(4, 2), (1, 4)]
    progressed = 0
    for m in messages:  # a snapshot never runs ahead of the progress sent before it
        if isinstance(m, Progress):
            progressed = m.records[-1].epoch
        elif isinstance(m, Snapshot):
            assert m.epoch <= progressed


def test_npz_source_trains_in_a_worker(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X, Xv = rng.standard_normal((60, 3)), rng.standard_normal((30, 3))
    path = tmp_path / "arrays.npz"
    np.savez(path, X_train=X, y_train=(X[:, 0] > 0).astype(int), X_val=Xv,
             y_val=(Xv[:, 0] > 0).astype(int))
    spec = DatasetSpec(source="npz", path=str(path))
    hp = Hyperparameters(alpha=0.5, epochs=50, hidden=())
    with WorkerPool(1) as pool:
        pool.submit(Job(1, hp.to_dict(), spec.to_dict()))
        messages: list[Message] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
            isinstance(m, Finished | Failed) for m in messages
        ):
            messages += pool.poll(0.1)
    finished = [m for m in messages if isinstance(m, Finished)]
    assert finished, messages
    expected = train(hp, spec.training_data())
    np.testing.assert_array_equal(finished[0].result.history.train_cost,
                                  expected.history.train_cost)


def test_a_worker_out_of_memory_fails_only_that_experiment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dnnstudio.runs import worker as worker_module

    real_train = worker_module.train

    def train_or_run_out(hp: Hyperparameters, *args: object, **kwargs: object) -> TrainResult:
        if hp.seed == 13:
            raise MemoryError
        return real_train(hp, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(worker_module, "train", train_or_run_out)
    ours, theirs = multiprocessing.Pipe()
    thread = threading.Thread(target=worker_main, args=(theirs,), daemon=True)
    thread.start()
    try:
        hp = Hyperparameters(alpha=0.5, epochs=5, hidden=(4,))
        ours.send(("train", _job(1, hp.replace(seed=13))))
        ours.send(("train", _job(2, hp)))
        ended: list[Message] = []
        end = time.monotonic() + DEADLINE
        while len(ended) < 2:
            assert ours.poll(max(0.0, end - time.monotonic())), "timed out"
            message = ours.recv()
            if isinstance(message, Finished | Failed):
                ended.append(message)
        failed, finished = ended
        assert isinstance(failed, Failed)
        assert failed.experiment_id == 1
        assert failed.reason.startswith("out of memory: this experiment needs more memory")
        assert isinstance(finished, Finished)
        assert finished.result.status is TrainStatus.COMPLETED
    finally:
        ours.send(("stop",))
        thread.join(DEADLINE)
        ours.close()
        theirs.close()


@pytest.mark.skipif(not hasattr(os, "sched_getscheduler"), reason="Linux scheduling classes")
def test_workers_yield_their_core_to_the_window() -> None:
    # The idle class: a waking window thread preempts a training worker at once.
    with WorkerPool(1) as pool:
        out = _run_all(pool, [_job(1, Hyperparameters(alpha=0.5, epochs=5, hidden=(4,)))])
        started = out[1][0]
        assert isinstance(started, Started)
        assert os.sched_getscheduler(started.pid) == os.SCHED_IDLE
        assert os.sched_getscheduler(0) != os.SCHED_IDLE  # the parent keeps its class
