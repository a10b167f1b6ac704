"""keraslab.scratch losses and activations against Keras and scikit-learn (float64), and their gradients
against central differences, each with a negative control."""

import warnings

import hypothesis.extra.numpy as hnp
import jax
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn import metrics

from keraslab.backend import load_keras
from keraslab.scratch import activations as A
from keraslab.scratch import gradcheck
from keraslab.scratch import losses as L

keras = load_keras()
TOL = 1e-6


def close(ours: float, ref: float) -> bool:
    """Within 1e-6, relative for values above 1: Keras's ops.mean reduces float64 in float32 on JAX (a loss of 35
    comes back off by ~1e-6), so a purely absolute 1e-6 would measure Keras's rounding, not ours."""
    return abs(ours - ref) <= TOL * max(1.0, abs(ref))


SETTINGS = settings(max_examples=40, deadline=None)


class float64:
    """Keras and JAX in float64 inside the block (JAX runs float32 unless x64 is enabled)."""

    def __enter__(self):
        self._x64 = jax.enable_x64(True)
        self._x64.__enter__()
        self._floatx = keras.config.floatx()
        keras.config.set_floatx("float64")

    def __exit__(self, *exc):
        keras.config.set_floatx(self._floatx)
        self._x64.__exit__(*exc)


def k64(fn, *args, **kwargs) -> float:
    """A Keras loss in float64, averaged over samples like ours."""
    with float64():
        return float(np.mean(np.asarray(fn(*[np.asarray(a, np.float64) for a in args], **kwargs))))


shapes = st.tuples(st.integers(1, 8), st.integers(2, 5))
probs = st.floats(0.0, 1.0, allow_nan=False)
reals = st.floats(-5.0, 5.0, allow_nan=False)


@st.composite
def prob_rows(draw):
    shape = draw(shapes)
    p = draw(hnp.arrays(np.float64, shape, elements=probs))
    assume(np.all(p.sum(axis=1) > 1e-3))
    labels = draw(hnp.arrays(np.int64, (shape[0],), elements=st.integers(0, shape[1] - 1)))
    return labels, p


@st.composite
def binary_pair(draw):
    n = draw(st.integers(1, 12))
    y = draw(hnp.arrays(np.float64, (n,), elements=st.sampled_from([0.0, 1.0])))
    p = draw(hnp.arrays(np.float64, (n,), elements=probs))
    return y, p


# --- values against Keras and scikit-learn ---------------------------------------------------------------------


@SETTINGS
@given(st.data())
def test_mae_mse(data):
    shape = data.draw(shapes)
    y = data.draw(hnp.arrays(np.float64, shape, elements=reals))
    p = data.draw(hnp.arrays(np.float64, shape, elements=reals))
    assert close(L.mae(y, p), k64(keras.losses.mean_absolute_error, y, p))
    assert close(L.mse(y, p), k64(keras.losses.mean_squared_error, y, p))
    assert abs(L.mae(y, p) - metrics.mean_absolute_error(y, p)) < TOL
    assert abs(L.mse(y, p) - metrics.mean_squared_error(y, p)) < TOL


@SETTINGS
@given(binary_pair())
def test_binary_crossentropy(pair):
    y, p = pair
    ours = L.binary_crossentropy(y, p)
    assert close(ours, k64(keras.losses.binary_crossentropy, y, p))
    if 0 < y.sum() < len(y):  # scikit-learn's log_loss needs both classes; it clips at float eps, so clip first
        pc = np.clip(p, 1e-7, 1 - 1e-7)
        assert abs(ours - metrics.log_loss(y, pc, labels=[0, 1])) < TOL


@SETTINGS
@given(binary_pair(), st.floats(0.0, 5.0), st.one_of(st.none(), st.floats(0.05, 0.95)))
def test_binary_focal(pair, gamma, alpha):
    y, p = pair
    ref = k64(
        keras.losses.binary_focal_crossentropy,
        y,
        p,
        gamma=gamma,
        alpha=0.25 if alpha is None else alpha,
        apply_class_balancing=alpha is not None,
    )
    assert close(L.binary_focal(y, p, gamma=gamma, alpha=alpha), ref)


@SETTINGS
@given(prob_rows())
def test_categorical_and_sparse(pair):
    labels, p = pair
    onehot = np.eye(p.shape[1])[labels]
    ref = k64(keras.losses.categorical_crossentropy, onehot, p)
    assert close(L.categorical_crossentropy(onehot, p), ref)
    with float64():
        sref = float(np.mean(np.asarray(keras.losses.sparse_categorical_crossentropy(labels, p.astype(np.float64)))))
    assert close(L.sparse_categorical_crossentropy(labels, p), sref)


