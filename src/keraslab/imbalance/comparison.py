"""Run imbalance strategies side by side, honestly: per seed one stratified split, the test part untouched, every
strategy fitted on the training part alone. Optionally the course's leaky protocol beside it, labelled as such.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from keraslab import models, training
from keraslab.errors import UsageError
from keraslab.imbalance.ensemble import BalancedEnsemble
from keraslab.imbalance.focal import binary_focal_loss
from keraslab.imbalance.strategies import (
    BINARY_ONLY,
    ENSEMBLE_MEMBERS,
    FOCAL_ALPHA,
    FOCAL_GAMMA,
    K_NEIGHBORS,
    REGISTRY,
    RESAMPLING,
    STRATEGIES,
    check_strategy,
    check_target,
    resample,
    training_inputs,
)
from keraslab.metrics import binary_scores
from keraslab.training import Refitter

METRICS = ("f1", "precision", "recall", "pr_auc", "balanced_accuracy", "accuracy")


@dataclass(frozen=True)
class LabSettings:
    hidden: tuple[int, ...] = models.IMBALANCE_HIDDEN  # n_features -> 26 -> 15 -> 1, the imbalance notebook's
    epochs: int = 100
    batch_size: int = 32
    k: int = ENSEMBLE_MEMBERS  # ensemble members
    gamma: float = FOCAL_GAMMA
    alpha: float | None = FOCAL_ALPHA  # see keraslab.imbalance.strategies for the reason
    k_neighbors: int = K_NEIGHBORS
    test_size: float = 0.2
    tune_threshold: bool = False
    validation_fraction: float = 0.2
    quiet: bool = True


class KerasTrainer:
    """Trains the lab's network: `build(n_features)` (an uncompiled Keras model with one sigmoid output; default:
    inputs -> settings.hidden ReLU layers -> 1 sigmoid). One compiled model per (n_features, loss) is kept and
    re-initialised for every fit (seeded), so the many fits of a comparison are traced and compiled once each."""

    def __init__(self, settings: LabSettings, build=None):
        self.settings = settings
        self.build = build or (lambda n_features: models.binary_net(n_features, settings.hidden))
        self._models = {}

    def _refitter(self, n_features: int, loss: str) -> Refitter:
        key = (n_features, loss)
        if key not in self._models:
            loss_obj = (
                binary_focal_loss(self.settings.gamma, self.settings.alpha)
                if loss == "focal"
                else "binary_crossentropy"
            )
            self._models[key] = Refitter(lambda: self.build(n_features), loss=loss_obj, steps_per_epoch=100)
        return self._models[key]

    def fit(self, X, y, seed: int, *, loss: str = "bce", class_weight: dict | None = None) -> FittedNet:
        net = self._refitter(X.shape[1], loss)
        training.fit(
            net.fresh(seed),
            np.ascontiguousarray(X, np.float32),
            np.asarray(y, np.float32),
            epochs=self.settings.epochs,
            batch_size=self.settings.batch_size,
            class_weight=class_weight,
            verbose=0 if self.settings.quiet else 2,
        )
        return FittedNet(net.model, net.model.get_weights())


class FittedNet:
    """A trained network's weights on a shared compiled model: predict_proba(X) -> P(class 1), shape (n,)."""

    def __init__(self, model, weights):
        self.model, self.weights = model, weights

    def predict_proba(self, X) -> np.ndarray:
        self.model.set_weights(self.weights)
        return np.asarray(self.model.predict(np.ascontiguousarray(X, np.float32), batch_size=2048, verbose=0)).ravel()


