"""The wrong answers learners really write, each refused with a hint that names the mistake; the right answers a
learner tryout found refused, each accepted; and the checks' own guarantees: inputs drawn afresh, the expected value
out of the answer's reach, the reference not callable from inside it, a fresh copy trained for a build check, the
first differing element shown, float32 judged as Keras computes it."""

from __future__ import annotations

import contextlib
import inspect
import io
import linecache

import numpy as np
import pytest

from keraslab.exercises import check, evaluate
from keraslab.exercises.checking import FAILED, PASSED, pinned_inputs
from keraslab.exercises.model_checks import layers_of

# ---- dropout.mask: no randomness ------------------------------------------------------------------------------


def _first_share(x, rate, rng):
    out = x.copy()
    out[:, : int(rate * x.shape[1])] = 0
    return out / (1 - rate)


def _fixed_pattern(x, rate, rng):
    keep = (np.arange(x.size).reshape(x.shape) * 7919 % 100) >= rate * 100
    return x * keep / (1 - rate)


def _reseeded(x, rate, rng):
    keep = np.random.default_rng(42).random(x.shape) >= rate
    return x * keep / (1 - rate)


def _global_state(x, rate, rng):
    keep = np.random.random(x.shape) >= rate
    return x * keep / (1 - rate)


def _one_row_mask(x, rate, rng):
    keep = rng.random(x.shape[1]) >= rate  # the same places dropped in every row
    return x * keep / (1 - rate)


def _exact_count(x, rate, rng):
    keep = np.argsort(rng.random(x.shape), axis=1) >= int(rate * x.shape[1])  # exactly rate of each row
    return x * keep / (1 - rate)


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (_first_share, "the same values are dropped on every call, whatever the generator: draw from rng"),
        (_fixed_pattern, "the same values are dropped on every call, whatever the generator: draw from rng"),
        (_reseeded, "the same values are dropped on every call, whatever the generator: draw from rng"),
        (_global_state, "two generators seeded alike dropped different values: draw from the rng passed in"),
        (_one_row_mask, "every row drops the same places"),
        (_exact_count, "every row drops about exactly 50 values"),
    ],
)
def test_a_mask_that_is_not_drawn_from_rng_value_by_value_is_refused(answer, says):
    verdict = evaluate("dropout.mask", answer)
    assert verdict.status == FAILED and says in str(verdict), str(verdict)


def test_a_mask_drawn_from_rng_passes_whichever_draw_it_uses():
    for keep in (
        lambda x, rate, rng: rng.random(x.shape) >= rate,
        lambda x, rate, rng: rng.binomial(1, 1 - rate, x.shape).astype(bool),
        lambda x, rate, rng: rng.uniform(size=x.shape) > rate,
    ):
        verdict = evaluate("dropout.mask", lambda x, rate, rng, keep=keep: x * keep(x, rate, rng) / (1 - rate))
        assert verdict.status == PASSED, str(verdict)


# ---- imbalance.undersample -------------------------------------------------------------------------------------


def _rare(y):
    return int(np.argmin(np.bincount(y, minlength=2)))


def _first_common_rows(X, y, rng):
    rare = _rare(y)
    rows = np.concatenate([np.flatnonzero(y == rare), np.flatnonzero(y != rare)[: (y == rare).sum()]])
    return X[rows], y[rows]


def _smallest_feature(X, y, rng):
    rare = _rare(y)
    common = np.flatnonzero(y != rare)
    common = common[np.argsort(X[common, 1])][: (y == rare).sum()]
    rows = np.concatenate([np.flatnonzero(y == rare), common])
    return X[rows], y[rows]


def _always_class_1_rare(X, y, rng):
    rows = np.concatenate([np.flatnonzero(y == 1), rng.choice(np.flatnonzero(y == 0), (y == 1).sum(), replace=False)])
    return X[rows], y[rows]


def _as_list(X, y, rng):
    rare = _rare(y)
    common = rng.choice(np.flatnonzero(y != rare), size=(y == rare).sum(), replace=False)
    rows = np.concatenate([np.flatnonzero(y == rare), common])
    return [X[rows], y[rows]]


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (_first_common_rows, "the same rows are kept on every call, whatever the generator"),
        (_smallest_feature, "the same rows are kept on every call, whatever the generator"),
        (_always_class_1_rare, "(the rarer class: 0)"),
    ],
)
def test_an_undersampling_that_draws_nothing_at_random_is_refused(answer, says):
    verdict = evaluate("imbalance.undersample", answer)
    assert verdict.status == FAILED and says in str(verdict), str(verdict)


