"""What every command group shares: the parser class (one-line usage errors), the common flags, the console, and
what `run` and `train` print besides a run's summary (where the time went, the line that says it was tracked)."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from keraslab import caches, phases
from keraslab.backend import BACKENDS, use_backend
from keraslab.errors import UsageError
from keraslab.options import Bound, Parameter, declared, option
from keraslab.run_folders.folder import CHECKPOINT_POLICIES


class Parser(argparse.ArgumentParser):
    """argparse, with its usage errors printed as one `keraslab: error:` line (naming the command, and where its
    options are listed) and exit code 2, and no abbreviated options (`--epoch 3` is not taken for `--epochs`)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        command = self.prog.removeprefix("keraslab").strip()
        where = f"{command}: " if command else ""
        if not command and "invalid choice: 'verify'" in message:  # its name before it was renamed
            message += "; `keraslab verify` is now `keraslab prove` (`keraslab data verify` checks data files)"
        raise SystemExit(fail(f"{where}{message} (see `{self.prog} --help`)", 2))


def fail(message: str, code: int) -> int:
    print(f"keraslab: error: {message}", file=sys.stderr)
    return code


@dataclass
class Flags:
    """The flags several commands share, and those the command line checks for the library, declared once as the
    lessons' and `train`'s options are (keraslab.options.option)."""

    out: str | None = option(
        None, metavar="DIR", help="write the run folder exactly here (default: runs/<lesson>/<UTC time>-seed<N>)"
    )
    config: str | None = option(
        None, metavar="FILE", help="a run's config.json to repeat it (options given here override it)"
    )
    resume: bool = option(
        False,
        help="continue a killed run from its checkpoints (the --out folder, else the lesson's newest unfinished run); "
        "the options must match the first run's",
    )
    keep_checkpoints: bool = option(False, help="keep the per-epoch checkpoints in the run folder")
    profile: bool = option(False, help="print where the time went (also in metrics.json)")
    no_cache: bool = option(
        False,
        help="compile and decode afresh: no compiled programs or decoded data kept in or read from keraslab's cache "
        "folder (also: KERASLAB_CACHE=off)",
    )
    checkpoints: str = option(
        "auto",
        choices=tuple(CHECKPOINT_POLICIES),
        help="save each fit's state after every epoch: auto (fits of 5 or more epochs), always (every fit), never",
    )
    backend: str | None = option(None, help=f"Keras backend: {', '.join(BACKENDS)} (default: $KERAS_BACKEND, else jax)")
    offline: bool = option(False, help="never download; fail if a file is missing")
    data_dir: str | None = option(
        None, metavar="DIR", help="data home (default: $KERASLAB_DATA, else ~/.cache/keraslab)"
    )
    track: str | None = option(
        None,
        metavar="mlflow",
        help="also log the result to MLflow (its options, metrics per epoch, report, plots and model) at "
        "$MLFLOW_TRACKING_URI, else MLflow's default store (default: $KERASLAB_TRACKING, else none)",
    )
    devices: int | None = option(
        None,
        bound=Bound(1),
        metavar="N",
        help="train data-parallel over N devices of this process (jax backend; default 1, or all under `keraslab "
        "launch`)",
    )
    jobs: int | None = option(
        None,
        bound=Bound(1),
        metavar="N",
        help="N at a time, each in a process of its own (default: 2 with --quick on 2 or more cores, else 1, so that "
        "a full run's timings are its own); results do not change",
    )
    timeout: float | None = option(
        None, bound=Bound(0, None, False), metavar="SECONDS", help="per cell, with --execute"
    )
    port: int = option(8000, bound=Bound(1, 65535), help="port to listen on")
    client_timeout: float = option(
        10.0,
        bound=Bound(0, None, False),
        metavar="SECONDS",
        help="drop a client that has not sent its request's headers, or then its body, within SECONDS",
    )
    max_connections: int = option(
        200,
        bound=Bound(1, 65535),
        metavar="N",
        help="serve at most N connections and requests at once; the rest get 503",
    )


FLAGS = declared(Flags)


def add_flags(parser: argparse.ArgumentParser, *names: str, **helps: str) -> None:
    """The shared flags `names`, at their declared defaults (`helps`: a command's own words for one)."""
    chosen = {n: dataclasses.replace(FLAGS[n], help=helps.get(n, FLAGS[n].help)) for n in names}
    add_declared(parser, chosen, skip=(), lesson=False)
    parser.set_defaults(**{n: FLAGS[n].default for n in names})


def command(sub, name: str, handler, **kwargs) -> argparse.ArgumentParser:
    """A subcommand whose parsed arguments go to `handler(args) -> exit code`, with --debug and --quiet."""
    parser = sub.add_parser(name, **kwargs)
    parser.set_defaults(handler=handler)
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    return parser


