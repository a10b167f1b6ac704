# %% [markdown]
# # Lesson 1 of 9: a first neural network on handwritten digits
#
# *Replaces the course's notebook "neural network and its implementatioln" (the tutorial repository,
# RNVALA/Deep-Learning-with-tensorflow-2.0-keras-and-python), a copy of
# "1_digits_recognition/digits_recognition_neural_network.ipynb" in the original course
# (codebasics/deep-learning-keras-tf-tutorial).* Each image is 28 x 28 grey pixels showing one digit, 0 to 9. We
# flatten every image into 784 numbers and train two networks to name the digit: (a) 784 inputs straight to 10
# outputs, and (b) the same with a hidden layer of 100 units in between. Then we look at where each one goes wrong.
#
# What you will see: images as arrays, a Keras `Sequential` model, softmax outputs that are probabilities, the
# learning curves, and each model's own confusion matrix.

# %%
import os
from typing import Literal

os.environ["KERAS_BACKEND"] = os.environ.get("KERAS_BACKEND", "jax")  # or "torch", "tensorflow": before Keras loads

# %% tags=["parameters"]
seed: int = 0  # in [0, 2**32): the initial weights, the shuffling and the quick sample follow from it
quick: bool = False  # a smoke run: 3,000 training and 1,000 test images, 1 epoch
epochs: int | None = None  # in [1, inf): passes over the training images; None: 5 (1 when quick)
dataset: Literal["mnist", "fashion_mnist", "mnist_5k"] = "mnist"  # fashion_mnist: clothes, same shape
batch_size: int = 32  # in [1, inf): images per training step
hidden_units: int = 100  # in [1, inf): the units of model (b)'s hidden layer
validation_split: float = 0.0  # in [0, 1): training images held out for the curves (0: the test part, monitored)
data_dir: str | None = None  # None: $KERASLAB_DATA, else ~/.cache/keraslab

# %%
# %matplotlib inline
import keras
import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix
from sklearn.model_selection import train_test_split

from keraslab import datasets, plots, training
from keraslab.lessons import begin
from keraslab.seeding import set_seed

epochs = (1 if quick else 5) if epochs is None else epochs  # the course trained for 5 epochs
run = begin("mnist", globals())  # checks the values above, seeds Python, NumPy and Keras, says how this run is made
dataset = run.stand_in.dataset if run.stand_in else dataset  # a quick run with no such data here: the digits

# %% [markdown]
# ## The data
#
# `datasets.load_split` reads the verified files (their sha256 is checked): each pixel is a byte, 0 to 255, which
# we divide by 255 so that every input lies in [0, 1] (as float32, the precision the network computes in). MNIST
# has 60,000 training and 10,000 test digits; Fashion-MNIST the same number of clothes (ten kinds) in the same
# format; `mnist_5k` is a 5,000-digit sample with no split of its own, which we split 80/20, stratified and seeded.
# A quick run keeps a stratified sample.

# %%
(x_train, y_train), (x_test, y_test) = datasets.load_split(dataset, seed=seed, data_dir=data_dir)
x_train, x_test = x_train.astype("float32") / 255, x_test.astype("float32") / 255


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
print(
    f"{dataset}: training images {x_train.shape}, test images {x_test.shape}, pixels in [{x_train.min()}, "
    f"{x_train.max()}]"
)
display(pd.Series(y_train).map(dict(enumerate(names))).value_counts().sort_index().rename("training images"))
plots.image_grid(x_train, y_train, None, names, title="the first training images")

# %% [markdown]
# A dense layer takes a vector, so each 28 x 28 image becomes a row of 784 numbers:

# %%
x_train_flat = x_train.reshape(len(x_train), 28 * 28)  # (n, 28, 28) -> (n, 784): the same pixels, no copy
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
# ### The optimizer: Adam
#
# Plain gradient descent (SGD) moves each weight by the same multiple of its gradient $g$: $w \leftarrow w - \eta g$.
# Adam (Kingma and Ba, 2015), which every lesson's `optimizer="adam"` uses, keeps two numbers per weight: $m$, a
# running mean of its gradients (the direction it has been pushed), and $v$, a running mean of their squares (how
# hard). At step $t$, from $m = v = 0$:
#
# $$m \leftarrow \beta_1 m + (1 - \beta_1) g \qquad v \leftarrow \beta_2 v + (1 - \beta_2) g^2 \qquad
# w \leftarrow w - \eta \, \frac{m / (1 - \beta_1^t)}{\sqrt{v / (1 - \beta_2^t)} + \epsilon}$$
#
# (the divisions by $1 - \beta^t$ undo the pull towards the zeros $m$ and $v$ start from). Keras's defaults are
# $\eta = 0.001$, $\beta_1 = 0.9$, $\beta_2 = 0.999$, $\epsilon = 10^{-7}$. So each weight gets its own step
# size: a weight whose gradients are large and steady moves about $\eta$ per step, a rarely pushed one no less. One
# update, written out and set against Keras's Adam and SGD, for two weights with very different gradients:

