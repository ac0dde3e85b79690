"""Corrupted and hostile session files: each is opened and loaded, or refused with a
:class:`SessionError` that leaves the file byte for byte as it was; good files still open
afterwards. Nothing else is ever raised.

Files are damaged at the byte level (cut short, bytes overwritten, random bytes, a journal
that is not one), edited through SQLite the way a person or another program could (rows
deleted, cells given values of any type, schema versions and application ids changed, tables
dropped or added, triggers planted), or replaced wholesale (another program's database).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import shutil
import sqlite3
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from dnnstudio.core.data.spec import DatasetSpec
from dnnstudio.core.hyperparams import Hyperparameters
from dnnstudio.core.training import HISTORY_FIELDS
from dnnstudio.runs.records import ExperimentRecord, ExperimentState, TestEvaluation
from dnnstudio.sessions import store as store_module
from dnnstudio.sessions.export import ExportError, export_csv, export_json
from dnnstudio.sessions.store import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    SessionData,
    SessionError,
    SessionStore,
    StoredSearch,
)

T = TypeVar("T")
FUZZ = settings(max_examples=650, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SPEC = DatasetSpec(source="builtin", name="moons", n_samples=200, noise=0.2, seed=3)
NAN = math.nan


def _history(n: int) -> dict[str, list[float]]:
    return {name: [NAN if (e + k) % 5 == 0 else 1.0 / (e + k + 1) for e in range(n)]
            for k, name in enumerate(HISTORY_FIELDS)}


def _params(sizes: tuple[int, ...], seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((sizes[i], sizes[i - 1])).astype("float32"),
             rng.standard_normal((sizes[i], 1)).astype("float32"))
            for i in range(1, len(sizes))]


def _records() -> list[ExperimentRecord]:
    hp = Hyperparameters(alpha=0.05, epochs=12, hidden=(4, 3), batch_size=16)
    done = ExperimentRecord(
        id=1, hyperparameters=hp, state=ExperimentState.COMPLETED, note="first",
        created_at=1.7e9, started_at=1.7e9 + 1, finished_at=1.7e9 + 9, epochs_run=12,
        history=_history(12), train_cost=0.3, val_cost=0.4, train_metric=0.9, val_metric=0.85,
        train_time_s=2.0, parameter_count=31, message="Completed 12 epochs.",
        params=_params((2, 4, 3, 1), 0), group="grid search 1")
    running = ExperimentRecord(id=2, hyperparameters=hp.replace(alpha=0.5),
                               state=ExperimentState.RUNNING, created_at=1.7e9 + 10,
                               started_at=1.7e9 + 11, epochs_run=5, history=_history(5),
                               group="grid search 1")
    queued = ExperimentRecord(id=3, hyperparameters=hp.replace(hidden=(8,)), note="next",
                              created_at=1.7e9 + 20)
    failed = ExperimentRecord(id=4, hyperparameters=Hyperparameters(hidden=()),
                              state=ExperimentState.FAILED, finished_at=1.7e9 + 30,
                              message="the worker died")
    return [done, running, queued, failed]


def _write_good(path: Path, version: int = SCHEMA_VERSION) -> None:
    if version == 1:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        store_module.MIGRATIONS[1](conn)
        conn.execute("PRAGMA user_version = 1")
        conn.execute("INSERT INTO meta VALUES ('dataset', ?)", (json.dumps(SPEC.to_dict()),))
        conn.execute("INSERT INTO experiments (id, state, hyperparameters, epochs_run, "
                     "val_metric) VALUES (1, 'completed', ?, 2, 0.75)",
                     (json.dumps(Hyperparameters(epochs=2).to_dict()),))
        conn.executemany("INSERT INTO history VALUES (1, ?, 0.5, 0.6, 0.7, 0.75, 0.01, ?)",
                         [(e, e * 0.1) for e in (1, 2)])
        conn.close()
        return
    with SessionStore.create(path) as store:
        store.put_dataset(SPEC)
        for record in _records():
            store.put_experiment(record, history=True)
        store.put_order([3, 1, 2, 4])
        store.put_search(StoredSearch("grid search 1", {"fixed": {}, "search": {
            "strategy": "grid", "space": {"alpha": [0.05, 0.5]}}}, "running", 1.7e9))
        store.add_test_evaluation(TestEvaluation(1, 1.7e9 + 50, 0.41, 0.84, "accuracy", 40,
                                                 SPEC.to_dict()))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    folder = tmp_path_factory.mktemp("good")
    out = {}
    for version in (1, SCHEMA_VERSION):
        out[version] = folder / f"v{version}.dnnsession"
        _write_good(out[version], version)
    return out


class Reference:
    """A good file and what it holds (a short repr, for Hypothesis's failure reports)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with SessionStore.open(path, read_only=True) as store:
            self.data = store.load()

    def __repr__(self) -> str:
        return f"Reference({self.path.name})"


@pytest.fixture(scope="module")
def reference(originals: dict[int, Path], tmp_path_factory: pytest.TempPathFactory
              ) -> Reference:
    """A good file, opened after every example to show that damage elsewhere changes nothing."""
    path = tmp_path_factory.mktemp("reference") / "good.dnnsession"
    shutil.copy(originals[SCHEMA_VERSION], path)
    return Reference(path)


# -- damage ---------------------------------------------------------------------------------------

HOSTILE = st.one_of(
    st.none(), st.integers(-(2**63), 2**63 - 1), st.sampled_from([0, -1, 1, 2**31, 10**15]),
    st.floats(allow_nan=False), st.sampled_from([math.inf, -math.inf, 1e308, -0.0]),
    st.text(max_size=12), st.binary(max_size=24),
    st.sampled_from(["", "null", "[]", "{}", "nan", "NaN", "1e999", "running", "completed",
                     "queued", "interrupted", "accuracy", "r2", "/etc/passwd", "\x00",
                     '{"source": "csv", "path": "/etc/passwd"}', '{"source": "ftp"}',
                     '[1, 2, "x", 1, true, 99]', '{"alpha": -1}', '{"alpha": 1e999}',
                     '{"alpha": 1' + "0" * 400 + "}", '{"hidden": "64"}', '{"nope": 1}',
                     '{"fixed": 5}', '{"search": {"space": {"alpha": [0]}}}', '"text"']),
)


def _npz(**arrays: Any) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


PARAM_BLOBS = st.sampled_from([
    _npz(W1=np.zeros((3, 2)), b1=np.zeros((3, 1))),  # fewer layers than the hyperparameters
    _npz(W1=np.zeros((4, 2), "float32"), b1=np.zeros((4, 1), "float32"),
         W2=np.zeros((3, 5), "float32"), b2=np.zeros((3, 1), "float32"),
         W3=np.zeros((1, 3), "float32"), b3=np.zeros((1, 1), "float32")),  # shapes disagree
    _npz(W1=np.array([["a", "b"]]), b1=np.array([["c"]])),  # text
    _npz(W1=np.zeros((2, 2), complex), b1=np.zeros((2, 1))),
    _npz(W1=np.zeros(3), b1=np.zeros(3)),  # not matrices
    _npz(W1=np.zeros((0, 0)), b1=np.zeros((0, 1))),
    _npz(X=np.zeros(2)),
    _npz(),
    b"PK\x03\x04" + b"\x00" * 40,
    b"\x93NUMPY\x01\x00" + b"{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
])


def _huge_npz() -> bytes:
    """A zipped .npy whose header claims a 10**12-element array (a zip bomb in one header)."""
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 1000000), }"
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    npy = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + b"\0" * 64
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("W1.npy", npy)
        archive.writestr("b1.npy", npy)
    return buffer.getvalue()


