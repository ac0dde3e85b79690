"""The cost-curve advisor: the lesson's "What to monitor" table, applied to one experiment.

Every experiment, finished or still running, gets a :class:`Diagnosis`: a short verdict on
its training cost curve (learning, too slow, stuck, oscillating, diverged) and on the gap
between its training and validation figures (generalising or overfitting), each with the
numbers it rests on and what to try next.

=====================  =====================================  ===============================
Curve                  Verdict                                Advice
=====================  =====================================  ===============================
decreasing steadily    ``good``                               keep going
decreasing, slowly     ``too_small``                          alpha × 3
flat                   ``stuck``                              larger alpha or another
                                                              architecture
increasing or          ``too_large`` (with the epoch)         alpha ÷ 10 (rising), ÷ 3
oscillating                                                   (oscillating)
non-finite / exploded  ``diverged`` (with the epoch)          alpha ÷ 10
too few epochs         ``too_early``                          wait
small gap              gap ``small_gap``                      the model generalises
large gap              gap ``large_gap``; ``overfitting``     L2, dropout or more data
                       when the cost curve itself is good
=====================  =====================================  ===============================

How the curve is measured
-------------------------
Only finite training costs count; a NaN inside the curve (a figure not measured) is
skipped, but a curve that *ends* non-finite, or holds an infinity, diverged there. With
``n`` measured epochs, the curve is smoothed by a trailing mean over
``w = clip(n // 10, 1, SMOOTH_WINDOW)`` epochs, and:

* the *half drop* is the relative fall of the smoothed cost over the last half of the
  epochs: ``(J(n/2) - J(n)) / J(n/2)``;
* the *total drop* is the relative fall from the first epoch's cost to the smoothed end;
* the *rise* is how far the smoothed end lies above the lowest cost so far (the first
  epoch's cost or the lowest smoothed cost): ``J(n) / min J - 1``;
* over the last half, the *rise share* is the fraction of the curve's epoch-to-epoch
  movement that goes up (0 for a curve that only falls, about 0.5 for a zig-zag with no
  trend, 1 for one that only rises), and the *jitter* is its mean absolute epoch-to-epoch
  change relative to the mean cost there.

The thresholds (module constants, relative figures are fractions, not percent):

=========================  ========  ================================================
Constant                   Value     Meaning
=========================  ========  ================================================
:data:`MIN_EPOCHS`         10        fewer measured epochs: ``too_early``
:data:`SMOOTH_WINDOW`      25        most epochs averaged by the trailing mean
:data:`RISE_TOLERANCE`     0.05      rise above the lowest cost beyond this:
                                     ``too_large`` (cost increasing)
:data:`OSCILLATION_SHARE`  0.30      rise share at or above this, with enough jitter:
                                     ``too_large`` (oscillating)
:data:`JITTER_FLOOR`       0.001     jitter below this is rounding noise, not
                                     oscillation (full-batch runs)
:data:`NOISY_JITTER`       0.10      the same floor for mini-batch or dropout runs,
                                     whose per-epoch cost is noisy by design
:data:`FLAT_DROP`          0.001     half drop below this: flat
:data:`SLOW_DROP`          0.05      half drop below this: slow
:data:`CONVERGED_DROP`     0.50      a flat or slow tail after a total drop of at least
                                     this has converged: ``good``, not ``stuck`` or
                                     ``too_small``
:data:`GAP_ACCURACY`       0.05      train minus validation accuracy above this (5
                                     points): ``large_gap``
:data:`GAP_R2`             0.05      the same for R² (regression)
:data:`VAL_RISE`           0.10      validation cost this far above its lowest while
                                     the training cost kept falling: ``large_gap``
=========================  ========  ================================================

:func:`diagnose_curves` works on plain arrays; :func:`diagnose` on anything shaped like an
experiment record or a training result (duck-typed, so the core does not import the layers
above it). Both are O(n) NumPy and cheap enough for every row of a table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

MIN_EPOCHS = 10
"""Fewer measured epochs than this are too few to judge a curve."""
SMOOTH_WINDOW = 25
"""Most epochs the trailing mean averages (it takes a tenth of the epochs, at least one)."""
RISE_TOLERANCE = 0.05
"""Relative rise of the smoothed cost above its lowest that counts as increasing."""
OSCILLATION_SHARE = 0.30
"""Share of the last half's movement that goes up, from which the curve oscillates."""
JITTER_FLOOR = 0.001
"""Mean relative epoch-to-epoch change below which ups and downs are noise (full batch)."""
NOISY_JITTER = 0.10
"""The jitter floor for mini-batch or dropout runs, whose epoch cost is noisy anyway."""
FLAT_DROP = 0.001
"""Relative fall over the last half below which the curve is flat."""
SLOW_DROP = 0.05
"""Relative fall over the last half below which the curve falls slowly."""
CONVERGED_DROP = 0.50
"""Relative fall since the first epoch from which a flat or slow tail means converged."""
GAP_ACCURACY = 0.05
"""Train minus validation accuracy above which the gap is large."""
GAP_R2 = 0.05
"""Train minus validation R² above which the gap is large."""
VAL_RISE = 0.10
"""Relative rise of the validation cost above its lowest that means overfitting."""

