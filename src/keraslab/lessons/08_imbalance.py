# %% [markdown]
# # Lesson 8 of 9: imbalanced data, every strategy compared honestly
#
# *Replaces the course's notebook "9_balancing ,unbalance dataset" (the tutorial repository,
# RNVALA/Deep-Learning-with-tensorflow-2.0-keras-and-python), a copy of "14_imbalanced/handling_imbalanced_data.ipynb"
# in the original course (codebasics/deep-learning-keras-tf-tutorial).* Only about a quarter of the telecom
# customers churn, so a network trained as it is leans towards "no churn" and misses many churners. The usual
# remedies change what the network trains on (under- or over-sampling, SMOTE), how much each class counts (class
# weights, the focal loss), or train several networks on balanced slices (an ensemble). We try them all on the same
# untouched test customers.
#
# What you will see: what each strategy does to the training part, the one rule that keeps the comparison honest
# (split first; resample the training part only), every strategy averaged over seeds, and the course's leak
# reproduced to see how much it inflated its figures.

# %%
import os
from typing import Literal

os.environ["KERAS_BACKEND"] = os.environ.get("KERAS_BACKEND", "jax")  # or "torch", "tensorflow": before Keras loads

# %% tags=["parameters"]
seed: int = 0  # in [0, 2**32): the first seed; seeds seed, seed + 1, ... each give one split and initialisation
quick: bool = False  # a smoke run: one seed, 3 epochs
epochs: int | None = None  # in [1, inf): passes over the training part; None: 100 (3 when quick)
seeds: int = 5  # in [1, inf): how many seeds (splits and initialisations) to average over (1 when quick)
dataset: Literal["churn", "sonar", "insurance"] = "churn"  # a table with a two-class target (the course's: churn)
strategies: str = "all"  # comma-separated names of the strategies below (baseline, smote, ...), or all
protocol: Literal["honest", "tutorial"] = "honest"  # tutorial: also the course's leaky protocol, labelled
tune_threshold: bool = False  # also pick each strategy's threshold on a validation slice of the training part
k: int = 3  # in [1, inf): networks in the balanced ensemble
gamma: float = 2.0  # in [0, inf): the focal loss's focusing parameter
alpha: float = 0.75  # in [0, 1]: the focal loss's weight of the minority class (1 - alpha for the other)
k_neighbors: int = 5  # in [1, inf): SMOTE's neighbours
batch_size: int = 32  # in [1, inf): rows per training step
data_dir: str | None = None  # None: $KERASLAB_DATA, else ~/.cache/keraslab

# %%
# %matplotlib inline
import keras
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from keraslab import datasets, plots
from keraslab.imbalance import (
    REGISTRY,
    KerasTrainer,
    LabSettings,
    balanced_class_weight,
    binary_focal_loss,
    compare,
    parse_strategies,
    resample,
    summarise,
    summary_keys,
)
from keraslab.lessons import begin
from keraslab.tables import ChurnPreprocessor, TablePreprocessor

epochs = (3 if quick else 100) if epochs is None else epochs  # the course trained 100 epochs
seeds = 1 if quick else seeds
run = begin("imbalance", globals())  # checks the values above, seeds Python, NumPy and Keras, says how it is made
chosen = list(REGISTRY) if strategies.strip() == "all" else parse_strategies(strategies)

# %% [markdown]
# ## The data
#
# The churn table of lesson 6, with its preprocessing (yes/no to 1/0, one-hot categories, min-max scaling fitted on
# the training part) packaged as `ChurnPreprocessor`: that was lesson 6's subject; this lesson's is the balance.
# Another table with a two-class target works too (`dataset`): its smaller class is the one of interest, and it is
# preprocessed by `TablePreprocessor` (numeric columns scaled, categories one-hot).

# %%
table = datasets.load(dataset, data_dir=data_dir)
counts = table.y.value_counts()
if len(counts) != 2:
    raise ValueError(f"dataset {dataset!r}: the target {table.target!r} has {len(counts)} classes; this lesson needs 2")
