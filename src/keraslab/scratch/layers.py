"""Layers with a forward and a backward pass. Shapes: x (batch, in) -> (batch, out).

A layer's backward(grad) takes dL/d(output) and returns dL/d(input), storing dL/d(parameter) in `grads` in the
same order as `params`. Arrays stay in the dtype the layer was built with (float32 for speed, float64 for
gradient checks); nothing is copied that need not be.
"""

from __future__ import annotations

import numpy as np

from keraslab.scratch import activations as act
from keraslab.scratch._checks import choice
from keraslab.scratch._checks import rate as check_rate


class Layer:
    """A layer's parameters and their gradients (empty for a layer without weights), forward and backward."""

    params: list[np.ndarray]  # set by each layer's __init__ ([] for a layer without weights)
    grads: list[np.ndarray]  # the gradient of the loss for each parameter, filled by backward

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class Dense(Layer):
    """y = x W + b. Weights from Glorot-uniform (Keras's default), biases zero."""

    def __init__(self, n_in: int, n_out: int, rng: np.random.Generator, dtype=np.float32):
        limit = np.sqrt(6.0 / (n_in + n_out))
        self.W = rng.uniform(-limit, limit, size=(n_in, n_out)).astype(dtype)
        self.b = np.zeros(n_out, dtype=dtype)
        self.params = [self.W, self.b]
        self.grads = [np.zeros_like(self.W), np.zeros_like(self.b)]
        self._x = None

    def forward(self, x, training=False):
        self._x = x
        return x @ self.W + self.b  # (batch, in) @ (in, out) -> (batch, out)

    def backward(self, grad):
        np.matmul(self._x.T, grad, out=self.grads[0])  # dL/dW = x^T g : (in, out)
        np.sum(grad, axis=0, out=self.grads[1])  # dL/db = sum_batch g : (out,)
        return grad @ self.W.T  # dL/dx = g W^T : (batch, in)


class Activation(Layer):
    """An elementwise activation (relu, sigmoid, tanh, leaky_relu, linear) or softmax over the last axis."""

    NAMES = ("relu", "sigmoid", "tanh", "leaky_relu", "softmax", "linear")

    def __init__(self, name: str, alpha: float = 0.01):
        self.name = choice(name, "activation", self.NAMES)
        self.alpha = alpha
        self.params, self.grads = [], []
        self._x = self._y = None

    def forward(self, x, training=False):
        self._x = x
        if self.name == "relu":
            y = np.maximum(x, 0)
        elif self.name == "sigmoid":
            y = act.sigmoid(x)
        elif self.name == "tanh":
            y = np.tanh(x)
        elif self.name == "leaky_relu":
            y = act.leaky_relu(x, self.alpha)
        elif self.name == "softmax":
            y = act.softmax(x)
        else:
            y = x
        self._y = y
        return y

    def backward(self, grad):
        x, y = self._x, self._y
        if self.name == "relu":
            return grad * (x > 0)
        if self.name == "sigmoid":
            return grad * y * (1 - y)
        if self.name == "tanh":
            return grad * (1 - y * y)
        if self.name == "leaky_relu":
            return grad * np.where(x > 0, 1, self.alpha).astype(grad.dtype)
        if self.name == "softmax":
            return act.softmax_backward(y, grad)
        return grad


class Dropout(Layer):
    """Inverted dropout: in training, zero each unit with probability `rate` and scale the rest by 1 / (1 - rate),
    so nothing needs rescaling at predict time, when the layer passes its input through.

    `mask` is the last training pass's mask, already scaled (None after an inference pass): backward multiplies the
    gradient by it."""

    def __init__(self, rate: float, rng: np.random.Generator):
        self.rate = check_rate(rate)
        self.rng = rng
        self.params, self.grads = [], []
        self.mask = None

    def forward(self, x, training=False):
        if not training or self.rate == 0.0:
            self.mask = None
            return x
        keep = self.rng.random(x.shape, dtype=np.float32 if x.dtype == np.float32 else np.float64) >= self.rate
        self.mask = keep.astype(x.dtype) / x.dtype.type(1.0 - self.rate)
        return x * self.mask

    def backward(self, grad):
        return grad if self.mask is None else grad * self.mask
