# %% [markdown]
# # Lesson 9 of 9: a convolutional network for small images
#
# *Replaces the course's notebook "10_convolutional neural network" (the tutorial repository,
# RNVALA/Deep-Learning-with-tensorflow-2.0-keras-and-python: its idea, in markdown; its one code cell is empty) and
# the runnable code the tutorial copies into its notebook 11 from
# "16_cnn_cifar10_small_image_classification/cnn_cifar10_dataset.ipynb" of the original course
# (codebasics/deep-learning-keras-tf-tutorial).* The dense network of lesson 5 treats an image as a row of
# unrelated numbers: it cannot know that neighbouring pixels belong together, nor that a cat's ear is an ear
# wherever it sits. A convolution slides one small filter over the whole image; pooling keeps the strongest
# responses. We work one by hand, then train a small CNN and set it against the dense network.
#
# What you will see: a 3 x 3 filter and a 2 x 2 max-pool computed in NumPy and checked against Keras, `Conv2D` and
# `MaxPooling2D` layers in a model, and how a network with far fewer parameters compares with the dense one.

# %%
import os
from typing import Literal

os.environ["KERAS_BACKEND"] = os.environ.get("KERAS_BACKEND", "jax")  # or "torch", "tensorflow": before Keras loads

# %% tags=["parameters"]
seed: int = 0  # in [0, 2**32): the initial weights and the shuffling follow from it
quick: bool = False  # a smoke run: the first 500 training and 200 test images, 1 epoch each
epochs: int | None = None  # in [1, inf): the CNN's passes over the training images; None: 10 (1 when quick)
dataset: Literal["cifar10", "fashion_mnist", "mnist", "mnist_5k"] = "cifar10"  # the others: 28x28 grey images
batch_size: int = 32  # in [1, inf): images per training step
ann_epochs: int | None = None  # in [1, inf): the dense network's epochs; None: 5, as the course ran it (1 when quick)
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

epochs = (1 if quick else 10) if epochs is None else epochs  # the original course trained its CNN for 10 epochs
ann_epochs = (1 if quick else 5) if ann_epochs is None else ann_epochs
run = begin("cnn", globals())  # checks the values above, seeds Python, NumPy and Keras, says how this run is made
dataset = run.stand_in.dataset if run.stand_in else dataset  # a quick run with no such data here: the digits

# %% [markdown]
# ## A filter, by hand
#
# The tutorial's example: a 7 x 7 image of +1 (ink) and -1 (background) pixels drawing a loopy "9", and a 3 x 3
# filter that looks for a loop: a ring of 1s around a -1. Each value of the feature map is the sum of a 3 x 3
# window of the image times the filter (element by element), divided by 9:
#
# $$F_{ij} = \frac{1}{9}\sum_{a=0}^{2}\sum_{b=0}^{2} I_{i+a,\,j+b}\, K_{ab}$$

# %%
image = np.array(
    [
        [-1, -1, -1, -1, -1, -1, -1],
        [-1, 1, 1, 1, 1, 1, -1],
        [-1, 1, -1, -1, -1, 1, -1],
        [-1, 1, 1, 1, 1, 1, -1],
        [-1, -1, -1, -1, -1, 1, -1],
        [-1, -1, -1, -1, -1, 1, -1],
        [-1, 1, 1, 1, 1, 1, -1],
    ],
    dtype="float64",
)
loop = np.array([[1, 1, 1], [1, -1, 1], [1, 1, 1]], dtype="float64")


def convolve(image, kernel):
    kh, kw = kernel.shape
    out = np.empty((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i : i + kh, j : j + kw] * kernel)
    return out


def max_pool(x, size=2):
    h, w = x.shape[0] // size, x.shape[1] // size
    return x[: h * size, : w * size].reshape(h, size, w, size).max(axis=(1, 3))


feature_map = convolve(image, loop) / 9
pooled = max_pool(feature_map)
display(pd.DataFrame(feature_map).round(2))
best = tuple(int(i) for i in np.unravel_index(feature_map.argmax(), feature_map.shape))
top_left = image[:3, :3] * loop
print(f"the top-left window gives ({' + '.join(str(int(v)) for v in top_left.ravel())}) / 9 = {feature_map[0, 0]:.2f}")
print(
    f"the loop peaks at {feature_map.max():.2f} at {best}; the window at (1, 0) half-matches: "
    f"{feature_map[1, 0]:.2f} = -1/9, the tutorial's example"
)
pd.DataFrame(pooled).round(2)

# %% [markdown]
# Max-pooling keeps the strongest response of each 2 x 2 block: the loop is still found, in a map a quarter the
# size. Keras's `Conv2D` computes exactly this sum (a cross-correlation, like ours) for every filter and every
# channel, and `MaxPooling2D` this max:

# %%
keras_map = keras.ops.conv(image.reshape(1, 7, 7, 1), loop.reshape(3, 3, 1, 1), padding="valid") / 9
keras_pooled = keras.layers.MaxPooling2D((2, 2))(keras_map)
print(
    "largest difference from Keras:",
    float(np.abs(keras.ops.convert_to_numpy(keras_map)[0, :, :, 0] - feature_map).max()),
    float(np.abs(keras.ops.convert_to_numpy(keras_pooled)[0, :, :, 0] - pooled).max()),
)

