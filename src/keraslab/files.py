"""Writing files safely, and hashing them: the plumbing every layer above shares.

- atomic writes: the bytes go to a temporary file beside the target, are flushed to disk, then renamed over it, so a
  reader (or a crash) never sees half a file;
- JSON that always parses back: NumPy values become Python numbers, NaN becomes null, infinities "inf" / "-inf";
- sha256 of a file, read in chunks;
- FolderLock: one writer at a time for a run folder or a bundle (flock, released by the kernel when a writer dies).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from keraslab.errors import UsageError


def sha256_file(path: str | os.PathLike) -> str:
    """The hex sha256 of a file's bytes, read in blocks."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def jsonable(obj):
    """`obj` with NumPy arrays and scalars, paths and non-finite floats turned into plain JSON values."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, Path):
        return str(obj)
    return obj


def dumps_json(obj) -> str:
    """Indented JSON of `jsonable(obj)`, ending in a newline."""
    return json.dumps(jsonable(obj), indent=2, sort_keys=False, allow_nan=False) + "\n"


def umask_mode(fd: int) -> None:
    """Give a file made by tempfile.mkstemp (always 0600) the mode open() would have given it: 0666 less the umask."""
    mask = os.umask(0)
    os.umask(mask)
    os.fchmod(fd, 0o666 & ~mask)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to a temporary file beside `path`, fsync it, then rename it over `path` (with the mode any new
    file gets under the umask, not mkstemp's 0600)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask_mode(fd)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename is None:
            exc.filename = str(path)  # a full disk fails in write() or fsync(), which name no file: this one
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj) -> Path:
    return atomic_write_text(path, dumps_json(obj))


def process_start(pid: int) -> str | None:
    """When process `pid` started (Linux: clock ticks since boot, /proc/PID/stat field 22), to tell it from a later
    process that was given the same pid; None where that cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]  # fields after the command name, which may hold spaces


_HELD: dict[str, list] = {}  # lock path -> [open file, depth]: a process may take its own lock again (nested)


class FolderLock:
    """An exclusive claim on writing `folder`: `.<name>.lock` beside it, held with flock(2) for as long as the writer
    runs. The kernel drops the claim when the process ends, however it ends (kill -9 included), so a lock whose
    process is gone is simply taken; the file names the holder (pid and process start time) for the message a
    refused writer prints. Taken before any work, released after the folder is in place."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.path = self.folder.parent / f".{self.folder.name}.lock"

    def __enter__(self) -> FolderLock:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        key = str(self.path.resolve())
        if key in _HELD:
            _HELD[key][1] += 1
            return self
        while True:
            fh = open(self.path, "a+")
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                holder = fh.read().strip() or "unknown"
                fh.close()
                raise UsageError(
                    f"{self.folder}: another keraslab process ({holder}) is writing it right now; wait for it to "
                    f"finish or choose another folder"
                ) from None
            try:
                same = os.stat(self.path).st_ino == os.fstat(fh.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:  # not a file a releasing holder unlinked after we opened it
                break
            fh.close()
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}, started {process_start(os.getpid()) or '?'}")
        fh.flush()
        _HELD[key] = [fh, 1]
        return self

    def __exit__(self, *exc) -> None:
        key = str(self.path.resolve())
        held = _HELD.get(key)
        if held is None:
            return
        held[1] -= 1
        if held[1] == 0:
            del _HELD[key]
            self.path.unlink(missing_ok=True)
            held[0].close()
