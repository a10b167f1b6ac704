"""Lesson: a convolutional network on CIFAR-10, against the dense network (the course's notebook 10, with the
runnable code of the original course's CNN notebook).

First the idea on a small array: a 3x3 filter slid over an image, then a 2x2 max-pool, with every number shown.
Then Conv32(3x3) -> MaxPool -> Conv64(3x3) -> MaxPool -> Dense64 -> Dense10 softmax (Adam, 10 epochs) against the
dense network of the cifar10-ann lesson (SGD, 5 epochs, as the course ran it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from keraslab import datasets, models, training
from keraslab.backend import keras as get_keras
from keraslab.lessons.cifar10_ann import (
    DATASET_HELP,
    SCALE,
    VALIDATION_SPLIT,
    add_image_classifier,
    describe_images,
    load_images,
)
from keraslab.lessons.lesson import BaseConfig, epochs_of, register
from keraslab.runs.report import Result
from keraslab.scratch.conv import conv2d, max_pool2d
from keraslab.seeding import set_seed

# The course's worked example: a loopy "9"-like pattern of +1 / -1 pixels and a filter that detects its loop.
DEMO_IMAGE = np.array(
    [
        [-1, -1, -1, -1, -1, -1, -1],
        [-1, 1, 1, 1, 1, 1, -1],
        [-1, 1, -1, -1, -1, 1, -1],
        [-1, 1, 1, 1, 1, 1, -1],
        [-1, -1, -1, -1, -1, 1, -1],
        [-1, -1, -1, -1, -1, 1, -1],
        [-1, 1, 1, 1, 1, 1, -1],
    ]
)
DEMO_FILTER = np.array([[1, 1, 1], [1, -1, 1], [1, 1, 1]])  # a loop: a ring of 1s around a -1 hole


@dataclass(frozen=True)
class CnnConfig(BaseConfig):
    dataset: Literal["cifar10", "fashion_mnist", "mnist"] = field(default="cifar10", metadata={"help": DATASET_HELP})
    batch_size: int = 32
    ann_epochs: int = 5
    fast_layers: bool = field(
        default=True,
        metadata={
            "help": "keraslab's PatchConv2D and ReshapeMaxPooling2D on JAX (the same functions as Keras's Conv2D and "
            "MaxPooling2D, about 3x faster to train on a CPU with JAX; other backends always use Keras's own, "
            "faster there); --no-fast-layers uses Keras's own"
        },
    )


def demo_tables():
    fmap = conv2d(DEMO_IMAGE, DEMO_FILTER, scale=9)
    pooled = max_pool2d(fmap, 2)

    def as_frame(a):
        return pd.DataFrame(np.round(a, 2), columns=[f"c{j}" for j in range(a.shape[1])])

    return fmap, pooled, as_frame


EPOCHS = (10, 1)  # (full, --quick): the default when --epochs is not given


@register(
    "cnn",
    "CIFAR-10 (or --dataset fashion_mnist / mnist): a small CNN against the dense network, and a 3x3 convolution "
    "worked by hand",
    CnnConfig,
    headline="cnn_test_accuracy",
    course_figure="0.7028 (O, 10 epochs)",
    epochs=EPOCHS,
)
def run(config: CnnConfig) -> Result:
    keras = get_keras()
    epochs = epochs_of(config, EPOCHS)
    ann_epochs = 1 if config.quick else config.ann_epochs
    result = Result(title=f"A convolutional network on {config.dataset}", summary={})

    fmap, pooled, as_frame = demo_tables()
    result.heading("A 3x3 filter and a 2x2 max-pool, by hand")
    best = np.unravel_index(np.argmax(fmap), fmap.shape)
    tl = DEMO_IMAGE[:3, :3] * DEMO_FILTER
    result.text(
        "The image (7x7, +1 ink / -1 background) and a 3x3 'loop' filter (a ring of 1s around a -1). Each "
        "feature-map value is the sum of a 3x3 window times the filter, divided by 9. The top-left window "
        f"gives ({' + '.join(str(int(v)) for v in tl.ravel())}) / 9 = {tl.sum():.0f}/9 = {tl.sum() / 9:.2f}; "
        f"where the loop is, the window matches the filter and the value peaks at {fmap.max():.2f} (row "
        f"{best[0]}, column {best[1]}); a window that half-matches gives -1/9 = -0.11, the course's example. "
        "Max-pooling then keeps the strongest response of each 2x2 block: the loop is still found, in a "
        "map a quarter the size."
    )
    result.table("demo_image", as_frame(DEMO_IMAGE), "input image")
    result.table("demo_filter", as_frame(DEMO_FILTER), "filter")
    result.table("demo_feature_map", as_frame(fmap), "feature map (valid convolution, stride 1, divided by 9)")
    result.table("demo_max_pool", as_frame(pooled), "after a 2x2 max-pool: the strongest response in each block")
    result.metrics["demo"] = {"feature_map": fmap, "max_pool": pooled}

    (x_train, y_train), (x_test, y_test) = load_images(config)
    names = list(datasets.class_names(config.dataset))
    steps = training.batches_per_epoch(len(x_train), config.batch_size, VALIDATION_SPLIT)

    set_seed(config.seed)
    cnn = models.cifar_cnn(x_train.shape[1:], fast=config.fast_layers)
    training.compile_model(cnn, loss="sparse_categorical_crossentropy", steps_per_epoch=steps)
    cnn_hist = training.fit(
        cnn,
        x_train,
        y_train,
        epochs=epochs,
        batch_size=config.batch_size,
        validation_split=VALIDATION_SPLIT,
        title="the CNN",
        quiet=config.quiet,
        seed=config.seed,
        input_scale=SCALE,
    )
    set_seed(config.seed)
    ann = models.cifar_ann(input_shape=x_train.shape[1:])
    training.compile_model(
        ann, optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy", steps_per_epoch=steps
    )
    ann_hist = training.fit(
        ann,
        x_train,
        y_train,
        epochs=ann_epochs,
        batch_size=config.batch_size,
        validation_split=VALIDATION_SPLIT,
        title="the dense network (for comparison)",
        quiet=config.quiet,
        seed=config.seed,
        input_scale=SCALE,
    )

    result.heading("CNN against the dense network")
    result.text(
        f"{len(x_train)} training and {len(x_test)} test {describe_images(config, x_train)}. CNN: "
        f"{training.count_params(cnn):,} "
        f"parameters, Adam, {epochs} epochs. Dense network: {training.count_params(ann):,} parameters, "
        f"SGD, {ann_epochs} epochs. 10% of the training part held out for the validation curves."
    )
    c = add_image_classifier(result, "cnn", "CNN", cnn, x_test, y_test, cnn_hist, names)
    a = add_image_classifier(result, "ann", "Dense network", ann, x_test, y_test, ann_hist, names)
    result.summary.update(
        {
            "cnn_test_accuracy": c["accuracy"],
            "ann_test_accuracy": a["accuracy"],
            "cnn_minus_ann": c["accuracy"] - a["accuracy"],
        }
    )
    ratio = training.count_params(ann) / training.count_params(cnn)
    fewer = f"The CNN has {ratio:.0f}x fewer parameters than the dense network"
    if config.quick:
        result.text(
            f"{fewer}. It scores {c['accuracy']:.4f} against {a['accuracy']:.4f} here, but a quick run trains too "
            f"little for the two scores to say which model is better: run without --quick."
        )
    else:
        result.text(
            f"{fewer} and scores {c['accuracy']:.4f} against {a['accuracy']:.4f}: its filters are shared across "
            f"the image (parameter sharing) and look at small neighbourhoods (sparse connectivity), which is what "
            f"images need."
        )
    hist = (
        cnn_hist.add_prefix("cnn_")
        .rename(columns={"cnn_epoch": "epoch"})
        .merge(ann_hist.add_prefix("ann_").rename(columns={"ann_epoch": "epoch"}), on="epoch", how="outer")
    )
    result.history = hist
    return result
