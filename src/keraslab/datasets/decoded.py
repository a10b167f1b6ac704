"""Decode once: a data file's decoded arrays kept in keraslab's cache folder (keraslab.caches), read back
memory-mapped on later runs.

An entry is a folder decoded/<reader>-v<VERSION>-<sha256 of the source file>/ holding one .npy per array and
arrays.json (each array's dtype, shape and sha256). It is written to a temporary folder and renamed into place, so
a reader sees a whole entry or none. On reading, every array is checked against arrays.json (its sha256 too: about
30 ms for MNIST's 55 MB); an entry that fails is removed and the source decoded again, never trusted. The source's
own sha256 was checked when the file was found (keraslab.datasets.home), so an entry can only stand for the exact
bytes it was decoded from. The arrays come back copy-on-write: a lesson may change them in memory; the entry on
disk never changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from keraslab import caches
from keraslab.datasets.home import sha256_of

# Bump when a reader of keraslab.datasets.formats changes what it returns: entries of other versions are not read.
VERSION = 1


def cached(reader: str, source: str | os.PathLike, decode: Callable[[], dict[str, np.ndarray]]) -> dict:
    """decode() of `source` through the cache: {name: array}. Without a usable cache folder, decode() itself."""
    folder = caches.writable_folder("decoded")
    if folder is None:
        return decode()
    digest = sha256_of(source)
    entry = folder / f"{reader}-v{VERSION}-{digest}"
    arrays = _read(entry)
    if arrays is None:
        arrays = decode()
        _write(entry, arrays)
        for old in folder.glob(f"{reader}-v*-{digest}"):  # another version's entry for the same file
            if old != entry:
                shutil.rmtree(old, ignore_errors=True)
    return arrays


def _content_sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).data).hexdigest()


def _read(entry: Path) -> dict | None:
    try:
        meta = json.loads((entry / "arrays.json").read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return _discard(entry, "its arrays.json cannot be read")
    out = {}
    try:
        listed = meta["arrays"].items()
    except (KeyError, TypeError, AttributeError):
        return _discard(entry, "its arrays.json lists no arrays")
    for name, info in listed:
        try:
            array = np.load(entry / f"{name}.npy", mmap_mode="c", allow_pickle=False)
            if array.dtype.str != info["dtype"] or list(array.shape) != info["shape"]:
                return _discard(entry, f"{name}.npy is not the {info['dtype']} {info['shape']} it should be")
            if _content_sha256(array) != info["sha256"]:
                return _discard(entry, f"{name}.npy does not match its sha256")
        except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
            return _discard(entry, f"{name}.npy cannot be read: {exc or type(exc).__name__}")
        out[name] = array
    return out


def _discard(entry: Path, why: str) -> None:
    print(f"keraslab: warning: cached arrays {entry} are damaged ({why}); decoding the data again", file=sys.stderr)
    shutil.rmtree(entry, ignore_errors=True)


def _write(entry: Path, arrays: dict) -> None:
    """Write the entry whole or not at all; a cache that cannot be written is skipped."""
    tmp = entry.with_name(f".{entry.name}.{os.getpid()}.tmp")
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        meta = {}
        for name, array in arrays.items():
            array = np.ascontiguousarray(array)
            np.save(tmp / f"{name}.npy", array, allow_pickle=False)
            meta[name] = {"dtype": array.dtype.str, "shape": list(array.shape), "sha256": _content_sha256(array)}
        (tmp / "arrays.json").write_text(json.dumps({"version": VERSION, "arrays": meta}, indent=1))
        os.replace(tmp, entry)
    except OSError:  # a full or read-only disk, or another process wrote the same entry first
        pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
