"""Checks of the dropout lesson's exercises (07_dropout.py)."""

from __future__ import annotations

import itertools

import numpy as np

from keraslab.exercises.checking import (
    FAILED,
    PASSED,
    Verdict,
    call_answer,
    check_prediction,
    register,
    show,
)
from keraslab.exercises.model_checks import Need, inspect, train_and_score

HINT = (
    "draw keep = rng.random(x.shape) >= rate (True with probability 1 - rate) and return x * keep / (1 - rate): "
    "the kept values are scaled up so that the expected output equals x, and nothing changes at inference"
)


def _fail(message: str, x, received, expected: str) -> Verdict:
    return Verdict(
        "dropout.mask",
        FAILED,
        message,
        (("input", show(x, 80)), ("expected", expected), ("received", show(received, 120)), ("hint", HINT)),
    )


@register("dropout.mask", "write it")
def mask(fn) -> Verdict:
    """A dropout mask cannot be compared draw by draw (Keras draws its own numbers): its properties are checked,
    each one exact or, for the share dropped, within 4 standard errors on 20,000 values."""
    x = np.random.default_rng(71).uniform(0.5, 2.0, (200, 100))
    for rate in (0.5, 0.2):
        out = call_answer("dropout.mask", fn, x.copy(), rate, np.random.default_rng(0), hint=HINT)
        if isinstance(out, Verdict):
            return out
        try:
            out = np.asarray(out, dtype="float64")
        except (TypeError, ValueError) as exc:
            return Verdict(
                "dropout.mask", FAILED, f"returned what is not an array of numbers ({exc})", (("hint", HINT),)
            )
        if out.shape != x.shape:
            return _fail(f"rate {rate}: the output's shape {out.shape} is not the input's", x, out, str(x.shape))
        dropped = out == 0
        kept = ~dropped
        if not np.allclose(out[kept], x[kept] / (1 - rate)):
            factor = np.median(out[kept] / x[kept]) if kept.any() else float("nan")
            return _fail(
                f"rate {rate}: a kept value is not x / (1 - rate) (kept values are x times {factor:.3g})",
                x,
                out,
                f"0 or x / {1 - rate:g}",
            )
        share, se = dropped.mean(), np.sqrt(rate * (1 - rate) / x.size)
        if abs(share - rate) > 4 * se:
            return _fail(f"rate {rate}: {share:.3f} of the values were dropped", x, out, f"about {rate}")
    one = np.array([[1.0, 2.0, 3.0]])
    try:
        same = np.asarray(fn(one.copy(), 0.0, np.random.default_rng(1)), dtype="float64")
    except Exception as exc:
        return Verdict("dropout.mask", FAILED, f"raised {type(exc).__name__} at rate 0: {exc}", (("hint", HINT),))
    if not np.allclose(same, one):
        return _fail("rate 0 (a batch of one row) must leave the values unchanged", one, same, show(one))
    return Verdict(
        "dropout.mask",
        PASSED,
        "passed: kept values scaled by 1 / (1 - rate), the share dropped as asked (rates 0.5 and 0.2, 20,000 "
        "values each), rate 0 leaves a row unchanged",
    )


@register("dropout.network", "build it")
def network(model, *, data: tuple) -> Verdict:
    import keras

    n_inputs = data[0].shape[1]
    wrong = inspect(
        "dropout.network",
        model,
        input_shape=(n_inputs,),
        outputs=1,
        activation="sigmoid",
        losses=("binary_crossentropy", "binary_cross_entropy"),
        needs=(
            Need(
                "a Dropout layer of rate 0.2 on the inputs (before the first Dense layer)",
                lambda layers: isinstance(layers[0], keras.layers.Dropout) and abs(layers[0].rate - 0.2) < 1e-9,
            ),
            Need(
                "a Dropout layer of rate 0.5 after each hidden Dense layer",
                lambda layers: all(
                    isinstance(after, keras.layers.Dropout) and abs(after.rate - 0.5) < 1e-9
                    for layer, after in itertools.pairwise(layers)
                    if isinstance(layer, keras.layers.Dense)
                ),
            ),
        ),
        hint="Dropout is a layer of its own: keras.layers.Dropout(0.2) first, keras.layers.Dropout(0.5) after each "
        "hidden Dense. Dense(0.5), the tutorial's line, asks for a layer of half a unit",
    )
    if wrong:
        return wrong
    return train_and_score(
        "dropout.network",
        model,
        data,
        epochs=100,
        batch_size=8,
        target=0.65,
        seed=0,
        what=f"this lesson's split ({len(data[1])} training rows, {len(data[3])} test rows)",
        hint="with dropout a network needs more epochs; check the hidden layers use relu",
    )


@register("dropout.inference", "predict, then run")
def inference(prediction, *, measured: str) -> Verdict:
    return check_prediction(
        "dropout.inference",
        prediction,
        measured,
        choices=("same", "different"),
        what=f"two calls with training=True gave {measured} outputs (with training=False: the same, always)",
        explain="in training mode every call draws a new mask, so two calls drop different units; model.predict "
        "and model(x) run with training=False, where Dropout passes everything through",
    )
