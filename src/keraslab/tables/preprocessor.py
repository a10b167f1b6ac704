"""Preprocessing for any table: impute, scale and one-hot with scikit-learn by column role
(keraslab.tables.roles), fitted on the training part only; transform gives float32 features."""

from __future__ import annotations

import numpy as np
import pandas as pd

from keraslab.errors import DataFormatError
from keraslab.tables.roles import ColumnRoles, clean_frame, infer_roles


def build_transformer(roles: ColumnRoles, max_categories: int | None = None):
    """ColumnTransformer: numeric -> median impute + standard scale; yes/no -> most-frequent impute;
    categorical -> most-frequent impute + one-hot. `max_categories` caps a column's one-hot columns (scikit-learn's
    OneHotEncoder option): the max_categories - 1 most frequent values keep their own column and the rarer ones
    share one "other" column (`infrequent_sklearn`), which also takes values never seen in training; a column with no
    rare values encodes unseen ones as all zeros."""
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
        parts.append(
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(
                        handle_unknown="infrequent_if_exist",
                        max_categories=max_categories,
                        sparse_output=False,
                        dtype=np.float64,
                    ),
                ),
                roles.categorical,
            )
        )
    if not parts:
        raise DataFormatError("no usable feature columns: every column was dropped")
    return ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=True)


class TablePreprocessor:
    """infer_roles + clean_frame + build_transformer, fitted on training rows; transform gives float32.
    `max_categories`: see build_transformer (None: a column per category, as scikit-learn's default)."""

    def __init__(self, target: str | None = None, roles: ColumnRoles | None = None, max_categories: int | None = None):
        self.target = target
        self.roles = roles
        self.max_categories = max_categories

    def fit(self, frame: pd.DataFrame) -> TablePreprocessor:
        self.roles_ = self.roles or infer_roles(frame, self.target)
        self.transformer_ = build_transformer(self.roles_, self.max_categories).fit(clean_frame(frame, self.roles_))
        self.feature_names_ = list(self.transformer_.get_feature_names_out())
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        missing = [
            c for c in self.roles_.numeric + self.roles_.yes_no + self.roles_.categorical if c not in frame.columns
        ]
        if missing:
            raise DataFormatError(f"missing column(s) {', '.join(missing)}")
        x = self.transformer_.transform(clean_frame(frame, self.roles_))
        return np.ascontiguousarray(x, dtype=np.float32)

    def fit_transform(self, frame: pd.DataFrame) -> np.ndarray:
        return self.fit(frame).transform(frame)
