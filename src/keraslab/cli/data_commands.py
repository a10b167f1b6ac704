"""`keraslab data list | verify | fetch | show | import`: the data home, its files and their hashes."""

from __future__ import annotations

from keraslab import datasets
from keraslab.cli.common import Parser, add_data_home, command, console, fail


def add_commands(sub) -> None:
    data = sub.add_parser("data", help="list, verify, fetch and import datasets")
    actions = data.add_subparsers(dest="data_command", metavar="ACTION", parser_class=Parser, required=True)
    add_data_home(
        command(actions, "list", cmd_list, help="datasets, their files, and whether they are present and verified")
    )
    parser = command(
        actions, "verify", cmd_verify, help="check the sha256 of every present file (exit 1 on any mismatch)"
    )
    add_data_home(parser)
    parser.add_argument("name", nargs="?", help="one dataset (default: all)")
    parser = command(actions, "fetch", cmd_fetch, help="download a dataset into the data home")
    add_data_home(parser)
    parser.add_argument("name")
    parser = command(actions, "show", cmd_show, help="load a dataset through its parser and describe what it holds")
    add_data_home(parser)
    parser.add_argument("name")
    parser = command(
        actions, "import", cmd_import, help="copy a file you downloaded by hand into the data home, after checking it"
    )
    add_data_home(parser)
    parser.add_argument("name")
    parser.add_argument("path")


def cmd_list(args) -> int:
    from rich.table import Table

    table = Table(title=f"datasets in {datasets.data_home(args.data_dir)}")
    for col in ("name", "files", "present", "verified", "size", "description"):
        table.add_column(col)
    for name, spec in datasets.REGISTRY.items():
        found = datasets.status([name], args.data_dir)
        present = sum(s.present for s in found)
        verified = sum(s.verified for s in found)
        size = sum(s.size or 0 for s in found)
        table.add_row(
            name,
            str(len(found)),
            f"{present}/{len(found)}",
            f"{verified}/{len(found)}",
            f"{size / 1e6:.1f} MB" if present else "-",
            spec.description,
        )
    console().print(table)
    return 0


def cmd_verify(args) -> int:
    if args.name:
        datasets.get_spec(args.name)
    failed = 0
    for st in datasets.status([args.name] if args.name else None, args.data_dir):
        if not st.present:
            line = f"MISSING   {st.dataset}: {st.file} (not in {datasets.data_home(args.data_dir)})"
            failed += bool(args.name)
        elif st.verified:
            line = f"OK        {st.dataset}: {st.file}"
        else:
            line = f"MISMATCH  {st.dataset}: {st.path}: expected sha256 {st.expected_sha256}, got {st.actual_sha256}"
            failed += 1
        print(line)
    if failed:
        return fail(f"{failed} file(s) failed verification", 1)
    return 0


def cmd_fetch(args) -> int:
    paths = datasets.dataset_paths(args.name, data_dir=args.data_dir, offline=args.offline, quiet=args.quiet)
    for name, path in paths.items():
        print(f"{args.name}: {name} -> {path} (verified)")
    return 0


def cmd_show(args) -> int:
    for line in datasets.describe(args.name, data_dir=args.data_dir, offline=args.offline, quiet=args.quiet):
        print(line)
    return 0


def cmd_import(args) -> int:
    dest = datasets.import_file(args.name, args.path, data_dir=args.data_dir)
    print(f"{args.name}: imported {args.path} -> {dest} (verified)")
    return 0
