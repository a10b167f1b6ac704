"""The image set that ships with keraslab standing in for a lesson's own: a quick run (a smoke test) of an image
lesson whose data set is not on this machine runs on mnist_5k instead, labelled stand-in data, whichever way it runs
(`keraslab run`, `run all`, a notebook). A full run never stands in: it needs the lesson's own data."""

from __future__ import annotations

from keraslab.datasets import get_spec, is_available
from keraslab.run_state import StandIn

STAND_IN = "mnist_5k"


def stand_in_possible(lesson, dataset: str | None) -> bool:
    """Whether the lesson's `dataset` parameter takes the shipped image set in place of `dataset`."""
    param = lesson.parameters.get("dataset")
    choices = getattr(param, "choices", None) or ()
    return dataset is not None and dataset != STAND_IN and STAND_IN in choices and get_spec(dataset).kind == "images"


def lesson_dataset(lesson, values: dict) -> str | None:
    param = lesson.parameters.get("dataset")
    return None if param is None else values.get("dataset", param.default)


def missing_here(lesson, values: dict) -> StandIn | None:
    """The stand-in for a quick run whose image data set is not on this machine (in the data home or shipped), or
    None: a full run, a lesson that cannot stand in, or its data set is here."""
    dataset = lesson_dataset(lesson, values)
    if not values.get("quick") or not stand_in_possible(lesson, dataset):
        return None
    if is_available(dataset, values.get("data_dir")):
        return None
    return StandIn(STAND_IN, dataset, "a quick run does not download it")
