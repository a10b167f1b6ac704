"""A bounded load test of `keraslab serve` on 127.0.0.1: it starts the server, sends a fixed number of single-row
POST /predict requests at a fixed concurrency, reports latency percentiles and errors, stops the server and exits.

    python benchmarks/load_test.py BUNDLE [--requests 1200] [--concurrency 16] [--csv ROWS.csv] [--max-p95-ms 50]

Exit 1 if any request failed or (with --max-p95-ms) the 95th percentile latency is over the limit.
"""

from __future__ import annotations

import argparse
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


def run(bundle: str, requests: int, concurrency: int, csv: str | None = None, timeout: float = 300.0) -> dict:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "keraslab", "serve", bundle, "--port", str(port), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_healthy(port, proc=proc)
        payloads = [json.dumps([r]).encode() for r in rows_from(bundle, csv, requests)]
        local = threading.local()
        deadline = time.monotonic() + timeout

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

        # warm-up: compile the model's predict for a batch of one
        one(payloads[0])
        t_start = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            results = list(pool.map(one, payloads))
        wall = time.perf_counter() - t_start
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    latencies = sorted(r[0] * 1000 for r in results if r[0] is not None and r[1] is None)
    errors = [r[1] for r in results if r[1] is not None]

    def pct(q):
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")

    return {
        "requests": requests,
        "concurrency": concurrency,
        "ok": len(latencies),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "max_ms": latencies[-1] if latencies else float("nan"),
        "mean_ms": statistics.mean(latencies) if latencies else float("nan"),
        "requests_per_second": len(latencies) / wall if wall else float("nan"),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle")
    parser.add_argument("--requests", type=int, default=1200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--csv", default=None, help="rows to send (default: one valid row built from the schema)")
    parser.add_argument("--max-p95-ms", type=float, default=None)
    args = parser.parse_args(argv)
    report = run(args.bundle, args.requests, args.concurrency, args.csv)
    print(json.dumps(report, indent=2))
    failed = report["errors"] > 0 or (args.max_p95_ms is not None and report["p95_ms"] > args.max_p95_ms)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
