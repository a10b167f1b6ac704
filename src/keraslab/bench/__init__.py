"""keraslab.bench: the benchmark harness behind `keraslab bench`.

The models and implementations are named here; the harness (and Keras, behind it) is imported when first used
(PEP 562), so that the command line can offer them without loading either.
"""

from keraslab.bench.names import IMPLS, MODELS
from keraslab.lazy import lazy_attributes

__all__ = ["IMPLS", "MODELS", "run_bench"]


__getattr__ = lazy_attributes(__name__, {"run_bench": "harness"})
