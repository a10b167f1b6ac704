"""The from-scratch network: gradient checks for every layer and head (with negative controls), dropout,
optimizers against Keras, safetensors weights, accuracy on real digits against Keras, and bad input."""

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from keraslab.scratch import gradcheck
from keraslab.scratch.layers import Activation, Dense, Dropout
from keraslab.scratch.mlp import MLPClassifier, Network
from keraslab.scratch.optimizers import SGD, Adam
from keraslab.scratch.safetensors_io import load_file, save_file

SCRATCH = Path(__file__).resolve().parents[2] / "src" / "keraslab" / "scratch"


def _net(hidden_act: str, head: str, rng, dropout=False):
    layers = [Dense(5, 4, rng, np.float64), Activation(hidden_act)]
    if dropout:
        layers.append(Dropout(0.5, rng))
    if head == "softmax":
        layers += [Dense(4, 3, rng, np.float64), Activation("softmax")]
        return Network(layers, "sparse_categorical_crossentropy")
    if head == "sigmoid":
        layers += [Dense(4, 1, rng, np.float64), Activation("sigmoid")]
        return Network(layers, "binary_crossentropy")
    layers += [Dense(4, 2, rng, np.float64), Activation("linear")]
    return Network(layers, head)  # mse / mae regression heads


def _data(head, rng):
    x = rng.normal(size=(7, 5))
    if head == "softmax":
        return x, rng.integers(0, 3, 7)
    if head == "sigmoid":
        return x, rng.integers(0, 2, 7).astype(np.float64)
    return x, rng.normal(size=(7, 2))


@pytest.mark.parametrize("act", ["relu", "sigmoid", "tanh", "leaky_relu"])
@pytest.mark.parametrize("head", ["softmax", "sigmoid", "mse", "mae"])
def test_network_gradients(act, head):
    rng = np.random.default_rng(0)
    net = _net(act, head, rng)
    x, y = _data(head, rng)
    results = gradcheck.check_network(net, x, y)
    assert len(results) == 4
    for r in results:
        assert r.passed, r
    # Negative control: corrupt one layer's backward pass (drop the activation's derivative) and the same check
    # must fail.
    net.layers[1].backward = lambda grad: grad
    assert not all(r.passed for r in gradcheck.check_network(net, x, y))


def test_dropout_gradient_with_a_fixed_mask():
    rng = np.random.default_rng(1)
    layer = Dropout(0.4, rng)
    x = rng.normal(size=(6, 5))
    layer.forward(x, training=True)
    mask = layer.mask.copy()
    w = rng.normal(size=x.shape)
    layer.forward(x, training=True)
    layer.mask = mask
    g = layer.backward(w)
    r = gradcheck.check("dropout", lambda v: float(np.sum(v * mask * w)), g, x.copy())
    assert r.passed
    assert not gradcheck.check("dropout", lambda v: float(np.sum(v * mask * w)), w, x.copy()).passed


def test_dropout_is_inverted_seeded_and_off_at_predict():
    x = np.ones((2000, 50), np.float32)
    a = Dropout(0.3, np.random.default_rng(5)).forward(x, training=True)
    b = Dropout(0.3, np.random.default_rng(5)).forward(x, training=True)
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) == {0.0, np.float32(1 / 0.7)}
    assert abs((a == 0).mean() - 0.3) < 0.01 and abs(a.mean() - 1.0) < 0.02
    np.testing.assert_array_equal(Dropout(0.3, np.random.default_rng(5)).forward(x, training=False), x)


def test_fused_head_gradient_equals_the_long_way():
    rng = np.random.default_rng(2)
    for head in ("softmax", "sigmoid"):
        net = _net("relu", head, rng)
        x, y = _data(head, rng)
        net.loss_and_grads(x, y, training=False)
        slow = [g.copy() for g in net.grads]
        net.fused_step_grads(x, y.astype(np.int64), training=False)
        for a, b in zip(slow, net.grads, strict=True):
            np.testing.assert_allclose(a, b, atol=1e-12)


def _keras_optimizer_steps(keras, opt, w0, grads):
    var = keras.Variable(w0.copy())
    for g in grads:
        opt.apply_gradients([(keras.ops.convert_to_tensor(g), var)])
    return np.asarray(var)


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_optimizer_matches_keras(name):
    from keraslab.backend import load_keras

    keras = load_keras()
    rng = np.random.default_rng(3)
    w0 = rng.normal(size=(4, 3)).astype(np.float32)
    grads = [rng.normal(size=(4, 3)).astype(np.float32) for _ in range(5)]
    ours_opt = SGD(0.1) if name == "sgd" else Adam(0.01)
    w = w0.copy()
    for g in grads:
        ours_opt.step([w], [g])
    theirs = keras.optimizers.SGD(0.1) if name == "sgd" else keras.optimizers.Adam(0.01)
    np.testing.assert_allclose(w, _keras_optimizer_steps(keras, theirs, w0, grads), rtol=1e-5, atol=1e-6)


