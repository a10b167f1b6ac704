"""A keraslab bundle, or a lesson's trained Keras model, as an MLflow model (`mlflow.pyfunc`), so that

    mlflow.pyfunc.load_model("runs:/RUN_ID/model").predict(frame)

answers as `keraslab predict` does (a bundle: the same frame of probabilities and labels, or of values, through
the same row rule), or as the lesson's `model.predict` (a run folder's model.keras). `--track mlflow` logs it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

# MLflow warns, on importing mlflow.pyfunc (about its own types) and when a PythonModel reads predict's untyped
# hints, that "Any" is not validated: the rows are validated by keraslab (keraslab.bundles.rows), so it says nothing
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*type hint.*", category=UserWarning)
    try:  # the mlflow extra: without it this module is never imported (tracking needs MLflow anyway)
        from mlflow.pyfunc import PythonModel
    except ImportError:  # pragma: no cover - the class is only defined for MLflow
        PythonModel = object

    class BundleModel(PythonModel):
        """The bundle folder is the model's one artifact, loaded (verified, in Keras's safe mode) by keraslab."""

        def load_context(self, context) -> None:
            from keraslab.bundles import load

            self.bundle = load(context.artifacts["bundle"])

        def predict(self, context, model_input, params=None):
            import pandas as pd

            frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
            predictions, _warnings = self.bundle.predict_frame(frame)
            return predictions.drop(columns=["row"])

    class KerasFileModel(PythonModel):
        """A lesson's trained model (its .keras file): predict = the model's own predict on the input as an array."""

        def load_context(self, context) -> None:
            from keraslab.backend import load_keras

            self.model = load_keras().saving.load_model(context.artifacts["model"], safe_mode=True, compile=False)

        def predict(self, context, model_input, params=None):
            x = np.asarray(model_input, dtype=np.float32)
            return np.asarray(self.model.predict(x, batch_size=1024, verbose=0))


def pyfunc_for(folder: str | Path) -> tuple[PythonModel, dict[str, str]] | None:
    """(the python model, its artifacts) for a bundle or a run folder with a trained model; None when there is no
    model to log (a lesson that trains none)."""
    folder = Path(folder)
    if (folder / "schema.json").is_file() and (folder / "preprocessing.json").is_file():
        return BundleModel(), {"bundle": str(folder)}
    models = [folder / "model.keras"] if (folder / "model.keras").is_file() else sorted(folder.glob("*.keras"))
    return (KerasFileModel(), {"model": str(models[0])}) if models else None


def track(folder: str | Path, tracker: str = "mlflow") -> str:
    """Log a finished run folder or bundle, with its model, to the tracker; returns the tracker's run id (a
    TrackingError, one line, if the store fails: the folder stays whole)."""
    from keraslab.run_folders.tracking import log_folder

    return log_folder(folder, tracker, model=pyfunc_for(folder))
