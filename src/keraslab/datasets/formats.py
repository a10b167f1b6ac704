"""Readers for the file formats the course's image datasets come in. Each raises DataFormatError naming the file.

- idx (MNIST / Fashion-MNIST), optionally gzipped: big-endian magic 0x0000TTDD (TT = 0x08 for uint8, DD = number
  of dimensions), DD big-endian uint32 sizes, then the data.
- Keras's mnist.npz: x_train, y_train, x_test, y_test; read with allow_pickle=False, always.
- CIFAR-10 python tarball: pickled dicts (b"data": uint8 (10000, 3072), b"labels": list of int); only after the
  tarball's hash is verified, every member is checked (no links, nothing outside the archive's folder) and the
  pickles are read with an unpickler that can build nothing but NumPy arrays, lists, dicts and bytes.
- mnist_5k.csv.gz: 5000 rows of 784 pixel values (0-255) then the label, no header.
"""

from __future__ import annotations

import gzip
import io
import math
import pickle
import posixpath
import tarfile
import zlib
from pathlib import Path
from typing import ClassVar

import numpy as np

from keraslab.errors import DataFormatError

IDX_UBYTE = 0x08
IDX_MAX_DIMS = 4  # images (n, h, w) or (n, h, w, c), labels (n,)
# The largest CIFAR-10 batch member a valid archive holds (the real ones are 31.0 MB pickled: 10,000 x 3,072 bytes,
# labels and file names), and the largest array or dtype a batch's pickle may ask NumPy to allocate: checked before
# a member is read and before an array is built, so a small file cannot expand into gigabytes.
CIFAR_MAX_MEMBER = 40_000_000
CIFAR_MAX_ARRAY = 40_000_000


IDX_MAX_BYTES = 100_000_000  # an idx file holds at most this many bytes decompressed (MNIST's largest: 47 MB)
CIFAR_MAX_TOTAL = 7 * 40_000_000  # the CIFAR-10 tarball decompressed (the real one: 178 MB)


def read_bytes(path: str | Path, limit: int | None = None) -> bytes:
    """Read a file, gunzipping it if its name ends in .gz, never more than `limit` bytes (decompressed while
    streaming, so a small .gz cannot expand into gigabytes); a truncated, corrupt or larger .gz is a DataFormatError."""
    path = Path(path)
    limit = IDX_MAX_BYTES if limit is None else limit
    try:
        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as fh:
            data = fh.read(limit + 1)
        if len(data) > limit:
            raise DataFormatError(
                f"{path}: holds more than {limit:,} bytes (decompressed); no dataset file is as large"
            )
        return data
    except EOFError:
        raise DataFormatError(f"{path}: the gzip stream is truncated (the file ended early)") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise DataFormatError(f"{path}: not a valid gzip file ({exc})") from None