VERDICTS = ("good", "too_small", "stuck", "too_large", "diverged", "overfitting", "too_early")
"""Every :attr:`Diagnosis.verdict`."""
GAP_VERDICTS = ("small_gap", "large_gap")
"""Every :attr:`Diagnosis.gap_verdict` besides None (nothing to compare)."""


@dataclass(frozen=True)
class Diagnosis:
    """What the curves say about one experiment, and what to try next.

    Attributes
    ----------
    verdict : str
        One of :data:`VERDICTS`: :attr:`cost_verdict`, or ``"overfitting"`` when the cost
        curve is good but the gap is large.
    label : str
        A few words for a table cell, e.g. ``"LR too small: try ×3"``.
    detail : str
        One or two sentences on the training cost, with the numbers and the next step.
    epoch : int or None
        Where it went wrong (``diverged`` and ``too_large``), else None.
    gap_verdict : str or None
        ``"small_gap"``, ``"large_gap"``, or None when there is nothing to compare.
    gap_detail : str
        One sentence on the train/validation gap ("" when there is nothing to compare).
    cost_verdict : str
        The verdict on the training cost curve alone (never ``"overfitting"``).
    epochs : int
        Measured (finite) training-cost epochs the verdict rests on.
    half_drop, total_drop, rise, rise_share, jitter : float
        The curve's measurements (see the module docstring); NaN when not measured.
    gap : float
        Train minus validation accuracy (or R²); NaN when unknown.
    val_rise : float
        Relative rise of the validation cost above its lowest; NaN when unknown.
    """

    verdict: str
    label: str
    detail: str
    epoch: int | None = None
    gap_verdict: str | None = None
    gap_detail: str = ""
    cost_verdict: str = ""
    epochs: int = 0
    half_drop: float = math.nan
    total_drop: float = math.nan
    rise: float = math.nan
    rise_share: float = math.nan
    jitter: float = math.nan
    gap: float = math.nan
    val_rise: float = math.nan

    @property
    def text(self) -> str:
        """The whole explanation: the cost sentence, then the gap sentence."""
        return f"{self.detail} {self.gap_detail}".strip()


@dataclass(frozen=True)
class _Curve:
    """A curve's finite values ``(k,)`` and their 1-based epochs ``(k,)``."""

    values: np.ndarray
    epochs: np.ndarray


def _finite(values: ArrayLike | None) -> _Curve:
    if values is None:
        return _Curve(np.empty(0), np.empty(0, dtype=np.int64))
    a = np.asarray(values, dtype=np.float64).reshape(-1)
    keep = np.isfinite(a)
    if keep.all():
        return _Curve(a, np.arange(1, a.size + 1))
    index = np.flatnonzero(keep)
    return _Curve(a[index], index + 1)


def _nonfinite_epoch(values: ArrayLike) -> int | None:
    """The epoch where a curve blew up: its first infinity, or where a non-finite tail
    starts after finite values. Interior NaNs (not measured) do not count."""
    a = np.asarray(values, dtype=np.float64).reshape(-1)
    if a.size == 0:
        return None
    inf = np.flatnonzero(np.isinf(a))
    if inf.size:
        return int(inf[0]) + 1
    if math.isfinite(float(a[-1])):
        return None
    finite = np.flatnonzero(np.isfinite(a))
    return None if finite.size == 0 else int(finite[-1]) + 2


