"""keraslab.training.fast_layers: inside the compiled epoch, a Sequential model's Conv2D and MaxPooling2D are computed
another way, on the model's own weights. The forward pass and every gradient must be Keras's (stateless_call's),
ties of the pooling included; what it cannot compute is left to Keras."""

import functools

import numpy as np
import pytest

from keraslab.backend import load_keras

keras = load_keras()
jax = pytest.importorskip("jax")

pytestmark = pytest.mark.skipif(keras.backend.backend() != "jax", reason="the fast layers are JAX's compiled epoch's")


def _model(*layers, shape=(11, 9, 3)):
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input(shape), *layers])


def _both(model, x, training=False):
    """(fast, Keras's) outputs, non-trainable state and the gradients of a fixed weighting of the outputs with
    respect to the weights and the input."""
    from keraslab.training import fast_layers

    tv = [v.value for v in model.trainable_variables]
    ntv = [v.value for v in model.non_trainable_variables]
    out = []
    for forward in (functools.partial(fast_layers.forward, model), model.stateless_call):
        y, new = forward(tv, ntv, x, training=training)
        w = np.arange(1, y[0].size + 1, dtype=np.float32).reshape(y.shape[1:]) / y[0].size

        def loss(tv_, x_, forward=forward, w=w):
            return (forward(tv_, ntv, x_, training=training)[0] * w).sum()

        g_weights, g_x = jax.grad(loss, argnums=(0, 1))(tv, x)
        out.append((np.asarray(y), [np.asarray(v) for v in new], [np.asarray(g) for g in g_weights], np.asarray(g_x)))
    return out


def test_a_cnn_trains_on_the_same_function_and_gradients_as_kerass_layers():
    # Fails when broken (tests/mutants.py cnn-patches-transposed): the patches read column by column.
    model = _model(
        keras.layers.Conv2D(6, (3, 3), activation="relu"),
        keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Conv2D(4, (5, 5), padding="same"),  # another kernel size, padded as Keras pads it
        keras.layers.Dropout(0.3),  # its seed state moves on in training, as Keras's does
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dense(3),
    )
    from keraslab.training import fast_layers

    assert fast_layers.fast_pass(model)  # the fast pass is the one compared
    x = np.random.default_rng(0).normal(size=(4, 11, 9, 3)).astype(np.float32)
    for training in (False, True):
        (y, state, gw, gx), (y_k, state_k, gw_k, gx_k) = _both(model, x, training)
        np.testing.assert_allclose(y, y_k, rtol=1e-5, atol=1e-5)
        for a, b in zip(state, state_k, strict=True):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(gw, gw_k, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(gx, gx_k, rtol=1e-4, atol=1e-5)


def test_a_tied_window_gives_its_gradient_to_its_first_maximum_as_kerass_pooling_does():
    """Integer inputs (many equal maxima in a window) and odd sizes (a cropped edge): outputs and input gradients
    equal Keras's exactly. Negative control: the plain max's gradient, which shares it between the ties, differs."""
    from keraslab.training.fast_layers import _windows

    x = np.random.default_rng(1).integers(0, 3, size=(4, 11, 9, 5)).astype(np.float32)
    model = _model(keras.layers.MaxPooling2D((2, 2)), shape=(11, 9, 5))
    (y, _, _, gx), (y_k, _, _, gx_k) = _both(model, x)
    np.testing.assert_array_equal(y, y_k)
    np.testing.assert_array_equal(gx, gx_k)
    shared = np.asarray(jax.grad(lambda v: (jax.numpy.max(_windows(v), axis=(2, 4)) * 1.0).sum())(x))
    assert not np.array_equal(shared, gx_k)


@pytest.mark.parametrize(
    "layer",
    [
        keras.layers.Conv2D(4, (3, 3), strides=2),
        keras.layers.Conv2D(4, (3, 3), dilation_rate=2),
        keras.layers.MaxPooling2D((3, 3)),
        keras.layers.MaxPooling2D((2, 2), padding="same"),
        keras.layers.AveragePooling2D((2, 2)),
    ],
    ids=["strided", "dilated", "pool-3", "pool-same", "average"],
)
def test_what_the_fast_pass_does_not_compute_is_left_to_keras(layer):
    from keraslab.training import fast_layers

    assert fast_layers.fast_call(layer) is None
    model = _model(layer, keras.layers.Flatten(), keras.layers.Dense(2))
    assert not fast_layers.fast_pass(model)


def test_fit_trains_a_keras_cnn_through_the_fast_pass_to_what_model_fit_reaches():
    """Two epochs of training.fit on the compiled epoch (fast pass) against Keras's model.fit, same start and the
    same loss: the first epoch's loss agrees within the spread of two shuffles, and the model keeps Keras's layers."""
    from keraslab import training
    from keraslab.seeding import set_seed

    rng = np.random.default_rng(0)
    x, y = rng.random((256, 12, 12, 3), dtype=np.float32), rng.integers(0, 3, 256)

    def build():
        set_seed(0)
        m = _model(
            keras.layers.Conv2D(8, (3, 3), activation="relu"),
            keras.layers.MaxPooling2D((2, 2)),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
            shape=(12, 12, 3),
        )
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return m

    ours, theirs = build(), build()
    h = training.fit(ours, x, y, epochs=2, batch_size=32, verbose=0)
    h_k = theirs.fit(x, y, epochs=2, batch_size=32, verbose=0)
    assert [type(layer).__name__ for layer in ours.layers][:2] == ["Conv2D", "MaxPooling2D"]
    assert h.history["loss"][0] == pytest.approx(h_k.history["loss"][0], abs=0.02)
