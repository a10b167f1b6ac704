# %% [markdown]
# # Lesson 5 of 9: CIFAR-10 with a dense network, and why a GPU matters
#
# *The course's notebook 6.* CIFAR-10 holds 60,000 small colour photos (32 x 32 pixels, 3 channels) of ten kinds
# of things: airplanes, cars, birds, cats... We flatten each photo into 3,072 numbers and train a large dense
# network on them, then time one epoch of it on every device this machine has.
#
# What you will see: colour images as arrays, one-hot labels with categorical cross-entropy, a network of 12
# million parameters, what it gets right and wrong, and the CPU against the GPU (when there is one).

# %%
import os
from typing import Literal

os.environ["KERAS_BACKEND"] = os.environ.get("KERAS_BACKEND", "jax")  # or "torch", "tensorflow": before Keras loads

# %% tags=["parameters"]
seed: int = 0  # the initial weights and the shuffling follow from it
quick: bool = False  # True: the first 500 training and 200 test images, 1 epoch
epochs: int | None = None  # None: 5 (1 when quick)
dataset: Literal["cifar10", "fashion_mnist", "mnist"] = "cifar10"  # the last two: 28x28 grey images
data_home: str | None = None  # None: $KERASLAB_DATA, else ~/.cache/keraslab
learning_rate: float = 0.01  # Keras's SGD default, as the course used
time_devices: bool = True  # time one epoch on every device present

# %%
# %matplotlib inline
import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix

from keraslab import datasets, training
from keraslab.runs import plots
from keraslab.seeding import set_seed
from keraslab.training import devices

EPOCHS = epochs or (1 if quick else 5)
print(f"Keras {keras.__version__} on {keras.backend.backend()}; seed {seed}; {EPOCHS} epoch(s)")

# %% [markdown]
# ## The data
#
# The images stay as bytes (uint8, 0-255): 150 MB for the training set instead of 600 MB as float32. The network
# sees each pixel divided by 255; `training.fit(..., input_scale=1/255)` does that batch by batch.

# %%
(x_train, y_train), (x_test, y_test) = datasets.load(dataset, data_dir=data_home, scale=False)
if quick:
    (x_train, y_train), (x_test, y_test) = (x_train[:500], y_train[:500]), (x_test[:200], y_test[:200])
if x_train.ndim == 3:  # grey images get a channel axis: (n, 28, 28) -> (n, 28, 28, 1)
    x_train, x_test = x_train[..., None], x_test[..., None]
names = list(datasets.class_names(dataset))
grey = x_train.shape[-1] == 1
print(f"training images {x_train.shape} {x_train.dtype}, test images {x_test.shape}")

fig, axes = plt.subplots(2, 8, figsize=(10, 3))
for ax, image, label in zip(axes.flat, x_train, y_train, strict=False):
    ax.imshow(image.squeeze(-1) if grey else image, cmap="gray_r" if grey else None)
    ax.set_title(names[label], fontsize=9)
    ax.axis("off")
plt.show()

# %% [markdown]
# The course gives the labels as one-hot vectors (class 3, "cat", becomes `[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]`), which
# is what the (non-sparse) categorical cross-entropy expects: $-\sum_k y_k \ln p_k$.

# %%
y_train_onehot = keras.utils.to_categorical(y_train, num_classes=10).astype("float32")
print(y_train[:3], "->\n", y_train_onehot[:3])

# %% [markdown]
# ## The network
#
# Flatten the 32 x 32 x 3 image into 3,072 inputs (28 x 28 x 1 = 784 for fashion_mnist and mnist), then 3,000
# and 1,000 ReLU units, and 10 softmax outputs. Plain stochastic gradient descent, as the course.

# %%
set_seed(seed)
model = keras.Sequential(
    [
        keras.Input(x_train.shape[1:]),
        keras.layers.Flatten(),
        keras.layers.Dense(3000, activation="relu"),
        keras.layers.Dense(1000, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ],
    name="cifar_ann",
)
model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="categorical_crossentropy", metrics=["accuracy"])
model.summary()

