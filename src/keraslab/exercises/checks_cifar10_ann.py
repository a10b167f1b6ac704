"""Checks of the cifar10-ann lesson's exercises (05_cifar10_ann.py)."""

from __future__ import annotations

import numpy as np

from keraslab.exercises.checking import Case, Mistake, Verdict, check_function, check_prediction, fresh_rng, register


def _to_categorical(labels):
    import keras

    return keras.utils.to_categorical(labels, num_classes=10)


@register("cifar10_ann.one_hot", "write it")
def one_hot(fn) -> Verdict:
    import keras
    import pandas
    from sklearn import preprocessing

    rng = fresh_rng()
    cases = [
        Case((rng.integers(0, 10, int(rng.integers(5, 12))),)),
        Case((np.array([9]),), "a batch of one label, the last class"),
        Case((np.array([0, 3, 5, 3]),), "labels that never reach 9: still 10 columns"),
        Case(
            (np.array([[6], [9], [0]]),),
            "labels as a column (n, 1), as CIFAR-10 gives them",
            "flatten the labels first (labels.ravel()): one row of 10 per image, not (n, 1, 10)",
        ),
    ]
    return check_function(
        "cifar10_ann.one_hot",
        fn,
        cases,
        _to_categorical,
        names=("labels",),
        source="keras.utils.to_categorical(labels, 10)",
        hint="np.eye(10)[labels] picks row `label` of the 10 x 10 identity for every label",
        mistakes=(
            Mistake(
                "as many columns as the largest label seen, not 10",
                lambda labels: np.eye(int(np.max(labels)) + 1)[np.ravel(labels)],
                "CIFAR-10 has 10 classes whatever the labels in a batch: np.eye(10), not np.eye(labels.max() + 1)",
            ),
        ),
        forbidden=(
            (keras.utils.to_categorical, "keras.utils.to_categorical"),
            (keras.ops.one_hot, "keras.ops.one_hot"),
            (preprocessing.OneHotEncoder.fit, "scikit-learn's OneHotEncoder"),
            (preprocessing.LabelBinarizer.fit, "scikit-learn's LabelBinarizer"),
            (pandas.get_dummies, "pandas.get_dummies"),
        ),
    )


def _accuracy(y_true, proba):
    from sklearn.metrics import accuracy_score

    return accuracy_score(np.ravel(y_true), np.asarray(proba).argmax(axis=1))


@register("cifar10_ann.accuracy", "write it")
def accuracy(fn) -> Verdict:
    import keras
    from sklearn.metrics import accuracy_score

    rng = fresh_rng()
    n = int(rng.integers(10, 20))
    proba = rng.dirichlet(np.ones(10), n)
    truth = np.where(rng.random(n) < 0.5, proba.argmax(axis=1), rng.integers(0, 10, n))  # about half right
    cases = [
        Case((truth, proba)),
        Case(
            (truth.reshape(-1, 1), proba),
            "labels as a column (n, 1), as CIFAR-10 gives them",
            "compare two arrays of the same shape: (n,) == (n, 1) broadcasts to an n x n table of comparisons; "
            "flatten the labels first",
        ),
        Case((np.array([3]), np.eye(10)[[3]]), "a batch of one row"),
    ]
    return check_function(
        "cifar10_ann.accuracy",
        fn,
        cases,
        _accuracy,
        names=("y_true", "proba"),
        source="scikit-learn accuracy_score of the argmax",
        hint="the predicted class is proba.argmax(axis=1); the accuracy is the mean of (predicted == truth)",
        mistakes=(
            Mistake(
                "an integer division (//) of the count of right rows",
                lambda y, proba: int(np.sum(proba.argmax(axis=1) == np.ravel(y))) // len(proba),
                "// rounds down to a whole number (0 unless every row is right): divide with /, or take np.mean",
                when=lambda received: isinstance(received, int | np.integer),
            ),
            Mistake(
                "labels compared with the probabilities themselves (no argmax)",
                lambda y, proba: float(np.mean(np.ravel(y)[:, None] == proba)),
                "a row of probabilities is not a class: take the most probable one first, proba.argmax(axis=1)",
            ),
            Mistake(
                "labels compared with the probabilities themselves (no argmax)",
                lambda y, proba: float(np.mean(np.asarray(y) == proba)),
                "a row of probabilities is not a class: take the most probable one first, proba.argmax(axis=1)",
            ),
            Mistake(
                "an (n,) array compared with an (n, 1) one: an n x n table of comparisons",
                lambda y, proba: float(np.mean(proba.argmax(axis=1) == np.asarray(y))),
                "(n,) == (n, 1) broadcasts to an n x n table of comparisons: flatten the labels first, np.ravel(y)",
            ),
        ),
        forbidden=(
            (accuracy_score, "scikit-learn's accuracy_score"),
            (keras.metrics.sparse_categorical_accuracy, "Keras's sparse categorical accuracy"),
            (keras.metrics.categorical_accuracy, "Keras's categorical accuracy"),
        ),
    )


@register("cifar10_ann.param_count", "predict, then run")
def param_count(prediction, *, measured: int) -> Verdict:
    return check_prediction(
        "cifar10_ann.param_count",
        prediction,
        measured,
        rtol=0.0,
        what=f"count_params() of the network with 1000 units in its first hidden layer: {measured:,}",
        explain="a Dense layer from m inputs to k units has m * k weights and k biases; a 32 x 32 x 3 image is "
        "3,072 inputs (a 28 x 28 grey one 784), so most parameters sit in the first layer",
    )
