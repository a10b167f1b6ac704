"""Loaders on the real shared files, the data home, downloads through a fake transport, and import."""

import contextlib
import io
import os

import numpy as np
import pytest

from keraslab import datasets
from keraslab.datasets import cache, download, registry, synthetic
from keraslab.errors import ChecksumError, DataFormatError, DataMissingError, UsageError

# --- the real files ------------------------------------------------------------------------------------------


def test_fashion_mnist_real(shared_data):
    (x, y), (xt, _yt) = datasets.load_fashion_mnist(data_dir=shared_data, offline=True)
    assert x.shape == (60000, 28, 28) and x.dtype == np.uint8
    assert xt.shape == (10000, 28, 28)
    assert y.dtype == np.int64 and set(np.unique(y)) == set(range(10))
    assert np.bincount(y).tolist() == [6000] * 10


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


def test_same_data_twice_is_identical(shared_data):
    a = datasets.load_mnist_5k(data_dir=shared_data, offline=True)
    b = datasets.load_mnist_5k(data_dir=shared_data, offline=True)
    np.testing.assert_array_equal(a[0], b[0])


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
    table = datasets.load_insurance(data_dir=tmp_path, transport=transport)
    assert table.frame.shape == (28, 3)
    assert transport.calls == [registry.REGISTRY["insurance"].files[0].url]
    assert (tmp_path / "insurance_data.csv").read_bytes() == data
    assert [p.name for p in tmp_path.iterdir()] == ["insurance_data.csv"]  # no temporary file left
    # Present and verified now: no second download.
    datasets.load_insurance(data_dir=tmp_path, transport=transport)
    assert len(transport.calls) == 1


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


def test_import_good_file(tmp_path, shared_data):
    home = tmp_path / "home"
    dest = datasets.import_file(
        "fashion_mnist", shared_data / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz", data_dir=home
    )
    assert dest == home / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz"
    assert datasets.sha256_of(dest) == registry.REGISTRY["fashion_mnist"].files[3].sha256


def test_import_wrong_file(tmp_path):
    bogus = tmp_path / "cifar-10-python.tar.gz"
    synthetic.write_cifar10_tar(bogus, n_per_batch=2, n_test=2)
    home = tmp_path / "home"
    with pytest.raises(
        ChecksumError,
        match=r"cifar-10-python.tar.gz \(sha256 [0-9a-f]{64}\) is none of dataset "
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
