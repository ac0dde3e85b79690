"""Exports: the exact CSV table, formula neutralisation, JSON without NaN, parameter archives."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from dnnstudio.core.data.spec import DatasetSpec
from dnnstudio.core.hyperparams import Hyperparameters
from dnnstudio.runs.records import ExperimentRecord, ExperimentState, TestEvaluation
from dnnstudio.sessions import (
    ExportError,
    SessionData,
    SessionStore,
    csv_columns,
    export_csv,
    export_json,
    export_parameters_npz,
    session_json,
)


def fixed_records() -> list[ExperimentRecord]:
    classification = ExperimentRecord(
        id=1,
        hyperparameters=Hyperparameters(alpha=0.1, epochs=200, hidden=(64, 64),
                                        optimizer="adam", batch_size=32, patience=10, seed=3),
        state=ExperimentState.COMPLETED, note='baseline, "quoted"', group="grid",
        epochs_run=200, train_cost=0.125, val_cost=0.3, train_metric=0.975, val_metric=0.9,
        train_time_s=1.5, parameter_count=4481, message="Completed 200 epochs.",
    )
    regression = ExperimentRecord(
        id=2,
        hyperparameters=Hyperparameters(alpha=1e-3, epochs=50, hidden=(), l2=0.5,
                                        dtype="float64"),
        state=ExperimentState.COMPLETED, metric="r2", note="-2", epochs_run=50,
        train_cost=0.5, val_cost=2.0, train_metric=0.5, val_metric=-2.0, train_time_s=0.25,
        parameter_count=9, message="Stopped early",
    )
    queued = ExperimentRecord(
        id=3,
        hyperparameters=Hyperparameters(hidden=(8, 4), activation=("relu", "tanh"),
                                        keep_prob=0.8),
        note='=HYPERLINK("http://x","y")\nline 2',
    )
    return [classification, regression, queued]


EXPECTED_CSV = "\r\n".join([
    "id,state,note,group,alpha,epochs,hidden,activation,init,optimizer,beta,beta1,beta2,"
    "epsilon,batch_size,l2,keep_prob,decay,decay_rate,decay_step (epochs),patience (epochs),"
    "seed,dtype,epochs_run,train_cost,val_cost,train_accuracy (0-1),val_accuracy (0-1),"
    "train_r2,val_r2,gap,test_cost,test_accuracy (0-1),test_r2,tested_at (UTC),train_time_s,"
    "parameter_count,message",
    '1,completed,"baseline, ""quoted""",grid,0.1,200,64-64,relu-relu,he,adam,0.9,0.9,0.999,'
    "1e-08,32,0.0,1.0,none,1.0,100,10,3,float32,200,0.125,0.3,0.975,0.9,,,"
    "0.07499999999999996,,,,,1.5,4481,Completed 200 epochs.",
    "2,completed,'-2,,0.001,50,,,he,gd,0.9,0.9,0.999,1e-08,,0.5,1.0,none,1.0,100,,0,float64,"
    "50,0.5,2.0,,,0.5,-2.0,2.5,,,,,0.25,9,Stopped early",
    '3,queued,"\'=HYPERLINK(""http://x"",""y"")\nline 2",,0.01,1000,8-4,relu-tanh,he,gd,0.9,'
    "0.9,0.999,1e-08,,0.0,0.8,none,1.0,100,,0,float32,0,,,,,,,,,,,,,0,",
    "",
])


def _csv_text(records: list[ExperimentRecord], **kwargs: object) -> str:
    stream = io.StringIO(newline="")
    export_csv(records, stream, **kwargs)  # type: ignore[arg-type]
    return stream.getvalue()


def test_exact_csv() -> None:
    assert _csv_text(fixed_records()) == EXPECTED_CSV


def test_csv_to_a_file_is_the_same_utf8_text(tmp_path: Path) -> None:
    records = fixed_records()
    records[0] = records[0].replace(note="α ✓ 学习")
    path = tmp_path / "results.csv"
    export_csv(records, path)
    assert path.read_bytes() == _csv_text(records).encode("utf-8")
    assert os.listdir(tmp_path) == ["results.csv"]


def test_csv_reads_back_with_numbers_intact() -> None:
    records = fixed_records()
    records[0] = records[0].replace(train_cost=0.1 + 0.2, val_cost=1e-300, val_metric=math.nan)
    rows = list(csv.DictReader(io.StringIO(_csv_text(records), newline="")))
    assert float(rows[0]["train_cost"]) == 0.1 + 0.2  # repr-exact
    assert float(rows[0]["val_cost"]) == 1e-300
    assert rows[0]["val_accuracy (0-1)"] == ""  # NaN
    assert rows[0]["gap"] == ""
    assert rows[1]["train_accuracy (0-1)"] == ""
    assert float(rows[1]["val_r2"]) == -2.0
    assert rows[2]["note"] == "'" + records[2].note