def test_undersampling_returned_as_a_list_is_accepted():
    verdict = evaluate("imbalance.undersample", _as_list)
    assert verdict.status == PASSED, str(verdict)


# ---- imbalance.split_then_resample ------------------------------------------------------------------------------


def _split(X, y, seed):
    from sklearn.model_selection import train_test_split

    return train_test_split(X, y, test_size=0.2, stratify=y, random_state=seed)


def _smote_on_train(X, y, seed):
    from imblearn.over_sampling import SMOTE

    X_train, X_test, y_train, y_test = _split(X, y, seed)
    X_train, y_train = SMOTE(random_state=seed).fit_resample(X_train, y_train)
    return X_train, X_test, y_train, y_test


def _test_part_oversampled(X, y, seed):
    from imblearn.over_sampling import RandomOverSampler

    X_train, X_test, y_train, y_test = _smote_on_train(X, y, seed)
    X_test, y_test = RandomOverSampler(random_state=seed).fit_resample(X_test, y_test)
    return X_train, X_test, y_train, y_test


def _test_part_undersampled(X, y, seed):
    from imblearn.under_sampling import RandomUnderSampler

    X_train, X_test, y_train, y_test = _smote_on_train(X, y, seed)
    X_test, y_test = RandomUnderSampler(random_state=seed).fit_resample(X_test, y_test)
    return X_train, X_test, y_train, y_test


def _unseeded(X, y, seed):
    from imblearn.over_sampling import RandomOverSampler
    from sklearn.model_selection import train_test_split

    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y)
    X_train, y_train = RandomOverSampler().fit_resample(X_train, y_train)
    return X_train, X_test, y_train, y_test


def _seed_fixed(X, y, seed):
    return _smote_on_train(X, y, 42)


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (_test_part_oversampled, "the test part was resampled after the split"),
        (_test_part_undersampled, "it was under-sampled; leave it as the split made it"),
        (_unseeded, "pass the seed on as it is: random_state=seed"),
        (_seed_fixed, "pass the seed on as it is: random_state=seed"),
    ],
)
def test_a_split_then_resample_that_touches_the_test_part_is_told_what_it_did(answer, says):
    verdict = evaluate("imbalance.split_then_resample", answer)
    assert verdict.status == FAILED and says in str(verdict), str(verdict)
    assert "resampled before the split" not in str(verdict) and "test_size=0.2 keeps" not in str(verdict)


def test_smote_on_the_training_part_is_not_taken_for_a_leak():
    for seed in range(3):
        with pinned_inputs(seed):
            verdict = evaluate("imbalance.split_then_resample", _smote_on_train)
        assert verdict.status == PASSED, str(verdict)


# ---- imbalance.logistic: whatever is passed -----------------------------------------------------------------


def _imbalanced_split():
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split

    X, y = make_classification(400, n_features=5, weights=[0.85], random_state=0)
    x_train, x_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    return x_train, y_train, x_test, y_test


def test_a_classifier_check_given_what_is_not_a_classifier_says_what_it_received():
    import keras
    from sklearn.linear_model import LogisticRegression

    data = _imbalanced_split()
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(1, activation="sigmoid")])
    for answer, says in (
        (model, "received a Keras model: this exercise asks for a scikit-learn classifier"),
        ("LogisticRegression", "expected a scikit-learn classifier (or pipeline), received str"),
        (LogisticRegression, "received the class LogisticRegression itself, not a classifier: make one"),
        (lambda X, y: None, "expected a scikit-learn classifier (or pipeline), received the function"),
    ):
        verdict = evaluate("imbalance.logistic", answer, data=data)
        assert verdict.status == FAILED and says in str(verdict), str(verdict)


# ---- build it: the architecture asked, exactly --------------------------------------------------------------


def _compiled(model, loss):
    model.compile(optimizer="adam", loss=loss)
    return model


def _mnist(*layers):
    import keras

    return _compiled(keras.Sequential([keras.Input((28, 28)), *layers]), "sparse_categorical_crossentropy")


