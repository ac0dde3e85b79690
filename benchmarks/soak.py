"""Soak: many short experiments through the queue with the window open.

Queues ``--experiments`` short runs (planar, a few hundred epochs, alpha and width varied)
in the real main window (offscreen unless a display is set) with two worker processes, and
runs the event loop until every one has finished. It reports whether all finished, the
resident memory of the app process after the first 50 finished and at the end, open file
descriptors and child processes at both points, and the session file's size.

    .venv/bin/python benchmarks/soak.py [--experiments 500] [--epochs 200]

The goal: all finish; memory after the first 50 grows by no more than 10%; no file
descriptors or processes leak.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from dnnstudio.core.data.spec import DatasetSpec  # noqa: E402
from dnnstudio.core.hyperparams import Hyperparameters  # noqa: E402
from dnnstudio.gui.controller import SessionController  # noqa: E402
from dnnstudio.gui.main_window import MainWindow  # noqa: E402
from dnnstudio.runs.records import ExperimentState  # noqa: E402


def rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def children() -> int:
    me = str(os.getpid())
    count = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:
            count += 1
    return count


def snapshot() -> dict[str, float]:
    gc.collect()
    return {"rss_mib": rss_mib(), "fds": open_fds(), "children": children()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args(argv)

    app = QApplication.instance() or QApplication(sys.argv)
    work = Path(tempfile.mkdtemp(prefix="dnnstudio-soak-"))
    controller = SessionController(workers=2, session_dir=work)
    settings = QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(controller, settings)
    controller.new_session(DatasetSpec(name="planar"))
    controller.start()
    window.resize(1400, 900)
    window.show()

    alphas = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
    for i in range(args.experiments):
        hp = Hyperparameters(alpha=alphas[i % len(alphas)], epochs=args.epochs,
                             hidden=(2 + i % 7,), activation="tanh", init="xavier", seed=i)
        controller.add_experiment(hp)

    marks: dict[str, Any] = {}
    started = time.monotonic()

    def check() -> None:
        states = [r.state for r in controller.queue.records.values()]
        done = sum(s.is_finished() for s in states)
        if "first" not in marks and done >= 50:
            marks["first"] = {**snapshot(), "done": done, "t": time.monotonic() - started}
        if "last" in marks:
            return
        if done == len(states) or time.monotonic() - started > args.timeout:
            timer.stop()
            marks["last"] = {**snapshot(), "done": done, "t": time.monotonic() - started}
            marks["states"] = {s.value: states.count(s) for s in set(states)}
            app.quit()

    timer = QTimer()
    timer.timeout.connect(check)
    timer.start(100)
    app.exec()
    controller.flush()
    size = controller.path.stat().st_size if controller.path is not None else 0
    window.close()
    QCoreApplication.processEvents()

    first, last = marks["first"], marks["last"]
    growth = last["rss_mib"] / first["rss_mib"] - 1
    completed = marks["states"].get(ExperimentState.COMPLETED.value, 0)
    print(f"{args.experiments} experiments of {args.epochs} epochs, 2 workers: "
          f"{last['done']} finished ({completed} completed; states {marks['states']}) in "
          f"{last['t']:.1f} s")
    print(f"{'':14}{'finished':>9}{'RSS MiB':>9}{'fds':>6}{'children':>10}")
    for name, mark in (("after 50", first), ("at the end", last)):
        print(f"{name:14}{mark['done']:9d}{mark['rss_mib']:9.1f}{mark['fds']:6d}"
              f"{mark['children']:10d}")
    print(f"memory growth after the first 50: {growth:+.1%} (goal <= +10%); fds "
          f"{last['fds'] - first['fds']:+d}, child processes "
          f"{last['children'] - first['children']:+d}; session file {size / 1e6:.1f} MB")
    ok = (last["done"] == args.experiments and growth <= 0.10
          and last["fds"] <= first["fds"] and last["children"] <= first["children"])
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
