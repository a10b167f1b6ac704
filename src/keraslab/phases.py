"""Where a run's time went: each second of a lesson counted once, in the innermost phase it was spent in.

    with phases.recording() as timer:         # the runner, around one lesson
        with phases.phase("data"): ...         # keraslab.datasets, reading and decoding
        with phases.phase("training"): ...     # keraslab.training.fit
    timer.seconds() -> {"start-up": ..., "data": ..., "compile": ..., "training": ..., ...}

A phase nested in another is taken out of the outer one. Compilation is not a block of keraslab's code: JAX reports
each trace, lowering and compile (or read from the compilation cache) as it happens, and that time moves from
whatever phase was open into "compile". What no phase claims is "evaluation" (the lesson's own code: predictions,
metrics, tables). "start-up" is the time from the start of the process to the first lesson (imports and setting
up), counted once per process.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import time
from dataclasses import dataclass, field

from keraslab import run_state
from keraslab.files import process_start

ORDER = ("start-up", "data", "compile", "training", "evaluation", "figures", "report")
# JAX's duration events for turning a Python function into a program: tracing, lowering, and compiling it or
# reading it from the persistent compilation cache
_COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
    "/jax/compilation_cache/cache_retrieval_time_sec",
)

_PROCESS_START = time.perf_counter()  # the fallback clock: from the first import of this module
_startup_claimed = False
_listening = False


@dataclass
class Timer:
    totals: dict[str, float] = field(default_factory=dict)
    open_phases: list[list] = field(default_factory=list)  # [name, started, seconds its nested phases took]

    def add(self, name: str, seconds: float) -> None:
        self.totals[name] = self.totals.get(name, 0.0) + seconds

    def seconds(self) -> dict[str, float]:
        """Every phase in ORDER (0.0 where none was spent), then "total"; a phase still open counts up to now."""
        totals, now = dict(self.totals), time.perf_counter()
        for i, (name, started, nested) in enumerate(self.open_phases):
            inner = now - self.open_phases[i + 1][1] if i + 1 < len(self.open_phases) else 0.0
            totals[name] = totals.get(name, 0.0) + max(0.0, (now - started) - nested - inner)
        out = {name: round(totals.get(name, 0.0), 3) for name in ORDER}
        out["total"] = round(sum(totals.values()), 3)
        return out


def current() -> Timer | None:
    """The timer of the run in progress (keraslab.run_state), or None."""
    return run_state.current().timer


@contextlib.contextmanager
def recording(startup: bool = True):
    """Time one run. The first recording of a process with `startup` also counts the process's start-up."""
    global _startup_claimed
    timer = Timer()
    if startup and not _startup_claimed:
        _startup_claimed = True
        timer.add("start-up", process_age())
    if "jax" in sys.modules:  # else keraslab.backend.load_keras listens when it loads JAX
        listen_to_jax()
    with run_state.changed(timer=timer), phase("evaluation"):  # the lesson's own time: what no inner phase claims
        yield timer


@contextlib.contextmanager
def phase(name: str):
    """Count the block's time as `name`, less what phases nested in it count (no-op when nothing records)."""
    timer = current()
    if timer is None:
        yield
        return
    frame = [name, time.perf_counter(), 0.0]
    timer.open_phases.append(frame)
    try:
        yield
    finally:
        timer.open_phases.pop()
        elapsed = time.perf_counter() - frame[1]
        # JAX reports a jit traced inside another's trace as its own event too: never below zero for that
        timer.add(name, max(0.0, elapsed - frame[2]))
        if timer.open_phases:
            timer.open_phases[-1][2] += elapsed


def on_jax_duration(event: str, duration: float, **_kwargs) -> None:
    timer = current()
    if timer is None or event not in _COMPILE_EVENTS:
        return
    timer.add("compile", duration)
    if timer.open_phases:
        timer.open_phases[-1][2] += duration


def listen_to_jax() -> None:
    """Register for JAX's compile events (once per process)."""
    global _listening
    if not _listening:
        _listening = True
        import jax.monitoring

        jax.monitoring.register_event_duration_secs_listener(on_jax_duration)


def process_age() -> float:
    """Seconds since this process started (Linux: from /proc/self/stat, so the interpreter's own start counts);
    elsewhere since this module was imported."""
    ticks = process_start(os.getpid())  # clock ticks after boot, or None
    try:
        return max(0.0, time.clock_gettime(time.CLOCK_BOOTTIME) - int(ticks) / os.sysconf("SC_CLK_TCK"))
    except (TypeError, ValueError, OSError, AttributeError):
        return time.perf_counter() - _PROCESS_START


def line(seconds: dict[str, float]) -> str:
    """One line: 'start-up 2.1 s, data 0.3 s, ... (total 6.6 s)', the phases that took any time."""
    parts = [f"{name} {seconds[name]:.1f} s" for name in ORDER if seconds.get(name, 0.0) >= 0.005]
    return ", ".join(parts) + f" (total {seconds.get('total', 0.0):.1f} s)"


def timed(name: str):
    """A decorator: every call of the function counts as phase `name`."""

    def wrap(function):
        @functools.wraps(function)
        def timed_call(*args, **kwargs):
            with phase(name):
                return function(*args, **kwargs)

        return timed_call

    return wrap
