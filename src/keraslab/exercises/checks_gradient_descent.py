"""Checks of the gradient-descent lesson's exercises (03_gradient_descent.py)."""

from __future__ import annotations

import numpy as np

from keraslab.exercises.checking import (
    FAILED,
    LEARNER_ERRORS,
    Case,
    Mistake,
    Verdict,
    check_function,
    check_prediction,
    fresh_rng,
    register,
)

_AGE, _AFFORD, _BOUGHT = np.array([0.22, 0.47, 0.62]), np.array([1.0, 0.0, 1.0]), np.array([0.0, 1.0, 1.0])


def cube(x):
    return x**3


def sine(x):
    return np.sin(x)


def neuron_loss(b):
    """The log loss of one neuron (w = 1, 0.5) on three people, as a function of its bias b."""
    p = 1 / (1 + np.exp(-(_AGE + 0.5 * _AFFORD + b)))
    return float(-np.mean(_BOUGHT * np.log(p) + (1 - _BOUGHT) * np.log(1 - p)))


def _exact(f, x):
    """Each function's derivative, worked out by hand: 3x^2, cos x, and mean(p - y) for the neuron's bias."""
    if f is cube:
        return 3 * x**2
    if f is sine:
        return float(np.cos(x))
    p = 1 / (1 + np.exp(-(_AGE + 0.5 * _AFFORD + x)))
    return float(np.mean(p - _BOUGHT))


def _ignores_h(fn, x: float) -> bool:
    """Whether a derivative that takes a step `h` gives the same slope for h = 0.5 as for h = 1e-5 (every finite
    difference of sin errs visibly at h = 0.5: the step is not used)."""
    import inspect

    try:
        if "h" not in inspect.signature(fn).parameters:
            return False
        wide, narrow = float(fn(sine, x, h=0.5)), float(fn(sine, x, h=1e-5))
    except LEARNER_ERRORS:
        return False  # the cases below say what goes wrong
    return bool(np.isfinite(wide) and abs(wide - narrow) < 1e-4 * max(1.0, abs(narrow)))


@register("gradient_descent.numerical_derivative", "write it")
def numerical_derivative(fn) -> Verdict:
    import jax

    rng = fresh_rng()
    if callable(fn) and not isinstance(fn, type) and _ignores_h(fn, 1.0):
        return Verdict(
            "gradient_descent.numerical_derivative",
            FAILED,
            "your function gives the same slope for h=0.5 as for h=1e-5: it does not use the step h it is given",
            (("hint", "write the difference with h, (f(x + h) - f(x - h)) / (2 * h), not with a number of your own"),),
        )
    cases = [
        Case((cube, round(float(rng.uniform(0.5, 3)), 3)), "x**3"),
        Case((sine, round(float(rng.uniform(-3, 3)), 3)), "sin"),
        Case((neuron_loss, round(float(rng.uniform(-1, 1)), 3)), "a neuron's log loss as a function of its bias"),
    ]
    return check_function(
        "gradient_descent.numerical_derivative",
        fn,
        cases,
        _exact,
        names=("f", "x"),
        source="the exact derivative (3x², cos x, mean(p - y))",
        hint="the central difference (f(x + h) - f(x - h)) / (2 * h) with h = 1e-5: its error shrinks as h**2, "
        "the forward difference's (f(x + h) - f(x)) / h only as h",
        rtol=1e-7,
        mistakes=(
            Mistake(
                "the forward difference (f(x + h) - f(x)) / h",
                lambda f, x: (f(x + 1e-5) - f(x)) / 1e-5,
                "the forward difference errs by about h times half the second derivative; the central difference "
                "(f(x + h) - f(x - h)) / (2 * h) only by a multiple of h**2",
            ),
        ),
        forbidden=((jax.grad, "jax.grad (automatic differentiation)"),),
    )


def _bias_reference(bias, y_true, y_pred, learning_rate):
    # d(log loss)/db for a sigmoid neuron is the mean of (prediction - label)
    return bias - learning_rate * float(np.mean(np.asarray(y_pred) - np.asarray(y_true)))


@register("gradient_descent.bias_update", "write it")
def bias_update(fn) -> Verdict:
    rng = fresh_rng()
    n = int(rng.integers(6, 14))
    cases = [
        Case(
            (
                round(float(rng.normal()), 3),
                rng.integers(0, 2, n).astype(float),
                rng.uniform(0.1, 0.9, n).round(3),
                0.5,
            ),
            "",
            "the bias moves against the mean of (y_pred - y_true); the tutorial's loop computes that and never "
            "applies it, so its bias stays 0",
        ),
        Case((0.3, np.array([1.0]), np.array([0.2]), 0.1), "a batch of one row"),
        Case((-1.0, np.array([1.0, 0.0]), np.array([1.0, 0.0]), 1.0), "perfect predictions (the bias stays)"),
    ]
    return check_function(
        "gradient_descent.bias_update",
        fn,
        cases,
        _bias_reference,
        names=("bias", "y_true", "y_pred", "learning_rate"),
        source="the derivative of the log loss: b - learning_rate * mean(y_pred - y_true)",
        hint="return bias - learning_rate * np.mean(y_pred - y_true); mind the sign (downhill)",
        mistakes=(
            Mistake(
                "the bias left as it was",
                lambda b, t, p, lr: b,
                "the bias moves against the mean of (y_pred - y_true); the tutorial's loop computes that and never "
                "applies it, so its bias stays 0",
            ),
            Mistake(
                "a step uphill (the sign flipped)",
                lambda b, t, p, lr: b + lr * float(np.mean(np.asarray(p) - np.asarray(t))),
                "gradient descent steps against the derivative: bias - learning_rate * derivative",
            ),
        ),
    )


@register("gradient_descent.learning_rate", "predict, then run")
def learning_rate(prediction, *, measured: str, losses: dict) -> Verdict:
    shown = ", ".join(f"rate {rate:g}: {loss:.4f}" for rate, loss in losses.items())
    return check_prediction(
        "gradient_descent.learning_rate",
        prediction,
        measured,
        choices=("lower", "higher"),
        what=f"training log loss after the same number of epochs: {shown}",
        explain="on this small, smooth problem a larger step goes further downhill per epoch; a rate far too "
        "large would overshoot and the loss would rise instead",
    )
