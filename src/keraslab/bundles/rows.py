"""What a row is: one rule for `keraslab predict`, POST /predict and the bundle's Python API alike.

- A column the model was trained on is *missing* in a row when it is absent, null, NaN (a blank CSV cell) or
  blank text. A column that had missing values in training is filled as in training (its median, or its most
  frequent value), and the answer says so. A column that never had one is required: its absence is an error naming
  the row and the column, unless `allow_missing` (`--allow-missing` at `predict` and `serve`) fills it as in training
  too, listed the same way.
- A number column takes numbers and numeric text; true and false are not numbers; inf, -inf and (where a value is
  given as such, as in JSON) NaN are refused. A yes/no column takes true/false, yes/no, y/n, 1/0. A categorical
  column takes text or a number. Lists and objects are never values.
- A column the model does not know is ignored, and named in a warning (the target and the id column excepted).

Errors are RowError, a DataFormatError of one line: `predict` exits 1 writing nothing, the server answers 422.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from keraslab.bundles.features import TRUE_WORDS, FeatureSpec, shown
from keraslab.errors import DataFormatError


class RowError(DataFormatError):
    """A row the model cannot take: names the row (counted from 0) and the column."""


def is_missing(value) -> bool:
    return (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or (isinstance(value, str) and not value.strip())
    )


def _kind(value) -> str:
    return "true/false" if isinstance(value, bool | np.bool_) else type(value).__name__


def _check_number(value, row: int, name: str) -> None:
    if isinstance(value, bool | np.bool_):
        raise RowError(f"row {row}, column {name!r}: a true/false value is not a number (write 1 or 0)")
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise RowError(f"row {row}, column {name!r}: expected a number, found {shown(value.strip())}") from None
    else:
        raise RowError(f"row {row}, column {name!r}: expected a number, found {_kind(value)} {shown(value)}")
    if not math.isfinite(number):
        raise RowError(f"row {row}, column {name!r}: {value} is not a finite number")


def _check_yes_no(value, row: int, name: str) -> None:
    if isinstance(value, bool | np.bool_):
        return
    if isinstance(value, str | int | float | np.integer | np.floating) and str(value).strip().lower() in TRUE_WORDS:
        return
    raise RowError(f"row {row}, column {name!r}: expected yes/no (true/false, 1/0), found {shown(value)}")


def _check_category(value, row: int, name: str) -> None:
    if not isinstance(value, str | int | float | bool | np.integer | np.floating | np.bool_):
        raise RowError(f"row {row}, column {name!r}: expected a text or a number, found {_kind(value)}")
    if isinstance(value, float | np.floating) and not math.isfinite(value):
        raise RowError(f"row {row}, column {name!r}: {value!r} is not a value")


def check_rows(
    records: list,
    spec: FeatureSpec,
    *,
    allow_missing: bool = False,
    nan_is_missing: bool = True,
    ignore: Iterable[str] = (),
    target: str | None = None,
) -> list[str]:
    """Check every row against the rule above; returns the warnings (ignored columns, values filled). `nan_is_missing`:
    a float NaN is a blank cell (a CSV read by pandas), or, False, a value given as NaN (JSON), refused."""
    if not isinstance(records, list) or not records:
        raise RowError("expected a list of one or more rows, each an object of column: value")
    columns = [(c, _check_number) for c in spec.numeric]
    columns += [(c, _check_yes_no) for c in spec.yes_no]
    columns += [(c, _check_category) for c in spec.categorical]
    known, ignored = set(spec.columns) | set(ignore), {}
    filled: dict[str, int] = {}
    _check_columns_present(records, spec, [c for c, _ in columns], allow_missing)
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise RowError(f"row {i}: expected an object of column: value, found {_kind(record)}")
        for name in record:
            if name not in known:
                ignored.setdefault(str(name), None)
        for col, check in columns:
            if _check_value(record, i, col, check, allow_missing, nan_is_missing):
                filled[col["name"]] = filled.get(col["name"], 0) + 1
    warnings = _target_sent(records, target)
    if ignored:
        names = [shown(name) for name in list(ignored)[:20]] + (["..."] if len(ignored) > 20 else [])
        warnings.append(f"ignoring column(s) not in the model's schema: {', '.join(names)}")
    for name, count in filled.items():
        warnings.append(f"column {name!r}: {count} missing value(s) filled as in training ({_fill_of(spec, name)})")
    return warnings


def _target_sent(records: list, target: str | None) -> list[str]:
    """A warning naming the target column where a request sends it (its value is not used)."""
    carried = sum(1 for r in records if isinstance(r, dict) and target is not None and target in r)
    if not carried:
        return []
    said = (
        f"ignoring column {target!r} in {carried} row(s): it is the target, what the model predicts; the value sent "
        "is not used"
    )
    return [said]


def _check_columns_present(records: list, spec: FeatureSpec, columns: list[dict], allow_missing: bool) -> None:
    """A required column absent from every row (a CSV without it): one error naming the columns."""
    dicts = [r for r in records if isinstance(r, dict)]
    absent = [c["name"] for c in columns if all(c["name"] not in r for r in dicts)]
    if dicts and len(absent) == len(columns):  # even --allow-missing has nothing to go on
        found = list(dict.fromkeys(str(k) for r in dicts for k in r))[:8]
        raise RowError(
            f"none of the model's columns is in the input (found {', '.join(map(shown, found)) or 'none'}; expected "
            f"{', '.join(c['name'] for c in columns[:8])}...): is it the right file, with commas between the values?"
        )
    required = [n for n in absent if not allow_missing and not _had_missing(spec, n)]
    if required:
        raise RowError(
            f"missing column(s) {', '.join(map(repr, required))}: the model was trained on rows that always had "
            f"them (add them, or allow missing values to fill them as in training: --allow-missing)"
        )


def _check_value(record: dict, i: int, col: dict, check, allow_missing: bool, nan_is_missing: bool) -> bool:
    """Check one value of a row; True when it is missing and will be filled."""
    name = col["name"]
    value = record.get(name)
    if not nan_is_missing and isinstance(value, float) and math.isnan(value):
        raise RowError(f"row {i}, column {name!r}: NaN is not a value (leave it out, or null, to mean missing)")
    if not is_missing(value):
        check(value, i, name)
        return False
    if not (allow_missing or col.get("missing_in_training", True)):
        raise RowError(
            f"row {i}, column {name!r}: missing (absent, null or blank); the model was trained on rows that always "
            f"had it (fill it in, or allow missing values to fill it as in training: --allow-missing)"
        )
    return True


def _had_missing(spec: FeatureSpec, name: str) -> bool:
    col = next(c for c in spec.numeric + spec.yes_no + spec.categorical if c["name"] == name)
    return col.get("missing_in_training", True)


def _fill_of(spec: FeatureSpec, name: str) -> str:
    for col in spec.numeric:
        if col["name"] == name:
            return f"the training median, {col['median']:g}"
    for col in spec.yes_no:
        if col["name"] == name:
            return f"the most frequent value, {'yes' if col['fill'] >= 0.5 else 'no'}"
    col = next(c for c in spec.categorical if c["name"] == name)
    return f"the most frequent value, {col['fill']!r}"
