"""The headless command line: listing, training, JSON output and error handling."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dnnstudio.cli import main
from dnnstudio.core.data import list_datasets


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _train_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    code, out, err = _run(capsys, "train", *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_datasets_lists_every_built_in_dataset(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "datasets")
    assert code == 0
    names = ["planar", "moons", "circles", "spirals", "xor", "blobs",
             "iris", "wine", "breast_cancer", "digits"]
    for name in names:
        assert f"\n{name} " in out
    code, out, _ = _run(capsys, "datasets", "--json")
    assert [d["name"] for d in json.loads(out)] == names


def test_the_lessons_planar_example(capsys: pytest.CaptureFixture[str]) -> None:
    result = _train_json(capsys, "--dataset", "planar", "--hidden", "4", "--activation", "tanh",
                         "--alpha", "1.2", "--epochs", "10000")
    assert result["status"] == "completed"
    assert result["epochs_run"] == 10000
    assert result["val_accuracy"] >= 0.85
    assert result["parameter_count"] == 17
    assert result["hyperparameters"]["hidden"] == [4]
    history = result["history"]
    assert set(history) == {"epoch", "train_cost", "val_cost", "train_accuracy",
                            "val_accuracy", "learning_rate", "elapsed_s"}
    assert all(len(v) == 10000 for v in history.values())
    assert history["train_cost"][-1] < history["train_cost"][0] / 3
    for key in ("status", "epochs_run", "train_cost", "val_cost", "train_accuracy",
                "val_accuracy", "train_time_s", "parameter_count", "hyperparameters", "history"):
        assert key in result
    assert "test_accuracy" not in result  # the test set is only touched when asked


# Hyperparameters a learner might pick for each dataset, and the validation accuracy they
# reach at the least.
SENSIBLE = {
    "planar": (["--hidden", "4", "--activation", "tanh", "--alpha", "1.2", "--epochs", "5000"],
               0.85),
    "moons": (["--hidden", "16", "--activation", "relu", "--optimizer", "adam", "--alpha",
               "0.01", "--epochs", "500"], 0.9),
    "circles": (["--hidden", "16", "--activation", "relu", "--optimizer", "adam", "--alpha",
                 "0.01", "--epochs", "500"], 0.9),
    "spirals": (["--hidden", "64,64", "--activation", "relu", "--optimizer", "adam", "--alpha",
                 "0.01", "--epochs", "500"], 0.9),
    "xor": (["--hidden", "16", "--activation", "relu", "--optimizer", "adam", "--alpha", "0.01",
             "--epochs", "500"], 0.9),
    "blobs": (["--hidden", "8", "--activation", "relu", "--optimizer", "adam", "--alpha",
               "0.01", "--epochs", "300"], 0.9),
    "iris": (["--hidden", "16", "--activation", "relu", "--optimizer", "adam", "--alpha",
              "0.01", "--epochs", "300"], 0.9),
    "wine": (["--hidden", "16", "--activation", "relu", "--optimizer", "adam", "--alpha",
              "0.01", "--epochs", "300"], 0.9),
    "breast_cancer": (["--hidden", "16", "--activation", "relu", "--optimizer", "adam",
                       "--alpha", "0.001", "--epochs", "300"], 0.93),
    "digits": (["--hidden", "64", "--activation", "relu", "--optimizer", "adam", "--alpha",
                "0.001", "--epochs", "30", "--batch-size", "64"], 0.93),
}


def test_every_built_in_dataset_has_a_sensible_setting() -> None:
    assert set(SENSIBLE) == {info.name for info in list_datasets()}


@pytest.mark.parametrize("name", sorted(SENSIBLE))
def test_trains_every_built_in_dataset(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    args, floor = SENSIBLE[name]
    result = _train_json(capsys, "--dataset", name, *args)
    assert result["status"] == "completed"
    assert result["val_accuracy"] >= floor, result["val_accuracy"]


def test_readable_summary(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "train", "--dataset", "iris", "--hidden", "", "--epochs", "50",
                        "--optimizer", "adam", "--alpha", "0.05")
    assert code == 0
    assert "L = 1, n = [4, 3], 15 parameters" in out
    assert "status       completed" in out
    assert "accuracy" in out
    assert "validation" in out


def test_test_set_only_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    result = _train_json(capsys, "--dataset", "blobs", "--epochs", "100", "--optimizer", "adam",
                         "--alpha", "0.01", "--evaluate-test")
    assert 0.8 <= result["test_accuracy"] <= 1.0
    assert result["test_cost"] > 0


def test_diverged_run_is_reported_not_crashed(capsys: pytest.CaptureFixture[str]) -> None:
    result = _train_json(capsys, "--dataset", "wine", "--hidden", "64,64", "--activation",
                         "relu", "--alpha", "50", "--epochs", "200")
    assert result["status"] == "diverged"
    assert result["diverged_epoch"] >= 1
    assert "learning rate" in result["message"]
    assert result["val_accuracy"] is None


def test_npz_arrays(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    X, Xv = rng.standard_normal((80, 3)), rng.standard_normal((40, 3))
    path = tmp_path / "arrays.npz"
    np.savez(path, X_train=X, y_train=(X[:, 0] > 0).astype(int), X_val=Xv,
             y_val=(Xv[:, 0] > 0).astype(int))
    result = _train_json(capsys, "--data", str(path), "--hidden", "", "--alpha", "0.5",
                         "--epochs", "200")
    assert result["dataset"]["n_train"] == 80
    assert result["dataset"]["n_val"] == 40
    assert result["val_accuracy"] >= 0.9


def test_csv_with_named_target(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 2))
    rows = ["label,a,b"] + [f"{'yes' if a + b > 0 else 'no'},{a},{b}" for a, b in X]
    path = tmp_path / "points.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = _train_json(capsys, "--csv", str(path), "--target", "label", "--hidden", "",
                         "--alpha", "0.5", "--epochs", "300")
    assert result["dataset"]["classes"] == ["no", "yes"]
    assert result["dataset"]["n_features"] == 2
    assert result["val_accuracy"] >= 0.8


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["train", "--alpha", "-1"], "alpha = -1.0"),
        (["train", "--alpha", "fast"], "argument --alpha: 'fast' is not a number"),
        (["train", "--hidden", "4,x"], "argument --hidden"),
        (["train", "--activation", "swish"], "activation = 'swish'"),
        (["train", "--optimizer", "sgd"], "invalid choice: 'sgd'"),
        (["train", "--dataset", "mnist"], "mnist"),
        (["train", "--dataset", "iris", "--n-samples", "50"], "generated"),
        (["train", "--csv", "/no/such/file.csv"], "/no/such/file.csv"),
        (["train", "--data", "/no/such/file.npz"], "/no/such/file.npz"),
        (["train", "--split", "50/50"], "--split"),
        (["train", "--split", "0.0,0.5,0.5"], "train"),
        (["train", "--target", "y"], "--target only applies"),
        (["bogus"], "invalid choice"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code  # type: ignore[assignment]
    assert code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1, err
    assert needle in err


def test_python_dash_m(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dnnstudio", "train", "--epochs", "5", "--json"],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["epochs_run"] == 5
    bad = subprocess.run(
        [sys.executable, "-m", "dnnstudio", "train", "--epochs", "0"],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0
    assert "epochs = 0" in bad.stderr


# -- sessions ------------------------------------------------------------------------------------

QUICK = ("--dataset", "moons", "--n-samples", "120", "--epochs", "5")


def test_train_into_a_session_then_export_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import csv
    import io

    session = tmp_path / "runs.dnnsession"
    first = _train_json(capsys, *QUICK, "--session", str(session), "--note", "=first, try")
    assert first["session"] == {"path": str(session), "experiment_id": 1}
    code, out, err = _run(capsys, "train", *QUICK, "--alpha", "0.5", "--session", str(session))
    assert code == 0, err
    assert f"saved as experiment 2 in {session}" in out

    code, out, err = _run(capsys, "export", str(session), "--csv", "-")
    assert code == 0, err
    assert err == ""
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert [row["id"] for row in rows] == ["1", "2"]
    assert [row["alpha"] for row in rows] == ["0.01", "0.5"]
    assert rows[0]["note"] == "'=first, try"
    assert rows[0]["dataset"] == "moons"
    assert {row["state"] for row in rows} == {"completed"}
    assert all(row["epochs_run"] == "5" for row in rows)

    out_file = tmp_path / "all.json"
    code, out, err = _run(capsys, "export", str(session), "--json", str(out_file))
    assert (code, out, err) == (0, "", "")
    exported = json.loads(out_file.read_text(encoding="utf-8"))
    assert exported["dataset"]["n_samples"] == 120
    assert [len(e["history"]["train_cost"]) for e in exported["experiments"]] == [5, 5]


def test_session_keeps_the_run_with_its_parameters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dnnstudio.runs.records import ExperimentState
    from dnnstudio.sessions import SessionStore

    session = tmp_path / "one.dnnsession"
    result = _train_json(capsys, *QUICK, "--hidden", "3", "--session", str(session),
                         "--note", "α\nβ")
    with SessionStore.open(session, read_only=True) as store:
        data = store.load()
    assert data.dataset is not None
    assert (data.dataset.source, data.dataset.name, data.dataset.n_samples) == \
        ("builtin", "moons", 120)
    (record,) = data.records
    assert record.state is ExperimentState.COMPLETED
    assert record.note == "α\nβ"
    assert record.hyperparameters.hidden == (3,)
    assert record.history["train_cost"] == result["history"]["train_cost"]
    assert record.val_metric == result["val_accuracy"]
    assert record.params is not None
    assert [W.shape for W, _ in record.params] == [(3, 2), (1, 3)]


def test_session_refuses_other_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    session = tmp_path / "s.dnnsession"
    _train_json(capsys, *QUICK, "--session", str(session))
    before = session.read_bytes()
    for other in (["--dataset", "circles"], ["--dataset", "moons", "--data-seed", "1"],
                  ["--dataset", "moons", "--split", "70/15/15"]):
        code, out, err = _run(capsys, "train", *other, "--n-samples", "120", "--epochs", "5",
                              "--session", str(session))
        assert code == 2
        assert out == ""
        assert err.count("\n") == 1, err
        assert "share their data and split" in err
    assert session.read_bytes() == before


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--data", "x.npz"], "--session needs --dataset or --csv, not --data"),
        (["--dataset", "moons", "--note", "hi"], "--note is saved with the experiment"),
    ],
)
def test_session_option_errors(argv: list[str], needle: str, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    if "--note" not in argv:
        argv = [*argv, "--session", str(tmp_path / "s.dnnsession")]
    code, out, err = _run(capsys, "train", *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1, err
    assert needle in err
    assert list(tmp_path.iterdir()) == []


def test_export_refuses_what_is_not_a_session(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_session = tmp_path / "notes.txt"
    not_session.write_text("hello\n", encoding="utf-8")
    cases = [
        ([str(not_session), "--csv", "-"], "is not a DNN Studio session"),
        ([str(tmp_path / "none.dnnsession"), "--json", "-"], "does not exist"),
    ]
    for argv, needle in cases:
        code, out, err = _run(capsys, "export", *argv)
        assert code == 2
        assert out == ""
        assert err.count("\n") == 1, err
        assert err.startswith("dnnstudio export: error: ")
        assert needle in err
    assert not_session.read_text(encoding="utf-8") == "hello\n"


def test_export_to_an_unwritable_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    session = tmp_path / "s.dnnsession"
    _train_json(capsys, *QUICK, "--session", str(session))
    code, out, err = _run(capsys, "export", str(session), "--csv",
                          str(tmp_path / "no" / "dir.csv"))
    assert code == 2
    assert err.count("\n") == 1, err
    assert "cannot write" in err


def test_export_needs_a_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["export", str(tmp_path / "s.dnnsession")])
    assert caught.value.code == 2
    _, err = capsys.readouterr()
    assert "one of the arguments --csv --json is required" in err


def test_a_session_file_argument_opens_the_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dnnstudio.cli as cli

    opened: list[str | None] = []
    monkeypatch.setattr(cli, "_open_app", lambda session: opened.append(session) or 0)
    assert main(["work.dnnsession"]) == 0
    existing = tmp_path / "other-name"
    existing.write_bytes(b"")
    assert main([str(existing)]) == 0
    assert main([]) == 0
    assert opened == ["work.dnnsession", str(existing), None]


def test_train_runs_in_a_worker_process(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI trains through the same queue and worker pool as the desktop app."""
    import os

    from dnnstudio.runs.pool import WorkerPool

    pids: list[int] = []
    original = WorkerPool.submit

    def spy(self: WorkerPool, job: object) -> None:
        original(self, job)  # type: ignore[arg-type]
        pids.extend(self.running().values())

    monkeypatch.setattr(WorkerPool, "submit", spy)
    result = _train_json(capsys, "--epochs", "20")
    assert result["epochs_run"] == 20
    assert pids
    assert os.getpid() not in pids


