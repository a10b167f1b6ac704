"""Whether a *predict, then run* answer was computed from what the cell measures: `prediction =
model_b.count_params()` gives the right number and teaches nothing, so it is told so instead of graded.

The check reads the cell that called it (Jupyter keeps each cell's text in `linecache`, keraslab's executor does
the same, a script is its own file): the names the `measured=` argument is computed from are compared with the
names the prediction is computed from, following the assignments before the call. Modules, builtins and the
lesson's parameters (`hidden_units`, `learning_rate`) do not count: working from them is the exercise.
"""

from __future__ import annotations

import ast
import builtins
import linecache
import types

from keraslab import run_state


def _names(node: ast.AST) -> set[str]:
    """The variables and attributes an expression reads."""
    found = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            found.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            found.add(sub.attr)
    return found


def _check_call(tree: ast.AST, line: int) -> ast.Call | None:
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", None)) == "check"
        and node.lineno <= line <= (node.end_lineno or node.lineno)
        and any(k.arg == "measured" for k in node.keywords)
    ]
    return min(calls, key=lambda c: (c.end_lineno or c.lineno) - c.lineno) if calls else None


def _assignments(tree: ast.AST, before: tuple) -> list[tuple[tuple, str, ast.AST]]:
    """((line, column), name, value) of every assignment to a plain name before `before`, in order (two statements
    on one line, `n = ...; prediction = n`, in their order)."""
    found = []
    for node in ast.walk(tree):
        where = (node.lineno, node.col_offset) if hasattr(node, "lineno") else None
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign) and where < before:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found += [
                (where, sub.id, node.value)
                for target in targets
                for sub in ast.walk(target)
                if isinstance(sub, ast.Name) and node.value is not None
            ]
    return sorted(found, key=lambda item: item[0])


def _sources(name: str, assignments: list, before: tuple, depth: int = 6) -> set[str]:
    """The names `name`'s value (its latest assignment before `before`) is computed from, followed `depth` deep."""
    latest = [(line, value) for line, target, value in assignments if target == name and line < before]
    if not latest or depth == 0:
        return set()
    line, value = latest[-1]
    if isinstance(value, ast.Constant):
        return set()
    direct = _names(value)
    found = set(direct)
    for sub in direct - {name}:
        found |= _sources(sub, assignments, line, depth - 1)
    return found


def from_what_is_measured(frame: types.FrameType) -> tuple[str, list[str]] | None:
    """(the prediction's name, the names it shares with `measured=`) when the prediction passed to `check` in
    `frame`'s cell is computed from what its `measured=` is; None when it is not, or when the cell's text cannot be
    read."""
    try:
        text = "".join(linecache.getlines(frame.f_code.co_filename, frame.f_globals))
        tree = ast.parse(text)
    except (SyntaxError, ValueError, TypeError, OSError):
        return None
    call = _check_call(tree, frame.f_lineno)
    if call is None or len(call.args) < 2:
        return None
    measured = next(k.value for k in call.keywords if k.arg == "measured")
    state = run_state.current()
    ignored = set(dir(builtins)) | set(state.parameters or ()) | set(state.values or ())
    ignored |= {n for n, v in frame.f_globals.items() if isinstance(v, types.ModuleType)}
    what = _names(measured) - ignored
    at = (call.lineno, call.col_offset)
    assignments = _assignments(tree, at)
    answer = call.args[1]
    if isinstance(answer, ast.Name):
        name, sources = answer.id, _sources(answer.id, assignments, at)
    else:  # the answer written in the call itself: check("...", model_b.count_params(), measured=...)
        name, sources = ast.unparse(answer)[:40], _names(answer)
        for sub in set(sources):
            sources |= _sources(sub, assignments, at)
    shared = sorted(sources & what)
    return (name, shared) if shared else None