def fit_strategy(strategy: str, X_train, y_train, seed: int, trainer: KerasTrainer, settings: LabSettings):
    """Fit one strategy on a training part (nothing else is passed in). Returns an object with predict_proba."""
    y_train = check_target(y_train, check_strategy(strategy)).astype(np.int64)
    if REGISTRY[strategy].kind == "ensemble":
        return BalancedEnsemble(
            lambda X, y, s: trainer.fit(X, y, s), k=settings.k, combine=ensemble_combine(strategy), seed=seed
        ).fit(X_train, y_train)
    X_fit, y_fit, class_weight, focal = training_inputs(strategy, X_train, y_train, seed, settings.k_neighbors)
    return trainer.fit(X_fit, y_fit, seed, loss="focal" if focal else "bce", class_weight=class_weight)


def ensemble_combine(strategy: str) -> str:
    """ "vote" or "mean": how an ensemble strategy combines its members."""
    return "vote" if strategy == "ensemble_vote" else "mean"


def best_f1_threshold(y, proba) -> float:
    """The threshold in [0.05, 0.95] (step 0.01) that maximises F1 on (y, proba)."""
    from sklearn.metrics import f1_score

    grid = np.round(np.arange(0.05, 0.951, 0.01), 2)
    scores = [f1_score(y, (proba >= t).astype(int), zero_division=0) for t in grid]
    return float(grid[int(np.argmax(scores))])


