# %% [markdown]
# # Lesson 4 of 9: batch, stochastic and mini-batch gradient descent
#
# *Replaces the course's notebook "5.stocasticated_descent_batch_Gradient_and_mini_batch_gradient" (the tutorial
# repository, RNVALA/Deep-Learning-with-tensorflow-2.0-keras-and-python), a copy of "8_sgd_vs_gd/gd_and_sgd.ipynb"
# and "8_sgd_vs_gd/mini_batch_gd.ipynb" in the original course (codebasics/deep-learning-keras-tf-tutorial).* Home
# prices from area and bedrooms with a straight line,
# $\hat y = w_1 \cdot \text{area} + w_2 \cdot \text{bedrooms} + b$, fitted three ways: on all the houses at once
# per step (batch), one house per step (stochastic), a few houses per step (mini-batch). Then the exact answer in
# closed form, and Keras doing batch gradient descent.
#
# What you will see: one function for the three variants (they differ only in how many rows each step sees), their
# cost curves side by side, and how far 500 epochs are from the best possible line.

# %%
import os

os.environ["KERAS_BACKEND"] = os.environ.get("KERAS_BACKEND", "jax")  # or "torch", "tensorflow": before Keras loads

# %% tags=["parameters"]
seed: int = 0  # in [0, 2**32): the order in which stochastic and mini-batch steps visit the houses
quick: bool = False  # a smoke run: 100 epochs
epochs: int | None = None  # in [1, inf): passes over the 20 houses; None: 500 (100 when quick)
learning_rate: float = 0.01  # in (0, inf): the step size, eta
batch_size: int = 5  # in [1, inf): houses per mini-batch step
data_dir: str | None = None  # None: $KERASLAB_DATA, else ~/.cache/keraslab

# %%
# %matplotlib inline
import keras
import numpy as np
import pandas as pd
from sklearn.preprocessing import MinMaxScaler

from keraslab import datasets, plots
from keraslab.lessons import begin
from keraslab.scratch.gradient_descent import fit_linear
from keraslab.seeding import set_seed

epochs = (100 if quick else 500) if epochs is None else epochs  # the course's batch run: 500 epochs
run = begin("gd-variants", globals())  # checks the values above, seeds Python, NumPy and Keras, says how it is made

# %% [markdown]
# ## The data
#
# 20 houses; price in lakh rupees. Area runs to thousands and bedrooms to 5, so both inputs and the price are
# min-max scaled to [0, 1] (every house is used for fitting here: this lesson has no test part).

# %%
frame = datasets.load("homeprices", data_dir=data_dir).frame
display(frame.head())
x_scaler, y_scaler = MinMaxScaler(), MinMaxScaler()
X = x_scaler.fit_transform(frame[["area", "bedrooms"]].to_numpy("float64"))
y = y_scaler.fit_transform(frame[["price"]].to_numpy("float64")).ravel()
n = len(y)

# %% [markdown]
# ## One update rule, three ways to feed it
#
# The cost is the mean squared error, and its gradient over the rows $B$ a step sees is
#
# $$\frac{\partial J}{\partial w} = -\frac{2}{|B|} X_B^\top (y_B - \hat y_B) \qquad
# \frac{\partial J}{\partial b} = -\frac{2}{|B|} \sum_{i \in B} (y_i - \hat y_i)$$
#
# Batch: $B$ is every house, one step per epoch. Stochastic: one house per step, $n$ steps per epoch, in a shuffled
# order. Mini-batch: `batch_size` houses per step. An epoch is always one pass over the data. The cost recorded
# for each epoch is the MSE on all houses at its start.


# %%
def step(X_b, y_b, w, b, learning_rate):
    """One update on the rows B a step sees: the gradient of their mean squared error, times eta, downhill."""
    residual = y_b - (X_b @ w + b)
    grad_w = -2 / len(y_b) * (X_b.T @ residual)
    grad_b = -2 / len(y_b) * residual.sum()
    return w - learning_rate * grad_w, b - learning_rate * grad_b


def gradient_descent(X, y, method, epochs, learning_rate, batch_size, seed):
    rng = np.random.default_rng(seed)  # the visiting order of the stochastic and mini-batch steps
    rows_per_step = {"batch": len(y), "sgd": 1, "minibatch": min(batch_size, len(y))}[method]
    w, b, costs = np.ones(X.shape[1]), 0.0, []  # the course's start: w = 1, b = 0
    for _ in range(epochs):
        costs.append(float(np.mean((y - (X @ w + b)) ** 2)))
        order = np.arange(len(y)) if method == "batch" else rng.permutation(len(y))
        for start in range(0, len(y), rows_per_step):
            rows = order[start : start + rows_per_step]
            w, b = step(X[rows], y[rows], w, b, learning_rate)
    return w, b, costs


