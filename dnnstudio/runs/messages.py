"""What goes between the pool and its worker processes: jobs in, messages out.

Everything here is plain, immutable data so that it crosses a process boundary through
:mod:`multiprocessing`'s own pickling and can be handed between threads without copying. A job
carries its hyperparameters and dataset as plain dicts (from
:meth:`~dnnstudio.core.hyperparams.Hyperparameters.to_dict` and
:meth:`~dnnstudio.core.data.spec.DatasetSpec.to_dict`), so the worker rebuilds and validates
them itself, and a job that cannot even be built fails in the worker like any other bad job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np

from ..core.advisor import Diagnosis
from ..core.training import EpochRecord, TrainResult

__all__ = [
    "LIVE_DIAGNOSIS_EPOCHS",
    "Failed",
    "Finished",
    "Job",
    "Message",
    "Progress",
    "Snapshot",
    "Started",
]

LIVE_DIAGNOSIS_EPOCHS = 10_000
"""A run longer than this is diagnosed by its worker: the advisor reads the whole curve
(~9 ms at 300,000 epochs), a stretch of Python that in the window's process holds up its
thread. The worker sends the diagnosis with :class:`Progress` each time the run's epochs have
grown by a quarter, and with :class:`Finished` on the whole curve. Shorter runs are diagnosed
where they are shown, in well under a millisecond."""


@dataclass(frozen=True, slots=True)
class Job:
    """One experiment to train.

    Attributes
    ----------
    experiment_id : int
        The experiment's id; every message about this job carries it.
    hyperparameters : dict
        ``Hyperparameters.to_dict()``.
    dataset : dict
        ``DatasetSpec.to_dict()``.
    eval_every : int or None
        Passed to :func:`~dnnstudio.core.training.train`: validate every this many epochs
        (None: only after training).
    snapshot_seconds : float or None
        Send a :class:`Snapshot` of the parameters at most this often while training (for a
        live decision boundary); None sends none. Ignored under cross-validation, whose folds
        each standardise the data their own way.
    folds : int or None
        Cross-validate with this many folds (at least 2) over the training and validation
        rows, with the dataset's seed (:func:`~dnnstudio.core.crossval.cross_validate`);
        None trains once on the training set.
    """

    experiment_id: int
    hyperparameters: dict[str, Any]
    dataset: dict[str, Any]
    eval_every: int | None = 1
    snapshot_seconds: float | None = None
    folds: int | None = None


@dataclass(frozen=True, slots=True)
class Started:
    """The worker has loaded the data and begun training.

    Attributes
    ----------
    experiment_id : int
    pid : int
        The worker process's id.
    at : float
        Unix time at which training began (after the data was loaded).
    """

    experiment_id: int
    pid: int
    at: float


@dataclass(frozen=True, slots=True)
class Progress:
    """Epochs finished since the previous :class:`Progress` of this run, in order.

    Workers batch their epochs and send at most one of these every 100 ms per run, so a run
    of thousands of fast epochs does not flood the receiver; together the batches cover
    every epoch exactly once.

    Under cross-validation only the first fold's epochs come as records, so that the live
    curves show one fold training; the later folds send messages without records that only
    say how far they are, and :class:`Finished` brings the history averaged over the folds.
    """

    experiment_id: int
    records: Sequence[EpochRecord]
    """Usually an :class:`~dnnstudio.core.training.EpochRows`: one array for all of them."""
    fold: int = 0
    """The fold (0-based) these epochs belong to; 0 without cross-validation."""
    folds: int = 1
    """Folds in the run; 1 without cross-validation."""
    epoch: int = 0
    """Epochs finished in fold ``fold`` (with records, the last record's epoch)."""
    diagnosis: Diagnosis | None = None
    """The advisor's diagnosis of the curve so far, up to the last record, for a run past
    :data:`LIVE_DIAGNOSIS_EPOCHS` whose epochs have grown by a quarter since the previous
    one; None in between (the previous one still holds)."""

    def fraction_done(self, epochs: int) -> float:
        """How much of the whole run is done, 0 to 1, when each fold trains ``epochs``."""
        done = max(self.epoch, self.records[-1].epoch if self.records else 0)
        return min(1.0, (self.fold * epochs + done) / (max(self.folds, 1) * max(epochs, 1)))


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The parameters ``(W[l], b[l])`` of a running experiment after ``epoch`` epochs."""

    experiment_id: int
    epoch: int
    params: tuple[tuple[np.ndarray, np.ndarray], ...]


@dataclass(frozen=True, slots=True)
class Finished:
    """The run ended: completed, diverged or cancelled (see ``result.status``)."""

    experiment_id: int
    result: TrainResult
    parts: int = 0
    """How many :class:`HistoryPart` messages came before it with ``result.history`` (left
    empty here); the pool puts the history back together before anyone sees this."""
    streamed: int = 0
    """Nonzero: ``result.history`` (left empty here) is exactly the run's first ``streamed``
    epochs as its :class:`Progress` messages brought them, so it is not sent twice; the pool
    puts it back together from those before anyone sees this."""
    diagnosis: Diagnosis | None = None
    """The advisor's diagnosis of ``result``, for a run of more than
    :data:`LIVE_DIAGNOSIS_EPOCHS` epochs; None for shorter ones."""


HISTORY_PART_EPOCHS = 16_384
"""Most epochs of history in one :class:`HistoryPart` (~0.8 MB)."""


@dataclass(frozen=True, slots=True)
class HistoryPart:
    """Epochs ``start + 1 .. start + len`` of a finished run's history, ahead of its
    :class:`Finished`.

    A long run's history sent whole (14 MB for 300,000 epochs) is unpickled in one go by the
    thread that reads the workers' pipes, holding the GIL meanwhile (6-8 ms on fresh
    memory): the window's thread waited behind it. In parts, it waits a fraction of a
    millisecond at a time.
    Only the pool sees these.
    """

    experiment_id: int
    start: int
    total: int
    """The whole history's length."""
    arrays: tuple[np.ndarray, ...]
    """One array per history field, in ``HISTORY_FIELDS`` order."""


@dataclass(frozen=True, slots=True)
class Failed:
    """The run could not be trained, or its worker process died.

    Attributes
    ----------
    experiment_id : int
    reason : str
        One line for the user: what went wrong.
    """

    experiment_id: int
    reason: str


Message: TypeAlias = Started | Progress | Snapshot | Finished | Failed | HistoryPart
"""Anything a worker (or the pool, for a worker that died) reports about an experiment
(the pool keeps :class:`HistoryPart` to itself)."""
