"""The data home: where dataset files live, how they are verified, fetched and imported."""

from __future__ import annotations

import contextlib
import contextvars
import os
from dataclasses import dataclass
from pathlib import Path

from keraslab.datasets.download import Transport, download
from keraslab.datasets.registry import REGISTRY, DatasetSpec, FileSpec, get_spec
from keraslab.errors import ChecksumError, DataMissingError, UsageError
from keraslab.files import sha256_file

ENV_VAR = "KERASLAB_DATA"
# A JSON file {dataset: {file name: sha256}} that vouches for substitute files (small copies in the real formats,
# for tests and smoke runs where the real file cannot be had). Opt-in, recorded in every manifest that uses one.
CHECKSUMS_ENV_VAR = "KERASLAB_CHECKSUMS"

# (path, size, mtime_ns) -> sha256: a file is hashed once per process unless it changes.
_HASHES: dict[tuple[str, int, int], str] = {}
# Files used by the current run: (dataset/file name, path, sha256). A run opens a fresh list with track_files().
_USED: contextvars.ContextVar[list | None] = contextvars.ContextVar("keraslab_used_files", default=None)


def data_home(data_dir: str | os.PathLike | None = None) -> Path:
    """`data_dir`, else $KERASLAB_DATA, else ~/.cache/keraslab."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "keraslab"


def sha256_of(path: str | os.PathLike) -> str:
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        _HASHES[key] = sha256_file(path)
    return _HASHES[key]


@contextlib.contextmanager
def track_files():
    """Collect the data files used inside the block: a list of dicts (file, path, sha256)."""
    used: list[dict] = []
    token = _USED.set(used)
    try:
        yield used
    finally:
        _USED.reset(token)


def _record(spec_file: FileSpec, path: Path, sha256: str, substitute: bool = False) -> None:
    used = _USED.get()
    if used is not None and all(u["path"] != str(path) for u in used):
        entry = {"file": spec_file.name, "path": str(path), "sha256": sha256}
        if substitute:
            entry["substitute"] = True  # not the registry's file: a small copy vouched for by $KERASLAB_CHECKSUMS
        used.append(entry)


def _progress_bar(quiet: bool):
    if quiet:
        return contextlib.nullcontext(None)
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    return Progress(*Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn(), transient=True)


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
    offline: bool = False,
    transport: Transport | None = None,
    quiet: bool = True,
    dataset: str = "",
) -> Path:
    """Return the path of a verified copy of `spec_file`, downloading it if it is missing and we are online."""
    home = data_home(data_dir)
    path = home / spec_file.name
    label = f"dataset {dataset!r}: " if dataset else ""
    expected, substitute = expected_sha256(dataset, spec_file)
    if path.exists():
        if not path.is_file():
            raise DataMissingError(f"{label}{path} exists but is not a file")
        actual = sha256_of(path)
        if actual != expected:
            raise ChecksumError(
                f"{label}checksum mismatch for {path}: expected sha256 {expected}, got {actual}. "
                f"Delete the file and run `keraslab data fetch {dataset or 'NAME'}`, or import a good copy"
            )
        _record(spec_file, path, expected, substitute)
        return path
    if offline:
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

        download(spec_file.url, path, expected, transport=transport, progress=hook, expected_size=spec_file.size)
    _record(spec_file, path, expected, substitute)
    return path


def dataset_paths(
    name: str, *, data_dir=None, offline: bool = False, transport: Transport | None = None, quiet: bool = True
) -> dict[str, Path]:
    """Ensure every file of dataset `name`; return {file name: verified path}."""
    spec = get_spec(name)
    return {
        f.name: ensure_file(f, data_dir=data_dir, offline=offline, transport=transport, quiet=quiet, dataset=name)
        for f in spec.files
    }


@dataclass(frozen=True)
class FileStatus:
    dataset: str
    file: str
    path: Path
    present: bool
    verified: bool
    size: int | None
    expected_sha256: str
    actual_sha256: str | None


def file_status(spec: DatasetSpec, spec_file: FileSpec, data_dir=None) -> FileStatus:
    path = data_home(data_dir) / spec_file.name
    if not path.is_file():
        return FileStatus(spec.name, spec_file.name, path, False, False, None, spec_file.sha256, None)
    actual = sha256_of(path)
    expected, _ = expected_sha256(spec.name, spec_file)
    return FileStatus(spec.name, spec_file.name, path, True, actual == expected, path.stat().st_size, expected, actual)


def status(names=None, data_dir=None) -> list[FileStatus]:
    names = list(REGISTRY) if names is None else list(names)
    out = []
    for name in names:
        spec = get_spec(name)
        out.extend(file_status(spec, f, data_dir) for f in spec.files)
    return out


def import_file(name: str, source: str | os.PathLike, *, data_dir=None) -> Path:
    """Copy a file the user downloaded by hand into the data home, after checking its hash.

    The file is matched to the dataset's files by its sha256 (so its name does not matter); it is copied to a
    temporary file in the data home and renamed into place.
    """
    spec = get_spec(name)
    source = Path(source)
    if not source.is_file():
        raise UsageError(f"Cannot import {source}: no such file")
    actual = sha256_of(source)
    match = next((f for f in spec.files if f.sha256 == actual), None)
    if match is None:
        expected = "; ".join(f"{f.name} sha256 {f.sha256}" for f in spec.files)
        raise ChecksumError(f"{source} (sha256 {actual}) is none of dataset {name!r}'s files; expected {expected}")
    # The same atomic, hash-checked copy as a download, with the file as the transport.
    return download(
        str(source), data_home(data_dir) / match.name, match.sha256, transport=lambda _url: open(source, "rb")
    )
