"""keraslab.imbalance: imbalance strategies over any (X, y), compared honestly.

- strategies: names, checks, `resample(X, y, strategy, seed)` (imbalanced-learn samplers), balanced class weights
- ensemble: `BalancedEnsemble`, k models on all minority rows + disjoint majority slices, vote or mean
- focal: `binary_focal_loss(gamma, alpha)` for Keras
- compare: `compare(X, y, strategies, seeds, ...)`, `summarise`, the lab's network trainer
"""

from keraslab.imbalance.compare import (METRICS, KerasTrainer, LabSettings, best_f1_threshold, compare,
                                        fit_strategy, summarise, summary_keys)
from keraslab.imbalance.ensemble import BalancedEnsemble
from keraslab.imbalance.focal import binary_focal_loss
from keraslab.imbalance.strategies import (BINARY_ONLY, RESAMPLING, STRATEGIES, balanced_class_weight,
                                           check_strategy, check_target, make_sampler, resample)

__all__ = ["METRICS", "KerasTrainer", "LabSettings", "best_f1_threshold", "compare", "fit_strategy", "summarise",
           "summary_keys", "BalancedEnsemble", "binary_focal_loss", "BINARY_ONLY", "RESAMPLING", "STRATEGIES",
           "balanced_class_weight", "check_strategy", "check_target", "make_sampler", "resample"]