# -- the test set, locked ------------------------------------------------------------------------

class _Terminal(io.StringIO):
    """Standard input as if typed at a terminal."""

    def isatty(self) -> bool:
        return True


def _trail(session: Path) -> list[Any]:
    from dnnstudio.sessions import SessionStore

    with SessionStore.open(session, read_only=True) as store:
        return list(store.load().evaluations)


def test_train_without_evaluate_test_never_shows_test_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session = tmp_path / "s.dnnsession"
    code, out, err = _run(capsys, "train", *QUICK, "--session", str(session))
    assert code == 0, err
    assert "cost         train" in out  # the summary was printed
    # (The session's path, under pytest's tmp_path, has "test_" in it.)
    assert not [line for line in out.splitlines() if "test " in line.lower()], out
    result = _train_json(capsys, *QUICK)
    assert not [key for key in result if "test" in key]
    assert _trail(session) == []


def test_train_evaluate_test_records_the_evaluation_in_the_session(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session = tmp_path / "s.dnnsession"
    result = _train_json(capsys, *QUICK, "--session", str(session), "--evaluate-test")
    (entry,) = _trail(session)
    assert entry.experiment_id == result["session"]["experiment_id"] == 1
    assert entry.test_metric == result["test_accuracy"]
    assert entry.dataset["name"] == "moons"
    # The experiment has had its one look.
    code, _, err = _run(capsys, "evaluate", str(session), "--experiment", "1", "--yes")
    assert code == 2
    assert "the test set is used once per experiment" in err
    assert len(_trail(session)) == 1


def test_evaluate_without_yes_refuses_when_it_cannot_ask(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    session = tmp_path / "s.dnnsession"
    _train_json(capsys, *QUICK, "--session", str(session))
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))  # piped, not a terminal
    code, out, err = _run(capsys, "evaluate", str(session), "--experiment", "1")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "--yes" in err
    assert _trail(session) == []


