"""Lesson: a first neural network on handwritten digits (the course's notebook 1).

Two models on 28x28 images flattened to 784 pixels scaled to [0, 1]: (a) 784 -> 10 and (b) 784 -> 100 ReLU -> 10,
Adam, sparse categorical cross-entropy, 5 epochs, batch 32. The course ended both in sigmoid and drew model (b)'s
confusion matrix from model (a)'s stale predictions; here both end in softmax and each gets its own matrix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from keraslab import datasets, models, training
from keraslab.lessons.lesson import BaseConfig, epochs_of, register
from keraslab.runs import evaluation, plots
from keraslab.runs.report import Result
from keraslab.seeding import set_seed


@dataclass(frozen=True)
class MnistConfig(BaseConfig):
    dataset: Literal["mnist", "fashion_mnist", "mnist_5k"] = field(
        default="mnist", metadata={"help": "mnist (60k/10k), fashion_mnist (same shape) or mnist_5k (5000 digits)"}
    )
    batch_size: int = 32
    hidden_units: int = 100
    validation_split: float = field(
        default=0.0,
        metadata={
            "help": "share of the training part held out for validation curves (0, as the course: every training "
            "image trains, and the test part is shown as a monitor, never used for a choice)"
        },
    )


def load_split(config: MnistConfig):
    """(x_train, y_train), (x_test, y_test) as float32 (n, 784) in [0, 1] and int64 labels; quick: a small slice."""
    from sklearn.model_selection import train_test_split

    kw = {"data_dir": config.data_dir, "offline": config.offline, "quiet": config.quiet, "scale": True}
    if config.dataset == "mnist_5k":
        x, y = datasets.load_mnist_5k(**kw)
        x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, stratify=y, random_state=config.seed)
    else:
        (x_train, y_train), (x_test, y_test) = datasets.load(config.dataset, **kw)
    if config.quick:
        x_train, y_train = _stratified_head(x_train, y_train, 3000, config.seed)
        x_test, y_test = _stratified_head(x_test, y_test, 1000, config.seed)

    def flat(a):
        return np.ascontiguousarray(a.reshape(len(a), -1), dtype=np.float32)  # (n, 28, 28) -> (n, 784)

    return (flat(x_train), y_train), (flat(x_test), y_test), x_test  # x_test (n, 28, 28) for the sample grid


def _stratified_head(x, y, n, seed):
    from sklearn.model_selection import train_test_split

    if len(y) <= n:
        return x, y
    x_small, _, y_small, _ = train_test_split(x, y, train_size=n, stratify=y, random_state=seed)
    return x_small, y_small


EPOCHS = (5, 1)  # (full, --quick): the default when --epochs is not given


@register(
    "mnist",
    "digits: a 784-10 and a 784-100-10 network (softmax, each with its own confusion matrix)",
    MnistConfig,
    headline="hidden_test_accuracy",
    course_figure="0.9743 (MNIST)",
    epochs=EPOCHS,
)
def run(config: MnistConfig) -> Result:
    epochs = epochs_of(config, EPOCHS)
    (x_train, y_train), (x_test, y_test), images_test = load_split(config)
    names = datasets.class_names(config.dataset)
    result = Result(title=f"A first neural network: {config.dataset}", summary={})
    held_out = (
        f"{int(config.validation_split * 100)}% of the training part is held out for the validation curves"
        if config.validation_split
        else "every training image trains (as in the course); the 'validation' curves are the test part, shown as "
        "a monitor only: no epoch count or setting is chosen from them"
    )
    result.text(
        f"{len(x_train)} training and {len(x_test)} test images of 28x28 pixels, flattened to 784 values "
        f"scaled to [0, 1]; {held_out}. Adam, sparse categorical cross-entropy, {epochs} epochs, batch "
        f"{config.batch_size}."
    )
    specs = {
        "linear": ("(a) 784 -> 10 softmax", ()),
        "hidden": (f"(b) 784 -> {config.hidden_units} ReLU -> 10 softmax", (config.hidden_units,)),
    }
    steps = training.batches_per_epoch(len(x_train), config.batch_size, config.validation_split)
    for key, (title, hidden) in specs.items():
        set_seed(config.seed)
        model = models.dense_classifier(784, len(names), hidden, name=key)
        training.compile_model(model, loss="sparse_categorical_crossentropy", steps_per_epoch=steps)
        history = training.fit(
            model,
            x_train,
            y_train,
            epochs=epochs,
            batch_size=config.batch_size,
            validation_split=config.validation_split,
            validation_data=None if config.validation_split else (x_test, y_test),
            title=title,
            quiet=config.quiet,
            seed=config.seed,
        )
        proba = training.predict(model, x_test)
        y_pred = proba.argmax(axis=1)
        cls = evaluation.add_classifier_report(result, key, title, y_test, y_pred, names, history)
        result.summary[f"{key}_test_accuracy"] = cls["accuracy"]
        result.summary[f"{key}_test_loss"] = float(model.evaluate(x_test, y_test, verbose=0)[0])
        result.text(
            f"{title}: {training.count_params(model):,} parameters, test accuracy {cls['accuracy']:.4f}. "
            f"Each row of predicted probabilities sums to 1 (softmax): row 0 sums to "
            f"{proba[0].sum():.6f} and predicts {names[y_pred[0]]!r}."
        )
        result.figure(
            f"{key}_samples",
            plots.image_grid(images_test[:16], y_test[:16], y_pred[:16], names, title=f"{title}: predicted (true)"),
            "the first 16 test images; wrong predictions in red",
        )
        hist = history.add_prefix(f"{key}_").rename(columns={f"{key}_epoch": "epoch"})
        result.history = hist if result.history is None else result.history.merge(hist, on="epoch")
    result.text(
        "Fixed from the course: softmax outputs (its sigmoid outputs did not sum to 1), and model (b)'s "
        "confusion matrix comes from model (b)'s own predictions (the course re-used model (a)'s)."
    )
    return result
