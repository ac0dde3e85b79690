"""Training / validation / test splits, and a user's own pre-split arrays.

The split is made once, before anything is learned, and the feature statistics used for
standardisation come from the training rows alone: computing them on all rows would let the
validation and test sets leak into training and make their scores optimistic.
"""

from __future__ import annotations

import math
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dnnstudio.core.data.dataset import Dataset, Splits, Standardizer, Task, TrainData
from dnnstudio.core.errors import DataError

__all__ = ["NPZ_KEYS", "load_npz", "split_dataset", "train_val_from_arrays"]

NPZ_KEYS = ("X_train", "y_train", "X_val", "y_val")
"""The arrays an ``.npz`` file must hold for :func:`load_npz`."""


def _check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    try:
        values = tuple(float(f) for f in fractions)
    except (TypeError, ValueError):
        raise DataError(
            f"fractions must be three numbers (train, validation, test), not {fractions!r}."
        ) from None
    if len(values) != 3:
        raise DataError(
            f"fractions must be three numbers (train, validation, test), not {len(values)}."
        )
    train, val, test = values
    if not all(math.isfinite(f) and f >= 0 for f in values):
        raise DataError(f"fractions {values} are not allowed: each must be a number >= 0.")
    if train <= 0:
        raise DataError("the training fraction must be > 0: the network has to learn from data.")
    if val <= 0:
        raise DataError(
            "the validation fraction must be > 0: without a validation set you cannot see "
            "overfitting or compare settings."
        )
    if abs(train + val + test - 1.0) > 1e-6:
        raise DataError(
            f"fractions {train:g} + {val:g} + {test:g} = {train + val + test:g}; they must add "
            "up to 1."
        )
    return train, val, test


def _allocate(group_sizes: Sequence[int], fractions: tuple[float, float, float]) -> np.ndarray:
    """How many examples of each group go to each set.

    Parameters
    ----------
    group_sizes : sequence of int, length k
        Examples per group: per class when stratifying, else one group of all examples.
    fractions : (train, val, test)

    Returns
    -------
    ndarray of shape (k, 3), int64
        Row ``c`` adds up to ``group_sizes[c]`` and each entry is ``fraction * size`` rounded
        down or up, so every group is split in the same proportions within one example. Which
        entries are rounded up is chosen to keep each set's running total close to its share,
        so the set sizes end up within about one example of ``m * fractions`` (for a single
        group this is the largest-remainder method, ties going to the earlier set).
    """
    counts = np.zeros((len(group_sizes), 3), dtype=np.int64)
    share = np.asarray(fractions, dtype=np.float64)
    behind = np.zeros(3)  # each set's running shortfall against its share
    for c, n in enumerate(group_sizes):
        wanted = share * n
        # The epsilon keeps 0.2 * 5 = 0.9999999999999999 from rounding down to 0.
        base = np.floor(wanted + 1e-9).astype(np.int64)
        remainder = np.maximum(wanted - base, 0.0)
        priority = behind + remainder
        candidates = [s for s in range(3) if remainder[s] > 1e-9]
        extra = np.zeros(3, dtype=np.int64)
        for s in sorted(candidates, key=lambda s: (-priority[s], s))[: n - int(base.sum())]:
            extra[s] = 1
        counts[c] = base + extra
        behind = priority - extra
    return counts


def _balance_set_sizes(
    counts: np.ndarray, group_sizes: Sequence[int], fractions: tuple[float, float, float]
) -> None:
    """Move examples between sets, in place, towards the sizes of one ungrouped allocation.

    Only moves that keep every group's share of both sets within one example of its target
    are made: from a set where the group was rounded up to one where it was rounded down.
    """
    target = _allocate([int(np.sum(group_sizes))], fractions)[0]
    wanted = np.outer(np.asarray(group_sizes, dtype=np.float64), fractions)
    for _ in range(3 * len(counts) + 3):
        totals = counts.sum(axis=0)
        move = next(
            (
                (c, s, t)
                for s in range(3)
                if totals[s] > target[s]
                for t in range(3)
                if totals[t] < target[t]
                for c in range(len(counts))
                if counts[c, s] > wanted[c, s] + 1e-9 and counts[c, t] < wanted[c, t] - 1e-9
            ),
            None,
        )
        if move is None:
            return
        c, s, t = move
        counts[c, s] -= 1
        counts[c, t] += 1


