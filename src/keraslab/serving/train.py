"""`keraslab train`: the churn lesson's pipeline on any table, written as a model bundle.

Defaults chosen from what the imbalance lab measured on churn (5 seeds, honest protocol): a plain network at
threshold 0.5 reached churn F1 0.55; class weights 0.60; the balanced ensembles 0.61 but need several models. So a
bundle trains one network with balanced class weights and picks its decision threshold on a validation slice of
the training part (maximum F1), never on the test part.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keraslab.errors import DataFormatError, UsageError
from keraslab.serving.bundle import write_manifest
from keraslab.serving.features import FeatureSpec

BUNDLE_STRATEGIES = ("baseline", "class_weight", "undersample", "oversample", "smote", "ensemble_vote",
                     "ensemble_mean", "focal")


@dataclass
class TrainOptions:
    target: str
    drop: tuple[str, ...] = ()
    imbalance: str = "class_weight"
    epochs: int = 100
    seed: int = 0
    test_size: float = 0.2
    validation_size: float = 0.2
    tune_threshold: bool = True
    hidden: tuple[int, ...] = (26, 15)
    batch_size: int = 32
    quiet: bool = False


def _check(options: TrainOptions) -> None:
    if options.imbalance not in BUNDLE_STRATEGIES:
        raise UsageError(f"Unknown imbalance strategy {options.imbalance!r}. Expected one of: "
                         f"{', '.join(BUNDLE_STRATEGIES)}")
    if not 0 < options.test_size < 1:
        raise UsageError(f"Invalid value for `--test-size`. Expected a number between 0 and 1. Received: "
                         f"{options.test_size}")
    if isinstance(options.epochs, bool) or not isinstance(options.epochs, int) or options.epochs < 1:
        raise UsageError(f"Invalid value for `--epochs`. Expected a positive integer. Received: {options.epochs}")


def train_table(csv: str | os.PathLike, options: TrainOptions, out: str | os.PathLike,
                log=print) -> tuple[Path, dict]:
    """Train on the CSV and write the bundle to `out` (atomically). Returns (folder, summary)."""
    from sklearn.model_selection import train_test_split

    from keraslab import evaluation, models, plots, training
    from keraslab.datasets.tabular import read_csv
    from keraslab.imbalance import BINARY_ONLY, BalancedEnsemble, balanced_class_weight, binary_focal_loss, resample
    from keraslab.reports import Result, figure_png, render_html
    from keraslab.runs import RunDir, build_manifest
    from keraslab.seeding import set_seed
    from keraslab.tabular import TablePreprocessor, infer_roles

    _check(options)
    csv = Path(csv)
    if not csv.is_file():
        raise UsageError(f"{csv}: no such file")
    frame = read_csv(csv, required=[options.target, *options.drop])
    frame = frame.drop(columns=list(options.drop))
    target = frame[options.target]
    n_missing = int(target.isna().sum())
    if n_missing:
        frame = frame[target.notna()].reset_index(drop=True)
        log(f"dropped {n_missing} rows whose {options.target!r} is missing")
    labels = sorted(frame[options.target].astype(str).str.strip().unique())
    if len(labels) < 2:
        raise DataFormatError(f"{csv}: column {options.target!r} has one value only ({labels[0]!r}); a classifier "
                              f"needs at least two")
    if len(labels) > 50:
        raise DataFormatError(f"{csv}: column {options.target!r} has {len(labels)} values; keraslab train is for "
                              f"classification (at most 50 classes)")
    y_text = frame[options.target].astype(str).str.strip()
    counts = y_text.value_counts()
    binary = len(labels) == 2
    if binary:  # the class of interest (label 1) is the minority class
        positive = counts.idxmin()
        labels = [lab for lab in labels if lab != positive] + [positive]
    index = {lab: k for k, lab in enumerate(labels)}
    y = y_text.map(index).to_numpy(np.int64)
    X = frame.drop(columns=[options.target])
    roles = infer_roles(X)
    for line in roles.describe():
        log(f"inferred {line}")

    idx_train, idx_test = train_test_split(np.arange(len(y)), test_size=options.test_size, stratify=y,
                                           random_state=options.seed)
    tune = options.tune_threshold and binary
    if tune:
        idx_fit, idx_val = train_test_split(idx_train, test_size=options.validation_size, stratify=y[idx_train],
                                            random_state=options.seed)
    else:
        idx_fit, idx_val = idx_train, None
    prep = TablePreprocessor(roles=roles).fit(X.iloc[idx_fit])
    features = FeatureSpec.from_preprocessor(prep, X.iloc[idx_fit])
    x_fit, _ = features.transform(X.iloc[idx_fit])
    y_fit = y[idx_fit]
    class_weight, loss = None, "binary_crossentropy" if binary else "sparse_categorical_crossentropy"
    if options.imbalance == "class_weight":
        class_weight = balanced_class_weight(y_fit)
    elif options.imbalance in ("undersample", "oversample", "smote"):
        x_fit, y_fit = resample(x_fit, y_fit, options.imbalance, options.seed)
    elif options.imbalance in BINARY_ONLY and not binary:
        raise UsageError(f"--imbalance {options.imbalance} needs a binary target; {options.target!r} has "
                         f"{len(labels)} classes")
    elif options.imbalance == "focal":
        loss = binary_focal_loss(2.0, 0.75)

    histories = []

    def train_net(x, y_part, seed, name="table_model"):
        set_seed(seed)
        net = (models.binary_net(x.shape[1], options.hidden, name=name) if binary else
               models.dense_classifier(x.shape[1], len(labels), options.hidden, name=name))
        training.compile_model(net, loss=loss, steps_per_epoch=int(np.ceil(len(x) / options.batch_size)))
        hist = training.fit(net, x, y_part.astype(np.float32) if binary else y_part, epochs=options.epochs,
                            batch_size=options.batch_size, class_weight=class_weight, quiet=options.quiet,
                            seed=seed)
        histories.append(hist)
        return net

    if options.imbalance.startswith("ensemble"):
        # k networks on every minority row plus disjoint slices of the majority, joined into one Keras model
        ensemble = BalancedEnsemble(lambda x, y_part, s: train_net(x, y_part, s, name=f"member_{s % 100}"), k=3,
                                    combine="vote" if options.imbalance == "ensemble_vote" else "mean",
                                    seed=options.seed).fit(x_fit, y_fit)
        model = ensemble_model(ensemble.models_, ensemble.combine)
        history = sum(histories) / len(histories)  # the members' mean curves
    else:
        model = train_net(x_fit, y_fit, options.seed)
        history = histories[0]

    def proba(rows):
        p = np.asarray(model.predict(features.transform(X.iloc[rows])[0], batch_size=2048, verbose=0))
        return np.hstack([1 - p, p]) if p.shape[1] == 1 else p

    threshold = None
    if binary:
        threshold = 0.5
        if tune:
            from keraslab.imbalance import best_f1_threshold

            threshold = best_f1_threshold(y[idx_val], proba(idx_val)[:, 1])
    p_test = proba(idx_test)
    y_test = y[idx_test]
    y_pred = (p_test[:, 1] >= threshold).astype(int) if binary else p_test.argmax(axis=1)
    summary = _scores(y_test, y_pred, p_test, labels, counts)
    cls = evaluation.classification(y_test, y_pred, labels)

    schema = {
        "format": "keraslab.schema/1",
        "columns": [{"name": c["name"], "role": "numeric", "dtype": "float"} for c in features.numeric]
        + [{"name": c["name"], "role": "yes_no", "dtype": "str", "values": c["values"]} for c in features.yes_no]
        + [{"name": c["name"], "role": "categorical", "dtype": "str", "categories": c["categories"]}
           for c in features.categorical],
        "dropped": {**{c: "dropped with --drop" for c in options.drop}, **roles.dropped},
        "target": {"name": options.target, "labels": labels, "positive": labels[1] if binary else None,
                   "threshold": threshold},
    }
    result = Result(title=f"keraslab train: {csv.name} -> {options.target}", summary=summary, history=history)
    result.text(f"{len(y)} rows; classes {', '.join(f'{lab} ({counts[lab]})' for lab in labels)}. Stratified "
                f"split (seed {options.seed}): {len(idx_train)} training, {len(idx_test)} test rows"
                + (f"; {len(idx_val)} of the training rows held out to pick the threshold" if tune else "")
                + f". Imbalance strategy: {options.imbalance}; {options.epochs} epochs.")
    if binary:
        result.text(f"Decision threshold for {labels[1]!r}: {threshold:.2f}"
                    + (" (maximum F1 on the validation slice)" if tune else ""))
    result.text("Inferred columns: " + "; ".join(roles.describe()))
    result.figure("learning_curves", plots.learning_curves(history, title="training"))
    result.figure("confusion_matrix", plots.confusion_matrix(cls["confusion_matrix"], labels,
                                                             title="test part: confusion matrix"))
    result.table("classification_report", cls["report_frame"], "test part")
    manifest_extra = build_manifest(lesson="train", seed=options.seed, data_files=[
        {"file": csv.name, "path": str(csv), "sha256": _sha(csv)}])
    with RunDir(out) as run:
        folder = run.staging
        model.save(folder / "model.keras")
        run.write_json("preprocessing.json", features.to_json())
        run.write_json("schema.json", schema)
        run.write_json("metrics.json", {"summary": summary, "classification_report": cls["report_frame"].to_dict(
            orient="records"), "options": {**options.__dict__, "csv": str(csv)}})
        pngs = {name: figure_png(fig) for name, fig in result.figures.items()}
        run.write_text("report.html", render_html(result, {**manifest_extra, "lesson": "train"},
                                                  {}, pngs))
        write_manifest(folder, {"created_by": {k: manifest_extra[k] for k in ("keraslab", "versions", "backend",
                                                                              "created_utc", "git_commit")}})
    import matplotlib.pyplot as plt

    for fig in result.figures.values():
        plt.close(fig)
    return Path(out), summary


def ensemble_model(members, combine: str):
    """One Keras model from trained binary members: the mean of their probabilities, or (vote) the share of members
    whose probability is >= 0.5. Saved and loaded like any model (keraslab.layers.VoteShare is registered)."""
    from keraslab.backend import keras
    from keraslab.layers import VoteShare

    k = keras()
    inputs = k.Input(members[0].inputs[0].shape[1:])
    outputs = [m(inputs) for m in members]
    joined = k.layers.Concatenate(axis=-1)(outputs)  # (n, k members)
    out = VoteShare()(joined) if combine == "vote" else k.layers.Average()(outputs)
    return k.Model(inputs, out, name=f"ensemble_{combine}")


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _scores(y_true, y_pred, proba, labels, counts) -> dict:
    from sklearn import metrics

    minority = labels.index(counts.idxmin())
    if len(labels) == 2:
        pr_auc = metrics.average_precision_score(y_true, proba[:, 1])
    else:
        onehot = np.eye(len(labels))[y_true]
        present = onehot.sum(axis=0) > 0
        pr_auc = metrics.average_precision_score(onehot[:, present], proba[:, present], average="macro")
    return {
        "test_accuracy": float(metrics.accuracy_score(y_true, y_pred)),
        "minority_f1": float(metrics.f1_score(y_true, y_pred, labels=[minority], average="macro", zero_division=0)),
        "pr_auc": float(pr_auc),
        "balanced_accuracy": float(metrics.balanced_accuracy_score(y_true, y_pred)),
    }
