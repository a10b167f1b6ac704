"""`keraslab launch`: start (or join) a distributed job and supervise its processes.

Without --process-id, all N processes start here, on 127.0.0.1 (a free port unless --coordinator names one).
With --process-id I (one command per machine), only process I starts here and joins the coordinator at
--coordinator, which process 0 hosts. Each process is `python -m keraslab <command ...>` with KERASLAB_JOB set.

The supervisor forwards process 0's output, and every process's errors with the process named; it hides the
runtime's internal logs (kept with --debug). If a process fails, the others stop on their own within the job's
timeout (keraslab.distributed.runtime's watchdog); any still running after that is killed. The exit code is 0 only if
every process exited 0.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

from keraslab.distributed.runtime import DEFAULT_TIMEOUT, ENV, LOST_EXIT, Job, parse_address
from keraslab.errors import UsageError
from keraslab.options import count

# The XLA / coordination-service log lines and stack dumps a dying process prints: hidden unless --debug.
_RUNTIME_NOISE = re.compile(
    r"^([FEWI]\d{4} \d\d:\d\d:\d\d|\s+@\s|\*\*\* |RPC: |Barrier result|This suggests|"
    r"The tasks have crashed|\d+\s*$|\s*$|\[Gloo\]|INTERNAL: |UNAVAILABLE: |"
    r"To debug|Disable Python buffering|Additional GRPC error|:UNKNOWN:)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """In the child, before exec (Linux): if the supervisor is killed, the kernel kills its process too."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    if code == 134:
        return "aborted by the runtime (exit 134)"
    return f"exit code {code}"


class _Worker:
    def __init__(self, job: Job, command: list[str], *, debug: bool, quiet_stdout: bool):
        env = {**os.environ, ENV: job.to_env(), "PYTHONUNBUFFERED": "1"}
        self.job, self.debug = job, debug
        self.errors: list[str] = []
        self.hidden: list[str] = []  # the runtime's own log lines (shown with --debug)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "keraslab", *command],
            env=env,
            stdout=subprocess.DEVNULL if quiet_stdout else subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._out_reader = None
        if not quiet_stdout:
            self._out_reader = threading.Thread(target=self._read_stdout, daemon=True)
            self._out_reader.start()

    def _read_stdout(self) -> None:
        for line in self.proc.stdout:
            if self.debug or not line.startswith("[Gloo]"):
                sys.stdout.write(line)
                sys.stdout.flush()

    def _read(self) -> None:
        tag = f"[process {self.job.process_id}] "
        for line in self.proc.stderr:
            line = line.rstrip("\n")
            if not self.debug and _RUNTIME_NOISE.match(line):
                self.hidden.append(line)
                del self.hidden[:-200]
                continue
            if line.startswith("keraslab: error: "):
                self.errors.append(line[len("keraslab: error: ") :])
            print(tag + line, file=sys.stderr, flush=True)

    def finish_output(self) -> None:
        self._reader.join(timeout=5)
        if self._out_reader is not None:
            self._out_reader.join(timeout=5)

    def reason(self, code: int) -> str:
        """Why this process stopped, in one line: its own error line, else what the runtime's log says."""
        if self.errors:
            return self.errors[-1]
        log = "\n".join(self.hidden)
        job = self.job
        if "RegisterTask" in log or ("Deadline" in log and "connect" in log.lower()):
            return (
                f"not all {job.processes} processes joined the job within {job.timeout:g} s (start each one with "
                f"the same --processes and --coordinator {job.coordinator})"
            )
        if job.process_id != 0 and (
            "Socket closed" in log or "failed to connect" in log.lower() or "PollForError" in log
        ):
            return f"lost process 0 (the coordinator at {job.coordinator}), so process {job.process_id} stopped"
        beats = re.search(r"stopped sending heartbeats\):\s*\n(\d+)", log) or re.search(r"Task (\d+) heartbeat", log)
        if beats:
            return f"lost process {beats.group(1)} (no heartbeat), so process {job.process_id} stopped"
        fatal = next((line for line in self.hidden if line.startswith("F")), None)
        detail = f": {fatal.split('] ', 1)[-1][:200]}" if fatal else ""
        return f"{_describe_exit(code)}{detail}"


