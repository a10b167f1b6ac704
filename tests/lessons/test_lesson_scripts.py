"""The lesson scripts as sources: one percent-format script per lesson, read by keraslab exactly as jupytext reads
it, each with the shape a learner relies on (the backend first, then the parameters cell, which is the option list,
then `begin`, and `run.finish` at the end), the idea written out in the cells, and the course's notebooks named."""

import ast
import re

import pytest

from keraslab import lessons
from keraslab.errors import UsageError
from keraslab.lessons.source import parameters_cell, read_cells
from keraslab.options import Bound, parse_assignments, read_parameters, set_values

NAMES = lessons.COURSE_ORDER
KERAS_LESSONS = [n for n in NAMES if n != "losses"]


def _code(name) -> list:
    return [c for c in lessons.get_lesson(name).cells if c.kind == "code"]


@pytest.mark.parametrize("name", NAMES)
def test_keraslab_reads_each_script_as_jupytext_does(name):
    jupytext = pytest.importorskip("jupytext")
    text = lessons.get_lesson(name).text
    theirs = jupytext.reads(text, fmt="py:percent").cells
    ours = read_cells(text)
    assert [(c.cell_type, c.source, tuple(c.metadata.get("tags", ()))) for c in theirs] == [
        (c.kind, c.source, c.tags) for c in ours
    ]
    assert jupytext.writes(jupytext.reads(text, fmt="py:percent"), fmt="py:percent") == text  # a stable source


def test_the_reader_keeps_line_numbers_and_refuses_stray_text():
    cells = read_cells(
        '# %% [markdown]\n# # Title\n#\n# text\n\n# %% tags=["parameters"]\nx: int = 1  # in [0, 2]: x\n'
    )
    assert [(c.kind, c.source, c.tags, c.line) for c in cells] == [
        ("markdown", "# Title\n\ntext", (), 2),
        ("code", "x: int = 1  # in [0, 2]: x", ("parameters",), 7),
    ]
    with pytest.raises(ValueError, match="line 1: text before the first"):
        read_cells("x = 1\n# %%\n")
    with pytest.raises(ValueError, match="a markdown cell's line is not commented"):
        read_cells("# %% [markdown]\nnot a comment\n")


@pytest.mark.parametrize("name", NAMES)
def test_backend_first_then_the_parameters_then_begin_and_finish_at_the_end(name):
    """... the end of the lesson, that is: the exercises come after it (keraslab.lessons.practice)."""
    from keraslab.lessons import practice

    every = lessons.get_lesson(name).cells
    cells = [c for c in every[: practice.start(every)] if c.kind == "code"]
    assert practice.start(every) < len(every)  # every lesson has its exercises
    assert 'os.environ["KERAS_BACKEND"]' in cells[0].source and "import keras" not in cells[0].source
    assert cells[1].is_parameters and "import" not in cells[1].source
    assert f'begin("{name}", globals())' in cells[2].source and "run = begin(" in cells[2].source
    last = ast.parse(cells[-1].code()).body[-1]  # the lesson ends by showing what it hands over
    assert isinstance(last, ast.Expr) and ast.unparse(last.value.func) == "run.finish"
    calls = [c for c in _code(name) if "run.finish(" in c.source or "begin(" in c.source]
    assert calls == [cells[2], cells[-1]]  # once each, none among the exercises


@pytest.mark.parametrize("name", NAMES)
def test_the_parameters_cell_declares_every_option_once_with_help_and_range(name):
    declared = lessons.get_lesson(name).parameters
    assert "seed" in declared and declared["seed"].bound == Bound(0, 2**32, hi_closed=False)
    for p in declared.values():
        assert p.help, (name, p.name)  # one line of help each
        assert p.type not in (int, float) or p.bound is not None, (name, p.name)
    if name in KERAS_LESSONS:
        assert {"seed", "quick", "epochs", "data_dir"} <= set(declared)
        assert declared["epochs"].optional and declared["epochs"].default is None  # the lesson's own, quick or not


@pytest.mark.parametrize("name", NAMES)
def test_only_the_cell_after_the_parameters_may_resolve_them(name):
    """What config.json records (the values `begin` saw) is what the whole lesson used: no later cell assigns a
    parameter again."""
    cells = _code(name)
    declared = set(lessons.get_lesson(name).parameters)
    for cell in cells[3:]:
        for node in ast.walk(ast.parse(cell.code())):
            targets = []
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            elif isinstance(node, (ast.For, ast.comprehension)):
                targets = [node.target]
            names = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            assert not names & declared, (name, cell.line, names & declared)


