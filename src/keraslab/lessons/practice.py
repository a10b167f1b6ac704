"""The exercises at the end of a lesson script: where they start, what each one is, and the two ways they are
written out (stubs for the learner, or the reference solutions).

In a script, the exercises follow a markdown cell that starts with `## Exercises`. Each one is a markdown cell whose
first line is `### Exercise N (KIND): title`, KIND being *write it*, *build it* or *predict, then run*, then the
code cells the learner fills. A code cell marks its reference solution the way nbgrader does:

    def mse_plain(y_true, y_pred):
        ### BEGIN SOLUTION
        return sum((t - p) ** 2 for t, p in zip(y_true, y_pred)) / len(y_true)
        ### END SOLUTION

In the learner's notebook the marked lines become one stub line, `...  # your code here` (inside a block; at the
top level the lines before the marker already hold the stub, such as `prediction = None`); with `--solutions`
only the two marker lines go. A checked exercise ends with `check("LESSON.NAME", answer)`.

`keraslab run` executes the lesson up to its exercises: they are for the learner, not part of the run's figures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from keraslab.lessons.source import Cell

EXERCISES = re.compile(r"^## Exercises\b")
HEADING = re.compile(r"^### Exercise (?P<number>\d+) \((?P<kind>write it|build it|predict, then run)\): (?P<title>.+)$")
BEGIN = re.compile(r"^(?P<indent>\s*)### BEGIN SOLUTION\s*$")
END = re.compile(r"^\s*### END SOLUTION\s*$")
CHECK = re.compile(r"""\bcheck\(\s*["'](?P<id>[\w.]+)["']""")
STUB = "...  # your code here"
KINDS = ("write it", "build it", "predict, then run")


@dataclass(frozen=True)
class Exercise:
    lesson: str
    number: int
    kind: str
    title: str
    checker: str | None  # the id its cell checks (keraslab.exercises), None for an exercise that is not checked

    @property
    def checked(self) -> bool:
        return self.checker is not None


def start(cells: list[Cell]) -> int:
    """The index of the `## Exercises` cell (len(cells) when the lesson has none)."""
    return next(
        (i for i, c in enumerate(cells) if c.kind == "markdown" and EXERCISES.match(c.source)),
        len(cells),
    )


def exercises(lesson: str, cells: list[Cell]) -> list[Exercise]:
    """The lesson's exercises, in order; a malformed heading or a solution marker out of place is a ValueError."""
    found: list[Exercise] = []
    current: dict | None = None
    for cell in cells[start(cells) + 1 :]:
        first = cell.source.splitlines()[0] if cell.source else ""
        if cell.kind == "markdown" and first.startswith("### Exercise"):
            match = HEADING.match(first)
            if not match:
                raise ValueError(f"{lesson}: exercise heading {first!r} is not '### Exercise N (KIND): title'")
            if current is not None:
                found.append(Exercise(**current))
            current = {
                "lesson": lesson,
                "number": int(match["number"]),
                "kind": match["kind"],
                "title": match["title"],
                "checker": None,
            }
        elif cell.kind == "code":
            stubs(cell.source)  # markers well formed
            ids = CHECK.findall(cell.source)
            if ids and current is None:
                raise ValueError(f"{lesson}: a check(...) after '## Exercises' precedes the first exercise")
            if ids:
                current["checker"] = ids[-1]
    if current is not None:
        found.append(Exercise(**current))
    return found


def _regions(source: str):
    """(lines, [(begin, end), ...]) of the solution regions (ValueError on an unmatched marker)."""
    lines = source.splitlines()
    regions, opened = [], None
    for i, line in enumerate(lines):
        if BEGIN.match(line):
            if opened is not None:
                raise ValueError(f"line {i + 1}: ### BEGIN SOLUTION inside another")
            opened = i
        elif END.match(line):
            if opened is None:
                raise ValueError(f"line {i + 1}: ### END SOLUTION without a BEGIN")
            regions.append((opened, i))
            opened = None
    if opened is not None:
        raise ValueError(f"line {opened + 1}: ### BEGIN SOLUTION without an END")
    return lines, regions


def stubs(source: str) -> str:
    """The cell as the learner gets it: each solution replaced by a stub line (nothing at the top level)."""
    lines, regions = _regions(source)
    for begin, end in reversed(regions):
        indent = BEGIN.match(lines[begin])["indent"]
        lines[begin : end + 1] = [indent + STUB] if indent else []
    return "\n".join(lines)


def solutions(source: str) -> str:
    """The cell with its reference solutions: only the marker lines go."""
    lines, regions = _regions(source)
    for begin, end in reversed(regions):
        del lines[end]
        del lines[begin]
    return "\n".join(lines)


def written_out(cells: list[Cell], *, with_solutions: bool) -> list[Cell]:
    """The cells with every exercise written out as stubs, or with the solutions filled in."""
    first = start(cells)
    change = solutions if with_solutions else stubs
    return [
        Cell(c.kind, change(c.source), c.tags, c.line) if i > first and c.kind == "code" else c
        for i, c in enumerate(cells)
    ]
