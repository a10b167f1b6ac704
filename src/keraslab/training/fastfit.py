"""Training with no Python work per step: on the JAX backend, one compiled call per epoch (the compiled functions
are in keraslab.training.compiled_epoch).

Keras's model.fit feeds each batch from Python; for the course's small dense networks that per-batch overhead is
most of the epoch (MNIST MLP: 0.62 s an epoch with fit and steps_per_execution, 0.41 s here, against a 0.23 s
FLOP floor). `fit_epochs` keeps the data on the device, draws each epoch's order on the device from (seed, epoch)
and runs every batch of the epoch in one `lax.scan`, through the model's own `stateless_call` and the optimizer's
`stateless_apply`, then writes the weights back into the Keras model: predict, evaluate and save work as usual.

Because an epoch's order is a function of (seed, epoch) only, a run resumed at epoch k replays exactly the order
an uninterrupted run would have used.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jax
import numpy as np

from keraslab.distributed.plan import current as current_plan
from keraslab.distributed.plan import local_copy, padded
from keraslab.training import checkpoints as ckpt
from keraslab.training.compiled_epoch import EpochTrainer, accuracy_kind, epoch_order, host_state, trainer_for

# validation rows evaluated per compiled call: the CNN's activations for 4,096 rows made the cnn lesson's peak
# 2.32 GB; with 1,024 it is 1.52 GB (benchmarks/README.md)
VALIDATION_CHUNK = 1024


# --- the data of one fit -------------------------------------------------------------------------------------------


@dataclass
class FitData:
    """Training rows, validation rows (or None) and the class-weight table (or None), as the epoch needs them."""

    x: np.ndarray
    y: np.ndarray
    validation: tuple[np.ndarray, np.ndarray] | None
    weight_table: np.ndarray | None

    @classmethod
    def prepare(cls, x, y, *, n_out, validation_data, validation_split, class_weight) -> FitData:
        x, y = np.asarray(x), np.asarray(y)
        if validation_split and validation_data is None:  # Keras's rule: the last fraction, before any shuffling
            cut = int(len(x) * (1 - validation_split))
            validation_data = (x[cut:], y[cut:])
            x, y = x[:cut], y[:cut]
        if validation_data is not None:
            validation_data = (np.asarray(validation_data[0]), np.asarray(validation_data[1]))
        if n_out == 1 and y.ndim == 1:  # (n,) targets for a (n, 1) output
            y = y.reshape(-1, 1)
            if validation_data is not None:
                validation_data = (validation_data[0], validation_data[1].reshape(-1, 1))
        table = None
        if class_weight is not None:
            table = np.asarray([class_weight.get(i, 1.0) for i in range(int(max(class_weight)) + 1)], np.float32)
        return cls(x, y, validation_data, table)


def _signature(data: FitData, *, epochs, batch_size, seed, class_weight) -> dict:
    """What a checkpoint must agree with to be resumed (the devices may differ: the global batch does not)."""
    return {
        "epochs": int(epochs),
        "batch_size": int(batch_size),
        "seed": int(seed),
        "samples": len(data.x),
        "x_shape": list(np.shape(data.x)[1:]),
        "y_shape": list(np.shape(data.y)[1:]),
        "class_weight": None if class_weight is None else {str(k): float(v) for k, v in class_weight.items()},
        "validation_samples": None if data.validation is None else len(data.validation[0]),
    }


# --- running epochs on one device, or on a mesh ---------------------------------------------------------------


class OneDevice:
    """Epochs on the default device: the data go there once, each epoch is one compiled call."""

    def __init__(self, trainer: EpochTrainer, data: FitData, *, seed: int, kind: str):
        self.trainer, self.seed, self.kind = trainer, np.uint32(seed), kind
        self.x, self.y = self.put(data.x), self.put(data.y)
        self.table = None if data.weight_table is None else self.put(data.weight_table)

    # device_put, not jnp.asarray: an array whose data are 64-byte aligned (keraslab.datasets' images) is used where
    # it is, not copied
    put = staticmethod(jax.device_put)

    def train(self, state, epoch: int):
        state, loss, acc = self.trainer.epoch(state, self.x, self.y, self.seed, epoch, self.table, self.kind)
        return state, float(loss), float(acc)  # float(): waits for the epoch to finish


class OnMesh:
    """Epochs over a data-parallel plan's mesh: this process places its share of every global batch on its devices,
    the same global batches in the same order as on one device."""

    def __init__(self, trainer: EpochTrainer, data: FitData, plan, *, seed: int, kind: str):
        self.trainer, self.data, self.plan, self.seed, self.kind = trainer, data, plan, seed, kind

    def put(self, value):
        return self.plan.replicate(value)

    def train(self, state, epoch: int):
        loss_sum, hits = 0.0, 0
        order = epoch_order(self.seed, epoch, len(self.data.x))
        for group in _placed_batches(self.plan, self.data, order, self.trainer.batch_size):
            state, group_loss, group_hits = self.trainer.epoch_batches(state, *group, self.kind)
            loss_sum += float(local_copy(group_loss))
            hits += int(local_copy(group_hits))
        return state, loss_sum / len(self.data.x), hits / len(self.data.x)


def _placed_batches(plan, data: FitData, order, batch_size):
    """This epoch's global batches on the mesh, as groups of equal width (the full batches, then the final partial
    one). Each batch is padded to a multiple of the devices; this process gathers and sends only its own columns of
    each batch (its share of every global batch) to its own devices."""
    n, bs = len(order), batch_size
    n_full = n // bs
    groups = []
    if n_full:
        groups.append(order[: n_full * bs].reshape(n_full, bs))
    if n % bs:
        groups.append(order[n_full * bs :].reshape(1, -1))
    return [_place_group(plan, data, idx) for idx in groups]


def _place_group(plan, data: FitData, idx):
    steps, width = idx.shape
    wide = padded(width, plan.devices)
    full = np.full((steps, wide), -1, dtype=np.int64)
    full[:, :width] = idx
    mine = full[:, plan.local_slice(wide)]
    mask = mine >= 0
    rows = np.where(mask, mine, 0)
    xs, ys = data.x[rows], data.y[rows]
    ms = None if wide == width else mask
    ws = None
    if data.weight_table is not None or ms is not None:
        ws = mask.astype(np.float32)
        if data.weight_table is not None:
            labels = ys.reshape(steps, ys.shape[1], -1)[..., 0].astype(np.int64)  # (n,) or (n, 1) labels
            ws = ws * data.weight_table[labels]
    counts = np.full((steps,), width, dtype=np.float32)
    on_mesh = [
        None if a is None else plan.from_local(a, (steps, wide, *a.shape[2:]), batch_axis=1) for a in (xs, ys, ws, ms)
    ]
    return (*on_mesh, plan.replicate(counts))


# --- one fit ------------------------------------------------------------------------------------------------------


def fit_epochs(
    model,
    x,
    y,
    *,
    loss,
    epochs: int,
    batch_size: int = 32,
    seed: int = 0,
    validation_data=None,
    validation_split: float = 0.0,
    class_weight: dict | None = None,
    initial_epoch: int = 0,
    progress=None,
    on_epoch_end=None,
    plan=None,
    checkpoints=None,
    accuracy: bool = True,
    callbacks=(),
):
    """Train a compiled Keras model on the JAX backend, one compiled call per epoch. Returns a Keras History, as
    model.fit does: `.history` holds loss, accuracy, val_loss, val_accuracy (when there are validation rows) and
    seconds (each epoch's training time) per epoch; without `accuracy` (a model compiled with no metrics) the
    accuracy entries are left out.

    `progress`: a stream for one line per epoch (None: silent). `on_epoch_end(epoch, row)` is called after each
    epoch with the weights written back.

    `plan` (default: keraslab.distributed.plan.current()): train data-parallel on its mesh; the same global batches
    in the same order as on one device. `checkpoints` (default: the active keraslab.training.checkpoints store's
    next fit): save the state after every epoch and start from the newest readable checkpoint.

    `callbacks`: keras.callbacks.EarlyStopping instances (fitting.uses_fast_path takes no other), driven as model.fit
    drives them: on_epoch_end with the epoch's logs and the weights written back, the fit stopped when one sets
    `model.stop_training`, on_train_end at the end (which restores the best weights where asked).
    """
    plan = current_plan() if plan is None else plan
    trainer = trainer_for(model, loss, batch_size)
    data = FitData.prepare(
        x,
        y,
        n_out=trainer.n_out,
        validation_data=validation_data,
        validation_split=validation_split,
        class_weight=class_weight,
    )
    kind = accuracy_kind(data.y, trainer.n_out)
    signature = _signature(data, epochs=epochs, batch_size=batch_size, seed=seed, class_weight=class_weight)
    if checkpoints is None and ckpt.current() is not None:
        checkpoints = ckpt.current().next_fit(epochs)
    state, rows = trainer.state(), []
    restored = None if checkpoints is None else _restore(checkpoints, state, signature, plan)
    if restored is not None:
        initial_epoch, rows, state = restored
        if progress is not None:
            print(
                f"Resuming at epoch {initial_epoch + 1}/{epochs} from {checkpoints.folder}", file=progress, flush=True
            )

    runner = (
        OneDevice(trainer, data, seed=seed, kind=kind)
        if plan is None
        else OnMesh(trainer, data, plan, seed=seed, kind=kind)
    )
    state = tuple([runner.put(v) for v in group] for group in state)
    validation = _validation_chunks(data, runner.put)
    stopping = _Callbacks(model, callbacks, on_epoch_end)
    for epoch in range(initial_epoch, epochs):
        t0 = time.perf_counter()
        state, loss_value, acc = runner.train(state, epoch)
        row = {"epoch": epoch + 1, "loss": loss_value, "accuracy": acc, "seconds": time.perf_counter() - t0}
        if validation:
            row["val_loss"], row["val_accuracy"] = _evaluate(trainer, state, validation, kind)
        rows.append(row)
        if progress is not None:
            _print_epoch(row, epochs, time.perf_counter() - t0, accuracy, progress)
        if checkpoints is not None and checkpoints.writer:
            checkpoints.save(epoch + 1, host_state(state), rows, signature)
        if stopping.after_epoch(trainer, state, epoch, row):
            break
    trainer.write_back(state)
    stopping.end()
    if checkpoints is not None:
        checkpoints.finish()
    return _history(model, rows, epochs=epochs, validation=data.validation is not None, accuracy=accuracy)


class _Callbacks:
    """Keras callbacks (EarlyStopping) driven as model.fit drives them: on_train_begin, on_epoch_end with the epoch's
    logs after the weights are written back, `model.stop_training` read after each epoch, on_train_end; and
    fit_epochs' own `on_epoch_end` hook."""

    def __init__(self, model, callbacks, on_epoch_end=None):
        self.model, self.callbacks, self.on_epoch_end = model, tuple(callbacks), on_epoch_end
        model.stop_training = False
        for callback in self.callbacks:
            callback.set_model(model)
            callback.on_train_begin()

    def after_epoch(self, trainer, state, epoch: int, row: dict) -> bool:
        """After an epoch: the weights written back where anything reads them, fit_epochs' own `on_epoch_end`
        called, then the callbacks'; whether the fit stops here."""
        if self.on_epoch_end is None and not self.callbacks:
            return False
        trainer.write_back(state)
        if self.on_epoch_end is not None:
            self.on_epoch_end(epoch, row)
        for callback in self.callbacks:
            callback.on_epoch_end(epoch, logs=dict(row))
        return bool(self.model.stop_training)

    def end(self) -> None:
        for callback in self.callbacks:
            callback.on_train_end()


def _validation_chunks(data: FitData, put) -> tuple | None:
    """The validation rows as (chunks, width, ...) arrays on the device (width at most VALIDATION_CHUNK), the last
    chunk padded with rows of weight 0 where the rows do not divide evenly, their weights, and how many rows are
    real; None without validation rows."""
    if data.validation is None:
        return None
    xv, yv = data.validation
    n = len(xv)
    chunks = -(-n // VALIDATION_CHUNK)
    width = -(-n // chunks)  # as even as they come: 10,000 rows are 10 chunks of 1,000, none padded, nothing copied
    pad = chunks * width - n

    def chunked(a):
        if pad:
            a = np.concatenate([a, np.zeros((pad, *a.shape[1:]), a.dtype)])
        return a.reshape(chunks, width, *a.shape[1:])

    weights = (np.arange(chunks * width) < n).astype(np.float32).reshape(chunks, width)
    return put(chunked(xv)), put(chunked(yv)), put(weights), n


def _evaluate(trainer: EpochTrainer, state, validation, kind) -> tuple[float, float]:
    """Mean loss and accuracy over the validation rows (one compiled call)."""
    xs, ys, ws, n = validation
    loss_sum, hits = trainer.evaluate(state, xs, ys, ws, kind)
    return float(local_copy(loss_sum)) / n, float(local_copy(hits)) / n


def _print_epoch(row: dict, epochs: int, seconds: float, accuracy: bool, stream) -> None:
    shown = {k: v for k, v in row.items() if k not in ("epoch", "seconds") and (accuracy or "accuracy" not in k)}
    extra = "".join(f" - {k}: {v:.4f}" for k, v in shown.items())
    print(f"Epoch {row['epoch']}/{epochs} - {seconds:.2f}s{extra}", file=stream, flush=True)


def _history(model, rows: list[dict], *, epochs: int, validation: bool, accuracy: bool):
    """A keras.callbacks.History of the rows, as model.fit returns it (and sets as model.history)."""
    from keraslab.backend import load_keras

    columns = ["loss", "accuracy"] + (["val_loss", "val_accuracy"] if validation else []) + ["seconds"]
    if not accuracy:
        columns = [c for c in columns if "accuracy" not in c]
    history = load_keras().callbacks.History()
    history.set_model(model)
    history.set_params({"verbose": 0, "epochs": epochs})
    history.epoch = [int(row["epoch"]) - 1 for row in rows]
    history.history = {c: [float(row[c]) for row in rows] for c in columns}
    model.history = history
    return history


def _restore(checkpoints, template, signature: dict, plan):
    """(initial epoch, history rows, host state) from the newest readable checkpoint, or None. In a job of several
    processes, process 0 reads it and every process receives it from there (the others may be on machines that do
    not see process 0's files)."""
    found = checkpoints.latest([[np.asarray(v) for v in g] for g in template], signature)
    if plan is None or plan.processes == 1:
        return found
    from jax.experimental import multihost_utils

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
