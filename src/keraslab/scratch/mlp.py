"""A small neural network classifier in NumPy: Dense layers, ReLU/sigmoid/tanh, inverted dropout, a softmax (or
sigmoid) output, cross-entropy, SGD or Adam, mini-batches. Scikit-learn manners: options in __init__, learning in
fit, learned attributes end in `_`.

    net = MLPClassifier(hidden=(128,), epochs=10, seed=0).fit(X_train, y_train)   # X (n, 784) float, y (n,) int
    net.predict_proba(X_test)   # (n, 10), rows sum to 1
"""

from __future__ import annotations

import itertools
import json

import numpy as np

from keraslab.scratch import losses as L
from keraslab.scratch._checks import as_float_array, choice, positive
from keraslab.scratch._checks import rate as check_rate
from keraslab.scratch.layers import Activation, Dense, Dropout, Layer
from keraslab.scratch.optimizers import make_optimizer
from keraslab.scratch.safetensors_io import load_file, save_file


class Network:
    """A stack of layers with a loss on top. Used by MLPClassifier and by the gradient checks."""

    def __init__(self, layers: list[Layer], loss: str):
        self.layers = layers
        self.loss_name = choice(loss, "loss", L.LOSSES)
        self.loss_fn, self.loss_grad = L.get_loss(loss)

    @property
    def params(self):
        return [p for layer in self.layers for p in layer.params]

    @property
    def grads(self):
        return [g for layer in self.layers for g in layer.grads]

    def forward(self, x, training: bool = False):
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def backward(self, grad):
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def loss_and_grads(self, x, y, training: bool = True) -> float:
        """Forward, the loss, then backward through the loss's own gradient and every layer (no shortcuts)."""
        out = self.forward(x, training)
        target = y.reshape(out.shape) if self.loss_name in ("binary_crossentropy", "binary_focal", "mse", "mae") else y
        loss = self.loss_fn(target, out)
        self.backward(self.loss_grad(target, out).astype(out.dtype, copy=False))
        return loss

    def fused_step_grads(self, x, y_index, training: bool = True) -> float:
        """The fast path for a softmax (or sigmoid) output with cross-entropy: dL/dz = (p - y) / batch.

        Equal to loss_and_grads wherever no probability is clipped; the tests check that.
        """
        head, top = self.layers[:-1], self.layers[-1]
        z = x
        for layer in head:
            z = layer.forward(z, training)
        p = top.forward(z, training)
        n = x.shape[0]
        if top.name == "softmax":
            rows = np.arange(n)
            picked = p[rows, y_index]
            loss = float(-np.mean(np.log(np.clip(picked, L.EPSILON, 1 - L.EPSILON))))
            g = p.copy()
            g[rows, y_index] -= 1
        else:  # sigmoid, one output unit
            y = y_index.reshape(p.shape).astype(p.dtype)
            pc = np.clip(p, L.EPSILON, 1 - L.EPSILON)
            loss = float(-np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc)))
            g = p - y
        g *= p.dtype.type(1.0 / n)
        for layer in reversed(head):
            g = layer.backward(g)
        return loss


