"""`keraslab run LESSON`'s half of a lesson: its script executed in this process with the command's values in its
parameters cell, inside the command's run (keraslab.run_state), and what it handed over collected with the executed
notebook."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

from keraslab import run_state
from keraslab.errors import KeraslabError, UsageError
from keraslab.lessons import practice
from keraslab.lessons.executor import CellFailed, CellRunner
from keraslab.lessons.source import Cell, notebook
from keraslab.options import check_values, set_values
from keraslab.run_state import Record


class LessonFailed(KeraslabError):
    """A lesson's cell raised something other than a keraslab error (those pass through as they are)."""


@dataclass
class LessonResult:
    lesson: str
    title: str
    values: dict[str, Any]  # the parameters as the lesson resolved them (`begin`): config.json
    record: Record  # summary, models, histories, details (`finish`)
    notebook: dict  # the executed notebook: lesson.ipynb
    figures: list[tuple[str, bytes]]  # every figure shown, in order (name, PNG): plots/
    used: list[dict] = field(default_factory=list)  # the data files read
    verdicts: list = field(default_factory=list)  # the exercises' checks (keraslab.exercises.Verdict), when run

    @property
    def summary(self) -> dict[str, float]:
        return self.record.summary


def execute(lesson, values: dict, *, echo: TextIO | None = None, exercises: str | None = None) -> LessonResult:
    """Run `lesson`'s script with `values` (checked against its parameters cell) set in that cell, every other
    parameter at its default. `echo`: where the lesson's printed output also goes (the terminal), or nowhere.
    `exercises`: None runs the lesson up to its exercises (what `keraslab run` does); "stubs" or "solutions" runs
    them too, written out that way, and keeps every check's verdict."""
    declared = lesson.parameters
    values = {
        **{n: p.default for n, p in declared.items()},
        **check_values(values, declared, lesson=lesson.name, source=f"lesson {lesson.name}"),
    }
    cells = [Cell(c.kind, set_values(c.source, values), c.tags, c.line) if c.is_parameters else c for c in lesson.cells]
    if exercises is None:
        cells = cells[: practice.start(cells)]
    elif exercises in ("stubs", "solutions"):
        cells = practice.written_out(cells, with_solutions=exercises == "solutions")
    else:
        raise UsageError(f"exercises: expected None, 'stubs' or 'solutions', received {exercises!r}")
    # what the lesson prints goes to the terminal too unless quiet (echo None); its warnings always do
    runner = CellRunner(str(lesson.path), echo=echo, echo_err=sys.stderr)
    fresh = {"lesson": lesson.name, "parameters": declared, "values": None, "record": None, "used": [], "verdicts": []}
    with run_state.changed(**fresh) as run:
        count = 0
        for index, cell in enumerate(cells):
            if cell.kind != "code":
                continue
            count += 1
            try:
                runner.run(index, count, cell)
            except CellFailed as exc:
                if isinstance(exc.error, KeraslabError):  # missing data, a bad value: its own one line
                    raise exc.error from None
                raise _failure(lesson, exc) from exc.error
    runner.namespace.clear()  # the script's data and functions go now (its functions' globals made a cycle)
    if run.values is None or run.record is None:
        raise LessonFailed(f"lesson {lesson.name}: its script ended without calling begin(...) and run.finish(...)")
    return LessonResult(
        lesson.name,
        lesson.title,
        run.values,
        run.record,
        notebook(cells, lesson=lesson.name, outputs=runner.result.outputs),
        runner.result.figures,
        list(run.used),
        list(run.verdicts),
    )


def _failure(lesson, exc: CellFailed) -> LessonFailed:
    """One line naming the failed cell, its line in the script and the error."""
    first = next((line.strip() for line in exc.cell.source.splitlines() if line.strip()), "")
    return LessonFailed(
        f"lesson {lesson.name}: cell {exc.index + 1} ({lesson.file} line {exc.cell.line}: {first!r}) failed: "
        f"{type(exc.error).__name__}: {str(exc.error).splitlines()[0] if str(exc.error) else ''}"
    )
