"""What `keraslab run` and `run all` print besides a run's summary: the table of every lesson, where the time
went (--profile), and the line that says a finished run was tracked."""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

from keraslab import phases
from keraslab.cli.common import console
from keraslab.run_folders.tracking import log_folder


def show_outcomes(outcomes, root: Path, *, quick: bool, debug: bool) -> None:
    """The table (each run folder relative to root, never broken inside a name), the index page, and for each lesson
    that did not run the reason (with --debug a failure's traceback)."""
    from rich.table import Table

    note = " --quick: smoke runs, not the lessons' results" if quick else ""
    table = Table(title=f"keraslab run all{note}")
    for col in ("lesson", "headline metric", "course", "ours", "run folder"):
        table.add_column(col, no_wrap=col != "course")  # names and paths whole; the course's note may wrap
    for outcome in outcomes:
        table.add_row(*outcome.row(root))
    console().print(table)
    print(f"run folders: {root}/<lesson>")
    if (root / "index.html").is_file():
        print(f"index: {(root / 'index.html').resolve()}")
    for outcome in outcomes:
        if outcome.folder is None:
            print(f"keraslab: {outcome.lesson} {outcome.explain()}", file=sys.stderr, flush=True)
            if debug and outcome.error is not None:
                traceback.print_exception(outcome.error, file=sys.stderr)
            elif debug and outcome.error_traceback:  # it failed in a process of its own (run all --jobs)
                print(outcome.error_traceback, file=sys.stderr, end="")


def track(folder: Path, tracker: str, *, quiet: bool) -> None:
    """Log a finished folder (a TrackingError, one line and exit 1, if the store fails; the folder stays whole)."""
    from keraslab.bundles.pyfunc import pyfunc_for

    run_id = log_folder(folder, tracker, model=pyfunc_for(folder))
    if not quiet:
        print(f"tracked in {tracker}: run {run_id}")


def print_phases(folder: Path, prefix: str = "") -> None:
    """--profile: the phases of a finished run from its metrics.json, on one line."""
    recorded = json.loads((Path(folder) / "metrics.json").read_text()).get("phases")
    if recorded:
        print(f"{prefix}time: {phases.line(recorded)}", flush=True)
