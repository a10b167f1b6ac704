"""`keraslab train` on a numeric target: a regression network (linear output, mean squared error) trained on the
target scaled to mean 0 and standard deviation 1 over the training part, its answers given back in the target's
own units; scored on the untouched test part by MAE, RMSE and R², beside two baselines fitted on the training part:
the training mean, and scikit-learn's linear regression on the same prepared columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from keraslab import models, plots, training
from keraslab.bundles.leaks import leak_warning
from keraslab.bundles.stopping import early_stopping, stopping_line
from keraslab.bundles.writing import bundle_schema, describe_inputs, write_bundle
from keraslab.run_folders.report import Report
from keraslab.seeding import set_seed


def regression_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    from sklearn import metrics

    return {
        "mae": float(metrics.mean_absolute_error(y_true, y_pred)),
        "rmse": float(np.sqrt(metrics.mean_squared_error(y_true, y_pred))),
        "r2": float(metrics.r2_score(y_true, y_pred)),
    }


def train_regression(csv: Path, table, split, roles, features, options, out, log) -> tuple[Path, dict]:
    from sklearn.linear_model import LinearRegression

    x_fit = features.transform(table.X.iloc[split.fit])[0]
    x_test = features.transform(table.X.iloc[split.test])[0]
    y_fit, y_test = table.y[split.fit], table.y[split.test]
    mean, std = float(y_fit.mean()), float(y_fit.std()) or 1.0  # a constant target: scaled by 1
    set_seed(options.seed)
    model = models.regression_net(x_fit.shape[1], options.hidden, name="table_regression")
    training.compile_model(
        model,
        loss="mean_squared_error",
        metrics=(),  # the compiled epoch reports the loss (mean squared error of the scaled target)
        steps_per_epoch=training.batches_per_epoch(len(x_fit), options.batch_size),
    )
    validation = None
    if split.validation is not None and options.early_stopping:
        x_val = features.transform(table.X.iloc[split.validation])[0]
        validation = (x_val, ((table.y[split.validation] - mean) / std).astype(np.float32))
    history = training.fit(
        model,
        x_fit,
        ((y_fit - mean) / std).astype(np.float32),
        epochs=options.epochs,
        batch_size=options.batch_size,
        verbose=0 if options.quiet else 2,
        validation_data=validation,
        callbacks=early_stopping(options, validation),
    )
    log(stopping_line(training.history_frame(history), options))
    y_pred = np.asarray(model.predict(x_test, batch_size=2048, verbose=0)).ravel() * std + mean
    # the baselines are fitted on the whole training part, the validation slice included (the network saw it too)
    train_rows = split.fit if split.validation is None else np.concatenate([split.fit, split.validation])
    y_train = table.y[train_rows]
    linear = LinearRegression().fit(features.transform(table.X.iloc[train_rows])[0], y_train)
    rows = {
        "network": regression_scores(y_test, y_pred),
        "mean of the training part": regression_scores(y_test, np.full(len(y_test), float(y_train.mean()))),
        "linear regression": regression_scores(y_test, linear.predict(x_test)),
    }
    summary = {f"test_{k}": v for k, v in rows["network"].items()}
    summary |= {f"mean_baseline_{k}": v for k, v in rows["mean of the training part"].items()}
    summary |= {f"linear_baseline_{k}": v for k, v in rows["linear regression"].items()}
    log(
        f"test part ({len(y_test)} rows): R² {summary['test_r2']:.3f} (mean baseline "
        f"{summary['mean_baseline_r2']:.3f}, linear regression {summary['linear_baseline_r2']:.3f}); MAE "
        f"{summary['test_mae']:.4g}, RMSE {summary['test_rmse']:.4g}"
    )
    leak = leak_warning(summary["test_r2"], "R²", table.X, table.y, split.fit, split.test, roles, True)
    if leak:
        log(leak)
    target = {"labels": [], "positive": None, "threshold": None, "task": "regression", "why": table.why}
    schema = bundle_schema(features, roles, options, {**target, "scale": {"mean": mean, "std": std}})
    frame = pd.DataFrame(rows).T.rename_axis("on the test part").reset_index()
    result = Report(
        title=f"keraslab train: {csv.name} -> {options.target} (regression)",
        summary=summary,
        history=training.history_frame(history),
    )
    result.text(
        f"{len(table.y)} rows; target {options.target!r}: {table.why}. Seeded split (seed {options.seed}): "
        f"{len(split.fit)} training, {len(split.test)} test rows. The network learns the target scaled to mean 0 "
        f"and sd 1 over the training part (mean {mean:.6g}, sd {std:.6g}); its answers are in the target's units. "
        f"{stopping_line(training.history_frame(history), options)}."
    )
    describe_inputs(result, split, roles, features)
    if leak:
        result.text(leak)
    result.table("scores", frame, "test part: the network beside two baselines fitted on the training part")
    result.figure("learning_curves", plots.learning_curves(history, title="training (scaled target)"))
    result.figure(
        "predicted_vs_actual",
        plots.predicted_vs_actual(y_test, y_pred, title=f"test part: {options.target}, predicted against actual"),
    )
    extra = {"scores": dict(rows)}
    write_bundle(out, model, features, schema, summary, extra, result, options.command(csv, out), options, csv)
    return Path(out), summary