def test_an_mnist_network_other_than_the_one_asked_is_refused():
    from keras import layers as L

    for model in (
        _mnist(
            L.Flatten(),
            L.Dense(512, activation="relu"),
            L.Dense(256, activation="relu"),
            L.Dense(20, activation="relu"),
            L.Dense(10, activation="softmax"),
        ),
        _mnist(
            L.Flatten(),
            L.Dense(20, activation="relu"),
            L.Dense(1000, activation="relu"),
            L.Dense(10, activation="softmax"),
        ),
    ):
        verdict = evaluate("mnist.sequential", model)
        assert verdict.status == FAILED, str(verdict)
        assert "the layers are not the ones the exercise asks for" in str(verdict)
        assert "expected: Flatten(), Dense(20, relu), Dense(10, softmax)" in str(verdict)
    wrong_units = evaluate(
        "mnist.sequential", _mnist(L.Flatten(), L.Dense(32, activation="relu"), L.Dense(10, activation="softmax"))
    )
    assert "layer 2, Dense(32, relu): it has 32 units; the exercise asks for 20" in str(wrong_units)


def test_an_activation_layer_counts_as_the_activation_and_an_input_layer_is_not_a_layer():
    import keras
    from keras import layers as L

    from keraslab.exercises.checks_dropout import ARCHITECTURE as DROPOUT
    from keraslab.exercises.checks_mnist import ARCHITECTURE as MNIST
    from keraslab.exercises.model_checks import _architecture

    split = _mnist(L.Flatten(), L.Dense(20), L.Activation("relu"), L.Dense(10), L.Softmax())
    assert [layer.says() for layer in layers_of(split)] == ["Flatten()", "Dense(20, relu)", "Dense(10, softmax)"]
    assert _architecture(MNIST, layers_of(split)) is None
    inputs = keras.Input((60,))
    x = L.Dropout(0.2)(inputs)
    x = L.Dropout(0.5)(L.Dense(30, activation="relu")(x))
    functional = keras.Model(inputs, L.Dense(1, activation="sigmoid")(x))
    assert type(functional.layers[0]).__name__ == "InputLayer"
    assert _architecture(DROPOUT, layers_of(functional)) is None


def test_a_cnn_of_one_by_one_kernels_and_pools_is_refused():
    import keras
    from keras import layers as L

    model = _compiled(
        keras.Sequential(
            [
                keras.Input((28, 28, 1)),
                L.Conv2D(8, (1, 1), activation="relu"),
                L.MaxPooling2D((1, 1)),
                L.Flatten(),
                L.Dense(512, activation="relu"),
                L.Dense(10, activation="softmax"),
            ]
        ),
        "sparse_categorical_crossentropy",
    )
    verdict = evaluate("cnn.fashion_cnn", model)
    assert verdict.status == FAILED and "its kernel is (1, 1); the exercise asks for (3, 3) or larger" in str(verdict)


def _churn_net(*hidden, units=(8,)):
    import keras
    from keras import layers as L

    return _compiled(
        keras.Sequential([keras.Input((5,)), *hidden, L.Dense(1, activation="sigmoid")]), "binary_crossentropy"
    )


def _table(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5)).astype("float32")
    y = (X[:, 0] + 0.5 * X[:, 1] > 0.6).astype(int)
    return X[: n * 4 // 5], y[: n * 4 // 5], X[n * 4 // 5 :], y[n * 4 // 5 :]


def test_a_hidden_dense_layer_without_an_activation_is_refused():
    from keras import layers as L

    verdict = evaluate("churn.network", _churn_net(L.Dense(8)), data=_table())
    assert verdict.status == FAILED, str(verdict)
    assert "layer 1, Dense(8, linear): it has no activation (linear); the exercise asks for relu" in str(verdict)


def test_a_build_check_trains_a_fresh_copy_so_its_verdict_does_not_depend_on_earlier_fits():
    from keras import layers as L

    data = _table()
    model = _churn_net(L.Dense(4, activation="relu"))
    before = [w.copy() for w in model.get_weights()]
    first = evaluate("churn.network", model, data=data)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))  # not trained in place
    assert "a fresh copy (seed 0)" in first.message
    model.fit(data[0], data[1], epochs=20, verbose=0)  # the learner trains it in between: the verdict is the same
    assert str(evaluate("churn.network", model, data=data)) == str(first)
    assert str(evaluate("churn.network", model, data=data)) == str(first)  # and running the cell again


