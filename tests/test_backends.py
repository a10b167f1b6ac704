"""Every lesson on every Keras backend (opt-in: the tests marked tensorflow / torch run where that backend is
installed, `pip install -e '.[test,tensorflow,torch]'`, and are skipped with the reason elsewhere)."""

import json
import math
import os
import subprocess
import sys

import pytest

from keraslab import lessons

# Runs `keraslab run all --quick` in this process on TensorFlow, counting every trace of every tf.function object
# (TensorFlow's own frequent-tracing detector sees each trace), plus a negative control: a function traced per call.
TRACED_RUN_ALL = """
import collections, json, os, sys
from tensorflow.python.eager.polymorphic_function import polymorphic_function as pf

traces = collections.Counter()
names = {}
alive = []  # every traced function stays referenced: no id is reused for another function


class Counting(pf._FrequentTracingDetectorManager):
    __slots__ = ()

    def called_with_tracing(self, key, function, omit_warning):
        traces[id(function)] += 1
        alive.append(function)
        names[id(function)] = getattr(function, "__qualname__", repr(function))
        return super().called_with_tracing(key, function, omit_warning)


pf._frequent_tracing_detector_manager = Counting()
from keraslab.cli.main import main

code = main(["run", "all", "--quick", "--backend", "tensorflow", "--out", sys.argv[1]])
lessons = {names[i] + f"#{i}": n for i, n in traces.items()}

import tensorflow as tf

control = tf.function(lambda n: n * 2)  # a Python int per call: traced on every call
for n in range(6):
    control(n)
print(json.dumps({"code": code, "traces": lessons,
                  "control": traces[id(control.python_function)]}))
"""


def _run(argv, small_data_home, timeout=900, **kwargs):
    home, checksums = small_data_home
    env = {**os.environ, "KERASLAB_DATA": str(home), "KERASLAB_CHECKSUMS": str(checksums)}
    env.pop("KERAS_BACKEND", None)
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout, **kwargs)


def _every_lesson_ran_on(out, backend):
    """Each lesson finished on `backend` (its manifest says so) with its headline figure a finite number."""
    for name, lesson in lessons.all_lessons().items():
        folder = out / name
        summary = json.loads((folder / "metrics.json").read_text())["summary"]
        assert math.isfinite(summary[lesson.headline]), (name, summary)
        assert json.loads((folder / "manifest.json").read_text())["backend"] == backend, name


@pytest.mark.slow
@pytest.mark.tensorflow
def test_run_all_quick_on_tensorflow_traces_each_function_at_most_twice(small_data_home, tmp_path):
    proc = _run([sys.executable, "-c", TRACED_RUN_ALL, str(tmp_path / "runs")], small_data_home)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["code"] == 0
    _every_lesson_ran_on(tmp_path / "runs", "tensorflow")
    # the first call, and at most one relaxed shape (a last, smaller batch): nothing is traced again per call
    assert result["traces"] and max(result["traces"].values()) <= 2, result["traces"]
    assert result["control"] == 6  # the counter sees per-call retracing where there is some
    assert "retracing" not in proc.stdout + proc.stderr


@pytest.mark.slow
@pytest.mark.torch
def test_run_all_quick_on_torch(small_data_home, tmp_path):
    argv = [sys.executable, "-m", "keraslab", "--quiet", "run", "all", "--quick", "--backend", "torch"]
    proc = _run([*argv, "--out", str(tmp_path / "runs")], small_data_home)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _every_lesson_ran_on(tmp_path / "runs", "torch")


@pytest.mark.slow
@pytest.mark.tensorflow
@pytest.mark.torch
def test_churn_test_accuracy_agrees_across_the_three_backends(shared_data, tmp_path):
    """The full churn lesson (100 epochs), seed 0, on JAX, TensorFlow and PyTorch: the same network and data; the
    initial weights and the batch order come from each backend's own generators, so the figures differ a little."""
    accuracy = {}
    for backend in ("jax", "tensorflow", "torch"):
        out = tmp_path / backend
        argv = [sys.executable, "-m", "keraslab", "--quiet", "run", "churn", "--seed", "0", "--backend", backend]
        env = {**os.environ, "KERASLAB_DATA": str(shared_data)}
        proc = subprocess.run([*argv, "--out", str(out)], capture_output=True, text=True, env=env, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        accuracy[backend] = json.loads((out / "metrics.json").read_text())["summary"]["test_accuracy"]
    assert max(accuracy.values()) - min(accuracy.values()) <= 0.02, accuracy
    assert min(accuracy.values()) >= 0.77, accuracy  # and each is the lesson's result, not a broken run


def test_only_tensorflows_tracing_notice_is_filtered(monkeypatch):
    import logging

    from keraslab.backend import quiet_new_model_tracing_notices

    logger = logging.getLogger("tensorflow")
    monkeypatch.setattr(logger, "filters", [])
    seen = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())
    logger.addHandler(handler)
    try:
        quiet_new_model_tracing_notices()
        quiet_new_model_tracing_notices()  # once
        assert len(logger.filters) == 1
        logger.warning("5 out of the last 6 calls to <function f at 0x1> triggered tf.function retracing. Tracing")
        logger.warning("Gradients do not exist for variables ['dense/kernel'] when minimizing the loss.")
    finally:
        logger.removeHandler(handler)
    assert seen == ["Gradients do not exist for variables ['dense/kernel'] when minimizing the loss."]


OFF_JAX = [pytest.param("tensorflow", marks=pytest.mark.tensorflow), pytest.param("torch", marks=pytest.mark.torch)]


@pytest.mark.parametrize("backend", OFF_JAX)
def test_the_cnn_uses_kerass_own_layers_off_jax(backend):
    """The CNN is Keras's own layers on every backend (keraslab computes them faster on JAX inside its training step
    only)."""
    code = "from keraslab import models; print(sorted({type(v).__name__ for v in models.cifar_cnn().layers}))"
    env = {**os.environ, "KERAS_BACKEND": backend}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    layers = proc.stdout.strip().splitlines()[-1]
    assert "'Conv2D'" in layers and "'MaxPooling2D'" in layers and "Patch" not in layers
