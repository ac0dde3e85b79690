"""The data types the engine passes around.

Rows are samples throughout: ``X`` has shape ``(m, n_x)`` (``m`` examples, ``n_x`` features).
The trainer only ever receives a :class:`TrainData` (training and validation sets); the test
set stays inside :class:`Splits` and comes out only through :meth:`Splits.test_data`, which is
called when a person explicitly asks for a final evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np


class Task(str, Enum):  # noqa: UP042 (StrEnum would change str(Task.BINARY))
    """What the network predicts; it decides the output layer and the cost."""

    BINARY = "binary"
    """Two classes: one sigmoid unit, binary cross-entropy."""
    MULTICLASS = "multiclass"
    """Three or more classes: softmax units, categorical cross-entropy."""
    REGRESSION = "regression"
    """A numeric target: one linear unit, mean squared error."""

    @property
    def is_classification(self) -> bool:
        return self is not Task.REGRESSION


@dataclass(frozen=True, eq=False)
class Dataset:
    """A whole labelled dataset before it is split.

    Attributes
    ----------
    name : str
        Short name (``"planar"``, ``"iris"`` or the CSV file's stem).
    X : ndarray of shape (m, n_x), float64
        Features, one row per example.
    y : ndarray of shape (m,)
        Class indices ``0..k-1`` (int64) for classification, values (float64) for regression.
    task : Task
    feature_names : tuple of str, length n_x
    target_name : str
    class_names : tuple of str
        ``class_names[i]`` is the label of class index ``i``; empty for regression.
    description : str
        One or two sentences for the user.
    source : str
        Where the data comes from and under which licence (empty for generated data).
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    task: Task
    feature_names: tuple[str, ...]
    target_name: str = "y"
    class_names: tuple[str, ...] = ()
    description: str = ""
    source: str = ""

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_classes(self) -> int:
        """Number of classes (0 for regression)."""
        return len(self.class_names)


@dataclass(frozen=True, eq=False)
class TrainData:
    """What the trainer sees: a training set and a validation set, never a test set.

    Attributes
    ----------
    X_train : ndarray of shape (m_train, n_x)
    y_train : ndarray of shape (m_train,)
        Class indices (int) or, for regression, target values (float).
    X_val : ndarray of shape (m_val, n_x)
    y_val : ndarray of shape (m_val,)
    task : Task
    class_names : tuple of str
        Empty for regression.
    feature_names : tuple of str
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    task: Task
    class_names: tuple[str, ...] = ()
    feature_names: tuple[str, ...] = ()

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def n_outputs(self) -> int:
        """Units in the output layer, ``n[L]``: 1 for binary and regression, k for k classes."""
        return len(self.class_names) if self.task is Task.MULTICLASS else 1


@dataclass(frozen=True)
class Standardizer:
    """Per-feature ``(x - mean) / scale`` with statistics from the training set only.

    Attributes
    ----------
    mean : ndarray of shape (n_x,)
    scale : ndarray of shape (n_x,)
        Standard deviations, with constant features given a scale of 1.
    """

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray) -> Standardizer:
        mean = X.mean(axis=0)
        scale = X.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        return cls(mean=mean, scale=scale)

    def transform(self, X: np.ndarray) -> np.ndarray:
        return np.asarray((X - self.mean) / self.scale, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class Splits:
    """A dataset split into training, validation and test sets, standardised.

    The test set is reachable only through :meth:`test_data`, so that tuning code, which works
    with :meth:`training_data`, cannot touch it by accident.

    Attributes
    ----------
    dataset : Dataset
        The unsplit, unstandardised data it came from.
    fractions : tuple of float
        ``(train, val, test)`` fractions that were asked for.
    seed : int
    stratified : bool
    x_scaler : Standardizer or None
        Feature statistics from the training rows (None when not standardised).
    y_mean, y_scale : float
        For regression the target is standardised too (``(y - y_mean) / y_scale``); 0 and 1
        for classification.
    """

    dataset: Dataset
    fractions: tuple[float, float, float]
    seed: int
    stratified: bool
    train_index: np.ndarray
    val_index: np.ndarray
    test_index: np.ndarray = field(repr=False)
    x_scaler: Standardizer | None = None
    y_mean: float = 0.0
    y_scale: float = 1.0

    def _xy(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X = self.dataset.X[index]
        if self.x_scaler is not None:
            X = self.x_scaler.transform(X)
        y = self.dataset.y[index]
        if self.dataset.task is Task.REGRESSION:
            y = (y - self.y_mean) / self.y_scale
        return X, y

    def training_data(self) -> TrainData:
        """The training and validation sets, standardised, for the trainer."""
        X_train, y_train = self._xy(self.train_index)
        X_val, y_val = self._xy(self.val_index)
        return TrainData(
            X_train=X_train,
            y_train=y_train,
            X_val=X_val,
            y_val=y_val,
            task=self.dataset.task,
            class_names=self.dataset.class_names,
            feature_names=self.dataset.feature_names,
        )

    def test_data(self) -> tuple[np.ndarray, np.ndarray]:
        """The held-out test set, standardised like the training set.

        Call this once, for the final evaluation of the chosen model; every look at the test
        set while tuning makes its estimate more optimistic.
        """
        return self._xy(self.test_index)

    @property
    def sizes(self) -> tuple[int, int, int]:
        """Numbers of examples in the training, validation and test sets."""
        return len(self.train_index), len(self.val_index), len(self.test_index)
