"""`keraslab lessons` and `keraslab run LESSON | all`.

Each lesson is a subcommand of `run` whose options are its parameters cell (keraslab.options): one
option per parameter, typed, with its choices, its accepted range, its default and its help, each value checked
as it is parsed (a bad one: one line, exit 2, before any work). An option not given on the command line is not
passed, so the lesson's default (or a --config file's value) holds.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from keraslab import lessons
from keraslab.cli.common import (
    FLAGS,
    Parser,
    add_declared,
    add_flags,
    command,
    console,
    count_of,
    jobs_for,
    print_phases,
    print_summary,
    track,
)
from keraslab.distributed import runtime
from keraslab.options import Parameter, Values
from keraslab.run_folders.folder import default_run_dir, runs_root_for
from keraslab.run_folders.tracking import tracker_from

# What `run all` passes to every lesson that has the parameter.
COMMON = ("seed", "quick", "epochs", "data_dir")
# `run all`'s exit status when some lessons were skipped for missing data and none failed (keraslab.running)
SKIPPED_EXIT = 3
ALL_SUMMARY = "every lesson in the course's order, into one folder each, and an index page"


def add_commands(sub) -> None:
    command(sub, "lessons", cmd_lessons, help="list the lessons, in the course's order")
    found = lessons.all_lessons()
    width = max(len(name) for name in [*found, "all"])
    listed = [f"  {name:<{width}}  {lesson.summary}" for name, lesson in found.items()]
    listed.append(f"  {'all':<{width}}  {ALL_SUMMARY}")
    run = sub.add_parser(
        "run",
        help="run a lesson (or `all`) and write its run folder",
        formatter_class=argparse.RawDescriptionHelpFormatter,  # the lessons one per line, as listed
        description="Run a lesson and write its executed notebook, report, metrics and plots into its run folder.\n\n"
        "LESSON is one of (in the course's order; `keraslab run LESSON --help` lists its own options):\n"
        + "\n".join(listed).replace("%", "%%"),
    )
    names = run.add_subparsers(
        dest="lesson", metavar="LESSON", parser_class=Parser, required=True, help="a lesson above, or all"
    )
    for lesson in found.values():
        summary = lesson.summary.replace("%", "%%")
        parser = command(names, lesson.name, cmd_run, description=f"{summary}. Source: {lesson.path}")
        _add_run_options(parser, one_lesson=True, seeds=lesson.parameters.get("seeds"))
        add_declared(parser, lesson.parameters, f"options of lesson {lesson.name!r} (its parameters cell)")
    parser = command(
        names,
        "all",
        cmd_run_all,
        description="Run every lesson in the course's order, each into its own folder, and write an index.html "
        "linking their reports. A lesson whose data is missing is skipped, saying why and what would run it (a "
        "--quick run uses the 5,000 MNIST digits that ship with keraslab for an image lesson instead, labelled "
        "stand-in); one that fails is reported and the next one runs. The last line counts them: N ran, M skipped, "
        f"K failed. Exit status: 0 when every lesson ran, {SKIPPED_EXIT} when some were skipped and none failed, 1 "
        "when one failed.",
    )
    _add_run_options(parser, one_lesson=False)
    common = lessons.get_lesson("churn").parameters  # seed, quick, epochs, data_dir: the same in every lesson
    add_declared(parser, {n: common[n] for n in COMMON}, "options given to every lesson that has them")


def _add_run_options(parser: argparse.ArgumentParser, *, one_lesson: bool, seeds: Parameter | None = None) -> None:
    own = None if seeds is None else f"{seeds.help} (default: {seeds.default})".replace("%", "%%")  # the lesson's
    help_ = own or "run N consecutive seeds from --seed; report mean ± sd (default: 1)"
    parser.add_argument("--seeds", type=count_of("seeds"), metavar="N", help=help_)
    add_flags(parser, "out", "backend", "offline", *(("config", "resume") if one_lesson else ()), "track", "devices")
    add_flags(parser, "keep_checkpoints")
    if not one_lesson:
        add_flags(parser, "jobs", jobs="run N lessons at a time, " + FLAGS["jobs"].help)
    add_flags(parser, "profile", "no_cache", "checkpoints")


def _given(args: argparse.Namespace, names) -> Values:
    """The parameters given on the command line (an option not given is None), each checked as it was parsed."""
    given = vars(args)
    return Values({name: given[name] for name in names if name != "seeds" and given.get(name) is not None})


def cmd_lessons(args) -> int:
    found = lessons.all_lessons()
    width = max((len(n) for n in found), default=0)
    for number, (name, lesson) in enumerate(found.items(), 1):
        print(f"{number}. {name:<{width}}  {lesson.summary}")
    return 0


def cmd_run(args) -> int:
    tracker = tracker_from(args.track)  # checked before any work
    lesson = lessons.get_lesson(args.lesson)
    from keraslab.running.one_lesson import request, run_lesson, stand_in_hint  # pandas, matplotlib: when one runs

    asked = request(
        lesson,
        _given(args, lesson.parameters),
        config=args.config,
        seeds=args.seeds,
        offline=args.offline,
        quiet=args.quiet,
    )
    with stand_in_hint(lesson, asked.values):
        done = run_lesson(
            lesson,
            asked.values,
            out=args.out,
            runs_root=_runs_root(),
            seeds=asked.seeds,
            devices=args.devices,
            resume=args.resume,
            checkpoints=args.checkpoints,
            keep_checkpoints=args.keep_checkpoints,
            quiet=asked.quiet,
            offline=asked.offline,
            stand_in=asked.stand_in,
        )
    if runtime.is_primary():
        print_summary(done.summary, done.folder, quiet=asked.quiet, tags=done.tags)
        if args.profile:
            print_phases(done.phases)
        if tracker:
            track(done.folder, tracker, quiet=asked.quiet)
    return 0


def _runs_root() -> Path:
    """runs/ here; from inside a run folder (its report's "reproduce" command), the runs/ that folder is in."""
    return runs_root_for(Path.cwd()) or Path("runs")


def cmd_run_all(args) -> int:
    """Every lesson; the last line counts them (the exit status: keraslab.running.every_lesson.exit_status)."""
    tracker = tracker_from(args.track)
    given = _given(args, COMMON)
    seeds = args.seeds or 1
    root = Path(args.out) if args.out else default_run_dir("all", given.get("seed", 0), _runs_root(), seeds=seeds)
    from keraslab.running import every_lesson

    outcomes = every_lesson.run_all(
        lessons.all_lessons().values(),
        given,
        root=root,
        seeds=args.seeds,
        devices=args.devices,
        checkpoints=args.checkpoints,
        keep_checkpoints=args.keep_checkpoints,
        quiet=args.quiet,
        offline=args.offline,
        jobs=jobs_for(args.jobs, quick=bool(given.get("quick"))),
    )
    show_outcomes(outcomes, root, quick=bool(given.get("quick")), debug=args.debug)
    if args.profile:
        for outcome in outcomes:
            print_phases(outcome.phases, f"{outcome.lesson}: ")
    said = None if args.quiet else (lambda outcome, run_id: print(f"tracked in {tracker}: run {run_id}"))
    untracked = every_lesson.track_all(outcomes, tracker, done=said) if tracker else []
    found = every_lesson.counts(outcomes)
    print(f"{found['ran']} ran, {found['skipped']} skipped, {found['failed']} failed", flush=True)
    return every_lesson.exit_status(outcomes, untracked)


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
