"""Model bundles: a folder with model.keras, preprocessing.json, schema.json, metrics.json, report.html and
manifest.json (the sha256 and size of every other file).

Loading verifies every hash first (a changed or truncated file is refused, by name), loads the Keras model in safe
mode (a Lambda layer or any other code in the file is refused), and reads the preprocessing from JSON.
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from keraslab.backend import current_backend, load_keras
from keraslab.bundles.calibration import calibrate, check_calibration
from keraslab.bundles.features import FeatureSpec
from keraslab.bundles.labelled_rows import is_binary
from keraslab.bundles.rows import check_rows
from keraslab.errors import DataFormatError, KeraslabError
from keraslab.files import sha256_file
from keraslab.run_folders.integrity import file_hashes

BUNDLE_FILES = ("model.keras", "preprocessing.json", "schema.json", "metrics.json", "report.html")
BLOCK_ROWS = 1024  # the largest batch the model is run on; the server's row limit (1000) fits in one block


def padded_sizes(block: int = BLOCK_ROWS) -> tuple[int, ...]:
    """The only batch sizes the model ever sees: powers of two up to `block` (1, 2, 4, ..., 1024)."""
    return tuple(1 << k for k in range(block.bit_length()) if 1 << k <= block)


def padded_size(n: int, block: int = BLOCK_ROWS) -> int:
    """The smallest of padded_sizes() that holds n rows (n <= block)."""
    return 1 << max(0, n - 1).bit_length() if n <= block else block


class BundleError(KeraslabError):
    """A bundle that is missing, changed, truncated or corrupt."""


def write_manifest(folder: Path, extra: dict | None = None) -> dict:
    manifest = {"format": "keraslab.bundle/1", "files": file_hashes(folder, BUNDLE_FILES), **(extra or {})}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def verify(folder: str | Path) -> dict:
    """Check every file against manifest.json; returns the manifest. Raises BundleError naming the first problem."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BundleError(f"{folder} is not a model bundle folder (it does not exist)")
    mpath = folder / "manifest.json"
    if not mpath.is_file():
        raise BundleError(f"{folder} is not a model bundle: manifest.json is missing")
    _refuse_links(folder, mpath)
    try:
        manifest = json.loads(mpath.read_text())
        files = manifest["files"]
    except (ValueError, KeyError, TypeError):
        raise BundleError(f"{mpath} is truncated or corrupt (not the JSON manifest keraslab writes)") from None
    if not isinstance(files, dict):
        raise BundleError(f"{mpath}: 'files' should map each file to its sha256 and size; found {type(files).__name__}")
    for name in BUNDLE_FILES:
        path = folder / name
        if name not in files:
            raise BundleError(f"{mpath} does not list {name}")
        _refuse_links(folder, path)
        if not path.is_file():
            raise BundleError(f"{folder}: {name} is missing")
        expected = files[name]
        if not (
            isinstance(expected, dict)
            and isinstance(expected.get("sha256"), str)
            and isinstance(expected.get("bytes"), int)
        ):
            raise BundleError(f"{mpath}: the entry for {name} should be {{sha256, bytes}}; found {expected!r:.80}")
        size = path.stat().st_size
        actual = sha256_file(path)
        if actual != expected["sha256"]:
            how = (
                f"changed or truncated: {size} of {expected['bytes']} bytes"
                if size < expected["bytes"]
                else "changed since the bundle was written"
            )
            raise BundleError(
                f"{path} does not match the bundle's manifest ({how}; sha256 expected "
                f"{expected['sha256']}, found {actual}); refusing to load it"
            )
    return manifest


def _refuse_links(folder: Path, path: Path) -> None:
    """A bundle file that is a symlink could point anywhere (and its hash would vouch for the target): refused."""
    if path.is_symlink():
        raise BundleError(
            f"{folder}: {path.name} is a symbolic link; a bundle holds its own files, refusing to load it"
        )


