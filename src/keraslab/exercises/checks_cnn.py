"""Checks of the cnn lesson's exercises (09_cnn.py)."""

from __future__ import annotations

import numpy as np

from keraslab.exercises.checking import Case, Mistake, Verdict, check_function, check_prediction, fresh_rng, register
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


def _keras_conv_same(image, kernel):
    from keraslab.proof import keras_float64

    with keras_float64() as k:
        h, w = image.shape
        out = k.ops.conv(image.reshape(1, h, w, 1), kernel.reshape(3, 3, 1, 1), padding="same")
        return np.asarray(out).reshape(h, w)


def _keras_conv_same32(image, kernel):
    import keras

    h, w = image.shape
    out = keras.ops.conv(
        np.asarray(image, "float32").reshape(1, h, w, 1),
        np.asarray(kernel, "float32").reshape(3, 3, 1, 1),
        padding="same",
    )
    return np.asarray(out).reshape(h, w)


def _slide(padded, kernel, h, w):
    return np.array([[np.sum(padded[i : i + 3, j : j + 3] * kernel) for j in range(w)] for i in range(h)])


def _padded_on(image, kernel, widths):
    return _slide(np.pad(image, widths), kernel, *image.shape)


def _valid(image, kernel):
    h, w = image.shape
    return _slide(image, kernel, h - 2, w - 2)


_CONV_MISTAKES = (
    Mistake(
        "a 'valid' convolution (no padding: the map loses a pixel on each side)",
        _valid,
        "pad the image first, np.pad(image, 1): then the map keeps the image's size",
    ),
    Mistake(
        "the image padded with copies of its border, not zeros",
        lambda image, kernel: _slide(np.pad(image, 1, mode="edge"), kernel, *image.shape),
        'padding="same" pads with zeros: np.pad(image, 1) (its default mode is "constant", zeros)',
    ),
    Mistake(
        "the mean of the products, not their sum",
        lambda image, kernel: _padded_on(image, kernel, 1) / 9,
        "each output is the sum of the nine products, (window * kernel).sum(), not their mean",
    ),
    Mistake(
        "the kernel transposed",
        lambda image, kernel: _padded_on(image, kernel.T, 1),
        "slide the kernel as it is: kernel[a, b] multiplies the pixel a rows down and b columns right",
    ),
    Mistake(
        "a true convolution (the kernel flipped)",
        lambda image, kernel: _padded_on(image, kernel[::-1, ::-1], 1),
        "a convolution layer slides the kernel as it is (no flip: what mathematics calls cross-correlation); "
        "np.convolve and scipy.signal.convolve2d flip it",
    ),
    Mistake(
        "the zeros padded on the bottom and right only",
        lambda image, kernel: _padded_on(image, kernel, ((0, 2), (0, 2))),
        "pad one row and one column on every side, np.pad(image, 1): the kernel's centre then sits on each pixel",
    ),
    Mistake(
        "the zeros padded on the top and left only",
        lambda image, kernel: _padded_on(image, kernel, ((2, 0), (2, 0))),
        "pad one row and one column on every side, np.pad(image, 1): the kernel's centre then sits on each pixel",
    ),
)


def _conv_forbidden():
    import keras
    import scipy.ndimage
    import scipy.signal

    return (
        (keras.ops.conv, "keras.ops.conv"),
        (scipy.signal.correlate2d, "scipy.signal.correlate2d"),
        (scipy.signal.correlate, "scipy.signal.correlate"),
        (scipy.signal.convolve2d, "scipy.signal.convolve2d"),
        (scipy.signal.convolve, "scipy.signal.convolve"),
        (scipy.ndimage.correlate, "scipy.ndimage.correlate"),
        (scipy.ndimage.convolve, "scipy.ndimage.convolve"),
    )


@register("cnn.conv_same", "write it")
def conv_same(fn) -> Verdict:
    rng = fresh_rng()
    kernel = rng.uniform(-2, 2, (3, 3)).round(2)  # neither symmetric, nor equal to its transpose (almost surely)
    h, w = (int(v) for v in rng.integers(5, 9, 2))
    cases = [
        Case((rng.uniform(0, 5, (h, w)).round(2), kernel), f"a {h} x {w} image, a kernel that is not symmetric"),
        Case((np.arange(9.0).reshape(3, 3), kernel.round()), "a 3 x 3 image: every output touches the zero border"),
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
        reference32=_keras_conv_same32,
        mistakes=_CONV_MISTAKES,
        forbidden=_conv_forbidden(),
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


def _cnn_demand(layer, i, layers) -> str | None:
    if layer.kind == "Conv2D":
        if min(layer.layer.kernel_size) < 3:
            return f"its kernel is {tuple(layer.layer.kernel_size)}; the exercise asks for (3, 3) or larger"
        if tuple(layer.layer.strides) != (1, 1) or layer.activation != "relu":
            return "the exercise asks for stride 1 and activation='relu'"
    if layer.kind == "MaxPooling2D" and tuple(layer.layer.pool_size) != (2, 2):
        return f"its pool is {tuple(layer.layer.pool_size)}; the exercise asks for (2, 2)"
    if layer.kind == "Dense":
        return dense(layer, 10, "softmax") if i == len(layers) - 1 else dense(layer, None, "relu")
    return None


ARCHITECTURE = Architecture(
    "one or more blocks of Conv2D(filters, (3, 3) or larger, relu) followed by MaxPooling2D((2, 2)), then "
    "Flatten(), any Dense(units, relu), then Dense(10, softmax)",
    "(C+P)+FD+",
    _cnn_demand,
)


@register("cnn.fashion_cnn", "build it")
def fashion_cnn(model, *, data_dir=None) -> Verdict:
    wrong = inspect(
        "cnn.fashion_cnn",
        model,
        input_shape=(28, 28, 1),
        outputs=10,
        architecture=ARCHITECTURE,
        loss="sparse_categorical_crossentropy",
        optimizer="Adam",
        hint="keras.Input(shape=(28, 28, 1)), Conv2D(32, (3, 3), activation='relu'), MaxPooling2D((2, 2)), "
        "Flatten(), Dense(10, activation='softmax'); loss='sparse_categorical_crossentropy'",
    )
    if wrong:
        return wrong
    (x_train, y_train, x_test, y_test), what = image_data(
        "fashion_mnist", train=10_000, test=2_000, seed=0, data_dir=data_dir
    )
    if rescales(model):  # the model scales its pixels itself: it is given them as they come, 0 to 255
        x_train, x_test, what = x_train * 255, x_test * 255, what + " (raw 0-255 pixels: your model rescales them)"
    return train_and_score(
        "cnn.fashion_cnn",
        model,
        (x_train[..., None], y_train, x_test[..., None], y_test),
        epochs=epochs_for(2, 10_000, len(y_train)),
        target=0.8,
        seed=0,
        what=what + budget(2, 10_000, len(y_train)),
        hint="the layers are right, so look at the compile settings: adam at its default learning rate",
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
