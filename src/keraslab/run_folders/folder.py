"""Run folders: where a lesson's outputs go, written atomically, with the resolved config and a manifest.

A run is staged in a hidden sibling folder and renamed into place only when it has finished, so a failed or
interrupted run leaves nothing half-written under the final name.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import sys
from pathlib import Path

from keraslab.errors import Interrupted, UsageError
from keraslab.files import FolderLock, atomic_write_bytes, atomic_write_json, atomic_write_text, dumps_json
from keraslab.run_folders.integrity import seal

# --checkpoints: the shortest fit that saves a checkpoint after every epoch (None: no checkpoints).
CHECKPOINT_POLICIES: dict[str, int | None] = {"auto": 5, "always": 1, "never": None}


def utc_stamp() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def default_run_dir(lesson: str, seed: int, root: str | os.PathLike = "runs", *, seeds: int = 1) -> Path:
    """runs/<lesson>/<UTC time>-seed<N>/, or for several seeds runs/<lesson>/<UTC time>-seeds<N>-<M>/"""
    stamp = f"{utc_stamp()}-" + (f"seed{seed}" if seeds <= 1 else f"seeds{seed}-{seed + seeds - 1}")
    folder = Path(root) / lesson
    for name in (stamp, *(f"{stamp}-{k}" for k in range(2, 1000))):  # a second run in the same second: -2, -3...
        if not (folder / name).exists() and not (folder / f".{name}.partial").exists():
            return folder / name
    raise UsageError(f"{folder}: 1000 runs started in the same second; name the run folder with --out DIR")


def runs_root_for(cwd: str | os.PathLike) -> Path | None:
    """Where new runs go when a command runs from inside a run folder (a report's "reproduce" command, typed in the
    folder it came from): the runs/ folder that run belongs to, so that no runs/ is made inside it. None when `cwd`
    is in no run folder.

    runs/<lesson>/<stamp>[/seed<N>] -> runs/; runs/all/<stamp>/<lesson> (a `run all` folder, with its index.html)
    -> runs/."""
    cwd = Path(cwd).resolve()
    inside = [p for p in [cwd, *cwd.parents] if (p / "manifest.json").is_file() and (p / "config.json").is_file()]
    if not inside:
        return None
    run = inside[-1]  # the outermost: a multi-seed run's folder rather than its seed<N>/
    if (run.parent / "index.html").is_file():  # runs/all/<stamp>/<lesson>
        return run.parent.parent.parent
    return run.parent.parent


class FolderWriter:
    """Writes files atomically under a folder."""

    def __init__(self, root: str | os.PathLike):
        self.staging = Path(root)

    def subfolder(self, rel: str) -> FolderWriter:
        return FolderWriter(self.staging / rel)

    def path(self, rel: str) -> Path:
        return self.staging / rel

    def write_text(self, rel: str, text: str) -> Path:
        return atomic_write_text(self.path(rel), text)

    def write_bytes(self, rel: str, data: bytes) -> Path:
        return atomic_write_bytes(self.path(rel), data)

    def write_json(self, rel: str, obj) -> Path:
        return atomic_write_json(self.path(rel), obj)

    def write_csv(self, rel: str, frame) -> Path:
        return self.write_text(rel, frame.to_csv(index=False))


IGNORED_FOR_RESUME = frozenset({"quiet", "data_dir", "offline"})  # where and how loudly, not what is trained


def config_differences(saved: dict, now: dict) -> list[str]:
    """'name: A there, B now' for every config field that differs (output and data-location fields aside)."""
    keys = [k for k in dict.fromkeys([*saved, *now]) if k not in IGNORED_FOR_RESUME]
    return [f"{k}: {saved.get(k)!r} there, {now.get(k)!r} now" for k in keys if saved.get(k) != now.get(k)]


class RunDir(FolderWriter):
    """A run folder under construction. Use as a context manager:

    >>> with RunDir(path) as run:                    # doctest: +SKIP
    ...     run.write_json("metrics.json", {...})
    ... # on success the folder appears at `path`; on an exception nothing does.

    The run is staged in `.<name>.partial` beside `path` (a stable name, so that a killed run can be resumed).
    With `config`, it is written there first, as config.json. A run that fails with checkpoints in its staging
    folder keeps them there (and says how to resume); one without checkpoints leaves nothing. `resume=True`
    continues the staging folder's run: it must hold checkpoints and a config equal to `config`. On success the
    checkpoints are removed unless `keep_checkpoints`.
    """

    def __init__(
        self,
        final: str | os.PathLike,
        *,
        config: dict | None = None,
        resume: bool = False,
        keep_checkpoints: bool = False,
        resume_hint: str | None = None,
    ):
        self.final = Path(final)
        super().__init__(self.final.parent / f".{self.final.name}.partial")
        self.config, self.resume, self.keep_checkpoints = config, resume, keep_checkpoints
        self.resume_hint = resume_hint
        self._abandoned = False

    @property
    def checkpoints(self) -> Path:
        return self.staging / "checkpoints"

    def has_checkpoints(self) -> bool:
        return self.checkpoints.is_dir() and any(self.checkpoints.glob("fit-*/epoch-*.npz"))

    def __enter__(self) -> RunDir:
        # the folders this run creates above its own (runs/, runs/<lesson>/): removed again if it fails with nothing
        self._made = [p for p in [self.final.parent, *self.final.parent.parents] if not p.exists()]
        self._lock = FolderLock(self.final).__enter__()  # before anything is read or written; refuses a second writer
        try:
            return self._enter()
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise

    def _enter(self) -> RunDir:
        if self.final.exists() and (not self.final.is_dir() or any(self.final.iterdir())):
            raise UsageError(f"--out {self.final} already exists and is not empty; choose a new folder or remove it")
        if self.resume:
            if not self.has_checkpoints():
                raise UsageError(
                    f"--resume: no checkpoint to resume in {self.staging} (nothing was saved there; "
                    f"run without --resume to start afresh)"
                )
            self._check_config()
            return self
        if self.staging.exists():
            if self.has_checkpoints():
                raise UsageError(
                    f"{self.final}: an unfinished run's checkpoints are in {self.staging}; continue it "
                    f"with --resume, or remove that folder to start afresh"
                )
            shutil.rmtree(self.staging)
        self.staging.mkdir(parents=True)
        if self.config is not None:
            self.write_json("config.json", self.config)
        return self

    def _check_config(self) -> None:
        if self.config is None:
            return
        path = self.staging / "config.json"
        try:
            saved = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"--resume: cannot read the run's config {path} ({exc})") from None
        diffs = config_differences(saved, json.loads(dumps_json(self.config)))
        if diffs:
            raise UsageError(f"--resume: {self.staging} was written by a different config: {'; '.join(diffs)}")

    def abandon(self, *, announce: bool = True) -> str | None:
        """The run failed: keep its checkpoints, else remove everything. Once. Returns what was kept and how to
        resume (None when nothing was), which `announce` also prints."""
        if self._abandoned:
            return None
        self._abandoned = True
        kept = None
        if self.has_checkpoints():
            hint = f"; continue with: {self.resume_hint}" if self.resume_hint else ""
            kept = f"the unfinished run's checkpoints are kept in {self.staging}{hint}"
            if announce:
                print(f"keraslab: {kept}", file=sys.stderr, flush=True)
        else:
            shutil.rmtree(self.staging, ignore_errors=True)
        self._lock.__exit__(None, None, None)
        for folder in getattr(self, "_made", []):  # deepest first; a folder something else wrote into stays
            try:
                folder.rmdir()
            except OSError:
                break
        return kept

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            if isinstance(exc, OSError) and exc.filename is None:
                exc.filename = str(self.final)  # a full disk while writing the run (Keras's save names no file)
            if isinstance(exc, KeyboardInterrupt):  # Ctrl-C or SIGTERM: one line, with how to resume
                kept = self.abandon(announce=False)
                if kept:
                    raise Interrupted(f"{str(exc) or 'interrupted'}; {kept}", getattr(exc, "exit_code", 130)) from None
                return False
            self.abandon()
            return False
        try:
            if not self.keep_checkpoints:
                shutil.rmtree(self.checkpoints, ignore_errors=True)
            seal(self.staging)  # manifest.json records every file's sha256, now that the folder is whole
            if self.final.exists():
                self.final.rmdir()  # an empty folder the user made for us
            os.replace(self.staging, self.final)
        finally:
            self._lock.__exit__(None, None, None)
        return False


def unfinished_runs(lesson: str, root: str | os.PathLike = "runs") -> list[Path]:
    """Final paths of the lesson's unfinished runs under root that hold checkpoints, newest first."""
    folder = Path(root) / lesson
    if not folder.is_dir():
        return []
    runs = [RunDir(folder / p.name[1 : -len(".partial")]) for p in folder.glob(".*.partial")]
    runs = [r for r in runs if r.has_checkpoints()]
    runs.sort(key=lambda r: r.staging.stat().st_mtime, reverse=True)
    return [r.final for r in runs]


def read_config(lesson: str, path: str | os.PathLike) -> dict:
    """The values of a run's config.json (the run folder's resolved config), to repeat that run."""
    path = Path(path)
    try:
        loaded = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"--config {path}: no such file") from None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"--config {path}: not valid JSON ({exc})") from None
    if not isinstance(loaded, dict):
        raise UsageError(f"--config {path}: expected a JSON object")
    if loaded.get("lesson", lesson) != lesson:
        raise UsageError(f"--config {path} is for lesson {loaded['lesson']!r}, not {lesson!r}")
    return {k: v for k, v in loaded.items() if k != "lesson"}
