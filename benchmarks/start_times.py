"""Time to result: every command a learner repeats, cold (keraslab's cache folder empty) and warm (the same
command again, the caches filled), each a whole command from its start, side by side in one sitting; with
--baseline-src, the same commands on another checkout's code (its src/ folder, first on PYTHONPATH) in the same
sitting, for a before/after.

    python benchmarks/start_times.py --shared ../shared/datasets --json benchmarks/results/start-times.json
    python benchmarks/start_times.py --baseline-src /tmp/before/src ...

Rows: `keraslab run mnist` (the full MNIST, both networks), `keraslab run LESSON --quick` for every lesson,
`keraslab run all --quick`, and the nine notebooks executed (`keraslab notebook --all --quick --execute`). Cold: an
empty cache folder; warm: the same command again, the caches filled (and, for a baseline from before keraslab
stopped leaving a warm worker behind, that worker listening: it is waited for, and stopped after the row). Warm is
the median of --repeats runs after the cold one. Each run's phases (metrics.json) are kept: where the time went.
Targets (warm, 2 cores, nothing else running): mnist <= 6 s, churn --quick <= 3 s, run all --quick <= 15 s, the
nine notebooks <= 45 s; cold no slower than before.
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
TARGETS = {"run mnist": 6.0, "run churn --quick": 3.0, "run all --quick": 15.0, "notebook --all --quick": 45.0}


def commands() -> list[tuple[str, list[str]]]:
    rows = [("run mnist", ["run", "mnist"])]
    for name in LESSONS:  # CIFAR-10 is not in ../shared: the image lessons run on the digits that ship (as CI's do)
        stand_in = ["--dataset", "mnist_5k"] if name in ("cifar10-ann", "cnn") else []
        rows.append((f"run {name} --quick", ["run", name, "--quick", *stand_in]))
    rows += [("run all --quick", ["run", "all", "--quick"])]
    rows += [("notebook --all --quick", ["notebook", "--all", "--quick", "--execute"])]
    return rows


# Commands that train nothing: their start-up is all there is to them
LIGHT = (["--version"], ["lessons"], ["data", "list"], ["runs", "list"], ["run", "--help"], ["notebook", "--help"])


def light_start_times(env: dict, repeats: int = 3) -> list[dict]:
    """The start-up of each command that trains nothing: best of `repeats` whole commands."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="start-times-light-") as tmp:
        for words in LIGHT:
            best = float("inf")
            for _ in range(repeats):
                started = time.perf_counter()
                subprocess.run([sys.executable, "-m", "keraslab", *words], env=env, capture_output=True, cwd=tmp)
                best = min(best, time.perf_counter() - started)
            rows.append({"command": " ".join(["keraslab", *words]), "seconds": round(best, 2)})
    return rows


def run_once(words: list[str], env: dict, work: Path) -> tuple[float, dict | None]:
    """Wall seconds of one whole command (in a fresh folder), and its phases when it wrote one run folder."""
    out = work / f"out-{time.monotonic_ns()}"
    offline = ["--offline"] if words[0] == "run" else []  # a notebook's kernel reads the data home as it is
    argv = [sys.executable, "-m", "keraslab", *words, *offline, "--quiet", "--out", str(out)]
    started = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=work)
    seconds = time.perf_counter() - started
    if proc.returncode not in (0, 3):
        raise SystemExit(f"{' '.join(words)} failed ({proc.returncode}): {proc.stderr.strip().splitlines()[-3:]}")
    metrics = out / "metrics.json"
    return seconds, json.loads(metrics.read_text()).get("phases") if metrics.is_file() else None


