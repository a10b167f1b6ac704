"""`keraslab notebook` as a library call: a lesson as a Jupyter notebook file (.ipynb), its parameters set and
checked against their declarations, optionally executed in a kernel (keraslab.lessons.kernel).

    make_notebooks(["churn"], "out", execute=True, params=["epochs=20"])   # keraslab notebook churn --execute ...
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from keraslab.errors import UsageError
from keraslab.files import atomic_write_text
from keraslab.lessons import practice
from keraslab.lessons.catalog import get_lesson
from keraslab.lessons.source import Cell, notebook
from keraslab.options import parse_assignments, set_values


def build_notebook(
    name: str, *, params: list[str] = (), seed: int | None = None, quick: bool = False, solutions: bool = False
) -> dict:
    """The lesson's notebook (nbformat 4 JSON data, no outputs) with its parameters set: `params` as NAME=VALUE
    texts, then `seed` and `quick` (--seed N and --quick); every value checked against its declaration. Its
    exercises are empty stubs, or, with `solutions`, filled with the reference solutions."""
    lesson = get_lesson(name)
    declared = lesson.parameters
    values: dict[str, Any] = parse_assignments(list(params), declared, lesson=name)
    if seed is not None:
        values["seed"] = declared["seed"].parse(str(seed))
    if quick and "quick" in declared:
        values["quick"] = True
    cells = [Cell(c.kind, set_values(c.source, values), c.tags, c.line) if c.is_parameters else c for c in lesson.cells]
    return notebook(practice.written_out(cells, with_solutions=solutions), lesson=name)


def write_notebook(nb, path: str | Path) -> Path:
    """Write a notebook (JSON data or an nbformat NotebookNode) as nbformat 4 JSON, atomically."""
    return atomic_write_text(path, json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def outputs_for(lessons: list[str], out_dir: str | Path, *, force: bool) -> dict[str, Path]:
    """DIR/LESSON.ipynb for each lesson; an existing file is refused (UsageError) unless `force`, and so is a DIR
    that is a file."""
    if Path(out_dir).exists() and not Path(out_dir).is_dir():
        raise UsageError(f"--out {out_dir}: a file, not a folder; name a folder to write the notebooks into")
    paths = {name: Path(out_dir) / f"{get_lesson(name).name}.ipynb" for name in lessons}
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing and not force:
        raise UsageError(f"{', '.join(existing)} already exist(s); pass --force to overwrite")
    return paths


def make_notebooks(
    lessons: list[str],
    out_dir: str | Path = ".",
    *,
    execute: bool = False,
    params: list[str] = (),
    seed: int | None = None,
    quick: bool = False,
    force: bool = False,
    solutions: bool = False,
    timeout: float | None = None,
    progress: Callable[[str], None] | None = None,
    jobs: int = 1,
) -> list[Path]:
    """Write DIR/LESSON.ipynb for each lesson (every notebook is built and every parameter checked before anything
    is written). With `execute`, each runs in a fresh kernel first and is written with its outputs; a failing cell
    raises NotebookFailed after the partly executed notebook is written as DIR/LESSON.failed.ipynb (the notebooks
    before it are written, those after it are not). `jobs` kernels run at a time (each kernel is a process of its
    own); the notebooks are still written, and reported, in the order given."""
    from keraslab.lessons.kernel import NotebookFailed, require_extra

    if execute:
        require_extra()
        from keraslab.caches import enable_compile_cache

        enable_compile_cache()  # for the kernels, which inherit its setting: compiled programs kept between runs
    paths = outputs_for(lessons, out_dir, force=force)
    notebooks = {
        name: build_notebook(name, params=params, seed=seed, quick=quick, solutions=solutions) for name in lessons
    }
    written = []
    for name, nb, failure, seconds in _executed(notebooks, paths, execute=execute, timeout=timeout, jobs=jobs):
        path = paths[name]
        failed = path.with_suffix(".failed.ipynb")
        if failure is not None:
            write_notebook(failure.notebook, failed)
            message = f"{failure}; the partly executed notebook is {failed}"
            raise NotebookFailed(message, failure.notebook, failure.cell_index) from failure
        if execute:
            failed.unlink(missing_ok=True)  # a failure of an earlier attempt no longer describes this notebook
        written.append(write_notebook(nb, path))
        if progress:
            progress(f"{path}" + (f" (executed in {seconds:.1f} s)" if execute else ""))
    return written


def _executed(notebooks: dict, paths: dict, *, execute: bool, timeout: float | None, jobs: int):
    """(name, notebook, NotebookFailed or None, seconds) for each notebook, in order: executed `jobs` at a time,
    or as built without `execute`."""
    if not execute:
        for name, nb in notebooks.items():
            yield name, nb, None, 0.0
        return
    from concurrent.futures import ThreadPoolExecutor

    from keraslab.lessons.kernel import NotebookFailed, execute_notebook

    def run(name: str):
        started = time.perf_counter()
        paths[name].parent.mkdir(parents=True, exist_ok=True)
        try:
            nb = execute_notebook(notebooks[name], cwd=paths[name].parent, name=name, timeout=timeout)
        except NotebookFailed as exc:
            return None, exc, time.perf_counter() - started
        return nb, None, time.perf_counter() - started

    pool = ThreadPoolExecutor(max(1, jobs), thread_name_prefix="keraslab-kernel")
    try:
        futures = {name: pool.submit(run, name) for name in notebooks}
        for name, future in futures.items():
            yield name, *future.result()
    except KeyboardInterrupt:  # Ctrl-C: no waiting
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:  # done or a failure: the notebooks not started never start, and the kernels running finish (their
        # clients share ZeroMQ's context: one left running while the process ends could bring it down)
        pool.shutdown(wait=True, cancel_futures=True)
