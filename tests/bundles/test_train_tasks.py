"""`keraslab train` on a numeric target (regression) and the positive class of a two-class target: the rule that
decides the task, the scores beside their baselines, the answers in the target's units through every way in, and
the class the user cares about."""

import json

import numpy as np
import pandas as pd
import pytest

from keraslab.bundles import TrainOptions, load, train_table
from keraslab.cli.main import main
from keraslab.datasets.synthetic import regression_table


def make_regression_table(path, n: int = 3000, seed: int = 0) -> pd.DataFrame:
    frame = regression_table(n, seed)  # price = 3 x1 - 5 x2 + 2 sin(x1) + a city's offset + N(0, 2)
    frame.to_csv(path, index=False)
    return frame


@pytest.fixture(scope="module")
def regression_bundle(tmp_path_factory):
    folder = tmp_path_factory.mktemp("regression")
    frame = make_regression_table(folder / "prices.csv")
    out, summary = train_table(
        folder / "prices.csv",
        TrainOptions(target="price", epochs=30, quiet=True),
        folder / "bundle",
        log=lambda m: None,
    )
    return out, summary, frame


def test_a_numeric_target_with_many_values_is_a_regression_beside_its_baselines(regression_bundle):
    out, summary, _frame = regression_bundle
    schema = json.loads((out / "schema.json").read_text())
    assert schema["target"]["task"] == "regression" and "more than 10" in schema["target"]["why"]
    # the noise is N(0, 2) on a target of sd ~ 13: a model that learned the formula explains ~97% of the variance
    assert summary["test_r2"] > 0.95 and summary["mean_baseline_r2"] < 0.01
    assert summary["test_r2"] >= summary["linear_baseline_r2"] - 0.02  # within reach of the linear model, or above
    assert summary["test_rmse"] < 2.6 and summary["test_mae"] < summary["test_rmse"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["scores"]) == {"network", "mean of the training part", "linear regression"}
    html = (out / "report.html").read_text()
    assert "predicted_vs_actual" in html and "linear regression" in html and "mean of the training part" in html


def test_the_mean_baseline_is_the_training_mean(tmp_path):
    """Derived in the test: R² of a constant prediction c on the test part is 1 - mean((y - c)²) / var(y)."""
    from sklearn.model_selection import train_test_split

    frame = make_regression_table(tmp_path / "t.csv", n=400, seed=3)
    _out, summary = train_table(
        tmp_path / "t.csv", TrainOptions(target="price", epochs=2, quiet=True), tmp_path / "b", log=lambda m: None
    )
    train_idx, test_idx = train_test_split(np.arange(400), test_size=0.2, random_state=0)
    y_train, y_test = frame.price.to_numpy()[train_idx], frame.price.to_numpy()[test_idx]
    expected = 1 - np.mean((y_test - y_train.mean()) ** 2) / np.var(y_test)
    assert summary["mean_baseline_r2"] == pytest.approx(expected, abs=1e-9)


def test_predict_and_the_python_api_give_the_same_values_in_the_targets_units(regression_bundle, tmp_path, capsys):
    out, _summary, frame = regression_bundle
    rows = frame.drop(columns=["price"]).head(20)
    rows.to_csv(tmp_path / "new.csv", index=False)
    assert main(["predict", str(out), str(tmp_path / "new.csv"), "--output", str(tmp_path / "p.csv"), "--quiet"]) == 0
    from_cli = pd.read_csv(tmp_path / "p.csv")
    assert list(from_cli.columns) == ["row", "prediction", "outside_training_range"]
    bundle = load(out)
    records, _ = bundle.predict_records(rows.to_dict(orient="records"))
    np.testing.assert_allclose(from_cli["prediction"], [r["prediction"] for r in records], rtol=1e-6)
    # in the target's units: close to the formula's value, not to a scaled number around 0
    assert np.mean(np.abs(from_cli["prediction"] - frame.price.head(20))) < 3.0


def test_the_server_returns_the_value(regression_bundle):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from keraslab.serving.app import create_app

    out, _summary, frame = regression_bundle
    bundle = load(out)
    rows = frame.drop(columns=["price"]).head(3).to_dict(orient="records")
    with TestClient(create_app(bundle, warm_up=False)) as client:
        answer = client.post("/predict", json=rows)
    assert answer.status_code == 200, answer.text
    expected, _ = bundle.predict_records(rows)
    assert [p["prediction"] for p in answer.json()["predictions"]] == pytest.approx(
        [e["prediction"] for e in expected], rel=1e-6
    )


