"""Run imbalance strategies side by side, honestly: per seed one stratified split, the test part untouched, every
strategy fitted on the training part alone. Optionally the course's leaky protocol beside it, labelled as such.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from keraslab.imbalance.ensemble import BalancedEnsemble
from keraslab.imbalance.strategies import (RESAMPLING, STRATEGIES, balanced_class_weight, check_strategy,
                                           check_target, resample)

METRICS = ("f1", "precision", "recall", "pr_auc", "balanced_accuracy", "accuracy")


@dataclass(frozen=True)
class LabSettings:
    hidden: tuple[int, ...] = (26, 15)  # n_features -> 26 -> 15 -> 1, the course's network
    epochs: int = 100
    batch_size: int = 32
    k: int = 3  # ensemble members
    gamma: float = 2.0
    alpha: float | None = 0.25
    k_neighbors: int = 5
    test_size: float = 0.2
    tune_threshold: bool = False
    validation_fraction: float = 0.2
    quiet: bool = True


class KerasTrainer:
    """Trains the lab's network. One compiled model per (n_features, loss) is kept and re-initialised for every fit
    (seeded), so the many fits of a comparison are traced and compiled once each."""

    def __init__(self, settings: LabSettings):
        self.settings = settings
        self._models = {}

    def _refitter(self, n_features: int, loss: str):
        from keraslab import models, training
        from keraslab.imbalance.focal import binary_focal_loss

        key = (n_features, loss)
        if key not in self._models:
            loss_obj = (binary_focal_loss(self.settings.gamma, self.settings.alpha) if loss == "focal"
                        else "binary_crossentropy")
            self._models[key] = training.Refitter(lambda: models.binary_net(n_features, self.settings.hidden),
                                                  loss=loss_obj, steps_per_epoch=100)
        return self._models[key]

    def fit(self, X, y, seed: int, *, loss: str = "bce", class_weight: dict | None = None) -> "FittedNet":
        net = self._refitter(X.shape[1], loss)
        net.fit(np.ascontiguousarray(X, np.float32), np.asarray(y, np.float32), seed=seed,
                epochs=self.settings.epochs, batch_size=self.settings.batch_size, class_weight=class_weight,
                quiet=self.settings.quiet)
        return FittedNet(net.model, net.model.get_weights())


class FittedNet:
    """A trained network's weights on a shared compiled model: predict_proba(X) -> P(class 1), shape (n,)."""

    def __init__(self, model, weights):
        self.model, self.weights = model, weights

    def predict_proba(self, X) -> np.ndarray:
        self.model.set_weights(self.weights)
        return np.asarray(self.model.predict(np.ascontiguousarray(X, np.float32), batch_size=2048,
                                             verbose=0)).ravel()


def fit_strategy(strategy: str, X_train, y_train, seed: int, trainer: KerasTrainer, settings: LabSettings):
    """Fit one strategy on a training part (nothing else is passed in). Returns an object with predict_proba."""
    check_strategy(strategy)
    y_train = check_target(y_train, strategy).astype(np.int64)
    if strategy == "baseline":
        return trainer.fit(X_train, y_train, seed)
    if strategy == "class_weight":
        return trainer.fit(X_train, y_train, seed, class_weight=balanced_class_weight(y_train))
    if strategy in RESAMPLING:
        X_res, y_res = resample(X_train, y_train, strategy, seed, settings.k_neighbors)
        return trainer.fit(X_res, y_res, seed)
    if strategy == "focal":
        return trainer.fit(X_train, y_train, seed, loss="focal")
    combine = "vote" if strategy == "ensemble_vote" else "mean"
    return BalancedEnsemble(lambda X, y, s: trainer.fit(X, y, s), k=settings.k, combine=combine,
                            seed=seed).fit(X_train, y_train)


def best_f1_threshold(y, proba) -> float:
    """The threshold in [0.05, 0.95] (step 0.01) that maximises F1 on (y, proba)."""
    from sklearn.metrics import f1_score

    grid = np.round(np.arange(0.05, 0.951, 0.01), 2)
    scores = [f1_score(y, (proba >= t).astype(int), zero_division=0) for t in grid]
    return float(grid[int(np.argmax(scores))])


def _scores(y_test, proba, threshold) -> dict:
    from keraslab.evaluation import binary_scores

    return binary_scores(y_test, proba, threshold)


