"""`keraslab lessons` and `keraslab run LESSON | all`.

Each lesson is a subcommand of `run` whose options are built from its config dataclass (keraslab.lessons
.config_options): typed, with their choices, and their defaults shown in --help. An option not given on the command
line is not passed, so the lesson's default (or a --config file's value) holds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from keraslab import lessons
from keraslab.backend import BACKENDS, use_backend
from keraslab.cli.common import Parser, command, console, print_summary
from keraslab.distributed import runtime
from keraslab.lessons import BaseConfig, Lesson, config_options, make_config, read_config
from keraslab.runs.folder import default_run_dir
from keraslab.runs.runner import CHECKPOINT_POLICIES, run_all, run_lesson
from keraslab.runs.tracking import TrackingError, log_folder, tracker_from


def add_commands(sub) -> None:
    command(sub, "lessons", cmd_lessons, help="list the lessons")
    run = sub.add_parser(
        "run",
        help="run a lesson (or `all`) and write its run folder",
        description="Run a lesson and write metrics, plots and a report into its run folder. "
        "`keraslab run LESSON --help` lists the lesson's own options.",
    )
    names = run.add_subparsers(dest="lesson", metavar="LESSON", parser_class=Parser, required=True)
    for lesson in lessons.all_lessons().values():
        summary = lesson.summary.replace("%", "%%")
        parser = command(names, lesson.name, cmd_run, quiet=False, help=summary, description=f"{summary}.")
        _add_run_options(parser, one_lesson=True)
        _add_config_options(parser, lesson.config_cls, f"options of lesson {lesson.name!r}", lesson.epochs)
    parser = command(
        names,
        "all",
        cmd_run_all,
        quiet=False,
        help="every lesson in order, into one folder each",
        description="Run every lesson in the course's order; a lesson whose data is missing is listed as skipped.",
    )
    _add_run_options(parser, one_lesson=False)
    _add_config_options(parser, BaseConfig, "options of every lesson")


def _add_run_options(parser: argparse.ArgumentParser, *, one_lesson: bool) -> None:
    parser.add_argument(
        "--seeds", type=int, metavar="N", help="run N consecutive seeds from --seed; report mean ± sd (default: 1)"
    )
    parser.add_argument(
        "--out", metavar="DIR", help="write the run folder exactly here (default: runs/<lesson>/<UTC time>-seed<N>)"
    )
    parser.add_argument("--backend", help=f"Keras backend: {', '.join(BACKENDS)} (default: $KERAS_BACKEND, else jax)")
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
    parser.add_argument(
        "--checkpoints",
        choices=tuple(CHECKPOINT_POLICIES),
        default="auto",
        help="save each fit's state after every epoch: auto (fits of 5 or more epochs), always "
        "(every fit), never (default: auto)",
    )


def _add_config_options(
    parser: argparse.ArgumentParser, config_cls: type, title: str, epochs: tuple[int, int] | None = None
) -> None:
    group = parser.add_argument_group(title)
    for option in config_options(config_cls):
        if option.name == "seeds":  # the run command's own --seeds
            continue
        flag = "--" + option.name.replace("_", "-")
        shown = option.default
        if option.name == "epochs":
            shown = f"{epochs[0]}; {epochs[1]} with --quick" if epochs else "each lesson's own"
        # a help text that states its default keeps it; every other option shows the config's default
        help_ = (option.help if "default" in option.help else f"{option.help} (default: {shown})").strip()
        help_ = help_.replace("%", "%%")
        if option.type is bool:
            group.add_argument(flag, dest=option.name, action=argparse.BooleanOptionalAction, help=help_)
        else:
            group.add_argument(
                flag,
                dest=option.name,
                type=option.type,
                choices=option.choices,
                help=help_,
                metavar=None if option.choices else option.name.upper(),
            )


def _given(args: argparse.Namespace, config_cls: type) -> dict:
    """The config options given on the command line (an option not given is None)."""
    given = vars(args)
    return {
        o.name: given[o.name] for o in config_options(config_cls) if o.name != "seeds" and given[o.name] is not None
    }


def cmd_lessons(args) -> int:
    found = lessons.all_lessons()
    width = max((len(n) for n in found), default=0)
    for name, lesson in found.items():
        print(f"{name:<{width}}  {lesson.summary}")
    return 0


def cmd_run(args) -> int:
    use_backend(args.backend)
    tracker = tracker_from(args.track)  # checked before any work
    lesson = lessons.get_lesson(args.lesson)
    config, seeds = _config(args, lesson)
    folder, summary = run_lesson(
        lesson,
        config,
        out=args.out,
        seeds=seeds,
        devices=args.devices,
        resume=args.resume,
        checkpoints=args.checkpoints,
        keep_checkpoints=args.keep_checkpoints,
    )
    if runtime.is_primary():
        print_summary(summary, folder, quiet=config.quiet)
        if tracker:
            track(folder, tracker, quiet=config.quiet)
    return 0


def track(folder: Path, tracker: str, *, quiet: bool) -> None:
    """Log a finished folder (a TrackingError, one line and exit 1, if the store fails; the folder stays whole)."""
    run_id = log_folder(folder, tracker)
    if not quiet:
        print(f"tracked in {tracker}: run {run_id}")


def _config(args, lesson: Lesson):
    """(config, seeds): a --config file's values, overridden by the options given here."""
    values = read_config(lesson, args.config) if args.config else {}
    seeds = args.seeds
    if not lesson.own_seeds and "seeds" in values:  # the runner's seeds, not a config field
        file_seeds = values.pop("seeds")
        seeds = file_seeds if seeds is None else seeds
    return make_config(lesson, **{**values, **_given(args, lesson.config_cls)}), seeds


def cmd_run_all(args) -> int:
    from rich.table import Table

    use_backend(args.backend)
    tracker = tracker_from(args.track)
    given = _given(args, BaseConfig)
    root = Path(args.out) if args.out else default_run_dir("all", given.get("seed", 0))
    outcomes = run_all(
        lessons.all_lessons().values(),
        lambda lesson: make_config(lesson, **given),
        root=root,
        seeds=args.seeds,
        devices=args.devices,
        checkpoints=args.checkpoints,
        keep_checkpoints=args.keep_checkpoints,
    )
    quick = " --quick: smoke runs, not the lessons' results" if given.get("quick") else ""
    table = Table(title=f"keraslab run all{quick}")
    for col in ("lesson", "headline metric", "course", "ours"):
        table.add_column(col)
    table.add_column("run folder", overflow="fold")  # the whole path, folded, never cut with an ellipsis
    for outcome in outcomes:
        table.add_row(*outcome.row())
    console().print(table)
    if (root / "index.html").is_file():
        print(f"index: {root / 'index.html'}")
    skipped = [o for o in outcomes if o.skipped]
    for outcome in skipped:
        print(f"keraslab: skipped {outcome.lesson}: {outcome.skipped}", file=sys.stderr)
    untracked = []
    for outcome in outcomes if tracker and runtime.is_primary() else []:
        if outcome.folder is not None:
            try:
                track(outcome.folder, tracker, quiet=bool(given.get("quiet")))
            except TrackingError as exc:
                print(f"keraslab: error: {exc}", file=sys.stderr)
                untracked.append(outcome.lesson)
    return 1 if untracked or (skipped and len(skipped) == len(outcomes)) else 0
