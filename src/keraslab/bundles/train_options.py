"""`keraslab train`'s options, declared once as the fields of `TrainOptions` (keraslab.options.option: type,
default, range or choices, help): from this one declaration come the command's parser and its help, every check
(`TrainOptions.check`, the library's and the command's), and the command that trains a bundle again."""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass

from keraslab import models
from keraslab.errors import UsageError
from keraslab.imbalance import STRATEGIES
from keraslab.options import Bound, Parameter, command_words, declared, option


@dataclass
class TrainOptions:
    """What `keraslab train` (and `train_table`) trains with. `quiet` and `hidden` are the library's only."""

    target: str = option("", help="the column to predict")
    drop: tuple[str, ...] = option((), help="comma-separated columns to ignore (ids, leaks); none by default")
    keep: tuple[str, ...] = option(
        (), help="comma-separated columns to keep although they look like identifiers (a row number, an index)"
    )
    imbalance: str = option("class_weight", choices=STRATEGIES, help="how to handle a rare class (see above)")
    epochs: int = option(100, bound=Bound(1), help="training epochs")
    seed: int = option(0, bound=Bound(0, 2**32, hi_closed=False), help="seed of the split and the training")
    test_size: float = option(
        0.2, bound=Bound(0, 1, False, False), help="share of the rows held out for the evaluation"
    )
    tune_threshold: bool = option(
        True, help="pick the threshold on a validation slice of the training part (20+ rows a class)"
    )
    validation_size: float = option(
        0.2,
        bound=Bound(0, 1, False, False),
        help="share of the training part held out to stop the training and to pick the threshold",
    )
    early_stopping: bool = option(
        True,
        help="stop when the validation slice's loss has not fallen for --patience epochs, keeping the best epoch's "
        "weights (--epochs is then the most it trains)",
    )
    patience: int = option(10, bound=Bound(1), help="epochs without a lower validation loss before training stops")
    batch_size: int = option(32, bound=Bound(1), help="rows per training step")
    max_categories: int = option(
        50, bound=Bound(2), help="one-hot columns per categorical column, at most: the rest share 'other'"
    )
    task: str | None = option(
        None,
        choices=("classification", "regression"),
        help="by default regression if numeric with 11+ values",
    )
    positive: str | None = option(
        None, help="the class that matters; by default the yes of 0/1, no/yes, else the rarer class"
    )
    sep: str | None = option(None, help="the CSV's separator (default: sniffed from its header: comma, ; tab or |)")
    encoding: str | None = option(None, help="the CSV's encoding (default: utf-8, else cp1252, else latin-1)")
    quiet: bool = False
    hidden: tuple[int, ...] = models.IMBALANCE_HIDDEN  # the imbalance notebook's 26-15 network

    def check(self) -> None:
        """Every declared option checked against its declaration (a bad one: UsageError, one line)."""
        for name, p in TRAIN_OPTIONS.items():
            setattr(self, name, p.check(getattr(self, name)))
        if not self.target:
            raise UsageError("Invalid value for `target`. Expected the name of a column. Received: target=''")

    def command(self, csv: str | os.PathLike, out: str | os.PathLike) -> str:
        """The `keraslab train` command that trains this bundle again: every declared option that differs from its
        default (a library-only `hidden` that differs is named after it)."""
        changed = {
            n: getattr(self, n) for n, p in TRAIN_OPTIONS.items() if n != "target" and getattr(self, n) != p.default
        }
        words = command_words(changed, TRAIN_OPTIONS)
        line = " ".join([shlex.join(["keraslab", "train", str(csv), "--target", self.target]), *filter(None, [words])])
        line += " " + shlex.join(["--out", str(out)])
        return line + (
            f"  # through the library, with hidden={self.hidden!r}" if self.hidden != models.IMBALANCE_HIDDEN else ""
        )


TRAIN_OPTIONS: dict[str, Parameter] = declared(TrainOptions)
