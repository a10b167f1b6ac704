"""The `keraslab` command. Thin: parse arguments, call one library function, print, set the exit code."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import types
import typing
from pathlib import Path

from keraslab import __version__
from keraslab.errors import KeraslabError, UsageError

# Options every subcommand accepts, before or after its name.
_COMMON_FLAGS = {"--debug": "show the full traceback on errors", "--quiet": "no progress output"}
_RUN_VALUE_OPTIONS = {"--seed", "--seeds", "--epochs", "--out", "--data-dir", "--backend", "--config", "--devices",
                      "--checkpoints"}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own usage errors: one line, exit 2
        self.print_usage(sys.stderr)
        raise SystemExit(_fail(f"{self.prog}: {message}", 2))


def _fail(message: str, code: int) -> int:
    print(f"keraslab: error: {message}", file=sys.stderr)
    return code


def _common(parser: argparse.ArgumentParser, data: bool = False) -> None:
    for flag, help_ in _COMMON_FLAGS.items():
        parser.add_argument(flag, action="store_true", default=argparse.SUPPRESS, help=help_)
    if data:
        parser.add_argument("--data-dir", default=argparse.SUPPRESS, metavar="DIR",
                            help="data home (default: $KERASLAB_DATA, else ~/.cache/keraslab)")
        parser.add_argument("--offline", action="store_true", default=argparse.SUPPRESS,
                            help="never download; fail if a file is missing")


def _field_type(f: dataclasses.Field):
    tp = f.type if not isinstance(f.type, str) else eval(f.type, vars(typing), {})  # noqa: S307 (our own code)
    args = typing.get_args(tp)
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        tp = next(a for a in args if a is not type(None))
    if typing.get_origin(tp) is typing.Literal:
        return str, tuple(typing.get_args(tp))
    return tp, None


def _add_lesson_options(parser: argparse.ArgumentParser, lesson) -> None:
    from keraslab.lessons import BASE_FIELDS

    group = parser.add_argument_group(f"options of lesson {lesson.name!r}")
    for f in dataclasses.fields(lesson.config_cls):
        if f.name in BASE_FIELDS or f.name == "seeds":  # --seeds is the run command's own option
            continue
        flag = "--" + f.name.replace("_", "-")
        tp, choices = _field_type(f)
        choices = f.metadata.get("choices", choices)
        default = f.default if f.default is not dataclasses.MISSING else None
        help_ = f"{f.metadata.get('help', '')} (default: {default})".strip()
        if tp is bool:
            group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                               help=help_)
        else:
            group.add_argument(flag, dest=f.name, type=tp, choices=choices, default=argparse.SUPPRESS,
                               metavar=f.name.upper() if not choices else None, help=help_)


def _lesson_in_argv(argv: list[str]) -> str | None:
    """The lesson name after `run` in argv, if there is one (so its options can join the parser)."""
    if "run" not in argv:
        return None
    rest = argv[argv.index("run") + 1:]
    skip = False
    for tok in rest:
        if skip:
            skip = False
            continue
        if tok.startswith("-"):
            skip = tok in _RUN_VALUE_OPTIONS
            continue
        return tok
    return None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    parser = _Parser(prog="keraslab", description="The Keras deep-learning course as reproducible runs.")
    parser.add_argument("--version", action="version", version=f"keraslab {__version__}")
    _common(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("lessons", help="list the lessons")
    _common(p)

    p = sub.add_parser("run", help="run a lesson (or `all`) and write its run folder",
                       description="Run a lesson and write metrics, plots and a report into its run folder.")
    _common(p, data=True)
    p.add_argument("lesson", help="lesson name (see `keraslab lessons`), or `all`")
    p.add_argument("--seed", type=int, default=argparse.SUPPRESS, help="random seed (default 0)")
    p.add_argument("--seeds", type=int, default=None, help="run N consecutive seeds; report mean ± sd")
    p.add_argument("--epochs", type=int, default=argparse.SUPPRESS, help="override the lesson's epochs")
    p.add_argument("--quick", action="store_true", default=argparse.SUPPRESS, help="small data, few epochs")
    p.add_argument("--out", default=None, metavar="DIR", help="write the run folder exactly here")
    p.add_argument("--backend", default=None, help="Keras backend: jax (default), torch or tensorflow")
    p.add_argument("--config", default=None, metavar="FILE",
                   help="a run's config.json to repeat it (options given here override it)")
    p.add_argument("--devices", type=int, default=None, metavar="N",
                   help="train data-parallel over N devices of this process (jax backend; default 1, or all under "
                        "`keraslab launch`)")
    p.add_argument("--resume", action="store_true",
                   help="continue a killed run from its checkpoints (the --out folder, else the lesson's newest "
                        "unfinished run); the options must match the first run's")
    p.add_argument("--keep-checkpoints", action="store_true", help="keep the per-epoch checkpoints in the run folder")
    p.add_argument("--checkpoints", choices=("auto", "always", "never"), default="auto",
                   help="save each fit's state after every epoch: auto (default: fits of 5 or more epochs), always "
                        "(every fit), never")
    name = _lesson_in_argv(list(argv or []))
    if name and name != "all":
        from keraslab.lessons import all_lessons

        lesson = all_lessons().get(name)
        if lesson is not None:
            _add_lesson_options(p, lesson)

    p = sub.add_parser("launch", help="run a command as a distributed job of several processes (JAX)",
                       description="Start (or, with --process-id, join) a JAX distributed job and run a keraslab "
                                   "command in each process: keraslab launch --processes 2 -- run churn. Process "
                                   "0 writes the run folder.")
    _common(p)
    p.add_argument("--processes", type=int, required=True, metavar="N", help="processes in the whole job")
    p.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                   help="process 0's address (default: 127.0.0.1 and a free port, all processes here)")
    p.add_argument("--process-id", type=int, default=None, metavar="I",
                   help="start only process I here (one command per machine); needs --coordinator")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="how long to wait for the coordinator, and for a silent process before the others stop "
                        "(default 60)")

    p = sub.add_parser("verify", help="check keraslab.scratch against Keras and scikit-learn (exit 1 on a failure)")
    _common(p)
    p.add_argument("--seed", type=int, default=0, help="seed for the random test inputs")
    p.add_argument("--backend", default=None, help="Keras backend for the references")

    p = sub.add_parser("bench", help="time the course's models: keraslab vs a plain PyTorch loop, CPU and GPU")
    _common(p)
    p.add_argument("--model", action="append", choices=("mlp", "churn", "ann", "cnn"),
                   help="a model to time (repeatable; default: all)")
    p.add_argument("--backends", default="jax", help="comma-separated Keras backends (installed among jax, torch, "
                                                     "tensorflow; default jax)")
    p.add_argument("--devices", default="cpu,gpu", help="cpu and/or gpu (GPU rows only where one is present)")
    p.add_argument("--repeats", type=int, default=3, help="timed epochs per row (median, min, max)")
    p.add_argument("--samples", type=int, default=None, help="train on this many samples instead of the full set")
    p.add_argument("--no-reference", action="store_true", help="skip the plain PyTorch eager rows")
    p.add_argument("--json", default=None, metavar="FILE", help="also write the results as JSON")

    p = sub.add_parser("train", help="train a model bundle on your own table (CSV)")
    _common(p)
    p.add_argument("csv", metavar="DATA.csv")
    p.add_argument("--target", required=True, help="the column to predict")
    p.add_argument("--drop", default="", metavar="COLS", help="comma-separated columns to ignore (ids, leaks)")
    p.add_argument("--imbalance", default="class_weight",
                   help="baseline, class_weight (default), undersample, oversample, smote or focal")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--test-size", type=float, default=0.2)
    p.add_argument("--no-tune-threshold", action="store_true",
                   help="keep the 0.5 threshold instead of picking one on a validation slice")
    p.add_argument("--out", default=None, metavar="DIR", help="the bundle folder (default: bundles/<csv>-<time>)")
    p.add_argument("--backend", default=None)

    p = sub.add_parser("predict", help="predict new rows with a bundle")
    _common(p)
    p.add_argument("bundle", metavar="BUNDLE")
    p.add_argument("csv", metavar="NEW.csv")
    p.add_argument("--output", required=True, metavar="PREDICTIONS.csv")
    p.add_argument("--id-column", default=None, help="a column to copy to the output as the row id")
    p.add_argument("--backend", default=None)

    p = sub.add_parser("serve", help="serve a bundle over HTTP (needs keraslab[serve])")
    _common(p)
    p.add_argument("bundle", metavar="BUNDLE")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--backend", default=None)

    data = sub.add_parser("data", help="list, verify, fetch and import datasets")
    _common(data, data=True)
    dsub = data.add_subparsers(dest="data_command", metavar="ACTION", parser_class=_Parser, required=True)
    p = dsub.add_parser("list", help="datasets, their files, and whether they are present and verified")
    _common(p, data=True)
    p = dsub.add_parser("verify", help="check the sha256 of every present file (exit 1 on any mismatch)")
    _common(p, data=True)
    p.add_argument("name", nargs="?", help="one dataset (default: all)")
    p = dsub.add_parser("fetch", help="download a dataset into the data home")
    _common(p, data=True)
    p.add_argument("name")
    p = dsub.add_parser("show", help="load a dataset through its parser and describe what it holds")
    _common(p, data=True)
    p.add_argument("name")
    p = dsub.add_parser("import", help="copy a file you downloaded by hand into the data home, after checking it")
    _common(p, data=True)
    p.add_argument("name")
    p.add_argument("path")
    return parser


# --- commands -------------------------------------------------------------------------------------------------

def _console():
    from rich.console import Console

    console = Console()
    if not console.is_terminal and console.width < 120:  # logs and CI: do not squeeze tables into 80 columns
        console = Console(width=120)
    return console


def cmd_lessons(args) -> int:
    from keraslab.lessons import all_lessons

    lessons = all_lessons()
    if not lessons:
        print("No lessons are registered yet.")
    width = max((len(n) for n in lessons), default=0)
    for name, lesson in lessons.items():
        print(f"{name:<{width}}  {lesson.summary}")
    return 0


def _lesson_values(args, lesson) -> dict:
    from keraslab.lessons import BASE_FIELDS

    values = {}
    if args.config:
        path = Path(args.config)
        try:
            loaded = json.loads(path.read_text())
        except FileNotFoundError:
            raise UsageError(f"--config {path}: no such file") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UsageError(f"--config {path}: not valid JSON ({exc})") from None
        if not isinstance(loaded, dict):
            raise UsageError(f"--config {path}: expected a JSON object")
        if loaded.get("lesson", lesson.name) != lesson.name:
            raise UsageError(f"--config {path} is for lesson {loaded['lesson']!r}, not {lesson.name!r}")
        values.update({k: v for k, v in loaded.items() if k != "lesson"})
        if not lesson.own_seeds:
            values.pop("seeds", None)
            if args.seeds is None and "seeds" in loaded:
                args.seeds = loaded["seeds"]
    names = {f.name for f in dataclasses.fields(lesson.config_cls)}
    for key in (BASE_FIELDS | names) - {"seeds"}:  # --seeds goes to run_lesson
        if key in vars(args):
            values[key] = getattr(args, key)
    return values


_MIN_EPOCHS = {"auto": 5, "always": 1, "never": 1}  # the shortest fit that checkpoints


def cmd_run(args) -> int:
    from keraslab.backend import use_backend
    from keraslab.lessons import get_lesson, make_config
    from keraslab.runner import run_lesson

    use_backend(args.backend)
    if args.lesson == "all":
        return _run_all(args)
    lesson = get_lesson(args.lesson)
    config = make_config(lesson, **_lesson_values(args, lesson))
    folder, summary = run_lesson(lesson, config, out=args.out, seeds=args.seeds, devices=args.devices,
                                 resume=args.resume, checkpoints=args.checkpoints != "never",
                                 checkpoint_min_epochs=_MIN_EPOCHS[args.checkpoints],
                                 keep_checkpoints=args.keep_checkpoints)
    from keraslab import distributed

    if distributed.is_primary():
        _print_summary(summary, folder, args)
    return 0


def cmd_launch(args) -> int:
    from keraslab.distributed import DEFAULT_TIMEOUT
    from keraslab.launch import launch

    return launch(args.command_args, processes=args.processes, coordinator=args.coordinator,
                  process_id=args.process_id, timeout=args.timeout or DEFAULT_TIMEOUT,
                  debug=getattr(args, "debug", False))


def _run_all(args) -> int:
    """Every lesson in order; a lesson whose data is missing is reported and skipped, not fatal."""
    from rich.table import Table

    from keraslab.errors import DataMissingError
    from keraslab.lessons import all_lessons, make_config
    from keraslab.reports import fmt
    from keraslab.runner import run_lesson
    from keraslab.runs import default_run_dir

    root = Path(args.out) if args.out else default_run_dir("all", getattr(args, "seed", 0))
    rows, skipped = [], []
    if args.resume:
        raise UsageError("--resume works on one lesson's run: keraslab run LESSON --out DIR --resume")
    for name, lesson in all_lessons().items():
        config = make_config(lesson, **_lesson_values(args, lesson))
        try:
            folder, summary = run_lesson(lesson, config, out=root / name, seeds=args.seeds, devices=args.devices,
                                         checkpoints=args.checkpoints != "never",
                                         checkpoint_min_epochs=_MIN_EPOCHS[args.checkpoints],
                                                 keep_checkpoints=args.keep_checkpoints)
        except DataMissingError as exc:
            skipped.append(f"{name}: {exc}")
            rows.append((name, lesson.headline or "-", lesson.course_figure or "-", "skipped: data missing", "-"))
            continue
        ours = summary.get(lesson.headline) if lesson.headline else None
        rows.append((name, lesson.headline or "-", lesson.course_figure or "-", fmt(ours) if ours is not None
                     else "-", str(folder)))
    table = Table(title=f"keraslab run all{' --quick' if getattr(args, 'quick', False) else ''}")
    for col in ("lesson", "headline metric", "course", "ours", "run folder"):
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    console = _console()
    console.print(table)
    for line in skipped:
        print(f"keraslab: skipped {line}", file=sys.stderr)
    if skipped and len(skipped) == len(rows):
        return 1
    return 0


def _print_summary(summary: dict, folder: Path, args) -> None:
    if getattr(args, "quiet", False):
        print(folder)
        return
    from rich.table import Table

    from keraslab.reports import summary_frame

    table = Table(title="summary")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for row in summary_frame(summary).itertuples(index=False):
        table.add_row(str(row.metric), str(row.value))
    console = _console()
    console.print(table)
    console.print(f"run folder: {folder}")


def cmd_data(args) -> int:
    from keraslab import datasets

    data_dir = getattr(args, "data_dir", None)
    if args.data_command == "list":
        return _data_list(data_dir)
    if args.data_command == "verify":
        names = [args.name] if args.name else None
        if args.name:
            datasets.get_spec(args.name)
        failed = 0
        for st in datasets.status(names, data_dir):
            if not st.present:
                line = f"MISSING   {st.dataset}: {st.file} (not in {datasets.data_home(data_dir)})"
                failed += bool(args.name)
            elif st.verified:
                line = f"OK        {st.dataset}: {st.file}"
            else:
                line = (f"MISMATCH  {st.dataset}: {st.path}: expected sha256 {st.expected_sha256}, "
                        f"got {st.actual_sha256}")
                failed += 1
            print(line)
        if failed:
            print(f"keraslab: error: {failed} file(s) failed verification", file=sys.stderr)
            return 1
        return 0
    if args.data_command == "fetch":
        paths = datasets.dataset_paths(args.name, data_dir=data_dir, offline=getattr(args, "offline", False),
                                       quiet=getattr(args, "quiet", False))
        for name, path in paths.items():
            print(f"{args.name}: {name} -> {path} (verified)")
        return 0
    if args.data_command == "show":
        for line in datasets.describe(args.name, data_dir=data_dir, offline=getattr(args, "offline", False),
                                      quiet=getattr(args, "quiet", False)):
            print(line)
        return 0
    if args.data_command == "import":
        dest = datasets.import_file(args.name, args.path, data_dir=data_dir)
        print(f"{args.name}: imported {args.path} -> {dest} (verified)")
        return 0
    raise UsageError(f"unknown data action {args.data_command!r}")


def _data_list(data_dir) -> int:
    from rich.table import Table

    from keraslab import datasets

    table = Table(title=f"datasets in {datasets.data_home(data_dir)}")
    for col in ("name", "files", "present", "verified", "size", "description"):
        table.add_column(col)
    for name, spec in datasets.REGISTRY.items():
        sts = datasets.status([name], data_dir)
        present = sum(s.present for s in sts)
        verified = sum(s.verified for s in sts)
        size = sum(s.size or 0 for s in sts)
        table.add_row(name, str(len(sts)), f"{present}/{len(sts)}", f"{verified}/{len(sts)}",
                      f"{size / 1e6:.1f} MB" if present else "-", spec.description)
    _console().print(table)
    return 0


def cmd_verify(args) -> int:
    from rich.table import Table

    from keraslab.backend import use_backend
    from keraslab.reports import fmt

    use_backend(args.backend)
    from keraslab.parity import all_checks

    checks = all_checks(args.seed)
    table = Table(title="keraslab.scratch against Keras and scikit-learn")
    for col in ("check", "ours", "reference", "|difference|", "tolerance", "pass"):
        table.add_column(col, justify="left" if col == "check" else "right")
    for c in checks:
        table.add_row(c.check, fmt(c.ours, 8), fmt(c.reference, 8),
                      fmt(c.difference, 3) if c.kind == "abs" else "-", fmt(c.tolerance, 1),
                      "[green]pass[/green]" if c.passed else "[red]FAIL[/red]")
    _console().print(table)
    failed = [c.check for c in checks if not c.passed]
    if failed:
        print(f"keraslab: error: {len(failed)} check(s) failed: {'; '.join(failed)}", file=sys.stderr)
        return 1
    print(f"all {len(checks)} checks passed")
    return 0


def cmd_bench(args) -> int:
    from keraslab.bench import MODELS, print_report, run_bench
    from keraslab.runs import atomic_write_json

    split = lambda s: [v.strip() for v in s.split(",") if v.strip()]  # noqa: E731
    report = run_bench(models=args.model or MODELS, backends=split(args.backends), devices=split(args.devices),
                       repeats=args.repeats, samples=args.samples, reference=not args.no_reference,
                       progress=None if getattr(args, "quiet", False) else print)
    print_report(report, _console())
    if args.json:
        atomic_write_json(args.json, report)
    return 0


def cmd_train(args) -> int:
    from keraslab.backend import use_backend
    from keraslab.runs import utc_stamp

    use_backend(args.backend)
    from keraslab.serving import TrainOptions, train_table

    quiet = getattr(args, "quiet", False)
    options = TrainOptions(target=args.target, drop=tuple(c.strip() for c in args.drop.split(",") if c.strip()),
                           imbalance=args.imbalance, epochs=args.epochs, seed=args.seed, test_size=args.test_size,
                           tune_threshold=not args.no_tune_threshold, quiet=quiet)
    out = args.out or str(Path("bundles") / f"{Path(args.csv).stem}-{utc_stamp()}")
    folder, summary = train_table(args.csv, options, out, log=(lambda m: None) if quiet else print)
    _print_summary(summary, folder, args)
    return 0


def cmd_predict(args) -> int:
    from keraslab.backend import use_backend

    use_backend(args.backend)
    from keraslab.datasets.tabular import read_csv
    from keraslab.runs import atomic_write_text
    from keraslab.serving import load

    bundle = load(args.bundle)
    frame = read_csv(args.csv, required=[args.id_column] if args.id_column else None)
    try:
        out, warnings = bundle.predict_frame(frame, id_column=args.id_column)
    except KeraslabError as exc:
        raise type(exc)(f"{args.csv}: {exc}") from None
    for w in warnings:
        print(f"keraslab: warning: {w}", file=sys.stderr)
    atomic_write_text(args.output, out.to_csv(index=False))
    if not getattr(args, "quiet", False):
        print(f"{len(out)} predictions -> {args.output}")
    return 0


def cmd_serve(args) -> int:
    import importlib.util

    from keraslab.backend import use_backend

    if importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("uvicorn") is None:
        raise UsageError("keraslab serve needs FastAPI and uvicorn: pip install 'keraslab[serve]'")
    use_backend(args.backend)
    from keraslab.serving.app import serve

    serve(args.bundle, host=args.host, port=args.port, log_level="warning" if getattr(args, "quiet", False)
          else "info")
    return 0


COMMANDS = {"lessons": cmd_lessons, "bench": cmd_bench, "train": cmd_train, "predict": cmd_predict,
            "serve": cmd_serve, "run": cmd_run, "launch": cmd_launch, "data": cmd_data, "verify": cmd_verify}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    from keraslab import distributed

    try:
        argv, command_args = _split_launch(argv)
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        args.command_args = command_args
        if not args.command:
            parser.print_help()
            return 2
        job = distributed.Job.from_env()
        if job is not None and args.command != "launch":
            distributed.join(job)
            code = COMMANDS[args.command](args)
            distributed.leave()
            return code
        return COMMANDS[args.command](args)
    except BaseException as exc:
        if distributed.current() is not None and not debug:  # in a job: peers may wait on us, so stop now
            code = getattr(exc, "exit_code", 130 if isinstance(exc, KeyboardInterrupt) else 1)
            if isinstance(exc, SystemExit):
                code = exc.code if isinstance(exc.code, int) else 0
            message = str(exc)
            if not isinstance(exc, (KeraslabError, KeyboardInterrupt, SystemExit)):
                message, code = distributed.explain_failure(exc)
            distributed.stop(message if code else None, code)
        return _handle(exc, debug)


def _split_launch(argv: list[str]) -> tuple[list[str], list[str]]:
    """`launch ... -- COMMAND...`: the launcher's own arguments, and the command it runs."""
    if "launch" in argv and "--" in argv and argv.index("launch") < argv.index("--"):
        cut = argv.index("--")
        return argv[:cut], argv[cut + 1:]
    return argv, []


def _handle(exc: BaseException, debug: bool) -> int:
    try:
        raise exc
    except KeraslabError as exc:
        if debug:
            raise
        return _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        if debug:
            raise
        return _fail("interrupted", 130)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0
    except Exception as exc:  # an unexpected failure: still one line unless --debug
        if debug:
            raise
        return _fail(f"{type(exc).__name__}: {exc} (run again with --debug for the traceback)", 1)
