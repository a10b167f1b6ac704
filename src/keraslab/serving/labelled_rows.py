"""The table `keraslab train` learns from: the CSV read, its target checked and encoded, its values checked, and the
stratified, seeded split into the rows to fit on, a validation slice and the untouched test rows. `options` is
keraslab.serving.train.TrainOptions (not imported: train imports this module)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from keraslab.datasets import read_csv
from keraslab.errors import DataFormatError, UsageError

MAX_CLASSES = 50


@dataclass
class LabelledTable:
    """The table's features and its target encoded 0..k-1 (for two classes, 1 is the minority class)."""

    X: pd.DataFrame
    y: np.ndarray
    labels: list[str]
    counts: pd.Series  # rows per label

    @property
    def binary(self) -> bool:
        return len(self.labels) == 2


@dataclass
class Split:
    fit: np.ndarray  # the rows the model and the preprocessing are fitted on
    validation: np.ndarray | None  # the slice of the training part the threshold is chosen on
    test: np.ndarray  # held out, untouched until the evaluation

    @property
    def train_rows(self) -> int:
        return len(self.fit) + (0 if self.validation is None else len(self.validation))


def read_labelled_table(csv: Path, options, log) -> LabelledTable:
    """The CSV without the --drop columns and the rows whose target is missing; its target checked and encoded."""
    if not csv.is_file():
        raise UsageError(f"{csv}: no such file")
    frame = read_csv(csv, required=[options.target, *options.drop]).drop(columns=list(options.drop))
    n_missing = int(frame[options.target].isna().sum())
    if n_missing:
        frame = frame[frame[options.target].notna()].reset_index(drop=True)
        log(f"dropped {n_missing} rows whose {options.target!r} is missing")
    if frame.empty:
        raise DataFormatError(
            f"{csv}: column {options.target!r} is blank in every row: there is nothing to learn from; fill it in or "
            f"choose another --target"
        )
    _check_finite(csv, frame)
    y_text = frame[options.target].astype(str).str.strip()
    labels = sorted(y_text.unique())
    if len(labels) < 2:
        raise DataFormatError(
            f"{csv}: column {options.target!r} has one value only ({labels[0]!r}); a classifier needs at least two"
        )
    if len(labels) > MAX_CLASSES:
        raise DataFormatError(
            f"{csv}: column {options.target!r} has {len(labels)} values; keraslab train is for "
            f"classification (at most {MAX_CLASSES} classes)"
        )
    counts = y_text.value_counts()
    if counts.min() < 2:
        raise DataFormatError(
            f"{csv}: column {options.target!r}: class {counts.idxmin()!r} has {counts.min()} row; the stratified "
            f"split needs at least 2 rows of every class (drop that row or collect more)"
        )
    if len(labels) == 2:  # the class of interest (label 1) is the minority class
        positive = counts.idxmin()
        labels = [lab for lab in labels if lab != positive] + [positive]
    y = y_text.map({lab: k for k, lab in enumerate(labels)}).to_numpy(np.int64)
    return LabelledTable(frame.drop(columns=[options.target]), y, labels, counts)


def _check_finite(csv: Path, frame) -> None:
    """inf and -inf are no values a network can take (blank cells are imputed): name the column and the row."""
    numeric = frame.select_dtypes("number")
    bad = ~np.isfinite(numeric.to_numpy(np.float64)) & numeric.notna().to_numpy()
    if bad.any():
        row, col = (int(i[0]) for i in np.nonzero(bad))
        raise DataFormatError(
            f"{csv}: column {numeric.columns[col]!r} holds {numeric.iat[row, col]} in row {row + 1}; replace it with "
            f"a number, or leave the cell blank (blank cells are imputed)"
        )


def split_rows(table: LabelledTable, options) -> Split:
    """A stratified, seeded test split; for a binary target whose threshold is tuned, a validation slice of the
    training part too."""
    from sklearn.model_selection import train_test_split

    idx_train, idx_test = train_test_split(
        np.arange(len(table.y)), test_size=options.test_size, stratify=table.y, random_state=options.seed
    )
    if not (options.tune_threshold and table.binary):
        return Split(idx_train, None, idx_test)
    try:
        idx_fit, idx_val = train_test_split(
            idx_train, test_size=options.validation_size, stratify=table.y[idx_train], random_state=options.seed
        )
    except ValueError:  # too few rows of a class left for a validation slice
        counts = np.bincount(table.y[idx_train])
        raise DataFormatError(
            f"the training part has {counts.min()} row(s) of class {table.labels[int(counts.argmin())]!r}: too few "
            f"to cut a validation slice for the threshold; pass --no-tune-threshold or collect more rows"
        ) from None
    return Split(idx_fit, idx_val, idx_test)
