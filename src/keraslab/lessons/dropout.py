"""Lesson: dropout regularisation on the sonar data (the course's notebook 8).

60 sonar readings -> 60 -> 30 -> 15 ReLU -> 1 sigmoid, Adam, batch 8, 100 epochs, without and with Dropout(0.5)
after each hidden layer. The course wrote Dense(0.5) where it meant Dropout(0.5) (a layer of 0 units: its
"dropout" model predicted 0.5 for everything) and judged dropout on one unseeded 52-row test split. Here the two
networks meet on the same folds of a repeated stratified k-fold, and the report says whether the gain is larger
than the noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from keraslab import datasets, models, training
from keraslab.lessons.lesson import BaseConfig, epochs_of, register
from keraslab.runs import evaluation, plots
from keraslab.runs.report import Result

HIDDEN = (60, 30, 15)


@dataclass(frozen=True)
class DropoutConfig(BaseConfig):
    rate: float = field(default=0.5, metadata={"help": "dropout rate after each hidden layer"})
    folds: int = 5
    repeats: int = 5
    batch_size: int = 8
    threshold: float = 0.5
    split_test_size: float = 0.25
    split_seed: int = 1  # the course's single split


class _Sonar:
    """One compiled sonar network, re-initialised for each fit so that it is traced and compiled only once."""

    def __init__(self, rate: float, batch_size: int, n_train: int):

        # the same seed gives both networks the same initial weights on a fold (dropout adds no weights)
        self.net = training.Refitter(
            lambda: models.binary_net(60, HIDDEN, dropout=rate),
            loss="binary_crossentropy",
            steps_per_epoch=training.batches_per_epoch(n_train, batch_size),
        )

    def fit_score(self, x_tr, y_tr, x_te, y_te, *, seed, epochs, batch_size, threshold, monitor=False, quiet=True):

        history = self.net.fit(
            x_tr,
            y_tr,
            seed=seed,
            epochs=epochs,
            batch_size=batch_size,
            validation_data=(x_te, y_te) if monitor else None,
            quiet=quiet,
        )
        proba = training.predict(self.net.model, x_te).ravel()
        return float(np.mean((proba >= threshold) == y_te)), history, proba


def corrected_paired_t(diffs: np.ndarray, n_train: int, n_test: int):
    """Nadeau & Bengio's corrected resampled t-test for differences over repeated k-fold CV: the folds overlap, so
    the variance is inflated by (1/J + n_test/n_train). Returns (mean, corrected standard error, t, p two-sided)."""
    from scipy import stats

    j = len(diffs)
    mean = float(np.mean(diffs))
    var = float(np.var(diffs, ddof=1))
    se = float(np.sqrt((1.0 / j + n_test / n_train) * var)) if var > 0 else 0.0
    if se == 0.0:
        return mean, 0.0, float("inf") if mean else 0.0, 0.0 if mean else 1.0
    t = mean / se
    return mean, se, float(t), float(2 * stats.t.sf(abs(t), df=j - 1))


EPOCHS = (100, 10)  # (full, --quick): the default when --epochs is not given


@register(
    "dropout",
    "sonar: the same network without and with Dropout(0.5), compared over repeated k-fold CV",
    DropoutConfig,
    headline="cv_accuracy_dropout",
    course_figure="0.8077 (one 52-row split)",
    epochs=EPOCHS,
)
def run(config: DropoutConfig) -> Result:
    from sklearn.model_selection import RepeatedStratifiedKFold, train_test_split

    epochs = epochs_of(config, EPOCHS)
    folds, repeats = (3, 1) if config.quick else (config.folds, config.repeats)
    table = datasets.load_sonar(data_dir=config.data_dir, offline=config.offline, quiet=config.quiet)
    x = table.X.to_numpy(np.float32)
    y = (table.y == "R").to_numpy(np.float32)  # the course's encoding: rock = 1, mine = 0
    names = ["M (mine)", "R (rock)"]
    kw = {"epochs": epochs, "batch_size": config.batch_size, "threshold": config.threshold}

    cv = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=config.seed)
    splits = list(cv.split(x, y))
    nets = {
        "plain": _Sonar(0.0, config.batch_size, len(splits[0][0])),
        "dropout": _Sonar(config.rate, config.batch_size, len(splits[0][0])),
    }
    rows = []
    for i, (tr, te) in enumerate(splits):
        fold_seed = config.seed * 1000 + i
        plain, _, _ = nets["plain"].fit_score(x[tr], y[tr], x[te], y[te], seed=fold_seed, **kw)
        drop, _, _ = nets["dropout"].fit_score(x[tr], y[tr], x[te], y[te], seed=fold_seed, **kw)
        rows.append(
            {"fold": i, "repeat": i // folds, "accuracy_plain": plain, "accuracy_dropout": drop, "gain": drop - plain}
        )
    folds_frame = pd.DataFrame(rows)
    diffs = folds_frame["gain"].to_numpy()
    n_test = len(y) // folds
    gain, _se, _t, p = corrected_paired_t(diffs, len(y) - n_test, n_test)

    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=config.split_test_size, random_state=config.split_seed)
    split_plain, hist_plain, proba_plain = nets["plain"].fit_score(
        x_tr, y_tr, x_te, y_te, seed=config.seed, monitor=True, **kw
    )
    split_drop, hist_drop, proba_drop = nets["dropout"].fit_score(
        x_tr, y_tr, x_te, y_te, seed=config.seed, monitor=True, **kw
    )
    summary = {
        "cv_accuracy_plain": float(folds_frame["accuracy_plain"].mean()),
        "cv_accuracy_plain_sd": float(folds_frame["accuracy_plain"].std(ddof=1)),
        "cv_accuracy_dropout": float(folds_frame["accuracy_dropout"].mean()),
        "cv_accuracy_dropout_sd": float(folds_frame["accuracy_dropout"].std(ddof=1)),
        "split_accuracy_plain": split_plain,
        "split_accuracy_dropout": split_drop,
        "dropout_gain": gain,
        "dropout_gain_sd": float(np.std(diffs, ddof=1)),
        "dropout_gain_p_value": p,
    }
    history = (
        hist_plain.add_prefix("plain_")
        .rename(columns={"plain_epoch": "epoch"})
        .merge(hist_drop.add_prefix("dropout_").rename(columns={"dropout_epoch": "epoch"}), on="epoch")
    )
    result = Result(title="Dropout regularisation on the sonar data", summary=summary, history=history)
    result.text(
        f"{len(y)} sonar returns (111 mines, 97 rocks), 60 features. Network 60 -> 60 -> 30 -> 15 -> 1, "
        f"Adam, batch {config.batch_size}, {epochs} epochs; the dropout model adds Dropout({config.rate}) "
        f"after each hidden layer. Both models train on the same {folds * repeats} folds ({repeats} x "
        f"{folds}-fold stratified CV, seed {config.seed}) with the same initial seed per fold."
    )
    words = verdict_words(diffs, gain, p, epochs=epochs, quick=config.quick)
    result.heading("Did dropout help?")
    result.text(words)
    result.metrics["verdict"] = words
    result.figure(
        "cv_accuracy",
        plots.bars(
            ["without dropout", f"with Dropout({config.rate})"],
            [summary["cv_accuracy_plain"], summary["cv_accuracy_dropout"]],
            [summary["cv_accuracy_plain_sd"], summary["cv_accuracy_dropout_sd"]],
            title="cross-validated accuracy (mean ± sd over folds)",
            ylabel="accuracy",
        ),
    )
    result.table("folds", folds_frame, "accuracy per fold, both models on the same fold")
    result.heading("The course's single split")
    result.text(
        f"test_size {config.split_test_size}, random_state {config.split_seed}: {len(y_tr)} training and "
        f"{len(y_te)} test rows. Without dropout {split_plain:.4f}, with dropout {split_drop:.4f}."
    )
    for key, title, proba, hist in (
        ("plain", "Without dropout", proba_plain, hist_plain),
        ("dropout", f"With Dropout({config.rate})", proba_drop, hist_drop),
    ):
        evaluation.add_classifier_report(
            result,
            key,
            f"{title} (single split)",
            y_te.astype(int),
            (proba >= config.threshold).astype(int),
            names,
            hist,
        )
    result.text(
        "Fixed from the course: real Dropout layers (not Dense(0.5)), an explicit threshold (np.round(0.5) "
        "is 0, so its constant 0.5 predictions all became 'mine'), and seeds for every fit."
    )
    return result


def verdict_words(diffs, gain: float, p: float, *, epochs: int, quick: bool) -> str:
    """What the folds say about dropout: nothing from a quick run (too few folds and epochs for the test), else
    helped / hurt when the corrected paired t-test gives p < 0.05, else no gain beyond the noise."""
    if quick:
        return (
            f"No conclusion from a quick run: {len(diffs)} folds of {epochs} epochs are too few to tell whether "
            f"dropout helps (paired gain {gain:+.3f}, corrected paired t-test p = {p:.2f}, shown but not read). "
            f"Run without --quick."
        )
    if p < 0.05:
        verdict = "helped" if gain > 0 else "hurt"
        return (
            f"Dropout {verdict}: the paired gain of {gain:+.3f} is larger than the noise (corrected paired "
            f"t-test, p = {p:.3f}" + (", a weak result: close to the 0.05 line" if p > 0.01 else "") + ")."
        )
    return (
        f"Dropout did not help beyond the noise: the paired gain is {gain:+.3f} (sd {np.std(diffs, ddof=1):.3f}"
        f" over {len(diffs)} folds; corrected paired t-test p = {p:.2f}). The course's single 52-row split "
        f"(0.77 -> 0.81) moves by one or two rows, which one split cannot tell from chance."
    )
