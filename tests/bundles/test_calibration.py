"""Probabilities that are probabilities: the network's answers calibrated on the validation slice by scikit-learn
(keraslab.bundles.calibration), applied in NumPy by the bundle, equal to scikit-learn's own, refused when damaged."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import log_loss

from keraslab.bundles import load
from keraslab.bundles.bundle import BundleError, write_manifest
from keraslab.bundles.calibration import _NetworkScores, _scores, calibrate, fit_calibration


def _overconfident(k, n=600, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += 1.0
    p = np.exp(3 * logits)  # three times too sure of itself
    return y, p / p.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("k", [2, 4])
def test_the_numbers_kept_give_scikit_learns_own_probabilities_and_a_lower_log_loss(k):
    y, p = _overconfident(k)
    calibration, said = fit_calibration(y, p)
    assert calibration["method"] == ("sigmoid" if k == 2 else "temperature")
    assert said.startswith("probabilities calibrated on the validation slice")
    method = calibration["method"]
    theirs = CalibratedClassifierCV(FrozenEstimator(_NetworkScores(k).fit(_scores(p), y)), method=method)
    theirs.fit(_scores(p), y)
    ours = calibrate(p, calibration)
    assert np.abs(theirs.predict_proba(_scores(p)) - ours).max() < 1e-12
    assert log_loss(y, ours) < log_loss(y, p) - 0.1
    assert np.allclose(ours.sum(axis=1), 1.0)
    if k > 2:  # temperature scaling never changes the likeliest class
        assert (ours.argmax(axis=1) == p.argmax(axis=1)).all()
    # no calibration: the probabilities as they are
    assert calibrate(p, None) is p


def test_a_validation_slice_without_a_class_is_not_calibrated():
    y, p = _overconfident(3)
    calibration, said = fit_calibration(np.where(y == 2, 0, y), p)
    assert calibration is None and said == "not calibrated: the validation slice lacks a class"


def test_the_churn_bundle_answers_probabilities_near_the_share_of_churners(churn_bundle, shared_data):
    """Trained with balanced class weights (the default), the network's own P(yes) is inflated far above the share
    of churners; the calibrated one the bundle answers is close to it, with a lower log loss."""
    bundle = load(churn_bundle)
    assert bundle.schema["target"]["calibration"]["method"] == "sigmoid"
    frame = pd.read_csv(shared_data / "customer_churn.csv")
    y = (frame["Churn"] == "Yes").to_numpy().astype(int)
    out, _ = bundle.predict_frame(frame.drop(columns=["Churn"]))
    X, _ = bundle.features.transform_records(frame.drop(columns=["Churn"]).to_dict(orient="records"))
    network = np.asarray(bundle.model(X, training=False))[:, 0]  # the network's own answer
    share = y.mean()
    assert abs(out["proba_Yes"].mean() - share) < 0.03
    assert network.mean() > share + 0.05
    assert log_loss(y, out["proba_Yes"]) < log_loss(y, network)
    summary = bundle.metrics["summary"]
    assert 0.75 < summary["roc_auc"] <= 1 and 0 < summary["log_loss"] < 0.6
    assert "reliability" in (churn_bundle / "report.html").read_text()


@pytest.mark.parametrize(
    "damage", [{"method": "isotonic"}, {"method": "sigmoid", "a": "1", "b": 0}, {"method": "temperature"}, []]
)
def test_a_damaged_calibration_is_refused_by_name(churn_bundle, tmp_path, damage):
    folder = tmp_path / "bundle"
    shutil.copytree(churn_bundle, folder)
    schema = json.loads((folder / "schema.json").read_text())
    schema["target"]["calibration"] = damage
    (folder / "schema.json").write_text(json.dumps(schema))
    manifest = json.loads((folder / "manifest.json").read_text())
    write_manifest(folder, {k: v for k, v in manifest.items() if k != "files"})
    with pytest.raises(BundleError, match=r"'target\.calibration' should be"):
        load(folder)
