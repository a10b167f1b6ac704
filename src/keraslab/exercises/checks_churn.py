"""Checks of the churn lesson's exercises (06_churn.py)."""

from __future__ import annotations

import numpy as np

from keraslab.exercises.checking import Case, Mistake, Verdict, check_function, check_prediction, fresh_rng, register
from keraslab.exercises.model_checks import Architecture, dense, inspect, train_and_score


def _prf(y_true, y_pred):
    from sklearn.metrics import precision_recall_fscore_support

    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average="binary", zero_division=0)
    return float(p), float(r), float(f)


def _guesses(rng, n):
    """Labels and guesses about three in four right, with as many false alarms as misses never (so that precision
    and recall differ, and swapping them shows)."""
    while True:
        y = rng.integers(0, 2, n)
        guess = np.where(rng.random(n) < 0.75, y, 1 - y)
        if np.sum((guess == 1) & (y == 0)) != np.sum((guess == 0) & (y == 1)) and np.sum(guess * y) > 0:
            return y, guess


@register("churn.precision_recall_f1", "write it")
def precision_recall_f1(fn) -> Verdict:
    from sklearn import metrics

    rng = fresh_rng()
    n = int(rng.integers(20, 60))
    y, guess = _guesses(rng, n)
    cases = [
        Case((y, guess)),
        Case(
            (np.array([1, 0, 1, 0]), np.array([0, 0, 0, 0])),
            "no churner predicted",
            "with no positive prediction, precision is 0/0: scikit-learn (zero_division=0) and the lesson call it "
            "0, and F1 is then 0 too",
        ),
        Case((np.array([1]), np.array([1])), "a batch of one row"),
    ]
    return check_function(
        "churn.precision_recall_f1",
        fn,
        cases,
        _prf,
        names=("y_true", "y_pred"),
        source="scikit-learn precision_recall_fscore_support, class 1",
        hint="tp, fp, fn = counts of (pred 1, true 1), (pred 1, true 0), (pred 0, true 1); precision tp/(tp+fp), "
        "recall tp/(tp+fn), F1 2pr/(p+r): each 0 when its denominator is 0",
        mistakes=(
            Mistake(
                "precision and recall swapped",
                lambda t, p: (_prf(t, p)[1], _prf(t, p)[0], _prf(t, p)[2]),
                "precision divides by what was predicted churn (tp + fp), recall by what was churn (tp + fn)",
            ),
        ),
        forbidden=(
            (metrics.precision_recall_fscore_support, "scikit-learn's precision_recall_fscore_support"),
            (metrics.precision_score, "scikit-learn's precision_score"),
            (metrics.recall_score, "scikit-learn's recall_score"),
            (metrics.f1_score, "scikit-learn's f1_score"),
        ),
    )


def _balanced(y):
    from sklearn.utils.class_weight import compute_class_weight

    weights = compute_class_weight("balanced", classes=np.array([0, 1]), y=y)
    return {0: float(weights[0]), 1: float(weights[1])}


@register("churn.class_weight", "write it")
def class_weight(fn) -> Verdict:
    from sklearn.utils import class_weight as weights

    rng = fresh_rng()
    cases = [
        Case((rng.permutation([0] * int(rng.integers(20, 60)) + [1] * int(rng.integers(5, 20))),)),
        Case((np.array([0] * 7 + [1] * 3),), "7 stayed, 3 churned"),
        Case((np.array([0, 1, 0, 1]),), "balanced classes: weights 1"),
        Case((np.array([0] * 5163 + [1] * 1869),), "the churn table's counts"),
    ]
    return check_function(
        "churn.class_weight",
        fn,
        cases,
        _balanced,
        names=("y",),
        source='scikit-learn compute_class_weight("balanced")',
        hint="weight of class c = n_rows / (2 * n_rows_of_class_c), returned as {0: w0, 1: w1} (what Keras's "
        "fit(class_weight=...) takes)",
        mistakes=(
            Mistake(
                "n / n_c without the 2 (the number of classes)",
                lambda y: {c: 2 * w for c, w in _balanced(y).items()},
                "divide by the number of classes too: n / (2 * n_c), so that balanced classes get weight 1",
            ),
        ),
        forbidden=((weights.compute_class_weight, "scikit-learn's compute_class_weight"),),
    )


ARCHITECTURE = Architecture(
    "one or more Dense(units, relu), then Dense(1, sigmoid): Dense layers only",
    "DD+",
    lambda layer, i, layers: dense(layer, 1, "sigmoid") if i == len(layers) - 1 else dense(layer, None, "relu"),
)


@register("churn.network", "build it")
def network(model, *, data: tuple) -> Verdict:
    x_train = data[0]
    n_inputs = x_train.shape[1] if getattr(x_train, "ndim", 0) == 2 else 0
    wrong = inspect(
        "churn.network",
        model,
        input_shape=(n_inputs,),
        outputs=1,
        architecture=ARCHITECTURE,
        loss="binary_crossentropy",
        hint=f"keras.Input(shape=({n_inputs},)), hidden Dense layers with relu, Dense(1, "
        'activation="sigmoid"), compiled with loss="binary_crossentropy"',
    )
    if wrong:
        return wrong
    majority = float(max(np.mean(data[3]), 1 - np.mean(data[3])))
    return train_and_score(
        "churn.network",
        model,
        data,
        epochs=5,
        target=round(majority + 0.03, 2),
        seed=0,
        what=f"this lesson's training part ({len(data[1]):,} customers); the majority class alone scores "
        f"{majority:.3f}",
        hint="a learning rate that is too small (or too large) keeps the model at the majority class; adam's "
        "default is a good start",
    )


@register("churn.threshold", "predict, then run")
def threshold(prediction, *, measured: str, recalls: dict) -> Verdict:
    shown = ", ".join(f"threshold {t:g}: recall {r:.3f}" for t, r in recalls.items())
    return check_prediction(
        "churn.threshold",
        prediction,
        measured,
        choices=("up", "down", "same"),
        what=shown,
        explain="a lower threshold labels more customers as churners; every churner caught at 0.5 is still "
        "caught at 0.3, so recall can only rise (precision usually falls)",
    )
