"""`keraslab notebook`: each lesson script as a notebook file, its parameters set and checked; and every lesson run as
a learner runs it, in a Jupyter kernel, quick, on a fresh machine (an empty data home and home folder, no
$KERASLAB_DATA: the shipped tables, and the shipped digits standing in for the image sets), without an error, its
plots inline, reaching what the same script reaches when `keraslab run` executes it in its own process."""

import dataclasses
import json
import time

import nbformat
import pytest

from keraslab import lessons
from keraslab.cli.main import main
from keraslab.lessons import kernel
from keraslab.lessons.notebook import build_notebook
from keraslab.lessons.source import read_cells
from keraslab.options import read_parameters

LESSONS = lessons.COURSE_ORDER
DATA_LESSONS = [name for name in LESSONS if name != "losses"]


def _parameters(nb) -> dict:
    cell = next(c for c in nb.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", []))
    return read_parameters(cell.source)


@pytest.mark.parametrize("name", LESSONS)
def test_the_notebook_is_the_script(name):
    """nbformat validates it, and written back as a percent script (jupytext) it is the lesson's script again (with
    --solutions: the script less its solution markers)."""
    from keraslab.lessons import practice

    jupytext = pytest.importorskip("jupytext")
    nb = nbformat.from_dict(build_notebook(name, solutions=True))
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3" and nb.metadata["keraslab"] == {"lesson": name}
    again = jupytext.writes(nbformat.reads(nbformat.writes(nb), as_version=4), fmt="py:percent")
    solved = practice.written_out(lessons.get_lesson(name).cells, with_solutions=True)  # only the markers go
    assert [(c.kind, c.source, c.tags) for c in read_cells(again)] == [(c.kind, c.source, c.tags) for c in solved]


def test_the_command_writes_a_valid_notebook_with_its_parameters_set(tmp_path, capsys):
    code = main(["notebook", "mnist", "--out", str(tmp_path), "--seed", "3", "--param", "dataset=fashion_mnist"])
    assert code == 0 and str(tmp_path / "mnist.ipynb") in capsys.readouterr().out
    nb = nbformat.read(tmp_path / "mnist.ipynb", as_version=4)
    nbformat.validate(nb)
    params = _parameters(nb)
    assert params["seed"].default == 3 and params["dataset"].default == "fashion_mnist" and not params["quick"].default
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_all_writes_nine_and_existing_files_are_refused_without_force(tmp_path, capsys):
    assert main(["notebook", "--all", "--out", str(tmp_path), "--quick"]) == 0
    assert sorted(p.stem for p in tmp_path.glob("*.ipynb")) == sorted(LESSONS)
    before = (tmp_path / "churn.ipynb").read_text()
    capsys.readouterr()
    assert main(["notebook", "churn", "--out", str(tmp_path), "--seed", "5"]) == 2
    assert "churn.ipynb already exist(s); pass --force to overwrite" in capsys.readouterr().err
    assert (tmp_path / "churn.ipynb").read_text() == before
    assert main(["notebook", "churn", "--out", str(tmp_path), "--seed", "5", "--force"]) == 0
    assert "seed: int = 5" in (tmp_path / "churn.ipynb").read_text()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["notebook", "nope"], "Unknown lesson 'nope'. Expected one of: mnist, losses, gradient-descent"),
        (["notebook"], "name a LESSON or pass --all"),
        (["notebook", "churn", "--all"], "name a LESSON or pass --all"),
        (["notebook", "churn", "--param", "lr=3"], "the churn lesson has no parameter 'lr'; its parameters: seed"),
        (["notebook", "churn", "--param", "epochs=ten"], "Invalid value for `epochs`. Expected an integer in [1, inf)"),
        (["notebook", "mnist", "--param", "dataset=cifar"], "Expected one of 'mnist', 'fashion_mnist', 'mnist_5k'"),
        (
            ["notebook", "losses", "--param", "epsilon=0.9"],
            "Invalid value for `epsilon`. Expected a number in (0, 0.5)",
        ),
        (
            ["notebook", "churn", "--param", "threshold=inf"],
            "Invalid value for `threshold`. Expected a number in [0, 1]",
        ),
        (["notebook", "churn", "--seed", "-1"], "Invalid value for `seed`. Expected an integer in [0, 4294967296)"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    assert main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) <= 2  # usage line + error
    assert not list(tmp_path.iterdir())