# %%
w, g = np.array([1.0, 1.0]), np.array([0.5, -20.0])  # two weights and their gradients at step 1
lr, beta_1, beta_2, eps = 0.001, 0.9, 0.999, 1e-7
m, v = (1 - beta_1) * g, (1 - beta_2) * g**2  # from m = v = 0
w_adam = w - lr * (m / (1 - beta_1)) / (np.sqrt(v / (1 - beta_2)) + eps)
w_sgd = w - lr * g
weights = keras.Variable(w.astype("float32"))
keras.optimizers.Adam(learning_rate=lr).apply([keras.ops.convert_to_tensor(g, "float32")], [weights])
print("Adam by hand:", w_adam, " Keras's Adam:", keras.ops.convert_to_numpy(weights), " SGD:", w_sgd)

# %% [markdown]
# `training.fit(model, ...)` is `model.fit(...)`: the same arguments, the same `History` back; on JAX it runs each
# epoch as one compiled call, several times faster on a CPU (write `model.fit` instead, here or in any lesson, and
# the lesson runs the same). Every training image trains, as in the course; the curves show the test images as a
# monitor only: nothing is chosen from them.


# %%
def fit_and_evaluate(model, title):
    monitor = None if validation_split else (x_test_flat, y_test)
    history = training.fit(
        model,
        x_train_flat,
        y_train,
        epochs=epochs,
        batch_size=batch_size,
        validation_split=validation_split,
        validation_data=monitor,
    )
    # all the test images in one batch: nothing is learned from them, so one pass does it
    everything = len(x_test_flat)
    proba = model.predict(x_test_flat, batch_size=everything, verbose=0)  # (n, 10): one probability per class
    y_pred = proba.argmax(axis=1)
    test_loss = model.evaluate(x_test_flat, y_test, batch_size=everything, verbose=0)[0]
    print(
        f"{title}: {model.count_params():,} parameters; test accuracy {accuracy_score(y_test, y_pred):.4f}, "
        f"test loss {test_loss:.4f}"
    )
    where = "validation" if validation_split else "test part (monitored only)"
    display(plots.learning_curves(history, title=title, validation=where))
    return history, proba, y_pred, float(test_loss)


history_a, proba_a, y_pred_a, loss_a = fit_and_evaluate(model_a, "(a) 784 -> 10")
print(
    f"epoch 1: training accuracy {history_a.history['accuracy'][0]:.4f}, test accuracy "
    f"{history_a.history['val_accuracy'][0] if 'val_accuracy' in history_a.history else float('nan'):.4f}"
)
print(f"row 0 of the probabilities sums to {proba_a[0].sum():.6f} and predicts {names[y_pred_a[0]]!r}")

# %% [markdown]
# Why can the training accuracy of epoch 1 sit *below* the test accuracy? The training figure is the mean over the
# epoch's batches, each scored as it was trained on, so it averages the network at every stage of that epoch, from
# its random start on; the test figure is measured once, after the last batch, with the weights the epoch ended
# with. From epoch 2 on both are measured on a network that has mostly settled, and the training accuracy moves
# above.
#
# ## Model (b): a hidden layer of 100 ReLU units
#
# Between the pixels and the outputs, `hidden_units` units each compute $\max(0, w \cdot x + b)$. The network can
# now combine pixels into strokes before it decides. Same seed, same loss, same optimizer.

