"""Running one lesson (keraslab.running.one_lesson): a lesson of one's own run into its folder, the executed
notebook, seeds, failures that leave nothing behind, values refused before any work, and the folder's record of its
files."""

import html as html_module
import json
import re

import numpy as np
import pytest

from keraslab import lessons
from keraslab.errors import UsageError
from keraslab.running import one_lesson as runner

# A lesson of one's own: a percent-format script with a parameters cell, `begin` and `run.finish`.
TOY = """# %% [markdown]
# # A toy lesson
#
# Draws normal numbers; the formula $\\bar x = \\frac{1}{n}\\sum_i x_i$ and `code`.

# %% tags=["parameters"]
seed: int = 0  # in [0, 2**32): the draws follow from it
quick: bool = False  # a smoke run
scale: float = 1.0  # in (0, inf): multiplier
fail: bool = False  # raise in the second cell

# %%
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from keraslab.lessons import begin

run = begin("toy", globals())

# %%
if fail:
    raise ValueError("the toy lesson was asked to fail")
draws = np.random.default_rng(seed).normal(size=100) * scale
print(f"{len(draws)} draws")
fig = Figure()
fig.subplots().plot(draws)
fig.set_label("the draws")
display(fig)
pd.DataFrame({"a": [1, 2], "b": [0.5, 0.25]})

# %%
run.finish(
    {"mean": draws.mean(), "first": draws[0]},
    course={"mean": 0.0},
    history=pd.DataFrame({"epoch": [1, 2], "loss": [0.5, 0.25]}),
    details={"n": 100},
)
"""


@pytest.fixture
def toy_lesson(tmp_path_factory):
    folder = tmp_path_factory.mktemp("toy-lesson")
    (folder / "toy.py").write_text(TOY)
    return lessons.Lesson("toy", "toy.py", "a toy lesson for the tests", "mean", "0.0", folder=folder)


def test_run_folder_contents(tmp_path, toy_lesson):
    folder, summary = runner.run_lesson(toy_lesson, {"seed": 3}, out=tmp_path / "r", quiet=True)
    assert folder == tmp_path / "r"
    names = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert names == [
        "config.json",
        "history.csv",
        "lesson.ipynb",
        "manifest.json",
        "metrics.json",
        "plots/01-the-draws.png",
        "report.html",
        "report.md",
    ]
    config = json.loads((folder / "config.json").read_text())
    assert config == {"lesson": "toy", "seed": 3, "quick": False, "scale": 1.0, "fail": False, "resolved_by_lesson": []}
    manifest = json.loads((folder / "manifest.json").read_text())
    for key in ("keraslab", "backend", "device", "seed", "data_files", "git_commit", "versions"):
        assert key in manifest
    assert manifest["seed"] == 3 and "numpy" in manifest["versions"] and "keras" in manifest["versions"]
    metrics = json.loads((folder / "metrics.json").read_text())
    draws = np.random.default_rng(3).normal(size=100)
    assert summary == {"mean": pytest.approx(draws.mean()), "first": pytest.approx(draws[0])}
    assert metrics["summary"] == summary and metrics["n"] == 100 and metrics["headline"] == "mean"
    html = (folder / "report.html").read_text()
    assert "data:image/png;base64," in html and "<code>code</code>" in html and "<table" in html
    assert "data:image/svg+xml;base64," in html  # the formula, drawn
    shown = html_module.unescape(re.sub(r"<[^>]+>", "", html))  # what a reader sees
    assert shown.index("draws = np.random") < shown.index("100 draws") < shown.index("run.finish(")  # in order
    md = (folder / "report.md").read_text()
    assert "![the draws](plots/01-the-draws.png)" in md
    assert "| mean |" in md and "```python" in md


def test_the_executed_notebook_is_the_script_with_this_runs_values_and_outputs(tmp_path, toy_lesson):
    nbformat = pytest.importorskip("nbformat")
    folder, _ = runner.run_lesson(toy_lesson, {"seed": 3, "scale": 2.0}, out=tmp_path / "r", quiet=True)
    nb = nbformat.read(folder / "lesson.ipynb", as_version=4)
    nbformat.validate(nb)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert "seed: int = 3" in params.source and "scale: float = 2.0" in params.source
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert any(o.get("text", "").startswith("100 draws") for o in outputs)
    assert any("image/png" in o.get("data", {}) for o in outputs)
    assert any("text/html" in o.get("data", {}) for o in outputs)  # the DataFrame, as Jupyter shows it


def test_same_seed_same_result(tmp_path, toy_lesson):
    _, a = runner.run_lesson(toy_lesson, {"seed": 5}, out=tmp_path / "a", quiet=True)
    _, b = runner.run_lesson(toy_lesson, {"seed": 5}, out=tmp_path / "b", quiet=True)
    _, c = runner.run_lesson(toy_lesson, {"seed": 6}, out=tmp_path / "c", quiet=True)
    assert a == b and a != c


