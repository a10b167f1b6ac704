"""Column roles for any table: what each column is, inferred from its values, and the columns cleaned to match.

Roles: "numeric" (numbers), "yes_no" (two values such as Yes/No, True/False: one 0/1 column), "categorical"
(anything else: one-hot, unknown categories at predict time encode as all zeros); dropped: identifiers (a text
column whose values are all different, a column of whole numbers in steps of one each once such as R's `rownames`,
a column named like an index such as pandas' `Unnamed: 0`) and constants (one value). A column named in `keep` is
never dropped as an identifier.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from keraslab.errors import DataFormatError

YES_NO_PAIRS = ({"yes", "no"}, {"true", "false"}, {"y", "n"}, {"t", "f"})
INDEX_NAME = re.compile(r"(unnamed: ?\d+|rownames|row\.names|row_?names?|index|id|row_?id|row_?number)", re.IGNORECASE)


@dataclass
class ColumnRoles:
    numeric: list[str] = field(default_factory=list)
    yes_no: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)  # column -> why

    def describe(self) -> list[str]:
        lines = [
            f"numeric ({len(self.numeric)}): {', '.join(self.numeric) or '-'}",
            f"yes/no ({len(self.yes_no)}): {', '.join(self.yes_no) or '-'}",
            f"categorical ({len(self.categorical)}): {', '.join(self.categorical) or '-'}",
        ]
        lines += [f"dropped {col}: {why}" for col, why in self.dropped.items()]
        return lines


def _as_numeric(series: pd.Series) -> pd.Series | None:
    """The column as numbers when every non-blank value parses as one (blank strings count as missing)."""
    if pd.api.types.is_bool_dtype(series):
        return None
    if pd.api.types.is_numeric_dtype(series):
        return series.astype(np.float64)
    text = series.astype("string").str.strip()
    blank = text.isna() | (text == "")
    parsed = pd.to_numeric(text.mask(blank), errors="coerce")
    if parsed[~blank].notna().all() and (~blank).any():
        return parsed.astype(np.float64)
    return None


def _row_number(values: pd.Series) -> bool:
    """Whole numbers in steps of one, each once, in any order (1..n, 0..n-1, 1001..1000+n): a row number."""
    numbers = _as_numeric(values)
    if numbers is None or len(numbers) <= 20 or not np.all(np.isfinite(numbers)):
        return False
    whole = numbers.to_numpy()
    if not np.all(whole == np.round(whole)):
        return False
    return len(np.unique(whole)) == len(whole) and whole.max() - whole.min() == len(whole) - 1


def _identifier(col, values: pd.Series) -> str | None:
    """Why a column is an identifier, or None."""
    if INDEX_NAME.fullmatch(str(col).strip()) and values.nunique() > 1:
        return f"named like a row index ({col!r}); --keep {col} keeps it"
    if _row_number(values):
        return f"an identifier (whole numbers in steps of one, each once: a row number); --keep {col} keeps it"
    return None


def infer_roles(frame: pd.DataFrame, target: str | None = None, keep: Collection[str] = ()) -> ColumnRoles:
    roles = ColumnRoles()
    for col in frame.columns:
        if col == target:
            continue
        s = frame[col]
        values = s.dropna()
        if values.nunique() <= 1:
            roles.dropped[col] = "a single value"
            continue
        why = None if col in keep else _identifier(col, values)
        if why:
            roles.dropped[col] = why
            continue
        lowered = {str(v).strip().lower() for v in values.unique()}
        if (len(lowered) == 2 and any(lowered == pair for pair in YES_NO_PAIRS)) or pd.api.types.is_bool_dtype(s):
            roles.yes_no.append(col)
            continue
        if _as_numeric(s) is not None:
            roles.numeric.append(col)
            continue
        if values.nunique() == len(values) and len(values) > 20 and col not in keep:
            roles.dropped[col] = f"an identifier (every value different); --keep {col} keeps it"
            continue
        roles.categorical.append(col)
    return roles


def clean_frame(frame: pd.DataFrame, roles: ColumnRoles) -> pd.DataFrame:
    """Columns in role order with numbers as float64 (blank strings -> NaN), yes/no as 1.0/0.0, categories as str."""
    out = {}
    for col in roles.numeric:
        num = _as_numeric(frame[col])
        if num is None:
            bad = frame[col][
                pd.to_numeric(frame[col].astype("string").str.strip().replace("", pd.NA), errors="coerce").isna()
                & frame[col].notna()
            ]
            raise DataFormatError(f"column {col!r} should be numeric; found {bad.iloc[0]!r}")
        out[col] = num
    for col in roles.yes_no:
        s = frame[col]
        low = s.map(lambda v: str(v).strip().lower() if pd.notna(v) else np.nan)
        out[col] = low.map({"yes": 1.0, "true": 1.0, "y": 1.0, "t": 1.0, "no": 0.0, "false": 0.0, "n": 0.0, "f": 0.0})
    for col in roles.categorical:
        out[col] = frame[col].map(lambda v: str(v).strip() if pd.notna(v) else np.nan).astype(object)
    return pd.DataFrame(out, index=frame.index)
