"""The stopping rule of `keraslab train`: Keras's EarlyStopping on the validation slice's loss (the best epoch's
weights kept), and the line that says what it did."""

from __future__ import annotations

import pandas as pd

from keraslab.bundles.train_options import TrainOptions


def stopping_line(history: pd.DataFrame, options: TrainOptions) -> str:
    """What the stopping rule did: the epoch it stopped at and the one whose weights were kept."""
    ran = int(history["epoch"].max())
    if "val_loss" not in history or not options.early_stopping:
        return f"trained {ran} epochs (no early stopping)"
    best = int(history["epoch"][history["val_loss"].idxmin()])
    low = float(history["val_loss"].min())
    if ran < options.epochs:
        return (
            f"early stopping: stopped after epoch {ran} of at most {options.epochs} (no lower validation loss for "
            f"{options.patience} epochs); the weights of epoch {best} kept (validation loss {low:.4f})"
        )
    return (
        f"early stopping: ran all {options.epochs} epochs (the validation loss still fell); the weights of epoch "
        f"{best} kept (validation loss {low:.4f}); a larger --epochs may help"
    )


def early_stopping(options: TrainOptions, validation):
    """The callbacks of one training: Keras's EarlyStopping on the validation slice's loss, when asked and there is
    a slice."""
    if validation is None or not options.early_stopping:
        return None
    from keraslab.backend import load_keras

    stop = load_keras().callbacks.EarlyStopping(
        monitor="val_loss", patience=options.patience, restore_best_weights=True
    )
    return [stop]
