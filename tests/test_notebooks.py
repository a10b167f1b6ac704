"""The lesson notebooks: each source is a valid jupytext percent script that round-trips; the parameters cell is
checked and set; `keraslab notebook` writes, executes and refuses as it says; and every notebook, executed quick on the
test data, runs without an error and reaches the headline figure `keraslab run LESSON` reaches."""

import ast
import json

import jupytext
import nbformat
import pytest

from keraslab import lessons, notebooks
from keraslab.cli.main import main
from keraslab.errors import UsageError
from keraslab.notebooks import authoring
from keraslab.notebooks.parameters import parse_assignments, read_parameters, set_values

LESSONS = notebooks.COURSE_ORDER
DATA_LESSONS = [name for name in LESSONS if name != "losses"]


def test_one_notebook_per_lesson_in_the_course_order():
    assert sorted(LESSONS) == sorted(lessons.all_lessons())
    assert LESSONS[0] == "mnist" and LESSONS[-1] == "cnn"  # the course's notebook 1 ... notebook 10
    titles = [notebooks.read_source(name).cells[0].source.splitlines()[0] for name in LESSONS]
    assert titles == [t for t in titles if t.startswith("# Lesson ")] and [t.split()[2] for t in titles] == [
        str(i) for i in range(1, 10)
    ]


@pytest.mark.parametrize("name", LESSONS)
def test_the_source_round_trips_and_the_notebook_is_valid(name):
    text = notebooks.source_text(name)
    assert jupytext.writes(jupytext.reads(text, fmt="py:percent"), fmt="py:percent") == text
    nb = notebooks.build_notebook(name)
    nbformat.validate(nb)
    again = nbformat.reads(nbformat.writes(nb), as_version=4)  # the .ipynb we write, read back
    back = jupytext.reads(jupytext.writes(again, fmt="py:percent"), fmt="py:percent")
    assert [(c.cell_type, c.source, c.metadata.get("tags")) for c in back.cells] == [
        (c.cell_type, c.source, c.metadata.get("tags")) for c in jupytext.reads(text, fmt="py:percent").cells
    ]


@pytest.mark.parametrize("name", LESSONS)
def test_backend_first_then_the_parameters_then_keras(name):
    cells = [c for c in notebooks.read_source(name).cells if c.cell_type == "code"]
    assert 'os.environ["KERAS_BACKEND"]' in cells[0].source and "import keras" not in cells[0].source
    assert cells[1].metadata.get("tags") == ["parameters"]
    declared = read_parameters(cells[1].source)
    assert "seed" in declared
    if name in DATA_LESSONS:
        assert {"seed", "quick", "epochs", "dataset", "data_home"} <= set(declared)
    assert not any("import keras" in c.source for c in cells[:2])
    assert "summary = {" in cells[-1].source  # what the test below compares with the command line


def _keraslab_imports(text: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("keraslab"):
            found |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("keraslab")}
    return found


@pytest.mark.parametrize("name", LESSONS)
def test_the_idea_is_written_out_in_the_notebook(name):
    """The model is in the cells, not behind keraslab's builders (keraslab.models); the churn lesson writes its
    preprocessing out too (no keraslab.tables)."""
    text = notebooks.source_text(name)
    imported = _keraslab_imports(text)
    assert not {i for i in imported if i.startswith("keraslab.models")}, imported
    if name == "churn":
        assert not {i for i in imported if i.startswith("keraslab.tables")}, imported
    if name not in ("losses", "gd-variants"):
        assert "keras.Sequential(" in text and ".compile(" in text


def test_parameters_are_checked_against_their_annotations():
    cell = 'seed: int = 0  # s\nquick: bool = False\nepochs: int | None = None\nname: Literal["a", "b"] = "a"\n'
    declared = read_parameters(cell)
    assert parse_assignments(["seed=3", "quick=yes", "epochs=none", "name=b"], declared, notebook="x") == {
        "seed": 3,
        "quick": True,
        "epochs": None,
        "name": "b",
    }
    with pytest.raises(UsageError, match=r"--param seed=1\.5: expected int; found '1\.5'"):
        parse_assignments(["seed=1.5"], declared, notebook="x")
    with pytest.raises(UsageError, match=r"--param quick=maybe: expected bool"):
        parse_assignments(["quick=maybe"], declared, notebook="x")
    with pytest.raises(UsageError, match=r"--param name=c: expected one of a, b"):
        parse_assignments(["name=c"], declared, notebook="x")
    with pytest.raises(UsageError, match=r"the x notebook has no parameter 'lr'; its parameters: seed, quick, epochs"):
        parse_assignments(["lr=0.1"], declared, notebook="x")
    with pytest.raises(UsageError, match=r"expected NAME=VALUE"):
        parse_assignments(["seed"], declared, notebook="x")
    changed = set_values(cell, {"seed": 7, "name": "b"})
    assert changed.splitlines()[0] == "seed: int = 7  # s" and read_parameters(changed)["name"].default == "b"