def test_dataset_columns() -> None:
    spec = DatasetSpec(name="moons", seed=4, split=(0.7, 0.15, 0.15))
    text = _csv_text(fixed_records()[:1], dataset=spec)
    header, row = list(csv.reader(io.StringIO(text, newline="")))
    assert header == csv_columns(dataset=True)
    assert header[4:7] == ["dataset", "split", "data_seed"]
    assert row[4:7] == ["moons", "0.7/0.15/0.15", "4"]


@pytest.mark.parametrize(
    "note",
    ['=HYPERLINK("http://x","y")', "+1", "@SUM(A1)", "-2", "\t=1+1", "\r=1+1", "=", "-"],
)
def test_formula_text_is_neutralised(note: str) -> None:
    record = fixed_records()[1].replace(note=note, group=note, message=note)
    _, row = list(csv.reader(io.StringIO(_csv_text([record]), newline="")))
    header = csv_columns()
    cells = dict(zip(header, row, strict=True))
    assert cells["note"] == "'" + note
    assert cells["group"] == "'" + note
    assert cells["message"] == "'" + note
    assert cells["val_r2"] == "-2.0"  # a negative number stays a number


@pytest.mark.parametrize("note", ["a=b", "1+1", "x@y.z", "", "'=already quoted", " =1"])
def test_ordinary_text_is_left_alone(note: str) -> None:
    record = fixed_records()[0].replace(note=note)
    _, row = list(csv.reader(io.StringIO(_csv_text([record]), newline="")))
    assert row[2] == note


def _session() -> SessionData:
    records = fixed_records()
    records[0] = records[0].replace(
        history={"train_cost": [0.9, 0.5], "val_cost": [math.nan, 0.6],
                 "train_metric": [0.5, 0.75], "val_metric": [math.nan, 0.7],
                 "learning_rate": [0.1, 0.1], "elapsed_s": [0.5, 1.0]},
        epochs_run=2,
    )
    records[1] = records[1].replace(
        val_metric=-math.inf,
        history={"train_cost": [1.0], "val_cost": [math.inf], "train_metric": [0.1],
                 "val_metric": [-math.inf], "learning_rate": [0.001], "elapsed_s": [0.1]},
        epochs_run=1,
    )
    return SessionData(dataset=DatasetSpec(name="moons"), records=records, order=[3, 1, 2])


def _strict_json(text: str) -> object:
    def refuse(token: str) -> None:
        raise AssertionError(f"{token} in JSON")

    return json.loads(text, parse_constant=refuse)


def test_json_export_is_the_whole_session_without_nan(tmp_path: Path) -> None:
    session = _session()
    stream = io.StringIO()
    export_json(session, stream)
    data = _strict_json(stream.getvalue())
    assert isinstance(data, dict)
    assert data["format"] == "dnnstudio-session"
    assert data["dataset"]["name"] == "moons"
    assert data["order"] == [3, 1, 2]
    experiments = data["experiments"]
    assert [e["id"] for e in experiments] == [3, 1, 2]
    first = experiments[1]
    assert first["note"] == 'baseline, "quoted"'
    assert first["hyperparameters"] == fixed_records()[0].hyperparameters.to_dict()
    assert first["train_accuracy"] == 0.975
    assert first["train_r2"] is None
    assert first["history"] == {
        "epoch": [1, 2], "train_cost": [0.9, 0.5], "val_cost": [None, 0.6],
        "train_accuracy": [0.5, 0.75], "val_accuracy": [None, 0.7],
        "learning_rate": [0.1, 0.1], "elapsed_s": [0.5, 1.0],
    }
    regression = experiments[2]
    assert regression["val_r2"] is None  # -inf
    assert regression["history"]["val_cost"] == [None]
    assert regression["history"]["val_r2"] == [None]
    assert experiments[0]["state"] == "queued"
    assert experiments[0]["train_cost"] is None

    path = tmp_path / "session.json"
    export_json(session, path)
    assert _strict_json(path.read_text(encoding="utf-8")) == data


