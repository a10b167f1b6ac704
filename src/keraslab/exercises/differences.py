"""How an answer differs from the expected value, and how both are shown to a learner: a value in a line
(`show`, `describe`), the first differing element of an array with its index (`differs`, `Difference`, `shown_at`,
`show_near`), the precision an answer was computed in, a factor two or a sign slipped (`ratio_note`), and the copies
an answer is given (`copied`, `unchanged`: an input changed in place is seen)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


def show(value: Any, limit: int = 160) -> str:
    """A value as a learner reads it: arrays compactly, long texts cut."""
    if isinstance(value, np.ndarray):
        with np.printoptions(precision=6, suppress=True, threshold=24, edgeitems=3, linewidth=10_000):
            text = np.array2string(value, separator=", ").replace("\n", "")
        if value.ndim > 1 or value.size > 24:
            text += f" (shape {value.shape})"
    elif isinstance(value, type):
        text = f"the class {value.__name__}"
    elif callable(value):
        text = getattr(value, "__name__", None) or type(value).__name__
    elif isinstance(value, float | np.floating):
        text = f"{float(value):.10g}"
    elif isinstance(value, int) and abs(value) > 10**30:
        text = f"a whole number of about {int(value.bit_length() * 0.30103) + 1} digits"
    elif isinstance(value, tuple | list) and value and not isinstance(value[0], str):
        parts = [show(v, limit) for v in value[:25]] + (["..."] if len(value) > 25 else [])
        if isinstance(value, tuple):
            text = "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
        else:
            text = "[" + ", ".join(parts) + "]"
    else:
        try:
            text = repr(value)
        except Exception:  # an object whose repr raises
            text = f"a {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(value: Any, limit: int = 40) -> str:
    """What a value is, for a message: "str 'hello'", "the class dict", "the function f", "a Keras Sequential"."""
    if isinstance(value, type):
        return f"the class {value.__name__}"
    if type(value).__module__.split(".")[0] == "keras":
        kind = "layer" if hasattr(value, "compute_output_shape") and not hasattr(value, "layers") else ""
        return f"a Keras {type(value).__name__}" + (f" {kind}" if kind else "")
    if callable(value) and hasattr(value, "__code__"):
        return f"the function {getattr(value, '__name__', '?')}"
    shown = show(value, limit)
    return shown if shown == f"a {type(value).__name__}" else f"{type(value).__name__} {shown}"


def show_near(value: Any, index: tuple) -> str:
    """An array shown so that element `index` is in view: the whole array when small, else the row holding it
    (cut around the element), said with its place."""
    array = np.asarray(value)
    whole = show(array if isinstance(value, np.ndarray) else value, limit=10_000)
    if len(whole) <= 160 or not index:
        return whole[:157] + "..." if len(whole) > 160 else whole
    row = array[index[:-1]] if array.ndim > 1 else array
    j = index[-1]
    lo, hi = max(0, j - 4), min(len(row), j + 5)
    with np.printoptions(precision=6, suppress=True, linewidth=10_000):
        cells = [np.array2string(np.asarray(v)) for v in row[lo:hi]]
    text = ("[..., " if lo else "[") + ", ".join(cells) + (", ...]" if hi < len(row) else "]")
    where = f"row {', '.join(map(str, index[:-1]))}, " if array.ndim > 1 else ""
    return f"{where}columns {lo} to {hi - 1}: {text} (shape {array.shape})"


def unchanged(a: Any, b: Any) -> bool:
    """Whether an input is as it was before the learner's function was called on its copy."""
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, list | tuple):
        same_length = isinstance(b, list | tuple) and len(a) == len(b)
        return same_length and all(unchanged(x, y) for x, y in zip(a, b, strict=True))
    return True


def copied(value):
    """A copy of an input for each call, so that an answer that changes its input in place (a list sorted, an
    array scaled) changes neither what the reference is given nor the next case."""
    import copy

    return value if callable(value) else copy.deepcopy(value)


@dataclass(frozen=True)
class Difference:
    """Why a received value is not the expected one, and where: `path` walks into tuples (an int) and dicts (a
    key); `index` is the first differing element of the array found there."""

    why: str
    path: tuple = ()
    index: tuple | None = None


def _differs_each(received: Any, expected: list | tuple, rtol: float, atol: float) -> Difference | None:
    if isinstance(received, np.ndarray) and received.ndim == 1:
        received = list(received)
    if not isinstance(received, tuple | list) or len(received) != len(expected):
        return Difference(f"expected {len(expected)} values (a tuple), received {show(received, 80)}")
    for i, (r, e) in enumerate(zip(received, expected, strict=True)):
        found = differs(r, e, rtol, atol)
        if found:
            return Difference(f"value {i + 1}: {found.why}", (("value", i), *found.path), found.index)
    return None


