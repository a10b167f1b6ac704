"""The format readers, on small files written in each real format, and on broken ones."""

import gzip
import io
import pickle
import tarfile

import numpy as np
import pytest

from keraslab.datasets import formats, synthetic
from keraslab.errors import DataFormatError


def test_idx_round_trip(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = synthetic.write_idx_gz(tmp_path / "x-idx3-ubyte.gz", images)
    out = formats.read_idx(path, expected_ndim=3)
    assert out.dtype == np.uint8 and out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, images)


def test_idx_header_by_hand():
    # magic 0x00000801 (unsigned bytes, 1 dimension), size 3, then the three labels 7, 0, 9
    raw = bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 0, 9])
    np.testing.assert_array_equal(formats.parse_idx(raw, "labels", expected_ndim=1), [7, 0, 9])


def test_idx_wrong_magic(tmp_path):
    raw = bytearray(synthetic.idx_bytes(np.zeros((2, 2), np.uint8)))
    raw[2] = 0x0D  # float32 type code: not what the course's files hold
    path = tmp_path / "bad.idx"
    path.write_bytes(raw)
    with pytest.raises(DataFormatError, match=r"bad.idx: wrong idx magic number: expected 0x00000802, got 0x00000d02"):
        formats.read_idx(path, expected_ndim=2)


def test_idx_size_disagrees_with_header(tmp_path):
    raw = synthetic.idx_bytes(np.zeros((4, 5), np.uint8))[:-3]
    path = tmp_path / "short.idx"
    path.write_bytes(raw)
    with pytest.raises(
        DataFormatError,
        match=r"short.idx: idx header gives shape \(4, 5\) \(20 bytes of data\) "
        r"but the file holds 17",
    ):
        formats.read_idx(path)


def test_idx_wrong_dimension_count(tmp_path):
    path = synthetic.write_idx_gz(tmp_path / "labels.gz", np.zeros(5, np.uint8))
    with pytest.raises(DataFormatError, match="expected 0x00000803"):
        formats.read_idx(path, expected_ndim=3)


