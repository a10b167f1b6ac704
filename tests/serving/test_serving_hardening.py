"""Hardening of train / predict / serve: each test reproduces a fault a hostile or unlucky user found and
fails without its fix."""

import json

import numpy as np
import pandas as pd
import pytest
from test_serving import _copy, _records, _valid_row

from keraslab.bundles import BundleError, load
from keraslab.bundles.calibration import calibrate
from keraslab.cli.main import main


def test_an_all_text_table_trains(tmp_path):
    """A table with no numeric column raised TypeError: ufunc 'bitwise_and'."""
    from keraslab.bundles import TrainOptions, train_table

    frame = pd.DataFrame({"a": ["x", "z"] * 20, "b": ["y", "w", "w", "y"] * 10, "t": ["yes", "no"] * 20})
    frame.to_csv(tmp_path / "t.csv", index=False)
    out, _ = train_table(tmp_path / "t.csv", TrainOptions(target="t", epochs=3, quiet=True), tmp_path / "b")
    predictions, _ = load(out).predict_frame(frame.drop(columns=["t"]))
    assert len(predictions) == 40 and set(predictions["label"]) <= {"yes", "no"}


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (
            {"a": [1.0, 2.0, 3.0, 4.0], "t": [None, None, None, None]},
            "column 't' is blank in every row: there is nothing to learn from",
        ),
        (
            {"a": [1.0, 2.0, 3.0, 4.0, 5.0], "t": ["x", "x", "x", "x", "y"]},
            "column 't': class 'y' has 1 row; the stratified split needs at least 2 rows of every class",
        ),
        (
            {"a": [1.0, 2.0, float("inf"), 4.0, 5.0, 6.0], "t": ["x", "y"] * 3},
            "column 'a' holds inf in row 3, which is no number a network can take; replace it",
        ),
        (
            {"a": [1.0, -float("inf"), 3.0, 4.0, 5.0, 6.0], "t": ["x", "y"] * 3},
            "column 'a' holds -inf in row 2",
        ),
        (  # was reported as "row 0 ... 78.0" after the scaler overflowed
            {"a": [1.0, 78.0, 1e308, 4.0, 5.0, 6.0], "t": ["x", "y"] * 3},
            "column 'a' holds 1e+308 in row 3, which is too large to scale (its square overflows)",
        ),
        (  # was scikit-learn's "The test_size = 1 should be greater or equal to ..."
            {"a": [1.0, 2.0, 3.0, 4.0], "t": ["x", "y"] * 2},
            "4 rows cannot be split with --test-size 0.2",
        ),
    ],
)
def test_train_edge_cases_are_one_line_and_write_nothing(tmp_path, capsys, frame, message):
    pd.DataFrame(frame).to_csv(tmp_path / "t.csv", index=False)
    code = main(["train", str(tmp_path / "t.csv"), "--target", "t", "--epochs", "1", "--out", str(tmp_path / "b")])
    err = capsys.readouterr().err
    assert code == 1 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "b").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]


# --- malformed bundles: BundleError, never a raw TypeError / KeyError ---------------------------------------------


