"""The desktop app's promises, measured: responsiveness, parallel speed and start-up.

1. Responsiveness. The real :class:`~dnnstudio.gui.main_window.MainWindow` (offscreen Qt
   unless a display is set) trains two experiments at once in worker processes, every curve
   updating; a 5 ms precise QTimer in the GUI thread measures how late each tick fires
   (lateness = actual interval - 5 ms). Reported: the 99th percentile and the maximum over
   the whole run (from queuing the two experiments to both finished) and over the steady
   part (both training). Floors, in the same window before training: idle, and with both
   cores kept busy by two other processes (at normal priority, at nice 10, and in the idle
   scheduling class as the workers are: what the workers' CPU use alone does to the GUI
   thread; a run whose idle-class floor is late at p99 is named as noisy). Also:
   how many progress messages arrived and frames were drawn, what handling them cost the
   GUI thread, its garbage collections, and how far behind the workers the window was at
   the end.
   Goals: p99 <= 2 ms, max <= 20 ms, judged on the ticks of all ``--runs`` runs of a
   workload together (one run's p99 moves by a millisecond from run to run on a shared
   machine; each run is printed too). Two workloads: ``planar`` (hidden (4,) tanh, full
   batch: hundreds of thousands of tiny epochs, the heaviest stream of progress) and
   ``digits`` (hidden (64, 64) relu, mini-batch 64, Adam: a few thousand slow epochs).
2. Parallel speed. The same two digits experiments (hidden (64, 64), mini-batch 64, Adam)
   through WorkerPool + ExperimentQueue, headless: one after another on a 1-worker pool, then
   at once on a 2-worker pool, in ABBA order. Worker start-up is excluded from both: each
   worker first trains a 1-epoch warm-up job (spawn, NumPy import, dataset load) before the
   clock starts. Goal: sequential / parallel wall time >= 1.8x.
3. Start-up. ``python -m dnnstudio``'s own code path (``runpy`` of ``dnnstudio.__main__``:
   CLI, lazy import of the GUI, ``app.run``) in a fresh process with a temporary HOME and
   XDG directories; only ``QWidget.show`` and ``QApplication.exec`` are wrapped, to stamp
   the first paint of the main window and the first turn of the event loop after ``show()``
   (the later of the two is "shown") and then quit. Time
   from launching the process (CLOCK_MONOTONIC, shared by all processes) to the window
   shown; also ``import dnnstudio.gui.app`` alone and the heaviest imports. It checks that no
   worker process exists when the window appears. Goal: <= 1.5 s (median of the runs).

    python benchmarks/bench_gui.py                        # everything, about 4 minutes
    python benchmarks/bench_gui.py --only startup --json
    python benchmarks/bench_gui.py --only responsiveness --scenario planar --profile

Every part runs in its own child process, in its own process group, with a time limit; on
any error or time-out the group (the child and its workers) is killed, and a child that
leaves a process behind is an error. The machine is shared: for every timed run the CPU time
that other processes used meanwhile is read from /proc and printed, and a run during which
they kept more than a quarter of a core busy is flagged as not a fair measurement.
``--profile`` runs cProfile (GUI-thread CPU time) during training and prints the heaviest
functions: it slows the GUI down, so it is a diagnosis, not a figure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TICK_MS = 5
GOALS = {"p99_ms": 2.0, "max_ms": 20.0, "speedup": 1.8, "startup_s": 1.5}


@dataclass(frozen=True)
class Scenario:
    """Two experiments trained at once in the window."""

    name: str
    dataset: str
    hidden: tuple[int, ...]
    activation: str
    optimizer: str
    alpha: float
    epochs: int
    batch_size: int | None

    def hyperparameters(self, seed: int, epochs: int | None = None) -> dict[str, Any]:
        return {"alpha": self.alpha, "epochs": epochs or self.epochs, "hidden": self.hidden,
                "activation": self.activation, "optimizer": self.optimizer,
                "batch_size": self.batch_size, "seed": seed}

    def describe(self) -> str:
        batch = "full batch" if self.batch_size is None else f"batch {self.batch_size}"
        return (f"{self.dataset}, hidden {list(self.hidden)} {self.activation}, {batch}, "
                f"{self.optimizer} alpha={self.alpha:g}, {self.epochs:,} epochs")


SCENARIOS = {
    # About 25 us an epoch in a worker alone: 300,000 epochs, ~7 s alone, ~15 s in the app.
    "planar": Scenario("planar", "planar", (4,), "tanh", "gd", 1.2, 300_000, None),
    # About 1.7 ms an epoch alone: 8,000 epochs, ~13 s alone, ~18 s in the app.
    "digits": Scenario("digits", "digits", (64, 64), "relu", "adam", 0.001, 8_000, 64),
}
PARALLEL = Scenario("parallel", "digits", (64, 64), "relu", "adam", 0.001, 3_000, 64)


# -- small helpers (parent and children) ----------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def lateness_stats(lateness_s: Sequence[float], at_s: Sequence[float]) -> dict[str, float]:
    """Lateness figures of ticks that came ``at_s`` seconds into the window, ``lateness_s``
    late."""
    ms = [1000 * v for v in lateness_s]
    worst = max(range(len(ms)), key=ms.__getitem__, default=None)
    return {
        "ticks": len(ms),
        "p50_ms": percentile(ms, 50),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms, default=float("nan")),
        "max_at_s": float("nan") if worst is None else at_s[worst],
        "late_over_5ms": sum(v > 5 for v in ms),
        "late_over_20ms": sum(v > 20 for v in ms),
    }


def timing_stats(seconds: Sequence[float]) -> dict[str, float]:
    ms = [1000 * v for v in seconds]
    return {"count": len(ms), "total_s": sum(seconds), "p50_ms": percentile(ms, 50),
            "p99_ms": percentile(ms, 99), "max_ms": max(ms, default=float("nan"))}


def child_environment(home: Path) -> dict[str, str]:
    """The environment with HOME and the XDG directories inside ``home`` (no user settings
    are read or written) and offscreen Qt unless a display is set."""
    env = dict(os.environ)
    dirs = {"HOME": home, "XDG_CONFIG_HOME": home / "config", "XDG_DATA_HOME": home / "data",
            "XDG_CACHE_HOME": home / "cache", "XDG_STATE_HOME": home / "state",
            "XDG_RUNTIME_DIR": home / "runtime"}
    for name, path in dirs.items():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        env[name] = str(path)
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        env["QT_QPA_PLATFORM"] = "offscreen"
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(HERE.parent), env.get("PYTHONPATH", "")) if p)
    return env


def run_child(cmd: list[str], env: dict[str, str], timeout: float) -> tuple[str, str]:
    """Run ``cmd`` in a new process group; kill the whole group (its worker processes too) on
    a time-out or an error. Returns (stdout, stderr)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        _kill_group(proc)
        raise
    finally:
        if proc.poll() is None:
            _kill_group(proc)
    # A clean child leaves nothing behind in its group; anything left is killed and reported.
    # multiprocessing's resource tracker ends on its own just after the child: allow 3 s.
    deadline = time.monotonic() + 3
    while (leftovers := _group_members(proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    if leftovers:
        _kill_group(proc)
        raise SystemExit(f"benchmark child left processes running: {leftovers}")
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child failed ({proc.returncode}): {' '.join(cmd)}\n{err}")
    return out, err


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _group_members(pgid: int) -> list[int]:
    """Live processes of process group ``pgid`` (Linux /proc; [] elsewhere)."""
    members = []
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = entry.read_text()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2:].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.parent.name))
    return members