def _smoothed(c: np.ndarray, w: int) -> np.ndarray:
    """Trailing means of ``c`` over ``w`` epochs, ``(len(c) - w + 1,)``; entry ``j`` ends at
    epoch index ``j + w - 1``."""
    if w == 1:
        return c
    cs = np.cumsum(c)
    out = cs[w - 1:].copy()
    out[1:] -= cs[:-w]
    return out / w


def _relative(new: float, old: float) -> float:
    """``new / old - 1`` for costs (``old`` may be 0)."""
    return (new - old) / max(abs(old), 1e-12)


def _first_rise(c: np.ndarray, epochs: np.ndarray) -> int | None:
    """The first epoch whose cost exceeded the best so far by :data:`RISE_TOLERANCE`, else
    the first epoch whose cost rose at all."""
    best = np.minimum.accumulate(c)
    above = np.flatnonzero(c > best + RISE_TOLERANCE * np.abs(best))
    if above.size:
        return int(epochs[above[0]])
    ups = np.flatnonzero(np.diff(c) > 0)
    return int(epochs[ups[0] + 1]) if ups.size else None


def _num(x: float) -> str:
    return f"{x:.4g}"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _times(alpha: float | None, factor: float, sign: str) -> str:
    if alpha is None or not math.isfinite(alpha):
        return f"alpha {sign}{factor:g}"
    new = alpha * factor if sign == "×" else alpha / factor
    return f"alpha {sign}{factor:g} ({new:.3g} instead of {alpha:g})"


