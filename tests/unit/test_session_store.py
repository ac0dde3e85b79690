"""The session file: round trips, incremental writes, refusing foreign files, crash safety."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from dnnstudio.core.data.spec import DatasetSpec
from dnnstudio.core.hyperparams import Hyperparameters
from dnnstudio.core.training import HISTORY_FIELDS, EpochRecord
from dnnstudio.runs.records import ExperimentRecord, ExperimentState, TestEvaluation
from dnnstudio.sessions import store as store_module
from dnnstudio.sessions.store import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    SessionError,
    SessionStore,
    StoredSearch,
)

NAN, INF = math.nan, math.inf
SPEC = DatasetSpec(source="builtin", name="moons", n_samples=300, noise=0.25, seed=7,
                   split=(0.7, 0.15, 0.15))


def _history(n: int, *, start: float = 1.0) -> dict[str, list[float]]:
    return {
        "train_cost": [start / (e + 1) for e in range(n)],
        "val_cost": [NAN if e % 2 else 0.1 * e + 1 / 3 for e in range(n)],  # skipped epochs
        "train_metric": [0.5 + e / (10 * n) for e in range(n)],
        "val_metric": [NAN if e % 2 else 0.4 + e / (20 * n) for e in range(n)],
        "learning_rate": [0.01 * 0.9**e for e in range(n)],
        "elapsed_s": [0.013 * (e + 1) for e in range(n)],
    }


def _params(sizes: Sequence[int], dtype: str, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [
        (rng.standard_normal((sizes[l], sizes[l - 1])).astype(dtype),
         rng.standard_normal((sizes[l], 1)).astype(dtype))
        for l in range(1, len(sizes))  # noqa: E741
    ]


def sample_records() -> list[ExperimentRecord]:
    """One record in every interesting state."""
    hp = Hyperparameters(alpha=0.05, epochs=6, hidden=(5, 3), activation=("relu", "tanh"),
                         optimizer="adam", batch_size=32, patience=3, seed=11)
    completed = ExperimentRecord(
        id=1, hyperparameters=hp, state=ExperimentState.COMPLETED,
        note="Deeper net — α too small?\nSecond line,\twith a tab; ünïcödé ✓ 学习",
        created_at=1_700_000_000.125, started_at=1_700_000_001.5, finished_at=1_700_000_009.0,
        epochs_run=6, history=_history(6), train_cost=0.1234567890123, val_cost=0.2,
        train_metric=0.95, val_metric=0.9, train_time_s=7.5, parameter_count=37,
        message="Completed 6 epochs.", params=_params((2, 5, 3, 1), "float32", 0),
        group="search 1",
    )
    diverged = ExperimentRecord(
        id=2, hyperparameters=hp.replace(alpha=50.0, dtype="float64"),
        state=ExperimentState.DIVERGED, created_at=1_700_000_010.0,
        started_at=1_700_000_011.0, finished_at=1_700_000_012.0, epochs_run=3,
        history={**_history(3), "train_cost": [0.7, 9.0, NAN]}, train_time_s=0.25,
        parameter_count=37, message="The cost became NaN at epoch 3: lower alpha.",
        diverged_epoch=3, group="search 1",
    )
    failed = ExperimentRecord(
        id=3, hyperparameters=Hyperparameters(hidden=()), state=ExperimentState.FAILED,
        created_at=1_700_000_020.0, started_at=1_700_000_021.0, finished_at=1_700_000_022.0,
        message="the worker died: MemoryError",
    )
    queued = ExperimentRecord(id=4, hyperparameters=hp.replace(l2=0.7), note="try L2",
                              created_at=1_700_000_030.0)
    running = ExperimentRecord(
        id=5, hyperparameters=hp.replace(keep_prob=0.8), state=ExperimentState.RUNNING,
        created_at=1_700_000_040.0, started_at=1_700_000_041.0, epochs_run=2,
        history=_history(2, start=2.0),
    )
    regression = ExperimentRecord(
        id=7, hyperparameters=Hyperparameters(hidden=(4,), dtype="float64"),
        state=ExperimentState.COMPLETED, metric="r2", created_at=1_700_000_050.0,
        epochs_run=2, history={**_history(2), "val_metric": [-INF, -2.0]},
        train_metric=0.25, val_metric=-INF, params=_params((3, 4, 1), "float64", 1),
    )
    return [completed, diverged, failed, queued, running, regression]


def _same_float(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return (math.isnan(a) and math.isnan(b)) or a == b


def assert_same_record(got: ExperimentRecord, want: ExperimentRecord) -> None:
    assert type(got.state) is ExperimentState
    for name in ("id", "hyperparameters", "state", "note", "epochs_run", "metric",
                 "parameter_count", "message", "diverged_epoch", "group"):
        assert getattr(got, name) == getattr(want, name), name
    for name in ("created_at", "started_at", "finished_at", "train_cost", "val_cost",
                 "train_metric", "val_metric", "train_time_s"):
        assert _same_float(getattr(got, name), getattr(want, name)), name
    assert list(got.history) == list(HISTORY_FIELDS)
    for name in HISTORY_FIELDS:
        g, w = list(got.history[name]), list(want.history[name])
        assert len(g) == len(w), name
        assert all(_same_float(x, y) for x, y in zip(g, w, strict=True)), (name, g, w)
    if want.params is None:
        assert got.params is None
    else:
        assert got.params is not None
        assert len(got.params) == len(want.params)
        for (gW, gb), (wW, wb) in zip(got.params, want.params, strict=True):
            for g_arr, w_arr in ((gW, wW), (gb, wb)):
                assert g_arr.dtype == w_arr.dtype
                assert g_arr.shape == w_arr.shape
                assert g_arr.tobytes() == w_arr.tobytes()  # bitwise


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def session_path(tmp_path: Path) -> Path:
    return tmp_path / "work.dnnsession"


def _filled(path: Path) -> list[ExperimentRecord]:
    records = sample_records()
    with SessionStore.create(path) as store:
        store.put_dataset(SPEC)
        for record in records:
            store.put_experiment(record, history=True)
        store.put_order([5, 4, 1, 2, 3, 7])
    return records


# -- round trips ---------------------------------------------------------------------------------

def test_round_trip_keeps_everything(session_path: Path) -> None:
    records = _filled(session_path)
    with SessionStore.open(session_path) as store:
        data = store.load()
    assert data.dataset == SPEC
    assert data.order == [5, 4, 1, 2, 3, 7]
    assert [r.id for r in data.records] == [1, 2, 3, 4, 5, 7]
    for got, want in zip(data.records, records, strict=True):
        assert_same_record(got, want)
    # A run that was going on when the file was written is reported as such.
    assert data.records[4].state is ExperimentState.RUNNING
    assert data.next_id == 8
    assert [r.id for r in data.in_order()] == [5, 4, 1, 2, 3, 7]


def test_file_identifies_itself(session_path: Path) -> None:
    _filled(session_path)
    conn = sqlite3.connect(session_path)
    try:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        # The documented layout: chunks of little-endian doubles, six per epoch, NaN where a
        # figure was not measured.
        stored = SessionStore.open(session_path, read_only=True)
        with stored:
            want = {r.id: r for r in stored.load().records}
        chunks = conn.execute("SELECT experiment_id, first_epoch, epochs, data FROM history "
                              "ORDER BY experiment_id, first_epoch").fetchall()
        assert chunks
        nan_seen = False
        for experiment_id, first_epoch, epochs, data in chunks:
            array = np.frombuffer(data, "<f8").reshape(epochs, 6)
            for j, name in enumerate(HISTORY_FIELDS):
                expected = np.asarray(want[experiment_id].history[name])
                np.testing.assert_array_equal(
                    array[:, j], expected[first_epoch - 1: first_epoch - 1 + epochs])
            nan_seen = nan_seen or bool(np.isnan(array).any())
        assert nan_seen
    finally:
        conn.close()


def test_new_session_is_empty(session_path: Path) -> None:
    with SessionStore.create(session_path) as store:
        assert store.path == session_path
        data = store.load()
        assert store.dataset() is None
    assert data.dataset is None
    assert data.records == []
    assert data.order == []
    assert data.next_id == 1


def test_put_experiment_updates_but_keeps_history(session_path: Path) -> None:
    records = _filled(session_path)
    with SessionStore.open(session_path) as store:
        store.put_experiment(records[0].replace(note="edited", params=None))
        got = store.load().records[0]
    assert got.note == "edited"
    assert got.params is None
    assert got.history["train_cost"] == records[0].history["train_cost"]


def test_requeued_experiment_loses_its_old_history(session_path: Path) -> None:
    records = _filled(session_path)
    with SessionStore.open(session_path) as store:
        store.put_experiment(records[1].requeued())
        got = store.load().records[1]
    assert got.state is ExperimentState.QUEUED
    assert all(len(v) == 0 for v in got.history.values())
    assert got.epochs_run == 0


def _rows(first: int, n: int) -> list[EpochRecord]:
    return [EpochRecord(epoch=e, train_cost=1 / e, val_cost=NAN if e % 3 else 2 / e,
                        train_metric=0.5, val_metric=NAN, learning_rate=0.1, elapsed_s=0.01 * e)
            for e in range(first, first + n)]


def test_append_history_incrementally(session_path: Path) -> None:
    hp = Hyperparameters(epochs=20)
    record = ExperimentRecord(id=9, hyperparameters=hp, created_at=1.0).started(when=2.0)
    with SessionStore.create(session_path) as store:
        store.put_experiment(record)
        store.append_history(9, 1, _rows(1, 4))
        store.append_history(9, 5, _rows(5, 3))
        store.append_history(9, 5, _rows(5, 3))  # sent twice: no change
        store.append_history(9, 8, [])
    with SessionStore.open(session_path) as store:
        got = store.load().records[0]
    want = record.progressed(_rows(1, 7))
    assert got.epochs_run == 7
    assert_same_record(got, want)


def test_append_history_within_a_stored_chunk_cuts_it_there(session_path: Path) -> None:
    hp = Hyperparameters(epochs=20)
    record = ExperimentRecord(id=9, hyperparameters=hp, created_at=1.0).started(when=2.0)
    changed = [dataclasses.replace(r, train_cost=7.0) for r in _rows(5, 4)]
    with SessionStore.create(session_path) as store:
        store.put_experiment(record)
        store.append_history(9, 1, _rows(1, 7))
        store.append_history(9, 5, changed)  # epochs 5-7 again, and 8
    with SessionStore.open(session_path) as store:
        got = store.load().records[0]
    assert got.epochs_run == 8
    assert_same_record(got, record.progressed(_rows(1, 4) + changed))


def test_append_history_checks_its_rows(session_path: Path) -> None:
    with SessionStore.create(session_path) as store:
        with pytest.raises(ValueError, match="not in the session"):
            store.append_history(1, 1, _rows(1, 2))
        store.put_experiment(ExperimentRecord(id=1, hyperparameters=Hyperparameters()))
        with pytest.raises(ValueError, match="epochs 3, 4"):
            store.append_history(1, 3, _rows(1, 2))
        assert store.load().records[0].history["train_cost"] == []


def test_several_experiments_append_in_one_transaction_and_a_refused_one_is_left_out(
        session_path: Path) -> None:
    hp = Hyperparameters(epochs=20)
    one, two = (ExperimentRecord(id=i, hyperparameters=hp, created_at=1.0).started(when=2.0)
                for i in (1, 2))
    with SessionStore.create(session_path) as store:
        store.put_experiment(one)
        store.put_experiment(two)
        store.append_history(2, 1, _rows(1, 2))
        statements: list[str] = []
        store._connection().set_trace_callback(statements.append)
        errors = store.append_histories([
            (1, 1, _rows(1, 4)),
            (2, 5, _rows(5, 2)),  # epochs 3-4 are missing: refused, and nothing of it kept
            (3, 1, _rows(1, 2)),  # not in the session
            (2, 3, _rows(3, 3)),
            (1, 5, []),
        ])
        store._connection().set_trace_callback(None)
        assert [type(e) for e in errors] == [type(None), ValueError, ValueError, type(None),
                                             type(None)]
        assert "the next epoch to store is 3, not 5" in str(errors[1])
        assert "not in the session" in str(errors[2])
        assert statements.count("COMMIT") == 1
        assert store.append_histories([]) == []
    with SessionStore.open(session_path) as store:
        got = {r.id: r for r in store.load().records}
    assert_same_record(got[1], one.progressed(_rows(1, 4)))
    assert_same_record(got[2], two.progressed(_rows(1, 5)))


def test_put_history_replaces_the_whole_curve(session_path: Path) -> None:
    records = _filled(session_path)
    running = records[4]
    finished = running.replace(state=ExperimentState.COMPLETED, history=_history(4), epochs_run=4)
    with SessionStore.open(session_path) as store:
        store.append_history(running.id, 3, _rows(3, 5))
        store.put_experiment(finished)
        store.put_history(finished)
        got = store.load().records[4]
    assert_same_record(got, finished)


def test_delete_experiment(session_path: Path) -> None:
    _filled(session_path)
    with SessionStore.open(session_path) as store:
        store.delete_experiment(1)
        data = store.load()
    assert [r.id for r in data.records] == [2, 3, 4, 5, 7]
    assert data.order == [5, 4, 2, 3, 7]
    conn = sqlite3.connect(session_path)
    try:
        assert conn.execute("SELECT COUNT(*) FROM history WHERE experiment_id = 1").fetchone()[0] \
            == 0
    finally:
        conn.close()


def test_order_lists_every_experiment(session_path: Path) -> None:
    _filled(session_path)
    with SessionStore.open(session_path) as store:
        store.put_order([7, 99, 2])  # 99 does not exist; the rest are missing
        assert store.load().order == [7, 2, 1, 3, 4, 5]


def test_mark_running_interrupted(session_path: Path) -> None:
    _filled(session_path)
    with SessionStore.open(session_path) as store:
        assert store.mark_running_interrupted() == [5]
        got = {r.id: r for r in store.load().records}
    assert got[5].state is ExperimentState.INTERRUPTED
    assert got[5].state.can_requeue()
    assert got[5].message == store_module.INTERRUPTED_MESSAGE
    assert got[5].epochs_run == 2
    assert got[1].state is ExperimentState.COMPLETED


def test_add_experiment_takes_the_next_id(session_path: Path) -> None:
    _filled(session_path)
    record = sample_records()[0].replace(id=1)
    with SessionStore.open(session_path) as store:
        added = store.add_experiment(record)
        data = store.load()
    assert added.id == 8
    assert_same_record(data.records[-1], added)


# -- files ----------------------------------------------------------------------------------------

def test_a_session_is_one_file(session_path: Path) -> None:
    _filled(session_path)
    with SessionStore.open(session_path) as store:
        store.append_history(5, 3, _rows(3, 2))
    assert os.listdir(session_path.parent) == [session_path.name]


def test_create_does_not_replace_a_file(session_path: Path) -> None:
    session_path.write_text("precious", encoding="utf-8")
    with pytest.raises(SessionError, match="already exists"):
        SessionStore.create(session_path)
    assert session_path.read_text(encoding="utf-8") == "precious"
    with SessionStore.create(session_path, overwrite=True) as store:
        assert store.load().records == []
    assert os.listdir(session_path.parent) == [session_path.name]


def test_save_as_copies_and_leaves_the_original(session_path: Path, tmp_path: Path) -> None:
    records = _filled(session_path)
    before = _digest(session_path)
    target = tmp_path / "copy.dnnsession"
    with SessionStore.open(session_path) as store:
        before_open = _digest(session_path)
        with store.save_as(target) as copy:
            assert copy.path == target
            copy.put_experiment(records[3].replace(note="only in the copy"))
        with pytest.raises(SessionError, match="own file"):
            store.save_as(session_path)
        with pytest.raises(SessionError, match="already exists"):
            store.save_as(target, overwrite=False)
        assert store.load().records[3].note == "try L2"
    assert _digest(session_path) == before_open == before
    with SessionStore.open(target) as copy:
        data = copy.load()
    assert data.records[3].note == "only in the copy"
    assert data.dataset == SPEC
    assert_same_record(data.records[0], records[0])
    assert sorted(os.listdir(tmp_path)) == ["copy.dnnsession", "work.dnnsession"]


def test_read_only_store_never_writes(session_path: Path) -> None:
    records = _filled(session_path)
    before = _digest(session_path)
    with SessionStore.open(session_path, read_only=True) as store:
        assert store.read_only
        assert len(store.load().records) == len(records)
        with pytest.raises(SessionError, match="read-only"):
            store.put_order([1])
    assert _digest(session_path) == before


def test_closed_store_says_so(session_path: Path) -> None:
    store = SessionStore.create(session_path)
    store.close()
    store.close()
    with pytest.raises(SessionError, match="closed"):
        store.load()


# -- refusing what is not a session --------------------------------------------------------

def _other_program(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE people (name TEXT)")
    conn.execute("INSERT INTO people VALUES ('Ada')")
    conn.commit()
    conn.close()


def _ours_without_tables(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 1")
    conn.execute("CREATE TABLE meta (key TEXT)")
    conn.commit()
    conn.close()


def _newer(path: Path) -> None:
    _filled(path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()


def _damaged(path: Path) -> None:
    _filled(path)
    with path.open("r+b") as stream:
        stream.seek(4096)  # page 2, a table's b-tree
        stream.write(b"\xa5" * 4096)


def _cut_short(path: Path) -> None:
    _filled(path)
    with path.open("r+b") as stream:
        stream.truncate(5000)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_text("id,name\n1,Ada\n", encoding="utf-8"),
         "is not a DNN Studio session (it is not a SQLite database)"),
        (lambda p: p.write_bytes(np.random.default_rng(3).bytes(5000)),
         "is not a DNN Studio session (it is not a SQLite database)"),
        (lambda p: p.write_bytes(b""), "is empty, not a DNN Studio session"),
        (_other_program, "is not a DNN Studio session (it is a SQLite database of another "
                         "program)"),
        (_ours_without_tables, "is not a DNN Studio session (it has no experiments, history "
                               "table)"),
        (_newer, "was saved by a newer DNN Studio (schema 99); this version reads up to 3"),
        (_damaged, "is a damaged DNN Studio session (Page 2: btreeInitPage()"),
        (_cut_short, "is a damaged DNN Studio session"),
    ],
    ids=["text", "random", "empty", "other-sqlite", "no-tables", "newer", "damaged",
         "cut-short"],
)
@pytest.mark.parametrize("read_only", [False, True], ids=["rw", "ro"])
def test_refuses_what_is_not_a_session(make: Callable[[Path], object], message: str,
                                       read_only: bool,
                                       tmp_path: Path) -> None:
    path = tmp_path / "thing.dnnsession"
    make(path)
    before = _digest(path)
    with pytest.raises(SessionError) as caught:
        SessionStore.open(path, read_only=read_only)
    text = str(caught.value)
    assert text.startswith(str(path))
    assert message in text
    assert "\n" not in text
    assert _digest(path) == before
    assert os.listdir(tmp_path) == [path.name]  # no journal or lock file either


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(SessionError, match="does not exist"):
        SessionStore.open(tmp_path / "nope.dnnsession")
    with pytest.raises(SessionError, match="is a folder"):
        SessionStore.open(tmp_path)
    with pytest.raises(SessionError, match="folder .* does not exist"):
        SessionStore.create(tmp_path / "no" / "such.dnnsession")


def test_pickled_parameters_are_refused_not_loaded(session_path: Path) -> None:
    _filled(session_path)
    buffer = io.BytesIO()
    np.savez(buffer, W1=np.array([{"evil": 1}], dtype=object), b1=np.zeros((1, 1)))
    conn = sqlite3.connect(session_path)
    conn.execute("UPDATE experiments SET params = ? WHERE id = 1", (buffer.getvalue(),))
    conn.commit()
    conn.close()
    with SessionStore.open(session_path) as store, \
            pytest.raises(SessionError, match="experiment 1's parameters"):
        store.load()


def test_older_schema_is_migrated(session_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    records = _filled(session_path)

    def to_v4(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE experiments ADD COLUMN colour TEXT NOT NULL DEFAULT 'blue'")

    monkeypatch.setattr(store_module, "SCHEMA_VERSION", 4)
    monkeypatch.setitem(store_module.MIGRATIONS, 4, to_v4)
    before = _digest(session_path)
    with SessionStore.open(session_path, read_only=True) as store:  # migrated in memory
        assert len(store.load().records) == len(records)
    assert _digest(session_path) == before
    with SessionStore.open(session_path) as store:
        assert_same_record(store.load().records[0], records[0])
    conn = sqlite3.connect(session_path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 4
        assert conn.execute("SELECT DISTINCT colour FROM experiments").fetchall() == [("blue",)]
    finally:
        conn.close()


def test_version_1_file_gains_searches_and_the_test_audit(session_path: Path) -> None:
    # A file exactly as version 1 wrote it: its schema, one finished experiment.
    conn = sqlite3.connect(session_path, isolation_level=None)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    store_module.MIGRATIONS[1](conn)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO experiments (id, state, hyperparameters, val_metric) VALUES (1, ?, ?, 0.9)",
        ("completed", json.dumps(Hyperparameters().to_dict())),
    )
    conn.close()
    with SessionStore.open(session_path) as store:
        data = store.load()
        assert data.searches == []
        assert data.evaluations == []
        record = data.records[0]
        assert record.val_metric == 0.9
        assert not record.tested
        assert math.isnan(record.test_metric)
        store.add_test_evaluation(TestEvaluation(1, 1234.5, 0.2, 0.8, "accuracy", 40,
                                                 {"source": "builtin", "name": "planar"}))
        store.put_search(StoredSearch("search 1", {"strategy": "grid"}, "running", 10.0))
    with SessionStore.open(session_path, read_only=True) as store:
        data = store.load()
    assert data.records[0].tested_at == 1234.5
    assert data.records[0].test_metric == 0.8
    assert data.evaluations[0].samples == 40
    assert data.evaluations[0].dataset["name"] == "planar"
    assert data.searches == [StoredSearch("search 1", {"strategy": "grid"}, "running", 10.0)]


# -- crash safety ---------------------------------------------------------------------------------

KILLED_WRITER = textwrap.dedent(
    """
    import sqlite3, sys, time
    from dnnstudio.core.training import EpochRecord
    from dnnstudio.sessions import SessionStore

    path = sys.argv[1]
    with SessionStore.open(path) as store:
        for first in range(3, 53, 10):
            rows = [EpochRecord(e, 1 / e, 2 / e, 0.5, 0.5, 0.1, 0.01 * e)
                    for e in range(first, first + 10)]
            store.append_history(5, first, rows)  # each one committed
    # Another writer, killed half-way through appending: its transaction never commits.
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA cache_size = 1")  # so changed pages reach the file before COMMIT
    conn.execute("BEGIN IMMEDIATE")
    for e in range(53, 3000):
        conn.execute("INSERT INTO history VALUES (5, ?, 1, ?)", (e, bytes(48) + b"x" * 200))
    print("mid-transaction", flush=True)
    time.sleep(60)
    """
)


def test_a_killed_writer_loses_only_its_open_transaction(session_path: Path) -> None:
    records = _filled(session_path)
    child = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(session_path)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.strip() == "mid-transaction", child.stderr.read() if child.stderr else ""
    finally:
        child.kill()  # SIGKILL on POSIX: no cleanup of any kind
        child.communicate(timeout=30)
    assert Path(f"{session_path}-journal").exists()  # a hot journal was left behind

    with SessionStore.open(session_path) as store:
        data = store.load()
    running = {r.id: r for r in data.records}[5]
    assert running.epochs_run == 52
    assert running.history["train_cost"][:2] == records[4].history["train_cost"]
    assert running.history["train_cost"][2:] == [1 / e for e in range(3, 53)]
    assert_same_record(data.records[0], records[0])  # the finished experiment is intact
    assert os.listdir(session_path.parent) == [session_path.name]


def test_append_history_from_an_array_equals_from_records(tmp_path: Path) -> None:
    """The array fast path stores exactly what the per-record path stores."""
    from dnnstudio.core.training import EpochRows

    records = [EpochRecord(e, 1.0 / e, math.nan if e % 2 else 0.5, 0.25, math.nan, 0.01,
                           0.1 * e) for e in range(1, 6)]
    stores = []
    for name, rows in (("a", records), ("b", EpochRows.from_records(records))):
        store = SessionStore.create(tmp_path / f"{name}.dnnsession")
        store.put_experiment(ExperimentRecord(id=1, hyperparameters=Hyperparameters()))
        store.append_history(1, 1, rows)
        stores.append(store.load().records[0].history)
        store.close()
    for field in stores[0]:
        assert list(stores[0][field]) == pytest.approx(list(stores[1][field]), nan_ok=True)
    with SessionStore.create(tmp_path / "c.dnnsession") as store:
        store.put_experiment(ExperimentRecord(id=1, hyperparameters=Hyperparameters()))
        with pytest.raises(ValueError, match="row 0 is epoch 1"):
            store.append_history(1, 2, EpochRows.from_records(records))


def test_ids_named_by_the_audit_trail_are_never_given_again(session_path: Path) -> None:
    with SessionStore.create(session_path) as store:
        store.put_experiment(ExperimentRecord(id=1, hyperparameters=Hyperparameters()))
        store.put_experiment(ExperimentRecord(id=2, hyperparameters=Hyperparameters()))
        store.add_test_evaluation(TestEvaluation(2, 5.0, 0.1, 0.9, "accuracy", 10,
                                                 {"source": "builtin", "name": "planar"}))
        store.delete_experiment(2)
        assert store.load().next_id == 3
        added = store.add_experiment(ExperimentRecord(id=0, hyperparameters=Hyperparameters()))
    assert added.id == 3


def test_appending_from_an_earlier_epoch_replaces_what_follows(session_path: Path) -> None:
    record = ExperimentRecord(id=1, hyperparameters=Hyperparameters(epochs=20)).started(when=1.0)
    with SessionStore.create(session_path) as store:
        store.put_experiment(record)
        store.append_history(1, 1, _rows(1, 6))
        store.append_history(1, 7, _rows(7, 4))
        # Epochs 4.. again, with other figures: the first chunk is cut at 3, the second goes.
        again = [dataclasses.replace(r, train_cost=100.0 + r.epoch) for r in _rows(4, 2)]
        store.append_history(1, 4, again)
        got = store.load().records[0]
        with pytest.raises(ValueError, match="has 5 epochs stored; the next epoch to store is "
                                             "6, not 8"):
            store.append_history(1, 8, _rows(8, 2))
    assert got.history["train_cost"] == [1.0, 1 / 2, 1 / 3, 104.0, 105.0]
    assert got.epochs_run == 10  # epochs_run only grows while a run is going on


def _version_2_file(path: Path) -> None:
    """A file exactly as schema 2 wrote it: a row per epoch, NaN as NULL."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    store_module.MIGRATIONS[1](conn)
    store_module.MIGRATIONS[2](conn)
    conn.execute("PRAGMA user_version = 2")
    for experiment_id in (1, 2, 3):
        conn.execute("INSERT INTO experiments (id, state, hyperparameters, epochs_run) "
                     "VALUES (?, 'completed', ?, ?)",
                     (experiment_id, json.dumps(Hyperparameters().to_dict()),
                      4 if experiment_id == 1 else 0))
    conn.executemany("INSERT INTO history VALUES (1, ?, ?, ?, 0.5, NULL, 0.1, ?)",
                     [(e, 1 / e, None if e % 2 else 2 / e, 0.01 * e) for e in range(1, 5)])
    conn.execute("INSERT INTO history VALUES (2, 1, 0.25, 0.5, 0.5, 0.5, 0.1, 0.01)")
    conn.close()