@SETTINGS
@given(prob_rows(), st.floats(0.0, 5.0), st.floats(0.05, 1.0))
def test_categorical_focal_and_sparse(pair, gamma, alpha):
    labels, p = pair
    onehot = np.eye(p.shape[1])[labels]
    ref = k64(keras.losses.categorical_focal_crossentropy, onehot, p, gamma=gamma, alpha=alpha)
    assert close(L.categorical_focal(onehot, p, gamma=gamma, alpha=alpha), ref)
    # Keras has no sparse focal loss: ours must equal its categorical focal loss on the one-hot labels.
    assert close(L.sparse_categorical_focal(labels, p, gamma=gamma, alpha=alpha), ref)


def test_log_loss_matches_sklearn_on_softmax_rows():
    rng = np.random.default_rng(0)
    p = A.softmax(rng.normal(size=(50, 4)).astype(np.float64))
    labels = rng.integers(0, 4, 50)
    assert abs(L.sparse_categorical_crossentropy(labels, p) - metrics.log_loss(labels, p, labels=range(4))) < TOL


def test_the_course_toy_example():
    # The course's argument order: "targets" [0.3, 0.7, 1, 0, 0.5], "predictions" [1, 1, 0, 0, 1], eps 1e-15.
    # Clipped predictions [1-1e-15, 1-1e-15, 1e-15, 1e-15, 1-1e-15]; the 1 target at p = 1e-15 alone costs
    # -ln(1e-15) = 34.54, and the mean over five terms is 17.2696280766844.
    t, p = [0.3, 0.7, 1, 0, 0.5], [1, 1, 0, 0, 1]
    assert L.mae(t, p) == pytest.approx(0.5, abs=1e-15)
    assert L.mse(t, p) == pytest.approx(0.366, abs=1e-15)
    assert L.tutorial_log_loss(t, p) == pytest.approx(17.2696280766844, abs=1e-12)
    assert L.binary_crossentropy([1, 1, 0, 0, 1], [0.3, 0.7, 1, 0, 0.5], epsilon=1e-15) == pytest.approx(
        7.3586741842331, abs=1e-12
    )


# --- gradients: analytic against central differences, with negative controls -----------------------------------


def _grad_cases():
    rng = np.random.default_rng(1)
    y_reg, p_reg = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    y_bin = rng.integers(0, 2, 9).astype(np.float64)
    p_bin = rng.uniform(0.05, 0.95, 9)
    labels = rng.integers(0, 4, 6)
    p_cat = rng.uniform(0.05, 1.0, (6, 4))
    onehot = np.eye(4)[labels]
    return {
        "mae": (y_reg, p_reg, {}),
        "mse": (y_reg, p_reg, {}),
        "binary_crossentropy": (y_bin, p_bin, {}),
        "binary_focal": (y_bin, p_bin, {"gamma": 2.0, "alpha": 0.3}),
        "categorical_crossentropy": (onehot, p_cat, {}),
        "sparse_categorical_crossentropy": (labels, p_cat, {}),
        "categorical_focal": (onehot, p_cat, {"gamma": 1.5, "alpha": 0.25}),
        "sparse_categorical_focal": (labels, p_cat, {"gamma": 2.0, "alpha": 0.5}),
    }


@pytest.mark.parametrize("name", list(L.LOSSES))
def test_loss_gradient(name):
    y, p, kw = _grad_cases()[name]
    loss, grad = L.get_loss(name)
    p = p.copy()
    result = gradcheck.check(name, lambda q: loss(y, q, **kw), grad(y, p, **kw), p)
    assert result.passed, result
    # Negative control: a gradient off by a few percent must fail the same check.
    wrong = grad(y, p, **kw) * 1.05
    assert not gradcheck.check(name, lambda q: loss(y, q, **kw), wrong, p).passed


def test_binary_focal_gamma_zero_is_bce_gradient():
    y, p, _ = _grad_cases()["binary_crossentropy"]
    np.testing.assert_allclose(L.binary_focal_grad(y, p, gamma=0.0), L.binary_crossentropy_grad(y, p), atol=1e-12)


# --- activations -----------------------------------------------------------------------------------------------


def test_sigmoid_limits_without_warnings():
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        s = A.sigmoid(np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0]))
    assert s[0] == 0.0 and s[-1] == 1.0 and s[2] == 0.5
    np.testing.assert_allclose(A.sigmoid(np.array([12.0, 0.0, 1.0])), [0.99999386, 0.5, 0.73105858], atol=1e-8)
    assert A.sigmoid(-0.5) == pytest.approx(0.3775406687981454, abs=1e-15)


