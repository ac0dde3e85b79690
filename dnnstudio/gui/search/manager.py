"""The searches of the open session, run on the session controller's queue.

A :class:`SearchManager` owns one :class:`~dnnstudio.search.SearchRunner` per search of the
session. The runners listen to the controller's queue, which the controller feeds in the GUI
thread, so a runner reacts to a finished trial in the GUI thread too; the manager adds what a
runner cannot do on its own: a clock for the time budget, writing each search to the session
file when it changes, and rebuilding the searches when another session is opened.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from ...core.advisor import diagnose
from ...runs.records import ExperimentRecord, ExperimentState
from ...search.runner import (
    SearchRunner,
    SearchState,
    next_search_name,
    restore_all,
    trial_results,
)
from ...search.spec import SearchSpec
from ...sessions.store import StoredSearch
from ..controller import SessionController
from .data import SearchSnapshot, TrialView

__all__ = ["SearchManager"]

TICK_MS = 1000
"""How often running searches check their time budget."""


class SearchManager(QObject):
    """Starts, pauses, resumes and cancels the session's searches, and keeps them saved.

    Parameters
    ----------
    controller : SessionController
        Its queue runs the trials; its writer saves the searches. The searches already in
        its session (``controller.stored_searches``) are rebuilt at once, paused.

    Signals
    -------
    searchesChanged()
        A search was started, or the session was replaced: re-read :meth:`names`.
    searchChanged(str)
        The named search changed state, or one of its trials started or ended.
    """

    searchesChanged = Signal()
    searchChanged = Signal(str)

    def __init__(self, controller: SessionController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        self._runners: dict[str, SearchRunner] = {}
        self._unsubscribe: list[Callable[[], None]] = []
        self._closed = False
        # Verdicts of finished experiments never change: worked out once each.
        self._verdicts: dict[tuple[int, str, int], tuple[str, str]] = {}
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        controller.sessionLoaded.connect(self._on_session_loaded)
        # Before a session is replaced its running experiments are abandoned; a runner that
        # saw them end would queue new trials into the session being closed.
        controller.sessionAboutToChange.connect(self._release)
        self._adopt_session()

    # -- what there is ---------------------------------------------------------------------
    def names(self) -> list[str]:
        """The searches, oldest first."""
        return list(self._runners)

    def runner(self, name: str) -> SearchRunner:
        """The runner of search ``name`` (KeyError if there is none)."""
        return self._runners[name]

    def runners(self) -> list[SearchRunner]:
        return list(self._runners.values())

    def is_running(self) -> bool:
        return any(r.state is SearchState.RUNNING for r in self._runners.values())

    def snapshot(self, name: str) -> SearchSnapshot:
        """Search ``name`` and its trials as they stand, for the views."""
        runner = self._runners[name]
        records = runner.records()
        trials = trial_results(runner.spec, records)
        views = []
        for trial, record in zip(trials, records, strict=True):
            verdict, detail = self._verdict(record)
            # A view of the record's own (read-only) buffer: slicing the history itself
            # would build a Python list of every epoch, at each refresh of the views.
            cost = np.asarray(record.history["train_cost"])[:record.epochs_run]
            views.append(TrialView(trial, record.state.value, verdict, detail, cost,
                                   record.message))
        metric = next((r.metric for r in records if r.state.is_finished()), "accuracy")
        return SearchSnapshot(name, runner.spec, runner.state.value, tuple(views), metric,
                              runner.progress_text())

    def snapshots(self) -> list[SearchSnapshot]:
        return [self.snapshot(name) for name in self._runners]

    # -- control ---------------------------------------------------------------------------
    def start(self, spec: SearchSpec, name: str | None = None) -> SearchRunner:
        """Start a search on the session's data; its first trials are queued at once.

        Parameters
        ----------
        spec : SearchSpec
        name : str, optional
            Default: ``"<strategy> search <n>"``, the first not taken.

        Raises
        ------
        ValueError
            ``name`` is taken by a search or a group of experiments of the session.
        RuntimeError
            After :meth:`shutdown`.
        """
        if self._closed:
            raise RuntimeError("the search manager has been shut down")
        taken = set(self._runners) | {r.group for r in self._controller.queue.records.values()
                                      if r.group}
        if name is None:
            name = next_search_name(taken, spec.strategy)
        elif name in taken:
            raise ValueError(f"the session already has a search or group named {name!r}")
        runner = SearchRunner(self._controller.queue, spec, name)
        self._adopt(runner)
        self._write(runner)
        self._update_timer()
        self.searchesChanged.emit()
        return runner

    def pause(self, name: str) -> None:
        """Start no new trials of ``name``; its running ones finish."""
        self._runners[name].pause()

    def resume(self, name: str) -> None:
        """Go on with ``name``; trials interrupted by closing the session run again."""
        self._runners[name].resume()
        self._update_timer()

    def cancel(self, name: str) -> None:
        """Stop ``name``: its queued and running trials are cancelled."""
        self._runners[name].cancel()

    def shutdown(self) -> None:
        """Stop the clock and let go of the queue (the window is closing). Idempotent."""
        self._closed = True
        self._timer.stop()
        self._release()

    # -- internals -------------------------------------------------------------------------
    def _adopt(self, runner: SearchRunner) -> None:
        self._runners[runner.name] = runner
        self._unsubscribe.append(runner.subscribe(self._on_runner_changed))

    def _release(self) -> None:
        """Detach every runner from the queue; they stay listed until the next session."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        for runner in self._runners.values():
            runner.detach()
        self._timer.stop()

    def _adopt_session(self) -> None:
        stored = {s.name: s.state for s in self._controller.stored_searches}
        for runner in restore_all(self._controller.queue, self._controller.stored_searches):
            self._adopt(runner)
            if stored.get(runner.name) != runner.state.value:
                self._write(runner)  # a search saved running comes back paused

    def _on_session_loaded(self) -> None:
        self._release()
        self._runners.clear()
        self._verdicts.clear()
        if not self._closed:
            self._adopt_session()
            self._update_timer()
        self.searchesChanged.emit()

    def _on_runner_changed(self, runner: SearchRunner) -> None:
        if self._runners.get(runner.name) is not runner:
            return
        self._write(runner)
        self._update_timer()
        self.searchChanged.emit(runner.name)

    def _write(self, runner: SearchRunner) -> None:
        writer = self._controller.writer
        if writer is not None:
            writer.put_search(StoredSearch(runner.name, runner.spec.to_dict(),
                                           runner.state.value, runner.created_at))

    def _update_timer(self) -> None:
        if self._closed:
            return
        if self.is_running():
            if not self._timer.isActive():
                self._timer.start()
        else:
            self._timer.stop()

    def _tick(self) -> None:
        if self._controller.writer is None:  # the controller has shut down
            self._timer.stop()
            return
        for runner in list(self._runners.values()):
            if runner.state is SearchState.RUNNING:
                runner.tick()
        self._update_timer()

    def _verdict(self, record: ExperimentRecord) -> tuple[str, str]:
        if record.epochs_run == 0 or record.state in (ExperimentState.QUEUED,
                                                      ExperimentState.CANCELLED,
                                                      ExperimentState.FAILED):
            return "", ""
        key = (record.id, record.state.value, record.epochs_run)
        cached = self._verdicts.get(key)
        if cached is None:
            diagnosis: Any = (record.diagnosis if record.diagnosis is not None
                              else diagnose(record))
            cached = (str(diagnosis.label), str(diagnosis.text))
            if record.state.is_finished():
                self._verdicts[key] = cached
        return cached
