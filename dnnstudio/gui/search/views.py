"""Views of a search: what each hyperparameter did, how the strategies compare, what mattered.

Five tabs over :class:`~.data.SearchSnapshot` values (plain data, so every view can be drawn
from constructed trials):

* **Objective**: the validation metric against each varied hyperparameter, one small plot
  each, on a log axis where the search is log-scaled, categories (activations, networks) as
  named ticks; pruned trials are hollow, diverged ones red crosses. Click a point to select
  its experiment.
* **Parallel coordinates**: one line per trial across normalised axes (log where log),
  coloured by the objective.
* **Best so far**: the best objective against trial number, one line per search that varies
  the same hyperparameters, overlaid: the strategy comparison shows grid, random and TPE side
  by side.
* **Importance**: Optuna's importance evaluators, computed in a worker thread.
* **Cost curves**: every trial's training cost with the advisor's verdict: the learning-rate
  lab's too small, good and too large at a glance.

Redraws are throttled (at most four a second) and only the visible tab is drawn.
"""

from __future__ import annotations

import importlib.util
import json
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...search.spec import SearchSpec
from ...search.strategies import TrialResult
from ..palette import PALETTE, color_for
from .data import (
    SearchSnapshot,
    TrialView,
    best_so_far,
    categories,
    format_params,
    format_value,
    is_categorical,
    numeric_bounds,
)

__all__ = [
    "MIN_IMPORTANCE_TRIALS",
    "BestSoFarPlot",
    "CostCurves",
    "ImportanceResult",
    "ImportanceView",
    "ObjectivePlots",
    "ParallelCoordinates",
    "SearchViews",
    "importance_evaluators",
]

OBJECTIVE_TAB, PARALLEL_TAB, BEST_TAB, IMPORTANCE_TAB, CURVES_TAB = range(5)
"""The tabs of :class:`SearchViews`, in order."""
REDRAW_MS = 250
"""Views redraw at most this often (four times a second) while trials finish."""
MIN_IMPORTANCE_TRIALS = 4
"""Completed trials needed before importances mean anything."""
PRUNED_PEN = pg.mkPen((130, 90, 160), width=1.5)
DIVERGED_PEN = pg.mkPen((200, 40, 40), width=2)
GREY = QColor(150, 150, 150)
STRATEGY_COLOURS = {"grid": PALETTE[0], "random": PALETTE[1], "bayesian": PALETTE[4]}
COLORMAP = pg.colormap.get("viridis")


def _plot_style(plot: pg.PlotItem) -> None:
    plot.showGrid(x=True, y=True, alpha=0.2)
    for side in ("left", "bottom"):
        axis = plot.getAxis(side)
        axis.enableAutoSIPrefix(False)
        axis.setTextPen("k")
        axis.setPen(pg.mkPen((90, 90, 90)))


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _tip_text(snapshot: SearchSnapshot, trial: TrialView) -> str:
    value = trial.value
    figure = "—" if value is None else f"{value:.4g}"
    lines = [f"#{trial.experiment_id} (trial {trial.number}): {format_params(trial.params)}",
             f"{snapshot.objective_label} {figure}", trial.status]
    if trial.verdict:
        lines[-1] += f" · {trial.verdict}"
    if trial.status in ("pruned", "diverged") and trial.message:
        lines.append(trial.message)
    return "\n".join(lines)


def log_ticks(low: float, high: float) -> list[tuple[float, str]]:
    """Ticks ``(log10(v), "v")`` at round values from ``low`` to ``high`` (both > 0): every
    decade, with 2 and 5 between when the span is short, every other decade when it is
    long."""
    first, last = math.floor(math.log10(low) + 1e-9), math.ceil(math.log10(high) - 1e-9)
    decades = list(range(first, last + 1))
    mantissas = (1, 2, 5) if last - first <= 2 else (1,)
    if len(decades) > 8:
        decades = decades[::2]
    ticks = []
    for k in decades:
        for m in mantissas:
            v = float(f"{m}e{k}")
            if low * (1 - 1e-9) <= v <= high * (1 + 1e-9) or (m == 1 and len(mantissas) == 1):
                ticks.append((math.log10(v), f"{v:g}"))
    return ticks


def _bad_end(values: Sequence[float], maximize: bool) -> float:
    """Where a trial without a figure is drawn: just beyond the worst figure."""
    if not values:
        return 0.0
    low, high = min(values), max(values)
    pad = 0.08 * (high - low) if high > low else 0.05 * max(abs(high), 1e-3)
    return low - pad if maximize else high + pad


