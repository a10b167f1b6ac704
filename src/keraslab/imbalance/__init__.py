"""keraslab.imbalance: imbalance strategies over any (X, y), compared honestly.

- strategies: the one registry of strategies (`REGISTRY`, `STRATEGIES`) and their shared defaults (focal gamma and
  alpha, ensemble members, SMOTE neighbours), checks, `resample(X, y, strategy, seed)`, balanced class weights
- ensemble: `BalancedEnsemble`, k models on all minority rows + disjoint majority slices, vote or mean
- focal: `binary_focal_loss(gamma, alpha)` for Keras
- comparison: `compare(X, y, strategies, seeds, ...)`, `summarise`, the lab's network trainer
"""

from keraslab.imbalance.strategies import (
    BINARY_ONLY,
    ENSEMBLE_MEMBERS,
    FOCAL_ALPHA,
    FOCAL_GAMMA,
    K_NEIGHBORS,
    REGISTRY,
    RESAMPLING,
    STRATEGIES,
    Strategy,
    balanced_class_weight,
    check_strategy,
    check_target,
    make_sampler,
    parse_strategies,
    resample,
    training_inputs,
)
from keraslab.lazy import lazy_attributes, public_names

# The rest is imported when first used (PEP 562): the command line reads the registry above for its help, and
# `keraslab lessons` need not load pandas and scikit-learn for it.
_LAZY = {
    **dict.fromkeys(
        (
            "METRICS",
            "KerasTrainer",
            "LabSettings",
            "best_f1_threshold",
            "compare",
            "ensemble_combine",
            "fit_strategy",
            "summarise",
            "summary_keys",
        ),
        "comparison",
    ),
    "BalancedEnsemble": "ensemble",
    "binary_focal_loss": "focal",
}


__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = public_names(globals(), _LAZY)
