"""keraslab.bundles: train a model on your own table into a bundle, load it, predict from it.

- train: `train_table(csv, TrainOptions(...), out)`, the churn pipeline on any table (classes), written as a bundle
- regression: the same for a numeric target (a quantity), beside the mean and linear baselines
- labelled_rows: the CSV `train` reads, its task (classes or a quantity), its positive class, its split
- features: `FeatureSpec`, the fitted preprocessing as plain JSON with a NumPy transform
- rows: what a row is, one rule for `predict`, the server and the Python API
- bundle: `load` (verified, safe mode) and `Bundle.predict_frame` / `predict_records`

The HTTP service for a bundle is keraslab.serving.
"""

from keraslab.bundles.bundle import Bundle, BundleError, load, verify
from keraslab.bundles.features import FeatureSpec
from keraslab.bundles.train import TrainOptions, train_table

__all__ = ["Bundle", "BundleError", "FeatureSpec", "TrainOptions", "load", "train_table", "verify"]