# -- objective against each hyperparameter --------------------------------------------------------
class ObjectivePlots(pg.GraphicsLayoutWidget):
    """The objective against each varied hyperparameter, one small plot each.

    Signals
    -------
    experimentClicked(int)
    """

    experimentClicked = Signal(int)
    COLUMNS = 3

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent=parent)
        self.setBackground("w")
        self._layout_key: Any = None
        self.plots: dict[str, pg.PlotItem] = {}
        self._items: dict[str, dict[str, pg.ScatterPlotItem]] = {}
        self._tips: dict[int, str] = {}
        self._selected: set[int] = set()
        self._snapshot: SearchSnapshot | None = None
        self._message = pg.LabelItem("", color=(110, 110, 110))
        self._log_names: set[str] = set()

    def set_snapshot(self, snapshot: SearchSnapshot | None) -> None:
        key = None if snapshot is None else (snapshot.name, snapshot.spec.space.names,
                                             snapshot.objective_label)
        if key != self._layout_key:
            self._layout_key = key
            self._rebuild(snapshot)
        self._snapshot = snapshot
        if snapshot is not None:
            self._fill(snapshot)

    def set_selected(self, ids: Collection[int]) -> None:
        self._selected = set(ids)
        if self._snapshot is not None:
            self._fill(self._snapshot)

    def points(self, name: str, kind: str = "complete") -> list[tuple[float, float, int]]:
        """Drawn points ``(x, y, experiment id)`` of one plot (x as plotted: log10 on a log
        axis, the index of a category); ``kind`` is complete, pruned or diverged."""
        item = self._items[name][kind]
        return [(float(p.pos().x()), float(p.pos().y()), int(p.data())) for p in item.points()]

    def is_log(self, name: str) -> bool:
        """True if the plot of ``name`` has a log x axis (its points are at log10 values)."""
        return name in self._log_names

    def _rebuild(self, snapshot: SearchSnapshot | None) -> None:
        self.clear()
        self.plots, self._items = {}, {}
        self._log_names = set()
        if snapshot is None:
            self.addItem(self._message)
            self._message.setText("No search yet: start one from the Search menu.")
            return
        spec = snapshot.spec
        names = spec.space.names
        columns = min(self.COLUMNS, len(names))
        for i, name in enumerate(names):
            plot = self.addPlot(row=i // columns, col=i % columns)
            _plot_style(plot)
            plot.setLabel("bottom", name)
            if i % columns == 0:
                plot.setLabel("left", snapshot.objective_label)
            plot.setMenuEnabled(False)
            if is_categorical(spec, name):
                values = categories(spec, name)
                ticks = [(float(j), format_value(name, v)) for j, v in enumerate(values)]
                plot.getAxis("bottom").setTicks([ticks])
                plot.setXRange(-0.5, len(values) - 0.5, padding=0)
            elif self._log(spec, name):
                # Log axes plot log10(value), with ticks at round values: 0.001, 0.01, ...
                self._log_names.add(name)
                low, high = numeric_bounds(spec, name)
                plot.getAxis("bottom").setTicks([log_ticks(low, high)])
            items = {
                "complete": pg.ScatterPlotItem(size=10, pen=pg.mkPen("k", width=0.5)),
                "pruned": pg.ScatterPlotItem(size=9, symbol="o", brush=None, pen=PRUNED_PEN),
                "diverged": pg.ScatterPlotItem(size=11, symbol="x", brush=pg.mkBrush(200, 40, 40),
                                               pen=DIVERGED_PEN),
                "selected": pg.ScatterPlotItem(size=17, symbol="o", brush=None,
                                               pen=pg.mkPen("k", width=2)),
            }
            for kind, item in items.items():
                plot.addItem(item)
                if kind != "selected":
                    item.opts["hoverable"] = True
                    item.opts["tip"] = self._tip
                    item.sigClicked.connect(self._on_clicked)
            self.plots[name] = plot
            self._items[name] = items

    @staticmethod
    def _log(spec: SearchSpec, name: str) -> bool:
        low, _ = numeric_bounds(spec, name)
        return spec.space.is_log(name) and low > 0

    def _x(self, spec: SearchSpec, name: str, value: Any) -> float | None:
        if is_categorical(spec, name):
            keys = [_key(v) for v in categories(spec, name)]
            try:
                return float(keys.index(_key(value)))
            except ValueError:
                return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        if self.is_log(name):
            return math.log10(value) if value > 0 else None
        return float(value)

    def _fill(self, snapshot: SearchSnapshot) -> None:
        spec = snapshot.spec
        finite = [t.value for t in snapshot.trials if t.value is not None]
        bad = _bad_end(finite, spec.maximize)
        self._tips = {t.experiment_id: _tip_text(snapshot, t) for t in snapshot.trials}
        for name, items in self._items.items():
            spots: dict[str, list[dict[str, Any]]] = {k: [] for k in items}
            for trial in snapshot.trials:
                x = self._x(spec, name, trial.params.get(name))
                if x is None or not trial.finished:
                    continue
                value = trial.value
                if trial.status == "diverged":
                    kind = "diverged"
                    y = value if value is not None else bad
                elif trial.complete and value is not None:
                    kind, y = "complete", value
                elif trial.status == "pruned" and value is not None:
                    kind, y = "pruned", value
                else:
                    continue  # cancelled or failed: it says nothing about the values
                spot: dict[str, Any] = {"pos": (x, y), "data": trial.experiment_id}
                if kind == "complete":
                    spot["brush"] = pg.mkBrush(color_for(trial.experiment_id))
                spots[kind].append(spot)
                if trial.experiment_id in self._selected:
                    spots["selected"].append({"pos": (x, y), "data": trial.experiment_id})
            for kind, item in items.items():
                item.setData(spots[kind])

    def _tip(self, x: float, y: float, data: Any) -> str:
        return self._tips.get(int(data), f"#{data}")

    def _on_clicked(self, item: Any, points: Any, *args: Any) -> None:
        if len(points):
            self.experimentClicked.emit(int(points[0].data()))


# -- parallel coordinates -------------------------------------------------------------------------
@dataclass(frozen=True)
class _Axis:
    name: str
    position: Callable[[Any], float | None]
    ticks: list[tuple[float, str]]


class ParallelCoordinates(QWidget):
    """One line per finished trial across one vertical axis per hyperparameter and one for
    the objective; each axis spans its values (log where the search is log-scaled).

    Signals
    -------
    experimentClicked(int)
    """

    experimentClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(self, background="w")
        item = self.plot.getPlotItem()
        item.hideAxis("left")
        item.hideAxis("bottom")
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        item.setMenuEnabled(False)
        self.legend = QLabel(self)
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.legend)
        self._curves: dict[int, pg.PlotCurveItem] = {}
        self._selected: set[int] = set()
        self._snapshot: SearchSnapshot | None = None

    def line_count(self) -> int:
        return len(self._curves)

    def line(self, experiment_id: int) -> np.ndarray:
        """The heights (0..1) of one trial's line, axis by axis."""
        _, y = self._curves[experiment_id].getData()
        return np.asarray(y)

    def set_selected(self, ids: Collection[int]) -> None:
        self._selected = set(ids)
        if self._snapshot is not None:
            self.set_snapshot(self._snapshot)

    def _axes(self, snapshot: SearchSnapshot) -> list[_Axis]:
        spec = snapshot.spec
        axes = []
        for name in spec.space.names:
            if is_categorical(spec, name):
                values = categories(spec, name)
                keys = [_key(v) for v in values]
                span = max(len(values) - 1, 1)

                def position(v: Any, keys: list[str] = keys, span: int = span) -> float | None:
                    try:
                        return keys.index(_key(v)) / span if len(keys) > 1 else 0.5
                    except ValueError:
                        return None

                ticks = [(j / span if len(values) > 1 else 0.5, format_value(name, v))
                         for j, v in enumerate(values)]
                axes.append(_Axis(name, position, ticks))
                continue
            seen = [float(t.params[name]) for t in snapshot.trials
                    if isinstance(t.params.get(name), int | float)]
            low, high = numeric_bounds(spec, name, seen)
            log = spec.space.is_log(name) and low > 0
            axes.append(_numeric_axis(name, low, high, log))
        values = [t.value for t in snapshot.trials if t.value is not None and t.finished]
        if values:
            low, high = min(values), max(values)
        else:
            low, high = 0.0, 1.0
        axes.append(_numeric_axis(snapshot.objective_label, low, high, False))
        return axes

    def set_snapshot(self, snapshot: SearchSnapshot | None) -> None:
        self._snapshot = snapshot
        item = self.plot.getPlotItem()
        item.clear()
        self._curves = {}
        if snapshot is None:
            self.legend.setText("")
            return
        axes = self._axes(snapshot)
        small = QFont()
        small.setPointSize(8)
        bold = QFont()
        bold.setBold(True)
        for i, axis in enumerate(axes):
            item.addItem(pg.InfiniteLine(pos=i, angle=90, pen=pg.mkPen((120, 120, 120))))
            title = pg.TextItem(axis.name, color=(20, 20, 20), anchor=(0.5, 0.0))
            title.setFont(bold)
            title.setPos(i, -0.07)
            item.addItem(title)
            for y, text in axis.ticks:
                label = pg.TextItem(text, color=(60, 60, 60), anchor=(1.0, 0.5),
                                    fill=pg.mkBrush(255, 255, 255, 190))
                label.setFont(small)
                label.setPos(i - 0.03, y)
                item.addItem(label)
        maximize = snapshot.spec.maximize
        values = [t.value for t in snapshot.trials if t.value is not None and t.finished]
        low, high = (min(values), max(values)) if values else (0.0, 1.0)

        def goodness(v: float) -> float:
            t = (v - low) / (high - low) if high > low else 1.0
            return t if maximize else 1.0 - t

        objective = axes[-1]
        drawn: list[tuple[float, TrialView, list[float]]] = []
        for trial in snapshot.trials:
            if not trial.finished or trial.status in ("cancelled", "failed", "interrupted"):
                continue
            heights = [axis.position(trial.params.get(axis.name)) for axis in axes[:-1]]
            if any(h is None for h in heights):
                continue
            value = trial.value
            end = objective.position(value) if value is not None else (-0.06 if maximize
                                                                        else 1.06)
            ys = [float(h) for h in heights if h is not None] + [float(end or 0.0)]
            rank = goodness(value) if trial.complete and value is not None else -1.0
            drawn.append((rank, trial, ys))
        drawn.sort(key=lambda d: (d[1].experiment_id in self._selected, d[0]))
        xs = np.arange(len(axes), dtype=float)
        for rank, trial, ys in drawn:
            if trial.experiment_id in self._selected:
                pen = pg.mkPen("k", width=3.5)
            elif rank < 0:
                pen = pg.mkPen(GREY, width=1.2, style=Qt.PenStyle.DashLine)
            else:
                pen = pg.mkPen(COLORMAP.map(rank, mode="qcolor"), width=2)
            curve = pg.PlotCurveItem(xs, np.asarray(ys), pen=pen)
            curve.setClickable(True, width=8)
            curve.sigClicked.connect(
                lambda _c, *_a, i=trial.experiment_id: self.experimentClicked.emit(i))
            curve.setToolTip(_tip_text(snapshot, trial))
            item.addItem(curve)
            self._curves[trial.experiment_id] = curve
        item.setXRange(-0.45, len(axes) - 0.75, padding=0)
        item.setYRange(-0.22, 1.08, padding=0)
        best, worst = ("yellow", "purple")
        self.legend.setText(
            f"<span style='color:#555'>Colour: {snapshot.objective_label}, {worst} = worst "
            f"({(high if not maximize else low):.4g}) to {best} = best "
            f"({(low if not maximize else high):.4g}); dashed grey: pruned or diverged. "
            "Click a line to select its experiment.</span>")


