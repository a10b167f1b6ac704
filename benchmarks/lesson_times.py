"""Each lesson's full-size run, end to end in its own process, with keraslab's default stack against the course's
stack (Keras on TensorFlow, model.fit): wall time and peak resident memory (the child's rusage, what
`/usr/bin/time -v` reports as "Maximum resident set size").

    python benchmarks/lesson_times.py --json benchmarks/results/lesson-times.json

The course stack is `keraslab run LESSON --backend tensorflow` (model.fit; keraslab still gives it
steps_per_execution=16, which only helps it); the CNN is Keras's own Conv2D and MaxPooling2D on both (keraslab
computes them faster inside its compiled epoch on JAX). CIFAR-10 is not in the shared data here, so the two CIFAR
lessons run on Fashion-MNIST (60,000 real images, `--dataset fashion_mnist`). Exit 1 if any run fails or peaks
above --max-gb.

    python benchmarks/lesson_times.py --stack keraslab --baseline /tmp/base/src --repeats 2

`--baseline SRC` also runs every lesson with another keraslab source tree first on the path (say a `git worktree`
of an earlier commit), in the same sitting, alternating with this one, and tables this tree against it: the time
of each (best of --repeats), the slowdown allowed (10% or 3 s, whichever is larger) and whether the headline
figures are the same. Exit 1 also if a lesson is slower than allowed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LESSONS = ("losses", "gradient-descent", "gd-variants", "mnist", "cifar10-ann", "churn", "dropout", "imbalance", "cnn")
KERAS_TRAINING = LESSONS[1:]  # every lesson but losses trains a Keras model
IMAGE_LESSONS = {"cifar10-ann", "cnn"}
STACKS = {
    "keraslab": [],  # the default: JAX, keraslab's compiled epoch (with its fast Conv2D and MaxPooling2D)
    "course": ["--backend", "tensorflow"],  # Keras on TensorFlow, model.fit
}
BASELINE = "baseline"  # the keraslab stack of another source tree (--baseline)


def command(lesson: str, stack: str, dataset: str) -> list[str]:
    """`keraslab run LESSON ...` for one stack (without --out)."""
    argv = ["keraslab", "--quiet", "run", lesson, *STACKS.get(stack, [])]
    if lesson in IMAGE_LESSONS:
        argv += ["--dataset", dataset]
    return argv


def measure(argv: list[str], env: dict) -> dict:
    """Wall seconds and peak resident memory (GB) of one process, from its own rusage (os.wait4)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - t0
    return {
        "seconds": round(seconds, 2),
        "peak_gb": round(usage.ru_maxrss / 1024**2, 3),  # ru_maxrss is in KB on Linux
        "exit": proc.returncode,
        "error": err.strip().splitlines()[-1] if proc.returncode and err.strip() else None,
    }


def table(rows: list[dict]) -> str:
    lines = [
        "| lesson | keraslab (JAX) s | peak GB | course stack (TF, model.fit) s | peak GB | course / keraslab |",
        "|---|---|---|---|---|---|",
    ]
    by = {(r["lesson"], r["stack"]): r for r in rows}
    totals = {"keraslab": 0.0, "course": 0.0}
    for lesson in dict.fromkeys(r["lesson"] for r in rows):
        ours, theirs = by.get((lesson, "keraslab")), by.get((lesson, "course"))
        cells = [lesson]
        for r in (ours, theirs):
            cells += [f"{r['seconds']:.1f}", f"{r['peak_gb']:.2f}"] if r else ["-", "-"]
        cells.append(f"{theirs['seconds'] / ours['seconds']:.2f}x" if ours and theirs else "-")
        lines.append("| " + " | ".join(cells) + " |")
        if ours and theirs and lesson in KERAS_TRAINING:
            totals["keraslab"] += ours["seconds"]
            totals["course"] += theirs["seconds"]
    if totals["keraslab"]:
        lines.append(
            f"| **total, the {len(KERAS_TRAINING)} lessons that train Keras models** | {totals['keraslab']:.1f} | | "
            f"{totals['course']:.1f} | | **{totals['course'] / totals['keraslab']:.2f}x** |"
        )
    return "\n".join(lines)


