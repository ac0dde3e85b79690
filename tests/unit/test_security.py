"""No file a user opens can run code, and a session file cannot make the app write anywhere.

1. The code is scanned (with :mod:`ast`) for what turns data into code: pickle and its
   relatives, ``eval``/``exec``, ``yaml.load``, ``np.load`` without ``allow_pickle=False``,
   SQLite extensions, shells. A change that adds one fails here.
2. A session names files (its dataset's CSV or .npz, and the datasets recorded with its
   searches and test evaluations). Opening, loading, exporting or evaluating such a session
   reads at most the named data file, refuses what is not data with a DataError, and never
   writes to any path but the session itself and the output the user chose.
"""

from __future__ import annotations

import ast
import json
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dnnstudio import cli
from dnnstudio.core.data.spec import DatasetSpec
from dnnstudio.core.errors import DataError
from dnnstudio.core.hyperparams import Hyperparameters
from dnnstudio.core.training import HISTORY_FIELDS
from dnnstudio.runs.messages import Job, Message
from dnnstudio.runs.queue import ExperimentQueue
from dnnstudio.runs.records import ExperimentRecord, ExperimentState, TestEvaluation
from dnnstudio.search.runner import restore_all
from dnnstudio.sessions.store import SessionError, SessionStore, StoredSearch

PACKAGE = Path(__file__).resolve().parents[2] / "dnnstudio"

# -- 1. the code --------------------------------------------------------------------------------

UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "marshal", "shelve", "dill", "cloudpickle",
                  "joblib", "jsonpickle"}
