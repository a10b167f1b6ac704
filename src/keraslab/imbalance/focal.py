"""The binary focal loss for Keras models (Lin et al. 2017), as the lab uses it."""

from __future__ import annotations


def binary_focal_loss(gamma: float = 2.0, alpha: float | None = 0.25):
    """keras.losses.BinaryFocalCrossentropy: (1 - p_t)^gamma * BCE, weighted alpha / 1 - alpha by class when alpha is
    given. keraslab.scratch.losses.binary_focal is the same function in NumPy (a test holds them together)."""
    from keraslab.backend import keras

    return keras().losses.BinaryFocalCrossentropy(gamma=gamma, alpha=0.25 if alpha is None else alpha,
                                                  apply_class_balancing=alpha is not None)