def test_home_prices_train_as_a_regression(shared_data, tmp_path, capsys):
    code = main(
        [
            "train",
            str(shared_data / "homeprices_banglore.csv"),
            "--target",
            "price",
            "--epochs",
            "5",
            "--out",
            str(tmp_path / "b"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "regression" in out and "the test part holds 4 rows: figures from 4 rows are noise" in out
    assert "mean_baseline_r2" in out and "linear_baseline_r2" in out


def test_the_task_can_be_forced_and_a_text_target_is_no_regression(shared_data, tmp_path, capsys):
    csv = str(shared_data / "homeprices_banglore.csv")
    assert main(["train", csv, "--target", "price", "--task", "classification", "--out", str(tmp_path / "a")]) == 1
    assert "class '" in capsys.readouterr().err  # 19 classes of one row each: refused, naming one
    churn = str(shared_data / "customer_churn.csv")
    assert main(["train", churn, "--target", "Churn", "--task", "regression", "--out", str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err.strip()
    assert "column 'Churn' holds 'No', not a number: a regression needs a numeric target" in err
    assert len(err.splitlines()) == 1 and not (tmp_path / "b").exists()


# ---- the positive class ----------------------------------------------------------------------------------------


def test_insurance_positive_class_is_1_and_no_label_contradicts_its_probability(shared_data, tmp_path, capsys):
    csv = shared_data / "insurance_data.csv"
    out, _ = train_table(csv, TrainOptions(target="bought_insurance", epochs=20, quiet=True), tmp_path / "b", print)
    said = capsys.readouterr().out
    assert "positive class '1' (a 0/1 target: its 'yes'" in said
    assert "the threshold stays 0.5" in said and "the test part holds 6 rows" in said
    schema = json.loads((out / "schema.json").read_text())
    assert schema["target"]["positive"] == "1" and schema["target"]["threshold"] == 0.5
    predictions, _ = load(out).predict_frame(pd.read_csv(csv).drop(columns=["bought_insurance"]))
    assert ((predictions["proba_1"] >= 0.5) == (predictions["label"] == "1")).all()
    assert "Note: the test part holds 6 rows" in (out / "report.html").read_text()


@pytest.mark.parametrize(
    ("values", "positive", "says"),
    [
        (["no", "yes"], None, "positive class 'yes' (a no/yes target"),
        (["False", "True"], None, "positive class 'True' (a False/True target"),
        (["cat", "dog"], None, "positive class 'cat' (the rarer class"),  # 30 cats, 50 dogs
        (["cat", "dog"], "dog", "positive class 'dog' (--positive)"),
    ],
)
def test_the_positive_class_rule(tmp_path, values, positive, says):
    rng = np.random.default_rng(0)
    y = [values[0]] * 30 + [values[1]] * 50
    pd.DataFrame({"x": rng.normal(size=80), "y": y}).to_csv(tmp_path / "t.csv", index=False)
    lines = []
    options = TrainOptions(target="y", epochs=1, positive=positive, quiet=True, tune_threshold=False)
    out, _ = train_table(tmp_path / "t.csv", options, tmp_path / "b", lines.append)
    assert any(says in line for line in lines), lines
    expected = positive or (values[1] if values[0] in ("no", "False") else values[0])
    assert json.loads((out / "schema.json").read_text())["target"]["positive"] == expected


def test_a_tie_and_a_bad_positive_are_said(tmp_path, capsys):
    pd.DataFrame({"x": np.linspace(0, 1, 40), "y": ["a", "b"] * 20}).to_csv(tmp_path / "t.csv", index=False)
    lines = []
    train_table(tmp_path / "t.csv", TrainOptions(target="y", epochs=1, quiet=True), tmp_path / "b", lines.append)
    assert any("positive class 'b' (the two classes are equally common" in line for line in lines), lines
    code = main(["train", str(tmp_path / "t.csv"), "--target", "y", "--positive", "c", "--out", str(tmp_path / "c")])
    assert code == 2 and "--positive 'c': 'y' holds 'a' and 'b'" in capsys.readouterr().err


def test_the_threshold_is_tuned_only_on_enough_rows_of_each_class(shared_data, tmp_path):
    """Churn's validation slice holds ~240 churners: tuned; 20 rows of a class would not be."""
    from keraslab.bundles.labelled_rows import LabelledTable, split_rows

    y = np.array([0] * 400 + [1] * 100)
    table = LabelledTable(pd.DataFrame({"x": np.zeros(500)}), y, ["0", "1"], pd.Series({"0": 400, "1": 100}))
    options = TrainOptions(target="y")
    split = split_rows(table, options)  # 80 training churners, a 20% slice: 16 < 20
    assert not split.tune and "threshold 0.5, not tuned" in split.notes[0]  # the slice still stops the training
    y = np.array([0] * 800 + [1] * 200)
    table = LabelledTable(pd.DataFrame({"x": np.zeros(1000)}), y, ["0", "1"], pd.Series({"0": 800, "1": 200}))
    split = split_rows(table, options)  # 160 training churners: a slice of 32
    assert split.tune and np.bincount(y[split.validation]).min() >= 20 and split.notes == ()


def test_train_says_what_its_figures_mean(shared_data, tmp_path, capsys):
    """From a practitioner tryout: the tuned threshold, the filled blanks and the majority baseline went unsaid; a
    --drop of a column that is not there was called a 'missing required column'."""
    lines = []
    csv = shared_data / "customer_churn.csv"
    train_table(
        csv, TrainOptions(target="Churn", drop=("customerID",), epochs=1, quiet=True), tmp_path / "b", lines.append
    )
    said = "\n".join(lines)
    assert "decision threshold for 'Yes': " in said  # tuned, or 0.5 kept with the figures that decided it
    assert "(maximum F1 on the validation slice: F1 " in said or "(0.5 kept: the F1-best threshold on the" in said
    assert "column 'TotalCharges': " in said and "blank cell(s) in the training part, filled with its median" in said
    assert "test part: always saying 'No' would score accuracy 0.73" in said
    assert main(["train", str(csv), "--target", "Churn", "--drop", "nosuch", "--out", str(tmp_path / "c")]) == 2
    assert "--drop nosuch: " in capsys.readouterr().err and not (tmp_path / "c").exists()
