# %% [markdown]
# # Lesson 2 of 9: loss and cost functions by hand
#
# *Replaces the course's notebook "3.Loss and cost function" (the tutorial repository,
# RNVALA/Deep-Learning-with-tensorflow-2.0-keras-and-python), a copy of "5_loss/5_loss_or_cost_function.ipynb" in
# the original course (codebasics/deep-learning-keras-tf-tutorial).* A loss says how far a prediction is from the
# truth; training is the search for the weights that make it small. We write the classic losses in NumPy, one line
# each, use them on the course's toy example, draw them, and check every one against Keras.
#
# What you will see: MAE, MSE and log loss (binary cross-entropy) as formulas and as code; why the order of the
# arguments matters for the log loss but not for the other two; the categorical cross-entropies; and two bugs of the
# course.

# %%
import os

os.environ["KERAS_BACKEND"] = os.environ.get("KERAS_BACKEND", "jax")  # or "torch", "tensorflow": before Keras loads

# %% tags=["parameters"]
seed: int = 0  # in [0, 2**32): the random inputs of the comparison with Keras
quick: bool = False  # a smoke run: the same as a full one here (five toy numbers are quick already)
epsilon: float = 1e-15  # in (0, 0.5): the course's clipping for the log loss (Keras clips at 1e-7)

# %%
# %matplotlib inline
import keras
import numpy as np
import pandas as pd
from sklearn.metrics import log_loss as sklearn_log_loss

from keraslab import plots, proof
from keraslab.lessons import begin

run = begin("losses", globals())  # checks the values above, seeds Python, NumPy and Keras, says how this run is made

# %% [markdown]
# ## The three losses
#
# For $n$ predictions $\hat y_i$ of targets $y_i$:
#
# $$\text{MAE} = \frac{1}{n}\sum_i |y_i - \hat y_i| \qquad \text{MSE} = \frac{1}{n}\sum_i (y_i - \hat y_i)^2$$
#
# and, for labels $y_i \in \{0, 1\}$ and predicted probabilities $p_i$, the log loss (binary cross-entropy):
#
# $$\text{log loss} = -\frac{1}{n}\sum_i \left[y_i \ln p_i + (1 - y_i) \ln(1 - p_i)\right]$$
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
# Each loss as a function of the prediction, for a true label of 1: MAE grows in a straight line, MSE as a square,
# and the log loss without bound as the probability given to the truth goes to 0. A confident wrong answer costs
# the log loss far more than the other two.

# %%
p_grid = np.linspace(0.001, 1.0, 400)
ones = np.ones(1)
plots.functions(
    p_grid,
    {
        "MAE |1 - p|": [mae(ones, np.array([p])) for p in p_grid],
        "MSE (1 - p)²": [mse(ones, np.array([p])) for p in p_grid],
        "log loss -ln p": [log_loss(ones, np.array([p])) for p in p_grid],
    },
    title="each loss for one prediction p of a true label 1",
    xlabel="predicted value p",
    ylabel="loss",
    ylim=(0, 4),
)

# %% [markdown]
# ## The course's toy example
#
# Both versions of the course pass `y_true = [0.30, 0.7, 1, 0, 0.5]` and `y_predicted = [1, 1, 0, 0, 1]`: the
# probabilities sit in `y_true` and the labels in `y_predicted`. The roles are swapped.

# %%
course_y_true = np.array([0.30, 0.7, 1, 0, 0.5])  # in fact: predicted probabilities
course_y_predicted = np.array([1.0, 1, 0, 0, 1])  # in fact: the labels

print(f"MAE {mae(course_y_true, course_y_predicted):.4f}   MSE {mse(course_y_true, course_y_predicted):.4f}")
print(f"log loss, the course's order:  {log_loss(course_y_true, course_y_predicted):.10f}")
print(f"log loss, the roles put right: {log_loss(course_y_predicted, course_y_true):.10f}")

# %% [markdown]
# The MAE is 0.5 whichever way it is computed: the original course's notebook (5_loss/5_loss_or_cost_function) shows
# 0.26 under its one-line NumPy version, `np.mean(np.abs(y_predicted-y_true))`, an output left from earlier arrays
# (the same arrays give 0.5, as its own loop printed).
#
# MAE and MSE are symmetric in their two arguments, so the swap does not change them. The log loss is not: in the
# course's order every "prediction" is 0 or 1 and gets clipped to $\epsilon$ or $1 - \epsilon$. With the roles
# put right, one term dominates: the probability 1.0 given to the label 0 (the third customer) costs
# $-\ln(\epsilon) = 34.54$ on its own. Per term:

# %%
p = np.clip(course_y_true, epsilon, 1 - epsilon)
terms = -(course_y_predicted * np.log(p) + (1 - course_y_predicted) * np.log(1 - p))
display(pd.DataFrame({"label": course_y_predicted, "probability": course_y_true, "loss term": terms}))
print(f"mean of the terms: {terms.mean():.10f}")

# %% [markdown]
# scikit-learn's `log_loss` gives another number for the same arrays. It clips too, but at the smallest step of a
# float64 number, $2.2 \times 10^{-16}$, not at the course's $10^{-15}$: the third term costs
# $-\ln(2.2 \times 10^{-16}) = 36.04$ instead of 34.54, and the mean moves by the difference over the 5 terms. Our
# function with scikit-learn's clipping gives scikit-learn's number:

# %%
sklearn_value = sklearn_log_loss(course_y_predicted, course_y_true)
float64_step = np.finfo(np.float64).eps
print(
    f"scikit-learn {sklearn_value:.10f}; ours, clipped at {epsilon:g}: {terms.mean():.10f}; ours, clipped at "
    f"{float64_step:.3g}: {log_loss(course_y_predicted, course_y_true, epsilon=float64_step):.10f}"
)

# %% [markdown]
# ## The course's own `log_loss` function
#
# The tutorial's notebook walks through the clipping step by step correctly, `min(i, 1-eplison)`, and then writes
# a function that clips twice against $\epsilon$:
#
# ```
# y_predicted_new=[max(i,epsilon) for i in y_predicted]
# y_predicted_new=[min(i,epsilon) for i in y_predicted_new]
# ```
#
# which turns every probability into $10^{-15}$ and printed 17.269388197455342. (The original course's function
# clips at `min(i,1-epsilon)` and printed 17.2696280766844.) Here is the tutorial's function, to see it happen:


# %%
def tutorial_log_loss(y_true, y_predicted, epsilon=epsilon):
    clipped = [max(i, epsilon) for i in y_predicted]
    clipped = [min(i, epsilon) for i in clipped]  # the bug: should be min(i, 1 - epsilon)
    clipped = np.array(clipped)
    return -np.mean(y_true * np.log(clipped) + (1 - y_true) * np.log(1 - clipped))


print(f"the course's order:  {tutorial_log_loss(course_y_true, course_y_predicted):.10f}")
print(f"the roles put right: {tutorial_log_loss(course_y_predicted, course_y_true):.10f}")

# %% [markdown]
# With the swapped arrays the bug moves the result only in its fourth decimal (the mean of `y_true` is 0.5 here),
# which is why it went unnoticed. With the roles put right it gives 20.72 instead of 7.36: each of the three
# labels 1 costs $-\ln 10^{-15} = 34.54$, and $3 \times 34.54 / 5 = 20.72$.
#
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
# again. (`keraslab prove` checks the gradients too.)

# %%
checks = pd.DataFrame([check.row() for check in proof.loss_checks(seed)])
print(f"{int(checks['pass'].sum())} of {len(checks)} agree")
checks

# %% [markdown]
# ## What the course got wrong, and what is fixed here
#
# * **Swapped roles** (both versions): the toy example puts the probabilities in `y_true`; its log loss 17.2696 is
#   the loss of the swapped arrays. With the roles right it is 7.3587.
# * **A log loss that clips at $\epsilon$ from both sides** (the tutorial's function only): every probability
#   became $10^{-15}$.
# * **Functions that print and return nothing** (the tutorial's `mae` and `mse`): here every loss returns its value.

# %%
run.finish(
    {
        "mae": mae(course_y_true, course_y_predicted),
        "mse": mse(course_y_true, course_y_predicted),
        "log_loss_tutorial": log_loss(course_y_true, course_y_predicted),
        "log_loss": log_loss(course_y_predicted, course_y_true),
        "sklearn_log_loss": sklearn_value,
    },
    course={"mae": 0.5, "mse": 0.366, "log_loss_tutorial": 17.2696280766844},
    course_label="the course (both versions, roles swapped)",
    details={"parity": checks.to_dict(orient="records")},
)