positive = "Yes" if dataset == "churn" else counts.idxmin()
X, y = table.X, (table.y == positive).to_numpy("int64")
prepare = ChurnPreprocessor if dataset == "churn" else TablePreprocessor
display(counts.rename("rows").to_frame())
print(f"{y.mean():.1%} of the rows are of class {positive!r}, the class of interest")

# %% [markdown]
# ## The network
#
# Inputs, 26 and 15 ReLU units, one sigmoid output (the sizes of both versions' imbalance notebook; the churn
# lesson keeps the tutorial's 20 and 12); Adam; binary cross-entropy unless a strategy changes the loss. Every fit
# below starts it from fresh weights drawn after `set_seed` of its seed.


# %%
def churn_net(n_features):
    return keras.Sequential(
        [
            keras.Input((n_features,)),
            keras.layers.Dense(26, activation="relu"),
            keras.layers.Dense(15, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )


churn_net(26).summary()

# %% [markdown]
# ## The strategies
#
# Each one is a function of the **training part only**; keraslab's imbalance lab (`keraslab.imbalance`, the same
# registry `keraslab train --imbalance` uses) implements them with imbalanced-learn and Keras.
#
# **Class weights.** Each row's loss is multiplied by its class's weight, $w_c = n / (2 n_c)$: the rarer class
# counts more, and both classes weigh the same in total.
#
# **Resampling** (imbalanced-learn): drop majority rows at random until the classes are equal (under-sampling),
# repeat minority rows at random (over-sampling), or create new minority rows between a minority row and one of its
# nearest minority neighbours, $x_\text{new} = x + u\,(x_\text{neighbour} - x)$ with $u$ drawn from $[0, 1]$
# (SMOTE).
#
# **Balanced ensemble.** Cut the majority into $k$ disjoint slices; train one network on each slice plus every
# minority row; combine by majority vote or by the mean probability.
#
# **Focal loss** (Lin et al. 2017). With $p_t$ the probability given to the true class, the cross-entropy
# $-\ln p_t$ is multiplied by $(1 - p_t)^\gamma$, which silences the rows the network already gets right, and
# weighted $\alpha$ for the class of interest and $1 - \alpha$ for the other:
#
# $$FL = -\alpha_t (1 - p_t)^\gamma \ln p_t$$
#
# Keras's default $\alpha = 0.25$ comes from object detection and down-weights the minority; here $\alpha = 0.75$
# weights it (measured on churn over 5 seeds: F1 0.373 with 0.25, 0.587 with 0.75).
#
# What each one does to the first seed's training part:

# %%
train_idx, _ = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=seed)
X_part = prepare().fit(X.iloc[train_idx]).transform(X.iloc[train_idx])
y_part = y[train_idx]
effect = {"training part": np.bincount(y_part, minlength=2)}
for name in ("undersample", "oversample", "smote"):
    effect[name] = np.bincount(resample(X_part, y_part, name, seed, k_neighbors)[1], minlength=2)
display(pd.DataFrame(effect, index=["other class", f"class {positive!r}"]).T.rename_axis("rows of each class"))
print("balanced class weights:", {c: round(w, 3) for c, w in balanced_class_weight(y_part).items()})


def focal_by_hand(y, p, gamma=gamma, alpha=alpha, epsilon=1e-7):
    p_t = y * p + (1 - y) * (1 - p)
    alpha_t = y * alpha + (1 - y) * (1 - alpha)
    return float(np.mean(-alpha_t * (1 - p_t) ** gamma * np.log(np.clip(p_t, epsilon, 1 - epsilon))))


y_demo, p_demo = np.array([1.0, 1.0, 0.0, 0.0]), np.array([0.9, 0.3, 0.2, 0.6])
print(
    f"focal loss by hand {focal_by_hand(y_demo, p_demo):.6f}, the lab's Keras loss "
    f"{float(binary_focal_loss(gamma, alpha)(y_demo, p_demo)):.6f}, plain cross-entropy "
    f"{float(keras.losses.BinaryCrossentropy()(y_demo, p_demo)):.6f}"
)

# %% [markdown]
# ## The rule, written out once
#
# One strategy (SMOTE), one seed, in plain scikit-learn, imbalanced-learn and Keras. The order is the whole point:
# the test customers are set aside first, and nothing that learns from data (the scaler, SMOTE, the network) ever
# sees them.

# %%
from imblearn.over_sampling import SMOTE
from sklearn.metrics import f1_score

from keraslab import training
from keraslab.seeding import set_seed

# 1. split first: 20% of the customers, stratified, are the test part, untouched from here on
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=seed)
# 2. the preprocessing (min-max scaling, one-hot categories) learns its parameters from the training part only
preprocessor = prepare().fit(X_train)
X_train, X_test = preprocessor.transform(X_train), preprocessor.transform(X_test)
# 3. resample the training part only: SMOTE adds minority rows until both classes have as many
X_smote, y_smote = SMOTE(k_neighbors=k_neighbors, random_state=seed).fit_resample(X_train, y_train)
# 4. train a fresh network on the resampled training part
set_seed(seed)
net = churn_net(X_train.shape[1])
net.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
training.fit(net, X_smote, y_smote.astype("float32"), epochs=epochs, batch_size=batch_size, verbose=0)
# 5. score on the untouched test part, which keeps the real balance
y_pred = (net.predict(X_test, verbose=0).ravel() >= 0.5).astype(int)
print(f"training rows of each class: {np.bincount(y_train)} -> after SMOTE {np.bincount(y_smote)}")
print(f"SMOTE, seed {seed}: F1 of class {positive!r} {f1_score(y_test, y_pred):.3f} on {len(y_test)} test customers")

