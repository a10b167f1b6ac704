# %% [markdown]
# # Lesson 3 of 9: gradient descent for one neuron, by hand and in Keras
#
# *Replaces the course's notebook "4.Gradient Descent" (the tutorial repository,
# RNVALA/Deep-Learning-with-tensorflow-2.0-keras-and-python), a copy of "6_gradient_descent/6_gradient_descent.ipynb"
# in the original course (codebasics/deep-learning-keras-tf-tutorial).* Did a person buy insurance? We predict it
# from their age and "affordibility" (1 if they can afford it) with one sigmoid neuron,
# $\hat y = \sigma(w_1 \cdot \text{age} + w_2 \cdot \text{affordibility} + b)$, trained by gradient descent written
# out in NumPy; then the same neuron in Keras.
#
# What you will see: the update rule derived and coded, a numerical check of the gradient, the loss falling epoch
# by epoch, and Keras reaching the same weights. The tutorial's version never updated its bias; ours does.

# %%
import os

os.environ["KERAS_BACKEND"] = os.environ.get("KERAS_BACKEND", "jax")  # or "torch", "tensorflow": before Keras loads

# %% tags=["parameters"]
seed: int = 0  # in [0, 2**32): Keras's seed (the neuron starts from fixed weights, so nothing else is random)
quick: bool = False  # a smoke run: 200 epochs
epochs: int | None = None  # in [1, inf): updates of gradient descent; None: 1000 (200 when quick)
learning_rate: float = 0.5  # in (0, inf): the step size, eta
test_size: float = 0.2  # in (0, 1): the share of the 28 people kept aside as the test part
split_seed: int = 42  # in [0, 2**32): the split's random_state (the tutorial's 42; the original's was 25)
loss_threshold: float | None = None  # in (0, inf): stop once the training loss is this low (None: never)
data_dir: str | None = None  # None: $KERASLAB_DATA, else ~/.cache/keraslab

# %%
# %matplotlib inline
import time

import keras
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from keraslab import datasets, plots
from keraslab.lessons import begin
from keraslab.scratch.gradcheck import numerical_gradient
from keraslab.scratch.gradient_descent import fit_neuron
from keraslab.seeding import set_seed

epochs = (200 if quick else 1000) if epochs is None else epochs  # the tutorial's 1000 (the original's 5000)
run = begin("gradient-descent", globals())  # checks the values above, seeds everything, says how this run is made

# %% [markdown]
# ## The data
#
# 28 people. The course splits them 80/20 and divides age by 100, so that both features are near [0, 1].

# %%
frame = datasets.load("insurance", data_dir=data_dir).frame
display(frame.head())
X_train, X_test, y_train, y_test = train_test_split(
    frame[["age", "affordibility"]].astype("float64"),
    frame["bought_insurance"].to_numpy("float64"),
    test_size=test_size,
    random_state=split_seed,
)
X_train, X_test = X_train.copy(), X_test.copy()
X_train["age"] /= 100
X_test["age"] /= 100
x_train, x_test = X_train.to_numpy(), X_test.to_numpy()
print(f"{len(x_train)} training rows, {len(x_test)} test rows")

