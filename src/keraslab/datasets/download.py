"""Atomic, checksummed downloads through an injectable transport.

A transport is any callable ``transport(url) -> context manager yielding a binary file object``; the default uses
urllib. Tests pass a fake one: the suite never touches the network.
"""

from __future__ import annotations

import glob
import hashlib
import os
import tempfile
import urllib.request
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO

from keraslab.errors import ChecksumError, DataError, DataMissingError, disk_error
from keraslab.files import umask_mode

Transport = Callable[[str], AbstractContextManager[BinaryIO]]
CHUNK = 1 << 20


def urllib_transport(url: str, timeout: float = 60.0):
    request = urllib.request.Request(url, headers={"User-Agent": "keraslab"})
    return urllib.request.urlopen(request, timeout=timeout)


def remove_stale_parts(dest: Path) -> list[Path]:
    """Delete the .part files of `dest` left by processes that no longer run (killed mid-download or mid-import:
    kill -9 gives no chance to clean up). Returns what was removed."""
    removed = []
    for part in dest.parent.glob(f".{glob.escape(dest.name)}.*.part"):
        pid = part.name[len(dest.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            part.unlink(missing_ok=True)
            removed.append(part)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _make_folder(dest: Path) -> None:
    """dest's folder, made if needed; a file where a folder must be is a DataError naming it."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocking = next((p for p in [dest.parent, *dest.parent.parents] if p.exists() and not p.is_dir()), dest.parent)
        raise DataError(
            f"cannot write {dest}: {blocking} is a file, not a folder (move it, or choose another data home with "
            f"--data-dir / KERASLAB_DATA)"
        ) from None


def download(
    url: str,
    dest: Path,
    sha256: str,
    *,
    transport: Transport | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    expected_size: int | None = None,
    hashed: Callable[[Path], str] | None = None,
    dataset: str = "DATASET",
) -> Path:
    """Download `url` to `dest`, checking its sha256 (or `hashed(temporary file)`, e.g. the hash of its decompressed
    content, when given). `dataset` names the dataset in the hint a failed download prints.

    The bytes go to a temporary file in dest's folder, which is renamed to `dest` only once the hash matches.
    On any failure (network error, wrong hash, Ctrl-C) the temporary file is removed, so nothing is ever left
    under the final name.
    """
    transport = transport or urllib_transport
    dest = Path(dest)
    _make_folder(dest)
    remove_stale_parts(dest)
    # the pid in the name tells a later run whether the process that wrote a leftover .part is still alive
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.{os.getpid()}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        umask_mode(fd)  # a data file is as readable as any other file the user makes
        digest = hashlib.sha256()
        done = 0
        with os.fdopen(fd, "wb") as out:
            try:
                with transport(url) as response:
                    total = expected_size
                    length = getattr(response, "headers", {}).get("Content-Length")
                    if length and str(length).isdigit():
                        total = int(length)
                    while True:
                        chunk = response.read(CHUNK)
                        if not chunk:
                            break
                        out.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, total)
            except OSError as exc:  # URLError, HTTPError, timeouts, connection resets are all OSErrors
                disk = disk_error(exc, tmp)
                if disk:  # writing failed, not the network
                    raise DataError(f"cannot write {dest.name}: {disk}; nothing was kept") from exc
                raise DataMissingError(
                    f"Could not download {dest.name} from {url}: {exc}. Download it by hand and run "
                    f"`keraslab data import {dataset} PATH`, or check your network"
                ) from exc
            try:
                out.flush()
                os.fsync(out.fileno())
            except OSError as exc:
                raise DataError(f"cannot write {dest.name}: {disk_error(exc, tmp) or exc}; nothing was kept") from exc
        actual = digest.hexdigest() if hashed is None else hashed(tmp)
        if actual != sha256:
            raise ChecksumError(
                f"Downloaded {dest.name} from {url} has the wrong sha256: expected {sha256}, got {actual} "
                f"({done} bytes); the file was discarded"
            )
        os.replace(tmp, dest)
        return dest
    finally:
        if tmp.exists():
            tmp.unlink()
