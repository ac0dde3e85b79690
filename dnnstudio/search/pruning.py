"""Stopping hopeless trials early: the median rule.

A running trial reports its validation cost every epoch. Once ``warmup_trials`` trials have
finished, the trial is compared at its current epoch ``e`` with every finished trial that
reached ``e``: if its best validation cost so far is worse than the median of theirs (each
also the best up to ``e``), it is unlikely to end up among the good ones, and it is stopped.
A trial is never judged before ``warmup_fraction`` of its epochs, because early costs say
little about where a curve ends. This is Optuna's median rule, on the best cost so far rather
than the latest, so one noisy epoch does not condemn a trial. Divergence needs no rule: the
trainer stops a diverging run at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .spec import PruningSpec

__all__ = ["MedianRule", "PruneDecision"]


@dataclass(frozen=True)
class PruneDecision:
    epoch: int
    value: float
    median: float
    compared: int

    @property
    def reason(self) -> str:
        return (f"pruned at epoch {self.epoch:,}: its best validation cost so far, "
                f"{self.value:.4g}, is worse than the median {self.median:.4g} of "
                f"{self.compared} finished trials at that epoch")


class MedianRule:
    """Decides whether a running trial should stop (see the module's description).

    Finished trials are given as their validation-cost curves; each is reduced once to its
    running minimum, so a check costs one lookup per finished trial.
    """

    def __init__(self, spec: PruningSpec) -> None:
        self.spec = spec
        self._best: dict[int, np.ndarray] = {}
        self._completed = 0

    def add_finished(self, experiment_id: int, val_cost: Sequence[float] | np.ndarray,
                     *, completed: bool) -> None:
        """A trial ended; ``completed`` is False for pruned ones (they are compared with, up
        to where they stopped, but do not count towards the warm-up)."""
        if experiment_id in self._best:
            return
        curve = np.asarray(val_cost, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            best = np.fmin.accumulate(np.where(np.isfinite(curve), curve, np.nan)) \
                if curve.size else curve
        self._best[experiment_id] = best
        if completed:
            self._completed += 1

    @property
    def completed(self) -> int:
        return self._completed

    def check(self, val_cost: Sequence[float] | np.ndarray, planned_epochs: int
              ) -> PruneDecision | None:
        """Whether a running trial with this validation-cost curve so far should stop."""
        if not self.spec.enabled or self._completed < self.spec.warmup_trials:
            return None
        curve = np.asarray(val_cost, dtype=np.float64)
        epoch = int(curve.shape[0])
        if epoch == 0 or epoch < max(1, math.ceil(self.spec.warmup_fraction * planned_epochs)):
            return None
        finite = curve[np.isfinite(curve)]
        if finite.size == 0:
            return None
        value = float(finite.min())
        others = [float(best[epoch - 1]) for best in self._best.values()
                  if best.shape[0] >= epoch and math.isfinite(best[epoch - 1])]
        if len(others) < self.spec.warmup_trials:
            return None
        median = float(np.median(others))
        if value > median:
            return PruneDecision(epoch, value, median, len(others))
        return None
