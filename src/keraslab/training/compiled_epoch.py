"""What keraslab.training.fastfit compiles for a model: a whole shuffled epoch in one call (one `lax.scan` over its
batches), an epoch of given sharded global batches (data-parallel), and an evaluation, all through the model's own
`stateless_call` (or, for a Sequential model with a Conv2D or MaxPooling2D, the same forward pass with those
layers computed faster: keraslab.training.fast_layers) and the optimizer's `stateless_apply`.

The training state is a tuple (trainable, non-trainable, optimizer variables) of lists of arrays. One EpochTrainer
per (model, loss, batch size, optimizer) is kept while the model lives, so refits (folds, seeds, strategies) are
traced and compiled once.
"""

from __future__ import annotations

import functools
import weakref

import jax
import jax.numpy as jnp
import numpy as np

from keraslab.backend import load_keras
from keraslab.distributed.plan import local_copy
from keraslab.training import fast_layers


def _loss_callable(loss):
    """loss(y, p, w=None) -> the mean (weighted) loss, for a Keras loss name, function or Loss object."""
    k = load_keras()
    fn = k.losses.get(loss)
    if isinstance(fn, k.losses.Loss):
        return lambda y, p, w=None: fn(y, p, sample_weight=w)

    def mean_loss(y, p, w=None):
        per_sample = fn(y, p)
        return k.ops.mean(per_sample if w is None else per_sample * w)

    return mean_loss


def accuracy_kind(y: np.ndarray, n_out: int) -> str:
    """The accuracy Keras's "accuracy" resolves to for these labels: binary, categorical (one-hot) or sparse."""
    if n_out == 1:
        return "binary"
    if y.ndim == 2 and y.shape[1] == n_out:
        return "categorical"
    return "sparse"


def _hits(yb, out, kind: str, mask=None):
    """How many rows of the batch the output classifies right (only the rows `mask` marks, when given)."""
    if kind == "binary":
        hit = (out[..., 0] > 0.5) == (yb.reshape(-1) > 0.5)
    elif kind == "categorical":
        hit = jnp.argmax(out, -1) == jnp.argmax(yb, -1)
    else:
        hit = jnp.argmax(out, -1) == yb.reshape(-1).astype(jnp.int32)
    return jnp.sum(hit if mask is None else hit & mask)


def _uses_batch_statistics(model) -> bool:
    """Whether a layer of the model computes statistics over the batch in training (BatchNormalization)."""
    k = load_keras()
    layers = model._flatten_layers() if hasattr(model, "_flatten_layers") else getattr(model, "layers", [])  # noqa: SLF001
    return any(isinstance(layer, k.layers.BatchNormalization) for layer in layers)