class Bundle:
    """A loaded, verified bundle: predict_frame(df) -> DataFrame of probabilities and labels."""

    def __init__(self, folder: Path, model, features: FeatureSpec, schema: dict, metrics: dict, manifest: dict):
        self.folder, self.model, self.features = folder, model, features
        self.schema, self.metrics, self.manifest = schema, metrics, manifest
        self.labels = schema["target"]["labels"]
        self.threshold = schema["target"].get("threshold")
        self.task = schema["target"].get("task", "classification")
        self.scale = schema["target"].get("scale")  # a regression's target: {"mean", "std"} of the training part
        self.forward = _compiled_predict(model)  # the model on one batch; it only sees padded_sizes() rows

    @property
    def binary(self) -> bool:
        return is_binary(self.task, self.labels)

    @property
    def regression(self) -> bool:
        return self.task == "regression"

    def warm_up(self) -> None:
        """Compile the model for every padded batch size now (the server does this at start-up), so that no
        request waits for a compile and memory does not grow with the variety of request sizes."""
        for size in padded_sizes():
            self.forward(np.zeros((size, self.features.n_features), dtype=np.float32))

    def _predict_padded(self, X: np.ndarray) -> np.ndarray:
        """The model on X in blocks of BLOCK_ROWS rows, each padded with zero rows to a power of two: a few fixed
        shapes (compiled once each) instead of a compile for every new number of rows."""
        parts = []
        for start in range(0, len(X), BLOCK_ROWS):
            block = X[start : start + BLOCK_ROWS]
            size = padded_size(len(block))
            if size != len(block):
                block = np.concatenate([block, np.zeros((size - len(block), X.shape[1]), dtype=np.float32)])
            parts.append(self.forward(block)[: min(BLOCK_ROWS, len(X) - start)])
        return np.concatenate(parts) if parts else np.zeros((0, self._outputs), dtype=np.float32)

    @property
    def _outputs(self) -> int:
        return int(self.model.outputs[0].shape[-1])

    def predict_values(self, X: np.ndarray) -> np.ndarray:
        """A regression's answers, in the target's own units."""
        out = self._predict_padded(np.ascontiguousarray(X, dtype=np.float32))[:, 0].astype(np.float64)
        return _all_finite(out * self.scale["std"] + self.scale["mean"], "value")

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(n, n_classes) probabilities in the order of schema labels, calibrated as schema.json says."""
        p = _all_finite(self._predict_padded(np.ascontiguousarray(X, dtype=np.float32)), "probability")
        p = np.hstack([1.0 - p, p]) if p.shape[1] == 1 else p
        return calibrate(p, self.schema["target"].get("calibration"))

    def label_of(self, proba: np.ndarray) -> list:
        if self.binary:
            return [self.labels[1] if p >= self.threshold else self.labels[0] for p in proba[:, 1]]
        return [self.labels[i] for i in proba.argmax(axis=1)]

    def predict_records(
        self, records: list[dict], *, allow_missing: bool = False, nan_is_missing: bool = False
    ) -> tuple[list[dict], list[str]]:
        """Rows as dicts (the server's path, and the Python API's) -> (one dict per row, warnings). Every row is
        checked by keraslab.bundles.rows first (a bad one: RowError naming row and column)."""
        target = self.schema["target"]["name"]
        warnings = check_rows(
            records,
            self.features,
            allow_missing=allow_missing,
            nan_is_missing=nan_is_missing,
            ignore=[target],
            target=target,
        )
        X, more = self.features.transform_records(records)
        warnings += more
        if self.regression:
            outside = self.features.outside_range(records)
            warnings += _range_warnings(outside)
            return [
                {"prediction": float(v), "outside_training_range": names}
                for v, names in zip(self.predict_values(X), outside, strict=True)
            ], warnings
        proba = self.predict_proba(X)
        labels = self.label_of(proba)
        names = [f"proba_{label}" for label in self.labels]
        return [
            {**{n: float(p) for n, p in zip(names, row, strict=True)}, "label": lab}
            for row, lab in zip(proba, labels, strict=True)
        ], warnings

    def predict_csv(
        self,
        csv,
        output,
        *,
        id_column: str | None = None,
        allow_missing: bool = False,
        sep: str | None = None,
        encoding: str | None = None,
    ) -> tuple[int, list[str]]:
        """`keraslab predict`: every row of the CSV file `csv` predicted (the rule of keraslab.bundles.rows; an error
        names the file), written to the CSV file `output` atomically (nothing written on an error), or to standard
        output for "-". `sep`, `encoding`: the CSV's (default: sniffed). Returns (rows predicted, warnings)."""
        from keraslab.datasets import read_csv
        from keraslab.files import atomic_write_text

        frame = read_csv(csv, required=[id_column] if id_column else None, sep=sep, encoding=encoding)
        try:
            out, warnings = self.predict_frame(frame, id_column=id_column, allow_missing=allow_missing)
        except KeraslabError as exc:
            raise type(exc)(f"{csv}: {exc}") from None
        if str(output) == "-":
            sys.stdout.write(out.to_csv(index=False))
            sys.stdout.flush()
        else:
            atomic_write_text(output, out.to_csv(index=False))
        return len(out), warnings

    def predict_frame(
        self, frame: pd.DataFrame, id_column: str | None = None, *, allow_missing: bool = False
    ) -> tuple[pd.DataFrame, list[str]]:
        """A table's rows, checked by the same rule as the server's (keraslab.bundles.rows; a blank cell is a missing
        value), transformed, predicted.

        Returns (predictions, warnings): the row id (id_column, else the input's index), one probability column per
        class (`proba_<label>`), and the predicted label; for a regression, the `prediction` in the target's units.
        """
        records = frame.to_dict(orient="records")
        ignore = [self.schema["target"]["name"], *([id_column] if id_column else [])]
        warnings = check_rows(
            records, self.features, allow_missing=allow_missing, ignore=ignore, target=self.schema["target"]["name"]
        )
        X, more = self.features.transform_records(records)
        warnings += more
        ids = frame[id_column].to_numpy() if id_column else frame.index.to_numpy()
        out = pd.DataFrame({id_column or "row": ids})
        if self.regression:
            out["prediction"] = self.predict_values(X)
            outside = self.features.outside_range(records)
            out["outside_training_range"] = [",".join(names) for names in outside]
            return out, warnings + _range_warnings(outside)
        proba = self.predict_proba(X)
        for k, label in enumerate(self.labels):
            out[f"proba_{label}"] = proba[:, k]
        out["label"] = self.label_of(proba)
        return out, warnings


