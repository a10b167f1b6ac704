"""Compile and fit Keras models with the fastest settings measured here.

`fit(model, ...)` is `model.fit(...)`: the same arguments (a subset), the same meanings, a Keras History back. It
trains through keraslab.training.fastfit on JAX (one compiled call per epoch) and through Keras's own `model.fit`
otherwise. steps_per_execution runs several training steps per call into model.fit's
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
    x=None,
    y=None,
    batch_size=None,
    epochs=1,
    verbose="auto",
    callbacks=None,
    validation_split=0.0,
    validation_data=None,
    shuffle=True,
    class_weight=None,
):
    """`model.fit(x, y, ...)` for a compiled model: the same arguments (a subset of model.fit's, with the same
    meanings and defaults) and the same result, a keras.callbacks.History whose `.history` holds the loss, the
    compiled metrics and their validation twins per epoch, plus `seconds` (each epoch's wall time).
    `history_frame(history)` makes it a table.

    On JAX, for a model compiled with accuracy as its metric (or none), shuffled, and with no callbacks but
    keras.callbacks.EarlyStopping (driven as model.fit drives it), the epochs run through keraslab.training.fastfit:
    the whole epoch is one compiled call (a Conv2D or MaxPooling2D of the model computed by an equal, faster
    formulation inside that call: keraslab.training.fast_layers). The order of
    each epoch is drawn from NumPy's global generator, as model.fit draws it, so `keras.utils.set_random_seed`
    (keraslab.seeding.set_seed) fixes it. Anything else goes to model.fit itself.

    `verbose`: 0 prints nothing; 1 or 2, a line naming the model and a line per epoch; "auto" (the default), those
    lines on the terminal of the keraslab command that runs the lesson (keraslab.run_state), and nothing in a
    notebook, whose curves show every epoch.
    """
    batch_size = 32 if batch_size is None else batch_size
    progress = run_state.current().terminal if verbose == "auto" else (sys.stdout if verbose else None)
    if progress is not None:
        print(
            f"Training {model.name}: {len(x):,} rows, {epochs} epoch{'s' * (epochs != 1)}, batch {batch_size}",
            file=progress,
            flush=True,
        )
    if uses_fast_path(model, callbacks=callbacks, shuffle=shuffle):
        from keraslab.training import fastfit

        return fastfit.fit_epochs(
            model,
            x,
            y,
            loss=model.loss,
            accuracy=reports_accuracy(model),
            epochs=epochs,
            batch_size=batch_size,
            seed=shuffle_seed(),
            validation_data=validation_data,
            validation_split=validation_split,
            class_weight=class_weight,
            progress=progress,
            callbacks=tuple(callbacks or ()),
        )
    if run_state.current().plan is not None:
        raise UsageError(
            "data-parallel training goes through keraslab's compiled epoch: the jax backend, a model compiled with "
            "accuracy as its metric (or none), shuffling on and no callbacks but EarlyStopping"
        )
    timer = epoch_timer()
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


def shuffle_seed() -> int:
    """The seed of one fit's shuffling on the compiled epoch, drawn from NumPy's global generator (where model.fit
    draws its permutations), so that keraslab.seeding.set_seed(seed) fixes it, and a rerun from the same seed draws
    it again (what resuming a fit relies on)."""
    return int(np.random.randint(0, 2**32, dtype=np.uint64))


def history_frame(history) -> pd.DataFrame:
    """A History (or a DataFrame already) as a table: epoch (from 1), then one column per entry."""
    if isinstance(history, pd.DataFrame):
        return history
    frame = pd.DataFrame(history.history)
    frame.insert(0, "epoch", np.asarray(history.epoch, dtype=np.int64) + 1)
    return frame


def uses_fast_path(model, *, callbacks=None, shuffle=True) -> bool:
    """Whether `fit` trains this compiled model through the compiled epoch: JAX, shuffled, no callbacks but
    keras.callbacks.EarlyStopping (which the compiled epoch drives as model.fit does), and compiled with accuracy as
    its metric or none (the compiled epoch computes the loss and the accuracy only)."""
    return (
        current_backend() == "jax"
        and getattr(model, "compiled", False)
        and all(type(c) is load_keras().callbacks.EarlyStopping for c in callbacks or ())
        and shuffle is True
        and reports_accuracy(model) is not None
    )


def reports_accuracy(model) -> bool | None:
    """Whether the model was compiled with accuracy as its metric (True) or with none (False); None for any other
    metric (model.fit computes those)."""
    config = model.get_compile_config() or {}
    metrics = config.get("metrics") or []
    if isinstance(metrics, (str, dict)):
        metrics = [metrics]
    if config.get("weighted_metrics") or any(m not in FAST_METRICS for m in metrics):
        return None
    return bool(metrics)


def epoch_timer():
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
    """One compiled model, trained afresh many times (folds, seeds, strategies): `fresh(seed)` gives it back as a
    fresh `build()` made after set_seed(seed) would be (its weights, dropout's state and zeroed optimizer moments),
    keeping its compiled train function, so that it is traced and compiled once, not once per fit."""

    def __init__(self, build, *, loss, optimizer="adam", steps_per_epoch: int | None = None):
        self.build = build
        self.model = compile_model(build(), optimizer=optimizer, loss=loss, steps_per_epoch=steps_per_epoch)

    def fresh(self, seed: int):
        """The compiled model, started again from the state a new build() has after set_seed(seed)."""
        from keraslab.seeding import set_seed

        set_seed(seed)
        reset_for_refit(self.model, self.build())
        return self.model
