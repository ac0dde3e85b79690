"""The search dialog, the list of searches and the search views, on constructed searches (no
worker processes)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from pytestqt.qtbot import QtBot

from dnnstudio.core.hyperparams import Hyperparameters
from dnnstudio.gui.search.data import SearchSnapshot, TrialView, best_so_far, explanation_for
from dnnstudio.gui.search.dialog import SearchDialog, grid_summary, parse_values
from dnnstudio.gui.search.model import SearchListModel, SearchRow
from dnnstudio.gui.search.views import (
    BEST_TAB,
    IMPORTANCE_TAB,
    MIN_IMPORTANCE_TRIALS,
    ImportanceResult,
    SearchViews,
    log_ticks,
)
from dnnstudio.search.presets import (
    COMPARISON_EXPLANATION,
    LR_LAB_EXPLANATION,
    learning_rate_lab,
    strategy_comparison,
)
from dnnstudio.search.space import SpecError
from dnnstudio.search.spec import SearchSpec
from dnnstudio.search.strategies import TrialResult, TrialState

EDITOR = Hyperparameters(alpha=0.05, epochs=300, hidden=(4,), activation="tanh")


# -- the dialog -----------------------------------------------------------------------------------
def _type(edit: Any, text: str) -> None:
    """As the person types: the text, then the signal typing sends."""
    edit.setText(text)
    edit.textEdited.emit(text)


def test_dialog_builds_the_spec_from_the_editor_and_the_rows(qtbot: QtBot) -> None:
    dialog = SearchDialog(EDITOR)
    qtbot.addWidget(dialog)
    alpha = dialog.dimension("alpha")  # the lesson's first search
    _type(alpha.values_edit, "0.01, 0.1")
    activation = dialog.add_dimension("activation")
    assert activation.kind() == "choices"
    activation.choice_checks["relu"].setChecked(False)
    activation.choice_checks["sigmoid"].setChecked(True)
    hidden = dialog.add_dimension("hidden")
    _type(hidden.values_edit, "4; 8; 16,16")

    spec = dialog.spec()
    assert spec is not None
    assert dialog.ok_button.isEnabled()
    assert dialog.summary_label.text() == "Grid: 2 × 2 × 3 = 12 trials"
    data = spec.to_dict()
    assert data["search"]["space"] == {"alpha": [0.01, 0.1], "activation": ["tanh", "sigmoid"],
                                       "hidden": [[4], [8], [16, 16]]}
    # Everything not varied stays as the editor has it.
    assert spec.fixed["epochs"] == 300
    assert "alpha" not in spec.fixed
    assert "hidden" not in spec.fixed
    assert spec.hyperparameters({"alpha": 0.1, "activation": "sigmoid", "hidden": [8]}) == \
        Hyperparameters(alpha=0.1, epochs=300, hidden=(8,), activation="sigmoid")

    # A log range for alpha by default, a linear one for the units; random search, a budget.
    dialog.remove_dimension("hidden")
    dialog.remove_dimension("activation")
    alpha.set_kind("range")
    assert alpha.log_check.isChecked()
    units = dialog.add_dimension("units")
    units.set_kind("range")
    assert not units.log_check.isChecked()
    dialog.strategy_combo.setCurrentIndex(dialog.strategy_combo.findData("random"))
    dialog.trials_spin.setValue(7)
    dialog.seconds_check.setChecked(True)
    dialog.seconds_spin.setValue(90)
    dialog.seed_spin.setValue(5)
    dialog.objective_combo.setCurrentIndex(dialog.objective_combo.findData("cost"))
    dialog.pruning_check.setChecked(False)
    spec = dialog.spec()
    assert spec is not None
    assert spec.space.dimensions["alpha"].log
    assert spec.space.dimensions["units"].integer
    assert (spec.strategy, spec.trials, spec.seconds, spec.seed, spec.objective) == (
        "random", 7, 90.0, 5, "cost")
    assert not spec.pruning.enabled
    assert not spec.maximize
    assert dialog.summary_label.text().startswith("Random: 7 trials")


@pytest.mark.parametrize(("row", "text", "key"), [
    ("alpha", "0.01, fast", "search.space.alpha"),
    ("alpha", "0.01, -1", "search.space.alpha[1]"),
    ("alpha", "", "search.space.alpha"),
    ("hidden", "4; 8,x", "search.space.hidden"),
    ("keep_prob", "0.5, 1.5", "search.space.keep_prob[1]"),
])
def test_dialog_refuses_bad_values_naming_the_key(qtbot: QtBot, row: str, text: str,
                                                  key: str) -> None:
    dialog = SearchDialog(EDITOR)
    qtbot.addWidget(dialog)
    line = dialog.dimension("alpha") if row == "alpha" else dialog.add_dimension(row)
    assert dialog.ok_button.isEnabled()
    _type(line.values_edit, text)
    error = dialog.error()
    assert error is not None
    assert error.key == key
    assert dialog.spec() is None
    assert not dialog.ok_button.isEnabled()
    assert dialog.error_label.text().startswith(f"{key}: ")
    assert line.property("invalid") is True
    # Fixing it takes the mark away.
    _type(line.values_edit, "0.5" if row != "hidden" else "4")
    assert dialog.error() is None
    assert dialog.ok_button.isEnabled()
    assert line.property("invalid") is False


def test_dialog_refuses_a_search_that_cannot_run(qtbot: QtBot) -> None:
    dialog = SearchDialog(EDITOR)
    qtbot.addWidget(dialog)
    alpha = dialog.dimension("alpha")
    alpha.set_kind("range")
    alpha.steps_spin.setValue(0)  # a grid needs steps
    assert dialog.error() is not None
    assert dialog.error().key == "search.space.alpha"
    assert "steps" in dialog.error_label.text()
    assert not dialog.ok_button.isEnabled()
    dialog.strategy_combo.setCurrentIndex(dialog.strategy_combo.findData("random"))
    assert dialog.error() is None  # random search samples the range
    dialog.trials_spin.setValue(0)  # ... but needs a budget
    assert dialog.error().key == "search.trials"
    assert dialog.trials_spin.property("invalid") is True
    dialog.seconds_check.setChecked(True)
    assert dialog.error() is None
    assert dialog.summary_label.text().endswith("until 600 s have passed")
    dialog.add_dimension("alpha")  # the same hyperparameter twice
    assert dialog.error().key == "search.space.alpha"
    assert not dialog.ok_button.isEnabled()


@pytest.mark.parametrize("spec", [learning_rate_lab()[1], *strategy_comparison()[1]],
                         ids=["lab", "grid", "random", "bayesian"])
def test_dialog_shows_a_spec_and_gives_it_back(qtbot: QtBot, spec: SearchSpec) -> None:
    dialog = SearchDialog(EDITOR, spec=spec)
    qtbot.addWidget(dialog)
    shown = dialog.spec()
    assert shown is not None
    assert shown.to_dict() == spec.to_dict()


def test_dialog_offers_cross_validation_as_the_objective(qtbot: QtBot) -> None:
    dialog = SearchDialog(EDITOR)
    qtbot.addWidget(dialog)
    spec = dialog.spec()
    assert spec is not None
    assert spec.folds is None
    dialog.folds_check.setChecked(True)
    dialog.folds_spin.setValue(3)
    spec = dialog.spec()
    assert spec is not None
    assert spec.folds == 3
    again = SearchDialog(EDITOR, spec=spec)
    qtbot.addWidget(again)
    assert again.folds_check.isChecked()
    assert again.folds_spin.value() == 3


def test_values_are_read_as_the_lesson_writes_them() -> None:
    assert parse_values("hidden", "4; 8; 16,16; none") == [[4], [8], [16, 16], []]
    assert parse_values("batch_size", "32, 64 full") == [32, 64, None]
    assert parse_values("alpha", "1e-3; 0.01, 1") == [0.001, 0.01, 1.0]
    assert parse_values("epochs", "100, 1e3") == [100, 1000]
    with pytest.raises(SpecError, match="whole number"):
        parse_values("epochs", "100.5")
    spec = SearchSpec.from_dict({"search": {"space": {
        "alpha": [0.001, 0.01, 0.1], "layers": [2, 3, 4]}}})
    assert grid_summary(spec) == "Grid: 3 × 3 = 9 trials"  # the lesson's example
    limited = SearchSpec.from_dict({"search": {"trials": 4, "space": {"alpha": [1.0, 2.0],
                                                                      "layers": [1, 2, 3]}}})
    assert grid_summary(limited) == "Grid: 2 × 3 = 6 points; the first 4 run (trials = 4)"


# -- constructed searches -------------------------------------------------------------------------
SPACE_SPEC = SearchSpec.from_dict({
    "fixed": {"epochs": 100},
    "search": {"strategy": "random", "trials": 10, "space": {
        "alpha": {"low": 0.001, "high": 1.0},  # log by default
        "activation": ["relu", "tanh"],
        "hidden": [[4], [8, 8]],
        "keep_prob": {"low": 0.5, "high": 1.0},
    }},
})


def _trial(number: int, params: dict[str, Any], value: float | None, status: str = "completed",
           spec: SearchSpec = SPACE_SPEC) -> TrialView:
    state = {"completed": TrialState.COMPLETE, "pruned": TrialState.PRUNED,
             "diverged": TrialState.PRUNED, "running": TrialState.RUNNING,
             "cancelled": TrialState.FAILED}[status]
    cost = np.geomspace(1.0, 0.1 + 0.01 * number, 50)
    if status == "diverged":
        cost[-5:] = np.nan
    return TrialView(TrialResult(number, 100 + number, params, state, value, 50), status,
                     verdict="Good: cost falling" if status == "completed" else "",
                     train_cost=cost)


def _params(alpha: float, activation: str = "relu", hidden: list[int] | None = None,
            keep_prob: float = 1.0) -> dict[str, Any]:
    return {"alpha": alpha, "activation": activation, "hidden": hidden or [4],
            "keep_prob": keep_prob}


TRIALS = (
    _trial(1, _params(0.001), 0.55),
    _trial(2, _params(0.01, "tanh", [8, 8], 0.5), 0.7),
    _trial(3, _params(0.1, "tanh"), 0.9),
    _trial(4, _params(1.0, "relu", [8, 8], 0.8), 0.6, "pruned"),
    _trial(5, _params(0.5), None, "diverged"),
    _trial(6, _params(0.03), None, "cancelled"),
    _trial(7, _params(0.3, "tanh", [8, 8]), 0.85),
    _trial(8, _params(0.2), None, "running"),
)
SNAPSHOT = SearchSnapshot("random search 1", SPACE_SPEC, "running", TRIALS)


def test_objective_plots_draw_log_categorical_pruned_and_diverged(qtbot: QtBot) -> None:
    views = SearchViews()
    qtbot.addWidget(views)
    views.set_snapshots([SNAPSHOT])
    plots = views.objective
    assert set(plots.plots) == {"alpha", "activation", "hidden", "keep_prob"}
    assert plots.is_log("alpha")
    assert not plots.is_log("keep_prob")
    complete = plots.points("alpha")
    assert sorted(ident for _, _, ident in complete) == [101, 102, 103, 107]
    xs = {ident: x for x, _, ident in complete}
    assert xs[101] == pytest.approx(-3.0)  # log10(0.001)
    assert xs[103] == pytest.approx(-1.0)
    # Categories sit at their index, in the spec's order.
    assert {ident: x for x, _, ident in plots.points("activation")} == {
        101: 0.0, 102: 1.0, 103: 1.0, 107: 1.0}
    assert {ident: x for x, _, ident in plots.points("hidden")}[102] == 1.0
    # Pruned: drawn apart, at the value it reached; diverged: below the worst.
    assert [(ident, y) for _, y, ident in plots.points("alpha", "pruned")] == [(104, 0.6)]
    [(_, y, ident)] = plots.points("alpha", "diverged")
    assert ident == 105
    assert y < 0.55
    # Cancelled and running trials say nothing about the values.
    drawn = {ident for kind in ("complete", "pruned", "diverged")
             for _, _, ident in plots.points("alpha", kind)}
    assert 106 not in drawn
    assert 108 not in drawn


def test_clicking_a_point_selects_its_experiment(qtbot: QtBot) -> None:
    views = SearchViews()
    qtbot.addWidget(views)
    views.set_snapshots([SNAPSHOT])
    item = views.objective._items["alpha"]["complete"]
    point = next(p for p in item.points() if p.data() == 103)
    with qtbot.waitSignal(views.experimentSelected) as blocker:
        item.sigClicked.emit(item, [point], None)
    assert blocker.args == [103]
    views.set_selected([103])
    assert [ident for _, _, ident in views.objective.points("alpha", "selected")] == [103]


def test_parallel_coordinates_normalise_each_axis(qtbot: QtBot) -> None:
    views = SearchViews()
    qtbot.addWidget(views)
    views.set_snapshots([SNAPSHOT])
    views.tabs.setCurrentIndex(1)
    parallel = views.parallel
    # Completed, pruned and diverged trials: one line each.
    assert parallel.line_count() == 6
    first = parallel.line(101)
    assert len(first) == 5  # four hyperparameters and the objective
    assert first[0] == pytest.approx(0.0)  # alpha = 0.001, the low end of a log axis
    assert parallel.line(103)[0] == pytest.approx(2 / 3)  # 0.1 on log [0.001, 1]
    assert first[1] == 0.0  # relu, the first choice
    assert parallel.line(102)[2] == 1.0  # [8, 8], the last network
    assert parallel.line(102)[3] == pytest.approx(0.0)  # keep_prob 0.5 on [0.5, 1]
    assert first[4] == pytest.approx(0.0)  # the worst objective ...
    assert parallel.line(103)[4] == pytest.approx(1.0)  # ... and the best
    assert parallel.line(105)[4] < 0  # diverged: below the axis
    assert "val. accuracy" in parallel.legend.text()


def test_best_so_far_overlays_searches_of_the_same_question(qtbot: QtBot) -> None:
    _, specs = strategy_comparison()
    ranged = {"alpha": 0.01, "units": 4}
    snapshots = []
    for spec, values in zip(specs, ([0.6, 0.5, 0.8, 0.7], [0.7, 0.9, 0.8, 0.85],
                                    [0.75, 0.8, 0.95, 0.9]), strict=True):
        trials = tuple(_trial(i + 1, ranged, v, spec=spec) for i, v in enumerate(values))
        snapshots.append(SearchSnapshot(f"{spec.strategy} search 1", spec, "finished", trials))
    _, lab = learning_rate_lab()
    snapshots.append(SearchSnapshot("grid search 2", lab, "finished",
                                    (_trial(1, {"alpha": 0.3}, 0.9, spec=lab),)))
    views = SearchViews()
    qtbot.addWidget(views)
    views.set_snapshots(snapshots)
    views.set_current("bayesian search 1")
    views.tabs.setCurrentIndex(BEST_TAB)
    best = views.best
    # The lab varies only alpha: it answers another question and is not overlaid.
    assert best.names() == ["grid search 1", "random search 1", "bayesian search 1"]
    x, y = best.line("grid search 1")
    np.testing.assert_array_equal(x, [1, 2, 3, 4])
    np.testing.assert_array_equal(y, [0.6, 0.6, 0.8, 0.8])
    np.testing.assert_array_equal(best.line("bayesian search 1")[1], [0.75, 0.8, 0.95, 0.95])
    views.set_current("grid search 2")
    assert best.names() == ["grid search 2"]


def test_best_so_far_of_a_cost_and_of_a_running_search() -> None:
    spec = SearchSpec.from_dict({"search": {"objective": "cost",
                                            "space": {"alpha": [0.1, 1.0, 2.0]}}})
    trials = [_trial(1, {"alpha": 0.1}, 0.5, spec=spec),
              _trial(2, {"alpha": 1.0}, None, "running", spec=spec),
              _trial(3, {"alpha": 2.0}, 0.7, spec=spec),
              _trial(4, {"alpha": 2.0}, 0.2, "pruned", spec=spec),
              _trial(5, {"alpha": 2.0}, 0.3, spec=spec)]
    x, y = best_so_far(trials, maximize=False)
    np.testing.assert_array_equal(x, [1, 3, 4, 5])  # a pruned trial's figure is no best
    np.testing.assert_array_equal(y, [0.5, 0.5, 0.5, 0.3])


def test_importance_arrives_from_the_worker_thread(qtbot: QtBot) -> None:
    views = SearchViews()
    qtbot.addWidget(views)
    views.set_snapshots([SNAPSHOT])
    with qtbot.waitSignal(views.importance.importanceComputed, timeout=20_000) as blocker:
        views.tabs.setCurrentIndex(IMPORTANCE_TAB)
    result = blocker.args[0]
    assert isinstance(result, ImportanceResult)
    assert result.message == ""
    assert set(result.importances) == set(SPACE_SPEC.space.names)
    assert math.isclose(sum(result.importances.values()), 1.0, rel_tol=1e-6)
    assert views.importance.importances() == result.importances
    # The same finished trials are not worked out again.
    with qtbot.assertNotEmitted(views.importance.importanceComputed, wait=200):
        views.set_snapshots([SNAPSHOT])
    views.shutdown()


def test_a_single_trial_draws_and_importance_says_it_needs_more(qtbot: QtBot) -> None:
    snapshot = SearchSnapshot("grid search 1", SPACE_SPEC, "running", TRIALS[:1])
    views = SearchViews()
    qtbot.addWidget(views)
    views.set_snapshots([snapshot])
    for index in range(views.tabs.count()):
        if index == IMPORTANCE_TAB:
            with qtbot.waitSignal(views.importance.importanceComputed) as blocker:
                views.tabs.setCurrentIndex(index)
            assert blocker.args[0].importances == {}
            assert f"at least {MIN_IMPORTANCE_TRIALS} completed" in blocker.args[0].message
            assert blocker.args[0].message in views.importance.message.text()
        else:
            views.tabs.setCurrentIndex(index)
    assert views.objective.points("alpha") == [(-3.0, 0.55, 101)]
    assert views.parallel.line_count() == 1
    assert views.best.line("grid search 1")[1].tolist() == [0.55]
    assert views.curves.curve_ids() == [101]
    # No search at all.
    views.set_snapshots([])
    assert views.current_name() is None
    assert views.curves.curve_ids() == []


def test_views_redraw_at_most_four_times_a_second(qtbot: QtBot) -> None:
    calls: list[int] = []
    views = SearchViews()
    qtbot.addWidget(views)

    def source() -> list[SearchSnapshot]:
        calls.append(1)
        return [SNAPSHOT]

    views.set_source(source)
    for _ in range(50):
        views.refresh()
    qtbot.waitUntil(lambda: views.current_name() == "random search 1")
    assert len(calls) == 1


def test_log_ticks_are_round_values() -> None:
    assert [t for _, t in log_ticks(0.001, 300.0)] == ["0.001", "0.01", "0.1", "1", "10",
                                                       "100", "1000"]
    assert [t for _, t in log_ticks(2, 16)] == ["2", "5", "10"]


def test_presets_say_why() -> None:
    assert explanation_for(learning_rate_lab()[1]) == LR_LAB_EXPLANATION
    assert all(explanation_for(s) == COMPARISON_EXPLANATION for s in strategy_comparison()[1])
    assert explanation_for(SPACE_SPEC) == ""


def test_search_list_model(qtmodeltester: Any) -> None:
    model = SearchListModel()
    rows = [SearchRow("grid search 1", "grid", "finished", 12, 12, 12, 0.9, 8, 1.5, None,
                      "grid search over alpha (12 trials)"),
            SearchRow("random search 1", "random", "running", 3, 5, 12, None, None, 4.0, 60.0,
                      "random search over alpha, units (12 trials, 60 s)")]
    model.set_rows(rows)
    qtmodeltester.check(model)
    assert [model.index(1, c).data() for c in range(5)] == [
        "random search 1", "running", "3/12 +2", "", "4 s of 60 s"]
    assert model.index(0, 3).data() == "0.9000 (#8)"
