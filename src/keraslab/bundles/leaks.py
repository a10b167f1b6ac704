"""A test score too good to be true: within 0.001 of perfect, a leak is the likelier story (a row number on a table
sorted by its target, a column copied from the target). The warning names the columns that reach the score alone:
each input column, by itself, fitted with a small decision tree on the training part and scored on the test part.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from keraslab.tables import ColumnRoles, clean_frame

NEAR_PERFECT = 0.999  # a test accuracy or R² at least this: the warning
ALONE = 0.95  # a column that scores at least this by itself carries the leak


def _encoded(frame: pd.DataFrame, roles: ColumnRoles) -> pd.DataFrame:
    clean = clean_frame(frame, roles)
    for col in roles.categorical:
        clean[col] = pd.factorize(clean[col])[0]
    return clean.fillna(-1.0)


def carriers(X: pd.DataFrame, y, fit, test, roles: ColumnRoles, regression: bool) -> dict[str, float]:
    """Each input column that scores at least ALONE on the test part by itself, with that score."""
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    encoded = _encoded(X, roles)
    found = {}
    for col in encoded.columns:
        tree = (DecisionTreeRegressor if regression else DecisionTreeClassifier)(max_depth=12, random_state=0)
        column = encoded[[col]].to_numpy()
        tree.fit(column[fit], np.asarray(y)[fit])
        score = float(tree.score(column[test], np.asarray(y)[test]))
        if score >= ALONE:
            found[col] = score
    return dict(sorted(found.items(), key=lambda item: -item[1]))


def leak_warning(score: float, what: str, X, y, fit, test, roles: ColumnRoles, regression: bool) -> str | None:
    """The warning for a test `score` (`what`: "accuracy", "R²") within 0.001 of perfect, else None."""
    if not score >= NEAR_PERFECT:
        return None
    found = carriers(X, y, fit, test, roles, regression)
    if found:
        named = ", ".join(f"{col!r} ({value:.3f} alone)" for col, value in found.items())
        where = f"the column(s) that score {ALONE} or more by themselves: {named}"
    else:
        where = f"no single column scores {ALONE} by itself"
    return (
        f"warning: test {what} {score:.4f} is within 0.001 of perfect, which a leak explains more often than a "
        f"model does; {where}. If a column would not be known when a prediction is asked for, or numbers the rows "
        f"of a table sorted by its target, leave it out (--drop)."
    )
