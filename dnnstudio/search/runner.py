"""Running a search on the experiment queue.

A :class:`SearchRunner` turns a :class:`~.spec.SearchSpec` into experiments of the queue, all
in one group named after the search. It keeps at most ``parallel`` of them queued or running,
asking its strategy for the next trial when one ends (so a Bayesian search learns from every
result before it proposes the next), tells the strategy each outcome, and stops hopeless
trials with the median rule. Everything a runner knows is in the queue's records, so a search
in a reopened session is rebuilt from them (:meth:`SearchRunner.restore`).

No thread and no Qt: whoever drives the queue (the window's controller, or the CLI's loop)
drives the runner too, and calls :meth:`SearchRunner.tick` now and then for the time budget.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from enum import StrEnum
from typing import Any

import numpy as np

from ..core.errors import DnnStudioError
from ..runs.queue import (
    ExperimentQueue,
    ProgressAppended,
    QueueEvent,
    QueueLoaded,
    QueueSettingsChanged,
    RecordChanged,
    RecordRemoved,
)
from ..runs.records import ExperimentRecord, ExperimentState
from .pruning import MedianRule
from .space import params_of
from .spec import SearchSpec
from .strategies import TrialResult, TrialState, make_strategy

__all__ = [
    "SearchRunner",
    "SearchState",
    "next_search_name",
    "objective_value",
    "restore_all",
    "trial_results",
]


class SearchState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    """No new trial starts; running ones finish."""
    FINISHED = "finished"
    CANCELLED = "cancelled"

    def is_over(self) -> bool:
        return self in (SearchState.FINISHED, SearchState.CANCELLED)


def objective_value(record: ExperimentRecord, spec: SearchSpec) -> float | None:
    """A finished trial's objective (None when it has none)."""
    value = record.val_metric if spec.maximize else record.val_cost
    return float(value) if math.isfinite(value) else None


def _partial_value(record: ExperimentRecord, spec: SearchSpec) -> float | None:
    """What a stopped trial had reached: its best validation figure."""
    name = "val_metric" if spec.maximize else "val_cost"
    curve = np.asarray(record.history[name], dtype=np.float64)
    finite = curve[np.isfinite(curve)]
    if finite.size == 0:
        return None
    return float(finite.max() if spec.maximize else finite.min())


def _trial_state(state: ExperimentState) -> TrialState:
    if state is ExperimentState.COMPLETED:
        return TrialState.COMPLETE
    if state in (ExperimentState.PRUNED, ExperimentState.DIVERGED):
        return TrialState.PRUNED
    if state in (ExperimentState.CANCELLED, ExperimentState.FAILED):
        return TrialState.FAILED
    return TrialState.RUNNING


def trial_results(spec: SearchSpec, records: Iterable[ExperimentRecord]) -> list[TrialResult]:
    """A search's trials from its experiments' records (those of its group), numbered in the
    order they were created."""
    out = []
    names = spec.space.names
    for number, record in enumerate(sorted(records, key=lambda r: r.id), start=1):
        state = _trial_state(record.state)
        if state is TrialState.COMPLETE:
            value = objective_value(record, spec)
        elif state is TrialState.PRUNED:
            value = _partial_value(record, spec)
        else:
            value = None
        out.append(TrialResult(number, record.id, params_of(record.hyperparameters, names),
                               state, value, record.epochs_run))
    return out


def next_search_name(existing: Iterable[str], strategy: str) -> str:
    """``"grid search 1"``, ``"grid search 2"``, ...: the first not in ``existing``."""
    taken = set(existing)
    n = 1
    while f"{strategy} search {n}" in taken:
        n += 1
    return f"{strategy} search {n}"


Listener = Callable[["SearchRunner"], None]