UNSAFE_BUILTINS = {"eval", "exec", "compile", "__import__"}
YAML_UNSAFE = {"load", "load_all", "full_load", "full_load_all", "unsafe_load",
               "unsafe_load_all"}


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_constant(node: ast.expr | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def _dotted(node: ast.expr) -> str:
    """``np.lib.npyio.load`` for an attribute chain, ``""`` for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def unsafe_constructs(source: str, filename: str = "<source>") -> list[str]:
    """Every construct in ``source`` that could run code from data, as ``file:line: what``."""
    found: list[str] = []

    def report(node: ast.AST, what: str) -> None:
        found.append(f"{filename}:{getattr(node, 'lineno', 0)}: {what}")

    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in UNSAFE_MODULES:
                    report(node, f"import {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module.split(".")[0] in UNSAFE_MODULES:
                report(node, f"from {module} import ...")
            if module.split(".")[0] in ("numpy", "yaml") and any(
                    a.name == "load" or a.name in YAML_UNSAFE for a in node.names):
                report(node, f"from {module} import load (call it through its module)")
        elif isinstance(node, ast.Call):
            func = node.func
            name = _dotted(func)
            last = name.rsplit(".", 1)[-1]
            if isinstance(func, ast.Name) and func.id in UNSAFE_BUILTINS:
                report(node, f"{func.id}()")
            elif name in ("builtins.eval", "builtins.exec", "builtins.compile"):
                report(node, f"{name}()")
            elif name.split(".")[0] in ("np", "numpy") and last == "load" and not _is_constant(
                    _keyword(node, "allow_pickle"), False):
                report(node, f"{name}() without allow_pickle=False")
            elif name.split(".")[0] == "yaml" and last in YAML_UNSAFE:
                report(node, f"{name}() (use yaml.safe_load)")
            elif last in ("read_pickle", "loads") and name.split(".")[0] in ("pd", "pandas"):
                report(node, f"{name}()")
            elif name == "torch.load" and not _is_constant(_keyword(node, "weights_only"),
                                                          True):
                report(node, "torch.load() without weights_only=True")
            elif last == "enable_load_extension" and not (
                    node.args and _is_constant(node.args[0], False)):
                report(node, "enable_load_extension(): a session could load native code")
            elif name in ("os.system", "os.popen") or last in ("popen", "spawnl", "execv"):
                report(node, f"{name}()")
            elif _is_constant(_keyword(node, "shell"), True):
                report(node, f"{name}(shell=True)")
            elif last == "import_module" and not (
                    node.args and isinstance(node.args[0], ast.Constant)):
                report(node, "import_module() of a name that is not a literal")
    return found


def test_the_scanner_finds_every_kind_of_unsafe_construct() -> None:
    snippets = {
        "import pickle": 1, "import marshal, shelve": 2, "from pickle import loads": 1,
        "import dill.settings": 1, "eval('1')": 1, "exec(code)": 1, "compile(s, 'f', 'exec')": 1,
        "__import__(name)": 1, "builtins.eval(s)": 1, "np.load(path)": 1,
        "numpy.load(f, allow_pickle=True)": 1, "np.load(f, allow_pickle=flag)": 1,
        "from numpy import load": 1, "yaml.load(text)": 1, "yaml.unsafe_load(t)": 1,
        "pd.read_pickle(p)": 1, "torch.load(p)": 1, "conn.enable_load_extension(True)": 1,
        "os.system(cmd)": 1, "subprocess.run(cmd, shell=True)": 1,
        "importlib.import_module(name)": 1,
    }
    for source, count in snippets.items():
        assert len(unsafe_constructs(source)) == count, source
    safe = ("np.load(f, allow_pickle=False)\nyaml.safe_load(t)\nre.compile('x')\n"
            "app.exec()\nimportlib.import_module('dnnstudio.gui.app')\n"
            "torch.load(p, weights_only=True)\nconn.enable_load_extension(False)\n"
            "json.loads(t)\nsubprocess.run([exe, arg])\n")
    assert unsafe_constructs(safe) == []


def test_no_code_turns_data_into_code() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 20
    found = [hit for path in files
             for hit in unsafe_constructs(path.read_text(encoding="utf-8"),
                                          str(path.relative_to(PACKAGE.parent)))]
    assert found == []


# -- 2. paths named by a session ----------------------------------------------------------------

def _hp() -> Hyperparameters:
    return Hyperparameters(epochs=2, hidden=(3,))


def _hostile_session(path: Path, dataset: DatasetSpec, elsewhere: str) -> None:
    """A session whose every dataset names a file that is not the user's data."""
    with SessionStore.create(path) as store:
        store.put_dataset(dataset)
        record = ExperimentRecord(
            id=1, hyperparameters=_hp(), state=ExperimentState.COMPLETED, epochs_run=2,
            history={name: [0.5, 0.4] for name in HISTORY_FIELDS}, train_cost=0.4,
            val_cost=0.5, train_metric=0.8, val_metric=0.7, finished_at=1.7e9,
            params=[(np.zeros((3, 2), "float32"), np.zeros((3, 1), "float32")),
                    (np.zeros((1, 3), "float32"), np.zeros((1, 1), "float32"))])
        store.put_experiment(record, history=True)
        store.put_experiment(ExperimentRecord(id=2, hyperparameters=_hp()))  # queued
        other = DatasetSpec(source="csv", path=elsewhere).to_dict()
        store.put_search(StoredSearch("grid search 1", {
            "dataset": other, "fixed": {"epochs": 2},
            "search": {"strategy": "grid", "space": {"alpha": [0.1]}}}, "running", 1.7e9))
        store.add_test_evaluation(TestEvaluation(5, 1.7e9, 0.1, 0.9, "accuracy", 10, other))


class _NoWorkers:
    def idle_count(self) -> int:
        return 0

    def submit(self, job: Job) -> None:
        raise AssertionError("nothing runs here")

    def cancel(self, experiment_id: int) -> None:
        pass

    def poll(self, timeout: float) -> list[Message]:
        return []


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_recording: list[tuple[str, str]] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _recording is None:
        return
    if event == "open":
        path, mode, flags = args
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & _WRITE_FLAGS)
        if writes and isinstance(path, str | bytes | os.PathLike):
            _recording.append(("write", os.fsdecode(path)))
    elif event == "sqlite3.connect":
        _recording.append(("sqlite", str(args[0])))
    elif event in ("os.rename", "os.remove", "os.rmdir", "os.mkdir", "os.truncate",
                   "os.chmod", "os.symlink", "os.link", "shutil.rmtree", "shutil.move"):
        _recording.append((event, os.fsdecode(args[0]) if isinstance(
            args[0], str | bytes | os.PathLike) else str(args[0])))


_hook_installed = False


@contextmanager
def recorded_writes() -> Iterator[list[tuple[str, str]]]:
    """What this process opens for writing (audit hooks: every open, every sqlite3.connect)."""
    global _recording, _hook_installed
    if not _hook_installed:
        sys.addaudithook(_audit)  # hooks cannot be removed; it does nothing between uses
        _hook_installed = True
    _recording = []
    try:
        yield _recording
    finally:
        _recording = None


def _sqlite_target(uri: str) -> str:
    path = uri.removeprefix("file://").split("?", 1)[0]
    return os.path.realpath(path) if path != ":memory:" else path


def test_a_session_naming_etc_passwd_gets_a_data_error(tmp_path: Path) -> None:
    session = tmp_path / "hostile.dnnsession"
    spec = DatasetSpec(source="csv", name="passwd", path="/etc/passwd")
    _hostile_session(session, spec, "/etc/shadow")
    with SessionStore.open(session, read_only=True) as store:
        data = store.load()  # loading the session reads no data file at all
    assert data.dataset == spec
    for load in (data.dataset.load, data.dataset.training_data):
        with pytest.raises(DataError):
            load()
    npz = DatasetSpec(source="npz", path="/etc/passwd")
    with pytest.raises(DataError, match="not a NumPy .npz file"):
        npz.training_data()


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/urandom", "/proc/self/environ",
                                    "/etc", "relative/missing.csv"])