def test_a_model_class_of_ones_own_is_refused_whatever_it_predicts():
    import keras

    class Answers(keras.Sequential):
        def predict(self, x, **kwargs):
            labels = inspect.currentframe().f_back.f_locals.get("y_test", np.zeros(len(x)))
            return np.asarray(labels, dtype="float32").reshape(-1, 1)

    model = Answers(
        [keras.Input((5,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1, activation="sigmoid")]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    verdict = evaluate("churn.network", model, data=_table())
    assert verdict.status == FAILED and "the model is a Answers, a model class of your own" in str(verdict)


def test_a_functional_dropout_network_is_accepted_and_trained():
    import keras
    from keras import layers as L

    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 60)).astype("float32")
    y = (X[:, :5].sum(axis=1) > 0).astype(int)
    inputs = keras.Input((60,))
    x = L.Dropout(0.5)(L.Dense(16, activation="relu")(L.Dropout(0.2)(inputs)))
    model = keras.Model(inputs, L.Dense(1, activation="sigmoid")(x))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    verdict = evaluate("dropout.network", model, data=(X[:80], y[:80], X[80:], y[80:]))
    assert verdict.status == PASSED, str(verdict)


def test_a_model_that_rescales_its_own_pixels_is_given_raw_ones(tmp_path):
    """Rescaling(1/255) inside the model, Dense(20) + Activation("relu"): the exercise's network, as asked."""
    from keras import layers as L

    from keraslab.datasets import offline_mode

    model = _mnist(
        L.Rescaling(1 / 255), L.Flatten(), L.Dense(20), L.Activation("relu"), L.Dense(10, activation="softmax")
    )
    with offline_mode():  # an empty data home: the shipped digits stand in (4,000 of them)
        verdict = evaluate("mnist.sequential", model, data_dir=str(tmp_path))
    assert verdict.status == PASSED, str(verdict)
    assert "raw 0-255 pixels: your model rescales them" in str(verdict)


# ---- gaming ------------------------------------------------------------------------------------------------------


def _from_the_callers_frame(t, p):
    frame = inspect.currentframe().f_back
    while frame is not None:
        if "expected" in frame.f_locals:
            return frame.f_locals["expected"]
        frame = frame.f_back
    return 0.0


def _the_checks_reference(t, p):
    frame = inspect.currentframe().f_back
    while frame is not None and "reference" not in frame.f_locals:
        frame = frame.f_back
    return frame.f_locals["reference"](t, p)


def _keras_itself(t, p):
    import keras

    return float(np.mean(keras.losses.binary_crossentropy(t, p)))


@pytest.mark.parametrize(
    ("exercise", "answer", "says"),
    [
        ("losses.mse_numpy", _from_the_callers_frame, "wrong on input 1 of 3"),
        ("losses.mse_numpy", _the_checks_reference, "your function calls the check's own reference"),
        ("losses.log_loss", _keras_itself, "your function calls keras.losses.binary_crossentropy"),
        (
            "mnist.confusion_matrix",
            lambda t, p: __import__("sklearn.metrics").metrics.confusion_matrix(t, p, labels=range(10)),
            "your function calls scikit-learn's confusion_matrix",
        ),
        (
            "cifar10_ann.one_hot",
            lambda labels: __import__("keras").utils.to_categorical(np.ravel(labels), 10),
            "your function calls keras.utils.to_categorical",
        ),
        (
            "cnn.conv_same",
            lambda im, k: __import__("scipy.signal").signal.correlate2d(im, k, mode="same"),
            "your function calls scipy.signal.correlate2d",
        ),
    ],
)
def test_an_answer_that_reads_the_check_or_calls_its_reference_is_refused(exercise, answer, says):
    verdict = evaluate(exercise, answer)
    assert verdict.status == FAILED and says in str(verdict), str(verdict)


def test_the_values_a_message_showed_hard_coded_do_not_pass_the_next_check():
    seen = []

    def right(t, p):
        seen.append(float(np.mean((t - p) ** 2)))
        return seen[-1]

    assert evaluate("losses.mse_numpy", right).status == PASSED
    replay = iter(list(seen))
    verdict = evaluate("losses.mse_numpy", lambda t, p: next(replay))
    assert verdict.status == FAILED and "wrong on input 1 of 3" in str(verdict), str(verdict)


def test_the_inputs_are_drawn_afresh_unless_pinned():
    shown = lambda: str(evaluate("losses.mse_numpy", lambda t, p: 0.0))  # noqa: E731
    assert shown() != shown()
    with pinned_inputs(7):
        assert shown() == shown()


