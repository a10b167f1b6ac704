"""The imbalance strategies: one registry of their names, kinds and defaults, and the checks every strategy's
training data must pass.

Each strategy only ever sees the training part: `resample(X_train, y_train, ...)` returns new training rows and
never touches a test set, so leakage cannot happen by construction. Everything else that lists strategies (the
lab's `compare`, the imbalance lesson, `keraslab train --imbalance`, the README) reads this registry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from keraslab.errors import UsageError


@dataclass(frozen=True)
class Strategy:
    name: str
    kind: str  # "plain" | "class_weight" | "resample" | "loss" | "ensemble"
    binary_only: bool
    summary: str  # one line, for help texts and reports


REGISTRY: dict[str, Strategy] = {
    s.name: s
    for s in (
        Strategy("baseline", "plain", False, "the network as it is"),
        Strategy("class_weight", "class_weight", False, "balanced class weights: n / (classes x class count)"),
        Strategy("undersample", "resample", False, "random under-sampling of the majority class"),
        Strategy("oversample", "resample", False, "random over-sampling of the minority class"),
        Strategy("smote", "resample", False, "SMOTE: new minority rows between minority neighbours"),
        Strategy(
            "ensemble_vote",
            "ensemble",
            True,
            "k networks on every minority row and a disjoint slice of the majority each, majority vote",
        ),
        Strategy("ensemble_mean", "ensemble", True, "the same k networks, mean probability"),
        Strategy("focal", "loss", True, "binary focal loss instead of cross-entropy"),
    )
}

STRATEGIES: tuple[str, ...] = tuple(REGISTRY)
RESAMPLING: tuple[str, ...] = tuple(n for n, s in REGISTRY.items() if s.kind == "resample")
BINARY_ONLY: tuple[str, ...] = tuple(n for n, s in REGISTRY.items() if s.binary_only)

# The defaults every user of the strategies shares (the lesson, compare(), keraslab train).
FOCAL_GAMMA = 2.0  # Lin et al.'s gamma: (1 - p_t)^2 down-weights the well-classified rows
# alpha weights the class of interest (label 1, the minority) and 1 - alpha the majority. Keras's default, 0.25, is
# Lin et al.'s for object detection, where gamma alone already silences thousands of easy background boxes per
# object; with a 1:3 imbalance such as churn's (26.6% churners) it down-weights the very class the lab is about.
# 0.75 weights the minority about as its balanced class weight does. Measured on churn (`keraslab run imbalance
# --strategies baseline,class_weight,focal --alpha A --seeds 5`, 100 epochs, honest protocol, threshold 0.5):
# alpha 0.25 gives churn F1 0.373 +- 0.030 (recall 0.257), alpha 0.75 gives 0.587 +- 0.004 (recall 0.727); the
# ranking hardly changes (PR-AUC 0.584 against 0.593): alpha moves the decision at 0.5.
FOCAL_ALPHA = 0.75
ENSEMBLE_MEMBERS = 3  # k: the majority is cut into k disjoint slices (churn: ~1,650 rows each against 1,495)
K_NEIGHBORS = 5  # SMOTE's neighbours (imbalanced-learn's default)


def check_strategy(name: str) -> str:
    if name not in REGISTRY:
        raise UsageError(f"Unknown imbalance strategy {name!r}. Expected one of: {', '.join(STRATEGIES)}")
    return name


def parse_strategies(text: str) -> list[str]:
    """'baseline, smote' -> ['baseline', 'smote'], each checked; at least one."""
    names = [s.strip() for s in text.split(",") if s.strip()]
    if not names:
        raise UsageError(f"No strategies given; expected some of: {', '.join(STRATEGIES)}")
    return [check_strategy(n) for n in names]


def check_target(y, strategy: str | None = None) -> np.ndarray:
    """At least two classes; exactly two for the binary-only strategies."""
    y = np.asarray(y)
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        only = classes[0].item() if hasattr(classes[0], "item") else classes[0]
        raise UsageError(f"The target has one class only ({only!r} x {counts[0]}); a classifier needs at least two")
    if strategy in BINARY_ONLY and len(classes) != 2:
        raise UsageError(
            f"Strategy {strategy!r} needs a binary target; found {len(classes)} classes "
            f"({', '.join(map(str, classes))})"
        )
    return y


def class_counts(y) -> dict:
    classes, counts = np.unique(np.asarray(y), return_counts=True)
    return {c.item() if hasattr(c, "item") else c: int(n) for c, n in zip(classes, counts, strict=True)}


def make_sampler(strategy: str, seed: int, k_neighbors: int = K_NEIGHBORS):
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


def resample(X, y, strategy: str, seed: int, k_neighbors: int = K_NEIGHBORS):
    """Resample a training part with a resampling strategy. Returns (X, y) with the classes balanced."""
    y = check_target(y, strategy)
    if strategy == "smote":
        counts = class_counts(y)
        smallest = min(counts.values())
        if smallest < k_neighbors + 1:
            raise UsageError(
                f"SMOTE with k_neighbors={k_neighbors} needs at least {k_neighbors + 1} rows of every class; the "
                f"class counts are {counts}, so the largest usable k_neighbors is {max(smallest - 1, 0)}"
                + (" (too few to use SMOTE at all)" if smallest < 2 else "")
            )
    sampler = make_sampler(strategy, seed, k_neighbors)
    return sampler.fit_resample(X, y)


def training_inputs(strategy: str, X, y, seed: int, k_neighbors: int = K_NEIGHBORS):
    """What a strategy changes about one model's training: (rows X, labels y, class weights or None, focal loss?).

    class_weight: balanced weights; resample: resampled rows; loss: the focal loss; plain and ensemble: the rows as
    given (an ensemble balances by giving each of its members its own slice, see BalancedEnsemble)."""
    kind = REGISTRY[check_strategy(strategy)].kind
    if kind == "class_weight":
        return X, y, balanced_class_weight(y), False
    if kind == "resample":
        X, y = resample(X, y, strategy, seed, k_neighbors)
        return X, y, None, False
    return X, y, None, kind == "loss"


def balanced_class_weight(y) -> dict:
    """scikit-learn's 'balanced' weights, n / (n_classes * count), as Keras's class_weight dict."""
    from sklearn.utils.class_weight import compute_class_weight

    classes = np.unique(y)
    weights = compute_class_weight("balanced", classes=classes, y=y)
    return {int(c): float(w) for c, w in zip(classes, weights, strict=True)}
