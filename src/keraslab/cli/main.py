"""The `keraslab` command: assembles the command groups' parsers, runs the chosen command (as a process of the
distributed job `keraslab launch` started it for, if any), turns expected failures into one line and an exit code
(a traceback only with --debug)."""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import sys

from keraslab import __version__
from keraslab.cli import (
    bundle_commands,
    data_commands,
    lesson_commands,
    notebook_commands,
    runs_commands,
    tool_commands,
)
from keraslab.cli.common import Parser, fail, prepare
from keraslab.distributed import runtime
from keraslab.errors import one_line, terminated_as_interrupt

GROUPS = (lesson_commands, runs_commands, data_commands, bundle_commands, tool_commands, notebook_commands)
GLOBAL_FLAGS = ("--debug", "--quiet")  # every command takes them, after its name or before it


def build_parser() -> Parser:
    parser = Parser(
        prog="keraslab",
        description="The Keras deep-learning course as reproducible runs.",
        epilog="--debug (show tracebacks) and --quiet (no progress output) work with every command, "
        "before or after its name.",
    )
    parser.add_argument("--version", action="version", version=f"keraslab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for group in GROUPS:
        group.add_commands(sub)
    return parser


def run() -> None:
    """The `keraslab` command (the console script and `python -m keraslab`): main(), then a quick exit. Once the
    command is done, its output flushed and the exit handlers run (atexit: logging, temporary folders, child
    processes), the process ends at once: tearing down the interpreter (every module, JAX's compiler and devices)
    took 0.6-0.8 s of every run, after the result was already on disk and on the screen. Nothing is left behind."""
    code = main()
    _flush()
    atexit._run_exitfuncs()  # noqa: SLF001 - what a normal exit runs before tearing down
    _flush()
    os._exit(code)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        argv, command_args = split_launch(argv)
        argv = move_global_flags(argv)
        parser = build_parser()
        args = parser.parse_args(argv)
        if not args.command:
            parser.print_help()
            return 2
        args.command_args = command_args
        prepare(args)
        with terminated_as_interrupt():
            return runtime.as_member(lambda: args.handler(args), launching=args.command == "launch")
    except BaseException as exc:
        if runtime.current() is not None and not debug:  # in a job: peers may wait on us, so stop now
            runtime.stop_for(exc)
        return handle(exc, debug)


def split_launch(argv: list[str]) -> tuple[list[str], list[str]]:
    """`launch ... -- COMMAND...`: the launcher's own arguments, and the command it runs."""
    if "launch" in argv and "--" in argv and argv.index("launch") < argv.index("--"):
        cut = argv.index("--")
        return argv[:cut], argv[cut + 1 :]
    return argv, []


def move_global_flags(argv: list[str]) -> list[str]:
    """`keraslab --quiet run churn` is `keraslab run churn --quiet`: flags before the command move after it."""
    lead = len(list(itertools.takewhile(GLOBAL_FLAGS.__contains__, argv)))
    return argv[lead:] + argv[:lead]


def handle(exc: BaseException, debug: bool) -> int:
    """The exit code for `exc`, after printing it as one line (re-raised with --debug)."""
    if isinstance(exc, SystemExit):
        return exc.code if isinstance(exc.code, int) else 0
    if debug:
        raise exc
    return fail(*one_line(exc, unexpected=" (run again with --debug for the traceback)"))