# %% [markdown]
# ## The update rule
#
# With $z = Xw + b$, $\hat y = \sigma(z) = 1 / (1 + e^{-z})$ and the log loss
# $L = -\frac{1}{n}\sum_i [y_i \ln \hat y_i + (1 - y_i)\ln(1 - \hat y_i)]$, the chain rule takes one row $i$ at a
# time, through $z_i$. Its loss $\ell_i = -[y_i \ln \hat y_i + (1 - y_i)\ln(1 - \hat y_i)]$ changes with the
# prediction as
#
# $$\frac{\partial \ell_i}{\partial \hat y_i} = -\frac{y_i}{\hat y_i} + \frac{1 - y_i}{1 - \hat y_i}
# = \frac{\hat y_i - y_i}{\hat y_i (1 - \hat y_i)}$$
#
# and the sigmoid's own slope is $\sigma'(z) = e^{-z} / (1 + e^{-z})^2 = \sigma(z)\,(1 - \sigma(z))$, that is
# $\partial \hat y_i / \partial z_i = \hat y_i (1 - \hat y_i)$. Multiplied, the two factors
# $\hat y_i (1 - \hat y_i)$ cancel:
#
# $$\frac{\partial \ell_i}{\partial z_i} = \frac{\partial \ell_i}{\partial \hat y_i}
# \frac{\partial \hat y_i}{\partial z_i} = \hat y_i - y_i$$
#
# the error itself. Last, $z_i = \sum_j w_j x_{ij} + b$ gives $\partial z_i / \partial w_j = x_{ij}$ and
# $\partial z_i / \partial b = 1$, and $L$ is the mean of the $\ell_i$, hence
#
# $$\frac{\partial L}{\partial w} = \frac{1}{n} X^\top (\hat y - y) \qquad
# \frac{\partial L}{\partial b} = \frac{1}{n} \sum_i (\hat y_i - y_i)$$
#
# and each epoch steps both downhill: $w \leftarrow w - \eta \, \partial L/\partial w$ and
# $b \leftarrow b - \eta \, \partial L/\partial b$. (The tutorial wrote the first and forgot the second.)


# %%
def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def log_loss(y, y_hat, epsilon=1e-7):
    p = np.clip(y_hat, epsilon, 1 - epsilon)
    return float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p))))


def gradients(X, y, w, b):
    error = sigmoid(X @ w + b) - y  # dL/dz, times n
    return X.T @ error / len(y), float(error.mean())


def gradient_descent(X, y, epochs, learning_rate, loss_threshold=None):
    """From w = 1, b = 0 (the course's start): the loss before each update, and the weights after the last."""
    w, b = np.ones(X.shape[1]), 0.0
    losses = []
    for _ in range(epochs):
        losses.append(log_loss(y, sigmoid(X @ w + b)))
        if loss_threshold is not None and losses[-1] <= loss_threshold:
            break  # the original's early stop (myNN.fit, loss_thresold 0.4631: epoch 366), before the update
        dw, db = gradients(X, y, w, b)
        w = w - learning_rate * dw
        b = b - learning_rate * db  # the line the tutorial forgot
    return w, b, losses


# %% [markdown]
# ### Is the gradient right? Check it numerically
#
# A derivative is a slope: nudge one parameter by $\pm h$ and the loss changes by about $2h$ times its gradient.
# `numerical_gradient` (keraslab's from-scratch module) does that for each parameter in turn. A check that cannot
# fail proves nothing, so we also check a wrong gradient (the bias's gradient left at 0, the tutorial's bug),
# which must fail.

# %%
params = np.array([0.3, -0.2, 0.1])  # w1, w2, b at some point away from the start
numeric = numerical_gradient(lambda p: log_loss(y_train, sigmoid(x_train @ p[:2] + p[2])), params)
dw, db = gradients(x_train, y_train, params[:2], params[2])
analytic = np.array([*dw, db])
print("analytic ", analytic, "\nnumerical", numeric)
print(
    f"largest difference {np.abs(analytic - numeric).max():.2e} (the wrong bias gradient: "
    f"{np.abs(np.array([*dw, 0.0]) - numeric).max():.2e})"
)
assert np.allclose(analytic, numeric, atol=1e-6)
assert not np.allclose(np.array([*dw, 0.0]), numeric, atol=1e-6)  # the negative control is caught

# %% [markdown]
# ## Training by hand

