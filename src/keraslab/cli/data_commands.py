"""`keraslab data list | verify | fetch | show | import`: the data home, its files and their hashes."""

from __future__ import annotations

from keraslab import datasets
from keraslab.cli.common import Parser, add_flags, command, fail, print_table
from keraslab.errors import UsageError


def add_commands(sub) -> None:
    data = sub.add_parser("data", help="list, verify, fetch and import datasets")
    actions = data.add_subparsers(dest="data_command", metavar="ACTION", parser_class=Parser, required=True)
    parser = command(
        actions,
        "list",
        cmd_list,
        help="datasets, their files, and whether they are present (in the data home, or shipped with keraslab) "
        "and verified",
    )
    add_flags(parser, "data_dir")
    parser = command(
        actions,
        "verify",
        cmd_verify,
        help="check the files' hashes: NAME exits 1 unless all are there and good; no NAME exits 1 on a bad file",
    )
    add_flags(parser, "data_dir")
    parser.add_argument("name", nargs="?", help="one dataset (default: all)")
    parser = command(
        actions,
        "fetch",
        cmd_fetch,
        help="download a dataset into the data home (one that ships with keraslab is only verified)",
    )
    add_flags(parser, "data_dir", "offline")
    parser.add_argument("name", nargs="?", help="one dataset")
    parser.add_argument("--all", action="store_true", help="every dataset: all that a full run of every lesson needs")
    parser = command(actions, "show", cmd_show, help="load a dataset through its parser and describe what it holds")
    add_flags(parser, "data_dir", "offline")
    parser.add_argument("name")
    parser = command(
        actions,
        "import",
        cmd_import,
        help="copy a file, or a folder of files (the four MNIST idx files), you downloaded by hand into the data "
        "home, after checking each",
    )
    add_flags(parser, "data_dir")
    parser.add_argument("name", help=f"the data set: {', '.join(datasets.REGISTRY)}")
    parser.add_argument("path", help="a file, or a folder holding the data set's files (recognised by their hash)")


def cmd_list(args) -> int:
    rows = []
    for name, spec in datasets.REGISTRY.items():
        found = datasets.status([name], args.data_dir)
        present, verified, n = sum(s.present for s in found), sum(s.verified for s in found), len(found)
        shipped = " (shipped)" if found and all(s.shipped for s in found) else ""
        size = _size(sum(s.size or 0 for s in found)) if present else "-"
        rows.append((name, n, f"{present}/{n}{shipped}", f"{verified}/{n}", size, spec.description))
    columns = ("name", "files", "present", "verified", "size", "description")
    print_table(f"datasets in {datasets.data_home(args.data_dir)}", columns, rows, left=len(columns))
    return 0


def _size(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.1f} KB" if size >= 1e3 else f"{size} B"


def cmd_verify(args) -> int:
    """NAME: exit 1 unless every file is present and verified. No NAME: check every file present, exit 1 if any is
    bad; the last line counts the datasets complete, missing and bad."""
    names = [datasets.get_spec(args.name).name] if args.name else list(datasets.REGISTRY)
    home = datasets.data_home(args.data_dir)
    state = {}
    for name in names:
        found = datasets.status([name], args.data_dir)
        for st in found:
            if not st.present:
                print(f"MISSING   {st.dataset}: {st.file} (not in {home})")
            elif st.verified:
                print(f"OK        {st.dataset}: {st.file}{' (shipped with keraslab)' if st.shipped else ''}")
            else:
                print(
                    f"MISMATCH  {st.dataset}: {st.path}: expected sha256 {st.expected_sha256}, got {st.actual_sha256}"
                )
        spec = datasets.get_spec(name)
        if spec.alternatives and not any(st.present for st in found):
            others = "; ".join(", ".join(f.name for f in layout) for layout in spec.layouts[1:])
            print(f"          ({name} may also come as: {others}; `keraslab data import {name} FOLDER`)")
        bad = any(st.present and not st.verified for st in found)
        state[name] = "bad" if bad else "complete" if all(st.verified for st in found) else "missing"
    counts = {k: sum(v == k for v in state.values()) for k in ("complete", "missing", "bad")}
    fetch = " (`keraslab data fetch NAME` gets one, `--all` every one)" if counts["missing"] else ""
    print(f"{counts['complete']} dataset(s) complete, {counts['missing']} missing, {counts['bad']} bad{fetch}")
    if counts["bad"] or (args.name and counts["missing"]):
        what = [f"{n} {s}" for n, s in state.items() if s == "bad" or (args.name and s == "missing")]
        return fail(f"verification failed: {', '.join(what)} (in {home})", 1)
    return 0


def cmd_fetch(args) -> int:
    """One dataset, or with --all every one, each file downloaded (with a progress bar) unless it is already in the
    data home or ships with keraslab; every file verified."""
    if bool(args.all) == bool(args.name):
        raise UsageError("data fetch: name one dataset, or give --all (see `keraslab data fetch --help`)")
    for name in datasets.REGISTRY if args.all else [datasets.get_spec(args.name).name]:
        paths = datasets.dataset_paths(name, data_dir=args.data_dir, offline=args.offline, quiet=args.quiet)
        for file, path in paths.items():
            if path.is_relative_to(datasets.home.SHIPPED):
                print(f"{name}: {file} ships with keraslab, verified ({path})")
            else:
                print(f"{name}: {file} -> {path} (verified)")
    return 0


def cmd_show(args) -> int:
    for line in datasets.describe(args.name, data_dir=args.data_dir, offline=args.offline, quiet=args.quiet):
        print(line)
    return 0


def cmd_import(args) -> int:
    for dest in datasets.import_file(args.name, args.path, data_dir=args.data_dir):
        print(f"{args.name}: {dest} (verified)")
    return 0
