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
import io
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

_REQUEST_LIMIT = 1 << 20  # bytes: arguments, folder and environment
_LOOK_AGAIN = 30.0  # seconds between two looks at whether the socket is still there


def main(path: Path, idle: float) -> int:
    lock = open(path.with_suffix(".lock"), "w")  # noqa: SIM115 - held for the worker's life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return 0  # another worker holds this socket
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
    try:
        _serve(listener, idle, lambda: _still_ours(path, ours))
    finally:
        if _still_ours(path, ours):  # not a newer worker's socket
            with contextlib.suppress(OSError):
                path.unlink()
        listener.close()
    return 0


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


def _serve(listener: socket.socket, idle: float, still_ours) -> None:
    """Serve until `idle` seconds pass without a command running or arriving, or the socket is no longer ours."""
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, None)
    running: dict[int, tuple[int, socket.socket]] = {}  # pidfd -> (pid, the caller's connection)
    last = time.monotonic()
    while True:
        events = selector.select(timeout=min(idle, _LOOK_AGAIN))
        if running or events:
            last = time.monotonic()
        elif time.monotonic() - last >= idle or not still_ours():
            return
        for key, _ in events:
            if key.data is None:
                conn, _ = listener.accept()
                pid = _start(conn, listener, selector, running)
                if pid is None:
                    conn.close()
                    continue
                pidfd = os.pidfd_open(pid)
                running[pidfd] = (pid, conn)
                selector.register(pidfd, selectors.EVENT_READ, pidfd)
            else:
                pid, conn = running.pop(key.data)
                selector.unregister(key.data)
                os.close(key.data)
                _, status = os.waitpid(pid, 0)
                code = os.waitstatus_to_exitcode(status)
                with contextlib.suppress(OSError):
                    conn.sendall(f"exit {code if code >= 0 else 128 - code}\n".encode())
                conn.close()


def _start(conn: socket.socket, listener, selector, running) -> int | None:
    """Read one command from `conn` and fork a copy that runs it; the copy's pid, or None for a connection that
    brought no command (a probe, another user, a caller that gave up)."""
    peer_uid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))[1]
    if peer_uid != os.getuid():
        return None
    request, fds = _read_request(conn)
    if request is None:
        for fd in fds:
            os.close(fd)
        return None
    pid = os.fork()
    if pid == 0:
        try:
            for other, _ in running.values():
                other.close()
            selector.close()
            listener.close()
            _run(conn, request, fds)
        finally:
            os._exit(70)  # only when _run itself failed
    for fd in fds:
        os.close(fd)
    print(f"pid {pid}: keraslab {' '.join(request['argv'])} (in {request['cwd']})", file=sys.stderr, flush=True)
    try:
        conn.sendall(f"pid {pid}\n".encode())
    except OSError:
        os.kill(pid, signal.SIGTERM)  # the caller is gone: its command stops as a `kill` stops it
    return pid


def _read_request(conn: socket.socket) -> tuple[dict | None, list[int]]:
    """(the request, the caller's stdin, stdout and stderr), or (None, whatever descriptors came) when the
    connection brought no whole request within 5 s."""
    conn.settimeout(5.0)
    try:
        data, fds, _flags, _address = socket.recv_fds(conn, 65536, 3)
        if len(fds) != 3 or len(data) < 4:
            return None, fds
        (size,) = struct.unpack("!I", data[:4])
        data = data[4:]
        while len(data) < min(size, _REQUEST_LIMIT):
            more = conn.recv(65536)
            if not more:
                break
            data += more
        request = json.loads(data) if len(data) == size else None
    except (OSError, ValueError):
        return None, locals().get("fds", [])
    conn.settimeout(None)
    return (request if isinstance(request, dict) else None), fds


def _run(conn: socket.socket, request: dict, fds: list[int]) -> None:
    """In the forked copy: become the caller's command, run it, exit with its status."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    # the copy writes to the caller's terminal from outside its foreground group: never stopped for that
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    signal.signal(signal.SIGTTIN, signal.SIG_IGN)
    os.chdir(request["cwd"])
    os.umask(int(request.get("umask", 0o022)))
    compile_cache = {k: v for k, v in os.environ.items() if k.startswith("JAX_") and k not in request["env"]}
    os.environ.clear()
    os.environ.update(request["env"])
    os.environ.update(compile_cache)  # what JAX took from the worker's environment, for the processes a run starts
    sys.argv = ["keraslab", *request["argv"]]
    _new_streams()
    from keraslab import phases

    if request.get("started") is not None:
        phases.count_startup_from(float(request["started"]))

    def caller_gone():  # the caller was killed: stop the command as a `kill` would
        with contextlib.suppress(OSError):
            conn.recv(1)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=caller_gone, daemon=True).start()
    from keraslab.cli import main

    main.finish(main.main(list(request["argv"])))


def _new_streams() -> None:
    """sys.stdin, stdout and stderr on the caller's descriptors, buffered as Python buffers them at start-up: stdout
    by line on a terminal, stderr by line always."""

    def text(fd: int, writing: bool, like, line: bool):
        raw = io.FileIO(fd, "wb" if writing else "rb", closefd=False)
        buffered = io.BufferedWriter(raw) if writing else io.BufferedReader(raw)
        return io.TextIOWrapper(buffered, encoding=like.encoding, errors=like.errors, line_buffering=line)

    sys.stdin = sys.__stdin__ = text(0, False, sys.__stdin__, False)
    sys.stdout = sys.__stdout__ = text(1, True, sys.__stdout__, os.isatty(1))
    sys.stderr = sys.__stderr__ = text(2, True, sys.__stderr__, True)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), float(sys.argv[2])))
