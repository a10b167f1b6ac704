"""`keraslab bench`: time the course's models, on every requested backend and device, each row in its own process:
keraslab's own path (`keraslab`), the course's stock `model.fit` on the same backend (`keras-fit`) and a plain
PyTorch eager loop (`torch-eager`); report medians, throughput, the FLOP floor, the time of the steps' matrix
products alone on the engine that trains (keraslab.bench.kernels) and the ratios between them."""

from __future__ import annotations

import datetime as _dt
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys

from keraslab.backend import BACKENDS
from keraslab.bench.flops import BATCH, MODEL_FLOPS_PER_SAMPLE, matmul_gflops
from keraslab.bench.keras_impl import EPOCHS_PER_UNIT
from keraslab.bench.names import IMPLS, MODELS
from keraslab.errors import KeraslabError, UsageError
from keraslab.options import count
from keraslab.run_folders.manifest import package_version


def installed_backends() -> list[str]:
    return [b for b in BACKENDS if importlib.util.find_spec(b) is not None]


def _worker(arg: str, env_backend: str | None = None, timeout: float = 3600) -> dict:
    env = dict(os.environ)
    if env_backend:
        env["KERAS_BACKEND"] = env_backend
    proc = subprocess.run(
        [sys.executable, "-m", "keraslab.bench.worker", arg], capture_output=True, text=True, env=env, timeout=timeout
    )
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise KeraslabError(f"benchmark worker failed for {arg}: {tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def machine_info(rate: float) -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            names = [ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "matmul_gflops": round(rate, 1),
        "versions": {
            k: package_version(k)
            for k in ("keraslab", "keras", "jax", "jaxlib", "torch", "tensorflow", "tensorflow-cpu", "numpy")
            if package_version(k)
        },
    }


def plan(models, backends, devices, gpus: dict, impls=IMPLS) -> list[dict]:
    """The rows to time: per model and device, each backend's keraslab and keras-fit rows, then the PyTorch loop."""
    rows = []
    for model in models:
        for device in devices:
            for backend in backends:
                if device == "gpu" and not gpus.get(backend):
                    continue
                rows += [
                    {"model": model, "impl": impl, "backend": backend, "device": device}
                    for impl in ("keraslab", "keras-fit")
                    if impl in impls
                ]
            if "torch-eager" in impls and (device == "cpu" or gpus.get("torch-eager")):
                rows.append({"model": model, "impl": "torch-eager", "backend": "torch", "device": device})
    return rows


def finish_row(spec: dict, result: dict, rate: float, kernel_step: dict | None = None) -> dict:
    """A timed row with its per-epoch figures; on the CPU its FLOP floor and, given the seconds per step of each
    model's products (`kernel_step`), the epoch's products alone (samples / batch steps)."""
    per_epoch = [t / EPOCHS_PER_UNIT[spec["model"]] for t in result["unit_seconds"]]
    median = statistics.median(per_epoch)
    samples = result["samples"]
    cpu = spec["device"] == "cpu"
    floor = MODEL_FLOPS_PER_SAMPLE[spec["model"]] * samples / (rate * 1e9) if cpu else None
    step = (kernel_step or {}).get(spec["model"]) if cpu else None
    row = {
        **spec,
        "samples": samples,
        "epoch_seconds_median": median,
        "epoch_seconds_min": min(per_epoch),
        "epoch_seconds_max": max(per_epoch),
        "samples_per_second": samples / median,
        "floor_seconds": floor,
        "kernel_seconds": None if step is None else step * samples / BATCH,
        "repeats": len(per_epoch),
    }
    if EPOCHS_PER_UNIT[spec["model"]] > 1:
        row["run_epochs"] = EPOCHS_PER_UNIT[spec["model"]]
        row["run_seconds_median"] = statistics.median(result["unit_seconds"])
    return row


def _check_names(kind: str, given, known) -> None:
    for name in given:
        if name not in known:
            raise UsageError(f"Unknown {kind} {name!r}. Expected one of: {', '.join(known)}")


