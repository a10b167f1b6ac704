"""The run in progress: one object for a run's state, reached through one ContextVar.

Whoever runs a lesson makes a RunState and makes it current (keraslab.running for `keraslab run`; `begin` when a
learner runs the notebook in Jupyter); the code underneath reads what it needs from `current()`: the data loaders
the files used so far, --offline and the stand-in, training the terminal its progress goes to, the checkpoints and
the device plan, keraslab.phases the timer, the exercises' `check` the verdicts; the lesson's `begin` and
`run.finish` fill in its resolved values and its record. How the run was made (`provenance`) is computed here, once,
from this object; the run folder's report, metrics.json, config.json and the command line's summary all read it.

    with run_state.active(RunState(lesson="churn", offline=True, used=[])) as run:
        ...                                  # every loader, fit and check inside sees `run`
    with run_state.changed(plan=plan): ...   # the same state with one field changed, inside the block

Outside any run, `current()` is an idle state (nothing recorded, online, no progress).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from dataclasses import dataclass, field
from typing import Any, TextIO

from keraslab.errors import UsageError


@dataclass(frozen=True)
class StandIn:
    """A lesson run on another data set than its own because its own is not on this machine (`run all --quick`):
    `dataset` ran instead of `instead_of`, for `reason`."""

    dataset: str
    instead_of: str
    reason: str

    def record(self) -> dict:
        return {"dataset": self.dataset, "instead_of": self.instead_of, "reason": self.reason}

    @classmethod
    def from_record(cls, value) -> StandIn | None:
        """The StandIn a config.json records (its "stand_in"), or None; a malformed one is a UsageError."""
        if value is None:
            return None
        fields = ("dataset", "instead_of", "reason")
        if not isinstance(value, dict) or sorted(value) != sorted(fields):
            raise UsageError(f"config.json: `stand_in` must be an object with {', '.join(fields)}")
        if not all(isinstance(value[f], str) for f in fields):
            raise UsageError("config.json: `stand_in`'s dataset, instead_of and reason must be texts")
        return cls(**value)


@dataclass
class Record:
    """What a lesson keeps (`run.finish`): its summary (metrics.json), trained models (model.keras), histories
    (history.csv), further entries for metrics.json, and how the run was made (metrics.json's `run`)."""

    summary: dict[str, float]
    models: dict[str, Any] = field(default_factory=dict)
    histories: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunState:
    """One run of a lesson (or of a bundle's training, or none: idle)."""

    lesson: str | None = None
    parameters: dict | None = None  # the lesson's declared parameters (keraslab.options.Parameter), by name
    values: dict | None = None  # its parameters as the lesson resolved them (`begin`): config.json
    offline: bool = False  # the loaders never download
    stand_in: StandIn | None = None  # the data set read in place of the lesson's own
    terminal: TextIO | None = None  # where progress goes (training, downloads); None: nowhere (a notebook)
    checkpoints: Any = None  # keraslab.training.checkpoints.Store: the fits' per-epoch checkpoints
    plan: Any = None  # keraslab.distributed.plan.Plan: the devices a fit is spread over (None: one)
    timer: Any = None  # keraslab.phases.Timer: where the run's time goes
    used: list[dict] | None = None  # the data files read (keraslab.datasets): the manifest's data_files
    verdicts: list | None = None  # the exercises' verdicts (keraslab.exercises.Verdict)
    record: Record | None = None  # what the lesson handed over (`finish`)

    @property
    def seed(self) -> int:
        return (self.values or {}).get("seed", 0)

    @property
    def quick(self) -> bool:
        return bool((self.values or {}).get("quick", False))

    def provenance(self) -> dict:
        """How the run was made, as metrics.json's `run`: quick or full; real, substitute (small copies vouched for
        by $KERASLAB_CHECKSUMS, and which files) or stand-in data (another data set than the lesson's, and why)."""
        substitute = sorted({u["file"] for u in self.used or () if u.get("substitute")})
        data = "substitute" if substitute else "stand-in" if self.stand_in else "real"
        return {
            "quick": self.quick,
            "data": data,
            **({"substitute_files": substitute} if substitute else {}),
            **({"stand_in": self.stand_in.record()} if self.stand_in else {}),
        }

    @property
    def conclusive(self) -> bool:
        """Whether this run may draw a conclusion: a full run on the real data. A quick run (a smoke test) or one on
        substitute or stand-in data shows its numbers and concludes nothing."""
        return not self.quick and self.provenance()["data"] == "real"

    def how_made(self) -> str:
        """ "quick run, seed 0, real data" """
        return f"{'quick' if self.quick else 'full'} run, seed {self.seed}, {self.provenance()['data']} data"

    def finish(
        self,
        summary: dict[str, float],
        *,
        course: dict[str, float] | None = None,
        course_label: str = "the course",
        models: dict | None = None,
        history=None,
        histories: dict | None = None,
        details: dict | None = None,
    ):
        """Hand the lesson's results over and return the summary beside `course` (the course's printed figures,
        under `course_label`, which names the notebook they come from), as a table to show."""
        import pandas as pd

        if history is not None and histories:
            raise UsageError("finish: pass history=... or histories={...}, not both")
        summary = {k: float(v) for k, v in summary.items()}
        self.record = Record(
            summary,
            dict(models or {}),
            {"": history} if history is not None else dict(histories or {}),
            dict(details or {}),
            self.provenance(),
        )
        table = pd.DataFrame({f"this run ({self.how_made()})": pd.Series(summary)})
        if course:
            table[course_label] = pd.Series(course, dtype="float64")
        return table.round(4).astype(object).where(table.notna(), "-")


_CURRENT: contextvars.ContextVar[RunState | None] = contextvars.ContextVar("keraslab_run", default=None)


def current() -> RunState:
    """The run in progress, else an idle state (a fresh one each time: nothing it is given is kept)."""
    return _CURRENT.get() or RunState()


@contextlib.contextmanager
def active(state: RunState):
    """`state` is the run in progress inside the block."""
    token = _CURRENT.set(state)
    try:
        yield state
    finally:
        _CURRENT.reset(token)


def changed(**fields):
    """Inside the block, the run in progress with `fields` changed (the rest, lists and objects included, shared)."""
    return active(dataclasses.replace(current(), **fields))


def start(state: RunState) -> RunState:
    """Make `state` the run in progress from here on, with no block to close: a notebook's (its cells share it)."""
    _CURRENT.set(state)
    return state
