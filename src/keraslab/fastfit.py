"""Training with no Python work per step: on the JAX backend, one compiled call per epoch.

Keras's model.fit feeds each batch from Python; for the course's small dense networks that per-batch overhead is
most of the epoch (MNIST MLP: 0.62 s an epoch with fit and steps_per_execution, 0.41 s here, against a 0.23 s
FLOP floor). `fit_epochs` keeps the data on the device, draws each epoch's order on the device from (seed, epoch)
and runs every batch of the epoch in one `lax.scan`, through the model's own `stateless_call` and the optimizer's
`stateless_apply`, then writes the weights back into the Keras model: predict, evaluate and save work as usual.

Because an epoch's order is a function of (seed, epoch) only, a run resumed at epoch k replays exactly the order
an uninterrupted run would have used.
"""

from __future__ import annotations

import functools
import time

import numpy as np
import pandas as pd

from keraslab.backend import current_backend
from keraslab.backend import keras as _keras


def supported() -> bool:
    return current_backend() == "jax"


def _loss_callable(loss):
    keras = _keras()
    fn = keras.losses.get(loss)
    if isinstance(fn, keras.losses.Loss):
        return lambda y, p, w=None: fn(y, p, sample_weight=w)
    ops = keras.ops

    def mean_loss(y, p, w=None):
        per_sample = fn(y, p)
        if w is None:
            return ops.mean(per_sample)
        return ops.mean(per_sample * w)

    return mean_loss


def _accuracy_kind(y: np.ndarray, n_out: int) -> str:
    if n_out == 1:
        return "binary"
    if y.ndim == 2 and y.shape[1] == n_out:
        return "categorical"
    return "sparse"


class EpochTrainer:
    """Compiled epoch and evaluation functions for one Keras model (compiled with an optimizer)."""

    def __init__(self, model, loss, *, batch_size: int, weighted: bool = False):
        import jax
        import jax.numpy as jnp

        self.model, self.batch_size = model, int(batch_size)
        self.optimizer = model.optimizer
        if not self.optimizer.built:
            self.optimizer.build(model.trainable_variables)
        self.loss = _loss_callable(loss)
        ops = _keras().ops
        n_out = model.outputs[0].shape[-1] if getattr(model, "outputs", None) else None
        self.n_out = n_out

        def forward_loss(tv, ntv, xb, yb, wb, training, scale=None):
            if scale is not None:  # e.g. uint8 images kept on the device, scaled batch by batch
                xb = xb.astype(jnp.float32) * scale
            out, ntv2 = model.stateless_call(tv, ntv, xb, training=training)
            return self.loss(yb, out, wb), (out, ntv2)

        def correct(yb, out, kind, mask=None):
            if kind == "binary":
                hit = (out[..., 0] > 0.5) == (yb.reshape(-1) > 0.5)
            elif kind == "categorical":
                hit = jnp.argmax(out, -1) == jnp.argmax(yb, -1)
            else:
                hit = jnp.argmax(out, -1) == yb.reshape(-1).astype(jnp.int32)
            return jnp.sum(hit if mask is None else hit & mask)

        def step(state, xb, yb, wb, kind, scale, mask=None, count=None):
            """One training step. For a global batch padded to a multiple of the devices, `mask` marks the real
            rows (`wb` is 0 on the others) and the loss is rescaled from the padded width to the `count` real rows
            (a factor of exactly 1 when nothing is padded)."""
            tv, ntv, ov = state

            def loss_of(tv_):
                loss, aux = forward_loss(tv_, ntv, xb, yb, wb, True, scale)
                return (loss if count is None else loss * (xb.shape[0] / count)), aux

            (loss, (out, ntv2)), grads = jax.value_and_grad(loss_of, has_aux=True)(tv)
            tv2, ov2 = self.optimizer.stateless_apply(ov, grads, tv)
            return (tv2, ntv2, ov2), loss, correct(yb, out, kind, mask)

        def epoch(state, x, y, seed, epoch_index, weight_table, scale, kind):
            n = x.shape[0]
            bs = self.batch_size
            n_full = n // bs
            key = jax.random.fold_in(jax.random.PRNGKey(seed), epoch_index)  # the order: a function of both
            order = jax.random.permutation(key, n)

            def body(carry, idx):
                st, loss_sum, correct_sum = carry
                xb, yb = x[idx], y[idx]
                wb = None if weight_table is None else weight_table[yb.reshape(-1).astype(jnp.int32)]
                st, loss, c = step(st, xb, yb, wb, kind, scale)
                return (st, loss_sum + loss * idx.shape[0], correct_sum + c), None

            carry = (state, jnp.float32(0.0), jnp.int32(0))
            if n_full:
                carry, _ = jax.lax.scan(body, carry, order[: n_full * bs].reshape(n_full, bs))
            if n % bs:  # the final partial batch, as Keras trains it
                carry, _ = body(carry, order[n_full * bs:])
            st, loss_sum, correct_sum = carry
            return st, loss_sum / n, correct_sum / n

        def epoch_batches(state, xs, ys, ws, ms, counts, scale, kind):
            """Train on given global batches (steps, width, ...), each sharded along its batch axis over the
            mesh: XLA partitions every step and all-reduces the gradients. Returns sums, not means."""
            def body(carry, inputs):
                st, loss_sum, correct_sum = carry
                xb, yb, wb, mb, count = inputs
                st, loss, c = step(st, xb, yb, wb, kind, scale, mb, count)
                return (st, loss_sum + loss * count, correct_sum + c), None

            carry = (state, jnp.float32(0.0), jnp.int32(0))
            (st, loss_sum, correct_sum), _ = jax.lax.scan(body, carry, (xs, ys, ws, ms, counts))
            return st, loss_sum, correct_sum

        def evaluate(state, x, y, scale, kind):
            tv, ntv, _ = state
            loss, (out, _) = forward_loss(tv, ntv, x, y, None, False, scale)
            return loss, correct(y, out, kind) / x.shape[0]

        self._epoch = jax.jit(epoch, static_argnums=(7,), donate_argnums=(0,))
        self._epoch_batches = jax.jit(epoch_batches, static_argnums=(7,), donate_argnums=(0,))
        self._evaluate = jax.jit(evaluate, static_argnums=(4,))
        self.ops = ops

    def state(self):
        m = self.model
        return ([v.value for v in m.trainable_variables], [v.value for v in m.non_trainable_variables],
                [v.value for v in self.optimizer.variables])

    def write_back(self, state) -> None:
        tv, ntv, ov = state
        for v, value in zip(self.model.trainable_variables, tv):
            v.assign(value)
        for v, value in zip(self.model.non_trainable_variables, ntv):
            v.assign(value)
        for v, value in zip(self.optimizer.variables, ov):
            v.assign(value)


