"""Readers for the course's tables, with the course's cleaning done correctly and reported.

Each returns a :class:`Table`: the cleaned DataFrame, the target column, and a list of the changes made.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from keraslab.errors import DataFormatError, UsageError


@dataclass
class Table:
    frame: pd.DataFrame
    target: str
    source: str
    changes: list[str] = field(default_factory=list)

    @property
    def X(self) -> pd.DataFrame:
        return self.frame.drop(columns=[self.target])

    @property
    def y(self) -> pd.Series:
        return self.frame[self.target]


SEPARATORS = (",", ";", "\t", "|")
ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")  # tried in this order; latin-1 reads any bytes


def sniffed(path: Path, sep: str | None = None, encoding: str | None = None) -> tuple[str, str, str | None]:
    """(separator, encoding, decimal mark or None) of a CSV file: the ones given, else sniffed from its first 64 KB:
    the first encoding of ENCODINGS that decodes it, the separator of SEPARATORS that the header holds most often
    (a comma on a tie), and a decimal comma for a semicolon file whose numbers are written 3,5."""
    head = path.read_bytes()[:65536]
    if encoding is None:
        for encoding in ENCODINGS:
            try:
                text = head.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
    else:
        text = head.decode(encoding, errors="replace")
    if sep is None:
        header = text.splitlines()[0] if text.splitlines() else ""
        counts = {s: header.count(s) for s in SEPARATORS}
        sep = max(SEPARATORS, key=lambda s: (counts[s], s == ","))
        if counts[sep] == 0:
            sep = ","
    decimal = None
    if sep == ";" and re.search(r"\d,\d", text) and not re.search(r"\d\.\d", text):
        decimal = ","
    return sep, encoding, decimal


def read_csv(
    path: str | Path,
    *,
    required: list[str] | None = None,
    sep: str | None = None,
    encoding: str | None = None,
    **kwargs,
) -> pd.DataFrame:
    """pandas.read_csv with one-line errors naming the file (and the missing column, and the separator and encoding
    it was read with: `sep` and `encoding` where given, else sniffed)."""
    path = Path(path)
    if path.stat().st_size == 0:
        raise DataFormatError(f"{path}: the file is empty")
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise DataFormatError(f"{path}: no encoding called {encoding!r} (utf-8, cp1252, latin-1, ...)") from None
    sep, encoding, decimal = sniffed(path, sep, encoding)
    how = f"read with separator {sep!r} and encoding {encoding} (say others with --sep and --encoding)"
    try:
        df = pd.read_csv(path, sep=sep, encoding=encoding, **({"decimal": decimal} if decimal else {}), **kwargs)
    except pd.errors.EmptyDataError:
        raise DataFormatError(f"{path}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataFormatError(f"{path}: not a valid CSV file ({str(exc).splitlines()[0]}; {how})") from None
    if df.empty:
        raise DataFormatError(f"{path}: the file has a header but no rows")
    for col in required or []:
        if col not in df.columns:
            raise DataFormatError(
                f"{path}: missing required column {col!r}; found columns {', '.join(map(str, df.columns))} ({how})"
            )
    return df


CHURN_COLUMNS = [
    "customerID",
    "gender",
    "SeniorCitizen",
    "Partner",
    "Dependents",
    "tenure",
    "PhoneService",
    "MultipleLines",
    "InternetService",
    "OnlineSecurity",
    "OnlineBackup",
    "DeviceProtection",
    "TechSupport",
    "StreamingTV",
    "StreamingMovies",
    "Contract",
    "PaperlessBilling",
    "PaymentMethod",
    "MonthlyCharges",
    "TotalCharges",
    "Churn",
]
BLANK_TOTAL_CHARGES = ("drop", "zero")


def clean_churn(df: pd.DataFrame, source: str, blank_total_charges: str = "drop") -> Table:
    """Drop customerID and make TotalCharges numeric.

    `blank_total_charges`: "drop" removes the rows whose TotalCharges is blank (the course's choice: 11 rows, all
    with tenure 0), "zero" sets them to 0.0 (a customer in their first month has been charged nothing yet).
    """
    if blank_total_charges not in BLANK_TOTAL_CHARGES:
        raise UsageError(
            "Invalid value for `blank_total_charges`. Expected one of 'drop', 'zero'. "
            f"Received: blank_total_charges={blank_total_charges!r}"
        )
    changes = []
    df = df.copy()
    if "customerID" in df.columns:
        df = df.drop(columns=["customerID"])
        changes.append("dropped the customerID column (an identifier, not a feature)")
    raw = df["TotalCharges"].astype(str).str.strip()
    blank = raw.eq("") | df["TotalCharges"].isna()
    numeric = pd.to_numeric(raw.mask(blank), errors="coerce")
    bad = numeric.isna() & ~blank
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataFormatError(
            f"{source}: column 'TotalCharges' must be numeric or blank; row {i + 2} holds {raw.iloc[i]!r}"
        )
    n_blank = int(blank.sum())
    if blank_total_charges == "drop":
        df = df.loc[~blank].copy()
        df["TotalCharges"] = numeric[~blank].astype(np.float64)
        if n_blank:
            changes.append(f"dropped {n_blank} rows with a blank TotalCharges (the course's choice)")
    else:
        df["TotalCharges"] = numeric.fillna(0.0).astype(np.float64)
        if n_blank:
            changes.append(f"set the blank TotalCharges of {n_blank} rows to 0.0 (all new customers, tenure 0)")
    df = df.reset_index(drop=True)
    labels = set(df["Churn"].unique())
    if not labels <= {"Yes", "No"}:
        raise DataFormatError(f"{source}: column 'Churn' must hold Yes/No; found {sorted(map(str, labels))}")
    return Table(df, "Churn", source, changes)


def load_churn_csv(path: str | Path, blank_total_charges: str = "drop") -> Table:
    required = [c for c in CHURN_COLUMNS if c != "customerID"]
    df = read_csv(path, required=required)
    return clean_churn(df, str(path), blank_total_charges)


def load_sonar_csv(path: str | Path) -> Table:
    """208 rows x 60 float features (f00..f59) and `label` M (mine) or R (rock)."""
    df = read_csv(path, header=None)
    if df.shape[1] != 61:
        raise DataFormatError(f"{path}: expected 61 columns (60 features, then the M/R label); found {df.shape[1]}")
    df.columns = [f"f{i:02d}" for i in range(60)] + ["label"]
    labels = df["label"].astype(str).str.strip()
    bad = ~labels.isin(["M", "R"])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataFormatError(f"{path}: column 60 (the label) must be M or R; row {i + 1} holds {labels.iloc[i]!r}")
    df["label"] = labels
    features = df.columns[:60]
    if not all(pd.api.types.is_numeric_dtype(df[c]) for c in features):
        raise DataFormatError(f"{path}: columns 0-59 must be numeric")
    df[features] = df[features].astype(np.float64)
    return Table(df, "label", str(path), [])


def _numeric_table(path, columns, target) -> Table:
    df = read_csv(path, required=columns)
    for col in columns:
        if not pd.api.types.is_numeric_dtype(df[col]):
            raise DataFormatError(f"{path}: column {col!r} must be numeric; found {df[col].dtype}")
        if df[col].isna().any():
            raise DataFormatError(f"{path}: column {col!r} has missing values")
    return Table(df[columns].copy(), target, str(path), [])


def load_insurance_csv(path: str | Path) -> Table:
    return _numeric_table(path, ["age", "affordibility", "bought_insurance"], "bought_insurance")


def load_homeprices_csv(path: str | Path) -> Table:
    return _numeric_table(path, ["area", "bedrooms", "price"], "price")
