# %% [markdown]
# # Lesson 1 of 9: a first neural network on handwritten digits
#
# *The course's notebook 1.* Each image is 28 x 28 grey pixels showing one digit, 0 to 9. We flatten every image
# into 784 numbers and train two networks to name the digit: (a) 784 inputs straight to 10 outputs, and (b) the
# same with a hidden layer of 100 units in between. Then we look at where each one goes wrong.
#
# What you will see: images as arrays, a Keras `Sequential` model, softmax outputs that are probabilities, the
# learning curves, and each model's own confusion matrix.

# %%
import os
from typing import Literal

os.environ["KERAS_BACKEND"] = os.environ.get("KERAS_BACKEND", "jax")  # or "torch", "tensorflow": before Keras loads

# %% tags=["parameters"]
seed: int = 0  # the initial weights, the shuffling and the quick sample follow from it
quick: bool = False  # True: 3,000 training and 1,000 test images, 1 epoch
epochs: int | None = None  # None: 5 (1 when quick)
dataset: Literal["mnist", "fashion_mnist", "mnist_5k"] = "mnist"  # fashion_mnist: clothes, the same shape
data_home: str | None = None  # None: $KERASLAB_DATA, else ~/.cache/keraslab

# %%
# %matplotlib inline
import keras
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix
from sklearn.model_selection import train_test_split

from keraslab import datasets, training
from keraslab.runs import plots
from keraslab.seeding import set_seed

EPOCHS = epochs or (1 if quick else 5)
print(f"Keras {keras.__version__} on {keras.backend.backend()}; {dataset}; seed {seed}; {EPOCHS} epoch(s)")

# %% [markdown]
# ## The data
#
# `datasets.load` reads the verified files (their sha256 is checked) and, with `scale=True`, divides the pixels
# by 255 so that they lie in [0, 1]. `mnist_5k` is a 5,000-digit sample with no split of its own: we split it
# 80/20, stratified and seeded.

# %%
if dataset == "mnist_5k":
    x, y = datasets.load(dataset, data_dir=data_home, scale=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, stratify=y, random_state=seed)
else:
    (x_train, y_train), (x_test, y_test) = datasets.load(dataset, data_dir=data_home, scale=True)


def sample(x, y, n):
    """A stratified, seeded sample of n images (all of them when there are n or fewer)."""
    if len(y) <= n:
        return x, y
    x_small, _, y_small, _ = train_test_split(x, y, train_size=n, stratify=y, random_state=seed)
    return x_small, y_small


if quick:
    x_train, y_train = sample(x_train, y_train, 3000)
    x_test, y_test = sample(x_test, y_test, 1000)
names = datasets.class_names(dataset)
print(f"training images {x_train.shape}, test images {x_test.shape}, pixels in [{x_train.min()}, {x_train.max()}]")
display(pd.Series(y_train).map(dict(enumerate(names))).value_counts().sort_index().rename("training images"))

fig, axes = plt.subplots(2, 8, figsize=(10, 3))
for ax, image, label in zip(axes.flat, x_train, y_train, strict=False):
    ax.imshow(image, cmap="gray_r")
    ax.set_title(names[label], fontsize=9)
    ax.axis("off")
plt.show()

# %% [markdown]
# A dense layer takes a vector, so each 28 x 28 image becomes a row of 784 numbers:

# %%
x_train_flat = x_train.reshape(len(x_train), 28 * 28)
x_test_flat = x_test.reshape(len(x_test), 28 * 28)
print(x_train.shape, "->", x_train_flat.shape)

# %% [markdown]
# ## Model (a): 784 inputs, 10 outputs
#
# One dense layer: each output $k$ is $z_k = \sum_i w_{ik} x_i + b_k$, and softmax turns the ten scores into
# probabilities that sum to 1:
#
# $$p_k = \frac{e^{z_k}}{\sum_j e^{z_j}}$$
#
# The labels are digits 0-9 (not one-hot), so the loss is *sparse* categorical cross-entropy, $-\ln p_{y}$.
# `set_seed(seed)` seeds Python, NumPy and Keras: the initial weights are the same every run.

