"""keraslab.bench: the benchmark harness behind `keraslab bench`."""

from keraslab.bench.harness import IMPLS, MODELS, print_report, run_bench

__all__ = ["IMPLS", "MODELS", "print_report", "run_bench"]
