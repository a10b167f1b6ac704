"""`keraslab train | predict | serve`: a model bundle from your own table, its predictions, its HTTP service."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from keraslab.cli.common import add_declared, add_flags, command, print_summary, track
from keraslab.errors import UsageError
from keraslab.imbalance import REGISTRY
from keraslab.run_folders.folder import utc_stamp

ALLOW_MISSING = (
    "fill any missing value (absent, null, blank) as in training, and say so; without it a column that had no "
    "missing value in training is required"
)


def add_commands(sub) -> None:
    from keraslab.bundles.train_options import TRAIN_OPTIONS

    strategies = "; ".join(f"{s.name} ({s.summary})" for s in REGISTRY.values())
    parser = command(
        sub,
        "train",
        cmd_train,
        help="train a model bundle on your own table (CSV)",
        description=(
            "Train a model bundle (model, preprocessing, schema, report) on a CSV table: classes, or a quantity "
            "(regression). Example: keraslab train customer_churn.csv --target Churn --drop customerID --out "
            f"churn-bundle. Imbalance strategies: {strategies}."
        ).replace("%", "%%"),
    )
    parser.add_argument("csv", metavar="DATA.csv", help="the table to learn from, one row per example, with a header")
    parser.add_argument("--target", required=True, help="the column to predict")
    add_declared(parser, {n: p for n, p in TRAIN_OPTIONS.items() if n != "target"}, "training options")
    parser.add_argument("--out", metavar="DIR", help="the bundle folder (default: bundles/<csv>-<UTC time>)")
    add_flags(parser, "backend", "track")

    parser = command(
        sub,
        "predict",
        cmd_predict,
        help="predict new rows with a bundle",
        description="Predict every row of a CSV table with a bundle; rows are checked by the same rule as the "
        "server's (README: What a row is).",
    )
    parser.add_argument("bundle", metavar="BUNDLE", help="a folder keraslab train wrote")
    parser.add_argument("csv", metavar="NEW.csv", help="the rows to predict, with the training table's columns")
    parser.add_argument(
        "--output",
        metavar="PREDICTIONS.csv",
        help="where the predictions go (CSV; - for standard output; default: NEW.predictions.csv beside NEW.csv)",
    )
    parser.add_argument("--sep", help="the CSV's separator (default: sniffed from its header: comma, ; tab or |)")
    parser.add_argument("--encoding", help="the CSV's encoding (default: utf-8, else cp1252, else latin-1)")
    parser.add_argument("--id-column", help="a column to copy to the output as the row id")
    parser.add_argument("--allow-missing", action="store_true", help=ALLOW_MISSING)
    add_flags(parser, "backend")

    parser = command(
        sub,
        "serve",
        cmd_serve,
        help="serve a bundle over HTTP (needs keraslab[serve])",
        description="Serve a bundle: POST /predict, GET /docs (the request and answer, offline), /health, /model.",
    )
    parser.add_argument("bundle", metavar="BUNDLE", help="a folder keraslab train wrote")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--allow-missing", action="store_true", help=ALLOW_MISSING)
    add_flags(parser, "port", "client_timeout", "max_connections", "backend")
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="on a loopback address, also answer requests whose Host header names NAME (repeatable); only the "
        "loopback names otherwise (a DNS-rebinding guard)",
    )


def cmd_train(args) -> int:
    from keraslab.bundles import train_table
    from keraslab.bundles.train_options import TRAIN_OPTIONS, TrainOptions
    from keraslab.run_folders.tracking import tracker_from

    tracker = tracker_from(args.track)  # checked before any work

    given = {name: getattr(args, name) for name in TRAIN_OPTIONS if getattr(args, name) is not None}
    options = TrainOptions(**given, quiet=args.quiet)
    out = args.out or str(Path("bundles") / f"{Path(args.csv).stem}-{utc_stamp()}")
    folder, summary = train_table(args.csv, options, out, log=(lambda m: None) if args.quiet else print)
    print_summary(summary, folder, quiet=args.quiet)
    if tracker:
        track(folder, tracker, quiet=args.quiet)
    return 0


def cmd_predict(args) -> int:
    from keraslab.bundles import load

    output = args.output or default_output(args.csv)
    rows, warnings = load(args.bundle).predict_csv(
        args.csv,
        output,
        id_column=args.id_column,
        allow_missing=args.allow_missing,
        sep=args.sep,
        encoding=args.encoding,
    )
    for w in warnings:
        print(f"keraslab: warning: {w}", file=sys.stderr)
    if not args.quiet:  # on standard error when the predictions themselves go to standard output
        said = f"{rows} prediction{'s' if rows != 1 else ''} -> {'standard output' if output == '-' else output}"
        print(said, file=sys.stderr if output == "-" else sys.stdout)
    return 0


def default_output(csv: str) -> str:
    """NEW.predictions.csv beside NEW.csv."""
    from pathlib import Path

    path = Path(csv)
    return str(path.with_name(f"{path.stem}.predictions.csv"))


def cmd_serve(args) -> int:
    if importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("uvicorn") is None:
        raise UsageError("keraslab serve needs FastAPI and uvicorn: pip install 'keraslab[serve]'")
    from keraslab.serving.app import serve

    serve(
        args.bundle,
        host=args.host,
        port=args.port,
        log_level="warning" if args.quiet else "info",
        allow_hosts=args.allow_host,
        allow_missing=args.allow_missing,
        client_timeout=args.client_timeout,
        max_connections=args.max_connections,
    )
    return 0
