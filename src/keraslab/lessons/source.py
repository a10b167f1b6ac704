"""A lesson script as cells: the jupytext percent format read without jupytext, and the notebook it makes.

The format (https://jupytext.readthedocs.io, "percent"): a line `# %%` starts a code cell, `# %% [markdown]` a
markdown cell whose lines are commented (`# text`), and `tags=["parameters"]` after the marker tags the cell. A
cell's source is its lines up to the next marker, blank lines at its end left out; a commented magic in a code cell
(`# %matplotlib inline`) is the magic in the notebook. keraslab reads its own scripts this way so that `keraslab
run` needs neither jupytext nor nbformat (the tests check that jupytext reads every lesson script into exactly these
cells, and that nbformat validates the notebooks built here).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

_MARKER = re.compile(r"^# %%(?P<rest>.*)$")
_TAGS = re.compile(r"tags=(\[[^\]]*\])")
MAGIC = re.compile(r"^# (%(?!%)\w.*)$")  # a commented magic: `# %matplotlib inline`
NBFORMAT, NBFORMAT_MINOR = 4, 5
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


@dataclass(frozen=True)
class Cell:
    kind: str  # "code" or "markdown"
    source: str  # as the notebook shows it
    tags: tuple[str, ...] = ()
    line: int = 1  # the script's line number of the cell's first source line (for tracebacks)

    @property
    def is_parameters(self) -> bool:
        return self.kind == "code" and "parameters" in self.tags

    def code(self) -> str:
        """The cell's source as Python runs it outside a kernel: magics become comments."""
        return "\n".join(f"# {line}" if line.startswith("%") else line for line in self.source.splitlines())


@dataclass
class _Open:
    kind: str
    tags: tuple[str, ...]
    first: int
    lines: list[str] = field(default_factory=list)


def read_cells(text: str) -> list[Cell]:
    """The cells of a percent-format script, in order (a jupytext YAML header, `# ---` ... `# ---`, is skipped)."""
    cells, current = [], None
    lines = text.splitlines()
    start = 0
    if lines and lines[0] == "# ---":
        start = next((i + 1 for i in range(1, len(lines)) if lines[i] == "# ---"), 0)
    for number, line in enumerate(lines[start:], start + 1):
        marker = _MARKER.match(line)
        if marker:
            if current is not None:
                cells.append(_close(current))
            rest = marker.group("rest")
            tags = _TAGS.search(rest)
            current = _Open(
                "markdown" if "[markdown]" in rest else "code",
                tuple(json.loads(tags.group(1))) if tags else (),
                number + 1,
            )
        elif current is not None:
            current.lines.append(line)
        elif line.strip():
            raise ValueError(f"line {number}: text before the first `# %%` cell marker")
    if current is not None:
        cells.append(_close(current))
    return cells


def _close(cell: _Open) -> Cell:
    lines = list(cell.lines)
    while lines and not lines[-1].strip():
        lines.pop()
    if cell.kind == "markdown":
        lines = [_uncomment(line) for line in lines]
    else:
        lines = [MAGIC.sub(r"\1", line) for line in lines]
    return Cell(cell.kind, "\n".join(lines), cell.tags, cell.first)


def _uncomment(line: str) -> str:
    if line.startswith("# "):
        return line[2:]
    if line.rstrip() == "#":
        return ""
    raise ValueError(f"a markdown cell's line is not commented: {line!r}")


def parameters_cell(cells: list[Cell], lesson: str) -> Cell:
    found = [c for c in cells if c.is_parameters]
    if len(found) != 1:
        raise ValueError(f"the {lesson} lesson has {len(found)} cells tagged 'parameters'; expected one")
    return found[0]


def notebook(cells: list[Cell], *, lesson: str, outputs: dict[int, tuple[int, list]] | None = None) -> dict:
    """An nbformat 4.5 notebook (plain JSON data) of `cells`; `outputs` maps a cell's index to (execution count,
    outputs) for an executed notebook."""
    outputs = outputs or {}
    built = []
    for i, cell in enumerate(cells):
        entry = {
            "cell_type": cell.kind,
            "id": f"{lesson}-{i:02d}",
            "metadata": {"tags": list(cell.tags)} if cell.tags else {},
            "source": cell.source,
        }
        if cell.kind == "code":
            count, outs = outputs.get(i, (None, []))
            entry |= {"execution_count": count, "outputs": outs}
        built.append(entry)
    return {
        "cells": built,
        "metadata": {
            "kernelspec": dict(KERNELSPEC),
            "language_info": {"name": "python"},
            "keraslab": {"lesson": lesson},
        },
        "nbformat": NBFORMAT,
        "nbformat_minor": NBFORMAT_MINOR,
    }