def check_request(models, backends, devices, repeats: int, impls=IMPLS, samples: int | None = None) -> None:
    """UsageError for an unknown model, implementation, backend or device, a backend that is not installed,
    repeats < 1 or samples < 1."""
    _check_names("benchmark model", models, MODELS)
    _check_names("benchmark implementation", impls, IMPLS)
    _check_names("backend", backends, BACKENDS)
    available = installed_backends()
    for b in backends:
        if b not in available:
            raise UsageError(
                f"Backend {b!r} is not installed (installed: {', '.join(available)}); install it "
                f"with: pip install 'keraslab[{b}]'"
            )
    for d in devices:
        if d not in ("cpu", "gpu"):
            raise UsageError(f"Unknown device {d!r}. Expected cpu or gpu")
    count("repeats", repeats, optional=False)
    count("samples", samples)


def run_bench(
    *,
    models=MODELS,
    backends=None,
    devices=("cpu", "gpu"),
    repeats: int = 3,
    samples: int | None = None,
    impls=IMPLS,
    progress=print,
) -> dict:
    """Time every planned row in its own worker process. The torch-eager rows are left out (with a note) where
    PyTorch is not installed."""
    backends = list(backends or ["jax"])
    impls = list(impls)
    check_request(models, backends, devices, repeats, impls, samples)
    notes = []
    if "torch-eager" in impls and importlib.util.find_spec("torch") is None:
        impls.remove("torch-eager")
        notes.append("no torch-eager rows: PyTorch is not installed (pip install 'keraslab[torch]')")
    gpus: dict = {}
    for b in backends:
        gpus.update(_worker("probe", b)["gpus"])
    if "gpu" in devices and not any(gpus.values()):
        notes.append("no GPU found: CPU rows only")
    rate = matmul_gflops(models)  # XLA's best over these models' products and a large square one
    from keraslab.bench import kernels  # here: `python -m keraslab.bench.kernels` runs it as a script

    kernel_step = {m: kernels.step_seconds(m) for m in models} if "cpu" in devices else {}
    rows = []
    for spec in plan(models, backends, devices, gpus, impls):
        spec = {**spec, "repeats": repeats, "samples": samples}
        if progress:
            progress(f"timing {spec['model']} / {spec['impl']} / {spec['backend']} / {spec['device']} ...")
        result = _worker(json.dumps(spec), spec["backend"] if spec["impl"] != "torch-eager" else None)
        rows.append(finish_row(spec, result, rate, kernel_step))
    return {"machine": machine_info(rate), "rows": rows, "notes": notes, "ratios": ratios(rows)}


def ratios(rows) -> list[dict]:
    """Per model, backend and device, keraslab's epoch time over: the same backend's stock model.fit
    (vs_keras_fit), the course's stack - model.fit on TensorFlow (vs_course_stack, from any backend's row) - the
    plain PyTorch loop (vs_torch_eager), the floor (vs_floor) and the steps' products alone (vs_kernels); and the
    GPU's speed-up over the CPU."""
    out = []
    by = {(r["model"], r["impl"], r["backend"], r["device"]): r for r in rows}
    for r in rows:
        if r["impl"] != "keraslab":
            continue
        entry = {"model": r["model"], "backend": r["backend"], "device": r["device"]}
        for key, ref_impl, ref_backend in (
            ("vs_keras_fit", "keras-fit", r["backend"]),
            ("vs_course_stack", "keras-fit", "tensorflow"),
            ("vs_torch_eager", "torch-eager", "torch"),
        ):
            ref = by.get((r["model"], ref_impl, ref_backend, r["device"]))
            if ref and not (key == "vs_course_stack" and r["backend"] == "tensorflow"):  # that one is vs_keras_fit
                entry[key] = r["epoch_seconds_median"] / ref["epoch_seconds_median"]
        if r["floor_seconds"]:
            entry["vs_floor"] = r["epoch_seconds_median"] / r["floor_seconds"]
        if r.get("kernel_seconds"):
            entry["vs_kernels"] = r["epoch_seconds_median"] / r["kernel_seconds"]
        if r["device"] == "gpu":
            cpu = by.get((r["model"], "keraslab", r["backend"], "cpu"))
            if cpu:
                entry["gpu_speedup"] = cpu["epoch_seconds_median"] / r["epoch_seconds_median"]
        out.append(entry)
    return out
