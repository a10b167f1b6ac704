"""--track mlflow: a finished run or bundle logged to MLflow, checked against a temporary sqlite store;
the logged numbers equal metrics.json. A store that cannot be reached costs the run nothing but is reported in one
line and the exit status."""

import json

import pandas as pd
import pytest

from keraslab.cli.main import main

pytest.importorskip("mlflow", reason="the mlflow extra is not installed: pip install 'keraslab[mlflow]'")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """MLflow writes artifacts (./mlruns) and its default store (./mlflow.db) in the working directory."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def store(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("KERASLAB_TRACKING", raising=False)
    from mlflow.tracking import MlflowClient

    return MlflowClient(uri)


def _only_run(client, experiment: str):
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1
    return runs[0]


def test_a_lesson_run_is_logged_with_params_metrics_history_and_artifacts(store, small_data_home, tmp_path, capsys):
    home, _ = small_data_home
    out = tmp_path / "churn"
    code = main(["run", "churn", "--quick", "--data-dir", str(home), "--out", str(out), "--track", "mlflow"])
    assert code == 0 and "tracked in mlflow: run " in capsys.readouterr().out
    run = _only_run(store, "keraslab-churn")
    metrics = json.loads((out / "metrics.json").read_text())["summary"]
    assert {k: run.data.metrics[k] for k in metrics} == metrics  # the last value of each: the summary
    config = json.loads((out / "config.json").read_text())
    assert run.data.params["epochs"] == json.dumps(config["epochs"]) and run.data.params["lesson"] == "churn"
    assert run.data.tags["keraslab.quick"] == "true" and run.data.tags["keraslab.folder"] == str(out.resolve())
    history = pd.read_csv(out / "history.csv")
    logged = store.get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.value) for m in logged] == list(zip(history["epoch"], history["loss"], strict=True))
    names = {a.path for a in store.list_artifacts(run.info.run_id)}
    assert (tmp_path / "mlruns").is_dir()  # the artifacts went to the test's folder, not the repository
    expected = {"report.html", "lesson.ipynb", "model.keras", "config.json", "metrics.json", "manifest.json", "plots"}
    assert expected <= names
    assert run.data.params["epochs"] == "5"  # the value the quick run used, not null
    assert run.info.status == "FINISHED"


def test_a_bundle_is_logged_too_by_the_environment_variable(store, shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("KERASLAB_TRACKING", "mlflow")
    frame = pd.read_csv(shared_data / "customer_churn.csv").head(400)
    frame.to_csv(tmp_path / "t.csv", index=False)
    out = tmp_path / "b"
    cmd = ["train", str(tmp_path / "t.csv"), "--target", "Churn", "--drop", "customerID", "--epochs", "3"]
    assert main([*cmd, "--out", str(out), "--quiet"]) == 0
    run = _only_run(store, "keraslab-train")
    metrics = json.loads((out / "metrics.json").read_text())
    assert {k: run.data.metrics[k] for k in metrics["summary"]} == metrics["summary"]
    assert len(store.get_metric_history(run.info.run_id, "loss")) == 3 and run.data.params["target"] == "Churn"
    # the bundle is the run's MLflow model: mlflow.pyfunc answers as `keraslab predict` does
    import mlflow

    new = frame.drop(columns=["Churn"]).tail(30)
    new.to_csv(tmp_path / "new.csv", index=False)
    assert main(["predict", str(out), str(tmp_path / "new.csv"), "--output", str(tmp_path / "p.csv"), "--quiet"]) == 0
    from_cli = pd.read_csv(tmp_path / "p.csv").drop(columns=["row"])
    served = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model").predict(new.reset_index(drop=True))
    pd.testing.assert_frame_equal(served.reset_index(drop=True), from_cli, check_dtype=False, atol=1e-6)


def test_a_lessons_model_is_logged_as_an_mlflow_model(store, small_data_home, tmp_path):
    import mlflow
    import numpy as np

    from keraslab.backend import load_keras

    home, _ = small_data_home
    out = tmp_path / "churn"
    assert main(["run", "churn", "--quick", "--data-dir", str(home), "--out", str(out), "--track", "mlflow"]) == 0
    run = _only_run(store, "keraslab-churn")
    x = np.random.default_rng(0).normal(size=(7, 26)).astype("float32")
    model = load_keras().saving.load_model(out / "model.keras")
    served = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model").predict(x)
    np.testing.assert_allclose(served, model.predict(x, verbose=0), rtol=1e-6)


def test_an_unreachable_store_still_completes_the_run_and_exits_non_zero(shared_data, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # nothing listens on the discard port
    out = tmp_path / "losses"
    code = main(["run", "losses", "--out", str(out), "--track", "mlflow", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert f"{out} is complete, but logging it to MLflow (http://127.0.0.1:9) failed" in err
    assert (out / "report.html").is_file() and (out / "metrics.json").is_file()  # the run itself is whole


def test_a_tracker_that_does_not_exist_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    code = main(["run", "losses", "--out", str(tmp_path / "r"), "--track", "wandb"])
    err = capsys.readouterr().err
    assert code == 2 and "Invalid value for `--track`. Expected one of: mlflow. Received: 'wandb'" in err
    assert not (tmp_path / "r").exists()
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None if name == "mlflow" else object())
    code = main(["run", "losses", "--out", str(tmp_path / "r"), "--track", "mlflow"])
    assert code == 2 and "pip install 'keraslab[mlflow]'" in capsys.readouterr().err


@pytest.mark.parametrize("uri", ["http://alice:s3cretPW@127.0.0.1:9/", "postgresql://bob:pwsecret@127.0.0.1:9/db"])
def test_credentials_in_the_store_uri_are_never_printed(uri, tmp_path, monkeypatch, capsys):
    """Was: the password printed twice."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    code = main(["run", "losses", "--quick", "--out", str(tmp_path / "r"), "--track", "mlflow", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and "is complete, but logging it to MLflow" in err and "***@127.0.0.1:9" in err
    assert "s3cretPW" not in err and "pwsecret" not in err and "alice" not in err and "bob" not in err


@pytest.mark.parametrize("where", ["a folder", "under a file"])
def test_an_unwritable_local_store_is_refused_before_any_work(where, tmp_path, monkeypatch, capsys):
    """MLflow retried an unwritable sqlite store for 100 s after the run; now refused at once."""
    (tmp_path / "folder.db").mkdir()
    (tmp_path / "afile").write_text("x")
    db = tmp_path / "folder.db" if where == "a folder" else tmp_path / "afile" / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{db}")
    code = main(["run", "losses", "--quick", "--out", str(tmp_path / "r"), "--track", "mlflow"])
    err = capsys.readouterr().err
    assert code == 2 and f"--track mlflow: the store sqlite:///{db} cannot be written" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "r").exists()  # before the run, not after it


@pytest.mark.parametrize("uri", ["file:{tmp}/mlruns", "{tmp}/mlruns"])
def test_a_folder_store_mlflow_refuses_is_refused_before_any_work(uri, tmp_path, monkeypatch, capsys):
    """MLflow 3 refuses a file store (unless MLFLOW_ALLOW_FILE_STORE is set): was found out after the run."""
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri.format(tmp=tmp_path))
    code = main(["run", "losses", "--quick", "--out", str(tmp_path / "r"), "--track", "mlflow"])
    err = capsys.readouterr().err
    assert code == 2 and "is a folder, which MLflow" in err and "MLFLOW_ALLOW_FILE_STORE=true" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "r").exists()
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # told to keep the folder: it is then tried like any store
    from keraslab.run_folders.tracking import check_store

    check_store(uri.format(tmp=tmp_path))
