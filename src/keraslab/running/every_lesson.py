"""`run all`: every lesson in the course's order, one folder each and an index page; a lesson whose data is missing
is skipped (or, in a quick run, stands in), one that fails is reported, and the next one runs either way."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from keraslab.distributed import runtime
from keraslab.errors import DataMissingError, UsageError, one_line
from keraslab.files import atomic_write_text
from keraslab.lessons import Lesson
from keraslab.lessons.stand_in import STAND_IN, lesson_dataset, missing_here, stand_in_possible
from keraslab.run_folders.index_page import render_index
from keraslab.run_folders.pages import fmt
from keraslab.running.one_lesson import run_lesson


@dataclasses.dataclass(frozen=True)
class LessonOutcome:
    """One line of `run all`: the lesson's headline value beside the course's figure, or why it was skipped (its data
    is missing: `skipped` is the reason, `command` what would run it) or why it failed (`failed`)."""

    lesson: str
    headline: str | None
    course_figure: str | None
    value: float | None = None
    folder: Path | None = None
    skipped: str | None = None
    command: str | None = None
    failed: str | None = None
    error: BaseException | None = dataclasses.field(default=None, compare=False, repr=False)  # for --debug
    error_traceback: str | None = dataclasses.field(default=None, compare=False, repr=False)  # from another process
    tags: tuple[str, ...] = ()  # "quick run", "substitute data", "stand-in data"
    phases: dict = dataclasses.field(default_factory=dict, compare=False)  # where its time went (seconds)

    @property
    def status(self) -> str:
        return "failed" if self.failed else "skipped" if self.skipped else "ran"

    def explain(self) -> str:
        """Why the lesson did not run: the reason, and for a skip the command that would run it."""
        if self.failed:
            return f"failed: {self.failed}"
        if self.skipped:
            return f"skipped: {self.skipped}" + (f"; to run it: {self.command}" if self.command else "")
        return ""

    def row(self, root: str | os.PathLike | None = None) -> tuple[str, str, str, str, str]:
        """lesson, headline metric, course, ours, run folder (relative to `root` when given)."""
        ours = self.status if self.folder is None else "-" if self.value is None else fmt(self.value)
        if self.tags and self.folder is not None:
            ours += f" ({', '.join(t.split()[0] for t in self.tags)})"  # "0.5431 (quick, stand-in)"
        folder = "-"
        if self.folder is not None:
            folder = str(self.folder)
            if root is not None and Path(self.folder).is_relative_to(root):
                folder = Path(self.folder).relative_to(root).as_posix()
        return (self.lesson, self.headline or "-", self.course_figure or "-", ours, folder)


def _run_command(lesson: Lesson, dataset: str | None) -> str:
    """What runs a lesson skipped for missing data: fetch its data set, then run it (or run it on the stand-in)."""
    if dataset is None:
        return f"keraslab run {lesson.name} (once its data is in the data home)"
    own = f"keraslab data fetch {dataset} && keraslab run {lesson.name}"
    if stand_in_possible(lesson, dataset):
        return f"{own} (or, on the digits that ship with keraslab: keraslab run {lesson.name} --dataset {STAND_IN})"
    return own


def run_all(
    lessons: Iterable[Lesson],
    values: dict,
    *,
    root: str | os.PathLike,
    jobs: int = 1,
    **run_options,
) -> list[LessonOutcome]:
    """Every lesson in order into root/<lesson>/; a lesson whose data is missing is skipped and one that fails is
    reported, and the next lesson runs either way (Ctrl-C stops them all).

    In a quick run (values["quick"]), an image lesson whose data set is missing (not in the data home, and --offline
    or the download failed) runs on the image set that ships with keraslab (STAND_IN) instead, labelled as such.
    `values` are given to every lesson that has a parameter of that name (seed, quick, epochs, data_dir);
    `run_options` go to run_lesson (seeds, devices, quiet, offline, ...). With `jobs` > 1, that many lessons run at
    a time, each in a process of its own (forked from this one); what each prints is shown whole, in the course's
    order, when it and the lessons before it are done. Every lesson is seeded on its own, so its results are those of
    a run one at a time; only its timings share the machine."""
    if run_options.get("resume"):
        raise UsageError("--resume works on one lesson's run: keraslab run LESSON --out DIR --resume")
    lessons = list(lessons)
    if jobs > 1 and len(lessons) > 1 and may_fork():
        outcomes = _run_side_by_side(lessons, values, Path(root), jobs, run_options)
    else:
        outcomes = []
        for k, lesson in enumerate(lessons, 1):
            _announce(k, lessons, run_options)
            outcomes.append(_run_one(lesson, values, Path(root) / lesson.name, run_options))
    if runtime.is_primary():
        quick = any("quick run" in o.tags for o in outcomes)
        title = f"keraslab run all{' (quick runs)' if quick else ''}: {Path(root).name}"
        atomic_write_text(Path(root) / "index.html", render_index(outcomes, Path(root), title))
    return outcomes


def _announce(k: int, lessons: list, run_options: dict, stream=None) -> None:
    if not run_options.get("quiet"):  # each lesson announced before its progress lines
        print(f"\n[{k}/{len(lessons)}] {lessons[k - 1].name}: {getattr(lessons[k - 1], 'summary', '')}", file=stream)
        (stream or sys.stdout).flush()


def may_fork() -> bool:
    """Whether lessons may run in forked processes: Linux or another fork-safe POSIX system, not a process of a
    distributed job, JAX's devices not started here and TensorFlow or PyTorch not loaded here (a fork would copy
    their runtimes half-alive; the lessons load them in their own processes)."""
    if not hasattr(os, "fork") or sys.platform == "darwin" or runtime.current() is not None:
        return False
    if "tensorflow" in sys.modules or "torch" in sys.modules:
        return False
    bridge = sys.modules.get("jax._src.xla_bridge")
    return not (bridge is not None and getattr(bridge, "_backends", None))


# What the forked processes of _run_side_by_side read (set before they are forked, never sent to them)
_SIDE_BY_SIDE: tuple | None = None


def _run_side_by_side(lessons: list, values: dict, root: Path, jobs: int, run_options: dict) -> list[LessonOutcome]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    global _SIDE_BY_SIDE
    _SIDE_BY_SIDE = (lessons, values, root, run_options)
    pool = ProcessPoolExecutor(min(jobs, len(lessons)), mp_context=multiprocessing.get_context("fork"))
    try:
        futures = [pool.submit(_run_captured, k) for k in range(len(lessons))]
        outcomes = []
        for future in futures:  # in the course's order, each as soon as it and those before it are done
            outcome, output = future.result()
            sys.stdout.write(output)
            sys.stdout.flush()
            outcomes.append(outcome)
        return outcomes
    except BaseException:  # Ctrl-C, a kill: the lessons still running stop as a kill stops them
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        _SIDE_BY_SIDE = None


def _run_captured(k: int) -> tuple[LessonOutcome, str]:
    """In a forked process: lesson k, what it printed (stdout and stderr, in order) and its outcome."""
    import contextlib
    import io
    import traceback

    lessons, values, root, run_options = _SIDE_BY_SIDE
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        _announce(k + 1, lessons, run_options, buffer)
        outcome = _run_one(lessons[k], values, root / lessons[k].name, run_options)
    if outcome.error is not None:  # an exception may not travel between processes: its traceback does
        text = "".join(traceback.format_exception(outcome.error))
        outcome = dataclasses.replace(outcome, error=None, error_traceback=text)
    return outcome, buffer.getvalue()


def _run_one(lesson: Lesson, values: dict, out: Path, run_options: dict) -> LessonOutcome:
    base = LessonOutcome(lesson.name, lesson.headline, lesson.course_figure)
    mine = {name: value for name, value in values.items() if name in lesson.parameters}
    dataset = lesson_dataset(lesson, mine)
    stand_in = missing_here(lesson, mine)  # a quick run whose image set is not here runs on the stand-in
    these = mine if stand_in is None else {**mine, "dataset": stand_in.dataset}
    try:
        done = run_lesson(lesson, these, out=out, stand_in=stand_in, **run_options)
    except DataMissingError as exc:
        return dataclasses.replace(base, skipped=str(exc), command=_run_command(lesson, dataset))
    except Exception as exc:  # a failed lesson is reported; the next one runs (a distributed job stops)
        if runtime.current() is not None:
            raise
        return dataclasses.replace(base, failed=one_line(exc)[0], error=exc)
    value = done.summary.get(lesson.headline) if lesson.headline else None
    return dataclasses.replace(base, value=value, folder=done.folder, tags=done.tags, phases=done.phases)


# `run all`'s exit status when some lessons were skipped for missing data and none failed (0: all ran; 1: one failed)
SKIPPED_EXIT = 3


def counts(outcomes: list[LessonOutcome]) -> dict[str, int]:
    """How many lessons ran, were skipped and failed."""
    return {status: sum(o.status == status for o in outcomes) for status in ("ran", "skipped", "failed")}


def exit_status(outcomes: list[LessonOutcome], untracked: list[str] = ()) -> int:
    """0 when every lesson ran, SKIPPED_EXIT when some were skipped for missing data (and none failed), 1 when one
    failed or could not be tracked."""
    found = counts(outcomes)
    if found["failed"] or untracked:
        return 1
    return SKIPPED_EXIT if found["skipped"] else 0


def track_all(outcomes: list[LessonOutcome], tracker: str, *, done=None) -> list[str]:
    """Log every lesson that ran to `tracker`; returns the lessons whose logging failed (each failure one line on
    stderr), for whom `done(outcome, run_id)` is not called."""
    from keraslab.bundles.pyfunc import track
    from keraslab.run_folders.tracking import TrackingError

    untracked = []
    for outcome in outcomes if runtime.is_primary() else []:
        if outcome.folder is None:
            continue
        try:
            run_id = track(outcome.folder, tracker)
        except TrackingError as exc:
            print(f"keraslab: error: {exc}", file=sys.stderr)
            untracked.append(outcome.lesson)
            continue
        if done is not None:
            done(outcome, run_id)
    return untracked
