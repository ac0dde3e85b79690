"""A plain description of which data to train on, so it can be saved and sent to a worker.

A :class:`DatasetSpec` names a built-in dataset (with its size, noise and seed) or a CSV file
(with its target column), plus the split. Loading it always gives the same :class:`Splits`, so
a worker process, a reopened session and the CLI all see the same training, validation and
test rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DataError
from .csv_import import read_csv
from .dataset import Dataset, Splits, Task, TrainData
from .registry import load_dataset
from .splits import load_npz, split_dataset

SOURCES = ("builtin", "csv", "npz")
DATA_SUFFIXES = {"csv": (".csv", ".tsv", ".txt", ".dat"), "npz": (".npz",)}
"""File name endings that data of each source has; a spec naming anything else (say, from a
session file someone sent) is worth a question before it is read."""


@dataclass(frozen=True)
class DatasetSpec:
    """Which data, and how it is split.

    Attributes
    ----------
    source : str
        ``"builtin"``, ``"csv"``, or ``"npz"`` (a user's own training and validation
        arrays, used as given: no split, no test set).
    name : str
        The built-in dataset's name (for ``"builtin"``).
    path : str
        The CSV or .npz file.
    target : str or None
        The CSV column to predict (None: the last one).
    task : str or None
        A forced task (``"binary"``, ``"multiclass"``, ``"regression"``); None guesses.
    n_samples, noise : optional
        Size and noise of a generated dataset (None: its defaults).
    seed : int
        Seed for generating and splitting.
    split : tuple of 3 float
        Training, validation and test fractions.
    """

    source: str = "builtin"
    name: str = "planar"
    path: str = ""
    target: str | None = None
    task: str | None = None
    n_samples: int | None = None
    noise: float | None = None
    seed: int = 0
    split: tuple[float, float, float] = (0.6, 0.2, 0.2)

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise DataError(f"unknown data source {self.source!r}; expected one of {SOURCES}")
        if not isinstance(self.split, tuple):
            object.__setattr__(self, "split", tuple(float(f) for f in self.split))
        if self.task is not None and self.task not in {t.value for t in Task}:
            raise DataError(f"unknown task {self.task!r}")

    @property
    def title(self) -> str:
        """A short name for the user: the dataset's name or the file's name."""
        if self.source in ("csv", "npz"):
            return self.path.replace("\\", "/").rsplit("/", 1)[-1] or "CSV file"
        return self.name

    def unusual_file(self) -> bool:
        """True if this spec reads a file that does not look like data for its source (no
        data file ending, or not a regular file): ask before reading one named by a file
        that came from elsewhere."""
        if self.source not in DATA_SUFFIXES:
            return False
        path = Path(self.path)
        if not path.name.lower().endswith(DATA_SUFFIXES[self.source]):
            return True
        return path.exists() and not path.is_file()

    def load_dataset(self) -> Dataset:
        """The whole dataset, before splitting (reads the file for a CSV source)."""
        task = None if self.task is None else Task(self.task)
        if self.source == "npz":
            raise DataError(
                "an .npz file holds its own training and validation sets; there is no whole "
                "dataset to split, and no test set"
            )
        if self.source == "csv":
            return read_csv(self.path, self.target, task=task)
        return load_dataset(self.name, n_samples=self.n_samples, noise=self.noise, seed=self.seed)

    def load(self) -> Splits:
        """The dataset split and standardised as this spec says."""
        return split_dataset(self.load_dataset(), self.split, seed=self.seed)

    def training_data(self) -> TrainData:
        """What the trainer sees: the training and validation sets, for any source."""
        if self.source == "npz":
            task = None if self.task is None else Task(self.task)
            return load_npz(self.path, task=task)
        return self.load().training_data()

    def replace(self, **changes: Any) -> DatasetSpec:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["split"] = list(self.split)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DatasetSpec:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise DataError(f"unknown dataset settings: {', '.join(sorted(unknown))}")
        values = dict(data)
        if "split" in values:
            values["split"] = tuple(values["split"])
        return cls(**values)
