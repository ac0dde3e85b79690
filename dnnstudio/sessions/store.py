"""The session file: one SQLite database that holds a whole session, saved as work happens.

A session (``*.dnnsession``) is the dataset spec, every experiment (its hyperparameters, note,
state, final figures and learned parameters), every per-epoch history, and the queue's order.
It is one SQLite file written through Python's :mod:`sqlite3`, so it can be inspected with any
SQLite tool, and it is crash-safe: every write is its own committed transaction in
``journal_mode=DELETE`` with ``synchronous=FULL``, so a crash, a kill or a power cut loses at
most the write that was under way, never a finished experiment. After a crash SQLite rolls the
interrupted transaction back the next time the file is opened.

Identification
--------------
``PRAGMA application_id`` is :data:`APPLICATION_ID` (the bytes ``"DNNS"``), so the file says
which program it belongs to; ``PRAGMA user_version`` is the schema version,
:data:`SCHEMA_VERSION`. :meth:`SessionStore.open` checks both, the tables and the file's
integrity *before* writing anything (it reads the header bytes, then opens the database
read-only), and refuses anything else with a one-line :class:`SessionError`, leaving the file
byte-for-byte as it was.

Schema (version 1)
------------------
``meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)``, one row per key:

- ``dataset``: the :class:`~dnnstudio.core.data.spec.DatasetSpec` as JSON (absent until set);
- ``order``: the experiments' order as a JSON list of ids (absent until set);
- ``created_at``: Unix time the session was created; ``created_by``: ``"DNN Studio x.y.z"``.

``experiments``, one row per experiment, columns as in
:class:`~dnnstudio.runs.records.ExperimentRecord`::

    id INTEGER PRIMARY KEY, state TEXT, hyperparameters TEXT (JSON of
    Hyperparameters.to_dict()), note TEXT, grp TEXT (the record's group), created_at REAL,
    started_at REAL, finished_at REAL, epochs_run INTEGER, train_cost REAL, val_cost REAL,
    train_metric REAL, val_metric REAL, metric TEXT, train_time_s REAL,
    parameter_count INTEGER, message TEXT, diverged_epoch INTEGER, params BLOB

``params`` is NULL or the bytes of an ``.npz`` archive (:func:`numpy.savez`) holding
``W1 .. WL`` and ``b1 .. bL`` in the course's orientation (``W[l]`` ``(n[l], n[l-1])``,
``b[l]`` ``(n[l], 1)``), read back with ``allow_pickle=False``: no pickle anywhere.

``history`` (schema 3), the per-epoch figures in chunks of consecutive epochs, one row per
experiment and chunk, ``WITHOUT ROWID``::

    experiment_id INTEGER REFERENCES experiments(id) ON DELETE CASCADE,
    first_epoch INTEGER (1-based), epochs INTEGER, data BLOB,
    PRIMARY KEY (experiment_id, first_epoch)

``data`` is ``epochs`` rows of six little-endian IEEE doubles, row after row, in the order
train_cost, val_cost, train_metric, val_metric, learning_rate, elapsed_s (NumPy:
``np.frombuffer(data, "<f8").reshape(epochs, 6)``); NaN is a figure that was not measured.
The chunks of an experiment cover epochs 1, 2, ... without a gap. A running experiment adds a
chunk about once a second: one row per epoch (schemas 1 and 2) cost the saving thread ~2 us of
Python per epoch, which small networks that train 40,000 epochs a second turned into a fifth of
a core, taken from the window.

Floats are stored exactly (IEEE doubles). In the other tables NaN is stored as NULL and read
back as NaN. ``started_at``, ``finished_at`` and ``diverged_epoch`` are NULL for None.

Migrations
----------
:data:`MIGRATIONS` maps each schema version to the function that upgrades a file from the
version before it; creating a session runs them all from 0. Opening an older file runs the
missing ones in one transaction (or, read-only, on an in-memory copy), so files written by
older versions keep opening.
"""

from __future__ import annotations

import io
import json
import math
import os
import sqlite3
import threading
import time
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import numpy as np

from .. import __version__
from ..core.data.spec import DatasetSpec
from ..core.errors import DnnStudioError
from ..core.hyperparams import Hyperparameters
from ..core.training import HISTORY_FIELDS, EpochRows
from ..runs.records import (
    Column,
    ExperimentRecord,
    ExperimentState,
    HistoryColumns,
    Params,
    TestEvaluation,
)

SUFFIX = ".dnnsession"
"""The file name extension of a session."""
APPLICATION_ID = int.from_bytes(b"DNNS", "big")
"""``PRAGMA application_id`` of every DNN Studio session (0x444E4E53)."""
SCHEMA_VERSION = 3
"""The newest schema this version reads and writes (``PRAGMA user_version``)."""

_SQLITE_MAGIC = b"SQLite format 3\x00"
_SQLITE_READONLY_ROLLBACK = 776
"""The error a read-only connection gives when a crashed writer left a journal to roll back."""
_TABLES = ("meta", "experiments", "history")
_TABLES_V2 = ("searches", "test_evaluations")

INTERRUPTED_MESSAGE = "DNN Studio stopped while this experiment was running; queue it again."


class SessionError(DnnStudioError):
    """A session file could not be opened, created or written; the message says why."""


# -- schema and migrations ----------------------------------------------------------------------

