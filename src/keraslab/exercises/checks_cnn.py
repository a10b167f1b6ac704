"""Checks of the cnn lesson's exercises (09_cnn.py)."""

from __future__ import annotations

import numpy as np

from keraslab.exercises.checking import Case, Verdict, check_function, check_prediction, register
from keraslab.exercises.model_checks import Need, image_data, inspect, train_and_score


def _keras_conv_same(image, kernel):
    from keraslab.proof import keras_float64

    with keras_float64() as k:
        h, w = image.shape
        out = k.ops.conv(image.reshape(1, h, w, 1), kernel.reshape(3, 3, 1, 1), padding="same")
        return np.asarray(out).reshape(h, w)


@register("cnn.conv_same", "write it")
def conv_same(fn) -> Verdict:
    rng = np.random.default_rng(91)
    kernel = rng.integers(-2, 3, (3, 3)).astype(float)
    cases = [
        Case(
            (rng.integers(0, 5, (6, 7)).astype(float), kernel),
            "a 6 x 7 image, a kernel that is not symmetric",
            "a convolution layer slides the kernel as it is (no flip: what mathematics calls cross-correlation); "
            "np.convolve and scipy.signal.convolve2d flip it",
        ),
        Case((np.arange(9.0).reshape(3, 3), kernel), "a 3 x 3 image: every output touches the zero border"),
        Case((np.array([[1.0, 2.0, 3.0, 4.0]]), kernel), "an image of one row"),
    ]
    return check_function(
        "cnn.conv_same",
        fn,
        cases,
        _keras_conv_same,
        names=("image", "kernel"),
        source='keras.ops.conv(..., padding="same")',
        hint="pad the image with one row and column of zeros on every side (np.pad(image, 1)), then "
        "out[i, j] = (padded[i:i+3, j:j+3] * kernel).sum() for every pixel (i, j) of the image",
    )


@register("cnn.output_shape", "predict, then run")
def output_shape(prediction, *, measured: tuple) -> Verdict:
    return check_prediction(
        "cnn.output_shape",
        tuple(prediction) if isinstance(prediction, list | tuple) else prediction,
        tuple(int(d) for d in measured),
        what=f"the shape after the layers, without the batch axis: {tuple(int(d) for d in measured)}",
        explain="a 5 x 5 kernel without padding loses two pixels on each side (28 -> 24), pooling by 2 halves it "
        "(24 -> 12), and each of the 16 filters gives one channel",
    )


@register("cnn.fashion_cnn", "build it")
def fashion_cnn(model, *, data_dir=None) -> Verdict:
    import keras

    wrong = inspect(
        "cnn.fashion_cnn",
        model,
        input_shape=(28, 28, 1),
        outputs=10,
        activation="softmax",
        losses=("sparse_categorical_crossentropy",),
        needs=(
            Need("a Conv2D layer", lambda layers: any(isinstance(x, keras.layers.Conv2D) for x in layers)),
            Need("a MaxPooling2D layer", lambda layers: any(isinstance(x, keras.layers.MaxPooling2D) for x in layers)),
        ),
        hint="keras.Input(shape=(28, 28, 1)), Conv2D(32, (3, 3), activation='relu'), MaxPooling2D((2, 2)), "
        "Flatten(), Dense(10, activation='softmax'); loss='sparse_categorical_crossentropy'",
    )
    if wrong:
        return wrong
    (x_train, y_train, x_test, y_test), what = image_data(
        "fashion_mnist", train=10_000, test=2_000, seed=0, data_dir=data_dir
    )
    return train_and_score(
        "cnn.fashion_cnn",
        model,
        (x_train[..., None], y_train, x_test[..., None], y_test),
        epochs=2,
        target=0.8,
        seed=0,
        what=what,
        hint="a Conv2D with relu, pooling, then Flatten and the softmax layer; adam as the optimizer",
    )


@register("cnn.conv_params", "predict, then run")
def conv_params(prediction, *, measured: int) -> Verdict:
    return check_prediction(
        "cnn.conv_params",
        prediction,
        measured,
        rtol=0.0,
        what=f"the layer's count_params() = {measured:,}",
        explain="each of the 64 filters is a 3 x 3 kernel across all 3 input channels (27 weights) plus one bias: "
        "64 * (27 + 1), whatever the size of the image, because the same kernel slides over every position",
    )
