"""Time to result in one warm process: what README's "No process is left behind" tells a learner to do instead of a
warm worker (a Jupyter kernel, or an IPython session calling the library). In one Python process, each lesson is
run through `keraslab.running.run_lesson` once (that process's first run: it pays the imports, and compiles into
an empty cache folder) and then --repeats more times; the median of those is the warm figure, beside the whole
command's (benchmarks/start_times.py).

    python benchmarks/warm_process.py --shared ../shared/datasets --json benchmarks/results/warm-process.json

Rows: `run mnist` (the full MNIST, both networks) and `run churn --quick`, the rows with a warm target.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROWS = (("run mnist", "mnist", {}), ("run churn --quick", "churn", {"quick": True}))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", default="../shared/datasets", help="the data home (the real data sets)")
    parser.add_argument("--repeats", type=int, default=3, help="runs after the first one (median kept)")
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="warm-process-"))
    os.environ.update(KERASLAB_DATA=str(Path(args.shared).resolve()), KERASLAB_CACHE=str(tmp / "cache"))
    started = time.perf_counter()
    from keraslab import lessons, running  # what the process pays once: counted in the first run's row

    rows = []
    for label, name, values in ROWS:
        seconds = []
        for k in range(1 + args.repeats):
            running.run_lesson(lessons.get_lesson(name), values, out=tmp / f"{name}-{k}", quiet=True, offline=True)
            seconds.append(time.perf_counter() - started)
            started = time.perf_counter()
        first, warm = seconds[0], seconds[1:]
        rows.append({"command": label, "first_s": round(first, 2), "warm_s": round(statistics.median(warm), 2)})
        rows[-1]["warm_all_s"] = [round(s, 2) for s in warm]
        print(f"{label:22s} first {first:6.2f} s  warm {rows[-1]['warm_s']:6.2f} s  ({rows[-1]['warm_all_s']})")
    if args.json:
        sys.path.insert(0, str(Path(__file__).parent))
        from start_times import machine

        Path(args.json).write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
