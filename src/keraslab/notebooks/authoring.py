"""A lesson's notebook from its source: the jupytext percent script shipped in keraslab/notebooks/sources/ (one per
lesson, named after it), read into a notebook (nbformat 4), its parameters cell set, written atomically.

Needs the `notebooks` extra (jupytext, nbformat, nbclient, ipykernel): `pip install 'keraslab[notebooks]'`.
"""

from __future__ import annotations

import importlib
from importlib import resources
from pathlib import Path
from typing import Any

from keraslab.errors import UsageError
from keraslab.files import atomic_write_text
from keraslab.notebooks.parameters import Parameter, parse_assignments, read_parameters, set_values

# The course's order (its notebooks 1, 3, 4, ..., 10), which is not the order `keraslab run all` takes.
COURSE_ORDER: tuple[str, ...] = (
    "mnist",
    "losses",
    "gradient-descent",
    "gd-variants",
    "cifar10-ann",
    "churn",
    "dropout",
    "imbalance",
    "cnn",
)
EXTRA = ("jupytext", "nbformat", "nbclient", "ipykernel")
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def require_extra() -> None:
    """UsageError naming the extra when a package of `keraslab[notebooks]` is missing."""
    missing = [name for name in EXTRA if importlib.util.find_spec(name) is None]
    if missing:
        raise UsageError(
            f"keraslab notebook needs {', '.join(missing)} (the notebooks extra): pip install 'keraslab[notebooks]'"
        )


def check_lesson(name: str) -> str:
    if name not in COURSE_ORDER:
        raise UsageError(f"Unknown lesson {name!r}. Expected one of: {', '.join(COURSE_ORDER)}")
    return name


def source_text(lesson: str) -> str:
    """The percent-format source of a lesson's notebook, as shipped in the package."""
    return resources.files("keraslab.notebooks").joinpath("sources", f"{check_lesson(lesson)}.py").read_text()


def read_source(lesson: str):
    """The lesson's notebook (nbformat NotebookNode) exactly as its source declares it, outputs empty."""
    require_extra()
    import jupytext

    nb = jupytext.reads(source_text(lesson), fmt="py:percent")
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["keraslab"] = {"lesson": lesson}
    return nb


def parameters_cell(nb, lesson: str):
    cells = [c for c in nb.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"the {lesson} notebook has {len(cells)} cells tagged 'parameters'; expected one")
    return cells[0]


def declared_parameters(lesson: str) -> dict[str, Parameter]:
    return read_parameters(parameters_cell(read_source(lesson), lesson).source)


def build_notebook(lesson: str, *, params: list[str] = (), seed: int | None = None, quick: bool = False):
    """The lesson's notebook with its parameters set: `params` as NAME=VALUE texts (checked against the cell's
    annotations), then `seed` and `quick` where the notebook has them (--seed N and --quick)."""
    nb = read_source(lesson)
    cell = parameters_cell(nb, lesson)
    declared = read_parameters(cell.source)
    values: dict[str, Any] = parse_assignments(list(params), declared, notebook=lesson)
    if seed is not None:
        values["seed"] = declared["seed"].coerce(str(seed))
    if quick and "quick" in declared:
        values["quick"] = True
    cell.source = set_values(cell.source, values)
    import nbformat

    nbformat.validate(nb)
    return nb


def write_notebook(nb, path: str | Path) -> Path:
    """Write a notebook as nbformat 4 JSON, atomically (a temporary file renamed over `path`)."""
    import nbformat

    return atomic_write_text(path, nbformat.writes(nb, version=4))


def outputs_for(lessons: list[str], out_dir: str | Path, *, force: bool) -> dict[str, Path]:
    """DIR/LESSON.ipynb for each lesson; an existing file is refused (UsageError) unless `force`."""
    paths = {lesson: Path(out_dir) / f"{check_lesson(lesson)}.ipynb" for lesson in lessons}
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing and not force:
        raise UsageError(f"{', '.join(existing)} already exist(s); pass --force to overwrite")
    return paths
