"""Keras's Conv2D and MaxPooling2D computed faster inside keraslab's compiled epoch (JAX), on the model's own
weights: the learner's model is Keras's, layer for layer, and only the arithmetic of its training step differs.

XLA's CPU backend spends most of a small CNN's training step in MaxPooling2D's gradient (select-and-scatter) and
runs its convolutions through a generic kernel. Inside the compiled epoch (keraslab.training.compiled_epoch) a
Sequential model's forward pass is run layer by layer, in Keras's own StatelessScope (as `stateless_call` runs it),
with two layers written another way:

- a `Conv2D` with strides 1, no dilation, one group and channels last, as one matrix product over the image's
  patches (im2col): (n, h, w, c) -> patches (n * h' * w', k * k * c) @ kernel (k * k * c, filters) + bias, with the
  layer's own kernel and bias (`padding="same"` pads the image first, as Keras does);
- a 2 x 2 `MaxPooling2D` (strides 2, valid, channels last) as a reshape and a max, whose gradient is one elementwise
  select giving each window's gradient to its first maximum, in the order (0, 0), (0, 1), (1, 0), (1, 1): the
  choice Keras's MaxPooling2D (XLA's reduce_window) makes, ties included.

Every other layer is called as Keras calls it. Measured on a 2-core CPU, one epoch of the course's CIFAR CNN over
50,000 images: Keras's layers 58-62 s; the pooling rewritten 22.5 s; both 18.7 s (a plain PyTorch eager loop:
27.5 s); since then, the pooling's gradient as one select and the product on 2-D rows took an epoch of 10,000
images from 1.315 s to 1.079 s. tests/training/test_fast_layers.py holds the forward pass and its gradients to
Keras's, ties of the pooling included.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from keraslab.backend import load_keras


def fast_pass(model) -> bool:
    """Whether the compiled epoch runs this model's forward pass layer by layer here: a Sequential model holding a
    layer the faster formulations compute."""
    keras = load_keras()
    return isinstance(model, keras.Sequential) and any(fast_call(layer) is not None for layer in model.layers)


def forward(model, trainable, non_trainable, x, training=False):
    """model.stateless_call(trainable, non_trainable, x, training=training) -> (outputs, non_trainable): layer by
    layer with the fast formulations where `fast_pass(model)`, else the model's own stateless_call. (The model is
    passed in, never kept: the compiled epoch holds its model weakly.)"""
    if not fast_pass(model):
        return model.stateless_call(trainable, non_trainable, x, training=training)
    keras = load_keras()
    mapping = [
        *zip(model.trainable_variables, trainable, strict=True),
        *zip(model.non_trainable_variables, non_trainable, strict=True),
    ]
    with keras.StatelessScope(state_mapping=mapping) as scope:
        for layer in model.layers:
            fast = fast_call(layer)
            x = fast(layer, x) if fast is not None else layer(x, training=training)
    updated = [scope.get_current_value(v) for v in model.non_trainable_variables]
    return x, [new if new is not None else old for new, old in zip(updated, non_trainable, strict=True)]


def fast_call(layer):
    """The faster formulation of this layer (a function (layer, x) -> y), or None: Keras's own call."""
    keras = load_keras()
    config = layer.get_config()
    if config.get("data_format", "channels_last") != "channels_last":
        return None
    if type(layer) is keras.layers.Conv2D:
        plain = (
            tuple(config["strides"]) == (1, 1)
            and tuple(config["dilation_rate"]) == (1, 1)
            and config.get("groups", 1) == 1
            and config["padding"] in ("valid", "same")
            and getattr(layer, "quantization_mode", None) is None
        )
        return _conv if plain else None
    if type(layer) is keras.layers.MaxPooling2D:
        plain = tuple(config["pool_size"]) == (2, 2) and tuple(config["strides"]) == (2, 2)
        return _pool if plain and config["padding"] == "valid" else None
    return None


def _conv(layer, x):
    """Conv2D's output, as one matrix product over the patches of x, with the layer's own kernel and bias."""
    kernel = jnp.asarray(layer.kernel.value, dtype=x.dtype)
    kh, kw, c, filters = kernel.shape
    if layer.padding == "same":  # Keras pads (k - 1) // 2 before and the rest after, on each axis
        x = jnp.pad(x, ((0, 0), ((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2), (0, 0)))
    h, w = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    # patch (i, j): channels ordered (di, dj, c), as kernel.reshape(kh * kw * c, filters) orders its rows
    patches = jnp.concatenate([x[:, di : di + h, dj : dj + w, :] for di in range(kh) for dj in range(kw)], axis=-1)
    rows = jnp.reshape(patches, (-1, kh * kw * c))  # one row per output pixel: a 2-D product
    out = jnp.reshape(rows @ jnp.reshape(kernel, (-1, filters)), (-1, h, w, filters))
    if layer.use_bias:
        out = out + jnp.asarray(layer.bias.value, dtype=out.dtype)
    return layer.activation(out) if layer.activation is not None else out


def _pool(layer, x):
    return max_pool_2x2(x)


def _windows(x):
    """(n, h, w, c) -> (n, h // 2, 2, w // 2, 2, c): an odd last row or column dropped, as "valid" pooling drops it."""
    n, h, w, c = x.shape
    return jnp.reshape(x[:, : h // 2 * 2, : w // 2 * 2, :], (n, h // 2, 2, w // 2, 2, c))


@jax.custom_vjp
def max_pool_2x2(x):
    """MaxPooling2D((2, 2)) of channels-last x."""
    return jnp.max(_windows(x), axis=(2, 4))


def _pool_forward(x):
    y = max_pool_2x2(x)
    return y, (x, y)


def _pool_backward(saved, g):
    """Each window's gradient to its first maximum: one select per window position, no reduction over the maxima
    (the max's own gradient counts them, a reduction that cost a fifth of the CNN's training step)."""
    x, y = saved
    r = _windows(x)
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


max_pool_2x2.defvjp(_pool_forward, _pool_backward)
