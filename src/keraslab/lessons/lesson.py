"""What a lesson is: a frozen config dataclass (subclassing BaseConfig) and `run(config) -> Result`, registered
under the name `keraslab run` takes; and the typed options its config offers.

A lesson module imports Keras only inside `run`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keraslab.errors import UsageError


@dataclass(frozen=True)
class Bound:
    """The values a numeric option accepts: lo / hi (None: unbounded), each end closed or open."""

    lo: float | None
    hi: float | None = None
    lo_closed: bool = True
    hi_closed: bool = True

    def admits(self, value) -> bool:
        if self.lo is not None and (value < self.lo if self.lo_closed else value <= self.lo):
            return False
        return not (self.hi is not None and (value > self.hi if self.hi_closed else value >= self.hi))

    def describe(self, integer: bool) -> str:
        if integer and self.hi is None:
            return "a positive integer" if self.lo == 1 else f"an integer >= {_number(self.lo)}"
        left, right = "[" if self.lo_closed else "(", "]" if self.hi_closed and self.hi is not None else ")"
        hi = "inf" if self.hi is None else _number(self.hi)
        return f"{'an integer' if integer else 'a number'} in {left}{_number(self.lo)}, {hi}{right}"


def _number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


_FRACTION_OPEN = Bound(0, 1, lo_closed=False, hi_closed=False)  # a share of the rows: neither none nor all
# What every lesson option of that name accepts (one meaning per name across lessons); tested to cover every numeric
# option. None always means "the lesson's default" where a field allows it, never 0.
BOUNDS: dict[str, Bound] = {
    "seed": Bound(0, 2**32, hi_closed=False),
    "split_seed": Bound(0, 2**32, hi_closed=False),
    "epochs": Bound(1),
    "ann_epochs": Bound(1),
    "batch_size": Bound(1),
    "hidden_units": Bound(1),
    "folds": Bound(2),
    "repeats": Bound(1),
    "seeds": Bound(1),
    "k": Bound(1),
    "k_neighbors": Bound(1),
    "test_size": _FRACTION_OPEN,
    "split_test_size": _FRACTION_OPEN,
    "validation_split": Bound(0, 1, hi_closed=False),
    "threshold": Bound(0, 1),
    "rate": Bound(0, 1, hi_closed=False),
    "alpha": Bound(0, 1),
    "gamma": Bound(0),
    "learning_rate": Bound(0, lo_closed=False),
    "loss_threshold": Bound(0, lo_closed=False),
    "epsilon": Bound(0, 0.5, lo_closed=False, hi_closed=False),
}


def check_bounds(config) -> None:
    """ValueError in Keras's words for a numeric field outside its BOUNDS."""
    for f in dataclasses.fields(config):
        value, bound = getattr(config, f.name), BOUNDS.get(f.name)
        if bound is None or value is None or isinstance(value, bool):
            continue
        integer = isinstance(value, int)
        if not isinstance(value, (int, float)) or not bound.admits(value):
            raise ValueError(
                f"Invalid value for `{f.name}`. Expected {bound.describe(integer)}"
                + (" or None (the lesson's default)" if f.default is None else "")
                + f". Received: {f.name}={value!r}"
            )


@dataclass(frozen=True)
class BaseConfig:
    """Options every lesson has. Lessons subclass this (frozen) and add their own fields.

    A field's metadata may carry "help" and "choices"; `config_options` turns each field into an option.
    """

    seed: int = dataclasses.field(default=0, metadata={"help": "random seed"})
    epochs: int | None = dataclasses.field(default=None, metadata={"help": "override the lesson's epochs"})
    quick: bool = dataclasses.field(default=False, metadata={"help": "a small, fast smoke run"})
    data_dir: str | None = dataclasses.field(
        default=None, metadata={"help": "data home (default: $KERASLAB_DATA, else ~/.cache/keraslab)"}
    )
    offline: bool = dataclasses.field(default=False, metadata={"help": "never download; fail if a file is missing"})
    quiet: bool = dataclasses.field(default=False, metadata={"help": "no progress output"})

    def __post_init__(self):
        check_bounds(self)


