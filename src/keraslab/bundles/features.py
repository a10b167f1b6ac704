"""Fitted preprocessing as plain JSON (no pickle, nothing that can run code on load), with a NumPy transform.

`FeatureSpec.from_preprocessor` reads the fitted parameters out of a keraslab.tables.TablePreprocessor (median
imputation + standard scaling for numbers, most-frequent fill for yes/no, most-frequent fill + one-hot for
categories, the rarer ones sharing an "other" column when the number of categories was capped); `transform`
reproduces that transformer exactly (the tests check it): a value outside a column's kept categories goes to its
"other" column, or, in a column that has none, encodes as all zeros with a warning.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from keraslab.errors import DataFormatError

TRUE_WORDS = {
    "yes": 1.0,
    "true": 1.0,
    "y": 1.0,
    "t": 1.0,
    "1": 1.0,
    "1.0": 1.0,
    "no": 0.0,
    "false": 0.0,
    "n": 0.0,
    "f": 0.0,
    "0": 0.0,
    "0.0": 0.0,
}


@dataclass
class FeatureSpec:
    numeric: list[dict] = field(default_factory=list)  # {"name", "median", "mean", "scale"}
    yes_no: list[dict] = field(default_factory=list)  # {"name", "fill", "values"}
    # {"name", "fill", "categories" (those with their own column), "other" (True: one more column for the rest),
    #  "distinct" (how many values training had)}
    categorical: list[dict] = field(default_factory=list)

    @classmethod
    def from_preprocessor(cls, prep, frame: pd.DataFrame) -> FeatureSpec:
        spec = cls._fitted(prep, frame)
        for col in spec.numeric + spec.yes_no + spec.categorical:  # what a row may leave out (keraslab.bundles.rows)
            col["missing_in_training"] = bool(blank_cells(frame[col["name"]]).any())
        return spec

    @classmethod
    def _fitted(cls, prep, frame: pd.DataFrame) -> FeatureSpec:
        t = prep.transformer_.named_transformers_
        spec = cls()
        if "numeric" in t:
            imputer, scaler = t["numeric"].steps[0][1], t["numeric"].steps[1][1]
            for i, name in enumerate(prep.roles_.numeric):
                median, mean, scale = (float(v[i]) for v in (imputer.statistics_, scaler.mean_, scaler.scale_))
                values = pd.to_numeric(frame[name], errors="coerce")
                entry = {"name": name, "median": median, "mean": mean, "scale": scale}
                if values.notna().any():  # the training part's range: a regression says when it extrapolates
                    entry |= {"min": float(values.min()), "max": float(values.max())}
                spec.numeric.append(entry)
        if "yes_no" in t:
            for i, name in enumerate(prep.roles_.yes_no):
                values = sorted({str(v).strip() for v in frame[name].dropna().unique()})
                spec.yes_no.append({"name": name, "fill": float(t["yes_no"].statistics_[i]), "values": values})
        if "categorical" in t:
            imputer, encoder = t["categorical"].steps[0][1], t["categorical"].steps[1][1]
            infrequent = getattr(encoder, "infrequent_categories_", [None] * len(prep.roles_.categorical))
            for i, name in enumerate(prep.roles_.categorical):
                rare = set() if infrequent[i] is None else {str(c) for c in infrequent[i]}
                spec.categorical.append(
                    {
                        "name": name,
                        "fill": str(imputer.statistics_[i]),
                        "categories": [str(c) for c in encoder.categories_[i] if str(c) not in rare],
                        "other": bool(rare),
                        "distinct": len(encoder.categories_[i]),
                    }
                )
        return spec

    def capped(self) -> list[dict]:
        """The categorical columns whose rarer values share an "other" column: name, kept and distinct counts."""
        return [
            {"name": c["name"], "kept": len(c["categories"]), "distinct": c.get("distinct")}
            for c in self.categorical
            if c.get("other")
        ]

    def to_json(self) -> dict:
        strip = lambda cols: [{k: v for k, v in c.items() if not k.startswith("_")} for c in cols]  # noqa: E731
        return {
            "format": "keraslab.features/1",
            "numeric": strip(self.numeric),
            "yes_no": strip(self.yes_no),
            "categorical": strip(self.categorical),
        }

    @classmethod
    def from_json(cls, data: dict) -> FeatureSpec:
        """The spec of preprocessing.json, every field checked (a hand-edited or damaged file is a DataFormatError
        naming the column and the field, never a ZeroDivisionError or a TypeError at prediction time)."""
        if not isinstance(data, dict) or data.get("format") != "keraslab.features/1":
            raise DataFormatError("preprocessing.json is not a keraslab feature specification")
        try:
            spec = cls(list(data["numeric"]), list(data["yes_no"]), list(data["categorical"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataFormatError(f"preprocessing.json is malformed (no list {exc})") from None
        for group, fields in (("numeric", _NUMERIC), ("yes_no", _YES_NO), ("categorical", _CATEGORICAL)):
            for col in getattr(spec, group):
                _check_column(group, col, fields)
        names = spec.columns
        if len(set(names)) != len(names):
            raise DataFormatError("preprocessing.json names a column twice")
        return spec

    @property
    def columns(self) -> list[str]:
        return [c["name"] for c in self.numeric + self.yes_no + self.categorical]

    @property
    def n_features(self) -> int:
        return len(self.numeric) + len(self.yes_no) + sum(_width(c) for c in self.categorical)

    def transform_records(self, records: list[dict]) -> tuple[np.ndarray, list[str]]:
        """The same transform for a few rows given as dicts, in plain Python (no pandas): the server's path."""
        out = np.zeros((len(records), self.n_features), dtype=np.float32)
        unseen: dict[str, dict[str, int]] = {}  # column -> value -> rows
        recased: dict[str, dict[tuple[str, str], int]] = {}  # column -> (value, category) -> rows
        for i, rec in enumerate(records):
            j = 0
            for col in self.numeric:
                v = _number(rec.get(col["name"]), col["name"])
                z = ((col["median"] if math.isnan(v) else v) - col["mean"]) / col["scale"]
                if not abs(z) <= FLOAT32_MAX:
                    raise DataFormatError(_too_large(col["name"], rec.get(col["name"]), i))
                out[i, j] = z
                j += 1
            for col in self.yes_no:
                v = _yes_no(rec.get(col["name"]), col["name"])
                out[i, j] = col["fill"] if isinstance(v, float) and math.isnan(v) else v
                j += 1
            for col in self.categorical:
                v = rec.get(col["name"])
                v = str(v).strip() if _present(v) else ""
                v = v or col["fill"]  # absent, null, NaN or blank: the fill, as in training
                k, matched = _category(col, v)
                if matched is None:
                    seen = unseen.setdefault(col["name"], {})
                    seen[v] = seen.get(v, 0) + 1
                elif matched != v:
                    pairs = recased.setdefault(col["name"], {})
                    pairs[(v, matched)] = pairs.get((v, matched), 0) + 1
                if k is not None:
                    out[i, j + k] = 1.0
                j += _width(col)
        warnings = [_recased_warning(name, pairs) for name, pairs in recased.items()]
        warnings += [_unseen_warning(self._column(name), values) for name, values in unseen.items()]
        return out, warnings

    def _column(self, name: str) -> dict:
        return next(c for c in self.categorical if c["name"] == name)

    def outside_range(self, records: list[dict]) -> list[list[str]]:
        """For each row, the numeric columns whose value lies outside what the training part held (a regression
        extrapolates there); a bundle written before the ranges were kept: none."""
        found = []
        for rec in records:
            names = []
            for col in self.numeric:
                if "min" not in col:
                    continue
                try:
                    v = float(rec.get(col["name"]))
                except (TypeError, ValueError):
                    continue
                if v < col["min"] or v > col["max"]:
                    names.append(col["name"])
            found.append(names)
        return found

    def transform(self, frame: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
        """(features float32 (n, n_features), warnings). Missing columns are an error naming them."""
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise DataFormatError(f"missing column(s) {', '.join(missing)}")
        out = np.empty((len(frame), self.n_features), dtype=np.float32)
        warnings = []
        j = 0
        for col in self.numeric:
            out[:, j] = _scaled(col, frame[col["name"]])
            j += 1
        for col in self.yes_no:
            mapped = frame[col["name"]].map(functools.partial(_yes_no, name=col["name"]))
            out[:, j] = mapped.fillna(col["fill"]).to_numpy(np.float64)
            j += 1
        for col in self.categorical:
            width = _width(col)
            out[:, j : j + width] = _one_hot(col, frame[col["name"]], warnings)
            j += width
        return out, warnings


def _scaled(col: dict, s: pd.Series) -> np.ndarray:
    """A numeric column imputed and standardized; a value that is not a number, infinite, or too large for float32
    after scaling is an error naming the column (and the row)."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        values = s.to_numpy(np.float64)
    else:
        text = s.astype("string").str.strip()
        blank = text.isna() | (text == "")
        values = pd.to_numeric(text.mask(blank), errors="coerce").to_numpy(np.float64)
        bad = np.isnan(values) & ~blank.to_numpy()
        if bad.any():
            raise DataFormatError(f"column {col['name']!r} should be numeric; found {s[bad].iloc[0]!r}")
    if np.isinf(values).any():
        raise DataFormatError(f"column {col['name']!r} holds an infinite value")
    values = np.where(np.isnan(values), col["median"], values)
    with np.errstate(over="ignore"):
        z = (values - col["mean"]) / col["scale"]
    bad = ~(np.abs(z) <= FLOAT32_MAX)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataFormatError(_too_large(col["name"], s.iloc[row], row))
    return z


def _one_hot(col: dict, s: pd.Series, warnings: list[str]) -> np.ndarray:
    """A categorical column one-hot encoded: missing values take the fill, values outside the kept categories go to
    "other" (or, without one, are all zeros and reported in `warnings`)."""
    s = s.map(lambda v: str(v).strip() if _present(v) else None)
    s = s.where(s.notna(), col["fill"])
    counts = s.value_counts()
    found = {v: _category(col, v) for v in counts.index}
    recased = {(v, m): int(counts[v]) for v, (_, m) in found.items() if m is not None and m != v}
    unseen = {v: int(counts[v]) for v, (_, m) in found.items() if m is None}
    if recased:
        warnings.append(_recased_warning(col["name"], recased))
    if unseen:
        warnings.append(_unseen_warning(col, unseen))
    codes = s.map({v: k for v, (k, _) in found.items()})
    block = np.zeros((len(s), _width(col)), dtype=np.float32)
    ok = codes.notna().to_numpy()
    block[np.flatnonzero(ok), codes[ok].to_numpy(np.int64)] = 1.0
    return block


def _category(col: dict, value: str) -> tuple[int | None, str | None]:
    """(its one-hot column or None, the kept category it is read as or None): the value itself, else the same but
    for case and spaces ("FEMALE" as "female"); any other value goes to the "other" column where there is one (a
    rare value of training or an unseen one: the bundle keeps no list of the rare ones), else nowhere."""
    cats = col["categories"]
    index = col.get("_index")
    if index is None:
        index = col["_index"] = {c: k for k, c in enumerate(cats)}
        col["_folded"] = {}
        for known in cats:
            col["_folded"].setdefault(" ".join(known.split()).casefold(), known)
    matched = value if value in index else col["_folded"].get(" ".join(value.split()).casefold())
    if matched is not None:
        return index[matched], matched
    return (len(cats) if col.get("other") else None), None


def _recased_warning(name: str, pairs: dict[tuple[str, str], int]) -> str:
    listed = ", ".join(f"{shown(v)} as {shown(m)}" for (v, m) in sorted(pairs)[:5])
    return f"column {name!r}: read {listed} (the same but for case or spaces) in {sum(pairs.values())} row(s)"


def _finite(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


_NUMERIC = {"median": _finite, "mean": _finite, "scale": lambda v: _finite(v) and v > 0}
_YES_NO = {"fill": lambda v: v in (0, 1) and not isinstance(v, bool)}
_CATEGORICAL = {
    "fill": lambda v: isinstance(v, str),
    "categories": lambda v: isinstance(v, list) and all(isinstance(c, str) for c in v),
}


def _check_column(group: str, col, fields: dict) -> None:
    if not isinstance(col, dict) or not isinstance(col.get("name"), str):
        raise DataFormatError(f"preprocessing.json: a {group} column without a name: {col!r:.60}")
    for field_name, ok in fields.items():
        if not ok(col.get(field_name)):
            raise DataFormatError(
                f"preprocessing.json: column {col['name']!r}: {field_name} {col.get(field_name)!r:.40} is not what "
                f"keraslab writes ({'a positive number' if field_name == 'scale' else 'a valid ' + field_name})"
            )
    if not isinstance(col.get("other", False), bool):
        raise DataFormatError(f"preprocessing.json: column {col['name']!r}: 'other' should be true or false")
    for bound in ("min", "max"):
        if bound in col and not _finite(col[bound]):
            raise DataFormatError(f"preprocessing.json: column {col['name']!r}: {bound} should be a number")


def _unseen_warning(col: dict, values: dict[str, int]) -> str:
    listed = ", ".join(shown(v) for v in sorted(values)[:5])
    rows = sum(values.values())
    doubt = "that answer" if rows == 1 else "those answers"
    if col.get("other"):
        return (
            f"column {col['name']!r}: {listed} in {rows} row(s) is not one of the {len(col['categories'])} values "
            f"that keep a column of their own (a rare value of training, or one never seen): answered as 'other', "
            f"which the model learned from the rare values only, so doubt {doubt}"
        )
    return (
        f"column {col['name']!r}: unseen categor{'y' if len(values) == 1 else 'ies'} {listed} in {rows} row(s), "
        f"encoded as all zeros: the model never saw {'it' if len(values) == 1 else 'them'}, so doubt {doubt}"
    )


def blank_cells(values: pd.Series) -> pd.Series:
    """Which cells of a column are missing: NaN, None, or blank text."""
    return values.isna() | values.astype("string").str.strip().eq("").fillna(False)


def shown(value, limit: int = 60) -> str:
    """A client's value or column name as a message shows it: repr (a lone surrogate escaped), at most `limit`."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _width(col: dict) -> int:
    """A categorical column's one-hot columns: one per kept category, plus "other" when it has one."""
    return len(col["categories"]) + bool(col.get("other"))


FLOAT32_MAX = float(np.finfo(np.float32).max)  # the model computes in float32: beyond this a value becomes inf


def _too_large(name, value, row: int) -> str:
    value = value.item() if isinstance(value, np.generic) else value
    return (
        f"row {row}, column {name!r}: {value!r} is too large for the model (after scaling it overflows float32, "
        f"about ±3.4e38)"
    )


def _number(v, name):
    """A JSON value as a float for a numeric column: None or a blank string is missing (NaN)."""
    if v is None:
        return math.nan
    if isinstance(v, bool):
        raise DataFormatError(f"column {name!r} should be numeric; found {v!r}")
    if isinstance(v, (int, float)):
        if math.isinf(v):
            raise DataFormatError(f"column {name!r} holds an infinite value")
        return float(v)
    text = str(v).strip()
    if text == "":
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise DataFormatError(f"column {name!r} should be numeric; found {v!r}") from None
    if math.isinf(value):
        raise DataFormatError(f"column {name!r} holds an infinite value")
    return value


def _present(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def _yes_no(v, name):
    if not _present(v):
        return np.nan
    if isinstance(v, bool):
        return float(v)
    key = str(v).strip().lower()
    if key == "":
        return np.nan
    if key not in TRUE_WORDS:
        raise DataFormatError(f"column {name!r} should be yes/no; found {v!r}")
    return TRUE_WORDS[key]