# %% [markdown]
# ## The honest protocol, for every strategy and seed
#
# `compare` repeats these five steps for each strategy and each seed: one stratified 80/20 split; the
# preprocessing fitted on the training part; every strategy sees the training part only; all are scored on the same
# untouched test customers, at the threshold 0.5 (and, with `tune_threshold`, at a threshold picked on a validation
# slice of the training part). F1, precision and recall are for the class of interest; PR-AUC summarises the
# ranking at every threshold. With `protocol="tutorial"` the
# course's protocol runs beside it (below).

# %%
settings = LabSettings(
    epochs=epochs,
    batch_size=batch_size,
    k=k,
    gamma=gamma,
    alpha=alpha,
    k_neighbors=k_neighbors,
    tune_threshold=tune_threshold,
)
rows = compare(
    X,
    y,
    strategies=chosen,
    seeds=[seed + i for i in range(seeds)],
    settings=settings,
    preprocessor=prepare,
    protocol=protocol,
    trainer=KerasTrainer(settings, build=churn_net),
    progress=print,
)

# %% [markdown]
# ## All strategies

# %%
results = summarise(rows)
spread = f"mean ± sd over {seeds} seeds" if seeds > 1 else "one seed: no spread to show (seeds > 1 gives one)"
shown = results[["protocol", "strategy", "threshold_kind", "threshold"]].copy()
for metric in ("f1", "precision", "recall", "pr_auc", "balanced_accuracy", "accuracy"):
    shown[metric] = [
        f"{m:.3f}" if seeds == 1 else f"{m:.3f} ± {s:.3f}"
        for m, s in zip(results[metric], results[f"{metric}_sd"], strict=True)
    ]
print(f"class {positive!r}: {spread}")
display(shown)
labels = [
    r.strategy
    + (" (tuned)" if r.threshold_kind == "tuned" else "")
    + (" [TUTORIAL, leaky]" if r.protocol != "honest" else "")
    for r in results.itertuples()
]
plots.bars(
    labels,
    results["f1"],
    results["f1_sd"] if seeds > 1 else None,
    title=f"F1 of class {positive!r} ({spread})",
    ylabel="F1",
)