def prepare(args: argparse.Namespace) -> None:
    """Before any command's work: the Keras backend it was given chosen, the caches off with --no-cache."""
    if "backend" in args:
        use_backend(args.backend)
    if getattr(args, "no_cache", False):
        caches.turn_off()


def split_list(text: str) -> list[str]:
    """'a, b,,c' -> ['a', 'b', 'c']"""
    return [v.strip() for v in text.split(",") if v.strip()]


def console(width: int = 120):
    """A rich console; off a terminal (logs, CI) at least `width` columns wide, so tables are not squeezed. Markup
    is off: every text printed (a config value "[/bold]", a folder "data/[/x]") is shown as it is, never parsed."""
    from rich.console import Console

    out = Console(markup=False)
    if not out.is_terminal and out.width < width:
        out = Console(width=width, markup=False)
    return out


def print_table(title: str, columns, rows, *, left: int = 1, width: int = 120, **column_options) -> None:
    """A table on the console: `columns` (names), `rows` (each a sequence of values, shown as text), the first
    `left` columns left-aligned and the rest right-aligned; `column_options` go to every column (rich's)."""
    from rich.table import Table

    table = Table(title=title)
    for i, col in enumerate(columns):
        table.add_column(str(col), justify="left" if i < left else "right", **column_options)
    for row in rows:
        table.add_row(*(v if hasattr(v, "__rich__") else str(v) for v in row))
    console(width).print(table)


def print_summary(summary: dict, folder: Path, *, quiet: bool, tags=()) -> None:
    """A run's summary as a table and its folder (only the folder with --quiet); `tags`: how it was made."""
    if quiet:
        print(folder)
        return
    from keraslab.run_folders.pages import summary_frame

    frame = summary_frame(summary)
    print_table(f"summary ({', '.join(tags)})" if tags else "summary", frame.columns, frame.itertuples(index=False))
    console().print(f"run folder: {folder}")


def track(folder: Path, tracker: str, *, quiet: bool) -> None:
    """Log a finished folder (a TrackingError, one line and exit 1, if the store fails; the folder stays whole)."""
    from keraslab.bundles.pyfunc import track as log

    run_id = log(folder, tracker)
    if not quiet:
        print(f"tracked in {tracker}: run {run_id}")


def print_phases(spent: dict, prefix: str = "") -> None:
    """--profile: where a finished run's time went (metrics.json's `phases`), on one line."""
    if spent:
        print(f"{prefix}time: {phases.line(spent)}", flush=True)


def add_declared(
    parser: argparse.ArgumentParser, parameters: dict, title: str | None = None, *, skip=("seeds",), lesson=True
) -> None:
    """An option per declared parameter (keraslab.options): its flag, type, choices, help, default and range in the
    help; a value not given stays None (the declaration's default holds). `skip`: those set another way (the run
    command's own --seeds)."""
    group = parser.add_argument_group(title) if title else parser
    for p in parameters.values():
        if p.name in skip:
            continue
        accepts = f"; {p.bound.describe(p.type is int)}" if p.bound is not None else ""
        # a lesson's None says "the lesson chooses"; a flag's help says what its None means
        default = "" if p.default in ("", ()) or (p.default is None and not lesson) else f"default: {p.default}"
        shown = f" ({default}{accepts})" if default or accepts else ""
        help_ = f"{p.help}{shown}".replace("%", "%%").replace("(; ", "(")
        if p.type is bool and p.default is False and not lesson:  # a switch: given, or not
            group.add_argument(p.flag, dest=p.name, action="store_true", help=p.help.replace("%", "%%"))
        elif p.type is bool:
            group.add_argument(p.flag, dest=p.name, action=argparse.BooleanOptionalAction, help=help_)
        else:
            group.add_argument(
                p.flag,
                dest=p.name,
                type=parsed_by(p),
                choices=p.choices,
                help=help_,
                metavar=None if p.choices else p.metavar or p.name.upper(),
            )


def parsed_by(p):
    """An argparse type: the text checked against the parameter's declaration (a bad value is one line)."""

    def parse(text: str):
        try:
            return p.parse(text)
        except UsageError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = p.type.__name__
    return parse


def count_of(name: str):
    """An argparse type: a count (an integer in [1, inf)), parsed and checked as every option is."""
    return parsed_by(Parameter(name, int, False, None, None, bound=Bound(1)))


def jobs_for(given: int | None, *, quick: bool) -> int:
    """`run all --jobs`, `notebook --jobs`: as given (checked as it was parsed), else 2 for quick runs on 2 or more
    cores, else 1 (a full run's timings are then the lesson's alone)."""
    return FLAGS["jobs"].check(given) or (2 if quick and (os.cpu_count() or 1) >= 2 else 1)
