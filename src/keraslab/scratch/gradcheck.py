"""Numerical gradient checks: analytic gradients against central differences.

    rel = ||g_analytic - g_numeric|| / max(||g_analytic|| + ||g_numeric||, tiny)

In float64 with h = 1e-6 a correct gradient gives rel around 1e-9 or less; a wrong one gives rel near 1e-2 or
more. Every check in the tests is paired with a negative control: a deliberately wrong gradient must fail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

TOLERANCE = 1e-6


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """d f / d x by central differences, (f(x + h e_i) - f(x - h e_i)) / 2h, element by element (x is restored)."""
    grad = np.zeros_like(x, dtype=np.float64)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        up = f(x)
        flat[i] = old - h
        down = f(x)
        flat[i] = old
        gflat[i] = (up - down) / (2 * h)
    return grad


def relative_error(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    denom = max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)
    return float(np.linalg.norm(a - b) / denom)


@dataclass(frozen=True)
class GradCheck:
    name: str
    relative_error: float
    tolerance: float

    @property
    def passed(self) -> bool:
        return self.relative_error < self.tolerance


def check(
    name: str,
    f: Callable[[np.ndarray], float],
    analytic: np.ndarray,
    x: np.ndarray,
    h: float = 1e-6,
    tolerance: float = TOLERANCE,
) -> GradCheck:
    return GradCheck(name, relative_error(analytic, numerical_gradient(f, x, h)), tolerance)


def check_network(
    network, x: np.ndarray, y: np.ndarray, h: float = 1e-6, tolerance: float = TOLERANCE, training: bool = False
) -> list[GradCheck]:
    """Check every parameter's backprop gradient (Network.loss_and_grads) against central differences.

    Dropout must be off (training=False) or its mask fixed, since the numerical loss is evaluated many times.
    """
    network.loss_and_grads(x, y, training)
    analytic = [g.copy() for g in network.grads]
    results = []
    names = [
        f"{type(layer).__name__}[{i}].{'Wb'[j]}"
        for i, layer in enumerate(network.layers)
        for j in range(len(layer.params))
    ]

    def loss_at(_):
        out = network.forward(x, training)
        target = (
            y.reshape(out.shape) if network.loss_name in ("binary_crossentropy", "binary_focal", "mse", "mae") else y
        )
        return network.loss_fn(target, out)

    for name, p, g in zip(names, network.params, analytic, strict=True):
        results.append(check(name, loss_at, g, p, h, tolerance))
    return results