def parse_idx(data: bytes, source: str = "<bytes>", expected_ndim: int | None = None) -> np.ndarray:
    """Parse an (uncompressed) idx buffer of unsigned bytes into a uint8 array of the header's shape."""
    if len(data) == 0:
        raise DataFormatError(f"{source}: the file is empty")
    if len(data) < 4:
        raise DataFormatError(f"{source}: too short for an idx header ({len(data)} bytes)")
    zero, dtype_code, ndim = int.from_bytes(data[0:2], "big"), data[2], data[3]
    if zero == 0 and dtype_code == IDX_UBYTE and ndim > IDX_MAX_DIMS:
        raise DataFormatError(f"{source}: idx header says {ndim} dimensions; at most {IDX_MAX_DIMS} are expected")
    if zero != 0 or dtype_code != IDX_UBYTE or ndim == 0 or (expected_ndim is not None and ndim != expected_ndim):
        want = f"0x000008{expected_ndim:02x}" if expected_ndim is not None else "0x000008NN (unsigned bytes)"
        raise DataFormatError(f"{source}: wrong idx magic number: expected {want}, got 0x{data[:4].hex()}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataFormatError(f"{source}: idx header says {ndim} dimensions but the file ends inside the header")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = math.prod(shape)  # Python integers: a product that would overflow int64 cannot wrap round
    found = len(data) - header
    if found != expected:
        raise DataFormatError(
            f"{source}: idx header gives shape {shape} ({expected} bytes of data) but the file holds {found}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape).copy()


def read_idx(path: str | Path, expected_ndim: int | None = None) -> np.ndarray:
    return parse_idx(read_bytes(path), str(path), expected_ndim)


_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def read_mnist_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Read Keras's mnist.npz without ever unpickling: an object array is refused."""
    path = Path(path)
    if path.stat().st_size == 0:
        raise DataFormatError(f"{path}: the file is empty")
    out = _npz_arrays(path, _NPZ_KEYS)
    for split in ("train", "test"):
        x, y = out[f"x_{split}"], out[f"y_{split}"]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or x.dtype != np.uint8:
            raise DataFormatError(f"{path}: x_{split} should be uint8 (N, 28, 28); found {x.dtype} {x.shape}")
        if y.shape != (x.shape[0],):
            raise DataFormatError(f"{path}: y_{split} should have shape ({x.shape[0]},); found {y.shape}")
    return out


def _npz_arrays(path: Path, keys) -> dict[str, np.ndarray]:
    """The named arrays of an .npz file, read with allow_pickle=False; any failure is a DataFormatError."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in keys if k not in npz.files]
            if missing:
                raise DataFormatError(f"{path}: missing array(s) {', '.join(missing)}; found {', '.join(npz.files)}")
            return {key: npz[key] for key in keys}
    except DataFormatError:
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise DataFormatError(f"{path}: holds an object (pickled) array, which keraslab refuses to load") from None
        raise DataFormatError(f"{path}: not a valid .npz file ({exc})") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DataFormatError(f"{path}: not a valid .npz file ({exc})") from None
    except Exception as exc:  # zipfile.BadZipFile and friends
        raise DataFormatError(f"{path}: not a valid .npz file ({type(exc).__name__}: {exc})") from None


# --- CIFAR-10 --------------------------------------------------------------------------------------------------

CIFAR_MEMBERS = (*(f"cifar-10-batches-py/data_batch_{i}" for i in range(1, 6)), "cifar-10-batches-py/test_batch")


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Builds NumPy arrays, dtypes and plain containers; refuses every other global (no code can run)."""

    _ALLOWED: ClassVar[frozenset[tuple[str, str]]] = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"),
            ("_codecs", "encode"),  # how Python 3 writes bytes in protocol 2: latin-1 only (_checked_encode)
        }
    )

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
        found = super().find_class(module, name)
        if name == "_reconstruct":
            return _checked_reconstruct(found)
        if name == "dtype":
            return _checked_dtype(found)
        if name == "encode":
            return _checked_encode(found)
        return found


def _checked_encode(encode):
    """Protocol 2 writes bytes as _codecs.encode(text, "latin1"): that, of a CIFAR batch's size, and nothing else
    (another codec, "hex" say, doubles its input at every call: 29 nested calls in 370 bytes build 512 MB)."""

    def build(text, encoding="utf-8", errors="strict"):
        if not isinstance(text, str) or encoding not in ("latin1", "latin-1") or len(text) > CIFAR_MAX_ARRAY:
            raise pickle.UnpicklingError(
                f"_codecs.encode of {type(text).__name__} with {encoding!r} is not a CIFAR batch's"
            )
        return encode(text, encoding, errors)

    return build


def _checked_reconstruct(reconstruct):
    """numpy's _reconstruct(subtype, shape, dtype) allocates an array of `shape` from a few pickled bytes: refuse
    one larger than any CIFAR batch holds."""

    def build(subtype, shape, dtype):
        size = math.prod(int(d) for d in shape) * np.dtype(dtype).itemsize
        if size > CIFAR_MAX_ARRAY:
            raise pickle.UnpicklingError(f"an array of {size:,} bytes is larger than a CIFAR batch holds")
        return reconstruct(subtype, shape, dtype)

    return build


def _checked_dtype(dtype):
    def build(*args):
        made = dtype(*args)
        if made.itemsize > 16:  # CIFAR batches hold uint8 and int64; a huge void dtype is an allocation bomb
            raise pickle.UnpicklingError(f"dtype {made} ({made.itemsize} bytes an item) is not a CIFAR array's")
        return made

    return build


def _check_member(member: tarfile.TarInfo, source: str) -> None:
    name = member.name
    if member.issym() or member.islnk():
        raise DataFormatError(f"{source}: archive member {name!r} is a link; keraslab refuses archives with links")
    if not (member.isfile() or member.isdir()):
        raise DataFormatError(f"{source}: archive member {name!r} is not a regular file or folder")
    norm = posixpath.normpath(name)
    if name.startswith(("/", "\\")) or norm == ".." or norm.startswith("../") or ":" in name.split("/")[0]:
        raise DataFormatError(f"{source}: archive member {name!r} would land outside the target folder")


