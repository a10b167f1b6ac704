"""One training job over several processes (on one machine or several): JAX's distributed runtime, with gloo
collectives on CPU and NCCL on GPU, driven by keraslab.distributed.plan's data-parallel plan.

A process joins with `join(Job(...))` before Keras computes anything and leaves with `leave()`. While it is in the
job, a watchdog thread keeps a heartbeat in the coordinator's key-value store and watches everyone else's: a process
that stops (killed, crashed, its machine gone) is noticed within `timeout` seconds, and every other process then
stops with one line naming it instead of hanging in a collective. JAX's own heartbeat is set to a longer timeout
so that this message comes first.

`keraslab launch` (keraslab.distributed.launcher) starts the processes and sets KERASLAB_JOB for each; the command
line (keraslab.cli) joins.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import sys
import threading
import time

from keraslab.errors import KeraslabError, UsageError
from keraslab.options import Bound, Parameter, count

ENV = "KERASLAB_JOB"
DEFAULT_TIMEOUT = 60.0
# seconds: to reach the coordinator, and to notice a lost process
TIMEOUT = Parameter("timeout", float, False, None, DEFAULT_TIMEOUT, bound=Bound(0, None, False))
LOST_EXIT = 75  # a peer was lost (EX_TEMPFAIL: trying again, e.g. with --resume, may work)
FINISH_WAIT_MS = 6 * 3600 * 1000

_job: Job | None = None
_watchdog: _Watchdog | None = None


class DistributedError(KeraslabError):
    """The distributed job cannot start or has lost a process."""

    exit_code = LOST_EXIT


@dataclasses.dataclass(frozen=True)
class Job:
    coordinator: str  # HOST:PORT of process 0's coordination service
    processes: int
    process_id: int
    timeout: float = DEFAULT_TIMEOUT  # seconds: to reach the coordinator, and to notice a lost process

    def __post_init__(self):
        parse_address(self.coordinator)
        count("processes", self.processes, optional=False)
        if not isinstance(self.process_id, int) or not 0 <= self.process_id < self.processes:
            raise UsageError(
                f"Invalid value for `process_id`. Expected an integer in [0, {self.processes}). "
                f"Received: {self.process_id!r}"
            )
        TIMEOUT.check(self.timeout)

    def to_env(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_env(cls, environ=os.environ) -> Job | None:
        text = environ.get(ENV)
        if not text:
            return None
        try:
            return cls(**json.loads(text))
        except (TypeError, json.JSONDecodeError) as exc:
            raise UsageError(f"${ENV} is not a keraslab job description ({exc}): {text[:200]!r}") from None


def parse_address(address: str) -> tuple[str, int]:
    host, sep, port = str(address).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(
            f"Invalid value for `coordinator`. Expected HOST:PORT (say 10.0.0.1:7777). Received: {address!r}"
        )
    return host.strip("[]"), int(port)


def current() -> Job | None:
    """The job this process is part of, or None."""
    return _job


def is_primary() -> bool:
    """True in process 0 of a job, and outside any job: the process that writes run folders."""
    return _job is None or _job.process_id == 0


def wait_for_coordinator(address: str, timeout: float) -> None:
    """Return once something accepts connections at `address`; raise DistributedError after `timeout` seconds."""
    host, port = parse_address(address)
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=min(2.0, timeout)):
                return
        except OSError as exc:
            last = exc
            time.sleep(0.25)
    raise DistributedError(
        f"cannot reach the coordinator at {address} after {timeout:g} s ({last}); start process 0 "
        f"there first, and check the host, the port and any firewall"
    )


def join(job: Job) -> None:
    """Join the distributed job (before any JAX computation): process 0 hosts the coordinator."""
    global _job, _watchdog
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPU devices; GPUs use NCCL regardless
    if job.process_id != 0:
        wait_for_coordinator(job.coordinator, job.timeout)
    host, port = parse_address(job.coordinator)
    bind = bind_address(host, port) if job.process_id == 0 else None
    jax.distributed.initialize(
        coordinator_address=job.coordinator,
        num_processes=job.processes,
        process_id=job.process_id,
        initialization_timeout=int(max(1, job.timeout)),
        heartbeat_timeout_seconds=int(3 * job.timeout + 10),
        shutdown_timeout_seconds=int(max(10, job.timeout)),
        coordinator_bind_address=bind,
    )
    _job = job
    _watchdog = _Watchdog(job)
    _watchdog.start()


def bind_address(host: str, port: int) -> str:
    """Where process 0's coordinator listens: the address given, never every interface (JAX's default, [::])."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def coordination_client():
    """The client of JAX's coordination service (its key-value store and barriers), for the heartbeats and the
    finish barrier.

    JAX has no public handle to it: `jax.distributed` exposes initialize, shutdown and is_initialized only, and
    jax.experimental.multihost_utils reaches it the same way, through `jax._src.distributed.global_state`. This is
    keraslab's one use of JAX's private modules; if JAX moves it, this function is the only place to change.
    """
    try:
        from jax._src import distributed as jax_distributed  # noqa: TID251 - the sanctioned use (above)
    except ImportError as exc:  # pragma: no cover - depends on the installed JAX
        raise DistributedError(
            f"this JAX version has no coordination client where keraslab expects it ({exc}); "
            f"keraslab launch needs a JAX whose jax._src.distributed has global_state"
        ) from None
    client = jax_distributed.global_state.client
    if client is None:
        raise DistributedError("the JAX distributed runtime is not running in this process")
    return client


