"""keraslab.notebooks: every lesson as a Jupyter notebook a learner reads, changes and runs.

The notebooks are jupytext percent scripts in keraslab/notebooks/sources/ (one per lesson, named after it: diffable,
reviewed and linted like the code), turned into .ipynb files on demand:

    make_notebooks(["churn"], "out", execute=True, params=["epochs=20"])   # keraslab notebook churn --execute ...

- parameters: the cell tagged `parameters` (papermill's convention) and `--param NAME=VALUE` checked against it
- authoring: a lesson's source read into a notebook, its parameters set, written atomically (COURSE_ORDER)
- executor: run a notebook in a fresh kernel of this Python (nbclient), naming the failing cell
- produce: `make_notebooks`, what the command does
"""

from keraslab.notebooks.authoring import (
    COURSE_ORDER,
    build_notebook,
    declared_parameters,
    read_source,
    require_extra,
    source_text,
    write_notebook,
)
from keraslab.notebooks.executor import NotebookFailed, execute_notebook
from keraslab.notebooks.parameters import Parameter, read_parameters
from keraslab.notebooks.produce import make_notebooks

__all__ = [
    "COURSE_ORDER",
    "NotebookFailed",
    "Parameter",
    "build_notebook",
    "declared_parameters",
    "execute_notebook",
    "make_notebooks",
    "read_parameters",
    "read_source",
    "require_extra",
    "source_text",
    "write_notebook",
]
