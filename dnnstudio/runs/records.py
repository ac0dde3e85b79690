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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from ..core.advisor import Diagnosis
from ..core.hyperparams import Hyperparameters
from ..core.training import HISTORY_FIELDS, EpochRecord, EpochRows, TrainResult, TrainStatus


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
    PRUNED = "pruned"
    """A search stopped it early as hopeless; the record's message says at which epoch and
    why."""

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


HISTORY_PREALLOCATE_MAX = 1_000_000
"""Most epochs a running record's history is sized for when it starts (48 MB of address
space); longer runs grow it by doubling."""


class _Buffers:
    """Append-only per-field arrays shared by successive :class:`HistoryColumns` views."""

    __slots__ = ("arrays", "filled")

    def __init__(self, capacity: int) -> None:
        self.arrays = {name: np.empty(max(capacity, 1)) for name in HISTORY_FIELDS}
        self.filled = 0


class Column(Sequence[float]):
    """One read-only curve: a sequence of floats that compares equal to a list of the same
    values and converts to a NumPy array without copying (``np.asarray(column)``)."""

    __slots__ = ("_values",)

    def __init__(self, values: np.ndarray) -> None:
        self._values = values

    def __len__(self) -> int:
        return int(self._values.shape[0])

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return self._values[index].tolist()
        return float(self._values[index])

    def __iter__(self) -> Iterator[float]:
        return iter(self._values.tolist())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Column):
            other = other._values
        if not isinstance(other, Sequence | np.ndarray) or isinstance(other, str):
            return NotImplemented
        return len(other) == len(self) and bool(
            np.array_equal(self._values, np.asarray(other, dtype=np.float64), equal_nan=True))

    def __hash__(self) -> int:  # equal to lists, which are unhashable: so is this
        raise TypeError("unhashable type: 'Column'")

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._values if dtype is None else self._values.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"Column({self._values.tolist()!r})"

    def tolist(self) -> list[float]:
        return list(self._values.tolist())


class HistoryColumns(Mapping[str, Sequence[float]]):
    """Per-epoch curves: read-only views of the first ``length`` entries of shared buffers.

    A running experiment gets a new record for every progress message (10 a second). Copying
    its whole history each time would cost O(epochs) per message; instead the new record's
    history extends the same buffers in place (doubling their capacity when full) and only
    its length differs, so older records still see exactly their own prefix. A view that is
    not the latest (its length is short of what was filled) copies before it extends.
    """

    __slots__ = ("_buffers", "_length")

    def __init__(self, buffers: _Buffers | None = None, length: int = 0) -> None:
        self._buffers = buffers if buffers is not None else _Buffers(16)
        self._length = length

    @classmethod
    def from_mapping(cls, history: Mapping[str, Sequence[float]]) -> HistoryColumns:
        """A copy of ``history`` (lists or arrays keyed by the history fields)."""
        if isinstance(history, HistoryColumns):
            return history
        lengths = {len(history.get(name, ())) for name in HISTORY_FIELDS}
        if len(lengths) > 1:
            raise ValueError("history curves differ in length")
        n = lengths.pop() if lengths else 0
        # Exactly n: a finished history never grows again (appending would double it).
        buffers = _Buffers(n)
        for name in HISTORY_FIELDS:
            if n:
                buffers.arrays[name][:n] = np.asarray(history[name], dtype=np.float64)
        buffers.filled = n
        return cls(buffers, n)

    @classmethod
    def adopt(cls, arrays: Mapping[str, np.ndarray]) -> HistoryColumns:
        """Curves that *are* ``arrays`` (1-D, equal lengths, keyed by the history fields),
        without copying: for a finished run's history, which nothing writes to again.
        Appending to it copies first, since its buffers are exactly full."""
        columns = {name: np.asarray(arrays[name], dtype=np.float64) for name in HISTORY_FIELDS}
        lengths = {column.shape for column in columns.values()}
        if len(lengths) != 1 or len(next(iter(lengths))) != 1:
            raise ValueError("history curves differ in length")
        n = next(iter(lengths))[0]
        if n == 0:
            return cls()
        buffers = _Buffers(0)
        buffers.arrays = columns
        buffers.filled = n
        return cls(buffers, n)

    def __getitem__(self, name: str) -> Column:
        view = self._buffers.arrays[name][: self._length]
        view.flags.writeable = False
        return Column(view)

    def __iter__(self) -> Iterator[str]:
        return iter(HISTORY_FIELDS)

    def __len__(self) -> int:
        return len(HISTORY_FIELDS)

    @property
    def epochs(self) -> int:
        return self._length

    def appended(self, records: Sequence[EpochRecord]) -> HistoryColumns:
        """A view with ``records`` added after this one's epochs."""
        buffers = self._buffers
        if self._length != buffers.filled:
            # Not the latest view: its own copy, so the newer views keep their epochs.
            buffers = HistoryColumns.from_mapping(
                {name: self[name] for name in HISTORY_FIELDS})._buffers
        start, stop = self._length, self._length + len(records)
        capacity = len(buffers.arrays[HISTORY_FIELDS[0]])
        if stop > capacity:
            grown = max(stop, 2 * capacity)
            for name, array in buffers.arrays.items():
                bigger = np.empty(grown)
                bigger[:start] = array[:start]
                buffers.arrays[name] = bigger
        rows = EpochRows.from_records(records).array
        for j, name in enumerate(HISTORY_FIELDS, start=1):
            buffers.arrays[name][start:stop] = rows[:, j]
        buffers.filled = stop
        return HistoryColumns(buffers, stop)


