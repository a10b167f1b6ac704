"""The package's shape, read from its source: imports run one way only (down the layers, no cycles), scratch/
imports nothing else of keraslab, module names say where a module lives, the command line stays thin, and importing
it loads no heavy library."""

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "keraslab"

# Lowest first. A module may import its own room and the rooms of lower layers; nothing sideways, nothing upward.
# The ground floor (rank 0) is the one layer whose rooms may import each other (backend -> errors, seeding).
LAYERS = [
    {"__init__", "errors", "backend", "seeding", "files", "run_state", "options", "caches", "phases", "lazy"},
    {"scratch"},
    {"datasets"},
    {"tables"},
    {"distributed"},
    {"training"},
    {"models"},
    {"plots", "metrics"},  # what lessons, the imbalance lab and the bundles draw and score with
    {"run_folders"},  # what a run leaves: folder, manifest, report, tracking
    {"proof"},
    {"imbalance"},
    {"exercises"},
    {"bundles"},
    {"lessons", "serving", "bench"},
    {"running"},  # running one lesson and every lesson: above the run folders and the lessons it joins
    {"cli"},  # with keraslab/__main__.py, `python -m keraslab`
]
RANK = {room: rank for rank, rooms in enumerate(LAYERS) for room in rooms}


def _module_name(path: Path) -> str:
    parts = ["keraslab", *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


# A .py file is a module when its folder is a package and its name is an identifier: the lesson scripts
# (keraslab/lessons/01_mnist.py ...) are run, never imported; their imports are checked with the lessons' room.
MODULES = {
    _module_name(p): p for p in SRC.rglob("*.py") if (p.parent / "__init__.py").is_file() and p.stem.isidentifier()
}
SCRIPTS = {f"keraslab.lessons.{p.stem}": p for p in (SRC / "lessons").glob("[0-9][0-9]_*.py")}


def _room(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "__init__"
    return "cli" if parts[1] == "__main__" else parts[1]


def _imports(module: str) -> set[str]:
    """Every keraslab module `module` imports, at any depth of its code (function-level imports too)."""
    path = MODULES.get(module) or SCRIPTS[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "keraslab"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], *filter(None, [base])]
                )
            if base.split(".")[0] != "keraslab":
                continue
            for alias in node.names:  # `from pkg import sub` imports the submodule, `from pkg import name` the package
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return found - {module}


GRAPH = {m: _imports(m) for m in [*MODULES, *SCRIPTS]}


def test_every_room_has_a_layer():
    assert {_room(m) for m in MODULES} == set(RANK)


def test_imports_run_down_the_layers_only():
    wrong = []
    for module, targets in GRAPH.items():
        for target in targets:
            a, b = _room(module), _room(target)
            if a != b and not (RANK[b] < RANK[a] or RANK[a] == RANK[b] == 0):
                wrong.append(f"{module} (layer {RANK[a]}) imports {target} (layer {RANK[b]})")
    assert not wrong, "\n".join(wrong)


def test_scratch_imports_nothing_else_of_keraslab():
    outside = {f"{m} -> {t}" for m, ts in GRAPH.items() if _room(m) == "scratch" for t in ts if _room(t) != "scratch"}
    assert not outside, outside


def test_no_import_cycles():
    state, cycles = {}, []

    def visit(module, stack):
        state[module] = "open"
        for target in sorted(GRAPH[module]):
            if state.get(target) == "open":
                cycles.append(" -> ".join([*stack[stack.index(target) :], target]))
            elif target not in state:
                visit(target, [*stack, target])
        state[module] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(cycles)


def test_module_names_say_where_they_live():
    top = {p.stem for p in SRC.glob("*.py")} - {"__init__", "__main__"}
    seen: dict[str, list[str]] = {}
    for module, path in MODULES.items():
        if path.name in ("__init__.py", "__main__.py") or path.parent == SRC:
            continue
        assert path.stem not in top, f"{module} shares its name with the top-level module keraslab.{path.stem}"
        if _room(module) != "lessons":  # lesson modules are named after their lessons (below)
            seen.setdefault(path.stem, []).append(module)
    assert not {name: ms for name, ms in seen.items() if len(ms) > 1}