class SearchRunner:
    """One search, attached to a queue (see the module's description).

    Parameters
    ----------
    queue : ExperimentQueue
    spec : SearchSpec
    name : str
        The group of its experiments; unique in the session.
    state : SearchState
        Start ``PAUSED`` to rebuild a search without starting anything.
    created_at : float, optional
        Unix time (default: now).
    clock : callable
        Monotonic seconds, for the time budget (a fake in tests).
    """

    def __init__(
        self,
        queue: ExperimentQueue,
        spec: SearchSpec,
        name: str,
        *,
        state: SearchState = SearchState.RUNNING,
        created_at: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not name:
            raise ValueError("a search needs a name")
        self.queue = queue
        self.spec = spec
        self.name = name
        self.created_at = time.time() if created_at is None else created_at
        self._clock = clock
        self._state = state
        self._strategy = make_strategy(spec)
        self._rule = MedianRule(spec.pruning)
        self._numbers: dict[int, int] = {}  # experiment id -> trial number
        self._asked = 0
        self._told: set[int] = set()
        self._used = 0.0  # seconds of budget used before the current run
        self._since: float | None = None
        self._budget_spent = False
        self._exhausted = False
        self._busy = False
        self._listeners: list[Listener] = []
        self._unsubscribe = queue.subscribe(self._on_event)
        self._rebuild()
        if state is SearchState.RUNNING:
            self._since = clock()
            self._top_up()

    # -- listeners ------------------------------------------------------------------------
    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Call ``callback(runner)`` when the search's state or trials change."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def _changed(self) -> None:
        for callback in list(self._listeners):
            callback(self)

    def detach(self) -> None:
        """Stop listening to the queue (its experiments stay)."""
        self._unsubscribe()

    # -- what it is -----------------------------------------------------------------------
    @property
    def state(self) -> SearchState:
        return self._state

    def records(self) -> list[ExperimentRecord]:
        """The search's experiments, by trial number."""
        return sorted((r for r in self.queue.records.values() if r.group == self.name),
                      key=lambda r: r.id)

    def trials(self) -> list[TrialResult]:
        return trial_results(self.spec, self.records())

    def best(self) -> TrialResult | None:
        """The best complete trial so far."""
        done = [t for t in self.trials() if t.state is TrialState.COMPLETE
                and t.value is not None]
        if not done:
            return None
        pick = max if self.spec.maximize else min
        return pick(done, key=lambda t: t.value if t.value is not None else math.nan)

    def elapsed(self) -> float:
        """Seconds of the time budget used."""
        running = 0.0 if self._since is None else self._clock() - self._since
        return self._used + running

    def planned(self) -> int | None:
        return self.spec.planned_trials()

    def progress_text(self) -> str:
        trials = self.trials()
        done = sum(t.state is not TrialState.RUNNING for t in trials)
        planned = self.planned()
        of = f"/{planned}" if planned is not None else ""
        best = self.best()
        best_text = "" if best is None or best.value is None else f", best {best.value:.4g}"
        return f"{self.name}: {self._state.value}, {done}{of} trials done{best_text}"

    # -- control --------------------------------------------------------------------------
    def pause(self) -> None:
        """Start no new trials; running ones finish."""
        if self._state is SearchState.RUNNING:
            self._stop_clock()
            self._state = SearchState.PAUSED
            self._changed()

    def resume(self) -> None:
        """Go on; interrupted trials (from a reopened session) are queued again."""
        if self._state is not SearchState.PAUSED:
            return
        self._state = SearchState.RUNNING
        self._since = self._clock()
        for record in self.records():
            if record.state is ExperimentState.INTERRUPTED:
                self.queue.requeue(record.id)
        self._changed()
        self._top_up()

    def cancel(self) -> None:
        """Stop the search: queued and running trials are cancelled."""
        if self._state.is_over():
            return
        self._stop_clock()
        self._state = SearchState.CANCELLED
        for record in self.records():
            if record.state in (ExperimentState.QUEUED, ExperimentState.RUNNING):
                self.queue.cancel(record.id)
        self._changed()

    def tick(self) -> None:
        """Check the time budget (call it now and then while the search runs)."""
        if self._state is SearchState.RUNNING:
            self._top_up()

    # -- internals ------------------------------------------------------------------------
    def _stop_clock(self) -> None:
        if self._since is not None:
            self._used += self._clock() - self._since
            self._since = None

    def _rebuild(self) -> None:
        """Take the group's experiments as the trials so far."""
        records = self.records()
        self._numbers = {r.id: n for n, r in enumerate(records, start=1)}
        self._asked = len(records)
        trials = trial_results(self.spec, records)
        self._strategy.restore(trials)
        self._told = {t.experiment_id for t in trials if t.state is not TrialState.RUNNING}
        self._rule = MedianRule(self.spec.pruning)
        for record in records:
            self._learn(record)
        # Budget already used: the span of the trials that ran (a search's own clock is not
        # saved).
        starts = [r.started_at for r in records if r.started_at is not None]
        ends = [r.finished_at for r in records if r.finished_at is not None]
        self._used = max(0.0, max(ends) - min(starts)) if starts and ends else 0.0
        planned = self.planned()
        self._exhausted = planned is not None and len(records) >= planned

    def _learn(self, record: ExperimentRecord) -> None:
        if record.state in (ExperimentState.COMPLETED, ExperimentState.PRUNED):
            self._rule.add_finished(record.id, np.asarray(record.history["val_cost"]),
                                    completed=record.state is ExperimentState.COMPLETED)

    def _active(self) -> int:
        return sum(1 for r in self.queue.records.values() if r.group == self.name
                   and r.state in (ExperimentState.QUEUED, ExperimentState.RUNNING))

    def _limit(self) -> int:
        return self.spec.parallel or self.queue.max_parallel

    def _room(self) -> bool:
        """A new trial would start at once: the queue runs, nothing waits ahead of it, and a
        worker is free. Trials are asked for only then, so a Bayesian search proposes each
        with every result so far, and a paused search leaves nothing queued behind."""
        queue = self.queue
        return (not queue.paused and not queue.count(ExperimentState.QUEUED)
                and queue.count(ExperimentState.RUNNING) < queue.max_parallel
                and queue.pool.idle_count() > 0)

    def _top_up(self) -> None:
        if self._busy or self._state is not SearchState.RUNNING:
            return
        self._busy = True
        changed = False
        try:
            if (self.spec.seconds is not None and not self._budget_spent
                    and self.elapsed() >= self.spec.seconds):
                self._budget_spent = True
            while (not self._exhausted and not self._budget_spent
                   and self._active() < self._limit() and self._room()):
                params = self._strategy.ask()
                if params is None:
                    self._exhausted = True
                    break
                self._asked += 1
                try:
                    hp = self.spec.hyperparameters(params)
                except DnnStudioError:
                    # Values the space allows one by one but not together: that trial fails
                    # without an experiment, and the search goes on.
                    self._strategy.tell(self._asked, TrialState.FAILED, None, 0)
                    continue
                record = self.queue.add(hp, group=self.name, folds=self.spec.folds)
                self._numbers[record.id] = self._asked
                changed = True
            if (self._exhausted or self._budget_spent) and self._active() == 0:
                self._stop_clock()
                self._state = SearchState.FINISHED
                changed = True
        finally:
            self._busy = False
        if changed:
            self._changed()

    def _on_event(self, event: QueueEvent) -> None:
        if isinstance(event, ProgressAppended):
            if self._state is not SearchState.CANCELLED:
                self._maybe_prune(event.experiment_id)
        elif isinstance(event, RecordChanged):
            record = event.record
            if record.group != self.name:
                if record.state.is_finished():
                    self._top_up()  # a worker is free
                return
            if (record.state.is_finished() and record.state is not ExperimentState.INTERRUPTED
                    and record.id not in self._told):
                self._finish(record)
                self._top_up()
            elif record.state is ExperimentState.QUEUED:
                self._told.discard(record.id)  # queued again by hand
        elif isinstance(event, RecordRemoved):
            number = self._numbers.get(event.experiment_id)
            if number is not None and event.experiment_id not in self._told:
                self._told.add(event.experiment_id)
                self._strategy.tell(number, TrialState.FAILED, None, 0)
                self._top_up()
        elif isinstance(event, QueueSettingsChanged):
            self._top_up()
        elif isinstance(event, QueueLoaded):
            # Another session replaced this one's experiments: this search is gone with it.
            self.detach()

    def _finish(self, record: ExperimentRecord) -> None:
        self._told.add(record.id)
        number = self._numbers.get(record.id)
        self._learn(record)
        if number is None:
            return
        [trial] = trial_results(self.spec, [record])
        self._strategy.tell(number, trial.state, trial.value, trial.epoch)
        self._changed()

    def _maybe_prune(self, experiment_id: int) -> None:
        record = self.queue.records.get(experiment_id)
        if (record is None or record.group != self.name
                or record.state is not ExperimentState.RUNNING
                or self.queue.is_pruning(experiment_id)
                or self.queue.is_cancelling(experiment_id)):
            return
        decision = self._rule.check(np.asarray(record.history["val_cost"]),
                                    record.hyperparameters.epochs)
        if decision is not None:
            self.queue.prune(experiment_id, decision.reason)

    @classmethod
    def restore(cls, queue: ExperimentQueue, spec: SearchSpec, name: str, state: str,
                created_at: float) -> SearchRunner:
        """A search from a session file: paused if it was running (resume it to go on)."""
        saved = SearchState(state) if state in SearchState._value2member_map_ else \
            SearchState.PAUSED
        if saved is SearchState.RUNNING:
            saved = SearchState.PAUSED
        return cls(queue, spec, name, state=saved, created_at=created_at)


def restore_all(queue: ExperimentQueue, stored: Sequence[Any]) -> list[SearchRunner]:
    """Runners for a session's stored searches (:class:`~dnnstudio.sessions.StoredSearch`);
    one whose spec cannot be read any more is skipped."""
    from .space import SpecError

    runners = []
    for item in stored:
        try:
            spec = SearchSpec.from_dict(item.spec)
        except (SpecError, TypeError, ValueError, OverflowError, RecursionError):
            continue  # a spec this version cannot read (edited by hand, or hostile)
        runners.append(SearchRunner.restore(queue, spec, item.name, item.state,
                                            item.created_at))
    return runners
