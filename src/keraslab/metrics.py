"""Metrics from scikit-learn for a trained classifier: the classification report, and the scores of a binary one at
an explicit threshold (scikit-learn is imported when a metric is computed, not with this module)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def classification(y_true, y_pred, class_names) -> dict:
    """Accuracy, confusion matrix (rows = truth), and scikit-learn's classification report (text and table)."""
    from sklearn import metrics

    labels = list(range(len(class_names)))
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    options = {"labels": labels, "target_names": list(map(str, class_names)), "digits": 4, "zero_division": 0}
    report = metrics.classification_report(y_true, y_pred, output_dict=True, **options)
    text = metrics.classification_report(y_true, y_pred, **options)
    rows = [
        {"class": name, **{k: (int(v) if k == "support" else v) for k, v in vals.items()}}
        for name, vals in report.items()
        if isinstance(vals, dict)
    ]
    return {
        "accuracy": float(metrics.accuracy_score(y_true, y_pred)),
        "confusion_matrix": metrics.confusion_matrix(y_true, y_pred, labels=labels),
        "report_text": text,
        "report_frame": pd.DataFrame(rows),
    }


def binary_scores(y_true, proba, threshold: float = 0.5) -> dict:
    """Churn-style scores for the positive class (1) at an explicit threshold (never np.round)."""
    from sklearn import metrics

    y_true = np.asarray(y_true).astype(int)
    proba = np.asarray(proba, dtype=np.float64).ravel()
    y_pred = (proba >= threshold).astype(int)
    return {
        "accuracy": float(metrics.accuracy_score(y_true, y_pred)),
        "precision": float(metrics.precision_score(y_true, y_pred, zero_division=0)),
        "recall": float(metrics.recall_score(y_true, y_pred, zero_division=0)),
        "f1": float(metrics.f1_score(y_true, y_pred, zero_division=0)),
        "pr_auc": float(metrics.average_precision_score(y_true, proba)),
        "balanced_accuracy": float(metrics.balanced_accuracy_score(y_true, y_pred)),
    }
