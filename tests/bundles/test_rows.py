"""One rule for what a row is: the same inputs sent to `keraslab predict`, POST /predict and the bundle's Python API
get the same verdict from all three; and any column name works in all three and in the OpenAPI schema."""

import json

import numpy as np
import pandas as pd
import pytest

from keraslab.bundles import TrainOptions, load, train_table
from keraslab.cli.main import main
from keraslab.errors import DataFormatError

ODD = ["_score", "model_config", "class", "floor area", "城市", "is new"]


@pytest.fixture(scope="module")
def odd_bundle(tmp_path_factory):
    """A bundle whose columns have names pydantic or Python would refuse as attributes; `model_config` had blanks
    in training (so it may be missing), the others never did (so they are required)."""
    folder = tmp_path_factory.mktemp("odd")
    rng = np.random.default_rng(0)
    n = 240
    frame = pd.DataFrame(
        {
            "_score": rng.normal(size=n).round(3),
            "model_config": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n).round(3)),
            "class": rng.choice(["a", "b", "c"], n),
            "floor area": rng.uniform(20, 200, n).round(1),
            "城市": rng.choice(["東京", "大阪"], n),
            "is new": rng.choice(["yes", "no"], n),
        }
    )
    frame["bought"] = np.where(frame["_score"] + (frame["class"] == "a") > 0.5, "yes", "no")
    frame.to_csv(folder / "odd.csv", index=False)
    out, _ = train_table(folder / "odd.csv", TrainOptions(target="bought", epochs=2, quiet=True), folder / "b", print)
    return out, frame.drop(columns=["bought"]).iloc[0].to_dict()


VALID = "valid"
CASES = [
    # (what, change to the valid row: {column: value} or {column: ABSENT}, the verdict: ok + warnings, or error)
    ("valid", {}, ("ok", [])),
    ("absent, a required column", {"_score": "ABSENT"}, ("error", "missing column(s) '_score'")),
    ("blank, a required column", {"_score": ""}, ("error", "row 0, column '_score': missing (absent, null or blank)")),
    ("null, a required column", {"_score": None}, ("error", "row 0, column '_score': missing (absent, null or blank)")),
    (
        "absent, a column that had blanks in training",
        {"model_config": "ABSENT"},
        ("ok", ["column 'model_config': 1 missing value(s) filled as in training"]),
    ),
    (
        "a boolean for a number",
        {"floor area": True},
        ("error", "column 'floor area': a true/false value is not a number"),
    ),
    ("text for a number", {"floor area": "big"}, ("error", "column 'floor area': expected a number, found 'big'")),
    ("non-finite", {"floor area": "inf"}, ("error", "column 'floor area': inf is not a finite number")),
    ("not yes/no", {"is new": "maybe"}, ("error", "column 'is new': expected yes/no (true/false, 1/0), found 'maybe'")),
    ("an extra column", {"notes": "call back"}, ("ok", ["ignoring column(s) not in the model's schema: 'notes'"])),
    ("an unseen category", {"城市": "京都"}, ("ok", ["column '城市': unseen category '京都' in 1 row(s)"])),
]


def _row(valid: dict, change: dict) -> dict:
    row = {**valid, **change}
    return {k: v for k, v in row.items() if v != "ABSENT"}


def _from_api(bundle, row):
    try:
        _, warnings = bundle.predict_records([row])
    except DataFormatError as exc:
        return "error", str(exc)
    return "ok", warnings


def _from_server(client, row):
    r = client.post("/predict", content=json.dumps([row]), headers={"content-type": "application/json"})
    if r.status_code == 422:
        return "error", r.json()["error"]
    assert r.status_code == 200, r.text
    return "ok", r.json()["warnings"]


