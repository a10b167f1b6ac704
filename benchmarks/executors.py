"""The two ways to run a lesson's script, side by side in one sitting: in the command's own process (`keraslab run
LESSON --quick`, what keraslab does) and in a Jupyter kernel (`keraslab notebook LESSON --quick --execute`, as a
learner does), each a whole command from its start, on the CI's data (the real tables, small MNIST / CIFAR-10 files
in the real formats), best of --repeats.

    python benchmarks/executors.py --repeats 2

Also times `keraslab notebook --all --quick --execute` (the nine notebooks, one kernel each): the limit is
4 minutes on 2 cores.
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

LESSONS = ("mnist", "losses", "gradient-descent", "gd-variants", "cifar10-ann", "churn", "dropout", "imbalance", "cnn")


def timed(argv: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr.strip().splitlines()[-1:]}")
    return time.perf_counter() - t0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--lesson", action="append", choices=LESSONS)
    parser.add_argument("--shared", default="../shared/datasets", help="the real datasets")
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args(argv)
    keraslab = [sys.executable, "-m", "keraslab", "--quiet"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        checksums = subprocess.run(
            [
                sys.executable,
                "-m",
                "keraslab.datasets.synthetic",
                str(data),
                "--from",
                str(Path(args.shared).resolve()),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        env = {**os.environ, "KERASLAB_DATA": str(data), "KERASLAB_CHECKSUMS": checksums}
        env.pop("KERAS_BACKEND", None)
        for lesson in args.lesson or LESSONS:
            best = {"in process": float("inf"), "in a kernel": float("inf")}
            for r in range(args.repeats):
                out = Path(tmp) / f"{lesson}-{r}"
                best["in process"] = min(
                    best["in process"], timed([*keraslab, "run", lesson, "--quick", "--out", str(out / "run")], env)
                )
                nb = [*keraslab, "notebook", lesson, "--quick", "--execute", "--out", str(out / "nb")]
                best["in a kernel"] = min(best["in a kernel"], timed(nb, env))
            row = {"lesson": lesson, **{k: round(v, 2) for k, v in best.items()}}
            print(json.dumps(row), flush=True)
            rows.append(row)
        all_nine = timed([*keraslab, "notebook", "--all", "--quick", "--execute", "--out", str(Path(tmp) / "all")], env)
    print("| lesson | in the command's process s | in a Jupyter kernel s | kernel - process s |")
    print("|---|---|---|---|")
    for r in rows:
        gap = r["in a kernel"] - r["in process"]
        print(f"| {r['lesson']} | {r['in process']:.1f} | {r['in a kernel']:.1f} | {gap:+.1f} |")
    print(f"keraslab notebook --all --quick --execute: {all_nine:.1f} s (limit 240 s)")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"rows": rows, "notebook_all_seconds": round(all_nine, 1)}, indent=2) + "\n"
        )
    return 0 if all_nine <= 240 else 1


if __name__ == "__main__":
    raise SystemExit(main())
