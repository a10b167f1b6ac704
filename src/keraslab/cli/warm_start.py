"""Warm start: `keraslab run` served by a process that has already imported what a lesson imports.

Every run of a lesson starts by importing Keras, JAX, scikit-learn, pandas and matplotlib: 2.3-2.5 s on a 2-core
machine, more than the whole of a quick churn run's own work. After a run, keraslab leaves a worker behind (as
Gradle and Bazel leave a daemon): a background process that imports the modules that run used and then waits. The
next `keraslab run` hands its arguments, working folder, environment and terminal to the worker, which forks a
copy of itself to run the command there: the copy starts with every import done, runs exactly what the command
would run (the lesson's script is read afresh), and its exit status is the command's. Ctrl-C and a `kill` reach
it as they would reach the command. Nothing is shared between runs but the imported modules: each run is a new
process, forked before any of them ran.

A worker serves only commands that would import the same code in the same way: its key covers the Python
executable, the module search path (and the time each of its folders last changed, which an install or an upgrade
changes), every keraslab source file (path, size, time), and the environment variables that libraries read as they
import (KERAS*, JAX*, XLA*, LANG, HOME, ...). Anything else starts a fresh worker under another key. A worker serves
only its own user (the socket is in a private folder, and each caller's user id is checked), the JAX backend only
(it never starts JAX's devices before it forks), on Linux only, and quits after WORKER_IDLE seconds without work.

Off with KERASLAB_WORKER=off, KERASLAB_CACHE=off or `keraslab run ... --no-cache` (the worker is a cache: of
imports); KERASLAB_WORKER=SECONDS sets how long a worker waits. Its folder: keraslab.caches.cache_root()/workers.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from keraslab import caches

ENV_VAR = "KERASLAB_WORKER"
WORKER_IDLE = 900.0  # seconds a worker waits for a command before it quits
# the environment variables libraries read while they import: a worker is kept for one set of their values
KEY_PREFIXES = (
    "KERAS",
    "JAX",
    "XLA",
    "TF_",
    "MPL",
    "MATPLOTLIB",
    "PYTHON",
    "OMP_",
    "OPENBLAS",
    "MKL",
    "LD_",
    "CUDA",
    "LANG",
    "LC_",
    "HOME",
    "XDG_",
    "TMPDIR",
    "SCIPY",
    "SKLEARN",
    "NUMPY",
    "PANDAS",
)
_SOCKET_PATH_MAX = 107  # a Unix socket's path must fit in 108 bytes (with its closing NUL); longer: no worker


def idle_seconds() -> float | None:
    """How long a worker waits for work, from KERASLAB_WORKER; None when workers are off."""
    value = os.environ.get(ENV_VAR, "").strip().lower()
    if value in caches.OFF:
        return None
    if not value:
        return WORKER_IDLE
    try:
        seconds = float(value)
    except ValueError:
        return WORKER_IDLE
    return seconds if seconds > 0 else None


def serves(argv: list[str]) -> bool:
    """Whether this command may run in a worker: `keraslab run ...` (not its --help, not --no-cache), JAX backend,
    Linux, workers and caches on, and not a process of a distributed job."""
    if not argv or argv[0] != "run" or {"-h", "--help", "--no-cache"} & set(argv):
        return False
    if not sys.platform.startswith("linux") or not hasattr(os, "pidfd_open") or not hasattr(socket, "send_fds"):
        return False
    if os.environ.get("KERAS_BACKEND", "jax") != "jax" or os.environ.get("KERASLAB_JOB"):
        return False
    try:
        os.getcwd()
    except OSError:  # a working folder removed since: the command says so itself, in one line
        return False
    return idle_seconds() is not None and caches.cache_root() is not None


def worker_key() -> str:
    """Which worker may serve this process's command (see the module's docstring)."""
    h = hashlib.sha256()
    h.update(f"{os.path.realpath(sys.executable)}\0{sys.version}\0{os.getuid()}\0".encode())
    here = os.getcwd()
    for entry in sys.path:
        entry = os.path.abspath(entry or ".")  # "" (python -c) is the working folder, as python -m names it
        if entry == here:  # a worker never imports from a working folder (python -P)
            continue
        try:  # a folder's time moves when a package is installed in it or removed
            changed = os.stat(entry).st_mtime_ns
        except OSError:
            changed = "-"
        h.update(f"{entry}\0{changed}\0".encode())
    package = Path(__file__).resolve().parents[1]
    for path in sorted(package.rglob("*.py")):
        stat = path.stat()
        h.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    environment = {"KERAS_BACKEND": "jax", **os.environ}  # unset is jax, as every lesson sets it
    for name in sorted(environment):
        if name.startswith(KEY_PREFIXES) and name != ENV_VAR:
            h.update(f"{name}={environment[name]}\0".encode())
    return h.hexdigest()[:24]


def worker_folder() -> Path | None:
    """The private folder of the workers' sockets (mode 700), or None when it cannot be made or is not ours."""
    root = caches.cache_root()
    if root is None:
        return None
    folder = root / "workers"
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        stat = folder.stat()
        if stat.st_uid != os.getuid() or stat.st_mode & 0o077:
            os.chmod(folder, 0o700)
            if folder.stat().st_uid != os.getuid():
                return None
    except OSError:
        return None
    return folder


def socket_path(key: str) -> Path | None:
    folder = worker_folder()
    if folder is None or len(os.fsencode(folder / f"{key}.sock")) > _SOCKET_PATH_MAX:
        return None
    return folder / f"{key}.sock"


def start_worker(key: str, env: dict, modules: list[str]) -> None:
    """Leave a worker behind under `key` (computed, with `env`, as the command started) that imports `modules` (those
    the finished command imported) and waits; nothing when one already answers there. Never fails the command: a
    worker that cannot start is simply absent, and the next command runs as this one did."""
    try:
        path = socket_path(key)
        if path is None or _answers(path):
            return
        path.with_suffix(".modules").write_text(json.dumps(modules))
        with open(path.with_suffix(".log"), "ab") as log:  # the worker's own lines: each command, its errors
            # -P: nothing is imported from a working folder (a learner's random.py would become every run's)
            subprocess.Popen(
                [sys.executable, "-P", "-m", "keraslab.cli.warm_worker", str(path), str(idle_seconds() or WORKER_IDLE)],
                cwd=path.parent,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=env,
                start_new_session=True,
                close_fds=True,
            )
    except OSError:
        pass


def _answers(path: Path) -> bool:
    """Whether a worker listens at `path`."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def imported_modules() -> list[str]:
    """The modules this process imported, in the order it imported them (a worker imports them in that order)."""
    skip = ("__main__", "__mp_main__", "keraslab.cli.warm_worker")
    loaded = list(sys.modules.items())
    return [name for name, module in loaded if name not in skip and getattr(module, "__file__", None)]
