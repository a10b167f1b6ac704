"""The course's datasets as arrays and tables, each through a verified file (see keraslab.datasets.home).

Image loaders return uint8 images, or float32 in [0, 1] with ``scale=True``, and int64 labels; table loaders a
cleaned :class:`~keraslab.datasets.csv_tables.Table`.
"""

from __future__ import annotations

import numpy as np

from keraslab.datasets import csv_tables, decoded, formats
from keraslab.datasets.csv_tables import Table
from keraslab.datasets.home import dataset_paths
from keraslab.datasets.registry import get_spec
from keraslab.errors import DataFormatError, UsageError
from keraslab.phases import timed

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def _images(x: np.ndarray, scale: bool) -> np.ndarray:
    if scale:
        out = aligned_empty(x.shape, np.float32)  # one float32 copy, divided in place (no second copy)
        np.divide(x, np.float32(255.0), out=out, dtype=np.float32)
        return out
    return x


def aligned_empty(shape, dtype, alignment: int = 64) -> np.ndarray:
    """np.empty whose data start on a multiple of `alignment` bytes (NumPy's own start 16 bytes past one): JAX puts
    such an array on the CPU device without copying it (keraslab.training.fastfit), where 188 MB of MNIST would
    otherwise be copied once per model trained."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    buffer = np.empty(nbytes + alignment, np.uint8)
    start = -buffer.ctypes.data % alignment
    return buffer[start : start + nbytes].view(dtype).reshape(shape)


def _paths(name, data_dir, offline, transport, quiet):
    return dataset_paths(name, data_dir=data_dir, offline=offline, transport=transport, quiet=quiet)


@timed("data")
def load_mnist(
    *, scale: bool = False, data_dir=None, offline: bool | None = None, transport=None, quiet: bool | None = None
):
    """MNIST: ((x_train (60000, 28, 28), y_train (60000,)), (x_test (10000, 28, 28), y_test (10000,))), from Keras's
    mnist.npz or from the four idx files of the original distribution (mnist/*-ubyte.gz), whichever is present."""
    paths = _paths("mnist", data_dir, offline, transport, quiet)
    if "mnist.npz" not in paths:
        return _idx_pair("mnist", "mnist", paths, scale)
    path = paths["mnist.npz"]
    d = decoded.cached("mnist-npz", path, lambda: formats.read_mnist_npz(path))
    return (
        (_images(d["x_train"], scale), d["y_train"].astype(np.int64)),
        (_images(d["x_test"], scale), d["y_test"].astype(np.int64)),
    )


@timed("data")
def load_fashion_mnist(
    *, scale: bool = False, data_dir=None, offline: bool | None = None, transport=None, quiet: bool | None = None
):
    """Fashion-MNIST, same shapes as :func:`load_mnist`."""
    return _idx_pair(
        "fashion_mnist", "fashion-mnist", _paths("fashion_mnist", data_dir, offline, transport, quiet), scale
    )


def _idx_pair(name: str, folder: str, paths: dict, scale: bool):
    out = []
    for split in ("train", "t10k"):
        x = _idx(paths[f"{folder}/{split}-images-idx3-ubyte.gz"], expected_ndim=3)
        y = _idx(paths[f"{folder}/{split}-labels-idx1-ubyte.gz"], expected_ndim=1)
        if len(x) != len(y):
            raise DataFormatError(f"{name}: {split} has {len(x)} images but {len(y)} labels")
        out.append((_images(x, scale), y.astype(np.int64)))
    return tuple(out)


def _idx(path, expected_ndim: int) -> np.ndarray:
    return decoded.cached(f"idx{expected_ndim}", path, lambda: {"x": formats.read_idx(path, expected_ndim)})["x"]


@timed("data")
def load_mnist_5k(
    *, scale: bool = False, data_dir=None, offline: bool | None = None, transport=None, quiet: bool | None = None
):
    """5000 real MNIST digits: x (5000, 28, 28), y (5000,). No split."""
    paths = _paths("mnist_5k", data_dir, offline, transport, quiet)
    path = paths["mnist_5k.csv.gz"]
    d = decoded.cached("mnist-5k-csv", path, lambda: dict(zip("xy", formats.read_mnist_5k(path), strict=True)))
    return _images(d["x"], scale), d["y"]


@timed("data")
def load_split(
    name: str,
    *,
    seed: int = 0,
    test_size: float = 0.2,
    scale: bool = False,
    data_dir=None,
    offline: bool | None = None,
    quiet: bool | None = None,
):
    """An image dataset as ((x_train, y_train), (x_test, y_test)): its own split where it has one (MNIST,
    Fashion-MNIST, CIFAR-10); for mnist_5k, which has none, a stratified split seeded by `seed` (`test_size` of the
    images for the test part)."""
    if get_spec(name).kind != "images":
        raise UsageError(f"load_split: {name!r} is a table, not an image dataset; use datasets.load({name!r})")
    data = load(name, scale=scale, data_dir=data_dir, offline=offline, quiet=quiet)
    if isinstance(data[0], tuple):
        return data
    from sklearn.model_selection import train_test_split

    x, y = data
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=test_size, stratify=y, random_state=seed)
    return (x_train, y_train), (x_test, y_test)


@timed("data")
def load_cifar10(
    *, scale: bool = False, data_dir=None, offline: bool | None = None, transport=None, quiet: bool | None = None
):
    """CIFAR-10: ((x_train (50000, 32, 32, 3), y_train (50000,)), (x_test (10000, 32, 32, 3), y_test (10000,))).

    Labels are flat int64 (Keras's loader gives (N, 1)). The tarball's hash is verified before anything is read.
    """
    paths = _paths("cifar10", data_dir, offline, transport, quiet)
    path = paths["cifar-10-python.tar.gz"]
    d = decoded.cached("cifar10-tar", path, lambda: formats.read_cifar10_tar(path))
    return (_images(d["x_train"], scale), d["y_train"]), (_images(d["x_test"], scale), d["y_test"])


@timed("data")
def load_churn(
    *,
    blank_total_charges: str = "drop",
    data_dir=None,
    offline: bool | None = None,
    transport=None,
    quiet: bool | None = None,
) -> Table:
    """The telco churn table, customerID dropped, TotalCharges numeric (blank rows dropped or set to 0)."""
    paths = _paths("churn", data_dir, offline, transport, quiet)
    return csv_tables.load_churn_csv(paths["customer_churn.csv"], blank_total_charges)


@timed("data")
def load_sonar(*, data_dir=None, offline: bool | None = None, transport=None, quiet: bool | None = None) -> Table:
    paths = _paths("sonar", data_dir, offline, transport, quiet)
    return csv_tables.load_sonar_csv(paths["sonar_dataset.csv"])


@timed("data")
def load_insurance(*, data_dir=None, offline: bool | None = None, transport=None, quiet: bool | None = None) -> Table:
    paths = _paths("insurance", data_dir, offline, transport, quiet)
    return csv_tables.load_insurance_csv(paths["insurance_data.csv"])


@timed("data")
def load_homeprices(*, data_dir=None, offline: bool | None = None, transport=None, quiet: bool | None = None) -> Table:
    paths = _paths("homeprices", data_dir, offline, transport, quiet)
    return csv_tables.load_homeprices_csv(paths["homeprices_banglore.csv"])


LOADERS = {
    f.__name__: f
    for f in (
        load_mnist,
        load_fashion_mnist,
        load_mnist_5k,
        load_cifar10,
        load_churn,
        load_sonar,
        load_insurance,
        load_homeprices,
    )
}


def load(name: str, **kwargs):
    """Load a registered dataset by name, passing keyword arguments to its loader."""
    return LOADERS[get_spec(name).loader](**kwargs)


def describe(name: str, **kwargs) -> list[str]:
    """Load dataset `name` and describe it in a few lines: shapes, dtypes, classes, cleaning done."""
    spec = get_spec(name)
    data = load(name, **kwargs)
    lines = [f"{name}: {spec.description}"]
    if isinstance(data, Table):
        lines.append(f"table {data.frame.shape[0]} rows x {data.frame.shape[1]} columns; target {data.target!r}")
        counts = data.y.value_counts().sort_index()
        if len(counts) <= 20:
            lines.append("target counts: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
        lines += [f"cleaning: {change}" for change in data.changes]
        return lines
    pairs = data if isinstance(data[0], tuple) else ((data[0], data[1]),)
    for split, (x, y) in zip(("train", "test") if len(pairs) == 2 else ("all",), pairs, strict=True):
        counts = np.bincount(y, minlength=10)
        lines.append(
            f"{split}: images {x.dtype} {x.shape}, labels {y.dtype} {y.shape}; per class "
            + " ".join(str(c) for c in counts)
        )
    return lines


def class_names(name: str) -> tuple[str, ...]:
    return {
        "mnist": MNIST_CLASSES,
        "mnist_5k": MNIST_CLASSES,
        "fashion_mnist": FASHION_MNIST_CLASSES,
        "cifar10": CIFAR10_CLASSES,
    }[name]
