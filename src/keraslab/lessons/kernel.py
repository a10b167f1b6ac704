"""Run a lesson's notebook top to bottom in a fresh Jupyter kernel of this Python (nbclient), keeping every output,
plots inline: the notebook exactly as a learner runs it. Needs the `notebooks` extra (nbclient, nbformat, ipykernel).
"""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
import uuid
from pathlib import Path

from keraslab.errors import KeraslabError, UsageError

EXTRA = ("nbformat", "nbclient", "ipykernel")


def require_extra() -> None:
    """UsageError naming the extra when a package of `keraslab[notebooks]` is missing."""
    missing = [name for name in EXTRA if importlib.util.find_spec(name) is None]
    if missing:
        raise UsageError(
            f"executing a notebook needs {', '.join(missing)} (the notebooks extra): pip install 'keraslab[notebooks]'"
        )


class NotebookFailed(KeraslabError):
    """A cell raised. `.notebook` holds the partly executed notebook (outputs up to and with the error)."""

    def __init__(self, message: str, notebook, cell_index: int | None):
        super().__init__(message)
        self.notebook = notebook
        self.cell_index = cell_index


def _kernel_manager_class():
    """A kernel of the Python keraslab runs in (not whichever `python3` kernelspec a machine has installed), talking
    over IPC sockets (ipykernel warns that TCP on localhost is unencrypted) at an absolute path, so that the kernel,
    which starts in the notebook's folder, and this process find the same socket files."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import KernelManager
    from jupyter_core.paths import jupyter_runtime_dir

    class ThisPython(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            return KernelSpec(
                argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                display_name="Python 3 (ipykernel)",
                language="python",
            )

    class ThisPythonKernel(KernelManager):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            runtime = Path(jupyter_runtime_dir())
            runtime.mkdir(parents=True, exist_ok=True)
            self.kernel_spec_manager = ThisPython()
            self.transport = "ipc"
            self.ip = str(runtime / f"keraslab-{uuid.uuid4().hex[:12]}")

    return ThisPythonKernel


def execute_notebook(nb, *, cwd: str | Path, name: str, timeout: float | None = None):
    """Execute `nb` (nbformat 4: a NotebookNode, or its plain JSON data) with `cwd` as the kernel's working
    directory; returns the executed NotebookNode. Raises NotebookFailed naming the failing cell's position and
    first line."""
    require_extra()
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, DeadKernelError

    nb = nbformat.from_dict(nb)

    client = NotebookClient(
        nb,
        kernel_manager_class=_kernel_manager_class(),
        timeout=None if timeout is None else max(1, math.ceil(timeout)),  # nbclient counts whole seconds
        resources={"metadata": {"path": str(cwd)}},
        record_timing=False,
        # once the last cell has run, the kernel is stopped at once: a graceful shutdown waits while the kernel's
        # interpreter tears itself down (0.6-0.8 s a notebook), after every output is already here
        shutdown_kernel="immediate",
    )
    try:
        # the kernel process's own log lines (not the cells' output, which comes back through the client) stay out
        # of the terminal: ipykernel warns there about its transport and its parent
        client.execute(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (CellExecutionError, DeadKernelError, TimeoutError) as exc:
        index = failing_cell(nb)
        where = "a cell" if index is None else f"cell {index + 1} ({first_line(nb.cells[index].source)!r})"
        why = f"{exc.ename}: {exc.evalue}" if isinstance(exc, CellExecutionError) else f"{type(exc).__name__}: {exc}"
        raise NotebookFailed(f"notebook {name}: {where} failed: {why.splitlines()[0]}", nb, index) from exc
    return nb


def failing_cell(nb) -> int | None:
    """The index of the first cell with an error output (None when none has one, e.g. a dead kernel)."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            return i
    return None


def first_line(source: str) -> str:
    return next((line.strip() for line in source.splitlines() if line.strip()), "")
