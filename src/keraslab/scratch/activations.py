"""Activation functions and their derivatives, in NumPy.

Each elementwise activation f has a derivative f'(x) with the same shape. softmax acts on the last axis; its
derivative is a Jacobian, so it comes both as `softmax_jacobian(x)` (batch, k, k) and as the vector-Jacobian
product `softmax_backward(s, grad)` that backpropagation uses.
"""

from __future__ import annotations

import numpy as np

from keraslab.scratch._checks import as_float_array, choice


def sigmoid(x):
    """1 / (1 + exp(-x)), computed without overflow: exp is only ever taken of -|x|.

    sigmoid(1000) == 1.0 and sigmoid(-1000) == 0.0 exactly, with no warning.
    """
    x = np.asarray(x, dtype=np.result_type(x, np.float32))
    with np.errstate(under="ignore"):  # exp(-1000) underflowing to 0 is the right answer
        e = np.exp(-np.abs(x))  # in (0, 1]: never overflows
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


def sigmoid_derivative(x):
    s = sigmoid(x)
    return s * (1.0 - s)


def tanh(x):
    return np.tanh(x)


def tanh_derivative(x):
    t = np.tanh(x)
    return 1.0 - t * t


def relu(x):
    return np.maximum(x, 0)


def relu_derivative(x):
    """1 where x > 0, else 0 (the subgradient at 0 is taken as 0, as Keras and PyTorch do)."""
    x = np.asarray(x)
    return (x > 0).astype(np.result_type(x, np.float32))


def leaky_relu(x, alpha: float = 0.01):
    """x for x > 0, alpha * x otherwise (the course uses alpha = 0.1)."""
    x = np.asarray(x)
    return np.where(x > 0, x, alpha * x)


def leaky_relu_derivative(x, alpha: float = 0.01):
    x = np.asarray(x)
    dtype = np.result_type(x, np.float32)
    return np.where(x > 0, 1.0, alpha).astype(dtype)


def softmax(x, axis: int = -1):
    """exp(x - max) / sum(exp(x - max)): subtracting the row max keeps every exp in (0, 1]."""
    x = np.asarray(x, dtype=np.result_type(x, np.float32))
    with np.errstate(under="ignore"):
        z = np.exp(x - x.max(axis=axis, keepdims=True))
    return z / z.sum(axis=axis, keepdims=True)


def softmax_jacobian(x):
    """d softmax(x)_i / d x_j = s_i (delta_ij - s_j), for each row: (batch, k) -> (batch, k, k)."""
    s = softmax(np.atleast_2d(x))
    return s[:, :, None] * (np.eye(s.shape[-1], dtype=s.dtype)[None] - s[:, None, :])


def softmax_backward(s, grad):
    """Given s = softmax(x) and dL/ds, return dL/dx = s * (grad - sum(grad * s)), row by row."""
    return s * (grad - np.sum(grad * s, axis=-1, keepdims=True))


# name -> (function, derivative). softmax's "derivative" is its Jacobian.
ACTIVATIONS = {
    "sigmoid": (sigmoid, sigmoid_derivative),
    "tanh": (tanh, tanh_derivative),
    "relu": (relu, relu_derivative),
    "leaky_relu": (leaky_relu, leaky_relu_derivative),
    "softmax": (softmax, softmax_jacobian),
    "linear": (lambda x: np.asarray(x), lambda x: np.ones_like(np.asarray(x, dtype=np.float64))),
}


def get_activation(name: str):
    """(function, derivative) for an activation name; a ValueError lists the valid names."""
    choice(name, "activation", ACTIVATIONS)
    return ACTIVATIONS[name]


__all__ = [
    "ACTIVATIONS",
    "as_float_array",
    "get_activation",
    "leaky_relu",
    "leaky_relu_derivative",
    "relu",
    "relu_derivative",
    "sigmoid",
    "sigmoid_derivative",
    "softmax",
    "softmax_backward",
    "softmax_jacobian",
    "tanh",
    "tanh_derivative",
]
