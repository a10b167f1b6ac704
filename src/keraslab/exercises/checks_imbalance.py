"""Checks of the imbalance lesson's exercises (08_imbalance.py)."""

from __future__ import annotations

import numpy as np

from keraslab.exercises.checking import (
    FAILED,
    NOT_ATTEMPTED,
    PASSED,
    Verdict,
    call_answer,
    check_prediction,
    register,
    show,
)

UNDER_HINT = (
    "keep every row of the minority class and draw, without replacement, as many rows of the majority class "
    "(rng.choice(majority_rows, size=n_minority, replace=False))"
)
SPLIT_HINT = (
    "split first (train_test_split(..., stratify=y)), then resample the training part only: the test part must "
    "stay the rows of the real world, each once, none of them (or a copy) in the training part"
)


def _table(seed: int, n: int = 120, minority: int = 20):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.arange(n), rng.normal(size=n).round(4)])  # column 0: the row's number
    y = np.array([1] * minority + [0] * (n - minority))
    order = rng.permutation(n)
    return X[order], y[order]


@register("imbalance.undersample", "write it")
def undersample(fn) -> Verdict:
    X, y = _table(81)
    out = call_answer("imbalance.undersample", fn, X.copy(), y.copy(), np.random.default_rng(0))
    if isinstance(out, Verdict):
        return out

    def wrong(message: str, expected: str, received: str) -> Verdict:
        return Verdict(
            "imbalance.undersample",
            FAILED,
            message,
            (
                ("input", f"X {X.shape} (column 0 numbers the rows), y: 100 of class 0, 20 of class 1"),
                ("expected", expected),
                ("received", received),
                ("hint", UNDER_HINT),
            ),
        )

    if not (isinstance(out, tuple) and len(out) == 2):
        return wrong("expected (X_resampled, y_resampled)", "a tuple of two arrays", show(out, 80))
    Xr, yr = np.asarray(out[0]), np.asarray(out[1])
    if Xr.ndim != 2 or len(Xr) != len(yr):
        return wrong(
            "X and y of the result do not match", "as many rows in X as labels in y", f"{Xr.shape}, {yr.shape}"
        )
    counts = np.bincount(yr.astype(int), minlength=2)
    if counts[0] != counts[1] or counts[1] != 20:
        return wrong("the classes are not balanced at the minority's size", "20 and 20 rows", f"{counts.tolist()}")
    ids = Xr[:, 0].astype(int)
    if len(set(ids)) != len(ids):
        return wrong("a row appears twice", "each kept row once (drawn without replacement)", "duplicates")
    truth = dict(zip(X[:, 0].astype(int), y, strict=True))
    if any(truth.get(i) != label for i, label in zip(ids, yr, strict=True)):
        return wrong("a row lost its label (or is not from X)", "every row with its own label", "a mismatch")
    if set(ids[yr == 1]) != {i for i, label in truth.items() if label == 1}:
        return wrong("not every minority row was kept", "all 20 rows of class 1", f"{int((yr == 1).sum())} rows")
    return Verdict("imbalance.undersample", PASSED, "passed: 20 + 20 rows, every minority row kept, no duplicate")