def _deflated_npz(corrupt: bool) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, W1=np.ones((40, 2)), b1=np.ones((40, 1)))
    data = bytearray(buffer.getvalue())
    if corrupt:
        # Damage the deflated bytes of the first member, past its local header.
        for i in range(60, 90):
            data[i] ^= 0x5A
    assert zipfile.is_zipfile(io.BytesIO(bytes(data)))
    return bytes(data)


EXTRA_BLOBS = st.sampled_from(["huge", "deflate-bad", "deflate-good"]).map(
    lambda k: _huge_npz() if k == "huge" else _deflated_npz(k == "deflate-bad"))

TABLE_COLUMNS = {
    "experiments": list(store_module._EXPERIMENT_COLUMNS),
    "history": ["experiment_id", "first_epoch", "epochs", "data"],
    "meta": ["key", "value"],
    "searches": ["name", "spec", "state", "created_at"],
    "test_evaluations": ["id", "experiment_id", "at", "test_cost", "test_metric", "metric",
                         "samples", "dataset"],
}
SCHEMA = st.sampled_from([
    "DROP TABLE history", "DROP TABLE searches", "DROP TABLE meta",
    "ALTER TABLE experiments RENAME TO old", "ALTER TABLE experiments DROP COLUMN note",
    "ALTER TABLE history RENAME COLUMN first_epoch TO e", "CREATE TABLE extra (x)",
    "ALTER TABLE experiments ADD COLUMN colour TEXT",
    "CREATE TRIGGER t AFTER UPDATE ON experiments BEGIN DELETE FROM history; END",
    "CREATE TRIGGER t2 AFTER INSERT ON history BEGIN DELETE FROM experiments; END",
    "CREATE VIEW v AS SELECT * FROM experiments",
    "CREATE INDEX i ON history(epochs)",
    "DROP TABLE history; CREATE VIEW history AS SELECT 1 AS experiment_id",
    "DELETE FROM sqlite_sequence",
])


