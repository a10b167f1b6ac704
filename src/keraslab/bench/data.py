"""The benchmark's data: real where the shared datasets have it, random of the real shape otherwise (timing does
not depend on the values)."""

from __future__ import annotations

import numpy as np

FULL_SAMPLES = {"mlp": 60000, "churn": 5625, "ann": 50000, "cnn": 50000}


def bench_data(model: str, samples: int | None = None, seed: int = 0):
    """(x float32 contiguous, y) for a benchmark model; y int64 class labels (float32 0/1 for churn)."""
    n = samples or FULL_SAMPLES[model]
    rng = np.random.default_rng(seed)
    if model == "mlp":
        try:
            from keraslab import datasets

            (x, y), _ = datasets.load_fashion_mnist(scale=True, offline=True)
            return np.ascontiguousarray(x.reshape(len(x), 784)[:n]), y[:n]
        except Exception:  # no Fashion-MNIST in the data home: random digits-shaped data
            return rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n)
    if model == "churn":
        try:
            from sklearn.model_selection import train_test_split

            from keraslab import datasets
            from keraslab.tables import ChurnPreprocessor, encode_target

            frame = datasets.load_churn(offline=True).frame
            y = encode_target(frame["Churn"])
            f_train, _, y_train, _ = train_test_split(frame, y, test_size=0.2, stratify=y, random_state=seed)
            x = ChurnPreprocessor().fit_transform(f_train)
            return x[:n], y_train[:n].astype(np.float32)
        except Exception:
            return rng.random((n, 26), dtype=np.float32), (rng.random(n) < 0.27).astype(np.float32)
    if model in ("ann", "cnn"):
        return rng.random((n, 32, 32, 3), dtype=np.float32), rng.integers(0, 10, n)
    raise ValueError(f"Unknown benchmark model {model!r}")
