"""Loss functions and their gradients with respect to y_pred, in NumPy, written to equal Keras's.

Every loss has the signature ``loss(y_true, y_pred, ...) -> float``: the per-sample loss (reduced over the last
axis for 2-D inputs, as Keras does) averaged over samples. Its gradient ``<loss>_grad(y_true, y_pred, ...)`` has
y_pred's shape. The cross-entropies clip probabilities to [epsilon, 1 - epsilon] (Keras's default epsilon is
1e-7); where a probability is clipped, its gradient is 0, exactly as for the clipped function.

The categorical losses first divide each row by its sum, as Keras does, so rows that do not quite sum to 1 give
Keras's answer too.
"""

from __future__ import annotations

import numpy as np

from keraslab.scratch._checks import as_float_array, choice, probabilities, same_shape

EPSILON = 1e-7


def _pair(y_true, y_pred, probs: bool = False):
    y_pred = as_float_array(y_pred, "y_pred")
    y_true = as_float_array(y_true, "y_true", dtype=y_pred.dtype)
    same_shape(y_true, y_pred)
    if y_pred.ndim == 0:
        raise ValueError("Invalid value for `y_pred`. Expected an array of at least one sample. Received: a scalar")
    if probs:
        probabilities(y_pred, "y_pred")
    return y_true, y_pred


def _per_sample_mean(values: np.ndarray) -> float:
    """Mean over the last axis (per sample), then over samples; equal to the overall mean for equal rows."""
    return float(np.mean(values))


def _unit_mean_grad(y: np.ndarray) -> float:
    """d mean(values) / d value: 1 / (number of elements)."""
    return 1.0 / y.size


# --- regression ---------------------------------------------------------------------------------------------------


def mae(y_true, y_pred) -> float:
    """mean |y_true - y_pred|"""
    y_true, y_pred = _pair(y_true, y_pred)
    return _per_sample_mean(np.abs(y_true - y_pred))


