"""The two calls a lesson script makes about itself: `begin` after its parameters, `finish` at its end.

    run = begin("churn", globals())   # checks the parameters, seeds everything, says how this run is made
    ...
    run.finish(summary, course={...}, models={"churn_ann": model}, history=history)

In Jupyter, `begin` checks the parameters cell's values against their declared ranges (a bad one is one line in
Keras's words), seeds Python, NumPy and Keras, and prints one line on how the run is made; `finish` shows the
summary beside the course's figures and says how the figures were made (quick or full, seed, real or substitute
data). Under `keraslab run`, the same two calls hand the resolved parameters, the summary, the trained models and
their histories to the command (through a sink it sets), which writes them into the run folder: nothing about the
run folder is written in the script.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from keraslab.errors import UsageError


class Sink(Protocol):
    """What `keraslab run` listens with while a lesson runs in its process."""

    used: list[dict]  # the data files read so far (keraslab.datasets.track_files)
    parameters: dict  # the running lesson's declared parameters

    def started(self, run: LessonRun) -> None: ...

    def finished(self, run: LessonRun, record: Record) -> None: ...


_SINK: contextvars.ContextVar[Sink | None] = contextvars.ContextVar("keraslab_lesson_sink", default=None)


@contextlib.contextmanager
def listening(sink: Sink):
    """Receive the lesson's begin and finish inside the block."""
    token = _SINK.set(sink)
    try:
        yield sink
    finally:
        _SINK.reset(token)


@dataclass
class Record:
    """What a lesson keeps: its summary (metrics.json), trained models (model.keras), histories (history.csv) and
    further entries for metrics.json."""

    summary: dict[str, float]
    models: dict[str, Any] = field(default_factory=dict)
    histories: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


class LessonRun:
    """One run of a lesson, from `begin` to `finish`."""

    def __init__(self, lesson: str, values: dict, used: list[dict], sink: Sink | None):
        self.lesson, self.values, self.used, self.sink = lesson, values, used, sink
        self.record: Record | None = None

    @property
    def seed(self) -> int:
        return self.values.get("seed", 0)

    @property
    def quick(self) -> bool:
        return bool(self.values.get("quick", False))

    @property
    def data(self) -> str:
        """ "substitute" when the data read so far are small copies in the real formats (vouched for by
        $KERASLAB_CHECKSUMS), or when the `dataset` parameter names such a dataset; "stand-in" when the run reads
        another data set than its lesson's own (`run all --quick` on a machine without it); else "real"."""
        from keraslab.datasets import current_stand_in, is_substitute

        substitute = any(u.get("substitute") for u in self.used) or (
            "dataset" in self.values and is_substitute(self.values["dataset"])
        )
        return "substitute" if substitute else "stand-in" if current_stand_in() is not None else "real"

    @property
    def conclusive(self) -> bool:
        """Whether this run may draw a conclusion: a full run on the real data. A quick run (a smoke test) or one on
        substitute data shows its numbers and concludes nothing."""
        return not self.quick and self.data == "real"

    def how_made(self) -> str:
        """ "quick run, seed 0, real data" """
        return f"{'quick' if self.quick else 'full'} run, seed {self.seed}, {self.data} data"

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
        )
        if self.sink is not None:
            self.sink.finished(self, self.record)
        table = pd.DataFrame({f"this run ({self.how_made()})": pd.Series(summary)})
        if course:
            table[course_label] = pd.Series(course, dtype="float64")
        return table.round(4).astype(object).where(table.notna(), "-")


def shipped_parameters(lesson: str) -> dict:
    """The parameters declared by a lesson script shipped in this folder (NN_name.py)."""
    from pathlib import Path

    from keraslab.lessons.source import parameters_cell, read_cells
    from keraslab.options import read_parameters

    found = sorted(Path(__file__).parent.glob(f"[0-9][0-9]_{lesson.replace('-', '_')}.py"))
    if not found:
        raise UsageError(f"Unknown lesson {lesson!r}: no script for it in {Path(__file__).parent}")
    return read_parameters(parameters_cell(read_cells(found[0].read_text(encoding="utf-8")), lesson).source)


def begin(lesson: str, namespace: Mapping[str, Any]) -> LessonRun:
    """Start a run of `lesson` with the parameter values in `namespace` (the notebook's globals()): each checked
    against its declaration (UsageError, one line, for a bad one), then Python, NumPy and Keras seeded."""
    from keraslab.datasets import current_stand_in, track_from_here
    from keraslab.seeding import set_seed

    sink = _SINK.get()
    declared = sink.parameters if sink is not None else shipped_parameters(lesson)
    missing = [name for name in declared if name not in namespace]
    if missing:
        raise UsageError(f"lesson {lesson}: no value for parameter(s) {', '.join(missing)}")
    values = {name: declared[name].check(namespace[name]) for name in declared}
    # the data files the lesson reads: the command's list, or (in Jupyter) one kept from here on in the notebook
    run = LessonRun(lesson, values, sink.used if sink is not None else track_from_here(), sink)
    set_seed(run.seed)
    if sink is not None:
        sink.started(run)
    import keras

    kind = "quick" if run.quick else "full"
    print(f"{lesson}: {kind} run, seed {run.seed}; Keras {keras.__version__} on {keras.backend.backend()}")
    stand_in = current_stand_in()
    if stand_in is not None:
        print(
            f"{lesson}: stand-in data: {stand_in.dataset} in place of {stand_in.instead_of}, which is not on this "
            f"machine ({stand_in.reason}); the numbers say nothing about {stand_in.instead_of}"
        )
    return run
