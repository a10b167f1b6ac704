"""The warm worker of keraslab.cli.warm_start: `python -m keraslab.cli.warm_worker SOCKET IDLE_SECONDS`.

It imports the modules listed beside its socket (SOCKET with the suffix .modules: those the command that started it
imported), makes sure nothing it imported started JAX's devices or a thread, and then waits. For each command it
forks: the copy takes the caller's terminal (its stdin, stdout and stderr), working folder, file mode mask,
environment and arguments, and runs `keraslab.cli.main.main` there; the worker tells the caller the copy's process
id and, when it ends, its exit status (128 + N for a signal N). One worker per socket (a lock beside it); it quits after
IDLE_SECONDS without a command, removing its socket. Its log (SOCKET with the suffix .log) has one line per command
it ran.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import importlib
import json
import os
import selectors
import signal
import socket
import struct
import sys
import threading
import time
from pathlib import Path

from keraslab.cli import warm_copy

_LOOK_AGAIN = 30.0  # seconds between two looks at whether the socket is still there


def main(path: Path, idle: float) -> int:
    lock = open(path.with_suffix(".lock"), "a+")  # noqa: SIM115 - held for the worker's life; not emptied unlocked
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return 0  # another worker holds this socket
    lock.truncate(0)
    lock.write(f"{os.getpid()}\n")  # who to stop: kill $(cat SOCKET.lock)
    lock.flush()
    from keraslab import caches

    caches.enable_compile_cache()  # as a run sets it up: before JAX is imported
    _preload(path.with_suffix(".modules"))
    problem = _unsafe_to_fork()
    if problem:
        print(f"keraslab worker: not serving: {problem}", file=sys.stderr)
        return 1
    gc.collect()
    gc.freeze()  # the imported objects stay out of the copies' garbage collections: fewer pages copied
    listener = _listen(path)
    ours = os.stat(path).st_ino
    stop = _Stop.on_sigterm()
    try:
        _serve(listener, idle, lambda: _still_ours(path, ours), stop)
    finally:
        if _still_ours(path, ours):  # not a newer worker's socket: its files are gone with it
            for suffix in (".sock", ".modules", ".log", ".lock"):
                with contextlib.suppress(OSError):
                    path.with_suffix(suffix).unlink()
        listener.close()
    return 0


class _Stop:
    """SIGTERM (`kill $(cat SOCKET.lock)`): take no new command, let the running ones finish and report them. The
    signal wakes the worker's wait through `wake`, a pipe its selector watches."""

    def __init__(self):
        self.asked = False
        self.wake, writer = os.pipe()
        os.set_blocking(self.wake, False)
        os.set_blocking(writer, False)
        signal.set_wakeup_fd(writer)

    @classmethod
    def on_sigterm(cls) -> _Stop:
        stop = cls()

        def asked(signum, frame):
            stop.asked = True

        signal.signal(signal.SIGTERM, asked)
        return stop


# What every lesson run imports, whatever the command that started the worker imported (a `run all` runs its
# lessons in processes of their own, so its own modules do not list them)
PRELOAD = """keraslab.cli.main keraslab.run_folders.runner keraslab.lessons.execution keras pandas sklearn.metrics
sklearn.model_selection matplotlib.figure matplotlib.backends.backend_agg keraslab.training keraslab.run_folders.plots
""".split()  # noqa: SIM905 - a list of module names, read as one


def _preload(listing: Path) -> None:
    try:
        names = json.loads(listing.read_text())
    except (OSError, ValueError):
        names = []
    os.environ.setdefault("KERAS_BACKEND", "jax")  # as every lesson sets it (workers serve only that backend)
    for name in [*PRELOAD, *names]:
        if name.startswith("keraslab.cli.warm"):
            continue
        try:
            importlib.import_module(name)
        except Exception:  # a module that does not import here is imported by the command, if it needs it
            continue


