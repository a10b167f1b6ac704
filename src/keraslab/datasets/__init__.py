"""keraslab.datasets: verified, cached copies of the course's data, and loaders with documented shapes.

Every loader takes ``data_dir`` (default: $KERASLAB_DATA, else ~/.cache/keraslab), ``offline`` (never download)
and ``transport`` (an injectable downloader, for tests). Image loaders return uint8 images, or float32 in [0, 1]
with ``scale=True``, and int64 labels.

================  ==========================================================  ====================================
loader            returns                                                     shapes
================  ==========================================================  ====================================
load_mnist        (x_train, y_train), (x_test, y_test)                         (60000, 28, 28), (10000, 28, 28)
load_fashion_mnist  same                                                       same
load_mnist_5k     x, y (no split: load_split splits it, seeded and stratified)   (5000, 28, 28), (5000,)
load_cifar10      (x_train, y_train), (x_test, y_test)                         (50000, 32, 32, 3), (10000, 32, 32, 3)
load_churn        Table (cleaned churn frame, target "Churn")                 7032 x 20 (or 7043 x 20)
load_sonar        Table (f00..f59 float64, target "label" in M/R)             208 x 61
load_insurance    Table (age, affordibility, bought_insurance)                28 x 3
load_homeprices   Table (area, bedrooms, price)                               20 x 3
================  ==========================================================  ====================================

``load_split(name, seed=...)`` gives any image dataset as ((x_train, y_train), (x_test, y_test)). The course's
small files ship with keraslab (keraslab/datasets/shipped/SOURCES.md: sources and licences): churn, sonar,
insurance, homeprices and mnist_5k load on a machine with no data home and no network.
"""

from keraslab.datasets.home import (
    data_home,
    dataset_paths,
    ensure_file,
    is_available,
    is_substitute,
    offline_mode,
    sha256_of,
    status,
    track_files,
)
from keraslab.datasets.importing import import_file
from keraslab.datasets.registry import REGISTRY, DatasetSpec, FileSpec, get_spec
from keraslab.lazy import lazy_attributes, public_names

# The loaders and tables are imported when first used (PEP 562): `keraslab data list` and the command line's help
# need the registry and the cache, not pandas.
_LAZY = {
    "Table": "csv_tables",
    "read_csv": "csv_tables",
    **dict.fromkeys(
        (
            "CIFAR10_CLASSES",
            "FASHION_MNIST_CLASSES",
            "MNIST_CLASSES",
            "class_names",
            "describe",
            "load",
            "load_churn",
            "load_cifar10",
            "load_fashion_mnist",
            "load_homeprices",
            "load_insurance",
            "load_mnist",
            "load_mnist_5k",
            "load_sonar",
            "load_split",
        ),
        "loaders",
    ),
}


__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = public_names(globals(), _LAZY)
