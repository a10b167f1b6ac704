"""Calling a warm worker (keraslab.cli.warm_start): hand it this command and wait for its exit status.

The request carries what the worker's copy needs to be this command (keraslab.cli.warm_copy); signals this process
gets are passed on to the copy while it runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import sys

from keraslab import phases
from keraslab.cli.warm_start import socket_path


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
        request = json.dumps(_request(argv)).encode()
        socket.send_fds(conn, [struct.pack("!I", len(request)) + request], [0, 1, 2])
        reader = conn.makefile("rb")
        first = reader.readline()  # "pid N": the command runs in process N
        pid = int(first.split()[1]) if first.startswith(b"pid ") else None
    except (OSError, ValueError):
        pid = None
    if pid is None:
        conn.close()  # a copy that started after all sees its caller gone, and stops
        return None
    conn.settimeout(None)
    _forward_signals(pid)
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


FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def _request(argv: list[str]) -> dict:
    """What the worker's copy needs to be this command (keraslab.cli.warm_copy)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return {
        "argv": argv,
        "argv0": sys.argv[0],
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "umask": umask,
        "nice": os.getpriority(os.PRIO_PROCESS, 0),
        "cpus": sorted(os.sched_getaffinity(0)),
        "ignored": [int(s) for s in FORWARDED if signal.getsignal(s) == signal.SIG_IGN],  # nohup, a background job
        "started": _started(),
    }


def _forward_signals(pid: int) -> None:
    """Ctrl-C, kill, a closed terminal, Ctrl-\\: to the copy running the command (not those this process ignores,
    which the copy ignores too). Ctrl-Z stops the copy with this process, and `fg` or `bg` continues both."""
    for signum in FORWARDED:
        if signal.getsignal(signum) != signal.SIG_IGN:
            signal.signal(signum, lambda s, frame: _kill(pid, s))

    def suspend(signum, frame):
        _kill(pid, signal.SIGSTOP)
        signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTSTP)  # stops here; continues below on SIGCONT

    def resume(signum, frame):
        signal.signal(signal.SIGTSTP, suspend)
        _kill(pid, signal.SIGCONT)

    signal.signal(signal.SIGTSTP, suspend)
    signal.signal(signal.SIGCONT, resume)


def _kill(pid: int, signum: int) -> None:
    with contextlib.suppress(OSError):
        os.kill(pid, signum)


def _started() -> float | None:
    """This process's start (CLOCK_BOOTTIME seconds): the served run's start-up phase counts from here."""
    try:
        return phases.process_start()
    except (OSError, ValueError, IndexError):
        return None
