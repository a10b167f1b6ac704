"""`keraslab train`'s options, declared once as a lesson's are (keraslab.options: `name: type = default  # in
[lo, hi]: help`): from this one declaration come the command's parser and its help, every check (the command's and
the library's: TrainOptions.check), the defaults of TrainOptions, and the command that trains a bundle again."""

from __future__ import annotations

from keraslab.imbalance import STRATEGIES
from keraslab.options import Parameter, read_parameters

DECLARATION = f"""
target: str = ""  # the column to predict
drop: str = ""  # comma-separated columns to ignore (ids, leaks); none by default
imbalance: Literal[{", ".join(map(repr, STRATEGIES))}] = "class_weight"  # how to handle a rare class (see above)
epochs: int = 100  # in [1, inf): training epochs
seed: int = 0  # in [0, 2**32): seed of the split and the training
test_size: float = 0.2  # in (0, 1): share of the rows held out for the evaluation
tune_threshold: bool = True  # pick the threshold on a validation slice of the training part (20+ rows a class)
validation_size: float = 0.2  # in (0, 1): share of the training part held out to pick the threshold
batch_size: int = 32  # in [1, inf): rows per training step
max_categories: int = 50  # in [2, inf): one-hot columns per categorical column, at most: the rest share 'other'
task: Literal["classification", "regression"] | None = None  # by default regression if numeric with 11+ values
positive: str | None = None  # the class that matters; by default the yes of 0/1, no/yes, else the rarer class
"""
TRAIN_OPTIONS: dict[str, Parameter] = read_parameters(DECLARATION)
