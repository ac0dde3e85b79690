"""The shipped real datasets and the registry of built-in datasets."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import numpy as np
import pytest

from dnnstudio.core.data import Task, dataset_info, list_datasets, load_dataset
from dnnstudio.core.errors import DataError

DATASETS_DIR = Path(__file__).resolve().parents[2] / "resources" / "datasets"

# name: (file, rows, features, target column, class names, examples per class)
SHIPPED = {
    "iris": (
        "iris.csv",
        150,
        4,
        "species",
        ("setosa", "versicolor", "virginica"),
        [50, 50, 50],
    ),
    "wine": (
        "wine.csv",
        178,
        13,
        "cultivar",
        ("cultivar_1", "cultivar_2", "cultivar_3"),
        [59, 71, 48],
    ),
    "breast_cancer": (
        "breast_cancer.csv",
        569,
        30,
        "diagnosis",
        ("benign", "malignant"),
        [357, 212],
    ),
    "digits": (
        "digits.csv.gz",
        1797,
        64,
        "digit",
        tuple(str(d) for d in range(10)),
        [178, 182, 177, 183, 181, 182, 181, 179, 174, 180],
    ),
}


@pytest.mark.parametrize("name", list(SHIPPED))
def test_shapes_classes_and_counts(name: str) -> None:
    _, rows, features, target, classes, per_class = SHIPPED[name]
    ds = load_dataset(name)
    assert ds.name == name
    assert ds.X.shape == (rows, features)
    assert ds.X.dtype == np.float64
    assert ds.y.shape == (rows,)
    assert ds.y.dtype == np.int64
    assert ds.target_name == target
    assert ds.class_names == classes
    assert ds.task is (Task.BINARY if len(classes) == 2 else Task.MULTICLASS)
    assert np.bincount(ds.y).tolist() == per_class
    assert len(ds.feature_names) == features
    assert len(set(ds.feature_names)) == features
    assert np.all(np.isfinite(ds.X))
    assert "doi.org/10.24432" in ds.source or "doi:10.24432" in ds.source
    assert "CC BY 4.0" in ds.source
    assert ds.description


def test_known_values() -> None:
    # Spot checks against the published data, so a shifted column or row would show.
    iris = load_dataset("iris")
    np.testing.assert_array_equal(iris.X[0], [5.1, 3.5, 1.4, 0.2])
    # Fisher's values for rows 35 and 38, which UCI's iris.data gets wrong.
    np.testing.assert_array_equal(iris.X[34], [4.9, 3.1, 1.5, 0.2])
    np.testing.assert_array_equal(iris.X[37], [4.9, 3.6, 1.4, 0.1])
    assert iris.class_names[iris.y[149]] == "virginica"

    wine = load_dataset("wine")
    assert wine.feature_names[-1] == "proline"
    assert wine.X[0, -1] == 1065.0
    assert wine.class_names[wine.y[0]] == "cultivar_1"

    cancer = load_dataset("breast_cancer")
    assert cancer.feature_names[0] == "mean_radius"
    assert cancer.feature_names[20] == "worst_radius"
    assert cancer.X[0, 0] == 17.99
    assert cancer.class_names[cancer.y[0]] == "malignant"

    digits = load_dataset("digits")
    assert digits.feature_names[:2] == ("pixel_0_0", "pixel_0_1")
    assert digits.feature_names[-1] == "pixel_7_7"
    assert digits.X.min() == 0.0
    assert digits.X.max() == 16.0
    np.testing.assert_array_equal(digits.X, np.round(digits.X))
    assert digits.class_names[digits.y[0]] == "0"


@pytest.mark.parametrize("name", list(SHIPPED))
def test_files_are_clean_csv_with_the_target_last(name: str) -> None:
    filename, rows, features, target, classes, _ = SHIPPED[name]
    path = DATASETS_DIR / filename
    assert path.stat().st_size < 200_000
    raw = path.read_bytes()
    text = (gzip.decompress(raw) if filename.endswith(".gz") else raw).decode("utf-8")
    table = list(csv.reader(io.StringIO(text)))
    assert len(table) == rows + 1
    assert all(len(row) == features + 1 for row in table)
    assert table[0][-1] == target
    assert {row[-1] for row in table[1:]} == set(classes)


def test_readme_credits_every_file_and_its_licence() -> None:
    readme = (DATASETS_DIR / "README.md").read_text(encoding="utf-8")
    for filename, *_ in SHIPPED.values():
        assert f"`{filename}`" in readme
    for doi in ("C56C76", "C5PC7J", "C5DW2B", "C50P49"):
        assert f"10.24432/{doi}" in readme
    assert "CC BY 4.0" in readme


def test_list_order_and_infos_match_the_data() -> None:
    infos = list_datasets()
    assert [i.name for i in infos] == [
        "planar",
        "moons",
        "circles",
        "spirals",
        "xor",
        "blobs",
        "iris",
        "wine",
        "breast_cancer",
        "digits",
    ]
    assert [i.kind for i in infos] == ["generated"] * 6 + ["shipped"] * 4
    for info in infos:
        ds = load_dataset(info.name)
        assert (ds.n_samples, ds.n_features) == (info.n_samples, info.n_features), info.name
        assert (ds.task, ds.n_classes) == (info.task, info.n_classes), info.name
        assert dataset_info(info.name) == info
        assert (info.noise is None) == (info.kind == "shipped")


def test_generated_datasets_take_size_noise_and_seed() -> None:
    small = load_dataset("moons", n_samples=50, noise=0.0, seed=3)
    assert small.n_samples == 50
    np.testing.assert_array_equal(small.X, load_dataset("moons", n_samples=50, noise=0.0, seed=3).X)
    assert not np.array_equal(
        load_dataset("moons", seed=1).X, load_dataset("moons", seed=2).X
    )
    # noise=0 puts the upper moon exactly on the unit circle.
    upper = small.X[small.y == 0]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0)
    with pytest.raises(DataError, match="n_samples"):
        load_dataset("planar", n_samples=1)


@pytest.mark.parametrize("kwargs", [{"n_samples": 100}, {"noise": 0.1}])
def test_size_and_noise_are_refused_for_shipped_data(kwargs: dict[str, float]) -> None:
    with pytest.raises(DataError) as info:
        load_dataset("iris", **kwargs)  # type: ignore[arg-type]
    assert next(iter(kwargs)) in str(info.value)
    assert "generated" in str(info.value)


def test_unknown_name_lists_the_datasets() -> None:
    with pytest.raises(DataError) as info:
        load_dataset("mnist")
    assert "'mnist'" in str(info.value)
    assert "planar" in str(info.value)
    assert "breast_cancer" in str(info.value)
    with pytest.raises(DataError, match="digits"):
        dataset_info("Iris")