def test_safetensors_round_trip_and_library_compatibility(tmp_path):
    import safetensors.numpy as st

    tensors = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1.5, -2.0])}
    save_file(tensors, tmp_path / "ours.safetensors", {"k": "v"})
    theirs = st.load_file(str(tmp_path / "ours.safetensors"))
    for k in tensors:
        np.testing.assert_array_equal(theirs[k], tensors[k])
    st.save_file(tensors, str(tmp_path / "theirs.safetensors"))
    back, _ = load_file(tmp_path / "theirs.safetensors")
    for k in tensors:
        np.testing.assert_array_equal(back[k], tensors[k])
    raw = (tmp_path / "ours.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(raw[:-5])
    with pytest.raises(ValueError, match=r"cut.safetensors: tensor 'b' does not fit the file .* truncated or corrupt"):
        load_file(tmp_path / "cut.safetensors")


def test_mlp_save_and_load(tmp_path):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(60, 6)).astype(np.float32)
    y = np.where(x[:, 0] + x[:, 1] > 0, "yes", "no")
    model = MLPClassifier(hidden=(8,), epochs=3, seed=1, dropout=0.2).fit(x, y)
    model.save(tmp_path / "m.safetensors")
    loaded = MLPClassifier.load(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))
    assert list(loaded.classes_) == ["no", "yes"] and loaded.dropout == 0.2


def test_mlp_is_seeded():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(80, 4)), rng.integers(0, 3, 80)
    a = MLPClassifier(hidden=(6,), epochs=2, seed=9).fit(x, y)
    b = MLPClassifier(hidden=(6,), epochs=2, seed=9).fit(x, y)
    c = MLPClassifier(hidden=(6,), epochs=2, seed=10).fit(x, y)
    assert a.loss_curve_ == b.loss_curve_ and a.loss_curve_ != c.loss_curve_
    assert a.predict_proba(x).shape == (80, 3) and np.allclose(a.predict_proba(x).sum(axis=1), 1, atol=1e-6)


def test_mnist_5k_accuracy_against_keras(shared_data):
    """784-128-10 ReLU/softmax, Adam, 10 epochs on 4000 real digits: >= 0.90, within 2 points of Keras."""
    from sklearn.model_selection import train_test_split

    from keraslab import datasets
    from keraslab.backend import load_keras
    from keraslab.seeding import set_seed

    x, y = datasets.load_mnist_5k(data_dir=shared_data, scale=True)
    x = x.reshape(-1, 784)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=1000, random_state=0, stratify=y)
    ours = MLPClassifier(hidden=(128,), epochs=10, seed=0).fit(xtr, ytr).score(xte, yte)

    keras = load_keras()
    set_seed(0)
    model = keras.Sequential(
        [keras.Input((784,)), keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10, activation="softmax")]
    )
    model.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"], steps_per_execution=25
    )
    model.fit(xtr, ytr, epochs=10, batch_size=32, verbose=0)
    theirs = model.evaluate(xte, yte, verbose=0)[1]
    assert ours >= 0.90
    assert abs(ours - theirs) <= 0.02, (ours, theirs)


# --- bad input ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("batch_size", 0, "Invalid value for `batch_size`. Expected a positive integer. Received: batch_size=0"),
        ("batch_size", -4, "Received: batch_size=-4"),
        (
            "learning_rate",
            0.0,
            "Invalid value for `learning_rate`. Expected a positive number. Received: learning_rate=0.0",
        ),
        ("learning_rate", -1e-3, "Received: learning_rate=-0.001"),
        ("activation", "gelu", "Expected one of leaky_relu, relu, sigmoid, tanh. Received: activation='gelu'"),
        ("optimizer", "rmsprop", "Expected one of adam, sgd. Received: optimizer='rmsprop'"),
        ("dropout", 1.0, "Invalid value for `dropout`. Expected a float in \\[0, 1\\). Received: dropout=1.0"),
    ],
)
def test_mlp_bad_options(option, value, message):
    x, y = np.zeros((4, 2)), np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match=message):
        MLPClassifier(**{option: value}).fit(x, y)


def test_mlp_bad_data():
    with pytest.raises(ValueError, match=r"Expected finite numbers. Received: an array containing NaN"):
        MLPClassifier().fit(np.array([[np.nan, 1.0], [0.0, 1.0]]), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"Received: X.shape=\(3, 2\), y.shape=\(2,\)"):
        MLPClassifier().fit(np.zeros((3, 2)), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"Expected at least 2 classes. Received: 1 class"):
        MLPClassifier().fit(np.zeros((3, 2)), np.array([1, 1, 1]))
    with pytest.raises(ValueError, match="not fitted yet"):
        MLPClassifier().predict(np.zeros((1, 2)))


# --- the scratch package imports only NumPy and the standard library ----------------------------------------------


def test_scratch_sources_import_only_numpy_and_stdlib():
    allowed_top = {"numpy", "keraslab", "__future__"} | set(sys.stdlib_module_names)
    for path in SCRATCH.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert name.split(".")[0] in allowed_top, f"{path.name} imports {name}"
                if name.startswith("keraslab"):
                    assert name.startswith("keraslab.scratch"), f"{path.name} imports {name}"


def test_importing_scratch_loads_no_framework():
    code = (
        "import sys, keraslab.scratch; bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'keras', 'jax', 'sklearn', 'pandas', 'torch', 'tensorflow', 'matplotlib'} or (m.startswith('keraslab.') "
        "and not m.startswith('keraslab.scratch'))); print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr
