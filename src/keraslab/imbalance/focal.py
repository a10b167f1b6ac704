"""The binary focal loss for Keras models (Lin et al. 2017), as the lab uses it."""

from __future__ import annotations

from keraslab.backend import load_keras
from keraslab.imbalance.strategies import FOCAL_ALPHA, FOCAL_GAMMA


def binary_focal_loss(gamma: float = FOCAL_GAMMA, alpha: float | None = FOCAL_ALPHA):
    """keras.losses.BinaryFocalCrossentropy: (1 - p_t)^gamma * BCE, weighted alpha (class 1) / 1 - alpha (class 0)
    when alpha is given, unweighted when it is None. The defaults and their reasons are in
    keraslab.imbalance.strategies. keraslab.scratch.losses.binary_focal is the same function in NumPy (a test holds
    them together)."""
    return load_keras().losses.BinaryFocalCrossentropy(
        gamma=gamma, alpha=0.25 if alpha is None else alpha, apply_class_balancing=alpha is not None
    )
