"""Experiments: their lifecycle and their immutable records.

An experiment is one choice of hyperparameters trained once. Its :class:`ExperimentRecord` is
a frozen value; every change (started, progressed, finished, note edited) makes a new record
with :func:`dataclasses.replace`, so a finished experiment can be shared between threads and
saved without copying or locking.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from ..core.hyperparams import Hyperparameters
from ..core.training import HISTORY_FIELDS, EpochRecord, TrainResult, TrainStatus


class ExperimentState(StrEnum):
    """Where an experiment is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    DIVERGED = "diverged"
    CANCELLED = "cancelled"
    FAILED = "failed"
    """The worker raised or died; the record's message says why."""
    INTERRUPTED = "interrupted"
    """It was running when the program stopped; it can be queued again."""

    def is_finished(self) -> bool:
        """True once the experiment will not change by itself any more."""
        return self not in (ExperimentState.QUEUED, ExperimentState.RUNNING)

    def can_requeue(self) -> bool:
        return self in (
            ExperimentState.CANCELLED,
            ExperimentState.FAILED,
            ExperimentState.INTERRUPTED,
        )


_FROM_STATUS = {
    TrainStatus.COMPLETED: ExperimentState.COMPLETED,
    TrainStatus.DIVERGED: ExperimentState.DIVERGED,
    TrainStatus.CANCELLED: ExperimentState.CANCELLED,
}

Params = list[tuple[np.ndarray, np.ndarray]]


def _empty_history() -> dict[str, list[float]]:
    return {name: [] for name in HISTORY_FIELDS}


@dataclass(frozen=True, eq=False)
class ExperimentRecord:
    """One experiment, as it is now.

    Attributes
    ----------
    id : int
        Unique within a session, from 1.
    hyperparameters : Hyperparameters
    state : ExperimentState
    note : str
        The user's free text ("document everything").
    created_at, started_at, finished_at : float or None
        Unix times.
    epochs_run : int
    history : dict of str to list of float
        Per-epoch curves keyed by :data:`~dnnstudio.core.training.HISTORY_FIELDS`; NaN where a
        figure was not measured.
    train_cost, val_cost, train_metric, val_metric : float
        Final figures (NaN until finished, or when not available).
    metric : str
        ``"accuracy"`` or ``"r2"``.
    train_time_s : float
    parameter_count : int
    message : str
        How it ended, or why it failed.
    diverged_epoch : int or None
    params : list of (W, b) or None
        Learned parameters of a finished experiment, ``W[l]`` ``(n[l], n[l-1])`` and ``b[l]``
        ``(n[l], 1)``.
    group : str
        The search or batch it belongs to (empty for a single experiment).
    """

    id: int
    hyperparameters: Hyperparameters
    state: ExperimentState = ExperimentState.QUEUED
    note: str = ""
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    epochs_run: int = 0
    history: Mapping[str, Sequence[float]] = field(default_factory=_empty_history)
    train_cost: float = math.nan
    val_cost: float = math.nan
    train_metric: float = math.nan
    val_metric: float = math.nan
    metric: str = "accuracy"
    train_time_s: float = math.nan
    parameter_count: int = 0
    message: str = ""
    diverged_epoch: int | None = None
    params: Params | None = field(default=None, repr=False)
    group: str = ""

    # -- transitions ----------------------------------------------------------------------
    def replace(self, **changes: Any) -> ExperimentRecord:
        return dataclasses.replace(self, **changes)

    def started(self, when: float | None = None) -> ExperimentRecord:
        return self.replace(
            state=ExperimentState.RUNNING,
            started_at=time.time() if when is None else when,
            finished_at=None,
            epochs_run=0,
            history=_empty_history(),
            message="",
        )

    def progressed(self, records: Sequence[EpochRecord]) -> ExperimentRecord:
        """A running record with ``records`` appended to its history."""
        if not records:
            return self
        history = {name: list(values) for name, values in self.history.items()}
        for record in records:
            for name in HISTORY_FIELDS:
                history[name].append(getattr(record, name))
        return self.replace(history=history, epochs_run=records[-1].epoch)

    def finished(self, result: TrainResult, when: float | None = None) -> ExperimentRecord:
        """The record of a run that ended with ``result``."""
        history = result.history
        return self.replace(
            state=_FROM_STATUS[result.status],
            finished_at=time.time() if when is None else when,
            epochs_run=result.epochs_run,
            history={name: getattr(history, name).tolist() for name in HISTORY_FIELDS},
            train_cost=result.train_cost,
            val_cost=result.val_cost,
            train_metric=result.train_metric,
            val_metric=result.val_metric,
            metric=result.metric,
            train_time_s=result.train_time_s,
            parameter_count=result.parameter_count,
            message=result.message,
            diverged_epoch=result.diverged_epoch,
            params=None if result.model is None else result.model.params,
        )

    def failed(self, reason: str, when: float | None = None) -> ExperimentRecord:
        return self.replace(
            state=ExperimentState.FAILED,
            finished_at=time.time() if when is None else when,
            message=reason,
        )

    def requeued(self) -> ExperimentRecord:
        """A fresh queued copy of the same choice (history and results cleared)."""
        return ExperimentRecord(
            id=self.id,
            hyperparameters=self.hyperparameters,
            note=self.note,
            created_at=self.created_at,
            group=self.group,
        )

    # -- derived --------------------------------------------------------------------------
    @property
    def gap(self) -> float:
        """Train minus validation metric: large means overfitting."""
        return self.train_metric - self.val_metric

    @property
    def progress(self) -> float:
        """Fraction of the planned epochs done, 0..1."""
        if self.state.is_finished() and self.state is not ExperimentState.INTERRUPTED:
            return 1.0
        return min(1.0, self.epochs_run / self.hyperparameters.epochs)

    def seconds_left(self, now: float | None = None) -> float | None:
        """Estimated seconds until a running experiment finishes, from its pace so far."""
        if self.state is not ExperimentState.RUNNING or self.epochs_run == 0:
            return None
        elapsed = self.history["elapsed_s"][-1] if self.history["elapsed_s"] else None
        if not elapsed:
            return None
        per_epoch = elapsed / self.epochs_run
        return per_epoch * (self.hyperparameters.epochs - self.epochs_run)
