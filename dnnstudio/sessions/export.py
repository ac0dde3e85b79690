"""Exports of a session's results: a CSV table, a JSON document, and learned parameters.

CSV
---
:func:`export_csv` writes one row per experiment, UTF-8 (no byte-order mark), RFC 4180 quoting
and ``\\r\\n`` line ends. The columns are :func:`csv_columns`: ``id, state, note, group``, then
(when a dataset is given) ``dataset, split, data_seed``, then every hyperparameter, then the
results ``epochs_run, train_cost, val_cost, train_accuracy (0-1), val_accuracy (0-1), train_r2,
val_r2, gap, test_cost, test_accuracy (0-1), test_r2, tested_at (UTC), train_time_s,
parameter_count, message``.

The test columns are copied from the experiment's stored final evaluation (see
:mod:`dnnstudio.runs.evaluation`), never computed here: they are empty for every experiment
that was not evaluated on the test set. ``tested_at (UTC)`` is an ISO 8601 time to the
microsecond (``2025-11-24T03:48:00.250000+00:00``).

Header convention: every column is named by the same snake_case name the JSON export and
``dnnstudio train --json`` use. A physical unit is part of that name as a suffix
(``train_time_s``: seconds). Where the name leaves the scale or unit open, a note in
parentheses follows, after a space: ``train_accuracy (0-1)`` is a fraction, not a percentage;
``decay_step (epochs)`` and ``patience (epochs)`` count epochs. Quantities without a unit
(costs, R², ``alpha``, ``l2``, probabilities) have no note. Drop everything from the first
space to get the plain names.

Cells: numbers are written as numbers, floats with Python's shortest exact ``repr`` (they
read back bit for bit), and are never altered. An empty cell means "not applicable" or "not
measured": NaN, a run that has not finished, the accuracy columns of a regression (and the R²
columns of a classification), ``batch_size`` of a full-batch run, ``patience`` when early
stopping is off. ``hidden`` is the layer sizes joined by ``-`` (``64-64``; empty for no hidden
layer) and ``activation`` the hidden activation of each layer, joined the same way
(``relu-tanh``). Text that a spreadsheet would run as a formula (it starts with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return; OWASP's CSV-injection guidance) gets a ``'``
in front, so ``=HYPERLINK(...)`` in a note stays text.

JSON
----
:func:`export_json` writes :func:`session_json`: the dataset spec, the order, every
experiment with its hyperparameters, figures (``test_*`` and ``tested_at`` only after its final
evaluation), note and per-epoch history, and ``test_evaluations``, the test set's audit trail:
which experiment was evaluated, when (Unix time), with which figures, on how many examples of
which data and split. NaN and infinities (which JSON cannot hold) are ``null``.

Parameters
----------
:func:`export_parameters_npz` writes one experiment's ``W1 .. WL`` and ``b1 .. bL`` in the
course's orientation (``W[l]`` ``(n[l], n[l-1])``, ``b[l]`` ``(n[l], 1)``) with
:func:`numpy.savez`; ``np.load(path)`` reads them back with no pickle involved.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TextIO

import numpy as np

from .. import __version__
from ..core.data.spec import DatasetSpec
from ..core.errors import DnnStudioError
from ..core.hyperparams import Hyperparameters
from ..core.training import HISTORY_FIELDS
from ..runs.records import ExperimentRecord, TestEvaluation
from .store import SCHEMA_VERSION, SessionData, param_arrays

Target = str | os.PathLike[str] | TextIO
"""A file name, or an open text stream (open files with ``newline=""`` for CSV)."""

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""Leading characters that make a spreadsheet read a cell as a formula."""

_HYPERPARAMETER_NOTES = {"decay_step": " (epochs)", "patience": " (epochs)"}
_RESULT_COLUMNS = (
    "epochs_run", "train_cost", "val_cost", "train_accuracy (0-1)", "val_accuracy (0-1)",
    "train_r2", "val_r2", "gap", "test_cost", "test_accuracy (0-1)", "test_r2",
    "tested_at (UTC)", "train_time_s", "parameter_count", "message",
)
_DATASET_COLUMNS = ("dataset", "split", "data_seed")


class ExportError(DnnStudioError):
    """An export could not be written; the message says which file and why."""


# -- cells ----------------------------------------------------------------------------------------

