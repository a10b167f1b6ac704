"""Checks of the imbalance lesson's exercises (08_imbalance.py)."""

from __future__ import annotations

import numpy as np

from keraslab.exercises.checking import (
    FAILED,
    LEARNER_ERRORS,
    NOT_ATTEMPTED,
    PASSED,
    Verdict,
    call_answer,
    check_prediction,
    fresh_rng,
    register,
)
from keraslab.exercises.differences import describe, show

UNDER_HINT = (
    "keep every row of the minority class and draw, without replacement, as many rows of the majority class "
    "(rng.choice(majority_rows, size=n_minority, replace=False))"
)
SPLIT_HINT = (
    "split first (train_test_split(..., stratify=y)), then resample the training part only: the test part must "
    "stay the rows of the real world, each once, none of them (or a copy) in the training part"
)


def _table(rng: np.random.Generator, *, rare: int = 1):
    """A fresh two-class table: column 0 numbers the rows, column 1 is a feature; `rare` is the rarer class."""
    n, minority = int(rng.integers(100, 130)), int(rng.integers(25, 35))
    X = np.column_stack([np.arange(n), rng.normal(size=n).round(4)])
    y = np.array([rare] * minority + [1 - rare] * (n - minority))
    order = rng.permutation(n)
    return X[order], y[order]


def _two_arrays(out):
    """(X, y) as arrays from a tuple or list of two, else None."""
    if not (isinstance(out, tuple | list) and len(out) == 2):
        return None
    try:
        return np.asarray(out[0], dtype="float64"), np.asarray(out[1])
    except Exception:  # whatever the learner returned
        return None


def _under_forbidden():
    from imblearn.under_sampling import RandomUnderSampler

    return ((RandomUnderSampler.fit_resample, "imbalanced-learn's fit_resample"),)


def _kept_rows(out, X, y) -> frozenset | tuple[str, str, str]:
    """The row numbers an under-sampling kept, or (what is wrong, expected, received)."""
    rare = int(np.argmin(np.bincount(y, minlength=2)))
    pair = _two_arrays(out)
    if pair is None:
        return "expected (X_resampled, y_resampled)", "a tuple of two arrays", show(out, 80)
    Xr, yr = pair
    if Xr.ndim != 2 or yr.ndim != 1 or len(Xr) != len(yr) or Xr.shape[1:] != X.shape[1:]:
        return (
            "X and y of the result do not match",
            f"rows of {X.shape[1]} columns, one label each",
            f"{Xr.shape}, {yr.shape}",
        )
    if not np.isin(yr, (0, 1)).all():
        return "the labels are not the table's", "labels 0 and 1", show(np.unique(yr), 60)
    n = int(np.sum(y == rare))
    counts = np.bincount(yr.astype(int), minlength=2)
    if counts[0] != counts[1] or counts[rare] != n:
        return (
            "the classes are not balanced at the rarer class's size",
            f"{n} and {n} rows",
            f"{counts[0]} of class 0, {counts[1]} of class 1",
        )
    ids = Xr[:, 0].astype(int)
    if len(set(ids)) != len(ids):
        return "a row appears twice", "each kept row once (drawn without replacement: replace=False)", "duplicates"
    truth = dict(zip(X[:, 0].astype(int), y, strict=True))
    if any(truth.get(i) != label for i, label in zip(ids, yr, strict=True)) or not np.isin(Xr, X).all():
        return "a row lost its label (or is not from X)", "every row of X with its own label", "a mismatch"
    if set(ids[yr == rare]) != {i for i, label in truth.items() if label == rare}:
        return (
            f"not every row of the rarer class ({rare}) was kept",
            f"all {n} rows of class {rare}",
            f"{int((yr == rare).sum())} rows",
        )
    return frozenset(ids)


@register("imbalance.undersample", "write it")
def undersample(fn) -> Verdict:
    """Each kept set checked on two fresh tables (the rarer class 1 in one, 0 in the other), and the draw: from
    `rng` (generators seeded alike keep the same rows, seeded differently other rows), without replacement."""
    draw = fresh_rng()
    tables = [_table(draw, rare=1), _table(draw, rare=0)]
    seeds = [int(v) for v in draw.choice(2**31, size=4, replace=False)]
    kept = []
    for table, seed in [(0, seeds[0]), (0, seeds[1]), (0, seeds[0]), (1, seeds[2]), (1, seeds[3])]:
        X, y = tables[table]
        counts = np.bincount(y, minlength=2)
        shown = (
            f"X {X.shape} (column 0 numbers the rows), y: {counts[0]} of class 0, {counts[1]} of class 1 (the "
            f"rarer class: {int(np.argmin(counts))})"
        )
        out = call_answer(
            "imbalance.undersample", fn, X.copy(), y.copy(), np.random.default_rng(seed), forbidden=_under_forbidden()
        )
        if isinstance(out, Verdict) and out.status != FAILED:
            return out
        found = (
            (out.message, "(X_resampled, y_resampled)", "an error")
            if isinstance(out, Verdict)
            else _kept_rows(out, X, y)
        )
        if isinstance(found, tuple):
            message, expected, received = found
            return Verdict(
                "imbalance.undersample",
                FAILED,
                message,
                (("input", shown), ("expected", expected), ("received", received), ("hint", UNDER_HINT)),
            )
        kept.append(found)
    if kept[0] == kept[1]:
        return Verdict(
            "imbalance.undersample",
            FAILED,
            "the same rows are kept on every call, whatever the generator: draw the common class's rows with rng",
            (("hint", UNDER_HINT),),
        )
    if kept[0] != kept[2]:
        return Verdict(
            "imbalance.undersample",
            FAILED,
            "two generators seeded alike kept different rows: draw from the rng passed in (not np.random, nor a "
            "generator of your own)",
            (("hint", UNDER_HINT),),
        )
    return Verdict(
        "imbalance.undersample",
        PASSED,
        "passed on 2 fresh tables (the rarer class 1, then 0), 5 draws: balanced at the rarer class's size, every rare "
        "row kept, no duplicate, drawn from rng",
    )


