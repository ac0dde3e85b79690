"""Crash safety: kill a headless sweep with SIGKILL at random moments, check the session.

Starts ``python -m dnnstudio sweep SPEC --session FILE`` again and again on the same session
file and kills it (SIGKILL: no cleanup of any kind) after a random delay. A third of the
delays count from the sweep's start, so they land in the interpreter's start, the session's
creation or the workers' start; the rest count from the first trial the session shows running
(read through a read-only connection), so they land in training and in the saving of finished
experiments however slow the machine.
After each kill it checks that:

- every process of the killed sweep (its workers, multiprocessing's resource tracker) exits
  on its own within a few seconds: nothing is left to linger;
- the session opens (SQLite rolls back the write that was cut short);
- every experiment that had finished is intact: its history has ``epochs_run`` epochs in
  every curve, a completed one has its final figures and learned parameters, and one seen
  finished after an earlier kill is unchanged;
- the experiments that were running load as interrupted through the queue
  (``ExperimentQueue.load``), and ``SessionStore.mark_running_interrupted`` marks exactly
  them, with ``epochs_run`` equal to their stored epochs.

    .venv/bin/python benchmarks/kill_loop.py [--kills 300] [--seed 0] [--max-delay 1.5]

It prints one line per kill and a summary: kills, sessions checked, finished experiments
verified, interrupted experiments found, failures. ``tests/unit/test_crash_safety.py`` runs
the same loop with fewer kills.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dnnstudio.core.data.spec import DatasetSpec
from dnnstudio.core.training import HISTORY_FIELDS
from dnnstudio.runs.messages import Job, Message
from dnnstudio.runs.queue import ExperimentQueue
from dnnstudio.runs.records import ExperimentRecord, ExperimentState
from dnnstudio.sessions.store import SessionError, SessionStore

GRID_SPEC = """\
[dataset]
name = "planar"
[fixed]
epochs = 500
hidden = [3]
activation = "tanh"
[search]
strategy = "grid"
seed = 0
[search.space]
alpha = {{ low = 0.01, high = 2.0, steps = {trials} }}
"""

RANDOM_SPEC = """\
[dataset]
name = "moons"
[fixed]
epochs = 40
batch_size = 32
patience = 5
[search]
strategy = "random"
trials = {trials}
seed = 0
[search.space]
alpha = {{ low = 0.001, high = 1.0 }}
units = [2, 4, 8]
"""

SPECS = {"grid": GRID_SPEC, "random": RANDOM_SPEC}
REPOSITORY = Path(__file__).resolve().parent.parent


@dataclass
class Summary:
    kills: int = 0
    """Sweeps that were still running when they were killed."""
    finished_on_their_own: int = 0
    sessions_checked: int = 0
    finished_verified: int = 0
    """Distinct finished experiments checked (each is checked again after every later kill)."""
    interrupted_found: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        return (f"kills {self.kills}, sessions checked {self.sessions_checked}, finished "
                f"experiments verified {self.finished_verified}, interrupted found "
                f"{self.interrupted_found}, sweeps that ended before their kill "
                f"{self.finished_on_their_own}, failures {len(self.failures)}, "
                f"{self.seconds:.1f} s")


class _NoWorkers:
    """An executor for a queue that is only loaded, never run."""

    def idle_count(self) -> int:
        return 0

    def submit(self, job: Job) -> None:
        raise AssertionError("a loaded queue started an experiment")

    def cancel(self, experiment_id: int) -> None:
        pass

    def poll(self, timeout: float) -> list[Message]:
        return []


# -- processes ---------------------------------------------------------------------------------

def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes in process group ``pgid``, from /proc."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stream:
                stat = stream.read()
        except OSError:
            continue  # it ended while we looked
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(entry))
    return members


def wait_group_gone(pgid: int, timeout: float) -> list[int]:
    """Wait until process group ``pgid`` has no live process; return those still alive."""
    deadline = time.monotonic() + timeout
    while True:
        alive = group_members(pgid)
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.02)


# -- checks ------------------------------------------------------------------------------------

def _fingerprint(record: ExperimentRecord) -> str:
    digest = hashlib.sha256()
    digest.update(f"{record.state}|{record.epochs_run}|{record.val_cost!r}|"
                  f"{record.finished_at!r}".encode())
    for name in HISTORY_FIELDS:
        digest.update(np.asarray(record.history[name], dtype=np.float64).tobytes())
    for W, b in record.params or ():
        digest.update(W.tobytes() + b.tobytes())
    return digest.hexdigest()


def _check_finished(record: ExperimentRecord) -> list[str]:
    problems = []
    lengths = {name: len(record.history[name]) for name in HISTORY_FIELDS}
    if set(lengths.values()) != {record.epochs_run}:
        problems.append(f"its history has {lengths} epochs, but epochs_run = "
                        f"{record.epochs_run}")
    if record.finished_at is None:
        problems.append("it has no finishing time")
    if record.state is ExperimentState.COMPLETED:
        if record.epochs_run < 1:
            problems.append("it completed without an epoch")
        for name in ("train_cost", "val_cost", "train_metric", "val_metric", "train_time_s"):
            if not math.isfinite(getattr(record, name)):
                problems.append(f"its {name} is {getattr(record, name)}")
        if record.params is None or len(record.params) != record.hyperparameters.L:
            problems.append("its learned parameters are missing")
    return problems


def check_session(path: Path, seen: dict[int, str], summary: Summary, label: str) -> None:
    """Check the session after a kill; record what was found in ``summary``."""
    if not path.exists():
        return  # killed before the sweep created it
    try:
        with SessionStore.open(path) as store:
            data = store.load()
    except SessionError as exc:
        summary.failures.append(f"{label}: the session does not open: {exc}")
        return
    summary.sessions_checked += 1
    by_id = {r.id: r for r in data.records}
    for experiment_id in seen:
        if experiment_id not in by_id:
            summary.failures.append(f"{label}: finished experiment {experiment_id} is gone")
    for record in data.records:
        if not record.state.is_finished() or record.state is ExperimentState.INTERRUPTED:
            continue
        for problem in _check_finished(record):
            summary.failures.append(f"{label}: finished experiment {record.id} ({record.state})"
                                    f": {problem}")
        fingerprint = _fingerprint(record)
        if record.id not in seen:
            seen[record.id] = fingerprint
            summary.finished_verified += 1
        elif seen[record.id] != fingerprint:
            summary.failures.append(f"{label}: finished experiment {record.id} changed")

    running = {r.id for r in data.records if r.state is ExperimentState.RUNNING}
    queue = ExperimentQueue(_NoWorkers(), data.dataset or DatasetSpec(), max_parallel=1)
    queue.load(data.records, data.order)
    for experiment_id in running:
        if queue.records[experiment_id].state is not ExperimentState.INTERRUPTED:
            summary.failures.append(f"{label}: running experiment {experiment_id} did not "
                                    "load as interrupted")
    if queue.count(ExperimentState.RUNNING):
        summary.failures.append(f"{label}: the loaded queue has running experiments")
    # What the window does when it opens the file: mark them in the file too, so that the next
    # sweep (which loads only finished experiments) sees them and never reuses their ids.
    try:
        with SessionStore.open(path) as store:
            marked = set(store.mark_running_interrupted())
            after = {r.id: r for r in store.load().records}
    except SessionError as exc:
        summary.failures.append(f"{label}: marking interrupted experiments failed: {exc}")
        return
    if marked != running:
        summary.failures.append(f"{label}: marked {sorted(marked)} interrupted, but "
                                f"{sorted(running)} were running")
    for experiment_id in marked:
        record = after[experiment_id]
        stored = {len(record.history[name]) for name in HISTORY_FIELDS}
        if record.state is not ExperimentState.INTERRUPTED or stored != {record.epochs_run}:
            summary.failures.append(f"{label}: interrupted experiment {experiment_id} has "
                                    f"epochs_run {record.epochs_run} and {stored} epochs")
    summary.interrupted_found += len(running)


# -- the loop ----------------------------------------------------------------------------------

def running_count(path: Path) -> int:
    """Experiments stored as running in ``path`` (0 while it cannot be read)."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=0.05)
    except sqlite3.Error:
        return 0
    try:
        row = conn.execute("SELECT count(*) FROM experiments WHERE state = 'running'").fetchone()
        return int(row[0])
    except sqlite3.Error:
        return 0  # not created yet, or busy with a write
    finally:
        conn.close()


