"""Where progress goes: the terminal of the keraslab command that is running, or nowhere.

A lesson's own output (what it prints and displays) belongs in its notebook; training progress ("Epoch 3/100 ...")
and download bars belong on the terminal of `keraslab run`, never in the notebook. The command sets the stream
(`with terminal.to(sys.stdout)`; None with --quiet); `training.fit` and the data loaders write their progress to
`terminal.stream()` when they are not told otherwise, so a lesson run in Jupyter stays free of progress lines.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import TextIO

_STREAM: contextvars.ContextVar[TextIO | None] = contextvars.ContextVar("keraslab_terminal", default=None)


def stream() -> TextIO | None:
    """The terminal progress is written to, or None (no progress)."""
    return _STREAM.get()


@contextlib.contextmanager
def to(target: TextIO | None):
    """Send progress to `target` (None: nowhere) inside the block."""
    token = _STREAM.set(target)
    try:
        yield target
    finally:
        _STREAM.reset(token)