def _rewrite_json(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_a_manifest_entry_that_is_not_an_object_is_a_bundle_error(churn_bundle, tmp_path):
    b = _copy(churn_bundle, tmp_path)
    _rewrite_json(b / "manifest.json", lambda m: m["files"].update({"schema.json": "deadbeef"}))
    with pytest.raises(BundleError, match=r"manifest.json: the entry for schema.json should be \{sha256, bytes\}"):
        load(b)
    _rewrite_json(b / "manifest.json", lambda m: m.update({"files": ["model.keras"]}))
    with pytest.raises(BundleError, match=r"'files' should map each file to its sha256 and size; found list"):
        load(b)


def test_a_schema_without_target_is_a_bundle_error(churn_bundle, tmp_path):
    from keraslab.bundles.bundle import write_manifest

    b = _copy(churn_bundle, tmp_path)
    _rewrite_json(b / "schema.json", lambda s: s.pop("target"))
    write_manifest(b)  # an author who rewrites the manifest too: the file is well hashed, and still malformed
    with pytest.raises(BundleError, match=r"schema.json: expected a 'target' with its 'name' and 'labels'; found None"):
        load(b)


def test_preprocessing_and_model_must_agree_on_the_feature_count(churn_bundle, tmp_path):
    from keraslab.bundles.bundle import write_manifest

    b = _copy(churn_bundle, tmp_path)
    _rewrite_json(b / "preprocessing.json", lambda p: p["numeric"].pop())
    write_manifest(b)
    n = load(churn_bundle).features.n_features
    with pytest.raises(BundleError, match=rf"preprocessing.json makes {n - 1} features but model.keras takes {n}"):
        load(b)


@pytest.mark.parametrize("name", ["model.keras", "schema.json", "manifest.json"])
def test_a_bundle_file_that_is_a_symlink_is_refused(churn_bundle, tmp_path, name):
    b = _copy(churn_bundle, tmp_path)
    real = tmp_path / f"elsewhere-{name}"
    (b / name).rename(real)
    (b / name).symlink_to(real)
    with pytest.raises(BundleError, match=rf"{name} is a symbolic link; a bundle holds its own files"):
        load(b)


# --- huge finite numbers: a 422 naming the row and column, never a 500 or a silent label ----------------------------


@pytest.mark.parametrize("value", [1e308, -1e308, "1e300", "1e40"])  # 1e40: finite in float64, inf in float32
def test_a_number_too_large_for_float32_is_a_422_naming_row_and_column(client, churn_rows, churn_bundle, value):
    rows = _records(churn_rows.head(3), load(churn_bundle))
    rows[2]["tenure"] = value
    r = client.post("/predict", json=rows)
    assert r.status_code == 422, r.text
    assert r.json()["error"].startswith("row 2, column 'tenure': ") and "too large for the model" in r.json()["error"]


def test_predict_refuses_a_number_too_large_instead_of_writing_a_silent_label(
    churn_bundle, churn_rows, tmp_path, capsys
):
    rows = churn_rows.head(4).copy()
    rows["tenure"] = rows["tenure"].astype(float)
    rows.loc[rows.index[1], "tenure"] = 1e300
    rows.to_csv(tmp_path / "new.csv", index=False)
    code = main(["predict", str(churn_bundle), str(tmp_path / "new.csv"), "--output", str(tmp_path / "p.csv")])
    err = capsys.readouterr().err
    assert code == 1 and "row 1, column 'tenure': 1e+300 is too large for the model" in err
    assert not (tmp_path / "p.csv").exists()


# --- request bodies and Host headers -------------------------------------------------------------------------------


def test_a_chunked_body_over_the_limit_is_a_413(client, churn_rows, churn_bundle):
    """No Content-Length (chunked transfer): the middleware counts the bytes itself; was a 400 parse error."""

    def fifty_megabytes():
        yield b"["
        for _ in range(50):
            yield b" " * (1024 * 1024)
        yield b"]"

    r = client.post("/predict", content=fifty_megabytes(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "over the limit" in r.json()["error"]
    row = _valid_row(client, churn_rows, churn_bundle)  # a small chunked body still gets through
    r = client.post(
        "/predict", content=iter([json.dumps([row]).encode()]), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 200 and len(r.json()["predictions"]) == 1


def test_on_loopback_only_loopback_host_headers_are_answered(churn_bundle):
    from fastapi.testclient import TestClient

    from keraslab.serving.app import allowed_hosts_for, create_app, host_name

    bundle = load(churn_bundle)
    guarded = TestClient(create_app(bundle, allowed_hosts=allowed_hosts_for("127.0.0.1", ["models.internal"])))
    for host in ("localhost:8000", "127.0.0.1:8000", "[::1]:8000", "models.internal"):
        assert guarded.get("/health", headers={"Host": host}).status_code == 200, host
    r = guarded.get("/health", headers={"Host": "attacker.example:8000"})  # a rebound DNS name
    assert r.status_code == 400 and "Host 'attacker.example:8000' is not served here" in r.json()["error"]
    assert allowed_hosts_for("0.0.0.0") is None  # bound to every interface: no Host guard (a proxy's job)
    open_app = TestClient(create_app(bundle, allowed_hosts=allowed_hosts_for("0.0.0.0")))
    assert open_app.get("/health", headers={"Host": "anything.example"}).status_code == 200
    assert host_name(b"[::1]:80") == "::1" and host_name(b"LocalHost:1") == "localhost"


# --- request sizes: a few padded shapes compiled at start-up, not a compile per size ----------------------------------


def test_padded_sizes_are_powers_of_two_up_to_the_row_limit():
    from keraslab.bundles.bundle import BLOCK_ROWS, padded_size, padded_sizes
    from keraslab.serving.app import MAX_ROWS

    assert padded_sizes() == (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024) and BLOCK_ROWS >= MAX_ROWS
    assert [padded_size(n) for n in (1, 2, 3, 11, 16, 17, 210, 1000, 1024)] == [1, 2, 4, 16, 16, 32, 256, 1024, 1024]


def test_the_model_sees_only_padded_shapes_all_compiled_at_start_up(churn_bundle, churn_rows):
    """Was: every new request size compiled again (200 requests of 11..210 rows: 40.8 s, 489 -> 867 MB)."""
    from fastapi.testclient import TestClient

    from keraslab.bundles.bundle import padded_sizes
    from keraslab.serving.app import create_app

    bundle = load(churn_bundle)
    seen, real = [], bundle.forward

    def recording(x):
        seen.append(x.shape[0])
        return real(x)

    bundle.forward = recording
    client = TestClient(create_app(bundle))
    # the warm-up compiled every size before any request; then the documentation's example answered (1 row)
    assert tuple(seen[: len(padded_sizes())]) == padded_sizes() and set(seen[len(padded_sizes()) :]) <= {1}
    warmed, seen[:] = set(seen), []
    rows = _records(churn_rows, bundle)
    for n in range(11, 211):
        r = client.post("/predict", json=[rows[i % len(rows)] for i in range(n)])
        assert r.status_code == 200 and len(r.json()["predictions"]) == n
    assert set(seen) == {16, 32, 64, 128, 256} and set(seen) <= warmed  # 5 shapes for 200 sizes, all compiled


def test_padding_changes_no_prediction_and_long_tables_go_in_blocks(churn_bundle, shared_data):
    bundle = load(churn_bundle)
    frame = pd.read_csv(shared_data / "customer_churn.csv").head(2500)
    X, _ = bundle.features.transform(frame)
    direct = np.asarray(bundle.model(X, training=False))[:, 0]
    direct = calibrate(np.column_stack([1 - direct, direct]), bundle.schema["target"]["calibration"])[:, 1]
    for n in (1, 3, 37, 1024, 1025, 2500):  # 2500 rows: blocks of 1024, 1024 and 452 padded to 512
        p = bundle.predict_proba(X[:n])
        assert p.shape == (n, 2)
        np.testing.assert_allclose(p[:, 1], direct[:n], atol=1e-6)


# --- category explosion: a cap, rarer values in one "other" column, nothing published beyond the cap ------------------


def _wide_table(n=600, distinct=300, seed=0):
    rng = np.random.default_rng(seed)
    names = np.array([f"place-{i:04d}" for i in range(distinct)])
    city = names[np.concatenate([np.arange(distinct), rng.integers(0, 12, n - distinct)])]  # 12 common, 288 rare
    x = rng.normal(size=n)
    return pd.DataFrame({"x": x, "city": city, "t": np.where(x + rng.normal(size=n) > 0.5, "yes", "no")})


def test_capped_categories_equal_scikit_learn_for_rare_unseen_and_missing_values():
    from keraslab.bundles.features import FeatureSpec
    from keraslab.tables import TablePreprocessor

    frame = _wide_table().drop(columns=["t"])
    prep = TablePreprocessor(max_categories=10).fit(frame)
    spec = FeatureSpec.from_json(json.loads(json.dumps(FeatureSpec.from_preprocessor(prep, frame).to_json())))
    city = spec.categorical[0]
    assert len(city["categories"]) == 9 and city["other"] and city["distinct"] == 300 and spec.n_features == 11
    assert spec.capped() == [{"name": "city", "kept": 9, "distinct": 300}]
    test = pd.DataFrame(
        {"x": [0.1, 0.2, 0.3, None], "city": [city["categories"][0], "place-0299", "never-seen", None]}
    )  # kept, rare, unseen, missing
    ours, warnings = spec.transform(test)
    np.testing.assert_allclose(ours, prep.transform(test), atol=1e-6)
    assert ours[1, -1] == ours[2, -1] == 1.0  # rare and unseen both go to "other" (no list of rare values is kept)
    assert len(warnings) == 1 and warnings[0].startswith(
        "column 'city': 'never-seen', 'place-0299' in 2 row(s) is not one of the 9 values that keep a column"
    )
    fast, _ = spec.transform_records(json.loads(test.to_json(orient="records")))
    np.testing.assert_allclose(fast, ours, atol=1e-6)


def test_train_caps_categories_and_publishes_only_the_kept_ones(tmp_path, capsys):
    """Was: 10,000 distinct strings became 7,181 one-hot columns (1.63 GB) and schema.json listed every one."""
    _wide_table().to_csv(tmp_path / "wide.csv", index=False)
    out = tmp_path / "b"
    csv = str(tmp_path / "wide.csv")
    code = main(["train", csv, "--target", "t", "--epochs", "1", "--max-categories", "10", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0 and "column 'city': " in printed and "the 9 most frequent keep a column each" in printed
    schema = json.loads((out / "schema.json").read_text())
    city = next(c for c in schema["columns"] if c["name"] == "city")
    assert len(city["categories"]) == 9 and city["other"] is True and city["distinct"] > 150
    # no rare training value is published: 9 kept names (and the fill, one of them, in preprocessing.json)
    assert (out / "schema.json").read_text().count("place-") == 9
    assert (out / "preprocessing.json").read_text().count("place-") == 10
    bundle = load(out)
    assert bundle.features.n_features == 1 + 10 and bundle.model.inputs[0].shape[-1] == 11
    assert "the 9 most frequent keep a column each" in (out / "report.html").read_text().replace("&#x27;", "'")
    assert "--max-categories 10" in json.loads((out / "metrics.json").read_text())["command"]


def test_the_default_cap_is_fifty_and_one_is_refused(tmp_path, capsys):
    from keraslab.bundles import TrainOptions
    from keraslab.cli.main import build_parser

    assert TrainOptions(target="t").max_categories == 50
    # not given on the command line: None, and the declaration's default (50) holds (keraslab.bundles.train_options)
    assert build_parser().parse_args(["train", "x.csv", "--target", "t"]).max_categories is None
    _wide_table(n=60, distinct=30).to_csv(tmp_path / "w.csv", index=False)
    code = main(
        ["train", str(tmp_path / "w.csv"), "--target", "t", "--max-categories", "1", "--out", str(tmp_path / "b")]
    )
    err = capsys.readouterr().err
    assert code == 2 and "Invalid value for `max_categories`. Expected an integer in [2, inf)" in err
    assert not (tmp_path / "b").exists()


def _alter(churn_bundle, tmp_path, name, change):
    """A copy of the bundle with one file changed, its manifest rewritten (as someone who edits files would)."""
    from keraslab.bundles.bundle import write_manifest

    b = _copy(churn_bundle, tmp_path)
    if name == "metrics.json" and change == "list":
        (b / name).write_text("[1, 2]")
    else:
        _rewrite_json(b / name, change)
    write_manifest(b)
    return b


def _first_categorical_to_yes_no(p):
    p["yes_no"][0]["fill"] = "x"


@pytest.mark.parametrize(
    ("name", "change", "says"),
    [
        ("schema.json", lambda s: s.pop("columns"), "'columns' should list each input column with its name and role"),
        ("schema.json", lambda s: s["target"].update(labels=["No"]), "a classifier needs two labels or more"),
        (
            "schema.json",
            lambda s: s["target"].update(labels=["a", "b", "c"]),
            "model.keras has 1 outputs but schema.json describes 3 labels",
        ),
        (
            "schema.json",
            lambda s: s["target"].update(threshold="0.5"),
            "'target.threshold' should be a number in [0, 1]",
        ),
        ("preprocessing.json", lambda p: p["numeric"][0].update(scale=0), "scale 0 is not what keraslab writes"),
        ("preprocessing.json", _first_categorical_to_yes_no, "fill 'x' is not what keraslab writes"),
        ("metrics.json", "list", "metrics.json: expected a JSON object with a 'summary' object"),
    ],
)
def test_a_tampered_bundle_fails_at_load_never_in_a_request(churn_bundle, tmp_path, name, change, says):
    """Each of these served 500s (KeyError, IndexError, ZeroDivisionError ...) or failed at start
    with a raw error; now load (and so `serve`) refuses the bundle in one line naming the file and the field."""
    b = _alter(churn_bundle, tmp_path, name, change)
    with pytest.raises(BundleError) as caught:
        load(b)
    assert says in str(caught.value) and len(str(caught.value).splitlines()) == 1
