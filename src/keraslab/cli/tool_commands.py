"""`keraslab prove | bench | launch`: the from-scratch half proven, the speed measured, a job spread out."""

from __future__ import annotations

from keraslab.bench import IMPLS, MODELS
from keraslab.cli.common import add_flags, command, console, count_of, fail, parsed_by, print_table, split_list
from keraslab.distributed.launcher import launch
from keraslab.distributed.runtime import DEFAULT_TIMEOUT, TIMEOUT
from keraslab.files import atomic_write_json


def add_commands(sub) -> None:
    parser = command(
        sub, "prove", cmd_prove, help="prove keraslab.scratch against Keras and scikit-learn (exit 1 on a failure)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for the random test inputs (default: 0)")
    add_flags(parser, "backend")

    parser = command(
        sub,
        "bench",
        cmd_bench,
        help="time the course's models: keraslab vs stock model.fit (the course's code) vs a plain PyTorch loop",
    )
    parser.add_argument("--model", action="append", choices=MODELS, help="a model to time (repeatable; default: all)")
    parser.add_argument(
        "--backends",
        default="jax",
        help="comma-separated Keras backends (installed among jax, torch, tensorflow; default: jax)",
    )
    parser.add_argument(
        "--devices", default="cpu,gpu", help="cpu and/or gpu; GPU rows only where one is present (default: cpu,gpu)"
    )
    parser.add_argument(
        "--repeats", type=count_of("repeats"), default=3, help="timed epochs per row: median, min, max (default: 3)"
    )
    parser.add_argument(
        "--samples", type=count_of("samples"), help="train on this many samples instead of the full set"
    )
    parser.add_argument(
        "--impls",
        default=",".join(IMPLS),
        help="comma-separated: keraslab (keraslab's own training), keras-fit (stock model.fit on each backend: the "
        f"course's code), torch-eager (a plain PyTorch loop) (default: {','.join(IMPLS)})",
    )
    parser.add_argument("--no-reference", action="store_true", help="skip the plain PyTorch eager rows")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")

    parser = command(
        sub,
        "launch",
        cmd_launch,
        help="run a command as a distributed job of several processes (JAX)",
        description="Start (or, with --process-id, join) a JAX distributed job and run a keraslab "
        "command in each process: keraslab launch --processes 2 -- run churn. Process 0 "
        "writes the run folder.",
    )
    parser.add_argument(
        "--processes", type=count_of("processes"), required=True, metavar="N", help="processes in the whole job"
    )
    parser.add_argument(
        "--coordinator",
        metavar="HOST:PORT",
        help="process 0's address (default: 127.0.0.1 and a free port, all processes here)",
    )
    parser.add_argument(
        "--process-id",
        type=int,
        metavar="I",
        help="start only process I here (one command per machine); needs --coordinator",
    )
    parser.add_argument(
        "--timeout",
        type=parsed_by(TIMEOUT),
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"how long to wait for the coordinator, and for a silent process before the others "
        f"stop (default: {DEFAULT_TIMEOUT:g})",
    )
    # the command to run follows `--`, which argparse never sees (keraslab.cli.main.split_launch takes it off)
    parser.usage = parser.format_usage().removeprefix("usage: ").rstrip() + " -- COMMAND ..."


def cmd_prove(args) -> int:
    from rich.text import Text

    from keraslab.proof import all_checks
    from keraslab.run_folders.pages import fmt

    checks = all_checks(args.seed)
    verdict = {True: Text("pass", style="green"), False: Text("FAIL", style="red")}
    rows = [
        (c.check, fmt(c.ours, 8), fmt(c.reference, 8), fmt(c.difference, 3) if c.kind == "abs" else "-", *tail)
        for c in checks
        for tail in [(fmt(c.tolerance, 1), verdict[c.passed])]
    ]
    columns = ("check", "ours", "reference", "|difference|", "tolerance", "pass")
    print_table("keraslab.scratch against Keras and scikit-learn", columns, rows)
    failed = [c.check for c in checks if not c.passed]
    if failed:
        return fail(f"{len(failed)} check(s) failed: {'; '.join(failed)}", 1)
    print(f"all {len(checks)} checks passed")
    return 0


def cmd_bench(args) -> int:
    from keraslab.bench import run_bench

    report = run_bench(
        models=args.model or MODELS,
        backends=split_list(args.backends),
        devices=split_list(args.devices),
        repeats=args.repeats,
        samples=args.samples,
        impls=[i for i in split_list(args.impls) if not (args.no_reference and i == "torch-eager")],
        progress=None if args.quiet else print,
    )
    _print_bench(report)
    if args.json:
        atomic_write_json(args.json, report)
    return 0


def cmd_launch(args) -> int:
    return launch(
        args.command_args,
        processes=args.processes,
        coordinator=args.coordinator,
        process_id=args.process_id,
        timeout=args.timeout,
        debug=args.debug,
    )


BENCH_COLUMNS = ("model", "impl", "backend", "device", "samples", "median", "min", "max", "samples/s")
BENCH_COLUMNS += ("floor", "x floor", "kernels", "x kernels")


def _print_bench(report: dict) -> None:
    """`keraslab bench`'s table: seconds per epoch beside the FLOP floor and the kernels alone, then its notes."""
    m, out = report["machine"], console(140)
    out.print(f"{m['cpu']}, {m['cores']} cores; float32 matmul {m['matmul_gflops']} GFLOP/s; {m['date_utc']}")
    rows = []
    for r in report["rows"]:
        median, floor, kern = r["epoch_seconds_median"], r["floor_seconds"], r.get("kernel_seconds")
        times = [f"{median:.3f}", f"{r['epoch_seconds_min']:.3f}", f"{r['epoch_seconds_max']:.3f}"]
        beside = [f"{s:.3f}" if s else "-" for s in (floor,)] + [f"{median / floor:.2f}" if floor else "-"]
        beside += [f"{kern:.3f}" if kern else "-", f"{median / kern:.2f}" if kern else "-"]
        name = [r["model"], r["impl"], r["backend"], r["device"], r["samples"]]
        rows.append([*name, *times, f"{r['samples_per_second']:,.0f}", *beside])
    print_table("keraslab bench (seconds per epoch)", BENCH_COLUMNS, rows, left=4, width=140, no_wrap=True)
    if any(r.get("kernel_seconds") for r in report["rows"]):
        out.print(
            "floor: the epoch's FLOPs at the best matmul rate; kernels: the epoch's matrix products alone, as XLA "
            "runs them at this batch size (keraslab.bench.kernels)"
        )
    for r in report["rows"]:
        if "run_seconds_median" in r:
            out.print(
                f"{r['model']} / {r['impl']} / {r['backend']} / {r['device']}: {r['run_epochs']} epochs in "
                f"{r['run_seconds_median']:.2f} s (median)"
            )
    for e in report["ratios"]:
        parts = [f"{k.replace('_', ' ')} {v:.2f}x" for k, v in e.items() if isinstance(v, float)]
        if parts:
            out.print(f"{e['model']} ({e['backend']}, {e['device']}): " + ", ".join(parts))
    for note in report["notes"]:
        out.print(note)
