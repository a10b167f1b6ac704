# %% [markdown]
# # Lesson 5 of 9: small images with a dense network, and why a GPU matters
#
# *Replaces the course's notebook "6_image_c;assification_and_understand_the_importance_of_gpu" (the tutorial
# repository, RNVALA/Deep-Learning-with-tensorflow-2.0-keras-and-python), a copy of
# "10_gpu_benchmarking/gpu_performance_test_small_image_classification.ipynb" in the original course
# (codebasics/deep-learning-keras-tf-tutorial).* The course trains on CIFAR-10, small colour photos of ten kinds of
# things (airplanes, cars, birds, cats...); `dataset` can also be Fashion-MNIST or MNIST, 28 x 28 grey images. We
# flatten each image into a row of numbers and train a large dense network on them, then time one epoch of it on
# every device this machine has.
#
# What you will see: images as arrays, one-hot labels with categorical cross-entropy, a network of millions of
# parameters, what it gets right and wrong, and the CPU against the GPU (when there is one).

# %%
import os
from typing import Literal

os.environ["KERAS_BACKEND"] = os.environ.get("KERAS_BACKEND", "jax")  # or "torch", "tensorflow": before Keras loads

# %% tags=["parameters"]
seed: int = 0  # in [0, 2**32): the initial weights and the shuffling follow from it
quick: bool = False  # a smoke run: the first 500 training and 200 test images, 1 epoch
epochs: int | None = None  # in [1, inf): passes over the training images; None: 5 (1 when quick)
dataset: Literal["cifar10", "fashion_mnist", "mnist", "mnist_5k"] = "cifar10"  # the others: 28x28 grey images
batch_size: int = 32  # in [1, inf): images per training step
learning_rate: float = 0.01  # in (0, inf): plain SGD's step size (Keras's default, which the course used)
time_devices: bool = True  # time one epoch on every device present
data_dir: str | None = None  # None: $KERASLAB_DATA, else ~/.cache/keraslab

# %%
# %matplotlib inline
import keras
import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix

from keraslab import datasets, plots, training
from keraslab.lessons import begin
from keraslab.seeding import set_seed
from keraslab.training import devices

epochs = (1 if quick else 5) if epochs is None else epochs  # the course trained 10 epochs (about 30 min on a CPU)
run = begin("cifar10-ann", globals())  # checks the values above, seeds Python, NumPy and Keras, says how it is made
dataset = run.stand_in.dataset if run.stand_in else dataset  # a quick run with no such data here: the digits

# %% [markdown]
# ## The data
#
# The files hold each pixel as a byte, 0 to 255. The network gets it divided by 255, so that every input lies in
# [0, 1], as float32, the precision the network computes in (CIFAR-10's training images: 600 MB, where the course's
# `X_train / 255` makes 1.2 GB of float64). The original bytes are kept for the pictures.

# %%
ABOUT = {
    "cifar10": "CIFAR-10: 50,000 training and 10,000 test colour photos of 32 x 32 pixels, ten kinds of things",
    "fashion_mnist": "Fashion-MNIST: 60,000 training and 10,000 test grey photos of 28 x 28 pixels, ten kinds of "
    "clothes",
    "mnist": "MNIST: 60,000 training and 10,000 test grey images of 28 x 28 pixels, handwritten digits",
    "mnist_5k": "mnist_5k: 5,000 real MNIST digits (28 x 28 grey) that ship with keraslab, split 4,000 / 1,000",
}
(x_train, y_train), (x_test, y_test) = datasets.load_split(dataset, seed=seed, data_dir=data_dir)
if quick:
    (x_train, y_train), (x_test, y_test) = (x_train[:500], y_train[:500]), (x_test[:200], y_test[:200])
if x_train.ndim == 3:  # grey images get a channel axis: (n, 28, 28) -> (n, 28, 28, 1)
    x_train, x_test = x_train[..., None], x_test[..., None]
names = list(datasets.class_names(dataset))
print(ABOUT[dataset])
print(f"this run: training images {x_train.shape} {x_train.dtype}, test images {x_test.shape}")
plots.image_grid(x_train, y_train, None, names, title=f"the first {dataset} training images")
x_train_scaled, x_test_scaled = x_train.astype("float32") / 255, x_test.astype("float32") / 255
print(f"pixels now in [{x_train_scaled.min()}, {x_train_scaled.max()}], {x_train_scaled.dtype}")