def test_a_session_naming_a_device_or_folder_gets_a_data_error_at_once(target: str) -> None:
    with pytest.raises(DataError):
        DatasetSpec(source="csv", path=target).load()


def test_nothing_is_written_to_a_path_a_session_names(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data_file = tmp_path / "data" / "victim.csv"
    data_file.parent.mkdir()
    data_file.write_text("precious,content\n1,2\n", encoding="utf-8")
    elsewhere = tmp_path / "not-yet" / "made.csv"
    session = tmp_path / "hostile.dnnsession"
    _hostile_session(session, DatasetSpec(source="csv", path=str(data_file)), str(elsewhere))
    before = data_file.read_bytes()
    out_csv, out_json = tmp_path / "out.csv", tmp_path / "out.json"

    steps: list[tuple[str, Callable[[], Any]]] = [
        ("open and load", lambda: SessionStore.open(session).close()),
        ("load read-only", lambda: _load(session, read_only=True)),
        ("queue and searches", lambda: _queue_and_searches(session)),
        ("export csv", lambda: cli.main(["export", str(session), "--csv", str(out_csv)])),
        ("export json", lambda: cli.main(["export", str(session), "--json", str(out_json)])),
        ("evaluate", lambda: cli.main(["evaluate", str(session), "--experiment", "1",
                                       "--yes"])),
    ]
    chosen = [session, out_csv, out_json]  # by the user, on the command line
    targets: set[str] = set()
    for name, step in steps:
        with recorded_writes() as writes:
            step()
        for kind, path in writes:
            target = _sqlite_target(path) if kind == "sqlite" else os.path.realpath(path)
            assert _is_chosen(target, chosen), (name, kind, path)
            targets.add(target)
    # The hooks saw the writes that were meant to happen (so they would see any other).
    assert os.path.realpath(session) in targets
    assert any(os.path.basename(t).startswith(".out.csv.") for t in targets)
    err = capsys.readouterr().err
    # The evaluation needs the data, reads the named file, and says what is wrong with it.
    assert "dnnstudio evaluate: error:" in err
    assert data_file.read_bytes() == before
    assert not elsewhere.parent.exists()
    assert json.loads(out_json.read_text(encoding="utf-8"))


def _is_chosen(target: str, chosen: list[Path]) -> bool:
    """``target`` is a chosen file, its journal, or a temporary file made next to it to be
    renamed into place."""
    if target == ":memory:":
        return True
    for path in chosen:
        real = os.path.realpath(path)
        if target in (real, real + "-journal"):
            return True
        folder, name = os.path.split(target)
        if folder == os.path.dirname(real) and name.startswith(f".{path.name}."):
            return True
    return False


def _load(path: Path, *, read_only: bool) -> None:
    with SessionStore.open(path, read_only=read_only) as store:
        store.load()


def _queue_and_searches(path: Path) -> None:
    with SessionStore.open(path) as store:
        data = store.load()
    queue = ExperimentQueue(_NoWorkers(), data.dataset or DatasetSpec(), max_parallel=1)
    queue.load(data.records, data.order)
    restore_all(queue, data.searches)


def test_a_hostile_stored_search_is_skipped_when_the_session_opens(tmp_path: Path) -> None:
    session = tmp_path / "s.dnnsession"
    with SessionStore.create(session) as store:
        store.put_search(StoredSearch("grid search 1", {"search": {
            "objective": ["cost"], "space": {"alpha": [0.1]}}}, "running", 1.7e9))
        data = store.load()
    queue = ExperimentQueue(_NoWorkers(), DatasetSpec(), max_parallel=1)
    assert restore_all(queue, data.searches) == []


def test_session_files_cannot_load_sqlite_extensions(tmp_path: Path) -> None:
    """A session is SQL that SQLite runs; load_extension() would run native code from it."""
    session = tmp_path / "s.dnnsession"
    SessionStore.create(session).close()
    conn = sqlite3.connect(session)
    conn.execute("CREATE VIEW v AS SELECT load_extension('/tmp/evil.so') AS x")
    conn.commit()
    conn.close()
    with pytest.raises(SessionError, match="triggers or views"):
        SessionStore.open(session)


def test_a_dataset_file_that_does_not_look_like_data_is_flagged(tmp_path: Path) -> None:
    assert DatasetSpec(source="csv", path="/etc/passwd").unusual_file()
    assert DatasetSpec(source="csv", path=str(tmp_path / "id_rsa")).unusual_file()
    assert DatasetSpec(source="npz", path=str(tmp_path / "data.csv")).unusual_file()
    folder = tmp_path / "looks.csv"
    folder.mkdir()
    assert DatasetSpec(source="csv", path=str(folder)).unusual_file()
    assert not DatasetSpec(source="csv", path=str(tmp_path / "iris.CSV")).unusual_file()
    assert not DatasetSpec(source="npz", path=str(tmp_path / "arrays.npz")).unusual_file()
    assert not DatasetSpec(name="planar").unusual_file()
