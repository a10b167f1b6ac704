"""Keras model builders for the library: `keraslab train`, the imbalance lab and the benchmarks, each built fresh
per call (seed first with keraslab.seeding.set_seed). The lessons do not call them: each writes its model out in
its own cell, where the learner reads it.

Fixed against the course: several classes end in softmax (the course used sigmoid), layers get a keras.Input
instead of input_shape, and a dropout network has real Dropout layers (the course had Dense(0.5)).
"""

from __future__ import annotations

from keraslab.backend import load_keras

# The course's two table networks, each the hidden layers of one notebook (both versions of the course agree):
CHURN_HIDDEN = (20, 12)  # the churn notebook's network (the churn lesson writes it out in its cell): the benchmark
IMBALANCE_HIDDEN = (26, 15)  # the imbalance notebook's network: `train`, the imbalance lab and the benchmarks


def _sequential(layers, name: str):
    return load_keras().Sequential(layers, name=name)


def dense_classifier(n_in: int, n_classes: int, hidden: tuple[int, ...] = (), *, name: str = "dense"):
    """n_in -> hidden ReLU layers -> n_classes softmax (the MNIST models: hidden=() and hidden=(100,))."""
    k = load_keras()
    layers = [k.Input((n_in,))] + [k.layers.Dense(h, activation="relu") for h in hidden]
    layers.append(k.layers.Dense(n_classes, activation="softmax"))
    return _sequential(layers, name)


def cifar_ann(input_shape=(32, 32, 3), n_classes: int = 10):
    """Flatten -> 3000 ReLU -> 1000 ReLU -> 10 softmax: 12,230,010 parameters."""
    k = load_keras()
    return _sequential(
        [
            k.Input(input_shape),
            k.layers.Flatten(),
            k.layers.Dense(3000, activation="relu"),
            k.layers.Dense(1000, activation="relu"),
            k.layers.Dense(n_classes, activation="softmax"),
        ],
        "cifar_ann",
    )


def cifar_cnn(input_shape=(32, 32, 3), n_classes: int = 10):
    """Conv32(3x3) -> MaxPool(2) -> Conv64(3x3) -> MaxPool(2) -> Flatten -> Dense64 -> Dense10 softmax, in Keras's
    own layers (keraslab.training.fit computes the two kinds faster on JAX, inside its training step:
    keraslab.training.fast_layers)."""
    k = load_keras()
    return _sequential(
        [
            k.Input(input_shape),
            k.layers.Conv2D(32, (3, 3), activation="relu"),
            k.layers.MaxPooling2D((2, 2)),
            k.layers.Conv2D(64, (3, 3), activation="relu"),
            k.layers.MaxPooling2D((2, 2)),
            k.layers.Flatten(),
            k.layers.Dense(64, activation="relu"),
            k.layers.Dense(n_classes, activation="softmax"),
        ],
        "cifar_cnn",
    )


def binary_net(n_in: int, hidden: tuple[int, ...], *, dropout: float = 0.0, name: str = "binary_net"):
    """n_in -> hidden ReLU layers (each followed by Dropout(dropout) when dropout > 0) -> 1 sigmoid.

    `keraslab train` and the imbalance lab use the imbalance notebook's hidden=(26, 15) (IMBALANCE_HIDDEN); the
    benchmark's churn model the churn notebook's (20, 12) (CHURN_HIDDEN).
    """
    k = load_keras()
    layers = [k.Input((n_in,))]
    for h in hidden:
        layers.append(k.layers.Dense(h, activation="relu"))
        if dropout:
            layers.append(k.layers.Dropout(dropout))
    layers.append(k.layers.Dense(1, activation="sigmoid"))
    return _sequential(layers, name)


def regression_net(n_in: int, hidden: tuple[int, ...], *, name: str = "regression_net"):
    """n_in -> hidden ReLU layers -> 1 linear output: a quantity (trained on a scaled target, mean squared error)."""
    k = load_keras()
    layers = [k.Input((n_in,)), *(k.layers.Dense(h, activation="relu") for h in hidden), k.layers.Dense(1)]
    return _sequential(layers, name)


def ensemble_model(members, combine: str):
    """One Keras model from trained binary members: the mean of their probabilities, or (combine="vote") the share
    of members whose probability is >= 0.5. It saves and loads like any model (keraslab.training.keras_layers
    registers VoteShare)."""
    from keraslab.training.keras_layers import VoteShare

    k = load_keras()
    inputs = k.Input(members[0].inputs[0].shape[1:])
    outputs = [m(inputs) for m in members]
    joined = k.layers.Concatenate(axis=-1)(outputs)  # (n, k members)
    out = VoteShare()(joined) if combine == "vote" else k.layers.Average()(outputs)
    return k.Model(inputs, out, name=f"ensemble_{combine}")