def test_truncated_gz(tmp_path):
    full = synthetic.write_idx_gz(tmp_path / "full.gz", np.zeros((50, 28, 28), np.uint8)).read_bytes()
    path = tmp_path / "cut.gz"
    path.write_bytes(full[: len(full) // 2])
    with pytest.raises(DataFormatError, match=r"cut.gz: the gzip stream is truncated"):
        formats.read_idx(path)


def test_not_gzip(tmp_path):
    path = tmp_path / "plain.gz"
    path.write_bytes(b"this is not gzip at all")
    with pytest.raises(DataFormatError, match=r"plain.gz: not a valid gzip file"):
        formats.read_idx(path)


def test_empty_files(tmp_path):
    for name in ("e.idx", "e.npz", "e.tar.gz"):
        (tmp_path / name).write_bytes(b"")
    with pytest.raises(DataFormatError, match=r"e.idx: the file is empty"):
        formats.read_idx(tmp_path / "e.idx")
    with pytest.raises(DataFormatError, match=r"e.npz: the file is empty"):
        formats.read_mnist_npz(tmp_path / "e.npz")
    with pytest.raises(DataFormatError, match=r"e.tar.gz: the file is empty"):
        formats.read_cifar10_tar(tmp_path / "e.tar.gz")
    empty_gz = tmp_path / "e.csv.gz"
    empty_gz.write_bytes(gzip.compress(b""))
    with pytest.raises(DataFormatError, match=r"e.csv.gz: the file is empty"):
        formats.read_mnist_5k(empty_gz)


def test_mnist_npz_reads_back_the_arrays_keras_saves(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (30, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, 30).astype(np.uint8),
        "x_test": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, 10).astype(np.uint8),
    }
    np.savez_compressed(tmp_path / "mnist.npz", **arrays)  # the layout of keras.datasets.mnist's mnist.npz
    d = formats.read_mnist_npz(tmp_path / "mnist.npz")
    for name, expected in arrays.items():
        assert d[name].dtype == expected.dtype, name
        np.testing.assert_array_equal(d[name], expected, err_msg=name)


def test_mnist_npz_object_array_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(
        path, x_train=np.array([{"a": 1}], dtype=object), y_train=np.zeros(1), x_test=np.zeros(1), y_test=np.zeros(1)
    )
    with pytest.raises(DataFormatError, match=r"evil.npz: holds an object \(pickled\) array"):
        formats.read_mnist_npz(path)


def test_mnist_npz_missing_key(tmp_path):
    path = tmp_path / "partial.npz"
    np.savez(path, x_train=np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(DataFormatError, match=r"partial.npz: missing array\(s\) y_train, x_test, y_test"):
        formats.read_mnist_npz(path)


def test_cifar_small_layout(tmp_path):
    path = synthetic.write_cifar10_tar(tmp_path / "c.tar.gz", n_per_batch=4, n_test=3)
    d = formats.read_cifar10_tar(path)
    assert d["x_train"].shape == (20, 32, 32, 3) and d["x_train"].dtype == np.uint8
    assert d["x_test"].shape == (3, 32, 32, 3)
    assert d["y_train"].dtype == np.int64 and d["y_train"].shape == (20,)
    # The rows are channel-major: pixel (row 0, col 1) of the green channel is data[:, 1024 + 1].
    with tarfile.open(path) as tar:
        raw = tar.extractfile("cifar-10-batches-py/data_batch_1").read()
    batch = pickle.loads(raw, encoding="bytes")
    np.testing.assert_array_equal(d["x_train"][:4, 0, 1, 1], batch[b"data"][:, 1024 + 1])
    np.testing.assert_array_equal(d["y_train"][:4], batch[b"labels"])


def _tar_with(tmp_path, info):
    return synthetic.write_cifar10_tar(tmp_path / "evil.tar.gz", n_per_batch=2, n_test=2, extra_members=[info])


def test_cifar_member_escaping_folder_refused(tmp_path):
    info = tarfile.TarInfo("cifar-10-batches-py/../../etc/evil")
    info.size = 3
    path = _tar_with(tmp_path, info)
    with pytest.raises(
        DataFormatError,
        match=r"evil.tar.gz: archive member 'cifar-10-batches-py/../../etc/evil' "
        r"would land outside the target folder",
    ):
        formats.read_cifar10_tar(path)


def test_cifar_absolute_member_refused(tmp_path):
    info = tarfile.TarInfo("/tmp/evil")
    info.size = 1
    with pytest.raises(DataFormatError, match="would land outside the target folder"):
        formats.read_cifar10_tar(_tar_with(tmp_path, info))


def test_cifar_symlink_refused(tmp_path):
    info = tarfile.TarInfo("cifar-10-batches-py/link")
    info.type = tarfile.SYMTYPE
    info.linkname = "/etc/passwd"
    with pytest.raises(DataFormatError, match="archive member 'cifar-10-batches-py/link' is a link"):
        formats.read_cifar10_tar(_tar_with(tmp_path, info))


def test_cifar_truncated(tmp_path):
    full = synthetic.write_cifar10_tar(tmp_path / "full.tar.gz", n_per_batch=50).read_bytes()
    path = tmp_path / "cut.tar.gz"
    path.write_bytes(full[: len(full) // 2])
    with pytest.raises(DataFormatError, match=r"cut.tar.gz: (the archive is truncated|not a valid .tar.gz)"):
        formats.read_cifar10_tar(path)


def test_cifar_pickle_cannot_run_code(tmp_path):
    class Boom:
        def __reduce__(self):
            return (print, ("owned",))

    raw = pickle.dumps({b"data": Boom(), b"labels": [0]}, protocol=2)
    path = tmp_path / "boom.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name in formats.CIFAR_MEMBERS:
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    with pytest.raises(
        DataFormatError, match=r"not a CIFAR batch \(global (__builtin__|builtins).print is not allowed\)"
    ):
        formats.read_cifar10_tar(path)


def test_mnist_5k_wrong_columns(tmp_path):
    path = tmp_path / "m.csv.gz"
    path.write_bytes(gzip.compress(b"1,2,3\n4,5,6\n"))
    with pytest.raises(DataFormatError, match=r"m.csv.gz: expected 785 columns"):
        formats.read_mnist_5k(path)


def _cifar_archive(path, member_bytes):
    with tarfile.open(path, "w:gz") as tar:
        for name in formats.CIFAR_MEMBERS:
            info = tarfile.TarInfo(name)
            info.size = len(member_bytes)
            tar.addfile(info, io.BytesIO(member_bytes))
    return path


def test_a_cifar_member_larger_than_a_batch_is_refused_before_it_is_read(tmp_path):
    path = _cifar_archive(tmp_path / "big.tar.gz", bytes(50_000_000))  # zeros: the archive is tiny on disk
    assert path.stat().st_size < 1_000_000
    with pytest.raises(DataFormatError, match=r"member cifar-10-batches-py/data_batch_1 is 50,000,000 bytes; a CIFAR"):
        formats.read_cifar10_tar(path)


@pytest.mark.parametrize(
    "reduce",
    [
        (np.ndarray, (900_000_000,), "b"),  # _reconstruct would allocate 900 MB from a few bytes of pickle
        (np.ndarray, (1000, 1000, 1000), "b"),
    ],
)
def test_a_pickle_that_would_expand_is_refused_before_it_allocates(tmp_path, reduce):
    from numpy._core.multiarray import _reconstruct

    class Bomb:
        def __reduce__(self):
            return (_reconstruct, reduce)

    raw = pickle.dumps({b"data": Bomb(), b"labels": [0]}, protocol=2)
    assert len(raw) < 1000
    path = _cifar_archive(tmp_path / "bomb.tar.gz", raw)
    with pytest.raises(DataFormatError, match=r"an array of [0-9,]+ bytes is larger than a CIFAR batch holds"):
        formats.read_cifar10_tar(path)


def test_a_huge_dtype_in_a_pickle_is_refused(tmp_path):
    class Bomb:
        def __reduce__(self):
            return (np.dtype, ("V900000000",))

    path = _cifar_archive(tmp_path / "dtype.tar.gz", pickle.dumps({b"data": Bomb(), b"labels": [0]}, protocol=2))
    with pytest.raises(DataFormatError, match=r"bytes an item\) is not a CIFAR array's"):
        formats.read_cifar10_tar(path)


def test_idx_headers_that_overflow_or_have_too_many_dimensions():
    # 4 dimensions of 65,536: the product is 2**64, which wraps to 0 in int64 and "matched" an empty body
    header = bytes([0, 0, 8, 4]) + (65536).to_bytes(4, "big") * 4
    with pytest.raises(DataFormatError, match=r"idx header gives shape \(65536, 65536, 65536, 65536\)"):
        formats.parse_idx(header, "wrap.idx")
    header = bytes([0, 0, 8, 5]) + (1).to_bytes(4, "big") * 5 + b"\x00"
    with pytest.raises(DataFormatError, match=r"wrap5.idx: idx header says 5 dimensions; at most 4"):
        formats.parse_idx(header, "wrap5.idx")


def test_a_pickle_that_doubles_bytes_with_a_codec_is_refused(tmp_path):
    """_codecs.encode chained with "hex" doubles its input at each call (29 calls, 370 bytes:
    512 MB a member). Only latin-1, as protocol 2 writes bytes, is allowed."""
    import codecs

    class Doubling:
        def __init__(self, inner):
            self.inner = inner

        def __reduce__(self):
            return (codecs.encode, (self.inner, "hex"))

    payload = b"ab"
    for _ in range(3):
        payload = Doubling(payload)
    raw = pickle.dumps({b"data": payload, b"labels": [0]}, protocol=2)
    assert b"_codecs" in raw and len(raw) < 400
    with pytest.raises(DataFormatError, match=r"not a CIFAR batch \(_codecs.encode of bytes with 'hex'"):
        formats.read_cifar10_tar(_cifar_archive(tmp_path / "hex.tar.gz", raw))


def test_a_tarball_that_decompresses_beyond_a_cifar_archive_is_refused_while_streaming(tmp_path, monkeypatch):
    """A 244-byte .tar.gz drove the reader to 2.6 GB. Decompression is bounded as it streams
    (the bound lowered here so that the test stays small)."""
    monkeypatch.setattr(formats, "CIFAR_MAX_TOTAL", 2_000_000)
    path = tmp_path / "bomb.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("padding")  # not a CIFAR member: it is skipped, and still counted
        info.size = 5_000_000
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    assert path.stat().st_size < 20_000
    with pytest.raises(DataFormatError, match=r"bomb.tar.gz: decompresses to more than 2,000,000 bytes"):
        formats.read_cifar10_tar(path)


def test_an_idx_gz_is_bounded_while_it_is_decompressed(tmp_path, monkeypatch):
    """A 408 KB idx .gz was decompressed whole (915 MB) before its size was checked."""
    monkeypatch.setattr(formats, "IDX_MAX_BYTES", 1_000_000)
    path = tmp_path / "big-idx3-ubyte.gz"
    header = bytes([0, 0, 8, 3]) + (10_000).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    path.write_bytes(gzip.compress(header + bytes(5_000_000)))
    with pytest.raises(DataFormatError, match=r"holds more than 1,000,000 bytes \(decompressed\)"):
        formats.read_idx(path)