# %% [markdown]
# `training.fit` is `model.fit` with keraslab's compiled epoch on JAX (one XLA call per epoch instead of one per
# batch; same model, loss and optimizer) and a shuffle drawn from the seed; on other backends it is `model.fit`.
# 10% of the training images are held out for the validation curves.

# %%
history = training.fit(
    model,
    x_train,
    y_train_onehot,
    epochs=EPOCHS,
    batch_size=32,
    validation_split=0.1,
    seed=seed,
    quiet=True,
    input_scale=1 / 255,
)
display(history)
plots.learning_curves(history, title="dense network")

# %% [markdown]
# ## Evaluation

# %%
proba = model.predict(x_test.astype("float32") * np.float32(1 / 255), batch_size=512, verbose=0)
y_pred = proba.argmax(axis=1)
accuracy = float(accuracy_score(y_test, y_pred))
print(f"test accuracy {accuracy:.4f} (a guess would score 0.10)")
print(classification_report(y_test, y_pred, labels=range(10), target_names=names, digits=4, zero_division=0))
display(plots.confusion_matrix(confusion_matrix(y_test, y_pred, labels=range(10)), names, title="dense network"))
plots.image_grid(
    x_test[:16, ..., 0] if grey else x_test[:16],
    y_test[:16],
    y_pred[:16],
    names,
    title="predicted (true); wrong ones in red",
)

# %% [markdown]
# ## Why a GPU matters
#
# Training is mostly large matrix products (a batch of 32 x 3,072 times 3,072 x 3,000, and so on), which a GPU
# runs thousands at a time. Each device present trains a fresh copy of the model: one warm-up epoch (it includes
# compilation), then one timed epoch.

# %%
seconds = {}
if time_devices:

    def fresh_model():
        set_seed(seed)
        return keras.Sequential(
            [
                keras.Input(x_train.shape[1:]),
                keras.layers.Flatten(),
                keras.layers.Dense(3000, activation="relu"),
                keras.layers.Dense(1000, activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )

    for device in devices.available():
        seconds[device] = devices.time_epoch(
            fresh_model,
            x_train,
            y_train_onehot,
            device=device,
            batch_size=32,
            seed=seed,
            input_scale=1 / 255,
            compile_kwargs={"optimizer": keras.optimizers.SGD(learning_rate), "loss": "categorical_crossentropy"},
        )
    display(pd.Series(seconds, name=f"seconds for one epoch of {len(x_train)} images").to_frame())
    gpus = [d for d in seconds if d.startswith("gpu")]
    if gpus:
        print(f"the GPU is {seconds['cpu:0'] / seconds[gpus[0]]:.1f}x faster (the course reported about 15x)")
    else:
        print("no GPU in this process: only the CPU was timed")

# %% [markdown]
# ## What the course got wrong, and what is fixed here
#
# * Its output layer was `sigmoid`: ten independent scores. Softmax makes them one distribution over the classes.
# * It timed the CPU for 1 epoch and the GPU for 10, from progress bars, and never checked that a GPU was there.
#   Here each device trains the same model for one timed epoch after a warm-up, and the GPU row appears only when
#   there is a GPU.
#
# `keraslab run cifar10-ann --seed 0` reaches the same figures from the command line (a test checks it).

# %%
summary = {"test_accuracy": accuracy}
summary.update({f"{d.split(':')[0]}_epoch_seconds": s for d, s in seconds.items() if d.endswith(":0")})
data_kind = "substitute" if datasets.is_substitute(dataset) else "real"  # small copies in the real formats, or not
how_made = f"this run ({'quick' if quick else 'full'}, seed {seed}, {data_kind} {dataset} data)"
pd.DataFrame({how_made: summary, "the course (10 epochs)": {"test_accuracy": 0.5054}}).round(4)
