"""The telco churn preprocessing of the course's churn notebook, as a fitted, reusable transformer.

    prep = ChurnPreprocessor().fit(train_frame)     # learns only the min/max of the three numeric columns
    X = prep.transform(any_frame)                   # (n, 26) float32, same columns for any rows

Steps: 'No internet service' / 'No phone service' -> 'No'; Yes/No -> 1/0; gender Female -> 1, Male -> 0; one-hot
InternetService (3), Contract (3), PaymentMethod (4) with fixed categories (so a handful of new rows encodes the
same way); min-max scale tenure, MonthlyCharges, TotalCharges with the minimum and maximum of the training part.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from keraslab.datasets.csv_tables import CHURN_COLUMNS
from keraslab.errors import DataFormatError

CATEGORIES = {
    "InternetService": ["DSL", "Fiber optic", "No"],
    "Contract": ["Month-to-month", "One year", "Two year"],
    "PaymentMethod": ["Bank transfer (automatic)", "Credit card (automatic)", "Electronic check", "Mailed check"],
}
SCALED = ["tenure", "MonthlyCharges", "TotalCharges"]
# The course's 19 input columns, in the file's order (keraslab.datasets.csv_tables.CHURN_COLUMNS).
INPUT_COLUMNS = [c for c in CHURN_COLUMNS if c not in ("customerID", "Churn")]
YES_NO = [c for c in INPUT_COLUMNS if c not in ("gender", "SeniorCitizen", *SCALED, *CATEGORIES)]  # 11 Yes/No columns
# The 26 features: the 16 columns that are not categories, in the file's order, then each category one-hot.
FEATURES = [c for c in INPUT_COLUMNS if c not in CATEGORIES] + [
    f"{col}_{cat}" for col, cats in CATEGORIES.items() for cat in cats
]


def encode_target(series: pd.Series) -> np.ndarray:
    """Churn Yes/No -> 1/0."""
    bad = ~series.isin(["Yes", "No"])
    if bad.any():
        raise DataFormatError(f"column 'Churn' must hold Yes/No; found {series[bad].iloc[0]!r}")
    return (series == "Yes").to_numpy(np.int64)


class ChurnPreprocessor:
    """Fit on the training part only; transform any frame with the course's 19 input columns."""

    def fit(self, frame: pd.DataFrame) -> ChurnPreprocessor:
        encoded = self._encode(frame)
        self.min_ = encoded[SCALED].min().to_numpy(np.float64)
        span = encoded[SCALED].max().to_numpy(np.float64) - self.min_
        self.scale_ = np.where(span > 0, span, 1.0)
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        if not hasattr(self, "min_"):
            raise ValueError("ChurnPreprocessor is not fitted yet; call fit on the training part first")
        encoded = self._encode(frame)
        encoded[SCALED] = (encoded[SCALED].to_numpy(np.float64) - self.min_) / self.scale_
        return np.ascontiguousarray(encoded[FEATURES].to_numpy(np.float32))

    def fit_transform(self, frame: pd.DataFrame) -> np.ndarray:
        return self.fit(frame).transform(frame)

    @staticmethod
    def _encode(frame: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in INPUT_COLUMNS if c not in frame.columns]
        if missing:
            raise DataFormatError(f"churn rows lack column(s) {', '.join(missing)}")
        df = frame[INPUT_COLUMNS].copy()
        df = df.replace({"No internet service": "No", "No phone service": "No"})
        for col in YES_NO:
            _check_values(df, col, {"Yes", "No"})
            df[col] = (df[col] == "Yes").astype(np.float64)
        _check_values(df, "gender", {"Female", "Male"})
        df["gender"] = (df["gender"] == "Female").astype(np.float64)
        for col, cats in CATEGORIES.items():
            _check_values(df, col, set(cats))
            for cat in cats:
                df[f"{col}_{cat}"] = (df[col] == cat).astype(np.float64)
        for col in ("SeniorCitizen", *SCALED):
            df[col] = pd.to_numeric(df[col], errors="coerce")
            if df[col].isna().any():
                raise DataFormatError(
                    f"churn column {col!r} must be numeric; row {int(df[col].isna().idxmax())} is not"
                )
        return df


def _check_values(df: pd.DataFrame, col: str, allowed: set) -> None:
    bad = ~df[col].isin(allowed)
    if bad.any():
        raise DataFormatError(
            f"churn column {col!r} holds {df.loc[bad, col].iloc[0]!r}; expected one of {', '.join(sorted(allowed))}"
        )