def _range_warnings(outside: list[list[str]]) -> list[str]:
    """One warning for the rows of a regression whose inputs lie outside the training part's range."""
    rows = [i for i, names in enumerate(outside) if names]
    if not rows:
        return []
    columns = sorted({name for names in outside for name in names})
    said = (
        f"{len(rows)} row(s) (row {rows[0]} first) hold a value outside the training part's range in "
        f"{', '.join(map(repr, columns[:5]))}: a regression extrapolates there, so doubt those answers (each is "
        "flagged in outside_training_range)"
    )
    return [said]


def _compiled_predict(model):
    """A fast inference function: on JAX one jitted stateless call (compiled once per batch size: the bundle pads
    batches to a few sizes), elsewhere predict_on_batch."""
    if current_backend() == "jax":
        import jax

        tv = [v.value for v in model.trainable_variables]
        ntv = [v.value for v in model.non_trainable_variables]
        fn = jax.jit(lambda x: model.stateless_call(tv, ntv, x, training=False)[0])
        return lambda x: np.asarray(fn(x))
    return lambda x: np.asarray(model.predict_on_batch(x))


def load(folder: str | Path) -> Bundle:
    """A verified bundle: every file's hash checked, the model loaded in Keras's safe mode."""
    folder = Path(folder)
    manifest = verify(folder)
    k = load_keras()
    # keraslab's own layers (VoteShare in an ensemble, the fast CNN layers) must be registered before loading
    import keraslab.training.keras_layers  # noqa: F401

    try:
        model = k.saving.load_model(folder / "model.keras", safe_mode=True, compile=False)
    except ValueError as exc:
        if "safe_mode" in str(exc) or "Lambda" in str(exc):
            raise BundleError(
                f"{folder / 'model.keras'} contains code (a Lambda layer); keraslab loads models in "
                f"safe mode and refuses it"
            ) from None
        raise BundleError(f"{folder / 'model.keras'} is corrupt ({str(exc).splitlines()[0]})") from None
    except (zipfile.BadZipFile, OSError, KeyError, EOFError) as exc:
        raise BundleError(f"{folder / 'model.keras'} is truncated or corrupt ({exc})") from None
    try:
        features = FeatureSpec.from_json(json.loads((folder / "preprocessing.json").read_text()))
        schema = json.loads((folder / "schema.json").read_text())
        metrics = json.loads((folder / "metrics.json").read_text())
    except DataFormatError as exc:  # the preprocessing, checked field by field: its own one line
        raise BundleError(f"{folder}: {exc}; the bundle was altered or damaged (train it again)") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BundleError(f"{folder}: a JSON file of the bundle is truncated or corrupt ({exc!r})") from None
    _check_schema(folder, schema)
    n_in = model.inputs[0].shape[-1]
    if features.n_features != n_in:
        raise BundleError(
            f"{folder}: preprocessing.json makes {features.n_features} features but model.keras takes {n_in}; the "
            f"two do not belong together"
        )
    _check_together(folder, model, features, schema, metrics)
    return Bundle(folder, model, features, schema, metrics, manifest)


