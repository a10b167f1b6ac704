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
from keraslab.bundles.calibration import calibrate, fit_calibration
from keraslab.bundles.features import FeatureSpec, blank_cells
from keraslab.bundles.labelled_rows import LabelledTable, Split, read_labelled_table, split_rows
from keraslab.bundles.leaks import leak_warning
from keraslab.bundles.stopping import early_stopping, stopping_line
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
    roles = infer_roles(table.X, keep=options.keep)
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
    model, history = train_model(
        features.transform(table.X.iloc[split.fit])[0],
        table.y[split.fit],
        table,
        options,
        _validation(split, table, features, options),
    )
    log(stopping_line(history, options))

    def network_proba(rows) -> np.ndarray:
        p = np.asarray(model.predict(features.transform(table.X.iloc[rows])[0], batch_size=2048, verbose=0))
        return np.hstack([1 - p, p]) if p.shape[1] == 1 else p

    # the network's probabilities calibrated on the validation slice (kept only where that lowers its log loss)
    calibration, calibrated = calibrated_on(split, table, network_proba)
    log(calibrated)

    def proba(rows) -> np.ndarray:
        return calibrate(network_proba(rows), calibration)

    threshold, how = decision_threshold(split, table, proba)
    network_test, y_test = network_proba(split.test), table.y[split.test]
    p_test = calibrate(network_test, calibration)
    y_pred = (p_test[:, 1] >= threshold).astype(int) if table.binary else p_test.argmax(axis=1)
    summary = scores(y_test, y_pred, p_test, table)
    cls = classification(y_test, y_pred, table.labels)
    lines = honest_lines(table, y_test, y_pred, threshold, how)
    for line in lines:
        log(line)
    leak = leak_warning(summary["test_accuracy"], "accuracy", table.X, table.y, split.fit, split.test, roles, False)
    if leak:
        log(leak)
    schema = bundle_schema(features, roles, table, options, threshold, calibration)
    result = _report(csv, table, split, roles, features, options, threshold, summary, cls, history, lines)
    result.text(calibrated[0].upper() + calibrated[1:] + ".")
    result.figure("reliability", reliability_figure(y_test, p_test, network_test, table, calibration))
    if leak:
        result.text(leak)
    extra = {"classification_report": cls["report_frame"].to_dict(orient="records")}
    write_bundle(out, model, features, schema, summary, extra, result, options.command(csv, out), options, csv)
    return Path(out), summary


def calibrated_on(split: Split, table: LabelledTable, network_proba) -> tuple[dict | None, str]:
    """(calibration, what was done) fitted on the validation slice's rows (keraslab.bundles.calibration)."""
    if split.validation is None:
        return None, "not calibrated: no validation slice"
    return fit_calibration(table.y[split.validation], network_proba(split.validation))


def decision_threshold(split: Split, table: LabelledTable, proba) -> tuple[float | None, str | None]:
    """(threshold, how it was chosen) for two classes, on the validation slice's calibrated probabilities."""
    if not table.binary:
        return None, None
    if not split.tune:
        return 0.5, "not tuned"
    return choose_threshold(table.y[split.validation], proba(split.validation)[:, 1])


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


def choose_threshold(y, proba) -> tuple[float, str]:
    """(threshold, how it was chosen): the F1-best one on the validation slice, kept only where it beats 0.5 there
    in balanced accuracy as well as in F1 (else 0.5: a threshold that buys F1 by saying yes to nearly everyone is
    not kept)."""
    from sklearn.metrics import balanced_accuracy_score, f1_score

    tuned = best_f1_threshold(y, proba)

    def both(t):
        said = (proba >= t).astype(int)
        return f1_score(y, said, zero_division=0), balanced_accuracy_score(y, said)

    (f1_t, ba_t), (f1_h, ba_h) = both(tuned), both(0.5)
    if f1_t > f1_h and ba_t > ba_h:
        return tuned, (
            f"maximum F1 on the validation slice: F1 {f1_t:.3f} and balanced accuracy {ba_t:.3f} there, against "
            f"{f1_h:.3f} and {ba_h:.3f} at 0.5"
        )
    return 0.5, (
        f"0.5 kept: the F1-best threshold on the validation slice, {tuned:.2f}, did not beat it in both F1 "
        f"({f1_t:.3f} against {f1_h:.3f}) and balanced accuracy ({ba_t:.3f} against {ba_h:.3f})"
    )


def honest_lines(table: LabelledTable, y_test, y_pred, threshold, how) -> list[str]:
    """What the figures mean: a model no better than the majority (first), the threshold and how it was chosen,
    what always saying the commonest class would score, and a model that predicts one class only."""
    lines = []
    common = int(np.bincount(y_test, minlength=len(table.labels)).argmax())
    majority, accuracy = float(np.mean(y_test == common)), float(np.mean(y_test == y_pred))
    if accuracy <= majority:
        lines.append(
            f"warning: no better than the majority: test accuracy {accuracy:.3f}, where always saying "
            f"{table.labels[common]!r} scores {majority:.3f}; this model has learned nothing the majority does not know"
        )
    if table.binary:
        lines.append(f"decision threshold for {table.labels[1]!r}: {threshold:.2f} ({how})")
    lines.append(
        f"test part: always saying {table.labels[common]!r} would score accuracy {majority:.3f} (the majority baseline)"
    )
    if len(set(y_pred.tolist())) == 1:
        lines.append(f"note: the model says {table.labels[int(y_pred[0])]!r} for every test row: it learned no rule")
    return lines