@register("imbalance.split_then_resample", "write it")
def split_then_resample(fn) -> Verdict:
    X, y = _table(82)
    out = call_answer("imbalance.split_then_resample", fn, X.copy(), y.copy(), 0)
    if isinstance(out, Verdict):
        return out
    if not (isinstance(out, tuple | list) and len(out) == 4):
        return Verdict(
            "imbalance.split_then_resample",
            FAILED,
            "expected (X_train, X_test, y_train, y_test), the order of train_test_split",
            (("received", show(out, 80)),),
        )
    X_train, X_test, y_train, y_test = (np.asarray(a) for a in out)
    test_ids, train_ids = X_test[:, 0].astype(int), X_train[:, 0].astype(int)

    def wrong(message: str, hint: str = SPLIT_HINT) -> Verdict:
        return Verdict(
            "imbalance.split_then_resample",
            FAILED,
            message,
            (("input", f"X {X.shape} (column 0 numbers the rows), y: 100 of class 0, 20 of class 1"), ("hint", hint)),
        )

    if len(test_ids) != len(set(test_ids)):
        return wrong("a row appears twice in the test part: it was resampled before the split (the course's leak)")
    leaked = sorted(set(test_ids) & set(train_ids))
    if leaked:
        return wrong(
            f"{len(leaked)} test row(s) also stand in the training part (row {leaked[0]} first): the test part "
            "leaked, which inflates its score, as in the course's notebook that resampled before splitting"
        )
    if not 0.15 <= len(test_ids) / len(X) <= 0.35:
        return wrong(f"the test part holds {len(test_ids)} of {len(X)} rows", "test_size=0.2 keeps 24 rows")
    if np.mean(y_test) > 0.3:
        return wrong("the test part is balanced: it should keep the real world's share of churners (1 in 6)")
    counts = np.bincount(y_train.astype(int), minlength=2)
    if counts[0] != counts[1]:
        return wrong(f"the training part is not balanced after resampling: {counts.tolist()}")
    return Verdict(
        "imbalance.split_then_resample",
        PASSED,
        f"passed: test part of {len(test_ids)} untouched rows, none in the training part; training part balanced "
        f"{counts.tolist()}",
    )


@register("imbalance.logistic", "build it")
def logistic(estimator, *, data: tuple) -> Verdict:
    """The original course's exercise: a simpler classifier (scikit-learn's), its churners' F1 raised above the
    plain logistic regression's on the same untouched test part."""
    from sklearn.base import clone, is_classifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    if estimator is None or estimator is Ellipsis:
        return Verdict("imbalance.logistic", NOT_ATTEMPTED, "not attempted yet: make the classifier, then run the cell")
    if not is_classifier(estimator):
        return Verdict(
            "imbalance.logistic",
            FAILED,
            f"expected a scikit-learn classifier (or pipeline), received {type(estimator).__name__}",
            (("hint", "LogisticRegression(class_weight='balanced', max_iter=1000), or an imbalanced-learn Pipeline"),),
        )
    x_train, y_train, x_test, y_test = data
    baseline = LogisticRegression(max_iter=1000).fit(x_train, y_train)
    base_f1 = float(f1_score(y_test, baseline.predict(x_test)))
    try:
        fitted = clone(estimator).fit(x_train, y_train)
        f1 = float(f1_score(y_test, fitted.predict(x_test)))
    except Exception as exc:  # the learner's estimator: its error is the verdict
        return Verdict("imbalance.logistic", FAILED, f"fitting raised {type(exc).__name__}: {exc}")
    message = f"churners' F1 {f1:.3f} on the untouched test part, plain logistic regression {base_f1:.3f}"
    if f1 >= base_f1 + 0.01:
        return Verdict("imbalance.logistic", PASSED, f"passed: {message}")
    return Verdict(
        "imbalance.logistic",
        FAILED,
        f"not better yet: {message} (the target: {base_f1 + 0.01:.3f} or more)",
        (("hint", "weight the classes (class_weight='balanced'), or resample inside an imbalanced-learn Pipeline"),),
    )


@register("imbalance.undersampling_precision", "predict, then run")
def undersampling_precision(prediction, *, measured: str, precision: dict) -> Verdict:
    shown = ", ".join(f"{name} {value:.3f}" for name, value in precision.items())
    return check_prediction(
        "imbalance.undersampling_precision",
        prediction,
        measured,
        choices=("up", "down", "same"),
        what=f"precision of the churners, honest protocol: {shown}",
        explain="trained on balanced classes, the network believes churn is as common as staying, so it says "
        "'churn' far more often: recall rises, and precision falls, because the real test part still holds "
        "many more stayers",
    )
