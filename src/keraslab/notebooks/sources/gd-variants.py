# %% [markdown]
# # Lesson 4 of 9: batch, stochastic and mini-batch gradient descent
#
# *The course's notebook 5.* Home prices from area and bedrooms with a straight line,
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
seed: int = 0  # the order in which stochastic and mini-batch steps visit the houses
quick: bool = False  # True: 100 epochs
epochs: int | None = None  # None: 500 (100 when quick)
dataset: str = "homeprices"  # the course's 20 houses in Bangalore (the only dataset this lesson reads)
data_home: str | None = None  # None: $KERASLAB_DATA, else ~/.cache/keraslab
learning_rate: float = 0.01
batch_size: int = 5  # houses per mini-batch step

# %%
# %matplotlib inline
import keras
import numpy as np
import pandas as pd
from IPython.display import display
from sklearn.preprocessing import MinMaxScaler

from keraslab import datasets
from keraslab.runs import plots
from keraslab.seeding import set_seed

EPOCHS = epochs or (100 if quick else 500)
print(f"Keras {keras.__version__} on {keras.backend.backend()}; {EPOCHS} epochs, learning rate {learning_rate}")

# %% [markdown]
# ## The data
#
# 20 houses; price in lakh rupees. Area runs to thousands and bedrooms to 5, so both inputs and the price are
# min-max scaled to [0, 1] (every house is used for fitting here: there is no test set in this lesson).

# %%
frame = datasets.load(dataset, data_dir=data_home).frame
display(frame.head())
x_scaler, y_scaler = MinMaxScaler(), MinMaxScaler()
X = x_scaler.fit_transform(frame[["area", "bedrooms"]].to_numpy("float64"))
y = y_scaler.fit_transform(frame[["price"]].to_numpy("float64")).ravel()
n = len(y)

# %% [markdown]
# ## One function, three variants
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
def gradient_descent(X, y, method, epochs, learning_rate, batch_size, seed):
    rng = np.random.default_rng(seed)
    w, b = np.ones(X.shape[1]), 0.0  # the course's start
    step = {"batch": len(y), "sgd": 1, "minibatch": min(batch_size, len(y))}[method]
    costs = []
    for _ in range(epochs):
        costs.append(float(np.mean((y - (X @ w + b)) ** 2)))
        order = np.arange(len(y)) if method == "batch" else rng.permutation(len(y))
        for start in range(0, len(y), step):
            idx = order[start : start + step]
            residual = y[idx] - (X[idx] @ w + b)
            w = w + learning_rate * (2.0 / len(idx)) * (X[idx].T @ residual)
            b = b + learning_rate * (2.0 / len(idx)) * float(residual.sum())
    return w, b, costs


fits = {m: gradient_descent(X, y, m, EPOCHS, learning_rate, batch_size, seed) for m in ("batch", "sgd", "minibatch")}
plots.curves(
    {m: costs for m, (_w, _b, costs) in fits.items()}, title="cost (MSE, scaled) per epoch", ylabel="MSE", logy=True
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
steps = {"batch": 1, "sgd": n, "minibatch": int(np.ceil(n / min(batch_size, n)))}
rows = [
    {"method": m, "w1 (area)": w[0], "w2 (bedrooms)": w[1], "b": b, "cost": costs[-1], "updates": EPOCHS * steps[m]}
    for m, (w, b, costs) in fits.items()
]
rows.append(
    {
        "method": "closed form",
        "w1 (area)": w_ols[0],
        "w2 (bedrooms)": w_ols[1],
        "b": b_ols,
        "cost": float(np.mean((y - A @ coef) ** 2)),
        "updates": 0,
    }
)
display(pd.DataFrame(rows))

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
display(prices.round(2))

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
model.fit(X.astype("float32"), y.astype("float32"), epochs=EPOCHS, batch_size=n, shuffle=False, verbose=0)
kernel, bias = model.layers[0].get_weights()
w_batch, b_batch, _ = fits["batch"]
print(f"Keras  w {kernel.ravel()}, b {bias[0]:.6f}")
print(f"NumPy  w {w_batch}, b {b_batch:.6f}")
print(f"largest difference: {max(np.abs(kernel.ravel() - w_batch).max(), abs(bias[0] - b_batch)):.2e}")

# %% [markdown]
# ## What the course got wrong, and what is fixed here
#
# * Its batch function read the global `scaled_X` instead of its argument, and kept its bias at 0.
# * Its mini-batch function appended to the batch run's cost list, so its plot mixed both runs.
# * Its shuffles were unseeded: here `seed` fixes them.
#
# `keraslab run gd-variants` reaches the same figures from the command line (a test checks it).

# %%
summary = {
    "batch_w1": float(fits["batch"][0][0]),
    "batch_w2": float(fits["batch"][0][1]),
    "batch_b": float(fits["batch"][1]),
    "batch_cost": fits["batch"][2][-1],
    "sgd_cost": fits["sgd"][2][-1],
    "minibatch_cost": fits["minibatch"][2][-1],
}
course = {"batch_w1": 0.7071, "batch_w2": 0.6746, "batch_b": -0.2303, "batch_cost": 0.00686}
data_kind = "substitute" if datasets.is_substitute(dataset) else "real"  # small copies in the real formats, or not
how_made = f"this run ({'quick' if quick else 'full'}, seed {seed}, {data_kind} {dataset} data)"
pd.DataFrame({how_made: summary, "the course (the original's batch GD)": course}).round(5)