# %%
t0 = time.perf_counter()
w, b, losses = gradient_descent(x_train, y_train, epochs, learning_rate, loss_threshold)
scratch_seconds = time.perf_counter() - t0
updates = len(losses) - (1 if loss_threshold is not None and losses[-1] <= loss_threshold else 0)
scratch_proba = sigmoid(x_test @ w + b)
scratch_accuracy = float(np.mean((scratch_proba >= 0.5) == y_test))
train_loss = log_loss(y_train, sigmoid(x_train @ w + b))
print(
    f"{updates} updates: w1 (age) {w[0]:.5f}, w2 (affordibility) {w[1]:.5f}, b {b:.5f}; training loss "
    f"{train_loss:.5f}; test accuracy {scratch_accuracy:.4f}"
)

# %% [markdown]
# keraslab's from-scratch module has the same neuron, written once for every use (with its inputs checked); the
# loop above should agree with it exactly:

# %%
library = fit_neuron(x_train, y_train, epochs=epochs, learning_rate=learning_rate, loss_threshold=loss_threshold)
print(
    f"largest difference from keraslab.scratch.fit_neuron: "
    f"{max(np.abs(library.weights - w).max(), abs(library.bias - b)):.2e}"
)

# %% [markdown]
# ## The same neuron in Keras
#
# One `Dense(1, activation="sigmoid")` unit starting from the same weights (ones, bias zero), plain SGD at the same
# learning rate, and the whole training part as one batch per epoch: exactly the computation above, so the
# weights should agree to float32 precision.

# %%
set_seed(seed)
model = keras.Sequential(
    [
        keras.Input((2,)),
        keras.layers.Dense(1, activation="sigmoid", kernel_initializer="ones", bias_initializer="zeros"),
    ]
)
model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="binary_crossentropy")
t0 = time.perf_counter()
history = model.fit(
    x_train.astype("float32"),
    y_train.astype("float32"),
    epochs=max(updates, 1),
    batch_size=len(x_train),
    shuffle=False,
    verbose=0,
)
keras_seconds = time.perf_counter() - t0
kernel, bias = model.layers[0].get_weights()
keras_proba = model.predict(x_test.astype("float32"), verbose=0).ravel()
keras_accuracy = float(np.mean((keras_proba >= 0.5) == y_test))
difference = max(np.abs(kernel.ravel() - w).max(), abs(bias[0] - b))
print(f"Keras: w1 {kernel[0, 0]:.5f}, w2 {kernel[1, 0]:.5f}, b {bias[0]:.5f}; test accuracy {keras_accuracy:.4f}")
print(f"largest difference from the NumPy weights: {difference:.2e}")
plots.curves(
    {"from scratch (NumPy)": losses, "Keras (SGD)": history.history["loss"]},
    title="log loss per epoch",
    ylabel="binary cross-entropy",
)

# %% [markdown]
# ## The test rows

# %%
pd.DataFrame(
    {
        "age": X_test["age"].to_numpy() * 100,
        "affordibility": X_test["affordibility"].to_numpy(),
        "bought_insurance": y_test.astype(int),
        "P (NumPy)": scratch_proba,
        "P (Keras)": keras_proba,
    }
)

# %% [markdown]
# ## What the course got wrong, and what is fixed here
#
# * **A bias that never moves** (the tutorial's notebook only): its loop computes `bias_d` but updates only
#   `w1 = w1-rate*w1d` and `w2 = w2-rate*w2d`; it printed `bias:0` at every epoch and returned (1.0780, -0.0236,
#   0), weights that compensate badly. The original updates the bias (`bias = bias - rate * bias_d`) and its
#   hand-written neuron lands near its Keras neuron (5.05 / 1.46 / -2.96 against 5.06 / 1.41 / -2.91).
# * **A "loss" that is a list** (the tutorial's notebook): its `log_loss` returns the per-row terms, un-negated, so
#   each epoch printed a list of negative numbers. Here it is one number.
# * **Keras trained differently** (both versions): with Adam, for 1000 (tutorial) or 5000 (original) epochs, so the
#   two could not be compared; here Keras does exactly the same plain gradient descent.
#
# The tutorial's Keras neuron scored 0.8333 on its 6 test rows (w 1.128 / 0.593, b -0.643); the original's 1.0.

