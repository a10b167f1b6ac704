"""The from-scratch lessons run as `keraslab run` runs them, their figures derived here independently (the toy
arithmetic, closed-form least squares, scikit-learn), and `keraslab prove`."""

import json

import numpy as np
import pytest

from keraslab import lessons
from keraslab.cli.main import main
from keraslab.running import one_lesson as runner


def _run(name, tmp_path, shared_data=None, **values):
    lesson = lessons.get_lesson(name)
    if shared_data is not None:
        values = {"data_dir": str(shared_data), **values}
    return runner.run_lesson(lesson, values, out=tmp_path / name, quiet=True, offline=True)


def test_losses_lesson(tmp_path):
    # Fails when broken (tests/mutants.py losses-log-loss-half: no (1 - y) log(1 - p) term): log loss 0.4508,
    # not 7.3587.
    from sklearn.metrics import log_loss

    folder, s = _run("losses", tmp_path)
    labels, probs = np.array([1.0, 1, 0, 0, 1]), np.array([0.3, 0.7, 1, 0, 0.5])  # the toy arrays, roles right
    # MAE and MSE by hand: |0.7| + |0.3| + |1| + 0 + |0.5| = 2.5 over 5; 0.49 + 0.09 + 1 + 0 + 0.25 = 1.83 over 5
    assert s["mae"] == pytest.approx(2.5 / 5, abs=1e-15) and s["mse"] == pytest.approx(1.83 / 5, abs=1e-15)
    clipped = np.clip(probs, 1e-15, 1 - 1e-15)
    right = -np.mean(labels * np.log(clipped) + (1 - labels) * np.log(1 - clipped))
    assert s["log_loss"] == pytest.approx(right, abs=1e-12) and round(s["log_loss"], 10) == 7.3586741842
    swapped = np.clip(labels, 1e-15, 1 - 1e-15)
    course = -np.mean(probs * np.log(swapped) + (1 - probs) * np.log(1 - swapped))
    assert s["log_loss_tutorial"] == pytest.approx(course, abs=1e-12)  # the course printed 17.2696280766844
    assert s["sklearn_log_loss"] == log_loss(labels, probs)
    metrics = json.loads((folder / "metrics.json").read_text())
    assert len(metrics["parity"]) == 11 and all(row["pass"] for row in metrics["parity"])
    nb = (folder / "lesson.ipynb").read_text()
    assert "17.269388197455342" in nb  # the tutorial's own function, run to see its bug
    assert [p.name for p in (folder / "plots").iterdir()] == ["01-each-loss-for-one-prediction-p-of-a-true-label-1.png"]


def test_gradient_descent_lesson(tmp_path, shared_data):
    # Fails when broken (tests/mutants.py gradient-descent-frozen-bias, the tutorial's bug): (w1, w2, b) end at
    # (1.078, ..., 0.0) instead of the independently written loop's (8.40, ...).
    from sklearn.model_selection import train_test_split

    from keraslab import datasets

    folder, s = _run("gradient-descent", tmp_path, shared_data)
    frame = datasets.load("insurance", data_dir=shared_data).frame
    X = frame[["age", "affordibility"]].to_numpy(np.float64) / [100, 1]
    X_train, X_test, y_train, y_test = train_test_split(
        X, frame["bought_insurance"].to_numpy(), test_size=0.2, random_state=42
    )
    # the same 1000 full-batch steps written independently: w -= 0.5 X^T (p - y) / n; b -= 0.5 mean(p - y)
    w, b = np.ones(2), 0.0
    for _ in range(1000):
        error = 1 / (1 + np.exp(-(X_train @ w + b))) - y_train
        w, b = w - 0.5 * X_train.T @ error / len(y_train), b - 0.5 * error.mean()
    assert (s["scratch_w1"], s["scratch_w2"], s["scratch_b"]) == pytest.approx((w[0], w[1], b), abs=1e-9)
    assert s["scratch_test_accuracy"] == np.mean(((X_test @ w + b) > 0) == y_test) == 1.0
    for key in ("w1", "w2", "b"):  # Keras's SGD on the same full batch: the same steps in float32
        assert abs(s[f"keras_{key}"] - s[f"scratch_{key}"]) < 1e-4
    assert (folder / "history.csv").is_file() and len((folder / "history.csv").read_text().splitlines()) == 1001