def test_several_seeds(tmp_path, toy_lesson):
    folder, summary = runner.run_lesson(toy_lesson, {"seed": 0}, out=tmp_path / "m", seeds=3, quiet=True)
    per_seed = [np.random.default_rng(s).normal(size=100).mean() for s in range(3)]
    assert summary["mean"] == pytest.approx(np.mean(per_seed))
    assert summary["mean_sd"] == pytest.approx(np.std(per_seed, ddof=1))
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == ["seed0", "seed1", "seed2"]
    for s in range(3):
        assert json.loads((folder / f"seed{s}" / "config.json").read_text())["seed"] == s
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["seeds"] == [0, 1, 2] and set(metrics["per_seed"]) == {"0", "1", "2"}
    assert json.loads((folder / "config.json").read_text())["seeds"] == 3
    html = (folder / "report.html").read_text()
    assert "Every seed (3)" in html and "3 seeds (0-2)" in html  # headed by how it was made, followed by the seeds
    assert "seed0/plots/01-the-draws.png" in (folder / "report.md").read_text()


def test_failed_run_leaves_nothing_and_names_the_cell(tmp_path, toy_lesson):
    from keraslab.lessons.execution import LessonFailed

    with pytest.raises(LessonFailed, match=r"lesson toy: cell 4 \(toy.py line 22: 'if fail:'\) failed: ValueError"):
        runner.run_lesson(toy_lesson, {"fail": True}, out=tmp_path / "r", quiet=True)
    assert list(tmp_path.iterdir()) == []


def test_a_bad_value_is_refused_before_any_work(tmp_path, toy_lesson):
    for values, message in (
        ({"scale": -1.0}, r"Invalid value for `scale`. Expected a number in \(0, inf\). Received: scale=-1.0"),
        ({"scale": float("nan")}, r"Invalid value for `scale`"),
        ({"scale": "big"}, r"Received: scale='big'"),
        ({"speed": 2}, r"the toy lesson has no parameter\(s\) speed; its parameters: seed, quick, scale, fail"),
    ):
        with pytest.raises(UsageError, match=message):
            runner.run_lesson(toy_lesson, values, out=tmp_path / "r", quiet=True)
    assert list(tmp_path.iterdir()) == []


def test_out_must_be_new_or_empty(tmp_path, toy_lesson):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(UsageError, match="already exists and is not empty"):
        runner.run_lesson(toy_lesson, {}, out=tmp_path / "full", quiet=True)
    (tmp_path / "empty").mkdir()
    folder, _ = runner.run_lesson(toy_lesson, {}, out=tmp_path / "empty", quiet=True)
    assert (folder / "metrics.json").is_file()


def test_a_run_of_several_seeds_is_named_for_them(tmp_path, toy_lesson):
    folder, _ = runner.run_lesson(toy_lesson, {"seed": 2}, seeds=3, runs_root=tmp_path, quiet=True)
    assert folder.parent == tmp_path / "toy" and folder.name.endswith("-seeds2-4")
    folder, _ = runner.run_lesson(toy_lesson, {"seed": 2}, runs_root=tmp_path, quiet=True)
    assert folder.name.endswith("-seed2")


def test_aggregate_summaries():
    agg = runner.aggregate_summaries([{"f1": 0.5, "acc": 0.8}, {"f1": 0.7, "acc": 0.8}])
    assert agg == {
        "f1": pytest.approx(0.6),
        "f1_sd": pytest.approx(np.sqrt(0.02)),
        "acc": pytest.approx(0.8),
        "acc_sd": 0.0,
    }


def test_a_run_folder_records_its_files_and_runs_check_names_each_change(tmp_path, toy_lesson, capsys):
    """SECURITY.md promised a check of a run folder that did not exist."""
    from keraslab.cli.main import main
    from keraslab.files import sha256_file

    folder, _ = runner.run_lesson(toy_lesson, {"seed": 3}, out=tmp_path / "r", quiet=True)
    files = json.loads((folder / "manifest.json").read_text())["files"]
    assert set(files) == {
        "config.json",
        "history.csv",
        "lesson.ipynb",
        "metrics.json",
        "plots/01-the-draws.png",
        "report.html",
        "report.md",
    }
    assert files["report.md"]["sha256"] == sha256_file(folder / "report.md")
    assert main(["runs", "check", str(folder)]) == 0
    assert f"{folder}: all 7 files as written" in capsys.readouterr().out
    (folder / "report.md").write_text("edited")
    (folder / "history.csv").unlink()
    (folder / "notes.txt").write_text("mine")
    assert main(["runs", "check", str(folder)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert sorted(err) == sorted(
        [
            f"{folder / 'history.csv'}: missing",
            f"{folder / 'report.md'}: differs from the manifest (sha256 {files['report.md']['sha256'][:12]}...)",
            f"{folder / 'notes.txt'}: added (not in the manifest)",
        ]
    )