def _check_schema(folder: Path, schema) -> None:
    """schema.json's fields, each of the type keraslab writes (BundleError naming the field otherwise)."""
    path = folder / "schema.json"

    def bad(what: str) -> BundleError:
        return BundleError(f"{path}: {what}; the bundle was altered or damaged (train it again)")

    if not isinstance(schema, dict):
        raise bad("expected a JSON object")
    target = schema.get("target")
    if (
        not isinstance(target, dict)
        or not isinstance(target.get("name"), str)
        or not isinstance(target.get("labels"), list)
    ):
        raise BundleError(f"{path}: expected a 'target' with its 'name' and 'labels'; found {target!r:.80}")
    columns = schema.get("columns")
    if not isinstance(columns, list) or not all(
        isinstance(c, dict) and isinstance(c.get("name"), str) and c.get("role") in ("numeric", "yes_no", "categorical")
        for c in columns
    ):
        raise bad("'columns' should list each input column with its name and role")
    if not all(isinstance(label, str) for label in target["labels"]):
        raise bad("'target.labels' should be texts")
    _check_target(path, target, bad)


def _check_target(path: Path, target: dict, bad) -> None:
    """The target's task and what it needs: a regression its scale, two classes their threshold."""
    task = target.get("task", "classification")
    if task == "regression":
        scale = target.get("scale")
        ok = isinstance(scale, dict) and all(
            isinstance(scale.get(k), int | float) and not isinstance(scale.get(k), bool) and np.isfinite(scale[k])
            for k in ("mean", "std")
        )
        if not ok or scale["std"] <= 0:
            raise BundleError(
                f"{path}: a regression's target needs a 'scale' with a finite 'mean' and a positive "
                f"'std'; found {scale!r:.80}"
            )
    elif task != "classification":
        raise BundleError(f"{path}: unknown task {task!r}")
    elif len(target["labels"]) < 2:
        raise bad(f"a classifier needs two labels or more; found {target['labels']!r:.60}")
    elif len(target["labels"]) == 2:
        threshold = target.get("threshold")
        if not (isinstance(threshold, int | float) and not isinstance(threshold, bool) and 0 <= threshold <= 1):
            raise bad(f"'target.threshold' should be a number in [0, 1]; found {threshold!r:.40}")
    if task == "classification":
        check_calibration(target.get("calibration"), bad)


def _check_together(folder: Path, model, features: FeatureSpec, schema: dict, metrics) -> None:
    """The files of the bundle belong together: the schema's columns are the preprocessing's, the model's outputs
    fit the labels, and metrics.json is an object (GET /model shows it)."""
    if [c["name"] for c in schema["columns"]] != features.columns:
        raise BundleError(
            f"{folder}: schema.json and preprocessing.json list different columns; they do not belong together"
        )
    outputs = int(model.outputs[0].shape[-1])
    labels = schema["target"]["labels"]
    regression = schema["target"].get("task", "classification") == "regression"
    expected = 1 if regression or len(labels) == 2 else len(labels)
    if outputs != expected:
        what = "a regression" if regression else f"{len(labels)} labels"
        raise BundleError(
            f"{folder}: model.keras has {outputs} outputs but schema.json describes {what} ({expected} expected); the "
            f"two do not belong together"
        )
    if not isinstance(metrics, dict) or not isinstance(metrics.get("summary", {}), dict):
        raise BundleError(f"{folder / 'metrics.json'}: expected a JSON object with a 'summary' object")


def _all_finite(answers: np.ndarray, what: str) -> np.ndarray:
    """`answers` (one row each), if every row is finite: NaN never reaches an answer (NaN >= threshold is False: a
    silent negative); else a DataFormatError naming the first row."""
    bad = ~np.isfinite(answers).all(axis=tuple(range(1, answers.ndim)))
    if bad.any():
        raise DataFormatError(
            f"row {int(np.flatnonzero(bad)[0])}: the model gives no finite {what} for it (its values are too "
            f"extreme for float32)"
        )
    return answers