def _create_v1(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID")
    conn.execute(
        """
        CREATE TABLE experiments (
            id INTEGER PRIMARY KEY,
            state TEXT NOT NULL,
            hyperparameters TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            grp TEXT NOT NULL DEFAULT '',
            created_at REAL,
            started_at REAL,
            finished_at REAL,
            epochs_run INTEGER NOT NULL DEFAULT 0,
            train_cost REAL,
            val_cost REAL,
            train_metric REAL,
            val_metric REAL,
            metric TEXT NOT NULL DEFAULT 'accuracy',
            train_time_s REAL,
            parameter_count INTEGER NOT NULL DEFAULT 0,
            message TEXT NOT NULL DEFAULT '',
            diverged_epoch INTEGER,
            params BLOB
        )
        """
    )
    conn.execute(
        """
        CREATE TABLE history (
            experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
            epoch INTEGER NOT NULL,
            train_cost REAL,
            val_cost REAL,
            train_metric REAL,
            val_metric REAL,
            learning_rate REAL,
            elapsed_s REAL,
            PRIMARY KEY (experiment_id, epoch)
        ) WITHOUT ROWID
        """
    )


def _upgrade_v2(conn: sqlite3.Connection) -> None:
    """Version 2: searches, and the test set's audit trail."""
    for column in ("test_cost", "test_metric", "tested_at"):
        conn.execute(f"ALTER TABLE experiments ADD COLUMN {column} REAL")
    conn.execute("ALTER TABLE experiments ADD COLUMN folds INTEGER")
    conn.execute(
        """
        CREATE TABLE searches (
            name TEXT PRIMARY KEY,
            spec TEXT NOT NULL,
            state TEXT NOT NULL,
            created_at REAL
        ) WITHOUT ROWID
        """
    )
    conn.execute(
        """
        CREATE TABLE test_evaluations (
            id INTEGER PRIMARY KEY,
            experiment_id INTEGER NOT NULL,
            at REAL NOT NULL,
            test_cost REAL,
            test_metric REAL,
            metric TEXT NOT NULL,
            samples INTEGER NOT NULL,
            dataset TEXT NOT NULL
        )
        """
    )


def _create_history_chunks(conn: sqlite3.Connection, name: str) -> None:
    conn.execute(
        f"""
        CREATE TABLE {name} (
            experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
            first_epoch INTEGER NOT NULL,
            epochs INTEGER NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (experiment_id, first_epoch)
        ) WITHOUT ROWID
        """
    )


def _upgrade_v3(conn: sqlite3.Connection) -> None:
    """Version 3: each experiment's history in chunks of epochs (one chunk per experiment
    here), instead of a row per epoch."""
    _create_history_chunks(conn, "history_chunks")
    rows = conn.execute(
        f"SELECT experiment_id, {', '.join(HISTORY_FIELDS)} FROM history "
        # Rows of experiments that are gone were never read; they are left behind.
        "WHERE experiment_id IN (SELECT id FROM experiments) ORDER BY experiment_id, epoch")
    current: int | None = None
    values: list[Sequence[Any]] = []

    def flush() -> None:
        if current is not None and values:
            try:
                array = np.array(values, dtype=np.float64)  # NULL (None) becomes NaN
            except (TypeError, ValueError):
                raise sqlite3.DataError(
                    f"the history of experiment {current} holds a value that is not a "
                    "number") from None
            conn.execute("INSERT INTO history_chunks VALUES (?, 1, ?, ?)",
                         (current, len(values), _history_blob(array)))

    for experiment_id, *figures in rows:
        if experiment_id != current:
            flush()
            current, values = experiment_id, []
        values.append([math.nan if v is None else v for v in figures])
    flush()
    conn.execute("DROP TABLE history")
    conn.execute("ALTER TABLE history_chunks RENAME TO history")


Migration = Callable[[sqlite3.Connection], None]

MIGRATIONS: dict[int, Migration] = {
    1: _create_v1,
    2: _upgrade_v2,
    3: _upgrade_v3,
}
"""``{version: upgrade from version - 1}``; add one entry (and bump :data:`SCHEMA_VERSION`)
for every change to the schema, and never edit an entry that has shipped."""

assert sorted(MIGRATIONS) == list(range(1, SCHEMA_VERSION + 1))


def _migrate(conn: sqlite3.Connection, current: int) -> None:
    """Bring a database from schema ``current`` to :data:`SCHEMA_VERSION` (inside a transaction)."""
    for version in range(current + 1, SCHEMA_VERSION + 1):
        MIGRATIONS[version](conn)
        # PRAGMA takes no parameters; version is an int from our own table.
        conn.execute(f"PRAGMA user_version = {int(version)}")


_EXPERIMENT_COLUMNS = (
    "id", "state", "hyperparameters", "note", "grp", "created_at", "started_at", "finished_at",
    "epochs_run", "train_cost", "val_cost", "train_metric", "val_metric", "metric",
    "train_time_s", "parameter_count", "message", "diverged_epoch", "params",
    "test_cost", "test_metric", "tested_at", "folds",
)
_UPSERT_EXPERIMENT = (
    f"INSERT INTO experiments ({', '.join(_EXPERIMENT_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _EXPERIMENT_COLUMNS)}) "
    # ON CONFLICT ... DO UPDATE, not INSERT OR REPLACE: REPLACE deletes the old row first,
    # and the delete would cascade to the experiment's history.
    "ON CONFLICT(id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _EXPERIMENT_COLUMNS[1:])
)
_INSERT_CHUNK = (
    "INSERT OR REPLACE INTO history (experiment_id, first_epoch, epochs, data) "
    "VALUES (?, ?, ?, ?)"
)
_HISTORY_DTYPE = np.dtype("<f8")


def _history_blob(array: np.ndarray) -> bytes:
    """A history chunk's bytes from an ``(epochs, 6)`` array of the history fields."""
    return np.ascontiguousarray(array, dtype=_HISTORY_DTYPE).tobytes()


def _history_array(blob: Any, epochs: Any) -> np.ndarray:
    """The ``(epochs, 6)`` array a stored chunk holds; ValueError if it cannot be one."""
    if not isinstance(blob, bytes):
        raise ValueError(f"a chunk's data is {_short(blob)}, not bytes")
    width = len(HISTORY_FIELDS) * _HISTORY_DTYPE.itemsize
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1 or \
            len(blob) != epochs * width:
        raise ValueError(f"a chunk of {len(blob)} bytes does not hold {_short(epochs)} epochs")
    return np.frombuffer(blob, dtype=_HISTORY_DTYPE).reshape(epochs, len(HISTORY_FIELDS))


def _history_rows(experiment_id: int, first_epoch: int,
                  rows: Sequence[EpochLike]) -> tuple[int, int, np.ndarray] | None:
    """``(id, first_epoch, figures)`` to store, figures ``(epochs, 6)``; None for no rows.

    Raises ValueError if the rows are not epochs ``first_epoch, first_epoch + 1, ...``.
    """
    if not rows:
        return None
    if isinstance(rows, EpochRows):
        epochs = rows.array[:, 0]
        figures = rows.array[:, 1:]
    else:
        epochs = np.array([row.epoch for row in rows], dtype=np.float64)
        figures = np.array([[getattr(row, name) for name in HISTORY_FIELDS]
                            for row in rows], dtype=np.float64)
    expected = np.arange(first_epoch, first_epoch + len(epochs))
    if not np.array_equal(epochs, expected):
        offset = int(np.argmax(epochs != expected))
        raise ValueError(
            f"history rows must be epochs {first_epoch}, {first_epoch + 1}, ...; "
            f"row {offset} is epoch {epochs[offset]:g}"
        )
    return int(experiment_id), first_epoch, figures


# -- values ---------------------------------------------------------------------------------------

class EpochLike(Protocol):
    """What :meth:`SessionStore.append_history` needs of a row (an ``EpochRecord`` fits)."""

    @property
    def epoch(self) -> int: ...
    @property
    def train_cost(self) -> float: ...
    @property
    def val_cost(self) -> float: ...
    @property
    def train_metric(self) -> float: ...
    @property
    def val_metric(self) -> float: ...
    @property
    def learning_rate(self) -> float: ...
    @property
    def elapsed_s(self) -> float: ...


@dataclass(frozen=True)
class StoredSearch:
    """A search as saved: its name (the group of its experiments), its spec as plain data
    (:meth:`dnnstudio.search.SearchSpec.to_dict`), its state and when it was created."""

    name: str
    spec: Mapping[str, Any]
    state: str
    created_at: float


@dataclass(frozen=True)
class SessionData:
    """Everything a session file holds, as loaded by :meth:`SessionStore.load`.

    Attributes
    ----------
    dataset : DatasetSpec or None
        The data every experiment of the session trains on (None until one is chosen).
    records : list of ExperimentRecord
        Every experiment, by id, with full histories and learned parameters. Experiments that
        were running when the file was last written are returned as ``RUNNING``; the queue
        turns them into ``INTERRUPTED``.
    order : list of int
        Every experiment's id, in the order the queue keeps them: the stored order (ids that no
        longer exist dropped) followed by ids it does not mention (such as experiments added by
        ``dnnstudio train --session``), by id.
    searches : list of StoredSearch
        The session's searches, by creation time.
    """

    dataset: DatasetSpec | None = None
    records: list[ExperimentRecord] = field(default_factory=list)
    order: list[int] = field(default_factory=list)
    searches: list[StoredSearch] = field(default_factory=list)
    evaluations: list[TestEvaluation] = field(default_factory=list)
    """The test set's audit trail, oldest first."""

    @property
    def next_id(self) -> int:
        """The id for a new experiment: one more than the largest so far, among the
        experiments and the ids the test set's audit trail names."""
        return max([r.id for r in self.records] + [e.experiment_id for e in self.evaluations],
                   default=0) + 1

    def in_order(self) -> list[ExperimentRecord]:
        """The records in :attr:`order`."""
        by_id = {r.id: r for r in self.records}
        return [by_id[i] for i in self.order if i in by_id]


def _folds(value: Any) -> int | None:
    """A stored fold count: NULL, or a whole number of at least 2."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 2:
        raise ValueError(f"folds must be a whole number >= 2, not {value!r}")
    return value


def _real(value: float) -> float | None:
    """A float for SQLite: NaN becomes NULL (SQLite would do it anyway; this says so)."""
    value = float(value)
    return None if math.isnan(value) else value


def _optional_real(value: float | None) -> float | None:
    return None if value is None else _real(value)


def _float(value: Any, what: str = "a figure") -> float:
    """A REAL column's value: NULL is NaN; text or bytes (a hand-edited file) are ValueError."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} is {_short(value)}, not a number")
    return float(value)


# The times datetime can show (years 1 to 9999): exports and the window format every time.
_FIRST_TIME, _LAST_TIME = -62_135_596_800.0, 253_402_300_799.0


def _time(value: Any, what: str) -> float | None:
    """A Unix time column: NULL is None (NaN too, for ``created_at``'s default)."""
    if value is None:
        return None
    at = _float(value, what)
    if not (math.isnan(at) or _FIRST_TIME <= at <= _LAST_TIME):
        raise ValueError(f"{what} is {_short(value)}, not a time")
    return at


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} is {_short(value)}, not a whole number >= 0")
    return value


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} is {_short(value)}, not text")
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def param_arrays(params: Params) -> dict[str, Any]:
    """``{"W1": W[1], "b1": b[1], ..., "WL": W[L], "bL": b[L]}`` for :func:`numpy.savez`."""
    # dict[str, Any] rather than of ndarray: numpy's stubs type savez's **kwds together with
    # its allow_pickle flag.
    arrays: dict[str, Any] = {}
    for layer, (W, b) in enumerate(params, start=1):
        arrays[f"W{layer}"] = np.asarray(W)
        arrays[f"b{layer}"] = np.asarray(b)
    return arrays


