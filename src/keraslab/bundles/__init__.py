"""keraslab.bundles: train a model on your own table into a bundle, load it, predict from it.

- train: `train_table(csv, TrainOptions(...), out)`, the churn pipeline on any table (classes), written as a bundle
- regression: the same for a numeric target (a quantity), beside the mean and linear baselines
- labelled_rows: the CSV `train` reads, its task (classes or a quantity), its positive class, its split
- features: `FeatureSpec`, the fitted preprocessing as plain JSON with a NumPy transform
- rows: what a row is, one rule for `predict`, the server and the Python API
- bundle: `load` (verified, safe mode) and `Bundle.predict_frame` / `predict_records`
- train_options: `TrainOptions`, `train`'s options declared once (parser, help, checks, the command that trains
  again)
- writing: what every bundle writes

The HTTP service for a bundle is keraslab.serving.
"""

from keraslab.lazy import lazy_attributes

# imported when first used: `keraslab train --help` reads keraslab.bundles.train_options without loading Keras or pandas
_WHERE = {
    "Bundle": "bundle",
    "BundleError": "bundle",
    "load": "bundle",
    "verify": "bundle",
    "FeatureSpec": "features",
    "TrainOptions": "train_options",
    "train_table": "train",
}
__all__ = sorted(_WHERE)
__getattr__ = lazy_attributes(__name__, _WHERE)
