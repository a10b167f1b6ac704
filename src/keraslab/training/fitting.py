"""Compile and fit Keras models with the fastest settings measured here, seeded, returning what model.fit returns.

`fit` trains a compiled model through keraslab.training.fastfit on JAX (one compiled call per epoch) and through
Keras's own `model.fit` otherwise. steps_per_execution runs several training steps per call into model.fit's
compiled function: on JAX it turned a 0.81 s MNIST epoch into 0.57 s on a 2-core CPU. The
PyTorch backend requires 1.
"""

from __future__ import annotations

import contextlib
import sys
import time

import numpy as np
import pandas as pd

from keraslab import run_state
from keraslab.backend import current_backend, load_keras
from keraslab.errors import UsageError
from keraslab.phases import timed

STEPS_PER_EXECUTION = {"jax": 32, "tensorflow": 16, "torch": 1}
# The metrics the compiled epoch computes itself (Keras resolves each to the accuracy that fits the labels).
FAST_METRICS = frozenset({"accuracy", "acc"})


def steps_per_execution(steps_per_epoch: int | None = None) -> int:
    spe = STEPS_PER_EXECUTION.get(current_backend(), 1)
    if steps_per_epoch:
        spe = max(1, min(spe, steps_per_epoch))
    return spe


def batches_per_epoch(rows: int, batch_size: int, validation_split: float = 0.0) -> int:
    """Training batches in one epoch of `rows` rows, after Keras's validation split (it keeps the last
    int(rows * (1 - validation_split)) rows for training): the steps_per_epoch compile_model caps its
    steps_per_execution with."""
    return int(np.ceil(int(rows * (1 - validation_split)) / batch_size))


def compile_model(model, *, optimizer="adam", loss, metrics=("accuracy",), steps_per_epoch: int | None = None):
    """model.compile with the fastest settings for this backend (steps_per_execution); returns the model."""
    model.compile(
        optimizer=optimizer, loss=loss, metrics=list(metrics), steps_per_execution=steps_per_execution(steps_per_epoch)
    )
    return model


@timed("training")
def fit(
    model,
    x,
    y,
    *,
    epochs: int,
    batch_size: int = 32,
    validation_data=None,
    validation_split: float = 0.0,
    class_weight=None,
    quiet: bool | None = None,
    shuffle: bool = True,
    callbacks=None,
    seed: int = 0,
    fast: bool = True,
    input_scale: float | None = None,
    title: str | None = None,
):
    """Train a compiled model as `model.fit` does and return what it returns: a keras.callbacks.History, whose
    `.history` holds the loss, the compiled metrics and their validation twins per epoch, and `seconds` (each
    epoch's wall time). `history_frame(history)` makes it a table.

    Progress (a line naming the model, then a line per epoch): with quiet=None, to the terminal of the keraslab
    command that runs the lesson (keraslab.run_state), never into a notebook; quiet=False prints it, quiet=True
    silences it.

    On JAX (with `fast`, shuffling on and no callbacks) the model trains through keraslab.training.fastfit: one
    compiled call per epoch, each epoch's order drawn from (seed, epoch); it computes the loss and accuracy, so a
    model compiled with other metrics is refused there (pass fast=False). Otherwise it trains through model.fit.
    `input_scale`: the model sees x * input_scale as float32 (x may be uint8 images, scaled batch by batch on the
    fast path, so the float32 copy of the whole set is never made). The progress's first line names the model
    (`title`, else its Keras name).
    """
    progress = run_state.current().terminal if quiet is None else (None if quiet else sys.stdout)
    if progress is not None:
        print(
            f"Training {title or model.name}: {len(x):,} rows, {epochs} epoch{'s' * (epochs != 1)}, batch {batch_size}",
            file=progress,
            flush=True,
        )
    if fast and uses_fast_path(model, callbacks=callbacks, shuffle=shuffle):
        from keraslab.training import fastfit

        return fastfit.fit_epochs(
            model,
            x,
            y,
            loss=model.loss,
            accuracy=reports_accuracy(model),
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            validation_data=validation_data,
            validation_split=validation_split,
            class_weight=class_weight,
            progress=progress,
            input_scale=input_scale,
        )
    if run_state.current().plan is not None:
        raise UsageError(
            "data-parallel training goes through keraslab's compiled epoch: the jax backend, a compiled "
            "model, shuffling on and no callbacks"
        )
    if input_scale is not None:
        x = _scaled(x, input_scale)
        if validation_data is not None:
            validation_data = (_scaled(validation_data[0], input_scale), validation_data[1])
    timer = _epoch_timer()
    with contextlib.redirect_stdout(progress) if progress is not None else contextlib.nullcontext():
        history = model.fit(
            x,
            y,
            epochs=epochs,
            batch_size=batch_size,
            validation_data=validation_data,
            validation_split=validation_split,
            class_weight=class_weight,
            shuffle=shuffle,
            verbose=0 if progress is None else (1 if epochs <= 10 else 2),
            callbacks=[*(callbacks or []), timer],
        )
    history.history["seconds"] = timer.seconds[: len(history.epoch)]
    return history