def mae_grad(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    return np.sign(y_pred - y_true) * _unit_mean_grad(y_pred)


def mse(y_true, y_pred) -> float:
    """mean (y_true - y_pred)^2"""
    y_true, y_pred = _pair(y_true, y_pred)
    return _per_sample_mean((y_true - y_pred) ** 2)


def mse_grad(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    return 2.0 * (y_pred - y_true) * _unit_mean_grad(y_pred)


# --- binary -------------------------------------------------------------------------------------------------------


def _clip(p, epsilon):
    return np.clip(p, epsilon, 1.0 - epsilon)


def _inside(p, epsilon):
    """1 where clipping leaves p alone (its gradient flows), 0 where it is clipped."""
    return ((p > epsilon) & (p < 1.0 - epsilon)).astype(p.dtype)


def binary_crossentropy(y_true, y_pred, epsilon: float = EPSILON) -> float:
    """Log loss: -mean(y log p + (1 - y) log(1 - p)), p clipped to [epsilon, 1 - epsilon]."""
    y_true, y_pred = _pair(y_true, y_pred, probs=True)
    p = _clip(y_pred, epsilon)
    return _per_sample_mean(-(y_true * np.log(p) + (1.0 - y_true) * np.log(1.0 - p)))


def binary_crossentropy_grad(y_true, y_pred, epsilon: float = EPSILON):
    y_true, y_pred = _pair(y_true, y_pred, probs=True)
    p = _clip(y_pred, epsilon)
    return (-(y_true / p) + (1.0 - y_true) / (1.0 - p)) * _inside(y_pred, epsilon) * _unit_mean_grad(y_pred)


def binary_focal(y_true, y_pred, gamma: float = 2.0, alpha: float | None = None, epsilon: float = EPSILON) -> float:
    """Focal loss (Lin et al. 2017): (1 - p_t)^gamma * BCE, p_t = y p + (1 - y)(1 - p).

    With `alpha`, each term is also weighted by alpha for positives and 1 - alpha for negatives (Keras's
    BinaryFocalCrossentropy with apply_class_balancing=True). gamma = 0 and alpha = None give plain BCE.
    """
    y_true, y_pred = _pair(y_true, y_pred, probs=True)
    return _per_sample_mean(_binary_focal_terms(y_true, y_pred, gamma, alpha, epsilon)[0])


def _binary_focal_terms(y, p_raw, gamma, alpha, epsilon):
    p = _clip(p_raw, epsilon)
    bce = -(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))
    p_t = y * p_raw + (1.0 - y) * (1.0 - p_raw)  # Keras uses the unclipped prediction here
    factor = (1.0 - p_t) ** gamma
    weight = 1.0 if alpha is None else y * alpha + (1.0 - y) * (1.0 - alpha)
    return weight * factor * bce, (p, bce, p_t, factor, weight)


def binary_focal_grad(y_true, y_pred, gamma: float = 2.0, alpha: float | None = None, epsilon: float = EPSILON):
    y_true, y_pred = _pair(y_true, y_pred, probs=True)
    _, (p, bce, p_t, factor, weight) = _binary_focal_terms(y_true, y_pred, gamma, alpha, epsilon)
    d_bce = (-(y_true / p) + (1.0 - y_true) / (1.0 - p)) * _inside(y_pred, epsilon)
    d_pt = 2.0 * y_true - 1.0  # d p_t / d p
    with np.errstate(divide="ignore", invalid="ignore"):
        d_factor = np.where(factor > 0, -gamma * (1.0 - p_t) ** (gamma - 1.0), 0.0) * d_pt if gamma else 0.0
    return weight * (d_factor * bce + factor * d_bce) * _unit_mean_grad(y_pred)


# --- categorical --------------------------------------------------------------------------------------------------


def _normalise_rows(p):
    s = p.sum(axis=-1, keepdims=True)
    return p / s, s


def _row_backward(q, s, g):
    """Given q = p / s (row sums s) and dL/dq = g, return dL/dp = (g - sum(g q)) / s."""
    return (g - np.sum(g * q, axis=-1, keepdims=True)) / s


def _categorical_pair(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred, probs=True)
    if y_pred.ndim != 2:
        raise ValueError(
            f"Invalid value for `y_pred`. Expected a 2-D array (samples, classes). Received: "
            f"y_pred.shape={y_pred.shape}"
        )
    if np.any(y_pred.sum(axis=-1) <= 0):
        raise ValueError(
            "Invalid value for `y_pred`. Expected every row to have a positive sum. Received: a row of zeros"
        )
    return y_true, y_pred


def categorical_crossentropy(y_true, y_pred, epsilon: float = EPSILON) -> float:
    """-mean over samples of sum_k y_k log q_k, q = clip(p / sum(p)); y_true one-hot (or soft) labels."""
    y_true, y_pred = _categorical_pair(y_true, y_pred)
    q, _ = _normalise_rows(y_pred)
    return float(np.mean(-np.sum(y_true * np.log(_clip(q, epsilon)), axis=-1)))


def categorical_crossentropy_grad(y_true, y_pred, epsilon: float = EPSILON):
    y_true, y_pred = _categorical_pair(y_true, y_pred)
    q, s = _normalise_rows(y_pred)
    g = -y_true / _clip(q, epsilon) * _inside(q, epsilon)
    return _row_backward(q, s, g) / y_pred.shape[0]


def _one_hot(labels, n_classes: int, dtype) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu" and not (labels.dtype.kind == "f" and np.all(labels == np.round(labels))):
        raise ValueError(f"Invalid value for `y_true`. Expected integer class labels. Received: dtype={labels.dtype}")
    labels = labels.astype(np.int64).reshape(-1)
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"Invalid value for `y_true`. Expected labels in [0, {n_classes - 1}] for y_pred with {n_classes} "
            f"classes. Received: labels in [{labels.min()}, {labels.max()}]"
        )
    out = np.zeros((labels.size, n_classes), dtype=dtype)
    out[np.arange(labels.size), labels] = 1.0
    return out


def _sparse(y_true, y_pred):
    y_pred = as_float_array(y_pred, "y_pred")
    if y_pred.ndim != 2:
        raise ValueError(
            f"Invalid value for `y_pred`. Expected a 2-D array (samples, classes). Received: "
            f"y_pred.shape={y_pred.shape}"
        )
    labels = np.asarray(y_true)
    if labels.shape not in ((y_pred.shape[0],), (y_pred.shape[0], 1)):
        raise ValueError(
            f"`y_true` must hold one label per row of `y_pred`. Received: y_true.shape={labels.shape}, "
            f"y_pred.shape={y_pred.shape}"
        )
    as_float_array(labels, "y_true")
    return _one_hot(labels, y_pred.shape[1], y_pred.dtype), y_pred