def leave() -> None:
    """Wait for every process to finish, then shut the runtime down cleanly (so that every process exits 0)."""
    global _job, _watchdog
    if _job is None:
        return
    import gc

    import jax

    client = coordination_client()
    # Processes finish their reports at different times: wait long here. A process that dies meanwhile is still
    # caught within the timeout by the watchdog, which keeps running until everyone has arrived.
    client.wait_at_barrier("keraslab/finished", FINISH_WAIT_MS)
    if _watchdog is not None:
        _watchdog.stop()
    gc.collect()  # drop the mesh's arrays before the collectives go
    jax.clear_caches()
    jax.distributed.shutdown()
    _job, _watchdog = None, None


def as_member(command, *, launching: bool = False) -> int:
    """`command()`'s exit code, run as a process of the distributed job `keraslab launch` started this process
    for (joined first, left in order after: a barrier, then the runtime's shutdown); run as it is when there is
    no job, or when `launching` one."""
    job = Job.from_env()
    if job is None or launching:
        return command()
    join(job)
    code = command()
    leave()
    return code


def stop_for(exc: BaseException) -> None:
    """Leave the distributed job at once with one line and the right exit code (does not return): a
    process of a job that fails stops at once, since its peers may be waiting on it."""
    code = getattr(exc, "exit_code", 130 if isinstance(exc, KeyboardInterrupt) else 1)
    if isinstance(exc, SystemExit):
        code = exc.code if isinstance(exc.code, int) else 0
    message = str(exc)
    if not isinstance(exc, (KeraslabError, KeyboardInterrupt, SystemExit)):
        message, code = explain_failure(exc)
    elif isinstance(exc.__cause__, Exception) and not isinstance(exc.__cause__, KeraslabError):
        # a lesson's cell failed (keraslab.lessons.execution.LessonFailed): a lost peer is what to report, if it was one
        cause_message, cause_code = explain_failure(exc.__cause__)
        if cause_code == LOST_EXIT:
            message, code = cause_message, cause_code
    stop(message if code else None, code)


def stop(message: str | None, code: int) -> None:
    """Leave the job at once: print `message` (one line), run the cleanups, exit with `code` without running the
    interpreter's exit handlers (JAX's would wait for peers that are gone or still busy). The first caller wins
    (the watchdog thread and the main thread may both get here)."""
    if not _stopping.acquire(blocking=False):
        while True:
            time.sleep(1)
    if message:
        print(f"keraslab: error: {message}", file=sys.stderr, flush=True)
    sys.stdout.flush()
    for fn in _on_lost:
        with contextlib.suppress(Exception):
            fn()
    os._exit(code)


_on_lost: list = []
_stopping = threading.Lock()


@contextlib.contextmanager
def on_lost(fn):
    """Within this block, run `fn()` (a cleanup) if this process is stopped at once (a lost peer, a failure)."""
    _on_lost.append(fn)
    try:
        yield
    finally:
        _on_lost.remove(fn)


def explain_failure(exc: BaseException) -> tuple[str, int]:
    """(message, exit code) for a failure inside the job. A collective that failed (gloo: "connection closed by
    peer") means a peer is gone: wait up to the timeout for the watchdog to name it."""
    if _watchdog is not None and _looks_like_lost_peer(exc):
        name = _watchdog.wait_for_loss(_job.timeout + 2)
        if name:
            return name, LOST_EXIT
    first = (str(exc).splitlines() or [""])[0]
    return f"process {_job.process_id if _job else '?'} failed: {type(exc).__name__}: {first}", 1


def _looks_like_lost_peer(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(s in text for s in ("gloo", "connection closed", "connection reset", "nccl", "unavailable"))


class _Watchdog(threading.Thread):
    """Keeps this process's heartbeat in the coordinator's key-value store and watches the others'."""

    interval = 1.0

    def __init__(self, job: Job):
        super().__init__(name="keraslab-watchdog", daemon=True)
        self.job = job
        self._stop_event = threading.Event()
        self.loss: str | None = None
        self._found = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()

    def wait_for_loss(self, seconds: float) -> str | None:
        self._found.wait(seconds)
        return self.loss

    def _report(self, message: str) -> None:
        self.loss = message
        self._found.set()
        stop(message, LOST_EXIT)  # a peer is gone, so the collectives cannot go on

    def run(self) -> None:
        client = coordination_client()
        me, n, timeout = self.job.process_id, self.job.processes, self.job.timeout
        seen = {p: (None, time.monotonic()) for p in range(n) if p != me}
        beat, unreachable_since = 0, None
        while not self._stop_event.wait(self.interval):
            beat += 1
            try:
                client.key_value_set(f"keraslab/alive/{me}", str(beat), allow_overwrite=True)
                values = {}
                for p in seen:
                    try:
                        values[p] = client.key_value_try_get(f"keraslab/alive/{p}")
                    except Exception:
                        values[p] = None
                unreachable_since = None
            except Exception as exc:
                if self._stop_event.is_set():
                    return
                unreachable_since = unreachable_since or time.monotonic()
                if time.monotonic() - unreachable_since > min(timeout, 10.0):
                    self._report(
                        f"lost process 0 (the coordinator at {self.job.coordinator}): "
                        f"{str(exc).splitlines()[0][:160]}; stopping process {me} of {n}"
                    )
                    return
                continue
            now = time.monotonic()
            for p, value in values.items():
                last_value, since = seen[p]
                if value != last_value:
                    seen[p] = (value, now)
                elif now - since > timeout and not self._stop_event.is_set():
                    self._report(
                        f"lost process {p} of {n}: no heartbeat for {timeout:g} s (it was killed, crashed "
                        f"or lost its network); stopping process {me}"
                    )
                    return
