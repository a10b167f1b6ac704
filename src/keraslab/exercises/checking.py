"""The verdict of a check, and the three ways an answer is checked: a function against a reference on inputs drawn
afresh at every check (*write it*), a Keras model against what was asked and a quick training run of a fresh copy
(*build it*, keraslab.exercises.model_checks), and a prediction against the figure measured (*predict, then run*).

A check never raises, whatever it is given: an untouched stub is "not attempted yet", an answer that raises is a
failed verdict naming the input and the error, and a wrong value names the first input where it differs, the first
element that differs (its index, expected and received), where the expected value comes from, and a hint chosen by
the mistake made where it can be told.

The checks are for learning, not grading: they make the honest answer the easy one (fresh inputs, the expected value
computed after the learner's function has returned, the reference not callable from inside the answer), not
cheating impossible.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect as _inspect
import math
import secrets
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from keraslab import run_state
from keraslab.exercises.differences import (
    copied,
    describe,
    differs,
    precision,
    ratio_note,
    show,
    shown_at,
    unchanged,
)

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
NOT_A_PREDICTION = (
    "work the answer out before you run anything (by hand, from what the lesson taught), write it as a plain value, "
    "then run the cell to see whether you were right"
)
LEARNER_ERRORS = (Exception, SystemExit)  # what the learner's code may raise: a verdict (KeyboardInterrupt still stops)
IN_PLACE = (
    "write the result into a new array (a - b, np.clip(p, lo, hi)) instead of changing the one passed in (a -= b, "
    "np.clip(..., out=p), x[...] = 0): the lesson still needs it"
)
UNREADABLE = "the check could not read this answer"  # the last resort of evaluate(): a test asserts it never shows


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
    unknown = sorted(set(context) - set(_inspect.signature(known[exercise].run).parameters))
    if unknown:
        return Verdict(
            exercise,
            NOT_CHECKED,
            f"this check takes no {', '.join(f'{name}=' for name in unknown)}: keep the cell's check(...) line as the "
            "lesson wrote it",
        )
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
    except LEARNER_ERRORS as exc:  # a verdict, never a traceback in the learner's notebook
        return Verdict(
            exercise,
            FAILED,
            f"{UNREADABLE} or its check(...) line ({type(exc).__name__}: {_first_line(exc)}): keep the line as the "
            "lesson wrote it",
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else ""


def _missing_context(fn, context: dict) -> list[str]:
    """The keyword-only arguments a checker needs that the call did not give."""
    return [
        name
        for name, p in _inspect.signature(fn).parameters.items()
        if p.kind is _inspect.Parameter.KEYWORD_ONLY and p.default is _inspect.Parameter.empty and name not in context
    ]


def check(exercise: str, answer: Any, **context) -> None:
    """Check `answer` for `exercise` and print the verdict: the call a lesson's exercise cell ends with. (It
    returns nothing, so that a cell ending with it shows the verdict once; `evaluate` returns it.)"""
    from keraslab.exercises import derived

    known = checkers()
    found = None
    if exercise in known and known[exercise].kind == "predict, then run" and "measured" in context:
        found = derived.from_what_is_measured(_inspect.currentframe().f_back)
    if found:
        name, shared = found
        verdict = Verdict(
            exercise,
            FAILED,
            f"not a prediction: `{name}` is computed from {', '.join(shared)}, what this cell measures",
            (("hint", NOT_A_PREDICTION),),
        )
    else:
        verdict = evaluate(exercise, answer, **context)
    collected = run_state.current().verdicts
    if collected is not None:
        collected.append(verdict)
    print(verdict)


class _Unavailable(Exception):
    """What a check needs is not on this machine (a data set): the verdict says so instead of failing."""


def unavailable(message: str) -> _Unavailable:
    return _Unavailable(message)


# ------------------------------------------------------------------------------------ inputs drawn afresh each time

_PINNED: list[int] = []


def fresh_rng() -> np.random.Generator:
    """The generator a write check draws its inputs from: seeded afresh at every check (so that hard-coding the
    values a message once showed never passes), or by `pinned_inputs` (tests)."""
    return np.random.default_rng(_PINNED[-1] if _PINNED else secrets.randbits(64))


@contextlib.contextmanager
def pinned_inputs(seed: int) -> Iterator[None]:
    """Inside the block, the checks draw the same inputs at every call (seeded with `seed`)."""
    _PINNED.append(int(seed))
    try:
        yield
    finally:
        _PINNED.pop()


# ---------------------------------------------------------------------------------------------- write it: functions


def _not_a_function(exercise: str, fn: Any) -> Verdict | None:
    """The verdict on an answer that is not the learner's function (None when it is one)."""
    if fn is None or fn is Ellipsis:
        return Verdict(exercise, NOT_ATTEMPTED, "not attempted yet: write the function, then run the cell again")
    if isinstance(fn, type):
        return Verdict(
            exercise, FAILED, f"received the class {fn.__name__}, not a function: pass the function you wrote"
        )
    if type(fn).__module__.split(".")[0] == "keras":
        return Verdict(
            exercise,
            FAILED,
            f"received a Keras {type(fn).__name__}, not a function: this exercise asks for a function you write "
            "(def name(...): ... return ...)",
        )
    if not callable(fn):
        return Verdict(exercise, FAILED, f"expected a function, received {describe(fn, 60)}")
    return None


