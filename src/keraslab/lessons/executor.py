"""Run a lesson's cells in this process, as a Jupyter kernel would, keeping every output.

Each code cell runs in one namespace, top to bottom. What it prints becomes a stream output, an object passed to
`display()` (as in Jupyter, where `display` needs no import) or left as the cell's last expression becomes a
display output: a matplotlib figure as a PNG, a DataFrame as its HTML table and its text, anything else as its
repr. Figures drawn with pyplot are shown when their cell ends, as the inline backend does. The outputs follow
nbformat 4, so the executed cells make the run's `lesson.ipynb`.

Why here and not in a Jupyter kernel (nbclient), which the tests also run every lesson in: measured as whole
commands on the quick lessons, the two cost the same within 2.5 s either way (a kernel's start against writing the
run folder; benchmarks/README.md), and here the command's context is the lesson's, with no process between them:
the checkpoints it resumes from, the device mesh it trains on, the data files it read, --offline, the terminal its
progress goes to, and the trained models it keeps.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import io
import linecache
import pprint
import re
import sys
import traceback
from dataclasses import dataclass, field
from typing import TextIO

from keraslab.lessons.source import Cell
from keraslab.phases import phase, timed

PNG_DPI = 100


class CellFailed(Exception):
    """A cell raised: `error` is what it raised, `index` the cell's position, `outputs` everything so far."""

    def __init__(self, index: int, cell: Cell, error: BaseException, outputs: dict):
        super().__init__(f"cell {index + 1} failed: {type(error).__name__}: {error}")
        self.index, self.cell, self.error, self.outputs = index, cell, error, outputs


@dataclass
class Executed:
    outputs: dict[int, tuple[int, list]] = field(default_factory=dict)  # cell index -> (execution count, outputs)
    figures: list[tuple[str, bytes]] = field(default_factory=list)  # (name, PNG) of every figure shown, in order


class _Stream(io.TextIOBase):
    """sys.stdout or sys.stderr while a cell runs: text goes to the cell's outputs, and to `echo` when given."""

    def __init__(self, name: str, run: CellRunner, echo: TextIO | None):
        self.name, self.run, self.echo = name, run, echo

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.run.stream(self.name, text)
        if self.echo is not None:
            self.echo.write(text)
        return len(text)

    def flush(self) -> None:
        if self.echo is not None:
            self.echo.flush()