def _from_cli(folder, row, tmp_path, capsys):
    csv = tmp_path / "row.csv"
    pd.DataFrame([row]).to_csv(csv, index=False)
    capsys.readouterr()
    code = main(["predict", str(folder), str(csv), "--output", str(tmp_path / "p.csv"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    if code:
        assert code == 1 and len(err) == 1 and not (tmp_path / "p.csv").exists()
        return "error", err[0].split(f"{csv}: ", 1)[1]
    (tmp_path / "p.csv").unlink()
    return "ok", [line.removeprefix("keraslab: warning: ") for line in err]


def _same(verdict, expected) -> bool:
    kind, detail = verdict
    if kind != expected[0]:
        return False
    if kind == "error":
        return expected[1] in detail
    return len(detail) == len(expected[1]) and all(e in d for e, d in zip(expected[1], detail, strict=True))


def test_every_way_in_gives_the_same_verdict(odd_bundle, tmp_path, capsys):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from keraslab.serving.app import create_app

    folder, valid = odd_bundle
    bundle = load(folder)
    with TestClient(create_app(bundle, warm_up=False)) as client:
        for what, change, expected in CASES:
            row = _row(valid, change)
            api = _from_api(bundle, row)
            server = _from_server(client, row)
            cli = _from_cli(folder, row, tmp_path, capsys)
            assert _same(api, expected), (what, api)
            assert api == server, (what, api, server)  # the same words, not only the same kind
            if what != "null, a required column":  # a CSV has no null: its blank cell is the blank case
                assert cli == api, (what, cli, api)


def test_odd_column_names_work_and_are_documented(odd_bundle):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from keraslab.serving.app import create_app

    folder, valid = odd_bundle
    bundle = load(folder)
    with TestClient(create_app(bundle, warm_up=False)) as client:
        answer = client.post("/predict", json=[valid])
        assert answer.status_code == 200 and answer.json()["warnings"] == []
        expected, _ = bundle.predict_records([valid])
        assert answer.json()["predictions"] == expected
        spec = client.get("/openapi.json").json()
        body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
        items = body["schema"]["items"]
        assert set(ODD) <= set(items["properties"])
        assert set(items["required"]) == set(ODD) - {"model_config"}
        assert "may be missing" in items["properties"]["model_config"]["description"]
        assert items["properties"]["城市"]["examples"] == ["大阪", "東京"]
        assert set(body["example"][0]) == set(ODD)
        example = client.post("/predict", json=body["example"])  # the documented example works as it is
        assert example.status_code == 200
        docs = client.get("/docs")
        assert docs.status_code == 200 and "<script" not in docs.text and "cdn" not in docs.text.lower()
        assert "floor area" in docs.text and "curl -s" in docs.text and "422" in docs.text


def test_allow_missing_fills_a_required_column_and_says_so(odd_bundle, tmp_path, capsys):
    folder, valid = odd_bundle
    row = _row(valid, {"_score": ""})
    _, warnings = load(folder).predict_records([row], allow_missing=True)
    assert warnings == [
        "column '_score': 1 missing value(s) filled as in training (the training median, "
        + warnings[0].split("median, ")[1]
    ]
    pd.DataFrame([row]).to_csv(tmp_path / "r.csv", index=False)
    code = main(
        ["predict", str(folder), str(tmp_path / "r.csv"), "--output", str(tmp_path / "p.csv"), "--allow-missing"]
    )
    assert code == 0 and "column '_score': 1 missing value(s) filled" in capsys.readouterr().err


def test_lone_surrogates_and_huge_texts_come_back_encodable_and_bounded(odd_bundle):
    """Was: 500 and a traceback for a lone surrogate (the 422 handler could not encode its echo), and a 1.9 MB
    category echoed whole in the warnings."""
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from keraslab.serving.app import create_app

    folder, valid = odd_bundle
    row = json.dumps(valid)[1:-1]
    with TestClient(create_app(load(folder), warm_up=False)) as client:

        def post(body: str):
            return client.post("/predict", content=body.encode(), headers={"content-type": "application/json"})

        r = post('[{"\\ud800": 1, ' + row + "}]")  # an unknown column named by a lone surrogate
        assert r.status_code == 200 and r.json()["warnings"] == [
            "ignoring column(s) not in the model's schema: '\\ud800'"
        ]
        r = post("[{" + row + ', "floor area": "\\ud800"}]')
        assert r.status_code == 422 and "'floor area': expected a number, found '\\ud800'" in r.json()["error"]
        r = post('["\\ud800"]')  # not an object: FastAPI's own validation error, its input echoed
        assert r.status_code == 422 and "\\ud800" in json.dumps(r.json())
        huge = "x" * 1_900_000
        r = client.post("/predict", json=[{**valid, "城市": huge}])
        assert r.status_code == 200 and len(r.json()["warnings"][0]) < 300
        r = client.post("/predict", json=[{**valid, "floor area": huge}])
        assert r.status_code == 422 and len(r.json()["error"]) < 400


def test_every_error_has_one_shape_and_the_docs_name_the_real_address(odd_bundle):
    """From a practitioner tryout: 405 answered {"detail"}, a malformed body {"error": "invalid request", details of
    the whole input}; the /docs example named port 8000 whatever the port; GET / was a 404."""
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from keraslab.serving.app import create_app

    folder, valid = odd_bundle
    app = create_app(load(folder), warm_up=False, base_url="http://127.0.0.1:8765")
    with TestClient(app) as client:
        for response in (
            client.get("/predict"),  # 405
            client.get("/nowhere"),  # 404
            client.post("/predict", json={"not": "a list"}),
            client.post("/predict", json=[valid] * 1001),
            client.post("/predict", json=[{}]),
        ):
            body = response.json()
            assert 400 <= response.status_code < 500 and isinstance(body["error"], str), body
            assert len(json.dumps(body)) < 3000, len(json.dumps(body))
        assert "missing column(s) '_score'" in client.post("/predict", json=[{"model_config": 1}]).json()["error"]
        assert "none of the model's columns is in the input" in client.post("/predict", json=[{}]).json()["error"]
        assert "http://127.0.0.1:8765/predict" in client.get("/docs").text
        assert client.get("/", follow_redirects=False).headers["location"] == "/docs"
        spec = client.get("/openapi.json").json()["paths"]["/predict"]["post"]["responses"]
        assert set(spec["422"]["content"]["application/json"]["schema"]["properties"]) == {"error", "details"}
        assert "predictions" in spec["200"]["content"]["application/json"]["schema"]["properties"]


def test_predict_refuses_a_file_that_has_none_of_the_models_columns(odd_bundle, tmp_path, capsys):
    folder, _ = odd_bundle
    (tmp_path / "semi.csv").write_text("_score;class\n1;a\n")  # read with the wrong delimiter: one column
    args = ["predict", str(folder), str(tmp_path / "semi.csv"), "--output", str(tmp_path / "p.csv"), "--allow-missing"]
    args += ["--sep", ","]  # said wrong on purpose (sniffed, the file reads as it is: tests/bundles/test_frictions.py)
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "none of the model's columns is in the input (found '_score;class'" in err
    assert not (tmp_path / "p.csv").exists()


def test_slow_clients_are_dropped_and_connections_capped(odd_bundle):
    """50 connections with partial bodies and one with partial headers stayed open for more than
    65 s. A bounded local test: a 1 s client timeout, a real uvicorn server on a free port, in a thread."""
    pytest.importorskip("fastapi")
    import socket
    import threading
    import time

    from keraslab.serving.app import create_app, server

    folder, _ = odd_bundle
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(load(folder), warm_up=False, client_timeout=1.0)
    srv = server(app, "127.0.0.1", port, log_level="error", client_timeout=1.0, max_connections=3)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if srv.started:
                break
            time.sleep(0.05)

        def dropped_after(payload: bytes) -> tuple[float, bytes]:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(payload)
                t0, got = time.monotonic(), b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        return time.monotonic() - t0, got
                    got += chunk

        head = b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"  # the headers never end
        seconds, answer = dropped_after(head)
        assert seconds < 5 and answer == b"", (seconds, answer)
        body = b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        body += b"Content-Length: 100\r\n\r\n[{"  # 3 of the 100 bytes announced, then nothing
        seconds, answer = dropped_after(body)
        assert seconds < 5 and b" 408 " in answer.split(b"\r\n")[0] and b"did not arrive within 1 s" in answer
        # the cap: with 3 connections held open, a fourth is answered 503 at once; once they are dropped, 200
        held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(3)]
        for h in held:
            h.sendall(head)
        time.sleep(0.2)
        _, answer = dropped_after(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert b" 503 " in answer.split(b"\r\n")[0]
        time.sleep(2)  # past the client timeout: the held connections were dropped
        _, answer = dropped_after(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert b" 200 " in answer.split(b"\r\n")[0]
        for h in held:
            h.close()
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
