"""Errors that used to come out raw (TraitError, FileExistsError, NotADirectoryError,
OverflowError) or left something behind, each now one line naming what is wrong, with the right exit code."""

import nbformat
import pytest

from keraslab.cli.main import main


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_notebook_out_naming_a_file(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    assert main(["notebook", "losses", "--out", str(tmp_path / "afile")]) == 2
    assert "a file, not a folder" in _one_line(capsys)


def test_serve_port_out_of_range(tmp_path, capsys):
    assert main(["serve", str(tmp_path), "--port", "70000"]) == 2
    assert "Invalid value for `port`. Expected an integer in [1, 65535]. Received: port=70000" in _one_line(capsys)


@pytest.mark.full_data("mnist/idx")
@pytest.mark.parametrize("blocker", ["home", "home/mnist"])
def test_data_import_where_a_folder_is_a_file(tmp_path, shared_data, capsys, blocker):
    home = tmp_path / "home"
    if blocker == "home/mnist":
        home.mkdir()
    (tmp_path / blocker).write_text("not a folder")
    assert main(["data", "import", "mnist", str(shared_data / "mnist"), "--data-dir", str(home)]) == 1
    assert f"{tmp_path / blocker} is a file, not a folder" in _one_line(capsys)


def test_a_run_that_fails_before_it_starts_leaves_no_folder(tmp_path, capsys, monkeypatch):
    """A full run (a quick one stands in) whose CIFAR-10 is not there, with --offline forbidding the fetch: one line,
    which also says how to run the lesson on the digits that ship with keraslab; no folder."""
    monkeypatch.chdir(tmp_path)
    assert main(["run", "cnn", "--epochs", "1", "--offline", "--data-dir", str(tmp_path / "empty")]) == 1
    line = _one_line(capsys)
    assert "cifar-10-python.tar.gz is not in" in line and "--offline forbids downloading it" in line
    # the options given, kept (here --epochs and the data home), so that the command runs what was asked
    assert line.endswith(
        f"; or run it on the digits that ship with keraslab: keraslab run cnn --epochs 1 --data-dir "
        f"{tmp_path / 'empty'} --dataset mnist_5k"
    )
    assert not (tmp_path / "runs").exists()


def test_a_fractional_notebook_timeout_is_whole_seconds(tmp_path):
    from keraslab.lessons import kernel

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1 + 1)")])
    done = kernel.execute_notebook(nb, cwd=tmp_path, name="t", timeout=0.3)  # nbclient takes whole seconds
    assert done.cells[0].outputs[0].text == "2\n"


def test_user_text_is_shown_as_text_by_matplotlib_and_rich(tmp_path, capsys):
    """Labels "$0_$50" were parsed as mathematics (train failed after training, writing nothing);
    a folder "[/x]" was parsed as rich markup (MarkupError)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    x = rng.normal(size=120)
    labels = np.where(x > 0, "$50_$100", "$0_$50")
    pd.DataFrame({"x": x, "price band": labels}).to_csv(tmp_path / "t.csv", index=False)
    out = tmp_path / "[/bold]b"
    code = main(["train", str(tmp_path / "t.csv"), "--target", "price band", "--epochs", "2", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert f"run folder: {out}" in capsys.readouterr().out
    assert "$0_$50" in (out / "report.html").read_text() and (out / "model.keras").is_file()
    from keraslab import plots

    fig = plots.curves({"$\\undefinedcommand$": [1.0, 0.5]}, title="[/x] $x_$")
    fig.canvas.draw()  # rendering parses nothing


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (
            ["notebook", "losses", "--execute", "--timeout", "nan"],
            "Invalid value for `timeout`. Expected a number in (0, inf) or None. Received: timeout=nan",
        ),
        (
            ["notebook", "losses", "--execute", "--timeout", "inf"],
            "Invalid value for `timeout`. Expected a number in (0, inf) or None. Received: timeout=inf",
        ),
        (
            ["launch", "--processes", "2", "--timeout", "inf", "--", "run", "losses"],
            "Invalid value for `timeout`. Expected a number in (0, inf). Received: timeout=inf",
        ),
        (
            ["bench", "--samples", "-5"],
            "Invalid value for `samples`. Expected an integer in [1, inf). Received: samples=-5",
        ),
        (["train", "x.csv", "--target", "t", "--test-size", "nan"], "Invalid value for `test_size`"),
        (["train", "x.csv", "--target", "t", "--epochs", "inf"], "Invalid value for `epochs`"),
    ],
)
def test_nan_and_infinities_are_refused_by_every_command(argv, says, tmp_path, capsys, monkeypatch):
    """Every option of every command refuses NaN and the infinities, one line, exit 2."""
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert says in _one_line(capsys)


def _disk_full(*args, **kwargs):
    import errno

    raise OSError(errno.ENOSPC, "No space left on device")  # as write() and fsync() raise it: no file named


def test_a_full_disk_names_the_path_for_run_notebook_and_train(tmp_path, shared_data, capsys, monkeypatch):
    """`train`, `run` and `notebook` printed "no space left on the device" without the path."""
    import os

    from keraslab.run_folders.folder import FolderWriter

    with monkeypatch.context() as m:
        m.setattr(os, "fsync", _disk_full)
        assert main(["notebook", "losses", "--out", str(tmp_path / "nb")]) == 1
        assert f"{tmp_path / 'nb' / 'losses.ipynb'}: no space left on the device" in _one_line(capsys)
    with monkeypatch.context() as m:
        m.setattr(FolderWriter, "write_text", _disk_full)
        assert main(["run", "losses", "--quick", "--out", str(tmp_path / "r")]) == 1
        assert f"{tmp_path / 'r'}: no space left on the device" in _one_line(capsys)
        assert not (tmp_path / "r").exists()
        csv = str(shared_data / "insurance_data.csv")
        assert main(["train", csv, "--target", "bought_insurance", "--epochs", "1", "--out", str(tmp_path / "b")]) == 1
        assert f"{tmp_path / 'b'}: no space left on the device" in _one_line(capsys)
        assert not (tmp_path / "b").exists()
