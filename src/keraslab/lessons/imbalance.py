"""Lesson: imbalanced data, every strategy of keraslab.imbalance compared honestly (the course's notebook 9,
done right).

The course resampled the whole churn table before splitting it, so copies and SMOTE interpolations of its test
rows sat in its training data (its over-sampling and SMOTE F1 of 0.79 / 0.82 are inflated), and it never built the
balanced ensemble or the focal loss it described. Here every seed has one stratified test split that no strategy
touches; each strategy resamples or reweights the training part only. `--protocol tutorial` adds the course's
leaky protocol, labelled as such, next to the honest numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from keraslab import datasets
from keraslab.errors import UsageError
from keraslab.imbalance import (
    ENSEMBLE_MEMBERS,
    FOCAL_ALPHA,
    FOCAL_GAMMA,
    K_NEIGHBORS,
    STRATEGIES,
    LabSettings,
    compare,
    parse_strategies,
    summarise,
    summary_keys,
)
from keraslab.lessons.lesson import BaseConfig, epochs_of, register
from keraslab.runs import plots
from keraslab.runs.report import Result, pm
from keraslab.tables import ChurnPreprocessor, TablePreprocessor

# column names of the strategies table, short enough that it fits a 1280-pixel page
_SHORT = {"threshold_kind": "threshold kind", "balanced_accuracy": "balanced acc.", "pr_auc": "PR-AUC"}


@dataclass(frozen=True)
class ImbalanceConfig(BaseConfig):
    dataset: str = field(default="churn", metadata={"help": "a registered table with a binary target"})
    strategies: str = field(
        default=",".join(STRATEGIES),
        metadata={"help": f"comma-separated, among: {', '.join(STRATEGIES)} (default: all of them)"},
    )
    seeds: int = field(default=5, metadata={"help": "seeds (splits and initialisations) to average over"})
    protocol: Literal["honest", "tutorial"] = field(
        default="honest",
        metadata={"help": "tutorial adds the course's leaky protocol (resample, then split) beside the honest one"},
    )
    tune_threshold: bool = field(
        default=False,
        metadata={"help": "also pick each strategy's threshold on a validation slice of the training part (max F1)"},
    )
    k: int = field(default=ENSEMBLE_MEMBERS, metadata={"help": "models in the balanced ensemble"})
    gamma: float = field(default=FOCAL_GAMMA, metadata={"help": "focal loss focusing parameter"})
    alpha: float = field(
        default=FOCAL_ALPHA,
        metadata={
            "help": "focal loss weight of the minority class (the majority gets 1 - alpha); Keras's default 0.25 "
            "down-weights the minority (see keraslab.imbalance.strategies)"
        },
    )
    k_neighbors: int = field(default=K_NEIGHBORS, metadata={"help": "SMOTE's neighbours"})
    batch_size: int = 32


def binary_table(name: str, config):
    """(X frame, y 0/1 with 1 the class of interest, positive label, preprocessor factory) for a registered table."""
    spec = datasets.get_spec(name)
    if spec.kind != "table":
        raise UsageError(f"Dataset {name!r} is not a table; the imbalance lab needs a table with a binary target")
    table = datasets.load(name, data_dir=config.data_dir, offline=config.offline, quiet=config.quiet)
    target = table.y
    values = target.value_counts()
    if len(values) != 2:
        raise UsageError(f"Dataset {name!r} has no binary target: {table.target!r} takes {len(values)} values")
    if name == "churn":
        return table.X, (target == "Yes").to_numpy(np.int64), "Yes (churn)", ChurnPreprocessor, table
    positive = values.idxmin()
    return (
        table.X,
        (target == positive).to_numpy(np.int64),
        f"{positive} (minority)",
        lambda: TablePreprocessor(),
        table,
    )


EPOCHS = (100, 3)  # (full, --quick): the default when --epochs is not given


@register(
    "imbalance",
    f"imbalanced churn: {len(STRATEGIES)} strategies on untouched test splits (and the course's leak, labelled)",
    ImbalanceConfig,
    headline="best_f1",
    course_figure="0.82 (SMOTE, leaky)",
    own_seeds=True,
    epochs=EPOCHS,
)
def run(config: ImbalanceConfig) -> Result:
    strategies = parse_strategies(config.strategies)
    epochs = epochs_of(config, EPOCHS)
    n_seeds = 1 if config.quick else config.seeds
    seeds = [config.seed + i for i in range(n_seeds)]
    X, y, positive, prep, table = binary_table(config.dataset, config)
    settings = LabSettings(
        epochs=epochs,
        batch_size=config.batch_size,
        k=config.k,
        gamma=config.gamma,
        alpha=config.alpha,
        k_neighbors=config.k_neighbors,
        tune_threshold=config.tune_threshold,
        quiet=True,
    )
    progress = None if config.quiet else print
    rows = compare(
        X,
        y,
        strategies=strategies,
        seeds=seeds,
        settings=settings,
        preprocessor=prep,
        protocol=config.protocol,
        progress=progress,
    )
    table_summary = summarise(rows)
    summary = summary_keys(table_summary)
    honest = table_summary[(table_summary.protocol == "honest") & (table_summary.threshold_kind == "0.5")]
    best = honest.loc[honest["f1"].idxmax()]
    summary["best_f1"] = float(best["f1"])
    if "baseline" in strategies:
        summary["best_minus_baseline_f1"] = float(best["f1"]) - summary["baseline_f1"]

    result = Result(
        title=f"Imbalanced data: {len(strategies)} strategies on {config.dataset}",
        summary=summary,
        metrics={"rows": rows.to_dict(orient="records"), "best_strategy": best["strategy"]},
    )
    n_pos = int(y.sum())
    result.text(
        f"{len(y)} rows ({'; '.join(table.changes) or 'as loaded'}), {n_pos} of class {positive} "
        f"({n_pos / len(y):.1%}). For each of {n_seeds} seeds ({seeds[0]}-{seeds[-1]}): one stratified 80/20 "
        f"split; the preprocessing is fitted and every strategy resamples or reweights on the training part "
        f"only; the test part is never touched. Network: inputs -> 26 ReLU -> 15 ReLU -> 1 sigmoid, Adam, "
        f"{epochs} epochs, batch {config.batch_size}; threshold 0.5 unless stated."
    )
    shown = table_summary.copy()
    for metric in ("f1", "precision", "recall", "pr_auc", "balanced_accuracy", "accuracy"):
        shown[metric] = [pm(m, s, 3) for m, s in zip(shown[metric], shown[f"{metric}_sd"], strict=True)]
    shown = shown[
        [
            "protocol",
            "strategy",
            "threshold_kind",
            "threshold",
            "f1",
            "precision",
            "recall",
            "pr_auc",
            "balanced_accuracy",
            "accuracy",
            "seeds",
        ]
    ]
    result.heading("All strategies")
    spread = f"mean ± sd over {n_seeds} seeds" if n_seeds > 1 else "one seed: no sd (--seeds N gives mean ± sd)"
    result.table("strategies", shown.rename(columns=_SHORT), f"class {positive}: {spread}")
    labels = [
        f"{r.strategy}{' (tuned)' if r.threshold_kind == 'tuned' else ''}"
        f"{' [TUTORIAL, leaky]' if r.protocol != 'honest' else ''}"
        for r in table_summary.itertuples()
    ]
    result.figure(
        "f1",
        plots.bars(
            labels,
            table_summary["f1"],
            table_summary["f1_sd"] if n_seeds > 1 else None,
            title=f"F1 of class {positive} ({spread})",
            ylabel="F1",
        ),
        ("F1 with error bars (sd); " if n_seeds > 1 else "F1; ") + "bars marked TUTORIAL come from the leaky protocol",
    )
    lead = "Highest F1 in this quick run" if config.quick else "Best honest strategy"
    words = f"{lead}: {best['strategy']} with F1 {pm(best['f1'], best['f1_sd'], 3)}"
    if "baseline" in strategies:
        words += f", {summary['best_minus_baseline_f1']:+.3f} against the baseline's {summary['baseline_f1']:.3f}"
    if config.quick:  # a few epochs on one split: the order of the strategies is noise, not a ranking
        words += "; a smoke test this short ranks nothing: run without --quick (and with --seeds) to compare them"
    result.text(words + ".")
    if config.protocol == "tutorial":
        leaks = [
            f"{s}: honest {summary[f'{s}_f1']:.3f}, tutorial (leaky) {summary[f'tutorial_{s}_f1']:.3f} "
            f"({summary[f'tutorial_{s}_f1'] - summary[f'{s}_f1']:+.3f})"
            for s in strategies
            if f"tutorial_{s}_f1" in summary
        ]
        result.heading("The course's leaky protocol (TUTORIAL)")
        result.text(
            "Rows labelled 'tutorial (leaky: resampled before the split)' scale and resample every row and "
            "only then split, as the course did: duplicated rows (over-sampling) and interpolations between "
            "neighbours (SMOTE) land on both sides of the split, and the test part is balanced, which alone "
            "raises the minority class's precision. Their F1 is not an estimate of anything a deployed model "
            "would reach. Inflation: " + "; ".join(leaks) + "."
        )
    result.table("per_seed", rows, "every seed and strategy")
    return result