def diagnose_curves(
    train_cost: ArrayLike,
    val_cost: ArrayLike | None = None,
    *,
    train_metric: float = math.nan,
    val_metric: float = math.nan,
    metric: str = "accuracy",
    diverged_epoch: int | None = None,
    diverged: bool = False,
    alpha: float | None = None,
    init: str | None = None,
    hidden_layers: int = 0,
    stochastic: bool = False,
    running: bool = False,
) -> Diagnosis:
    """Judge a training cost curve and the train/validation gap.

    Parameters
    ----------
    train_cost : array_like, shape (epochs,)
        Training cost per epoch (entry ``i`` is epoch ``i + 1``); NaN where not measured.
    val_cost : array_like, shape (epochs,), optional
        Validation cost per epoch, NaN where not measured.
    train_metric, val_metric : float
        The latest accuracy (or R²) on the training and validation sets; NaN if unknown.
    metric : str
        ``"accuracy"`` or ``"r2"``.
    diverged_epoch : int or None
        The epoch where training stopped as diverged, if the trainer said so.
    diverged : bool
        The run ended as diverged (even without an epoch).
    alpha : float or None
        The learning rate, to turn "alpha × 3" into a number.
    init : str or None
        The weight initialisation; ``"small"`` with two or more hidden layers explains a
        stuck curve.
    hidden_layers : int
        Number of hidden layers ``L - 1``.
    stochastic : bool
        Mini-batches or dropout: the epoch cost is noisy by design, so oscillation must be
        larger (:data:`NOISY_JITTER`) to count.
    running : bool
        Still training: the wording says "so far".

    Returns
    -------
    Diagnosis
    """
    curve = _finite(train_cost)
    c, epochs = curve.values, curve.epochs
    n = int(c.size)
    so_far = " so far" if running else ""

    def done(verdict: str, label: str, detail: str, epoch: int | None = None,
             numbers: dict[str, float] | None = None) -> Diagnosis:
        # A validation cost that rises with the training cost is the learning rate's doing,
        # not overfitting: the validation curve only counts while training goes well.
        gap_verdict, gap_detail, gap, val_rise = _judge_gap(
            c, epochs, val_cost if verdict not in ("too_large", "diverged") else None,
            train_metric, val_metric, metric)
        overall = verdict
        if verdict == "good" and gap_verdict == "large_gap":
            overall, label = "overfitting", "Overfitting: add L2/dropout"
        elif gap_verdict == "large_gap":
            gap_detail += " Get the training cost right first: the gap says more then."
        return Diagnosis(overall, label, detail, epoch, gap_verdict, gap_detail, verdict, n,
                         gap=gap, val_rise=val_rise, **(numbers or {}))

    blew_up = _nonfinite_epoch(train_cost) if n else None
    if diverged or diverged_epoch is not None or blew_up is not None:
        epoch = diverged_epoch if diverged_epoch is not None else blew_up
        where = f" at epoch {epoch}" if epoch is not None else ""
        path = f" after {_num(float(c[0]))} → {_num(float(c[-1]))}" if n else ""
        return done(
            "diverged", "Diverged: cut alpha ÷10",
            f"The cost became non-finite or exploded{where}{path}: alpha is far too large. "
            f"Reduce it now: try {_times(alpha, 10, '÷')}.",
            epoch,
        )
    if n < MIN_EPOCHS:
        what = f"Only {n} epoch{'s' if n != 1 else ''}{so_far}" if n else "No epochs yet"
        return done("too_early", "Too early to judge",
                    f"{what}: at least {MIN_EPOCHS} are needed to judge the cost curve.")

    w = max(1, min(SMOOTH_WINDOW, n // 10))
    s = _smoothed(c, w)
    h = n // 2
    start, end, first = float(s[h - w + 1]), float(s[-1]), float(c[0])
    lowest = min(first, float(s.min()))
    half_drop = -_relative(end, start)
    total_drop = -_relative(end, first)
    rise = _relative(end, lowest)
    d = np.diff(c[h:])
    moved = float(np.abs(d).sum())
    rise_share = float(np.clip(d, 0.0, None).sum()) / moved if moved > 0 else 0.0
    jitter = moved / max(d.size, 1) / max(abs(float(c[h:].mean())), 1e-12)
    numbers = {"half_drop": half_drop, "total_drop": total_drop, "rise": rise,
               "rise_share": rise_share, "jitter": jitter}
    last_half = f"over the last half{so_far}, epochs {int(epochs[h])}–{int(epochs[-1])}"

    if rise > RISE_TOLERANCE:
        epoch = _first_rise(c, epochs)
        return done(
            "too_large", "Cost rising: cut alpha ÷10",
            f"The training cost is rising: it is now {_num(end)}, {_pct(rise)} above its "
            f"lowest {_num(lowest)}, and first jumped above its best at epoch {epoch}. "
            f"Reduce alpha now: try {_times(alpha, 10, '÷')}.",
            epoch, numbers,
        )
    floor = NOISY_JITTER if stochastic else JITTER_FLOOR
    if rise_share >= OSCILLATION_SHARE and jitter >= floor:
        epoch = _first_rise(c, epochs)
        return done(
            "too_large", "Oscillating: cut alpha ÷3",
            f"The training cost oscillates {last_half}: {_pct(rise_share)} of its movement "
            f"goes up, by {_pct(jitter)} of its level per epoch on average, first at epoch "
            f"{epoch}. Reduce alpha: try {_times(alpha, 3, '÷')} or ÷10.",
            epoch, numbers,
        )
    fell = (f"The training cost fell {_pct(half_drop)} {last_half} "
            f"({_num(start)} → {_num(end)}), and {_pct(total_drop)} since epoch "
            f"{int(epochs[0])} ({_num(first)})")
    if half_drop < SLOW_DROP and total_drop >= CONVERGED_DROP:
        return done("good", "Good: levelled off",
                    f"{fell}: it has levelled off after a large fall, so it has converged.",
                    numbers=numbers)
    if half_drop < FLAT_DROP:
        hint = ""
        if init == "small" and hidden_layers >= 2:
            hint = (f" With init = small (random × 0.01) and {hidden_layers} hidden layers "
                    "the signal shrinks layer by layer and a deep net stalls: try init = he "
                    "or xavier.")
        return done(
            "stuck", "Stuck: larger alpha or new net",
            f"{fell}: learning is stuck. Try a larger alpha, e.g. "
            f"{_times(alpha, 10, '×')}, or another architecture.{hint}",
            numbers=numbers,
        )
    if half_drop < SLOW_DROP:
        return done(
            "too_small", "LR too small: try ×3",
            f"{fell}: it is learning, but slowly; the learning rate is likely too small. "
            f"Try {_times(alpha, 3, '×')}.",
            numbers=numbers,
        )
    return done("good", "Good: cost falling",
                f"{fell}: learning is happening.", numbers=numbers)


def _judge_gap(
    c: np.ndarray,
    epochs: np.ndarray,
    val_cost: ArrayLike | None,
    train_metric: float,
    val_metric: float,
    metric: str,
) -> tuple[str | None, str, float, float]:
    """``(gap_verdict, gap_detail, gap, val_rise)`` from the final figures and the
    validation cost curve."""
    sentences: list[str] = []
    large = small = False
    gap = train_metric - val_metric
    if math.isfinite(gap):
        r2 = metric == "r2"
        limit = GAP_R2 if r2 else GAP_ACCURACY
        name = "R²" if r2 else "accuracy"
        size = f"{gap:.3f}" if r2 else f"{100 * gap:.1f} points"
        bound = f"{limit:g}" if r2 else f"{100 * limit:g} points"
        figures = (f"Train {name} {train_metric:.3f} vs validation {val_metric:.3f}: "
                   f"a gap of {size}")
        if gap > limit:
            large = True
            sentences.append(f"{figures} (more than {bound}): overfitting. Add L2 or dropout, "
                             "or get more data.")
        else:
            small = True
            sentences.append(f"{figures} (at most {bound}): the model generalises.")
    val_rise = math.nan
    v = _finite(val_cost)
    if v.values.size >= MIN_EPOCHS and c.size:
        w = max(1, min(SMOOTH_WINDOW, v.values.size // 10))
        s = _smoothed(v.values, w)
        best = int(np.argmin(s))
        lowest = float(s[best])
        val_rise = _relative(float(s[-1]), lowest)
        best_epoch = int(v.epochs[best + w - 1])
        # Overfitting only if training kept improving meanwhile; a rising training cost is
        # the learning rate's fault and has its own verdict.
        train_then = c[epochs <= best_epoch]
        still_falling = train_then.size > 0 and float(c[-1]) < float(train_then[-1])
        if val_rise > VAL_RISE and still_falling:
            large = True
            sentences.append(
                f"The validation cost is {_pct(val_rise)} above its lowest ({_num(lowest)} "
                f"around epoch {best_epoch}) while the training cost kept falling: "
                "overfitting since then (early stopping would keep that epoch).")
    verdict = "large_gap" if large else "small_gap" if small else None
    return verdict, " ".join(sentences), gap, val_rise


def _last_finite(values: Any) -> float:
    curve = _finite(values)
    return float(curve.values[-1]) if curve.values.size else math.nan


def _column(history: Any, name: str) -> Any:
    if isinstance(history, Mapping):
        return history.get(name)
    return getattr(history, name, None)


def diagnose(source: Any, **overrides: Any) -> Diagnosis:
    """Diagnose an experiment record, a training result, or a mapping of curves.

    Parameters
    ----------
    source
        An ``ExperimentRecord`` (``.history``, ``.state``, ``.diverged_epoch``,
        ``.hyperparameters``, ``.train_metric``, ``.val_metric``, ``.metric``), a
        ``TrainResult`` (the same with ``.status`` for ``.state``), or a mapping with at
        least ``"train_cost"`` (and optionally ``"val_cost"``) curves.
    **overrides
        Keyword arguments of :func:`diagnose_curves`, replacing what ``source`` says.

    Returns
    -------
    Diagnosis
    """
    if isinstance(source, Mapping):
        return diagnose_curves(source["train_cost"], source.get("val_cost"), **overrides)
    history = source.history
    state = str(getattr(source, "state", getattr(source, "status", "")))
    train_metric = float(getattr(source, "train_metric", math.nan))
    val_metric = float(getattr(source, "val_metric", math.nan))
    # A running experiment has no final figures yet: use the latest measured ones.
    if not math.isfinite(train_metric) and state != "diverged":
        train_metric = _last_finite(_column(history, "train_metric"))
    if not math.isfinite(val_metric) and state != "diverged":
        val_metric = _last_finite(_column(history, "val_metric"))
    hp = getattr(source, "hyperparameters", None)
    kwargs: dict[str, Any] = {
        "train_metric": train_metric,
        "val_metric": val_metric,
        "metric": getattr(source, "metric", "accuracy"),
        "diverged_epoch": getattr(source, "diverged_epoch", None),
        "diverged": state == "diverged",
        "running": state == "running",
    }
    if hp is not None:
        kwargs.update(
            alpha=hp.alpha,
            init=hp.init,
            hidden_layers=len(hp.hidden),
            stochastic=hp.batch_size is not None or hp.keep_prob < 1,
        )
    kwargs.update(overrides)
    train_cost = _column(history, "train_cost")
    return diagnose_curves(np.empty(0) if train_cost is None else train_cost,
                           _column(history, "val_cost"), **kwargs)
