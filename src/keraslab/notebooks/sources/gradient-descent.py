# %% [markdown]
# # Lesson 3 of 9: gradient descent for one neuron, by hand and in Keras
#
# *The course's notebook 4.* Did a person buy insurance? We predict it from their age and "affordibility" (1 if
# they can afford it) with one sigmoid neuron, $\hat y = \sigma(w_1 \cdot \text{age} + w_2 \cdot
# \text{affordibility} + b)$, trained by gradient descent written out in NumPy; then the same neuron in Keras.
#
# What you will see: the update rule derived and coded, a numerical check of the gradient, the loss falling epoch
# by epoch, and Keras reaching the same weights. The course's version never updated its bias; ours does.

# %%
import os

os.environ["KERAS_BACKEND"] = os.environ.get("KERAS_BACKEND", "jax")  # or "torch", "tensorflow": before Keras loads

# %% tags=["parameters"]
seed: int = 0  # Keras's seed (the neuron starts from fixed weights, so nothing else is random)
quick: bool = False  # True: 200 epochs
epochs: int | None = None  # None: 1000 (200 when quick)
dataset: str = "insurance"  # the course's 28-row table (the only dataset this lesson reads)
data_home: str | None = None  # None: $KERASLAB_DATA, else ~/.cache/keraslab
learning_rate: float = 0.5

# %%
# %matplotlib inline
import keras
import numpy as np
import pandas as pd
from IPython.display import display
from sklearn.model_selection import train_test_split

from keraslab import datasets
from keraslab.runs import plots
from keraslab.seeding import set_seed

EPOCHS = epochs or (200 if quick else 1000)
print(f"Keras {keras.__version__} on {keras.backend.backend()}; {EPOCHS} epochs, learning rate {learning_rate}")

# %% [markdown]
# ## The data
#
# 28 people. The course splits them 80/20 with `random_state=42` and divides age by 100, so that both features
# are near [0, 1].

# %%
frame = datasets.load(dataset, data_dir=data_home).frame
display(frame.head())
X_train, X_test, y_train, y_test = train_test_split(
    frame[["age", "affordibility"]].astype("float64"), frame["bought_insurance"], test_size=0.2, random_state=42
)
X_train, X_test = X_train.copy(), X_test.copy()
X_train["age"] /= 100
X_test["age"] /= 100
x_train, x_test = X_train.to_numpy(), X_test.to_numpy()
y_train, y_test = y_train.to_numpy("float64"), y_test.to_numpy("float64")
print(f"{len(x_train)} training rows, {len(x_test)} test rows")

# %% [markdown]
# ## The update rule
#
# With $z = Xw + b$, $\hat y = \sigma(z) = 1 / (1 + e^{-z})$ and the log loss
# $L = -\frac{1}{n}\sum_i [y_i \ln \hat y_i + (1 - y_i)\ln(1 - \hat y_i)]$, the chain rule gives a remarkably
# simple derivative, $\partial L / \partial z_i = (\hat y_i - y_i) / n$, hence
#
# $$\frac{\partial L}{\partial w} = \frac{1}{n} X^\top (\hat y - y) \qquad
# \frac{\partial L}{\partial b} = \frac{1}{n} \sum_i (\hat y_i - y_i)$$
#
# and each epoch steps both downhill: $w \leftarrow w - \eta \, \partial L/\partial w$ and
# $b \leftarrow b - \eta \, \partial L/\partial b$. (The course wrote the first and forgot the second.)


# %%
def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def log_loss(y, y_hat, epsilon=1e-7):
    p = np.clip(y_hat, epsilon, 1 - epsilon)
    return float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p))))


def gradients(X, y, w, b):
    error = sigmoid(X @ w + b) - y  # dL/dz, times n
    return X.T @ error / len(y), float(error.mean())


def gradient_descent(X, y, epochs, learning_rate):
    w, b = np.ones(X.shape[1]), 0.0  # the course's start: w = 1, b = 0
    losses = []
    for _ in range(epochs):
        losses.append(log_loss(y, sigmoid(X @ w + b)))
        dw, db = gradients(X, y, w, b)
        w = w - learning_rate * dw
        b = b - learning_rate * db  # the line the course forgot
    return w, b, losses


