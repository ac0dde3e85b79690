"""``dnnstudio sweep``: a search from a TOML spec, headless."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from dnnstudio.cli import main
from dnnstudio.search import SearchSpec, restore_all
from dnnstudio.sessions.store import SessionStore

SPEC = """\
[dataset]
name = "planar"
[fixed]
epochs = 300
hidden = [4]
activation = "tanh"
[search]
strategy = "{strategy}"
{budget}
seed = 0
[search.space]
alpha = {alpha}
"""


def _spec(tmp_path: Path, strategy: str = "grid", budget: str = "",
          alpha: str = "[0.01, 1.0]") -> Path:
    path = tmp_path / "sweep.toml"
    path.write_text(SPEC.format(strategy=strategy, budget=budget, alpha=alpha),
                    encoding="utf-8")
    return path


def test_grid_sweep_prints_trials_and_best_and_writes_session_and_csv(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    session = tmp_path / "s.dnnsession"
    out = tmp_path / "r.csv"
    assert main(["sweep", str(_spec(tmp_path)), "--session", str(session),
                 "--csv", str(out), "--workers", "2"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("grid search 1 on planar: 2 trials (2 completed")
    assert "best: trial 2 (experiment 2), val accuracy" in text
    assert "alpha=1" in text
    with out.open(encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert [r["alpha"] for r in rows] == ["0.01", "1.0"]
    assert {r["group"] for r in rows} == {"grid search 1"}
    with SessionStore.open(session, read_only=True) as store:
        data = store.load()
    assert [s.name for s in data.searches] == ["grid search 1"]
    assert data.searches[0].state == "finished"
    assert SearchSpec.from_dict(data.searches[0].spec) == SearchSpec.from_toml(_spec(tmp_path))
    assert [len(r.history["val_cost"]) for r in data.records] == [300, 300]
    # A second sweep adds to the same session, under the next name and ids.
    assert main(["sweep", str(_spec(tmp_path)), "--session", str(session), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["search"] == "grid search 2"
    assert [t["experiment_id"] for t in result["trials"]] == [3, 4]
    assert result["best"]["params"] == {"alpha": 1.0}
    assert result["best"]["hyperparameters"]["hidden"] == [4]
    with SessionStore.open(session, read_only=True) as store:
        assert len(store.load().records) == 4


def test_bayesian_sweep_and_reopened_search(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    session = tmp_path / "b.dnnsession"
    spec = _spec(tmp_path, "bayesian", "trials = 4",
                 "{ low = 0.001, high = 3.0 }")
    assert main(["sweep", str(spec), "--session", str(session), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["trials"]) == 4
    assert all(0.001 <= t["params"]["alpha"] <= 3.0 for t in result["trials"])
    with SessionStore.open(session, read_only=True) as store:
        data = store.load()

    from dnnstudio.core.data.spec import DatasetSpec
    from dnnstudio.runs.queue import ExperimentQueue

    class NoPool:
        def idle_count(self) -> int:
            return 0

    queue = ExperimentQueue(NoPool(), DatasetSpec())  # type: ignore[arg-type]
    queue.load(data.records, data.order)
    [runner] = restore_all(queue, data.searches)
    assert runner.state.value == "finished"
    assert len(runner._strategy.study.trials) == 4  # type: ignore[union-attr]


@pytest.mark.parametrize(("text", "message"), [
    ("[search]\nstrategy = 'grid'\n[search.space]\nalpha = [0.1, -1]\n",
     "search.space.alpha[1]: alpha"),
    ("[dataset]\nname = 'planar'\n[search]\nstrategy = 'random'\n[search.space]\n"
     "alpha = [0.1]\n", "search.trials: a random search needs a budget"),
    ("[dataset]\nname = 'planar'\n[search.space]\nalpha = [0.1]\n[search]\ntrials = 2\n"
     "turbo = true\n", "search.turbo: unknown key"),
    ("[dataset]\nname = 'planar'\n[search.space\n", "not valid TOML"),
    ("[fixed]\nepochs = 5\n[search.space]\nalpha = [0.1]\n", "dataset: the spec needs"),
    ("[dataset]\ncsv = 'missing.csv'\n[search.space]\nalpha = [0.1]\n", "missing.csv"),
])
def test_spec_errors_exit_2_naming_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    assert main(["sweep", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip()
    assert err.startswith("dnnstudio sweep: error: ")
    assert message in err
    assert "\n" not in err


def test_session_on_other_data_is_refused(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    session = tmp_path / "m.dnnsession"
    assert main(["train", "--dataset", "moons", "--epochs", "5", "--session",
                 str(session)]) == 0
    capsys.readouterr()
    assert main(["sweep", str(_spec(tmp_path)), "--session", str(session)]) == 2
    assert "share their data and split" in capsys.readouterr().err


def test_a_sweep_judged_by_cross_validation(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "cv.toml"
    spec.write_text('[dataset]\nname = "iris"\n[fixed]\nepochs = 100\nhidden = [4]\n'
                    '[search]\nstrategy = "grid"\nfolds = 3\n'
                    '[search.space]\nalpha = [0.1, 0.5]\n', encoding="utf-8")
    session = tmp_path / "cv.dnnsession"
    assert main(["sweep", str(spec), "--session", str(session), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [t["state"] for t in result["trials"]] == ["completed", "completed"]
    assert all(t["message"].startswith("3-fold cross-validation: validation accuracy")
               for t in result["trials"])
    with SessionStore.open(session, read_only=True) as store:
        records = store.load().records
    assert [r.folds for r in records] == [3, 3]
    assert all(len(r.history["val_cost"]) == 100 for r in records)  # the fold average