def _rows(X: np.ndarray) -> list[tuple]:
    return [tuple(row) for row in X.tolist()]


def _split_table(rng: np.random.Generator):
    """A fresh table of three continuous features (a row is known by its values: a resampled copy is found, an
    interpolated SMOTE row is not taken for one), one row in six of class 1."""
    n = int(rng.integers(120, 180))
    X = rng.normal(size=(n, 3)).round(6)
    y = np.zeros(n, dtype=int)
    y[rng.choice(n, size=n // 6, replace=False)] = 1
    return X, y


def _split_once(fn, X, y, seed):
    """The learner's four parts as arrays, or a Verdict."""
    out = call_answer("imbalance.split_then_resample", fn, X.copy(), y.copy(), seed)
    if isinstance(out, Verdict):
        return out
    if not (isinstance(out, tuple | list) and len(out) == 4):
        return Verdict(
            "imbalance.split_then_resample",
            FAILED,
            "expected (X_train, X_test, y_train, y_test), the order of train_test_split",
            (("received", show(out, 80)),),
        )
    try:
        X_train, X_test = (np.asarray(a, dtype="float64") for a in out[:2])
        y_train, y_test = (np.asarray(a) for a in out[2:])
    except Exception:
        return Verdict("imbalance.split_then_resample", FAILED, "the four parts are not arrays of numbers")
    if X_train.ndim != 2 or X_test.ndim != 2 or len(X_train) != len(y_train) or len(X_test) != len(y_test):
        return Verdict(
            "imbalance.split_then_resample",
            FAILED,
            "expected (X_train, X_test, y_train, y_test): two tables and their labels, row for row",
            (("received", f"shapes {X_train.shape}, {X_test.shape}, {y_train.shape}, {y_test.shape}"),),
        )
    return X_train, X_test, y_train, y_test


def _test_part_wrong(X, y, X_train, X_test, y_test) -> str | tuple[str, str] | None:
    """What is wrong with the test part a split-then-resample returned: a message, (message, hint), or None."""
    original = dict(zip(_rows(X), y.tolist(), strict=True))
    test_rows, train_rows = _rows(X_test), set(_rows(X_train))
    leaked = [row for row in test_rows if row in train_rows]
    if leaked:
        return (
            f"{len(set(leaked))} test row(s) also stand in the training part: the test part leaked, which inflates "
            "its score, as in the course's notebooks that resample the whole table before splitting it"
        )
    if any(original.get(row, -1) != label for row, label in zip(test_rows, y_test.tolist(), strict=True)):
        return (
            "a test row is not a row of the table with its own label: the test part was resampled (SMOTE makes new "
            "rows); leave it as the split made it"
        )
    if len(set(test_rows)) != len(test_rows):
        return (
            "a row appears twice in the test part: the test part was resampled after the split; resample the "
            "training part only, the test part stays the rows of the real world, each once"
        )
    test_rare, n_test = int(np.sum(y_test == 1)), len(test_rows)
    if n_test < 0.15 * len(y) and abs(2 * test_rare - n_test) <= 1:
        return (
            f"the test part holds {test_rare} and {n_test - test_rare} rows of the two classes: it was under-sampled; "
            f"leave it as the split made it ({round(0.2 * len(y))} rows, about 1 in 6 of class 1)"
        )
    return None


def _not_the_split(X, y, seed, X_test) -> tuple[str, str] | None:
    """How the test part differs from train_test_split(X, y, test_size=0.2, stratify=y, random_state=seed)'s, the
    split the exercise asks for, or None."""
    from sklearn.model_selection import train_test_split

    _, want, _, want_y = train_test_split(X, y, test_size=0.2, stratify=y, random_state=seed)
    rows = _rows(X_test)
    if sorted(rows) == sorted(_rows(want)):
        return None
    labels = dict(zip(_rows(X), y.tolist(), strict=True))
    n_rare = sum(labels.get(row, 0) for row in rows)
    if len(rows) != len(want):
        return f"the test part holds {len(rows)} of {len(y)} rows", f"test_size=0.2 keeps {len(want)}"
    if n_rare != int(want_y.sum()):
        return (
            (
                f"the test part holds {n_rare} rows of class 1, where a stratified split keeps {int(want_y.sum())} "
                "(the table's share)"
            ),
            "stratify=y in train_test_split keeps each class's share in both parts",
        )
    return (
        "the test part is not the one train_test_split(X, y, test_size=0.2, stratify=y, random_state=seed) makes",
        "pass the seed on as it is: random_state=seed",
    )


@register("imbalance.split_then_resample", "write it")
def split_then_resample(fn) -> Verdict:
    draw = fresh_rng()
    X, y = _split_table(draw)
    seed = int(draw.integers(10_000))
    parts = _split_once(fn, X, y, seed)
    if isinstance(parts, Verdict):
        return parts
    X_train, X_test, y_train, y_test = parts
    n_rare = int(y.sum())

    def wrong(message: str, hint: str = SPLIT_HINT) -> Verdict:
        return Verdict(
            "imbalance.split_then_resample",
            FAILED,
            message,
            (
                ("input", f"X {X.shape}, y: {len(y) - n_rare} of class 0, {n_rare} of class 1, seed={seed}"),
                ("hint", hint),
            ),
        )

    why = _test_part_wrong(X, y, X_train, X_test, y_test) or _not_the_split(X, y, seed, X_test)
    if why:
        return wrong(*why) if isinstance(why, tuple) else wrong(why)
    test_rows, test_rare = _rows(X_test), int(np.sum(y_test == 1))
    counts = np.bincount(y_train.astype(int), minlength=2)
    if counts.min() < 0.9 * counts.max():
        return wrong(f"the training part is not balanced after resampling: {counts.tolist()}")
    return Verdict(
        "imbalance.split_then_resample",
        PASSED,
        f"passed: test part of {len(test_rows)} untouched rows ({test_rare} of class 1), none in the training part; "
        f"training part balanced {counts.tolist()}; the split train_test_split(..., stratify=y, random_state=seed) "
        "makes",
    )


def _not_a_classifier(estimator) -> str | None:
    """Why `estimator` is not a scikit-learn classifier this check can fit (None when it is one)."""
    from sklearn.base import is_classifier

    if isinstance(estimator, type):
        return f"received the class {estimator.__name__} itself, not a classifier: make one, {estimator.__name__}(...)"
    if type(estimator).__module__.split(".")[0] == "keras":
        return "received a Keras model: this exercise asks for a scikit-learn classifier (LogisticRegression(...))"
    if not (hasattr(estimator, "fit") and hasattr(estimator, "predict") and hasattr(estimator, "get_params")):
        return f"expected a scikit-learn classifier (or pipeline), received {describe(estimator)}"
    try:
        if is_classifier(estimator):
            return None
    except Exception:  # an object scikit-learn cannot read
        pass
    return f"expected a scikit-learn classifier (or pipeline), received {type(estimator).__name__}, not a classifier"


@register("imbalance.logistic", "build it")
def logistic(estimator, *, data: tuple) -> Verdict:
    """The original course's exercise: a simpler classifier (scikit-learn's), its churners' F1 raised above the
    plain logistic regression's on the same untouched test part. A fresh clone is fitted, never the learner's."""
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    if estimator is None or estimator is Ellipsis:
        return Verdict("imbalance.logistic", NOT_ATTEMPTED, "not attempted yet: make the classifier, then run the cell")
    why = _not_a_classifier(estimator)
    if why:
        return Verdict(
            "imbalance.logistic",
            FAILED,
            why,
            (("hint", "LogisticRegression(class_weight='balanced', max_iter=1000), or an imbalanced-learn Pipeline"),),
        )
    x_train, y_train, x_test, y_test = data
    baseline = LogisticRegression(max_iter=1000).fit(x_train, y_train)
    base_f1 = float(f1_score(y_test, baseline.predict(x_test)))
    step = "fitting"
    try:
        fitted = clone(estimator).fit(x_train, y_train)
        step = "predicting"
        y_pred = np.asarray(fitted.predict(x_test)).ravel()
        step = "scoring its predictions"
        f1 = float(f1_score(y_test, y_pred))
    except LEARNER_ERRORS as exc:  # the learner's estimator: its error is the verdict
        return Verdict(
            "imbalance.logistic",
            FAILED,
            f"{step} raised {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
        )
    if len(np.unique(y_pred)) < 2:
        return Verdict(
            "imbalance.logistic",
            FAILED,
            f"it gives every customer of the test part the same answer ({y_pred[0].item()!r}): that is no classifier",
            (("hint", "LogisticRegression(class_weight='balanced', max_iter=1000) weighs the churners up"),),
        )
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