@st.composite
def sql_edits(draw: st.DrawFn) -> list[tuple[str, tuple[Any, ...]]]:
    """Edits a person could make with any SQLite tool."""
    edits: list[tuple[str, tuple[Any, ...]]] = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["update", "update", "update", "delete", "insert", "pragma",
                                     "schema", "params", "history"]))
        table = draw(st.sampled_from(sorted(TABLE_COLUMNS)))
        column = draw(st.sampled_from(TABLE_COLUMNS[table]))
        if kind == "update":
            where = draw(st.sampled_from(["", " WHERE rowid = 1", " WHERE rowid % 2 = 0"]))
            if table in ("meta", "history"):  # WITHOUT ROWID tables
                where = draw(st.sampled_from(["", " WHERE key = 'dataset'", " WHERE key = "
                                              "'order'"])) if table == "meta" else draw(
                    st.sampled_from(["", " WHERE first_epoch = 1", " WHERE experiment_id = 1"]))
            edits.append((f"UPDATE {table} SET {column} = ?{where}", (draw(HOSTILE),)))
        elif kind == "delete":
            edits.append((draw(st.sampled_from([
                "DELETE FROM history WHERE experiment_id = 2", "DELETE FROM history",
                "DELETE FROM experiments WHERE id = 1", "DELETE FROM meta WHERE key = 'order'",
                "DELETE FROM meta WHERE key = 'dataset'", "DELETE FROM meta",
                "DELETE FROM searches", "DELETE FROM test_evaluations",
                "DELETE FROM experiments"])), ()))
        elif kind == "insert":
            values = draw(st.lists(HOSTILE, min_size=len(TABLE_COLUMNS[table]),
                                   max_size=len(TABLE_COLUMNS[table])))
            marks = ", ".join("?" for _ in values)
            edits.append((f"INSERT OR REPLACE INTO {table} ({', '.join(TABLE_COLUMNS[table])}) "
                          f"VALUES ({marks})", tuple(values)))
        elif kind == "pragma":
            name = draw(st.sampled_from(["user_version", "application_id"]))
            value = draw(st.sampled_from([-1, 0, 1, 2, 3, 99, 2**31 - 1, APPLICATION_ID, 7]))
            edits.append((f"PRAGMA {name} = {int(value)}", ()))
        elif kind == "schema":
            edits.append((draw(SCHEMA), ()))
        elif kind == "params":
            blob = draw(st.one_of(PARAM_BLOBS, EXTRA_BLOBS, st.binary(max_size=64)))
            edits.append(("UPDATE experiments SET params = ? WHERE id = 1", (blob,)))
        else:
            # A long history, a chunk after a gap, or one that claims more than it holds.
            epochs = draw(st.sampled_from([1000, 20_000]))
            first = draw(st.sampled_from([1, 2, 7, 2**40]))
            claimed = draw(st.sampled_from([epochs, 2**40, -epochs]))
            edits.append(("INSERT OR REPLACE INTO history (experiment_id, first_epoch, epochs, "
                          f"data) VALUES (2, {first}, {claimed}, zeroblob({48 * epochs}))", ()))
    return edits


def _apply_sql(path: Path, edits: list[tuple[str, tuple[Any, ...]]]) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for sql, args in edits:
            try:
                if ";" in sql:
                    conn.executescript(sql)
                else:
                    conn.execute(sql, args)
            except sqlite3.Error:
                pass  # a constraint said no: that edit is not possible, the others still are
    finally:
        conn.close()