def _run_cell(source: str, namespace: dict) -> str:
    """Execute `source` as a notebook cell (its text in linecache, as Jupyter keeps it); what it printed."""
    name = f"<cell-{abs(hash(source))}>"
    linecache.cache[name] = (len(source), None, source.splitlines(keepends=True), name)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, name, "exec"), namespace)
    return out.getvalue()


class _Model:
    def count_params(self):
        return 79_510


_MEASURED = 'check("mnist.param_count", prediction, measured=model_b.count_params())\n'


def test_a_prediction_computed_from_what_the_cell_measures_is_told_so():
    namespace = {"check": check, "model_b": _Model(), "hidden_units": 100}
    measured = _MEASURED
    cell = "prediction = None\nprediction = model_b.count_params()\n" + measured
    assert "not a prediction: `prediction` is computed from count_params, model_b" in _run_cell(cell, namespace)
    spread = 'check(\n    "mnist.param_count",\n    prediction,\n    measured=model_b.count_params(),\n)\n'
    assert "not a prediction" in _run_cell("n = model_b.count_params()\nprediction = n\n" + spread, namespace)
    worked = "prediction = 784 * hidden_units + hidden_units + hidden_units * 10 + 10\n" + measured
    assert "✓ mnist.param_count: right: you predicted 79510" in _run_cell(worked, namespace)


# ---- messages that show the difference ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exercise", "answer"),
    [
        (
            "mnist.confusion_matrix",
            lambda t, p: _late_error(np.histogram2d(t, p, bins=10, range=[[0, 10], [0, 10]])[0]),
        ),
        ("cifar10_ann.one_hot", lambda labels: _late_error(np.eye(10)[np.ravel(labels)])),
        ("gd_variants.min_max_scale", lambda train, test: _late_error_pair(train, test)),
    ],
)
def test_a_wrong_array_is_shown_at_its_first_differing_element(exercise, answer):
    verdict = evaluate(exercise, answer)
    text = str(verdict)
    assert verdict.status == FAILED and "first at index [" in text, text
    index = text.split("first at index [")[1].split("]")[0]
    received = dict(verdict.details)["received"]
    assert "777" in received, text  # the wrong element is in view, never cut before it
    assert f"index [{index}], expected" in text and "received 777" in text


def _late_error(table):
    table = np.array(table, dtype=float)
    table.flat[table.size - 2] = 777  # the second-last element, far past where a display cuts
    return table


def _late_error_pair(train, test):
    lo, span = train.min(axis=0), np.ptp(train, axis=0)
    span = np.where(span > 0, span, 1.0)
    return _late_error((train - lo) / span), (test - lo) / span


def test_one_sided_padding_and_a_missing_argmax_get_their_own_hints():
    def one_sided(image, kernel):
        padded = np.pad(image, ((0, 2), (0, 2)))
        h, w = image.shape
        return np.array([[np.sum(padded[i : i + 3, j : j + 3] * kernel) for j in range(w)] for i in range(h)])

    verdict = evaluate("cnn.conv_same", one_sided)
    assert "it equals the zeros padded on the bottom and right only" in str(verdict), str(verdict)
    assert "flip" not in dict(verdict.details)["hint"]
    no_argmax = evaluate("cifar10_ann.accuracy", lambda y, proba: float(np.mean(np.reshape(y, (-1, 1)) == proba)))
    assert "it equals labels compared with the probabilities themselves (no argmax)" in str(no_argmax)
    assert "proba.argmax(axis=1)" in dict(no_argmax.details)["hint"]


# ---- precision as Keras has it ----------------------------------------------------------------------------------


def _log_loss(t, p, dtype):
    p = np.clip(np.asarray(p, dtype), dtype(1e-7), dtype(1) - dtype(1e-7))
    t = np.asarray(t, dtype)
    return -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p))


def test_a_float32_answer_is_judged_against_keras_in_float32_and_a_float64_one_in_float64():
    single = evaluate("losses.log_loss", lambda t, p: _log_loss(t, p, np.float32))
    assert single.status == PASSED, str(single)
    double = evaluate("losses.log_loss", lambda t, p: _log_loss(t, p, np.float64))
    assert double.status == PASSED, str(double)
    # the float32 value returned as a float64 number is judged in float64: it misses at the clipped ends
    mixed = evaluate("losses.log_loss", lambda t, p: float(_log_loss(t, p, np.float32)))
    assert mixed.status == FAILED and "wrong on input 2 of 3 (predictions of exactly 0 and 1)" in str(mixed)
    off = evaluate("losses.log_loss", lambda t, p: _log_loss(t, p, np.float32) * np.float32(1.001))
    assert off.status == FAILED and "in float32" in str(off)


