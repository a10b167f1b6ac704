"""Loaders on the real shared files, the data home, downloads through a fake transport, and import."""

import contextlib
import dataclasses
import io
import os

import numpy as np
import pytest

from keraslab import datasets
from keraslab.datasets import download, registry, synthetic
from keraslab.datasets import home as cache
from keraslab.errors import ChecksumError, DataFormatError, DataMissingError, UsageError

# --- the real files ------------------------------------------------------------------------------------------


@pytest.mark.full_data("fashion_mnist")
def test_fashion_mnist_real(shared_data):
    (x, y), (xt, _yt) = datasets.load_fashion_mnist(data_dir=shared_data, offline=True)
    assert x.shape == (60000, 28, 28) and x.dtype == np.uint8
    assert xt.shape == (10000, 28, 28)
    assert y.dtype == np.int64 and set(np.unique(y)) == set(range(10))
    assert np.bincount(y).tolist() == [6000] * 10


@pytest.mark.full_data("fashion_mnist")
def test_fashion_mnist_scaled(shared_data):
    (x, _), _ = datasets.load_fashion_mnist(data_dir=shared_data, offline=True, scale=True)
    assert x.dtype == np.float32 and x.min() == 0.0 and x.max() == 1.0 and x.flags.c_contiguous


def test_mnist_5k_real(shared_data):
    x, y = datasets.load_mnist_5k(data_dir=shared_data, offline=True)
    assert x.shape == (5000, 28, 28) and x.dtype == np.uint8 and y.shape == (5000,)
    assert set(np.unique(y)) == set(range(10))


def test_churn_real(shared_data):
    raw = datasets.read_csv(shared_data / "customer_churn.csv")
    assert raw.shape == (7043, 21)
    t = datasets.load_churn(data_dir=shared_data, offline=True)
    assert t.frame.shape == (7032, 20) and "customerID" not in t.frame
    assert (t.y == "Yes").sum() == 1869 and (t.y == "No").sum() == 5163
    assert t.frame["TotalCharges"].dtype == np.float64
    assert t.changes[1] == "dropped 11 rows with a blank TotalCharges (the course's choice)"
    z = datasets.load_churn(data_dir=shared_data, offline=True, blank_total_charges="zero")
    assert z.frame.shape == (7043, 20)
    assert (z.frame.loc[z.frame.tenure == 0, "TotalCharges"] == 0).all()
    assert "set the blank TotalCharges of 11 rows to 0.0" in z.changes[1]


def test_churn_bad_option(shared_data):
    with pytest.raises(UsageError, match=r"Expected one of 'drop', 'zero'. Received: blank_total_charges='mean'"):
        datasets.load_churn(data_dir=shared_data, blank_total_charges="mean")


def test_sonar_real(shared_data):
    t = datasets.load_sonar(data_dir=shared_data, offline=True)
    assert t.X.shape == (208, 60)
    assert (t.y == "M").sum() == 111 and (t.y == "R").sum() == 97


def test_small_tables_real(shared_data):
    ins = datasets.load_insurance(data_dir=shared_data, offline=True)
    assert ins.frame.shape == (28, 3) and ins.y.sum() == 14
    hp = datasets.load_homeprices(data_dir=shared_data, offline=True)
    assert hp.frame.shape == (20, 3) and hp.frame.iloc[1].tolist() == [2600, 4, 120]


def test_mnist_5k_decodes_to_the_csv_s_own_numbers(shared_data):
    """The loader's images and labels are the file's numbers, as pandas reads the same CSV independently."""
    import pandas as pd

    x, y = datasets.load_mnist_5k(data_dir=shared_data, offline=True)
    table = pd.read_csv(shared_data / "mnist_5k.csv.gz", header=None).to_numpy()
    np.testing.assert_array_equal(x.reshape(len(x), 784), table[:, :784])
    np.testing.assert_array_equal(y, table[:, 784])


# --- CSV problems ----------------------------------------------------------------------------------------------


def _home_with(tmp_path, monkeypatch, dataset, filename, content: bytes):
    """A data home holding `content` as the dataset's file, vouched for by a substitute checksum list."""
    import hashlib
    import json

    (tmp_path / filename).write_bytes(content)
    sums = tmp_path / "sums.json"
    sums.write_text(json.dumps({dataset: {filename: hashlib.sha256(content).hexdigest()}}))
    monkeypatch.setenv("KERASLAB_CHECKSUMS", str(sums))
    return tmp_path


