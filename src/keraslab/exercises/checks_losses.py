"""Checks of the losses lesson's exercises (02_losses.py)."""

from __future__ import annotations

import numpy as np

from keraslab.exercises.checking import (
    FAILED,
    Case,
    Mistake,
    Verdict,
    check_function,
    check_prediction,
    fresh_rng,
    register,
)


def _keras_mean(loss: str, y_true, y_pred, **options) -> float:
    """Keras's loss, in float64, averaged over the rows."""
    from keraslab.proof import keras_float64

    with keras_float64() as k:
        value = getattr(k.losses, loss)(np.asarray(y_true, "float64"), np.asarray(y_pred, "float64"), **options)
        return float(np.mean(np.asarray(value)))


def _keras_mean32(loss: str, y_true, y_pred, **options) -> np.float32:
    """Keras's loss as Keras computes it by default, in float32, averaged over the rows."""
    import keras

    value = getattr(keras.losses, loss)(np.asarray(y_true, "float32"), np.asarray(y_pred, "float32"), **options)
    return np.float32(np.mean(np.asarray(value)))


def _forbidden(*names: str):
    """Keras's and scikit-learn's versions of a loss: what the check compares with, not to be called."""
    import keras
    from sklearn import metrics

    found = [(getattr(keras.losses, n), f"keras.losses.{n}") for n in names if hasattr(keras.losses, n)]
    sk = {"mean_squared_error": metrics.mean_squared_error, "binary_crossentropy": metrics.log_loss}
    return found + [(sk[n], f"scikit-learn's {sk[n].__name__}") for n in names if n in sk]


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


def _mse_mistake(what: str, compute, hint: str) -> Mistake:
    return Mistake(what, lambda t, p: compute(np.asarray(t, "float64"), np.asarray(p, "float64")), hint)


_MSE_MISTAKES = (
    _mse_mistake(
        "the root of the mean squared error (RMSE)",
        lambda t, p: np.sqrt(np.mean((t - p) ** 2)),
        "the mean squared error stays squared: no square root at the end",
    ),
    _mse_mistake(
        "the sum of the squared errors, not their mean",
        lambda t, p: np.sum((t - p) ** 2),
        "divide the sum by the number of rows",
    ),
    _mse_mistake(
        "the mean absolute error",
        lambda t, p: np.mean(np.abs(t - p)),
        "square each difference, (y_true - y_pred) ** 2, instead of taking its absolute value",
    ),
)


@register("losses.mse_plain", "write it")
def mse_plain(fn) -> Verdict:
    if callable(fn) and _uses_numpy(fn):
        return Verdict(
            "losses.mse_plain", FAILED, "this one is without NumPy: use a loop (or sum and zip) over the two lists"
        )
    rng = fresh_rng()
    n = int(rng.integers(5, 12))
    cases = [
        Case((rng.normal(size=n).round(3).tolist(), rng.normal(size=n).round(3).tolist())),
        Case(([0.3, 0.7, 1, 0, 0.5], [1, 1, 0, 0, 1]), "the course's toy numbers"),
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
        mistakes=_MSE_MISTAKES,
        forbidden=_forbidden("mean_squared_error"),
    )


def _loops(fn) -> bool:
    """Whether the function (or a comprehension inside it) loops in Python."""
    import dis
    import types

    stack = [getattr(fn, "__code__", None)]
    while stack:
        code = stack.pop()
        if code is None:
            continue
        if any(i.opname == "FOR_ITER" for i in dis.get_instructions(code)):
            return True
        stack += [k for k in code.co_consts if isinstance(k, types.CodeType)]
    return False


@register("losses.mse_numpy", "write it")
def mse_numpy(fn) -> Verdict:
    if callable(fn) and not isinstance(fn, type) and _loops(fn):
        return Verdict(
            "losses.mse_numpy",
            FAILED,
            "this one is without a loop: NumPy works on whole arrays at once, ((y_true - y_pred) ** 2).mean()",
        )
    rng = fresh_rng()
    cases = [
        Case((rng.normal(size=1000), rng.normal(size=1000)), "1,000 rows"),
        Case((np.array([0.3, 0.7, 1, 0, 0.5]), np.array([1.0, 1, 0, 0, 1])), "the course's toy numbers"),
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
        reference32=lambda t, p: _keras_mean32("mean_squared_error", t, p),
        mistakes=_MSE_MISTAKES,
        forbidden=_forbidden("mean_squared_error"),
    )


@register("losses.log_loss", "write it")
def log_loss(fn) -> Verdict:
    rng = fresh_rng()
    n = int(rng.integers(6, 14))
    cases = [
        Case((rng.integers(0, 2, n).astype(float), rng.uniform(0.05, 0.95, n).round(3))),
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
        reference32=lambda t, p: _keras_mean32("binary_crossentropy", t, p),
        mistakes=(
            Mistake(
                "the tutorial's clip, min(p, epsilon)",
                lambda t, p: _log_loss_of(t, np.minimum(np.maximum(p, 1e-7), 1e-7)),
                "min(p, epsilon), the tutorial's slip, turns every probability into epsilon: clip both ends, "
                "np.clip(y_pred, epsilon, 1 - epsilon)",
            ),
            Mistake(
                "the log loss without its minus sign",
                lambda t, p: -_log_loss_of(t, np.clip(p, 1e-7, 1 - 1e-7)),
                "the logarithm of a probability is negative: the loss is minus the mean, -np.mean(...)",
            ),
        ),
        forbidden=_forbidden("binary_crossentropy"),
    )


def _log_loss_of(t, p) -> float:
    t, p = np.asarray(t, "float64"), np.asarray(p, "float64")
    return float(-np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)))


def _keras_from_logits(y_true, logits) -> float:
    from keraslab.proof import keras_float64

    with keras_float64() as k:
        value = k.losses.binary_crossentropy(
            np.asarray(y_true, "float64"), np.asarray(logits, "float64"), from_logits=True
        )
        return float(np.mean(np.asarray(value)))


@register("losses.from_logits", "write it")
def from_logits(fn) -> Verdict:
    rng = fresh_rng()
    n = int(rng.integers(6, 14))
    cases = [
        Case((rng.integers(0, 2, n).astype(float), rng.normal(0, 2, n).round(3))),
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
        reference32=lambda t, z: _keras_mean32("binary_crossentropy", t, z, from_logits=True),
        forbidden=_forbidden("binary_crossentropy"),
    )


@register("losses.outlier", "predict, then run")
def outlier(prediction, *, measured: float, mae_factor: float) -> Verdict:
    return check_prediction(
        "losses.outlier",
        prediction,
        measured,
        rtol=1e-6,
        what=f"MSE grew {measured:.4g} times, MAE {mae_factor:.4g} times",
        explain="MAE adds the error as it is (10 instead of 1), MSE adds its square (100 instead of 1): "
        "one large error weighs far more in MSE, which is why MSE is said to be sensitive to outliers",
    )
