"""The data home: where dataset files live, how they are verified, fetched and imported.

A file is looked for in the data home first, then among the copies that ship with keraslab (the course's small
files, keraslab/datasets/shipped/), then downloaded (unless offline); wherever it comes from, its sha256 is checked
before it is read.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from keraslab import caches, run_state
from keraslab.datasets.download import Transport, download
from keraslab.datasets.registry import REGISTRY, DatasetSpec, FileSpec, get_spec
from keraslab.errors import ChecksumError, DataFormatError, DataMissingError, UsageError
from keraslab.files import atomic_write_text, sha256_file

ENV_VAR = "KERASLAB_DATA"
# A JSON file {dataset: {file name: sha256}} that vouches for substitute files (small copies in the real formats,
# for tests and smoke runs where the real file cannot be had). Opt-in, recorded in every manifest that uses one. For a
# file identified by its decompressed content (FileSpec.gzip_content), the listed sha256 is of that content too.
CHECKSUMS_ENV_VAR = "KERASLAB_CHECKSUMS"

# The course's small files, inside the package (their sources and licences: SOURCES.md there).
SHIPPED = Path(__file__).resolve().parent / "shipped"
SHIPPED_LABEL = "shipped with keraslab"

# (path, size, mtime_ns) -> sha256: a file is hashed once per process unless it changes.
_HASHES: dict[tuple[str, int, int], str] = {}


@contextlib.contextmanager
def offline_mode(offline: bool = True):
    """Loaders called inside the block without an `offline` argument never download (True) or may (False)."""
    with run_state.changed(offline=bool(offline)):
        yield


def data_home(data_dir: str | os.PathLike | None = None) -> Path:
    """`data_dir`, else $KERASLAB_DATA, else ~/.cache/keraslab."""
    if data_dir is None:
        data_dir = os.environ.get(ENV_VAR) or Path.home() / ".cache" / "keraslab"
    return Path(data_dir).expanduser()


def sha256_of(path: str | os.PathLike, *, gzip_content: bool = False) -> str:
    """sha256 of a file's bytes, or (gzip_content) of its decompressed bytes; hashed once per process per version of
    the file. A .gz that does not decompress (truncated, damaged) is a DataFormatError naming it."""
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev, gzip_content)
    if key not in _HASHES:
        memo = _memo_file(key)
        known = _read_memo(memo)
        _HASHES[key] = known or (_gunzipped_sha256(path) if gzip_content else sha256_file(path))
        if known is None:
            _write_memo(memo, _HASHES[key])
    return _HASHES[key]


# A file's sha256 is also remembered in keraslab's cache folder (hashes/), keyed as above: by its path, size, times
# (the change time cannot be set back by a program: any write moves it), inode and device, as git's index and make
# know a file. MNIST's idx files cost 0.17 s to decompress and hash; a later run reads 64 characters.


def _memo_file(key: tuple) -> Path | None:
    folder = caches.writable_folder("hashes")
    if folder is None:
        return None
    import hashlib

    return folder / hashlib.sha256(repr(key).encode()).hexdigest()[:40]


def _read_memo(memo: Path | None) -> str | None:
    try:
        digest = memo.read_text() if memo is not None else ""
    except OSError:
        return None
    return digest if len(digest) == 64 and all(c in "0123456789abcdef" for c in digest) else None


def _write_memo(memo: Path | None, digest: str) -> None:
    if memo is not None:
        with contextlib.suppress(OSError):  # a cache that cannot be written is skipped
            atomic_write_text(memo, digest)


def _gunzipped_sha256(path: Path) -> str:
    import gzip
    import hashlib
    import zlib

    digest = hashlib.sha256()
    try:
        with gzip.open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataFormatError(f"{path}: not a complete gzip file ({exc})") from None
    return digest.hexdigest()


def file_sha256(spec_file: FileSpec, path: str | os.PathLike) -> str:
    """The hash that identifies `path` as `spec_file`: of its bytes, or of its decompressed bytes (gzip_content)."""
    return sha256_of(path, gzip_content=spec_file.gzip_content)


def what_is_hashed(spec_file: FileSpec) -> str:
    return "sha256 of the decompressed content" if spec_file.gzip_content else "sha256"


@contextlib.contextmanager
def track_files():
    """Collect the data files used inside the block: a list of dicts (file, path, sha256)."""
    with run_state.changed(used=[]) as run:
        yield run.used


def _record(spec_file: FileSpec, path: Path, sha256: str, substitute: bool = False, shipped: bool = False) -> None:
    used = run_state.current().used
    if used is not None and all(u["path"] != str(path) for u in used):
        entry = {"file": spec_file.name, "path": str(path), "sha256": sha256}
        if spec_file.gzip_content or (shipped and spec_file.shipped_compressed):
            entry["hashed"] = "decompressed content"  # mirrors' .gz bytes differ; the content identifies the file
        if shipped:
            entry["source"] = SHIPPED_LABEL
        if substitute:
            entry["substitute"] = True  # not the registry's file: a small copy vouched for by $KERASLAB_CHECKSUMS
        used.append(entry)


def _progress_bar(quiet: bool | None):
    """A download bar: none when quiet; with quiet=None, on the running command's terminal (keraslab.run_state)."""
    stream = run_state.current().terminal if quiet is None else (None if quiet else sys.stdout)
    if stream is None:
        return contextlib.nullcontext(None)
    from rich.console import Console
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    columns = (*Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn())
    return Progress(*columns, transient=True, console=Console(file=stream))


