"""Choose the Keras backend once per process, before Keras is imported.

Order of precedence: the explicit argument (``--backend``), then ``KERAS_BACKEND``, then ``jax`` (measured
fastest here on the course's dense networks). The rest of keraslab imports Keras only through :func:`load_keras`.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys

from keraslab.errors import BackendError

BACKENDS = ("jax", "torch", "tensorflow")
DEFAULT_BACKEND = "jax"
# backend -> (module that must be importable, pip extra that installs it)
_REQUIRES = {
    "jax": ("jax", "keraslab (jax is a core dependency: pip install jax jaxlib)"),
    "torch": ("torch", "keraslab[torch]"),
    "tensorflow": ("tensorflow", "keraslab[tensorflow]"),
}

_chosen: str | None = None
_prepared = False  # load_keras() has applied the pending seed and TensorFlow's log filter


def resolve_backend(name: str | None = None) -> str:
    """Return the backend name that `use_backend(name)` would choose, validating it."""
    if name is None:
        name = os.environ.get("KERAS_BACKEND") or DEFAULT_BACKEND
    name = name.strip().lower()
    if name not in BACKENDS:
        raise BackendError(
            f"Invalid value for `backend`. Expected one of {', '.join(BACKENDS)}. Received: backend={name!r}"
        )
    return name


def is_installed(name: str) -> bool:
    module = _REQUIRES[name][0]
    return module in sys.modules or importlib.util.find_spec(module) is not None


def use_backend(name: str | None = None) -> str:
    """Select the Keras backend for this process and return its name.

    Must run before Keras is imported. Calling it again with the same backend is a no-op; asking for a different
    backend once Keras is loaded is an error (Keras cannot switch backends in a running process).
    """
    global _chosen
    name = resolve_backend(name)
    if not is_installed(name):
        module, extra = _REQUIRES[name]
        raise BackendError(
            f"The Keras backend {name!r} needs the Python package {module!r}, which is not installed. "
            f"Install it with: pip install '{extra}'"
        )
    if "keras" in sys.modules:
        current = sys.modules["keras"].backend.backend()
        if current != name:
            raise BackendError(
                f"Keras is already loaded with the {current!r} backend; the backend must be chosen before Keras "
                f"is imported (set KERAS_BACKEND={name} or pass --backend {name} in a new process)"
            )
    os.environ["KERAS_BACKEND"] = name
    _chosen = name
    return name


def current_backend() -> str:
    """The backend this process uses (choosing the default if none was chosen yet)."""
    if "keras" in sys.modules:
        return sys.modules["keras"].backend.backend()
    return _chosen or resolve_backend(None)


def load_keras():
    """Import and return Keras, choosing the backend first if nobody has. The first call also applies a seed set
    before Keras was loaded and, on TensorFlow, quiets its new-model tracing notice - whoever imported Keras first
    (importing TensorFlow imports Keras too)."""
    global _prepared
    if "keras" not in sys.modules:
        use_backend(_chosen)
    module = importlib.import_module("keras")
    if not _prepared:
        _prepared = True
        if module.backend.backend() == "tensorflow":
            quiet_new_model_tracing_notices()
        if module.backend.backend() == "jax":  # compile once: programs kept in keraslab's cache folder
            from keraslab import phases
            from keraslab.caches import enable_compile_cache

            enable_compile_cache()
            phases.listen_to_jax()
        from keraslab.seeding import apply_pending

        apply_pending(module)
    return module


class _NewModelTracingNotice(logging.Filter):
    """Drops TensorFlow's "N out of the last M calls to <function ...> triggered tf.function retracing" notice.

    TensorFlow counts traces per Python code object, and every Keras model's train, test and predict functions are
    closures over the same code: a process that builds several models (`keraslab run all`, the dropout lesson's
    two networks) trips the notice with each model's first trace, though no function is traced again per call.
    That no function is: tests/test_backends.py counts every trace of a `run all` on TensorFlow (at most two per
    function object: the first call and one relaxed shape)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


def quiet_new_model_tracing_notices() -> None:
    """Install the filter above on TensorFlow's logger (once)."""
    tf_logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, _NewModelTracingNotice) for f in tf_logger.filters):
        tf_logger.addFilter(_NewModelTracingNotice())
