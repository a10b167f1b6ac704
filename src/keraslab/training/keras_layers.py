"""keraslab's own Keras layer, registered for saving and loading ("keraslab>VoteShare"). Importing this module
imports Keras: choose the backend first (keraslab.backend).

VoteShare turns the probabilities of a balanced ensemble's members into the share of members voting for class 1.
"""

from __future__ import annotations

from keraslab.backend import load_keras

keras = load_keras()
ops = keras.ops


@keras.saving.register_keras_serializable(package="keraslab")
class VoteShare(keras.layers.Layer):
    """(n, k) member probabilities -> (n, 1) share of members voting for class 1 (probability >= threshold)."""

    def __init__(self, threshold: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        self.threshold = float(threshold)

    def call(self, p):
        return ops.mean(ops.cast(p >= self.threshold, "float32"), axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}
