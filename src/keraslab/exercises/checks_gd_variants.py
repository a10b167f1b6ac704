"""Checks of the gd-variants lesson's exercises (04_gd_variants.py)."""

from __future__ import annotations

import numpy as np

from keraslab.exercises.checking import Case, Verdict, check_function, check_prediction, register


def _scaled(train, test):
    from sklearn.preprocessing import MinMaxScaler

    scaler = MinMaxScaler().fit(train)
    return scaler.transform(train), scaler.transform(test)


@register("gd_variants.min_max_scale", "write it")
def min_max_scale(fn) -> Verdict:
    rng = np.random.default_rng(41)
    train = rng.uniform(500, 4000, (8, 2)).round(0)
    cases = [
        Case(
            (train, np.array([[4500.0, 4200.0], [300.0, 450.0]])),
            "test rows outside the training range",
            "fit min and max on the training rows only, then apply them to the test rows unchanged: scaled test "
            "values may fall outside [0, 1]. Fitting on every row lets the test part shape the scaling",
        ),
        Case((train[:, :1], train[:1, :1]), "a test part of one row"),
        Case(
            (np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]]), np.array([[2.0, 5.0]])),
            "a constant column",
            "a column whose max equals its min has no range: scikit-learn maps it to 0 instead of dividing by 0",
        ),
    ]
    return check_function(
        "gd_variants.min_max_scale",
        fn,
        cases,
        _scaled,
        names=("train", "test"),
        source="scikit-learn MinMaxScaler fitted on the training rows",
        hint="lo, hi = train.min(axis=0), train.max(axis=0); scaled = (x - lo) / (hi - lo), for both parts",
    )


def _mae_step_reference(X_b, y_b, w, b, learning_rate):
    """One step down the (sub)gradient of the mean absolute error: d|r|/dr = sign(r)."""
    r = y_b - (X_b @ w + b)
    return w + learning_rate * (X_b.T @ np.sign(r)) / len(y_b), b + learning_rate * float(np.sign(r).mean())


@register("gd_variants.mae_step", "write it")
def mae_step(fn) -> Verdict:
    rng = np.random.default_rng(42)
    X = rng.uniform(0, 1, (6, 2)).round(3)
    y = (X @ [0.7, 0.2] + 0.1 + rng.normal(0, 0.05, 6)).round(3)
    cases = [
        Case((X, y, np.array([1.0, 1.0]), 0.0, 0.1)),
        Case((X[:1], y[:1], np.array([0.2, -0.1]), 0.5, 0.1), "a batch of one row"),
        Case((X, y, np.array([0.0, 0.0]), 0.0, 0.05), "every prediction below its target"),
    ]
    return check_function(
        "gd_variants.mae_step",
        fn,
        cases,
        _mae_step_reference,
        names=("X_b", "y_b", "w", "b", "learning_rate"),
        source="NumPy, the derivative of |r| being sign(r)",
        hint="the derivative of |r| is sign(r): with r = y - (X w + b), grad_w = -X.T @ np.sign(r) / len(y) and "
        "grad_b = -np.sign(r).mean(); step downhill",
    )


@register("gd_variants.sgd_vs_batch", "predict, then run")
def sgd_vs_batch(prediction, *, measured: str, costs: dict) -> Verdict:
    shown = ", ".join(f"{method} {cost:.5f}" for method, cost in costs.items())
    return check_prediction(
        "gd_variants.sgd_vs_batch",
        prediction,
        measured,
        choices=("lower", "higher"),
        what=f"the cost after the last epoch: {shown}",
        explain="an epoch of stochastic descent makes one step per house (n steps), batch descent one: with "
        "the same learning rate, after the same epochs, the stochastic walk has gone much further downhill, "
        "noisily",
    )