@pytest.mark.parametrize("name", KERAS_LESSONS)
def test_the_keras_model_its_compile_and_its_training_are_in_the_cells(name):
    text = lessons.get_lesson(name).text
    imported = {
        f"{n.module}.{a.name}"
        for n in ast.walk(ast.parse(text))
        if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("keraslab")
        for a in n.names
    }
    assert not {i for i in imported if i.startswith("keraslab.models")}, imported  # no builder hides the model
    assert "keras.Sequential(" in text
    if name != "imbalance":  # the lab compiles its network (keraslab.imbalance, shared with `keraslab train`)
        assert ".compile(" in text or "Refitter(" in text
        assert "training.fit(" in text or "model.fit(" in text or ".fit(" in text


@pytest.mark.parametrize("name", NAMES)
def test_each_lesson_names_the_notebooks_it_replaces_and_says_what_the_course_got_wrong(name):
    first = next(c for c in lessons.get_lesson(name).cells if c.kind == "markdown").source
    number = NAMES.index(name) + 1
    assert first.startswith(f"# Lesson {number} of 9: ")
    assert "RNVALA/Deep-Learning-with-tensorflow-2.0-keras-and-python" in first
    assert "codebasics/deep-learning-keras-tf-tutorial" in first
    text = lessons.get_lesson(name).text
    assert "## What the course got wrong, and what is fixed here" in text
    wrong = text.split("## What the course got wrong, and what is fixed here", 1)[1]
    claims = re.findall(r"^# \* \*\*.+?\*\* \(([^)]+)\)", wrong, flags=re.M)
    assert claims and all(any(k in c for k in ("both versions", "the tutorial", "the original")) for c in claims), (
        claims
    )  # every claim says which notebook it is about


def test_a_value_of_the_wrong_type_or_out_of_range_is_refused_in_keras_words():
    cell = (
        "seed: int = 0  # in [0, 2**32): s\n"
        "quick: bool = False  # q\n"
        "epochs: int | None = None  # in [1, inf): e\n"
        'name: Literal["a", "b"] = "a"  # n\n'
        "eps: float = 1e-15  # in (0, 0.5): e\n"
    )
    declared = read_parameters(cell)
    assert parse_assignments(["seed=3", "quick=yes", "epochs=none", "name=b", "eps=0.1"], declared, lesson="x") == {
        "seed": 3,
        "quick": True,
        "epochs": None,
        "name": "b",
        "eps": 0.1,
    }
    for pair, message in (
        ("seed=1.5", "Invalid value for `seed`. Expected an integer in [0, 4294967296). Received: seed='1.5'"),
        ("quick=maybe", "Invalid value for `quick`. Expected true or false. Received: quick='maybe'"),
        ("name=c", "Invalid value for `name`. Expected one of 'a', 'b'. Received: name='c'"),
        ("eps=0.9", "Invalid value for `eps`. Expected a number in (0, 0.5). Received: eps=0.9"),
        ("eps=nan", "Invalid value for `eps`. Expected a number in (0, 0.5). Received: eps=nan"),
        ("epochs=0", "Invalid value for `epochs`. Expected an integer in [1, inf) or None. Received: epochs=0"),
        ("lr=0.1", "the x lesson has no parameter 'lr'; its parameters: seed, quick, epochs, name, eps"),
        ("seed", "--param 'seed': expected NAME=VALUE"),
    ):
        with pytest.raises(UsageError) as caught:
            parse_assignments([pair], declared, lesson="x")
        assert message in str(caught.value), pair
    changed = set_values(cell, {"seed": 7, "name": "b"})
    assert (
        changed.splitlines()[0] == "seed: int = 7  # in [0, 2**32): s"
        and read_parameters(changed)["name"].default == "b"
    )
    with pytest.raises(UsageError, match=r"Received: eps=0\.75"):
        read_parameters("eps: float = 0.75  # in (0, 0.5): e\n")  # a default its own range refuses


def test_the_parameters_cell_of_a_lesson_is_the_one_tagged():
    cells = lessons.get_lesson("churn").cells
    assert parameters_cell(cells, "churn").source.startswith("seed: int = 0")
    with pytest.raises(ValueError, match="has 0 cells tagged 'parameters'"):
        parameters_cell([c for c in cells if not c.is_parameters], "churn")


