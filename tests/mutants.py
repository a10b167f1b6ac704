"""Fails when broken: keraslab's most important behaviours, each broken on purpose in a copy of the package, and
the tests that must then fail.

    python tests/mutants.py              # every mutant (about 2 minutes on 2 cores)
    python tests/mutants.py NAME ...     # some of them
    python tests/mutants.py --list       # what each one breaks

A mutant replaces one exact piece of source text (present exactly once: tests/test_layout.py checks that every
mutant still applies and that its tests exist) in a temporary copy of src/keraslab, then runs its tests with that
copy first on PYTHONPATH (the subprocesses the tests start inherit it); the working tree is never touched. A mutant
its tests do not catch is a hole in the tests, and the run exits 1. Each caught mutant's first failure line is written
to benchmarks/results/mutants.json; each test names the mutants it catches in its docstring or a comment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "keraslab"
RESULTS = ROOT / "benchmarks" / "results" / "mutants.json"


@dataclass(frozen=True)
class Mutant:
    name: str
    breaks: str  # the behaviour, as a user would notice it
    file: str  # under src/keraslab
    old: str
    new: str
    tests: tuple[str, ...]


LK = "tests/lessons/test_lessons_keras.py::"
LS = "tests/lessons/test_lessons_scratch.py::"

MUTANTS = (
    Mutant(
        "mnist-unscaled-pixels",
        "the mnist lesson trains and reports on raw 0-255 pixels instead of pixels / 255",
        "lessons/01_mnist.py",
        'x_train, x_test = x_train.astype("float32") / 255, x_test.astype("float32") / 255',
        'x_train, x_test = x_train.astype("float32"), x_test.astype("float32")',
        (LK + "test_mnist_5k_each_model_has_its_own_confusion_matrix",),
    ),
    Mutant(
        "losses-log-loss-half",
        "the losses lesson's log loss drops the (1 - y) log(1 - p) term",
        "lessons/02_losses.py",
        "    return float(np.mean(-(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))))",
        "    return float(np.mean(-(y_true * np.log(p))))",
        (LS + "test_losses_lesson",),
    ),
    Mutant(
        "gradient-descent-frozen-bias",
        "the gradient-descent lesson's bias never updates (the tutorial's bug)",
        "lessons/03_gradient_descent.py",
        "        b = b - learning_rate * db  # the line the tutorial forgot",
        "        b = b  # the line the tutorial forgot",
        (LS + "test_gradient_descent_lesson",),
    ),
    Mutant(
        "gd-variants-first-rows-only",
        "stochastic and mini-batch steps see the same first rows of each epoch's order every step",
        "lessons/04_gd_variants.py",
        "            rows = order[start : start + rows_per_step]",
        "            rows = order[:rows_per_step]",
        (LS + "test_gd_variants_lesson",),
    ),
    Mutant(
        "cifar10-ann-unscaled-evaluation",
        "the cifar10-ann lesson scores its network on unscaled test pixels (trained on pixels / 255)",
        "lessons/05_cifar10_ann.py",
        "proba = model.predict(x_test_scaled, batch_size=512, verbose=0)",
        'proba = model.predict(x_test.astype("float32"), batch_size=512, verbose=0)',
        (LK + "test_cifar10_ann_times_every_device_and_compares_each_with_the_cpu",),
    ),
    Mutant(
        "churn-f1-arithmetic-mean",
        "the churn lesson's F1 is the arithmetic mean of precision and recall, not their harmonic mean",
        "lessons/06_churn.py",
        "f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0",
        "f1 = (precision + recall) / 2 if precision + recall else 0.0",
        (LK + "test_churn_quick_and_its_model_loads_again",),
    ),
    Mutant(
        "dropout-never-added",
        "the dropout lesson's second network has no Dropout layer (as with the course's Dense(0.5))",
        "lessons/07_dropout.py",
        "        if rate > 0:\n            layers.append(keras.layers.Dropout(rate))",
        "        if rate < 0:\n            layers.append(keras.layers.Dropout(rate))",
        (LK + "test_dropout_quick",),
    ),
    Mutant(
        "imbalance-scaler-sees-test-rows",
        "the imbalance lab's scaler is fitted on every row, the test rows included (a leak)",
        "imbalance/comparison.py",
        "        prep = preprocessor().fit(_take(X_train, i_fit))",
        "        prep = preprocessor().fit(X)",
        ("tests/imbalance/test_imbalance.py::test_every_strategy_trains_on_the_training_part_only",),
    ),
    Mutant(
        "cnn-patches-transposed",
        "the CNN's fast convolution reads each 3 x 3 patch column by column, against Conv2D's kernel layout",
        "training/fast_layers.py",
        "for di in range(kh) for dj in range(kw)], axis=-1)",
        "for dj in range(kw) for di in range(kh)], axis=-1)",
        ("tests/training/test_fast_layers.py::test_a_cnn_trains_on_the_same_function_and_gradients_as_kerass_layers",),
    ),
    Mutant(
        "fast-path-drops-the-partial-batch",
        "the compiled epoch skips the last, smaller batch that model.fit trains on (a model with BatchNormalization)",
        "training/compiled_epoch.py",
        "        if n % bs:  # the final partial batch, as Keras trains it",
        "        if False:  # the final partial batch, as Keras trains it",
        ("tests/training/test_training.py::test_the_compiled_epoch_trains_as_model_fit_does_on_the_same_batch_order",),
    ),
    Mutant(
        "fast-path-counts-a-padding-row",
        "the compiled epoch's padded last batch trains on one padding row as if it were real (an off-by-one)",
        "training/compiled_epoch.py",
        "        real = (jnp.arange(steps * bs) < n).reshape(steps, bs)",
        "        real = (jnp.arange(steps * bs) <= n).reshape(steps, bs)",
        ("tests/training/test_training.py::test_the_compiled_epoch_trains_as_model_fit_does_on_the_same_batch_order",),
    ),
    Mutant(
        "resume-forgets-the-optimizer",
        "a resumed fit restores the weights but starts Adam's moments and step count afresh",
        "training/fastfit.py",
        "        initial_epoch, rows, state = restored\n",
        "        initial_epoch, rows, state = restored[0], restored[1], (*restored[2][:2], state[2])\n",
        ("tests/training/test_resume.py::test_fit_resumes_mid_run_bit_identical_with_dropout_state",),
    ),
    Mutant(
        "bundle-stores-the-variance",
        "a bundle stores each numeric column's variance where its standard deviation belongs",
        "bundles/features.py",
        "(imputer.statistics_, scaler.mean_, scaler.scale_)",
        "(imputer.statistics_, scaler.mean_, scaler.var_)",
        ("tests/serving/test_serving.py::test_json_preprocessing_equals_scikit_learn",),
    ),
)


def apply(mutant: Mutant, src: Path) -> None:
    """Apply `mutant` to the package copy at `src` (a keraslab folder); its text must be there exactly once."""
    path = src / mutant.file
    text = path.read_text()
    if text.count(mutant.old) != 1:
        raise SystemExit(f"mutants: {mutant.name}: {mutant.file} holds its text {text.count(mutant.old)} times, not 1")
    path.write_text(text.replace(mutant.old, mutant.new))


def run(mutant: Mutant, timeout: int = 900) -> dict:
    """Copy the package, apply the mutant, run its tests; the result says whether they failed, and how."""
    with tempfile.TemporaryDirectory(prefix=f"mutant-{mutant.name}-") as tmp:
        copy = Path(tmp) / "keraslab"
        shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__"))
        apply(mutant, copy)
        path = os.pathsep.join(filter(None, [tmp, os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": path, "COLUMNS": "400"}  # the failure line in full
        argv = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-rf", *mutant.tests]
        started = time.perf_counter()
        proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
        seconds = round(time.perf_counter() - started, 1)
    # pytest exits 1 when a test failed; 0 means the mutant survived; anything else is not a verdict
    failures = [line for line in proc.stdout.splitlines() if line.startswith("FAILED ")]
    return {
        "mutant": mutant.name,
        "breaks": mutant.breaks,
        "tests": list(mutant.tests),
        "caught": proc.returncode == 1 and bool(failures),
        "pytest_exit": proc.returncode,
        "first_failure": (failures or proc.stdout.strip().splitlines()[-1:] or [""])[0][:400],
        "seconds": seconds,
    }


def main(argv: list[str]) -> int:
    if argv[:1] == ["--list"]:
        for m in MUTANTS:
            print(f"{m.name}: {m.breaks} ({m.file})")
        return 0
    chosen = [m for m in MUTANTS if not argv or m.name in argv]
    unknown = set(argv) - {m.name for m in MUTANTS}
    if unknown:
        print(f"mutants: unknown mutant(s): {', '.join(sorted(unknown))}; see --list", file=sys.stderr)
        return 2
    results = []
    for m in chosen:
        result = run(m)
        results.append(result)
        verdict = "caught" if result["caught"] else f"SURVIVED (pytest exit {result['pytest_exit']})"
        print(f"{m.name}: {verdict} in {result['seconds']} s: {result['first_failure']}", flush=True)
    if not argv:
        RESULTS.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "results": results}, indent=2) + "\n")
    survived = [r["mutant"] for r in results if not r["caught"]]
    print(
        f"{len(results) - len(survived)} of {len(results)} mutants caught"
        + (f"; survived: {survived}" if survived else "")
    )
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
