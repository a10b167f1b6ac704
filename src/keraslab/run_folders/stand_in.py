"""Stand-in data: a lesson run on another data set than its own because its own is not on this machine (a quick
`run all` without CIFAR-10 runs the image lessons on the digits that ship with keraslab), and how a run says so."""

from __future__ import annotations

import contextlib
import dataclasses

from keraslab.datasets import get_spec
from keraslab.errors import DataMissingError, UsageError
from keraslab.options import command_words


@dataclasses.dataclass(frozen=True)
class StandIn:
    """A lesson run on another data set than its own because its own is not on this machine (`run all --quick`):
    `dataset` ran instead of `instead_of`, for `reason`."""

    dataset: str
    instead_of: str
    reason: str

    def record(self) -> dict:
        return {"dataset": self.dataset, "instead_of": self.instead_of, "reason": self.reason}


# The image set that ships with keraslab: what an image lesson runs on, in a quick `run all`, when its own is missing.
STAND_IN = "mnist_5k"


def stand_in_from(config_value) -> StandIn | None:
    """The StandIn a config.json records (its "stand_in"), or None; a malformed one is a UsageError."""
    if config_value is None:
        return None
    fields = ("dataset", "instead_of", "reason")
    if not isinstance(config_value, dict) or sorted(config_value) != sorted(fields):
        raise UsageError(f"config.json: `stand_in` must be an object with {', '.join(fields)}")
    if not all(isinstance(config_value[f], str) for f in fields):
        raise UsageError("config.json: `stand_in`'s dataset, instead_of and reason must be texts")
    return StandIn(**config_value)


def stand_in_possible(lesson, dataset: str | None) -> bool:
    """Whether the lesson's `dataset` parameter takes the shipped image set in place of `dataset`."""
    param = lesson.parameters.get("dataset")
    choices = getattr(param, "choices", None) or ()
    return dataset is not None and dataset != STAND_IN and STAND_IN in choices and get_spec(dataset).kind == "images"


@contextlib.contextmanager
def stand_in_hint(lesson, values: dict):
    """A missing image data set, for a lesson that can run on the shipped one, says so in its one line."""
    try:
        yield
    except DataMissingError as exc:
        if not stand_in_possible(lesson, lesson_dataset(lesson, values)):
            raise
        others = command_words({k: v for k, v in values.items() if k != "dataset"}, lesson.parameters)
        again = " ".join(["keraslab run", lesson.name, *([others] if others else []), "--dataset", STAND_IN])
        hint = f"or run it on the digits that ship with keraslab: {again}"
        raise DataMissingError(f"{exc}; {hint}") from exc


def lesson_dataset(lesson, values: dict) -> str | None:
    param = lesson.parameters.get("dataset")
    return None if param is None else values.get("dataset", param.default)
