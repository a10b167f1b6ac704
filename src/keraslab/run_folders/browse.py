"""Finding and reading finished run folders: `keraslab runs list` and the input of `runs compare`.

A run folder holds config.json, metrics.json and manifest.json (keraslab.running.one_lesson writes them last, then
renames the staging folder into place). A several-seed run's seed<N>/ folders are part of it, not runs of their own.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from keraslab.errors import UsageError
from keraslab.run_folders.pages import pm

RUN_FILES = ("config.json", "metrics.json", "manifest.json")


@dataclass
class RunInfo:
    """A finished run, as read back from its folder."""

    folder: Path
    config: dict
    metrics: dict
    manifest: dict

    @property
    def lesson(self) -> str:
        return str(self.config.get("lesson") or self.manifest.get("lesson") or "?")

    @property
    def created(self) -> str:
        return str(self.manifest.get("created_utc", ""))

    @property
    def seeds(self) -> list[int]:
        seed = self.manifest.get("seed")
        return [int(s) for s in seed] if isinstance(seed, list) else ([] if seed is None else [int(seed)])

    @property
    def summary(self) -> dict:
        return self.metrics.get("summary", {})

    @property
    def quick(self) -> bool:
        return bool(self.metrics.get("run", {}).get("quick", self.config.get("quick", False)))

    @property
    def data(self) -> str:
        return str(self.metrics.get("run", {}).get("data", "real"))

    @property
    def kind(self) -> str:
        """ "quick" or "full", and the data when it was not the real one ("full, substitute data")."""
        return ("quick" if self.quick else "full") + ("" if self.data == "real" else f", {self.data} data")

    def headline(self, headlines: dict[str, str] | None = None) -> tuple[str, str]:
        """(metric name, value as text) of the lesson's headline metric ('-' when it has none): the name written in
        metrics.json, else `headlines[lesson]` (keraslab.lessons knows each lesson's)."""
        name = self.metrics.get("headline") or (headlines or {}).get(self.lesson)
        if name is None or name not in self.summary:
            return "-", "-"
        return name, pm(self.summary[name], self.summary.get(f"{name}_sd"))

    def history(self) -> pd.DataFrame | None:
        """history.csv, or None (absent). A link is not followed and a file that is not a table of numbers is not
        read: UsageError naming it."""
        path = self.folder / "history.csv"
        if path.is_symlink():
            raise UsageError(f"{path} is a symbolic link; keraslab follows no link out of a run folder")
        if not path.is_file():
            return None
        try:
            frame = pd.read_csv(path)
        except (ValueError, OSError, UnicodeDecodeError) as exc:  # pandas' ParserError is a ValueError
            raise UsageError(f"{path} is not a readable table ({str(exc).splitlines()[0][:120]})") from None
        if frame.empty or not all(pd.api.types.is_numeric_dtype(t) for t in frame.dtypes):
            raise UsageError(f"{path} is not a table of numbers (an epoch per row)")
        return frame


def read_run(folder: str | os.PathLike) -> RunInfo:
    """A finished run folder, or a one-line UsageError: not a folder, not a run, unfinished, unreadable."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such run folder")
    if folder.name.startswith(".") and folder.name.endswith(".partial"):
        raise UsageError(f"{folder} is an unfinished run (a staging folder); finish it with --resume or remove it")
    missing = [name for name in RUN_FILES if not (folder / name).is_file()]
    if missing:
        partial = folder.parent / f".{folder.name}.partial"
        if partial.is_dir():
            raise UsageError(f"{folder} is an unfinished run (its staging folder {partial.name} is still there)")
        raise UsageError(f"{folder} is not a keraslab run folder ({', '.join(missing)} missing)")
    try:
        loaded = [json.loads((folder / name).read_text()) for name in RUN_FILES]
    except (OSError, ValueError) as exc:
        raise UsageError(f"{folder}: a run file is unreadable ({exc})") from None
    if not all(isinstance(d, dict) for d in loaded):
        raise UsageError(f"{folder}: config.json, metrics.json and manifest.json should each hold a JSON object")
    _check_fields(folder, *loaded)
    return RunInfo(folder, *loaded)


def _check_fields(folder: Path, config: dict, metrics: dict, manifest: dict) -> None:
    """The fields browsing reads, each of the type keraslab writes (a hand-edited file is named, not trusted)."""
    summary, run, seed = metrics.get("summary", {}), metrics.get("run", {}), manifest.get("seed")
    problems = []
    if not isinstance(summary, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in summary.values()
    ):
        problems.append("metrics.json: 'summary' should map names to numbers")
    if not isinstance(run, dict):
        problems.append(f"metrics.json: 'run' should be an object, found {run!r:.40}")
    seeds = seed if isinstance(seed, list) else [seed]
    if seed is not None and not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        problems.append(f"manifest.json: 'seed' should be an integer or a list of them, found {seed!r:.40}")
    for name, value in (
        ("config.json: 'lesson'", config.get("lesson")),
        ("metrics.json: 'headline'", metrics.get("headline")),
    ):
        if value is not None and not isinstance(value, str):
            problems.append(f"{name} should be a text, found {value!r:.40}")
    if problems:
        raise UsageError(f"{folder}: {problems[0]}")


def find_runs(root: str | os.PathLike = "runs", problems: list[str] | None = None) -> list[RunInfo]:
    """Every finished run folder under `root` (itself included), oldest first; seed<N>/ folders of a several-seed
    run and hidden (staging) folders are skipped, and so is a folder that cannot be read: its one-line reason goes
    to `problems` (one hostile folder never hides the others). Links are not followed."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{root}: no such folder (runs are written under runs/ unless --out names another)")
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if all(name in filenames for name in RUN_FILES):
            try:
                found.append(read_run(dirpath))
            except UsageError as exc:
                if problems is None:
                    raise
                problems.append(str(exc))
            dirnames[:] = []  # a run's seed<N>/ folders belong to it
    return sorted(found, key=lambda r: (r.created, str(r.folder)))


def list_frame(runs: list[RunInfo], headlines: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per run: folder, lesson, time, seeds, quick or full, data, headline metric (see RunInfo.headline)."""
    rows = []
    for run in runs:
        name, value = run.headline(headlines)
        seeds = run.seeds
        rows.append(
            {
                "run": str(run.folder),
                "lesson": run.lesson,
                "created (UTC)": run.created.replace("T", " ").replace("+00:00", ""),
                "seeds": "-" if not seeds else (str(seeds[0]) if len(seeds) == 1 else f"{seeds[0]}-{seeds[-1]}"),
                "kind": run.kind,
                "headline": "-" if name == "-" else f"{name} {value}",
            }
        )
    return pd.DataFrame(rows, columns=["run", "lesson", "created (UTC)", "seeds", "kind", "headline"])