@dataclass(frozen=True)
class Lesson:
    name: str
    summary: str  # one line, for `keraslab lessons`
    config_cls: type
    run: Callable
    headline: str | None = None  # the summary key `keraslab run all` shows
    course_figure: str | None = None  # the course's published figure for that key, as text
    own_seeds: bool = False  # the lesson runs its seeds itself (config.seeds); the runner does not loop
    epochs: tuple[int, int] | None = None  # (full, --quick) epochs when --epochs is not given


def epochs_of(config, epochs: tuple[int, int]) -> int:
    """The epochs a run trains: --epochs when given, else the lesson's default (full, quick)."""
    full, quick = epochs
    return config.epochs if config.epochs is not None else (quick if config.quick else full)


REGISTERED: dict[str, Lesson] = {}


def register(
    name: str,
    summary: str,
    config_cls: type,
    *,
    headline: str | None = None,
    course_figure: str | None = None,
    own_seeds: bool = False,
    epochs: tuple[int, int] | None = None,
):
    """Decorator: register `run` as lesson `name`."""
    if not (dataclasses.is_dataclass(config_cls) and issubclass(config_cls, BaseConfig)):
        raise TypeError(f"lesson {name!r}: config must be a dataclass subclassing BaseConfig")
    if own_seeds and "seeds" not in {f.name for f in dataclasses.fields(config_cls)}:
        raise TypeError(f"lesson {name!r}: own_seeds needs a `seeds` field in its config")

    def deco(run):
        REGISTERED[name] = Lesson(name, summary, config_cls, run, headline, course_figure, own_seeds, epochs)
        return run

    return deco


def make_config(lesson: Lesson, **values):
    """Build a lesson's config from keyword values, rejecting unknown names with a clear error."""
    names = {f.name for f in dataclasses.fields(lesson.config_cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise UsageError(
            f"Lesson {lesson.name!r} has no option(s) {', '.join(unknown)}; valid: {', '.join(sorted(names))}"
        )
    try:
        return lesson.config_cls(**values)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"Lesson {lesson.name!r}: {exc}") from None


def read_config(lesson: Lesson, path: str | os.PathLike) -> dict:
    """The values of a run's config.json (the run folder's resolved config), to repeat that run: every field of
    the lesson's config, and `seeds` when the run had several."""
    path = Path(path)
    try:
        loaded = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"--config {path}: no such file") from None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"--config {path}: not valid JSON ({exc})") from None
    if not isinstance(loaded, dict):
        raise UsageError(f"--config {path}: expected a JSON object")
    if loaded.get("lesson", lesson.name) != lesson.name:
        raise UsageError(f"--config {path} is for lesson {loaded['lesson']!r}, not {lesson.name!r}")
    return {k: v for k, v in loaded.items() if k != "lesson"}


@dataclass(frozen=True)
class Option:
    """One config field as an option: its name, type (int, float, str or bool), default, choices and help."""

    name: str
    type: type
    default: Any
    choices: tuple | None = None
    help: str = ""


def config_options(config_cls: type) -> list[Option]:
    """Every field of a config dataclass as an Option, with its real type (an optional field gives the type it
    holds; a Literal gives str and its values as choices)."""
    hints = typing.get_type_hints(config_cls)
    options = []
    for f in dataclasses.fields(config_cls):
        tp, choices = _option_type(hints[f.name])
        default = f.default if f.default is not dataclasses.MISSING else None
        options.append(Option(f.name, tp, default, f.metadata.get("choices", choices), f.metadata.get("help", "")))
    return options


def _option_type(tp) -> tuple[type, tuple | None]:
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        tp = next(a for a in typing.get_args(tp) if a is not type(None))
    if typing.get_origin(tp) is typing.Literal:
        values = typing.get_args(tp)
        return type(values[0]), values
    if tp not in (int, float, str, bool):
        raise TypeError(f"config option type {tp!r} is not one of int, float, str, bool")
    return tp, None
