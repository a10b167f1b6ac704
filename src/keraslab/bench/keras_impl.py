"""The benchmark models trained through Keras: keraslab's own path (the models and settings the lessons use) and,
as `keras-fit`, the course's code: stock layers, `model.compile` with its defaults and `model.fit`."""

from __future__ import annotations

import time

from keraslab import models, training
from keraslab.backend import load_keras
from keraslab.seeding import set_seed
from keraslab.training import devices, fitting

EPOCHS_PER_UNIT = {"mlp": 1, "churn": 100, "ann": 1, "cnn": 1}
BATCH = 32  # the benchmark's batch size: the timing's, and the floor's products (keraslab.bench.flops)


IMPLS = ("keraslab", "keras-fit")


def build(model: str):
    """(model, optimizer, loss) of a benchmark model, in Keras's own layers (keraslab.training.fit computes the
    CNN's Conv2D and MaxPooling2D faster inside its training step on JAX)."""
    keras = load_keras()
    if model == "mlp":
        m, opt, loss = models.dense_classifier(784, 10, (128,)), "adam", "sparse_categorical_crossentropy"
    elif model == "churn":
        m, opt, loss = models.binary_net(26, models.CHURN_HIDDEN), "adam", "binary_crossentropy"
    elif model == "ann":
        m, opt, loss = models.cifar_ann(), keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy"
    elif model == "cnn":
        m, opt, loss = models.cifar_cnn(), "adam", "sparse_categorical_crossentropy"
    else:
        raise ValueError(f"Unknown benchmark model {model!r}")
    return m, opt, loss


def time_units(model: str, x, y, *, device: str, repeats: int, seed: int = 0, impl: str = "keraslab") -> list[float]:
    """Seconds per timed unit (one epoch; 100 epochs for churn) after a warm-up epoch that compiles everything.

    impl "keraslab": through keraslab.training exactly as the lessons train (the compiled epoch on JAX,
    steps_per_execution elsewhere). impl "keras-fit": the course's code on this backend - stock layers,
    model.compile(optimizer, loss, metrics=["accuracy"]) with Keras's defaults, model.fit(batch_size=32)."""
    if impl not in IMPLS:
        raise ValueError(f"Unknown Keras benchmark impl {impl!r}; expected one of {IMPLS}")
    course = impl == "keras-fit"
    epochs = EPOCHS_PER_UNIT[model]
    with devices.scope(device):
        set_seed(seed)
        m, opt, loss = build(model)
        if course:  # the course's code: Keras's defaults and model.fit, with a callback that times each epoch
            m.compile(optimizer=opt, loss=loss, metrics=["accuracy"])
            timer = fitting.epoch_timer()

            def fit(epochs, seed):
                set_seed(seed)
                history = m.fit(x, y, batch_size=BATCH, epochs=epochs, verbose=0, callbacks=[timer])
                history.history["seconds"] = timer.seconds[-epochs:]
                return history
        else:
            training.compile_model(
                m, optimizer=opt, loss=loss, steps_per_epoch=training.batches_per_epoch(len(x), BATCH)
            )

            def fit(epochs, seed):
                set_seed(seed)
                return training.fit(m, x, y, batch_size=BATCH, epochs=epochs, verbose=0)

        if epochs == 1:  # one training run of 1 + repeats epochs; the first (compilation) is the warm-up
            history = fit(epochs=1 + repeats, seed=seed)
            return [float(s) for s in history.history["seconds"][1:]]
        fit(epochs=1, seed=seed)
        times = []
        for r in range(repeats):
            t0 = time.perf_counter()
            history = fit(epochs=epochs, seed=seed + r + 1)
            float(history.history["loss"][-1])  # the last step has finished
            times.append(time.perf_counter() - t0)
    return times
