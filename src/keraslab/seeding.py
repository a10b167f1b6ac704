"""One place that seeds every random number generator a run uses."""

from __future__ import annotations

import random
import sys

import numpy as np


def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**32:
        raise ValueError(f"Invalid value for `seed`. Expected an integer in [0, 2**32). Received: seed={seed!r}")
    return int(seed)


def set_seed(seed: int) -> int:
    """Seed Python's `random`, NumPy's legacy global generator and, when Keras is loaded, Keras and its backend.

    keraslab's own code never draws from global state (it passes seeds or `np.random.Generator`s explicitly);
    this exists so that code written in the course's style, and the backends' own initialisers, repeat too.
    """
    seed = check_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    if "keras" in sys.modules:
        sys.modules["keras"].utils.set_random_seed(seed)
    return seed


def rng(seed: int) -> np.random.Generator:
    """A NumPy generator for `seed` (PCG64), for functions that take a seed."""
    return np.random.default_rng(check_seed(seed))