def measure(label: str, words: list[str], env: dict, repeats: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="start-times-") as tmp:
        work = Path(tmp)
        env = {**env, "KERASLAB_CACHE": str(work / "cache"), "HOME": str(work)}
        try:
            cold, cold_phases = run_once(words, env, work)
            wait_for_worker(work / "cache" / "workers")
            warm = [run_once(words, env, work) for _ in range(repeats)]
        finally:
            stop_workers(work / "cache" / "workers")
    best, best_phases = sorted(warm, key=lambda w: w[0])[len(warm) // 2]  # the median (the upper one of two)
    row = {"command": f"keraslab {label}", "cold_s": round(cold, 2), "warm_s": round(best, 2)}
    row |= {"warm_all_s": [round(w[0], 2) for w in warm], "cold_phases": cold_phases, "warm_phases": best_phases}
    if label in TARGETS:
        row["target_warm_s"] = TARGETS[label]
    return row


def wait_for_worker(folder: Path, seconds: float = 60.0) -> None:
    """Warm means the caches filled and, for a baseline that had one (keraslab before 2026-12), the warm worker the
    cold run left behind listening: it imported for a few seconds after the cold run ended."""
    if not folder.is_dir():  # today's code: no worker
        return
    deadline = time.monotonic() + seconds
    while not list(folder.glob("*.sock")) and time.monotonic() < deadline:
        time.sleep(0.2)


def stop_workers(folder: Path) -> None:
    """Stop the workers of a sitting's cache folder (each lock file holds its worker's process id)."""
    import signal

    for lock in folder.glob("*.lock") if folder.is_dir() else ():
        try:
            os.kill(int(lock.read_text().split()[0]), signal.SIGTERM)
        except (OSError, ValueError, IndexError):
            continue


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", default="../shared/datasets", help="the data home (the real data sets)")
    parser.add_argument("--repeats", type=int, default=3, help="warm runs after the cold one (median kept)")
    parser.add_argument("--only", action="append", help="only the rows whose command contains this (repeatable)")
    parser.add_argument("--baseline-src", help="also time another checkout's src/ folder (before), in this sitting")
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args(argv)
    base = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")}
    base["KERASLAB_DATA"] = str(Path(args.shared).resolve())
    versions = {"after": dict(base)}
    if args.baseline_src:
        versions = {"before": {**base, "PYTHONPATH": str(Path(args.baseline_src).resolve())}, **versions}
    rows = []
    light = {version: light_start_times(env) for version, env in versions.items()}
    for version, measured in light.items():
        for row in measured:
            print(f"{version:6s} {row['command']:40s} {row['seconds']:6.2f} s", flush=True)
    with tempfile.TemporaryDirectory(prefix="start-times-data-") as data:
        kernels = synthetic_home(Path(data), Path(args.shared))  # the notebooks read the CI's data (executors.py)
        for label, words in commands():
            if args.only and not any(part in label for part in args.only):
                continue
            for version, env in versions.items():
                env = {**env, **kernels} if words[0] == "notebook" else env
                rows.append(row := {"code": version, **measure(label, words, env, args.repeats)})
                target = f" (target {row['target_warm_s']} s)" if "target_warm_s" in row else ""
                cold, warm = row["cold_s"], row["warm_s"]
                print(f"{version:6s} {row['command']:40s} cold {cold:6.2f} s  warm {warm:6.2f} s{target}", flush=True)
                if args.json:  # after every row: a long sitting that stops keeps what it measured
                    result = {"machine": machine(), "light_commands": light, "rows": rows}
                    Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"machine": machine(), "light_commands": light, "rows": rows}, indent=1) + "\n"
        )
    return 0


def machine() -> dict:
    """The CPU the figures come from (`lscpu`'s model name) and how many cores."""
    try:
        lines = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        lines = []
    model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("Model name")), "unknown")
    return {"cpu": model, "cores": os.cpu_count()}


def synthetic_home(folder: Path, shared: Path) -> dict:
    """A data home of the real tables and small MNIST / CIFAR-10 files in the real formats, and the variables that
    vouch for them (keraslab.datasets.synthetic): what CI has, and what benchmarks/executors.py times."""
    argv = [sys.executable, "-m", "keraslab.datasets.synthetic", str(folder), "--from", str(shared.resolve())]
    checksums = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()
    return {"KERASLAB_DATA": str(folder), "KERASLAB_CHECKSUMS": checksums}


if __name__ == "__main__":
    sys.exit(main())
