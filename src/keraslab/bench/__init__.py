"""keraslab.bench: the benchmark harness behind `keraslab bench`.

The models and implementations are named here; the harness (and Keras, behind it) is imported when first used
(PEP 562), so that the command line can offer them without loading either.
"""

from keraslab.bench.names import IMPLS, MODELS

__all__ = ["IMPLS", "MODELS", "print_report", "run_bench"]


def __getattr__(name: str):
    if name not in ("print_report", "run_bench"):
        raise AttributeError(f"module 'keraslab.bench' has no attribute {name!r}")
    from keraslab.bench import harness

    return getattr(harness, name)
