"""A warm worker's requests and forked copies (keraslab.cli.warm_worker): read a caller's request, then, in the copy,
become the caller's command and run it.

The request (keraslab.cli.warm_start) carries the caller's arguments, working folder, file mode mask, environment,
CPU affinity, nice value, the signals it ignores (a `nohup` or a background job's), and its stdin, stdout and
stderr. An error the command does not turn into one line (--debug's traceback, say) is printed as Python prints
it, exit status 1, as in a process of its own.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import struct
import sys
import threading
import traceback

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
_REQUEST_LIMIT = 1 << 20  # bytes: arguments, folder and environment


def read_request(conn: socket.socket) -> tuple[dict | None, list[int]]:
    """(the request, the caller's stdin, stdout and stderr), or (None, whatever descriptors came) when the
    connection brought no whole request within a second (the caller sends it at once)."""
    conn.settimeout(1.0)
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
    return (request if valid(request) else None), fds


def valid(request) -> bool:
    """Whether a request has the shape warm_start sends (anything else is dropped unanswered)."""
    if not isinstance(request, dict):
        return False
    env, argv = request.get("env"), request.get("argv")
    return (
        isinstance(argv, list)
        and all(isinstance(a, str) for a in argv)
        and isinstance(request.get("argv0"), str)
        and isinstance(request.get("cwd"), str)
        and isinstance(env, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())
        and isinstance(request.get("umask"), int)
        and isinstance(request.get("nice"), int)
        and isinstance(request.get("cpus"), list)
        and all(isinstance(c, int) for c in request["cpus"])
        and isinstance(request.get("ignored"), list)
        and all(s in {int(f) for f in FORWARDED} for s in request["ignored"])
        and isinstance(request.get("started"), (int, float, type(None)))
    )


def run(conn, request: dict, fds: list[int]) -> None:
    """In the forked copy (signals held since the fork): become the caller's command, run it, exit with its
    status. Never returns."""
    code = 1
    try:
        _become(conn, request, fds)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)  # a Ctrl-C sent meanwhile arrives here, now
        from keraslab.cli import main

        code = main.main(list(request["argv"]))
        main.finish(code)  # exit handlers, then the exit
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        print("keraslab: error: interrupted", file=sys.stderr)
        code = 130
    except BaseException:  # what Python prints for an error nothing caught: --debug's traceback
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            import atexit

            sys.stdout.flush()
            sys.stderr.flush()
            atexit._run_exitfuncs()  # noqa: SLF001 - as main.finish would have
        os._exit(code)


def _become(conn, request: dict, fds: list[int]) -> None:
    signal.set_wakeup_fd(-1)  # the worker's, for its own SIGTERM
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    for signum in FORWARDED:  # as the caller has them: default, or ignored (nohup, a background job's Ctrl-C)
        signal.signal(signum, signal.SIG_IGN if int(signum) in request["ignored"] else signal.SIG_DFL)
    if int(signal.SIGINT) not in request["ignored"]:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    # the copy writes to the caller's terminal from outside its foreground group: never stopped for that
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    signal.signal(signal.SIGTTIN, signal.SIG_IGN)
    os.umask(request["umask"])
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, request["cpus"] or os.sched_getaffinity(0))
        os.setpriority(os.PRIO_PROCESS, 0, request["nice"])
    compile_cache = {k: v for k, v in os.environ.items() if k.startswith("JAX_") and k not in request["env"]}
    os.environ.clear()
    os.environ.update(request["env"])
    os.environ.update(compile_cache)  # what JAX took from the worker's environment, for the processes a run starts
    sys.argv = [request["argv0"], *request["argv"]]
    _new_streams()
    os.chdir(request["cwd"])  # a folder gone since: the error as Python's, on the caller's stderr
    from keraslab import phases

    if request["started"] is not None:
        phases.count_startup_from(float(request["started"]))

    def caller_gone():  # the caller was killed: stop the command as a `kill` would
        with contextlib.suppress(OSError):
            conn.recv(1)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=caller_gone, daemon=True).start()


def _new_streams() -> None:
    """sys.stdin, stdout and stderr on the caller's descriptors, buffered as Python buffers them at start-up: stdout
    by line on a terminal, stderr by line always, nothing held with PYTHONUNBUFFERED."""
    unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))

    def text(fd: int, writing: bool, like, line: bool):
        raw = io.FileIO(fd, "wb" if writing else "rb", closefd=False)
        buffered = io.BufferedWriter(raw) if writing else io.BufferedReader(raw)
        return io.TextIOWrapper(
            buffered, encoding=like.encoding, errors=like.errors, line_buffering=line, write_through=unbuffered
        )

    sys.stdin = sys.__stdin__ = text(0, False, sys.__stdin__, False)
    sys.stdout = sys.__stdout__ = text(1, True, sys.__stdout__, os.isatty(1))
    sys.stderr = sys.__stderr__ = text(2, True, sys.__stderr__, True)
