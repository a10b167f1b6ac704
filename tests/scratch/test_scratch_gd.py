"""Gradient descent by hand: the neuron and the three linear-regression variants, against scikit-learn."""

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from keraslab.scratch import gradient_descent as gd


def _linear_data(seed=0, n=40):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, (n, 2))
    y = X @ np.array([0.7, -0.3]) + 0.2 + rng.normal(0, 0.01, n)
    return X, y


def test_least_squares_matches_sklearn():
    X, y = _linear_data()
    w, b = gd.least_squares(X, y)
    ref = LinearRegression().fit(X, y)
    np.testing.assert_allclose(w, ref.coef_, atol=1e-10)
    assert b == pytest.approx(ref.intercept_, abs=1e-10)


@pytest.mark.parametrize("method", ["batch", "sgd", "minibatch"])
def test_each_variant_converges_to_least_squares(method):
    X, y = _linear_data()
    fit = gd.fit_linear(
        X, y, method=method, epochs=3000 if method == "batch" else 400, learning_rate=0.1, batch_size=8, seed=0
    )
    w, b = gd.least_squares(X, y)
    np.testing.assert_allclose(fit.weights, w, atol=0.02)
    assert fit.bias == pytest.approx(b, abs=0.02)
    assert fit.cost_history[0] > fit.cost_history[-1] and len(fit.cost_history) == fit_epochs(method)


def fit_epochs(method):
    return 3000 if method == "batch" else 400


def test_one_batch_step_by_hand():
    # X = [[1], [3]], y = [2, 4], w = 1, b = 0: y_hat = [1, 3], residual [1, 1];
    # dw = -(2/2) * (1*1 + 3*1) = -4, db = -(2/2) * 2 = -2; with lr 0.1: w = 1.4, b = 0.2.
    fit = gd.fit_linear([[1.0], [3.0]], [2.0, 4.0], method="batch", epochs=1, learning_rate=0.1)
    assert fit.weights[0] == pytest.approx(1.4) and fit.bias == pytest.approx(0.2)
    assert fit.cost_history == [1.0]  # the cost before the step: mean(1^2, 1^2)


def test_neuron_bias_updates_and_matches_logistic_regression():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 2))
    y = (X @ [2.0, -1.0] + 0.5 + rng.logistic(size=200) * 0.3 > 0).astype(float)
    fit = gd.fit_neuron(X, y, epochs=5000, learning_rate=0.5)
    ref = LogisticRegression(C=1e10, tol=1e-10, max_iter=10000).fit(X, y)
    assert fit.bias != 0.0
    np.testing.assert_allclose(fit.weights, ref.coef_[0], rtol=0.02)
    assert fit.bias == pytest.approx(ref.intercept_[0], rel=0.05)


def test_neuron_stops_at_the_threshold():
    X = np.array([[0.22, 1], [0.47, 1], [0.55, 0], [0.6, 0], [0.25, 0], [0.62, 1]])
    y = np.array([0, 1, 0, 1, 0, 1.0])
    full = gd.fit_neuron(X, y, epochs=500, learning_rate=0.5)
    threshold = full.loss_history[100]
    stopped = gd.fit_neuron(X, y, epochs=500, learning_rate=0.5, loss_threshold=threshold)
    assert stopped.epochs_run == 100 and stopped.loss_history[-1] <= threshold
    assert len(stopped.loss_history) == 101


def test_predictions_in_original_units():
    X_raw = np.array([[1000.0, 2], [2000, 3], [3000, 4], [1500, 2]])
    y_raw = np.array([[40.0], [80], [120], [55]])
    sx, sy = gd.MinMaxScaler().fit(X_raw), gd.MinMaxScaler().fit(y_raw)
    w, b = gd.least_squares(sx.transform(X_raw), sy.transform(y_raw).ravel())
    model = gd.ScaledLinearModel((w, b), sx, sy)
    coef = LinearRegression().fit(X_raw, y_raw.ravel())
    np.testing.assert_allclose(model.predict([[2500, 3]]), coef.predict([[2500, 3]]), rtol=1e-10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, "Invalid value for `batch_size`. Expected a positive integer. Received: batch_size=0"),
        (
            {"learning_rate": 0},
            "Invalid value for `learning_rate`. Expected a positive number. Received: learning_rate=0",
        ),
        ({"learning_rate": -0.5}, "Received: learning_rate=-0.5"),
        ({"method": "adam"}, "Expected one of batch, minibatch, sgd. Received: method='adam'"),
        ({"epochs": 0}, "Invalid value for `epochs`. Expected a positive integer. Received: epochs=0"),
    ],
)
def test_linear_bad_options(kwargs, message):
    X, y = _linear_data()
    with pytest.raises(ValueError, match=message):
        gd.fit_linear(X, y, **kwargs)


def test_neuron_bad_input():
    with pytest.raises(ValueError, match="Received: learning_rate=-1"):
        gd.fit_neuron([[1.0]], [1.0], epochs=1, learning_rate=-1)
    with pytest.raises(ValueError, match=r"Received: X.shape=\(2, 1\), y.shape=\(3,\)"):
        gd.fit_neuron([[1.0], [2.0]], [1.0, 0.0, 1.0], epochs=1, learning_rate=0.1)
    with pytest.raises(ValueError, match=r"Expected finite numbers. Received: an array containing inf"):
        gd.fit_neuron([[np.inf]], [1.0], epochs=1, learning_rate=0.1)