def text_cell(value: str) -> str:
    """``value`` safe to open in a spreadsheet: a leading formula character is quoted."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def number_cell(value: float | int | None) -> str:
    """A number as CSV text: ints as they are, floats exact (``repr``), NaN and None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        raise TypeError("a bool is not a number cell")
    if isinstance(value, int | np.integer):
        return str(int(value))
    number = float(value)
    return "" if math.isnan(number) else repr(number)


def _cell(value: Any) -> str:
    if isinstance(value, str):
        return text_cell(value)
    return number_cell(value)


def _hyperparameter_fields() -> list[str]:
    return [f.name for f in dataclasses.fields(Hyperparameters) if f.init]


def csv_columns(*, dataset: bool = False) -> list[str]:
    """The CSV header: see the module docstring for the naming convention."""
    columns = ["id", "state", "note", "group"]
    if dataset:
        columns.extend(_DATASET_COLUMNS)
    columns.extend(name + _HYPERPARAMETER_NOTES.get(name, "") for name in _hyperparameter_fields())
    columns.extend(_RESULT_COLUMNS)
    return columns


def _hyperparameter_cells(hp: Hyperparameters) -> list[str]:
    cells = []
    for name in _hyperparameter_fields():
        if name == "hidden":
            cells.append(text_cell("-".join(str(n) for n in hp.hidden)))
        elif name == "activation":
            cells.append(text_cell("-".join(hp.hidden_activations)))
        else:
            cells.append(_cell(getattr(hp, name)))
    return cells


def _metrics(record: ExperimentRecord) -> dict[str, float]:
    """``train_accuracy``, ``val_accuracy``, ``train_r2``, ``val_r2``, NaN where they do not
    apply to the record's metric."""
    nan = math.nan
    if record.metric == "r2":
        return {"train_accuracy": nan, "val_accuracy": nan,
                "train_r2": record.train_metric, "val_r2": record.val_metric}
    return {"train_accuracy": record.train_metric, "val_accuracy": record.val_metric,
            "train_r2": nan, "val_r2": nan}


def _test_metrics(record: ExperimentRecord) -> dict[str, float]:
    """``test_cost``, ``test_accuracy``, ``test_r2`` as stored by the experiment's final
    evaluation: NaN for an experiment that was not evaluated (nothing is computed here)."""
    nan = math.nan
    if not record.tested:
        return {"test_cost": nan, "test_accuracy": nan, "test_r2": nan}
    accuracy, r2 = (nan, record.test_metric) if record.metric == "r2" else (record.test_metric,
                                                                             nan)
    return {"test_cost": record.test_cost, "test_accuracy": accuracy, "test_r2": r2}


def _utc(at: float | None) -> str:
    return "" if at is None else datetime.fromtimestamp(at, UTC).isoformat()


def csv_row(record: ExperimentRecord, *, dataset: DatasetSpec | None = None) -> list[str]:
    """One experiment's cells, in :func:`csv_columns` order."""
    cells = [number_cell(record.id), text_cell(str(record.state)), text_cell(record.note),
             text_cell(record.group)]
    if dataset is not None:
        cells.extend([text_cell(dataset.title),
                      text_cell("/".join(repr(float(f)) for f in dataset.split)),
                      number_cell(dataset.seed)])
    cells.extend(_hyperparameter_cells(record.hyperparameters))
    metrics = _metrics(record)
    test = _test_metrics(record)
    cells.extend([
        number_cell(record.epochs_run),
        number_cell(record.train_cost),
        number_cell(record.val_cost),
        number_cell(metrics["train_accuracy"]),
        number_cell(metrics["val_accuracy"]),
        number_cell(metrics["train_r2"]),
        number_cell(metrics["val_r2"]),
        number_cell(record.gap),
        number_cell(test["test_cost"]),
        number_cell(test["test_accuracy"]),
        number_cell(test["test_r2"]),
        text_cell(_utc(record.tested_at)),
        number_cell(record.train_time_s),
        number_cell(record.parameter_count),
        text_cell(record.message),
    ])
    return cells


# -- output -------------------------------------------------------------------------------------

@contextmanager
def _output(target: Target | str, *, binary: bool = False) -> Iterator[IO[Any]]:
    """A stream to write to: ``target`` itself if it is one, else a file written next to the
    named one and renamed into place, so a failed export never leaves half a file."""
    if not isinstance(target, str | os.PathLike):
        yield target
        return
    path = Path(target)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        if binary:
            with tmp.open("wb") as stream:
                yield stream
        else:
            with tmp.open("w", encoding="utf-8", newline="") as stream:
                yield stream
        os.replace(tmp, path)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)