def test_version_2_history_rows_become_chunks(session_path: Path) -> None:
    _version_2_file(session_path)
    before = _digest(session_path)
    with SessionStore.open(session_path, read_only=True) as store:
        in_memory = store.load()
    assert _digest(session_path) == before
    with SessionStore.open(session_path) as store:
        data = store.load()
    for records in (in_memory.records, data.records):
        first, second, third = records
        assert first.history["train_cost"] == [1.0, 0.5, 1 / 3, 0.25]
        assert first.history["val_cost"] == [NAN, 1.0, NAN, 0.5]  # NULL was NaN
        assert first.history["val_metric"] == [NAN] * 4
        assert first.history["elapsed_s"] == [0.01, 0.02, 0.03, 0.04]
        assert second.history["train_cost"] == [0.25]
        assert third.history["train_cost"] == []
    conn = sqlite3.connect(session_path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
        assert conn.execute("SELECT experiment_id, first_epoch, epochs FROM history "
                            "ORDER BY experiment_id").fetchall() == [(1, 1, 4), (2, 1, 1)]
    finally:
        conn.close()


def test_version_2_history_with_text_is_refused_untouched(session_path: Path) -> None:
    _version_2_file(session_path)
    conn = sqlite3.connect(session_path)
    conn.execute("UPDATE history SET train_cost = 'low' WHERE experiment_id = 1 AND epoch = 2")
    conn.commit()
    conn.close()
    before = _digest(session_path)
    for read_only in (True, False):
        with pytest.raises(SessionError, match="damaged DNN Studio session .*history of "
                                               "experiment 1 holds a value that is not a "
                                               "number"):
            SessionStore.open(session_path, read_only=read_only)
    assert _digest(session_path) == before


@pytest.mark.parametrize(("edit", "message"), [
    ("UPDATE history SET data = 'text' WHERE experiment_id = 1",
     "a chunk's data is 'text', not bytes"),
    ("UPDATE history SET data = substr(data, 1, 40) WHERE experiment_id = 1",
     "a chunk of 40 bytes does not hold 6 epochs"),
    ("UPDATE history SET epochs = 0 WHERE experiment_id = 1",
     "a chunk of 288 bytes does not hold 0 epochs"),
    ("UPDATE history SET first_epoch = 3 WHERE experiment_id = 1",
     "a chunk starts at epoch 3, not 1"),
])
def test_damaged_history_chunks_are_named(session_path: Path, edit: str, message: str) -> None:
    _filled(session_path)
    conn = sqlite3.connect(session_path)
    conn.execute(edit)
    conn.commit()
    conn.close()
    with SessionStore.open(session_path) as store, \
            pytest.raises(SessionError, match=f"the history of experiment 1: {message}"):
        store.load()
