"""`keraslab data import`: files a user downloaded by hand, recognised by their hash and copied into the data home."""

from __future__ import annotations

import os
from pathlib import Path

from keraslab.datasets.download import download
from keraslab.datasets.home import data_home, expected_sha256, file_sha256, sha256_of, what_is_hashed
from keraslab.datasets.registry import DatasetSpec, FileSpec, get_spec
from keraslab.errors import ChecksumError, DataFormatError, DataMissingError, UsageError


def import_file(name: str, source: str | os.PathLike, *, data_dir=None) -> list[Path]:
    """Copy files the user downloaded by hand into the data home, after checking their hashes. Returns the paths.

    `source` is a file, or a folder holding a whole layout of the dataset (the four MNIST idx files). A file is
    matched to the dataset's files by its sha256, or for the idx files by the sha256 of its decompressed content (so
    its name does not matter). Every file is checked before any is copied; each copy goes to a temporary file in the
    data home, renamed into place. A verified file already there is kept, never replaced by a different one.
    """
    spec = get_spec(name)
    source = Path(source)
    if source.is_dir():
        matches = _match_folder(spec, source)
    elif source.is_file():
        matches = [(_match_file(spec, source), source)]
    else:
        raise UsageError(f"Cannot import {source}: no such file or folder")
    return [_copy_in(spec, f, path, data_dir) for f, path in matches]


def _identities(path: Path) -> dict[bool, str | None]:
    """{False: sha256 of the bytes, True: sha256 of the decompressed bytes (None when it is not gzip)}."""
    out = {False: sha256_of(path), True: None}
    with open(path, "rb") as fh:
        is_gzip = fh.read(2) == b"\x1f\x8b"
    if is_gzip:
        out[True] = sha256_of(path, gzip_content=True)  # a truncated .gz raises DataFormatError, naming the file
    return out


def _match_file(spec: DatasetSpec, path: Path) -> FileSpec:
    ids = _identities(path)
    for layout in spec.layouts:
        for f in layout:
            if ids[f.gzip_content] == _expected(spec, f):
                return f
    found = f"sha256 {ids[False]}" + (f", decompressed sha256 {ids[True]}" if ids[True] else "")
    expected = "; ".join(
        f"{f.name} {what_is_hashed(f)} {_expected(spec, f)}" for layout in spec.layouts for f in layout
    )
    raise ChecksumError(f"{path} ({found}) is none of dataset {spec.name!r}'s files; expected {expected}")


def _expected(spec: DatasetSpec, f: FileSpec) -> str:
    return expected_sha256(spec.name, f)[0]


def _match_folder(spec: DatasetSpec, folder: Path) -> list[tuple[FileSpec, Path]]:
    """Every file of the layout the folder holds most of, each matched by its hash; a missing one is named."""
    found: dict[str, tuple[FileSpec, Path]] = {}
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        try:
            f = _match_file(spec, path)
        except ChecksumError:
            continue  # not one of the dataset's files (a README, a checksum list): ignored
        found.setdefault(f.name, (f, path))
    layout = max(spec.layouts, key=lambda lay: sum(f.name in found for f in lay))
    missing = [f.name.rpartition("/")[2] for f in layout if f.name not in found]
    if missing:
        raise DataMissingError(
            f"{folder} lacks {', '.join(missing)} of dataset {spec.name!r} (files are recognised by their hash, "
            f"whatever their names)"
        )
    return [found[f.name] for f in layout]


def _copy_in(spec: DatasetSpec, f: FileSpec, source: Path, data_dir) -> Path:
    dest = data_home(data_dir) / f.name
    expected = _expected(spec, f)
    if dest.is_file():
        try:
            if file_sha256(f, dest) == expected:
                return dest  # already there and verified: kept as it is
        except DataFormatError:
            pass  # a damaged copy: replaced
    hashed = (lambda tmp: sha256_of(tmp, gzip_content=True)) if f.gzip_content else None
    # The same atomic, hash-checked copy as a download, with the file as the transport.
    return download(str(source), dest, expected, transport=lambda _url: open(source, "rb"), hashed=hashed)
