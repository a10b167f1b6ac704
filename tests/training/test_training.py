"""keraslab.training: the compiled epoch honours the metrics a model was compiled with (or refuses them), `fit`
returns what model.fit returns (a History with model.fit's entries), and its cache of compiled functions never keeps
a model alive."""

import gc
import weakref

import numpy as np
import pytest

from keraslab import models, training
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
    ("metrics", "entries"),
    [
        (("accuracy",), ["loss", "accuracy", "val_loss", "val_accuracy", "seconds"]),
        ((), ["loss", "val_loss", "seconds"]),
    ],
)
def test_both_paths_return_a_keras_history_with_the_same_entries(metrics, entries):
    """Replacing training.fit by model.fit, as the lessons invite, changes nothing below it: both return a Keras
    History (the model's own `.history` too), epochs counted from 0, one value per epoch for each entry."""
    keras = training.fitting.load_keras()
    x, y = _data()
    fast_model, slow_model = _net(metrics), _net(metrics)
    fast = training.fit(fast_model, x, y, epochs=2, batch_size=16, validation_split=0.25, verbose=0)
    # with a callback (here none in the list) it is model.fit itself that trains
    slow = training.fit(slow_model, x, y, epochs=2, batch_size=16, validation_split=0.25, verbose=0, callbacks=[])
    for history, model in ((fast, fast_model), (slow, slow_model)):
        assert isinstance(history, keras.callbacks.History) and model.history is history
        assert history.epoch == [0, 1] and all(len(v) == 2 for v in history.history.values())
    assert list(fast.history) == entries and sorted(slow.history) == sorted(entries)
    frame = training.history_frame(fast)
    assert list(frame.columns) == ["epoch", *entries] and list(frame["epoch"]) == [1, 2]
    assert frame["loss"].tolist() == fast.history["loss"]


def _batch_norm_net(metrics):
    keras = training.fitting.load_keras()
    set_seed(0)
    layers = [keras.Input((5,)), keras.layers.Dense(4, activation="relu"), keras.layers.BatchNormalization()]
    model = keras.Sequential([*layers, keras.layers.Dense(1, activation="sigmoid")])
    return training.compile_model(model, loss="binary_crossentropy", metrics=metrics)


@pytest.mark.parametrize("build", [_net, _batch_norm_net], ids=["dense", "batch-norm"])
def test_the_compiled_epoch_trains_as_model_fit_does_on_the_same_batch_order(build):
    """The fast path is model.fit, faster: fed each epoch's rows in the order the compiled epoch draws
    (epoch_order(seed, epoch)), Keras's own model.fit ends with the same weights and reports the same loss and
    accuracy per epoch (float32 arithmetic in another order: within 1e-5). 100 rows at batch 16 end each epoch with
    a partial batch of 4, as model.fit's do: padded to 16 rows that weigh nothing, or, for a model whose layers use
    batch statistics (BatchNormalization, its moving mean and variance among the weights compared), trained at its
    own size. Negative control: the orders of another seed end elsewhere."""
    # Fails when broken (tests/mutants.py fast-path-counts-a-padding-row, fast-path-drops-the-partial-batch): the
    # weights differ from model.fit's.
    x, y = _data(n=100)
    fast_model, slow_model, other_model = build(("accuracy",)), build(("accuracy",)), build(("accuracy",))
    np.random.seed(5)
    seed = training.fitting.shuffle_seed()  # the order's seed comes from NumPy's generator, as model.fit's order does
    np.random.seed(5)
    fast = training.fit(fast_model, x, y, epochs=3, batch_size=16, verbose=0)

    def by_model_fit(model, seed):
        loss, accuracy = [], []
        for epoch in range(3):
            order = compiled_epoch.epoch_order(seed, epoch, len(x))
            h = model.fit(x[order], y[order], epochs=1, batch_size=16, shuffle=False, verbose=0)
            loss.append(h.history["loss"][0])
            accuracy.append(h.history["accuracy"][0])
        return loss, accuracy

    loss, accuracy = by_model_fit(slow_model, seed=seed)
    for ours, keras_fit in zip(fast_model.get_weights(), slow_model.get_weights(), strict=True):
        np.testing.assert_allclose(ours, keras_fit, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fast.history["loss"], loss, rtol=1e-5)
    np.testing.assert_allclose(fast.history["accuracy"], accuracy, atol=1e-6)

    by_model_fit(other_model, seed=seed + 1)
    gap = max(np.abs(a - b).max() for a, b in zip(fast_model.get_weights(), other_model.get_weights(), strict=True))
    assert gap > 1e-3  # far outside the tolerance above: the comparison can tell two trainings apart


def test_a_metric_the_compiled_epoch_does_not_compute_goes_to_model_fit():
    """training.fit takes every model model.fit takes: one compiled with a metric the compiled epoch does not compute
    (AUC) trains through model.fit, which reports it."""
    x, y = _data()
    model = _net(("accuracy", "auc"))
    assert not training.fitting.uses_fast_path(model)
    history = training.fit(model, x, y, epochs=1, verbose=0)
    assert {"accuracy", "auc"} <= set(history.history)
    assert training.fitting.uses_fast_path(_net(("accuracy",))) and training.fitting.uses_fast_path(_net(()))


def test_training_fit_takes_only_what_model_fit_takes_with_the_same_defaults():
    """Replace training.fit(model, ...) by model.fit(...) and the call means the same: each of its arguments is one
    of model.fit's, with model.fit's default."""
    import inspect

    keras = training.fitting.load_keras()
    ours = dict(inspect.signature(training.fit).parameters)
    theirs = inspect.signature(keras.Model.fit).parameters
    assert next(iter(ours)) == "model"
    del ours["model"]
    for name, param in ours.items():
        assert name in theirs, f"training.fit takes {name!r}, which model.fit lacks"
        assert param.default == theirs[name].default, name
    assert list(ours) == [n for n in theirs if n in ours]  # in model.fit's order: positional calls mean the same