# %% [markdown]
# ### Is the gradient right? Check it numerically
#
# A derivative is a slope: nudge one weight by $\pm h$ and the loss should change by about $2h$ times the
# gradient. A check that cannot fail proves nothing, so we also check a wrong gradient (the bias's gradient left
# at 0, the course's bug), which must fail.

# %%
w0, b0, h = np.array([0.3, -0.2]), 0.1, 1e-6
dw, db = gradients(x_train, y_train, w0, b0)
numeric_dw = [
    (log_loss(y_train, sigmoid(x_train @ (w0 + h * e) + b0)) - log_loss(y_train, sigmoid(x_train @ (w0 - h * e) + b0)))
    / (2 * h)
    for e in np.eye(2)
]
numeric_db = (log_loss(y_train, sigmoid(x_train @ w0 + b0 + h)) - log_loss(y_train, sigmoid(x_train @ w0 + b0 - h))) / (
    2 * h
)
print("dL/dw analytic", dw, "numeric", np.array(numeric_dw))
print(f"dL/db analytic {db:.8f} numeric {numeric_db:.8f}")
assert np.allclose(dw, numeric_dw, atol=1e-6) and abs(db - numeric_db) < 1e-6
assert abs(0.0 - numeric_db) > 1e-3  # the negative control: a bias gradient of 0 is caught

# %% [markdown]
# ## Training by hand

# %%
w, b, losses = gradient_descent(x_train, y_train, EPOCHS, learning_rate)
scratch_proba = sigmoid(x_test @ w + b)
scratch_accuracy = float(np.mean((scratch_proba >= 0.5) == y_test))
print(f"w1 (age) {w[0]:.5f}, w2 (affordibility) {w[1]:.5f}, b {b:.5f}; final training loss {losses[-1]:.5f}")
print(f"test accuracy {scratch_accuracy:.4f}")

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
history = model.fit(
    x_train.astype("float32"),
    y_train.astype("float32"),
    epochs=EPOCHS,
    batch_size=len(x_train),
    shuffle=False,
    verbose=0,
)
kernel, bias = model.layers[0].get_weights()
keras_proba = model.predict(x_test.astype("float32"), verbose=0).ravel()
keras_accuracy = float(np.mean((keras_proba >= 0.5) == y_test))
print(f"Keras: w1 {kernel[0, 0]:.5f}, w2 {kernel[1, 0]:.5f}, b {bias[0]:.5f}; test accuracy {keras_accuracy:.4f}")
print(f"largest difference from the NumPy weights: {max(np.abs(kernel.ravel() - w).max(), abs(bias[0] - b)):.2e}")
plots.curves(
    {"from scratch (NumPy)": losses, "Keras (SGD)": history.history["loss"]},
    title="log loss per epoch",
    ylabel="binary cross-entropy",
)

# %% [markdown]
# ## The test rows

# %%
display(
    pd.DataFrame(
        {
            "age": X_test["age"].to_numpy() * 100,
            "affordibility": X_test["affordibility"].to_numpy(),
            "bought_insurance": y_test.astype(int),
            "P (NumPy)": scratch_proba,
            "P (Keras)": keras_proba,
        }
    )
)

# %% [markdown]
# ## What the course got wrong, and what is fixed here
#
# * Its gradient descent never updated the bias: `b` stayed 0 and the weights (1.078, -0.024) compensated badly
#   (test accuracy 0.83). With the bias updated, the neuron separates the six test rows.
# * Its Keras model used Adam, so the two could not be compared; here both use plain gradient descent.
#
# `keraslab run gradient-descent` reaches the same figures from the command line (a test checks it).

# %%
summary = {
    "scratch_w1": float(w[0]),
    "scratch_w2": float(w[1]),
    "scratch_b": float(b),
    "scratch_test_accuracy": scratch_accuracy,
    "keras_test_accuracy": keras_accuracy,
}
course = {"scratch_w1": 1.0779, "scratch_w2": -0.0236, "scratch_b": 0.0, "scratch_test_accuracy": 0.8333}
data_kind = "substitute" if datasets.is_substitute(dataset) else "real"  # small copies in the real formats, or not
how_made = f"this run ({'quick' if quick else 'full'}, seed {seed}, {data_kind} {dataset} data)"
pd.DataFrame({how_made: summary, "the course (bias never updated)": course}).round(4)
