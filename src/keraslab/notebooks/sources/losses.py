# %% [markdown]
# # Lesson 2 of 9: loss and cost functions by hand
#
# *The course's notebook 3.* A loss says how far a prediction is from the truth; training is the search for the
# weights that make it small. We write the classic losses in NumPy, one line each, use them on the course's toy
# example, and check every one against Keras.
#
# What you will see: MAE, MSE and log loss (binary cross-entropy) as formulas and as code; why the order of the
# arguments matters for the log loss but not for the other two; the categorical cross-entropies; and a bug in the
# course's own log loss.

# %%
import os

os.environ["KERAS_BACKEND"] = os.environ.get("KERAS_BACKEND", "jax")  # or "torch", "tensorflow": before Keras loads

# %% tags=["parameters"]
seed: int = 0  # the random inputs of the comparison with Keras
epsilon: float = 1e-15  # the course's clipping for the log loss (Keras uses 1e-7)

# %%
import keras
import numpy as np
import pandas as pd
from IPython.display import display
from sklearn.metrics import log_loss as sklearn_log_loss

from keraslab import verify

print(f"Keras {keras.__version__} on {keras.backend.backend()}")

# %% [markdown]
# ## The three losses
#
# For $n$ predictions $\hat y_i$ of targets $y_i$:
#
# $$\text{MAE} = \frac{1}{n}\sum_i |y_i - \hat y_i| \qquad \text{MSE} = \frac{1}{n}\sum_i (y_i - \hat y_i)^2$$
#
# and, for labels $y_i \in \{0, 1\}$ and predicted probabilities $p_i$, the log loss (binary cross-entropy):
#
# $$\text{log loss} = -\frac{1}{n}\sum_i \big[y_i \ln p_i + (1 - y_i) \ln(1 - p_i)\big]$$
#
# $\ln 0$ is $-\infty$, so the probabilities are first clipped to $[\epsilon, 1 - \epsilon]$.


# %%
def mae(y_true, y_pred):
    return float(np.mean(np.abs(y_true - y_pred)))


def mse(y_true, y_pred):
    return float(np.mean((y_true - y_pred) ** 2))


def log_loss(y_true, y_pred, epsilon=epsilon):
    p = np.clip(y_pred, epsilon, 1 - epsilon)
    return float(np.mean(-(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))))


# %% [markdown]
# ## The course's toy example
#
# The course passes `y_true = [0.30, 0.7, 1, 0, 0.5]` and `y_predicted = [1, 1, 0, 0, 1]`: the probabilities sit
# in `y_true` and the labels in `y_predicted`. The roles are swapped.

# %%
course_y_true = np.array([0.30, 0.7, 1, 0, 0.5])  # in fact: predicted probabilities
course_y_predicted = np.array([1.0, 1, 0, 0, 1])  # in fact: the labels

print(f"MAE {mae(course_y_true, course_y_predicted):.4f}   MSE {mse(course_y_true, course_y_predicted):.4f}")
print(f"log loss, the course's order:  {log_loss(course_y_true, course_y_predicted):.10f}")
print(f"log loss, the roles put right: {log_loss(course_y_predicted, course_y_true):.10f}")
print(f"scikit-learn's log loss (right order): {sklearn_log_loss(course_y_predicted, course_y_true):.10f}")

# %% [markdown]
# MAE and MSE are symmetric in their two arguments, so the swap does not change them. The log loss is not: in the
# course's order every "prediction" is 0 or 1 and gets clipped to $10^{-15}$ or $1 - 10^{-15}$. With the roles
# put right, one term dominates: the probability 1.0 given to the label 0 (the third customer) costs
# $-\ln(10^{-15}) = 34.54$ on its own. Per term:

# %%
p = np.clip(course_y_true, epsilon, 1 - epsilon)
terms = -(course_y_predicted * np.log(p) + (1 - course_y_predicted) * np.log(1 - p))
display(pd.DataFrame({"label": course_y_predicted, "probability": course_y_true, "loss term": terms}))
print(f"mean of the terms: {terms.mean():.10f}")

# %% [markdown]
# The course's own `log_loss` function had a second bug: it clipped with `min(p, epsilon)` instead of
# `min(p, 1 - epsilon)`, which turned every probability into $10^{-15}$ and printed 17.269388197455342. Here is
# that function, to see it happen:


# %%
def course_log_loss(y_true, y_predicted, epsilon=epsilon):
    clipped = [max(i, epsilon) for i in y_predicted]
    clipped = [min(i, epsilon) for i in clipped]  # the bug: should be min(i, 1 - epsilon)
    clipped = np.array(clipped)
    return -np.mean(y_true * np.log(clipped) + (1 - y_true) * np.log(1 - clipped))


print(course_log_loss(course_y_true, course_y_predicted))

# %% [markdown]
# ## More than two classes: categorical cross-entropy
#
# With $K$ classes, a prediction is a row of $K$ probabilities (a softmax output) and the loss is
# $-\frac{1}{n}\sum_i \sum_k y_{ik} \ln p_{ik}$ for one-hot labels $y_{ik}$. Only the probability of the true
# class counts, so with integer labels it is simply $-\frac{1}{n}\sum_i \ln p_{i, y_i}$: Keras calls that the
# *sparse* categorical cross-entropy. Same number, two label formats.


# %%
def categorical_crossentropy(y_onehot, p, epsilon=1e-7):
    return float(np.mean(-np.sum(y_onehot * np.log(np.clip(p, epsilon, 1 - epsilon)), axis=1)))


def sparse_categorical_crossentropy(labels, p, epsilon=1e-7):
    return float(np.mean(-np.log(np.clip(p[np.arange(len(labels)), labels], epsilon, 1 - epsilon))))


labels = np.array([0, 2, 1])
probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.25, 0.5, 0.25]])
onehot = np.eye(3)[labels]
print(f"categorical:        ours {categorical_crossentropy(onehot, probs):.6f}", end="   ")
print(f"Keras {float(keras.losses.CategoricalCrossentropy()(onehot, probs)):.6f}")
print(f"sparse categorical: ours {sparse_categorical_crossentropy(labels, probs):.6f}", end="   ")
print(f"Keras {float(keras.losses.SparseCategoricalCrossentropy()(labels, probs)):.6f}")

# %% [markdown]
# ## Every loss of `keraslab.scratch` against Keras
#
# keraslab's from-scratch module has each of these losses and its gradient. On seeded random inputs, in float64,
# each agrees with Keras (and with scikit-learn where it has the loss) to $10^{-6}$: change `seed` above and run
# again. (`keraslab verify` checks the gradients too.)

# %%
checks = pd.DataFrame([check.row() for check in verify.loss_checks(seed)])
display(checks)
assert checks["pass"].all()

# %% [markdown]
# ## What the course got wrong, and what is fixed here
#
# * Its toy example swapped the roles of labels and probabilities: its log loss 17.2696 is the loss of the
#   swapped arrays; with the roles right it is 7.3587.
# * Its `log_loss` clipped with `min(p, epsilon)`, so every probability became $10^{-15}$.
#
# `keraslab run losses` computes the same figures from the command line (a test checks it).

# %%
summary = {
    "mae": mae(course_y_true, course_y_predicted),
    "mse": mse(course_y_true, course_y_predicted),
    "log_loss_tutorial": log_loss(course_y_true, course_y_predicted),
    "log_loss": log_loss(course_y_predicted, course_y_true),
}
course = {"mae": 0.5, "mse": 0.366, "log_loss_tutorial": 17.2696280766844}
pd.DataFrame({"this notebook": summary, "the course": course})
