"""`keraslab notebook LESSON | --all`: a lesson as a Jupyter notebook, optionally executed in a kernel."""

from __future__ import annotations

from keraslab.cli.common import command
from keraslab.errors import UsageError
from keraslab.lessons import COURSE_ORDER


def add_commands(sub) -> None:
    parser = command(
        sub,
        "notebook",
        cmd_notebook,
        help="write a lesson as a Jupyter notebook, optionally executed (--execute needs keraslab[notebooks])",
        description="Write DIR/LESSON.ipynb: the lesson's script as a notebook (the same script `keraslab run` "
        "executes). Lessons, in the course's order: " + ", ".join(COURSE_ORDER) + ".",
    )
    parser.add_argument("lessons", nargs="*", metavar="LESSON", help="one or more lessons (see the list above)")
    parser.add_argument("--all", action="store_true", help="all nine lessons, in the course's order")
    parser.add_argument("--out", default=".", metavar="DIR", help="folder to write into (default: .)")
    parser.add_argument(
        "--execute", action="store_true", help="run it in a fresh kernel and keep the outputs (plots inline)"
    )
    parser.add_argument("--quick", action="store_true", help="set the parameter quick=True (a small, fast run)")
    parser.add_argument("--seed", type=int, metavar="N", help="set the parameter seed")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a value of the parameters cell, e.g. dataset=fashion_mnist (repeatable; checked against its "
        "declared type and range)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing notebooks")
    parser.add_argument("--timeout", type=float, metavar="SECONDS", help="per cell, with --execute (default: none)")


def cmd_notebook(args) -> int:
    from keraslab.lessons import get_lesson
    from keraslab.lessons.notebook import make_notebooks

    if args.all == bool(args.lessons):
        raise UsageError("name a LESSON or pass --all; lessons: " + ", ".join(COURSE_ORDER))
    lessons = list(COURSE_ORDER) if args.all else [get_lesson(name).name for name in dict.fromkeys(args.lessons)]
    if args.timeout is not None and args.timeout <= 0:
        raise UsageError(f"--timeout {args.timeout}: expected a positive number of seconds")
    make_notebooks(
        lessons,
        args.out,
        execute=args.execute,
        params=args.param,
        seed=args.seed,
        quick=args.quick,
        force=args.force,
        timeout=args.timeout,
        progress=None if args.quiet else print,
    )
    return 0