def test_evaluate_asks_on_a_terminal_and_can_be_declined(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    session = tmp_path / "s.dnnsession"
    _train_json(capsys, *QUICK, "--session", str(session))
    monkeypatch.setattr(sys, "stdin", _Terminal("n\n"))
    code, out, err = _run(capsys, "evaluate", str(session), "--experiment", "1")
    assert code == 1
    assert out == ""
    assert "evaluated on it once" in err
    assert "not touched" in err
    assert _trail(session) == []

    monkeypatch.setattr(sys, "stdin", _Terminal("y\n"))
    code, out, err = _run(capsys, "evaluate", str(session), "--experiment", "1", "--json")
    assert code == 0, err
    answer = json.loads(out)
    (entry,) = _trail(session)
    assert answer["test_accuracy"] == entry.test_metric
    assert answer["tested_at"] == entry.at
    assert answer["experiment_id"] == 1
    assert answer["val_accuracy"] is not None


def test_evaluate_with_yes_records_the_trail_and_export_writes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import csv

    session = tmp_path / "s.dnnsession"
    _train_json(capsys, *QUICK, "--session", str(session))
    _train_json(capsys, *QUICK, "--alpha", "0.5", "--session", str(session))
    code, out, err = _run(capsys, "evaluate", str(session), "--experiment", "2", "--yes")
    assert code == 0, err
    assert "accuracy     test " in out
    assert "validation" in out
    (entry,) = _trail(session)
    assert entry.experiment_id == 2

    code, out, err = _run(capsys, "evaluate", str(session), "--experiment", "7", "--yes")
    assert code == 2
    assert "no experiment 7 (its experiments: 1, 2)" in err

    code, out, err = _run(capsys, "export", str(session), "--csv", "-")
    assert code == 0, err
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(out, newline=""))}
    assert (rows["1"]["test_accuracy (0-1)"], rows["1"]["tested_at (UTC)"]) == ("", "")
    assert float(rows["2"]["test_accuracy (0-1)"]) == entry.test_metric
    assert rows["2"]["tested_at (UTC)"] != ""
    code, out, err = _run(capsys, "export", str(session), "--json", "-")
    assert code == 0, err
    trail = json.loads(out)["test_evaluations"]
    assert [(e["experiment_id"], e["test_accuracy"]) for e in trail] == \
        [(2, entry.test_metric)]