def _generate_series_ok() -> bool:
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("SELECT value FROM generate_series(1, 2)").fetchall()
        return True
    except sqlite3.Error:
        return False
    finally:
        conn.close()


BYTE_EDITS = st.lists(st.tuples(st.sampled_from(["overwrite", "cut", "insert", "zero page"]),
                                st.integers(0, 2**20), st.binary(min_size=1, max_size=64)),
                      min_size=1, max_size=3)


@st.composite
def damage(draw: st.DrawFn) -> tuple[int, str, Any]:
    """(which good file, how, the details)."""
    version = draw(st.sampled_from([SCHEMA_VERSION, SCHEMA_VERSION, SCHEMA_VERSION, 1]))
    how = draw(st.sampled_from(["sql", "sql", "sql", "bytes", "bytes", "journal", "replace"]))
    if how == "sql":
        return version, how, draw(sql_edits())
    if how == "bytes":
        return version, how, draw(BYTE_EDITS)
    if how == "journal":
        return version, how, draw(st.binary(min_size=1, max_size=2048))
    return version, how, draw(st.sampled_from(["random", "magic+random", "other program",
                                               "empty", "text", "header only"]))


def _replace(path: Path, kind: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    if kind == "random":
        path.write_bytes(rng.bytes(8192))
    elif kind == "magic+random":
        path.write_bytes(b"SQLite format 3\x00" + rng.bytes(8192))
    elif kind == "other program":
        path.unlink()
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE experiments (id, state)")
        conn.execute("INSERT INTO experiments VALUES (1, 'done')")
        conn.commit()
        conn.close()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("id,name\n1,Ada\n", encoding="utf-8")
    else:
        path.write_bytes(path.read_bytes()[:100])


def _damage(path: Path, how: str, detail: Any) -> None:
    if how == "sql":
        _apply_sql(path, detail)
    elif how == "bytes":
        data = bytearray(path.read_bytes())
        for kind, at, blob in detail:
            at %= len(data) + 1
            if kind == "overwrite":
                data[at:at + len(blob)] = blob
            elif kind == "cut":
                del data[at:]
            elif kind == "insert":
                data[at:at] = blob
            else:
                page = at // 4096 * 4096
                data[page:page + 4096] = bytes(min(4096, len(data) - page))
        path.write_bytes(bytes(data))
    elif how == "journal":
        Path(f"{path}-journal").write_bytes(detail)
    else:
        _replace(path, detail, len(str(detail)))


# -- what a loaded session must look like ------------------------------------------------------

def _check_loaded(data: SessionData) -> None:
    """A session that loads is usable: the values have their types, the curves line up, and
    the headless exports work."""
    assert data.dataset is None or isinstance(data.dataset, DatasetSpec)
    ids = [r.id for r in data.records]
    assert sorted(data.order) == sorted(ids)
    for record in data.records:
        assert isinstance(record.id, int)
        assert isinstance(record.state, ExperimentState)
        assert isinstance(record.hyperparameters, Hyperparameters)
        for name in ("note", "message", "metric", "group"):
            assert isinstance(getattr(record, name), str), (name, getattr(record, name))
        for name in ("epochs_run", "parameter_count"):
            value = getattr(record, name)
            assert isinstance(value, int), (name, value)
            assert value >= 0, (name, value)
        assert record.diverged_epoch is None or isinstance(record.diverged_epoch, int)
        for name in ("created_at", "train_cost", "val_cost", "train_metric", "val_metric",
                     "train_time_s", "test_cost", "test_metric"):
            assert isinstance(getattr(record, name), float), name
        for name in ("started_at", "finished_at", "tested_at"):
            value = getattr(record, name)
            assert value is None or isinstance(value, float), name
        lengths = {len(record.history[name]) for name in HISTORY_FIELDS}
        assert len(lengths) == 1
        if record.params is not None:
            for W, b in record.params:
                assert W.dtype.kind == "f"
                assert W.ndim == 2
                assert b.shape == (W.shape[0], 1)
    for search in data.searches:
        assert isinstance(search.name, str)
        assert isinstance(search.state, str)
    for evaluation in data.evaluations:
        assert isinstance(evaluation.samples, int)
        assert isinstance(evaluation.at, float)
    try:
        export_csv(data.in_order(), io.StringIO(), dataset=data.dataset)
        export_json(data, io.StringIO())
    except ExportError:
        pass


def _attempt(make: Callable[[], T]) -> tuple[T | None, SessionError | None]:
    try:
        return make(), None
    except SessionError as exc:
        return None, exc


def _listing(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


COUNTER = iter(range(10**9))


@FUZZ
@given(damage(), st.booleans())
def test_every_damaged_file_is_loaded_or_refused_and_left_as_it_was(
        originals: dict[int, Path], reference: Reference,
        tmp_path_factory: pytest.TempPathFactory, case: tuple[int, str, Any],
        read_only: bool) -> None:
    version, how, detail = case
    if how == "sql" and not _generate_series_ok():
        detail = [(s, a) for s, a in detail if "generate_series" not in s]
    folder = tmp_path_factory.mktemp(f"case{next(COUNTER)}", numbered=False)
    path = folder / "session.dnnsession"
    shutil.copy(originals[version], path)
    _damage(path, how, detail)
    before = _digest(path)
    files_before = _listing(folder)
    started = time.monotonic()

    store, error = _attempt(lambda: SessionStore.open(path, read_only=read_only))
    if store is None:
        assert error is not None
        message = str(error)
        assert message.startswith(str(path)), message
        assert "\n" not in message
        assert _digest(path) == before  # refused: not one byte changed ...
        # ... and nothing was left next to it (a journal that was not one may be cleared).
        assert set(_listing(folder)) <= set(files_before)
        event(f"{how}: refused on open")
    else:
        with store:
            data, error = _attempt(store.load)
        if data is None:
            assert error is not None
            assert "\n" not in str(error)
            if version == SCHEMA_VERSION or read_only:  # else it was migrated on opening
                assert _digest(path) == before
            event(f"{how}: refused on load")
        else:
            _check_loaded(data)
            event(f"{how}: loaded")
            # Opening and loading write nothing, except the upgrade of an older file.
            assert _digest(path) == before or (version < SCHEMA_VERSION and not read_only)
    assert time.monotonic() - started < 10

    # Whatever happened to that file, a good one still opens and loads the same.
    with SessionStore.open(reference.path) as store:
        assert _same(store.load(), reference.data)
    shutil.rmtree(folder)


def _same(a: SessionData, b: SessionData) -> bool:
    return ([r.id for r in a.records] == [r.id for r in b.records] and a.order == b.order
            and a.dataset == b.dataset and a.searches == b.searches)


CELL_VALUES = ("text", b"\x00\xff", -7, 2**62, 1e300, -math.inf, math.inf, "", "[]", 0.5)


def test_every_cell_of_every_table_takes_any_value(originals: dict[int, Path],
                                                    tmp_path: Path) -> None:
    """Each column of each table, set to each value in turn: the same outcomes as above."""
    cases = 0
    for table, columns in TABLE_COLUMNS.items():
        for column in columns:
            for value in CELL_VALUES:
                path = tmp_path / f"{table}.{column}.dnnsession"
                shutil.copy(originals[SCHEMA_VERSION], path)
                _apply_sql(path, [(f"UPDATE {table} SET {column} = ?", (value,))])
                before = _digest(path)
                store, error = _attempt(lambda: SessionStore.open(path))  # noqa: B023
                if store is not None:
                    with store:
                        data, error = _attempt(store.load)
                    if data is not None:
                        _check_loaded(data)
                if error is not None:
                    assert "\n" not in str(error)
                assert _digest(path) == before
                path.unlink()
                cases += 1
    assert cases >= 300


# -- named cases --------------------------------------------------------------------------------

def _sql(path: Path, *statements: str, args: tuple[Any, ...] = ()) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in statements:
        conn.execute(statement, args)
    conn.close()


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda p: _sql(p, "PRAGMA user_version = 4"), "newer DNN Studio (schema 4)"),
        (lambda p: _sql(p, "UPDATE experiments SET started_at = 'yesterday' WHERE id = 1"),
         "experiment 1: started_at is 'yesterday', not a number"),
        (lambda p: _sql(p, "UPDATE experiments SET created_at = 'then' WHERE id = 1"),
         "experiment 1: created_at is 'then', not a number"),
        (lambda p: _sql(p, "UPDATE experiments SET finished_at = 1e300 WHERE id = 1"),
         "experiment 1: finished_at is 1e+300, not a time"),
        (lambda p: _sql(p, "UPDATE history SET data = 'low' WHERE experiment_id = 1"),
         "the history of experiment 1: a chunk's data is 'low', not bytes"),
        (lambda p: _sql(p, "UPDATE experiments SET epochs_run = -4 WHERE id = 1"),
         "experiment 1"),
        (lambda p: _sql(p, "UPDATE experiments SET note = ? WHERE id = 1", args=(b"\x00",)),
         "experiment 1"),
        (lambda p: _sql(p, "UPDATE experiments SET params = ? WHERE id = 1",
                        args=(_huge_npz(),)), "experiment 1's parameters"),
        (lambda p: _sql(p, "UPDATE experiments SET params = ? WHERE id = 1",
                        args=(_deflated_npz(True),)), "experiment 1's parameters"),
        (lambda p: _sql(p, "UPDATE test_evaluations SET samples = 'forty'"), "audit trail"),
        (lambda p: _sql(p, "UPDATE searches SET created_at = 'soon'"), "search"),
        (lambda p: _sql(p, "CREATE TRIGGER t AFTER UPDATE ON experiments BEGIN "
                           "DELETE FROM history; END"), "trigger"),
    ],
    ids=["newer", "text-time", "text-created", "far-future", "text-history",
         "negative-epochs", "blob-note", "huge-params", "bad-deflate", "audit-null",
         "search-time", "trigger"],
)
def test_named_damage_gets_a_clear_message(tmp_path: Path, edit: Callable[[Path], None],
                                           needle: str) -> None:
    path = tmp_path / "s.dnnsession"
    _write_good(path)
    edit(path)
    before = _digest(path)
    with pytest.raises(SessionError) as caught, SessionStore.open(path) as store:
        store.load()
    assert needle in str(caught.value)
    assert "\n" not in str(caught.value)
    assert _digest(path) == before