class EpochTrainer:
    """The compiled functions for one compiled Keras model: `epoch` (a whole shuffled epoch on one device),
    `epoch_batches` (given global batches, sharded over a mesh) and `evaluate`.

    The training state is a tuple (trainable, non-trainable, optimizer variables) of lists of arrays; `state()`
    reads it from the model and `write_back()` puts it back. The trainer holds the model weakly, so a cached trainer
    never keeps a model alive.
    """

    def __init__(self, model, loss, *, batch_size: int):
        self.model = weakref.proxy(model)
        self.optimizer = model.optimizer
        if not self.optimizer.built:
            self.optimizer.build(model.trainable_variables)
        self.loss = _loss_callable(loss)
        self.batch_size = int(batch_size)
        self.n_out = model.outputs[0].shape[-1] if getattr(model, "outputs", None) else None
        self.batch_statistics = _uses_batch_statistics(model)
        self.epoch = jax.jit(self._epoch, static_argnums=(6,), donate_argnums=(0,))
        self.epoch_batches = jax.jit(self._epoch_batches, static_argnums=(6,), donate_argnums=(0,))
        self.evaluate = jax.jit(self._evaluate, static_argnums=(4,))

    # --- what gets compiled -----------------------------------------------------------------------------------
    def _forward_loss(self, tv, ntv, xb, yb, wb, training: bool):
        out, ntv2 = fast_layers.forward(self.model, tv, ntv, xb, training=training)
        return self.loss(yb, out, wb), (out, ntv2)

    def _step(self, state, xb, yb, wb, kind, mask=None, count=None):
        """One training step. For a global batch padded to a multiple of the devices, `mask` marks the real rows
        (`wb` is 0 on the others) and the loss is rescaled from the padded width to the `count` real rows (a factor
        of exactly 1 when nothing is padded)."""
        tv, ntv, ov = state

        def loss_of(tv_):
            loss, aux = self._forward_loss(tv_, ntv, xb, yb, wb, True)
            return (loss if count is None else loss * (xb.shape[0] / count)), aux

        (loss, (out, ntv2)), grads = jax.value_and_grad(loss_of, has_aux=True)(tv)
        tv2, ov2 = self.optimizer.stateless_apply(ov, grads, tv)
        return (tv2, ntv2, ov2), loss, _hits(yb, out, kind, mask)

    def _epoch(self, state, x, y, seed, epoch_index, weight_table, kind):
        """Every batch of one epoch, in the order drawn from (seed, epoch_index). Returns (state, mean loss,
        accuracy).

        One scan over ceil(n / batch) steps: a last, smaller batch is padded to the full width with rows that weigh
        nothing, its loss rescaled to its real rows, so that its loss and gradient are those model.fit computes on
        the smaller batch and the step is traced and compiled once, not twice. A model whose layers use batch
        statistics (BatchNormalization), which padded rows would change, trains the smaller batch at its own size."""
        n, bs = x.shape[0], self.batch_size
        order = jax.random.permutation(jax.random.fold_in(jax.random.PRNGKey(seed), epoch_index), n)
        if not self.batch_statistics:
            return self._padded_epoch(state, x, y, order, weight_table, kind)
        n_full = n // bs

        def body(carry, idx):
            st, loss_sum, hit_sum = carry
            xb, yb = x[idx], y[idx]
            wb = None if weight_table is None else weight_table[yb.reshape(-1).astype(jnp.int32)]
            st, loss, hits = self._step(st, xb, yb, wb, kind)
            return (st, loss_sum + loss * idx.shape[0], hit_sum + hits), None

        carry = (state, jnp.float32(0.0), jnp.int32(0))
        if n_full:
            carry, _ = jax.lax.scan(body, carry, order[: n_full * bs].reshape(n_full, bs))
        if n % bs:  # the final partial batch, as Keras trains it
            carry, _ = body(carry, order[n_full * bs :])
        st, loss_sum, hit_sum = carry
        return st, loss_sum / n, hit_sum / n

    def _padded_epoch(self, state, x, y, order, weight_table, kind):
        n, bs = x.shape[0], self.batch_size
        steps = -(-n // bs)
        rows = jnp.concatenate([order, jnp.zeros(steps * bs - n, order.dtype)]).reshape(steps, bs)
        real = (jnp.arange(steps * bs) < n).reshape(steps, bs)

        def body(carry, batch):
            st, loss_sum, hit_sum = carry
            idx, mask = batch
            xb, yb = x[idx], y[idx]
            wb = mask.astype(jnp.float32)
            if weight_table is not None:
                wb = wb * weight_table[yb.reshape(-1).astype(jnp.int32)]
            count = jnp.sum(mask)
            st, loss, hits = self._step(st, xb, yb, wb, kind, mask, count)
            return (st, loss_sum + loss * count, hit_sum + hits), None

        carry = (state, jnp.float32(0.0), jnp.int32(0))
        (st, loss_sum, hit_sum), _ = jax.lax.scan(body, carry, (rows, real))
        return st, loss_sum / n, hit_sum / n

    def _epoch_batches(self, state, xs, ys, ws, ms, counts, kind):
        """Train on given global batches (steps, width, ...), each sharded along its batch axis over the mesh: XLA
        partitions every step and all-reduces the gradients. Returns sums, not means."""

        def body(carry, inputs):
            st, loss_sum, hit_sum = carry
            xb, yb, wb, mb, count = inputs
            st, loss, hits = self._step(st, xb, yb, wb, kind, mb, count)
            return (st, loss_sum + loss * count, hit_sum + hits), None

        carry = (state, jnp.float32(0.0), jnp.int32(0))
        (st, loss_sum, hit_sum), _ = jax.lax.scan(body, carry, (xs, ys, ws, ms, counts))
        return st, loss_sum, hit_sum

    def _evaluate(self, state, xs, ys, ws, kind):
        """The summed loss and hits over validation rows given as chunks (chunks, width, ...) with weights (chunks,
        width): 1 for a real row, 0 for the rows that pad the last chunk to the width. One program and one call for
        the whole validation set, whatever its size."""
        tv, ntv, _ = state

        def body(carry, chunk):
            loss_sum, hit_sum = carry
            xb, yb, wb = chunk
            loss, (out, _) = self._forward_loss(tv, ntv, xb, yb, wb, False)
            # the loss is a mean over the chunk's width (keraslab's padded rows weigh 0): times the width, a sum
            return (loss_sum + loss * xb.shape[0], hit_sum + _hits(yb, out, kind, wb > 0)), None

        (loss_sum, hit_sum), _ = jax.lax.scan(body, (jnp.float32(0.0), jnp.int32(0)), (xs, ys, ws))
        return loss_sum, hit_sum

    # --- moving the state in and out of the Keras model ---------------------------------------------------------
    def state(self):
        m = self.model
        return (
            [v.value for v in m.trainable_variables],
            [v.value for v in m.non_trainable_variables],
            [v.value for v in self.optimizer.variables],
        )

    def write_back(self, state) -> None:
        """The trained values (host arrays) into the Keras model's own variables: predict, evaluate and save then
        work as usual in every process."""
        tv, ntv, ov = host_state(state)
        for variables, values in (
            (self.model.trainable_variables, tv),
            (self.model.non_trainable_variables, ntv),
            (self.optimizer.variables, ov),
        ):
            for v, value in zip(variables, values, strict=True):
                v.assign(value)


def host_state(state):
    """The training state as NumPy arrays on this host (each replicated array's local copy)."""
    return tuple([local_copy(v) for v in group] for group in state)


# One trainer per (loss, batch size, optimizer) of each model, held while the model lives: refits (new folds, new
# seeds, reset weights) reuse its compiled functions instead of tracing and compiling again.
_TRAINERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def trainer_for(model, loss, batch_size: int) -> EpochTrainer:
    per_model = _TRAINERS.setdefault(model, {})
    key = (loss if isinstance(loss, str) else id(loss), int(batch_size), id(model.optimizer))
    if key not in per_model:
        per_model[key] = EpochTrainer(model, loss, batch_size=batch_size)
    return per_model[key]


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order of the n training rows in epoch `epoch` (0-based): a function of (seed, epoch) only, the same
    permutation the single-device epoch draws inside its compiled function."""
    return np.asarray(_order_function(n)(np.uint32(seed), epoch))  # uint32: every seed in [0, 2**32)


@functools.lru_cache(maxsize=8)
def _order_function(n: int):
    return jax.jit(lambda seed, epoch: jax.random.permutation(jax.random.fold_in(jax.random.PRNGKey(seed), epoch), n))
