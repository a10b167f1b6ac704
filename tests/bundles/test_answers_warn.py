"""Answers that say when to doubt them: a category matched case-insensitively (and said), an unseen one named, a
regression input outside the training range flagged per row, the target column in a request named as ignored, and
a body that is not JSON told to send `content-type: application/json`."""

import numpy as np
import pandas as pd
import pytest

from keraslab.bundles import TrainOptions, load, train_table


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    folder = tmp_path_factory.mktemp("warn")
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame({"age": rng.uniform(20, 60, n), "sex": rng.choice(["female", "male"], n)})
    frame["bought"] = np.where(frame.age + 10 * (frame.sex == "female") + rng.normal(0, 5, n) > 45, "yes", "no")
    frame["price"] = 3 * frame.age + rng.normal(0, 2, n)
    frame.drop(columns=["price"]).to_csv(folder / "buy.csv", index=False)
    frame.drop(columns=["bought"]).to_csv(folder / "price.csv", index=False)
    quiet = {"epochs": 3, "quiet": True}
    classifier, _ = train_table(
        folder / "buy.csv", TrainOptions(target="bought", **quiet), folder / "c", log=lambda m: None
    )
    regression, _ = train_table(
        folder / "price.csv", TrainOptions(target="price", **quiet), folder / "r", log=lambda m: None
    )
    return load(classifier), load(regression)


def test_a_category_in_other_case_is_read_as_its_training_value_and_said(bundles):
    classifier, _ = bundles
    same, warned = classifier.predict_records([{"age": 40, "sex": "female"}, {"age": 40, "sex": " FEMALE "}])
    assert same[0] == same[1]
    assert warned == ["column 'sex': read 'FEMALE' as 'female' (the same but for case or spaces) in 1 row(s)"]
    frame, said = classifier.predict_frame(pd.DataFrame({"age": [40.0], "sex": ["Female"]}))
    assert frame.iloc[0]["label"] == same[0]["label"] and "read 'Female' as 'female'" in said[0]


def test_an_unseen_category_is_named_in_the_answers_warnings(bundles):
    classifier, _ = bundles
    _, warned = classifier.predict_records([{"age": 40, "sex": "other"}])
    assert len(warned) == 1 and warned[0].startswith("column 'sex': unseen category 'other' in 1 row(s)")
    assert "doubt that answer" in warned[0]


def test_the_target_sent_with_a_request_is_named_as_ignored(bundles):
    classifier, regression = bundles
    _, warned = classifier.predict_records([{"age": 40, "sex": "male", "bought": "yes"}])
    assert warned == [
        "ignoring column 'bought' in 1 row(s): it is the target, what the model predicts; the value sent is not used"
    ]
    _, warned = regression.predict_frame(pd.DataFrame({"age": [30.0], "sex": ["male"], "price": [1.0]}))
    assert warned[0].startswith("ignoring column 'price' in 1 row(s): it is the target")


def test_a_regression_input_outside_the_training_range_is_flagged_per_row(bundles):
    _, regression = bundles
    answers, warned = regression.predict_records(
        [{"age": 40, "sex": "male"}, {"age": 400, "sex": "male"}, {"age": -5, "sex": "female"}]
    )
    assert [a["outside_training_range"] for a in answers] == [[], ["age"], ["age"]]
    assert warned == [
        (
            "2 row(s) (row 1 first) hold a value outside the training part's range in 'age': a regression extrapolates "
            "there, so doubt those answers (each is flagged in outside_training_range)"
        )
    ]
    frame, _ = regression.predict_frame(pd.DataFrame({"age": [40.0, 400.0], "sex": ["male", "male"]}))
    assert frame["outside_training_range"].tolist() == ["", "age"]


def test_a_body_that_is_not_json_is_told_the_content_type_to_send(bundles):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from keraslab.serving.app import create_app

    client = TestClient(create_app(bundles[0]))
    answer = client.post("/predict", content=b'[{"age": 40, "sex": "male"}]', headers={"content-type": "text/plain"})
    assert answer.status_code == 415, answer.text
    assert "send the rows as JSON with the header 'content-type: application/json'" in answer.json()["error"]
    ok = client.post("/predict", json=[{"age": 40, "sex": "male"}])
    assert ok.status_code == 200 and ok.json()["predictions"][0]["label"] in ("yes", "no")