def test_a_value_is_checked_once_in_one_function_whichever_way_it_enters(tmp_path, monkeypatch, capsys):
    """`epochs=0` given on the command line, in a --config file, as `notebook --param`, in the parameters cell of a
    notebook run in Jupyter (`begin` outside a command) and through the library: each time the same one line, from
    the one function that checks a value (Parameter.check), called once for it. A good value given on the command
    line is checked once for a whole run too (not again by the runner, the executor and `begin`)."""
    import json

    from keraslab import options
    from keraslab.cli.main import main
    from keraslab.lessons.record import begin
    from keraslab.running import run_lesson

    calls = []
    real_check = options.Parameter.check

    def spy(self, value):
        calls.append((self.name, value))
        return real_check(self, value)

    monkeypatch.setattr(options.Parameter, "check", spy)
    line = "Invalid value for `epochs`. Expected an integer in [1, inf) or None. Received: epochs=0"
    lesson = lessons.get_lesson("gradient-descent")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"lesson": "gradient-descent", "epochs": 0}))
    defaults = {name: p.default for name, p in lesson.parameters.items()}
    ways = {
        "command line": lambda: main(["run", "gradient-descent", "--epochs", "0"]),
        "--config": lambda: main(["run", "gradient-descent", "--config", str(config)]),
        "notebook --param": lambda: main(
            ["notebook", "gradient-descent", "--param", "epochs=0", "--out", str(tmp_path)]
        ),
        "parameters cell": lambda: begin("gradient-descent", {**defaults, "epochs": 0}),
        "library": lambda: run_lesson(lesson, {"epochs": 0}, out=tmp_path / "r"),
    }
    for way, enter in ways.items():
        calls.clear()
        try:
            code = enter()
        except (UsageError, SystemExit) as exc:
            code, message = getattr(exc, "code", 2), str(exc)
        else:
            message = ""
        err = capsys.readouterr().err
        assert code == 2 and line in (message or err), (way, message, err)
        if err:
            assert len([x for x in err.splitlines() if x.startswith("keraslab: error:")]) == 1, way
        assert calls.count(("epochs", 0)) == 1, (way, calls)
    assert not (tmp_path / "r").exists() and not (tmp_path / "gradient-descent.ipynb").exists()
    calls.clear()
    code = main(
        ["run", "gradient-descent", "--quick", "--epochs", "3", "--quiet", "--offline", "--out", str(tmp_path / "g")]
    )
    assert code == 0 and calls.count(("epochs", 3)) == 1, calls
    assert json.loads((tmp_path / "g" / "config.json").read_text())["epochs"] == 3


def _keras_names() -> set[str]:
    from keraslab.backend import load_keras

    keras = load_keras()
    spaces = (keras, keras.layers, keras.models, keras.optimizers, keras.losses, keras.callbacks)
    # the classes (Conv2D, Sequential, Adam, ...) and `keras` itself; a lesson's own `sigmoid` or `log_loss` written
    # from scratch is the point of the from-scratch lessons, not a shadow
    return {"keras"} | {name for space in spaces for name in dir(space) if name[:1].isupper()}


def _shadowed(text: str, keras_names: set[str]) -> set[str]:
    """The Keras names a script binds to something else: assigned, defined, or imported from outside Keras."""
    bound = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For, ast.comprehension)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            bound |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] != "keras":
            bound |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.Import):
            bound |= {a.asname for a in node.names if a.asname and a.name.split(".")[0] != "keras"}
    return bound & keras_names


@pytest.mark.parametrize("name", NAMES)
def test_no_lesson_rebinds_or_shadows_a_keras_name(name):
    """What a learner reads as Keras is Keras: no script assigns, defines or imports from elsewhere a class name of
    Keras's layers, models, optimizers, losses or callbacks (the cnn lesson once bound `Conv2D` to a layer of
    keraslab's). Negative control: that binding is found."""
    keras_names = _keras_names()
    assert {"Conv2D", "MaxPooling2D", "Dense", "Sequential"} <= keras_names
    assert _shadowed("Conv2D = PatchConv2D if fast else keras.layers.Conv2D", keras_names) == {"Conv2D"}
    assert _shadowed("from keraslab.training.keras_layers import PatchConv2D as MaxPooling2D", keras_names) == {
        "MaxPooling2D"
    }
    assert _shadowed("from keras.layers import Dense", keras_names) == set()
    assert _shadowed(lessons.get_lesson(name).text, keras_names) == set()