def encode_params(params: Params) -> bytes:
    """The ``.npz`` bytes of learned parameters (see :func:`param_arrays`)."""
    buffer = io.BytesIO()
    np.savez(buffer, **param_arrays(params))
    return buffer.getvalue()


def decode_params(blob: bytes) -> Params:
    """Learned parameters from :func:`encode_params` bytes, without ever unpickling.

    Raises
    ------
    ValueError
        The bytes are not such an archive.
    """
    # Only a zip archive: np.load would read a bare .npy at once, allocating whatever shape its
    # header claims before it finds the data missing.
    if not blob.startswith(b"PK\x03\x04"):
        raise ValueError("not an .npz archive")
    unreadable = (OSError, EOFError, zipfile.BadZipFile, KeyError, zlib.error,
                  NotImplementedError, RuntimeError)
    try:
        loaded = np.load(io.BytesIO(blob), allow_pickle=False)
    except unreadable as exc:
        raise ValueError(str(exc) or type(exc).__name__) from exc
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise ValueError("not an .npz archive")
    try:
        with loaded as npz:
            names = set(npz.files)
            layers = len(names) // 2
            expected = {f"{kind}{k}" for k in range(1, layers + 1) for kind in "Wb"}
            if layers == 0 or names != expected:
                raise ValueError(f"unexpected arrays {sorted(names)}")
            archive = npz.zip
            if archive is None:
                raise ValueError("not an .npz archive")
            for info in archive.infolist():
                _check_member(archive, info, len(blob))
            return [(npz[f"W{k}"], npz[f"b{k}"]) for k in range(1, layers + 1)]
    except unreadable as exc:
        raise ValueError(str(exc) or type(exc).__name__) from exc


def _check_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, blob_size: int) -> None:
    """Refuse an array that claims more memory than the archive holds (a "zip bomb"):
    :func:`numpy.savez` stores arrays uncompressed, so each fits in the blob."""
    if info.compress_type != zipfile.ZIP_STORED or info.file_size > blob_size:
        raise ValueError(f"{info.filename} is compressed or larger than the archive")
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise ValueError(f"{info.filename} has .npy format {version}")
    if math.prod(shape) * dtype.itemsize > info.file_size:
        raise ValueError(f"{info.filename} claims a {shape} array it does not hold")