def cpu_seconds(pids: Sequence[int]) -> tuple[float, float]:
    """(CPU seconds all processes of the machine have used, CPU seconds of ``pids`` and this
    process), from /proc (Linux); the difference of two readings is what other processes
    used meanwhile. Processes that have gone count as 0."""
    tick = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
    busy = (sum(fields[:8]) - fields[3] - fields[4]) / tick
    ours = sum(os.times()[:2])
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                text = f.read()
        except OSError:
            continue
        stat = text[text.rfind(")") + 2:].split()
        ours += (int(stat[11]) + int(stat[12])) / tick
    return busy, ours


def other_cores(before: tuple[float, float], after: tuple[float, float],
                seconds: float) -> float:
    """Cores that processes other than ours kept busy on average between two readings."""
    return ((after[0] - before[0]) - (after[1] - before[1])) / seconds


def last_json(stdout: str) -> dict[str, Any]:
    return dict(json.loads(stdout.strip().splitlines()[-1]))


# -- 1. responsiveness (child process) ------------------------------------------------------
def responsiveness_child(scenario: Scenario, *, idle_s: float, timeout_s: float,
                         profile: bool) -> dict[str, Any]:
    import gc
    import multiprocessing

    from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop, QObject, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from dnnstudio.core.data.spec import DatasetSpec
    from dnnstudio.core.hyperparams import Hyperparameters
    from dnnstudio.gui.app import create_window
    from dnnstudio.runs.messages import Finished, Progress, Snapshot, Started

    QCoreApplication.setOrganizationName("DNN Studio")
    QCoreApplication.setApplicationName("DNN Studio")
    app = QApplication.instance() or QApplication([sys.argv[0]])

    # Every 5 ms tick, and the frames the plot panel drew, sampled at each tick.
    ticks: list[float] = []
    frame_costs: list[float] = []
    window: Any = None

    def on_tick() -> None:
        ticks.append(time.perf_counter())
        plots = window.plots if window is not None else None
        if plots is not None and plots.frames_drawn != state["frames_seen"]:
            state["frames_seen"] = plots.frames_drawn
            frame_costs.append(plots.last_frame_s)

    state: dict[str, Any] = {"frames_seen": 0}
    ticker = QTimer()
    ticker.setTimerType(Qt.TimerType.PreciseTimer)
    ticker.setInterval(TICK_MS)
    ticker.timeout.connect(on_tick)

    def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
        """Run the event loop until ``predicate()`` (checked every 20 ms)."""
        deadline = time.perf_counter() + timeout
        loop = QEventLoop()
        poll = QTimer()
        poll.setInterval(20)
        poll.timeout.connect(
            lambda: loop.quit() if predicate() or time.perf_counter() > deadline else None)
        poll.start()
        if not predicate():
            loop.exec()
        poll.stop()
        if not predicate():
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")

    class PaintCounter(QObject):
        count = 0

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
            if event.type() == QEvent.Type.Paint:
                self.count += 1
            return False

    # Time the GUI process's garbage collections (any thread: they hold the GIL).
    gc_pauses: list[tuple[int, float]] = []
    gc_started: list[float] = [0.0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            gc_pauses.append((int(info["generation"]), time.perf_counter() - gc_started[0]))

    profiler: Any = None
    result: dict[str, Any] = {"scenario": scenario.name, "workload": scenario.describe()}
    try:
        window = create_window()
        controller = window.controller
        window.show()
        spec = DatasetSpec(name=scenario.dataset)
        if spec != controller.dataset:
            window.dataset_panel.set_spec(spec)
        wait_until(lambda: controller.dataset == spec and window.dataset_panel.splits()
                   is not None and not window.dataset_panel.is_loading(), 30, "the dataset")
        painter = PaintCounter()
        for view in (window.plots.cost_view, window.plots.metric_view):
            view.viewport().installEventFilter(painter)

        # Floors: the same timer in the same window with nothing training; then with both
        # cores kept busy by two other processes (what the workers do to the GUI thread's
        # scheduling, without any message or drawing), at normal priority and niced.
        ticker.start()

        def floor(seconds: float, nice: int | str | None) -> dict[str, float]:
            # "idle": in the idle scheduling class, as the workers are.
            spin = ("import os\nos.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))\n"
                    if nice == "idle" else "") + "while True: pass"
            hogs = [] if nice is None else [
                subprocess.Popen([sys.executable, "-c", spin]) for _ in range(2)]
            try:
                for hog in hogs:
                    if isinstance(nice, int):
                        os.setpriority(os.PRIO_PROCESS, hog.pid, nice)
                t0 = time.perf_counter()
                if hogs:  # let them start
                    wait_until(lambda: time.perf_counter() - t0 >= 0.3, 5, "busy processes")
                t1 = time.perf_counter()
                wait_until(lambda: time.perf_counter() - t1 >= seconds, seconds + 5, "ticks")
                return _lateness(ticks, t1, time.perf_counter())
            finally:
                for hog in hogs:
                    hog.kill()
                    hog.wait()

        idle = floor(idle_s, None)
        busy = floor(idle_s, 0)
        busy_niced = floor(idle_s, 10)
        busy_idle = floor(idle_s, "idle")

        # Count and time everything the GUI thread does with the workers' messages: the
        # queue's handle() runs every listener (records, session writer, tables, plots).
        counts = {"batches": 0, "progress": 0, "epochs": 0, "snapshots": 0}
        handle_s: list[float] = []
        marks: dict[str, list[float]] = {"started": [], "finished": []}
        queue = controller.queue
        original_handle = queue.handle

        def timed_handle(messages: list[Any]) -> None:
            t0 = time.perf_counter()
            original_handle(messages)
            handle_s.append(time.perf_counter() - t0)
            counts["batches"] += 1
            for m in messages:
                if isinstance(m, Progress):
                    counts["progress"] += 1
                    counts["epochs"] += len(m.records)
                elif isinstance(m, Snapshot):
                    counts["snapshots"] += 1
                elif isinstance(m, Started):
                    marks["started"].append(t0)
                elif isinstance(m, Finished):
                    marks["finished"].append(t0)

        setattr(queue, "handle", timed_handle)  # noqa: B010 - an instance attribute on purpose
        gc.callbacks.append(on_gc)
        frames0 = window.plots.frames_drawn
        state["frames_seen"] = frames0
        frame_costs.clear()
        paints0 = painter.count
        if profile:
            import cProfile

            profiler = cProfile.Profile(time.thread_time)  # CPU time of the GUI thread
            profiler.enable()
        cpu0, thread0 = time.process_time(), time.thread_time()
        machine0 = cpu_seconds([])
        t_add = time.perf_counter()
        ids = [controller.add_experiment(
            Hyperparameters(**scenario.hyperparameters(seed))).id for seed in (0, 1)]
        t_queued = time.perf_counter()
        worker_pids = controller.pool.worker_pids()
        wait_until(lambda: all(controller.queue.records[i].state.is_finished() for i in ids),
                   timeout_s, "both experiments to finish")
        t_done, unix_done = time.perf_counter(), time.time()
        # A few more ticks, so that the handling of the last message is covered.
        settle = len(ticks) + 20
        wait_until(lambda: len(ticks) >= settle, 5, "settling ticks")
        cpu1, thread1, t_end = time.process_time(), time.thread_time(), time.perf_counter()
        # The workers started after machine0: all their CPU time counts as ours.
        machine1 = cpu_seconds(worker_pids)
        if profiler is not None:
            profiler.disable()
        gc.callbacks.remove(on_gc)
        ticker.stop()

        wall = t_done - t_add
        steady_from = max(marks["started"]) if len(marks["started"]) == 2 else t_add
        steady_to = min(marks["finished"]) if marks["finished"] else t_done
        records = [controller.queue.records[i] for i in ids]
        frames = window.plots.frames_drawn - frames0
        result.update({
            "idle": idle,
            "busy_cores": busy,
            "busy_cores_niced": busy_niced,
            "busy_cores_idle_class": busy_idle,
            "whole": {"seconds": wall, **_lateness(ticks, t_add, t_done + 0.1)},
            "whole_lateness_ms": [1000 * (b - a) - TICK_MS for a, b in zip(
                ticks[:-1], ticks[1:], strict=False) if t_add <= b <= t_done + 0.1],
            "steady": {"seconds": steady_to - steady_from,
                       **_lateness(ticks, steady_from, steady_to)},
            "queue_two_s": t_queued - t_add,
            "messages": {**counts, "per_s": counts["progress"] / wall},
            "frames": {"drawn": frames, "per_s": frames / wall,
                       "plot_paints": painter.count - paints0,
                       "set_data": timing_stats(frame_costs)},
            "handle": timing_stats(handle_s),
            "other_cores": other_cores(machine0, machine1, t_end - t_add),
            "gui_thread_cpu_share": (thread1 - thread0) / (t_end - t_add),
            "process_cpu_share": (cpu1 - cpu0) / (t_end - t_add),
            # How long after the last worker finished the window learnt of it.
            "gui_lag_s": unix_done - max((r.started_at or math.nan) + r.train_time_s
                                         for r in records),
            "gc": {"collections": len(gc_pauses),
                   "gen2": sum(g == 2 for g, _ in gc_pauses),
                   "max_ms": 1000 * max((p for _, p in gc_pauses), default=0.0),
                   "total_s": sum(p for _, p in gc_pauses)},
            "experiments": [{"id": r.id, "state": r.state.value, "epochs": r.epochs_run,
                             "train_time_s": r.train_time_s, "val_metric": r.val_metric}
                            for r in records],
        })
    finally:
        ticker.stop()
        if window is not None:
            window.controller.shutdown()
            window.dataset_panel.shutdown()
            window.hide()
        alive = multiprocessing.active_children()
        result["leftover_workers"] = len(alive)
        for child in alive:
            child.kill()
            child.join(5)
    if profiler is not None:
        import pstats

        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(40)
    del app
    return result


def _lateness(ticks: Sequence[float], start: float, end: float) -> dict[str, float]:
    interval = TICK_MS / 1000
    pairs = [(b - a - interval, b - start) for a, b in zip(ticks[:-1], ticks[1:], strict=False)
             if start <= b <= end]
    return lateness_stats([p[0] for p in pairs], [p[1] for p in pairs])


# -- 2. parallel speed (child process, no Qt) -----------------------------------------------
def parallel_child(scenario: Scenario, rounds: int) -> dict[str, Any]:
    from dnnstudio.core.data.spec import DatasetSpec
    from dnnstudio.core.hyperparams import Hyperparameters
    from dnnstudio.runs.pool import WorkerPool
    from dnnstudio.runs.queue import ExperimentQueue

    spec = DatasetSpec(name=scenario.dataset)

    def run(workers: int) -> dict[str, Any]:
        pool = WorkerPool(workers)
        try:
            queue = ExperimentQueue(pool, spec, max_parallel=workers)
            # Warm-up, not timed: every worker starts, imports NumPy and loads the dataset.
            warm = [queue.add(Hyperparameters(**scenario.hyperparameters(100 + i, epochs=1)))
                    for i in range(workers)]
            queue.run_until_idle(timeout=60)
            if len(pool.worker_pids()) != workers or not all(
                    queue.records[r.id].state.value == "completed" for r in warm):
                raise RuntimeError(f"warm-up failed: {pool.worker_pids()}")
            workers_pids = pool.worker_pids()
            cpu0, t0 = cpu_seconds(workers_pids), time.perf_counter()
            ids = [queue.add(Hyperparameters(**scenario.hyperparameters(seed))).id
                   for seed in (0, 1)]
            queue.run_until_idle(timeout=300)
            wall = time.perf_counter() - t0
            others = other_cores(cpu0, cpu_seconds(workers_pids), wall)
            records = [queue.records[i] for i in ids]
            bad = [r for r in records if r.state.value != "completed"]
            if bad:
                raise RuntimeError(f"experiments did not complete: {bad}")
            return {"workers": workers, "wall_s": wall, "other_cores": others,
                    "train_time_s": [r.train_time_s for r in records],
                    "val_metric": [r.val_metric for r in records]}
        finally:
            pool.shutdown()

    order = [1, 2, 2, 1] * ((rounds + 1) // 2)
    runs = [run(w) for w in order[: 2 * rounds]]
    seq = [r for r in runs if r["workers"] == 1]
    par = [r for r in runs if r["workers"] == 2]
    seq_wall = statistics.median(r["wall_s"] for r in seq)
    par_wall = statistics.median(r["wall_s"] for r in par)
    seq_train = statistics.median(sum(r["train_time_s"]) for r in seq)
    par_train = statistics.median(max(r["train_time_s"]) for r in par)
    return {"workload": scenario.describe(), "runs": runs, "sequential_wall_s": seq_wall,
            "other_cores_max": max(r["other_cores"] for r in runs),
            "parallel_wall_s": par_wall, "speedup": seq_wall / par_wall,
            "speedup_of_training_alone": seq_train / par_train,
            "slowdown_per_run_in_parallel": statistics.median(
                max(r["train_time_s"]) for r in par) / statistics.median(
                max(r["train_time_s"]) for r in seq)}


# -- 3. start-up (fresh processes) ----------------------------------------------------------
# Runs `python -m dnnstudio`'s code path; QApplication.exec is wrapped to stamp the window's
# first paint and the first turn of the event loop after show(), then to quit. Kept tiny and
# free of imports the app would not make, so that it measures the app, not the driver.
STARTUP_DRIVER = r"""
import time
T0 = time.perf_counter()
import json, multiprocessing, os, runpy, sys
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow, QWidget
out = {"driver_start": T0}

def children():
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    text = f.read()
            except OSError:
                continue
            if int(text[text.rfind(")") + 2:].split()[1]) == os.getpid():
                pids.append(int(entry))
    return pids

class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if (event.type() == QEvent.Type.Paint and "first_paint" not in out
                and isinstance(obj, QWidget) and isinstance(obj.window(), QMainWindow)):
            out["first_paint"] = time.perf_counter()
        return False

def shown():
    out.setdefault("loop_turn", time.perf_counter())
    if "first_paint" not in out and time.perf_counter() - out["loop_turn"] < 2.0:
        QTimer.singleShot(1, shown)
        return
    wins = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMainWindow)]
    out["windows_visible"] = sum(w.isVisible() for w in wins)
    out["pool_workers"] = sum(len(w.controller.pool.worker_pids()) for w in wins)
    out["mp_children"] = len(multiprocessing.active_children())
    out["child_processes"] = children()
    QApplication.quit()

original_exec, original_show = QApplication.exec, QWidget.show
first_paint = FirstPaint()

def exec_(*_self):  # a static method in PySide6, called on the instance by app.run
    out["exec"] = time.perf_counter()
    QTimer.singleShot(0, shown)
    return original_exec()

def show(self):
    if isinstance(self, QMainWindow) and "show" not in out:
        QApplication.instance().installEventFilter(first_paint)
        out["show"] = time.perf_counter()
    original_show(self)

QApplication.exec, QWidget.show = exec_, show
sys.argv = ["dnnstudio"]
try:
    runpy.run_module("dnnstudio", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    out["exit_code"] = exc.code
finally:
    for w in QApplication.topLevelWidgets():
        if isinstance(w, QMainWindow) and hasattr(w, "controller"):
            w.controller.shutdown()
            w.dataset_panel.shutdown()
    out["mp_children_after"] = len(multiprocessing.active_children())
print(json.dumps(out))
"""

IMPORT_DRIVER = (
    "import time; t = time.perf_counter(); import dnnstudio.gui.app; "
    "print(time.perf_counter() - t)"
)


def startup(runs: int, env: dict[str, str]) -> dict[str, Any]:
    cmd = [sys.executable, "-c", STARTUP_DRIVER]
    samples = []
    for i in range(runs + 1):  # the first run warms the disk cache and is reported apart
        launched = time.perf_counter()
        out, _ = run_child(cmd, env, timeout=60)
        stamps = last_json(out)
        if stamps.get("windows_visible") != 1:
            raise SystemExit(f"start-up run saw no main window: {stamps}")
        shown = max(stamps["first_paint"], stamps["loop_turn"]) if "first_paint" in stamps \
            else stamps["loop_turn"]
        samples.append({
            "warm_up": i == 0,
            "total_s": shown - launched,
            "interpreter_s": stamps["driver_start"] - launched,
            "to_show_s": stamps["show"] - launched,
            "show_to_paint_s": shown - stamps["show"],
            "painted": "first_paint" in stamps,
            "workers_at_show": stamps["pool_workers"] + stamps["mp_children"]
            + len(stamps["child_processes"]),
            "workers_after": stamps["mp_children_after"],
        })
    imports = []
    for _ in range(runs):
        out, _ = run_child([sys.executable, "-c", IMPORT_DRIVER], env, timeout=60)
        imports.append(float(out.strip().splitlines()[-1]))
    _, err = run_child([sys.executable, "-X", "importtime", "-c", "import dnnstudio.gui.app"],
                       env, timeout=60)
    timed = [s for s in samples if not s["warm_up"]]
    return {
        "runs": samples,
        "median_s": statistics.median(s["total_s"] for s in timed),
        "median_to_show_s": statistics.median(s["to_show_s"] for s in timed),
        "median_show_to_paint_s": statistics.median(s["show_to_paint_s"] for s in timed),
        "median_interpreter_s": statistics.median(s["interpreter_s"] for s in timed),
        "import_gui_app_median_s": statistics.median(imports),
        "heaviest_imports": _heaviest_imports(err),
        "workers_at_show": max(s["workers_at_show"] for s in samples),
    }


def _heaviest_imports(importtime: str, top: int = 8) -> list[tuple[str, float]]:
    """Self import time (s) summed by package (dnnstudio by module), heaviest first."""
    totals: dict[str, float] = {}
    for line in importtime.splitlines():
        if not line.startswith("import time:") or "|" not in line or "self" in line:
            continue
        self_us, _cumulative, name = (part.strip() for part in line[12:].split("|"))
        parts = name.split(".")
        key = ".".join(parts[:3]) if parts[0] == "dnnstudio" else (
            ".".join(parts[:2]) if parts[0] == "PySide6" else parts[0])
        totals[key] = totals.get(key, 0.0) + int(self_us) / 1e6
    return sorted(totals.items(), key=lambda kv: -kv[1])[:top]


# -- the parent ---------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=("responsiveness", "parallel", "startup"),
                        help="parts to run (default: all)")
    parser.add_argument("--scenario", nargs="*", choices=sorted(SCENARIOS),
                        default=["planar", "digits"], help="responsiveness workloads")
    parser.add_argument("--runs", type=int, default=3,
                        help="responsiveness runs per workload (interleaved); the verdict is "
                             "on all their ticks together")
    parser.add_argument("--rounds", type=int, default=2,
                        help="parallel-speed rounds (each: one sequential, one parallel run)")
    parser.add_argument("--startup-runs", type=int, default=5)
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the GUI thread during training (responsiveness only)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args(argv)
    parts = args.only or ["responsiveness", "parallel", "startup"]
    me = str(Path(__file__).resolve())
    figures: dict[str, Any] = {"load_average": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="bench-gui-") as tmp:
        env = child_environment(Path(tmp))
        if "responsiveness" in parts:
            figures["responsiveness"] = []
            for _ in range(max(1, args.runs)):
                for name in args.scenario:
                    cmd = [sys.executable, me, "_responsiveness", name]
                    if args.profile:
                        cmd.append("--profile")
                    out, err = run_child(cmd, env, timeout=180)
                    if args.profile:
                        print(err, file=sys.stderr)
                    row = last_json(out)
                    figures["responsiveness"].append(row)
                    _print_responsiveness(row)
            figures["responsiveness_pooled"] = {
                name: _pooled([r for r in figures["responsiveness"] if r["scenario"] == name])
                for name in args.scenario}
            for name, pooled in figures["responsiveness_pooled"].items():
                _print_pooled(name, pooled)
        if "parallel" in parts:
            out, _ = run_child([sys.executable, me, "_parallel", str(args.rounds)], env,
                               timeout=240)
            figures["parallel"] = last_json(out)
            _print_parallel(figures["parallel"])
        if "startup" in parts:
            figures["startup"] = startup(args.startup_runs, env)
            _print_startup(figures["startup"])
    figures["load_average_after"] = os.getloadavg()
    before, after = (" ".join(f"{v:.2f}" for v in figures[k])
                     for k in ("load_average", "load_average_after"))
    print(f"Load average (1, 5, 15 min): {before} before, {after} after, on "
          f"{os.cpu_count()} CPUs (the machine is shared)")
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0


def _verdict(ok: bool) -> str:
    return "meets the goal" if ok else "MISSES the goal"


def _noisy(cores: float) -> str:
    return ": NOT a fair measurement" if cores > 0.25 else ""


def _print_responsiveness(r: dict[str, Any]) -> None:
    print(f"Responsiveness, {r['scenario']}: two experiments of {r['workload']}")
    for key, title in (("idle", "idle window"), ("busy_cores", "2 busy procs"),
                       ("busy_cores_niced", "same, nice 10"),
                       ("busy_cores_idle_class", "same, idle class"), ("whole", "whole run"),
                       ("steady", "both training")):
        s = r[key]
        seconds = f" over {s['seconds']:.1f} s" if "seconds" in s else ""
        print(f"  {title:<14} tick lateness p50 {s['p50_ms']:6.2f} ms  p99 {s['p99_ms']:6.2f}"
              f" ms  max {s['max_ms']:6.1f} ms at +{s['max_at_s']:.2f} s  ({s['ticks']} "
              f"ticks{seconds}, "
              f"{s['late_over_5ms']} late > 5 ms, {s['late_over_20ms']} > 20 ms)")
    w = r["whole"]
    ok = w["p99_ms"] <= GOALS["p99_ms"] and w["max_ms"] <= GOALS["max_ms"]
    print(f"  goal p99 <= {GOALS['p99_ms']:g} ms, max <= {GOALS['max_ms']:g} ms over the whole "
          f"run: {_verdict(ok)}")
    m, f, h = r["messages"], r["frames"], r["handle"]
    print(f"  {m['progress']} progress messages ({m['per_s']:.1f}/s, {m['epochs']:,} epochs) "
          f"in {m['batches']} batches, {m['snapshots']} parameter snapshots; "
          f"{f['drawn']} frames drawn ({f['per_s']:.1f}/s), {f['plot_paints']} plot paints")
    print(f"  GUI thread: handling a batch p50 {h['p50_ms']:.2f} ms, max {h['max_ms']:.1f} ms "
          f"({h['total_s']:.2f} s in all); curve updates per frame p50 "
          f"{f['set_data']['p50_ms']:.2f} ms, max {f['set_data']['max_ms']:.1f} ms; "
          f"GUI thread busy {100 * r['gui_thread_cpu_share']:.0f}% of the run, its other "
          f"threads {100 * (r['process_cpu_share'] - r['gui_thread_cpu_share']):.0f}%")
    g = r["gc"]
    print(f"  garbage collections {g['collections']} ({g['gen2']} full), longest "
          f"{g['max_ms']:.1f} ms; queuing the two (their curves, their workers) took "
          f"{1000 * r['queue_two_s']:.0f} ms; the window learnt that training had ended "
          f"{r['gui_lag_s']:.2f} s after it did")
    runs = ", ".join(f"#{e['id']} {e['state']} {e['epochs']:,} epochs in "
                     f"{e['train_time_s']:.1f} s" for e in r["experiments"])
    print(f"  {runs}; worker processes left: {r['leftover_workers']}; other processes kept "
          f"{r['other_cores']:.2f} cores busy meanwhile{_noisy(r['other_cores'])}", flush=True)


def _pooled(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Every tick of every run of one workload together: on a shared machine one run's 99th
    percentile moves by a millisecond from run to run, so the verdict is on all of them."""
    ticks = [v for r in runs for v in r["whole_lateness_ms"]]
    # A run whose floor with both cores busy as the workers keep them (two busy loops in the
    # idle class, no app work) is itself late at p99 measured a noisy moment of the machine,
    # not the app: named, and the others pooled on their own too. (The floor at normal
    # priority shares each core with the window's thread by design: at p99 it is often
    # above 2 ms on a quiet machine.) The verdict stays on every run.
    noisy = [i + 1 for i, r in enumerate(runs)
             if r["busy_cores_idle_class"]["p99_ms"] > GOALS["p99_ms"]]
    quiet = [v for i, r in enumerate(runs) if i + 1 not in noisy
             for v in r["whole_lateness_ms"]]
    return {"runs": len(runs), "ticks": len(ticks), "p99_ms": percentile(ticks, 99),
            "max_ms": max(ticks, default=float("nan")),
            "p99_ms_per_run": [r["whole"]["p99_ms"] for r in runs],
            "max_ms_per_run": [r["whole"]["max_ms"] for r in runs],
            "noisy_runs": noisy, "quiet_p99_ms": percentile(quiet, 99),
            "quiet_max_ms": max(quiet, default=float("nan"))}


def _print_pooled(name: str, p: dict[str, Any]) -> None:
    ok = p["p99_ms"] <= GOALS["p99_ms"] and p["max_ms"] <= GOALS["max_ms"]
    per_run = ", ".join(f"{a:.2f}/{b:.1f}" for a, b in zip(p["p99_ms_per_run"],
                                                          p["max_ms_per_run"], strict=True))
    print(f"Responsiveness, {name}, {p['runs']} runs ({p['ticks']} ticks): p99 "
          f"{p['p99_ms']:.2f} ms, max {p['max_ms']:.1f} ms (per run p99/max: {per_run} ms); "
          f"goal p99 <= {GOALS['p99_ms']:g} ms, max <= {GOALS['max_ms']:g} ms: {_verdict(ok)}",
          flush=True)
    if p["noisy_runs"]:
        others = (f"the other runs alone: p99 {p['quiet_p99_ms']:.2f} ms, max "
                  f"{p['quiet_max_ms']:.1f} ms" if len(p["noisy_runs"]) < p["runs"]
                  else "no other run")
        which = "run" if len(p["noisy_runs"]) == 1 else "runs"
        print(f"  {which} {', '.join(map(str, p['noisy_runs']))} of {name}: the floor with both "
              f"cores busy in the idle class was itself above {GOALS['p99_ms']:g} ms at p99 (a "
              f"noisy machine); "
              f"{others}", flush=True)


def _print_parallel(p: dict[str, Any]) -> None:
    print(f"Parallel speed: two experiments of {p['workload']} (worker start-up excluded)")
    for run in p["runs"]:
        times = ", ".join(f"{t:.2f}" for t in run["train_time_s"])
        print(f"  {run['workers']} worker(s): wall {run['wall_s']:.2f} s (training {times} s;"
              f" other processes kept {run['other_cores']:.2f} cores busy"
              f"{_noisy(run['other_cores'])})")
    print(f"  sequential {p['sequential_wall_s']:.2f} s / parallel {p['parallel_wall_s']:.2f} s"
          f" = {p['speedup']:.2f}x (training alone {p['speedup_of_training_alone']:.2f}x; a run "
          f"beside another takes {p['slowdown_per_run_in_parallel']:.2f}x its time alone); "
          f"goal >= "
          f"{GOALS['speedup']:g}x: {_verdict(p['speedup'] >= GOALS['speedup'])}", flush=True)


def _print_startup(s: dict[str, Any]) -> None:
    timed = [r for r in s["runs"] if not r["warm_up"]]
    print(f"Start-up: python -m dnnstudio to the main window shown, {len(timed)} runs "
          f"(+1 warm-up of {s['runs'][0]['total_s']:.2f} s)")
    print("  runs: " + ", ".join(f"{r['total_s']:.2f}" for r in timed) + " s")
    print(f"  median {s['median_s']:.2f} s = interpreter {s['median_interpreter_s']:.2f} s, "
          f"to show() {s['median_to_show_s']:.2f} s, show() to painted "
          f"{s['median_show_to_paint_s']:.3f} s; goal <= {GOALS['startup_s']:g} s: "
          f"{_verdict(s['median_s'] <= GOALS['startup_s'])}")
    print(f"  import dnnstudio.gui.app alone: {s['import_gui_app_median_s']:.2f} s (median); "
          "heaviest: " + ", ".join(f"{k} {v:.2f} s" for k, v in s["heaviest_imports"]))
    print(f"  worker processes when the window appeared: {s['workers_at_show']}", flush=True)


def _child_main(argv: list[str]) -> int:
    kind = argv[0]
    if kind == "_responsiveness":
        result = responsiveness_child(SCENARIOS[argv[1]], idle_s=2.0, timeout_s=150,
                                      profile="--profile" in argv)
    elif kind == "_parallel":
        result = parallel_child(PARALLEL, int(argv[1]))
    else:
        raise SystemExit(f"unknown child command {kind}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        sys.exit(_child_main(sys.argv[1:]))
    sys.exit(main())
