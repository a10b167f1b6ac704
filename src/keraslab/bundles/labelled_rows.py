"""The table `keraslab train` learns from: the CSV read, its target checked and encoded, its values checked, and the
seeded split into the rows to fit on, a validation slice and the untouched test rows. `options` is
keraslab.bundles.train.TrainOptions (not imported: train imports this module).

Classification or regression (`--task` overrides the rule): a target whose every value is a number and that has
more than REGRESSION_DISTINCT distinct values is a quantity to predict (regression); any other target holds classes.
For two classes the positive class (the one the F1 and the threshold are about) is `--positive`, else the rarer
class; only between near-equal classes (the rarer at least NEAR_EQUAL of the rows) does the "yes" of a 0/1, no/yes or
false/true target choose (a "yes" that is most of the rows would tune the threshold to say yes to everyone).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from keraslab.datasets import read_csv
from keraslab.errors import DataFormatError, UsageError

MAX_CLASSES = 50
REGRESSION_DISTINCT = 10  # a numeric target with more distinct values than this is a quantity, not classes
YES = {frozenset({"0", "1"}): "1", frozenset({"no", "yes"}): "yes", frozenset({"false", "true"}): "true"}
YES |= {frozenset({"n", "y"}): "y", frozenset({"0.0", "1.0"}): "1.0"}
MIN_VALIDATION_PER_CLASS = 20  # rows of each class the validation slice needs before a threshold is tuned on it
NEAR_EQUAL = 1 / 3  # the rarer of two classes at least this share of the rows: a yes/no wording picks the positive one
MIN_VALIDATION_ROWS = 20  # rows the validation slice needs before the training stops on its loss
SMALL_TEST_ROWS, SMALL_TEST_PER_CLASS = 30, 5


def is_binary(task: str, labels: list) -> bool:
    """Whether a target of this task and labels (a table's, a bundle's) is a yes/no one: two classes."""
    return task == "classification" and len(labels) == 2


@dataclass
class LabelledTable:
    """The table's features and its target: classes encoded 0..k-1 (for two classes, 1 is the positive class), or
    for a regression the numbers themselves (`labels` empty)."""

    X: pd.DataFrame
    y: np.ndarray
    labels: list[str]
    counts: pd.Series  # rows per label (empty for a regression)
    task: str = "classification"  # or "regression"
    why: str = ""  # how the task and, for two classes, the positive class were chosen (said in the log and report)

    @property
    def binary(self) -> bool:
        return is_binary(self.task, self.labels)

    @property
    def regression(self) -> bool:
        return self.task == "regression"


@dataclass
class Split:
    fit: np.ndarray  # the rows the model and the preprocessing are fitted on
    validation: np.ndarray | None  # the slice of the training part the training stops on and the threshold is chosen on
    test: np.ndarray  # held out, untouched until the evaluation
    notes: tuple[str, ...] = ()  # what the split means for the figures (no tuned threshold, a small test part)
    tune: bool = False  # whether the threshold is chosen on the validation slice (a binary target with enough rows)

    @property
    def train_rows(self) -> int:
        return len(self.fit) + (0 if self.validation is None else len(self.validation))


def read_labelled_table(csv: Path, options, log) -> LabelledTable:
    """The CSV without the --drop columns and the rows whose target is missing; its target checked and encoded."""
    if not csv.is_file():
        raise UsageError(f"{csv}: no such file")
    frame = read_csv(csv, required=[options.target], sep=options.sep, encoding=options.encoding)
    for flag, names in (("--drop", options.drop), ("--keep", options.keep)):
        unknown = [c for c in names if c not in frame.columns]
        if unknown:
            raise UsageError(
                f"{flag} {','.join(unknown)}: {csv} has no column(s) {', '.join(map(repr, unknown))}; its columns: "
                f"{', '.join(map(str, frame.columns[:20]))}"
            )
    frame = frame.drop(columns=list(options.drop))
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
    target = frame[options.target]
    numbers = pd.to_numeric(target, errors="coerce")
    numeric = bool(numbers.notna().all()) and target.dtype != bool
    task = options.task or ("regression" if numeric and numbers.nunique() > REGRESSION_DISTINCT else "classification")
    if task == "regression":
        if not numeric:
            bad = target[numbers.isna()].iloc[0]
            raise DataFormatError(
                f"{csv}: column {options.target!r} holds {bad!r}, not a number: a regression needs a numeric target "
                f"(drop --task regression to predict its classes)"
            )
        why = (
            "--task regression"
            if options.task
            else f"a numeric target with {numbers.nunique():,} distinct values (more than {REGRESSION_DISTINCT}): "
            f"regression (--task classification to treat them as classes)"
        )
        X = frame.drop(columns=[options.target])
        return LabelledTable(X, numbers.to_numpy(np.float64), [], pd.Series(dtype=int), "regression", why)
    return _classes(csv, frame, options)


def _classes(csv: Path, frame: pd.DataFrame, options) -> LabelledTable:
    y_text = frame[options.target].astype(str).str.strip()
    labels = sorted(y_text.unique())
    if len(labels) < 2:
        raise DataFormatError(
            f"{csv}: column {options.target!r} has one value only ({labels[0]!r}); a classifier needs at least two"
        )
    if len(labels) > MAX_CLASSES:
        raise DataFormatError(
            f"{csv}: column {options.target!r} has {len(labels)} values; a classifier takes at most {MAX_CLASSES} "
            f"classes (--task regression if it is a quantity)"
        )
    counts = y_text.value_counts()
    if counts.min() < 2:
        raise DataFormatError(
            f"{csv}: column {options.target!r}: class {counts.idxmin()!r} has {counts.min()} row; the stratified "
            f"split needs at least 2 rows of every class (drop that row or collect more)"
        )
    why = f"{len(labels)} classes"
    if options.positive is not None and len(labels) != 2:
        raise UsageError(f"--positive {options.positive!r}: {options.target!r} has {len(labels)} classes, not two")
    if len(labels) == 2:  # the class of interest is label 1
        positive, why = positive_class(labels, counts, options.positive, options.target)
        labels = [lab for lab in labels if lab != positive] + [positive]
    y = y_text.map({lab: k for k, lab in enumerate(labels)}).to_numpy(np.int64)
    return LabelledTable(frame.drop(columns=[options.target]), y, labels, counts, "classification", why)


def positive_class(labels: list[str], counts: pd.Series, chosen: str | None, target: str) -> tuple[str, str]:
    """(the positive class, why it is the one) for a two-class target."""
    if chosen is not None:
        if chosen not in labels:
            raise UsageError(f"--positive {chosen!r}: {target!r} holds {labels[0]!r} and {labels[1]!r}")
        return chosen, f"positive class {chosen!r} (--positive)"
    yes = YES.get(frozenset(label.lower() for label in labels))
    share = float(counts.min() / counts.sum())
    found = next((label for label in labels if label.lower() == yes), None)
    if found is not None and (share >= NEAR_EQUAL or counts[found] == counts.min()):
        return found, f"positive class {found!r} (a {'/'.join(labels)} target: its 'yes'; --positive to change it)"
    if found is not None:
        rare = str(counts.idxmin())
        return rare, (
            f"positive class {rare!r} (the rarer class, {share:.0%} of the rows: a {found!r} that is most of the rows "
            f"would tune the threshold to say {found!r} to nearly everyone; --positive {found} to choose it)"
        )
    if counts[labels[0]] == counts[labels[1]]:
        return labels[1], (
            f"positive class {labels[1]!r} (the two classes are equally common: the last in sorted order; "
            f"--positive to choose)"
        )
    rare = str(counts.idxmin())
    return rare, f"positive class {rare!r} (the rarer class, {share:.0%} of the rows; --positive to change it)"


MAX_SCALABLE = 1e150  # a value whose square overflows float64 cannot be standardised (its variance is inf)


def _check_finite(csv: Path, frame) -> None:
    """inf, -inf and numbers too large to standardise are no values a network can take (blank cells are imputed):
    name the column, the row (counted from 1, as the data rows of the file) and the value."""
    numeric = frame.select_dtypes("number")
    if numeric.shape[1] == 0:  # an all-text table: nothing numeric to check
        return
    values = numeric.to_numpy(np.float64)
    present = numeric.notna().to_numpy(bool)
    with np.errstate(invalid="ignore"):
        bad = present & ~(np.abs(values) <= MAX_SCALABLE)
    if bad.any():
        row, col = (int(i[0]) for i in np.nonzero(bad))
        value = values[row, col]
        why = (
            "is no number a network can take"
            if not np.isfinite(value)
            else "is too large to scale (its square overflows)"
        )
        raise DataFormatError(
            f"{csv}: column {numeric.columns[col]!r} holds {value:g} in row {row + 1}, which {why}; replace it, "
            f"rescale the column, or leave the cell blank (blank cells are imputed)"
        )


def split_rows(table: LabelledTable, options) -> Split:
    """A seeded test split (stratified for classes), and a validation slice of the training part (never the test
    part) for early stopping and, for a binary target with MIN_VALIDATION_PER_CLASS rows of each class in it, the
    threshold; none where it would hold fewer than MIN_VALIDATION_ROWS rows (a note says so)."""
    from sklearn.model_selection import train_test_split

    stratify = None if table.regression else table.y
    try:
        idx_train, idx_test = train_test_split(
            np.arange(len(table.y)), test_size=options.test_size, stratify=stratify, random_state=options.seed
        )
    except ValueError as exc:
        raise DataFormatError(
            f"{len(table.y)} rows cannot be split with --test-size {options.test_size} ({exc}); collect more rows or "
            f"change --test-size"
        ) from None
    notes = _small_test_notes(table, idx_test)
    tune_asked = options.tune_threshold and table.binary
    n_validation = int(len(idx_train) * options.validation_size)
    if not (options.early_stopping or tune_asked):
        return Split(idx_train, None, idx_test, notes)
    if n_validation < MIN_VALIDATION_ROWS:
        note = (
            f"no validation slice: {options.validation_size:.0%} of the training part is {n_validation} rows, fewer "
            f"than the {MIN_VALIDATION_ROWS} a stopping rule or a threshold needs; all {options.epochs} epochs run"
            + (" and the threshold stays 0.5" if tune_asked else "")
        )
        return Split(idx_train, None, idx_test, (*notes, note))
    tune = tune_asked
    if tune_asked:
        expected = np.bincount(table.y[idx_train], minlength=2) * options.validation_size
        if expected.min() < MIN_VALIDATION_PER_CLASS:
            rare = table.labels[int(expected.argmin())]
            notes = (
                *notes,
                (
                    f"threshold 0.5, not tuned: a validation slice of {options.validation_size:.0%} of the training "
                    f"part would hold about {int(expected.min())} row(s) of class {rare!r}, fewer than the "
                    f"{MIN_VALIDATION_PER_CLASS} a threshold needs to mean anything"
                ),
            )
            tune = False
    stratify = None
    if not table.regression and np.bincount(table.y[idx_train]).min() >= 2:
        stratify = table.y[idx_train]
    idx_fit, idx_val = train_test_split(
        idx_train, test_size=options.validation_size, stratify=stratify, random_state=options.seed
    )
    if not options.early_stopping and not tune:  # the slice would serve nothing: train on the whole part
        return Split(idx_train, None, idx_test, notes)
    return Split(idx_fit, idx_val, idx_test, notes, tune)


def _small_test_notes(table: LabelledTable, idx_test: np.ndarray) -> tuple[str, ...]:
    n = len(idx_test)
    if n < SMALL_TEST_ROWS:
        note = (
            f"the test part holds {n} rows: figures from {n} rows are noise (each row weighs {1 / n:.0%} of every "
            f"figure); a larger --test-size or more rows give figures to trust"
        )
        return (note,)
    if not table.regression:
        counts = np.bincount(table.y[idx_test], minlength=len(table.labels))
        if counts.min() < SMALL_TEST_PER_CLASS:
            rare = table.labels[int(counts.argmin())]
            note = (
                f"the test part holds {counts.min()} row(s) of class {rare!r}: its precision, recall and F1 are "
                f"noise; a larger --test-size or more rows of that class give figures to trust"
            )
            return (note,)
    return ()
