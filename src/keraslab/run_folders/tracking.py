"""Track finished runs and bundles where practitioners already look: MLflow (`pip install 'keraslab[mlflow]'`).

`log_folder(folder)` logs a run folder (or a `keraslab train` bundle) that is already complete: the resolved config
as params, the summary and every epoch's history as metrics (epoch as the step), and report.html, plots/, the
config, metrics and manifest as artifacts, to MLFLOW_TRACKING_URI, else MLflow's own default store. Tracking comes
after the folder is whole, so a store that cannot be reached never costs the run: the failure is a TrackingError,
one line and a non-zero exit at the command line.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import tempfile
import time
from pathlib import Path

from keraslab.errors import KeraslabError, UsageError

TRACKERS = ("mlflow",)
ENV = "KERASLAB_TRACKING"


class TrackingError(KeraslabError):
    """The run is complete on disk, but logging it to the tracking store failed."""


def tracker_from(option: str | None) -> str | None:
    """The tracker asked for (--track, else $KERASLAB_TRACKING; "none" or empty: none), checked before any work."""
    value = option if option is not None else os.environ.get(ENV, "")
    value = value.strip().lower()
    if value in ("", "none"):
        return None
    if value not in TRACKERS:
        where = "--track" if option is not None else f"${ENV}"
        raise UsageError(f"Invalid value for `{where}`. Expected one of: {', '.join(TRACKERS)}. Received: {value!r}")
    if importlib.util.find_spec("mlflow") is None:
        raise UsageError("--track mlflow needs MLflow (the mlflow extra): pip install 'keraslab[mlflow]'")
    check_store(os.environ.get("MLFLOW_TRACKING_URI") or "sqlite:///mlflow.db")
    return value


def check_store(uri: str) -> None:
    """A local store (a sqlite file, a folder of runs) that cannot be written is refused before any work, in one
    line: MLflow itself would retry for minutes after the run. Tried, not judged by permissions (root passes those
    on a read-only file system). A remote store is tried when the run is done."""
    scheme, sep, rest = uri.partition("://")
    if scheme == "sqlite" and rest.startswith("/"):
        target = Path(rest[1:])  # sqlite:///relative.db, sqlite:////absolute.db (SQLAlchemy's rule)
    elif scheme == "file" or not sep:
        if _mlflow_refuses_folders():  # found out here, not after the training
            raise UsageError(
                f"--track mlflow: the store {masked(uri)} is a folder, which MLflow {_mlflow_version()} refuses (its "
                "file store is in maintenance mode); use MLFLOW_TRACKING_URI=sqlite:///mlflow.db, or set "
                "MLFLOW_ALLOW_FILE_STORE=true to keep the folder"
            )
        target = Path(rest if sep else uri) / "meta.yaml"
    else:
        return
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        if target.exists():
            with open(target, "ab"):
                pass
        else:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".keraslab-write-test-"):
                pass
    except OSError as exc:
        raise UsageError(
            f"--track mlflow: the store {masked(uri)} cannot be written ({exc.strerror or exc}: "
            f"{target if target.exists() else folder}); set MLFLOW_TRACKING_URI to a store you can write"
        ) from None


def _mlflow_refuses_folders() -> bool:
    """Whether the installed MLflow refuses a folder store (MLflow's own switch, MLFLOW_ALLOW_FILE_STORE, read by
    MLflow's own rule; an MLflow without the switch takes folders)."""
    from mlflow import environment_variables

    allow = getattr(environment_variables, "MLFLOW_ALLOW_FILE_STORE", None)
    return allow is not None and not allow.get()


def _mlflow_version() -> str:
    from importlib.metadata import version

    return version("mlflow")


def folder_record(folder: Path) -> dict:
    """What a finished folder holds for a tracker: lesson, params, summary, history, artifacts."""
    import pandas as pd  # here, not with the module: the command line imports this module for its options

    metrics = json.loads((folder / "metrics.json").read_text())
    if (folder / "config.json").is_file():  # a lesson's run folder
        config = json.loads((folder / "config.json").read_text())
        history_csv = folder / "history.csv"
        history = pd.read_csv(history_csv) if history_csv.is_file() else None
        lesson = str(config.get("lesson", "run"))
    else:  # a `keraslab train` bundle: its options are its config, its history is in metrics.json
        config = {"lesson": "train", **metrics.get("options", {})}
        history = pd.DataFrame(metrics["history"]) if metrics.get("history") else None
        lesson = "train"
    names = ("report.html", "lesson.ipynb", "config.json", "metrics.json", "manifest.json", "schema.json")
    models = sorted(folder.glob("*.keras")) if lesson != "train" else []  # a lesson's trained models
    return {
        "lesson": lesson,
        "params": {k: _param(v) for k, v in config.items()},
        "summary": {k: float(v) for k, v in metrics.get("summary", {}).items() if _number(v)},
        "history": history,
        "files": [folder / n for n in (*names, "preprocessing.json") if (folder / n).is_file()] + models,
        "plots": folder / "plots" if (folder / "plots").is_dir() else None,
        "tags": {
            "keraslab.folder": str(folder.resolve()),
            "keraslab.lesson": lesson,
            "keraslab.quick": str(metrics.get("run", {}).get("quick", config.get("quick", False))).lower(),
            "keraslab.data": str(metrics.get("run", {}).get("data", "real")),
        },
    }


def _history_metrics(history, now: int) -> list:
    """Every epoch's value of every history column, as MLflow metrics with the epoch as their step."""
    from mlflow.entities import Metric

    if history is None:
        return []
    steps = history["epoch"] if "epoch" in history else range(1, len(history) + 1)
    return [
        Metric(col, float(v), now, int(step))
        for col in history.columns
        if col != "epoch"
        for step, v in zip(steps, history[col], strict=True)
        if _number(v)
    ]


def _log_model(run_id: str, python_model, artifacts: dict) -> None:
    """The pyfunc model, inside the run (`mlflow.pyfunc.load_model("runs:/RUN_ID/model")` loads it)."""
    import mlflow

    from keraslab import __version__

    with mlflow.start_run(run_id=run_id):
        mlflow.pyfunc.log_model(
            name="model",
            python_model=python_model,
            artifacts=artifacts,
            pip_requirements=[f"keraslab=={__version__}"],  # the environment that made it; no inference
        )


_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^/@\s:]*)(?::[^/@\s]*)?@")


