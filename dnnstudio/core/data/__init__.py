"""Datasets: built-in generators and shipped files, CSV and .npz import, and splitting.

Rows are samples throughout: ``X`` has shape ``(m, n_x)`` and ``y`` shape ``(m,)``.
"""

from __future__ import annotations

from dnnstudio.core.data.csv_import import (
    MAX_CLASSES,
    MAX_NUMERIC_CLASSES,
    MIN_ROWS,
    read_csv,
    suggest_task,
)
from dnnstudio.core.data.dataset import Dataset, Splits, Standardizer, Task, TrainData
from dnnstudio.core.data.generators import blobs, circles, moons, planar, spirals, xor
from dnnstudio.core.data.registry import DatasetInfo, dataset_info, list_datasets, load_dataset
from dnnstudio.core.data.splits import NPZ_KEYS, load_npz, split_dataset, train_val_from_arrays

__all__ = [
    "MAX_CLASSES",
    "MAX_NUMERIC_CLASSES",
    "MIN_ROWS",
    "NPZ_KEYS",
    "Dataset",
    "DatasetInfo",
    "Splits",
    "Standardizer",
    "Task",
    "TrainData",
    "blobs",
    "circles",
    "dataset_info",
    "list_datasets",
    "load_dataset",
    "load_npz",
    "moons",
    "planar",
    "read_csv",
    "spirals",
    "split_dataset",
    "suggest_task",
    "train_val_from_arrays",
    "xor",
]