def test_refits_reuse_the_compiled_functions_and_the_cache_lets_models_go():
    x, y = _data()
    model = _net(("accuracy",))
    training.fit(model, x, y, epochs=1, batch_size=16, verbose=0)
    first = compiled_epoch.trainer_for(model, model.loss, 16)
    training.fit(model, x, y, epochs=1, batch_size=16, verbose=0)
    assert compiled_epoch.trainer_for(model, model.loss, 16) is first  # traced and compiled once
    assert compiled_epoch.trainer_for(model, model.loss, 32) is not first  # another batch size: another trainer
    alive = weakref.ref(model)
    del model, first
    gc.collect()
    assert alive() is None  # nothing of keraslab's holds the model once the caller lets it go


def _dropout_net():
    return models.binary_net(5, (8,), dropout=0.5)


def _fresh_fit(x, y, seed):
    set_seed(seed)
    model = training.compile_model(_dropout_net(), loss="binary_crossentropy")
    training.fit(model, x, y, epochs=3, batch_size=16, verbose=0)
    return model.get_weights()


def test_a_refit_equals_fitting_a_fresh_model_dropout_masks_included():
    """Refitter re-initialises weights, optimizer and dropout's seed state: a fit of Refitter.fresh(seed) is exactly
    the fit of a model built fresh after set_seed(seed) (what a notebook writes out). Negative control: keep the seed
    state of the previous fit and the weights move off."""
    x, y = _data()
    net = training.Refitter(_dropout_net, loss="binary_crossentropy")
    training.fit(net.fresh(1), x, y, epochs=3, batch_size=16, verbose=0)  # moves the dropout seed state on
    training.fit(net.fresh(2), x, y, epochs=3, batch_size=16, verbose=0)
    for a, b in zip(net.model.get_weights(), _fresh_fit(x, y, 2), strict=True):
        np.testing.assert_array_equal(a, b)

    set_seed(2)
    fresh = _dropout_net()
    net.model.set_weights(fresh.get_weights())  # the old reset: weights and optimizer only, seed state left as is
    for v in net.model.optimizer.variables:
        if not v.path.endswith("learning_rate"):
            v.assign(np.zeros(v.shape, dtype=v.dtype))
    training.fit(net.model, x, y, epochs=3, batch_size=16, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(net.model.get_weights(), _fresh_fit(x, y, 2), strict=True))


def test_batches_per_epoch_follows_kerass_validation_cut():
    from keraslab.training import batches_per_epoch

    assert batches_per_epoch(500, 32, 0.1) == 15  # Keras trains on int(500 * 0.9) = 450 rows: 15 batches, not 16
    assert batches_per_epoch(5625, 32, 0.2) == 141 and batches_per_epoch(10, 32) == 1


def test_validation_in_chunks_equals_kerass_evaluate_of_the_whole_set(monkeypatch):
    """The compiled epoch evaluates its validation rows a chunk at a time (fastfit.VALIDATION_CHUNK, small to keep a
    CNN's activations in bounds): weighted by chunk size, the mean over 3 chunks (the last one partial) is Keras's
    evaluate over all the rows. Negative control: an unweighted mean of the chunk means is off."""
    from keraslab.training import fastfit

    x, y = _data(n=400, seed=3)
    xv, yv = _data(n=250, seed=4)
    yv[:100] = 1.0  # the chunks differ: their plain mean is not the whole set's mean
    monkeypatch.setattr(fastfit, "VALIDATION_CHUNK", 100)
    model = _net(("accuracy",))
    history = training.fit(model, x, y, epochs=1, batch_size=16, validation_data=(xv, yv), verbose=0)
    loss, acc = model.evaluate(xv, yv, batch_size=250, verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(loss, rel=1e-5)
    assert history.history["val_accuracy"][-1] == pytest.approx(acc, abs=1e-7)
    per_chunk = [model.evaluate(xv[i : i + 100], yv[i : i + 100], verbose=0)[0] for i in (0, 100, 200)]
    assert np.mean(per_chunk) != pytest.approx(loss, rel=1e-3)


def test_early_stopping_runs_in_the_compiled_epoch_as_model_fit_runs_it(monkeypatch):
    """keras.callbacks.EarlyStopping on the compiled epoch: the fit stops `patience` epochs after the best validation
    loss, and with restore_best_weights the model holds that epoch's weights (its validation loss is the best one);
    without it, the last epoch's (negative control)."""
    from keraslab.training import fastfit

    keras = training.fitting.load_keras()
    calls = []
    real = fastfit.fit_epochs
    monkeypatch.setattr(fastfit, "fit_epochs", lambda *a, **k: calls.append(1) or real(*a, **k))
    x, y = _data(64)
    xv, yv = _data(200, seed=1)
    yv = 1 - yv  # the validation rows' labels flipped: the validation loss rises as the model learns
    for restore in (True, False):
        model = _net(("accuracy",))
        stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=restore)
        history = training.fit(model, x, y, epochs=60, validation_data=(xv, yv), callbacks=[stop], verbose=0)
        losses = history.history["val_loss"]
        best = int(np.argmin(losses))
        assert len(losses) == best + 1 + 3 < 60, losses  # stopped three epochs after the best one
        val_loss = float(model.evaluate(xv, yv, verbose=0)[0])
        assert val_loss == pytest.approx(losses[best] if restore else losses[-1], rel=1e-4)
        if not restore:
            assert losses[-1] > losses[best] + 1e-4  # the control can tell the two apart
    assert len(calls) == 2  # both fits went through the compiled epoch
