"""split_dataset, train_val_from_arrays and load_npz."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dnnstudio.core.data import (
    Dataset,
    Task,
    load_dataset,
    load_npz,
    split_dataset,
    train_val_from_arrays,
)
from dnnstudio.core.errors import DataError


def _classes(counts: list[int], n_features: int = 3, seed: int = 0) -> Dataset:
    """A classification dataset whose first feature is the row number, to trace rows."""
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.full(c, j, dtype=np.int64) for j, c in enumerate(counts)])
    m = len(y)
    X = np.column_stack([np.arange(m, dtype=np.float64), rng.normal(size=(m, n_features - 1))])
    return Dataset(
        name="toy",
        X=X,
        y=y,
        task=Task.BINARY if len(counts) == 2 else Task.MULTICLASS,
        feature_names=tuple(f"f{j}" for j in range(n_features)),
        class_names=tuple(str(j) for j in range(len(counts))),
    )


def _regression(m: int = 100) -> Dataset:
    rng = np.random.default_rng(1)
    X = np.column_stack([np.arange(m, dtype=np.float64), rng.normal(5.0, 3.0, m)])
    return Dataset(
        name="reg",
        X=X,
        y=rng.normal(50.0, 10.0, m),
        task=Task.REGRESSION,
        feature_names=("row", "z"),
    )


# ---------------------------------------------------------------------------------------------
# split_dataset


@pytest.mark.parametrize(
    ("m", "fractions", "sizes"),
    [
        (100, (0.6, 0.2, 0.2), (60, 20, 20)),
        (150, (0.7, 0.15, 0.15), (105, 23, 22)),
        (10, (0.8, 0.2, 0.0), (8, 2, 0)),
        (7, (0.6, 0.2, 0.2), (4, 2, 1)),
        (3, (0.98, 0.01, 0.01), (1, 1, 1)),
    ],
)
def test_sizes_follow_the_fractions(
    m: int, fractions: tuple[float, float, float], sizes: tuple[int, int, int]
) -> None:
    splits = split_dataset(_regression(m), fractions, seed=3)
    assert splits.sizes == sizes


@pytest.mark.parametrize("fractions", [(0.6, 0.2, 0.2), (0.5, 0.5, 0.0), (0.34, 0.33, 0.33)])
@pytest.mark.parametrize("stratify", [True, False])
def test_indices_are_disjoint_and_cover_every_row(
    fractions: tuple[float, float, float], stratify: bool
) -> None:
    ds = _classes([37, 50, 13])
    s = split_dataset(ds, fractions, seed=11, stratify=stratify)
    together = np.concatenate([s.train_index, s.val_index, s.test_index])
    assert together.dtype == np.int64
    np.testing.assert_array_equal(np.sort(together), np.arange(ds.n_samples))


def test_stratified_proportions_per_class() -> None:
    ds = load_dataset("wine")  # 59 / 71 / 48
    counts = np.bincount(ds.y)
    for seed in range(5):
        s = split_dataset(ds, (0.6, 0.2, 0.2), seed=seed)
        assert s.stratified
        sets = (s.train_index, s.val_index, s.test_index)
        for index, fraction in zip(sets, s.fractions, strict=True):
            got = np.bincount(ds.y[index], minlength=3)
            assert np.all(np.abs(got - fraction * counts) <= 1), (seed, got, fraction * counts)


def test_stratified_shares_and_sizes_for_many_class_mixes() -> None:
    rng = np.random.default_rng(123)
    exact = 0
    for case in range(150):
        counts = list(rng.integers(5, 120, size=rng.integers(2, 11)))
        train = float(rng.uniform(0.4, 0.8))
        val = float(rng.uniform(0.05, 1.0 - train))
        fractions = (train, val, 1.0 - train - val)
        ds = _classes(counts, n_features=1, seed=case)
        s = split_dataset(ds, fractions, seed=case)
        unstratified = split_dataset(ds, fractions, seed=case, stratify=False)
        exact += s.sizes == unstratified.sizes
        sets = (s.train_index, s.val_index, s.test_index)
        for index, fraction in zip(sets, fractions, strict=True):
            got = np.bincount(ds.y[index], minlength=len(counts))
            assert np.all(np.abs(got - fraction * np.array(counts)) < 1), (case, counts)
            assert abs(len(index) - fraction * ds.n_samples) < 1.5, (case, counts)
    assert exact >= 145


def test_unstratified_split_is_not_held_to_proportions() -> None:
    # With a 90/10 class balance, plain shuffling puts a visibly different share of the rare
    # class in the validation set for some seed; stratification never does.
    ds = _classes([180, 20])
    deviations = []
    for seed in range(30):
        s = split_dataset(ds, (0.5, 0.5, 0.0), seed=seed, stratify=False)
        assert not s.stratified
        deviations.append(abs(int(np.sum(ds.y[s.val_index] == 1)) - 10))
        t = split_dataset(ds, (0.5, 0.5, 0.0), seed=seed)
        assert abs(int(np.sum(ds.y[t.val_index] == 1)) - 10) <= 1
    assert max(deviations) > 1


def test_every_class_reaches_the_training_set() -> None:
    ds = _classes([60, 1, 2, 37])
    for seed in range(40):
        s = split_dataset(ds, (0.6, 0.2, 0.2), seed=seed)
        assert set(ds.y[s.train_index]) == {0, 1, 2, 3}, seed
        assert s.sizes == (60, 20, 20)


def test_regression_is_never_stratified() -> None:
    assert not split_dataset(_regression(), seed=0, stratify=True).stratified


def test_same_seed_same_split_other_seed_other_split() -> None:
    ds = _classes([40, 60])
    a, b, c = (split_dataset(ds, seed=s) for s in (7, 7, 8))
    for name in ("train_index", "val_index", "test_index"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(np.sort(a.val_index), np.sort(c.val_index))
    assert a.seed == 7


def test_sets_are_shuffled_not_sorted_by_class() -> None:
    ds = load_dataset("iris")  # the file is sorted by species
    s = split_dataset(ds, seed=0)
    assert len(np.unique(ds.y[s.train_index[:15]])) == 3


def test_features_are_standardised_with_training_statistics_only() -> None:
    ds = _classes([50, 50])
    s = split_dataset(ds, seed=2)
    train_rows = ds.X[s.train_index]
    assert s.x_scaler is not None
    np.testing.assert_allclose(s.x_scaler.mean, train_rows.mean(axis=0))
    np.testing.assert_allclose(s.x_scaler.scale, train_rows.std(axis=0))
    data = s.training_data()
    np.testing.assert_allclose(data.X_train.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(data.X_train.std(axis=0), 1.0)
    # The validation set uses the training statistics, so it is not exactly centred.
    assert np.abs(data.X_val.mean(axis=0)).max() > 1e-3


def test_a_huge_test_value_does_not_change_the_training_data() -> None:
    ds = _classes([50, 50])
    before = split_dataset(ds, seed=4)
    X = ds.X.copy()
    X[before.test_index[0], 1] = 1e12
    X[before.test_index[-1], 2] = -1e12
    after = split_dataset(dataclasses.replace(ds, X=X), seed=4)
    a, b = before.training_data(), after.training_data()
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.X_val, b.X_val)
    # ...while the test set does see its own change, so the change was real.
    assert after.test_data()[0].max() > 1e6


def test_test_rows_never_appear_in_training_data() -> None:
    ds = _classes([70, 30])
    s = split_dataset(ds, seed=9, standardize=False)
    data = s.training_data()
    seen = set(data.X_train[:, 0].astype(int)) | set(data.X_val[:, 0].astype(int))
    test_rows = set(s.test_data()[0][:, 0].astype(int))
    assert len(test_rows) == 20
    assert not seen & test_rows
    assert seen | test_rows == set(range(100))
    assert s.x_scaler is None
    np.testing.assert_array_equal(data.X_train, ds.X[s.train_index])
    np.testing.assert_array_equal(data.y_train, ds.y[s.train_index])


def test_regression_target_is_standardised_with_training_statistics() -> None:
    ds = _regression(200)
    s = split_dataset(ds, seed=5)
    y_train = ds.y[s.train_index]
    assert s.y_mean == pytest.approx(y_train.mean())
    assert s.y_scale == pytest.approx(y_train.std())
    assert s.y_mean != pytest.approx(ds.y.mean(), abs=1e-9)
    data = s.training_data()
    assert data.y_train.mean() == pytest.approx(0.0, abs=1e-12)
    assert data.y_train.std() == pytest.approx(1.0)
    plain = split_dataset(ds, seed=5, standardize=False)
    assert (plain.y_mean, plain.y_scale) == (0.0, 1.0)


def test_constant_feature_and_target_do_not_divide_by_zero() -> None:
    ds = _regression(30)
    ds = dataclasses.replace(ds, X=np.ones_like(ds.X), y=np.full(30, 4.0))
    data = split_dataset(ds, seed=0).training_data()
    assert np.all(np.isfinite(data.X_train))
    assert np.all(data.y_train == 0.0)


@pytest.mark.parametrize(
    "fractions",
    [
        (0.6, 0.2, 0.3),
        (0.5, 0.2, 0.2),
        (0.0, 0.5, 0.5),
        (0.8, 0.0, 0.2),
        (1.2, 0.2, -0.4),
        (0.6, 0.4),
        (0.5, 0.3, 0.1, 0.1),
        (float("nan"), 0.5, 0.5),
        ("a", "b", "c"),
    ],
)
def test_invalid_fractions(fractions: tuple[float, ...]) -> None:
    with pytest.raises(DataError, match="fraction"):
        split_dataset(_regression(), fractions)


def test_fractions_within_rounding_are_accepted() -> None:
    s = split_dataset(_regression(), (0.7, 0.2, 0.1 + 5e-7))
    assert s.sizes == (70, 20, 10)


def test_too_few_examples_for_the_sets() -> None:
    with pytest.raises(DataError, match="too few"):
        split_dataset(_regression(2), (0.6, 0.2, 0.2))
    assert split_dataset(_regression(2), (0.5, 0.5, 0.0)).sizes == (1, 1, 0)


@pytest.mark.parametrize("seed", [-1, 1.5, True, "0"])
def test_invalid_seed(seed: object) -> None:
    with pytest.raises(DataError, match="seed"):
        split_dataset(_regression(), seed=seed)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# train_val_from_arrays


def test_integer_labels_become_classes() -> None:
    rng = np.random.default_rng(0)
    X_train, X_val = rng.normal(size=(20, 3)), rng.normal(size=(8, 3))
    y_train = np.array([3, 7, 5, 7] * 5)
    y_val = np.array([5, 3] * 4)
    data = train_val_from_arrays(X_train, y_train, X_val, y_val)
    assert data.task is Task.MULTICLASS
    assert data.class_names == ("3", "5", "7")
    assert data.y_train.dtype == np.int64
    np.testing.assert_array_equal(data.y_train, [0, 2, 1, 2] * 5)
    np.testing.assert_array_equal(data.y_val, [1, 0] * 4)
    np.testing.assert_array_equal(data.X_train, X_train)  # used as given
    assert data.feature_names == ("x1", "x2", "x3")


def test_zero_one_labels_in_a_column_vector_are_binary() -> None:
    X = np.arange(20.0).reshape(10, 2)
    y = np.array([[0.0], [1.0]] * 5)
    data = train_val_from_arrays(X, y, X, y)
    assert data.task is Task.BINARY
    assert data.class_names == ("0", "1")
    np.testing.assert_array_equal(data.y_val, [0, 1] * 5)


def test_fractional_float_labels_are_regression() -> None:
    X = np.arange(20.0).reshape(10, 2)
    y = np.linspace(0.0, 1.0, 10)
    data = train_val_from_arrays(X, y, X[:4], y[:4])
    assert data.task is Task.REGRESSION
    assert data.class_names == ()
    np.testing.assert_array_equal(data.y_train, y)
    forced = train_val_from_arrays(X, np.arange(10), X, np.arange(10), task=Task.REGRESSION)
    assert forced.task is Task.REGRESSION
    assert forced.y_train.dtype == np.float64


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ((np.ones((10, 2)), np.ones((1, 10)), np.ones((4, 2)), np.ones(4)), "transpos"),
        ((np.ones((2, 10)), np.arange(10) % 2, np.ones((4, 10)), np.ones(4)), "transposed"),
        ((np.ones((10, 2)), np.arange(10) % 2, np.ones((4, 3)), np.arange(4) % 2), "features"),
        ((np.ones(10), np.arange(10) % 2, np.ones((4, 1)), np.arange(4) % 2), "2-D"),
        ((np.ones((0, 2)), np.ones(0), np.ones((4, 2)), np.ones(4)), "at least one row"),
        ((np.array([["a", "b"]] * 4), np.arange(4) % 2, np.ones((4, 2)), np.ones(4)), "numbers"),
        ((np.ones((4, 2)), np.array(["a", "b"] * 2), np.ones((4, 2)), np.ones(4)), "numbers"),
        ((np.ones((4, 2)), np.zeros(4), np.ones((4, 2)), np.zeros(4)), "two classes"),
        ((np.ones((4, 2)), np.arange(4) % 2, np.ones((2, 2)), np.array([0, 2])), "never occurs"),
        ((np.ones((4, 2)), np.arange(4) % 2, np.ones((3, 2)), np.arange(4) % 2), "must match"),
    ],
)
def test_invalid_arrays(arrays: tuple[np.ndarray, ...], message: str) -> None:
    with pytest.raises(DataError, match=message):
        train_val_from_arrays(*arrays)


def test_non_finite_values_are_located() -> None:
    X = np.ones((5, 3))
    X[3, 2] = np.nan
    with pytest.raises(DataError, match=r"X_val\[3, 2\]"):
        train_val_from_arrays(np.ones((5, 3)), np.arange(5) % 2, X, np.arange(5) % 2)
    y = np.linspace(0, 1, 5)
    y[4] = np.inf
    with pytest.raises(DataError, match=r"y_train\[4\]"):
        train_val_from_arrays(np.ones((5, 3)), y, np.ones((5, 3)), np.linspace(0, 1, 5))


def test_binary_requested_for_three_classes() -> None:
    y = np.arange(6) % 3
    with pytest.raises(DataError, match="two classes"):
        train_val_from_arrays(np.ones((6, 2)), y, np.ones((6, 2)), y, task=Task.BINARY)


# ---------------------------------------------------------------------------------------------
# load_npz


def test_load_npz_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    arrays: dict[str, Any] = {
        "X_train": rng.normal(size=(30, 4)),
        "y_train": np.arange(30) % 2,
        "X_val": rng.normal(size=(10, 4)),
        "y_val": np.arange(10) % 2,
    }
    path = tmp_path / "mine.npz"
    np.savez(path, **arrays)
    data = load_npz(path)
    np.testing.assert_array_equal(data.X_train, arrays["X_train"])
    np.testing.assert_array_equal(data.y_val, arrays["y_val"])
    assert data.task is Task.BINARY
    compressed = tmp_path / "c.npz"
    np.savez_compressed(compressed, **arrays)
    np.testing.assert_array_equal(load_npz(compressed).X_val, arrays["X_val"])


def test_load_npz_missing_key_lists_what_is_there(tmp_path: Path) -> None:
    path = tmp_path / "partial.npz"
    np.savez(path, X_train=np.ones((4, 2)), y_train=np.ones(4), X=np.ones(3))
    with pytest.raises(DataError) as info:
        load_npz(path)
    message = str(info.value)
    assert "X_val, y_val" in message
    assert "X_train, y_train, X" in message


def test_load_npz_refuses_pickled_object_arrays(tmp_path: Path) -> None:
    path = tmp_path / "objects.npz"
    objects = np.array([{"a": 1}, None], dtype=object)
    np.savez(path, X_train=objects, y_train=objects, X_val=objects, y_val=objects)
    with pytest.raises(DataError, match="X_train"):
        load_npz(path)


@pytest.mark.parametrize("kind", ["text", "npy", "empty", "folder", "missing", "truncated"])
def test_load_npz_refuses_other_files(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "data.npz"
    if kind == "text":
        path.write_text("x,y\n1,2\n")
    elif kind == "npy":
        with path.open("wb") as f:
            np.save(f, np.ones(3))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "folder":
        path.mkdir()
    elif kind == "truncated":
        np.savez(path, X_train=np.ones((50, 2)))
        path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(DataError):
        load_npz(path)
