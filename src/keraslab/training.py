"""Compile and fit Keras models with the fastest settings measured here, seeded, returning tidy histories.

steps_per_execution runs several training steps per call into the compiled function: on JAX it turned a 0.81 s
MNIST epoch into 0.57 s (../shared/docs/measurements.md). The PyTorch backend requires 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from keraslab.backend import current_backend
from keraslab.backend import keras as _keras

STEPS_PER_EXECUTION = {"jax": 32, "tensorflow": 16, "torch": 1}


def steps_per_execution(steps_per_epoch: int | None = None) -> int:
    spe = STEPS_PER_EXECUTION.get(current_backend(), 1)
    if steps_per_epoch:
        spe = max(1, min(spe, steps_per_epoch))
    return spe


def compile_model(model, *, optimizer="adam", loss, metrics=("accuracy",), steps_per_epoch: int | None = None):
    """model.compile with the fastest settings; remembers the loss so that `fit` can take the fast path."""
    model.compile(optimizer=optimizer, loss=loss, metrics=list(metrics),
                  steps_per_execution=steps_per_execution(steps_per_epoch))
    model._keraslab_loss = loss
    return model


def as_float32(x) -> np.ndarray:
    """Contiguous float32 (a no-op for arrays that already are)."""
    return np.ascontiguousarray(x, dtype=np.float32)


def fit(model, x, y, *, epochs: int, batch_size: int = 32, validation_data=None, validation_split: float = 0.0,
        class_weight=None, quiet: bool = False, shuffle: bool = True, callbacks=None, seed: int = 0,
        fast: bool = True, input_scale: float | None = None) -> pd.DataFrame:
    """Train and return the history as a DataFrame with an `epoch` column.

    On JAX, a model compiled with `compile_model` trains through keraslab.fastfit (one compiled call per epoch,
    each epoch's order drawn from (seed, epoch)); otherwise, or with callbacks, through model.fit.
    `input_scale`: the model sees x * input_scale as float32 (x may be uint8 images, scaled batch by batch on the
    fast path, so the float32 copy of the whole set is never made).
    """
    from keraslab import fastfit

    if fast and fastfit.supported() and hasattr(model, "_keraslab_loss") and callbacks is None and shuffle:
        return fastfit.fit_epochs(model, x, y, loss=model._keraslab_loss, epochs=epochs, batch_size=batch_size,
                                  seed=seed, validation_data=validation_data, validation_split=validation_split,
                                  class_weight=class_weight, quiet=quiet, input_scale=input_scale)
    from keraslab import parallel

    if parallel.current() is not None:
        from keraslab.errors import UsageError

        raise UsageError("data-parallel training goes through keraslab's compiled epoch: the jax backend, a model "
                         "compiled with keraslab.training.compile_model, shuffling on and no callbacks")
    if input_scale is not None:
        x = np.asarray(x, dtype=np.float32) * np.float32(input_scale)
        if validation_data is not None:
            validation_data = (np.asarray(validation_data[0], np.float32) * np.float32(input_scale),
                               validation_data[1])
    verbose = 0 if quiet else (1 if epochs <= 10 else 2)
    timer = _EpochTimer()
    history = model.fit(x, y, epochs=epochs, batch_size=batch_size, validation_data=validation_data,
                        validation_split=validation_split, class_weight=class_weight, shuffle=shuffle,
                        verbose=verbose, callbacks=[*(callbacks or []), timer])
    frame = pd.DataFrame(history.history)
    frame.insert(0, "epoch", np.arange(1, len(frame) + 1))
    frame["seconds"] = timer.seconds[: len(frame)]
    return frame


class _EpochTimer:
    """A Keras callback recording each epoch's wall time (training and validation)."""

    def __new__(cls):
        import time

        keras = _keras()

        class Timer(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.seconds, self._t0 = [], None

            def on_epoch_begin(self, epoch, logs=None):
                self._t0 = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.seconds.append(time.perf_counter() - self._t0)

        return Timer()


def reset_for_refit(model, weights) -> None:
    """Give a compiled model new initial weights and a fresh optimizer (zero moments, step 0), keeping its compiled
    train function: refitting then costs no tracing or compilation (1.15 s -> 0.23 s for a sonar fit on JAX)."""
    model.set_weights(weights)
    for v in model.optimizer.variables:
        if v.path.endswith("learning_rate"):
            continue
        v.assign(np.zeros(v.shape, dtype=v.dtype))


class Refitter:
    """One compiled model, fitted many times (folds, seeds, strategies): each fit starts from the weights of a fresh
    `build()` made after set_seed(seed), and the model's compiled train function is kept, so it is traced once."""

    def __init__(self, build, *, loss, optimizer="adam", steps_per_epoch: int | None = None):
        self.build = build
        self.model = compile_model(build(), optimizer=optimizer, loss=loss, steps_per_epoch=steps_per_epoch)

    def fit(self, x, y, *, seed: int, **fit_kwargs) -> pd.DataFrame:
        from keraslab.seeding import set_seed

        set_seed(seed)
        reset_for_refit(self.model, self.build().get_weights())
        return fit(self.model, x, y, seed=seed, **fit_kwargs)


def predict(model, x, batch_size: int = 1024) -> np.ndarray:
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0))


def count_params(model) -> int:
    return int(model.count_params())


def keras():
    return _keras()