def is_substitute(dataset: str) -> bool:
    """Whether dataset `dataset` is read from substitute files (small copies in the real formats vouched for by
    $KERASLAB_CHECKSUMS) rather than the registry's real files: a result on it says so."""
    return bool(substitutes().get(dataset))


def substitutes() -> dict[str, dict[str, str]]:
    """The substitute checksums named by $KERASLAB_CHECKSUMS, or {}."""
    import json

    path = os.environ.get(CHECKSUMS_ENV_VAR)
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"{CHECKSUMS_ENV_VAR}={path}: cannot read it as JSON ({exc})") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise UsageError(f"{CHECKSUMS_ENV_VAR}={path}: expected {{dataset: {{file: sha256}}}}")
    return data


def expected_sha256(dataset: str, spec_file: FileSpec) -> tuple[str, bool]:
    """(the sha256 a file must have, whether it comes from a substitute list rather than the registry)."""
    sub = substitutes().get(dataset, {}).get(spec_file.name)
    return (sub, True) if sub else (spec_file.sha256, False)


def ensure_file(
    spec_file: FileSpec,
    *,
    data_dir=None,
    offline: bool | None = None,
    transport: Transport | None = None,
    quiet: bool | None = None,
    dataset: str = "",
) -> Path:
    """Return the path of a verified copy of `spec_file`, downloading it if it is missing and we are online
    (offline=None: as `offline_mode` says; quiet=None: a progress bar on the running command's terminal)."""
    home = data_home(data_dir)
    path = home / spec_file.name
    label = f"dataset {dataset!r}: " if dataset else ""
    expected, substitute = expected_sha256(dataset, spec_file)
    if path.exists():
        if not path.is_file():
            raise DataMissingError(f"{label}{path} exists but is not a file")
        actual = file_sha256(spec_file, path)
        if actual != expected:
            raise ChecksumError(
                f"{label}checksum mismatch for {path}: expected {what_is_hashed(spec_file)} {expected}, got {actual}. "
                f"Delete the file and run `keraslab data fetch {dataset or 'NAME'}`, or import a good copy"
            )
        _record(spec_file, path, expected, substitute)
        return path
    shipped = None if substitute else shipped_copy(spec_file, dataset)
    if shipped is not None:
        _record(spec_file, shipped, expected, shipped=True)
        return shipped
    if run_state.current().offline if offline is None else offline:
        raise DataMissingError(
            f"{label}{spec_file.name} is not in {home} and --offline forbids downloading it; download "
            f"{spec_file.url} and run `keraslab data import {dataset or 'NAME'} PATH`, or point --data-dir / "
            f"{ENV_VAR} at a folder that has it"
        )
    with _progress_bar(quiet) as bar:
        hook = None
        if bar is not None:
            task = bar.add_task(f"downloading {spec_file.name}", total=spec_file.size)

            def hook(done, total, _task=task):
                bar.update(_task, completed=done, total=total)

        download(
            spec_file.url,
            path,
            expected,
            transport=transport,
            progress=hook,
            expected_size=spec_file.size,
            hashed=(lambda tmp: sha256_of(tmp, gzip_content=True)) if spec_file.gzip_content else None,
            dataset=dataset or "DATASET",
        )
    _record(spec_file, path, expected, substitute)
    return path