class CellRunner:
    """Runs cells in one namespace; `display` is put in it, as Jupyter's is."""

    def __init__(self, filename: str, *, echo: TextIO | None = None, echo_err: TextIO | None = None):
        self.filename, self.echo, self.echo_err = filename, echo, echo_err
        self.namespace: dict = {"__name__": "__main__", "display": self.display}
        self.result = Executed()
        self._outputs: list = []
        self._lines: list[str] = []  # the text executed so far, by line (_remember)

    # --- outputs of the cell that is running ------------------------------------------------------------------
    def stream(self, name: str, text: str) -> None:
        if self._outputs and self._outputs[-1].get("name") == name:
            self._outputs[-1]["text"] += text
        else:
            self._outputs.append({"output_type": "stream", "name": name, "text": text})

    def display(self, *objects) -> None:
        for obj in objects:
            data, metadata = self.bundle(obj)
            self._outputs.append({"output_type": "display_data", "data": data, "metadata": metadata})

    def bundle(self, obj) -> tuple[dict, dict]:
        """The MIME bundle Jupyter would show for `obj`, and its metadata: for a figure, its title and the name its
        PNG gets in the run folder's plots/."""
        if _is_figure(obj):
            png, title = _png(obj), _figure_title(obj)
            name = _figure_name(title, len(self.result.figures) + 1)
            self.result.figures.append((name, png))
            data = {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": repr(obj)}
            return data, {"keraslab": {"figure": name, "title": title or name}}
        data = {"text/plain": repr(obj) if hasattr(obj, "_repr_html_") else pprint.pformat(obj, width=100)}
        html = getattr(obj, "_repr_html_", None)
        if callable(html) and not isinstance(obj, type):
            rendered = html()
            if rendered:
                data["text/html"] = rendered
        return data, {}

    # --- running -------------------------------------------------------------------------------------------------
    def run(self, index: int, count: int, cell: Cell) -> None:
        """Run one code cell; CellFailed (with an error output recorded) if it raises."""
        self._outputs = []
        try:
            with (
                contextlib.redirect_stdout(_Stream("stdout", self, self.echo)),
                contextlib.redirect_stderr(_Stream("stderr", self, self.echo_err)),
            ):
                value = self._execute(cell)
                if value is not None and not cell.source.rstrip().endswith(";"):
                    data, metadata = self.bundle(value)
                    self._outputs.append(
                        {"output_type": "execute_result", "execution_count": count, "data": data, "metadata": metadata}
                    )
                self._flush_pyplot()
        except Exception as exc:
            self._outputs.append(_error_output(exc, self.filename))
            self.result.outputs[index] = (count, self._outputs)
            raise CellFailed(index, cell, exc, self.result.outputs) from exc
        self.result.outputs[index] = (count, self._outputs)

    def _execute(self, cell: Cell):
        # the script's own line numbers, so that a traceback points into the lesson's file
        code = cell.code()
        tree = ast.parse("\n" * (cell.line - 1) + code, self.filename)
        self._remember(cell.line, code)
        imports = 0  # the cell's leading imports: start-up time, not the lesson's (keraslab.phases)
        while imports < len(tree.body) and isinstance(tree.body[imports], (ast.Import, ast.ImportFrom)):
            imports += 1
        if imports:
            with phase("start-up"):
                exec(compile(ast.Module(tree.body[:imports], type_ignores=[]), self.filename, "exec"), self.namespace)
            del tree.body[:imports]
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, self.filename, "exec"), self.namespace)
        if last is None:
            return None
        return eval(compile(ast.Expression(last.value), self.filename, "eval"), self.namespace)

    def _remember(self, line: int, code: str) -> None:
        """The text executed, at the script's line numbers, in `linecache` (as Jupyter keeps its cells): what a
        traceback shows and what an exercise check reads (keraslab.exercises.derived) is what ran, which with
        solutions filled in is not the file's text."""
        lines = code.splitlines(keepends=True)
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        end = line - 1 + len(lines)
        self._lines += ["\n"] * max(0, end - len(self._lines))
        self._lines[line - 1 : end] = lines
        linecache.cache[self.filename] = (sum(map(len, self._lines)), None, list(self._lines), self.filename)

    def _flush_pyplot(self) -> None:
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is None:
            return
        for number in plt.get_fignums():
            self.display(plt.figure(number))
        plt.close("all")


def _is_figure(obj) -> bool:
    return type(obj).__module__.startswith("matplotlib.figure") and hasattr(obj, "savefig")


@timed("figures")
def _png(fig) -> bytes:
    buf = io.BytesIO()
    # keraslab's own figures are laid out when made (keraslab.plots); any other is cropped to what it
    # draws, as Jupyter shows it (a second layout pass)
    tight = None if getattr(fig, "keraslab_laid_out", False) else "tight"
    fig.savefig(buf, format="png", dpi=PNG_DPI, bbox_inches=tight)
    return buf.getvalue()


def _figure_title(fig) -> str:
    """The figure's label, else its title, else its first axes' title ("" when it has none)."""
    title = fig.get_label() or fig.get_suptitle()
    if not title and fig.axes:
        title = fig.axes[0].get_title()
    return title


def _figure_name(title: str, number: int) -> str:
    """A file name for a figure: its place among the lesson's figures and its title as a slug."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60]
    return f"{number:02d}-{slug}" if slug else f"{number:02d}-figure"


def _error_output(exc: BaseException, filename: str) -> dict:
    """An nbformat error output; the traceback starts at the lesson's own frames."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = next((i for i, f in enumerate(frames) if f.filename == filename), 0)
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames[ours:])]
    lines += traceback.format_exception_only(type(exc), exc)
    return {"output_type": "error", "ename": type(exc).__name__, "evalue": str(exc), "traceback": lines}