def test_csv_missing_required_column(tmp_path, monkeypatch, shared_data):
    text = (shared_data / "customer_churn.csv").read_text().splitlines()
    header = text[0].replace(",Contract,", ",Kontract,")
    home = _home_with(tmp_path, monkeypatch, "churn", "customer_churn.csv", "\n".join([header, *text[1:20]]).encode())
    with pytest.raises(DataFormatError, match=r"customer_churn.csv: missing required column 'Contract'; found "):
        datasets.load_churn(data_dir=home)


def test_csv_empty_file(tmp_path, monkeypatch):
    home = _home_with(tmp_path, monkeypatch, "insurance", "insurance_data.csv", b"")
    with pytest.raises(DataFormatError, match=r"insurance_data.csv: the file is empty"):
        datasets.load_insurance(data_dir=home)


def test_sonar_bad_label(tmp_path, monkeypatch, shared_data):
    lines = (shared_data / "sonar_dataset.csv").read_text().splitlines()
    lines[3] = lines[3][:-1] + "X"
    home = _home_with(tmp_path, monkeypatch, "sonar", "sonar_dataset.csv", "\n".join(lines).encode())
    with pytest.raises(DataFormatError, match="column 60 \\(the label\\) must be M or R; row 4 holds 'X'"):
        datasets.load_sonar(data_dir=home)


# --- the data home and the cache -------------------------------------------------------------------------------


def test_data_home_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("KERASLAB_DATA", str(tmp_path / "env"))
    assert cache.data_home(tmp_path / "arg") == tmp_path / "arg"
    assert cache.data_home() == tmp_path / "env"
    monkeypatch.delenv("KERASLAB_DATA")
    assert cache.data_home() == cache.Path.home() / ".cache" / "keraslab"


def test_checksum_mismatch(tmp_path):
    (tmp_path / "insurance_data.csv").write_text("age,affordibility,bought_insurance\n22,1,0\n")
    with pytest.raises(
        ChecksumError,
        match=r"dataset 'insurance': checksum mismatch for .*insurance_data.csv: "
        r"expected sha256 b0c76d79.*, got [0-9a-f]{64}",
    ):
        datasets.load_insurance(data_dir=tmp_path, offline=True)


def test_offline_missing(tmp_path):
    with pytest.raises(
        DataMissingError,
        match=r"dataset 'cifar10': cifar-10-python.tar.gz is not in .* and "
        r"--offline forbids downloading it",
    ):
        datasets.load_cifar10(data_dir=tmp_path, offline=True)


def test_unknown_dataset():
    with pytest.raises(UsageError, match=r"Unknown dataset 'cifar100'. Expected one of: mnist, fashion_mnist"):
        datasets.load("cifar100")


# --- downloads through a fake transport --------------------------------------------------------------------------


class FakeResponse(io.BytesIO):
    def __init__(self, data, fail_after=None, exc=None):
        super().__init__(data)
        self.fail_after, self.exc, self.sent = fail_after, exc, 0
        self.headers = {"Content-Length": str(len(data))}

    def read(self, n=-1):
        chunk = super().read(min(n, 1000) if n and n > 0 else 1000)
        self.sent += len(chunk)
        if self.fail_after is not None and self.sent > self.fail_after:
            raise self.exc
        return chunk


def fake_transport(data, **kw):
    calls = []

    def transport(url):
        calls.append(url)
        return contextlib.closing(FakeResponse(data, **kw))

    transport.calls = calls
    return transport


def _spec_for(data: bytes, name="insurance_data.csv"):
    import hashlib

    return registry.FileSpec(name, hashlib.sha256(data).hexdigest(), "https://example.invalid/" + name)