@contextlib.contextmanager
def watching(functions: Sequence[tuple[Callable, str]]) -> Iterator[list[str]]:
    """Inside the block, the names of `functions` (label each) that were called: a *write it* answer that calls
    the library the check compares with (or the check's own reference) is told so."""
    codes = {}
    for fn, label in functions:
        target = _inspect.unwrap(fn) if callable(fn) else fn
        code = getattr(target, "__code__", None)
        if code is not None:
            codes[code] = label
    called: list[str] = []

    def hook(frame, event, arg):
        if event == "call" and frame.f_code in codes and codes[frame.f_code] not in called:
            called.append(codes[frame.f_code])

    previous = sys.getprofile()
    sys.setprofile(hook)
    try:
        yield called
    finally:
        sys.setprofile(previous)


def call_answer(exercise: str, fn, *args, hint: str = "", forbidden: Sequence[tuple[Callable, str]] = ()):
    """The learner's function called on `args`: its result, or the Verdict of an untouched stub (not attempted),
    of what is not a function, of a function that returns nothing, of one that raises (the error is the verdict,
    never a traceback), or of one that calls one of `forbidden` (what the exercise asks to write by hand)."""
    wrong = _not_a_function(exercise, fn)
    if wrong:
        return wrong
    before = [copied(a) for a in args]
    try:
        with watching(forbidden) as called:
            out = fn(*args)
    except LEARNER_ERRORS as exc:  # the learner's code
        return Verdict(
            exercise, FAILED, f"raised {type(exc).__name__}: {_first_line(exc)}", (("hint", hint),) if hint else ()
        )
    if called:
        return _calls_the_reference(exercise, called)
    changed = [i for i, (a, b) in enumerate(zip(before, args, strict=True), 1) if not unchanged(a, b)]
    if changed:
        return Verdict(
            exercise,
            FAILED,
            f"your function changed its argument {changed[0]} in place: the caller's array is now different",
            (("hint", IN_PLACE),),
        )
    if out is None or out is Ellipsis:
        return Verdict(exercise, NOT_ATTEMPTED, "not attempted yet: the function returns nothing (fill it in)")
    return out


def _calls_the_reference(exercise: str, called: list[str]) -> Verdict:
    return Verdict(
        exercise,
        FAILED,
        f"your function calls {called[0]}, what the check compares with: this exercise asks you to write it yourself",
        (("hint", "the point is to see how it works inside: write the computation out with NumPy (or plain Python)"),),
    )


@dataclass(frozen=True)
class Case:
    """One input of a *write it* check: positional arguments, what it is (shown when it fails) and a hint for it."""

    args: tuple
    note: str = ""
    hint: str = ""
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Mistake:
    """A wrong answer learners write, computed on the same input: when the answer equals it, its hint is shown."""

    what: str  # "the kernel flipped (a true convolution)"
    compute: Callable
    hint: str
    when: Callable[[Any], bool] | None = None  # what else the answer must be for this mistake (an integer, ...)