def _numeric_axis(name: str, low: float, high: float, log: bool) -> _Axis:
    if log:
        a, b = math.log10(low), math.log10(high)
    else:
        a, b = low, high

    def position(v: Any) -> float | None:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            return None
        if log:
            if v <= 0:
                return None
            t = math.log10(v)
        else:
            t = float(v)
        return (t - a) / (b - a) if b > a else 0.5

    if b > a and log:
        # Round values (0.001, 0.01, ...) on the axis, as on the objective plots' log axes.
        ticks = [((t - a) / (b - a), text) for t, text in log_ticks(low, high)
                 if a - 1e-9 <= t <= b + 1e-9]
    elif b > a:
        ticks = [(position(v) or 0.0, f"{v:.3g}") for v in (low, (low + high) / 2, high)]
    else:
        ticks = [(0.5, f"{low:.3g}")]
    return _Axis(name, position, ticks)


# -- best so far ----------------------------------------------------------------------------------
class BestSoFarPlot(pg.PlotWidget):
    """The best objective so far against trial number, one line per search."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent=parent, background="w")
        item = self.getPlotItem()
        _plot_style(item)
        item.setLabel("bottom", "trial")
        self.legend = item.addLegend(offset=(-10, -10), labelTextColor=(30, 30, 30),
                                     brush=pg.mkBrush(255, 255, 255, 220))
        self._items: list[Any] = []
        self._points: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def names(self) -> list[str]:
        return list(self._points)

    def line(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Trial numbers and the best objective after each, of search ``name``."""
        return self._points[name]

    def set_snapshots(self, snapshots: Sequence[SearchSnapshot], current: str | None) -> None:
        """Overlay the searches that vary the same hyperparameters for the same objective as
        ``current`` (default: the newest), as the strategy comparison's three do."""
        item = self.getPlotItem()
        for old in self._items:
            item.removeItem(old)
        self.legend.clear()
        self._items, self._points = [], {}
        chosen = next((s for s in snapshots if s.name == current), None)
        if chosen is None and snapshots:
            chosen = snapshots[-1]
        if chosen is None:
            return
        item.setLabel("left", f"best {chosen.objective_label} so far")
        counts: dict[str, int] = {}
        for snapshot in snapshots:
            if (snapshot.spec.objective != chosen.spec.objective
                    or set(snapshot.spec.space.names) != set(chosen.spec.space.names)):
                continue  # only searches of the same question compare
            x, y = best_so_far(snapshot.trials, snapshot.spec.maximize)
            self._points[snapshot.name] = (x, y)
            strategy = snapshot.spec.strategy
            n = counts.get(strategy, 0)
            counts[strategy] = n + 1
            colour = QColor(STRATEGY_COLOURS.get(strategy, PALETTE[2]))
            width = 3.5 if snapshot.name == chosen.name else 2.0
            style = (Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine, Qt.PenStyle.DotLine)[n % 3]
            # Drawn as steps: the best stays until a trial beats it.
            sx = np.repeat(x, 2)[1:]
            sy = np.repeat(y, 2)[:-1]
            line = item.plot(sx, sy, pen=pg.mkPen(colour, width=width, style=style),
                             name=snapshot.name)
            dots = pg.ScatterPlotItem(x, y, size=7, brush=pg.mkBrush(colour), pen=None)
            item.addItem(dots)
            self._items += [line, dots]
        item.enableAutoRange()


