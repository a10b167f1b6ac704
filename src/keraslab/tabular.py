"""Preprocessing for any table: infer each column's role, then impute, scale and one-hot with scikit-learn,
fitted on the training part only.

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
        lines = [f"numeric ({len(self.numeric)}): {', '.join(self.numeric) or '-'}",
                 f"yes/no ({len(self.yes_no)}): {', '.join(self.yes_no) or '-'}",
                 f"categorical ({len(self.categorical)}): {', '.join(self.categorical) or '-'}"]
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
        if len(lowered) == 2 and any(lowered == pair for pair in YES_NO_PAIRS) or pd.api.types.is_bool_dtype(s):
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
            bad = frame[col][pd.to_numeric(frame[col].astype("string").str.strip().replace("", pd.NA),
                                           errors="coerce").isna() & frame[col].notna()]
            raise DataFormatError(f"column {col!r} should be numeric; found {bad.iloc[0]!r}")
        out[col] = num
    for col in roles.yes_no:
        s = frame[col]
        low = s.map(lambda v: str(v).strip().lower() if pd.notna(v) else np.nan)
        out[col] = low.map({"yes": 1.0, "true": 1.0, "y": 1.0, "t": 1.0, "no": 0.0, "false": 0.0, "n": 0.0,
                            "f": 0.0})
    for col in roles.categorical:
        out[col] = frame[col].map(lambda v: str(v).strip() if pd.notna(v) else np.nan).astype(object)
    return pd.DataFrame(out, index=frame.index)


def build_transformer(roles: ColumnRoles):
    """ColumnTransformer: numeric -> median impute + standard scale; yes/no -> most-frequent impute;
    categorical -> most-frequent impute + one-hot (unknown categories ignored: all zeros)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    parts = []
    if roles.numeric:
        parts.append(("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), roles.numeric))
    if roles.yes_no:
        parts.append(("yes_no", SimpleImputer(strategy="most_frequent"), roles.yes_no))
    if roles.categorical:
        parts.append(("categorical", make_pipeline(
            SimpleImputer(strategy="most_frequent"),
            OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float64)), roles.categorical))
    if not parts:
        raise DataFormatError("no usable feature columns: every column was dropped")
    return ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=True)


class TablePreprocessor:
    """infer_roles + clean_frame + build_transformer, fitted on training rows; transform gives float32."""

    def __init__(self, target: str | None = None, roles: ColumnRoles | None = None):
        self.target = target
        self.roles = roles

    def fit(self, frame: pd.DataFrame) -> "TablePreprocessor":
        self.roles_ = self.roles or infer_roles(frame, self.target)
        self.transformer_ = build_transformer(self.roles_).fit(clean_frame(frame, self.roles_))
        self.feature_names_ = list(self.transformer_.get_feature_names_out())
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        missing = [c for c in self.roles_.numeric + self.roles_.yes_no + self.roles_.categorical
                   if c not in frame.columns]
        if missing:
            raise DataFormatError(f"missing column(s) {', '.join(missing)}")
        x = self.transformer_.transform(clean_frame(frame, self.roles_))
        return np.ascontiguousarray(x, dtype=np.float32)

    def fit_transform(self, frame: pd.DataFrame) -> np.ndarray:
        return self.fit(frame).transform(frame)