def test_each_lesson_is_one_script_named_after_it_in_the_course_order():
    """lessons/NN_name.py, NN its place in the course; no other file of the package is named after a lesson."""
    from keraslab import lessons

    found = sorted(p.name for p in (SRC / "lessons").glob("[0-9][0-9]_*.py"))
    expected = [f"{i:02d}_{name.replace('-', '_')}.py" for i, name in enumerate(lessons.COURSE_ORDER, 1)]
    assert found == expected
    assert [lessons.get_lesson(name).path.name for name in lessons.COURSE_ORDER] == expected
    names = {name.replace("-", "_") for name in lessons.COURSE_ORDER}
    elsewhere = [
        p for p in SRC.rglob("*.py") if p.stem.replace("-", "_") in names and "scratch" not in p.parts
    ]  # scratch/losses.py and scratch/gradient_descent.py are the from-scratch library the lessons call
    assert not elsewhere, elsewhere


def _windows(path: Path, size: int = 6) -> dict[tuple[str, ...], int]:
    """Every run of `size` consecutive lines of code (blank lines, comments and lone brackets left out) -> its
    line number."""
    lines = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        text = line.strip()
        if text and not text.startswith("#") and len(text.strip("()[]{},:")) > 0:
            lines.append((number, text))
    return {tuple(t for _, t in lines[i : i + size]): lines[i][0] for i in range(len(lines) - size + 1)}


def test_no_lesson_is_written_twice():
    """No block of six lines of code stands both in a lesson script and in another file of the package: each lesson
    has one implementation, and the library's building blocks are called, not copied."""
    others = {p: _windows(p) for p in SRC.rglob("*.py") if p not in SCRIPTS.values()}
    repeated = []
    for script in SCRIPTS.values():
        for block, line in _windows(script).items():
            for other, blocks in others.items():
                if block in blocks:
                    repeated.append(f"{script.name}:{line} = {other.relative_to(SRC)}:{blocks[block]}")
    assert not repeated, repeated


@pytest.mark.parametrize("package", sorted({m for m, p in MODULES.items() if p.name == "__init__.py"}))
def test_no_package_hides_a_submodule_behind_another_name(package):
    """`keraslab.pkg.sub` is always the module sub: a package never exports a function or class under the name of one
    of its own modules (keraslab.imbalance.compare was the function, not the module)."""
    pkg = importlib.import_module(package)
    for sub in [m for m in MODULES if m.rpartition(".")[0] == package and not m.endswith("__main__")]:
        importlib.import_module(sub)
        assert getattr(pkg, sub.rpartition(".")[2]) is sys.modules[sub], sub


def test_the_command_line_is_thin():
    """A command parses, calls one library function and prints (there used to be a line cap here; what it stood
    for is this): no command-line module defines a class but the parser, handles signals or threads, or loops and
    retries (`while`); and only keraslab/cli/main.py catches errors, to turn them into one line and an exit code."""
    wrong = []
    for path in sorted((SRC / "cli").glob("*.py")):
        tree = ast.parse(path.read_text())
        declarations = {
            n.name
            for n in tree.body
            if isinstance(n, ast.ClassDef) and "dataclass" in map(ast.unparse, n.decorator_list)
        }
        classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef) and n.name not in {"Parser", *declarations}]
        wrong += [f"{path.name}: class {name}" for name in classes]
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom) for a in n.names}
        modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        wrong += [f"{path.name}: imports {m}" for m in {"signal", "threading"} & (names | modules)]
        wrong += [f"{path.name}:{n.lineno}: while" for n in ast.walk(tree) if isinstance(n, ast.While)]
        if path.name not in ("main.py", "common.py"):  # common: argparse's type errors into argparse's own
            wrong += [f"{path.name}:{n.lineno}: try" for n in ast.walk(tree) if isinstance(n, ast.Try)]
    assert not wrong, wrong


def test_one_context_variable_holds_a_run():
    """A run's state lives in one object reached through one ContextVar (keraslab.run_state): at most two in the
    package, and every one but the run's says in its module why it must be separate."""
    found = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("ContextVar")
    ]
    assert found == ["run_state.py"], found


def test_no_lesson_and_nothing_below_the_runner_imports_it():
    """The lessons, the imbalance lab and the bundles stand below the package that runs lessons
    (keraslab.running): only it and the command line import it."""
    importers = {m for m, targets in GRAPH.items() if any(_room(t) == "running" for t in targets)}
    assert {_room(m) for m in importers} <= {"running", "cli"}, sorted(importers)
    assert not {m for m in importers if m in SCRIPTS or _room(m) in ("lessons", "imbalance", "bundles")}