def sparse_categorical_crossentropy(y_true, y_pred, epsilon: float = EPSILON) -> float:
    """categorical_crossentropy with integer labels (n,) instead of one-hot rows."""
    return categorical_crossentropy(*_sparse(y_true, y_pred), epsilon=epsilon)


def sparse_categorical_crossentropy_grad(y_true, y_pred, epsilon: float = EPSILON):
    return categorical_crossentropy_grad(*_sparse(y_true, y_pred), epsilon=epsilon)


def categorical_focal(y_true, y_pred, gamma: float = 2.0, alpha=0.25, epsilon: float = EPSILON) -> float:
    """Keras's CategoricalFocalCrossentropy: -mean over samples of sum_k alpha_k (1 - q_k)^gamma y_k log q_k,
    q = clip(p / sum(p)). `alpha` is a number or one weight per class."""
    y_true, y_pred = _categorical_pair(y_true, y_pred)
    q, _ = _normalise_rows(y_pred)
    qc = _clip(q, epsilon)
    terms = np.asarray(alpha) * (1.0 - qc) ** gamma * (-y_true * np.log(qc))
    return float(np.mean(np.sum(terms, axis=-1)))


def categorical_focal_grad(y_true, y_pred, gamma: float = 2.0, alpha=0.25, epsilon: float = EPSILON):
    y_true, y_pred = _categorical_pair(y_true, y_pred)
    q, s = _normalise_rows(y_pred)
    qc = _clip(q, epsilon)
    one_minus = 1.0 - qc
    # d/dq [(1 - q)^g * (-y log q)] = g (1 - q)^(g-1) y log q - (1 - q)^g y / q, zero where q is clipped
    d_mod = gamma * one_minus ** (gamma - 1.0) * y_true * np.log(qc) if gamma else 0.0
    g = np.asarray(alpha) * (d_mod - one_minus**gamma * y_true / qc) * _inside(q, epsilon)
    return _row_backward(q, s, g) / y_pred.shape[0]


def sparse_categorical_focal(y_true, y_pred, gamma: float = 2.0, alpha=0.25, epsilon: float = EPSILON) -> float:
    """categorical_focal with integer labels. (Keras has no sparse focal loss; this one is exactly Keras's
    categorical focal loss on the one-hot labels.)"""
    return categorical_focal(*_sparse(y_true, y_pred), gamma=gamma, alpha=alpha, epsilon=epsilon)


def sparse_categorical_focal_grad(y_true, y_pred, gamma: float = 2.0, alpha=0.25, epsilon: float = EPSILON):
    return categorical_focal_grad(*_sparse(y_true, y_pred), gamma=gamma, alpha=alpha, epsilon=epsilon)


# name -> (loss, gradient)
LOSSES = {
    "mae": (mae, mae_grad),
    "mse": (mse, mse_grad),
    "binary_crossentropy": (binary_crossentropy, binary_crossentropy_grad),
    "categorical_crossentropy": (categorical_crossentropy, categorical_crossentropy_grad),
    "sparse_categorical_crossentropy": (sparse_categorical_crossentropy, sparse_categorical_crossentropy_grad),
    "binary_focal": (binary_focal, binary_focal_grad),
    "categorical_focal": (categorical_focal, categorical_focal_grad),
    "sparse_categorical_focal": (sparse_categorical_focal, sparse_categorical_focal_grad),
}


def get_loss(name: str):
    """(loss, gradient) for a loss name; a ValueError lists the valid names."""
    choice(name, "loss", LOSSES)
    return LOSSES[name]


def tutorial_log_loss(y_true, y_predicted, epsilon: float = 1e-15) -> float:
    """The course's log loss exactly as its notebook meant it (clip to [eps, 1 - eps], then the mean), keeping its
    argument order: called with its swapped toy arrays it prints 17.2696280766844."""
    y_true, y_predicted = _pair(y_true, y_predicted)
    p = np.clip(y_predicted, epsilon, 1 - epsilon)
    return float(-np.mean(y_true * np.log(p) + (1 - y_true) * np.log(1 - p)))