# -- importance -----------------------------------------------------------------------------------
def importance_evaluators() -> dict[str, str]:
    """Optuna's importance evaluators that can run here, by the name shown to the user.

    fANOVA and the mean decrease in impurity fit random forests with scikit-learn, so they
    are offered only when it is installed; PED-ANOVA needs nothing more.
    """
    out: dict[str, str] = {}
    if importlib.util.find_spec("sklearn") is not None:
        out["fANOVA"] = "fanova"
        out["Mean decrease impurity"] = "mdi"
    out["PED-ANOVA"] = "ped_anova"
    return out


@dataclass(frozen=True)
class ImportanceResult:
    """Importances of one search's hyperparameters (most important first), or why not.

    Attributes
    ----------
    name : str
        The search.
    evaluator : str
    importances : dict of str to float
        Empty when there are none; then ``message`` says why.
    message : str
    """

    name: str
    evaluator: str
    importances: dict[str, float] = field(default_factory=dict)
    message: str = ""


def compute_importance(spec: SearchSpec, trials: Sequence[TrialResult], evaluator: str
                       ) -> dict[str, float]:
    """``optuna.importance.get_param_importances`` over ``trials`` (slow: call it off the GUI
    thread)."""
    import optuna

    from ...search.strategies import optuna_study

    if evaluator == "fanova":
        chosen: Any = optuna.importance.FanovaImportanceEvaluator(seed=0)
    elif evaluator == "mdi":
        chosen = optuna.importance.MeanDecreaseImpurityImportanceEvaluator(seed=0)
    else:
        chosen = optuna.importance.PedAnovaImportanceEvaluator()
    study = optuna_study(spec, trials)
    result = optuna.importance.get_param_importances(study, evaluator=chosen)
    return {str(k): float(v) for k, v in result.items()}


