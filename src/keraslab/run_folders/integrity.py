"""Every run folder and bundle carries, in manifest.json, the sha256 and size of each of its files (written last,
when the folder is whole); `keraslab runs check FOLDER` compares a folder with it: a file that differs, is missing
or was added is named. It shows that a folder is as keraslab wrote it (an accident, a partial copy), not who wrote
it: whoever can change the files can change the manifest too (SECURITY.md)."""

from __future__ import annotations

import json
from pathlib import Path

from keraslab.errors import UsageError
from keraslab.files import sha256_file

MANIFEST = "manifest.json"


def _files(folder: Path) -> list[str]:
    """Every regular file under the folder (links and hidden files left out), as paths relative to it."""
    return sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file()
        and not p.is_symlink()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        and str(p.relative_to(folder)) != MANIFEST
    )


def file_hashes(folder: Path, names=None) -> dict[str, dict]:
    """{name: {sha256, bytes}} of the named files (default: every file of the folder but its manifest)."""
    return {
        name: {"sha256": sha256_file(folder / name), "bytes": (folder / name).stat().st_size}
        for name in (_files(folder) if names is None else names)
    }


def seal(folder: Path) -> None:
    """Add the files' hashes to the folder's manifest.json (a bundle's manifest, which lists its own, is kept)."""
    path = folder / MANIFEST
    if not path.is_file():
        return
    manifest = json.loads(path.read_text())
    if isinstance(manifest, dict) and "files" not in manifest:
        manifest["files"] = file_hashes(folder)
        path.write_text(json.dumps(manifest, indent=2) + "\n")


def check_folder(folder: str | Path) -> tuple[int, list[str]]:
    """(files checked, one line per problem) for a run folder or a bundle against its manifest."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such folder")
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"{folder} has no {MANIFEST}: not a keraslab run folder or bundle") from None
    except (OSError, ValueError) as exc:
        return 0, [f"{path} is unreadable ({exc})"]
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict):
        return 0, [f"{path} records no file hashes (a folder written before keraslab recorded them, or altered)"]
    problems = []
    for name, expected in files.items():
        target = folder / name
        if not isinstance(expected, dict) or not isinstance(expected.get("sha256"), str):
            problems.append(f"{path}: the entry for {name} is not {{sha256, bytes}}")
        elif target.is_symlink() or not target.is_file():
            problems.append(f"{target}: missing" + (" (a link stands in its place)" if target.is_symlink() else ""))
        elif sha256_file(target) != expected["sha256"]:
            problems.append(f"{target}: differs from the manifest (sha256 {expected['sha256'][:12]}...)")
    problems += [f"{folder / name}: added (not in the manifest)" for name in _files(folder) if name not in files]
    return len(files), problems