def test_keraslab_s_executor_keeps_the_cells_it_ran_where_the_check_reads_them(tmp_path):
    """`keraslab run` (and the tests) execute a lesson's cells in keraslab's executor: the text that ran, with
    solutions filled in where they are, is what the check reads, at the script's own line numbers."""
    from keraslab.lessons.executor import CellRunner
    from keraslab.lessons.source import Cell

    runner = CellRunner(str(tmp_path / "lesson.py"))
    runner.namespace.update({"check": check, "model_b": _Model()})
    runner.run(0, 1, Cell("code", "hidden_units = 100", line=3))
    runner.run(1, 2, Cell("code", "prediction = model_b.count_params()\n" + _MEASURED, line=10))
    runner.run(2, 3, Cell("code", "prediction = 79510\n" + _MEASURED, line=20))
    said = ["".join(o.get("text", "") for o in runner.result.outputs[i][1]) for i in (1, 2)]
    assert said[0].startswith("✗ mnist.param_count: not a prediction: `prediction` is computed from count_params")
    assert said[1].startswith("✓ mnist.param_count: right"), said
    assert linecache.getline(str(tmp_path / "lesson.py"), 3) == "hidden_units = 100\n"


def test_a_prediction_written_into_the_check_or_on_one_line_with_its_source_is_told_so():
    namespace = {"check": check, "model_b": _Model(), "hidden_units": 100}
    inline = 'check("mnist.param_count", model_b.count_params(), measured=model_b.count_params())\n'
    assert "not a prediction: `model_b.count_params()` is computed from" in _run_cell(inline, namespace)
    one_line = "n = model_b.count_params(); prediction = n + 0\n" + _MEASURED
    assert "not a prediction: `prediction` is computed from count_params, model_b" in _run_cell(one_line, namespace)


# ---- a second tryout: wrong answers of its own, each refused with what it did ------------------------------------


def _no_bias_in_prediction(X, y, w, b, lr):
    s = np.sign(y - X @ w)  # the bias left out of the prediction
    return w + lr * X.T @ s / len(y), b + lr * float(s.mean())


def _truncating_conv(image, kernel):
    padded, out = np.pad(image, 1), np.zeros(image.shape, dtype=int)  # an int array truncates each sum
    for i in range(image.shape[0]):
        for j in range(image.shape[1]):
            out[i, j] = np.sum(padded[i : i + 3, j : j + 3] * kernel)
    return out


def _mse_in_place(a, b):
    a -= b
    a **= 2
    return a.mean()


def _mask_in_place(x, rate, rng):
    x[rng.random(x.shape) < rate] = 0
    x /= 1 - rate
    return x


def _keras_accuracy(y, proba):
    import keras

    metric = keras.metrics.SparseCategoricalAccuracy()
    metric.update_state(np.ravel(y), proba)
    return float(metric.result())


def _split_with(**options):
    def split(X, y, seed):
        from imblearn.over_sampling import RandomOverSampler
        from sklearn.model_selection import train_test_split

        kwargs = {"test_size": 0.2, "stratify": y, "random_state": seed} | options
        X_train, X_test, y_train, y_test = train_test_split(X, y, **kwargs)
        X_train, y_train = RandomOverSampler(random_state=seed).fit_resample(X_train, y_train)
        return X_train, X_test, y_train, y_test

    return split


def _mse_loop(t, p):
    return sum((a - b) ** 2 for a, b in zip(t, p, strict=True)) / len(t)


