"""keraslab train / predict / serve: bundles, the JSON preprocessing, safe loading, the HTTP service, a small load
test, and the churn target."""

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from keraslab.bundles import BundleError, TrainOptions, load, train_table
from keraslab.bundles.calibration import calibrate
from keraslab.cli.main import main

REPO = Path(__file__).resolve().parents[2]


def test_bundle_files_and_schema(churn_bundle):
    names = sorted(p.name for p in churn_bundle.iterdir())
    assert names == ["manifest.json", "metrics.json", "model.keras", "preprocessing.json", "report.html", "schema.json"]
    schema = json.loads((churn_bundle / "schema.json").read_text())
    roles = {c["name"]: c["role"] for c in schema["columns"]}
    assert roles["TotalCharges"] == "numeric" and roles["Partner"] == "yes_no" and roles["Contract"] == "categorical"
    assert "customerID" not in roles and schema["dropped"]["customerID"] == "dropped with --drop"
    assert schema["target"]["labels"] == ["No", "Yes"] and 0 < schema["target"]["threshold"] < 1
    assert schema["target"]["positive"] == "Yes" and schema["target"]["task"] == "classification"
    summary = json.loads((churn_bundle / "metrics.json").read_text())["summary"]
    assert set(summary) == {
        "test_accuracy",
        "positive_f1",
        "minority_f1",
        "pr_auc",
        "balanced_accuracy",
        "roc_auc",
        "log_loss",
    }
    assert summary["positive_f1"] == summary["minority_f1"]  # churn's "Yes" is its rarer class
    manifest = json.loads((churn_bundle / "manifest.json").read_text())
    assert set(manifest["files"]) == {"model.keras", "preprocessing.json", "schema.json", "metrics.json", "report.html"}


def test_json_preprocessing_equals_scikit_learn(shared_data, churn_rows):
    # Fails when broken (tests/mutants.py bundle-stores-the-variance): the bundle's features differ from
    # scikit-learn's.
    from keraslab.bundles.features import FeatureSpec
    from keraslab.tables import TablePreprocessor

    frame = pd.read_csv(shared_data / "customer_churn.csv").drop(columns=["customerID", "Churn"])
    prep = TablePreprocessor().fit(frame.iloc[:5000])
    spec = FeatureSpec.from_json(
        json.loads(json.dumps(FeatureSpec.from_preprocessor(prep, frame.iloc[:5000]).to_json()))
    )
    test = frame.iloc[5000:]
    ours, warnings = spec.transform(test)
    np.testing.assert_allclose(ours, prep.transform(test), atol=1e-5)
    records = json.loads(test.head(50).to_json(orient="records"))
    fast, _ = spec.transform_records(records)
    np.testing.assert_allclose(fast, ours[:50], atol=1e-5)
    assert warnings == []


