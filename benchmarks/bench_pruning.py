"""What pruning saves: the same search with and without the median rule.

Runs one random search (the same seed, so the same trials) twice per round, with pruning on
and off, alternating which goes first, through the real worker processes (``run_sweep``, as
``dnnstudio sweep`` does), and prints for each: wall time, epochs trained, trials pruned, and
the best validation accuracy found. Pruning pays when trials are long enough that progress
reaches the parent while they run; the workload is chosen so (digits, mini-batches, a wide
range of learning rates, most of which learn too slowly).

    .venv/bin/python benchmarks/bench_pruning.py [--rounds 3] [--trials 24] [--epochs 1000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

from dnnstudio.core.data.spec import DatasetSpec
from dnnstudio.search.spec import SearchSpec
from dnnstudio.search.strategies import TrialState
from dnnstudio.search.sweep import run_sweep


def _spec(prune: bool, trials: int, epochs: int) -> SearchSpec:
    return SearchSpec.from_dict({
        "fixed": {"epochs": epochs, "batch_size": 64, "activation": "relu", "layers": 1},
        "search": {
            "strategy": "random", "trials": trials, "seed": 0, "prune": prune,
            "pruning": {"warmup_trials": 4, "warmup_fraction": 0.1},
            "space": {"alpha": {"low": 1e-5, "high": 0.3, "log": True},
                      "units": {"low": 4, "high": 64, "log": True}},
        },
    })


def _once(prune: bool, trials: int, epochs: int, workers: int) -> dict[str, Any]:
    spec = _spec(prune, trials, epochs)
    started = time.perf_counter()
    outcome = run_sweep(spec, DatasetSpec(name="digits"), workers=workers)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "epochs": sum(r.epochs_run for r in outcome.records),
        "pruned": sum(t.state is TrialState.PRUNED for t in outcome.trials),
        "best": None if outcome.best is None else outcome.best.value,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    runs: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
    for r in range(args.rounds):
        order = (True, False) if r % 2 == 0 else (False, True)
        for prune in order:
            result = _once(prune, args.trials, args.epochs, args.workers)
            runs[prune].append(result)
            print(f"round {r + 1} pruning {'on ' if prune else 'off'}: "
                  f"{result['seconds']:6.1f} s, {result['epochs']:6d} epochs, "
                  f"{result['pruned']:2d} pruned, best val accuracy {result['best']:.4f}",
                  file=sys.stderr)
    on, off = runs[True], runs[False]

    def median(rows: list[dict[str, Any]], key: str) -> float:
        return statistics.median(row[key] for row in rows)

    print(f"random search, {args.trials} trials of up to {args.epochs} epochs on digits, "
          f"{args.workers} workers, {args.rounds} rounds (medians):")
    print(f"{'':12}{'time (s)':>10}{'epochs':>10}{'pruned':>8}{'best val acc':>14}")
    for name, rows in (("no pruning", off), ("pruning", on)):
        print(f"{name:12}{median(rows, 'seconds'):10.1f}{median(rows, 'epochs'):10.0f}"
              f"{median(rows, 'pruned'):8.0f}{median(rows, 'best'):14.4f}")
    print(f"time saved: {1 - median(on, 'seconds') / median(off, 'seconds'):.0%}; epochs "
          f"saved: {1 - median(on, 'epochs') / median(off, 'epochs'):.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