SECOND_TRYOUT = [
    (
        "cifar10_ann.one_hot",
        lambda labels: np.eye(int(np.max(labels)) + 1)[np.ravel(labels)],
        "it equals as many columns as the largest label seen, not 10",
    ),
    ("churn.precision_recall_f1", lambda t, p: _swapped(t, p), "it equals precision and recall swapped"),
    ("gd_variants.mae_step", _no_bias_in_prediction, "wrong on input 1 of 4 (a bias that changes the sign"),
    ("imbalance.split_then_resample", _split_with(stratify=None), "stratify=y"),
    ("imbalance.split_then_resample", _split_with(test_size=0.15), "test_size=0.2 keeps"),
    ("imbalance.split_then_resample", lambda X, y, seed: _split_with()(X, y, seed + 1), "random_state=seed"),
    (
        "cnn.conv_same",
        lambda im, k: __import__("scipy.signal").signal.convolve2d(im, k[::-1, ::-1], mode="same"),
        "your function calls scipy.signal.convolve2d",
    ),
    (
        "cnn.conv_same",
        lambda im, k: __import__("scipy.ndimage").ndimage.convolve(im, k[::-1, ::-1], mode="constant"),
        "your function calls scipy.ndimage.convolve",
    ),
    ("cnn.conv_same", _truncating_conv, "wrong on input 1 of 3"),
    ("cifar10_ann.accuracy", _keras_accuracy, "your function calls Keras's sparse categorical accuracy"),
    (
        "cifar10_ann.accuracy",
        lambda y, p: np.sum(p.argmax(1) == np.ravel(y)) // len(p),
        "it equals an integer division (//)",
    ),
    (
        "cifar10_ann.one_hot",
        lambda labels: __import__("pandas").get_dummies(np.ravel(labels)).reindex(columns=range(10), fill_value=0),
        "your function calls pandas.get_dummies",
    ),
    ("losses.mse_numpy", _mse_loop, "this one is without a loop"),
    ("losses.mse_numpy", _mse_in_place, "your function changed its input y_true in place"),
    ("dropout.mask", _mask_in_place, "your function changed its argument 1 in place"),
    ("dropout.mask", lambda x, rate, rng: x, "nothing was dropped at rate 0.5"),
    ("losses.outlier", 99, "not this time"),
    ("mnist.param_count", 10**400, "not this time: you predicted a whole number of about 401 digits"),
]