# %% [markdown]
# ## The data
#
# As in lesson 5: the pixels (integers 0-255) divided by 255, so that they lie in [0, 1], in float32, the precision
# the network computes in; integer labels, so the loss is the sparse categorical cross-entropy.

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
x_train, x_test = x_train.astype("float32") / 255, x_test.astype("float32") / 255
names = list(datasets.class_names(dataset))
print(ABOUT[dataset])
print(f"this run: training images {x_train.shape}, test images {x_test.shape}")
plots.image_grid(x_train, y_train, None, names, title=f"the first {dataset} training images")

# %% [markdown]
# ## The CNN
#
# Two rounds of convolution (32, then 64 filters of 3 x 3, ReLU) and 2 x 2 max-pooling find local patterns, then a
# small dense head (64 ReLU units, 10 softmax outputs) names the class. Each filter's weights are shared across the
# whole image (parameter sharing) and look at a small neighbourhood (sparse connectivity).

# %%
set_seed(seed)
cnn = keras.Sequential(
    [
        keras.Input(x_train.shape[1:]),
        keras.layers.Conv2D(32, (3, 3), activation="relu"),
        keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Conv2D(64, (3, 3), activation="relu"),
        keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ],
    name="cifar_cnn",
)
cnn.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
cnn.summary()

# %% [markdown]
# 10% of the training images are held out for the validation curves. (On JAX, `training.fit` computes the
# `Conv2D` and `MaxPooling2D` layers inside its compiled training step by an equal, faster formulation, with these
# layers' own weights: more than ten times faster on a CPU.)

# %%
cnn_history = training.fit(cnn, x_train, y_train, epochs=epochs, batch_size=batch_size, validation_split=0.1)
plots.learning_curves(cnn_history, title="CNN")

# %% [markdown]
# ## The dense network of lesson 5, for comparison
#
# Same images, same split; SGD for 5 epochs, as the course ran it.