# %% [markdown]
# The course gives the labels as one-hot vectors (class 3 becomes `[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]`), which is what
# the (non-sparse) categorical cross-entropy expects: $-\sum_k y_k \ln p_k$.

# %%
y_train_onehot = keras.utils.to_categorical(y_train, num_classes=10).astype("float32")
print(y_train[:3], "->\n", y_train_onehot[:3])

# %% [markdown]
# ## The network
#
# Flatten the image into one row (32 x 32 x 3 = 3,072 numbers for CIFAR-10, 28 x 28 x 1 = 784 for the grey
# images), then 3,000 and 1,000 ReLU units, and 10 softmax outputs. Plain stochastic gradient descent, as the
# course.

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
# 10% of the training images are held out for the validation curves.

# %%
history = training.fit(
    model, x_train_scaled, y_train_onehot, epochs=epochs, batch_size=batch_size, validation_split=0.1
)
display(pd.DataFrame(history.history, index=np.array(history.epoch) + 1).rename_axis("epoch"))
plots.learning_curves(history, title="dense network")

# %% [markdown]
# ## Evaluation

# %%
proba = model.predict(x_test_scaled, batch_size=512, verbose=0)
y_pred = proba.argmax(axis=1)
accuracy = float(accuracy_score(y_test, y_pred))
print(f"test accuracy {accuracy:.4f} (a guess would score 0.10)")
print(classification_report(y_test, y_pred, labels=range(10), target_names=names, digits=4, zero_division=0))
display(plots.confusion_matrix(confusion_matrix(y_test, y_pred, labels=range(10)), names, title="dense network"))
wrong = np.flatnonzero(y_pred != y_test)  # the test images the network gets wrong
plots.image_grid(
    x_test[wrong],
    y_test[wrong],
    y_pred[wrong],
    names,
    title=f"the first {min(16, len(wrong))} of its {len(wrong)} mistakes: predicted (true)",
)

# %% [markdown]
# ## Why a GPU matters
#
# Training is mostly large matrix products (a batch of 32 x 3,072 times 3,072 x 3,000, and so on), which a GPU
# runs thousands at a time. Each device present trains a fresh copy of the model, with the settings above: one
# warm-up epoch (it includes compilation), then one timed epoch.

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
            x_train_scaled,
            y_train_onehot,
            device=device,
            batch_size=batch_size,
            seed=seed,
            compile_kwargs={"optimizer": keras.optimizers.SGD(learning_rate), "loss": "categorical_crossentropy"},
        )
    display(pd.Series(seconds, name=f"seconds for one epoch of {len(x_train)} images").to_frame())
    for other in [d for d in seconds if d != "cpu:0"]:  # a GPU (or a second device): its speed against the CPU's
        print(f"{other} is {seconds['cpu:0'] / seconds[other]:.1f}x faster than cpu:0 here")
    if any(d.startswith("gpu") for d in seconds):
        print("(the original course measured its GPU about 15x faster: 44.5 s against 3.6 s)")
    else:
        print(f"no GPU found: one epoch over {len(x_train)} images on the CPU took {seconds['cpu:0']:.2f} s")
else:
    print("device timing is off (time_devices=False)")

# %% [markdown]
# ## What the course got wrong, and what is fixed here
#
# * **Sigmoid outputs** (both versions): `keras.layers.Dense(10, activation='sigmoid')` under a categorical loss
#   gives ten independent scores. Softmax makes them one distribution over the classes.
# * **A timing from progress bars** (the tutorial's notebook): it trains 10 epochs on the default device (the
#   GPU, about 7 s an epoch by the progress bar) and 1 epoch under `tf.device('/CPU:0')` (126 s), the first epoch
#   including graph tracing, with no timer. The original times each device with `%%timeit` for 1 and for 10
#   epochs (CPU 44.5 s and 7 min 26 s, GPU 3.6 s and 29.5 s). Here each device trains the same model for one
#   timed epoch after a warm-up.
# * **No check for a GPU** (both versions): they list the devices and print `tf.test.is_built_with_cuda()`, which
#   says how TensorFlow was built, not that a GPU is there. Here a GPU row appears only when a GPU is present.
# * **One unseeded run** (both versions).

