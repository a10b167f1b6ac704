"""Identifiers found whatever their type (a row number kept as a number, a column named like an index), dropped with
a line that says so unless `--keep` names them; and a test score too good to be true warned about, naming the
columns that reach it alone."""

import json

import numpy as np
import pandas as pd
import pytest

from keraslab.bundles import TrainOptions, load, train_table
from keraslab.bundles.leaks import carriers, leak_warning
from keraslab.errors import UsageError
from keraslab.tables import infer_roles


def _frame(n=200, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "Unnamed: 0": np.arange(n),  # pandas' index written out
            "rownames": rng.permutation(np.arange(1, n + 1)),  # R's row names, in any order
            "serial": 1000 + rng.permutation(n),  # a row number that starts elsewhere
            "income": rng.choice(np.arange(10_000, 90_000), n, replace=False),  # unique integers, not in steps of one
            "age": rng.integers(18, 80, n),
            "city": rng.choice(["a", "b", "c"], n),
        }
    )


def test_a_row_number_or_an_index_is_dropped_whatever_its_type_and_kept_when_asked():
    roles = infer_roles(_frame())
    assert set(roles.dropped) == {"Unnamed: 0", "rownames", "serial"}
    assert "named like a row index ('Unnamed: 0'); --keep Unnamed: 0 keeps it" in roles.dropped["Unnamed: 0"]
    assert roles.dropped["serial"].startswith("an identifier (whole numbers in steps of one, each once")
    assert set(roles.numeric) == {"income", "age"} and roles.categorical == ["city"]
    kept = infer_roles(_frame(), keep={"rownames"})
    assert "rownames" in kept.numeric and "rownames" not in kept.dropped
    short = infer_roles(_frame(15).drop(columns=["Unnamed: 0", "rownames"]))
    assert "serial" in short.numeric  # 15 rows: too few to call 1..n a row number


def _sorted_table(path, n=240, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    frame = pd.DataFrame({"rownames": np.arange(1, n + 1), "x": x, "y": (x + rng.normal(0, 1, n) > 0).astype(int)})
    frame = frame.sort_values("y").reset_index(drop=True)
    frame["rownames"] = np.arange(1, n + 1)  # numbered after sorting by the target: the row number is the leak
    frame.to_csv(path, index=False)
    return frame


def test_train_drops_the_row_number_says_so_and_predict_does_not_ask_for_it(tmp_path):
    _sorted_table(tmp_path / "t.csv")
    said = []
    out, _summary = train_table(
        tmp_path / "t.csv", TrainOptions(target="y", epochs=2, quiet=True), tmp_path / "b", log=said.append
    )
    assert any(line.startswith("inferred dropped rownames: named like a row index") for line in said), said
    schema = json.loads((out / "schema.json").read_text())
    assert "rownames" in schema["dropped"] and "rownames" not in json.dumps(schema["columns"])
    answers, _warnings = load(out).predict_frame(pd.DataFrame({"x": [0.5, -1.0]}))  # no rownames in the request
    assert len(answers) == 2
    with pytest.raises(UsageError, match=r"--keep nope: .* has no column\(s\) 'nope'"):
        train_table(tmp_path / "t.csv", TrainOptions(target="y", keep=("nope",), quiet=True), tmp_path / "c")


def test_a_near_perfect_score_is_warned_about_naming_the_columns_that_carry_it(tmp_path):
    frame = _sorted_table(tmp_path / "t.csv")
    X, y = frame.drop(columns=["y"]), frame["y"].to_numpy()
    roles = infer_roles(X, keep={"rownames"})
    order = np.random.default_rng(0).permutation(len(y))
    fit, test = order[:180], order[180:]
    assert set(carriers(X, y, fit, test, roles, regression=False)) == {"rownames"}
    warning = leak_warning(1.0, "accuracy", X, y, fit, test, roles, regression=False)
    assert warning.startswith("warning: test accuracy 1.0000 is within 0.001 of perfect")
    assert "score 0.95 or more by themselves: 'rownames' (0.98" in warning and "--drop" in warning
    assert leak_warning(0.95, "accuracy", X, y, fit, test, roles, regression=False) is None
    honest = leak_warning(0.9995, "accuracy", X[["x"]], y, fit, test, infer_roles(X[["x"]]), regression=False)
    assert "no single column scores 0.95 by itself" in honest
