"""Column roles for any table: what each column is, inferred from its values, and the columns cleaned to match.

Roles: "numeric" (numbers), "yes_no" (two values such as Yes/No, True/False: one 0/1 column), "categorical"
(anything else: one-hot, unknown categories at predict time encode as all zeros), "id" (a text column whose values
are all different: dropped), "constant" (one value: dropped).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from keraslab.errors import DataFormatError

YES_NO_PAIRS = ({"yes", "no"}, {"true", "false"}, {"y", "n"}, {"t", "f"})


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


def infer_roles(frame: pd.DataFrame, target: str | None = None) -> ColumnRoles:
    roles = ColumnRoles()
    for col in frame.columns:
        if col == target:
            continue
        s = frame[col]
        values = s.dropna()
        if values.nunique() <= 1:
            roles.dropped[col] = "a single value"
            continue
        lowered = {str(v).strip().lower() for v in values.unique()}
        if (len(lowered) == 2 and any(lowered == pair for pair in YES_NO_PAIRS)) or pd.api.types.is_bool_dtype(s):
            roles.yes_no.append(col)
            continue
        if _as_numeric(s) is not None:
            roles.numeric.append(col)
            continue
        if values.nunique() == len(values) and len(values) > 20:
            roles.dropped[col] = "an identifier (every value different)"
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
