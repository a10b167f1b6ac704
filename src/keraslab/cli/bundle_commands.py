"""`keraslab train | predict | serve`: a model bundle from your own table, its predictions, its HTTP service."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from keraslab.backend import use_backend
from keraslab.cli.common import add_declared, command, print_summary, split_list
from keraslab.errors import KeraslabError, UsageError
from keraslab.imbalance import REGISTRY
from keraslab.run_folders.folder import utc_stamp

ALLOW_MISSING = (
    "fill any missing value (absent, null, blank) as in training, and say so; without it a column that had no "
    "missing value in training is required"
)


def _in_range(name: str, lo: float, hi: float, kind=int):
    """An argparse type: `kind` of the text, in [lo, hi] for integers, (lo, hi) for numbers; one line naming `name`
    otherwise (NaN and the infinities are never inside)."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not (lo <= value <= hi if kind is int else lo < value < hi):
            interval, what = (f"[{lo}, {hi}]", "an integer") if kind is int else (f"({lo}, {hi})", "a number")
            raise argparse.ArgumentTypeError(
                f"Invalid value for `{name}`. Expected {what} in {interval}. Received: {text}"
            )
        return value

    return parse


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
    parser.add_argument("--backend", help="Keras backend (default: $KERAS_BACKEND, else jax)")
    parser.add_argument(
        "--track",
        metavar="mlflow",
        help="also log the bundle to MLflow (options, metrics per epoch, report) at $MLFLOW_TRACKING_URI, else "
        "MLflow's default store (default: $KERASLAB_TRACKING, else none)",
    )

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
    parser.add_argument("--output", required=True, metavar="PREDICTIONS.csv", help="where the predictions go (CSV)")
    parser.add_argument("--id-column", help="a column to copy to the output as the row id")
    parser.add_argument("--allow-missing", action="store_true", help=ALLOW_MISSING)
    parser.add_argument("--backend", help="Keras backend (default: $KERAS_BACKEND, else jax)")

    parser = command(
        sub,
        "serve",
        cmd_serve,
        help="serve a bundle over HTTP (needs keraslab[serve])",
        description="Serve a bundle: POST /predict, GET /docs (the request and answer, offline), /health, /model.",
    )
    parser.add_argument("bundle", metavar="BUNDLE", help="a folder keraslab train wrote")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument(
        "--port", type=_in_range("port", 1, 65535), default=8000, help="port, 1 to 65535 (default: 8000)"
    )
    parser.add_argument("--allow-missing", action="store_true", help=ALLOW_MISSING)
    parser.add_argument(
        "--client-timeout",
        type=_in_range("client_timeout", 0, float("inf"), float),
        default=10.0,
        metavar="SECONDS",
        help="drop a client that has not sent its request's headers, or then its body, within SECONDS (default: 10)",
    )
    parser.add_argument(
        "--max-connections",
        type=_in_range("max_connections", 1, 65535),
        default=200,
        metavar="N",
        help="serve at most N connections and requests at once; the rest get 503 (default: 200)",
    )
    parser.add_argument("--backend", help="Keras backend (default: $KERAS_BACKEND, else jax)")
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="on a loopback address, also answer requests whose Host header names NAME (repeatable); only the "
        "loopback names otherwise (a DNS-rebinding guard)",
    )


def cmd_train(args) -> int:
    use_backend(args.backend)
    from keraslab.bundles import TrainOptions, train_table
    from keraslab.bundles.train_options import TRAIN_OPTIONS
    from keraslab.cli.run_output import track
    from keraslab.run_folders.tracking import tracker_from

    tracker = tracker_from(args.track)  # checked before any work

    given = {name: getattr(args, name) for name in TRAIN_OPTIONS if getattr(args, name) is not None}
    given["drop"] = tuple(split_list(given.get("drop", "")))
    options = TrainOptions(**given, quiet=args.quiet)
    out = args.out or str(Path("bundles") / f"{Path(args.csv).stem}-{utc_stamp()}")
    folder, summary = train_table(args.csv, options, out, log=(lambda m: None) if args.quiet else print)
    print_summary(summary, folder, quiet=args.quiet)
    if tracker:
        track(folder, tracker, quiet=args.quiet)
    return 0


def cmd_predict(args) -> int:
    use_backend(args.backend)
    from keraslab.bundles import load
    from keraslab.datasets import read_csv
    from keraslab.files import atomic_write_text

    bundle = load(args.bundle)
    frame = read_csv(args.csv, required=[args.id_column] if args.id_column else None)
    try:
        out, warnings = bundle.predict_frame(frame, id_column=args.id_column, allow_missing=args.allow_missing)
    except KeraslabError as exc:
        raise type(exc)(f"{args.csv}: {exc}") from None
    for w in warnings:
        print(f"keraslab: warning: {w}", file=sys.stderr)
    atomic_write_text(args.output, out.to_csv(index=False))
    if not args.quiet:
        print(f"{len(out)} prediction{'s' if len(out) != 1 else ''} -> {args.output}")
    return 0


def cmd_serve(args) -> int:
    if importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("uvicorn") is None:
        raise UsageError("keraslab serve needs FastAPI and uvicorn: pip install 'keraslab[serve]'")
    use_backend(args.backend)
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