def test_download_success(tmp_path, shared_data):
    data = (shared_data / "insurance_data.csv").read_bytes()
    transport = fake_transport(data)
    spec = dataclasses.replace(registry.REGISTRY["insurance"].files[0], shipped=None)  # as if none shipped
    cache.ensure_file(spec, data_dir=tmp_path, transport=transport, dataset="insurance")
    assert transport.calls == [spec.url]
    assert (tmp_path / "insurance_data.csv").read_bytes() == data
    assert [p.name for p in tmp_path.iterdir()] == ["insurance_data.csv"]  # no temporary file left
    # Present and verified now: the loader reads it, with no second download.
    with datasets.track_files() as used:
        table = datasets.load_insurance(data_dir=tmp_path, transport=transport)
    assert table.frame.shape == (28, 3) and len(transport.calls) == 1
    assert used[0]["path"] == str(tmp_path / "insurance_data.csv") and "source" not in used[0]


def test_a_shipped_file_is_read_when_the_data_home_lacks_it_and_never_downloaded(tmp_path, shared_data):
    transport = fake_transport(b"never fetched")
    with datasets.track_files() as used:
        table = datasets.load_churn(data_dir=tmp_path, transport=transport)
        x, y = datasets.load_mnist_5k(data_dir=tmp_path, offline=True)
    assert transport.calls == [] and list(tmp_path.iterdir()) == []
    real = datasets.load_churn(data_dir=shared_data, offline=True)  # the course's own file (or its copy)
    assert table.frame.equals(real.frame)
    assert x.shape == (5000, 28, 28) and np.bincount(y).sum() == 5000
    assert [(u["file"], u["source"]) for u in used] == [
        ("customer_churn.csv", "shipped with keraslab"),
        ("mnist_5k.csv.gz", "shipped with keraslab"),
    ]
    assert used[0]["sha256"] == registry.REGISTRY["churn"].files[0].sha256  # of the decompressed content
    assert used[0]["hashed"] == "decompressed content"


def test_a_damaged_shipped_copy_is_refused_by_name(tmp_path, monkeypatch):
    """A shipped copy is checked like any other file: a damaged installation is one line naming the copy."""
    import gzip

    fake = tmp_path / "shipped"
    fake.mkdir()
    (fake / "sonar_dataset.csv.gz").write_bytes(gzip.compress(b"0.1,M\n"))
    (fake / "insurance_data.csv").write_bytes(b"age,affordibility,bought_insurance\n")
    monkeypatch.setattr(cache, "SHIPPED", fake)
    with pytest.raises(
        ChecksumError,
        match=r"dataset 'sonar': the copy of sonar_dataset.csv shipped with keraslab "
        r"\(.*sonar_dataset.csv.gz\) is damaged: expected sha256 of the decompressed content 9d5d5709",
    ):
        datasets.load_sonar(data_dir=tmp_path / "home", offline=True)
    with pytest.raises(ChecksumError, match=r"insurance_data.csv shipped with keraslab .* expected sha256 b0c76d79"):
        datasets.load_insurance(data_dir=tmp_path / "home", offline=True)
    status = {s.dataset: s for s in datasets.status(["sonar", "homeprices"], tmp_path / "home")}
    assert status["sonar"].shipped and status["sonar"].present and not status["sonar"].verified
    assert not status["homeprices"].present  # its shipped copy is gone: missing, not verified


def test_load_split_splits_mnist_5k_stratified_and_seeded_and_keeps_a_real_split():
    (xa, ya), (xb, yb) = datasets.load_split("mnist_5k", seed=3, offline=True)
    assert len(xa) == 4000 and len(xb) == 1000
    assert np.abs(np.bincount(ya) / 4000 - np.bincount(yb) / 1000).max() < 0.002  # stratified
    (xc, _), _ = datasets.load_split("mnist_5k", seed=3, offline=True)
    (xd, _), _ = datasets.load_split("mnist_5k", seed=4, offline=True)
    assert np.array_equal(xa, xc) and not np.array_equal(xa, xd)
    with pytest.raises(UsageError, match="'churn' is a table, not an image dataset"):
        datasets.load_split("churn")


def test_download_failing_midway_leaves_nothing(tmp_path):
    data = os.urandom(10_000)
    spec = _spec_for(data)
    transport = fake_transport(data, fail_after=4000, exc=ConnectionResetError("connection reset by peer"))
    with pytest.raises(
        DataMissingError,
        match=r"Could not download insurance_data.csv from https://example.invalid/insurance_data.csv: "
        r"connection reset",
    ):
        cache.ensure_file(spec, data_dir=tmp_path, transport=transport)
    assert list(tmp_path.iterdir()) == []


