"""Small files in the exact formats of the datasets that cannot be downloaded here (mnist.npz, the CIFAR-10
python tarball) and of the idx files, for tests and smoke runs. They go through the real loaders.

The images are not noise: each class has its own mean brightness pattern, so a smoke run can learn something.

    python -m keraslab.datasets.synthetic DEST [--from ../shared/datasets]

makes DEST a data home: small mnist.npz and cifar-10-python.tar.gz, links to every real file in --from, and
DEST/checksums.json vouching for the two small files (export KERASLAB_CHECKSUMS=DEST/checksums.json).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np

from keraslab.files import sha256_file


def class_images(n: int, shape: tuple[int, ...], n_classes: int = 10, seed: int = 0):
    """n uint8 images of `shape` whose brightness pattern depends on their label; labels cycle through classes."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % n_classes
    rng.shuffle(labels)
    prototypes = rng.integers(0, 256, size=(n_classes, *shape))
    noise = rng.normal(0, 40, size=(n, *shape))
    images = np.clip(prototypes[labels] + noise, 0, 255).astype(np.uint8)
    return images, labels.astype(np.int64)


def idx_bytes(array: np.ndarray) -> bytes:
    """An uncompressed idx buffer for a uint8 array."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


def write_idx_gz(path, array: np.ndarray) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as fh:
        fh.write(idx_bytes(array))
    return path


def write_mnist_npz(path, n_train: int = 600, n_test: int = 200, seed: int = 0) -> Path:
    x, y = class_images(n_train + n_test, (28, 28), seed=seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path,
        x_train=x[:n_train],
        y_train=y[:n_train].astype(np.uint8),
        x_test=x[n_train:],
        y_test=y[n_train:].astype(np.uint8),
    )
    return path


def cifar_batch_bytes(images: np.ndarray, labels: np.ndarray, name: str) -> bytes:
    """One CIFAR-10 python batch: a pickled dict with b'data' uint8 (N, 3072) channel-major, b'labels' list."""
    data = np.ascontiguousarray(images.transpose(0, 3, 1, 2).reshape(len(images), 3072), dtype=np.uint8)
    batch = {
        b"batch_label": name.encode(),
        b"labels": [int(v) for v in labels],
        b"data": data,
        b"filenames": [f"{i}.png".encode() for i in range(len(images))],
    }
    return pickle.dumps(batch, protocol=2)


def write_cifar10_tar(
    path, n_per_batch: int = 100, n_test: int = 200, seed: int = 0, extra_members: list[tarfile.TarInfo] | None = None
) -> Path:
    """A CIFAR-10 python tarball with 5 training batches of n_per_batch images and a test batch."""
    x, y = class_images(5 * n_per_batch + n_test, (32, 32, 3), seed=seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    members = [(f"data_batch_{i + 1}", slice(i * n_per_batch, (i + 1) * n_per_batch)) for i in range(5)]
    members.append(("test_batch", slice(5 * n_per_batch, None)))
    with tarfile.open(path, "w:gz") as tar:
        folder = tarfile.TarInfo("cifar-10-batches-py")
        folder.type = tarfile.DIRTYPE
        folder.mode = 0o755
        tar.addfile(folder)
        for name, sl in members:
            raw = cifar_batch_bytes(x[sl], y[sl], name)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
        for info in extra_members or []:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)
    return path


def regression_table(n: int = 3000, seed: int = 0):
    """A table of known formula plus noise, for `keraslab train` on a numeric target (tests, benchmarks):
    price = 3 x1 - 5 x2 + 2 sin(x1) + the city's offset (north 0, south 10, east -10) + N(0, 2). The noise's
    variance is the floor of the test MSE: RMSE about 2, R² about 0.97 for a model that learned the formula, and
    the sine is what a linear model cannot learn."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    x1, x2 = rng.uniform(0, 10, n), rng.normal(0, 1, n)
    city = rng.choice(["north", "south", "east"], n)
    offset = pd.Series(city).map({"north": 0.0, "south": 10.0, "east": -10.0}).to_numpy()
    price = 3 * x1 - 5 * x2 + 2 * np.sin(x1) + offset + rng.normal(0, 2, n)
    return pd.DataFrame({"x1": x1.round(3), "x2": x2.round(3), "city": city, "price": price.round(3)})


def make_small_data_home(dest, real: str | os.PathLike | None = None, seed: int = 0) -> Path:
    """A data home with small mnist.npz / CIFAR files plus links to the real files in `real`.

    Returns the path of the checksums file to put in $KERASLAB_CHECKSUMS.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if real is not None:
        real = Path(real).resolve()
        for src in real.rglob("*"):
            # the small mnist.npz stands in for MNIST: the real idx files are not linked, or they would be read
            if src.is_file() and src.suffix != ".md" and src.relative_to(real).parts[0] != "mnist":
                target = dest / src.relative_to(real)
                target.parent.mkdir(parents=True, exist_ok=True)
                if not target.exists():
                    target.symlink_to(src)
    npz = write_mnist_npz(dest / "mnist.npz", seed=seed)
    tar = write_cifar10_tar(dest / "cifar-10-python.tar.gz", seed=seed)
    checksums = {"mnist": {"mnist.npz": sha256_file(npz)}, "cifar10": {"cifar-10-python.tar.gz": sha256_file(tar)}}
    out = dest / "checksums.json"
    out.write_text(json.dumps(checksums, indent=2) + "\n")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m keraslab.datasets.synthetic",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("dest")
    parser.add_argument("--from", dest="real", default=None, help="a data home whose real files to link")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(make_small_data_home(args.dest, args.real, args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
