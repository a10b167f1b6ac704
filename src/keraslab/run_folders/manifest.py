"""A run's manifest: what made it (keraslab and library versions, backend, devices, seed, data files and their
sha256, git commit), so that a run folder says how to reproduce it."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path

from keraslab import __version__

# The libraries whose installed versions every manifest records.
MANIFEST_PACKAGES = (
    "keras",
    "numpy",
    "pandas",
    "scikit-learn",
    "imbalanced-learn",
    "jax",
    "jaxlib",
    "torch",
    "tensorflow",
)


def git_commit() -> str | None:
    """The commit of the keraslab source tree, when it is a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and len(commit) == 40 else None


def package_version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def device_description() -> dict:
    """The compute the run used: the CPU, and the backend's devices when its framework is loaded."""
    from keraslab.backend import current_backend

    info = {"cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count()}
    backend = current_backend()
    if backend == "jax" and "jax" in sys.modules:
        info["devices"] = [
            f"{d.platform}:{d.id} {getattr(d, 'device_kind', '')}".strip() for d in sys.modules["jax"].devices()
        ]
    elif backend == "torch" and "torch" in sys.modules:
        torch = sys.modules["torch"]
        info["devices"] = ["cpu"] + (
            [f"cuda:{i} {torch.cuda.get_device_name(i)}" for i in range(torch.cuda.device_count())]
            if torch.cuda.is_available()
            else []
        )
    elif backend == "tensorflow" and "tensorflow" in sys.modules:
        info["devices"] = [d.name for d in sys.modules["tensorflow"].config.list_logical_devices()]
    return info


def build_manifest(*, lesson: str, seed: int | list[int], data_files: list[dict], extra: dict | None = None) -> dict:
    from keraslab.backend import current_backend

    backend = current_backend()
    manifest = {
        "keraslab": __version__,
        "lesson": lesson,
        "created_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": sys.argv,
        "seed": seed,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {name: v for name in MANIFEST_PACKAGES if (v := package_version(name)) is not None},
        "backend": backend,
        "device": device_description(),
        "data_files": data_files,
        "git_commit": git_commit(),
    }
    if extra:
        manifest.update(extra)
    return manifest