def test_predict_command(churn_bundle, churn_rows, tmp_path, capsys):
    rows = churn_rows.drop(columns=["Churn"]).head(10).copy()
    rows["notes"] = "extra column"
    rows.loc[rows.index[0], "Contract"] = "Weekly"
    rows.to_csv(tmp_path / "new.csv", index=False)
    code = main(
        [
            "predict",
            str(churn_bundle),
            str(tmp_path / "new.csv"),
            "--output",
            str(tmp_path / "p.csv"),
            "--id-column",
            "customerID",
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert "keraslab: warning: ignoring column(s) not in the model's schema: 'notes'" in err
    assert "column 'Contract': unseen category 'Weekly' in 1 row(s), encoded as all zeros" in err
    out = pd.read_csv(tmp_path / "p.csv")
    assert list(out.columns) == ["customerID", "proba_No", "proba_Yes", "label"]
    np.testing.assert_allclose(out.proba_No + out.proba_Yes, 1.0, atol=1e-6)
    assert out.customerID.tolist() == rows.customerID.tolist()


def test_predict_missing_column_names_it(churn_bundle, churn_rows, tmp_path, capsys):
    churn_rows.drop(columns=["tenure"]).to_csv(tmp_path / "new.csv", index=False)
    code = main(["predict", str(churn_bundle), str(tmp_path / "new.csv"), "--output", str(tmp_path / "p.csv")])
    err = capsys.readouterr().err
    assert code == 1 and "missing column(s) 'tenure': the model was trained on rows that always had them" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "p.csv").exists()


# --- safe loading ----------------------------------------------------------------------------------------------------


def _copy(bundle, tmp_path):
    import shutil

    dest = tmp_path / "copy"
    shutil.copytree(bundle, dest)
    return dest


def test_changed_file_is_refused(churn_bundle, tmp_path):
    b = _copy(churn_bundle, tmp_path)
    spec = json.loads((b / "preprocessing.json").read_text())
    spec["numeric"][0]["mean"] += 1.0
    (b / "preprocessing.json").write_text(json.dumps(spec))
    with pytest.raises(BundleError, match=r"preprocessing.json does not match the bundle's manifest \(changed"):
        load(b)


def test_truncated_file_is_reported(churn_bundle, tmp_path):
    b = _copy(churn_bundle, tmp_path)
    raw = (b / "model.keras").read_bytes()
    (b / "model.keras").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(
        BundleError,
        match=rf"model.keras does not match the bundle's manifest \(changed or truncated: "
        rf"{len(raw) // 2} of {len(raw)} bytes",
    ):
        load(b)


def test_corrupt_model_with_a_matching_manifest(churn_bundle, tmp_path):
    from keraslab.bundles.bundle import write_manifest

    b = _copy(churn_bundle, tmp_path)
    (b / "model.keras").write_bytes(b"PK\x03\x04 this is not a keras zip")
    write_manifest(b)
    with pytest.raises(BundleError, match=r"model.keras is (truncated or corrupt|corrupt)"):
        load(b)


def test_lambda_layer_is_refused(churn_bundle, tmp_path):
    from keraslab.backend import load_keras
    from keraslab.bundles.bundle import write_manifest

    keras = load_keras()
    b = _copy(churn_bundle, tmp_path)
    n = load(churn_bundle).features.n_features
    evil = keras.Sequential([keras.Input((n,)), keras.layers.Lambda(lambda x: x * 2), keras.layers.Dense(1)])
    evil.save(b / "model.keras")
    write_manifest(b)
    with pytest.raises(BundleError, match="contains code \\(a Lambda layer\\); keraslab loads models in safe mode"):
        load(b)


def test_not_a_bundle(tmp_path):
    with pytest.raises(BundleError, match=r"manifest.json is missing"):
        load(tmp_path)


# --- the HTTP service ------------------------------------------------------------------------------------------


def _records(frame, bundle):
    names = [c["name"] for c in bundle.schema["columns"]]
    return json.loads(frame[names].to_json(orient="records"))


def test_server_answers_equal_predict(client, churn_bundle, churn_rows):
    bundle = load(churn_bundle)
    records = _records(churn_rows, bundle)
    r = client.post("/predict", json=records)
    assert r.status_code == 200, r.text
    served = pd.DataFrame(r.json()["predictions"])
    batch, _ = bundle.predict_frame(churn_rows.drop(columns=["Churn"]))
    np.testing.assert_allclose(served.proba_Yes, batch.proba_Yes, atol=1e-6)
    assert served.label.tolist() == batch.label.tolist()


def test_health_and_model(client):
    assert client.get("/health").json() == {"status": "ok"}
    info = client.get("/model").json()
    assert info["schema"]["target"]["name"] == "Churn" and "minority_f1" in info["metrics"]


def _valid_row(client, churn_rows, churn_bundle):
    return _records(churn_rows.head(1), load(churn_bundle))[0]


@pytest.mark.parametrize(
    "case",
    ["malformed", "wrong_type", "nan", "infinity", "empty", "too_many", "not_a_list", "oversized"],
)
def test_bad_requests_get_a_4xx_json_error(case, client, churn_rows, churn_bundle):
    row = _valid_row(client, churn_rows, churn_bundle)
    headers = {"Content-Type": "application/json"}
    if case == "malformed":
        body = b'[{"tenure": 1,'
    elif case == "wrong_type":
        body = json.dumps([{**row, "tenure": "a long time"}]).encode()
    elif case in ("nan", "infinity"):
        compact = json.dumps([row], separators=(",", ":"))
        literal = "NaN" if case == "nan" else "Infinity"
        body = compact.replace('"tenure":' + json.dumps(row["tenure"]), '"tenure":' + literal).encode()
        assert literal.encode() in body
    elif case == "extra_field":
        body = json.dumps([{**row, "favourite_colour": "blue"}]).encode()
    elif case == "empty":
        body = b"[]"
    elif case == "too_many":
        body = json.dumps([row] * 1001).encode()
    elif case == "not_a_list":
        body = json.dumps(row).encode()
    else:
        body = b"[" + b" " * (3 * 1024 * 1024) + b"]"
    r = client.post("/predict", content=body, headers=headers)
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    assert "error" in r.json()
    if case in ("nan", "infinity"):
        assert r.status_code == 422
    if case == "oversized":
        assert r.status_code == 413


def test_blank_number_is_a_missing_value_filled_as_in_training_and_said(client, churn_rows, churn_bundle):
    """TotalCharges had blanks in training: filled with its median, and the answer says so. tenure never had one:
    required (the one rule of keraslab.bundles.rows; test_rows.py checks it through every way in)."""
    row = {**_valid_row(client, churn_rows, churn_bundle), "TotalCharges": " "}
    r = client.post("/predict", json=[row])
    assert r.status_code == 200
    assert r.json()["warnings"] == [
        "column 'TotalCharges': 1 missing value(s) filled as in training (the training median, 1381.1)"
    ]
    r = client.post("/predict", json=[{**row, "tenure": " "}])
    assert r.status_code == 422 and r.json()["error"].startswith(
        "row 0, column 'tenure': missing (absent, null or blank)"
    )


def test_an_unknown_field_is_ignored_and_named(client, churn_rows, churn_bundle):
    r = client.post("/predict", json=[{**_valid_row(client, churn_rows, churn_bundle), "favourite_colour": "red"}])
    assert r.status_code == 200
    assert r.json()["warnings"] == ["ignoring column(s) not in the model's schema: 'favourite_colour'"]


@pytest.mark.slow
def test_small_load_test(churn_bundle):
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import load_test
    finally:
        sys.path.pop(0)
    report = load_test.run(str(churn_bundle), requests=60, concurrency=4, timeout=120, rounds=2)
    ours, noop = report["keraslab"], report["noop"]
    assert ours["errors"] == 0 and ours["ok"] == 60 and ours["p95_ms"] > 0 and noop["ok"] == 60
    assert report["ratio_to_noop"] == ours["requests_per_second"] / noop["requests_per_second"]
    varied = report["varied_sizes"]  # 200 requests of 11..210 rows: padded shapes, so memory stays flat
    assert varied["errors"] == 0 and varied["requests"] == 200
    assert varied["rss_mb_after"] - varied["rss_mb_before"] < 100


# --- training ----------------------------------------------------------------------------------------------------


def test_churn_target_f1(shared_data, tmp_path):
    """keraslab train customer_churn.csv --target Churn --drop customerID: churn F1 >= 0.58 (seed 0)."""
    _, summary = train_table(
        shared_data / "customer_churn.csv",
        TrainOptions(target="Churn", drop=("customerID",), quiet=True),
        tmp_path / "b",
        log=lambda m: None,
    )
    assert summary["minority_f1"] >= 0.58, summary


def test_multiclass_table(tmp_path):
    rng = np.random.default_rng(0)
    n = 600
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], n)
    label = np.where(x1 > 0.5, "high", np.where(x1 < -0.5, "low", "mid"))
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "x1": x1,
            "x2": x2,
            "colour": colour,
            "member": rng.choice(["yes", "no"], n),
            "label": label,
        }
    )
    frame.loc[::17, "x2"] = np.nan
    frame.to_csv(tmp_path / "t.csv", index=False)
    logs = []
    folder, summary = train_table(
        tmp_path / "t.csv",
        TrainOptions(target="label", drop=("id",), epochs=20, quiet=True),
        tmp_path / "b",
        log=logs.append,
    )
    assert any("numeric (2): x1, x2" in line for line in logs) and any("yes/no (1): member" in line for line in logs)
    assert summary["test_accuracy"] > 0.8
    bundle = load(folder)
    out, _ = bundle.predict_frame(frame.head(5))
    assert [c for c in out.columns if c.startswith("proba_")] == ["proba_high", "proba_low", "proba_mid"]


