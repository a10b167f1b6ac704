"""Checks of the mnist lesson's exercises (01_mnist.py)."""

from __future__ import annotations

import numpy as np

from keraslab.exercises.checking import (
    Case,
    Mistake,
    Verdict,
    check_function,
    check_prediction,
    fresh_rng,
    register,
)
from keraslab.exercises.model_checks import (
    Architecture,
    budget,
    dense,
    epochs_for,
    image_data,
    inspect,
    rescales,
    train_and_score,
)


@register("mnist.scale_flatten", "write it")
def scale_flatten(fn) -> Verdict:
    rng = fresh_rng()
    cases = [
        Case((rng.integers(0, 256, (int(rng.integers(3, 9)), 28, 28)).astype("uint8"),)),
        Case((np.full((1, 28, 28), 255, dtype="uint8"),), "a batch of one image, every pixel 255"),
        Case((np.zeros((3, 28, 28), dtype="uint8"),), "black images"),
    ]
    return check_function(
        "mnist.scale_flatten",
        fn,
        cases,
        lambda images: images.reshape(len(images), 784).astype("float64") / 255.0,
        names=("images",),
        source="NumPy: images.reshape(n, 784) / 255",
        hint="divide by 255 (the largest pixel value) so that pixels lie in [0, 1], and reshape (n, 28, 28) into "
        "(n, 784)",
        mistakes=(
            Mistake(
                "the pixels divided by 256",
                lambda images: images.reshape(len(images), 784) / 256.0,
                "the largest pixel value is 255: divide by 255, so that a white pixel becomes exactly 1",
            ),
            Mistake(
                "the pixels unscaled",
                lambda images: images.reshape(len(images), 784).astype("float64"),
                "divide by 255: a dense layer learns far better from inputs in [0, 1] than from 0-255",
            ),
        ),
    )


HINT = (
    "keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(), keras.layers.Dense(20, "
    'activation="relu"), keras.layers.Dense(10, activation="softmax")]), compiled with optimizer="adam", '
    'loss="sparse_categorical_crossentropy"'
)
ARCHITECTURE = Architecture(
    "Flatten(), Dense(20, relu), Dense(10, softmax): these three layers, nothing else",
    "FDD",
    lambda layer, i, layers: dense(layer, 20, "relu") if i == 1 else dense(layer, 10, "softmax") if i == 2 else None,
)


@register("mnist.sequential", "build it")
def sequential(model, *, data_dir=None) -> Verdict:
    wrong = inspect(
        "mnist.sequential",
        model,
        input_shape=(28, 28),
        outputs=10,
        architecture=ARCHITECTURE,
        loss="sparse_categorical_crossentropy",
        optimizer="Adam",
        hint=HINT,
    )
    if wrong:
        return wrong
    (x_train, y_train, x_test, y_test), what = image_data("mnist", train=10_000, test=2_000, seed=0, data_dir=data_dir)
    if rescales(model):  # the model scales its pixels itself: it is given them as they come, 0 to 255
        x_train, x_test, what = x_train * 255, x_test * 255, what + " (raw 0-255 pixels: your model rescales them)"
    return train_and_score(
        "mnist.sequential",
        model,
        (x_train, y_train, x_test, y_test),
        epochs=epochs_for(1, 10_000, len(y_train)),
        target=0.85,
        seed=0,
        what=what + budget(1, 10_000, len(y_train)),
        hint="the layers are right, so look at the compile settings: adam at its default learning rate trains this "
        "network to about 0.9 in one epoch",
    )


def _transposed(y_true, y_pred):
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(y_pred, y_true, labels=range(10))


@register("mnist.confusion_matrix", "write it")
def confusion(fn) -> Verdict:
    from sklearn.metrics import confusion_matrix

    rng = fresh_rng()
    n = int(rng.integers(30, 80))
    y = rng.integers(0, 10, n)
    guess = np.where(rng.random(n) < 0.7, y, rng.integers(0, 10, n))
    cases = [
        Case((y, guess)),
        Case((np.array([3, 3, 5]), np.array([3, 5, 5])), "digits never seen or predicted"),
        Case((np.array([7]), np.array([1])), "a batch of one row"),
    ]
    return check_function(
        "mnist.confusion_matrix",
        fn,
        cases,
        lambda t, p: confusion_matrix(t, p, labels=range(10)),
        names=("y_true", "y_pred"),
        source="scikit-learn confusion_matrix, labels 0-9",
        hint="a 10 x 10 array of zeros; for each pair (t, p) add 1 at row t (the truth), column p (the prediction)",
        mistakes=(
            Mistake(
                "the table transposed (rows are the predictions)",
                _transposed,
                "row t is the true digit, column p the predicted one: table[t, p] += 1, not table[p, t]",
            ),
        ),
        forbidden=((confusion_matrix, "scikit-learn's confusion_matrix"),),
    )


@register("mnist.param_count", "predict, then run")
def param_count(prediction, *, measured: int) -> Verdict:
    return check_prediction(
        "mnist.param_count",
        prediction,
        measured,
        rtol=0.0,
        what=f"model_b.count_params() = {measured:,}",
        explain="a Dense layer from m inputs to k units has m * k weights and k biases: 784 * h + h for a hidden "
        "layer of h units, h * 10 + 10 for the output",
    )
