"""Early stopping by default: `keraslab train` holds out a validation slice of the training part (never the test
part), stops when its loss has not fallen for --patience epochs, keeps the best epoch's weights, and says where it
stopped in the log and the report, whose curve shows the training and the validation loss."""

import json

import numpy as np
import pandas as pd

from keraslab.bundles import TrainOptions, train_table
from keraslab.bundles.labelled_rows import read_labelled_table, split_rows


def _noisy(path, n=600, seed=0, regression=False):
    """Few signal columns, many noise ones, noisy labels: a network overfits it within a few dozen epochs."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 20))
    signal = X[:, 0] + 0.5 * X[:, 1] + rng.normal(0, 1.5, n)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(20)])
    frame["y"] = signal * 10 if regression else np.where(signal > 0, "yes", "no")
    frame.to_csv(path, index=False)


def test_the_validation_slice_is_part_of_the_training_part_never_of_the_test_part(tmp_path):
    _noisy(tmp_path / "t.csv")
    options = TrainOptions(target="y", quiet=True)
    table = read_labelled_table(tmp_path / "t.csv", options, log=lambda m: None)
    split = split_rows(table, options)
    assert split.validation is not None and split.tune
    assert not set(split.validation) & set(split.test) and not set(split.validation) & set(split.fit)
    assert len(split.fit) + len(split.validation) + len(split.test) == 600
    off = split_rows(table, TrainOptions(target="y", early_stopping=False, tune_threshold=False, quiet=True))
    assert off.validation is None and len(off.fit) == 480  # nothing to hold out for: all the training part fits


def test_training_stops_early_by_default_and_says_where(tmp_path):
    _noisy(tmp_path / "t.csv")
    said = []
    out, _summary = train_table(
        tmp_path / "t.csv",
        TrainOptions(target="y", epochs=300, patience=5, quiet=True),
        tmp_path / "b",
        log=said.append,
    )
    line = next(s for s in said if s.startswith("early stopping:"))
    assert line.startswith("early stopping: stopped after epoch") and "of at most 300" in line, line
    stopped = int(line.split("stopped after epoch ")[1].split()[0])
    kept = int(line.split("the weights of epoch ")[1].split()[0])
    assert stopped == kept + 5 < 300
    history = json.loads((out / "metrics.json").read_text())["history"]
    assert len(history["loss"]) == len(history["val_loss"]) == stopped  # both curves, to the epoch it stopped at
    assert int(np.argmin(history["val_loss"])) + 1 == kept
    assert f"stopped after epoch {stopped}" in (out / "report.html").read_text()


def test_no_early_stopping_trains_every_epoch(tmp_path):
    _noisy(tmp_path / "t.csv", n=300)
    said = []
    train_table(
        tmp_path / "t.csv",
        TrainOptions(target="y", epochs=4, early_stopping=False, quiet=True),
        tmp_path / "b",
        log=said.append,
    )
    assert "trained 4 epochs (no early stopping)" in said


def test_a_regression_stops_early_too(tmp_path):
    _noisy(tmp_path / "t.csv", regression=True)
    said = []
    train_table(
        tmp_path / "t.csv",
        TrainOptions(target="y", epochs=300, patience=5, quiet=True),
        tmp_path / "b",
        log=said.append,
    )
    assert any(s.startswith("early stopping: stopped after epoch") for s in said), said
