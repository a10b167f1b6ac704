"""keraslab.bench: the benchmark harness behind `keraslab bench`."""

from keraslab.bench.harness import MODELS, print_report, run_bench

__all__ = ["MODELS", "print_report", "run_bench"]
