"""SGD and Adam, updating parameter arrays in place (the same update rules as Keras's)."""

from __future__ import annotations

import numpy as np

from keraslab.scratch._checks import choice, positive


class SGD:
    """p <- p - lr * g"""

    def __init__(self, learning_rate: float = 0.01):
        self.learning_rate = positive(learning_rate, "learning_rate")

    def step(self, params, grads) -> None:
        for p, g in zip(params, grads, strict=True):
            p -= p.dtype.type(self.learning_rate) * g


class Adam:
    """Kingma & Ba, as Keras writes it: m <- b1 m + (1 - b1) g; v <- b2 v + (1 - b2) g^2;
    p <- p - lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)."""

    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7):
        self.learning_rate = positive(learning_rate, "learning_rate")
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.t = 0
        self._m = self._v = self._tmp = None

    def step(self, params, grads) -> None:
        if self._m is None:
            self._m = [np.zeros_like(p) for p in params]
            self._v = [np.zeros_like(p) for p in params]
            self._tmp = [np.empty_like(p) for p in params]
        self.t += 1
        lr_t = self.learning_rate * np.sqrt(1 - self.beta_2**self.t) / (1 - self.beta_1**self.t)
        for p, g, m, v, tmp in zip(params, grads, self._m, self._v, self._tmp, strict=True):
            dt = p.dtype.type
            m *= dt(self.beta_1)
            m += dt(1 - self.beta_1) * g  # one temporary the size of g
            np.multiply(g, g, out=tmp)
            tmp *= dt(1 - self.beta_2)
            v *= dt(self.beta_2)
            v += tmp
            np.sqrt(v, out=tmp)
            tmp += dt(self.epsilon)
            np.divide(m, tmp, out=tmp)
            tmp *= dt(lr_t)
            p -= tmp


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def make_optimizer(name: str, learning_rate: float):
    choice(name, "optimizer", OPTIMIZERS)
    return OPTIMIZERS[name](learning_rate=learning_rate)
