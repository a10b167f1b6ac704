"""Input checks shared by the from-scratch functions. Every failure is a ValueError that names the argument,
what was expected and what was received (Keras's style)."""

from __future__ import annotations

import numpy as np


def as_float_array(x, name: str, dtype=np.float64) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"Invalid value for `{name}`. Expected a numeric array. Received: dtype={arr.dtype}")
    arr = arr.astype(dtype if arr.dtype.kind != "f" else arr.dtype, copy=False)
    if not np.all(np.isfinite(arr)):
        bad = "NaN" if np.isnan(arr).any() else "inf"
        raise ValueError(f"Invalid value for `{name}`. Expected finite numbers. Received: an array containing {bad}")
    return arr


def same_shape(y_true: np.ndarray, y_pred: np.ndarray) -> None:
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"`y_true` and `y_pred` must have the same shape. Received: y_true.shape={y_true.shape}, "
            f"y_pred.shape={y_pred.shape}"
        )


def probabilities(p: np.ndarray, name: str = "y_pred") -> None:
    if p.size and (p.min() < 0.0 or p.max() > 1.0):
        raise ValueError(
            f"Invalid value for `{name}`. Expected probabilities in [0, 1]. Received: values in "
            f"[{p.min():.6g}, {p.max():.6g}]"
        )


def positive(value, name: str, integer: bool = False):
    kind = "integer" if integer else "number"
    ok = isinstance(value, (int, np.integer)) if integer else isinstance(value, (int, float, np.number))
    if isinstance(value, bool) or not ok or not value > 0:
        raise ValueError(f"Invalid value for `{name}`. Expected a positive {kind}. Received: {name}={value!r}")
    return value


def rate(value, name: str = "rate") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not 0.0 <= value < 1.0:
        raise ValueError(f"Invalid value for `{name}`. Expected a float in [0, 1). Received: {name}={value!r}")
    return float(value)


def choice(value, name: str, valid) -> str:
    if value not in valid:
        raise ValueError(
            f"Invalid value for `{name}`. Expected one of {', '.join(sorted(valid))}. Received: {name}={value!r}"
        )
    return value
