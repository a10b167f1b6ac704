"""The nine lessons, in the course's order: each one script in this folder (`01_mnist.py` ... `09_cnn.py`), and what
`keraslab lessons` and `keraslab run all` say about it before running it.

The file names start with the course's order and are not importable: a lesson script runs (as a notebook, or under
`keraslab run`), it is never imported.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from keraslab.errors import UsageError
from keraslab.lessons.practice import Exercise, exercises
from keraslab.lessons.source import Cell, parameters_cell, read_cells
from keraslab.options import Parameter, read_parameters

FOLDER = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Lesson:
    name: str  # what `keraslab run` takes
    file: str  # the script, in this folder
    summary: str  # one line, for `keraslab lessons`
    headline: str  # the summary key `keraslab run all` shows
    course_figure: str  # the course's printed figure for it, and which notebook printed it
    folder: Path = field(default=FOLDER, compare=False)  # where the script is (a lesson of your own: elsewhere)

    @property
    def path(self) -> Path:
        return Path(self.folder) / self.file

    @functools.cached_property
    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @functools.cached_property
    def cells(self) -> list[Cell]:
        return read_cells(self.text)

    @functools.cached_property
    def parameters(self) -> dict[str, Parameter]:
        return read_parameters(parameters_cell(self.cells, self.name).source)

    @property
    def title(self) -> str:
        """The first heading of the lesson, without the leading '#'."""
        first = next(c for c in self.cells if c.kind == "markdown").source.splitlines()[0]
        return first.lstrip("#").strip()

    @property
    def own_seeds(self) -> bool:
        """The lesson averages over seeds itself (its `seeds` parameter); `--seeds N` sets that parameter."""
        return "seeds" in self.parameters

    @functools.cached_property
    def exercises(self) -> list[Exercise]:
        """The exercises at the end of the script, in order."""
        return exercises(self.name, self.cells)

    def execute(self, values: dict, *, echo=None, exercises: str | None = None):
        """Run the script in this process with `values` in its parameters cell: a LessonResult. `exercises`:
        None stops before them (as `keraslab run`), "stubs" or "solutions" runs them too."""
        from keraslab.lessons.execution import execute

        return execute(self, values, echo=echo, exercises=exercises)


LESSONS: tuple[Lesson, ...] = (
    Lesson(
        "mnist",
        "01_mnist.py",
        "digits: a 784-10 and a 784-100-10 network (softmax, each with its own confusion matrix)",
        "hidden_test_accuracy",
        "0.9743 (S, MNIST, one unseeded run)",
    ),
    Lesson(
        "losses",
        "02_losses.py",
        "loss functions by hand: MAE, MSE, log loss (the course's toy example, fixed), all against Keras",
        "log_loss",
        "17.2696 (S and O, roles swapped)",
    ),
    Lesson(
        "gradient-descent",
        "03_gradient_descent.py",
        "one sigmoid neuron by gradient descent on the insurance table, against Keras",
        "scratch_test_accuracy",
        "0.8333 (S's Keras neuron, Adam)",
    ),
    Lesson(
        "gd-variants",
        "04_gd_variants.py",
        "batch vs stochastic vs mini-batch gradient descent on home prices, against least squares",
        "batch_cost",
        "0.00686 (O; S's buggy run 0.0085)",
    ),
    Lesson(
        "cifar10-ann",
        "05_cifar10_ann.py",
        "images (CIFAR-10, or --dataset): a 3000-1000-10 dense network, and an epoch timed on each device",
        "test_accuracy",
        "0.5054 (S, CIFAR-10, 10 epochs)",
    ),
    Lesson(
        "churn",
        "06_churn.py",
        "telecom customer churn: 26-20-12-1 network, scaler fitted on the training part, threshold 0.5",
        "churn_f1",
        "0.57 (S, one unseeded run)",
    ),
    Lesson(
        "dropout",
        "07_dropout.py",
        "sonar: the same network without and with Dropout(0.5), compared over repeated k-fold CV",
        "cv_accuracy_dropout",
        "0.8077 (O, one 52-row split)",
    ),
    Lesson(
        "imbalance",
        "08_imbalance.py",
        "imbalanced churn: 8 strategies on untouched test splits (and the course's leak, labelled)",
        "best_f1",
        "0.82 (S, SMOTE, leaky)",
    ),
    Lesson(
        "cnn",
        "09_cnn.py",
        "images (CIFAR-10, or --dataset): a small CNN against the dense network; a 3x3 convolution by hand",
        "cnn_test_accuracy",
        "0.7028 (O, CIFAR-10, 10 epochs)",
    ),
)
COURSE_ORDER: tuple[str, ...] = tuple(lesson.name for lesson in LESSONS)


def all_lessons() -> dict[str, Lesson]:
    """Every lesson by name, in the course's order."""
    return {lesson.name: lesson for lesson in LESSONS}


def get_lesson(name: str) -> Lesson:
    lessons = all_lessons()
    if name not in lessons:
        raise UsageError(f"Unknown lesson {name!r}. Expected one of: {', '.join(lessons)}")
    return lessons[name]
