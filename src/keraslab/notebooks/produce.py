"""`keraslab notebook` as a library call: write (and optionally execute) lesson notebooks."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from keraslab.notebooks.authoring import build_notebook, outputs_for, write_notebook
from keraslab.notebooks.executor import NotebookFailed, execute_notebook


def make_notebooks(
    lessons: list[str],
    out_dir: str | Path = ".",
    *,
    execute: bool = False,
    params: list[str] = (),
    seed: int | None = None,
    quick: bool = False,
    force: bool = False,
    timeout: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Path]:
    """Write DIR/LESSON.ipynb for each lesson (every notebook is built and every parameter checked before anything
    is written). With `execute`, each runs in a fresh kernel first and is written with its outputs; a failing cell
    raises NotebookFailed after the partly executed notebook is written as DIR/LESSON.failed.ipynb."""
    paths = outputs_for(lessons, out_dir, force=force)
    notebooks = {lesson: build_notebook(lesson, params=params, seed=seed, quick=quick) for lesson in lessons}
    written = []
    for lesson, nb in notebooks.items():
        path = paths[lesson]
        failed = path.with_suffix(".failed.ipynb")
        t0 = time.perf_counter()
        if execute:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                execute_notebook(nb, cwd=path.parent, name=lesson, timeout=timeout)
            except NotebookFailed as exc:
                write_notebook(exc.notebook, failed)
                message = f"{exc}; the partly executed notebook is {failed}"
                raise NotebookFailed(message, exc.notebook, exc.cell_index) from exc
            failed.unlink(missing_ok=True)  # a failure of an earlier attempt no longer describes this notebook
        written.append(write_notebook(nb, path))
        if progress:
            progress(f"{path}" + (f" (executed in {time.perf_counter() - t0:.1f} s)" if execute else ""))
    return written