# %%
honest = results[(results.protocol == "honest") & (results.threshold_kind == "0.5")].set_index("strategy")
best = honest["f1"].idxmax()
if run.conclusive and seeds > 1:  # a quick or one-seed run shows its table and ranks nothing
    print(f"highest F1: {best}, {honest.loc[best, 'f1']:.3f} ± {honest.loc[best, 'f1_sd']:.3f} over {seeds} seeds")

# %% [markdown]
# ## The course's leak, reproduced
#
# Both versions of the course scaled and resampled **every** row, and only then split: `df_class_0.sample(...)`,
# `df_class_1.sample(..., replace=True)` and SMOTE (the tutorial's `smote.fit_resample(X,y)`; the original's
# `smote.fit_sample(X, y)`, imbalanced-learn's older name) run on the whole table before
# `train_test_split`. Over-sampling then puts copies of test rows in the training part, and SMOTE interpolations
# between them; the test part is balanced too, which alone raises the precision of the minority class. Run with
# `protocol="tutorial"` to see it: those rows, labelled, train and score exactly that way.

# %%
if protocol == "tutorial":
    for name in chosen:
        if name in honest.index and f"tutorial_{name}_f1" in summary_keys(results):
            leaky = summary_keys(results)[f"tutorial_{name}_f1"]
            print(
                f"{name}: honest {honest.loc[name, 'f1']:.3f}, tutorial (leaky) {leaky:.3f} "
                f"({leaky - honest.loc[name, 'f1']:+.3f})"
            )
else:
    print("protocol='honest': the leaky protocol was not run")

# %% [markdown]
# ## What the course got wrong, and what is fixed here
#
# * **Resampling before the split** (both versions): the over-sampling and SMOTE figures (F1 of the churners 0.79
#   and 0.82 in the tutorial, 0.80 and 0.82 in the original) are inflated by the leak above.
# * **Strategies described but not built**: the tutorial describes the balanced ensemble and the focal loss only in
#   its markdown; the original builds the ensemble (three networks, majority vote: churn F1 0.57, accuracy 0.70)
#   but no focal loss (it imports `tensorflow_addons.losses` and never uses it). Here all of them run.
# * **A "balanced" over-sampling that is not** (the tutorial's notebook only): it counts the classes on the table
#   before the 11 blank rows are dropped (`df.Churn.value_counts()`: 5174), so its "balanced" classes are 5174 and
#   5163. The imbalanced-learn samplers here count the rows they are given.
# * **`np.round` for a threshold and one unseeded run per strategy** (both versions). Here the threshold is written
#   out, and each strategy is averaged over seeds, with its spread.

# %%
summary = summary_keys(results)
summary["best_f1"] = float(honest["f1"].max())
if "baseline" in honest.index:
    summary["best_minus_baseline_f1"] = float(honest["f1"].max() - honest.loc["baseline", "f1"])
run.finish(
    summary,
    course={"baseline_f1": 0.54, "undersample_f1": 0.74, "oversample_f1": 0.79, "smote_f1": 0.82, "best_f1": 0.82},
    course_label="the course (the tutorial's notebook: leaky, one unseeded run each)",
    details={
        "rows": rows.to_dict(orient="records"),
        "best_strategy": best if run.conclusive and seeds > 1 else None,  # a quick or one-seed run ranks nothing
        "strategies_run": [REGISTRY[name].summary for name in chosen],
    },
)

# %% [markdown]
# ## Exercises
#
# Fill in each code cell and run it: `check(...)` says at once whether the answer is right, and if not, where it
# differs, what was expected, what your code returned, and a hint. A cell you have not touched says "not attempted
# yet". `keraslab notebook imbalance --solutions` writes this notebook with the reference solutions filled in.
#
# The checks are for learning, not grading: each draws fresh inputs every time it runs, works out its own answer
# only after yours has returned, and trains a fresh copy of a model you build. They make the honest answer the
# easy one; they cannot make cheating impossible, and nobody is keeping score.

# %%
from keraslab.exercises import check

