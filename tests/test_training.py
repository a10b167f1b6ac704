"""keraslab.training: the compiled epoch honours the metrics a model was compiled with (or refuses them), its
history has model.fit's columns, and its cache of compiled functions never keeps a model alive."""

import gc
import weakref

import numpy as np
import pytest

from keraslab import models, training
from keraslab.errors import UsageError
from keraslab.seeding import set_seed
from keraslab.training import compiled_epoch


def _data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)).astype(np.float32)
    return x, (x[:, 0] + 0.3 * rng.normal(size=n) > 0).astype(np.float32)


def _net(metrics):
    set_seed(0)
    return training.compile_model(models.binary_net(5, (4,)), loss="binary_crossentropy", metrics=metrics)


@pytest.mark.parametrize(
    ("metrics", "columns"),
    [
        (("accuracy",), ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"]),
        ((), ["epoch", "loss", "val_loss", "seconds"]),
    ],
)
def test_both_paths_give_the_same_history_columns(metrics, columns):
    x, y = _data()
    fast = training.fit(_net(metrics), x, y, epochs=2, batch_size=16, validation_split=0.25, quiet=True)
    slow = training.fit(_net(metrics), x, y, epochs=2, batch_size=16, validation_split=0.25, quiet=True, fast=False)
    assert list(fast.columns) == columns and sorted(slow.columns) == sorted(columns)
    assert list(fast["epoch"]) == [1, 2]


def test_the_compiled_epoch_refuses_metrics_it_cannot_compute():
    x, y = _data()
    model = _net(("accuracy", "auc"))
    with pytest.raises(UsageError, match=r"computes the loss and accuracy only; the model was compiled with metrics "):
        training.fit(model, x, y, epochs=1, quiet=True)
    history = training.fit(model, x, y, epochs=1, quiet=True, fast=False)  # model.fit computes them
    assert {"accuracy", "auc"} <= set(history.columns)


def test_refits_reuse_the_compiled_functions_and_the_cache_lets_models_go():
    x, y = _data()
    model = _net(("accuracy",))
    training.fit(model, x, y, epochs=1, batch_size=16, quiet=True)
    first = compiled_epoch.trainer_for(model, model.loss, 16)
    training.fit(model, x, y, epochs=1, batch_size=16, quiet=True, seed=1)
    assert compiled_epoch.trainer_for(model, model.loss, 16) is first  # traced and compiled once
    assert compiled_epoch.trainer_for(model, model.loss, 32) is not first  # another batch size: another trainer
    alive = weakref.ref(model)
    del model, first
    gc.collect()
    assert alive() is None  # nothing of keraslab's holds the model once the caller lets it go