def _unsafe_to_fork() -> str | None:
    """Why this process may not fork copies that run commands (None: it may)."""
    bridge = sys.modules.get("jax._src.xla_bridge")
    if bridge is not None and getattr(bridge, "_backends", None):
        return "JAX's devices were started while importing"
    if threading.active_count() > 1:
        return f"{threading.active_count() - 1} thread(s) were started while importing"
    return None


def _listen(path: Path) -> socket.socket:
    """Listen at `path`: bound under a temporary name, made private, then renamed into place."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    listener.bind(str(temporary))
    os.chmod(temporary, 0o600)
    listener.listen(16)
    os.replace(temporary, path)
    return listener


def _still_ours(path: Path, inode: int) -> bool:
    """Whether `path` is still this worker's socket (not removed with its cache folder, nor another worker's)."""
    try:
        return os.stat(path).st_ino == inode
    except OSError:
        return False


def _serve(listener: socket.socket, idle: float, still_ours, stop: _Stop) -> None:
    """Serve until `idle` seconds pass without a command running or arriving, the socket is no longer ours, or a
    SIGTERM asks it to stop (then the commands running finish first)."""
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, None)
    selector.register(stop.wake, selectors.EVENT_READ, "wake")
    running: dict[int, tuple[int, socket.socket]] = {}  # pidfd -> (pid, the caller's connection)
    last = time.monotonic()
    while True:
        if stop.asked and listener.fileno() >= 0:
            selector.unregister(listener)
            listener.close()
        if stop.asked and not running:
            return
        events = selector.select(timeout=min(idle, _LOOK_AGAIN))
        if running or events:
            last = time.monotonic()
        elif time.monotonic() - last >= idle or not still_ours():
            return
        for key, _ in events:
            if key.data == "wake":
                with contextlib.suppress(OSError):
                    os.read(stop.wake, 64)
            elif key.data is None:
                _accept(listener, selector, running)
            else:
                _finished(key.data, selector, running)


def _accept(listener: socket.socket, selector, running: dict) -> None:
    conn, _ = listener.accept()
    try:
        pid = _start(conn, listener, selector, running)
    except Exception as exc:  # whatever one connection brings, the worker goes on
        print(f"dropped a connection: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        pid = None
    if pid is None:
        conn.close()
        return
    pidfd = os.pidfd_open(pid)
    running[pidfd] = (pid, conn)
    selector.register(pidfd, selectors.EVENT_READ, pidfd)


def _finished(pidfd: int, selector, running: dict) -> None:
    """A copy ended: its exit status to its caller (128 + N for a signal N)."""
    pid, conn = running.pop(pidfd)
    selector.unregister(pidfd)
    os.close(pidfd)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    with contextlib.suppress(OSError):
        conn.sendall(f"exit {code if code >= 0 else 128 - code}\n".encode())
    conn.close()


def _start(conn: socket.socket, listener, selector, running) -> int | None:
    """Read one command from `conn` and fork a copy that runs it; the copy's pid, or None for a connection that
    brought no command (a probe, another user, a malformed request, a caller that gave up)."""
    peer_uid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))[1]
    if peer_uid != os.getuid():
        return None
    request, fds = warm_copy.read_request(conn)
    if request is None:
        for fd in fds:
            os.close(fd)
        return None
    held = signal.pthread_sigmask(signal.SIG_BLOCK, warm_copy.FORWARDED)  # until the copy is the caller's command
    pid = os.fork()
    if pid == 0:
        try:
            for pidfd, (_, other) in running.items():
                other.close()
                os.close(pidfd)
            selector.close()
            listener.close()
        finally:
            warm_copy.run(conn, request, fds)
    signal.pthread_sigmask(signal.SIG_SETMASK, held)
    for fd in fds:
        os.close(fd)
    print(f"pid {pid}: keraslab {' '.join(request['argv'])} (in {request['cwd']})", file=sys.stderr, flush=True)
    try:
        conn.sendall(f"pid {pid}\n".encode())
    except OSError:
        os.kill(pid, signal.SIGTERM)  # the caller is gone: its command stops as a `kill` stops it
    return pid


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), float(sys.argv[2])))
