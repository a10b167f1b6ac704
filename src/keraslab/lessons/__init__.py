"""The lesson registry. Each lesson module defines a frozen config dataclass and ``run(config) -> Result`` and
registers them with :func:`register`. Lesson modules import Keras only inside ``run``.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from typing import Callable

from keraslab.errors import UsageError

# Lesson modules, in the course's order. Importing one registers its lessons.
_MODULES: tuple[str, ...] = (
    "keraslab.lessons.losses",
    "keraslab.lessons.gradient_descent",
    "keraslab.lessons.gd_variants",
    "keraslab.lessons.mnist",
    "keraslab.lessons.cifar10_ann",
    "keraslab.lessons.churn",
    "keraslab.lessons.dropout",
    "keraslab.lessons.imbalance",
    "keraslab.lessons.cnn",
)


@dataclass(frozen=True)
class BaseConfig:
    """Options every lesson has. Lessons subclass this (frozen) and add their own fields.

    A field's metadata may carry "help" and "choices"; the CLI turns each lesson field into an option.
    """

    seed: int = 0
    epochs: int | None = None  # None: the lesson's own default
    quick: bool = False  # a small, fast smoke run
    data_dir: str | None = None
    offline: bool = False
    quiet: bool = False


BASE_FIELDS = frozenset(f.name for f in dataclasses.fields(BaseConfig))


@dataclass(frozen=True)
class Lesson:
    name: str
    summary: str  # one line, for `keraslab lessons`
    config_cls: type
    run: Callable
    headline: str | None = None  # the summary key `keraslab run all` shows
    course_figure: str | None = None  # the course's published figure for that key, as text
    own_seeds: bool = False  # the lesson runs its seeds itself (config.seeds); the runner does not loop


_LESSONS: dict[str, Lesson] = {}


def register(name: str, summary: str, config_cls: type, *, headline: str | None = None,
             course_figure: str | None = None, own_seeds: bool = False):
    """Decorator: register `run` as lesson `name`."""
    if not (dataclasses.is_dataclass(config_cls) and issubclass(config_cls, BaseConfig)):
        raise TypeError(f"lesson {name!r}: config must be a dataclass subclassing BaseConfig")

    def deco(run):
        if own_seeds and "seeds" not in {f.name for f in dataclasses.fields(config_cls)}:
            raise TypeError(f"lesson {name!r}: own_seeds needs a `seeds` field in its config")
        _LESSONS[name] = Lesson(name, summary, config_cls, run, headline, course_figure, own_seeds)
        return run

    return deco


def _load_all() -> None:
    for module in _MODULES:
        importlib.import_module(module)


def all_lessons() -> dict[str, Lesson]:
    _load_all()
    return dict(_LESSONS)


def get_lesson(name: str) -> Lesson:
    lessons = all_lessons()
    if name not in lessons:
        valid = ", ".join(lessons) or "(none registered)"
        raise UsageError(f"Unknown lesson {name!r}. Expected one of: {valid}")
    return lessons[name]


def make_config(lesson: Lesson, **values):
    """Build a lesson's config from keyword values, rejecting unknown names with a clear error."""
    names = {f.name for f in dataclasses.fields(lesson.config_cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise UsageError(f"Lesson {lesson.name!r} has no option(s) {', '.join(unknown)}; "
                         f"valid: {', '.join(sorted(names))}")
    try:
        return lesson.config_cls(**values)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"Lesson {lesson.name!r}: {exc}") from None
