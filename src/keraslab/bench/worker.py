"""One benchmark row, in its own process (a Keras backend is chosen once per process).

    python -m keraslab.bench.worker '{"model": "mlp", "impl": "keraslab", "backend": "jax", "device": "cpu",
                                      "repeats": 3, "samples": null}'
    python -m keraslab.bench.worker probe

prints one JSON line: the row's timings, or for `probe` the GPUs each installed backend sees.
"""

from __future__ import annotations

import json
import os
import sys


def probe() -> dict:
    import importlib.util

    out = {"torch_installed": importlib.util.find_spec("torch") is not None, "gpus": {}}
    backend = os.environ.get("KERAS_BACKEND", "jax")
    from keraslab.backend import use_backend
    from keraslab.training.devices import gpus

    use_backend(backend)
    out["gpus"][backend] = gpus()
    if out["torch_installed"]:
        import torch

        out["gpus"]["torch-eager"] = (
            [f"gpu:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
        )
    return out


def run_row(spec: dict) -> dict:
    from keraslab.bench.data import bench_data

    x, y = bench_data(spec["model"], spec.get("samples"))
    device = "gpu:0" if spec["device"] == "gpu" else "cpu:0"
    if spec["impl"] == "torch-eager":
        from keraslab.bench import torch_impl

        times = torch_impl.time_units(spec["model"], x, y, device=device, repeats=spec["repeats"])
    else:
        from keraslab.backend import use_backend

        use_backend(spec["backend"])
        from keraslab.bench import keras_impl

        times = keras_impl.time_units(spec["model"], x, y, device=device, repeats=spec["repeats"], impl=spec["impl"])
    return {**spec, "samples": len(x), "unit_seconds": times}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    result = probe() if argv[:1] == ["probe"] else run_row(json.loads(argv[0]))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
