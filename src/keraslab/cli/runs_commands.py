"""`keraslab runs list | compare`: browse the run folders and put runs side by side."""

from __future__ import annotations

import sys

from keraslab.cli.common import Parser, command, print_table


def add_commands(sub) -> None:
    runs = sub.add_parser(
        "runs",
        help="list run folders, compare runs",
        description="Browse finished run folders and compare runs side by side.",
    )
    actions = runs.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser, required=True)
    parser = command(actions, "list", cmd_list, help="one line per run folder under ROOT (default: runs)")
    parser.add_argument("root", nargs="?", default="runs", metavar="ROOT")
    parser = command(
        actions,
        "compare",
        cmd_compare,
        help="configs' differences, summaries side by side and curves overlaid, for two or more runs",
    )
    parser.add_argument("runs", nargs="+", metavar="RUN")
    parser.add_argument("--out", metavar="FILE.html", help="also write the comparison as a self-contained page")
    parser = command(
        actions,
        "check",
        cmd_check,
        help="check run folders or bundles against their manifest: exit 1 naming each file that differs, is "
        "missing or was added",
    )
    parser.add_argument("folders", nargs="+", metavar="FOLDER")


def cmd_check(args) -> int:
    from keraslab.run_folders.integrity import check_folder

    failed = False
    for folder in args.folders:
        count, problems = check_folder(folder)
        for problem in problems:
            print(problem, file=sys.stderr)
        failed = failed or bool(problems)
        if not problems and not args.quiet:
            print(f"{folder}: all {count} files as written")
    return 1 if failed else 0


def _print_frame(frame, title: str) -> None:
    print_table(title, frame.columns, frame.itertuples(index=False), overflow="fold")


def cmd_list(args) -> int:
    """One plain line per run (greppable; the whole path last): time, lesson, seeds, kind, headline, folder."""
    from keraslab import lessons
    from keraslab.run_folders.browse import find_runs, list_frame

    problems: list[str] = []
    runs = find_runs(args.root, problems)
    for problem in problems:  # named, and left out; every readable run is still listed
        print(f"keraslab: warning: skipped {problem}", file=sys.stderr)
    if not runs:
        print(f"no finished run folders under {args.root}")
        return 0
    frame = list_frame(runs, {name: lesson.headline for name, lesson in lessons.all_lessons().items()})
    columns = ["created (UTC)", "lesson", "seeds", "kind", "headline"]
    widths = {c: max(len(c), *(len(str(v)) for v in frame[c])) for c in columns}
    print("  ".join(f"{c:<{widths[c]}}" for c in columns) + "  run")
    for row in frame.itertuples(index=False):
        values = dict(zip(frame.columns, row, strict=True))
        print("  ".join(f"{values[c]!s:<{widths[c]}}" for c in columns) + f"  {values['run']}")
    return 0


def cmd_compare(args) -> int:
    from keraslab.files import atomic_write_text
    from keraslab.run_folders.browse import read_run
    from keraslab.run_folders.compare import compare, render_compare_html

    comparison = compare([read_run(r) for r in args.runs])
    for note in comparison.notes:
        print(f"note: {note}")
    if len(comparison.config):
        _print_frame(comparison.config, "config: the options that differ")
    else:
        print("config: the same options")
    _print_frame(comparison.summary, "summaries")
    if args.out:
        atomic_write_text(args.out, render_compare_html(comparison))
        print(f"comparison page: {args.out}")
    return 0
