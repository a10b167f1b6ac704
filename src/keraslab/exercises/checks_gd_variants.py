"""Checks of the gd-variants lesson's exercises (04_gd_variants.py)."""

from __future__ import annotations

import numpy as np

from keraslab.exercises.checking import Case, Mistake, Verdict, check_function, check_prediction, fresh_rng, register


def _scaled(train, test):
    from sklearn.preprocessing import MinMaxScaler

    scaler = MinMaxScaler().fit(train)
    return scaler.transform(train), scaler.transform(test)


def _scaled_together(train, test):
    both = np.vstack([train, test])
    lo, span = both.min(axis=0), np.ptp(both, axis=0)
    span = np.where(span > 0, span, 1.0)
    return (train - lo) / span, (test - lo) / span


@register("gd_variants.min_max_scale", "write it")
def min_max_scale(fn) -> Verdict:
    from sklearn import preprocessing

    rng = fresh_rng()
    train = rng.uniform(500, 4000, (int(rng.integers(6, 12)), 2)).round(0)
    cases = [
        Case((train, rng.uniform(600, 3900, (3, 2)).round(0))),
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
        mistakes=(
            Mistake(
                "min and max taken over the training and test rows together",
                _scaled_together,
                "fit min and max on the training rows only: the test part must not shape the scaling",
            ),
            Mistake(
                "the test part scaled by its own min and max",
                lambda train, test: (_scaled(train, train)[0], _scaled(test, test)[0]),
                "scale the test rows with the training part's min and max, not their own",
            ),
            Mistake(
                "one min and max over the whole table, not per column",
                lambda train, test: ((train - train.min()) / np.ptp(train), (test - train.min()) / np.ptp(train)),
                "take min and max per column (axis=0): each feature gets its own range",
            ),
        ),
        forbidden=(
            (preprocessing.MinMaxScaler.partial_fit, "scikit-learn's MinMaxScaler"),
            (preprocessing.minmax_scale, "scikit-learn's minmax_scale"),
        ),
    )


def _mae_step_reference(X_b, y_b, w, b, learning_rate):
    """One step down the (sub)gradient of the mean absolute error: d|r|/dr = sign(r)."""
    r = y_b - (X_b @ w + b)
    return w + learning_rate * (X_b.T @ np.sign(r)) / len(y_b), b + learning_rate * float(np.sign(r).mean())


def _a_bias_that_matters(rng, X, y) -> float:
    """A bias for which the residuals y - (X w + b) at w = (0.5, 0.5) do not all have the sign they have without
    it: an answer that leaves b out of the prediction then differs."""
    base = y - X @ np.array([0.5, 0.5])
    while True:
        b = round(float(rng.uniform(-0.5, 0.5)), 3)
        if np.any(np.sign(base - b) != np.sign(base)):
            return b


@register("gd_variants.mae_step", "write it")
def mae_step(fn) -> Verdict:
    rng = fresh_rng()
    n = int(rng.integers(5, 10))
    X = rng.uniform(0, 1, (n, 2)).round(3)
    y = (X @ [0.7, 0.2] + 0.1 + rng.normal(0, 0.05, n)).round(3)
    b = _a_bias_that_matters(rng, X, y)
    cases = [
        Case((X, y, np.array([0.5, 0.5]), b, 0.1), "a bias that changes the sign of some residuals"),
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
        mistakes=(
            Mistake(
                "the step of the mean squared error",
                lambda X, y, w, b, lr: (
                    w + lr * 2 * X.T @ (y - X @ w - b) / len(y),
                    b + lr * 2 * float(np.mean(y - X @ w - b)),
                ),
                "this is the squared error's step: the derivative of |r| is sign(r), not 2r",
            ),
            Mistake(
                "a step uphill (the sign flipped)",
                lambda X, y, w, b, lr: tuple(
                    2 * v - s for v, s in zip((w, b), _mae_step_reference(X, y, w, b, lr), strict=True)
                ),
                "step against the gradient: w - learning_rate * grad_w, with grad_w = -X.T @ sign(r) / n",
            ),
        ),
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