def show_args(case: Case, names: Sequence[str]) -> str:
    parts = [f"{name}={show(arg, 80)}" for name, arg in zip(names, case.args, strict=False)]
    parts += [f"{k}={show(v, 80)}" for k, v in case.kwargs.items()]
    return ", ".join(parts)


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
    reference32: Callable | None = None,
    mistakes: Sequence[Mistake] = (),
    forbidden: Sequence[tuple[Callable, str]] = (),
) -> Verdict:
    """`fn` against `reference` on each case, in order: passed, or the first case where it differs.

    `source`: where the expected values come from ("Keras", "scikit-learn", ...), said in the verdict. An answer
    computed in float32 is compared with `reference32` (Keras's own float32 result) where given, within float32's
    tolerance; a float64 one with `reference` within `rtol`/`atol`. The expected value of a case is computed after
    the learner's function has returned on it, and the learner's function may not call `reference` or any of
    `forbidden`. When a wrong answer equals one of `mistakes` on the input, that mistake's hint is shown."""
    wrong = _not_a_function(exercise, fn)
    if wrong:
        return wrong
    watched = [*forbidden, (reference, f"the check's own reference ({source})")]
    if reference32 is not None:
        watched.append((reference32, f"the check's own reference ({source})"))
    for number, case in enumerate(cases, 1):
        where = f" on input {number} of {len(cases)}" + (f" ({case.note})" if case.note else "")
        given = [copied(a) for a in case.args]
        try:
            with watching(watched) as called:
                received = fn(*given, **case.kwargs)
        except LEARNER_ERRORS as exc:  # the learner's code: its error is the verdict, never a traceback
            return Verdict(
                exercise,
                FAILED,
                f"raised {type(exc).__name__}{where}",
                (
                    ("input", show_args(case, names)),
                    ("error", f"{type(exc).__name__}: {_first_line(exc)}"),
                    ("hint", case.hint or hint),
                ),
            )
        if called:
            return _calls_the_reference(exercise, called)
        changed = [name for name, a, g in zip(names, case.args, given, strict=False) if not unchanged(a, g)]
        if changed:
            return Verdict(
                exercise,
                FAILED,
                f"your function changed its input {changed[0]} in place{where}: the caller's array is now different",
                (
                    ("input", show_args(case, names)),
                    ("hint", IN_PLACE),
                ),
            )
        if received is None or received is Ellipsis:
            if number == 1:
                return Verdict(
                    exercise,
                    NOT_ATTEMPTED,
                    "not attempted yet: the function returns nothing (fill it in, `return` its value, run the cell)",
                )
            return Verdict(exercise, FAILED, f"returned nothing{where}: is a `return` missing on a path?")
        single = precision(received) == "float32"
        compute = reference32 if single and reference32 is not None else reference
        expected = compute(*[copied(a) for a in case.args], **case.kwargs)
        tolerance = (max(rtol, 1e-5), max(atol, 1e-6)) if single else (rtol, atol)
        found = differs(received, expected, *tolerance)
        if found:
            made = next((m for m in mistakes if _matches(received, m, case, tolerance)), None)
            said = f"; it equals {made.what}" if made else ratio_note(received, expected)
            return Verdict(
                exercise,
                FAILED,
                f"wrong{where}: {found.why}{said}",
                (
                    ("input", show_args(case, names)),
                    ("expected", f"{shown_at(expected, found)} ({source}{', in float32' if single else ''})"),
                    ("received", shown_at(received, found)),
                    ("hint", made.hint if made else case.hint or hint),
                ),
            )
    edge = [c.note for c in cases if c.note]
    return Verdict(
        exercise,
        PASSED,
        f"passed on {len(cases)} inputs" + (f" (including {'; '.join(edge)})" if edge else "") + f", against {source}",
    )


def _matches(received: Any, mistake: Mistake, case: Case, tolerance: tuple[float, float]) -> bool:
    if mistake.when is not None and not mistake.when(received):
        return False
    try:
        wrong = mistake.compute(*[copied(a) for a in case.args], **case.kwargs)
    except Exception:  # a mistake that cannot be made on this input
        return False
    return differs(received, wrong, *tolerance) is None


# ---------------------------------------------------------------------------------- predict, then run: predictions


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


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
    """A prediction (one of `choices`, a number within `rtol` of the measured one, or a tuple of numbers) against
    what was measured. `what` says what was measured, shown in every verdict; `explain`: why it comes out that way."""
    if prediction is None or prediction is Ellipsis:
        return Verdict(exercise, NOT_ATTEMPTED, "not attempted yet: write your prediction first, then run the cell")
    if choices is not None:
        if not isinstance(prediction, str):
            return Verdict(
                exercise,
                FAILED,
                f"expected one of {', '.join(map(repr, choices))} (a string), received {describe(prediction)}",
            )
        answer = prediction.strip().lower()
        if answer not in choices:
            return Verdict(
                exercise, FAILED, f"your prediction {prediction!r} is not one of {', '.join(map(repr, choices))}"
            )
        status = PASSED if answer == measured else FAILED
        message = f"you predicted {answer!r}; measured: {measured!r}"
    elif not _is_number(measured):  # a tuple of numbers (a shape)
        want = tuple(measured)
        given = tuple(prediction) if isinstance(prediction, list | tuple) else None
        if given is None or len(given) != len(want) or not all(_is_number(v) for v in given):
            return Verdict(
                exercise,
                FAILED,
                f"expected a tuple of {len(want)} whole numbers as the prediction, received {describe(prediction, 60)}",
            )
        status = PASSED if given == want else FAILED
        message = f"you predicted {show(given)}; measured: {show(want)}"
    else:
        if not _is_number(prediction):
            return Verdict(
                exercise,
                FAILED,
                f"expected a number as the prediction, received {describe(prediction, 60)}",
            )
        try:
            ok = math.isclose(float(prediction), float(measured), rel_tol=rtol, abs_tol=0.0 if rtol else 1e-9)
        except OverflowError:  # a whole number too large for a float: not the figure measured
            ok = False
        status = PASSED if ok else FAILED
        message = f"you predicted {show(prediction)}; measured: {show(measured)}"
    return Verdict(
        exercise,
        status,
        ("right: " if status == PASSED else "not this time: ") + message,
        (("measured", what), ("why", explain)),
    )
