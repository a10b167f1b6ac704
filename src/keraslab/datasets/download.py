"""Atomic, checksummed downloads through an injectable transport.

A transport is any callable ``transport(url) -> context manager yielding a binary file object``; the default uses
urllib. Tests pass a fake one: the suite never touches the network.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO

from keraslab.errors import ChecksumError, DataMissingError

Transport = Callable[[str], AbstractContextManager[BinaryIO]]
CHUNK = 1 << 20


def urllib_transport(url: str, timeout: float = 60.0):
    request = urllib.request.Request(url, headers={"User-Agent": "keraslab"})
    return urllib.request.urlopen(request, timeout=timeout)


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
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        done = 0
        with os.fdopen(fd, "wb") as out:
            try:
                with transport(url) as response:
                    total = expected_size
                    length = (
                        getattr(response, "headers", {}).get("Content-Length") if hasattr(response, "headers") else None
                    )
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
                raise DataMissingError(
                    f"Could not download {dest.name} from {url}: {exc}. Download it by hand and run "
                    f"`keraslab data import {dataset} PATH`, or check your network"
                ) from exc
            out.flush()
            os.fsync(out.fileno())
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