def compare(
    X,
    y,
    *,
    strategies=STRATEGIES,
    seeds=(0, 1, 2, 3, 4),
    settings: LabSettings | None = None,
    preprocessor: Callable | None = None,
    protocol: str = "honest",
    trainer: KerasTrainer | None = None,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Evaluate `strategies` over `seeds` on (X, y); y binary with 1 the class of interest.

    X: an array or DataFrame; `preprocessor()` returns a fresh object with fit/transform (default: scikit-learn's
    StandardScaler) that is fitted on each training part only. protocol "honest" (default) or "tutorial", which
    adds rows for the course's leaky protocol (preprocess and resample every row, then split) for the resampling
    strategies. Returns one row per (protocol, seed, strategy, threshold kind) with the metrics.
    """
    from sklearn.preprocessing import StandardScaler

    settings = settings or LabSettings()
    for s in strategies:
        check_strategy(s)
    if protocol not in ("honest", "tutorial"):
        raise UsageError(
            f"Invalid value for `protocol`. Expected one of honest, tutorial. Received: protocol={protocol!r}"
        )
    y = check_target(y, next((s for s in strategies if s in BINARY_ONLY), None)).astype(np.int64)
    preprocessor = preprocessor or StandardScaler
    trainer = trainer or KerasTrainer(settings)
    rows = []
    for seed in seeds:
        split = HonestSplit.make(X, y, seed, settings, preprocessor)
        rows += _honest_rows(split, seed, strategies, trainer, settings, progress)
        if protocol == "tutorial":
            rows += _tutorial_rows(
                X, y, seed, [s for s in strategies if s in RESAMPLING], preprocessor, trainer, settings, progress
            )
    return pd.DataFrame(rows)


@dataclass
class HonestSplit:
    """One seed's stratified split: the preprocessed rows to fit on, the untouched test rows, and (when thresholds
    are tuned) a validation slice of the training part. The preprocessing is fitted on the rows to fit on only."""

    X_fit: np.ndarray
    y_fit: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    X_val: np.ndarray | None
    y_val: np.ndarray | None

    @classmethod
    def make(cls, X, y, seed: int, settings: LabSettings, preprocessor) -> HonestSplit:
        from sklearn.model_selection import train_test_split

        idx_train, idx_test = train_test_split(
            np.arange(len(y)), test_size=settings.test_size, stratify=y, random_state=seed
        )
        X_train, y_train = _take(X, idx_train), y[idx_train]
        i_fit, i_val = np.arange(len(y_train)), None
        if settings.tune_threshold:
            i_fit, i_val = train_test_split(
                i_fit, test_size=settings.validation_fraction, stratify=y_train, random_state=seed
            )
        prep = preprocessor().fit(_take(X_train, i_fit))
        X_val = None if i_val is None else prep.transform(_take(X_train, i_val))
        return cls(
            prep.transform(_take(X_train, i_fit)),
            y_train[i_fit],
            prep.transform(_take(X, idx_test)),
            y[idx_test],
            X_val,
            None if i_val is None else y_train[i_val],
        )


def _honest_rows(split: HonestSplit, seed, strategies, trainer, settings, progress) -> list[dict]:
    """Every strategy fitted on the split's training rows and scored on its test rows (at 0.5, and at the threshold
    tuned on the validation slice when settings.tune_threshold)."""
    rows, ensemble = [], None
    for strategy in strategies:
        t0 = time.perf_counter()
        if REGISTRY[strategy].kind == "ensemble" and ensemble is not None:
            model = copy.copy(ensemble)  # vote and mean combine the same k members: train them once per seed
            model.combine = ensemble_combine(strategy)
        else:
            model = fit_strategy(strategy, split.X_fit, split.y_fit, seed, trainer, settings)
            if REGISTRY[strategy].kind == "ensemble":
                ensemble = model
        proba = model.predict_proba(split.X_test)
        seconds = time.perf_counter() - t0
        base = {
            "protocol": "honest",
            "seed": seed,
            "strategy": strategy,
            "train_rows": len(split.y_fit),
            "test_rows": len(split.y_test),
            "seconds": seconds,
        }
        rows.append({**base, "threshold_kind": "0.5", "threshold": 0.5, **binary_scores(split.y_test, proba, 0.5)})
        if settings.tune_threshold:
            t = best_f1_threshold(split.y_val, model.predict_proba(split.X_val))
            rows.append({**base, "threshold_kind": "tuned", "threshold": t, **binary_scores(split.y_test, proba, t)})
        if progress:
            progress(f"seed {seed}, strategy {strategy}: F1 {rows[-1]['f1']:.3f} ({seconds:.1f} s)")
    return rows


def _tutorial_rows(X, y, seed, strategies, preprocessor, trainer, settings, progress):
    """The course's protocol, reproduced to show its leak: scale every row, resample every row, THEN split, so
    copies (oversampling) or interpolations (SMOTE) of test rows sit in the training part."""
    from sklearn.model_selection import train_test_split

    rows = []
    X_all = preprocessor().fit(X).transform(X)
    for strategy in strategies:
        X_res, y_res = resample(X_all, y, strategy, seed, settings.k_neighbors)
        X_tr, X_te, y_tr, y_te = train_test_split(
            X_res, y_res, test_size=settings.test_size, stratify=y_res, random_state=seed
        )
        model = trainer.fit(X_tr, y_tr, seed)
        proba = model.predict_proba(X_te)
        rows.append(
            {
                "protocol": "tutorial (leaky: resampled before the split)",
                "seed": seed,
                "strategy": strategy,
                "train_rows": len(y_tr),
                "test_rows": len(y_te),
                "seconds": float("nan"),
                "threshold_kind": "0.5",
                "threshold": 0.5,
                **binary_scores(y_te, proba, 0.5),
            }
        )
        if progress:
            progress(f"seed {seed}, strategy {strategy} (tutorial protocol): F1 {rows[-1]['f1']:.3f}")
    return rows


def _take(X, idx):
    return X.iloc[idx] if isinstance(X, pd.DataFrame) else np.asarray(X)[idx]


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd over seeds per (protocol, strategy, threshold kind); the sd is NaN for a single seed (there is no
    spread to show, and 0.0 would claim one)."""
    agg = rows.groupby(["protocol", "strategy", "threshold_kind"], sort=False)[[*list(METRICS), "threshold"]]
    mean, sd = agg.mean(), agg.std(ddof=1)
    out = mean.join(sd.add_suffix("_sd")).reset_index()
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
            if row.seeds > 1:  # one seed has no sd
                out[f"{prefix}_{metric}_sd"] = getattr(row, f"{metric}_sd")
    return out
