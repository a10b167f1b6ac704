"""Checks of the dropout lesson's exercises (07_dropout.py)."""

from __future__ import annotations

import numpy as np

from keraslab.exercises.checking import (
    FAILED,
    PASSED,
    Verdict,
    call_answer,
    check_prediction,
    fresh_rng,
    register,
)
from keraslab.exercises.differences import show
from keraslab.exercises.model_checks import Architecture, dense, inspect, train_and_score

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


def _forbidden():
    import keras

    return (
        (keras.random.dropout, "keras.random.dropout"),
        (keras.layers.Dropout.call, "Keras's Dropout layer"),
    )


def _as_array(out):
    try:
        return np.asarray(out, dtype="float64")
    except Exception:  # whatever the learner returned
        return None


def _drawn(fn, x, calls):
    """The learner's outputs for each (key, rate, seed), or a Verdict."""
    outs = {}
    for key, rate, seed in calls:
        out = call_answer(
            "dropout.mask", fn, x.copy(), rate, np.random.default_rng(seed), hint=HINT, forbidden=_forbidden()
        )
        if isinstance(out, Verdict):
            return out
        array = _as_array(out)
        if array is None:
            return _fail("returned what is not an array of numbers", x, out, "an array of x's shape")
        if array.shape != x.shape:
            return _fail(f"rate {rate}: the output's shape {array.shape} is not the input's", x, array, str(x.shape))
        outs[key] = array
    return outs


def _not_from_rng(x, outs) -> Verdict | None:
    first, other, same = (outs[k] == 0 for k in ("first", "other seed", "same seed"))
    if not first.any():
        return _fail("nothing was dropped at rate 0.5", x, outs["first"], "about half the values set to 0")
    if (first == other).all():
        return _fail(
            "the same values are dropped on every call, whatever the generator: draw from rng",
            x,
            outs["first"],
            "different values dropped for differently seeded generators",
        )
    if not (first == same).all():
        return _fail(
            "two generators seeded alike dropped different values: draw from the rng passed in (not np.random, "
            "nor a generator of your own)",
            x,
            outs["same seed"],
            "the same values dropped for generators seeded alike",
        )
    return None


def _not_dropout(x, out, rate) -> Verdict | None:
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
    if (dropped == dropped[0]).all():
        return _fail(
            f"rate {rate}: every row drops the same places: draw one number for each value, rng.random(x.shape)",
            x,
            out,
            "each value dropped on its own",
        )
    counts, sd = dropped.sum(axis=1), np.sqrt(x.shape[1] * rate * (1 - rate))
    if counts.std() < sd / 3:
        return _fail(
            f"rate {rate}: every row drops about exactly {counts.mean():.0f} values (spread {counts.std():.2f}, "
            f"where dropping each value on its own spreads about {sd:.1f}): drop each value with probability rate, "
            "rng.random(x.shape) < rate",
            x,
            out,
            "each value dropped on its own",
        )
    share, se = dropped.mean(), np.sqrt(rate * (1 - rate) / x.size)
    if abs(share - rate) > 4 * se:
        return _fail(f"rate {rate}: {share:.3f} of the values were dropped", x, out, f"about {rate}")
    return None


@register("dropout.mask", "write it")
def mask(fn) -> Verdict:
    """A dropout mask cannot be compared draw by draw (Keras draws its own numbers): its properties are checked.
    It must come from `rng` (two generators seeded differently drop different values, two seeded alike the same),
    keep values scaled by 1 / (1 - rate) exactly, drop each value on its own (not the same number or the same
    places in every row), and drop a share within 4 standard errors of `rate` on 20,000 values."""
    draw = fresh_rng()
    x = draw.uniform(0.5, 2.0, (200, 100))  # no zero in it: a 0 in the output is a dropped value
    s1, s2 = (int(v) for v in draw.choice(2**31, size=2, replace=False))
    outs = _drawn(fn, x, (("first", 0.5, s1), ("other seed", 0.5, s2), ("same seed", 0.5, s1), ("0.2", 0.2, s2)))
    if isinstance(outs, Verdict):
        return outs
    wrong = _not_from_rng(x, outs) or _not_dropout(x, outs["first"], 0.5) or _not_dropout(x, outs["0.2"], 0.2)
    if wrong:
        return wrong
    one = np.array([[1.0, 2.0, 3.0]])
    same = call_answer("dropout.mask", fn, one.copy(), 0.0, np.random.default_rng(s1), hint=HINT)
    if isinstance(same, Verdict):
        return same
    array = _as_array(same)
    if array is None or array.shape != one.shape or not np.allclose(array, one):
        return _fail("rate 0 (a batch of one row) must leave the values unchanged", one, same, show(one))
    return Verdict(
        "dropout.mask",
        PASSED,
        "passed: drawn from rng (seeded alike: the same values dropped; seeded differently: others), kept values "
        "scaled by 1 / (1 - rate), each value dropped on its own, the share dropped as asked (rates 0.5 and 0.2, "
        "20,000 values each), rate 0 leaves a row unchanged",
    )


def _rate(layer, rate: float) -> str | None:
    if abs(layer.layer.rate - rate) > 1e-9:
        return f"its rate is {layer.layer.rate:g}; the exercise asks for {rate:g} here"
    return None


def _dropout_demand(layer, i, layers) -> str | None:
    if layer.kind == "Dropout":
        return _rate(layer, 0.2 if i == 0 else 0.5)
    return dense(layer, 1, "sigmoid") if i == len(layers) - 1 else dense(layer, None, "relu")


ARCHITECTURE = Architecture(
    "Dropout(0.2), then one or more Dense(units, relu) each followed by Dropout(0.5), then Dense(1, sigmoid)",
    "O(DO)+D",
    _dropout_demand,
)


@register("dropout.network", "build it")
def network(model, *, data: tuple) -> Verdict:
    n_inputs = data[0].shape[1] if getattr(data[0], "ndim", 0) == 2 else 0
    wrong = inspect(
        "dropout.network",
        model,
        input_shape=(n_inputs,),
        outputs=1,
        architecture=ARCHITECTURE,
        loss="binary_crossentropy",
        optimizer="Adam",
        hint="Dropout is a layer of its own: keras.layers.Dropout(0.2) first, keras.layers.Dropout(0.5) after each "
        "hidden Dense (the tutorial's Dense(0.5) asked for a Dense layer where it meant a Dropout)",
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