def _trainer(model, loss, batch_size: int, weighted: bool) -> EpochTrainer:
    """One EpochTrainer per (model, loss, batch size, weighting), kept on the model: refits (new folds, new seeds,
    reset weights) reuse its compiled functions instead of tracing and compiling again."""
    cache = model.__dict__.setdefault("_keraslab_epoch_trainers", {})
    key = (id(loss) if not isinstance(loss, str) else loss, int(batch_size), weighted, id(model.optimizer))
    if key not in cache:
        cache[key] = EpochTrainer(model, loss, batch_size=batch_size, weighted=weighted)
    return cache[key]


def _signature(x, y, *, epochs, batch_size, seed, class_weight, validation, input_scale) -> dict:
    """What a checkpoint must agree with to be resumed (the devices may differ: the global batch does not)."""
    return {"epochs": int(epochs), "batch_size": int(batch_size), "seed": int(seed), "samples": len(x),
            "x_shape": list(np.shape(x)[1:]), "y_shape": list(np.shape(y)[1:]),
            "class_weight": None if class_weight is None else {str(k): float(v) for k, v in class_weight.items()},
            "validation_samples": None if validation is None else len(validation[0]),
            "input_scale": None if input_scale is None else float(input_scale)}


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order of the n training rows in epoch `epoch` (0-based): a function of (seed, epoch) only, the same
    permutation the single-device epoch draws inside its compiled function."""
    return np.asarray(_order_function(n)(np.uint32(seed), epoch))  # uint32: every seed in [0, 2**32)


@functools.lru_cache(maxsize=8)
def _order_function(n: int):
    import jax

    return jax.jit(lambda seed, epoch: jax.random.permutation(jax.random.fold_in(jax.random.PRNGKey(seed), epoch), n))


def _placed_batches(plan, x, y, table, order, batch_size):
    """This epoch's global batches on the mesh, as groups of equal width (the full batches, then the final
    partial one). Each batch is padded to a multiple of the devices; this process gathers and sends only its own
    columns of each batch (its share of every global batch) to its own devices."""
    from keraslab.parallel import padded

    n, bs = len(order), batch_size
    n_full = n // bs
    groups = []
    if n_full:
        groups.append(order[: n_full * bs].reshape(n_full, bs))
    if n % bs:
        groups.append(order[n_full * bs:].reshape(1, -1))
    placed = []
    for idx in groups:
        steps, width = idx.shape
        wide = padded(width, plan.devices)
        full = np.full((steps, wide), -1, dtype=np.int64)
        full[:, :width] = idx
        mine = full[:, plan.local_slice(wide)]
        mask = mine >= 0
        rows = np.where(mask, mine, 0)
        xs, ys = x[rows], y[rows]
        ms = None if wide == width else mask
        ws = None
        if table is not None or ms is not None:
            ws = mask.astype(np.float32)
            if table is not None:
                labels = ys.reshape(steps, ys.shape[1], -1)[..., 0].astype(np.int64)  # (n,) or (n, 1) labels
                ws = ws * table[labels]
        counts = np.full((steps,), width, dtype=np.float32)
        on_mesh = [None if a is None else plan.from_local(a, (steps, wide) + a.shape[2:], batch_axis=1)
                   for a in (xs, ys, ws, ms)]
        placed.append((*on_mesh, plan.replicate(counts)))
    return placed


def fit_epochs(model, x, y, *, loss, epochs: int, batch_size: int = 32, seed: int = 0, validation_data=None,
               validation_split: float = 0.0, class_weight: dict | None = None, initial_epoch: int = 0,
               quiet: bool = False, on_epoch_end=None, input_scale: float | None = None, plan=None,
               checkpoints=None) -> pd.DataFrame:
    """Train a compiled Keras model on the JAX backend, one compiled call per epoch. Returns the history
    (epoch, loss, accuracy, val_loss, val_accuracy, seconds: the epoch's training time) like training.fit.

    `on_epoch_end(epoch, row)` is called after each epoch with the weights written back. With `input_scale`, x (say
    uint8 images) stays on the device as it is and each batch is cast to float32 and multiplied by it: 50,000 CIFAR
    images take 150 MB there instead of 600 MB.

    `plan` (default: keraslab.parallel.current()): train data-parallel on its mesh; the same global batches in
    the same order as on one device. `checkpoints` (default: the active keraslab.checkpoints store's next fit):
    save the state after every epoch and start from the newest readable checkpoint.
    """
    import jax.numpy as jnp

    from keraslab import checkpoints as ckpt
    from keraslab import parallel

    plan = parallel.current() if plan is None else plan
    x = np.asarray(x)
    y = np.asarray(y)
    if validation_split and validation_data is None:  # Keras's rule: the last fraction, before any shuffling
        cut = int(len(x) * (1 - validation_split))
        validation_data = (x[cut:], y[cut:])
        x, y = x[:cut], y[:cut]
    trainer = _trainer(model, loss, batch_size, class_weight is not None)
    table = None
    if class_weight is not None:
        table = np.asarray([class_weight.get(i, 1.0) for i in range(int(max(class_weight)) + 1)], np.float32)
    kind = _accuracy_kind(y, trainer.n_out)
    if trainer.n_out == 1 and y.ndim == 1:  # (n,) targets for a (n, 1) output
        y = y.reshape(-1, 1)
        if validation_data is not None:
            validation_data = (validation_data[0], np.asarray(validation_data[1]).reshape(-1, 1))
    signature = _signature(x, y, epochs=epochs, batch_size=batch_size, seed=seed, class_weight=class_weight,
                           validation=validation_data, input_scale=input_scale)
    if checkpoints is None and ckpt.current() is not None:
        checkpoints = ckpt.current().next_fit(epochs)
    state = trainer.state()
    rows: list[dict] = []
    if checkpoints is not None:
        restored = _restore(checkpoints, state, signature, plan)
        if restored is not None:
            initial_epoch, rows, state = restored
            if not quiet:
                print(f"Resuming at epoch {initial_epoch + 1}/{epochs} from {checkpoints.folder}", flush=True)

    if plan is None:
        put = jnp.asarray
        xd, yd = jnp.asarray(x), jnp.asarray(y)
        table_d = None if table is None else jnp.asarray(table)
        scale = None if input_scale is None else jnp.float32(input_scale)
    else:
        put = plan.replicate
        scale = None if input_scale is None else np.float32(input_scale)
    state = tuple([put(v) for v in group] for group in state)
    val_chunks = []
    if validation_data is not None:
        xv, yv = np.asarray(validation_data[0]), np.asarray(validation_data[1])
        val_chunks = [(put(xv[i:i + 4096]), put(yv[i:i + 4096]), len(xv[i:i + 4096]))
                      for i in range(0, len(xv), 4096)]

    for epoch in range(initial_epoch, epochs):
        t0 = time.perf_counter()
        if plan is None:
            state, loss_value, acc = trainer._epoch(state, xd, yd, np.uint32(seed), epoch, table_d, scale, kind)
            loss_value, acc = float(loss_value), float(acc)  # float(): waits for it
        else:
            loss_sum, hits = 0.0, 0
            for group in _placed_batches(plan, x, y, table, epoch_order(seed, epoch, len(x)), batch_size):
                state, group_loss, group_hits = trainer._epoch_batches(state, *group, scale, kind)
                loss_sum += float(parallel.local_copy(group_loss))
                hits += int(parallel.local_copy(group_hits))
            loss_value, acc = loss_sum / len(x), hits / len(x)
        row = {"epoch": epoch + 1, "loss": loss_value, "accuracy": acc, "seconds": time.perf_counter() - t0}
        if val_chunks:
            row["val_loss"], row["val_accuracy"] = _evaluate(trainer, state, val_chunks, kind, scale)
        rows.append(row)
        if not quiet:
            extra = "".join(f" - {k}: {v:.4f}" for k, v in row.items() if k not in ("epoch", "seconds"))
            print(f"Epoch {epoch + 1}/{epochs} - {time.perf_counter() - t0:.2f}s{extra}", flush=True)
        if checkpoints is not None and checkpoints.writer:
            checkpoints.save(epoch + 1, _host(state), rows, signature)
        if on_epoch_end is not None:
            _write_back(trainer, state)
            on_epoch_end(epoch, row)
    _write_back(trainer, state)
    if checkpoints is not None:
        checkpoints.finish()
    return pd.DataFrame(rows, columns=["epoch", "loss", "accuracy"] + (
        ["val_loss", "val_accuracy"] if validation_data is not None else []) + ["seconds"])


def _host(state):
    from keraslab.parallel import local_copy

    return tuple([local_copy(v) for v in group] for group in state)


def _write_back(trainer: EpochTrainer, state) -> None:
    """The trained values into the Keras model's own (single-device) variables: predict, evaluate and save then
    work as usual in every process."""
    trainer.write_back(_host(state))


def _evaluate(trainer: EpochTrainer, state, chunks, kind, scale):
    from keraslab.parallel import local_copy

    total_loss = total_acc = 0.0
    n = sum(c[2] for c in chunks)
    for xb, yb, size in chunks:
        loss, acc = trainer._evaluate(state, xb, yb, scale, kind)
        total_loss += float(local_copy(loss)) * size
        total_acc += float(local_copy(acc)) * size
    return total_loss / n, total_acc / n


def _restore(checkpoints, template, signature: dict, plan):
    """(initial epoch, history rows, host state) from the newest readable checkpoint, or None. In a job of several
    processes, process 0 reads it and every process receives it from there (the others may be on machines that
    do not see process 0's files)."""
    found = checkpoints.latest([[np.asarray(v) for v in g] for g in template], signature)
    if plan is None or plan.processes == 1:
        return found
    from jax.experimental import multihost_utils

    from keraslab import checkpoints as ckpt

    epoch = -1 if found is None else found[0]
    epoch = int(multihost_utils.broadcast_one_to_all(np.int32(epoch)))
    if epoch < 0:
        return None
    if found is not None:
        state, rows = found[2], found[1]
    else:
        state, rows = [[np.asarray(v) for v in g] for g in template], [{}] * epoch
    table = ckpt.history_table(rows)
    # float64 travels as pairs of uint32 (JAX computes in 32 bits unless x64 is on): the history stays exact
    state, bits = multihost_utils.broadcast_one_to_all((state, table.view(np.uint32)))
    rows = ckpt.history_rows(np.ascontiguousarray(np.asarray(bits, dtype=np.uint32)).view(np.float64))
    return epoch, rows, [[np.asarray(v) for v in g] for g in state]
