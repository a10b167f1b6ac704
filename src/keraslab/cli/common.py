"""What every command group shares: the parser class (one-line usage errors), the common flags, the console."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from keraslab.errors import UsageError


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


def add_debug(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")


def add_quiet(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def add_data_home(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", metavar="DIR", help="data home (default: $KERASLAB_DATA, else ~/.cache/keraslab)")


def add_offline(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--offline", action="store_true", help="never download; fail if a file is missing")


def command(sub, name: str, handler, *, quiet: bool = True, **kwargs) -> argparse.ArgumentParser:
    """A subcommand whose parsed arguments go to `handler(args) -> exit code`, with --debug (and --quiet)."""
    parser = sub.add_parser(name, **kwargs)
    parser.set_defaults(handler=handler)
    add_debug(parser)
    if quiet:
        add_quiet(parser)
    return parser


def split_list(text: str) -> list[str]:
    """'a, b,,c' -> ['a', 'b', 'c']"""
    return [v.strip() for v in text.split(",") if v.strip()]


def console():
    """A rich console; off a terminal (logs, CI) at least 120 columns wide, so tables are not squeezed. Markup is
    off: every text printed (a config value "[/bold]", a folder "data/[/x]") is shown as it is, never parsed."""
    from rich.console import Console

    out = Console(markup=False)
    if not out.is_terminal and out.width < 120:
        out = Console(width=120, markup=False)
    return out


def print_summary(summary: dict, folder: Path, *, quiet: bool) -> None:
    """A run's summary as a table and its folder (only the folder with --quiet)."""
    if quiet:
        print(folder)
        return
    from rich.table import Table

    from keraslab.run_folders.report import summary_frame
    from keraslab.run_folders.runner import run_tags

    tags = run_tags(folder)
    table = Table(title=f"summary ({', '.join(tags)})" if tags else "summary")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for row in summary_frame(summary).itertuples(index=False):
        table.add_row(str(row.metric), str(row.value))
    out = console()
    out.print(table)
    out.print(f"run folder: {folder}")


def add_declared(
    parser: argparse.ArgumentParser, parameters: dict, title: str | None = None, *, skip=("seeds",)
) -> None:
    """An option per declared parameter (keraslab.options): its flag, type, choices, help, default and range in the
    help; a value not given stays None (the declaration's default holds). `skip`: those set another way (the run
    command's own --seeds)."""
    group = parser.add_argument_group(title) if title else parser
    for p in parameters.values():
        if p.name in skip:
            continue
        accepts = f"; {p.bound.describe(p.type is int)}" if p.bound is not None else ""
        default = "" if p.default == "" else f"default: {p.default}"  # None says "the lesson chooses"
        shown = f" ({default}{accepts})" if default or accepts else ""
        help_ = f"{p.help}{shown}".replace("%", "%%").replace("(; ", "(")
        if p.type is bool:
            group.add_argument(p.flag, dest=p.name, action=argparse.BooleanOptionalAction, help=help_)
        else:
            group.add_argument(
                p.flag,
                dest=p.name,
                type=_parser_of(p),
                choices=p.choices,
                help=help_,
                metavar=None if p.choices else p.name.upper(),
            )


def _parser_of(p):
    """An argparse type: the text checked against the parameter's declaration (a bad value is one line)."""

    def parse(text: str):
        try:
            return p.parse(text)
        except UsageError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = p.type.__name__
    return parse


def jobs_for(given: int | None, *, quick: bool) -> int:
    """`run all --jobs`, `notebook --jobs`: as given (1 or more), else 2 for quick runs on 2 or more cores, else 1
    (a full run's timings are then the lesson's alone)."""
    if given is not None and given < 1:
        raise UsageError(f"--jobs: expected 1 or more at a time, got {given}")
    return given or (2 if quick and (os.cpu_count() or 1) >= 2 else 1)