def _fill_empty_sets(counts: np.ndarray, fractions: tuple[float, float, float]) -> None:
    """Give a set with a positive fraction that came out empty one example, in place.

    The example comes from the largest set, from its best-represented group.
    """
    for s, f in enumerate(fractions):
        if f > 0 and counts[:, s].sum() == 0:
            donor = int(np.argmax(counts.sum(axis=0)))
            group = int(np.argmax(counts[:, donor]))
            counts[group, donor] -= 1
            counts[group, s] += 1


def _every_class_in_train(counts: np.ndarray) -> None:
    """Move into the training set one example of each class it lacks, in place, if possible.

    The set that gives the example up gets in exchange one training example of the class best
    represented in training (which keeps two or more), so the set sizes do not change.
    """
    for c in range(len(counts)):
        if counts[c, 0] > 0:
            continue
        donor_class = int(np.argmax(counts[:, 0]))
        if counts[donor_class, 0] < 2:
            return  # Too few training examples for one of every class.
        s = 1 if counts[c, 1] >= counts[c, 2] else 2
        counts[c, s] -= 1
        counts[c, 0] += 1
        counts[donor_class, 0] -= 1
        counts[donor_class, s] += 1


def split_dataset(
    dataset: Dataset,
    fractions: Sequence[float] = (0.6, 0.2, 0.2),
    *,
    seed: int = 0,
    stratify: bool = True,
    standardize: bool = True,
) -> Splits:
    """Split a dataset into training, validation and test sets.

    Parameters
    ----------
    dataset : Dataset
        ``X`` of shape ``(m, n_x)``, ``y`` of shape ``(m,)``.
    fractions : sequence of 3 floats
        ``(train, val, test)``: each >= 0, train and val > 0, adding up to 1 (within 1e-6).
        A test fraction of 0 means no test set.
    seed : int
        Seed for ``np.random.default_rng``: the same seed gives the same split.
    stratify : bool
        For classification, split every class in the same proportions (within one example)
        and put at least one example of every class in the training set when possible.
        Ignored for regression.
    standardize : bool
        Standardise the features with the mean and standard deviation of the training rows
        only; for regression also the target (``y_mean``, ``y_scale``).

    Returns
    -------
    Splits
        Index arrays (int64, disjoint, together ``0..m-1``, in random order) into the dataset.
        The sizes are ``m * fractions`` rounded by largest remainders (ties to the earlier
        set). With stratification every class's share of each set is ``fraction * n_class``
        rounded down or up; in the rare case where no such rounding adds up to those sizes,
        the sizes may differ from them by one.

    Raises
    ------
    DataError
        For invalid fractions, or when the data are too few to give every set with a positive
        fraction at least one example.
    """
    train_f, val_f, test_f = _check_fractions(fractions)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise DataError(f"seed must be a whole number >= 0, not {seed!r}.")
    m = dataset.n_samples
    needed = sum(1 for f in (train_f, val_f, test_f) if f > 0)
    if m < needed:
        raise DataError(
            f"the dataset has {m} example{'s' if m != 1 else ''}, too few to fill the "
            f"{needed} sets asked for (one example each at the very least)."
        )
    rng = np.random.default_rng(int(seed))
    stratified = bool(stratify) and dataset.task.is_classification
    if stratified:
        groups = [np.flatnonzero(dataset.y == label) for label in np.unique(dataset.y)]
    else:
        groups = [np.arange(m)]
    sizes = [len(g) for g in groups]
    counts = _allocate(sizes, (train_f, val_f, test_f))
    _balance_set_sizes(counts, sizes, (train_f, val_f, test_f))
    _fill_empty_sets(counts, (train_f, val_f, test_f))
    if stratified:
        _every_class_in_train(counts)
    parts: tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]] = ([], [], [])
    for group, (n_train, n_val, _) in zip(groups, counts, strict=True):
        members = rng.permutation(group)
        parts[0].append(members[:n_train])
        parts[1].append(members[n_train : n_train + n_val])
        parts[2].append(members[n_train + n_val :])
    # Shuffle each set as a whole too, so that its classes are not in blocks.
    train_index, val_index, test_index = (
        rng.permutation(np.concatenate(p)).astype(np.int64) for p in parts
    )

    x_scaler: Standardizer | None = None
    y_mean, y_scale = 0.0, 1.0
    if standardize:
        x_scaler = Standardizer.fit(dataset.X[train_index])
        if dataset.task is Task.REGRESSION:
            y_train = dataset.y[train_index]
            y_mean = float(y_train.mean())
            spread = float(y_train.std())
            y_scale = spread if spread > 0 else 1.0
    return Splits(
        dataset=dataset,
        fractions=(train_f, val_f, test_f),
        seed=int(seed),
        stratified=stratified,
        train_index=train_index,
        val_index=val_index,
        test_index=test_index,
        x_scaler=x_scaler,
        y_mean=y_mean,
        y_scale=y_scale,
    )