# %% [markdown]
# ### Exercise 1 (write it): random under-sampling by hand
#
# Write `undersample(X, y, rng)` for a two-class `y` (0 and 1): keep every row of the rarer class and as many rows
# of the other class, drawn without replacement with `rng` (a NumPy `Generator`); return `(X_resampled,
# y_resampled)` as arrays.


# %%
def undersample(X, y, rng):
    ### BEGIN SOLUTION
    minority = np.argmin(np.bincount(y, minlength=2))
    rare = np.flatnonzero(y == minority)
    common = rng.choice(np.flatnonzero(y != minority), size=len(rare), replace=False)
    rows = np.concatenate([rare, common])
    return X[rows], y[rows]
    ### END SOLUTION


check("imbalance.undersample", undersample)

# %% [markdown]
# ### Exercise 2 (write it): split first, then resample
#
# Both versions of the course resample the whole table and split it afterwards, so copies of test rows sit in the
# training part and the reported F1 is inflated. Write `split_then_resample(X, y, seed)`: a stratified 80/20 split
# (`train_test_split`, `random_state=seed`), then the training part alone balanced by any resampling you like;
# return `(X_train, X_test, y_train, y_test)`. The check looks for test rows in the training part.


# %%
def split_then_resample(X, y, seed):
    ### BEGIN SOLUTION
    from imblearn.over_sampling import RandomOverSampler

    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=seed)
    X_train, y_train = RandomOverSampler(random_state=seed).fit_resample(X_train, y_train)
    return X_train, X_test, y_train, y_test
    ### END SOLUTION


check("imbalance.split_then_resample", split_then_resample)

# %% [markdown]
# ### Exercise 3 (build it): the course's exercise, with a simpler classifier
#
# The original course's exercise (`14_imbalanced/handling_imbalanced_data_exercise.md`): use scikit-learn's logistic
# regression instead of the network, and raise the F1 of the churners with the imbalance techniques. Make
# `my_classifier`, a scikit-learn classifier or pipeline (an imbalanced-learn `Pipeline` that resamples is fine: it
# resamples only what it is fitted on). The check fits it on the first seed's training part and asks for an F1 on
# the untouched test part at least 0.01 above a plain `LogisticRegression`'s.

# %%
my_classifier = None  # a scikit-learn classifier, not fitted yet
### BEGIN SOLUTION
from sklearn.linear_model import LogisticRegression

my_classifier = LogisticRegression(class_weight="balanced", max_iter=1000)
### END SOLUTION

train_rows, test_rows = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=seed)
fitted_prep = prepare().fit(X.iloc[train_rows])
split = (
    fitted_prep.transform(X.iloc[train_rows]),
    y[train_rows],
    fitted_prep.transform(X.iloc[test_rows]),
    y[test_rows],
)
check("imbalance.logistic", my_classifier, data=split)

# %% [markdown]
# ### Exercise 4 (predict, then run): under-sampling and precision
#
# Under-sampling trains the network on as many churners as stayers. **Compared with the baseline, does the precision
# of the churners on the untouched test part go up, down, or stay the same?** Write "up", "down" or "same" as
# `prediction`, then run the cell. (It reads the results table above: run the lesson with both strategies.)

# %%
prediction = None  # "up", "down" or "same"
### BEGIN SOLUTION
prediction = "down"
### END SOLUTION

if prediction is not None and not (run.conclusive and seeds > 1):  # one quick seed's table is noise: no verdict
    print(f"not graded: this run ({run.how_made()}, {seeds} seed(s)) is too small to tell; run the lesson in full")
elif {"baseline", "undersample"} <= set(honest.index):
    precision_of = {name: float(honest.loc[name, "precision"]) for name in ("baseline", "undersample")}
    change = precision_of["undersample"] - precision_of["baseline"]
    check(
        "imbalance.undersampling_precision",
        prediction,
        measured="up" if change > 0 else "down" if change < 0 else "same",
        precision=precision_of,
    )
else:
    print("this run compared neither the baseline nor under-sampling: set strategies = 'all' and run again")
