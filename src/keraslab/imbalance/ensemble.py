"""A balanced ensemble: k models, each trained on every minority row plus its own disjoint slice of the majority,
combined by majority vote or by mean probability. Works with any model-building function."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from keraslab.errors import UsageError
from keraslab.imbalance.strategies import check_target


class BalancedEnsemble:
    """fit / predict / predict_proba over `fit_model(X, y, seed) -> model with predict_proba(X) -> P(class 1)`.

    combine: "vote" (class 1 when more than half the models say so) or "mean" (mean probability >= threshold).
    """

    def __init__(
        self, fit_model: Callable, *, k: int = 3, combine: str = "mean", seed: int = 0, threshold: float = 0.5
    ):
        self.fit_model = fit_model
        self.k = k
        self.combine = combine
        self.seed = seed
        self.threshold = threshold

    def slices(self, y) -> list[np.ndarray]:
        """Row indices for each model: all minority rows + one of k disjoint, seeded slices of the majority."""
        y = check_target(y, "ensemble_mean")
        if not isinstance(self.k, (int, np.integer)) or self.k < 1:
            raise UsageError(f"Invalid value for `k`. Expected a positive integer. Received: k={self.k!r}")
        classes, counts = np.unique(y, return_counts=True)
        minority, majority = classes[np.argmin(counts)], classes[np.argmax(counts)]
        self.classes_ = classes
        self.minority_ = minority
        minority_idx = np.flatnonzero(y == minority)
        majority_idx = np.random.default_rng(self.seed).permutation(np.flatnonzero(y == majority))
        return [np.concatenate([minority_idx, part]) for part in np.array_split(majority_idx, self.k)]

    def fit(self, X, y) -> BalancedEnsemble:
        if self.combine not in ("vote", "mean"):
            raise UsageError(
                f"Invalid value for `combine`. Expected one of vote, mean. Received: combine={self.combine!r}"
            )
        y = np.asarray(y)
        self.models_ = [self.fit_model(X[idx], y[idx], self.seed * 100 + i) for i, idx in enumerate(self.slices(y))]
        return self

    def member_probabilities(self, X) -> np.ndarray:
        """(k, n): each model's P(minority class)."""
        return np.stack([np.asarray(m.predict_proba(X)).ravel() for m in self.models_])

    def predict_proba(self, X) -> np.ndarray:
        """P(class 1): the mean probability, or for combine="vote" the share of models voting for class 1."""
        p = self.member_probabilities(X)
        if self.combine == "vote":
            return (p >= self.threshold).mean(axis=0)
        return p.mean(axis=0)

    def predict(self, X) -> np.ndarray:
        p = self.predict_proba(X)
        if self.combine == "vote":
            return (p > 0.5).astype(np.int64)  # a strict majority of the k models
        return (p >= self.threshold).astype(np.int64)