def test_npz_export_in_course_orientation(tmp_path: Path) -> None:
    hp = Hyperparameters(hidden=(5, 3))
    rng = np.random.default_rng(0)
    sizes = hp.layer_sizes(4, 2)
    params = [(rng.standard_normal((sizes[k], sizes[k - 1])).astype("float32"),
               rng.standard_normal((sizes[k], 1)).astype("float32"))
              for k in range(1, len(sizes))]
    record = ExperimentRecord(id=1, hyperparameters=hp, state=ExperimentState.COMPLETED,
                              params=params)
    path = tmp_path / "weights"  # written exactly as named
    export_parameters_npz(record, path)
    assert os.listdir(tmp_path) == ["weights"]
    with np.load(path, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["W1", "W2", "W3", "b1", "b2", "b3"]
        shapes = {name: npz[name].shape for name in npz.files}
        assert shapes == {"W1": (5, 4), "b1": (5, 1), "W2": (3, 5), "b2": (3, 1),
                          "W3": (2, 3), "b3": (2, 1)}
        assert [(f"W[{k}]", npz[f"W{k}"].shape) for k in (1, 2, 3)] == \
            [(n, s) for n, s in hp.parameter_shapes(4, 2) if n.startswith("W")]
        np.testing.assert_array_equal(npz["W2"], params[1][0])
        assert npz["b3"].dtype == np.float32


def test_npz_export_needs_parameters(tmp_path: Path) -> None:
    record = ExperimentRecord(id=4, hyperparameters=Hyperparameters(),
                              state=ExperimentState.DIVERGED)
    with pytest.raises(ExportError, match="experiment 4 has no learned parameters"):
        export_parameters_npz(record, tmp_path / "w.npz")
    assert os.listdir(tmp_path) == []


def test_unwritable_output_is_an_export_error(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="cannot write .*missing"):
        export_csv(fixed_records(), tmp_path / "missing" / "out.csv")
    with pytest.raises(ExportError, match="cannot write"):
        export_json(_session(), tmp_path)  # a folder
    assert os.listdir(tmp_path) == []


def test_a_failed_export_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text("old", encoding="utf-8")
    bad = fixed_records()[0].replace(train_cost="not a number")
    with pytest.raises((TypeError, ValueError)):
        export_csv([bad], path)
    assert path.read_text(encoding="utf-8") == "old"
    assert os.listdir(tmp_path) == ["out.csv"]


def test_export_of_a_stored_session(tmp_path: Path) -> None:
    path = tmp_path / "s.dnnsession"
    with SessionStore.create(path) as store:
        for record in fixed_records():
            store.put_experiment(record)
        data = store.load()
    assert _csv_text(data.in_order()) == EXPECTED_CSV


# -- the test set's figures and audit trail ------------------------------------------------------

TEST_COLUMNS = ["test_cost", "test_accuracy (0-1)", "test_r2", "tested_at (UTC)"]


def _rows(records: list[ExperimentRecord]) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(_csv_text(records), newline="")))


def test_csv_test_columns_are_empty_without_a_final_evaluation(tmp_path: Path) -> None:
    # A completed experiment with learned parameters: its test figures could be computed,
    # and the export must not do it.
    records = fixed_records()
    records[0] = records[0].replace(params=[(np.ones((1, 2)), np.zeros((1, 1)))])
    path = tmp_path / "s.dnnsession"
    with SessionStore.create(path) as store:
        store.put_dataset(DatasetSpec(name="moons"))
        for record in records:
            store.put_experiment(record)
        data = store.load()
    assert data.evaluations == []
    for row in _rows(data.in_order()):
        assert [row[c] for c in TEST_COLUMNS] == ["", "", "", ""]
    exported = session_json(data)
    assert exported["test_evaluations"] == []
    assert all("test_cost" not in e and "tested_at" not in e for e in exported["experiments"])


def test_csv_and_json_carry_the_stored_final_evaluations(tmp_path: Path) -> None:
    spec = DatasetSpec(name="moons")
    classification = TestEvaluation(1, 1_700_000_000.25, 0.25, 0.875, "accuracy", 40,
                                     spec.to_dict())
    regression = TestEvaluation(2, 1_700_000_100.0, 1.5, -0.5, "r2", 40, spec.to_dict())
    path = tmp_path / "s.dnnsession"
    with SessionStore.create(path) as store:
        store.put_dataset(spec)
        for record in fixed_records():
            store.put_experiment(record)
        store.add_test_evaluation(classification)
        store.add_test_evaluation(regression)
        data = store.load()
    rows = {row["id"]: row for row in _rows(data.in_order())}
    assert [rows["1"][c] for c in TEST_COLUMNS] == \
        ["0.25", "0.875", "", "2023-11-14T22:13:20.250000+00:00"]
    assert [rows["2"][c] for c in TEST_COLUMNS] == \
        ["1.5", "", "-0.5", "2023-11-14T22:15:00+00:00"]
    assert [rows["3"][c] for c in TEST_COLUMNS] == ["", "", "", ""]

    exported = _strict_json(json.dumps(session_json(data)))
    assert isinstance(exported, dict)
    assert exported["test_evaluations"] == [
        {"experiment_id": 1, "at": 1_700_000_000.25, "metric": "accuracy", "test_cost": 0.25,
         "test_accuracy": 0.875, "samples": 40, "dataset": spec.to_dict()},
        {"experiment_id": 2, "at": 1_700_000_100.0, "metric": "r2", "test_cost": 1.5,
         "test_r2": -0.5, "samples": 40, "dataset": spec.to_dict()},
    ]
    by_id = {e["id"]: e for e in exported["experiments"]}
    assert (by_id[1]["test_accuracy"], by_id[1]["test_r2"], by_id[1]["tested_at"]) == \
        (0.875, None, 1_700_000_000.25)
    assert by_id[2]["test_r2"] == -0.5
    assert "tested_at" not in by_id[3]