def export_csv(records: Iterable[ExperimentRecord], stream_or_path: Target, *,
               dataset: DatasetSpec | None = None) -> None:
    """Write one CSV row per experiment (see the module docstring for the format).

    Parameters
    ----------
    records : iterable of ExperimentRecord
        In the order the rows should have.
    stream_or_path : str, path-like or text stream
        A file to (re)write, or an open text stream (opened with ``newline=""``).
    dataset : DatasetSpec, optional
        Adds the ``dataset``, ``split`` and ``data_seed`` columns.

    Raises
    ------
    ExportError
        The file cannot be written.
    """
    rows = [csv_row(record, dataset=dataset) for record in records]
    with _output(stream_or_path) as stream:
        writer = csv.writer(stream, lineterminator="\r\n")
        writer.writerow(csv_columns(dataset=dataset is not None))
        writer.writerows(rows)


def _json_value(value: Any) -> Any:
    """Plain JSON data: non-finite floats become None, tuples lists."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    raise TypeError(f"cannot export {type(value).__name__} to JSON")


def experiment_json(record: ExperimentRecord) -> dict[str, Any]:
    """One experiment as JSON-ready data (NaN as None), without its learned parameters."""
    metric = "r2" if record.metric == "r2" else "accuracy"
    history = record.history
    n = len(history.get("train_cost", ()))
    out: dict[str, Any] = {
        "id": record.id,
        "state": str(record.state),
        "note": record.note,
        "group": record.group,
        "created_at": record.created_at,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "hyperparameters": record.hyperparameters.to_dict(),
        "epochs_run": record.epochs_run,
        "metric": record.metric,
        "train_cost": record.train_cost,
        "val_cost": record.val_cost,
        **_metrics(record),
        "gap": record.gap,
        **({**_test_metrics(record), "tested_at": record.tested_at} if record.tested else {}),
        "train_time_s": record.train_time_s,
        "parameter_count": record.parameter_count,
        "message": record.message,
        "diverged_epoch": record.diverged_epoch,
        "history": {
            "epoch": list(range(1, n + 1)),
            **{
                name.replace("metric", metric): list(history.get(name, ()))
                for name in HISTORY_FIELDS
            },
        },
    }
    return dict(_json_value(out))


def evaluation_json(evaluation: TestEvaluation) -> dict[str, Any]:
    """One entry of the test set's audit trail as JSON-ready data."""
    metric = "r2" if evaluation.metric == "r2" else "accuracy"
    out = {
        "experiment_id": evaluation.experiment_id,
        "at": evaluation.at,
        "metric": evaluation.metric,
        "test_cost": evaluation.test_cost,
        f"test_{metric}": evaluation.test_metric,
        "samples": evaluation.samples,
        "dataset": dict(evaluation.dataset),
    }
    return dict(_json_value(out))


def session_json(session_data: SessionData) -> dict[str, Any]:
    """The whole session as JSON-ready data (what :func:`export_json` writes)."""
    dataset = session_data.dataset
    return {
        "format": "dnnstudio-session",
        "schema": SCHEMA_VERSION,
        "exported_by": f"DNN Studio {__version__}",
        "dataset": None if dataset is None else _json_value(dataset.to_dict()),
        "order": list(session_data.order),
        "experiments": [experiment_json(r) for r in session_data.in_order()],
        "test_evaluations": [evaluation_json(e) for e in session_data.evaluations],
    }


def export_json(session_data: SessionData, stream_or_path: Target) -> None:
    """Write the whole session as one JSON document (UTF-8, NaN as null).

    Raises
    ------
    ExportError
        The file cannot be written.
    """
    text = json.dumps(session_json(session_data), allow_nan=False, ensure_ascii=False,
                      indent=2)
    with _output(stream_or_path) as stream:
        stream.write(text + "\n")


def export_parameters_npz(record: ExperimentRecord, path: str | os.PathLike[str]) -> None:
    """Write an experiment's learned ``W1 .. WL`` and ``b1 .. bL`` to ``path`` (as named; no
    ``.npz`` is added).

    Raises
    ------
    ExportError
        The experiment has no learned parameters (it has not finished, or it diverged), or
        the file cannot be written.
    """
    if record.params is None:
        raise ExportError(
            f"experiment {record.id} has no learned parameters to export "
            f"(its state is {record.state})"
        )
    arrays = param_arrays(record.params)
    with _output(path, binary=True) as stream:
        np.savez(stream, **arrays)
