"""Decode once: a data file's decoded arrays kept in keraslab's cache folder, read back memory-mapped, checked on
every read, rebuilt when damaged, never trusted."""

import json
import os

import numpy as np
import pytest

from keraslab import caches
from keraslab.datasets import decoded, formats, loaders


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(caches.ENV_VAR, str(tmp_path / "cache"))
    return tmp_path / "cache" / "decoded"


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "numbers.bin"
    path.write_bytes(bytes(range(200)))
    return path


def _decoder(path, calls):
    def decode():
        calls.append(path)
        raw = np.frombuffer(path.read_bytes(), np.uint8)
        return {"x": raw.reshape(20, 10), "y": raw[:20].astype(np.int64)}

    return decode


def test_the_second_read_is_the_cached_arrays_memory_mapped_without_decoding(cache, source):
    calls = []
    first = decoded.cached("numbers", source, _decoder(source, calls))
    second = decoded.cached("numbers", source, _decoder(source, calls))
    assert calls == [source]  # decoded once
    assert isinstance(second["x"], np.memmap) and not isinstance(first["x"], np.memmap)
    for name in ("x", "y"):
        np.testing.assert_array_equal(second[name], first[name])
        assert second[name].dtype == first[name].dtype
    (entry,) = cache.iterdir()
    assert entry.name.startswith(f"numbers-v{decoded.VERSION}-") and entry.name.endswith(decoded.sha256_of(source))
    # copy-on-write: a lesson may change the arrays it got; the entry on disk stays as it was
    second["x"][0, 0] = 99
    third = decoded.cached("numbers", source, _decoder(source, calls))
    assert third["x"][0, 0] == 0 and calls == [source]


def test_another_file_is_another_entry(cache, source, tmp_path):
    calls = []
    decoded.cached("numbers", source, _decoder(source, calls))
    other = tmp_path / "other.bin"
    other.write_bytes(bytes(reversed(range(200))))
    got = decoded.cached("numbers", other, _decoder(other, calls))
    assert calls == [source, other] and got["x"][0, 0] == 199 and len(list(cache.iterdir())) == 2


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (lambda e: _flip_last_byte(e / "x.npy"), "x.npy does not match its sha256"),
        (lambda e: (e / "x.npy").write_bytes((e / "x.npy").read_bytes()[:100]), "x.npy"),
        (lambda e: (e / "arrays.json").write_text("{not json"), "its arrays.json cannot be read"),
        (lambda e: (e / "y.npy").unlink(), "y.npy"),
        (lambda e: (e / "y.npy").write_bytes(b""), "y.npy cannot be read"),
        (lambda e: _rewrite_meta(e, shape=[10, 20]), "x.npy is not the |u1 [10, 20] it should be"),
    ],
)
def test_a_damaged_entry_is_rebuilt_never_trusted(cache, source, capsys, damage, says):
    calls = []
    truth = decoded.cached("numbers", source, _decoder(source, calls))
    (entry,) = cache.iterdir()
    damage(entry)
    again = decoded.cached("numbers", source, _decoder(source, calls))
    assert len(calls) == 2  # decoded again
    np.testing.assert_array_equal(again["x"], truth["x"])
    err = capsys.readouterr().err
    assert f"keraslab: warning: cached arrays {entry} are damaged (" in err and says in err
    assert decoded.cached("numbers", source, _decoder(source, calls))["x"].sum() == truth["x"].sum()
    assert len(calls) == 2  # the rebuilt entry is good


def _flip_last_byte(path):
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def _rewrite_meta(entry, **changes):
    meta = json.loads((entry / "arrays.json").read_text())
    meta["arrays"]["x"].update(changes)
    (entry / "arrays.json").write_text(json.dumps(meta))


def test_an_entry_of_another_version_is_not_read_and_is_replaced(cache, source, monkeypatch):
    calls = []
    decoded.cached("numbers", source, _decoder(source, calls))
    monkeypatch.setattr(decoded, "VERSION", decoded.VERSION + 1)
    decoded.cached("numbers", source, _decoder(source, calls))
    assert len(calls) == 2
    assert [e.name.split("-")[1] for e in cache.iterdir()] == [f"v{decoded.VERSION}"]


def test_no_cache_when_off_or_unwritable(tmp_path, source, monkeypatch):
    calls = []
    monkeypatch.setenv(caches.ENV_VAR, "off")
    decoded.cached("numbers", source, _decoder(source, calls))
    decoded.cached("numbers", source, _decoder(source, calls))
    assert len(calls) == 2 and not (tmp_path / "cache").exists()

    locked = tmp_path / "locked"
    (locked / "decoded").mkdir(parents=True)
    (locked / "decoded").chmod(0o500)
    monkeypatch.setenv(caches.ENV_VAR, str(locked))
    try:
        if os.access(locked / "decoded", os.W_OK):  # root writes anywhere: make the folder a file instead
            (locked / "decoded").chmod(0o700)
            (locked / "decoded").rmdir()
            (locked / "decoded").write_text("not a folder")
        got = decoded.cached("numbers", source, _decoder(source, calls))
    finally:
        if (locked / "decoded").is_dir():
            (locked / "decoded").chmod(0o700)
    assert len(calls) == 3 and got["x"].shape == (20, 10)  # decoded, the run goes on


def test_the_loaders_give_the_same_arrays_from_the_cache(cache, shared_data):
    """mnist_5k through the loader: the first load decodes the CSV, the second reads the entry; both equal the
    reader's own output."""
    x_ref, y_ref = formats.read_mnist_5k(shared_data / "mnist_5k.csv.gz")
    for _ in range(2):
        x, y = loaders.load_mnist_5k(data_dir=shared_data)
        np.testing.assert_array_equal(x, x_ref)
        np.testing.assert_array_equal(y, y_ref)
    assert isinstance(x, np.memmap) and len(list(cache.iterdir())) == 1
    scaled, _ = loaders.load_mnist_5k(data_dir=shared_data, scale=True)
    np.testing.assert_array_equal(scaled, x_ref.astype(np.float32) / np.float32(255))