def slower_than_allowed(ours: float, theirs: float) -> bool:
    """More than 10% or 3 s (whichever is larger) slower than the baseline."""
    return ours > theirs + max(0.10 * theirs, 3.0)


def baseline_table(rows: list[dict]) -> str:
    """This tree against --baseline: best time of each, the slowdown allowed, the headline figures."""
    best = {}
    for r in rows:
        key = (r["lesson"], r["stack"])
        if r["exit"] == 0 and (key not in best or r["seconds"] < best[key]["seconds"]):
            best[key] = r
    lines = [
        "| lesson | this tree s | peak GB | baseline s | peak GB | this / baseline | allowed | same headline |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for lesson in dict.fromkeys(r["lesson"] for r in rows):
        ours, theirs = best.get((lesson, "keraslab")), best.get((lesson, BASELINE))
        if not (ours and theirs):
            lines.append(f"| {lesson} | - | - | - | - | - | - | - |")
            continue
        limit = theirs["seconds"] + max(0.10 * theirs["seconds"], 3.0)
        missed = " MISSED" if slower_than_allowed(ours["seconds"], theirs["seconds"]) else ""
        key = ours.get("headline")
        same = "-" if key is None else ("yes" if ours["summary"].get(key) == theirs["summary"].get(key) else "NO")
        lines.append(
            f"| {lesson} | {ours['seconds']:.1f} | {ours['peak_gb']:.2f} | {theirs['seconds']:.1f} | "
            f"{theirs['peak_gb']:.2f} | {ours['seconds'] / theirs['seconds']:.2f}x | <= {limit:.1f} s"
            f"{missed} | {same} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lesson", action="append", choices=LESSONS, help="a lesson (repeatable; default: all)")
    parser.add_argument("--stack", action="append", choices=tuple(STACKS), help="default: both")
    parser.add_argument("--dataset", default="fashion_mnist", help="for the two CIFAR lessons (default: %(default)s)")
    parser.add_argument("--data", default=os.environ.get("KERASLAB_DATA", "../shared/datasets"), help="data home")
    parser.add_argument("--max-gb", type=float, default=2.5, help="exit 1 if a run peaks above this")
    parser.add_argument("--json", help="write the rows and the machine here")
    parser.add_argument("--baseline", metavar="SRC", help="another keraslab source tree to time beside this one")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each lesson and stack (the best is tabled)")
    args = parser.parse_args(argv)
    env = {**os.environ, "KERASLAB_DATA": str(Path(args.data).resolve())}
    env.pop("KERAS_BACKEND", None)
    stacks = list(args.stack or STACKS) + ([BASELINE] if args.baseline else [])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for lesson in args.lesson or LESSONS:
            for repeat in range(args.repeats):
                for stack in stacks:
                    cmd = command(lesson, stack, args.dataset)
                    out = Path(tmp) / f"{lesson}-{stack}-{repeat}"
                    row = {"lesson": lesson, "stack": stack, "command": " ".join(cmd)}
                    run_env = {**env, "PYTHONPATH": str(Path(args.baseline).resolve())} if stack == BASELINE else env
                    row |= measure([sys.executable, "-m", *cmd, "--out", str(out)], run_env)
                    if row["exit"] == 0:
                        metrics = json.loads((out / "metrics.json").read_text())
                        row |= {"summary": metrics["summary"], "headline": metrics.get("headline")}
                    print(json.dumps(row), flush=True)
                    rows.append(row)
    print(table([r for r in rows if r["stack"] in STACKS]))
    if args.baseline:
        print(baseline_table(rows))
    if args.json:
        from keraslab.bench.harness import machine_info

        machine = {k: v for k, v in machine_info(0.0).items() if k != "matmul_gflops"}  # no rate measured here
        Path(args.json).write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n")
    failed = [r for r in rows if r["exit"] != 0 or r["peak_gb"] > args.max_gb]
    for r in failed:
        print(f"{r['lesson']} ({r['stack']}): exit {r['exit']}, peak {r['peak_gb']:.2f} GB {r['error'] or ''}")
    return 1 if failed or "MISSED" in (baseline_table(rows) if args.baseline else "") else 0


if __name__ == "__main__":
    raise SystemExit(main())
