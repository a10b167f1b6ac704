"""keraslab.lessons: one module per course notebook, each a frozen config dataclass and `run(config) -> Result`,
registered under the name `keraslab run` takes (the module's name, with "-" for "_").

    lesson = get_lesson("churn")
    folder, summary = keraslab.runs.run_lesson(lesson, make_config(lesson, epochs=20))
"""

from __future__ import annotations

import importlib

from keraslab.errors import UsageError
from keraslab.lessons.lesson import (
    REGISTERED,
    BaseConfig,
    Lesson,
    Option,
    config_options,
    make_config,
    read_config,
    register,
)

# Lesson modules, in the order `keraslab run all` runs them. Importing one registers its lesson.
MODULES: tuple[str, ...] = (
    "losses",
    "gradient_descent",
    "gd_variants",
    "mnist",
    "cifar10_ann",
    "churn",
    "dropout",
    "imbalance",
    "cnn",
)


def all_lessons() -> dict[str, Lesson]:
    """Every lesson, in MODULES' order (then any registered elsewhere)."""
    for module in MODULES:
        importlib.import_module(f"keraslab.lessons.{module}")
    ordered = {name: REGISTERED[name] for name in (m.replace("_", "-") for m in MODULES) if name in REGISTERED}
    return {**ordered, **REGISTERED}


def get_lesson(name: str) -> Lesson:
    lessons = all_lessons()
    if name not in lessons:
        raise UsageError(f"Unknown lesson {name!r}. Expected one of: {', '.join(lessons) or '(none registered)'}")
    return lessons[name]


__all__ = [
    "MODULES",
    "REGISTERED",
    "BaseConfig",
    "Lesson",
    "Option",
    "all_lessons",
    "config_options",
    "get_lesson",
    "make_config",
    "read_config",
    "register",
]
