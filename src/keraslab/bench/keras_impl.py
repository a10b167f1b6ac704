"""keraslab's own training of the benchmark models: the models and settings the lessons use."""

from __future__ import annotations

import time

import numpy as np

from keraslab import models, training
from keraslab.backend import keras as load_keras
from keraslab.bench.flops import BATCH  # one batch size for the timing and the floor's products
from keraslab.seeding import set_seed
from keraslab.training import devices

EPOCHS_PER_UNIT = {"mlp": 1, "churn": 100, "ann": 1, "cnn": 1}


def build(model: str):
    keras = load_keras()
    if model == "mlp":
        m, opt, loss = models.dense_classifier(784, 10, (128,)), "adam", "sparse_categorical_crossentropy"
    elif model == "churn":
        m, opt, loss = models.binary_net(26, (20, 12)), "adam", "binary_crossentropy"
    elif model == "ann":
        m, opt, loss = models.cifar_ann(), keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy"
    elif model == "cnn":
        m, opt, loss = models.cifar_cnn(), "adam", "sparse_categorical_crossentropy"
    else:
        raise ValueError(f"Unknown benchmark model {model!r}")
    return m, opt, loss


def time_units(model: str, x, y, *, device: str, repeats: int, seed: int = 0) -> list[float]:
    """Seconds per timed unit (one epoch; 100 epochs for churn) after a warm-up epoch that compiles everything,
    through keraslab.training exactly as the lessons train."""
    epochs = EPOCHS_PER_UNIT[model]
    with devices.scope(device):
        set_seed(seed)
        m, opt, loss = build(model)
        training.compile_model(m, optimizer=opt, loss=loss, steps_per_epoch=int(np.ceil(len(x) / BATCH)))
        if epochs == 1:  # one training run of 1 + repeats epochs; the first (compilation) is the warm-up
            history = training.fit(m, x, y, epochs=1 + repeats, batch_size=BATCH, quiet=True, seed=seed)
            return [float(s) for s in history["seconds"].iloc[1:]]
        training.fit(m, x, y, epochs=1, batch_size=BATCH, quiet=True, seed=seed)
        times = []
        for r in range(repeats):
            t0 = time.perf_counter()
            history = training.fit(m, x, y, epochs=epochs, batch_size=BATCH, quiet=True, seed=seed + r + 1)
            float(history["loss"].iloc[-1])  # the last step has finished
            times.append(time.perf_counter() - t0)
    return times