def _swapped(t, p):
    tp, fp, fn = np.sum((p == 1) & (t == 1)), np.sum((p == 1) & (t == 0)), np.sum((p == 0) & (t == 1))
    precision, recall = (tp / (tp + fp) if tp + fp else 0.0), (tp / (tp + fn) if tp + fn else 0.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return recall, precision, f1


@pytest.mark.parametrize(
    ("exercise", "answer", "says"), SECOND_TRYOUT, ids=[f"{w[0]}-{i}" for i, w in enumerate(SECOND_TRYOUT)]
)
def test_the_second_tryouts_wrong_answers_are_refused(exercise, answer, says):
    context = {
        "losses.outlier": {"measured": 100.0, "mae_factor": 10.0},
        "mnist.param_count": {"measured": 79510},
    }.get(exercise, {})
    for seed in range(3):  # whatever inputs the check draws
        with pinned_inputs(seed):
            verdict = evaluate(exercise, answer, **context)
        assert verdict.status == FAILED and says in str(verdict), str(verdict)


def test_the_second_tryouts_models_are_refused_with_what_they_got_wrong():
    import keras
    from keras import layers as L

    def cnn(pool=(2, 2)):
        return keras.Sequential(
            [
                keras.Input((28, 28, 1)),
                L.Conv2D(8, (3, 3), activation="relu"),
                L.MaxPooling2D(pool),
                L.Flatten(),
                L.Dense(10, activation="softmax"),
            ]
        )

    def fake_bce(a, b):  # a mean squared error under the right name
        return keras.ops.mean(keras.ops.square(a - b))

    fake_bce.__name__ = "binary_crossentropy"
    data = _table()
    sgd = _churn_net(L.Dense(4, activation="relu"))
    sgd.compile(optimizer="sgd", loss="binary_crossentropy")
    own = _churn_net(L.Dense(4, activation="relu"))
    own.compile(optimizer="adam", loss=fake_bce)
    logits = _churn_net(L.Dense(4, activation="relu"))
    logits.compile(optimizer="adam", loss=keras.losses.BinaryCrossentropy(from_logits=True))
    rescaled = _mnist(
        L.Rescaling(255.0), L.Flatten(), L.Dense(20, activation="relu"), L.Dense(10, activation="softmax")
    )
    pooled = _compiled(cnn((3, 3)), "sparse_categorical_crossentropy")
    for exercise, model, context, says in (
        ("churn.network", own, {"data": data}, "the loss is a function of your own (binary_crossentropy)"),
        ("churn.network", logits, {"data": data}, "from_logits=True reads the last layer's outputs as scores"),
        ("churn.network", keras.layers.Dense(1), {"data": data}, "received a Keras Dense layer, not a model"),
        ("mnist.sequential", rescaled, {}, "Rescaling(255) multiplies the pixels by that"),
        ("cnn.fashion_cnn", pooled, {}, "its pool is (3, 3); the exercise asks for (2, 2)"),
    ):
        verdict = evaluate(exercise, model, **context)
        assert verdict.status == FAILED and says in str(verdict), str(verdict)
    sonar = (np.zeros((8, 60)), np.zeros(8), np.zeros((4, 60)), np.zeros(4))
    net = keras.Sequential(
        [
            keras.Input((60,)),
            L.Dropout(0.2),
            L.Dense(8, activation="relu"),
            L.Dropout(0.5),
            L.Dense(1, activation="sigmoid"),
        ]
    )
    net.compile(optimizer="sgd", loss="binary_crossentropy")
    assert "the optimizer is not the one the exercise asks for" in str(evaluate("dropout.network", net, data=sonar))


def test_every_spelling_keras_reads_as_the_loss_is_taken():
    import keras
    from keras import layers as L

    from keraslab.exercises.checks_churn import ARCHITECTURE
    from keraslab.exercises.model_checks import inspect as inspected

    for loss in ("binary_crossentropy", "bce", "BinaryCrossentropy", keras.losses.BinaryCrossentropy()):
        model = _churn_net(L.Dense(4, activation="relu"))
        model.compile(optimizer="adam", loss=loss)
        found = inspected(
            "churn.network",
            model,
            input_shape=(5,),
            outputs=1,
            architecture=ARCHITECTURE,
            loss="binary_crossentropy",
            hint="",
        )
        assert found is None, (loss, str(found))


def test_the_second_tryouts_right_answers_and_odd_calls_get_verdicts_of_their_own():
    from sklearn.datasets import make_classification
    from sklearn.dummy import DummyClassifier
    from sklearn.metrics import precision_recall_fscore_support

    def as_array(t, p):
        return np.array(precision_recall_fscore_support(t, p, average="binary", zero_division=0)[:3]) * 1.0

    # (a library's own answer is refused, so the array here is computed by hand)
    def by_hand(t, p):
        return np.array(_swapped(t, p))[[1, 0, 2]]

    assert evaluate("churn.precision_recall_f1", by_hand).status == PASSED
    assert "your function calls" in str(evaluate("churn.precision_recall_f1", as_array))
    X, y = make_classification(300, n_features=4, weights=[0.85], random_state=0)
    constant = evaluate(
        "imbalance.logistic",
        DummyClassifier(strategy="constant", constant=1),
        data=(X[:200], y[:200], X[200:], y[200:]),
    )
    assert "it gives every customer of the test part the same answer (1)" in str(constant)
    extra = evaluate("mnist.param_count", 1, measured=1, foo=1)
    assert extra.status == "not checked" and "this check takes no foo=" in str(extra)

    def leaves(a, b):
        raise SystemExit(1)

    left = evaluate("losses.mse_plain", leaves)
    assert left.status == FAILED and "raised SystemExit" in str(left)
    weights = evaluate("churn.class_weight", lambda y: {0: 0.5, 1: float(len(y) / (2 * (y == 1).sum()))})
    assert "    expected: key 0: " in str(weights) and "    received: key 0: 0.5" in str(weights)


def test_a_derivative_that_ignores_its_step_and_a_factor_two_are_named():
    def fixed_step(f, x, h=1e-5):
        return (f(x + 1e-5) - f(x - 1e-5)) / (2 * 1e-5)

    ignored = evaluate("gradient_descent.numerical_derivative", fixed_step)
    assert "it does not use the step h it is given" in str(ignored), str(ignored)
    five_point = evaluate(
        "gradient_descent.numerical_derivative",
        lambda f, x, h=1e-3: (-f(x + 2 * h) + 8 * f(x + h) - 8 * f(x - h) + f(x - 2 * h)) / (12 * h),
    )
    assert five_point.status == PASSED, str(five_point)
    no_half = evaluate("gradient_descent.numerical_derivative", lambda f, x, h=1e-5: (f(x + h) - f(x - h)) / h)
    assert "received is twice the expected value" in str(no_half), str(no_half)
