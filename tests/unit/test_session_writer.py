"""The background session writer: order of writes, batching of epochs, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dnnstudio.core.hyperparams import Hyperparameters
from dnnstudio.core.training import EpochRecord, EpochRows
from dnnstudio.runs.records import ExperimentRecord, ExperimentState
from dnnstudio.sessions.store import SessionStore
from dnnstudio.sessions.writer import SessionWriter


def _epochs(first: int, n: int) -> EpochRows:
    return EpochRows.from_records(
        [EpochRecord(e, 1.0 / e, 0.5, 0.6, 0.7, 0.01, 0.1 * e) for e in range(first, first + n)])


def _stored(path: Path) -> ExperimentRecord:
    with SessionStore.open(path, read_only=True) as store:
        return store.load().records[0]


def test_writes_keep_their_order_around_batched_epochs(tmp_path: Path) -> None:
    path = tmp_path / "s.dnnsession"
    writer = SessionWriter(path, create=True, flush_interval=60)  # epochs wait for a write
    record = ExperimentRecord(id=1, hyperparameters=Hyperparameters()).started()
    writer.put_experiment(record)
    writer.append_history(1, _epochs(1, 5))
    writer.append_history(1, _epochs(6, 5))
    # A fresh run of the same experiment: its empty history replaces the old epochs...
    writer.put_history(record)
    # ... and the epochs that come after it belong to the new run and are kept.
    writer.append_history(1, _epochs(1, 3))
    assert writer.flush(timeout=30)
    assert list(_stored(path).history["train_cost"]) == [1.0, 0.5, 1.0 / 3]
    writer.close()
    writer.close()  # idempotent


def test_epochs_are_written_within_the_interval_without_other_writes(tmp_path: Path) -> None:
    path = tmp_path / "s.dnnsession"
    writer = SessionWriter(path, create=True, flush_interval=0.05)
    writer.put_experiment(ExperimentRecord(id=1, hyperparameters=Hyperparameters()).started())
    writer.append_history(1, _epochs(1, 4))
    assert writer.flush(timeout=30)
    # The flush came after the epochs, so they are on disk now.
    assert _stored(path).epochs_run == 4
    writer.close()


def test_a_failed_write_is_reported_and_writing_goes_on(tmp_path: Path) -> None:
    errors: list[str] = []
    path = tmp_path / "s.dnnsession"
    writer = SessionWriter(path, create=True, on_error=errors.append)
    writer.append_history(7, _epochs(1, 2))  # experiment 7 was never put: refused
    finished = ExperimentRecord(id=1, hyperparameters=Hyperparameters(),
                                state=ExperimentState.COMPLETED)
    writer.put_experiment(finished)
    writer.close()
    assert len(errors) == 1
    assert "experiment 7 is not in the session" in errors[0]
    assert str(path) in errors[0]
    assert _stored(path).state is ExperimentState.COMPLETED


def test_running_experiments_epochs_are_written_together_and_a_refused_one_is_reported(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[int]] = []
    original = SessionStore.append_histories

    def counted(self: SessionStore, appends: Any) -> Any:
        calls.append([experiment_id for experiment_id, _, _ in appends])
        return original(self, appends)

    monkeypatch.setattr(SessionStore, "append_histories", counted)
    errors: list[str] = []
    path = tmp_path / "s.dnnsession"
    writer = SessionWriter(path, create=True, on_error=errors.append, flush_interval=60)
    for ident in (1, 2):
        writer.put_experiment(ExperimentRecord(id=ident, hyperparameters=Hyperparameters())
                              .started())
    for first in (1, 4):
        for ident in (1, 7, 2):  # 7 was never put
            writer.append_history(ident, _epochs(first, 3))
    writer.close()
    assert calls == [[1, 7, 2]]  # one transaction for all of them
    assert len(errors) == 1
    assert "experiment 7 is not in the session" in errors[0]
    with SessionStore.open(path, read_only=True) as store:
        assert [r.epochs_run for r in store.load().records] == [6, 6]