def read_cifar10_tar(path: str | Path) -> dict[str, np.ndarray]:
    """Read the CIFAR-10 python tarball in memory (nothing is extracted to disk).

    Returns x_train uint8 (50000, 32, 32, 3), y_train int64 (50000,), x_test (10000, 32, 32, 3), y_test (10000,)
    for the real file; smaller test files in the same format give proportionally smaller arrays.
    """
    path = Path(path)
    if path.stat().st_size == 0:
        raise DataFormatError(f"{path}: the file is empty")
    batches = _cifar_batches(path)
    x_train, y_train = _stack([_batch_arrays(str(path), name, batches[name]) for name in CIFAR_MEMBERS[:5]])
    x_test, y_test = _stack([_batch_arrays(str(path), name, batches[name]) for name in CIFAR_MEMBERS[5:]])
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


class _Bounded(io.RawIOBase):
    """A stream that refuses to give more than `limit` bytes in all (the decompressed tarball, read once)."""

    def __init__(self, raw, limit: int, source: str):
        self.raw, self.left, self.source, self.limit = raw, limit, source, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(min(len(buffer), self.left + 1))
        if len(data) > self.left:
            raise DataFormatError(
                f"{self.source}: decompresses to more than {self.limit:,} bytes; the CIFAR-10 archive is about 178 MB"
            )
        self.left -= len(data)
        buffer[: len(data)] = data
        return len(data)


def _cifar_batches(path: Path) -> dict[str, object]:
    """Every CIFAR batch of the archive, unpickled with _ArraysOnlyUnpickler: the archive is read once, as a stream,
    its decompressed bytes bounded; each member is checked before it is read."""
    source = str(path)
    found: dict[str, bytes] = {}
    try:
        with gzip.open(path, "rb") as gz, tarfile.open(fileobj=_Bounded(gz, CIFAR_MAX_TOTAL, source), mode="r|") as tar:
            for member in tar:
                _check_member(member, source)
                name = posixpath.normpath(member.name)
                if not member.isfile() or name not in CIFAR_MEMBERS:
                    continue
                if member.size > CIFAR_MAX_MEMBER:
                    raise DataFormatError(
                        f"{source}: member {name} is {member.size:,} bytes; a CIFAR-10 batch is at most "
                        f"{CIFAR_MAX_MEMBER:,}"
                    )
                found[name] = tar.extractfile(member).read()
    except DataFormatError:
        raise
    except EOFError:
        raise DataFormatError(f"{source}: the archive is truncated (the file ended early)") from None
    except (tarfile.TarError, OSError, zlib.error) as exc:
        raise DataFormatError(f"{source}: not a valid .tar.gz archive ({exc})") from None
    missing = [m for m in CIFAR_MEMBERS if m not in found]
    if missing:
        raise DataFormatError(f"{source}: not a CIFAR-10 python archive; missing {', '.join(missing)}")
    return {name: _unpickle_batch(source, name, found[name]) for name in CIFAR_MEMBERS}


def _unpickle_batch(source: str, name: str, raw: bytes):
    try:
        return _ArraysOnlyUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as exc:
        raise DataFormatError(f"{source}: member {name} is not a CIFAR batch ({exc})") from None


def _batch_arrays(source: str, name: str, batch) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 32, 32, 3) uint8, labels (N,) int64) of one CIFAR batch, checked."""
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise DataFormatError(f"{source}: member {name} lacks b'data' / b'labels'")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise DataFormatError(
            f"{source}: member {name} should hold uint8 data (N, 3072) and N labels; "
            f"found {data.dtype} {data.shape} and {len(labels)} labels"
        )
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataFormatError(f"{source}: member {name} has labels outside 0-9")
    # (N, 3072) rows are channel-major: (N, 3, 32, 32) -> (N, 32, 32, 3)
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def _stack(parts) -> tuple[np.ndarray, np.ndarray]:
    return np.ascontiguousarray(np.concatenate([x for x, _ in parts])), np.concatenate([y for _, y in parts])


def read_mnist_5k(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """mnist_5k.csv.gz -> images uint8 (N, 28, 28), labels int64 (N,)."""
    text = read_bytes(path)
    if not text.strip():
        raise DataFormatError(f"{path}: the file is empty")
    try:
        table = np.loadtxt(io.BytesIO(text), delimiter=",", dtype=np.int64, ndmin=2)
    except ValueError as exc:
        raise DataFormatError(f"{path}: not a CSV of integers ({exc})") from None
    if table.shape[1] != 785:
        raise DataFormatError(f"{path}: expected 785 columns (784 pixels, then the label); found {table.shape[1]}")
    pixels, labels = table[:, :784], table[:, 784]
    if pixels.min() < 0 or pixels.max() > 255:
        raise DataFormatError(f"{path}: pixel values must lie in 0-255; found {pixels.min()}..{pixels.max()}")
    if labels.min() < 0 or labels.max() > 9:
        raise DataFormatError(f"{path}: labels must lie in 0-9; found {labels.min()}..{labels.max()}")
    return pixels.astype(np.uint8).reshape(-1, 28, 28), labels
