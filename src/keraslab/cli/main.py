"""The `keraslab` command: assembles the command groups' parsers, runs the chosen command, turns expected
failures into one line and an exit code (a traceback only with --debug), and joins a distributed job when
`keraslab launch` started this process."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading

from keraslab import __version__
from keraslab.cli import (
    bundle_commands,
    data_commands,
    lesson_commands,
    notebook_commands,
    runs_commands,
    tool_commands,
)
from keraslab.cli.common import Parser, fail
from keraslab.distributed import runtime
from keraslab.errors import Interrupted, KeraslabError
from keraslab.files import disk_error

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


def finish(code: int) -> None:
    """Exit with `code` at once. Once the command is done, its output flushed and the exit handlers run (atexit:
    logging, temporary folders, child processes), the process ends: tearing down the interpreter (every module,
    JAX's compiler and devices) took 0.6-0.8 s of every run, after the result was already on disk and on the
    screen."""
    flush()
    atexit._run_exitfuncs()  # noqa: SLF001 - what a normal exit runs before tearing down
    flush()
    os._exit(code)


def flush() -> None:
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
        with terminated_as_interrupt():
            job = runtime.Job.from_env()
            if job is None or args.command == "launch":
                return args.handler(args)
            runtime.join(job)
            code = args.handler(args)
            runtime.leave()
            return code
    except BaseException as exc:
        if runtime.current() is not None and not debug:  # in a job: peers may wait on us, so stop now
            _stop_job(exc)
        return handle(exc, debug)


@contextlib.contextmanager
def terminated_as_interrupt():
    """SIGTERM (a `kill`, a job scheduler, a container stopping) stops a command as Ctrl-C does: the run cleans up
    and says, in the same one line, how to resume; exit status 143 (128 + SIGTERM). Main thread only."""

    def stop(signum, frame):
        if _in_gc_callback(frame):  # Python discards an exception raised there: ask again in a moment
            threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGTERM)).start()
            return
        raise Interrupted("interrupted (SIGTERM)", 128 + signal.SIGTERM)

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _in_gc_callback(frame) -> bool:
    """Whether the signal arrived while a garbage-collection callback ran (JAX registers one): an exception raised
    inside it is printed as "Exception ignored" and dropped, and the command would go on."""
    import gc

    codes = {getattr(callback, "__code__", None) for callback in gc.callbacks} - {None}
    while frame is not None:
        if frame.f_code in codes:
            return True
        frame = frame.f_back
    return False


def split_launch(argv: list[str]) -> tuple[list[str], list[str]]:
    """`launch ... -- COMMAND...`: the launcher's own arguments, and the command it runs."""
    if "launch" in argv and "--" in argv and argv.index("launch") < argv.index("--"):
        cut = argv.index("--")
        return argv[:cut], argv[cut + 1 :]
    return argv, []


def move_global_flags(argv: list[str]) -> list[str]:
    """`keraslab --quiet run churn` is `keraslab run churn --quiet`: flags before the command move after it."""
    lead = []
    while argv and argv[0] in GLOBAL_FLAGS:
        lead.append(argv.pop(0))
    return argv + lead


def _stop_job(exc: BaseException) -> None:
    """Leave the distributed job at once with one line and the right exit code (does not return)."""
    code = getattr(exc, "exit_code", 130 if isinstance(exc, KeyboardInterrupt) else 1)
    if isinstance(exc, SystemExit):
        code = exc.code if isinstance(exc.code, int) else 0
    message = str(exc)
    if not isinstance(exc, (KeraslabError, KeyboardInterrupt, SystemExit)):
        message, code = runtime.explain_failure(exc)
    elif isinstance(exc.__cause__, Exception) and not isinstance(exc.__cause__, KeraslabError):
        # a lesson's cell failed (keraslab.lessons.execution.LessonFailed): a lost peer is what to report, if it was one
        cause_message, cause_code = runtime.explain_failure(exc.__cause__)
        if cause_code == runtime.LOST_EXIT:
            message, code = cause_message, cause_code
    runtime.stop(message if code else None, code)


def handle(exc: BaseException, debug: bool) -> int:
    """The exit code for `exc`, after printing it as one line (re-raised with --debug)."""
    if isinstance(exc, SystemExit):
        return exc.code if isinstance(exc.code, int) else 0
    if debug:
        raise exc
    if isinstance(exc, KeraslabError):
        return fail(str(exc), exc.exit_code)
    if isinstance(exc, KeyboardInterrupt):  # Ctrl-C, or SIGTERM (errors.Interrupted: its message and status)
        return fail(str(exc) or "interrupted", getattr(exc, "exit_code", 130))
    if isinstance(exc, OSError) and disk_error(exc):  # a full, read-only or forbidden disk: one line, the path
        return fail(disk_error(exc), 1)
    return fail(f"{type(exc).__name__}: {exc} (run again with --debug for the traceback)", 1)