fits = {m: gradient_descent(X, y, m, epochs, learning_rate, batch_size, seed) for m in ("batch", "sgd", "minibatch")}
plots.curves(
    {m: costs for m, (_w, _b, costs) in fits.items()}, title="cost (MSE, scaled) per epoch", ylabel="MSE", logy=True
)

# %% [markdown]
# keraslab's from-scratch module has the same three variants in one function (`fit_linear`, with its inputs
# checked, the same visiting order for the same seed); the loops above agree with it:

# %%
for method, (w, b, _costs) in fits.items():
    library = fit_linear(
        X, y, method=method, epochs=epochs, learning_rate=learning_rate, batch_size=batch_size, seed=seed
    )
    print(
        f"{method:9s} largest difference from keraslab.scratch: "
        f"{max(np.abs(library.weights - w).max(), abs(library.bias - b)):.1e}"
    )

# %% [markdown]
# ## The exact answer
#
# For a linear model the minimum of the MSE has a closed form: least squares on $[X \; 1]$. Gradient descent is
# heading there.

# %%
A = np.hstack([X, np.ones((n, 1))])
coef, *_ = np.linalg.lstsq(A, y, rcond=None)
w_ols, b_ols = coef[:-1], float(coef[-1])
ols_cost = float(np.mean((y - A @ coef) ** 2))
steps_per_epoch = {"batch": 1, "sgd": n, "minibatch": int(np.ceil(n / min(batch_size, n)))}
rows = [
    {
        "method": m,
        "w1 (area)": w[0],
        "w2 (bedrooms)": w[1],
        "b": b,
        "cost": costs[-1],
        "updates": epochs * steps_per_epoch[m],
    }
    for m, (w, b, costs) in fits.items()
]
rows.append(
    {
        "method": "closed form",
        "w1 (area)": w_ols[0],
        "w2 (bedrooms)": w_ols[1],
        "b": b_ols,
        "cost": ols_cost,
        "updates": 0,
    }
)
pd.DataFrame(rows)

# %% [markdown]
# Stochastic and mini-batch descent make many more updates per epoch, so after the same number of epochs they are
# closer to the closed form. All three are still far from it: area and bedrooms are strongly correlated, so the
# cost surface is a long, flat valley along $w_1 - w_2$, which the slow tail of the curves shows.
#
# ## Prices in rupees
#
# Predictions in the original units: scale the inputs, apply the line, undo the price scaling.

# %%
houses = np.array([[2600, 4], [1000, 2], [1500, 3]], dtype="float64")
prices = pd.DataFrame(houses, columns=["area", "bedrooms"])
for m, (w, b, _costs) in [*fits.items(), ("least squares", (w_ols, b_ols, None))]:
    prices[m] = y_scaler.inverse_transform((x_scaler.transform(houses) @ w + b).reshape(-1, 1)).ravel()
prices.round(4)

# %% [markdown]
# ## Keras does batch gradient descent too
#
# A `Dense(1)` unit with no activation is exactly $\hat y = Xw + b$. Starting from the same weights, with plain SGD
# at the same rate, the MSE loss and the whole data set as one batch per epoch (`batch_size=n`, no shuffling),
# `model.fit` performs the batch updates above, in float32. (`batch_size=1` with shuffling would be stochastic
# gradient descent, and `batch_size=5` mini-batch.)

# %%
set_seed(seed)
model = keras.Sequential(
    [keras.Input((2,)), keras.layers.Dense(1, kernel_initializer="ones", bias_initializer="zeros")]
)
model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="mse")
model.fit(X.astype("float32"), y.astype("float32"), epochs=epochs, batch_size=n, shuffle=False, verbose=0)
kernel, bias = model.layers[0].get_weights()
w_batch, b_batch, _ = fits["batch"]
print(f"Keras  w {kernel.ravel()}, b {bias[0]:.6f}")
print(f"NumPy  w {w_batch}, b {b_batch:.6f}")
print(f"largest difference: {max(np.abs(kernel.ravel() - w_batch).max(), abs(bias[0] - b_batch)):.2e}")