def _params_problem(params: Params) -> str | None:
    """What keeps stored parameters from being a network, or None.

    An edited file could hold text, vectors or layers that do not connect; the boundary plot
    and the test-set evaluation would then fail far from here.
    """
    rows_before = None
    for layer, (W, b) in enumerate(params, start=1):
        if (W.dtype.name not in ("float32", "float64") or b.dtype != W.dtype or W.ndim != 2
                or b.shape != (W.shape[0], 1)):
            return f"W[{layer}] and b[{layer}] are not float matrices of matching shapes"
        if rows_before is not None and W.shape[1] != rows_before:
            return f"W[{layer}] has {W.shape[1]} columns, but n[{layer - 1}] = {rows_before}"
        rows_before = W.shape[0]
    return None


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _temp_path(target: Path) -> Path:
    # Next to the target so that os.replace is a rename on one filesystem, hence atomic.
    return target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")


def _remove_side_files(path: Path) -> None:
    """Delete journals left next to ``path``: a stale hot journal would be "rolled back" into
    a new file that replaces the old one, and corrupt it."""
    for suffix in ("-journal", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _configure(conn: sqlite3.Connection) -> sqlite3.Connection:
    # One file on disk (no -wal/-shm), and a commit is on the disk when it returns.
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _connect(path: Path, mode: str) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), usable from any thread
    (the store serialises access with its own lock)."""
    uri = f"{path.resolve().as_uri()}?mode={mode}"
    return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False,
                           timeout=10.0)


# -- checking a file before opening it --------------------------------------------------------

def _check_header(path: Path) -> None:
    """Refuse files that are plainly not sessions, from their first 100 bytes alone."""
    if not path.exists():
        raise SessionError(f"{path} does not exist")
    if path.is_dir():
        raise SessionError(f"{path} is a folder, not a DNN Studio session")
    try:
        with path.open("rb") as stream:
            header = stream.read(100)
    except OSError as exc:
        raise SessionError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not header:
        raise SessionError(f"{path} is empty, not a DNN Studio session")
    if not header.startswith(_SQLITE_MAGIC):
        raise SessionError(f"{path} is not a DNN Studio session (it is not a SQLite database)")
    if len(header) < 100:
        raise SessionError(f"{path} is a damaged DNN Studio session (it is cut short)")
    _check_ids(path, int.from_bytes(header[68:72], "big", signed=True),
               int.from_bytes(header[60:64], "big", signed=True))


def _check_ids(path: Path, application_id: int, version: int) -> None:
    if application_id != APPLICATION_ID:
        raise SessionError(
            f"{path} is not a DNN Studio session (it is a SQLite database of another program)"
        )
    if version > SCHEMA_VERSION:
        raise SessionError(
            f"{path} was saved by a newer DNN Studio (schema {version}); this version reads "
            f"up to {SCHEMA_VERSION}"
        )
    if version < 1:
        raise SessionError(f"{path} is a damaged DNN Studio session (it has no schema)")


def _check_database(conn: sqlite3.Connection, path: Path) -> int:
    """Check an open database is an intact session; return its schema version.

    Raises SessionError for a file that is not one, and lets sqlite3 errors through.
    """
    application_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    _check_ids(path, application_id, version)
    try:
        problem = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
    except UnicodeDecodeError:
        # SQLite's report on a damaged page quoted bytes that are not text.
        problem = "its integrity check failed"
    if problem != "ok":
        detail = _one_line(problem.replace("*** in database main ***", ""))
        raise SessionError(f"{path} is a damaged DNN Studio session ({detail})")
    if conn.execute("SELECT count(*) FROM sqlite_master WHERE type IN ('trigger', 'view')"
                    ).fetchone()[0]:
        # DNN Studio never writes either; a trigger would run its SQL on every save.
        raise SessionError(f"{path} was changed by another program (it holds triggers or "
                           "views, which DNN Studio sessions never have)")
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    required = _TABLES + (_TABLES_V2 if version >= 2 else ())
    missing = [t for t in required if t not in tables]
    if missing:
        raise SessionError(
            f"{path} is not a DNN Studio session (it has no {', '.join(missing)} table)"
        )
    return int(version)


def _is_hot_journal(exc: sqlite3.Error, path: Path) -> bool:
    if getattr(exc, "sqlite_errorcode", None) == _SQLITE_READONLY_ROLLBACK:
        return True
    return "readonly" in str(exc) and Path(f"{path}-journal").exists()


def _probe(path: Path) -> sqlite3.Connection:
    """A read-only connection to ``path`` once it is known to be an intact session."""
    recovered = False
    while True:
        try:
            conn = _connect(path, "ro")
        except sqlite3.Error as exc:
            raise SessionError(f"cannot open {path}: {_one_line(str(exc))}") from None
        try:
            _check_database(conn, path)
            return conn
        except SessionError:
            conn.close()
            raise
        except sqlite3.Error as exc:
            conn.close()
            if recovered or not _is_hot_journal(exc, path):
                raise SessionError(
                    f"{path} is a damaged DNN Studio session ({_one_line(str(exc))})"
                ) from None
        # A writer was killed mid-transaction and left a journal that a read-only connection
        # cannot roll back. The header showed the file is ours, so let SQLite's ordinary
        # recovery restore its last committed state, then check it again.
        recovered = True
        try:
            writer = _connect(path, "rw")
            try:
                writer.execute("SELECT count(*) FROM sqlite_master").fetchone()
            finally:
                writer.close()
        except sqlite3.Error as exc:
            raise SessionError(
                f"{path} is a damaged DNN Studio session ({_one_line(str(exc))})"
            ) from None


# -- the store --------------------------------------------------------------------------------

class SessionStore:
    """An open session file. Every write method commits before it returns.

    Make one with :meth:`create` or :meth:`open`; use it as a context manager or call
    :meth:`close`. Methods may be called from any thread, one at a time (an internal lock
    serialises them).
    """

    def __init__(self, path: Path, conn: sqlite3.Connection, *, read_only: bool = False) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = conn
        self._read_only = read_only
        self._lock = threading.RLock()

    # -- opening ----------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike[str], *, overwrite: bool = False) -> SessionStore:
        """Create a new, empty session at ``path``.

        Parameters
        ----------
        path : path-like
            The new file (by convention ending in :data:`SUFFIX`).
        overwrite : bool
            Replace a file that is already there (for a Save As target the user confirmed).
            Without it an existing file is an error and is not touched.

        Raises
        ------
        SessionError
            ``path`` exists (and ``overwrite`` is false), or the file cannot be written.
        """
        target = Path(path)
        if target.is_dir():
            raise SessionError(f"{target} is a folder; choose a file name for the session")
        if target.exists() and not overwrite:
            raise SessionError(f"{target} already exists; choose another name for the session")
        if not target.parent.is_dir():
            raise SessionError(f"cannot create {target}: folder {target.parent} does not exist")

        def build(tmp: Path) -> None:
            conn = _configure(sqlite3.connect(tmp, isolation_level=None))
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                _migrate(conn, 0)
                conn.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [("created_at", json.dumps(time.time())),
                     ("created_by", json.dumps(f"DNN Studio {__version__}"))],
                )
                conn.execute("COMMIT")
            finally:
                conn.close()

        return cls._write_new(target, build, what="create")

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, read_only: bool = False) -> SessionStore:
        """Open an existing session, after checking that it is one.

        Nothing is written until the file has been checked (header bytes first, then a
        read-only connection): a file that is not a session, a session from a newer DNN
        Studio, or a damaged one is refused and left exactly as it was. A session from an
        older version is migrated (``read_only``: in memory only).

        Parameters
        ----------
        path : path-like
        read_only : bool
            Never write to the file (for exports); write methods then raise SessionError.

        Raises
        ------
        SessionError
            With a one-line message saying what the file is instead.
        """
        target = Path(path)
        _check_header(target)
        probe = _probe(target)
        try:
            version = int(probe.execute("PRAGMA user_version").fetchone()[0])
            if version < SCHEMA_VERSION:
                # Migrate a copy in memory: reading never changes the file, and a file whose
                # tables do not match its version is refused before anything is written.
                memory = sqlite3.connect(":memory:", isolation_level=None,
                                         check_same_thread=False)
                try:
                    probe.backup(memory)
                    memory.execute("BEGIN")
                    try:
                        _migrate(memory, version)
                    except sqlite3.Error as exc:
                        raise SessionError(
                            f"{target} is a damaged DNN Studio session (its tables do not "
                            f"match schema {version}: {_one_line(str(exc))})") from None
                    memory.execute("COMMIT")
                except BaseException:
                    memory.close()
                    raise
                if read_only:
                    probe.close()
                    probe = memory
                else:
                    memory.close()
        except sqlite3.Error as exc:
            probe.close()
            raise SessionError(f"cannot read {target}: {_one_line(str(exc))}") from None
        except BaseException:
            probe.close()
            raise
        if read_only:
            return cls(target, probe, read_only=True)
        probe.close()
        try:
            conn = _configure(_connect(target, "rw"))
        except sqlite3.Error as exc:
            raise SessionError(f"cannot open {target}: {_one_line(str(exc))}") from None
        store = cls(target, conn)
        if version < SCHEMA_VERSION:
            try:
                with store._write("the upgraded schema") as db:
                    _migrate(db, version)
            except BaseException:
                store.close()
                raise
        return store

    @classmethod
    def _write_new(cls, target: Path, build: Callable[[Path], None], *, what: str
                   ) -> SessionStore:
        """Build a file next to ``target`` and move it into place in one rename, so
        ``target`` is at every moment either the old file or the complete new one."""
        tmp = _temp_path(target)
        try:
            build(tmp)
            _remove_side_files(target)
            os.replace(tmp, target)
            conn = _configure(_connect(target, "rw"))
        except (sqlite3.Error, OSError) as exc:
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise SessionError(f"cannot {what} {target}: {_one_line(str(detail))}") from None
        finally:
            # suppress, not missing_ok: on a read-only disk unlink() fails with EROFS even
            # for a file that was never made, and that must not hide the SessionError.
            with suppress(OSError):
                tmp.unlink(missing_ok=True)
                Path(f"{tmp}-journal").unlink(missing_ok=True)
        return cls(target, conn)

    def save_as(self, path: str | os.PathLike[str], *, overwrite: bool = True) -> SessionStore:
        """Copy the whole session to ``path`` and return a store for the copy.

        The copy is made with SQLite's backup API into a file next to ``path`` and renamed
        into place, so a file already at ``path`` (which a Save As dialog has asked about) is
        replaced only once the copy is complete. This store stays open on the old file, which
        is left as it was; close it when switching to the copy.

        Parameters
        ----------
        path : path-like
        overwrite : bool
            Replace a file already at ``path`` (the default, as for a Save As target); when
            false, an existing file is an error and is not touched.

        Raises
        ------
        SessionError
            ``path`` is this session's own file, exists (with ``overwrite=False``), or cannot
            be written.
        """
        target = Path(path)
        if _same_file(target, self._path) or target.resolve() == self._path.resolve():
            raise SessionError(f"{target} is this session's own file; choose another name")
        if target.is_dir():
            raise SessionError(f"{target} is a folder; choose a file name for the session")
        if target.exists() and not overwrite:
            raise SessionError(f"{target} already exists; choose another name for the session")
        source = self._connection()

        def build(tmp: Path) -> None:
            copy = sqlite3.connect(tmp, isolation_level=None)
            try:
                with self._lock:
                    source.backup(copy)
                _configure(copy)
            finally:
                copy.close()

        return self._write_new(target, build, what="save")

    # -- plumbing ---------------------------------------------------------------------------
    @property
    def path(self) -> Path:
        """The session file."""
        return self._path

    @property
    def read_only(self) -> bool:
        return self._read_only

    @property
    def closed(self) -> bool:
        return self._conn is None

    def close(self) -> None:
        """Close the file (every write is already committed). Closing twice is harmless."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("read-only" if self._read_only else "open")
        return f"<SessionStore {str(self._path)!r} {state}>"

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise SessionError(f"the session {self._path} is closed")
        return self._conn

    @contextmanager
    def _write(self, what: str) -> Iterator[sqlite3.Connection]:
        """One committed transaction; sqlite3 errors become a SessionError naming ``what``."""
        if self._read_only:
            raise SessionError(f"{self._path} was opened read-only; cannot save {what}")
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise SessionError(
                    f"could not save {what} to {self._path}: {_one_line(str(exc))}"
                ) from None

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction (a consistent snapshot); sqlite3 errors become SessionError."""
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN")
                try:
                    yield conn
                finally:
                    if conn.in_transaction:
                        conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise SessionError(
                    f"cannot read {self._path}: {_one_line(str(exc))}"
                ) from None

    # -- writing ----------------------------------------------------------------------------
    def put_dataset(self, spec: DatasetSpec) -> None:
        """Store the session's dataset spec (replacing the one before)."""
        value = json.dumps(spec.to_dict(), allow_nan=False)
        with self._write("the dataset") as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('dataset', ?)", (value,))

    def put_order(self, ids: Sequence[int]) -> None:
        """Store the experiments' order (a list of ids)."""
        value = json.dumps([int(i) for i in ids])
        with self._write("the queue order") as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('order', ?)", (value,))

    def put_search(self, search: StoredSearch) -> None:
        """Insert or replace a search (by name)."""
        spec = json.dumps(dict(search.spec), allow_nan=False)
        with self._write(f"search {search.name!r}") as db:
            db.execute(
                "INSERT OR REPLACE INTO searches (name, spec, state, created_at) "
                "VALUES (?, ?, ?, ?)",
                (search.name, spec, search.state, _optional_real(search.created_at)),
            )

    def delete_search(self, name: str) -> None:
        with self._write(f"search {name!r}") as db:
            db.execute("DELETE FROM searches WHERE name = ?", (name,))

    def add_test_evaluation(self, evaluation: TestEvaluation) -> None:
        """Append to the test set's audit trail, and store the figures on the experiment, in
        one transaction. The trail is never edited or shortened, even when the experiment
        is removed."""
        dataset = json.dumps(dict(evaluation.dataset), allow_nan=False)
        with self._write("the test evaluation") as db:
            db.execute(
                "INSERT INTO test_evaluations (experiment_id, at, test_cost, test_metric, "
                "metric, samples, dataset) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (int(evaluation.experiment_id), float(evaluation.at),
                 _real(evaluation.test_cost), _real(evaluation.test_metric),
                 evaluation.metric, int(evaluation.samples), dataset),
            )
            db.execute(
                "UPDATE experiments SET test_cost = ?, test_metric = ?, tested_at = ? "
                "WHERE id = ?",
                (_real(evaluation.test_cost), _real(evaluation.test_metric),
                 float(evaluation.at), int(evaluation.experiment_id)),
            )

    def put_experiment(self, record: ExperimentRecord, *, history: bool = False) -> None:
        """Insert or update an experiment: everything but its history.

        A record that has not run an epoch (``QUEUED``, or ``RUNNING`` with ``epochs_run ==
        0``) has no history, so any stored for its id (from before it was queued again) is
        deleted.

        Parameters
        ----------
        record : ExperimentRecord
        history : bool
            Also replace the stored history with the record's, in the same transaction (use it
            when a run finishes, so the finished experiment is saved all at once).
        """
        row = self._experiment_row(record)
        array = self._history_array(record) if history else None
        with self._write(f"experiment {record.id}") as db:
            db.execute(_UPSERT_EXPERIMENT, row)
            fresh = record.state is ExperimentState.QUEUED or (
                record.state is ExperimentState.RUNNING and record.epochs_run == 0
            )
            if array is not None or fresh:
                db.execute("DELETE FROM history WHERE experiment_id = ?", (record.id,))
            if array is not None and len(array):
                db.execute(_INSERT_CHUNK, (record.id, 1, len(array), _history_blob(array)))

    def add_experiment(self, record: ExperimentRecord) -> ExperimentRecord:
        """Add ``record`` with its history under the next free id, chosen in the same
        transaction (so two processes adding at once get different ids).

        Returns
        -------
        ExperimentRecord
            The record with its new id.
        """
        with self._write("a new experiment") as db:
            # Never an id the test set's audit trail names, even if that experiment is gone.
            next_id = db.execute(
                "SELECT MAX(COALESCE((SELECT MAX(id) FROM experiments), 0), "
                "COALESCE((SELECT MAX(experiment_id) FROM test_evaluations), 0)) + 1"
            ).fetchone()[0]
            record = record.replace(id=int(next_id))
            db.execute(_UPSERT_EXPERIMENT, self._experiment_row(record))
            array = self._history_array(record)
            if len(array):
                db.execute(_INSERT_CHUNK, (record.id, 1, len(array), _history_blob(array)))
        return record

    def append_history(self, experiment_id: int, first_epoch: int,
                       rows: Sequence[EpochLike]) -> None:
        """Store epochs ``first_epoch, first_epoch + 1, ...`` of a running experiment.

        They replace whatever was stored from ``first_epoch`` on, so appending the same rows
        again changes nothing. The experiment's ``epochs_run`` advances to the last epoch.
        The rows become one chunk: one row of the table and one blob, whatever their number.

        Raises
        ------
        ValueError
            The rows' ``epoch`` values are not ``first_epoch, first_epoch + 1, ...``, epochs
            before ``first_epoch`` are missing, or the experiment is not in the session
            (:meth:`put_experiment` it first).
        """
        [error] = self.append_histories([(experiment_id, first_epoch, rows)])
        if error is not None:
            raise error

    def append_histories(
        self, appends: Sequence[tuple[int, int, Sequence[EpochLike]]]
    ) -> list[ValueError | None]:
        """:meth:`append_history` for each ``(experiment_id, first_epoch, rows)``, all in one
        transaction: the file is synced once, not once per experiment (every sync is a
        burst of disk work that the window's thread felt).

        An append that :meth:`append_history` would refuse is left out and the others are
        made; the result has, in order, None for each append made and the ValueError for
        each one left out.
        """
        prepared: list[tuple[int, int, np.ndarray] | ValueError | None] = []
        for experiment_id, first_epoch, rows in appends:
            try:
                prepared.append(_history_rows(experiment_id, first_epoch, rows))
            except ValueError as exc:
                prepared.append(exc)
        errors: list[ValueError | None] = [
            item if isinstance(item, ValueError) else None for item in prepared]
        chunks = [(i, item) for i, item in enumerate(prepared) if isinstance(item, tuple)]
        if not chunks:
            return errors
        what = ("the history of experiment " + ", ".join(str(c[0]) for _, c in chunks))
        with self._write(what) as db:
            for i, (ident, first_epoch, figures) in chunks:
                # Each in a savepoint of its own, so a refused one leaves nothing behind.
                db.execute("SAVEPOINT append_history")
                try:
                    self._append_chunk(db, ident, first_epoch, figures)
                except ValueError as exc:
                    db.execute("ROLLBACK TO append_history")
                    errors[i] = exc
                db.execute("RELEASE append_history")
        return errors

    @staticmethod
    def _append_chunk(db: sqlite3.Connection, ident: int, first_epoch: int,
                      figures: np.ndarray) -> None:
        last = first_epoch + len(figures) - 1
        found = db.execute("UPDATE experiments SET epochs_run = MAX(epochs_run, ?) "
                           "WHERE id = ?", (last, ident)).rowcount
        if not found:
            raise ValueError(
                f"experiment {ident} is not in the session; put_experiment() it first"
            )
        # What is stored from first_epoch on is replaced: later chunks go, and a chunk
        # that runs past first_epoch is cut there.
        db.execute("DELETE FROM history WHERE experiment_id = ? AND first_epoch >= ?",
                   (ident, first_epoch))
        # Not the chunk's data: reading its megabyte back on every append of a long run
        # cost a quarter of the writing. It is read only when it must be cut.
        before = db.execute(
            "SELECT first_epoch, epochs FROM history WHERE experiment_id = ? "
            "ORDER BY first_epoch DESC LIMIT 1", (ident,)).fetchone()
        stored_to = 0 if before is None else before[0] + before[1] - 1
        if stored_to < first_epoch - 1:
            raise ValueError(
                f"experiment {ident} has {stored_to} epochs stored; the next "
                f"epoch to store is {stored_to + 1}, not {first_epoch}")
        if stored_to >= first_epoch:
            kept = first_epoch - before[0]
            size = kept * len(HISTORY_FIELDS) * _HISTORY_DTYPE.itemsize
            [data] = db.execute(
                "SELECT substr(data, 1, ?) FROM history WHERE experiment_id = ? "
                "AND first_epoch = ?", (size, ident, before[0])).fetchone()
            db.execute(_INSERT_CHUNK, (ident, before[0], kept, data))
        db.execute(_INSERT_CHUNK, (ident, first_epoch, len(figures), _history_blob(figures)))

    def put_history(self, record: ExperimentRecord) -> None:
        """Replace an experiment's stored history with the record's whole history."""
        array = self._history_array(record)
        with self._write(f"the history of experiment {record.id}") as db:
            db.execute("DELETE FROM history WHERE experiment_id = ?", (record.id,))
            if len(array):
                db.execute(_INSERT_CHUNK, (record.id, 1, len(array), _history_blob(array)))

    def delete_experiment(self, experiment_id: int) -> None:
        """Delete an experiment, its history, and its place in the stored order."""
        with self._write(f"the deletion of experiment {experiment_id}") as db:
            db.execute("DELETE FROM experiments WHERE id = ?", (int(experiment_id),))
            row = db.execute("SELECT value FROM meta WHERE key = 'order'").fetchone()
            if row is not None:
                order = [i for i in json.loads(row[0]) if i != experiment_id]
                db.execute("UPDATE meta SET value = ? WHERE key = 'order'",
                           (json.dumps(order),))

    def mark_running_interrupted(self) -> list[int]:
        """Turn every stored ``RUNNING`` experiment into ``INTERRUPTED`` (after a crash).

        Their ``epochs_run`` becomes the number of stored epochs, and an empty message becomes
        :data:`INTERRUPTED_MESSAGE`.

        Returns
        -------
        list of int
            The ids that changed.
        """
        with self._write("the interrupted experiments") as db:
            ids = [row[0] for row in db.execute(
                "SELECT id FROM experiments WHERE state = ? ORDER BY id",
                (ExperimentState.RUNNING.value,))]
            db.execute(
                "UPDATE experiments SET state = ?, "
                "message = CASE WHEN message = '' THEN ? ELSE message END, "
                "epochs_run = (SELECT COALESCE(MAX(first_epoch + epochs - 1), 0) FROM history "
                "WHERE experiment_id = experiments.id) "
                "WHERE state = ?",
                (ExperimentState.INTERRUPTED.value, INTERRUPTED_MESSAGE,
                 ExperimentState.RUNNING.value),
            )
        return ids

    @staticmethod
    def _experiment_row(record: ExperimentRecord) -> tuple[Any, ...]:
        return (
            int(record.id),
            ExperimentState(record.state).value,
            json.dumps(record.hyperparameters.to_dict(), allow_nan=False),
            record.note,
            record.group,
            _optional_real(record.created_at),
            _optional_real(record.started_at),
            _optional_real(record.finished_at),
            int(record.epochs_run),
            _real(record.train_cost),
            _real(record.val_cost),
            _real(record.train_metric),
            _real(record.val_metric),
            record.metric,
            _real(record.train_time_s),
            int(record.parameter_count),
            record.message,
            None if record.diverged_epoch is None else int(record.diverged_epoch),
            None if record.params is None else encode_params(record.params),
            _real(record.test_cost),
            _real(record.test_metric),
            _optional_real(record.tested_at),
            None if record.folds is None else int(record.folds),
        )

    @staticmethod
    def _history_array(record: ExperimentRecord) -> np.ndarray:
        """The record's whole history as an ``(epochs, 6)`` array of the history fields."""
        columns = [np.asarray(record.history.get(name, ()), dtype=np.float64)
                   for name in HISTORY_FIELDS]
        lengths = {len(c) for c in columns}
        if len(lengths) > 1:
            raise ValueError(f"experiment {record.id}'s history curves differ in length")
        n = lengths.pop() if lengths else 0
        array = np.empty((n, len(HISTORY_FIELDS)))
        for j, column in enumerate(columns):
            array[:, j] = column
        return array

    # -- reading ----------------------------------------------------------------------------
    def dataset(self) -> DatasetSpec | None:
        """The stored dataset spec, without loading the experiments."""
        with self._read() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'dataset'").fetchone()
        return None if row is None else self._decode_dataset(row[0])

    def load(self) -> SessionData:
        """Everything in the session: dataset, experiments with histories and parameters, order.

        Raises
        ------
        SessionError
            Part of the file cannot be understood (it was damaged or edited by hand).
        """
        with self._read() as db:
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            rows = db.execute(
                f"SELECT {', '.join(_EXPERIMENT_COLUMNS)} FROM experiments ORDER BY id"
            ).fetchall()
            chunk_rows = db.execute(
                "SELECT experiment_id, first_epoch, epochs, data FROM history "
                "ORDER BY experiment_id, first_epoch"
            ).fetchall()
            search_rows = db.execute(
                "SELECT name, spec, state, created_at FROM searches ORDER BY created_at, name"
            ).fetchall()
            evaluation_rows = db.execute(
                "SELECT experiment_id, at, test_cost, test_metric, metric, samples, dataset "
                "FROM test_evaluations ORDER BY id"
            ).fetchall()
        histories = self._decode_histories(chunk_rows)
        records = [self._decode_record(row, histories) for row in rows]
        dataset = None if "dataset" not in meta else self._decode_dataset(meta["dataset"])
        ids = [r.id for r in records]
        stored = self._decode_json(meta.get("order", "[]"), "the queue order")
        if not isinstance(stored, list):
            raise self._damaged("the queue order is not a list")
        known = set(ids)
        order: list[int] = []
        for i in stored:
            if isinstance(i, int) and not isinstance(i, bool) and i in known and i not in order:
                order.append(i)
        seen = set(order)
        order.extend(i for i in ids if i not in seen)
        searches = []
        for name, spec_text, state, created_at in search_rows:
            spec = self._decode_json(spec_text, f"search {name!r}")
            if not isinstance(spec, Mapping):
                raise self._damaged(f"search {name!r} is not a mapping")
            try:
                created = _float(created_at, "created_at")
            except ValueError as exc:
                raise self._damaged(f"search {name!r}: {exc}") from None
            searches.append(StoredSearch(str(name), spec, str(state), created))
        evaluations = []
        for experiment_id, at, test_cost, test_metric, metric, samples, text in evaluation_rows:
            spec = self._decode_json(text, "the test set's audit trail")
            if not isinstance(spec, Mapping):
                raise self._damaged("the test set's audit trail names no dataset")
            try:
                at = _time(at, "at")
                if at is None or math.isnan(at):
                    raise ValueError("at is missing")
                evaluations.append(TestEvaluation(
                    _count(experiment_id, "experiment_id"), at,
                    _float(test_cost, "test_cost"), _float(test_metric, "test_metric"),
                    _text(metric, "metric"), _count(samples, "samples"), spec))
            except ValueError as exc:
                raise self._damaged(f"the test set's audit trail: {exc}") from None
        return SessionData(dataset=dataset, records=records, order=order,
                           searches=searches, evaluations=evaluations)

    def _decode_histories(self, chunk_rows: Sequence[Sequence[Any]]
                          ) -> dict[int, HistoryColumns]:
        """Each experiment's history from its chunks (ordered by experiment and first epoch),
        which must cover epochs 1, 2, ... without a gap or an overlap."""
        chunks: dict[int, list[np.ndarray]] = {}
        for experiment_id, first_epoch, epochs, blob in chunk_rows:
            parts = chunks.setdefault(experiment_id, [])
            try:
                array = _history_array(blob, epochs)
                expected = 1 + sum(len(part) for part in parts)
                if first_epoch != expected:
                    raise ValueError(f"a chunk starts at epoch {_short(first_epoch)}, "
                                     f"not {expected}")
            except ValueError as exc:
                raise self._damaged(f"the history of experiment {experiment_id}: {exc}"
                                    ) from None
            parts.append(array)
        histories = {}
        for experiment_id, parts in chunks.items():
            whole = np.concatenate(parts) if len(parts) > 1 else parts[0]
            histories[experiment_id] = HistoryColumns.from_mapping(
                {name: Column(whole[:, j]) for j, name in enumerate(HISTORY_FIELDS)})
        return histories

    def _damaged(self, detail: str) -> SessionError:
        return SessionError(f"{self._path} is a damaged DNN Studio session ({detail})")

    def _decode_json(self, text: str, what: str) -> Any:
        try:
            return json.loads(text)
        except (TypeError, ValueError, RecursionError):
            raise self._damaged(f"{what} is not valid JSON") from None

    def _decode_dataset(self, text: str) -> DatasetSpec:
        data = self._decode_json(text, "the dataset")
        try:
            if not isinstance(data, Mapping):
                raise TypeError("not a mapping")
            return DatasetSpec.from_dict(data)
        except (DnnStudioError, TypeError, ValueError) as exc:
            raise self._damaged(f"the dataset: {_one_line(str(exc))}") from None

    def _decode_record(self, row: Sequence[Any],
                       histories: Mapping[int, Mapping[str, Any]]
                       ) -> ExperimentRecord:
        values = dict(zip(_EXPERIMENT_COLUMNS, row, strict=True))
        if isinstance(values["id"], bool) or not isinstance(values["id"], int):
            raise self._damaged(f"an experiment's id is {_short(values['id'])}")
        experiment_id = values["id"]
        what = f"experiment {experiment_id}"
        try:
            state = ExperimentState(values["state"])
        except ValueError:
            raise self._damaged(f"{what} has an unknown state {values['state']!r}") from None
        hp_data = self._decode_json(values["hyperparameters"], f"{what}'s hyperparameters")
        try:
            hyperparameters = Hyperparameters.from_dict(hp_data)
        except (DnnStudioError, TypeError) as exc:
            raise self._damaged(f"{what}: {_one_line(str(exc))}") from None
        params = None
        if values["params"] is not None:
            try:
                if not isinstance(values["params"], bytes):
                    raise ValueError(f"{_short(values['params'])} is not an .npz archive")
                params = decode_params(values["params"])
                problem = _params_problem(params)
                if problem:
                    raise ValueError(problem)
            except ValueError as exc:
                raise self._damaged(f"{what}'s parameters: {_one_line(str(exc))}") from None
        history: Mapping[str, Any] = histories.get(experiment_id) or {
            name: [] for name in HISTORY_FIELDS}
        diverged_epoch = values["diverged_epoch"]
        try:
            created_at = _time(values["created_at"], "created_at")
            return ExperimentRecord(
                id=experiment_id,
                hyperparameters=hyperparameters,
                state=state,
                note=_text(values["note"], "note"),
                created_at=math.nan if created_at is None else created_at,
                started_at=_time(values["started_at"], "started_at"),
                finished_at=_time(values["finished_at"], "finished_at"),
                epochs_run=_count(values["epochs_run"], "epochs_run"),
                history=history,
                train_cost=_float(values["train_cost"], "train_cost"),
                val_cost=_float(values["val_cost"], "val_cost"),
                train_metric=_float(values["train_metric"], "train_metric"),
                val_metric=_float(values["val_metric"], "val_metric"),
                metric=_text(values["metric"], "metric"),
                train_time_s=_float(values["train_time_s"], "train_time_s"),
                parameter_count=_count(values["parameter_count"], "parameter_count"),
                message=_text(values["message"], "message"),
                diverged_epoch=(None if diverged_epoch is None
                                else _count(diverged_epoch, "diverged_epoch")),
                params=params,
                group=_text(values["grp"], "grp"),
                test_cost=_float(values["test_cost"], "test_cost"),
                test_metric=_float(values["test_metric"], "test_metric"),
                tested_at=_time(values["tested_at"], "tested_at"),
                folds=_folds(values["folds"]),
            )
        except ValueError as exc:
            raise self._damaged(f"{what}: {_one_line(str(exc))}") from None