def test_download_interrupted_leaves_nothing(tmp_path):
    data = os.urandom(10_000)
    transport = fake_transport(data, fail_after=2000, exc=KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        cache.ensure_file(_spec_for(data), data_dir=tmp_path, transport=transport)
    assert list(tmp_path.iterdir()) == []


def test_download_wrong_hash_leaves_nothing(tmp_path):
    spec = _spec_for(b"the right bytes")
    with pytest.raises(
        ChecksumError,
        match=r"Downloaded insurance_data.csv from .* has the wrong sha256: "
        r"expected [0-9a-f]{64}, got [0-9a-f]{64} \(14 bytes\); the file was "
        r"discarded",
    ):
        cache.ensure_file(spec, data_dir=tmp_path, transport=fake_transport(b"the WRONG byte"))
    assert list(tmp_path.iterdir()) == []


def test_download_low_level_keeps_other_files(tmp_path):
    (tmp_path / "other.txt").write_text("keep me")
    with pytest.raises(ChecksumError):
        download.download("u", tmp_path / "f.bin", "0" * 64, transport=fake_transport(b"abc"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.txt"]


# --- import -----------------------------------------------------------------------------------------------------


@pytest.mark.full_data("fashion_mnist")
def test_import_good_file(tmp_path, shared_data):
    home = tmp_path / "home"
    [dest] = datasets.import_file(
        "fashion_mnist", shared_data / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz", data_dir=home
    )
    assert dest == home / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz"
    assert datasets.sha256_of(dest, gzip_content=True) == registry.REGISTRY["fashion_mnist"].files[3].sha256


def test_import_wrong_file(tmp_path):
    bogus = tmp_path / "cifar-10-python.tar.gz"
    synthetic.write_cifar10_tar(bogus, n_per_batch=2, n_test=2)
    home = tmp_path / "home"
    with pytest.raises(
        ChecksumError,
        match=r"cifar-10-python.tar.gz \(sha256 [0-9a-f]{64}, decompressed sha256 [0-9a-f]{64}\) is none of dataset "
        r"'cifar10''s files; expected cifar-10-python.tar.gz sha256 6d958be0",
    ):
        datasets.import_file("cifar10", bogus, data_dir=home)
    assert not home.exists() or list(home.iterdir()) == []


# --- substitutes: small files in the real formats, through the real loaders ---------------------------------------


def test_small_cifar_and_mnist_through_real_loaders(small_data_home, monkeypatch):
    home, checksums = small_data_home
    monkeypatch.setenv("KERASLAB_CHECKSUMS", str(checksums))
    with datasets.track_files() as used:
        (x, _y), (xt, _yt) = datasets.load_cifar10(data_dir=home, offline=True, scale=True)
        (mx, my), _ = datasets.load_mnist(data_dir=home, offline=True)
    assert x.shape == (500, 32, 32, 3) and x.dtype == np.float32 and xt.shape == (200, 32, 32, 3)
    assert mx.shape == (600, 28, 28) and my.dtype == np.int64
    assert [u["file"] for u in used] == ["cifar-10-python.tar.gz", "mnist.npz"]
    assert all(u["substitute"] for u in used)


def test_small_files_refused_without_substitute_list(small_data_home):
    home, _ = small_data_home
    with pytest.raises(ChecksumError, match="expected sha256 6d958be0"):
        datasets.load_cifar10(data_dir=home, offline=True)


# --- MNIST from its original idx files, identified by their decompressed content ------------------------------------

IDX = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def _regzip(src, dest, level=1):
    """The same content in other .gz bytes (another mirror's copy)."""
    import gzip

    dest.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(src, "rb") as fh:
        data = fh.read()
    dest.write_bytes(gzip.compress(data, compresslevel=level, mtime=12345))
    return dest


@pytest.mark.full_data("mnist/idx")
def test_full_mnist_from_the_idx_files(shared_data):
    with datasets.track_files() as used:
        (x, y), (xt, yt) = datasets.load_mnist(data_dir=shared_data, offline=True)
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert np.bincount(y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]  # SOURCES.md
    assert yt[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert [u["file"] for u in used] == [f"mnist/{n}" for n in IDX]
    assert all(u["hashed"] == "decompressed content" and "substitute" not in u for u in used)
    assert used[0]["sha256"] == "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"


@pytest.mark.full_data("mnist/idx", "fashion_mnist")
def test_another_mirrors_gz_bytes_verify_by_content(tmp_path, shared_data):
    home = tmp_path / "home"
    for name in IDX:
        _regzip(shared_data / "mnist" / name, home / "mnist" / name)
    assert cache.sha256_of(home / "mnist" / IDX[3]) != cache.sha256_of(shared_data / "mnist" / IDX[3])
    (_x, y), _ = datasets.load_mnist(data_dir=home, offline=True)
    assert len(y) == 60000
    # negative control: a different content is refused by name
    _regzip(shared_data / "fashion-mnist" / IDX[3], home / "mnist" / IDX[3])
    with pytest.raises(ChecksumError, match=r"checksum mismatch for .*t10k-labels-idx1-ubyte.gz: expected sha256 of "):
        datasets.load_mnist(data_dir=home, offline=True)


@pytest.mark.full_data("mnist/idx")
def test_import_a_folder_of_idx_files(tmp_path, shared_data):
    folder = tmp_path / "download"
    for name in IDX:  # other names: files are recognised by their content
        _regzip(shared_data / "mnist" / name, folder / f"mnist-{name}")
    (folder / "README").write_text("not data")
    home = tmp_path / "home"
    dests = datasets.import_file("mnist", folder, data_dir=home)
    assert [d.relative_to(home).as_posix() for d in dests] == [f"mnist/{n}" for n in IDX]
    assert [f.file for f in datasets.status(["mnist"], home)] == [f"mnist/{n}" for n in IDX]
    assert all(f.verified for f in datasets.status(["mnist"], home))
    # a verified file is never replaced by a different one (here: the same content in other .gz bytes)
    before = (home / "mnist" / IDX[0]).read_bytes()
    _regzip(shared_data / "mnist" / IDX[0], folder / f"mnist-{IDX[0]}", level=9)
    datasets.import_file("mnist", folder / f"mnist-{IDX[0]}", data_dir=home)
    assert (home / "mnist" / IDX[0]).read_bytes() == before


@pytest.mark.full_data("mnist/idx")
def test_a_folder_lacking_a_file_names_it_and_imports_nothing(tmp_path, shared_data):
    folder = tmp_path / "download"
    for name in IDX[:3]:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).symlink_to((shared_data / "mnist" / name).resolve())
    home = tmp_path / "home"
    with pytest.raises(DataMissingError, match=r"download lacks t10k-labels-idx1-ubyte.gz of dataset 'mnist'"):
        datasets.import_file("mnist", folder, data_dir=home)
    assert not home.exists()


@pytest.mark.full_data("fashion_mnist")
def test_an_unknown_file_names_both_its_hashes_and_the_expected_ones(tmp_path, shared_data):
    other = _regzip(shared_data / "fashion-mnist" / IDX[3], tmp_path / "labels.gz")
    with pytest.raises(ChecksumError) as info:
        datasets.import_file("mnist", other, data_dir=tmp_path / "home")
    message = str(info.value)
    assert message.startswith(f"{other} (sha256 {cache.sha256_of(other)}, decompressed sha256 0402a96d")
    assert "expected mnist.npz sha256 731c5ac6" in message
    assert "mnist/t10k-labels-idx1-ubyte.gz sha256 of the decompressed content ff7bcfd4" in message
    assert not (tmp_path / "home").exists()


@pytest.mark.full_data("mnist/idx")
def test_a_truncated_gz_is_one_error_and_leaves_nothing(tmp_path, shared_data):
    data = (shared_data / "mnist" / IDX[3]).read_bytes()
    cut = tmp_path / "cut.gz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match=r"cut.gz: not a complete gzip file"):
        datasets.import_file("mnist", cut, data_dir=tmp_path / "home")
    assert not (tmp_path / "home").exists()
    home = tmp_path / "home2"  # in the data home: reported, not a traceback
    (home / "mnist").mkdir(parents=True)
    for name in IDX:
        (home / "mnist" / name).symlink_to((shared_data / "mnist" / name).resolve())
    (home / "mnist" / IDX[3]).unlink()
    (home / "mnist" / IDX[3]).write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match=r"t10k-labels-idx1-ubyte.gz: not a complete gzip file"):
        datasets.load_mnist(data_dir=home, offline=True)
    assert not next(s for s in datasets.status(["mnist"], home) if s.file.endswith(IDX[3])).verified


def test_a_failed_download_names_the_dataset_in_its_hint(tmp_path):
    def refused(_url):
        raise OSError("connection refused")

    with pytest.raises(DataMissingError, match=r"run `keraslab data import mnist PATH`"):
        datasets.load_mnist(data_dir=tmp_path, transport=refused)


def test_a_download_killed_with_sigkill_leaves_a_part_that_the_next_run_removes(tmp_path):
    """kill -9 gives the downloader no chance to clean up: its .part (named with its pid) stays until the next
    download of that file sees that the pid is gone. A .part of a live process is left alone."""
    import hashlib
    import subprocess
    import sys

    script = (
        "import time\n"
        "from pathlib import Path\n"
        "from keraslab.datasets import download\n"
        "class Slow:\n"
        "    def __enter__(self): return self\n"
        "    def __exit__(self, *a): return False\n"
        "    def read(self, n):\n"
        "        print('started', flush=True); time.sleep(120); return b''\n"
        f"download.download('u', Path({str(tmp_path / 'f.bin')!r}), '0' * 64, transport=lambda u: Slow())\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "started"
        [part] = tmp_path.glob(".f.bin.*.part")
    finally:
        proc.kill()
        proc.wait()
    assert part.exists()  # nobody cleaned up
    live = tmp_path / f".f.bin.{os.getpid()}.abc.part"  # a download in progress in a live process
    live.write_bytes(b"x")
    data = b"abc"
    download.download("u", tmp_path / "f.bin", hashlib.sha256(data).hexdigest(), transport=fake_transport(data))
    assert not part.exists() and live.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["f.bin", live.name])


def test_a_files_sha256_is_remembered_per_version_of_the_file(tmp_path, monkeypatch):
    """Computed once for a version of a file (path, size, times, inode), then read from the cache folder by later
    processes; a file rewritten with the same size and its old modification time restored is hashed again (its
    change time moved)."""
    import hashlib
    import time

    monkeypatch.setenv("KERASLAB_CACHE", str(tmp_path / "c"))
    path = tmp_path / "f.bin"
    path.write_bytes(b"one")
    assert datasets.sha256_of(path) == hashlib.sha256(b"one").hexdigest()
    assert len(list((tmp_path / "c" / "hashes").iterdir())) == 1
    monkeypatch.setattr(cache, "_HASHES", {})  # a later process
    monkeypatch.setattr(cache, "sha256_file", lambda p: pytest.fail("hashed again"))
    assert datasets.sha256_of(path) == hashlib.sha256(b"one").hexdigest()
    monkeypatch.undo()
    monkeypatch.setenv("KERASLAB_CACHE", str(tmp_path / "c"))
    monkeypatch.setattr(cache, "_HASHES", {})
    before = path.stat()
    time.sleep(0.01)
    path.write_bytes(b"two")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert datasets.sha256_of(path) == hashlib.sha256(b"two").hexdigest()
    memo = next(p for p in (tmp_path / "c" / "hashes").iterdir() if p.read_text() == hashlib.sha256(b"two").hexdigest())
    memo.write_text("not a sha256")  # a damaged memo is not believed
    monkeypatch.setattr(cache, "_HASHES", {})
    assert datasets.sha256_of(path) == hashlib.sha256(b"two").hexdigest()


def test_scaled_images_start_on_a_64_byte_boundary_and_hold_the_pixels_over_255():
    """JAX uses such an array where it is instead of copying it (188 MB per model for MNIST)."""
    import jax

    from keraslab.datasets.loaders import _images

    x = np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28)
    scaled = _images(x, True)
    assert scaled.ctypes.data % 64 == 0 and scaled.dtype == np.float32
    np.testing.assert_array_equal(scaled, x.astype(np.float32) / np.float32(255.0))
    assert jax.device_put(scaled).unsafe_buffer_pointer() == scaled.ctypes.data