def test_a_huge_history_loads_in_bounded_time(tmp_path: Path) -> None:
    path = tmp_path / "long.dnnsession"
    _write_good(path)
    n = 300_000
    e = np.arange(1, n + 1, dtype=np.float64)
    rows = np.column_stack([1 / e, 2 / e, np.full(n, 0.5), np.full(n, 0.5), np.full(n, 0.01),
                            e * 1e-3])
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    conn.execute("DELETE FROM history WHERE experiment_id = 2")
    # As a long run saves it: a chunk about every second (here 300 of 1,000 epochs).
    conn.executemany("INSERT INTO history VALUES (2, ?, 1000, ?)",
                     ((first + 1, rows[first:first + 1000].astype("<f8").tobytes())
                      for first in range(0, n, 1000)))
    conn.execute("UPDATE experiments SET epochs_run = ? WHERE id = 2", (n,))
    conn.execute("COMMIT")
    conn.close()
    started = time.monotonic()
    with SessionStore.open(path, read_only=True) as store:
        data = store.load()
    assert time.monotonic() - started < 15
    running = {r.id: r for r in data.records}[2]
    assert len(running.history["train_cost"]) == n
    assert running.history["train_cost"][n - 1] == 1 / n


def test_a_version_1_file_migrates_and_keeps_its_experiment(tmp_path: Path) -> None:
    path = tmp_path / "old.dnnsession"
    _write_good(path, version=1)
    with SessionStore.open(path) as store:
        data = store.load()
    record = data.records[0]
    assert record.state is ExperimentState.COMPLETED
    assert record.val_metric == 0.75
    assert list(record.history["val_metric"]) == [0.75, 0.75]
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


@pytest.mark.parametrize("byte", [0x80, 0xFF])
def test_one_bad_byte_anywhere_is_loaded_or_refused(tmp_path: Path, byte: int) -> None:
    """One byte changed at every 17th offset past the header. Such sweeps found SQLite's
    integrity report quoting bytes that are not text, and a damaged page that gave an
    experiment no id; both now come back as a SessionError."""
    good = tmp_path / "good.dnnsession"
    _write_good(good)
    data = good.read_bytes()
    path = tmp_path / "bad.dnnsession"
    loaded = 0
    refusals: list[str] = []
    for offset in range(100, len(data), 17):
        damaged = bytearray(data)
        damaged[offset] = byte
        path.write_bytes(bytes(damaged))
        store, error = _attempt(lambda: SessionStore.open(path, read_only=True))
        if store is not None:
            with store:
                got, error = _attempt(store.load)
            if got is not None:
                _check_loaded(got)
                loaded += 1
        if error is not None:
            refusals.append(str(error))
    assert loaded > 0
    assert refusals
    assert all(str(path) in text for text in refusals)
    assert not any("\n" in text for text in refusals)