def _validation(split: Split, table: LabelledTable, features: FeatureSpec, options: TrainOptions):
    """(x, y) of the validation slice the training stops on, or None."""
    if split.validation is None or not options.early_stopping:
        return None
    return features.transform(table.X.iloc[split.validation])[0], table.y[split.validation]


def train_model(x, y, table: LabelledTable, options: TrainOptions, validation=None):
    """(Keras model, history) for the chosen imbalance strategy: one network, or an ensemble joined into one;
    stopped early on `validation` = (x, y) of the validation slice where given."""
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
        as_labels = (lambda v: v.astype(np.float32)) if table.binary else (lambda v: v)
        history = training.fit(
            net,
            x_part,
            as_labels(y_part),
            epochs=options.epochs,
            batch_size=options.batch_size,
            class_weight=class_weight,
            verbose=0 if options.quiet else 2,
            validation_data=None if validation is None else (validation[0], as_labels(validation[1])),
            callbacks=early_stopping(options, validation),
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
    mean = pd.concat(histories).groupby("epoch", as_index=False).mean()  # members may stop at different epochs
    return models.ensemble_model(ensemble.models_, ensemble.combine), mean


def reliability_figure(y_test, p_test, p_network, table: LabelledTable, calibration):
    """The test part's reliability diagram: P(positive) for two classes, the given class's P for more (then "what
    happened" is that the class was right), calibrated and as the network gave it."""
    if table.binary:
        happened, given = y_test, lambda p: p[:, 1]
        what = f"P({table.labels[1]!r})"
    else:
        happened, given = y_test == p_test.argmax(axis=1), lambda p: p.max(axis=1)
        what = "P of the class given"
    series = (
        {"keraslab (not calibrated)": given(p_test)}
        if calibration is None
        else {"keraslab (calibrated)": given(p_test), "the network, before": given(p_network)}
    )
    return plots.reliability(happened.astype(int), series, title=f"test part: reliability of {what}")


def scores(y_true, y_pred, proba, table: LabelledTable) -> dict:
    """Test accuracy, the positive and the minority class's F1, PR-AUC and ROC AUC (macro over classes for more than
    two; None where the test part lacks a class), log loss and balanced accuracy."""
    from sklearn import metrics

    minority = table.labels.index(table.counts.idxmin())
    both = len(np.unique(y_true)) > 1
    if table.binary:
        pr_auc = metrics.average_precision_score(y_true, proba[:, 1])
        roc_auc = metrics.roc_auc_score(y_true, proba[:, 1]) if both else None
    else:
        onehot = np.eye(len(table.labels))[y_true]
        present = onehot.sum(axis=0) > 0
        pr_auc = metrics.average_precision_score(onehot[:, present], proba[:, present], average="macro")
        roc_auc = metrics.roc_auc_score(onehot[:, present], proba[:, present], average="macro") if both else None
    p = np.clip(np.asarray(proba, dtype=np.float64), 1e-7, 1.0)
    positive = {"positive_f1": float(metrics.f1_score(y_true, y_pred, zero_division=0))} if table.binary else {}
    return {
        "test_accuracy": float(metrics.accuracy_score(y_true, y_pred)),
        **positive,  # the class --positive names (by default the "yes", else the rarer class)
        "minority_f1": float(metrics.f1_score(y_true, y_pred, labels=[minority], average="macro", zero_division=0)),
        "pr_auc": float(pr_auc),
        "balanced_accuracy": float(metrics.balanced_accuracy_score(y_true, y_pred)),
        "roc_auc": None if roc_auc is None else float(roc_auc),
        "log_loss": float(metrics.log_loss(y_true, p / p.sum(axis=1, keepdims=True), labels=range(len(table.labels)))),
    }


def bundle_schema(
    features: FeatureSpec,
    roles: ColumnRoles,
    table: LabelledTable,
    options: TrainOptions,
    threshold: float | None,
    calibration: dict | None = None,
) -> dict:
    """schema.json of a classifier: its labels, its positive class (two classes), its threshold and its
    calibration (keraslab.bundles.calibration; None: the network's probabilities as they are)."""
    target = {
        "labels": table.labels,
        "positive": table.labels[1] if table.binary else None,
        "threshold": threshold,
        "calibration": calibration,
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
    lines: list[str] = (),
) -> Report:
    result = Report(title=f"keraslab train: {csv.name} -> {options.target}", summary=summary, history=history)
    for line in lines:
        if line.startswith("warning: no better than the majority"):
            result.text(line[0].upper() + line[1:])  # the report's first line
    classes = ", ".join(f"{lab} ({table.counts[lab]})" for lab in table.labels)
    held = (
        ""
        if split.validation is None
        else f"; {len(split.validation)} of the training rows held out to stop the training"
        + (" and to pick the threshold" if split.tune else "")
    )
    result.text(
        f"{len(table.y)} rows; classes {classes}. Stratified split (seed {options.seed}): "
        f"{split.train_rows} training, {len(split.test)} test rows{held}. Imbalance strategy: "
        f"{options.imbalance}; {stopping_line(history, options)}."
    )
    if table.binary:
        decided = next((line for line in lines if line.startswith("decision threshold")), "")
        result.text(decided[0].upper() + decided[1:] if decided else f"Decision threshold: {threshold:.2f}")
    result.text(f"Target {options.target!r}: {table.why}.")
    describe_inputs(result, split, roles, features)
    result.figure("learning_curves", plots.learning_curves(history, title="training"))
    result.figure(
        "confusion_matrix",
        plots.confusion_matrix(cls["confusion_matrix"], table.labels, title="test part: confusion matrix"),
    )
    result.table("classification_report", cls["report_frame"], "test part")
    return result