# %% [markdown]
# ## What the course got wrong, and what is fixed here
#
# * **A function that reads a global** (the tutorial's notebook only): its `batch_gradient_descent(x, ...)`
#   computes `np.dot(w,scaled_x.T)+bias` from the global `scaled_x`, not from its argument `x`.
# * **A bias that does not accumulate** (the tutorial's notebook only): `b=bias-learning_rate*b_grad` with `bias`
#   still 0, so its batch run returned b = -0.0008 and cost 0.0085. The original writes `b = b - learning_rate *
#   b_grad` and reaches cost 0.00686, the figure this lesson reproduces.
# * **One sample's gradient divided by all the samples** (both versions): the stochastic step computes
#   `-(2/total_samples)*(sample_x.T.dot(sample_y-y_predicted))` from a single house, a step 20 times too short.
#   Here a step divides by the rows it saw, $|B|$.
# * **A function that does not exist** (the original only): its stochastic cell calls `SGD(scaled_X, ...)`, which
#   no cell defines; the result it shows is left over from an earlier session. Run top to bottom, the notebook
#   stops there.
# * **Mixed-up plots** (the tutorial's notebook): its mini-batch function appends to the batch run's global
#   `cost_list`, so its plot mixes both runs. Here each variant keeps its own costs.
# * **Unseeded shuffles** (both versions): `random.randint` and `np.random.permutation`. Here `seed` fixes them.

# %%
run.finish(
    {
        "batch_w1": fits["batch"][0][0],
        "batch_w2": fits["batch"][0][1],
        "batch_b": fits["batch"][1],
        "batch_cost": fits["batch"][2][-1],
        "sgd_cost": fits["sgd"][2][-1],
        "minibatch_cost": fits["minibatch"][2][-1],
        "ols_w1": w_ols[0],
        "ols_w2": w_ols[1],
        "ols_b": b_ols,
        "ols_cost": ols_cost,
    },
    course={"batch_w1": 0.7071, "batch_w2": 0.6746, "batch_b": -0.2303, "batch_cost": 0.00686},
    course_label="the course (the original's batch GD; the tutorial's buggy run: cost 0.0085)",
    history=pd.DataFrame({"epoch": np.arange(1, epochs + 1), **{f"{m}_cost": c for m, (_w, _b, c) in fits.items()}}),
    details={"prices": prices.to_dict(orient="records")},
)

# %% [markdown]
# ## Exercises
#
# Fill in each code cell and run it: `check(...)` says at once whether the answer is right, and if not, the first
# input where it differs, what was expected (from scikit-learn or NumPy), what your code returned, and a hint. A cell
# you have not touched says "not attempted yet". `keraslab notebook gd-variants --solutions` writes this notebook
# with the reference solutions filled in. (The original course's exercise here, mini-batch gradient descent in
# `8_sgd_vs_gd/mini_batch_gd_exercise_solution.ipynb`, is written out in the lesson above: change `batch_size`.)
#
# The checks are for learning, not grading: each draws fresh inputs every time it runs and works out its own
# answer only after yours has returned. They make the honest answer the easy one; they cannot make cheating
# impossible, and nobody is keeping score.

# %%
from keraslab.exercises import check

# %% [markdown]
# ### Exercise 1 (write it): min-max scaling fitted on the training part
#
# This lesson scales every house with one `MinMaxScaler`: fine for fitting a line to all of them, wrong as soon as
# some houses are kept aside to test on, because then the test houses shape the scaling. Write
# `min_max_scale(train, test)`: the minimum and maximum of each column of `train` only, applied to both parts;
# return `(train_scaled, test_scaled)`.


# %%
def min_max_scale(train, test):
    ### BEGIN SOLUTION
    lo, hi = train.min(axis=0), train.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)  # a constant column has no range: it maps to 0, as in scikit-learn
    return (train - lo) / span, (test - lo) / span
    ### END SOLUTION


check("gd_variants.min_max_scale", min_max_scale)

# %% [markdown]
# ### Exercise 2 (write it): one mini-batch step on another cost
#
# `step` above goes down the mean squared error. Write `mae_step(X_b, y_b, w, b, learning_rate)`: one step down the
# *mean absolute error* of the rows it sees, returning `(w, b)`. The derivative of $|r|$ is the sign of $r$.


# %%
def mae_step(X_b, y_b, w, b, learning_rate):
    ### BEGIN SOLUTION
    sign = np.sign(y_b - (X_b @ w + b))
    return w + learning_rate * (X_b.T @ sign) / len(y_b), b + learning_rate * float(sign.mean())
    ### END SOLUTION


check("gd_variants.mae_step", mae_step)

# %% [markdown]
# ### Exercise 3 (predict, then run): stochastic against batch, epoch for epoch
#
# The three runs above had the same number of epochs and the same learning rate. **Is the stochastic run's last
# cost lower or higher than the batch run's?** Write "lower" or "higher" as `prediction`, then run the cell.

# %%
prediction = None  # "lower" or "higher"
### BEGIN SOLUTION
prediction = "lower"
### END SOLUTION

last_cost = {method: fits[method][2][-1] for method in ("batch", "sgd")}
check(
    "gd_variants.sgd_vs_batch",
    prediction,
    measured="lower" if last_cost["sgd"] < last_cost["batch"] else "higher",
    costs=last_cost,
)
