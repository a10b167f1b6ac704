"""The verdict of a check, and the three ways an answer is checked: a function against a reference on seeded inputs
(*write it*), a Keras model against what was asked and a quick training run (*build it*,
keraslab.exercises.model_checks), and a prediction against the figure measured (*predict, then run*).

A check never raises for what the learner wrote: an untouched stub is "not attempted yet", an answer that raises is
a failed verdict naming the input and the error, and a wrong value names the first input where it differs, what was
expected (and from which library), what was received, and a hint.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from keraslab import run_state

PASSED, FAILED, NOT_ATTEMPTED, NOT_CHECKED = "passed", "failed", "not attempted", "not checked"
_MARK = {PASSED: "✓", FAILED: "✗", NOT_ATTEMPTED: "○", NOT_CHECKED: "?"}
LESSON_MODULES = (
    "mnist",
    "losses",
    "gradient_descent",
    "gd_variants",
    "cifar10_ann",
    "churn",
    "dropout",
    "imbalance",
    "cnn",
)  # keraslab.exercises.checks_<lesson>: each registers its lesson's checkers


@dataclass(frozen=True)
class Verdict:
    exercise: str
    status: str  # passed, failed, not attempted, not checked (the check could not run here: missing data)
    message: str  # one line
    details: tuple[tuple[str, str], ...] = ()  # ("input", "..."), ("expected", "..."), ("received", ...), ("hint", ...)

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def __str__(self) -> str:
        lines = [f"{_MARK[self.status]} {self.exercise}: {self.message}"]
        width = max((len(k) for k, _ in self.details), default=0)
        lines += [f"    {k + ':':<{width + 1}} {v}" for k, v in self.details]
        return "\n".join(lines)


@dataclass(frozen=True)
class Checker:
    exercise: str
    run: Callable[..., Verdict]
    kind: str  # write it, build it, predict, then run


_CHECKERS: dict[str, Checker] = {}


def register(exercise: str, kind: str):
    """Decorator: `fn(answer, **context) -> Verdict` checks `exercise`."""

    def wrap(fn):
        if exercise in _CHECKERS:
            raise ValueError(f"exercise {exercise!r} is registered twice")
        _CHECKERS[exercise] = Checker(exercise, fn, kind)
        return fn

    return wrap


def checkers() -> dict[str, Checker]:
    """Every registered checker, by exercise id (the nine lesson modules loaded on first use)."""
    for module in LESSON_MODULES:
        importlib.import_module(f"keraslab.exercises.checks_{module}")
    return dict(_CHECKERS)


def evaluate(exercise: str, answer: Any, **context) -> Verdict:
    """The verdict on `answer` for `exercise` (nothing printed)."""
    known = checkers()
    if exercise not in known:
        import difflib

        close = difflib.get_close_matches(str(exercise), list(known), n=3, cutoff=0.6)
        same = [e for e in known if e.split(".")[0] == str(exercise).split(".")[0]]
        hint = f"did you mean {' or '.join(map(repr, close))}?" if close else f"known: {', '.join(same or known)}"
        return Verdict(str(exercise), NOT_CHECKED, f"no exercise of that name; {hint}")
    missing = _missing_context(known[exercise].run, context)
    if missing:
        return Verdict(
            exercise,
            NOT_CHECKED,
            f"this check also needs {', '.join(f'{name}=...' for name in missing)}: keep the cell's check(...) line "
            f"as the lesson wrote it",
        )
    try:
        return known[exercise].run(answer, **context)
    except _Unavailable as exc:
        return Verdict(exercise, NOT_CHECKED, f"cannot be checked here: {exc}")


def _missing_context(fn, context: dict) -> list[str]:
    """The keyword-only arguments a checker needs that the call did not give."""
    import inspect

    return [
        name
        for name, p in inspect.signature(fn).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is inspect.Parameter.empty and name not in context
    ]


def check(exercise: str, answer: Any, **context) -> None:
    """Check `answer` for `exercise` and print the verdict: the call a lesson's exercise cell ends with. (It
    returns nothing, so that a cell ending with it shows the verdict once; `evaluate` returns it.)"""
    verdict = evaluate(exercise, answer, **context)
    collected = run_state.current().verdicts
    if collected is not None:
        collected.append(verdict)
    print(verdict)


class _Unavailable(Exception):
    """What a check needs is not on this machine (a data set): the verdict says so instead of failing."""


def unavailable(message: str) -> _Unavailable:
    return _Unavailable(message)


# ---------------------------------------------------------------------------------------------- write it: functions


def call_answer(exercise: str, fn, *args, hint: str = ""):
    """The learner's function called on `args`: its result, or the Verdict of an untouched stub (not attempted),
    of a function that returns nothing, or of one that raises (the error is the verdict, never a traceback)."""
    if fn is None or fn is Ellipsis:
        return Verdict(exercise, NOT_ATTEMPTED, "not attempted yet: write the function, then run the cell again")
    try:
        out = fn(*args)
    except Exception as exc:  # the learner's code
        return Verdict(exercise, FAILED, f"raised {type(exc).__name__}: {exc}", (("hint", hint),) if hint else ())
    if out is None or out is Ellipsis:
        return Verdict(exercise, NOT_ATTEMPTED, "not attempted yet: the function returns nothing (fill it in)")
    return out


@dataclass(frozen=True)
class Case:
    """One input of a *write it* check: positional arguments, what it is (shown when it fails) and a hint for it."""

    args: tuple
    note: str = ""
    hint: str = ""
    kwargs: dict = field(default_factory=dict)


def show(value: Any, limit: int = 160) -> str:
    """A value as a learner reads it: arrays compactly, long texts cut."""
    if isinstance(value, np.ndarray):
        with np.printoptions(precision=6, suppress=True, threshold=24, edgeitems=3, linewidth=10_000):
            text = np.array2string(value, separator=", ").replace("\n", "")
        if value.ndim > 1 or value.size > 24:
            text += f" (shape {value.shape})"
    elif callable(value):
        text = getattr(value, "__name__", type(value).__name__)
    elif isinstance(value, float):
        text = f"{value:.10g}"
    elif isinstance(value, tuple | list) and value and not isinstance(value[0], str):
        parts = [show(v, limit) for v in value]
        text = (
            ("(" if isinstance(value, tuple) else "[") + ", ".join(parts) + (")" if isinstance(value, tuple) else "]")
        )
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def show_args(case: Case, names: Sequence[str]) -> str:
    parts = [f"{name}={show(arg, 80)}" for name, arg in zip(names, case.args, strict=False)]
    parts += [f"{k}={show(v, 80)}" for k, v in case.kwargs.items()]
    return ", ".join(parts)


def _copy(value):
    return value.copy() if isinstance(value, np.ndarray) else value


def _differs_each(received: Any, expected: list | tuple, rtol: float, atol: float) -> str | None:
    if not isinstance(received, tuple | list) or len(received) != len(expected):
        return f"expected {len(expected)} values (a tuple), received {show(received)}"
    for i, (r, e) in enumerate(zip(received, expected, strict=True)):
        why = differs(r, e, rtol, atol)
        if why:
            return f"value {i + 1}: {why}"
    return None


def _differs_by_key(received: Any, expected: dict, rtol: float, atol: float) -> str | None:
    if not isinstance(received, dict) or set(received) != set(expected):
        return f"expected a dict with keys {sorted(expected)}, received {show(received, 60)}"
    for key in sorted(expected):
        why = differs(received[key], expected[key], rtol, atol)
        if why:
            return f"key {key!r}: {why}"
    return None


def _is_text(value: Any) -> bool:
    """Text where numbers are expected ('0.366' is not 0.366), alone or in a sequence."""
    if isinstance(value, str | bytes | dict):
        return True
    return isinstance(value, list | tuple) and any(isinstance(v, str | bytes) for v in value)


def differs(received: Any, expected: Any, rtol: float, atol: float) -> str | None:
    """Why `received` is not `expected` (None when it is, within the tolerances)."""
    if isinstance(expected, dict):
        return _differs_by_key(received, expected, rtol, atol)
    if isinstance(expected, tuple | list):
        return _differs_each(received, expected, rtol, atol)
    if _is_text(received):
        return f"expected a number or an array of numbers, received {type(received).__name__} {show(received, 40)}"
    try:
        r = np.asarray(received, dtype="float64")
    except (TypeError, ValueError):
        return f"expected a number or an array of numbers, received {type(received).__name__}"
    e = np.asarray(expected, dtype="float64")
    if r.shape != e.shape:
        if e.ndim == 0 and r.size == 1 and r.ndim > 0:
            return f"expected one number, received {type(received).__name__} {show(received, 40)} (return the number)"
        if r.size != 1 or e.size != 1:
            return f"expected shape {e.shape}, received shape {r.shape}"
        r, e = r.reshape(()), e.reshape(())
    return _differs_in_value(r, e, rtol, atol)


def _differs_in_value(r: np.ndarray, e: np.ndarray, rtol: float, atol: float) -> str | None:
    if not np.all(np.isfinite(r) == np.isfinite(e)):
        if np.all(np.isfinite(e)):
            return "non-finite values (inf or nan) where the expected ones are finite"
        return "finite values where inf or nan are expected"
    if not np.allclose(r, e, rtol=rtol, atol=atol, equal_nan=True):
        return "the values differ"
    return None


def check_function(
    exercise: str,
    fn: Any,
    cases: Sequence[Case],
    reference: Callable,
    *,
    names: Sequence[str],
    source: str,
    hint: str,
    rtol: float = 1e-6,
    atol: float = 1e-9,
) -> Verdict:
    """`fn` against `reference` on each case, in order: passed, or the first case where it differs.
    `source`: where the expected values come from ("Keras", "scikit-learn", ...), said in the verdict."""
    if not callable(fn):
        if fn is None or fn is Ellipsis:
            return Verdict(exercise, NOT_ATTEMPTED, "not attempted yet: write the function, then run the cell again")
        return Verdict(exercise, FAILED, f"expected a function, received {type(fn).__name__} {show(fn, 60)}")
    for number, case in enumerate(cases, 1):
        expected = reference(*[_copy(a) for a in case.args], **case.kwargs)
        try:
            received = fn(*[_copy(a) for a in case.args], **case.kwargs)
        except Exception as exc:  # the learner's code: its error is the verdict, never a traceback
            return Verdict(
                exercise,
                FAILED,
                f"raised {type(exc).__name__} on input {number} of {len(cases)}"
                + (f" ({case.note})" if case.note else ""),
                (
                    ("input", show_args(case, names)),
                    ("error", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"),
                    ("hint", case.hint or hint),
                ),
            )
        if received is None or received is Ellipsis:
            if number == 1:
                return Verdict(
                    exercise,
                    NOT_ATTEMPTED,
                    "not attempted yet: the function returns nothing (fill it in, `return` its value, run the cell)",
                )
            return Verdict(exercise, FAILED, f"returned nothing on input {number}: is a `return` missing on a path?")
        why = differs(received, expected, rtol, atol)
        if why:
            return Verdict(
                exercise,
                FAILED,
                f"wrong on input {number} of {len(cases)}" + (f" ({case.note})" if case.note else "") + f": {why}",
                (
                    ("input", show_args(case, names)),
                    ("expected", f"{show(expected)} ({source})"),
                    ("received", show(received)),
                    ("hint", case.hint or hint),
                ),
            )
    edge = [c.note for c in cases if c.note]
    return Verdict(
        exercise,
        PASSED,
        f"passed on {len(cases)} inputs" + (f" (including {'; '.join(edge)})" if edge else "") + f", against {source}",
    )


# ---------------------------------------------------------------------------------- predict, then run: predictions


def check_prediction(
    exercise: str,
    prediction: Any,
    measured: Any,
    *,
    what: str,
    choices: Sequence[str] | None = None,
    rtol: float = 0.0,
    explain: str,
) -> Verdict:
    """A prediction (one of `choices`, or a number within `rtol` of the measured one) against what was measured.
    `what` says what was measured, shown in every verdict; `explain`: why it comes out that way."""
    if prediction is None or prediction is Ellipsis:
        return Verdict(exercise, NOT_ATTEMPTED, "not attempted yet: write your prediction first, then run the cell")
    if choices is None and not isinstance(measured, int | float | np.integer | np.floating):
        status = PASSED if tuple(np.ravel(prediction).tolist()) == tuple(np.ravel(measured).tolist()) else FAILED
        message = f"you predicted {show(prediction)}; measured: {show(measured)}"
    elif choices is not None:
        answer = str(prediction).strip().lower()
        if answer not in choices:
            return Verdict(
                exercise, FAILED, f"your prediction {prediction!r} is not one of {', '.join(map(repr, choices))}"
            )
        status = PASSED if answer == measured else FAILED
        message = f"you predicted {answer!r}; measured: {measured!r}"
    else:
        if isinstance(prediction, bool) or not isinstance(prediction, int | float | np.integer | np.floating):
            return Verdict(exercise, FAILED, f"expected a number as the prediction, received {show(prediction, 60)}")
        ok = math.isclose(float(prediction), float(measured), rel_tol=rtol, abs_tol=0.0 if rtol else 1e-9)
        status = PASSED if ok else FAILED
        message = f"you predicted {show(prediction)}; measured: {show(measured)}"
    return Verdict(
        exercise,
        status,
        ("right: " if status == PASSED else "not this time: ") + message,
        (("measured", what), ("why", explain)),
    )