def test_softmax_extreme_logits():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [3.0, 1.0, 0.2]])
    with np.errstate(all="raise"):
        s = A.softmax(x)
    assert np.all(np.isfinite(s))
    np.testing.assert_allclose(s.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(s[0], [1.0, 0.0, 0.0])


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "softmax"])
def test_activation_values_match_keras(name):
    x = np.random.default_rng(2).normal(scale=3.0, size=(5, 4))
    fn, _ = A.get_activation(name)
    kfn = {"leaky_relu": lambda v: keras.activations.leaky_relu(v, negative_slope=0.01)}.get(
        name, getattr(keras.activations, name)
    )
    with float64():
        ref = np.asarray(kfn(x))
    np.testing.assert_allclose(fn(x), ref, rtol=0, atol=TOL)  # Keras computes some of these in float32


def test_course_activation_examples():
    assert A.tanh(2.0) == pytest.approx(0.964027580075817, abs=1e-15)
    assert A.leaky_relu(-50.0, alpha=0.1) == -5.0 and A.relu(-3.0) == 0.0


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu"])
def test_activation_derivatives(name):
    fn, d = A.get_activation(name)
    x = np.random.default_rng(3).normal(size=12) + 0.01  # keep away from relu's kink at 0
    x = x[np.abs(x) > 1e-3]
    result = gradcheck.check(
        name, lambda v: float(np.sum(fn(v) * np.arange(1, v.size + 1))), d(x) * np.arange(1, x.size + 1), x.copy()
    )
    assert result.passed, result
    assert not gradcheck.check(name, lambda v: float(np.sum(fn(v))), d(x) + 0.05, x.copy()).passed


def test_softmax_jacobian_and_backward():
    rng = np.random.default_rng(4)
    x, w = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    jac = A.softmax_jacobian(x)
    g_from_jac = np.einsum("bi,bij->bj", w, jac)
    np.testing.assert_allclose(A.softmax_backward(A.softmax(x), w), g_from_jac, atol=1e-14)
    result = gradcheck.check("softmax", lambda v: float(np.sum(A.softmax(v) * w)), g_from_jac, x.copy())
    assert result.passed, result
    wrong = np.einsum("bi,bij->bj", w, jac.transpose(0, 2, 1) * 0 + np.eye(5))  # identity: not the Jacobian
    assert not gradcheck.check("softmax", lambda v: float(np.sum(A.softmax(v) * w)), wrong, x.copy()).passed


# --- bad input -----------------------------------------------------------------------------------------------


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"Received: y_true.shape=\(3,\), y_pred.shape=\(4,\)"):
        L.mse(np.zeros(3), np.zeros(4))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_refused(bad):
    with pytest.raises(
        ValueError,
        match=r"Invalid value for `y_pred`. Expected finite numbers. Received: an array containing (NaN|inf)",
    ):
        L.binary_crossentropy([0, 1], [0.5, bad])
    with pytest.raises(ValueError, match=r"Invalid value for `y_true`. Expected finite numbers"):
        L.mae([bad, 1.0], [0.5, 0.5])


def test_sparse_labels_out_of_range():
    with pytest.raises(
        ValueError,
        match=r"Expected labels in \[0, 2\] for y_pred with 3 classes. Received: labels "
        r"in \[0, 3\]",
    ):
        L.sparse_categorical_crossentropy([0, 3], np.full((2, 3), 1 / 3))
    with pytest.raises(ValueError, match="Expected labels in"):
        L.sparse_categorical_focal([-1, 0], np.full((2, 3), 1 / 3))


@pytest.mark.parametrize("name", ["binary_crossentropy", "binary_focal"])
def test_probabilities_outside_unit_interval(name):
    loss, _ = L.get_loss(name)
    with pytest.raises(ValueError, match=r"Expected probabilities in \[0, 1\]. Received: values in \[0.2, 1.5\]"):
        loss([0, 1], [0.2, 1.5])


def test_categorical_probabilities_outside_unit_interval():
    with pytest.raises(ValueError, match=r"Expected probabilities in \[0, 1\]. Received: values in \[-0.1, 0.6\]"):
        L.categorical_crossentropy(np.eye(2), np.array([[0.5, 0.6], [-0.1, 0.2]]))


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(
        ValueError,
        match=r"Expected one of binary_crossentropy, binary_focal, categorical_crossentropy.*Received: loss='hinge'",
    ):
        L.get_loss("hinge")
    with pytest.raises(
        ValueError,
        match=r"Expected one of leaky_relu, linear, relu, sigmoid, softmax, tanh. Received: activation='gelu'",
    ):
        A.get_activation("gelu")