# %% [markdown]
# ## Exercises
#
# Fill in each code cell and run it: `check(...)` says at once whether the answer is right, and if not, the first
# input where it differs, what was expected (from Keras or scikit-learn), what your code returned, and a hint. A
# cell you have not touched says "not attempted yet". `keraslab notebook losses --solutions` writes this notebook
# with the reference solutions filled in.
#
# The checks are for learning, not grading: each draws fresh inputs every time it runs and works out its own
# answer only after yours has returned. They make the honest answer the easy one; they cannot make cheating
# impossible, and nobody is keeping score.

# %%
from keraslab.exercises import check

# %% [markdown]
# ### Exercise 1 (write it): mean squared error without NumPy
#
# The original course's exercise (`5_loss/loss_function_exercise_solution.ipynb`): write `mse_plain(y_true,
# y_pred)` for two Python lists of numbers with a loop, or `sum` and `zip`, and no NumPy.


# %%
def mse_plain(y_true, y_pred):
    ### BEGIN SOLUTION
    return sum((t - p) ** 2 for t, p in zip(y_true, y_pred, strict=True)) / len(y_true)
    ### END SOLUTION


check("losses.mse_plain", mse_plain)

# %% [markdown]
# ### Exercise 2 (write it): mean squared error with NumPy
#
# The same, the course's second half: `mse_numpy(y_true, y_pred)` for two NumPy arrays, in one line, no loop.


# %%
def mse_numpy(y_true, y_pred):
    ### BEGIN SOLUTION
    return float(np.mean((y_true - y_pred) ** 2))
    ### END SOLUTION


check("losses.mse_numpy", mse_numpy)

# %% [markdown]
# ### Exercise 3 (write it): the log loss, clipped as Keras clips it
#
# Write `clipped_log_loss(y_true, y_pred)` for labels 0/1 and predicted probabilities, clipping the probabilities
# to $[\epsilon, 1 - \epsilon]$ with $\epsilon = 10^{-7}$, as Keras does. The check includes predictions of exactly
# 0 and 1: the inputs where the tutorial's function went wrong.


# %%
def clipped_log_loss(y_true, y_pred, epsilon=1e-7):
    ### BEGIN SOLUTION
    p = np.clip(y_pred, epsilon, 1 - epsilon)
    return float(-np.mean(y_true * np.log(p) + (1 - y_true) * np.log(1 - p)))
    ### END SOLUTION


check("losses.log_loss", clipped_log_loss)

# %% [markdown]
# ### Exercise 4 (write it): the log loss from raw scores
#
# A network often outputs a raw score $z$ (a *logit*) and leaves the sigmoid to the loss: Keras's
# `binary_crossentropy(..., from_logits=True)`. Computing $p = \sigma(z)$ first and then the log loss breaks for
# large scores ($\sigma(800)$ is exactly 1.0 in floating point, and $\ln(1 - 1) = -\infty$). Write
# `log_loss_from_logits(y_true, logits)` that stays finite for any score. (Expand
# $-[y \ln \sigma(z) + (1 - y) \ln(1 - \sigma(z))]$ and simplify.)


# %%
def log_loss_from_logits(y_true, logits):
    ### BEGIN SOLUTION
    z = np.asarray(logits, dtype="float64")
    return float(np.mean(np.maximum(z, 0) - z * y_true + np.log1p(np.exp(-np.abs(z)))))
    ### END SOLUTION


check("losses.from_logits", log_loss_from_logits)

# %% [markdown]
# ### Exercise 5 (predict, then run): one large error
#
# Five prices are predicted exactly except one, which is off by 1. Now make that one off by 10 instead: the MAE
# grows 10 times. **By how many times does the MSE grow?** Write your number as `prediction`, then run the cell.

# %%
prediction = None  # your number
### BEGIN SOLUTION
prediction = 100
### END SOLUTION

truth = np.array([3.0, 5.0, 2.0, 7.0, 4.0])
error = np.array([0.0, 0, 1, 0, 0])  # the third price is off by 1 ...
off_by_1, off_by_10 = truth + error, truth + 10 * error  # ... then by 10
check(
    "losses.outlier",
    prediction,
    measured=mse(truth, off_by_10) / mse(truth, off_by_1),
    mae_factor=mae(truth, off_by_10) / mae(truth, off_by_1),
)