# %%
set_seed(seed)
ann = keras.Sequential(
    [
        keras.Input(x_train.shape[1:]),
        keras.layers.Flatten(),
        keras.layers.Dense(3000, activation="relu"),
        keras.layers.Dense(1000, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ],
    name="cifar_ann",
)
ann.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
ann_history = training.fit(ann, x_train, y_train, epochs=ann_epochs, batch_size=batch_size, validation_split=0.1)
plots.learning_curves(ann_history, title="dense network")

# %% [markdown]
# ## CNN against the dense network

# %%
predictions = {
    "CNN": cnn.predict(x_test, batch_size=512, verbose=0).argmax(axis=1),
    "dense network": ann.predict(x_test, batch_size=512, verbose=0).argmax(axis=1),
}
accuracy = {title: float(accuracy_score(y_test, y_pred)) for title, y_pred in predictions.items()}
display(
    pd.DataFrame(
        {
            "parameters": {"CNN": cnn.count_params(), "dense network": ann.count_params()},
            "epochs": {"CNN": epochs, "dense network": ann_epochs},
            "test accuracy": accuracy,
        }
    )
)
for title, y_pred in predictions.items():
    print(
        title,
        classification_report(y_test, y_pred, labels=range(10), target_names=names, digits=4, zero_division=0),
        sep="\n",
    )
    display(plots.confusion_matrix(confusion_matrix(y_test, y_pred, labels=range(10)), names, title=title))
wrong = np.flatnonzero(predictions["CNN"] != y_test)  # the test images the CNN gets wrong
plots.image_grid(
    x_test[wrong],
    y_test[wrong],
    predictions["CNN"][wrong],
    names,
    title=f"the CNN's first {min(16, len(wrong))} of {len(wrong)} mistakes: predicted (true)",
)

# %%
fewer = ann.count_params() / cnn.count_params()
print(f"the CNN has {fewer:.0f}x fewer parameters than the dense network")
if run.conclusive:  # a quick run, or one on another data set, shows its numbers and concludes nothing
    better = "the CNN" if accuracy["CNN"] > accuracy["dense network"] else "the dense network"
    print(f"{better} scores higher: {accuracy['CNN']:.4f} against {accuracy['dense network']:.4f}")

# %% [markdown]
# ## What the course got wrong, and what is fixed here
#
# * **Unscaled test images** (the tutorial's notebook 11): `X_test_scales=X_test/255` is computed under a misspelt
#   name and never used, so its dense network is evaluated on raw pixels (`ann.evaluate(X_test,y_test)`: loss 262,
#   accuracy 0.39), and its CNN is trained and tested on unscaled images (0.6402). The original scales both parts
#   (`X_train = X_train / 255.0`) and reports 0.7028 for the CNN and 0.47 for the dense network. Here every image
#   is scaled the same way for training and testing.
# * **Sigmoid outputs** (the tutorial's dense network): `Dense(10, activation='sigmoid')`; the original's ends in
#   softmax, as here.
# * **A wrong count** (the tutorial's notebook 10): it says a 1920 x 1080 x 3 image into a dense layer of 4 million
#   units makes "24 million weights"; it makes $6.2 \times 10^6 \times 4 \times 10^6 \approx 2.5 \times 10^{13}$.
# * **Unseeded runs** (both versions): here both networks start from `seed` and see the same images in the same
#   order.

# %%
comparable = dataset == "cifar10"
run.finish(
    {
        "cnn_test_accuracy": accuracy["CNN"],
        "ann_test_accuracy": accuracy["dense network"],
        "cnn_minus_ann": accuracy["CNN"] - accuracy["dense network"],
    },
    course={"cnn_test_accuracy": 0.7028, "ann_test_accuracy": 0.47},
    course_label="the course (the original's notebook, CIFAR-10)"
    if comparable
    else "the course (CIFAR-10: another data set)",
    models={"cnn": cnn},
    histories={"cnn": cnn_history, "ann": ann_history},
    details={"demo": {"feature_map": feature_map.tolist(), "max_pool": pooled.tolist()}},
)

# %% [markdown]
# ## Exercises
#
# Fill in each code cell and run it: `check(...)` says at once whether the answer is right, and if not, the first
# input where it differs, what was expected (from Keras), what your code returned, and a hint. A cell you have not
# touched says "not attempted yet". `keraslab notebook cnn --solutions` writes this notebook with the reference
# solutions filled in.
#
# The checks are for learning, not grading: each draws fresh inputs every time it runs, works out its own answer
# only after yours has returned, and trains a fresh copy of a model you build. They make the honest answer the
# easy one; they cannot make cheating impossible, and nobody is keeping score.

# %%
from keraslab.exercises import check

# %% [markdown]
# ### Exercise 1 (write it): a 3x3 convolution that keeps the size
#
# `convolve` above slides the kernel only where it fits, so a 7 x 7 image gives a 5 x 5 map ("valid"). Write
# `convolve_same(image, kernel)` for a 2-D image and a 3 x 3 kernel: the image padded with a border of zeros first,
# so that the map has the image's size (Keras's `padding="same"`).


# %%
def convolve_same(image, kernel):
    ### BEGIN SOLUTION
    padded = np.pad(image, 1)
    out = np.zeros(image.shape)
    for i in range(image.shape[0]):
        for j in range(image.shape[1]):
            out[i, j] = np.sum(padded[i : i + 3, j : j + 3] * kernel)
    return out
    ### END SOLUTION


check("cnn.conv_same", convolve_same)

# %% [markdown]
# ### Exercise 2 (predict, then run): the shape after a convolution and a pooling
#
# A 28 x 28 grey image (shape (28, 28, 1)) goes through `Conv2D(16, (5, 5))` (no padding) and then
# `MaxPooling2D((2, 2))`. **What shape comes out, without the batch axis?** Write it as a tuple `prediction`, then
# run the cell.

# %%
prediction = None  # a tuple: (height, width, channels)
### BEGIN SOLUTION
prediction = ((28 - 5 + 1) // 2, (28 - 5 + 1) // 2, 16)
### END SOLUTION

layers_only = keras.Sequential(
    [keras.Input((28, 28, 1)), keras.layers.Conv2D(16, (5, 5)), keras.layers.MaxPooling2D((2, 2))]
)
check("cnn.output_shape", prediction, measured=layers_only.output_shape[1:])

# %% [markdown]
# ### Exercise 3 (build it): a CNN for Fashion-MNIST
#
# The original course's exercise (`16_cnn_cifar10_small_image_classification/cnn_mnist_exercise_solution.ipynb`)
# classifies MNIST digits with a CNN; here the harder Fashion-MNIST clothes. Build a CNN for 28 x 28 x 1 images: one
# or more blocks of `Conv2D` layers (3 x 3 kernels or larger, `relu`) each block followed by a `MaxPooling2D((2,
# 2))`, then `Flatten`, any hidden `Dense` layers with `relu`, and a softmax output of 10; compile it with `adam` and
# the loss for integer labels. The check trains a fresh copy of it for 2 epochs on 10,000 training images and asks
# for a test accuracy of 0.80 or more.

# %%
my_cnn = None  # your keras.Sequential([...]), compiled
### BEGIN SOLUTION
my_cnn = keras.Sequential(
    [
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(32, (3, 3), activation="relu"),
        keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ]
)
my_cnn.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
### END SOLUTION

check("cnn.fashion_cnn", my_cnn, data_dir=data_dir)

# %% [markdown]
# ### Exercise 4 (predict, then run): the parameters of one convolution layer
#
# **How many parameters does `Conv2D(64, (3, 3))` have on colour images (3 channels)?** And would it have more on
# 320 x 320 images than on 32 x 32 ones? Write the number as `prediction`, then run the cell.

# %%
prediction = None  # your number
### BEGIN SOLUTION
prediction = 64 * (3 * 3 * 3 + 1)
### END SOLUTION

layer = keras.layers.Conv2D(64, (3, 3))
layer.build((None, 32, 32, 3))
check("cnn.conv_params", prediction, measured=layer.count_params())
