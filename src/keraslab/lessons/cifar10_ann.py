"""Lesson: CIFAR-10 with a dense network, and why a GPU matters (the course's notebook 6).

Flatten -> 3000 ReLU -> 1000 ReLU -> 10 softmax (12,230,010 parameters), SGD, categorical cross-entropy on one-hot
labels. Then the same model timed for one epoch on every device present, compilation excluded. The course ended
in sigmoid, timed the CPU for 1 epoch and the GPU for 10 from progress bars, and never checked for a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from keraslab import datasets, models, training
from keraslab.backend import keras as get_keras
from keraslab.lessons.lesson import BaseConfig, epochs_of, register
from keraslab.runs import evaluation, plots
from keraslab.runs.report import Result
from keraslab.seeding import set_seed
from keraslab.training import devices

IMAGE_DATASETS = ("cifar10", "fashion_mnist", "mnist")
DATASET_HELP = "cifar10 (32x32x3), fashion_mnist or mnist (28x28x1): the network's input follows the image size"


@dataclass(frozen=True)
class Cifar10AnnConfig(BaseConfig):
    dataset: Literal["cifar10", "fashion_mnist", "mnist"] = field(default="cifar10", metadata={"help": DATASET_HELP})
    batch_size: int = 32
    learning_rate: float = 0.01  # Keras's SGD default, as the course used
    time_devices: bool = True  # time one epoch on every device present


SCALE = 1.0 / 255.0  # the model sees pixels / 255, in [0, 1]
VALIDATION_SPLIT = 0.1  # the last 10% of the training images: the validation curves


def load_images(config, *, quick_train: int = 500, quick_test: int = 200):
    """config.dataset's images as uint8 (n, height, width, channels) and int64 labels; quick: the first few images.

    The images stay uint8 (150 MB for CIFAR-10's training set instead of 600 MB as float32): training scales them
    batch by batch (training.fit's input_scale), prediction scales the test set. Grey images get a channel axis.
    """
    (x_train, y_train), (x_test, y_test) = datasets.load(
        config.dataset, data_dir=config.data_dir, offline=config.offline, quiet=config.quiet, scale=False
    )
    if config.quick:
        x_train, y_train = x_train[:quick_train], y_train[:quick_train]
        x_test, y_test = x_test[:quick_test], y_test[:quick_test]
    if x_train.ndim == 3:  # (n, 28, 28) -> (n, 28, 28, 1)
        x_train, x_test = x_train[..., None], x_test[..., None]
    return (x_train, y_train), (x_test, y_test)


def describe_images(config, x_train) -> str:
    h, w, c = x_train.shape[1:]
    return f"{config.dataset} images of {h}x{w}x{c}"


def add_image_classifier(result, key, title, model, x_test, y_test, history, names):
    proba = training.predict(model, x_test.astype(np.float32) * np.float32(SCALE), batch_size=512)
    y_pred = proba.argmax(axis=1)
    cls = evaluation.add_classifier_report(result, key, title, y_test, y_pred, names, history)
    result.figure(
        f"{key}_samples",
        plots.image_grid(
            x_test[:16].squeeze(-1) if x_test.shape[-1] == 1 else x_test[:16],  # grey images as 2-D
            y_test[:16],
            y_pred[:16],
            names,
            title=f"{title}: predicted (true)",
        ),
        "the first 16 test images; wrong predictions in red",
    )
    return cls


EPOCHS = (5, 1)  # (full, --quick): the default when --epochs is not given


@register(
    "cifar10-ann",
    "CIFAR-10 (or --dataset fashion_mnist / mnist) with a 3000-1000-10 dense network, and its epoch time on CPU vs GPU",
    Cifar10AnnConfig,
    headline="test_accuracy",
    course_figure="0.5054 (10 epochs)",
    epochs=EPOCHS,
)
def run(config: Cifar10AnnConfig) -> Result:
    keras = get_keras()
    epochs = epochs_of(config, EPOCHS)
    (x_train, y_train), (x_test, y_test) = load_images(config)
    names = list(datasets.class_names(config.dataset))
    onehot = keras.utils.to_categorical(y_train, num_classes=10).astype(np.float32)  # (n, 10) one-hot, as the course

    set_seed(config.seed)
    model = models.cifar_ann(input_shape=x_train.shape[1:])
    steps = training.batches_per_epoch(len(x_train), config.batch_size, VALIDATION_SPLIT)
    training.compile_model(
        model,
        optimizer=keras.optimizers.SGD(config.learning_rate),
        loss="categorical_crossentropy",
        steps_per_epoch=steps,
    )
    history = training.fit(
        model,
        x_train,
        onehot,
        epochs=epochs,
        batch_size=config.batch_size,
        validation_split=VALIDATION_SPLIT,
        title="the dense network",
        quiet=config.quiet,
        seed=config.seed,
        input_scale=SCALE,
    )
    result = Result(title=f"{config.dataset} with a dense network", summary={}, history=history)
    n_in = int(np.prod(x_train.shape[1:]))
    result.text(
        f"{len(x_train)} training and {len(x_test)} test {describe_images(config, x_train)}, scaled to [0, 1]; "
        f"labels one-hot. Flatten ({n_in}) -> 3000 ReLU -> 1000 ReLU -> 10 softmax "
        f"({training.count_params(model):,} parameters), "
        f"SGD (learning rate {config.learning_rate}), {epochs} epochs, batch {config.batch_size}; 10% of "
        f"the training part held out for the validation curves."
    )
    cls = add_image_classifier(result, "ann", "Dense network", model, x_test, y_test, history, names)
    result.summary["test_accuracy"] = cls["accuracy"]

    result.heading("The importance of the GPU: one epoch on each device")
    if config.time_devices:
        present = devices.available()

        def build():
            set_seed(config.seed)
            return models.cifar_ann(input_shape=x_train.shape[1:])

        seconds = {}
        for dev in present:
            seconds[dev] = devices.time_epoch(
                build,
                x_train,
                onehot,
                device=dev,
                batch_size=config.batch_size,
                seed=config.seed,
                input_scale=SCALE,
                compile_kwargs={
                    "optimizer": keras.optimizers.SGD(config.learning_rate),
                    "loss": "categorical_crossentropy",
                },
            )
        result.summary["cpu_epoch_seconds"] = seconds["cpu:0"]
        gpu = [d for d in present if d.startswith("gpu")]
        if gpu:
            result.summary["gpu_epoch_seconds"] = seconds[gpu[0]]
            result.summary["gpu_speedup"] = seconds["cpu:0"] / seconds[gpu[0]]
            result.text(
                f"One epoch over {len(x_train)} images: CPU {seconds['cpu:0']:.2f} s, {gpu[0]} "
                f"{seconds[gpu[0]]:.2f} s: the GPU is {result.summary['gpu_speedup']:.1f}x faster (the "
                f"course reported about 15x)."
            )
        else:
            result.text(f"no GPU found. One epoch over {len(x_train)} images on the CPU: {seconds['cpu:0']:.2f} s.")
        result.text(
            "Each device trains a fresh copy of the model, with the settings the lesson trains with; the "
            "first epoch (which includes compilation) is a warm-up, the second is timed."
        )
    else:
        result.text("Device timing was switched off (--no-time-devices).")
    return result