def test_the_library_checks_the_same_declaration(tmp_path):
    """TrainOptions.check reads the declaration the command line is built from (keraslab.bundles.train_options)."""
    from keraslab.errors import UsageError

    for bad, says in (
        ({"epochs": 0}, "Invalid value for `epochs`. Expected an integer in [1, inf)"),
        ({"test_size": float("nan")}, "Invalid value for `test_size`. Expected a number in (0, 1)"),
        ({"imbalance": "magic"}, "Invalid value for `imbalance`. Expected one of 'baseline'"),
        ({"batch_size": 2.5}, "Invalid value for `batch_size`. Expected an integer in [1, inf)"),
    ):
        with pytest.raises(UsageError, match=re.escape(says)):
            TrainOptions(target="y", **bad).check()
    options = TrainOptions(target="y", epochs=7, tune_threshold=False, positive="yes", drop=("id", "ts"))
    assert options.command("t.csv", "b") == (
        "keraslab train t.csv --target y --drop id,ts --epochs 7 --no-tune-threshold --positive yes --out b"
    )


def test_train_bad_input(tmp_path, shared_data, capsys):
    csv = str(shared_data / "customer_churn.csv")
    code = main(["train", csv, "--target", "Churned", "--out", str(tmp_path / "a")])
    assert code == 1 and "missing required column 'Churned'" in capsys.readouterr().err
    code = main(["train", csv, "--target", "Churn", "--imbalance", "magic", "--out", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code == 2 and "argument --imbalance: Invalid value for `imbalance`. Expected one of 'baseline'" in err
    assert len(err.strip().splitlines()) == 1
    for bad, says in (
        (["--epochs", "0"], "Invalid value for `epochs`. Expected an integer in [1, inf)"),
        (["--test-size", "nan"], "Invalid value for `test_size`. Expected a number in (0, 1)"),
        (["--max-categories", "1"], "Invalid value for `max_categories`. Expected an integer in [2, inf)"),
        (["--task", "ranking"], "Invalid value for `task`. Expected one of 'classification', 'regression'"),
    ):
        assert main(["train", csv, "--target", "Churn", *bad, "--out", str(tmp_path / "c")]) == 2
        assert says in capsys.readouterr().err, bad
    pd.DataFrame({"a": [1, 2, 3], "t": ["x", "x", "x"]}).to_csv(tmp_path / "one.csv", index=False)
    code = main(["train", str(tmp_path / "one.csv"), "--target", "t", "--out", str(tmp_path / "d")])
    assert code == 1 and "has one value only ('x')" in capsys.readouterr().err
    assert not any((tmp_path / n).exists() for n in "acd")


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["ensemble_vote", "ensemble_mean"])
def test_ensemble_bundle(strategy, shared_data, tmp_path, churn_rows):
    """The lab's balanced ensembles train 3 networks and save them as one Keras model that loads in safe mode, in
    this process and in a fresh one (where nothing has registered keraslab's layers yet)."""
    folder, summary = train_table(
        shared_data / "customer_churn.csv",
        TrainOptions(target="Churn", drop=("customerID",), imbalance=strategy, epochs=3, quiet=True),
        tmp_path / "b",
        log=lambda m: None,
    )
    bundle = load(folder)
    members = [layer for layer in bundle.model.layers if layer.name.startswith("member_")]
    assert len(members) == 3
    new = churn_rows.drop(columns=["Churn"])
    out, _ = bundle.predict_frame(new)
    # the bundle's P(Yes) is the members' mean, or the share of members voting Yes (probability >= 0.5), through
    # the calibration fitted on the validation slice (where one was kept)
    x, _ = bundle.features.transform(new)
    each = np.stack([np.asarray(m(x)).ravel() for m in members])
    expected = (each >= 0.5).mean(axis=0) if strategy == "ensemble_vote" else each.mean(axis=0)
    expected = calibrate(np.column_stack([1 - expected, expected]), bundle.schema["target"]["calibration"])[:, 1]
    np.testing.assert_allclose(out.proba_Yes, expected, atol=1e-6)
    # better than answering "Yes" for everyone (F1 = 2p / (1 + p) with p the churn rate, 0.42) by a clear margin
    p = (pd.read_csv(shared_data / "customer_churn.csv")["Churn"] == "Yes").mean()
    assert summary["minority_f1"] > 2 * p / (1 + p) + 0.05
    # a fresh process loads and predicts the same
    new.to_csv(tmp_path / "new.csv", index=False)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "keraslab",
            "predict",
            str(folder),
            str(tmp_path / "new.csv"),
            "--output",
            str(tmp_path / "p.csv"),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_allclose(pd.read_csv(tmp_path / "p.csv").proba_Yes, out.proba_Yes, atol=1e-6)


def test_ensemble_needs_a_binary_target(tmp_path, capsys):
    pd.DataFrame({"a": [i % 7 for i in range(30)], "t": ["x", "y", "z"] * 10}).to_csv(
        tmp_path / "three.csv", index=False
    )
    code = main(
        [
            "train",
            str(tmp_path / "three.csv"),
            "--target",
            "t",
            "--imbalance",
            "ensemble_mean",
            "--out",
            str(tmp_path / "b"),
        ]
    )
    assert code == 2 and "--imbalance ensemble_mean needs a binary target; 't' has 3 classes" in capsys.readouterr().err


def test_the_bundle_report_gives_the_command_that_trains_it_again(churn_bundle):
    import html
    import shlex

    from keraslab.bundles.train_options import TRAIN_OPTIONS
    from keraslab.cli.main import build_parser

    metrics = json.loads((churn_bundle / "metrics.json").read_text())
    command = metrics["command"]
    assert command.startswith("keraslab train ") and "keraslab run" not in command
    assert f"<pre>{html.escape(command)}</pre>" in (churn_bundle / "report.html").read_text()
    # parsed back by the command line, it asks for exactly this bundle's options
    args = build_parser().parse_args(shlex.split(command)[1:])
    given = {name: getattr(args, name) for name in TRAIN_OPTIONS if getattr(args, name) is not None}
    again = dataclasses.asdict(TrainOptions(**given, quiet=True))
    recorded = {k: v for k, v in metrics["options"].items() if k != "csv"}
    assert json.loads(json.dumps(again)) == recorded  # every option, the library-only ones at their defaults
    assert args.csv == metrics["options"]["csv"]
    assert Path(args.out) == churn_bundle
