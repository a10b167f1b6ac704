"""Gradient descent by hand: one sigmoid neuron (the insurance lesson) and linear regression by batch, stochastic
and mini-batch gradient descent (the home-prices lesson), with the closed-form least-squares reference.

The course's versions never updated the bias; these do, and the tests hold them to Keras and to least squares.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from keraslab.scratch._checks import as_float_array, choice, positive
from keraslab.scratch.activations import sigmoid
from keraslab.scratch.losses import binary_crossentropy


def _xy(X, y):
    X = as_float_array(X, "X")
    y = as_float_array(y, "y")
    if X.ndim != 2:
        raise ValueError(
            f"Invalid value for `X`. Expected a 2-D array (samples, features). Received: X.shape={X.shape}"
        )
    if y.shape != (X.shape[0],):
        raise ValueError(f"`y` must hold one target per row of `X`. Received: X.shape={X.shape}, y.shape={y.shape}")
    if X.shape[0] == 0:
        raise ValueError("Invalid value for `X`. Expected at least one sample. Received: X.shape=(0, ...)")
    return X, y


@dataclass
class NeuronFit:
    weights: np.ndarray
    bias: float
    loss_history: list[float] = field(default_factory=list)  # loss at the start of each epoch, before its update
    epochs_run: int = 0  # updates made
    final_loss: float = float("nan")  # loss at the returned weights and bias

    def predict_proba(self, X) -> np.ndarray:
        return sigmoid(as_float_array(X, "X") @ self.weights + self.bias)

    def predict(self, X, threshold: float = 0.5) -> np.ndarray:
        return (self.predict_proba(X) >= threshold).astype(np.int64)


def fit_neuron(
    X, y, epochs: int, learning_rate: float, loss_threshold: float | None = None, epsilon: float = 1e-7
) -> NeuronFit:
    """Train y_hat = sigmoid(X w + b) by full-batch gradient descent on the log loss, from w = 1, b = 0.

    Each epoch: y_hat = sigmoid(X w + b); loss = log loss; dw = X^T (y_hat - y) / n; db = mean(y_hat - y);
    w -= lr dw; b -= lr db (the course forgot this last step). Stops early, before updating, once the loss falls
    below `loss_threshold`.
    """
    X, y = _xy(X, y)
    positive(epochs, "epochs", integer=True)
    positive(learning_rate, "learning_rate")
    n = X.shape[0]
    w = np.ones(X.shape[1])
    b = 0.0
    history = []
    epoch = 0
    for epoch in range(1, epochs + 1):
        y_hat = sigmoid(X @ w + b)
        loss = binary_crossentropy(y, y_hat, epsilon=epsilon)
        history.append(loss)
        if loss_threshold is not None and loss <= loss_threshold:
            epoch -= 1
            break
        error = y_hat - y  # d loss / d z for sigmoid + log loss
        w = w - learning_rate * (X.T @ error) / n
        b = b - learning_rate * float(error.mean())
    final = binary_crossentropy(y, sigmoid(X @ w + b), epsilon=epsilon)
    return NeuronFit(w, b, history, epoch, final)


METHODS = ("batch", "sgd", "minibatch")


@dataclass
class LinearFit:
    weights: np.ndarray
    bias: float
    cost: float  # the last entry of cost_history (what the course prints as the final cost)
    cost_history: list[float]  # MSE on all the data at the start of each epoch, before its updates
    method: str
    final_cost: float  # MSE on all the data at the returned weights and bias

    def predict(self, X) -> np.ndarray:
        return as_float_array(X, "X") @ self.weights + self.bias


def fit_linear(
    X, y, *, method: str = "batch", epochs: int = 500, learning_rate: float = 0.01, batch_size: int = 5, seed: int = 0
) -> LinearFit:
    """Linear regression y_hat = X w + b by gradient descent on the MSE, from w = 1, b = 0.

    - "batch": one step per epoch on all n rows.
    - "sgd": n steps per epoch, one random row each (a seeded permutation per epoch).
    - "minibatch": ceil(n / batch_size) steps per epoch over a seeded permutation.
    Gradient of the mean over a batch B: dw = -(2/|B|) X_B^T (y_B - y_hat_B), db = -(2/|B|) sum(y_B - y_hat_B).
    """
    X, y = _xy(X, y)
    choice(method, "method", METHODS)
    positive(epochs, "epochs", integer=True)
    positive(learning_rate, "learning_rate")
    positive(batch_size, "batch_size", integer=True)
    n = X.shape[0]
    rng = np.random.default_rng(seed)
    w = np.ones(X.shape[1])
    b = 0.0
    size = {"batch": n, "sgd": 1, "minibatch": min(batch_size, n)}[method]
    history = []
    for _ in range(epochs):
        history.append(float(np.mean((y - (X @ w + b)) ** 2)))
        order = np.arange(n) if method == "batch" else rng.permutation(n)
        for start in range(0, n, size):
            idx = order[start : start + size]
            residual = y[idx] - (X[idx] @ w + b)
            w = w + learning_rate * (2.0 / len(idx)) * (X[idx].T @ residual)
            b = b + learning_rate * (2.0 / len(idx)) * float(residual.sum())
    final = float(np.mean((y - (X @ w + b)) ** 2))
    return LinearFit(w, b, history[-1], history, method, final)


def least_squares(X, y) -> tuple[np.ndarray, float]:
    """The closed-form minimiser of the MSE: solve [X 1] [w; b] = y by least squares."""
    X, y = _xy(X, y)
    A = np.hstack([X, np.ones((X.shape[0], 1))])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    return coef[:-1], float(coef[-1])


@dataclass
class MinMaxScaler:
    """x -> (x - min) / (max - min) per column, fitted on the data given to `fit` (as scikit-learn's)."""

    min_: np.ndarray | None = None
    scale_: np.ndarray | None = None

    def fit(self, X) -> MinMaxScaler:
        X = as_float_array(X, "X")
        lo, hi = X.min(axis=0), X.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        self.min_, self.scale_ = lo, span
        return self

    def transform(self, X):
        return (as_float_array(X, "X") - self.min_) / self.scale_

    def fit_transform(self, X):
        return self.fit(X).transform(X)

    def inverse_transform(self, Z):
        return as_float_array(Z, "Z") * self.scale_ + self.min_


@dataclass
class ScaledLinearModel:
    """A linear model trained on min-max scaled X and y that predicts in the original units."""

    fit: LinearFit | tuple
    x_scaler: MinMaxScaler
    y_scaler: MinMaxScaler

    def predict(self, X) -> np.ndarray:
        X = np.atleast_2d(as_float_array(X, "X"))
        w, b = (self.fit.weights, self.fit.bias) if isinstance(self.fit, LinearFit) else self.fit
        z = self.x_scaler.transform(X) @ w + b
        return self.y_scaler.inverse_transform(z.reshape(-1, 1)).ravel()