def _wait_for_training(process: subprocess.Popen[bytes], path: Path, timeout: float) -> None:
    """Wait until the sweep has an experiment running (each check marks the ones of a killed
    sweep interrupted, so any is this sweep's), the sweep ends, or ``timeout``."""
    deadline = time.monotonic() + timeout
    while (process.poll() is None and not running_count(path)
           and time.monotonic() < deadline):
        time.sleep(0.02)


def run_kills(
    folder: Path,
    kills: int,
    *,
    spec: str = "grid",
    seed: int = 0,
    min_delay: float = 0.05,
    max_delay: float = 1.5,
    early: float = 1 / 3,
    trials: int = 24,
    workers: int = 2,
    per_session: int | None = None,
    on_kill: Callable[[int, Summary], None] | None = None,
) -> Summary:
    """Kill ``kills`` sweeps in ``folder``, ``per_session`` of them on each session file
    (default: all on one); see the module's description.

    A share ``early`` of the sweeps is killed ``min_delay`` to ``max_delay`` seconds after it
    started (the interpreter's start, the session's creation, the workers' start); the others
    that long after the session first shows a running trial (trials running and finishing),
    so kills land there on a slow machine as on a fast one.
    """
    started = time.monotonic()
    rng = random.Random(seed)
    spec_path = folder / f"{spec}.toml"
    spec_path.write_text(SPECS[spec].format(trials=trials), encoding="utf-8")
    session = folder / f"{spec}.dnnsession"
    seen: dict[int, str] = {}
    summary = Summary()
    session_kills = 0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(REPOSITORY), os.environ.get("PYTHONPATH", "")) if p)}
    attempts = 0
    while summary.kills < kills and attempts < 3 * kills + 10:
        attempts += 1
        if per_session is not None and session_kills >= per_session:
            # A fresh file: every check reloads the whole session, so one that grew without
            # end would make each kill slower than the last.
            session, seen, session_kills = folder / f"{spec}-{attempts}.dnnsession", {}, 0
        label = f"{spec} sweep {attempts}"
        after_start = rng.random() < early
        delay = rng.uniform(min_delay, max_delay)
        with tempfile.TemporaryFile() as errors:
            process = subprocess.Popen(
                [sys.executable, "-m", "dnnstudio", "sweep", str(spec_path), "--session",
                 str(session), "--workers", str(workers), "--json"],
                stdout=subprocess.DEVNULL, stderr=errors, env=env, cwd=folder,
                # Its own process group, so that its workers can be found after it died.
                start_new_session=True,
            )
            if not after_start:
                _wait_for_training(process, session, timeout=30.0)
            try:
                code = process.wait(delay)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
                summary.kills += 1
                session_kills += 1
                since = "its start" if after_start else "its first trial started"
                label += f" (killed {delay:.2f} s after {since})"
            else:
                summary.finished_on_their_own += 1
                if code != 0:
                    errors.seek(0)
                    text = errors.read().decode("utf-8", "replace").strip()
                    summary.failures.append(f"{label}: the sweep failed ({code}): {text}")
        lingering = wait_group_gone(process.pid, timeout=10.0)
        if lingering:
            summary.failures.append(f"{label}: processes {lingering} outlived the sweep")
            for pid in lingering:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            wait_group_gone(process.pid, timeout=5.0)
        check_session(session, seen, summary, label)
        if on_kill is not None:
            on_kill(attempts, summary)
    summary.seconds = time.monotonic() - started
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-delay", type=float, default=0.05)
    parser.add_argument("--max-delay", type=float, default=1.2)
    parser.add_argument("--early", type=float, default=1 / 3,
                        help="share of kills timed from the sweep's start rather than from "
                        "its first running trial")
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--per-session", type=int, default=5,
                        help="kills on one session file before starting another")
    parser.add_argument("--spec", choices=sorted(SPECS) + ["both"], default="both")
    args = parser.parse_args(argv)

    def report(attempt: int, summary: Summary) -> None:
        summary.seconds = time.monotonic() - started
        print(f"  {attempt:4d}: {summary.line()}", flush=True)
        for failure in summary.failures[-1:]:
            print(f"        last failure: {failure}", flush=True)

    started = time.monotonic()
    specs = sorted(SPECS) if args.spec == "both" else [args.spec]
    total = Summary()
    with tempfile.TemporaryDirectory(prefix="kill-loop-") as folder:
        for i, spec in enumerate(specs):
            share = args.kills // len(specs) + (1 if i < args.kills % len(specs) else 0)
            print(f"{spec}: {share} kills", flush=True)
            summary = run_kills(Path(folder), share, spec=spec, seed=args.seed + i,
                                min_delay=args.min_delay, max_delay=args.max_delay,
                                early=args.early,
                                trials=args.trials, workers=args.workers,
                                per_session=args.per_session, on_kill=report)
            for name in ("kills", "finished_on_their_own", "sessions_checked",
                         "finished_verified", "interrupted_found", "seconds"):
                setattr(total, name, getattr(total, name) + getattr(summary, name))
            total.failures += summary.failures
    print(f"summary: {total.line()}")
    for failure in total.failures:
        print(f"failure: {failure}")
    return 1 if total.failures else 0


if __name__ == "__main__":
    sys.exit(main())
