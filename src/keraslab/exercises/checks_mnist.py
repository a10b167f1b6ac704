"""Checks of the mnist lesson's exercises (01_mnist.py)."""

from __future__ import annotations

import numpy as np

from keraslab.exercises.checking import Case, Verdict, check_function, check_prediction, register
from keraslab.exercises.model_checks import Need, image_data, inspect, train_and_score


@register("mnist.scale_flatten", "write it")
def scale_flatten(fn) -> Verdict:
    rng = np.random.default_rng(21)
    cases = [
        Case((rng.integers(0, 256, (5, 28, 28)).astype("uint8"),)),
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
    )


@register("mnist.sequential", "build it")
def sequential(model, *, data_dir=None) -> Verdict:
    import keras

    hint = (
        "keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(), keras.layers.Dense(20, "
        'activation="relu"), keras.layers.Dense(10, activation="softmax")]), compiled with '
        'loss="sparse_categorical_crossentropy"'
    )
    wrong = inspect(
        "mnist.sequential",
        model,
        input_shape=(28, 28),
        outputs=10,
        activation="softmax",
        losses=("sparse_categorical_crossentropy",),
        needs=(
            Need("a Flatten layer", lambda layers: any(isinstance(x, keras.layers.Flatten) for x in layers)),
            Need(
                "a hidden Dense layer of 20 units with relu",
                lambda layers: any(
                    isinstance(x, keras.layers.Dense) and x.units == 20 and x.activation.__name__ == "relu"
                    for x in layers
                ),
            ),
        ),
        hint=hint,
    )
    if wrong:
        return wrong
    data, what = image_data("mnist", train=10_000, test=2_000, seed=0, data_dir=data_dir)
    return train_and_score(
        "mnist.sequential",
        model,
        data,
        epochs=1,
        target=0.85,
        seed=0,
        what=what,
        hint="check the pixels are scaled to [0, 1] inside the model's data (the check passes scaled pixels) "
        "and that the optimizer is adam",
    )


@register("mnist.confusion_matrix", "write it")
def confusion(fn) -> Verdict:
    from sklearn.metrics import confusion_matrix

    rng = np.random.default_rng(22)
    y = rng.integers(0, 10, 50)
    guess = np.where(rng.random(50) < 0.7, y, rng.integers(0, 10, 50))
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
    )


@register("mnist.param_count", "predict, then run")
def param_count(prediction, *, measured: int) -> Verdict:
    return check_prediction(
        "mnist.param_count",
        prediction,
        measured,
        rtol=0.0,
        what=f"model_b.count_params() = {measured:,}",
        explain="a Dense layer from m inputs to k units has m * k weights and k biases: 784 * 100 + 100 for the "
        "hidden layer, 100 * 10 + 10 for the output",
    )
