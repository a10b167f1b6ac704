"""Probabilities that are probabilities: the network's answers calibrated on the validation slice of the training
part by scikit-learn's `CalibratedClassifierCV` on the frozen network, and kept in schema.json as two or one
numbers, so that `predict`, `/predict` and MLflow apply them in NumPy without scikit-learn's objects.

Two classes: Platt's sigmoid on the network's logit, P = 1 / (1 + exp(a * logit + b)). More: temperature scaling,
P = softmax(beta * log p), which never changes which class is likeliest. A calibration is kept only where it lowers
the validation slice's log loss (a network trained without class weights is often calibrated already)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

EPS = 1e-7  # probabilities are clipped to [EPS, 1 - EPS] before their logarithm (float32 answers reach 0 and 1)


class _NetworkScores(ClassifierMixin, BaseEstimator):
    """The network's answers as a fitted scikit-learn classifier: its input is the network's own output (the logit
    for two classes, log-probabilities for more), passed through; scikit-learn's calibration fits on top of it."""

    def __init__(self, n_classes: int = 2):
        self.n_classes = n_classes

    def fit(self, X, y):
        self.classes_ = np.arange(self.n_classes)
        return self

    def decision_function(self, X):
        X = np.asarray(X, dtype=np.float64)
        return X[:, 0] if self.n_classes == 2 else X

    def predict(self, X):
        s = self.decision_function(X)
        return (s > 0).astype(int) if self.n_classes == 2 else s.argmax(axis=1)


def _scores(proba: np.ndarray) -> np.ndarray:
    """(n, k) probabilities -> what _NetworkScores passes on: the logit of P(class 1), or the log-probabilities."""
    p = np.clip(np.asarray(proba, dtype=np.float64), EPS, 1 - EPS)
    if p.shape[1] == 2:
        return np.log(p[:, 1:] / (1 - p[:, 1:]))
    return np.log(p)


def calibrate(proba: np.ndarray, calibration: dict | None) -> np.ndarray:
    """`proba` (n, k), the network's, through `calibration` (schema.json's `target.calibration`; None: as is)."""
    if not calibration:
        return proba
    s = _scores(proba)
    if calibration["method"] == "sigmoid":
        p1 = 1.0 / (1.0 + np.exp(calibration["a"] * s[:, 0] + calibration["b"]))
        return np.column_stack([1.0 - p1, p1])
    z = calibration["beta"] * s
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def fit_calibration(y: np.ndarray, proba: np.ndarray) -> tuple[dict | None, str]:
    """(calibration or None, a line saying what was chosen and why) from the validation slice's labels `y`
    (0..k-1) and the network's probabilities there. Kept only where it lowers the log loss there."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator
    from sklearn.metrics import log_loss

    k = proba.shape[1]
    y = np.asarray(y)
    if len(np.unique(y)) < k:
        return None, "not calibrated: the validation slice lacks a class"
    method = "sigmoid" if k == 2 else "temperature"
    scores = _scores(proba)
    fitted = CalibratedClassifierCV(FrozenEstimator(_NetworkScores(k).fit(scores, y)), method=method)
    fitted.fit(scores, y)
    calibrator = fitted.calibrated_classifiers_[0].calibrators[0]
    calibration = (
        {"method": "sigmoid", "a": float(calibrator.a_), "b": float(calibrator.b_)}
        if method == "sigmoid"
        else {"method": "temperature", "beta": float(calibrator.beta_)}
    )
    labels = list(range(k))
    before = log_loss(y, np.clip(proba, EPS, 1 - EPS), labels=labels)
    after = log_loss(y, calibrate(proba, calibration), labels=labels)
    if after >= before:
        return None, (
            f"not calibrated: {method} scaling did not lower the validation slice's log loss ({after:.4f} against "
            f"{before:.4f})"
        )
    return calibration, (
        f"probabilities calibrated on the validation slice ({method} scaling, scikit-learn): log loss there "
        f"{before:.4f} -> {after:.4f}"
    )


def check_calibration(calibration, bad) -> None:
    """schema.json's `target.calibration`: None, or the numbers fit_calibration writes (`bad(what)`: the error)."""
    if calibration is None:
        return
    needs = {"sigmoid": ("a", "b"), "temperature": ("beta",)}.get(
        calibration.get("method") if isinstance(calibration, dict) else None
    )
    if needs is None or not all(
        isinstance(calibration.get(n), int | float)
        and not isinstance(calibration.get(n), bool)
        and np.isfinite(calibration[n])
        for n in needs
    ):
        raise bad(
            "'target.calibration' should be {method: sigmoid, a, b} or {method: temperature, beta} with finite "
            f"numbers; found {calibration!r:.80}"
        )
