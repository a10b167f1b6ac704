"""`keraslab lessons` and `keraslab run LESSON | all`.

Each lesson is a subcommand of `run` whose options are its parameters cell (keraslab.options): one
option per parameter, typed, with its choices, its accepted range, its default and its help, each value checked
as it is parsed (a bad one: one line, exit 2, before any work). An option not given on the command line is not
passed, so the lesson's default (or a --config file's value) holds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from keraslab import caches, lessons
from keraslab.backend import BACKENDS, use_backend
from keraslab.cli.common import Parser, add_declared, command, jobs_for, print_summary
from keraslab.cli.run_output import print_phases, show_outcomes, track
from keraslab.distributed import runtime
from keraslab.options import Parameter, check_values
from keraslab.run_folders.folder import CHECKPOINT_POLICIES, default_run_dir, read_config, runs_root_for
from keraslab.run_folders.stand_in import stand_in_from, stand_in_hint
from keraslab.run_folders.tracking import TrackingError, tracker_from

# What `run all` passes to every lesson that has the parameter.
COMMON = ("seed", "quick", "epochs", "data_dir")
# Keys of a run's config.json that are how it ran, not parameters (config.json files of keraslab before 0.2).
RUN_KEYS = ("offline", "quiet")
# `run all`'s exit status when some lessons were skipped for missing data and none failed (0: all ran; 1: one failed)
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
    parser.add_argument("--seeds", type=int, metavar="N", help=help_)
    parser.add_argument(
        "--out", metavar="DIR", help="write the run folder exactly here (default: runs/<lesson>/<UTC time>-seed<N>)"
    )
    parser.add_argument("--backend", help=f"Keras backend: {', '.join(BACKENDS)} (default: $KERAS_BACKEND, else jax)")
    parser.add_argument("--offline", action="store_true", help="never download; fail if a file is missing")
    if one_lesson:
        parser.add_argument(
            "--config", metavar="FILE", help="a run's config.json to repeat it (options given here override it)"
        )
        parser.add_argument(
            "--resume",
            action="store_true",
            help="continue a killed run from its checkpoints (the --out folder, else the lesson's "
            "newest unfinished run); the options must match the first run's",
        )
    parser.add_argument(
        "--track",
        metavar="mlflow",
        help="also log the finished run to MLflow (params, metrics per epoch, report and plots) at "
        "$MLFLOW_TRACKING_URI, else MLflow's default store (default: $KERASLAB_TRACKING, else none)",
    )
    parser.add_argument(
        "--devices",
        type=int,
        metavar="N",
        help="train data-parallel over N devices of this process (jax backend; default 1, or all "
        "under `keraslab launch`)",
    )
    parser.add_argument(
        "--keep-checkpoints", action="store_true", help="keep the per-epoch checkpoints in the run folder"
    )
    if not one_lesson:
        parser.add_argument(
            "--jobs",
            type=int,
            metavar="N",
            help="run N lessons at a time, each in its own process (default: 2 with --quick on 2 or more cores, else "
            "1, so that a full run's timings are the lesson's alone); results do not change",
        )
    parser.add_argument("--profile", action="store_true", help="print where the time went (also in metrics.json)")
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="compile and decode afresh: no compiled programs, decoded data or warm worker "
        "kept in or read from keraslab's cache folder (also: KERASLAB_CACHE=off)",
    )
    parser.add_argument(
        "--checkpoints",
        choices=tuple(CHECKPOINT_POLICIES),
        default="auto",
        help="save each fit's state after every epoch: auto (fits of 5 or more epochs), always "
        "(every fit), never (default: auto)",
    )


def _given(args: argparse.Namespace, names) -> dict:
    """The parameters given on the command line (an option not given is None)."""
    given = vars(args)
    return {name: given[name] for name in names if name != "seeds" and given.get(name) is not None}


def cmd_lessons(args) -> int:
    found = lessons.all_lessons()
    width = max((len(n) for n in found), default=0)
    for number, (name, lesson) in enumerate(found.items(), 1):
        print(f"{number}. {name:<{width}}  {lesson.summary}")
    return 0


def cmd_run(args) -> int:
    use_backend(args.backend)
    if args.no_cache:
        caches.turn_off()
    tracker = tracker_from(args.track)  # checked before any work
    lesson = lessons.get_lesson(args.lesson)
    values, seeds, offline, quiet, stand_in = _values(args, lesson)
    with stand_in_hint(lesson, values):
        from keraslab.run_folders.runner import run_lesson  # the runner (pandas, matplotlib) when a lesson runs

        folder, summary = run_lesson(
            lesson,
            values,
            out=args.out,
            runs_root=_runs_root(),
            seeds=seeds,
            devices=args.devices,
            resume=args.resume,
            checkpoints=args.checkpoints,
            keep_checkpoints=args.keep_checkpoints,
            quiet=quiet,
            offline=offline,
            stand_in=stand_in,
        )
    if runtime.is_primary():
        print_summary(summary, folder, quiet=quiet)
        if args.profile:
            print_phases(folder)
        if tracker:
            track(folder, tracker, quiet=quiet)
    return 0


def _runs_root() -> Path:
    """runs/ here; from inside a run folder (its report's "reproduce" command), the runs/ that folder is in."""
    return runs_root_for(Path.cwd()) or Path("runs")


def _values(args, lesson):
    """(parameter values, seeds, offline, quiet, stand-in): a --config file's values, overridden by the options given
    here."""
    from keraslab.run_folders.runner import replayed

    from_file = replayed(read_config(lesson.name, args.config)) if args.config else {}
    seeds = args.seeds
    if not lesson.own_seeds and "seeds" in from_file:  # the runner's seeds, not a parameter
        file_seeds = from_file.pop("seeds")
        seeds = file_seeds if seeds is None else seeds
    offline = bool(from_file.pop("offline", False)) or args.offline
    quiet = bool(from_file.pop("quiet", False)) or args.quiet
    stand_in = stand_in_from(from_file.pop("stand_in", None))
    if stand_in is not None and getattr(args, "dataset", None) not in (None, stand_in.dataset):
        stand_in = None  # --dataset given: the data set asked for, not a stand-in
    source = f"--config {args.config}"
    values = {**check_values(from_file, lesson.parameters, lesson=lesson.name, source=source)}
    return {**values, **_given(args, lesson.parameters)}, seeds, offline, quiet, stand_in


def cmd_run_all(args) -> int:
    """Every lesson; the last line counts them. Exit 0 when every lesson ran, SKIPPED_EXIT when some were skipped
    for missing data (and none failed), 1 when one failed (or its tracking did)."""
    use_backend(args.backend)
    if args.no_cache:
        caches.turn_off()
    tracker = tracker_from(args.track)
    given = _given(args, COMMON)
    seeds = args.seeds or 1
    root = Path(args.out) if args.out else default_run_dir("all", given.get("seed", 0), _runs_root(), seeds=seeds)
    from keraslab.run_folders.every_lesson import run_all

    outcomes = run_all(
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
            if outcome.folder is not None:
                print_phases(outcome.folder, f"{outcome.lesson}: ")
    untracked = []
    for outcome in outcomes if tracker and runtime.is_primary() else []:
        if outcome.folder is not None:
            try:
                track(outcome.folder, tracker, quiet=args.quiet)
            except TrackingError as exc:
                print(f"keraslab: error: {exc}", file=sys.stderr)
                untracked.append(outcome.lesson)
    counts = {status: sum(o.status == status for o in outcomes) for status in ("ran", "skipped", "failed")}
    print(f"{counts['ran']} ran, {counts['skipped']} skipped, {counts['failed']} failed", flush=True)
    if counts["failed"] or untracked:
        return 1
    return SKIPPED_EXIT if counts["skipped"] else 0
