"""One place that seeds every random number generator a run uses."""

from __future__ import annotations

import random
import sys

import numpy as np

from keraslab.options import Bound, Parameter

_pending: int | None = None  # a seed set before Keras was loaded, applied when keraslab.backend loads it


# A seed, checked as every option is (a UsageError, a ValueError, in Keras's words)
SEED = Parameter("seed", int, False, None, 0, bound=Bound(0, 2**32, hi_closed=False))


def check_seed(seed) -> int:
    return SEED.check(int(seed) if isinstance(seed, np.integer) else seed)


def set_seed(seed: int) -> int:
    """Seed Python's `random`, NumPy's legacy global generator, and Keras and its backend (now if Keras is loaded,
    else as keraslab.backend.load_keras() loads it: the first model of a process is seeded like every later one).

    keraslab's own code never draws from global state (it passes seeds or `np.random.Generator`s explicitly);
    this exists so that code written in the course's style, and the backends' own initialisers, repeat too.
    """
    seed = check_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    global _pending
    if "keras" in sys.modules:
        seed_keras(sys.modules["keras"], seed)
        _pending = None
    else:
        _pending = seed
    return seed


def apply_pending(keras_module) -> None:
    """Called once Keras is imported: seed it with the seed set before it was loaded, if any."""
    global _pending
    if _pending is not None:
        seed_keras(keras_module, _pending)
        _pending = None


def seed_keras(keras_module, seed: int) -> None:
    """keras.utils.set_random_seed(seed), without importing TensorFlow into a process that does not use it.

    Keras's function also seeds tf.random whenever TensorFlow is installed (for tf.data pipelines), which imports
    it: about 2 s, a few hundred MB and TensorFlow's start-up log lines in every JAX or PyTorch run on a machine
    that has TensorFlow too. keraslab feeds NumPy arrays, never tf.data, on those backends; there the same Keras
    state is set without it (checked against Keras's function in tests/test_seeding.py)."""
    if keras_module.backend.backend() == "tensorflow" or "tensorflow" in sys.modules:
        keras_module.utils.set_random_seed(seed)
        return
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    from keras.src.utils import rng_utils

    global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)  # recreated from the seed
    random.seed(seed)
    np.random.seed(seed)
    if keras_module.backend.backend() == "torch":
        import torch

        torch.manual_seed(seed)


def rng(seed: int) -> np.random.Generator:
    """A NumPy generator for `seed` (PCG64), for functions that take a seed."""
    return np.random.default_rng(check_seed(seed))