# %%
run.finish(
    {
        "scratch_w1": w[0],
        "scratch_w2": w[1],
        "scratch_b": b,
        "scratch_train_loss": train_loss,
        "scratch_test_accuracy": scratch_accuracy,
        "keras_w1": kernel[0, 0],
        "keras_w2": kernel[1, 0],
        "keras_b": bias[0],
        "keras_test_accuracy": keras_accuracy,
        "max_abs_diff_keras_scratch": difference,
    },
    course={"scratch_w1": 1.0779, "scratch_w2": -0.0236, "scratch_b": 0.0, "keras_test_accuracy": 0.8333},
    course_label="the course (the tutorial's notebook: its bias never updated; its Keras neuron used Adam)",
    history=pd.DataFrame(
        {
            "epoch": np.arange(1, len(losses) + 1),
            "scratch_loss": losses,
            "keras_loss": (history.history["loss"] + [np.nan] * len(losses))[: len(losses)],
        }
    ),
    details={"seconds": {"scratch": scratch_seconds, "keras": keras_seconds}},
)

# %% [markdown]
# ## Exercises
#
# Fill in each code cell and run it: `check(...)` says at once whether the answer is right, and if not, the first
# input where it differs, what was expected, what your code returned, and a hint. A cell you have not touched says
# "not attempted yet". `keraslab notebook gradient-descent --solutions` writes this notebook with the reference
# solutions filled in.
#
# The checks are for learning, not grading: each draws fresh inputs every time it runs and works out its own
# answer only after yours has returned. They make the honest answer the easy one; they cannot make cheating
# impossible, and nobody is keeping score.

# %%
from keraslab.exercises import check

# %% [markdown]
# ### Exercise 1 (write it): the bias update
#
# The tutorial's loop computes the bias's gradient and never applies it, so its bias stays 0. Write one update of the
# bias alone: `update_bias(bias, y_true, y_pred, learning_rate)` returns the new bias, for labels `y_true`, the
# neuron's predicted probabilities `y_pred` and the step size. (The derivative of the log loss with respect to $b$
# is worked out above.)


# %%
def update_bias(bias, y_true, y_pred, learning_rate):
    ### BEGIN SOLUTION
    return bias - learning_rate * float(np.mean(y_pred - y_true))
    ### END SOLUTION


check("gradient_descent.bias_update", update_bias)

# %% [markdown]
# ### Exercise 2 (write it): a derivative by numbers
#
# The lesson checked its gradient with `numerical_gradient`. Write the idea for one variable:
# `derivative(f, x)` returns the slope of the function `f` at the number `x`, from `f`'s values near `x` only. The
# check compares it with exact derivatives to 7 significant digits.


# %%
def derivative(f, x, h=1e-5):
    ### BEGIN SOLUTION
    return (f(x + h) - f(x - h)) / (2 * h)
    ### END SOLUTION


check("gradient_descent.numerical_derivative", derivative)

# %% [markdown]
# ### Exercise 3 (predict, then run): a ten times larger step
#
# Run the same number of updates with a learning rate 10 times larger. **Will the training loss at the end be
# lower or higher?** Write "lower" or "higher" as `prediction`, then run the cell. (It also tries 100 times larger.)

# %%
prediction = None  # "lower" or "higher"
### BEGIN SOLUTION
prediction = "lower"
### END SOLUTION

final_loss = {
    rate: log_loss(y_train, sigmoid(x_train @ w_rate + b_rate))
    for rate in (learning_rate, 10 * learning_rate, 100 * learning_rate)
    for w_rate, b_rate, _ in [gradient_descent(x_train, y_train, epochs, rate)]
}
check(
    "gradient_descent.learning_rate",
    prediction,
    measured="lower" if final_loss[10 * learning_rate] < final_loss[learning_rate] else "higher",
    losses=final_loss,
)