# %%
summary = {"test_accuracy": accuracy}
if "cpu:0" in seconds:
    summary["cpu_epoch_seconds"] = seconds["cpu:0"]
gpus = [d for d in seconds if d.startswith("gpu")]
if gpus:
    summary |= {"gpu_epoch_seconds": seconds[gpus[0]], "gpu_speedup": seconds["cpu:0"] / seconds[gpus[0]]}
run.finish(
    summary,
    course={"test_accuracy": 0.5054},
    course_label="the course (the tutorial's notebook, CIFAR-10, 10 epochs)"
    if dataset == "cifar10"
    else "the course (CIFAR-10: another data set)",
    models={"cifar_ann": model},
    history=history,
)

# %% [markdown]
# ## Exercises
#
# Fill in each code cell and run it: `check(...)` says at once whether the answer is right, and if not, the first
# input where it differs, what was expected (from Keras or scikit-learn), what your code returned, and a hint. A
# cell you have not touched says "not attempted yet". `keraslab notebook cifar10-ann --solutions` writes this
# notebook with the reference solutions filled in.
#
# The checks are for learning, not grading: each draws fresh inputs every time it runs and works out its own
# answer only after yours has returned. They make the honest answer the easy one; they cannot make cheating
# impossible, and nobody is keeping score.

# %%
import numpy as np

from keraslab.exercises import check

# %% [markdown]
# ### Exercise 1 (write it): one-hot labels
#
# The lesson used `keras.utils.to_categorical`. Write `one_hot(labels)`: for integer labels 0-9, one row of ten
# numbers per label, 1 at the label's place and 0 elsewhere. CIFAR-10's labels come as a column of shape (n, 1):
# the check includes those.


# %%
def one_hot(labels):
    ### BEGIN SOLUTION
    return np.eye(10)[np.ravel(labels)]
    ### END SOLUTION


check("cifar10_ann.one_hot", one_hot)

# %% [markdown]
# ### Exercise 2 (write it): accuracy from the softmax outputs
#
# `accuracy(y_true, proba)` takes the true labels and the network's output, one row of ten probabilities per image,
# and returns the share of images whose most probable class is the true one.


# %%
def accuracy(y_true, proba):
    ### BEGIN SOLUTION
    return float(np.mean(np.asarray(proba).argmax(axis=1) == np.ravel(y_true)))
    ### END SOLUTION


check("cifar10_ann.accuracy", accuracy)

# %% [markdown]
# ### Exercise 3 (predict, then run): a narrower first layer
#
# `model.summary()` above counted the network's parameters. **How many would it have with 1000 units instead of
# 3000 in its first hidden layer** (the rest unchanged)? Work it out, write it as `prediction`, then run the cell.

# %%
prediction = None  # your number
### BEGIN SOLUTION
inputs = int(np.prod(x_train.shape[1:]))
prediction = inputs * 1000 + 1000 + 1000 * 1000 + 1000 + 1000 * 10 + 10
### END SOLUTION

narrower = keras.Sequential(
    [
        keras.Input(x_train.shape[1:]),
        keras.layers.Flatten(),
        keras.layers.Dense(1000, activation="relu"),
        keras.layers.Dense(1000, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ]
)
check("cifar10_ann.param_count", prediction, measured=narrower.count_params())

# %% [markdown]
# ### Exercise 4 (build it): the course's GPU benchmark on Fashion-MNIST, not checked
#
# The original course's exercise (`10_gpu_benchmarking/Exercise/exercise_fashion_mnist_gpu_benchmarking.ipynb`):
# classify Fashion-MNIST with one hidden layer, then with five, and time 5 epochs of each on the CPU and (where you
# have one) on the GPU. Run this lesson with `dataset = "fashion_mnist"` in its parameters cell for the data, build
# the two networks below, and time them with `time.perf_counter()` around `model.fit`, inside
# `with keras.device("cpu:0"):` and `with keras.device("gpu:0"):`. Which gains more from the GPU, and why? There is no
# single right figure (it depends on your machine), so nothing checks this one.

# %%
# your networks and timings here