class _Relay(QObject):
    """Lives in the GUI thread; a task emits through it, so the slot runs there."""

    done = Signal(int, object)


class _ImportanceTask(QRunnable):
    def __init__(self, token: int, name: str, spec: SearchSpec, trials: list[TrialResult],
                 evaluator: str, relay: _Relay) -> None:
        super().__init__()
        self._token, self._name, self._spec = token, name, spec
        self._trials, self._evaluator, self._relay = trials, evaluator, relay

    def run(self) -> None:
        try:
            importances = compute_importance(self._spec, self._trials, self._evaluator)
            result = ImportanceResult(self._name, self._evaluator, importances)
        except Exception as exc:  # Optuna refuses (too few distinct values...): say why
            result = ImportanceResult(self._name, self._evaluator,
                                      message=f"No importances yet: {exc}")
        self._relay.done.emit(self._token, result)


class ImportanceView(QWidget):
    """How much each hyperparameter explains of the objective's variation, as horizontal
    bars; computed in a worker thread whenever the finished trials change.

    Signals
    -------
    importanceComputed(object)
        An :class:`ImportanceResult` for the search shown (also when there are too few
        trials: then its message says so).
    """

    importanceComputed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # The pool is made before the relay, so it is destroyed (waiting for its task) after.
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = _Relay(self)
        self._relay.done.connect(self._on_done)
        self.evaluator_combo = QComboBox(self)
        for label, key in importance_evaluators().items():
            self.evaluator_combo.addItem(label, key)
        self.evaluator_combo.setToolTip(
            "Optuna's importance evaluator. fANOVA and mean decrease impurity need "
            "scikit-learn; PED-ANOVA compares where the best trials' values lie with where all "
            "of them lie.")
        self.evaluator_combo.currentIndexChanged.connect(lambda _: self.compute(force=True))
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.plot = pg.PlotWidget(self, background="w")
        item = self.plot.getPlotItem()
        _plot_style(item)
        item.setLabel("bottom", "importance (share of the objective's variation)")
        item.setMouseEnabled(x=False, y=False)
        item.setMenuEnabled(False)
        self._bars = pg.BarGraphItem(x0=[], y=[], height=0.6, width=[],
                                     brush=pg.mkBrush(PALETTE[0]))
        item.addItem(self._bars)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Evaluator"))
        bar.addWidget(self.evaluator_combo)
        bar.addWidget(self.message, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.plot, 1)
        self._snapshot: SearchSnapshot | None = None
        self._token = 0
        self._last_key: Any = None
        self._shown: dict[str, float] = {}

    def importances(self) -> dict[str, float]:
        """What the bars show."""
        return dict(self._shown)

    def is_busy(self) -> bool:
        return self._pool.activeThreadCount() > 0

    def set_snapshot(self, snapshot: SearchSnapshot | None) -> None:
        self._snapshot = snapshot
        self.compute()

    def compute(self, *, force: bool = False) -> None:
        """Work out the importances of the search shown, in a worker thread, unless its
        finished trials are the same as last time."""
        snapshot = self._snapshot
        evaluator = str(self.evaluator_combo.currentData())
        if snapshot is None:
            self._show(ImportanceResult("", evaluator, message="No search yet."))
            return
        finished = tuple((t.number, t.result.state.value, t.value) for t in snapshot.trials
                         if t.finished)
        key = (snapshot.name, evaluator, finished)
        if key == self._last_key and not force:
            return
        self._last_key = key
        self._token += 1
        complete = sum(1 for t in snapshot.trials if t.complete)
        if complete < MIN_IMPORTANCE_TRIALS:
            result = ImportanceResult(
                snapshot.name, evaluator,
                message=f"Importance needs at least {MIN_IMPORTANCE_TRIALS} completed trials; "
                        f"{snapshot.name} has {complete} so far.")
            self._show(result)
            self.importanceComputed.emit(result)
            return
        self.message.setText(f"Computing the importances of {snapshot.name}…")
        self._pool.start(_ImportanceTask(self._token, snapshot.name, snapshot.spec,
                                         snapshot.results(), evaluator, self._relay))

    def shutdown(self) -> None:
        """Wait for a computation still running (before the widget goes)."""
        self._token += 1
        self._pool.waitForDone()

    def _on_done(self, token: int, result: ImportanceResult) -> None:
        if token != self._token:
            return  # the trials changed since: a newer computation is on its way
        self._show(result)
        self.importanceComputed.emit(result)

    def _show(self, result: ImportanceResult) -> None:
        self._shown = dict(result.importances)
        names = list(result.importances)
        values = [result.importances[n] for n in names]
        n = len(names)
        ys = [n - 1 - i for i in range(n)]  # the most important on top
        self._bars.setOpts(x0=[0.0] * n, y=ys, height=0.6, width=values)
        axis = self.plot.getPlotItem().getAxis("left")
        axis.setTicks([[(y, name) for y, name in zip(ys, names, strict=True)]])
        item = self.plot.getPlotItem()
        if n:
            item.setYRange(-0.6, n - 0.4, padding=0)
            item.setXRange(0, max(max(values), 1e-9) * 1.05, padding=0)
        if result.message:
            self.message.setText(result.message)
        elif n:
            label = self.evaluator_combo.currentText()
            alone = " With one varied hyperparameter, it explains everything." if n == 1 else ""
            self.message.setText(f"{result.name}: {label} over its completed trials.{alone}")


