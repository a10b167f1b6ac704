"""`keraslab notebook LESSON | --all`: a lesson as a Jupyter notebook, optionally executed in a kernel; and
`keraslab exercises [LESSON]`: the exercises at the end of the lessons."""

from __future__ import annotations

from keraslab.cli.common import FLAGS, add_flags, command, jobs_for
from keraslab.errors import UsageError
from keraslab.lessons import COURSE_ORDER


def add_commands(sub) -> None:
    add_notebook_command(sub)
    add_exercises_command(sub)


def add_notebook_command(sub) -> None:
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
    parser.add_argument(
        "--solutions",
        action="store_true",
        help="fill in the exercises' reference solutions (without it the learner gets empty stubs)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing notebooks")
    add_flags(parser, "timeout", "jobs", jobs="with --execute: N kernels at a time, " + FLAGS["jobs"].help)


def add_exercises_command(sub) -> None:
    parser = command(
        sub,
        "exercises",
        cmd_exercises,
        help="list the lessons' exercises, with their kind and whether each is checked",
        description="List every exercise at the end of the lessons (or of one LESSON): its number, kind (write it, "
        "build it, predict, then run), whether `check(...)` checks it (and under which name), and its title. Do "
        "them in `keraslab notebook LESSON`; `--solutions` writes the notebook with the reference solutions.",
    )
    parser.add_argument("lesson", nargs="?", metavar="LESSON", help="one lesson (default: every lesson)")


def cmd_exercises(args) -> int:
    from keraslab.lessons import all_lessons, get_lesson

    chosen = [get_lesson(args.lesson)] if args.lesson else list(all_lessons().values())
    rows = [e for lesson in chosen for e in lesson.exercises]
    width = max((len(e.lesson) for e in rows), default=0)
    kinds = max((len(e.kind) for e in rows), default=0)
    ids = max((len(e.checker or "") for e in rows), default=0)
    for e in rows:
        checked = e.checker if e.checked else "(not checked)"
        print(f"{e.lesson:<{width}}  {e.number}  {e.kind:<{kinds}}  {checked:<{max(ids, 13)}}  {e.title}")
    total, checked_count = len(rows), sum(e.checked for e in rows)
    print(f"{total} exercises, {checked_count} checked on the spot; `keraslab notebook LESSON` to do them")
    return 0


def cmd_notebook(args) -> int:
    from keraslab.lessons import get_lesson
    from keraslab.lessons.notebook import make_notebooks

    if args.all == bool(args.lessons):
        raise UsageError("name a LESSON or pass --all; lessons: " + ", ".join(COURSE_ORDER))
    lessons = list(COURSE_ORDER) if args.all else [get_lesson(name).name for name in dict.fromkeys(args.lessons)]
    make_notebooks(
        lessons,
        args.out,
        execute=args.execute,
        params=args.param,
        seed=args.seed,
        quick=args.quick,
        force=args.force,
        solutions=args.solutions,
        timeout=args.timeout,
        progress=None if args.quiet else print,
        jobs=jobs_for(args.jobs, quick=args.quick),
    )
    return 0