def test_importing_the_command_line_loads_no_heavy_library():
    """Building the parser (every lesson's options) stays cheap: Keras, JAX, scikit-learn and matplotlib load only
    when a command needs them."""
    heavy = ["keras", "jax", "sklearn", "matplotlib", "scipy", "torch", "tensorflow", "imblearn", "fastapi"]
    code = (
        "import json, sys; from keraslab.cli.main import build_parser; build_parser(); "
        f"print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert json.loads(out.stdout) == []


def test_the_tests_mirror_the_package():
    """A package's tests are in the folder of its name (tests/datasets/ for keraslab/datasets/, ...); the tests left at
    the top are those of keraslab's top-level modules and of the layout itself."""
    tests = SRC.parents[1] / "tests"
    folders = {p.name for p in tests.iterdir() if p.is_dir() and any(p.glob("test_*.py"))}
    packages = {p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()}
    assert folders <= packages, folders - packages
    top = {p.stem.removeprefix("test_") for p in tests.glob("test_*.py")}
    modules = {p.stem for p in SRC.glob("*.py")}
    assert top - {"layout"} <= modules | {"backends"}, top - modules  # test_backends: keraslab/backend.py


def test_every_test_the_docs_cite_exists():  # negative control: a wrong name fails it (tried: test_nope)
    """README.md, SECURITY.md and benchmarks/README.md name tests as evidence: each file is there and each named test
    is defined in it."""
    import re

    root = SRC.parents[1]
    for doc in ("README.md", "SECURITY.md", "benchmarks/README.md"):
        text = (root / doc).read_text()
        for path, names in re.findall(r"(tests/[\w/]+\.py)((?:::\w+)?(?:, test_\w+)*)", text):
            assert (root / path).is_file(), f"{doc} cites {path}, which does not exist"
            source = (root / path).read_text()
            for name in re.findall(r"test_\w+", names):
                assert f"def {name}(" in source, f"{doc} cites {path}::{name}, which is not defined there"


def test_the_code_and_docs_cite_only_what_is_in_the_repository():
    """A path named in a docstring, comment or doc (keraslab/..., tests/..., benchmarks/...) exists in the
    repository; nothing cites an issue number or the course-notes folder outside it (../shared/docs)."""
    import re

    root = SRC.parents[1]
    texts = {p: p.read_text() for p in [*SRC.rglob("*.py"), *(root / "tests").rglob("*.py")]}
    texts |= {root / d: (root / d).read_text() for d in ("README.md", "SECURITY.md", "benchmarks/README.md")}
    texts |= {p: p.read_text() for p in (root / "benchmarks").glob("*.py")}
    cited = re.compile(r"(?<![\w./-])((?:src/)?(?:keraslab|tests|benchmarks)/[\w/.-]*\w\.(?:py|md|json|csv|gz))")
    elsewhere = re.compile(r"\bissue #?\d+|\bissue.s\b|shared/docs|(?:curriculum|measurements|architecture)\.md")
    problems = []
    for path, text in texts.items():
        where = path.relative_to(root)
        if path == Path(__file__).resolve():
            text = text.split("def test_the_code_and_docs_cite_only_what_is_in_the_repository")[0]
        for name in cited.findall(text):
            base = root if not name.startswith("keraslab/") else root / "src"
            if not any(mark in name for mark in ("*", "<", "NN_")) and not (base / name).exists():
                problems.append(f"{where} cites {name}, which is not in the repository")
        problems += [f"{where} cites {m.group(0)!r}" for m in elsewhere.finditer(text)]
    assert not problems, "\n".join(problems)


def test_every_mutant_still_applies_and_names_tests_that_exist():
    """tests/mutants.py breaks each key behaviour in a copy of the package and expects named tests to fail: each
    mutant's text is in its file exactly once, each test it names is defined, and names the mutant it catches."""
    sys.path.insert(0, str(SRC.parents[1] / "tests"))
    try:
        import mutants
    finally:
        sys.path.pop(0)
    root = SRC.parents[1]
    assert len(mutants.MUTANTS) >= 10 and len({m.name for m in mutants.MUTANTS}) == len(mutants.MUTANTS)
    for m in mutants.MUTANTS:
        assert (SRC / m.file).read_text().count(m.old) == 1, m.name
        assert m.old != m.new, m.name
        for test in m.tests:
            path, name = test.split("::")
            source = (root / path).read_text()
            assert f"def {name}(" in source, test
            body = source.split(f"def {name}(")[1].split("\ndef ")[0]
            assert m.name in body, f"{test} does not name the mutant {m.name} it catches"
