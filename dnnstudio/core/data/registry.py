"""The built-in datasets: generated toy problems and small real datasets shipped as CSV files.

The shipped files live in ``resources/datasets`` (installed as ``dnnstudio.resources``) and are
read with :func:`~dnnstudio.core.data.csv_import.read_csv`, the same parser a user's file goes
through, so the two cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Literal

from dnnstudio.core.data import generators
from dnnstudio.core.data.csv_import import read_csv
from dnnstudio.core.data.dataset import Dataset, Task
from dnnstudio.core.errors import DataError

__all__ = ["DatasetInfo", "dataset_info", "list_datasets", "load_dataset"]

_UCI_LICENCE = "CC BY 4.0"


@dataclass(frozen=True)
class DatasetInfo:
    """What the studio shows about a built-in dataset before loading it.

    Attributes
    ----------
    name : str
        The name :func:`load_dataset` takes (``"planar"``, ``"iris"``, ...).
    kind : {"generated", "shipped"}
        Generated on the fly from a seed, or read from a file shipped with DNN Studio.
    title : str
        A human-readable name.
    description : str
        One or two sentences for the user.
    n_samples : int
        Number of examples (the default for generated data).
    n_features : int
    task : Task
    n_classes : int
        0 for regression.
    noise : float or None
        The default noise of a generated dataset; None for shipped ones.
    source : str
        Origin and licence of shipped data; empty for generated data.
    filename : str
        The file under ``resources/datasets`` (shipped data only).
    """

    name: str
    kind: Literal["generated", "shipped"]
    title: str
    description: str
    n_samples: int
    n_features: int
    task: Task
    n_classes: int
    noise: float | None = None
    source: str = ""
    filename: str = ""


_GENERATED: dict[str, tuple[DatasetInfo, Callable[..., Dataset]]] = {
    "planar": (
        DatasetInfo(
            name="planar",
            kind="generated",
            title="Planar flower",
            description="Two classes on the alternating petals of a flower: a logistic "
            "regression stays near 50 %, four tanh hidden units reach about 90 %.",
            n_samples=400,
            n_features=2,
            task=Task.BINARY,
            n_classes=2,
            noise=0.2,
        ),
        generators.planar,
    ),
    "moons": (
        DatasetInfo(
            name="moons",
            kind="generated",
            title="Two moons",
            description="Two interleaving half moons: a curved boundary.",
            n_samples=400,
            n_features=2,
            task=Task.BINARY,
            n_classes=2,
            noise=0.2,
        ),
        generators.moons,
    ),
    "circles": (
        DatasetInfo(
            name="circles",
            kind="generated",
            title="Circles",
            description="A ring around a disc: a closed boundary that needs a hidden layer.",
            n_samples=400,
            n_features=2,
            task=Task.BINARY,
            n_classes=2,
            noise=0.1,
        ),
        generators.circles,
    ),
    "spirals": (
        DatasetInfo(
            name="spirals",
            kind="generated",
            title="Spirals",
            description="Three interleaved spiral arms: a hard boundary for a small network.",
            n_samples=600,
            n_features=2,
            task=Task.MULTICLASS,
            n_classes=3,
            noise=0.2,
        ),
        generators.spirals,
    ),
    "xor": (
        DatasetInfo(
            name="xor",
            kind="generated",
            title="XOR",
            description="The exclusive or: opposite quadrants share a class, which no single "
            "neuron can separate.",
            n_samples=400,
            n_features=2,
            task=Task.BINARY,
            n_classes=2,
            noise=0.1,
        ),
        generators.xor,
    ),
    "blobs": (
        DatasetInfo(
            name="blobs",
            kind="generated",
            title="Blobs",
            description="Three Gaussian clusters: nearly linearly separable, a first sanity "
            "check.",
            n_samples=400,
            n_features=2,
            task=Task.MULTICLASS,
            n_classes=3,
            noise=1.0,
        ),
        generators.blobs,
    ),
}

_SHIPPED: dict[str, DatasetInfo] = {
    "iris": DatasetInfo(
        name="iris",
        kind="shipped",
        title="Iris",
        description="Sepal and petal lengths and widths (cm) of 150 iris flowers of three "
        "species; setosa is linearly separable from the other two, which overlap slightly.",
        n_samples=150,
        n_features=4,
        task=Task.MULTICLASS,
        n_classes=3,
        source="R. A. Fisher (1936), Iris, UCI Machine Learning Repository, "
        f"doi:10.24432/C56C76; {_UCI_LICENCE}.",
        filename="iris.csv",
    ),
    "wine": DatasetInfo(
        name="wine",
        kind="shipped",
        title="Wine",
        description="Thirteen chemical measurements of 178 Italian wines from three "
        "cultivars; features on very different scales, so standardisation matters.",
        n_samples=178,
        n_features=13,
        task=Task.MULTICLASS,
        n_classes=3,
        source="S. Aeberhard and M. Forina (1991), Wine, UCI Machine Learning Repository, "
        f"doi:10.24432/C5PC7J; {_UCI_LICENCE}.",
        filename="wine.csv",
    ),
    "breast_cancer": DatasetInfo(
        name="breast_cancer",
        kind="shipped",
        title="Breast cancer (Wisconsin diagnostic)",
        description="Thirty measurements of cell nuclei in 569 breast-mass samples, each "
        "diagnosed malignant or benign.",
        n_samples=569,
        n_features=30,
        task=Task.BINARY,
        n_classes=2,
        source="W. Wolberg, O. Mangasarian, N. Street and W. Street (1995), Breast Cancer "
        "Wisconsin (Diagnostic), UCI Machine Learning Repository, doi:10.24432/C5DW2B; "
        f"{_UCI_LICENCE}.",
        filename="breast_cancer.csv",
    ),
    "digits": DatasetInfo(
        name="digits",
        kind="shipped",
        title="Handwritten digits (8x8)",
        description="1797 handwritten digits 0-9 as 8x8 images of pixel counts 0..16 (64 "
        "features), ten classes.",
        n_samples=1797,
        n_features=64,
        task=Task.MULTICLASS,
        n_classes=10,
        source="E. Alpaydin and C. Kaynak (1998), Optical Recognition of Handwritten Digits "
        "(test set), UCI Machine Learning Repository, doi:10.24432/C50P49; "
        f"{_UCI_LICENCE}.",
        filename="digits.csv.gz",
    ),
}


def list_datasets() -> list[DatasetInfo]:
    """The built-in datasets: the generated ones first, then the shipped ones.

    Returns
    -------
    list of DatasetInfo
        ``planar, moons, circles, spirals, xor, blobs, iris, wine, breast_cancer, digits``.
    """
    return [info for info, _ in _GENERATED.values()] + list(_SHIPPED.values())


def _unknown(name: object) -> DataError:
    names = ", ".join(info.name for info in list_datasets())
    return DataError(f"there is no built-in dataset named {name!r}; the datasets are: {names}.")


def dataset_info(name: str) -> DatasetInfo:
    """The :class:`DatasetInfo` of one built-in dataset; DataError for an unknown name."""
    if name in _GENERATED:
        return _GENERATED[name][0]
    if name in _SHIPPED:
        return _SHIPPED[name]
    raise _unknown(name)


def _shipped_file(filename: str) -> Traversable:
    """A shipped file, from the installed package or from a source checkout not installed."""
    try:
        return importlib.resources.files("dnnstudio.resources") / "datasets" / filename
    except ModuleNotFoundError:
        # Running from a checkout without `pip install`: resources/ is beside dnnstudio/.
        return Path(__file__).resolve().parents[3] / "resources" / "datasets" / filename


def load_dataset(
    name: str,
    *,
    n_samples: int | None = None,
    noise: float | None = None,
    seed: int = 0,
) -> Dataset:
    """Make or read one of the built-in datasets.

    Parameters
    ----------
    name : str
        One of the names from :func:`list_datasets`.
    n_samples : int, optional
        Number of points of a generated dataset (default: its usual size).
    noise : float, optional
        Noise of a generated dataset (default: its usual noise).
    seed : int
        Seed of a generated dataset; shipped datasets do not depend on it.

    Returns
    -------
    Dataset
        ``X`` of shape ``(m, n_x)``, ``y`` of shape ``(m,)``.

    Raises
    ------
    DataError
        For an unknown name, or ``n_samples``/``noise`` given for a shipped dataset.
    """
    if name in _GENERATED:
        info, generate = _GENERATED[name]
        return generate(
            n_samples=info.n_samples if n_samples is None else n_samples,
            noise=info.noise if noise is None else noise,
            seed=seed,
        )
    if name not in _SHIPPED:
        raise _unknown(name)
    info = _SHIPPED[name]
    if n_samples is not None or noise is not None:
        given = " and ".join(
            arg for arg, value in (("n_samples", n_samples), ("noise", noise)) if value is not None
        )
        raise DataError(
            f"{name!r} is a real dataset read from a file; {given} only apply to generated "
            "datasets."
        )
    resource = _shipped_file(info.filename)
    if not resource.is_file():
        raise DataError(
            f"the shipped file {info.filename!r} is missing; reinstall DNN Studio."
        )
    # as_file gives a real path even when the package is installed inside a zip archive.
    with importlib.resources.as_file(resource) as path:
        dataset = read_csv(path)
    return dataclasses.replace(
        dataset, name=info.name, description=info.description, source=info.source
    )