def compare(X, y, *, strategies=STRATEGIES, seeds=(0, 1, 2, 3, 4), settings: LabSettings | None = None,
            preprocessor: Callable | None = None, protocol: str = "honest", trainer: KerasTrainer | None = None,
            progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Evaluate `strategies` over `seeds` on (X, y); y binary with 1 the class of interest.

    X: an array or DataFrame; `preprocessor()` returns a fresh object with fit/transform (default: scikit-learn's
    StandardScaler) that is fitted on each training part only. protocol "honest" (default) or "tutorial", which
    adds rows for the course's leaky protocol (preprocess and resample every row, then split) for the resampling
    strategies. Returns one row per (protocol, seed, strategy, threshold kind) with the metrics.
    """
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    settings = settings or LabSettings()
    for s in strategies:
        check_strategy(s)
    if protocol not in ("honest", "tutorial"):
        from keraslab.errors import UsageError

        raise UsageError(f"Invalid value for `protocol`. Expected one of honest, tutorial. Received: "
                         f"protocol={protocol!r}")
    y = check_target(y, "focal" if any(s in ("focal", "ensemble_vote", "ensemble_mean") for s in strategies)
                     else None).astype(np.int64)
    preprocessor = preprocessor or StandardScaler
    trainer = trainer or KerasTrainer(settings)
    rows = []
    for seed in seeds:
        idx_train, idx_test = train_test_split(np.arange(len(y)), test_size=settings.test_size, stratify=y,
                                               random_state=seed)
        X_tr_raw, X_te_raw = _take(X, idx_train), _take(X, idx_test)
        y_tr, y_te = y[idx_train], y[idx_test]
        if settings.tune_threshold:
            i_fit, i_val = train_test_split(np.arange(len(y_tr)), test_size=settings.validation_fraction,
                                            stratify=y_tr, random_state=seed)
        else:
            i_fit, i_val = np.arange(len(y_tr)), None
        prep = preprocessor().fit(_take(X_tr_raw, i_fit))
        X_fit, y_fit = prep.transform(_take(X_tr_raw, i_fit)), y_tr[i_fit]
        X_te = prep.transform(X_te_raw)
        ensemble = None
        for strategy in strategies:
            t0 = time.perf_counter()
            if strategy.startswith("ensemble") and ensemble is not None:
                # vote and mean combine the same k members: train them once per seed
                model = copy.copy(ensemble)
                model.combine = "vote" if strategy == "ensemble_vote" else "mean"
            else:
                model = fit_strategy(strategy, X_fit, y_fit, seed, trainer, settings)
                if strategy.startswith("ensemble"):
                    ensemble = model
            proba = model.predict_proba(X_te)
            seconds = time.perf_counter() - t0
            base = {"protocol": "honest", "seed": seed, "strategy": strategy, "train_rows": len(y_fit),
                    "test_rows": len(y_te), "seconds": seconds}
            rows.append({**base, "threshold_kind": "0.5", "threshold": 0.5, **_scores(y_te, proba, 0.5)})
            if settings.tune_threshold:
                val_proba = model.predict_proba(prep.transform(_take(X_tr_raw, i_val)))
                t = best_f1_threshold(y_tr[i_val], val_proba)
                rows.append({**base, "threshold_kind": "tuned", "threshold": t, **_scores(y_te, proba, t)})
            if progress:
                progress(f"seed {seed} {strategy}: F1 {rows[-1]['f1']:.3f} ({seconds:.1f} s)")
        if protocol == "tutorial":
            rows += _tutorial_rows(X, y, seed, [s for s in strategies if s in RESAMPLING], preprocessor, trainer,
                                   settings, progress)
    return pd.DataFrame(rows)


def _tutorial_rows(X, y, seed, strategies, preprocessor, trainer, settings, progress):
    """The course's protocol, reproduced to show its leak: scale every row, resample every row, THEN split, so
    copies (oversampling) or interpolations (SMOTE) of test rows sit in the training part."""
    from sklearn.model_selection import train_test_split

    rows = []
    X_all = preprocessor().fit(X).transform(X)
    for strategy in strategies:
        X_res, y_res = resample(X_all, y, strategy, seed, settings.k_neighbors)
        X_tr, X_te, y_tr, y_te = train_test_split(X_res, y_res, test_size=settings.test_size, stratify=y_res,
                                                  random_state=seed)
        model = trainer.fit(X_tr, y_tr, seed)
        proba = model.predict_proba(X_te)
        rows.append({"protocol": "tutorial (leaky: resampled before the split)", "seed": seed, "strategy": strategy,
                     "train_rows": len(y_tr), "test_rows": len(y_te), "seconds": float("nan"),
                     "threshold_kind": "0.5", "threshold": 0.5, **_scores(y_te, proba, 0.5)})
        if progress:
            progress(f"seed {seed} {strategy} (tutorial protocol): F1 {rows[-1]['f1']:.3f}")
    return rows


def _take(X, idx):
    return X.iloc[idx] if isinstance(X, pd.DataFrame) else np.asarray(X)[idx]


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd over seeds per (protocol, strategy, threshold kind)."""
    agg = rows.groupby(["protocol", "strategy", "threshold_kind"], sort=False)[list(METRICS) + ["threshold"]]
    mean, sd = agg.mean(), agg.std(ddof=1).fillna(0.0)
    out = mean.join(sd, rsuffix="_sd").reset_index()
    out["seeds"] = rows.groupby(["protocol", "strategy", "threshold_kind"], sort=False).size().to_numpy()
    return out


def summary_keys(table: pd.DataFrame) -> dict:
    """`<strategy>_<metric>` (+ `_sd`) for the honest protocol at 0.5; `<strategy>_tuned_<metric>` with a tuned
    threshold; `tutorial_<strategy>_<metric>` for the leaky protocol."""
    out = {}
    for row in table.itertuples(index=False):
        prefix = row.strategy
        if row.protocol != "honest":
            prefix = f"tutorial_{prefix}"
        elif row.threshold_kind == "tuned":
            prefix = f"{prefix}_tuned"
            out[f"{prefix}_threshold"] = row.threshold
        for metric in METRICS:
            out[f"{prefix}_{metric}"] = getattr(row, metric)
            out[f"{prefix}_{metric}_sd"] = getattr(row, f"{metric}_sd")
    return out
