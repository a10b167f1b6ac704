"""keraslab.seeding: the Keras state it sets equals keras.utils.set_random_seed's, without importing TensorFlow into
a JAX or PyTorch process."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

SCRIPT = """
import json, random, sys
import numpy as np
from keraslab.backend import load_keras
from keraslab.seeding import seed_keras
from keras.src.utils.rng_utils import get_random_seed

k = load_keras()


def state():
    draws = [random.random(), float(np.random.random()), float(k.ops.convert_to_numpy(k.random.normal(())))]
    if k.backend.backend() == "torch":
        import torch

        draws.append(float(torch.rand(())))
    return [get_random_seed(), *draws]


seed_keras(k, 7)
ours = state()
tf_after_ours = "tensorflow" in sys.modules
k.utils.set_random_seed(7)
theirs = state()
print(json.dumps({"ours": ours, "theirs": theirs, "tf_after_ours": tf_after_ours,
                  "tf_after_theirs": "tensorflow" in sys.modules}))
"""


@pytest.mark.parametrize("backend", ["jax", pytest.param("torch", marks=pytest.mark.torch)])
def test_seed_keras_sets_the_state_keras_does_without_importing_tensorflow(backend):
    env = {**os.environ, "KERAS_BACKEND": backend}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["ours"] == out["theirs"]  # seed, Python, NumPy, Keras's global generator (and torch) alike
    assert out["ours"][0] == 7
    assert not out["tf_after_ours"]
    # the negative control: Keras's own function imports TensorFlow wherever it is installed
    assert out["tf_after_theirs"] == (importlib.util.find_spec("tensorflow") is not None)
