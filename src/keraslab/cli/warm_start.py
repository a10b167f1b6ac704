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

import contextlib
import hashlib
import json
import os
import signal
import socket
import struct
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
    return idle_seconds() is not None and caches.cache_root() is not None


def worker_key() -> str:
    """Which worker may serve this process's command (see the module's docstring)."""
    h = hashlib.sha256()
    h.update(f"{os.path.realpath(sys.executable)}\0{sys.version}\0{os.getuid()}\0".encode())
    here = os.getcwd()
    for entry in sys.path:
        entry = os.path.abspath(entry or ".")  # "" (python -c) is the working folder, as python -m names it
        try:  # a folder's time moves when a package is installed in it or removed; the working folder's, at every run
            changed = "" if entry == here else os.stat(entry).st_mtime_ns
        except OSError:
            changed = "-"
        h.update(f"{entry}\0{changed}\0".encode())
    package = Path(__file__).resolve().parents[1]
    for path in sorted(package.rglob("*.py")):
        stat = path.stat()
        h.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    for name in sorted(os.environ):
        if name.startswith(KEY_PREFIXES) and name != ENV_VAR:
            h.update(f"{name}={os.environ[name]}\0".encode())
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


# --- the command's side ------------------------------------------------------------------------------------------


def run_in_worker(key: str, argv: list[str]) -> int | None:
    """Run the command in the warm worker of `key` and return its exit status; None when no worker took it (then
    nothing ran)."""
    path = socket_path(key)
    if path is None or not path.exists():
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.settimeout(10.0)
        conn.connect(str(path))
        umask = os.umask(0o022)
        os.umask(umask)
        request = json.dumps(
            {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ), "umask": umask, "started": _process_start()}
        ).encode()
        socket.send_fds(conn, [struct.pack("!I", len(request)) + request], [0, 1, 2])
        reader = conn.makefile("rb")
        first = reader.readline()  # "pid N": the command runs in process N
        if not first.startswith(b"pid "):
            return None
        pid = int(first.split()[1])
    except (OSError, ValueError):
        conn.close()
        return None
    conn.settimeout(None)
    forward = lambda signum, frame: _kill(pid, signum)  # noqa: E731 - Ctrl-C, kill, a closed terminal: to the run
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    while True:
        try:
            last = reader.readline()
            break
        except InterruptedError:
            continue
    if last.startswith(b"exit "):
        return int(last.split()[1])
    print("keraslab: error: the worker running this command stopped without an exit status", file=sys.stderr)
    return 1


def _kill(pid: int, signum: int) -> None:
    with contextlib.suppress(OSError):
        os.kill(pid, signum)


def _process_start() -> float | None:
    """This process's start, in CLOCK_BOOTTIME seconds: the run's start-up phase counts from here."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def start_worker(key: str, env: dict, modules: list[str]) -> None:
    """Leave a worker behind under `key` (computed, with `env`, as the command started) that imports `modules` (those
    the finished command imported) and waits; nothing when one already answers there. Never fails the command: a
    worker that cannot start is simply absent, and the next command runs as this one did."""
    try:
        path = socket_path(key)
        if path is None or _answers(path):
            return
        path.with_suffix(".modules").write_text(json.dumps(modules))
        with open(path.with_suffix(".log"), "wb") as log:  # the worker's own errors, for --debug's reader
            subprocess.Popen(
                [sys.executable, "-m", "keraslab.cli.warm_worker", str(path), str(idle_seconds() or WORKER_IDLE)],
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