def test_executing_without_the_extra_is_one_line_naming_it(tmp_path, capsys, monkeypatch):
    real = kernel.importlib.util.find_spec
    monkeypatch.setattr(kernel.importlib.util, "find_spec", lambda n: None if n == "nbclient" else real(n))
    assert main(["notebook", "churn", "--execute", "--out", str(tmp_path)]) == 2
    assert "needs nbclient (the notebooks extra): pip install 'keraslab[notebooks]'" in capsys.readouterr().err
    assert main(["notebook", "churn", "--out", str(tmp_path)]) == 0  # writing one needs no extra


@pytest.mark.slow
def test_a_failing_cell_exits_1_naming_it_and_keeps_the_partial_notebook(tmp_path, capsys, monkeypatch):
    lesson = lessons.get_lesson("churn")
    text = lesson.text.replace('table = datasets.load("churn", data_dir=data_dir)', 'raise RuntimeError("no table")')
    (tmp_path / "06_churn.py").write_text(text)
    monkeypatch.setattr(lessons.catalog, "LESSONS", (dataclasses.replace(lesson, folder=tmp_path),))
    out = tmp_path / "out"
    (out).mkdir()
    (out / "churn.failed.ipynb").write_text("{}")  # from an earlier attempt: replaced
    assert main(["notebook", "churn", "--out", str(out), "--execute"]) == 1
    err = capsys.readouterr().err.strip()
    assert "notebook churn: cell 6 ('raise RuntimeError(\"no table\")') failed: RuntimeError: no table" in err
    assert f"the partly executed notebook is {out / 'churn.failed.ipynb'}" in err and len(err.splitlines()) == 1
    assert not (out / "churn.ipynb").exists()
    partial = nbformat.read(out / "churn.failed.ipynb", as_version=4)
    errors = [c for c in partial.cells if any(o.output_type == "error" for o in c.get("outputs", []))]
    assert len(errors) == 1 and "churn: full run, seed 0" in partial.cells[3].outputs[0].text  # ran before it


# ---- every lesson, as a learner runs it -----------------------------------------------------------------------

SUMMARY_CELL = "import json as _json\nprint(_json.dumps(run.record.summary))"


IMAGE_LESSONS = ("mnist", "cifar10-ann", "cnn")


@pytest.fixture(scope="module")
def in_a_kernel(tmp_path_factory):
    """lesson -> (the notebook executed in a Jupyter kernel, its summary), quick, seed 0, as on a fresh machine: the
    data home an empty folder, HOME empty, no $KERASLAB_DATA."""
    empty = tmp_path_factory.mktemp("empty-data-home")
    cache = {}

    def run(name):
        if name not in cache:
            with pytest.MonkeyPatch.context() as mp:
                mp.delenv("KERASLAB_DATA", raising=False)
                mp.setenv("HOME", str(tmp_path_factory.mktemp("empty-home")))
                params = [f"data_dir={empty}"] if name in DATA_LESSONS else []
                nb = build_notebook(name, params=params, quick=True, seed=0)
                nb["cells"].append(nbformat.v4.new_code_cell(SUMMARY_CELL))
                nb = kernel.execute_notebook(nb, cwd=tmp_path_factory.mktemp(name), name=name, timeout=600)
            cache[name] = nb, json.loads(nb.cells[-1].outputs[0].text)
        assert not any(empty.iterdir())  # nothing was downloaded
        return cache[name]

    return run