# -- cost curves ----------------------------------------------------------------------------------
class CostCurves(QWidget):
    """Every trial's training cost per epoch (log scale) with the advisor's verdict."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(self, background="w")
        item = self.plot.getPlotItem()
        _plot_style(item)
        item.setLabel("bottom", "epoch")
        item.setLabel("left", "training cost J (log scale)")
        self.key = QLabel(self)
        self.key.setTextFormat(Qt.TextFormat.RichText)
        self.key.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.key.setWordWrap(True)
        scroll = QScrollArea(self)
        scroll.setWidget(self.key)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(200)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self.plot)
        splitter.addWidget(scroll)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self._curves: dict[int, pg.PlotDataItem] = {}
        self._selected: set[int] = set()

    def curve_ids(self) -> list[int]:
        return list(self._curves)

    def set_selected(self, ids: Collection[int]) -> None:
        self._selected = set(ids)
        for ident, curve in self._curves.items():
            curve.setPen(self._pen(ident))

    def _pen(self, ident: int) -> Any:
        return pg.mkPen(color_for(ident), width=3.5 if ident in self._selected else 1.6)

    def set_snapshot(self, snapshot: SearchSnapshot | None) -> None:
        item = self.plot.getPlotItem()
        trials = [] if snapshot is None else [t for t in snapshot.trials if t.train_cost.size]
        wanted = {t.experiment_id for t in trials}
        low, high = math.inf, -math.inf
        for ident in list(self._curves):
            if ident not in wanted:
                item.removeItem(self._curves.pop(ident))
        lines = []
        for trial in trials:
            cost = trial.train_cost
            epochs = np.arange(1, cost.size + 1, dtype=float)
            ok = np.isfinite(cost) & (cost > 0)
            if ok.any():
                low = min(low, float(cost[ok].min()))
                high = max(high, float(cost[ok].max()))
            curve = self._curves.get(trial.experiment_id)
            if curve is None:
                curve = item.plot([], [], pen=self._pen(trial.experiment_id))
                curve.setDownsampling(auto=True, method="peak")
                curve.setClipToView(True)
                self._curves[trial.experiment_id] = curve
            # log10 of the cost, with ticks at round costs: pyqtgraph's own log axis labels
            # every minor tick, which a short plot cannot hold.
            curve.setData(epochs[ok], np.log10(cost[ok]))
            colour = QColor(color_for(trial.experiment_id)).name()
            verdict = trial.verdict or trial.status
            lines.append(f"<span style='color:{colour}'>■</span> "
                         f"#{trial.experiment_id} {format_params(trial.params)}: "
                         f"<b>{verdict}</b>")
        if math.isfinite(low) and high > 0:
            item.getAxis("left").setTicks([log_ticks(low, max(high, low * 1.0001))])
        self.key.setText("<br>".join(lines) if lines else
                         "<span style='color:#777'>No trial has trained yet.</span>")


# -- all of them ----------------------------------------------------------------------------------
class SearchViews(QWidget):
    """A search picker above the five views.

    Signals
    -------
    experimentSelected(int)
        A point or line was clicked: select that experiment.
    currentChanged(str)
        Another search is shown.
    """

    experimentSelected = Signal(int)
    currentChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = QComboBox(self)
        self.combo.setToolTip("Which search the views show")
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.objective = ObjectivePlots(self)
        self.parallel = ParallelCoordinates(self)
        self.best = BestSoFarPlot(self)
        self.importance = ImportanceView(self)
        self.curves = CostCurves(self)
        objective_tab = QWidget(self)
        caption = QLabel(
            "<span style='color:#555'>● completed (colour of its experiment) &nbsp; ○ pruned, "
            "at the best it had reached &nbsp; <span style='color:#c82828'>✕</span> diverged, "
            "below the worst &nbsp;·&nbsp; click a point to select its experiment</span>",
            objective_tab)
        caption.setWordWrap(True)
        objective_layout = QVBoxLayout(objective_tab)
        objective_layout.setContentsMargins(0, 0, 0, 0)
        objective_layout.setSpacing(2)
        objective_layout.addWidget(self.objective, 1)
        objective_layout.addWidget(caption)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(objective_tab, "Objective")
        self.tabs.addTab(self.parallel, "Parallel coordinates")
        self.tabs.addTab(self.best, "Best so far")
        self.tabs.addTab(self.importance, "Importance")
        self.tabs.addTab(self.curves, "Cost curves")
        tips = ("The validation metric against each varied hyperparameter; log axes where the "
                "search is log-scaled. Hollow: pruned; red cross: diverged. Click a point to "
                "select its experiment.",
                "One line per trial across every varied hyperparameter and the objective.",
                "The best objective so far against trial number, every search overlaid: "
                "compare strategies on the same budget.",
                "Which hyperparameters explain the objective's variation (Optuna).",
                "Every trial's training cost with the advisor's verdict.")
        for i, tip in enumerate(tips):
            self.tabs.setTabToolTip(i, tip)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(QLabel("Search"))
        top.addWidget(self.combo)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)

        self._source: Callable[[], list[SearchSnapshot]] | None = None
        self._snapshots: dict[str, SearchSnapshot] = {}
        self._dirty: set[int] = set()
        self._selected: set[int] = set()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._pull)
        self.combo.currentIndexChanged.connect(self._on_combo)
        self.tabs.currentChanged.connect(self._draw_tab)
        for view in (self.objective, self.parallel):
            view.experimentClicked.connect(self.experimentSelected)
        self.set_snapshots([])

    # -- feeding ---------------------------------------------------------------------------
    def set_source(self, source: Callable[[], list[SearchSnapshot]] | None) -> None:
        """Where :meth:`refresh` takes the searches from."""
        self._source = source
        self.refresh()

    def refresh(self) -> None:
        """Redraw from the source soon (at most four times a second however often called)."""
        if self._source is not None and not self._timer.isActive():
            self._timer.start()

    def set_snapshots(self, snapshots: Sequence[SearchSnapshot]) -> None:
        """Show these searches now (the current one stays current if it is among them)."""
        self._snapshots = {s.name: s for s in snapshots}
        current = self.current_name()
        self.combo.blockSignals(True)
        self.combo.clear()
        for snapshot in snapshots:
            self.combo.addItem(snapshot.name, snapshot.name)
        index = self.combo.findData(current) if current else -1
        self.combo.setCurrentIndex(index if index >= 0 else self.combo.count() - 1)
        self.combo.blockSignals(False)
        self._dirty = set(range(self.tabs.count()))
        self._draw_tab(self.tabs.currentIndex())
        new = self.current_name()
        if new != current and new is not None:
            self.currentChanged.emit(new)

    def snapshot(self) -> SearchSnapshot | None:
        name = self.current_name()
        return None if name is None else self._snapshots.get(name)

    def current_name(self) -> str | None:
        data = self.combo.currentData()
        return data if isinstance(data, str) else None

    def set_current(self, name: str) -> None:
        index = self.combo.findData(name)
        if index >= 0 and index != self.combo.currentIndex():
            self.combo.setCurrentIndex(index)

    def set_selected(self, ids: Collection[int]) -> None:
        """Ring the selected experiments' points and thicken their lines."""
        self._selected = set(ids)
        self.objective.set_selected(ids)
        self.parallel.set_selected(ids)
        self.curves.set_selected(ids)

    def shutdown(self) -> None:
        self._timer.stop()
        self.importance.shutdown()

    # -- internals -------------------------------------------------------------------------
    def _pull(self) -> None:
        if self._source is not None:
            self.set_snapshots(self._source())

    def _on_combo(self, index: int) -> None:
        self._dirty = set(range(self.tabs.count()))
        self._draw_tab(self.tabs.currentIndex())
        name = self.current_name()
        if name is not None:
            self.currentChanged.emit(name)

    def _draw_tab(self, index: int) -> None:
        if index not in self._dirty:
            return
        self._dirty.discard(index)
        snapshot = self.snapshot()
        if index == OBJECTIVE_TAB:
            self.objective.set_snapshot(snapshot)
        elif index == PARALLEL_TAB:
            self.parallel.set_snapshot(snapshot)
        elif index == BEST_TAB:
            self.best.set_snapshots(list(self._snapshots.values()), self.current_name())
        elif index == IMPORTANCE_TAB:
            self.importance.set_snapshot(snapshot)
        elif index == CURVES_TAB:
            self.curves.set_snapshot(snapshot)
