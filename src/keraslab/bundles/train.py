"""`keraslab train`: the churn lesson's pipeline on any table, written as a model bundle.

Defaults chosen from what the imbalance lab measured on churn (5 seeds, honest protocol): a plain network at
threshold 0.5 reached churn F1 0.55; class weights 0.60; the balanced ensembles 0.61 but need several models. So a
bundle trains one network with balanced class weights and picks its decision threshold on a validation slice of
the training part (maximum F1), never on the test part. Every strategy of keraslab.imbalance can be chosen instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from keraslab import models, plots, training
from keraslab.bundles.features import FeatureSpec, blank_cells
from keraslab.bundles.labelled_rows import LabelledTable, Split, read_labelled_table, split_rows
from keraslab.bundles.train_options import TrainOptions
from keraslab.bundles.writing import bundle_schema as schema_of
from keraslab.bundles.writing import capped_lines, describe_inputs, write_bundle
from keraslab.errors import UsageError
from keraslab.files import FolderLock
from keraslab.imbalance import (
    ENSEMBLE_MEMBERS,
    REGISTRY,
    BalancedEnsemble,
    best_f1_threshold,
    binary_focal_loss,
    ensemble_combine,
    training_inputs,
)
from keraslab.metrics import classification
from keraslab.run_folders.report import Report
from keraslab.seeding import set_seed
from keraslab.tables import ColumnRoles, TablePreprocessor, infer_roles


def train_table(csv: str | os.PathLike, options: TrainOptions, out: str | os.PathLike, log=print) -> tuple[Path, dict]:
    """Train on the CSV and write the bundle to `out` (atomically). Returns (folder, summary). `out` is locked from
    the start: a second `keraslab train ... --out` the same folder is refused at once, not after its training."""
    options.check()
    with FolderLock(out):
        return _train_table(Path(csv), options, out, log)


def _train_table(csv: Path, options: TrainOptions, out, log) -> tuple[Path, dict]:
    table = read_labelled_table(csv, options, log)
    log(f"target {options.target!r}: {table.why}")
    roles = infer_roles(table.X)
    for line in roles.describe():
        log(f"inferred {line}")
    split = split_rows(table, options)
    for note in split.notes:
        log(f"note: {note}")
    features = FeatureSpec.from_preprocessor(
        TablePreprocessor(roles=roles, max_categories=options.max_categories).fit(table.X.iloc[split.fit]),
        table.X.iloc[split.fit],
    )
    for line in capped_lines(features) + filled_lines(features, table.X.iloc[split.fit]):
        log(line)
    if table.regression:
        from keraslab.bundles.regression import train_regression

        return train_regression(csv, table, split, roles, features, options, out, log)
    model, history = train_model(features.transform(table.X.iloc[split.fit])[0], table.y[split.fit], table, options)

    def proba(rows) -> np.ndarray:
        p = np.asarray(model.predict(features.transform(table.X.iloc[rows])[0], batch_size=2048, verbose=0))
        return np.hstack([1 - p, p]) if p.shape[1] == 1 else p

    threshold = None
    if table.binary:
        threshold = (
            0.5
            if split.validation is None
            else best_f1_threshold(table.y[split.validation], proba(split.validation)[:, 1])
        )
    p_test, y_test = proba(split.test), table.y[split.test]
    y_pred = (p_test[:, 1] >= threshold).astype(int) if table.binary else p_test.argmax(axis=1)
    summary = scores(y_test, y_pred, p_test, table)
    cls = classification(y_test, y_pred, table.labels)
    for line in honest_lines(table, split, y_test, y_pred, threshold):
        log(line)
    schema = bundle_schema(features, roles, table, options, threshold)
    result = _report(csv, table, split, roles, features, options, threshold, summary, cls, history)
    extra = {"classification_report": cls["report_frame"].to_dict(orient="records")}
    write_bundle(out, model, features, schema, summary, extra, result, options.command(csv, out), options, csv)
    return Path(out), summary


def filled_lines(features: FeatureSpec, frame) -> list[str]:
    """One line per column whose blank cells the training part fills (as every prediction will)."""
    lines = []
    for col in features.numeric + features.yes_no + features.categorical:
        if not col.get("missing_in_training"):
            continue
        blank = int(blank_cells(frame[col["name"]]).sum())
        fill = f"its median, {col['median']:g}" if "median" in col else "its most frequent value"
        lines.append(f"column {col['name']!r}: {blank} blank cell(s) in the training part, filled with {fill}")
    return lines


def honest_lines(table: LabelledTable, split: Split, y_test, y_pred, threshold) -> list[str]:
    """What the figures mean: the threshold and how it was chosen, what always saying the commonest class would
    score, and a model that predicts one class only."""
    lines = []
    if table.binary:
        how = "not tuned" if split.validation is None else "maximum F1 on the validation slice"
        lines.append(f"decision threshold for {table.labels[1]!r}: {threshold:.2f} ({how})")
    common = int(np.bincount(y_test, minlength=len(table.labels)).argmax())
    lines.append(
        f"test part: always saying {table.labels[common]!r} would score accuracy {np.mean(y_test == common):.3f} "
        f"(the majority baseline)"
    )
    if len(set(y_pred.tolist())) == 1:
        lines.append(f"note: the model says {table.labels[int(y_pred[0])]!r} for every test row: it learned no rule")
    return lines


def train_model(x, y, table: LabelledTable, options: TrainOptions):
    """(Keras model, history) for the chosen imbalance strategy: one network, or an ensemble joined into one."""
    strategy = REGISTRY[options.imbalance]
    if strategy.binary_only and not table.binary:
        raise UsageError(
            f"--imbalance {options.imbalance} needs a binary target; {options.target!r} has {len(table.labels)} classes"
        )
    x, y, class_weight, focal = training_inputs(options.imbalance, x, y, options.seed)
    loss = "binary_crossentropy" if table.binary else "sparse_categorical_crossentropy"
    if focal:
        loss = binary_focal_loss()
    histories = []

    def train_net(x_part, y_part, seed, name="table_model"):
        set_seed(seed)
        net = (
            models.binary_net(x_part.shape[1], options.hidden, name=name)
            if table.binary
            else models.dense_classifier(x_part.shape[1], len(table.labels), options.hidden, name=name)
        )
        training.compile_model(
            net, loss=loss, steps_per_epoch=training.batches_per_epoch(len(x_part), options.batch_size)
        )
        history = training.fit(
            net,
            x_part,
            y_part.astype(np.float32) if table.binary else y_part,
            epochs=options.epochs,
            batch_size=options.batch_size,
            class_weight=class_weight,
            verbose=0 if options.quiet else 2,
        )
        histories.append(training.history_frame(history))
        return net

    if strategy.kind != "ensemble":
        return train_net(x, y, options.seed), histories[0]
    # k networks on every minority row plus disjoint slices of the majority, joined into one Keras model
    ensemble = BalancedEnsemble(
        lambda x_, y_, s: train_net(x_, y_, s, name=f"member_{s % 100}"),
        k=ENSEMBLE_MEMBERS,
        combine=ensemble_combine(options.imbalance),
        seed=options.seed,
    ).fit(x, y)
    return models.ensemble_model(ensemble.models_, ensemble.combine), sum(histories) / len(histories)


def scores(y_true, y_pred, proba, table: LabelledTable) -> dict:
    """Test accuracy, the minority class's F1, PR-AUC (macro over classes for more than two) and balanced
    accuracy."""
    from sklearn import metrics

    minority = table.labels.index(table.counts.idxmin())
    if table.binary:
        pr_auc = metrics.average_precision_score(y_true, proba[:, 1])
    else:
        onehot = np.eye(len(table.labels))[y_true]
        present = onehot.sum(axis=0) > 0
        pr_auc = metrics.average_precision_score(onehot[:, present], proba[:, present], average="macro")
    positive = {"positive_f1": float(metrics.f1_score(y_true, y_pred, zero_division=0))} if table.binary else {}
    return {
        "test_accuracy": float(metrics.accuracy_score(y_true, y_pred)),
        **positive,  # the class --positive names (by default the "yes", else the rarer class)
        "minority_f1": float(metrics.f1_score(y_true, y_pred, labels=[minority], average="macro", zero_division=0)),
        "pr_auc": float(pr_auc),
        "balanced_accuracy": float(metrics.balanced_accuracy_score(y_true, y_pred)),
    }


def bundle_schema(
    features: FeatureSpec, roles: ColumnRoles, table: LabelledTable, options: TrainOptions, threshold: float | None
) -> dict:
    """schema.json of a classifier: its labels, its positive class (two classes) and its threshold."""
    target = {
        "labels": table.labels,
        "positive": table.labels[1] if table.binary else None,
        "threshold": threshold,
        "task": "classification",
        "why": table.why,
    }
    return schema_of(features, roles, options, target)


def _report(
    csv: Path,
    table: LabelledTable,
    split: Split,
    roles: ColumnRoles,
    features: FeatureSpec,
    options: TrainOptions,
    threshold,
    summary: dict,
    cls: dict,
    history: pd.DataFrame,
) -> Report:
    result = Report(title=f"keraslab train: {csv.name} -> {options.target}", summary=summary, history=history)
    classes = ", ".join(f"{lab} ({table.counts[lab]})" for lab in table.labels)
    held = (
        ""
        if split.validation is None
        else (f"; {len(split.validation)} of the training rows held out to pick the threshold")
    )
    result.text(
        f"{len(table.y)} rows; classes {classes}. Stratified split (seed {options.seed}): "
        f"{split.train_rows} training, {len(split.test)} test rows{held}. Imbalance strategy: "
        f"{options.imbalance}; {options.epochs} epochs."
    )
    if table.binary:
        result.text(
            f"Decision threshold for {table.labels[1]!r}: {threshold:.2f}"
            + (" (not tuned)" if split.validation is None else " (maximum F1 on the validation slice)")
        )
    result.text(f"Target {options.target!r}: {table.why}.")
    describe_inputs(result, split, roles, features)
    result.figure("learning_curves", plots.learning_curves(history, title="training"))
    result.figure(
        "confusion_matrix",
        plots.confusion_matrix(cls["confusion_matrix"], table.labels, title="test part: confusion matrix"),
    )
    result.table("classification_report", cls["report_frame"], "test part")
    return result
