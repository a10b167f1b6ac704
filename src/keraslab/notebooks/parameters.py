"""The parameters cell of a lesson notebook (papermill's convention: the code cell tagged `parameters`): what it
declares, and how `keraslab notebook --param NAME=VALUE` changes it.

Each line of the cell is one annotated assignment, `name: type = value  # what it does`, with type int, float, str,
bool, `T | None` or `Literal[...]`; the annotation is what a new value is checked against.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from typing import Any

from keraslab.errors import UsageError

TYPES = {"int": int, "float": float, "str": str, "bool": bool}
TRUE, FALSE, NONE = ("true", "yes", "1"), ("false", "no", "0"), ("none", "null")


@dataclass(frozen=True)
class Parameter:
    """One line of the parameters cell: its name, type, whether None is allowed, its choices and default."""

    name: str
    type: type
    optional: bool
    choices: tuple | None
    default: Any

    def describe(self) -> str:
        kind = " | ".join(map(repr, self.choices)) if self.choices else self.type.__name__
        return f"{kind} or None" if self.optional else kind

    def coerce(self, text: str) -> Any:
        """The value `text` stands for, checked against the annotation; UsageError when it does not fit."""
        if self.optional and text.strip().lower() in NONE:
            return None
        try:
            value = self._convert(text.strip())
        except ValueError:
            raise UsageError(f"--param {self.name}={text}: expected {self.describe()}; found {text!r}") from None
        if self.choices and value not in self.choices:
            raise UsageError(f"--param {self.name}={text}: expected one of {', '.join(map(str, self.choices))}")
        return value

    def _convert(self, text: str) -> Any:
        if self.type is bool:
            if text.lower() in TRUE:
                return True
            if text.lower() in FALSE:
                return False
            raise ValueError(text)
        if self.type is float:
            value = float(text)
            if not math.isfinite(value):
                raise ValueError(text)
            return value
        return self.type(text)


def read_parameters(source: str) -> dict[str, Parameter]:
    """The parameters a cell declares, by name, in order."""
    found = {}
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None):
            raise ValueError(f"parameters cell: line {node.lineno} is not `name: type = value`")
        tp, optional, choices = _annotation(node.annotation)
        found[node.target.id] = Parameter(node.target.id, tp, optional, choices, ast.literal_eval(node.value))
    return found


def _annotation(node: ast.expr) -> tuple[type, bool, tuple | None]:
    optional = False
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        if not (isinstance(node.right, ast.Constant) and node.right.value is None):
            raise ValueError(f"parameters cell: unsupported annotation {ast.unparse(node)!r}")
        node, optional = node.left, True
    if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "Literal":
        choices = ast.literal_eval(node.slice)
        choices = choices if isinstance(choices, tuple) else (choices,)
        return type(choices[0]), optional, choices
    if isinstance(node, ast.Name) and node.id in TYPES:
        return TYPES[node.id], optional, None
    raise ValueError(f"parameters cell: unsupported annotation {ast.unparse(node)!r}")


def parse_assignments(pairs: list[str], declared: dict[str, Parameter], *, notebook: str) -> dict[str, Any]:
    """['dataset=fashion_mnist', ...] -> {'dataset': 'fashion_mnist'}, each checked against the declared ones."""
    values = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--param {pair!r}: expected NAME=VALUE")
        if name not in declared:
            raise UsageError(
                f"--param {name}: the {notebook} notebook has no parameter {name!r}; its parameters: "
                f"{', '.join(declared)}"
            )
        values[name] = declared[name].coerce(text)
    return values


def set_values(source: str, values: dict[str, Any]) -> str:
    """The cell's source with each named parameter's value replaced (its annotation and comment kept)."""
    lines = source.splitlines()
    for node in ast.parse(source).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id in values:
            value = node.value
            line = lines[value.lineno - 1]
            lines[value.lineno - 1] = (
                line[: value.col_offset] + repr(values[node.target.id]) + line[value.end_col_offset :]
            )
    return "\n".join(lines)
