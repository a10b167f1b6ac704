"""Each lesson's full-size run, end to end in its own process, with keraslab's default stack against the course's
stack (Keras on TensorFlow, model.fit): wall time and peak resident memory (the child's rusage, what
`/usr/bin/time -v` reports as "Maximum resident set size").

    python benchmarks/lesson_times.py --json benchmarks/results/lesson-times.json

The course stack is `keraslab run LESSON --backend tensorflow` (model.fit; keraslab still gives it
steps_per_execution=16, which only helps it) and, for the CNN, Keras's own Conv2D and MaxPooling2D
(`--no-fast-layers`). CIFAR-10 is not in the shared data here, so the two CIFAR lessons run on Fashion-MNIST (60,000
real images, `--dataset fashion_mnist`). Exit 1 if any run fails or peaks above --max-gb.
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
    "keraslab": [],  # the default: JAX, keraslab's compiled epoch and fast layers
    "course": ["--backend", "tensorflow"],  # Keras on TensorFlow, model.fit
}


def command(lesson: str, stack: str, dataset: str) -> list[str]:
    """`keraslab run LESSON ...` for one stack (without --out)."""
    argv = ["keraslab", "--quiet", "run", lesson, *STACKS[stack]]
    if lesson in IMAGE_LESSONS:
        argv += ["--dataset", dataset]
    if lesson == "cnn" and stack == "course":
        argv.append("--no-fast-layers")
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lesson", action="append", choices=LESSONS, help="a lesson (repeatable; default: all)")
    parser.add_argument("--stack", action="append", choices=tuple(STACKS), help="default: both")
    parser.add_argument("--dataset", default="fashion_mnist", help="for the two CIFAR lessons (default: %(default)s)")
    parser.add_argument("--data", default=os.environ.get("KERASLAB_DATA", "../shared/datasets"), help="data home")
    parser.add_argument("--max-gb", type=float, default=2.5, help="exit 1 if a run peaks above this")
    parser.add_argument("--json", help="write the rows and the machine here")
    args = parser.parse_args(argv)
    env = {**os.environ, "KERASLAB_DATA": str(Path(args.data).resolve())}
    env.pop("KERAS_BACKEND", None)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for lesson in args.lesson or LESSONS:
            for stack in args.stack or STACKS:
                cmd = command(lesson, stack, args.dataset)
                out = Path(tmp) / f"{lesson}-{stack}"
                row = {"lesson": lesson, "stack": stack, "command": " ".join(cmd)}
                row |= measure([sys.executable, "-m", *cmd, "--out", str(out)], env)
                print(json.dumps(row), flush=True)
                rows.append(row)
    print(table(rows))
    if args.json:
        from keraslab.bench.harness import machine_info

        machine = {k: v for k, v in machine_info(0.0).items() if k != "matmul_gflops"}  # no rate measured here
        Path(args.json).write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n")
    failed = [r for r in rows if r["exit"] != 0 or r["peak_gb"] > args.max_gb]
    for r in failed:
        print(f"{r['lesson']} ({r['stack']}): exit {r['exit']}, peak {r['peak_gb']:.2f} GB {r['error'] or ''}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
