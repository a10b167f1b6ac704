"""Checks of the losses lesson's exercises (02_losses.py)."""

from __future__ import annotations

import numpy as np

from keraslab.exercises.checking import FAILED, Case, Verdict, check_function, check_prediction, register


def _keras_mean(loss: str, y_true, y_pred) -> float:
    """Keras's loss, in float64, averaged over the rows."""
    from keraslab.proof import keras_float64

    with keras_float64() as k:
        value = getattr(k.losses, loss)(np.asarray(y_true, "float64"), np.asarray(y_pred, "float64"))
        return float(np.mean(np.asarray(value)))


def _uses_numpy(fn) -> bool:
    """Whether the function (or a generator or lambda inside it) names NumPy, under any alias."""
    import types

    code = getattr(fn, "__code__", None)
    if code is None:
        return False
    scope = getattr(fn, "__globals__", {})
    stack, names = [code], set()
    while stack:
        c = stack.pop()
        names |= set(c.co_names)
        stack += [k for k in c.co_consts if isinstance(k, types.CodeType)]
    closed = [c.cell_contents for c in getattr(fn, "__closure__", None) or () if c.cell_contents is not None]
    values = [scope.get(n) for n in names] + closed
    return bool({"np", "numpy"} & names) or any(
        getattr(v, "__name__", "").split(".")[0] == "numpy" for v in values if isinstance(v, types.ModuleType)
    )


@register("losses.mse_plain", "write it")
def mse_plain(fn) -> Verdict:
    if callable(fn) and _uses_numpy(fn):
        return Verdict(
            "losses.mse_plain", FAILED, "this one is without NumPy: use a loop (or sum and zip) over the two lists"
        )
    rng = np.random.default_rng(11)
    cases = [
        Case(([0.3, 0.7, 1, 0, 0.5], [1, 1, 0, 0, 1]), "the course's toy numbers"),
        Case((rng.normal(size=7).round(3).tolist(), rng.normal(size=7).round(3).tolist())),
        Case(([2.5], [1.0]), "a batch of one row"),
    ]
    return check_function(
        "losses.mse_plain",
        fn,
        cases,
        lambda t, p: _keras_mean("mean_squared_error", t, p),
        names=("y_true", "y_pred"),
        source="Keras mean_squared_error",
        hint="add up (y_true[i] - y_pred[i]) ** 2 over every i, then divide by the number of rows (len(y_true))",
    )


@register("losses.mse_numpy", "write it")
def mse_numpy(fn) -> Verdict:
    rng = np.random.default_rng(12)
    cases = [
        Case((np.array([0.3, 0.7, 1, 0, 0.5]), np.array([1.0, 1, 0, 0, 1])), "the course's toy numbers"),
        Case((rng.normal(size=1000), rng.normal(size=1000)), "1,000 rows"),
        Case((np.array([2.5]), np.array([1.0])), "a batch of one row"),
    ]
    return check_function(
        "losses.mse_numpy",
        fn,
        cases,
        lambda t, p: _keras_mean("mean_squared_error", t, p),
        names=("y_true", "y_pred"),
        source="Keras mean_squared_error",
        hint="with arrays, (y_true - y_pred) ** 2 squares every difference at once; np.mean averages them",
    )


@register("losses.log_loss", "write it")
def log_loss(fn) -> Verdict:
    rng = np.random.default_rng(13)
    cases = [
        Case((rng.integers(0, 2, 8).astype(float), rng.uniform(0.05, 0.95, 8).round(3))),
        Case(
            (np.array([1.0, 0, 1, 0]), np.array([1.0, 0, 0, 1])),
            "predictions of exactly 0 and 1",
            "clip with np.clip(y_pred, epsilon, 1 - epsilon): both ends. min(p, epsilon), the tutorial's function, "
            "turns every probability into epsilon; no clip at all gives log(0) = -inf",
        ),
        Case((np.array([1.0]), np.array([0.8])), "a batch of one row"),
    ]
    return check_function(
        "losses.log_loss",
        fn,
        cases,
        lambda t, p: _keras_mean("binary_crossentropy", t, p),
        names=("y_true", "y_pred"),
        source="Keras binary_crossentropy (clipped at 1e-7)",
        hint="-mean(y * log(p) + (1 - y) * log(1 - p)), with p clipped to [epsilon, 1 - epsilon] first: both ends "
        "(min(p, epsilon), the tutorial's slip, turns every probability into epsilon)",
    )


def _keras_from_logits(y_true, logits) -> float:
    from keraslab.proof import keras_float64

    with keras_float64() as k:
        value = k.losses.binary_crossentropy(
            np.asarray(y_true, "float64"), np.asarray(logits, "float64"), from_logits=True
        )
        return float(np.mean(np.asarray(value)))


@register("losses.from_logits", "write it")
def from_logits(fn) -> Verdict:
    rng = np.random.default_rng(14)
    cases = [
        Case((rng.integers(0, 2, 8).astype(float), rng.normal(0, 2, 8).round(3))),
        Case((np.array([1.0]), np.array([0.5])), "a batch of one row"),
        Case(
            (np.array([1.0, 0.0, 0.0, 1.0]), np.array([800.0, -800.0, 800.0, -800.0])),
            "scores of +-800",
            "np.exp(800) overflows and sigmoid(800) rounds to exactly 1, so log(1 - p) is log(0): use the stable "
            "form max(z, 0) - z * y + log(1 + exp(-|z|)), which never exponentiates a large positive number",
        ),
    ]
    return check_function(
        "losses.from_logits",
        fn,
        cases,
        _keras_from_logits,
        names=("y_true", "logits"),
        source="Keras binary_crossentropy(from_logits=True)",
        hint="the log loss of p = sigmoid(z) simplifies to max(z, 0) - z * y + log(1 + exp(-|z|)), averaged",
        rtol=1e-6,
    )


@register("losses.outlier", "predict, then run")
def outlier(prediction, *, measured: float, mae_factor: float) -> Verdict:
    return check_prediction(
        "losses.outlier",
        prediction,
        measured,
        rtol=0.01,
        what=f"MSE grew {measured:.4g} times, MAE {mae_factor:.4g} times",
        explain="MAE adds the error as it is (10 instead of 1), MSE adds its square (100 instead of 1): "
        "one large error weighs far more in MSE, which is why MSE is said to be sensitive to outliers",
    )