# %%
set_seed(seed)
model_b = keras.Sequential(
    [
        keras.Input((784,)),
        keras.layers.Dense(hidden_units, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ],
    name="hidden",
)
model_b.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history_b, proba_b, y_pred_b, loss_b = fit_and_evaluate(model_b, f"(b) 784 -> {hidden_units} -> 10")

# %% [markdown]
# ## Where each model goes wrong
#
# Each model gets its own confusion matrix (rows: the true class, columns: the prediction), from its own
# predictions, and its own report.

# %%
for title, y_pred in (("(a)", y_pred_a), ("(b)", y_pred_b)):
    print(title, classification_report(y_test, y_pred, target_names=[str(n) for n in names], digits=4), sep="\n")
    display(plots.confusion_matrix(confusion_matrix(y_test, y_pred), names, title=f"{title}: confusion matrix"))
wrong = np.flatnonzero(y_pred_b != y_test)  # the test images model (b) gets wrong
plots.image_grid(
    x_test[wrong],
    y_test[wrong],
    y_pred_b[wrong],
    names,
    title=f"(b): the first {min(16, len(wrong))} of its {len(wrong)} mistakes: predicted (true)",
)

# %% [markdown]
# ## What the course got wrong, and what is fixed here
#
# * **Sigmoid outputs** (both versions): `keras.layers.Dense(10, activation='sigmoid')` gives ten independent
#   yes/no scores that do not sum to 1. Softmax makes them one probability distribution over the ten classes.
# * **A stale confusion matrix** (the tutorial's notebook only): it draws model (b)'s matrix with the same
#   `tf.math.confusion_matrix(labels=y_test, predictions=y_predicted_labels)` as model (a)'s, without predicting
#   again, so the two printed matrices are identical (their diagonal sums to 9242: model (a)'s 0.9242). The
#   original predicts again before its second matrix. Here each model has its own.
# * **Unseeded runs** (both versions): here every random choice follows from `seed`.
#
# The tutorial printed test accuracies 0.9242 (a) and 0.9743 (b); the original 0.9257 and 0.9716, and 0.9779 for a
# third model (the same as (b) with `Flatten` and 10 epochs).

# %%
course = (
    "the course (the tutorial's notebook, MNIST, one unseeded run)"
    if dataset == "mnist"
    else f"the course (MNIST{', 60,000 digits' if dataset == 'mnist_5k' else ': another data set'})"
)
run.finish(
    {
        "linear_test_accuracy": accuracy_score(y_test, y_pred_a),
        "linear_test_loss": loss_a,
        "hidden_test_accuracy": accuracy_score(y_test, y_pred_b),
        "hidden_test_loss": loss_b,
    },
    course={
        "linear_test_accuracy": 0.9242,
        "linear_test_loss": 0.2713,
        "hidden_test_accuracy": 0.9743,
        "hidden_test_loss": 0.0877,
    },
    course_label=course,
    models={"linear": model_a, "hidden": model_b},
    histories={"linear": history_a, "hidden": history_b},
)

# %% [markdown]
# ## Exercises
#
# Fill in each code cell and run it: `check(...)` says at once whether the answer is right, and if not, the first
# input where it differs, what was expected (from NumPy, scikit-learn or Keras), what your code returned, and a
# hint. A cell you have not touched says "not attempted yet". `keraslab notebook mnist --solutions` writes this
# notebook with the reference solutions filled in.
#
# The checks are for learning, not grading: each draws fresh inputs every time it runs, works out its own answer
# only after yours has returned, and trains a fresh copy of a model you build. They make the honest answer the
# easy one; they cannot make cheating impossible, and nobody is keeping score.

# %%
import numpy as np

from keraslab.exercises import check

# %% [markdown]
# ### Exercise 1 (write it): scale and flatten
#
# The data cells above did this in two steps (`/ 255`, then `reshape`). Write it as one function:
# `scale_flatten(images)` takes a batch of raw images, an array of shape (n, 28, 28) holding integers 0 to 255, and
# returns the rows a dense layer takes: shape (n, 784), values in [0, 1].


# %%
def scale_flatten(images):
    ### BEGIN SOLUTION
    return images.reshape(len(images), 28 * 28) / 255.0
    ### END SOLUTION


check("mnist.scale_flatten", scale_flatten)

# %% [markdown]
# ### Exercise 2 (build it): the course's own exercise network
#
# The original course's exercise (`1_keras_fashion_mnist_neural_net/Exercise/1_keras_sequential_exercise.ipynb`):
# a `Flatten` layer that takes the 28 x 28 images as they are, one hidden `Dense` layer of 20 units with `relu`, and
# a softmax output for the 10 digits, and no other layer; compile it with the `adam` optimizer and the loss for
# integer labels. (An `Activation("relu")` layer after `Dense(20)` counts as its activation; a `Rescaling(1 / 255)`
# layer in front is fine too: the check then gives it raw 0-255 pixels.) The check trains a fresh copy of it for
# one epoch on 10,000 MNIST digits and asks for a test accuracy of 0.85 or more.

# %%
exercise_model = None  # your keras.Sequential([...]), compiled
### BEGIN SOLUTION
exercise_model = keras.Sequential(
    [
        keras.Input(shape=(28, 28)),
        keras.layers.Flatten(),
        keras.layers.Dense(20, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ]
)
exercise_model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
### END SOLUTION

check("mnist.sequential", exercise_model, data_dir=data_dir)

# %% [markdown]
# ### Exercise 3 (write it): a confusion matrix by hand
#
# `confusion(y_true, y_pred)` returns the 10 x 10 table of counts: row $t$, column $p$ counts the digits of true
# class $t$ predicted as $p$. The check compares it with scikit-learn's `confusion_matrix`, on labels where some
# digits never occur.


# %%
def confusion(y_true, y_pred):
    ### BEGIN SOLUTION
    table = np.zeros((10, 10), dtype=int)
    for t, p in zip(y_true, y_pred, strict=True):
        table[t, p] += 1
    return table
    ### END SOLUTION


check("mnist.confusion_matrix", confusion)

# %% [markdown]
# ### Exercise 4 (predict, then run): how many numbers does model (b) learn?
#
# Count the weights and biases of model (b), 784 inputs, `hidden_units` hidden units, 10 outputs, before you ask
# Keras. Write your number as `prediction`, then run the cell.

# %%
prediction = None  # your number
### BEGIN SOLUTION
prediction = 784 * hidden_units + hidden_units + hidden_units * 10 + 10
### END SOLUTION

check("mnist.param_count", prediction, measured=model_b.count_params())