@pytest.mark.slow
@pytest.mark.parametrize("name", LESSONS)
def test_every_lesson_runs_clean_in_a_kernel_with_its_plots_inline(name, in_a_kernel):
    nb, _summary = in_a_kernel(name)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # plots inline: it reads without a kernel
    # the closing table says how the figures were made: quick, the seed, real or substitute data
    closing = next(c for c in nb.cells if c.cell_type == "code" and "run.finish(" in c.source)
    last = closing.outputs[-1]["data"]["text/plain"]
    # the exercises come after it, as the learner gets them: every check says "not attempted yet", none fails
    streams = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    checked = [e for e in lessons.get_lesson(name).exercises if e.checked]
    assert streams.count("not attempted yet") == len(checked) >= 1
    assert "✓" not in streams and "✗" not in streams
    # an image lesson runs on the digits that ship, labelled as `keraslab run` labels them
    kind = "stand-in" if name in IMAGE_LESSONS else "real"
    assert f"this run (quick run, seed 0, {kind} data)" in last, last
    if name in IMAGE_LESSONS:
        assert "stand-in data: mnist_5k in place of" in streams
    if name == "cnn":  # the learner's model is Keras's, layer for layer
        summary = next(c for c in nb.cells if c.cell_type == "code" and "cnn.summary()" in c.source)
        shown = json.dumps(summary.outputs)
        assert "Conv2D" in shown and "MaxPooling2D" in shown and "Patch" not in shown, shown


@pytest.mark.slow
@pytest.mark.parametrize("name", LESSONS)
def test_a_kernel_and_the_command_reach_the_same_summary(name, in_a_kernel, quick_run):
    """One script, two ways to run it: in a Jupyter kernel (a learner) and in keraslab's own process (`keraslab run`)
    give the same numbers for the same seed (the executors differ; the lesson does not)."""
    # the kernel's image lessons stood in with mnist_5k: the command is asked for it by name
    _folder, summary = quick_run(name, **({"dataset": "mnist_5k"} if name in IMAGE_LESSONS else {}))
    _nb, from_kernel = in_a_kernel(name)
    timed = {"cpu_epoch_seconds"}  # a wall-clock measurement, never the same twice
    assert {k: v for k, v in from_kernel.items() if k not in timed} == {
        k: v for k, v in summary.items() if k not in timed
    }


@pytest.mark.slow
def test_two_kernels_at_a_time_write_every_notebook_in_order(tmp_path, monkeypatch):
    """`notebook --jobs 2`: the kernels overlap in time, and the notebooks are written and reported in the order
    asked for, each executed clean."""
    from keraslab.lessons.notebook import make_notebooks

    spans, real = [], kernel.execute_notebook

    def timed(nb, **kwargs):
        started = time.monotonic()
        try:
            return real(nb, **kwargs)
        finally:
            spans.append((started, time.monotonic()))

    monkeypatch.setattr(kernel, "execute_notebook", timed)
    said = []
    names = ["losses", "gradient-descent", "gd-variants"]
    written = make_notebooks(names, tmp_path, execute=True, quick=True, jobs=2, progress=said.append)
    assert [p.name for p in written] == [f"{n}.ipynb" for n in names]
    assert [line.split(" (executed in ")[0] for line in said] == [str(p) for p in written]
    for path in written:
        outputs = [o for c in nbformat.read(path, as_version=4).cells for o in c.get("outputs", [])]
        assert outputs and not [o for o in outputs if o.output_type == "error"], path
    first, second = sorted(spans)[:2]
    assert second[0] < first[1]  # the second kernel started before the first was done


@pytest.mark.slow
def test_with_two_kernels_a_failure_keeps_the_notebooks_before_it_only(tmp_path, capsys, monkeypatch):
    churn, losses = lessons.get_lesson("churn"), lessons.get_lesson("losses")
    text = churn.text.replace('table = datasets.load("churn", data_dir=data_dir)', 'raise RuntimeError("no table")')
    (tmp_path / "06_churn.py").write_text(text)
    monkeypatch.setattr(lessons.catalog, "LESSONS", (losses, dataclasses.replace(churn, folder=tmp_path)))
    out = tmp_path / "out"
    argv = ["notebook", "churn", "losses", "--out", str(out), "--execute", "--quick", "--jobs", "2"]
    assert main(argv) == 1
    assert "notebook churn: cell 6 ('raise RuntimeError(\"no table\")') failed" in capsys.readouterr().err
    assert (out / "churn.failed.ipynb").is_file() and not (out / "losses.ipynb").exists()  # losses comes after it
