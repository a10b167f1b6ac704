"""Keras layers of keraslab's own, registered for saving and loading ("keraslab>NAME"). Importing this module
imports Keras: choose the backend first (keraslab.backend).

PatchConv2D and ReshapeMaxPooling2D compute exactly what Conv2D(3x3, valid) and MaxPooling2D(2) compute, faster on
a CPU. XLA's CPU backend (JAX) spends most of a small CNN's training step in MaxPooling2D's gradient
(select-and-scatter) and runs its convolutions through a generic kernel. Measured here, one epoch of the course's
CIFAR CNN over 50,000 images: Conv2D + MaxPooling2D 58-62 s; Conv2D + ReshapeMaxPooling2D 22.5 s; PatchConv2D +
ReshapeMaxPooling2D 18.7 s; a plain PyTorch eager loop 27.5 s. Both keep Keras's weight layout, so weights move
freely between them and the stock layers. Since then, on 10,000 images, best of four runs alternated
before/after: the pooling's gradient as one select (`_jax_max_pool`) and the patches' product as a 2-D matrix
product (its weight gradient then needs no transposed copy) took the epoch from 1.315 s to 1.079 s.

VoteShare turns the probabilities of a balanced ensemble's members into the share of members voting for class 1.
"""

from __future__ import annotations

from keraslab.backend import load_keras

keras = load_keras()
ops = keras.ops


@keras.saving.register_keras_serializable(package="keraslab")
class ReshapeMaxPooling2D(keras.layers.Layer):
    """MaxPooling2D(pool_size=2, strides=2, padding="valid") for channels-last input, as a reshape and a max.

    (n, h, w, c) -> (n, h // 2, w // 2, c). The gradient goes to the first maximum of each window (row by row), as
    MaxPooling2D's does; on JAX it is written out as one elementwise select (`_jax_max_pool`): the max's own
    gradient would count the maxima of every window, a reduction that cost a fifth of the CNN's training step.
    `pool_size` is there to read as MaxPooling2D's does; only (2, 2) is computed.
    """

    def __init__(self, pool_size=(2, 2), **kwargs):
        super().__init__(**kwargs)
        size = tuple(pool_size) if isinstance(pool_size, (tuple, list)) else (pool_size, pool_size)
        if size != (2, 2):
            raise ValueError(f"ReshapeMaxPooling2D pools 2 x 2 windows only. Received: pool_size={pool_size!r}")

    def call(self, x):
        h, w, c = x.shape[1], x.shape[2], x.shape[3]
        h2, w2 = h // 2, w // 2
        if keras.backend.backend() == "jax":
            return _jax_max_pool(x)
        x = x[:, : 2 * h2, : 2 * w2, :]
        return ops.max(ops.reshape(x, (-1, h2, 2, w2, 2, c)), axis=(2, 4))

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return (n, h // 2, w // 2, c)


@keras.saving.register_keras_serializable(package="keraslab")
class PatchConv2D(keras.layers.Layer):
    """Conv2D(filters, (k, k), padding="valid", strides=1) as one matrix product over image patches (im2col).

    (n, h, w, c) -> patches (n, h-k+1, w-k+1, k*k*c) @ kernel (k*k*c, filters) + bias. The kernel has Conv2D's
    shape (k, k, c, filters) and the same meaning.
    """

    def __init__(self, filters: int, kernel_size: int = 3, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size[0] if isinstance(kernel_size, (tuple, list)) else kernel_size)
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        k, c = self.kernel_size, input_shape[-1]
        self.kernel = self.add_weight(name="kernel", shape=(k, k, c, self.filters), initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")

    def call(self, x):
        k = self.kernel_size
        h, w = x.shape[1] - k + 1, x.shape[2] - k + 1
        # patch (i, j) channels ordered (di, dj, c), matching kernel.reshape(k * k * c, filters)
        patches = ops.concatenate([x[:, di : di + h, dj : dj + w, :] for di in range(k) for dj in range(k)], axis=-1)
        rows = ops.reshape(patches, (-1, patches.shape[-1]))  # one row per output pixel: a 2-D product
        out = ops.reshape(ops.matmul(rows, ops.reshape(self.kernel, (-1, self.filters))), (-1, h, w, self.filters))
        out = out + self.bias
        return self.activation(out)

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        k = self.kernel_size
        return (n, h - k + 1, w - k + 1, self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "activation": keras.activations.serialize(self.activation),
        }


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


def _make_jax_max_pool():
    """2x2 max pooling for JAX whose gradient is an elementwise select: each window's gradient goes to its first
    maximum, in the order (0, 0), (0, 1), (1, 0), (1, 1) - the choice Keras's MaxPooling2D (XLA's reduce_window)
    makes."""
    import jax
    import jax.numpy as jnp

    def windows(x):  # (n, h, w, c) -> (n, h/2, 2, w/2, 2, c), an odd last row or column dropped
        n, h, w, c = x.shape
        return jnp.reshape(x[:, : h // 2 * 2, : w // 2 * 2, :], (n, h // 2, 2, w // 2, 2, c))

    @jax.custom_vjp
    def pool(x):
        return jnp.max(windows(x), axis=(2, 4))

    def forward(x):
        y = pool(x)
        return y, (x, y)

    def backward(saved, g):
        x, y = saved
        r = windows(x)
        taken = jnp.zeros(y.shape, bool)  # the window's maximum already has its gradient
        rows = []
        for i in (0, 1):
            row = []
            for j in (0, 1):
                first = (r[:, :, i, :, j, :] == y) & ~taken
                taken = taken | first
                row.append(jnp.where(first, g, 0.0))
            rows.append(jnp.stack(row, axis=3))  # (n, h/2, w/2, 2, c)
        dx = jnp.stack(rows, axis=2).reshape(g.shape[0], g.shape[1] * 2, g.shape[2] * 2, g.shape[3])
        return (jnp.pad(dx, ((0, 0), (0, x.shape[1] - dx.shape[1]), (0, x.shape[2] - dx.shape[2]), (0, 0))),)

    pool.defvjp(forward, backward)
    return pool


_jax_max_pool = _make_jax_max_pool() if keras.backend.backend() == "jax" else None
