"""A bounded load test of `keraslab serve` on 127.0.0.1, beside a no-op FastAPI service measured in the same run.

It starts both servers (benchmarks/noop_server.py: FastAPI + uvicorn as keraslab runs them, an endpoint that does
nothing), sends single-row POST /predict requests at a fixed concurrency to each in alternating rounds, and reports
requests per second and latency percentiles for both and their ratio. Then it sends 200 requests of 11, 12, ...,
210 rows to keraslab's server one after another and reports their wall time and the server's resident memory before
and after (the bundle pads batches to a few sizes compiled at start-up, so neither should grow). It stops both
servers and exits.

    python benchmarks/load_test.py BUNDLE [--requests 1200] [--concurrency 16] [--rounds 3] [--csv ROWS.csv]
                                          [--max-p95-ms 50] [--min-ratio 0.5] [--no-baseline] [--no-sizes]

Exit 1 if any request failed, keraslab's rate is under --min-ratio of the no-op's, or (with --max-p95-ms) its 95th
percentile latency is over the limit.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(port: int, timeout: float = 120.0, proc=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited early with code {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the server on port {port} did not become healthy within {timeout:.0f} s")


@contextlib.contextmanager
def server(args: list[str]):
    """Start `python ARGS... PORT-args` on a free port; yields (port, process); stops it on exit."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, *[a.replace("{port}", str(port)) for a in args]],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_healthy(port, proc=proc)
        yield port, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def rss_mb(pid: int) -> float:
    """The resident memory of a process in MB (Linux /proc; NaN elsewhere)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def rows_from(bundle: str, csv: str | None, n: int) -> list[dict]:
    import pandas as pd

    schema = json.loads(Path(bundle, "schema.json").read_text())
    names = [c["name"] for c in schema["columns"]]
    if csv:
        frame = pd.read_csv(csv)
        frame = frame[[c for c in names if c in frame.columns]]
        records = json.loads(frame.to_json(orient="records"))
    else:  # a valid row built from the schema
        row = {}
        for c in schema["columns"]:
            row[c["name"]] = 1.0 if c["role"] == "numeric" else (c.get("values") or c.get("categories"))[0]
        records = [row]
    return [records[i % len(records)] for i in range(n)]


def hammer(port: int, payloads: list[bytes], concurrency: int, deadline: float) -> tuple[list, float]:
    """POST every payload to /predict from `concurrency` threads (one keep-alive connection each): ([(seconds or
    None, error or None)], wall seconds)."""
    local = threading.local()

    def one(body: bytes):
        if time.monotonic() > deadline:
            return None, "deadline"
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        t0 = time.perf_counter()
        try:
            conn.request("POST", "/predict", body=body, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            status = resp.status
        except OSError as exc:
            local.conn = None
            return None, type(exc).__name__
        return time.perf_counter() - t0, None if status == 200 else f"HTTP {status}"

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, payloads[:concurrency]))  # warm-up: one connection per thread
        t_start = time.perf_counter()
        results = list(pool.map(one, payloads))
        wall = time.perf_counter() - t_start
    return results, wall


def summarize(results: list, walls: list[float], rates: list[float]) -> dict:
    latencies = sorted(r[0] * 1000 for r in results if r[0] is not None and r[1] is None)
    errors = [r[1] for r in results if r[1] is not None]

    def pct(q):
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")

    return {
        "ok": len(latencies),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "max_ms": latencies[-1] if latencies else float("nan"),
        "mean_ms": statistics.mean(latencies) if latencies else float("nan"),
        "requests_per_second": statistics.median(rates) if rates else float("nan"),
        "requests_per_second_rounds": [round(r, 1) for r in rates],
    }


def varied_sizes(port: int, pid: int, records: list[dict], sizes=range(11, 211)) -> dict:
    """One request of each size in turn (a new size each time): wall time and the server's memory around it."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    before = rss_mb(pid)
    errors, t0 = 0, time.perf_counter()
    for n in sizes:
        body = json.dumps([records[i % len(records)] for i in range(n)]).encode()
        conn.request("POST", "/predict", body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        errors += resp.status != 200
    wall = time.perf_counter() - t0
    return {
        "requests": len(sizes),
        "rows": f"{min(sizes)}..{max(sizes)}",
        "errors": errors,
        "seconds": wall,
        "rss_mb_before": before,
        "rss_mb_after": rss_mb(pid),
    }


def run(
    bundle: str,
    requests: int = 1200,
    concurrency: int = 16,
    csv: str | None = None,
    timeout: float = 300.0,
    rounds: int = 3,
    baseline: bool = True,
    sizes: bool = True,
) -> dict:
    """keraslab's server (and the no-op baseline) under the same load; see the module's docstring."""
    deadline = time.monotonic() + timeout
    records = rows_from(bundle, csv, max(requests, 210))
    payloads = [json.dumps([r]).encode() for r in records[:requests]]
    per_round = [payloads[i::rounds] for i in range(rounds)]
    servers = {"keraslab": ["-m", "keraslab", "serve", bundle, "--port", "{port}", "--quiet"]}
    if baseline:
        servers["noop"] = [str(HERE / "noop_server.py"), "{port}"]
    results = {name: [] for name in servers}
    rates = {name: [] for name in servers}
    walls = {name: [] for name in servers}
    with contextlib.ExitStack() as stack:
        started = {name: stack.enter_context(server(args)) for name, args in servers.items()}
        for part in per_round:  # alternate the servers round by round: both see the same machine
            for name, (port, _) in started.items():
                res, wall = hammer(port, part, concurrency, deadline)
                results[name] += res
                walls[name].append(wall)
                rates[name].append(sum(1 for r in res if r[1] is None) / wall if wall else float("nan"))
        port, proc = started["keraslab"]
        varied = varied_sizes(port, proc.pid, records) if sizes else None
    report = {"requests": requests, "concurrency": concurrency, "rounds": rounds}
    for name in servers:
        report[name] = summarize(results[name], walls[name], rates[name])
    if baseline:
        report["ratio_to_noop"] = report["keraslab"]["requests_per_second"] / report["noop"]["requests_per_second"]
    if varied is not None:
        report["varied_sizes"] = varied
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle")
    parser.add_argument("--requests", type=int, default=1200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--csv", default=None, help="rows to send (default: one valid row built from the schema)")
    parser.add_argument("--max-p95-ms", type=float, default=None)
    parser.add_argument("--min-ratio", type=float, default=0.5, help="keraslab's rate over the no-op's, at least")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false", help="skip the no-op server")
    parser.add_argument("--no-sizes", dest="sizes", action="store_false", help="skip the 11..210-row requests")
    args = parser.parse_args(argv)
    report = run(
        args.bundle,
        args.requests,
        args.concurrency,
        args.csv,
        rounds=args.rounds,
        baseline=args.baseline,
        sizes=args.sizes,
    )
    print(json.dumps(report, indent=2))
    ours = report["keraslab"]
    failed = ours["errors"] > 0 or (args.max_p95_ms is not None and ours["p95_ms"] > args.max_p95_ms)
    if args.baseline and report["ratio_to_noop"] < args.min_ratio:
        print(f"keraslab's rate is {report['ratio_to_noop']:.2f} of the no-op's (limit {args.min_ratio})")
        failed = True
    if report.get("varied_sizes", {}).get("errors"):
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