def _differs_by_key(received: Any, expected: dict, rtol: float, atol: float) -> Difference | None:
    if not isinstance(received, dict) or set(received) != set(expected):
        return Difference(f"expected a dict with keys {sorted(expected)}, received {show(received, 60)}")
    for key in sorted(expected):
        found = differs(received[key], expected[key], rtol, atol)
        if found:
            return Difference(f"key {key!r}: {found.why}", (("key", key), *found.path), found.index)
    return None


def _is_text(value: Any) -> bool:
    """Text where numbers are expected ('0.366' is not 0.366), alone or in a sequence."""
    if isinstance(value, str | bytes | dict):
        return True
    return isinstance(value, list | tuple) and any(isinstance(v, str | bytes) for v in value)


def _as_numbers(value: Any) -> np.ndarray | None:
    if isinstance(value, type) or _is_text(value):
        return None
    try:
        array = np.asarray(value, dtype="float64")
    except (TypeError, ValueError, OverflowError):
        return None
    except Exception:  # an object that raises when read as an array
        return None
    return array


def differs(received: Any, expected: Any, rtol: float, atol: float) -> Difference | None:
    """Why `received` is not `expected` (None when it is, within the tolerances)."""
    if isinstance(expected, dict):
        return _differs_by_key(received, expected, rtol, atol)
    if isinstance(expected, tuple | list):
        return _differs_each(received, expected, rtol, atol)
    r = _as_numbers(received)
    if r is None:
        return Difference(f"expected a number or an array of numbers, received {describe(received)}")
    e = np.asarray(expected, dtype="float64")
    if r.shape != e.shape:
        if e.ndim == 0 and r.size == 1 and r.ndim > 0:
            return Difference(
                f"expected one number, received {type(received).__name__} {show(received, 40)} (return the number)"
            )
        if r.size != 1 or e.size != 1:
            return Difference(f"expected shape {e.shape}, received shape {r.shape}")
        r, e = r.reshape(()), e.reshape(())
    return _differs_in_value(r, e, rtol, atol)


def _differs_in_value(r: np.ndarray, e: np.ndarray, rtol: float, atol: float) -> Difference | None:
    same_finite = np.isfinite(r) == np.isfinite(e)
    close = np.isclose(r, e, rtol=rtol, atol=atol, equal_nan=True)
    if close.all() and same_finite.all():
        return None
    wrong = ~(close & same_finite)
    index = tuple(int(i) for i in np.argwhere(wrong)[0]) if r.ndim else ()
    got, want = r[index] if index else r, e[index] if index else e
    if not np.isfinite(got) and np.isfinite(want):
        why = "non-finite values (inf or nan) where the expected ones are finite"
    elif np.isfinite(got) and not np.isfinite(want):
        why = "finite values where inf or nan are expected"
    else:
        why = "the values differ"
    if index:
        count = int(wrong.sum())
        why += (
            f": first at index {list(index)}, expected {float(want):.10g}, received {float(got):.10g} "
            f"({count} of {r.size} values differ)"
        )
    return Difference(why, (), index)


def precision(value: Any) -> str:
    """'float32' when the answer was computed in single precision (NumPy, Keras or JAX), else 'float64'."""
    parts = list(value.values()) if isinstance(value, dict) else value if isinstance(value, tuple | list) else [value]
    for part in parts:
        dtype = getattr(part, "dtype", None)
        if dtype is not None and str(dtype) in ("float32", "float16", "bfloat16"):
            return "float32"
    return "float64"


def _part(value: Any, path: tuple) -> Any:
    for _, step in path:
        try:
            value = value[step]
        except Exception:  # a value that is not what the path expects
            return value
    return value


def shown_at(value: Any, found: Difference) -> str:
    part = _part(value, found.path)
    label = ""
    if found.path:
        kind, step = found.path[0]
        label = f"value {step + 1}: " if kind == "value" else f"key {step!r}: "
    if found.index:
        return label + show_near(part, found.index)
    return label + show(part)


def ratio_note(received: Any, expected: Any) -> str:
    """'; received is twice the expected value' (or half, or minus it) where that is so: a factor 2 or a sign
    slipped."""
    r, e = _as_numbers(received), _as_numbers(expected)
    if r is None or e is None or r.shape != e.shape or not np.all(np.isfinite(r)) or not np.any(e):
        return ""
    for factor, said in ((2.0, "twice"), (0.5, "half"), (-1.0, "minus")):
        if np.allclose(r, factor * e, rtol=1e-6, atol=1e-12):
            return f"; received is {said} the expected value"
    return ""
