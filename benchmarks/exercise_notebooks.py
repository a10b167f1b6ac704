"""The nine notebooks with their exercises solved, executed quick in a Jupyter kernel as a learner runs them:
`keraslab notebook LESSON --quick --solutions --execute`, each a whole command from its start, on the real data
(CIFAR-10 is not among the shared data sets: the two CIFAR lessons run on Fashion-MNIST). Counts the checks that
passed in each executed notebook; the limit is 5 minutes for the nine on 2 cores.

    python benchmarks/exercise_notebooks.py --shared ../shared/datasets \
        --json benchmarks/results/exercise-notebooks.json
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
LIMIT_S = 300


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", default="../shared/datasets", help="the real datasets")
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args(argv)
    env = {**os.environ, "KERASLAB_DATA": str(Path(args.shared).resolve())}
    env.pop("KERAS_BACKEND", None)
    env.pop("KERASLAB_CHECKSUMS", None)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for lesson in LESSONS:
            argv_ = [sys.executable, "-m", "keraslab", "--quiet", "notebook", lesson, "--quick", "--solutions"]
            argv_ += ["--execute", "--out", tmp]
            if lesson in ("cifar10-ann", "cnn"):
                argv_ += ["--param", "dataset=fashion_mnist"]
            t0 = time.perf_counter()
            proc = subprocess.run(argv_, env=env, capture_output=True, text=True)
            seconds = time.perf_counter() - t0
            if proc.returncode:
                raise SystemExit(f"{lesson}: {proc.stderr.strip()}")
            nb = json.loads((Path(tmp) / f"{lesson}.ipynb").read_text())
            text = "".join(
                o.get("text", "") for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
            )
            marks = [line[:2] for line in text.splitlines()]
            row = {
                "lesson": lesson,
                "seconds": round(seconds, 1),
                "passed": marks.count("✓ "),
                "failed": marks.count("✗ "),
                "not_attempted": marks.count("○ "),
            }
            print(json.dumps(row), flush=True)
            rows.append(row)
    total = sum(r["seconds"] for r in rows)
    print("| lesson | executed with its solutions, s | checks passed | failed |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['lesson']} | {r['seconds']:.1f} | {r['passed']} | {r['failed']} |")
    print(f"the nine notebooks --quick --solutions --execute: {total:.1f} s (limit {LIMIT_S} s)")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "total_seconds": round(total, 1)}, indent=2) + "\n")
    return 0 if total <= LIMIT_S and not any(r["failed"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
