"""The from-scratch lessons end to end (run folder, golden values) and `keraslab verify`."""

import json

import pytest

from keraslab import lessons
from keraslab.cli.main import main
from keraslab.runs import runner


def _run(name, tmp_path, shared_data, **options):
    lesson = lessons.get_lesson(name)
    config = lessons.make_config(lesson, data_dir=str(shared_data), offline=True, quiet=True, **options)
    folder, summary = runner.run_lesson(lesson, config, out=tmp_path / name)
    return folder, summary


def test_losses_lesson(tmp_path, shared_data):
    folder, s = _run("losses", tmp_path, shared_data)
    assert s["mae"] == pytest.approx(0.5, abs=1e-12)
    assert s["mse"] == pytest.approx(0.366, abs=1e-12)
    assert s["log_loss_tutorial"] == pytest.approx(17.2696280766844, abs=1e-10)
    assert s["log_loss"] == pytest.approx(7.3586741842331, abs=1e-10)
    metrics = json.loads((folder / "metrics.json").read_text())
    assert len(metrics["parity"]) == 11 and all(row["pass"] for row in metrics["parity"])
    assert (folder / "report.html").is_file() and (folder / "tables" / "losses_vs_keras.csv").is_file()


def test_gradient_descent_lesson(tmp_path, shared_data):
    folder, s = _run("gradient-descent", tmp_path, shared_data)
    assert s["scratch_w1"] == pytest.approx(8.40135186, abs=1e-7)
    assert s["scratch_w2"] == pytest.approx(1.50088042, abs=1e-7)
    assert s["scratch_b"] == pytest.approx(-4.38205693, abs=1e-7)
    assert s["scratch_train_loss"] == pytest.approx(0.44494880, abs=1e-7)
    assert s["scratch_test_accuracy"] == 1.0
    for key in ("w1", "w2", "b"):
        assert abs(s[f"keras_{key}"] - s[f"scratch_{key}"]) < 1e-2
    assert (folder / "plots" / "loss_curves.png").is_file() and (folder / "history.csv").is_file()


def test_gd_variants_lesson(tmp_path, shared_data):
    folder, s = _run("gd-variants", tmp_path, shared_data)
    assert s["batch_w1"] == pytest.approx(0.70712464, abs=1e-8)
    assert s["batch_w2"] == pytest.approx(0.67456527, abs=1e-8)
    assert s["batch_b"] == pytest.approx(-0.23034857, abs=1e-8)
    assert s["batch_cost"] == pytest.approx(0.00686419, abs=1e-8)
    assert s["ols_w1"] == pytest.approx(0.92274563, abs=1e-8)
    assert s["ols_w2"] == pytest.approx(0.2021403, abs=1e-7)
    assert s["ols_b"] == pytest.approx(-0.07396696, abs=1e-8)
    # SGD and mini-batch take more updates per epoch, so they get closer to the least-squares cost.
    assert s["ols_cost"] <= s["sgd_cost"] < s["batch_cost"] and s["minibatch_cost"] < s["batch_cost"]
    prices = json.loads((folder / "metrics.json").read_text())["prices"]
    assert [round(p["batch"], 4) for p in prices] == [128.4548, 30.2531, 69.4786]


def test_gd_variants_seeded(tmp_path, shared_data):
    _, a = _run("gd-variants", tmp_path / "a", shared_data, seed=3, epochs=20)
    _, b = _run("gd-variants", tmp_path / "b", shared_data, seed=3, epochs=20)
    _, c = _run("gd-variants", tmp_path / "c", shared_data, seed=4, epochs=20)
    assert a == b and a["sgd_cost"] != c["sgd_cost"] and a["batch_cost"] == c["batch_cost"]


def test_cli_run_lesson_options_and_config_replay(tmp_path, shared_data, capsys):
    out = tmp_path / "r1"
    code = main(
        [
            "run",
            "gd-variants",
            "--epochs",
            "30",
            "--learning-rate",
            "0.02",
            "--seed",
            "2",
            "--quiet",
            "--data-dir",
            str(shared_data),
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    config = json.loads((out / "config.json").read_text())
    assert config["epochs"] == 30 and config["learning_rate"] == 0.02 and config["seed"] == 2
    code = main(["run", "gd-variants", "--config", str(out / "config.json"), "--quiet", "--out", str(tmp_path / "r2")])
    assert code == 0
    a = json.loads((out / "metrics.json").read_text())["summary"]
    b = json.loads((tmp_path / "r2" / "metrics.json").read_text())["summary"]
    assert a == b


def test_cli_run_bad_lesson_option(capsys):
    code = main(["run", "gd-variants", "--learning-rate", "fast"])
    err = capsys.readouterr().err
    assert code == 2 and "invalid float value: 'fast'" in err and "Traceback" not in err
    code = main(["run", "gd-variants", "--no-such-option", "1"])
    assert code == 2 and "unrecognized arguments: --no-such-option" in capsys.readouterr().err


def test_cli_run_bad_value_is_refused_before_any_work(tmp_path, shared_data, capsys):
    code = main(
        ["run", "gd-variants", "--learning-rate", "-1", "--data-dir", str(shared_data), "--out", str(tmp_path / "bad")]
    )
    err = capsys.readouterr().err
    # the option's bounds catch it as a usage error (exit 2); the library's own check stays behind it
    assert code == 2 and "Invalid value for `learning_rate`. Expected a number in (0, inf)" in err
    assert not (tmp_path / "bad").exists()


def test_verify_command(capsys):
    assert main(["verify"]) == 0
    out = capsys.readouterr().out
    assert "all 25 checks passed" in out and "negative" in out


def test_verify_fails_when_a_check_fails(capsys, monkeypatch):
    from keraslab.scratch import losses

    monkeypatch.setitem(losses.LOSSES, "mse", (lambda y, p: losses.mse(y, p) * 1.01, losses.mse_grad))
    monkeypatch.setattr(losses, "mse", lambda y, p: float(((p - y) ** 2).mean() * 1.01))
    assert main(["verify"]) == 1
    assert "check(s) failed: mse vs keras" in capsys.readouterr().err


def test_every_lesson_option_is_typed_and_shows_its_default(capsys):
    from keraslab.lessons import config_options

    for name, lesson in lessons.all_lessons().items():
        assert main(["run", name, "--help"]) == 0
        text = " ".join(capsys.readouterr().out.split())
        for option in config_options(lesson.config_cls):
            if option.name == "seeds":  # the run command's own --seeds
                continue
            flag = "--" + option.name.replace("_", "-")
            assert flag in text, (name, flag)
            assert option.type in (int, float, str, bool)
            assert isinstance(option.default, option.type) or option.default is None, (name, option)
        assert "(default: 0)" in text  # --seed
        if lesson.epochs:  # --epochs: the lesson's own numbers, full and quick
            assert f"(default: {lesson.epochs[0]}; {lesson.epochs[1]} with --quick)" in text, name
    options = {o.name: o for o in config_options(lessons.get_lesson("imbalance").config_cls)}
    assert options["protocol"].choices == ("honest", "tutorial") and options["alpha"].type is float
