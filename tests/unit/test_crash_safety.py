"""A crash never loses work: a sweep killed at random moments leaves a session that opens with
every finished experiment intact and the running ones marked interrupted, and no worker
process outlives it. A full or read-only disk fails a save with a message and keeps the file
as it was.

The kill loop is ``benchmarks/kill_loop.py`` (run it for hundreds of kills); here it runs 50
kills in three loops side by side, on a new session file every five kills.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from dnnstudio.core.hyperparams import Hyperparameters
from dnnstudio.core.training import HISTORY_FIELDS, EpochRecord
from dnnstudio.runs.records import ExperimentRecord, ExperimentState
from dnnstudio.sessions.store import SessionError, SessionStore
from dnnstudio.sessions.writer import SessionWriter

KILLS = 50
BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _kill_loop() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kill_loop", BENCHMARKS / "kill_loop.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["kill_loop"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_killed_sweeps_lose_nothing_that_finished_and_leave_no_worker(tmp_path: Path) -> None:
    kill_loop = _kill_loop()
    plans = [("grid", 0, 17), ("random", 1, 17), ("grid", 2, KILLS - 34)]

    def run(plan: tuple[str, int, int]) -> Any:
        spec, seed, kills = plan
        folder = tmp_path / f"{spec}-{seed}"
        folder.mkdir()
        return kill_loop.run_kills(folder, kills, spec=spec, seed=seed, min_delay=0.05,
                                   max_delay=1.2, early=1 / 3, trials=30, workers=1,
                                   per_session=5)

    # Side by side: most of a kill's time is spent waiting for its moment.
    with ThreadPoolExecutor(len(plans)) as pool:
        summaries = list(pool.map(run, plans))
    failures = [f for s in summaries for f in s.failures]
    assert not failures, "\n".join(failures)
    assert sum(s.kills for s in summaries) >= KILLS
    assert all(s.sessions_checked > 0 for s in summaries)
    # The moments were spread: some kills found finished experiments, some running ones.
    assert sum(s.finished_verified for s in summaries) > 0
    assert sum(s.interrupted_found for s in summaries) > 0


def test_workers_of_a_killed_sweep_find_their_parent_gone(tmp_path: Path) -> None:
    """The loop above tells that workers exit; this shows why (they read EOF from the pool)
    and that it happens while they train, not only while they wait for work."""
    kill_loop = _kill_loop()
    spec = tmp_path / "long.toml"
    spec.write_text('[dataset]\nname = "planar"\n[fixed]\nepochs = 1000000\nhidden = [8]\n'
                    '[search]\nstrategy = "grid"\n[search.space]\nalpha = [0.01, 0.02]\n',
                    encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "dnnstudio", "sweep", str(spec), "--session",
         str(tmp_path / "s.dnnsession"), "--workers", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(BENCHMARKS.parent)})
    try:
        # Both workers are training once the session holds two running experiments.
        _wait_until(lambda: kill_loop.running_count(tmp_path / "s.dnnsession") == 2, 30)
        members = kill_loop.group_members(process.pid)
        assert len(members) >= 3  # the sweep and its two workers (and maybe a tracker)
    finally:
        process.kill()
        process.wait()
    assert kill_loop.wait_group_gone(process.pid, timeout=10.0) == []


def _wait_until(condition: Callable[[], bool], seconds: float) -> None:
    event = threading.Event()
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        event.wait(0.05)
    raise AssertionError(f"not within {seconds} s")


# -- full and read-only disks --------------------------------------------------------------------

def _record(i: int, epochs: int = 400) -> ExperimentRecord:
    return ExperimentRecord(
        id=i, hyperparameters=Hyperparameters(epochs=epochs), state=ExperimentState.COMPLETED,
        epochs_run=epochs, history={name: [0.25 + i] * epochs for name in HISTORY_FIELDS},
        train_cost=0.1, val_cost=0.2, train_metric=0.9, val_metric=0.8, finished_at=1.7e9)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _ids(path: Path) -> list[int]:
    with SessionStore.open(path, read_only=True) as store:
        return [r.id for r in store.load().records]


def _limit_pages(store: SessionStore, pages: int | None) -> None:
    """Let the store's file grow to ``pages`` pages at most (None: no further): SQLite then
    fails a write that needs more with SQLITE_FULL, as on a full disk. The limit belongs to
    the connection, so it is set on the store's own."""
    conn = store._connection()
    if pages is None:
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    conn.execute(f"PRAGMA max_page_count = {int(pages)}")


def test_a_full_database_fails_the_write_and_keeps_what_was_saved(tmp_path: Path) -> None:
    """SQLITE_FULL, forced with max_page_count: the failed transaction is rolled back."""
    path = tmp_path / "s.dnnsession"
    with SessionStore.create(path) as store:
        store.put_experiment(_record(1), history=True)
    before = _digest(path)
    with SessionStore.open(path) as store:
        _limit_pages(store, None)
        with pytest.raises(SessionError, match="database or disk is full"):
            store.put_experiment(_record(2), history=True)
        with pytest.raises(SessionError, match="could not save the history of experiment 1"):
            store.append_history(1, 401, [EpochRecord(e, 1, 1, 1, 1, 1, 1)
                                          for e in range(401, 2000)])
    assert _digest(path) == before
    assert _ids(path) == [1]