class MLPClassifier:
    """Multi-layer perceptron for classification.

    hidden: sizes of the hidden layers; activation: relu | sigmoid | tanh | leaky_relu; dropout: rate after each
    hidden layer (inverted, seeded, off at predict time); optimizer: adam | sgd; dtype: float32 (fast) or float64.
    Two classes get one sigmoid output and binary cross-entropy; more get softmax and categorical cross-entropy.
    """

    def __init__(
        self,
        hidden=(128,),
        *,
        activation: str = "relu",
        dropout: float = 0.0,
        optimizer: str = "adam",
        learning_rate: float = 0.001,
        batch_size: int = 32,
        epochs: int = 10,
        seed: int = 0,
        shuffle: bool = True,
        dtype: str = "float32",
        verbose: bool = False,
    ):
        self.hidden = hidden
        self.activation = activation
        self.dropout = dropout
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.seed = seed
        self.shuffle = shuffle
        self.dtype = dtype
        self.verbose = verbose

    # -- validation ----------------------------------------------------------------------------------------------
    def _check_options(self):
        hidden = tuple(self.hidden)
        for h in hidden:
            positive(h, "hidden", integer=True)
        choice(self.activation, "activation", ("relu", "sigmoid", "tanh", "leaky_relu"))
        check_rate(self.dropout, "dropout")
        choice(self.optimizer, "optimizer", ("adam", "sgd"))
        positive(self.learning_rate, "learning_rate")
        positive(self.batch_size, "batch_size", integer=True)
        positive(self.epochs, "epochs", integer=True)
        choice(self.dtype, "dtype", ("float32", "float64"))
        return hidden

    def _check_X(self, X):
        X = as_float_array(X, "X", dtype=np.dtype(self.dtype))
        X = np.ascontiguousarray(X, dtype=np.dtype(self.dtype))
        if X.ndim != 2:
            raise ValueError(
                f"Invalid value for `X`. Expected a 2-D array (samples, features). Received: X.shape={X.shape}"
            )
        if hasattr(self, "n_features_in_") and X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"Invalid value for `X`. Expected {self.n_features_in_} features, as in fit. Received: "
                f"X.shape={X.shape}"
            )
        return X

    # -- building ------------------------------------------------------------------------------------------------
    def _build(self, n_in: int, n_classes: int, hidden, rng) -> Network:
        dt = np.dtype(self.dtype)
        layers: list[Layer] = []
        sizes = [n_in, *hidden]
        for a, b in itertools.pairwise(sizes):
            layers += [Dense(a, b, rng, dt), Activation(self.activation)]
            if self.dropout:
                layers.append(Dropout(self.dropout, rng))
        if n_classes == 2:
            layers += [Dense(sizes[-1], 1, rng, dt), Activation("sigmoid")]
            return Network(layers, "binary_crossentropy")
        layers += [Dense(sizes[-1], n_classes, rng, dt), Activation("softmax")]
        return Network(layers, "sparse_categorical_crossentropy")

    # -- learning ------------------------------------------------------------------------------------------------
    def fit(self, X, y) -> MLPClassifier:
        hidden = self._check_options()
        X = self._check_X(X)
        y = np.asarray(y)
        if y.shape != (X.shape[0],):
            raise ValueError(f"`y` must hold one label per row of `X`. Received: X.shape={X.shape}, y.shape={y.shape}")
        self.classes_, y_index = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"Invalid value for `y`. Expected at least 2 classes. Received: 1 class ({self.classes_[0]!r})"
            )
        self.n_features_in_ = X.shape[1]
        rng = np.random.default_rng(self.seed)
        self.network_ = self._build(X.shape[1], len(self.classes_), hidden, rng)
        opt = make_optimizer(self.optimizer, self.learning_rate)
        params, grads = self.network_.params, self.network_.grads
        n, bs = X.shape[0], int(self.batch_size)
        self.loss_curve_ = []
        for epoch in range(int(self.epochs)):
            order = rng.permutation(n) if self.shuffle else np.arange(n)
            total = 0.0
            for start in range(0, n, bs):
                idx = order[start : start + bs]
                total += self.network_.fused_step_grads(X[idx], y_index[idx]) * len(idx)
                opt.step(params, grads)
            self.loss_curve_.append(total / n)
            if self.verbose:
                print(f"epoch {epoch + 1}/{self.epochs}: loss {self.loss_curve_[-1]:.4f}")
        self.n_iter_ = int(self.epochs)
        return self

    def _check_fitted(self):
        if not hasattr(self, "network_"):
            raise ValueError("This MLPClassifier is not fitted yet; call fit first (or load weights)")

    def predict_proba(self, X, batch_size: int = 4096) -> np.ndarray:
        """(n, n_classes) class probabilities; dropout is off."""
        self._check_fitted()
        X = self._check_X(X)
        out = (
            np.concatenate(
                [self.network_.forward(X[i : i + batch_size], training=False) for i in range(0, X.shape[0], batch_size)]
            )
            if len(X)
            else np.zeros((0, 1))
        )
        if len(self.classes_) == 2:
            out = np.hstack([1 - out, out])
        return out

    def predict(self, X) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X, y) -> float:
        return float(np.mean(self.predict(X) == np.asarray(y)))

    # -- weights on disk (safetensors: no pickle) -----------------------------------------------------------------
    def get_params(self) -> dict:
        return {
            k: getattr(self, k)
            for k in (
                "hidden",
                "activation",
                "dropout",
                "optimizer",
                "learning_rate",
                "batch_size",
                "epochs",
                "seed",
                "shuffle",
                "dtype",
            )
        }

    def save(self, path) -> None:
        self._check_fitted()
        dense = [layer for layer in self.network_.layers if isinstance(layer, Dense)]
        tensors = {f"dense_{i}.kernel": d.W for i, d in enumerate(dense)}
        tensors.update({f"dense_{i}.bias": d.b for i, d in enumerate(dense)})
        meta = {
            "format": "keraslab.scratch.MLPClassifier/1",
            "params": json.dumps({**self.get_params(), "hidden": list(self.hidden)}),
            "classes": json.dumps(self.classes_.tolist()),
            "n_features_in": str(self.n_features_in_),
        }
        save_file(tensors, path, meta)

    @classmethod
    def load(cls, path) -> MLPClassifier:
        tensors, meta = load_file(path)
        if meta.get("format") != "keraslab.scratch.MLPClassifier/1":
            raise ValueError(f"{path}: not a keraslab MLPClassifier weights file (format {meta.get('format')!r})")
        params = json.loads(meta["params"])
        params["hidden"] = tuple(params["hidden"])
        model = cls(**params)
        model.classes_ = np.asarray(json.loads(meta["classes"]))
        model.n_features_in_ = int(meta["n_features_in"])
        model.network_ = model._build(model.n_features_in_, len(model.classes_), model.hidden, np.random.default_rng(0))
        dense = [layer for layer in model.network_.layers if isinstance(layer, Dense)]
        for i, d in enumerate(dense):
            W, b = tensors[f"dense_{i}.kernel"], tensors[f"dense_{i}.bias"]
            if W.shape != d.W.shape or b.shape != d.b.shape:
                raise ValueError(f"{path}: dense_{i} has shape {W.shape}, expected {d.W.shape}")
            d.W[...] = W
            d.b[...] = b
        return model
