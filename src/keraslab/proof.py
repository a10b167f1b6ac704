"""`keraslab prove`: keraslab.scratch proven against Keras (and scikit-learn), as rows of a table.

Used by the `prove` command and by the losses lesson. Keras runs in float64 here (JAX x64), so the differences
measured are ours, not float32 rounding.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass

import numpy as np

from keraslab.backend import current_backend, load_keras
from keraslab.scratch import activations as A
from keraslab.scratch import gradcheck
from keraslab.scratch import losses as L


@dataclass(frozen=True)
class Check:
    check: str
    ours: float
    reference: float
    tolerance: float
    kind: str = "abs"  # "abs": |ours - reference| <= tol (relative above 1); "below": ours < tolerance

    @property
    def difference(self) -> float:
        return abs(self.ours - self.reference)

    @property
    def passed(self) -> bool:
        if self.kind == "below":
            return self.ours < self.tolerance
        return self.difference <= self.tolerance * max(1.0, abs(self.reference))

    def row(self) -> dict:
        return {
            "check": self.check,
            "ours": self.ours,
            "reference": self.reference,
            "abs difference": self.difference,
            "tolerance": self.tolerance,
            "pass": self.passed,
        }


@contextlib.contextmanager
def keras_float64():
    """Keras in float64 for the duration (on JAX with x64 enabled); restores floatx and x64 afterwards."""
    k = load_keras()
    floatx = k.config.floatx()
    if current_backend() == "jax":
        import jax

        x64 = jax.enable_x64(True)
    else:
        x64 = contextlib.nullcontext()
    with x64:
        k.config.set_floatx("float64")
        try:
            yield k
        finally:
            k.config.set_floatx(floatx)


def _kmean(fn, *args, **kw) -> float:
    return float(np.mean(np.asarray(fn(*args, **kw))))


def example_inputs(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, 16)
    logits = rng.normal(size=(16, 4))
    return {
        "y_reg": rng.normal(size=(16, 3)),
        "p_reg": rng.normal(size=(16, 3)),
        "y_bin": rng.integers(0, 2, 16).astype(np.float64),
        "p_bin": rng.uniform(0.0, 1.0, 16),
        "labels": labels,
        "onehot": np.eye(4)[labels],
        "p_cat": A.softmax(logits),
    }


def loss_checks(seed: int = 0, tolerance: float = 1e-6) -> list[Check]:
    """Each scratch loss against Keras's (and scikit-learn's where it has one) on seeded random inputs."""
    from sklearn import metrics

    d = example_inputs(seed)
    with keras_float64() as k:
        kl = k.losses
        pairs = [
            ("mae vs keras", L.mae(d["y_reg"], d["p_reg"]), _kmean(kl.mean_absolute_error, d["y_reg"], d["p_reg"])),
            ("mse vs keras", L.mse(d["y_reg"], d["p_reg"]), _kmean(kl.mean_squared_error, d["y_reg"], d["p_reg"])),
            (
                "binary_crossentropy vs keras",
                L.binary_crossentropy(d["y_bin"], d["p_bin"]),
                _kmean(kl.binary_crossentropy, d["y_bin"], d["p_bin"]),
            ),
            (
                "categorical_crossentropy vs keras",
                L.categorical_crossentropy(d["onehot"], d["p_cat"]),
                _kmean(kl.categorical_crossentropy, d["onehot"], d["p_cat"]),
            ),
            (
                "sparse_categorical_crossentropy vs keras",
                L.sparse_categorical_crossentropy(d["labels"], d["p_cat"]),
                _kmean(kl.sparse_categorical_crossentropy, d["labels"], d["p_cat"]),
            ),
            (
                "binary_focal (gamma 2, alpha 0.25) vs keras",
                L.binary_focal(d["y_bin"], d["p_bin"], gamma=2.0, alpha=0.25),
                _kmean(
                    kl.binary_focal_crossentropy,
                    d["y_bin"],
                    d["p_bin"],
                    gamma=2.0,
                    alpha=0.25,
                    apply_class_balancing=True,
                ),
            ),
            (
                "categorical_focal (gamma 2, alpha 0.25) vs keras",
                L.categorical_focal(d["onehot"], d["p_cat"]),
                _kmean(kl.categorical_focal_crossentropy, d["onehot"], d["p_cat"], gamma=2.0, alpha=0.25),
            ),
            (
                "sparse_categorical_focal vs keras categorical focal on one-hot",
                L.sparse_categorical_focal(d["labels"], d["p_cat"]),
                _kmean(kl.categorical_focal_crossentropy, d["onehot"], d["p_cat"], gamma=2.0, alpha=0.25),
            ),
        ]
    pairs += [
        ("mae vs scikit-learn", L.mae(d["y_reg"], d["p_reg"]), metrics.mean_absolute_error(d["y_reg"], d["p_reg"])),
        ("mse vs scikit-learn", L.mse(d["y_reg"], d["p_reg"]), metrics.mean_squared_error(d["y_reg"], d["p_reg"])),
        (
            "binary_crossentropy vs scikit-learn log_loss",
            L.binary_crossentropy(d["y_bin"], d["p_bin"]),
            metrics.log_loss(d["y_bin"], np.clip(d["p_bin"], 1e-7, 1 - 1e-7)),
        ),
    ]
    return [Check(name, float(o), float(r), tolerance) for name, o, r in pairs]


def activation_checks(seed: int = 0, tolerance: float = 1e-6) -> list[Check]:
    x = np.random.default_rng(seed).normal(scale=3.0, size=(8, 5))
    rows = []
    with keras_float64() as k:
        for name in ("sigmoid", "tanh", "relu", "softmax"):
            ours = A.get_activation(name)[0](x)
            ref = np.asarray(getattr(k.activations, name)(x))
            rows.append(Check(f"{name} vs keras (max |diff|)", float(np.max(np.abs(ours - ref))), 0.0, tolerance))
    return rows


def gradient_checks(seed: int = 0, tolerance: float = gradcheck.TOLERANCE) -> list[Check]:
    """Every loss gradient and a small network's backprop against central differences, plus a negative control
    (a gradient 5% off) that must fail; its row passes when the check rejects it."""
    from keraslab.scratch.layers import Activation, Dense
    from keraslab.scratch.mlp import Network

    rng = np.random.default_rng(seed)
    d = example_inputs(seed)
    d["p_bin"] = rng.uniform(0.05, 0.95, 16)
    cases = {
        "mae": (d["y_reg"], d["p_reg"]),
        "mse": (d["y_reg"], d["p_reg"]),
        "binary_crossentropy": (d["y_bin"], d["p_bin"]),
        "binary_focal": (d["y_bin"], d["p_bin"]),
        "categorical_crossentropy": (d["onehot"], d["p_cat"]),
        "sparse_categorical_crossentropy": (d["labels"], d["p_cat"]),
        "categorical_focal": (d["onehot"], d["p_cat"]),
        "sparse_categorical_focal": (d["labels"], d["p_cat"]),
    }
    rows = []
    for name, (y, p) in cases.items():
        loss, grad = L.get_loss(name)
        r = gradcheck.check(name, functools.partial(loss, y), grad(y, p), p.copy())
        rows.append(Check(f"gradient of {name} (relative error)", r.relative_error, 0.0, tolerance, "below"))
    layers = [
        Dense(6, 5, rng, np.float64),
        Activation("relu"),
        Dense(5, 4, rng, np.float64),
        Activation("tanh"),
        Dense(4, 3, rng, np.float64),
        Activation("softmax"),
    ]
    net = Network(layers, "sparse_categorical_crossentropy")
    x, y = rng.normal(size=(9, 6)), rng.integers(0, 3, 9)
    worst = max(r.relative_error for r in gradcheck.check_network(net, x, y))
    rows.append(Check("network backprop, every parameter (max relative error)", worst, 0.0, tolerance, "below"))
    loss, grad = L.get_loss("binary_crossentropy")
    y, p = cases["binary_crossentropy"]
    control = gradcheck.check("control", lambda q: loss(y, q), grad(y, p) * 1.05, p.copy())
    # The negative control passes when the check REJECTS the wrong gradient: reported as 1 - rejected.
    rows.append(
        Check(
            "negative control: a 5%-wrong gradient is rejected (0 = rejected)",
            0.0 if not control.passed else 1.0,
            0.0,
            0.5,
            "below",
        )
    )
    return rows


def all_checks(seed: int = 0) -> list[Check]:
    return loss_checks(seed) + activation_checks(seed) + gradient_checks(seed)