def _empty_history() -> HistoryColumns:
    return HistoryColumns()


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
    test_cost, test_metric : float
        Figures on the test set: NaN unless the experiment was given its one final evaluation.
    tested_at : float or None
        Unix time of that final evaluation.
    folds : int or None
        Trained with k-fold cross-validation over the training and validation rows: the
        validation figures are the means over the folds, and the history their average.
    fold_progress : float
        While a cross-validated run trains, the fraction of all its folds done (not saved).
    diagnosis : Diagnosis or None
        The advisor's diagnosis as the worker made it, for a run longer than
        :data:`~dnnstudio.runs.messages.LIVE_DIAGNOSIS_EPOCHS`: while it runs, of its curve
        up to the last quarter's growth; once it ended, of its whole curve. None otherwise,
        and after any change of state that does not bring one (not saved).
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
    test_cost: float = math.nan
    test_metric: float = math.nan
    tested_at: float | None = None
    folds: int | None = None
    fold_progress: float = 0.0
    diagnosis: Diagnosis | None = field(default=None, repr=False)

    # -- transitions ----------------------------------------------------------------------
    def replace(self, **changes: Any) -> ExperimentRecord:
        """A copy with ``changes``. A new state drops the diagnosis unless ``changes``
        bring one: it was made of the curve as the old state left it."""
        if "state" in changes and changes["state"] is not self.state:
            changes.setdefault("diagnosis", None)
        return dataclasses.replace(self, **changes)

    def started(self, when: float | None = None) -> ExperimentRecord:
        # Buffers for the planned epochs at once (memory is committed only as epochs are
        # written): doubling a long run's six curves copied up to 12 MB at a time.
        capacity = min(self.hyperparameters.epochs, HISTORY_PREALLOCATE_MAX)
        return self.replace(
            state=ExperimentState.RUNNING,
            started_at=time.time() if when is None else when,
            finished_at=None,
            epochs_run=0,
            history=HistoryColumns(_Buffers(capacity)),
            message="",
        )

    def progressed(self, records: Sequence[EpochRecord],
                   diagnosis: Diagnosis | None = None) -> ExperimentRecord:
        """A running record with ``records`` appended to its history, and ``diagnosis`` (of
        the new history) in place of its diagnosis unless None."""
        if not records:
            return self
        history = HistoryColumns.from_mapping(self.history).appended(records)
        if diagnosis is None:
            return self.replace(history=history, epochs_run=records[-1].epoch)
        return self.replace(history=history, epochs_run=records[-1].epoch, diagnosis=diagnosis)

    def finished(self, result: TrainResult, when: float | None = None,
                 diagnosis: Diagnosis | None = None) -> ExperimentRecord:
        """The record of a run that ended with ``result`` (and the worker's ``diagnosis``
        of it, if any)."""
        history = result.history
        return self.replace(
            state=_FROM_STATUS[result.status],
            finished_at=time.time() if when is None else when,
            epochs_run=result.epochs_run,
            # The result's arrays came from the worker and are the record's alone: a
            # 300,000-epoch history is six 2.4 MB arrays that need not be copied.
            history=HistoryColumns.adopt(
                {name: getattr(history, name) for name in HISTORY_FIELDS}),
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
            diagnosis=diagnosis,
        )

    def pruned(self, reason: str) -> ExperimentRecord:
        """A finished (cancelled) run's record turned into a pruned one, with ``reason``."""
        # Pruned is how a cancel ended, on the same curve: the same diagnosis holds.
        return self.replace(state=ExperimentState.PRUNED, message=reason,
                            diagnosis=self.diagnosis)

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
            folds=self.folds,
        )

    # -- derived --------------------------------------------------------------------------
    @property
    def tested(self) -> bool:
        """True once the test set was used on this experiment."""
        return self.tested_at is not None

    @property
    def gap(self) -> float:
        """Train minus validation metric: large means overfitting."""
        return self.train_metric - self.val_metric

    @property
    def progress(self) -> float:
        """Fraction of the planned epochs done, 0..1."""
        if self.state.is_finished() and self.state is not ExperimentState.INTERRUPTED:
            return 1.0
        if self.folds:
            return self.fold_progress
        return min(1.0, self.epochs_run / self.hyperparameters.epochs)

    def seconds_left(self, now: float | None = None) -> float | None:
        """Estimated seconds until a running experiment finishes, from its pace so far."""
        if self.state is not ExperimentState.RUNNING or self.epochs_run == 0:
            return None
        times = self.history["elapsed_s"]
        elapsed = float(times[-1]) if len(times) else None
        if not elapsed:
            return None
        if self.folds:
            done = self.fold_progress
            if not self.started_at or done <= 0:
                return None
            spent = max(0.0, time.time() - self.started_at) if now is None else \
                max(0.0, now - self.started_at)
            return spent * (1 - done) / done
        per_epoch = elapsed / self.epochs_run
        return per_epoch * (self.hyperparameters.epochs - self.epochs_run)


@dataclass(frozen=True)
class TestEvaluation:
    """One use of the test set: the audit trail's entry.

    Attributes
    ----------
    experiment_id : int
    at : float
        Unix time.
    test_cost, test_metric : float
    metric : str
        ``"accuracy"`` or ``"r2"``.
    samples : int
        Rows in the test set.
    dataset : dict
        The :class:`~dnnstudio.core.data.spec.DatasetSpec` (as a dict) whose split was used.
    """

    __test__ = False  # not a pytest test class, despite the name

    experiment_id: int
    at: float
    test_cost: float
    test_metric: float
    metric: str
    samples: int
    dataset: Mapping[str, Any]
