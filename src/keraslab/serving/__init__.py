"""keraslab.serving: train a tabular model into a bundle, predict from it, serve it over HTTP."""

from keraslab.serving.bundle import Bundle, BundleError, load, verify
from keraslab.serving.features import FeatureSpec
from keraslab.serving.train import BUNDLE_STRATEGIES, TrainOptions, train_table

__all__ = ["Bundle", "BundleError", "load", "verify", "FeatureSpec", "BUNDLE_STRATEGIES", "TrainOptions",
           "train_table"]
