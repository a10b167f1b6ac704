"""keraslab.serving: train a tabular model into a bundle, predict from it, serve it over HTTP.

- train: `train_table(csv, TrainOptions(...), out)`, the churn pipeline on any table, written as a bundle
- labelled_rows: the CSV `train` reads, its target checked and encoded, and its stratified split
- features: `FeatureSpec`, the fitted preprocessing as plain JSON with a NumPy transform
- bundle: `load` (verified, safe mode) and `Bundle.predict_frame` / `predict_records`
- app: the FastAPI service (`pip install 'keraslab[serve]'`)
"""

from keraslab.serving.bundle import Bundle, BundleError, load, verify
from keraslab.serving.features import FeatureSpec
from keraslab.serving.train import TrainOptions, train_table

__all__ = ["Bundle", "BundleError", "FeatureSpec", "TrainOptions", "load", "train_table", "verify"]