def shipped_copy(spec_file: FileSpec, dataset: str = "") -> Path | None:
    """The verified copy of `spec_file` that ships with keraslab, or None when none ships. A copy whose hash is not
    the registry's (a damaged installation) is a ChecksumError naming it, never read."""
    if spec_file.shipped is None:
        return None
    path = SHIPPED / spec_file.shipped
    if not path.is_file():
        return None
    compressed = spec_file.shipped_compressed or spec_file.gzip_content
    try:
        actual = sha256_of(path, gzip_content=compressed)
    except DataFormatError:
        actual = "(not a complete gzip file)"
    if actual != spec_file.sha256:
        label = f"dataset {dataset!r}: " if dataset else ""
        raise ChecksumError(
            f"{label}the copy of {spec_file.name} {SHIPPED_LABEL} ({path}) is damaged: expected "
            f"{'sha256 of the decompressed content' if compressed else 'sha256'} {spec_file.sha256}, got {actual}. "
            f"Reinstall keraslab, or put a good copy in the data home (`keraslab data fetch {dataset or 'NAME'}`)"
        )
    return path


def is_available(name: str, data_dir=None) -> bool:
    """Whether every file of some layout of dataset `name` is in the data home or ships with keraslab (present,
    not yet verified: reading it verifies it). False means a run would have to download it."""
    home = data_home(data_dir)
    return any(
        all((home / f.name).is_file() or (f.shipped is not None and (SHIPPED / f.shipped).is_file()) for f in layout)
        for layout in get_spec(name).layouts
    )


def dataset_paths(
    name: str,
    *,
    data_dir=None,
    offline: bool | None = None,
    transport: Transport | None = None,
    quiet: bool | None = None,
) -> dict[str, Path]:
    """Ensure every file of dataset `name`; return {file name: verified path}. A dataset with several layouts (MNIST:
    mnist.npz, or its four idx files) uses the first one whose files are all present, else downloads its first."""
    spec = get_spec(name)
    layout = present_layout(spec, data_dir)
    return {
        f.name: ensure_file(f, data_dir=data_dir, offline=offline, transport=transport, quiet=quiet, dataset=name)
        for f in layout
    }


def present_layout(spec: DatasetSpec, data_dir=None) -> tuple[FileSpec, ...]:
    """The first layout of `spec` whose files are all in the data home; else the first with any file there (so that
    a missing or damaged file is reported); else the first layout."""
    home = data_home(data_dir)
    for test in (all, any):
        for layout in spec.layouts:
            if test((home / f.name).is_file() for f in layout):
                return layout
    return spec.files


@dataclass(frozen=True)
class FileStatus:
    dataset: str
    file: str
    path: Path  # where it was found (the data home's path when it is nowhere)
    present: bool
    verified: bool
    size: int | None
    expected_sha256: str
    actual_sha256: str | None
    shipped: bool = False  # found among the copies that ship with keraslab, not in the data home


def file_status(spec: DatasetSpec, spec_file: FileSpec, data_dir=None) -> FileStatus:
    """Where `spec_file` is (the data home first, then the copies that ship with keraslab) and whether its hash is
    the expected one."""
    home_path = data_home(data_dir) / spec_file.name
    expected, substitute = expected_sha256(spec.name, spec_file)
    path, shipped, compressed = home_path, False, spec_file.gzip_content
    if not home_path.is_file() and not substitute and spec_file.shipped is not None:
        path, shipped = SHIPPED / spec_file.shipped, True
        compressed = spec_file.shipped_compressed or spec_file.gzip_content
    if not path.is_file():
        return FileStatus(spec.name, spec_file.name, home_path, False, False, None, expected, None)
    try:
        actual = sha256_of(path, gzip_content=compressed)
    except DataFormatError:
        actual = "(not a complete gzip file)"
    size = path.stat().st_size
    return FileStatus(spec.name, spec_file.name, path, True, actual == expected, size, expected, actual, shipped)


def status(names=None, data_dir=None) -> list[FileStatus]:
    names = list(REGISTRY) if names is None else list(names)
    out = []
    for name in names:
        spec = get_spec(name)
        out.extend(file_status(spec, f, data_dir) for f in present_layout(spec, data_dir))
    return out
