"""A search run headless, for ``dnnstudio sweep``: the same queue, workers and runner as the
app, driven from a plain loop, with the session saved as it goes."""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.data.spec import DatasetSpec
from ..runs.pool import WorkerPool
from ..runs.queue import ExperimentQueue
from ..runs.records import ExperimentRecord, ExperimentState
from ..sessions.recorder import QueueRecorder
from ..sessions.store import SessionStore, StoredSearch
from ..sessions.writer import SessionWriter
from .runner import SearchRunner, next_search_name, objective_value
from .spec import SearchSpec
from .strategies import TrialResult, TrialState

__all__ = ["SweepOutcome", "outcome_json", "outcome_lines", "run_sweep"]


@dataclass(frozen=True)
class SweepOutcome:
    """How a headless search went."""

    name: str
    spec: SearchSpec
    dataset: DatasetSpec
    records: list[ExperimentRecord]
    trials: list[TrialResult]
    best: TrialResult | None
    seconds: float
    cancelled: bool
    session: Path | None
    write_errors: list[str]

    def best_record(self) -> ExperimentRecord | None:
        if self.best is None:
            return None
        return next(r for r in self.records if r.id == self.best.experiment_id)


def run_sweep(
    spec: SearchSpec,
    dataset: DatasetSpec,
    *,
    session: Path | None = None,
    workers: int | None = None,
    on_progress: Callable[[SearchRunner], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    poll_interval: float = 0.05,
) -> SweepOutcome:
    """Run ``spec`` on ``dataset`` to the end (or until ``should_stop()``).

    Parameters
    ----------
    session : Path, optional
        An existing session file on the same data (see ``dnnstudio.cli``): the search and its
        experiments are added to it as they happen, so a killed sweep loses at most the last
        second of the trials that were running.
    workers : int, optional
        Worker processes (default: the spec's ``parallel``, else the number of CPUs).
    """
    workers = workers or spec.parallel or os.cpu_count() or 1
    finished: list[ExperimentRecord] = []
    existing_names: list[str] = []
    order: list[int] = []
    if session is not None:
        with SessionStore.open(session) as store:
            data = store.load()
        finished = [r for r in data.records if r.state.is_finished()]
        existing_names = [s.name for s in data.searches] + [r.group for r in data.records]
        order = data.order
    errors: list[str] = []
    writer = None if session is None else SessionWriter(session, create=False,
                                                        on_error=errors.append)
    started = time.monotonic()
    cancelled = False
    try:
        with WorkerPool(workers) as pool:
            queue = ExperimentQueue(pool, dataset, max_parallel=workers)
            # Earlier experiments are loaded so new ids follow theirs; only finished ones, so
            # that a sweep runs nothing but its own trials.
            queue.load(finished, order)
            QueueRecorder(queue, lambda: writer)
            name = next_search_name(existing_names, spec.strategy)
            runner = SearchRunner(queue, spec, name)

            def save(r: SearchRunner) -> None:
                if writer is not None:
                    writer.put_search(StoredSearch(r.name, r.spec.to_dict(), r.state.value,
                                                   r.created_at))

            save(runner)
            runner.subscribe(save)
            while not runner.state.is_over() or queue.count(ExperimentState.RUNNING):
                queue.handle(pool.poll(poll_interval))
                runner.tick()
                if on_progress is not None:
                    on_progress(runner)
                if not cancelled and should_stop is not None and should_stop():
                    cancelled = True
                    runner.cancel()
            records = runner.records()
            trials = runner.trials()
            best = runner.best()
            runner.detach()
    finally:
        if writer is not None:
            writer.close()
    return SweepOutcome(name, spec, dataset, records, trials, best,
                        time.monotonic() - started, cancelled, session, errors)


def _metric_name(outcome: SweepOutcome) -> str:
    if not outcome.spec.maximize:
        return "val cost"
    metrics = {r.metric for r in outcome.records if r.state.is_finished()}
    return "val R²" if metrics == {"r2"} else "val accuracy"


def _value(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.4g}"


def _param(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


def outcome_lines(outcome: SweepOutcome) -> list[str]:
    """A readable summary: every trial, then the best configuration."""
    counts = {state: sum(t.state is state for t in outcome.trials) for state in TrialState}
    lines = [
        f"{outcome.name} on {outcome.dataset.title}: {len(outcome.trials)} trials "
        f"({counts[TrialState.COMPLETE]} completed, {counts[TrialState.PRUNED]} pruned or "
        f"diverged, {counts[TrialState.FAILED]} failed or cancelled) in "
        f"{outcome.seconds:.1f} s" + (" - cancelled" if outcome.cancelled else ""),
    ]
    names = list(outcome.spec.space.names)
    header = ["#", "experiment", "state", _metric_name(outcome), *names]
    by_id = {r.id: r for r in outcome.records}
    rows = []
    for trial in outcome.trials:
        record = by_id[trial.experiment_id]
        rows.append([str(trial.number), str(trial.experiment_id), record.state.value,
                     _value(trial.value), *(_param(trial.params[n]) for n in names)])
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    for row in [header, *rows]:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    best = outcome.best_record()
    if best is None or outcome.best is None:
        lines.append("best: none (no trial completed)")
    else:
        values = ", ".join(f"{n}={_param(v)}" for n, v in outcome.best.params.items())
        lines.append(f"best: trial {outcome.best.number} (experiment {best.id}), "
                     f"{_metric_name(outcome)} {_value(outcome.best.value)}, with {values}")
        lines.append("best hyperparameters: " + json.dumps(best.hyperparameters.to_dict()))
    if outcome.session is not None:
        lines.append(f"session: saved as {outcome.name!r} in {outcome.session}")
    for error in outcome.write_errors[:3]:
        lines.append(f"warning: {error}")
    return lines


def outcome_json(outcome: SweepOutcome) -> dict[str, Any]:
    """The summary as one JSON-able object."""
    by_id = {r.id: r for r in outcome.records}

    def number(value: float | None) -> float | None:
        return None if value is None or not math.isfinite(value) else value

    trials = []
    for trial in outcome.trials:
        record = by_id[trial.experiment_id]
        trials.append({
            "number": trial.number,
            "experiment_id": trial.experiment_id,
            "state": record.state.value,
            "objective": number(trial.value),
            "params": trial.params,
            "val_cost": number(record.val_cost),
            "val_metric": number(record.val_metric),
            "train_time_s": number(record.train_time_s),
            "epochs_run": record.epochs_run,
            "message": record.message,
        })
    best = outcome.best_record()
    return {
        "search": outcome.name,
        "strategy": outcome.spec.strategy,
        "objective": outcome.spec.objective,
        "dataset": outcome.dataset.to_dict(),
        "seconds": outcome.seconds,
        "cancelled": outcome.cancelled,
        "trials": trials,
        "best": None if best is None or outcome.best is None else {
            "number": outcome.best.number,
            "experiment_id": best.id,
            "objective": number(outcome.best.value),
            "params": outcome.best.params,
            "hyperparameters": best.hyperparameters.to_dict(),
        },
        "session": None if outcome.session is None else str(outcome.session),
        "spec": outcome.spec.to_dict(),
    }


def best_value(outcome: SweepOutcome) -> float | None:
    """The best complete trial's objective (for scripts and benchmarks)."""
    if outcome.best is None:
        return None
    record = outcome.best_record()
    return None if record is None else objective_value(record, outcome.spec)