def launch(
    command: list[str],
    *,
    processes: int,
    coordinator: str | None = None,
    process_id: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    debug: bool = False,
) -> int:
    """Run `command` (keraslab arguments, say ["run", "churn"]) as a job of `processes` processes. Returns the exit
    code: 0 when every process here exited 0."""
    _check_request(command, processes, coordinator, process_id)
    if coordinator is None:
        coordinator = f"127.0.0.1:{free_port()}"
    parse_address(coordinator)
    ids = range(processes) if process_id is None else [process_id]
    if debug:
        command = [*command, "--debug"]
    workers = [
        _Worker(Job(coordinator, processes, i, float(timeout)), command, debug=debug, quiet_stdout=i != 0) for i in ids
    ]
    try:
        first_failure = _supervise(workers, timeout)
    except KeyboardInterrupt:
        _interrupt(workers)
        raise
    for w in workers:
        w.finish_output()
    return _report(workers, first_failure, processes)


def _check_request(command: list[str], processes: int, coordinator: str | None, process_id: int | None) -> None:
    if not command:
        raise UsageError(
            "launch: nothing to run; give the keraslab command after --, e.g. "
            "keraslab launch --processes 2 -- run churn"
        )
    if command[0] == "launch":
        raise UsageError("launch: the command to run cannot itself be `launch`")
    count("processes", processes, optional=False)
    if process_id is not None and coordinator is None:
        raise UsageError("--process-id needs --coordinator HOST:PORT (the address of process 0's machine)")


def _supervise(workers: list[_Worker], timeout: float) -> tuple[_Worker, int] | None:
    """Wait for every process; the first to fail, with its exit code (None if none failed). Once one has failed,
    the others get `timeout` (their watchdogs' limit) and 15 s more to stop on their own, then are killed."""
    first_failure, deadline = None, None
    while any(w.proc.poll() is None for w in workers):
        for w in workers:
            code = w.proc.poll()
            if code not in (None, 0) and first_failure is None:
                first_failure = (w, code)
                deadline = time.monotonic() + timeout + 15
        if deadline is not None and time.monotonic() > deadline:
            for w in workers:
                if w.proc.poll() is None:
                    w.proc.kill()
        time.sleep(0.1)
    return first_failure


def _interrupt(workers: list[_Worker]) -> None:
    """Ctrl-C: pass SIGINT on, give each process 10 s to stop, then kill it."""
    for w in workers:
        if w.proc.poll() is None:
            w.proc.send_signal(signal.SIGINT)
    for w in workers:
        try:
            w.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            w.proc.kill()


def _report(workers: list[_Worker], first_failure: tuple[_Worker, int] | None, processes: int) -> int:
    """The job's exit code; when a process failed, one line naming the first to stop and why."""
    codes = {w.job.process_id: w.proc.returncode for w in workers}
    if all(c == 0 for c in codes.values()):
        return 0
    if first_failure is None:  # all exited, none seen first: take the lowest failing id
        pid = min(i for i, c in codes.items() if c != 0)
        first_failure = (next(w for w in workers if w.job.process_id == pid), codes[pid])
    w, code = first_failure
    others = ", ".join(
        f"process {i}: {_describe_exit(c) if c else 'exit 0'}" for i, c in codes.items() if i != w.job.process_id
    )
    print(
        f"keraslab: error: launch: process {w.job.process_id} of {processes} stopped first ({w.reason(code)})"
        + (f"; {others}" if others else ""),
        file=sys.stderr,
        flush=True,
    )
    return LOST_EXIT if code in (LOST_EXIT, -9, 134) or code < 0 else (code or 1)
