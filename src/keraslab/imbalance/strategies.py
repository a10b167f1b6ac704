"""The imbalance strategies by name, and the checks every strategy's training data must pass.

Each strategy only ever sees the training part: `resample(X_train, y_train, ...)` returns new training rows and
never touches a test set, so leakage cannot happen by construction.
"""

from __future__ import annotations

import numpy as np

from keraslab.errors import UsageError

STRATEGIES = ("baseline", "class_weight", "undersample", "oversample", "smote", "ensemble_vote", "ensemble_mean",
              "focal")
RESAMPLING = ("undersample", "oversample", "smote")
BINARY_ONLY = ("ensemble_vote", "ensemble_mean", "focal")


def check_strategy(name: str) -> str:
    if name not in STRATEGIES:
        raise UsageError(f"Unknown imbalance strategy {name!r}. Expected one of: {', '.join(STRATEGIES)}")
    return name


def check_target(y, strategy: str | None = None) -> np.ndarray:
    """At least two classes; exactly two for the binary-only strategies."""
    y = np.asarray(y)
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        only = classes[0].item() if hasattr(classes[0], "item") else classes[0]
        raise UsageError(f"The target has one class only ({only!r} x {counts[0]}); a classifier needs at least two")
    if strategy in BINARY_ONLY and len(classes) != 2:
        raise UsageError(f"Strategy {strategy!r} needs a binary target; found {len(classes)} classes "
                         f"({', '.join(map(str, classes))})")
    return y


def class_counts(y) -> dict:
    classes, counts = np.unique(np.asarray(y), return_counts=True)
    return {c.item() if hasattr(c, "item") else c: int(n) for c, n in zip(classes, counts)}


def make_sampler(strategy: str, seed: int, k_neighbors: int = 5):
    """The imbalanced-learn sampler for a resampling strategy, seeded."""
    from imblearn.over_sampling import SMOTE, RandomOverSampler
    from imblearn.under_sampling import RandomUnderSampler

    check_strategy(strategy)
    if strategy == "undersample":
        return RandomUnderSampler(random_state=seed)
    if strategy == "oversample":
        return RandomOverSampler(random_state=seed)
    if strategy == "smote":
        return SMOTE(k_neighbors=k_neighbors, random_state=seed)
    raise UsageError(f"Strategy {strategy!r} does not resample; resampling strategies: {', '.join(RESAMPLING)}")


def resample(X, y, strategy: str, seed: int, k_neighbors: int = 5):
    """Resample a training part with a resampling strategy. Returns (X, y) with the classes balanced."""
    y = check_target(y, strategy)
    if strategy == "smote":
        counts = class_counts(y)
        smallest = min(counts.values())
        if smallest < k_neighbors + 1:
            raise UsageError(
                f"SMOTE with k_neighbors={k_neighbors} needs at least {k_neighbors + 1} rows of every class; the "
                f"class counts are {counts}, so the largest usable k_neighbors is {max(smallest - 1, 0)}"
                + (" (too few to use SMOTE at all)" if smallest < 2 else ""))
    sampler = make_sampler(strategy, seed, k_neighbors)
    return sampler.fit_resample(X, y)


def balanced_class_weight(y) -> dict:
    """scikit-learn's 'balanced' weights, n / (n_classes * count), as Keras's class_weight dict."""
    from sklearn.utils.class_weight import compute_class_weight

    classes = np.unique(y)
    weights = compute_class_weight("balanced", classes=classes, y=y)
    return {int(c): float(w) for c, w in zip(classes, weights)}