def masked(text: str) -> str:
    """Every URI's user information hidden: http://alice:s3cret@host/ -> http://***@host/ (in messages and logs)."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}***@", text)


def _param(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text[:6000]  # MLflow's limit on a param's value


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def log_folder(folder: str | os.PathLike, tracker: str = "mlflow", model=None) -> str:
    """Log a finished run folder or bundle; returns the tracker's run id. Raises TrackingError on any failure.
    `model`: (an mlflow.pyfunc PythonModel, its artifacts), logged as the run's model "model" (keraslab.bundles.pyfunc
    makes it for a bundle or a run's trained model)."""
    folder = Path(folder)
    record = folder_record(folder)
    uri = masked(os.environ.get("MLFLOW_TRACKING_URI") or "MLflow's default store")
    # an unreachable server should fail in seconds, not after MLflow's default minutes of retries
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    try:
        return _log_mlflow(folder, record, model)
    except Exception as exc:  # any failure of the store: the run itself is safe on disk
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TrackingError(
            f"{folder} is complete, but logging it to MLflow ({uri}) failed: {masked(reason)[:300]}"
        ) from None


def _log_mlflow(folder: Path, record: dict, model=None) -> str:
    import logging

    for name in ("mlflow", "alembic"):  # their INFO lines (creating tables, ...) are not keraslab's output
        logging.getLogger(name).setLevel(logging.WARNING)
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    name = f"keraslab-{record['lesson']}"
    experiment = client.get_experiment_by_name(name)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(name)
    run = client.create_run(experiment_id, run_name=folder.name)
    run_id = run.info.run_id
    try:
        now = int(time.time() * 1000)
        params = [Param(k, v) for k, v in record["params"].items()]
        metrics = [Metric(k, v, now, 0) for k, v in record["summary"].items()]
        metrics += _history_metrics(record["history"], now)
        tags = [RunTag(k, v) for k, v in record["tags"].items()]
        for start in range(0, max(len(params), 1), 100):
            client.log_batch(run_id, params=params[start : start + 100], tags=tags if start == 0 else [])
        for start in range(0, len(metrics), 1000):
            client.log_batch(run_id, metrics=metrics[start : start + 1000])
        for path in record["files"]:
            client.log_artifact(run_id, str(path))
        if record["plots"] is not None:
            client.log_artifacts(run_id, str(record["plots"]), "plots")
        if model is not None:
            _log_model(run_id, *model)
    except Exception:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")
    return run_id