def test_the_command_writes_a_valid_notebook_with_its_parameters_set(tmp_path, capsys):
    code = main(["notebook", "mnist", "--out", str(tmp_path), "--seed", "3", "--param", "dataset=fashion_mnist"])
    assert code == 0 and str(tmp_path / "mnist.ipynb") in capsys.readouterr().out
    nb = nbformat.read(tmp_path / "mnist.ipynb", as_version=4)
    nbformat.validate(nb)
    params = read_parameters(authoring.parameters_cell(nb, "mnist").source)
    assert params["seed"].default == 3 and params["dataset"].default == "fashion_mnist" and not params["quick"].default
    assert nb.metadata["kernelspec"]["name"] == "python3"
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
        (["notebook", "churn", "--param", "lr=3"], "the churn notebook has no parameter 'lr'; its parameters: seed"),
        (["notebook", "churn", "--param", "epochs=ten"], "--param epochs=ten: expected int or None; found 'ten'"),
        (["notebook", "mnist", "--param", "dataset=cifar"], "--param dataset=cifar: expected one of mnist,"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    assert main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) <= 2  # usage line + error
    assert not list(tmp_path.iterdir())


def test_without_the_extra_a_one_line_error_names_it(tmp_path, capsys, monkeypatch):
    real = authoring.importlib.util.find_spec
    monkeypatch.setattr(authoring.importlib.util, "find_spec", lambda n: None if n == "nbclient" else real(n))
    assert main(["notebook", "churn", "--out", str(tmp_path)]) == 2
    assert "needs nbclient (the notebooks extra): pip install 'keraslab[notebooks]'" in capsys.readouterr().err


@pytest.mark.slow
def test_a_failing_cell_exits_1_naming_it_and_keeps_the_partial_notebook(tmp_path, capsys, monkeypatch):
    text = notebooks.source_text("churn").replace(
        "table = datasets.load(dataset, data_dir=data_home)", 'raise RuntimeError("no table today")'
    )
    monkeypatch.setattr(authoring, "source_text", lambda lesson: text)
    (tmp_path / "churn.failed.ipynb").write_text("{}")  # from an earlier attempt: replaced
    assert main(["notebook", "churn", "--out", str(tmp_path), "--execute"]) == 1
    err = capsys.readouterr().err.strip()
    assert "notebook churn: cell " in err and "('table = datasets.load(dataset, data_dir=data_home)')" not in err
    assert "('raise RuntimeError(\"no table today\")') failed: RuntimeError: no table today" in err
    assert f"the partly executed notebook is {tmp_path / 'churn.failed.ipynb'}" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "churn.ipynb").exists()
    partial = nbformat.read(tmp_path / "churn.failed.ipynb", as_version=4)
    errors = [c for c in partial.cells if any(o.output_type == "error" for o in c.get("outputs", []))]
    assert len(errors) == 1 and "Keras" in partial.cells[3].outputs[0].text  # the cells before it kept their outputs


def test_the_sources_ship_in_the_package():
    """An installed keraslab has the notebooks: pyproject's package-data covers every source."""
    import tomllib
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    data = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    package = repo / "src" / "keraslab" / "notebooks"
    shipped = {p for pattern in data["keraslab.notebooks"] for p in package.glob(pattern)}
    assert {package / "sources" / f"{name}.py" for name in LESSONS} <= shipped
    assert not (package / "sources" / "__init__.py").exists()  # data, not a package of modules


# ---- every notebook executed, against the command line ----------------------------------------------------------

SUMMARY_CELL = "import json as _json\nprint(_json.dumps(summary))"


@pytest.fixture(scope="module")
def executed(small_data_home, tmp_path_factory):
    """lesson -> (executed notebook, its `summary`), each executed once, quick, seed 0, on the test data."""
    home, checksums = small_data_home
    cache = {}

    def run(name):
        if name not in cache:
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("KERASLAB_CHECKSUMS", str(checksums))
                params = [f"data_home={home}"] if name in DATA_LESSONS else []
                nb = notebooks.build_notebook(name, params=params, quick=True, seed=0)
                nb.cells.append(nbformat.v4.new_code_cell(SUMMARY_CELL))
                notebooks.execute_notebook(nb, cwd=tmp_path_factory.mktemp(name), name=name, timeout=600)
            cache[name] = nb, json.loads(nb.cells[-1].outputs[0].text)
        return cache[name]

    return run


@pytest.mark.slow
@pytest.mark.parametrize("name", LESSONS)
def test_every_notebook_runs_clean_with_its_plots_inline(name, executed):
    nb, _summary = executed(name)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    if name != "losses":
        assert any("image/png" in o.get("data", {}) for o in outputs)  # plots inline: it reads without a kernel
        # the closing table says how the figures were made: quick, the seed, real or substitute data
        last = nb.cells[-2].outputs[-1]["data"]["text/plain"]  # [-1] is the test's own summary cell
        kind = "substitute" if name in ("mnist", "cifar10-ann", "cnn") else "real"
        assert "this run (quick, " in last and f"{kind} " in last, last


# The headline of each lesson, the notebook against `keraslab run LESSON --quick --seed 0`: equal, because the
# notebook computes it the same way (same data, same seeds, same model written out, same training path). The cnn
# notebook writes out Keras's own Conv2D and MaxPooling2D: it is compared with `run cnn --no-fast-layers`.
CLI_OPTIONS = {"cnn": {"fast_layers": False}}


@pytest.mark.slow
@pytest.mark.parametrize("name", LESSONS)
def test_the_notebook_reaches_the_command_lines_headline(name, executed, quick_run):
    lesson = lessons.get_lesson(name)
    _folder, summary = quick_run(name, **CLI_OPTIONS.get(name, {}))
    _nb, from_notebook = executed(name)
    assert from_notebook[lesson.headline] == summary[lesson.headline]