def _as_features(name: str, value: object) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise DataError(f"{name} must hold numbers, but its dtype is {array.dtype}.")
    if array.ndim != 2:
        raise DataError(
            f"{name} has shape {array.shape}; it must be 2-D, (examples, features), with one "
            "row per example."
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise DataError(f"{name} has shape {array.shape}; it needs at least one row and column.")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        row, col = (int(v) for v in np.argwhere(~np.isfinite(array))[0])
        raise DataError(
            f"{name}[{row}, {col}] is {array[row, col]}; every value must be a finite number."
        )
    return array


def _as_target(
    name: str, value: object, m: int, x_name: str, x_shape: tuple[int, ...]
) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise DataError(f"{name} must hold numbers, but its dtype is {array.dtype}.")
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise DataError(
            f"{name} has shape {array.shape}; it must be 1-D, ({m},), one value per row of "
            f"{x_name} (rows are examples: a (1, m) array needs transposing)."
        )
    if len(array) != m:
        hint = ""
        if len(x_shape) == 2 and len(array) == x_shape[1]:
            hint = f" {x_name} looks transposed: rows must be examples, columns features."
        raise DataError(
            f"{name} has {len(array)} values but {x_name} has {m} rows; they must match.{hint}"
        )
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        i = int(np.argmax(~np.isfinite(array)))
        raise DataError(f"{name}[{i}] is {array[i]}; every value must be a finite number.")
    return array


def train_val_from_arrays(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    *,
    task: Task | None = None,
) -> TrainData:
    """Check a user's own, already split arrays and wrap them as :class:`TrainData`.

    The arrays are used as given: not standardised, not shuffled.

    Parameters
    ----------
    X_train : ndarray of shape (m_train, n_x)
    y_train : ndarray of shape (m_train,) or (m_train, 1)
    X_val : ndarray of shape (m_val, n_x)
    y_val : ndarray of shape (m_val,) or (m_val, 1)
    task : Task, optional
        By default whole-number labels (integer or bool dtype, or floats that are all whole)
        mean classification and other floats regression; pass :attr:`Task.REGRESSION` to treat
        whole numbers as quantities.

    Returns
    -------
    TrainData
        For classification the labels, sorted, become class indices ``0..k-1`` and
        ``class_names`` are the labels as text (``"0".."k-1"`` when the labels are already
        ``0..k-1``); for regression ``y`` is float64 as given.

    Raises
    ------
    DataError
        For non-numeric, non-finite or mismatched arrays, a single class, or validation labels
        that never occur in training.
    """
    Xt = _as_features("X_train", X_train)
    Xv = _as_features("X_val", X_val)
    if Xt.shape[1] != Xv.shape[1]:
        raise DataError(
            f"X_train has {Xt.shape[1]} features (columns) but X_val has {Xv.shape[1]}; they "
            "must have the same columns."
        )
    yt = _as_target("y_train", y_train, Xt.shape[0], "X_train", np.shape(X_train))
    yv = _as_target("y_val", y_val, Xv.shape[0], "X_val", np.shape(X_val))
    both = np.concatenate([yt.astype(np.float64), yv.astype(np.float64)])
    whole = bool(np.all(both == np.round(both)))
    feature_names = tuple(f"x{j + 1}" for j in range(Xt.shape[1]))
    if task is Task.REGRESSION or (task is None and not whole):
        return TrainData(
            X_train=Xt,
            y_train=yt.astype(np.float64),
            X_val=Xv,
            y_val=yv.astype(np.float64),
            task=Task.REGRESSION,
            feature_names=feature_names,
        )
    if not whole:
        i = int(np.argmax(both != np.round(both)))
        where = f"y_train[{i}]" if i < len(yt) else f"y_val[{i - len(yt)}]"
        raise DataError(
            f"{where} is {both[i]}; class labels must be whole numbers (or ask for regression)."
        )
    labels = np.unique(yt.astype(np.float64))
    if len(labels) < 2:
        raise DataError(
            f"y_train has only the label {labels[0]:g}; a classifier needs at least two classes."
        )
    unseen = np.setdiff1d(np.unique(yv.astype(np.float64)), labels)
    if len(unseen):
        raise DataError(
            f"y_val contains the label {unseen[0]:g}, which never occurs in y_train; the network "
            "cannot learn a class it never sees."
        )
    if task is Task.BINARY and len(labels) > 2:
        raise DataError(f"binary classification needs two classes, but y_train has {len(labels)}.")
    final = Task.BINARY if len(labels) == 2 else Task.MULTICLASS
    return TrainData(
        X_train=Xt,
        y_train=np.searchsorted(labels, yt.astype(np.float64)).astype(np.int64),
        X_val=Xv,
        y_val=np.searchsorted(labels, yv.astype(np.float64)).astype(np.int64),
        task=final,
        class_names=tuple(str(int(v)) for v in labels),
        feature_names=feature_names,
    )


def load_npz(path: str | os.PathLike[str], *, task: Task | None = None) -> TrainData:
    """Read ``X_train``, ``y_train``, ``X_val`` and ``y_val`` from a NumPy ``.npz`` file.

    Parameters
    ----------
    path : str or path-like
        An ``.npz`` archive (``np.savez``) with those four arrays, rows being examples.
        Object arrays are refused: nothing is unpickled.
    task : Task, optional
        As for :func:`train_val_from_arrays`.

    Returns
    -------
    TrainData
        See :func:`train_val_from_arrays`.

    Raises
    ------
    DataError
        When the file is missing, not an ``.npz`` archive, lacks one of the arrays, or its
        arrays fail the checks of :func:`train_val_from_arrays`.
    """
    file = Path(path)
    if not file.exists():
        raise DataError(f"there is no file at {str(file)!r}.")
    if file.is_dir():
        raise DataError(f"{str(file)!r} is a folder; choose an .npz file.")
    arrays: dict[str, np.ndarray] = {}
    usage = f"np.savez(path, {', '.join(f'{k}=...' for k in NPZ_KEYS)})"
    unreadable = (ValueError, OSError, EOFError, zipfile.BadZipFile)
    try:
        # Our own handle, so it is closed even when NumPy fails halfway through opening it.
        with file.open("rb") as handle:
            try:
                loaded = np.load(handle, allow_pickle=False)
            except unreadable as exc:
                raise DataError(
                    f"{file.name!r} is not a NumPy .npz file ({exc}); save the arrays with "
                    f"{usage}."
                ) from None
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise DataError(
                    f"{file.name!r} holds a single array (.npy), not an .npz archive; save the "
                    f"arrays with {usage}."
                )
            with loaded:
                missing = [k for k in NPZ_KEYS if k not in loaded.files]
                if missing:
                    found = ", ".join(loaded.files) or "none"
                    raise DataError(
                        f"{file.name!r} lacks {', '.join(missing)}; it needs the arrays "
                        f"{', '.join(NPZ_KEYS)} (arrays found: {found})."
                    )
                for key in NPZ_KEYS:
                    try:
                        arrays[key] = loaded[key]
                    except unreadable as exc:
                        raise DataError(
                            f"cannot read the array {key!r} from {file.name!r}: {exc}."
                        ) from None
    except OSError as exc:
        raise DataError(f"cannot read {str(file)!r}: {exc.strerror or exc}.") from None
    return train_val_from_arrays(
        arrays["X_train"], arrays["y_train"], arrays["X_val"], arrays["y_val"], task=task
    )