def history_frame(history) -> pd.DataFrame:
    """A History (or a DataFrame already) as a table: epoch (from 1), then one column per entry."""
    if isinstance(history, pd.DataFrame):
        return history
    frame = pd.DataFrame(history.history)
    frame.insert(0, "epoch", np.asarray(history.epoch, dtype=np.int64) + 1)
    return frame


def uses_fast_path(model, *, callbacks=None, shuffle: bool = True) -> bool:
    """Whether `fit` trains this compiled model through the compiled epoch (JAX, shuffled, no callbacks)."""
    return current_backend() == "jax" and getattr(model, "compiled", False) and callbacks is None and shuffle


def reports_accuracy(model) -> bool:
    """Whether the model was compiled with accuracy as its metric (True) or none (False). Any other metric is a
    UsageError: the compiled epoch computes the loss and accuracy only."""
    config = model.get_compile_config()
    metrics = config.get("metrics") or []
    if isinstance(metrics, (str, dict)):
        metrics = [metrics]
    other = [m for m in metrics if m not in FAST_METRICS]
    if other or config.get("weighted_metrics"):
        names = [m if isinstance(m, str) else m.get("class_name", str(m)) for m in other] or ["weighted_metrics"]
        raise UsageError(
            f"keraslab's compiled epoch computes the loss and accuracy only; the model was compiled with "
            f"metrics {names}. Compile with metrics=['accuracy'] (or none), or pass fast=False to "
            f"train through model.fit"
        )
    return bool(metrics)


def _scaled(x, scale: float) -> np.ndarray:
    return np.asarray(x, dtype=np.float32) * np.float32(scale)


def _epoch_timer():
    """A Keras callback recording each epoch's wall time (training and validation) in `.seconds`."""

    class EpochTimer(load_keras().callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []
            self._start = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)

    return EpochTimer()


def reset_for_refit(model, fresh) -> None:
    """Make a compiled model start again as `fresh` (a new build of the same architecture) would: its weights, its
    non-trainable state (dropout's seed-generator state included, so a refit draws the masks a fresh model draws)
    and a fresh optimizer (zero moments, step 0), keeping the compiled train function: refitting then costs no
    tracing or compilation (1.15 s -> 0.23 s for a sonar fit on JAX)."""
    model.set_weights(fresh.get_weights())
    for mine, theirs in zip(model.non_trainable_variables, fresh.non_trainable_variables, strict=True):
        mine.assign(theirs.value)
    for v in model.optimizer.variables:
        if v.path.endswith("learning_rate"):
            continue
        v.assign(np.zeros(v.shape, dtype=v.dtype))


class Refitter:
    """One compiled model, fitted many times (folds, seeds, strategies): each fit starts from the weights of a fresh
    `build()` made after set_seed(seed) (weights and dropout state: a refit equals fitting that fresh model), and
    the model's compiled train function is kept, so it is traced once."""

    def __init__(self, build, *, loss, optimizer="adam", steps_per_epoch: int | None = None):
        self.build = build
        self.model = compile_model(build(), optimizer=optimizer, loss=loss, steps_per_epoch=steps_per_epoch)

    def fit(self, x, y, *, seed: int, **fit_kwargs):
        from keraslab.seeding import set_seed

        set_seed(seed)
        reset_for_refit(self.model, self.build())
        return fit(self.model, x, y, seed=seed, **fit_kwargs)