def test_the_writer_reports_a_full_database_and_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "s.dnnsession"
    errors: list[str] = []
    writer = SessionWriter(path, create=True, on_error=errors.append, flush_interval=0.01)
    try:
        writer.put_experiment(_record(1))
        writer.put_history(_record(1))
        writer.call(lambda store: _limit_pages(store, None))
        writer.put_experiment(_record(2))
        writer.put_history(_record(2))
        assert writer.flush(10)
        writer.call(lambda store: _limit_pages(store, 2**30))
        writer.put_experiment(_record(3, epochs=5))  # room again: writing goes on
        assert writer.flush(10)
    finally:
        writer.close()
    assert errors
    assert all(e.startswith(f"Could not write the session file {path}") for e in errors)
    assert all("full" in e for e in errors)
    with SessionStore.open(path, read_only=True) as store:
        records = {r.id: r for r in store.load().records}
    assert len(records[1].history["train_cost"]) == 400  # intact
    assert 3 in records


def test_save_as_that_fails_keeps_the_file_it_would_replace(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "a.dnnsession"
    target = tmp_path / "b.dnnsession"
    with SessionStore.create(source) as store:
        store.put_experiment(_record(1), history=True)
    with SessionStore.create(target) as store:
        store.put_experiment(_record(7), history=True)
    before = _digest(target)

    def no_space(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_space)
    with SessionStore.open(source) as store, pytest.raises(
            SessionError, match=f"cannot save {target}: No space left on device"):
        store.save_as(target)
    monkeypatch.undo()
    assert _digest(target) == before
    assert _ids(target) == [7]
    assert sorted(os.listdir(tmp_path)) == ["a.dnnsession", "b.dnnsession"]  # no temp file


# A tiny filesystem, for the real thing: ENOSPC and EROFS from the kernel.

@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs mounted for this test (skipped where mounting is not allowed)."""
    mount, umount = shutil.which("mount"), shutil.which("umount")
    point = tmp_path / "disk"
    point.mkdir()
    if mount is None or umount is None or os.geteuid() != 0:
        pytest.skip("needs root and mount(8) for a tmpfs")
    made = subprocess.run([mount, "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs",
                           str(point)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield point
    finally:
        if subprocess.run([umount, str(point)], capture_output=True, check=False).returncode:
            subprocess.run([umount, "-l", str(point)], capture_output=True, check=False)


def _fill(folder: Path, keep: int) -> None:
    """Take all but about ``keep`` bytes of the filesystem's free space."""
    free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
    if free > keep:
        with (folder / "filler").open("wb") as stream:
            stream.write(b"\0" * (free - keep))


def test_a_full_disk_fails_writes_with_a_message_and_keeps_the_file(tiny_disk: Path) -> None:
    path = tiny_disk / "s.dnnsession"
    with SessionStore.create(path) as store:
        store.put_experiment(_record(1), history=True)
    _fill(tiny_disk, keep=4096)
    errors: list[str] = []
    writer = SessionWriter(path, create=False, on_error=errors.append, flush_interval=0.01)
    try:
        for i in range(2, 8):
            writer.put_experiment(_record(i))
            writer.put_history(_record(i))
        assert writer.flush(10)
    finally:
        writer.close()
    assert errors
    assert all("full" in e for e in errors), errors
    with SessionStore.open(path, read_only=True) as store:
        records = {r.id: r for r in store.load().records}
    assert list(records[1].history["val_cost"]) == [1.25] * 400  # intact
    # Each later experiment was saved whole or not at all (or its history, on its own write).
    assert all(len(r.history["val_cost"]) in (0, 400) for r in records.values())
    # Save As onto a file that is there already: the copy does not fit, the old one stays.
    (tiny_disk / "filler").unlink()
    other = tiny_disk / "other.dnnsession"
    with SessionStore.create(other) as store:
        store.put_experiment(_record(9, epochs=3), history=True)
    other_before = _digest(other)
    _fill(tiny_disk, keep=2048)
    with SessionStore.open(path) as store, pytest.raises(SessionError, match="full"):
        store.save_as(other)
    assert _digest(other) == other_before
    assert not [n for n in os.listdir(tiny_disk) if n.endswith((".tmp", "-journal"))]


def test_a_read_only_disk_fails_writes_with_a_message_and_keeps_the_file(
        tiny_disk: Path) -> None:
    path = tiny_disk / "s.dnnsession"
    with SessionStore.create(path) as store:
        store.put_experiment(_record(1), history=True)
    before = _digest(path)
    remount = subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)],
                             capture_output=True, check=False)
    if remount.returncode != 0:
        pytest.skip("cannot remount the tmpfs read-only")
    errors: list[str] = []
    writer = SessionWriter(path, create=False, on_error=errors.append)
    try:
        writer.put_experiment(_record(2))
        writer.delete_experiment(1)
        assert writer.flush(10)
    finally:
        writer.close()
    assert len(errors) == 2
    assert all("readonly" in e or "read-only" in e for e in errors), errors
    with pytest.raises(SessionError, match=f"cannot create {tiny_disk / 'new.dnnsession'}"):
        SessionStore.create(tiny_disk / "new.dnnsession")
    with SessionStore.open(path, read_only=True) as store, pytest.raises(SessionError):
        store.save_as(tiny_disk / "copy.dnnsession")
    assert _digest(path) == before
    assert _ids(path) == [1]