# %%
set_seed(seed)
model_a = keras.Sequential(
    [
        keras.Input((784,)),
        keras.layers.Dense(10, activation="softmax"),
    ],
    name="linear",
)
model_a.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model_a.summary()

# %% [markdown]
# `training.fit` is `model.fit` with keraslab's compiled epoch on JAX (one XLA call per epoch instead of one per
# batch; same model, loss and optimizer) and a shuffle drawn from the seed; on other backends it is `model.fit`
# itself. `model.fit(x_train_flat, y_train, epochs=EPOCHS)` trains the plain Keras way (the numbers move a little:
# the shuffling differs). Every training image trains, as in the course; the "validation" curves show the test images
# as a monitor only: nothing is chosen from them.


# %%
def fit_and_evaluate(model, title):
    history = training.fit(
        model,
        x_train_flat,
        y_train,
        epochs=EPOCHS,
        batch_size=32,
        validation_data=(x_test_flat, y_test),
        seed=seed,
        quiet=True,
    )
    proba = model.predict(x_test_flat, batch_size=1024, verbose=0)  # (n, 10): one probability per class
    y_pred = proba.argmax(axis=1)
    test_loss = model.evaluate(x_test_flat, y_test, verbose=0)[0]
    print(f"{title}: test accuracy {accuracy_score(y_test, y_pred):.4f}, test loss {test_loss:.4f}")
    display(plots.learning_curves(history, title=title))
    return history, proba, y_pred, test_loss


history_a, proba_a, y_pred_a, loss_a = fit_and_evaluate(model_a, "(a) 784 -> 10")
print(f"row 0 of the probabilities sums to {proba_a[0].sum():.6f} and predicts {names[y_pred_a[0]]!r}")

# %% [markdown]
# ## Model (b): a hidden layer of 100 ReLU units
#
# Between the pixels and the outputs, 100 units each compute $\max(0, w \cdot x + b)$. The network can now combine
# pixels into strokes before it decides. Same seed, same loss, same optimizer.

# %%
set_seed(seed)
model_b = keras.Sequential(
    [
        keras.Input((784,)),
        keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ],
    name="hidden",
)
model_b.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history_b, proba_b, y_pred_b, loss_b = fit_and_evaluate(model_b, "(b) 784 -> 100 -> 10")

# %% [markdown]
# ## Where each model goes wrong
#
# Each model gets its own confusion matrix (rows: the true digit, columns: the prediction), from its own
# predictions.

# %%
for title, y_pred in (("(a) 784 -> 10", y_pred_a), ("(b) 784 -> 100 -> 10", y_pred_b)):
    display(plots.confusion_matrix(confusion_matrix(y_test, y_pred), names, title=title))
print(classification_report(y_test, y_pred_b, target_names=[str(n) for n in names], digits=4))
display(
    plots.image_grid(x_test[:16], y_test[:16], y_pred_b[:16], names, title="(b): predicted (true); wrong ones in red")
)

# %% [markdown]
# ## What the course got wrong, and what is fixed here
#
# * Both of its models ended in `sigmoid`: ten independent yes/no scores that do not sum to 1. Softmax makes them
#   one probability distribution over the ten digits.
# * It drew model (b)'s confusion matrix from model (a)'s stale predictions. Here each model has its own.
# * Its runs were unseeded: here every random choice follows from `seed`.
#
# `keraslab run mnist --seed 0` runs this lesson from the command line and reaches the same figures (a test checks
# it).

# %%
summary = {
    "linear_test_accuracy": float(accuracy_score(y_test, y_pred_a)),
    "linear_test_loss": float(loss_a),
    "hidden_test_accuracy": float(accuracy_score(y_test, y_pred_b)),
    "hidden_test_loss": float(loss_b),
}
course = {
    "linear_test_accuracy": 0.9242,
    "linear_test_loss": 0.2713,
    "hidden_test_accuracy": 0.9743,
    "hidden_test_loss": 0.0877,
}
data_kind = "substitute" if datasets.is_substitute(dataset) else "real"  # small copies in the real formats, or not
how_made = f"this run ({'quick' if quick else 'full'}, seed {seed}, {data_kind} {dataset} data)"
pd.DataFrame({how_made: summary, "the course (MNIST, 5 epochs)": course}).round(4)