def test_gd_variants_lesson(tmp_path, shared_data):
    # Fails when broken (tests/mutants.py gd-variants-first-rows-only): the SGD cost differs from the derivation.
    from sklearn.preprocessing import MinMaxScaler

    from keraslab import datasets

    folder, s = _run("gd-variants", tmp_path, shared_data)
    frame = datasets.load("homeprices", data_dir=shared_data).frame
    X = MinMaxScaler().fit_transform(frame[["area", "bedrooms"]].to_numpy(np.float64))
    y = MinMaxScaler().fit_transform(frame[["price"]].to_numpy(np.float64)).ravel()
    coef, *_ = np.linalg.lstsq(np.hstack([X, np.ones((len(y), 1))]), y, rcond=None)
    assert (s["ols_w1"], s["ols_w2"], s["ols_b"]) == pytest.approx(tuple(coef), abs=1e-12)
    w, b = np.ones(2), 0.0  # batch gradient descent, 500 epochs at 0.01, written independently
    for _ in range(499):
        residual = y - (X @ w + b)
        w, b = w + 0.01 * 2 * X.T @ residual / len(y), b + 0.01 * 2 * residual.mean()
    assert s["batch_cost"] == pytest.approx(np.mean((y - (X @ w + b)) ** 2), rel=1e-12)  # the cost at epoch 500
    assert round(s["batch_cost"], 8) == 0.00686419  # the original course's printed cost
    # SGD (one house a step) and mini-batch (5 a step), written independently: each epoch visits every house once,
    # in the order numpy.random.default_rng(seed).permutation draws (seed 0), and the cost is taken at its start.
    for method, per_step in (("sgd", 1), ("minibatch", 5)):
        rng, w_m, b_m = np.random.default_rng(0), np.ones(2), 0.0
        for _ in range(500):
            cost = np.mean((y - (X @ w_m + b_m)) ** 2)
            order = rng.permutation(len(y))
            for rows in np.split(order, len(y) // per_step):
                residual = y[rows] - (X[rows] @ w_m + b_m)
                w_m = w_m + 0.01 * 2 * X[rows].T @ residual / len(rows)
                b_m = b_m + 0.01 * 2 * residual.mean()
        assert s[f"{method}_cost"] == pytest.approx(cost, rel=1e-9), method
    # more updates per epoch: closer to the least-squares cost
    assert s["ols_cost"] <= s["sgd_cost"] < s["minibatch_cost"] < s["batch_cost"]
    prices = json.loads((folder / "metrics.json").read_text())["prices"]
    # in rupees: the same houses through the independently written batch fit (its 500th update made: the weights the
    # lesson ends with), each scaling undone by hand
    residual = y - (X @ w + b)
    w, b = w + 0.01 * 2 * X.T @ residual / len(y), b + 0.01 * 2 * residual.mean()
    houses = np.array([[2600, 4], [1000, 2], [1500, 3]], dtype=np.float64)
    lo, hi = frame[["area", "bedrooms"]].min().to_numpy(), frame[["area", "bedrooms"]].max().to_numpy()
    scaled = ((houses - lo) / (hi - lo)) @ w + b
    expected = scaled * (frame["price"].max() - frame["price"].min()) + frame["price"].min()
    assert [p["batch"] for p in prices] == pytest.approx(expected.tolist(), rel=1e-12)
    assert [round(p["batch"], 4) for p in prices] == [128.4548, 30.2531, 69.4786]  # as the lesson prints them


def test_gd_variants_seeded(tmp_path, shared_data):
    _, a = _run("gd-variants", tmp_path / "a", shared_data, seed=3, epochs=20)
    _, b = _run("gd-variants", tmp_path / "b", shared_data, seed=3, epochs=20)
    _, c = _run("gd-variants", tmp_path / "c", shared_data, seed=4, epochs=20)
    assert a == b and a["sgd_cost"] != c["sgd_cost"] and a["batch_cost"] == c["batch_cost"]


def test_cli_run_lesson_options_and_config_replay(tmp_path, shared_data, capsys):
    out = tmp_path / "r1"
    argv = ["run", "gd-variants", "--epochs", "30", "--learning-rate", "0.02", "--seed", "2", "--quiet"]
    code = main([*argv, "--data-dir", str(shared_data), "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    config = json.loads((out / "config.json").read_text())
    assert config == {
        "lesson": "gd-variants",
        "seed": 2,
        "quick": False,
        "epochs": 30,
        "learning_rate": 0.02,
        "batch_size": 5,
        "data_dir": str(shared_data),
        "resolved_by_lesson": [],
    }
    assert "learning_rate: float = 0.02" in (out / "lesson.ipynb").read_text()  # the executed cell shows them
    code = main(["run", "gd-variants", "--config", str(out / "config.json"), "--quiet", "--out", str(tmp_path / "r2")])
    assert code == 0
    a = json.loads((out / "metrics.json").read_text())["summary"]
    b = json.loads((tmp_path / "r2" / "metrics.json").read_text())["summary"]
    assert a == b


def test_the_values_a_run_used_are_its_config_never_null(tmp_path, shared_data):
    folder, _ = _run("gradient-descent", tmp_path, shared_data, quick=True)
    config = json.loads((folder / "config.json").read_text())
    assert config["epochs"] == 200 and config["quick"] is True  # quick's own epochs, not null
    folder, _ = _run("gradient-descent", tmp_path / "b", shared_data, quick=True, epochs=7)
    assert json.loads((folder / "config.json").read_text())["epochs"] == 7  # an explicit value wins


def test_a_quick_config_replayed_as_a_full_run_lets_the_lesson_choose_again(tmp_path, shared_data, capsys):
    """config.json names the values that quick chose: re-running it with --no-quick must not keep quick's 200
    epochs under a "full run" label (an explicit value still wins)."""
    argv = ["run", "gradient-descent", "--quick", "--quiet", "--data-dir", str(shared_data)]
    assert main([*argv, "--out", str(tmp_path / "q")]) == 0, capsys.readouterr().err
    config = json.loads((tmp_path / "q" / "config.json").read_text())
    assert config["epochs"] == 200 and config["resolved_by_lesson"] == ["epochs"]
    replay = ["run", "gradient-descent", "--config", str(tmp_path / "q" / "config.json"), "--quiet"]
    assert main([*replay, "--no-quick", "--out", str(tmp_path / "full")]) == 0
    full = json.loads((tmp_path / "full" / "config.json").read_text())
    assert full["quick"] is False and full["epochs"] == 1000
    assert main([*replay, "--out", str(tmp_path / "same")]) == 0  # replayed as it was: quick's values kept
    assert json.loads((tmp_path / "same" / "config.json").read_text())["epochs"] == 200


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--learning-rate", "fast"], "Invalid value for `learning_rate`. Expected a number in (0, inf)"),
        (["--no-such-option", "1"], "unrecognized arguments: --no-such-option"),
        (["--learning-rate", "-1"], "Invalid value for `learning_rate`. Expected a number in (0, inf)"),
    ],
)
def test_cli_run_bad_value_is_refused_before_any_work(tmp_path, shared_data, capsys, argv, message):
    code = main(["run", "gd-variants", *argv, "--data-dir", str(shared_data), "--out", str(tmp_path / "bad")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"lesson": "gd-variants", "learning_rate": -3}', "Invalid value for `learning_rate`"),
        ('{"lesson": "churn"}', "is for lesson 'churn', not 'gd-variants'"),
        ('{"speed": 1}', "the gd-variants lesson has no parameter(s) speed; its parameters: seed"),
        ("[1, 2]", "expected a JSON object"),
        ("{", "not valid JSON"),
        # the same rules as the command line's, the file named
        ('{"epochs": 2.5}', "config.json: Invalid value for `epochs`. Expected an integer in [1, inf)"),
        ('{"quick": "yes"}', "config.json: Invalid value for `quick`. Expected true or false"),
        ('{"learning_rate": NaN}', "config.json: Invalid value for `learning_rate`. Expected a number in (0, inf)"),
        ('{"learning_rate": Infinity}', "config.json: Invalid value for `learning_rate`"),
    ],
)
def test_a_bad_config_file_is_one_line_and_exit_2(tmp_path, capsys, content, message):
    (tmp_path / "config.json").write_text(content)
    code = main(["run", "gd-variants", "--config", str(tmp_path / "config.json"), "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_prove_command(capsys):
    assert main(["prove"]) == 0
    out = capsys.readouterr().out
    assert "all 25 checks passed" in out and "negative" in out


def test_prove_fails_when_a_check_fails(capsys, monkeypatch):
    from keraslab.scratch import losses

    monkeypatch.setitem(losses.LOSSES, "mse", (lambda y, p: losses.mse(y, p) * 1.01, losses.mse_grad))
    monkeypatch.setattr(losses, "mse", lambda y, p: float(((p - y) ** 2).mean() * 1.01))
    assert main(["prove"]) == 1
    assert "check(s) failed: mse vs keras" in capsys.readouterr().err


def test_every_lesson_option_is_typed_and_shows_its_default_and_range(capsys):
    for name, lesson in lessons.all_lessons().items():
        assert main(["run", name, "--help"]) == 0
        text = " ".join(capsys.readouterr().out.split()).split(f"options of lesson '{name}'", 1)[1]
        for p in lesson.parameters.values():
            if p.name == "seeds":  # the run command's own --seeds sets it
                continue
            assert p.flag in text, (name, p.flag)
            after = text.split(p.flag, 1)[1][:400]
            assert f"(default: {p.default}" in after, (name, p.flag)
            if p.bound is not None:
                assert p.bound.describe(p.type is int) in after, (name, p.flag)
        assert "(default: 0; an integer in [0, 4294967296))" in text  # --seed
    assert main(["run", "imbalance", "--help"]) == 0
    assert "{honest,tutorial}" in capsys.readouterr().out
