"""Options declared once, with their types, defaults, help and accepted ranges: a lesson's parameters cell
(papermill's convention: the code cell tagged `parameters`) is its option list, and `keraslab train` declares its
options with the same Parameters, as the fields of a dataclass (`option`, `declared`:
keraslab.bundles.train_options).

Each line of the declaration states one option, once (in a lesson, where a learner sees and changes it):

    name: type = default  # in [low, high]: one line of help

The type is int, float, str, bool, `T | None` or `Literal[...]` (its values are the choices). Every int and float
option states the values it accepts as an interval after `in` (`[` `]` closed, `(` `)` open, `inf` for no bound,
`2**32` allowed); the rest of the comment is its help. From this one declaration come `keraslab run LESSON --help`,
the checks of `--config`, of the command's options and of `keraslab notebook --param`, and the check a lesson makes
of its own values when it starts (in Jupyter too): a bad value is one line in Keras's words,
"Invalid value for `epsilon`. Expected a number in (0, 0.5). Received: epsilon=0.9".
"""

from __future__ import annotations

import ast
import dataclasses
import math
import operator
import re
import shlex
import types
import typing
from dataclasses import dataclass
from typing import Any

from keraslab.errors import UsageError

TYPES = {"int": int, "float": float, "str": str, "bool": bool}
TRUE, FALSE, NONE = ("true", "yes", "1"), ("false", "no", "0"), ("none", "null")
_INTERVAL = re.compile(r"^in\s+([\[(])\s*([^,]+?)\s*,\s*([^\])]+?)\s*([\])])\s*:\s*(.*)$")
_OPS = {ast.Pow: operator.pow, ast.Mult: operator.mul, ast.Sub: operator.sub, ast.Add: operator.add}


@dataclass(frozen=True)
class Bound:
    """The values a numeric option accepts: lo / hi (None: unbounded), each end closed or open. NaN and the
    infinities are never accepted."""

    lo: float | None
    hi: float | None = None
    lo_closed: bool = True
    hi_closed: bool = True

    def admits(self, value) -> bool:
        if not math.isfinite(value):
            return False
        if self.lo is not None and (value < self.lo if self.lo_closed else value <= self.lo):
            return False
        return not (self.hi is not None and (value > self.hi if self.hi_closed else value >= self.hi))

    def describe(self, integer: bool) -> str:
        left = "[" if self.lo_closed and self.lo is not None else "("
        right = "]" if self.hi_closed and self.hi is not None else ")"
        lo = "-inf" if self.lo is None else _number(self.lo)
        hi = "inf" if self.hi is None else _number(self.hi)
        return f"{'an integer' if integer else 'a number'} in {left}{lo}, {hi}{right}"


def _number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


@dataclass(frozen=True)
class Parameter:
    """One line of the parameters cell."""

    name: str
    type: type
    optional: bool  # None is accepted (it means the lesson's own default, stated in the help)
    choices: tuple | None
    default: Any
    help: str = ""
    bound: Bound | None = None
    many: bool = False  # a tuple of such values, written on a command line separated by commas
    metavar: str | None = None  # what --help shows for its value (default: the name in capitals)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def describe(self) -> str:
        """What the option accepts, for messages: "an integer in [1, inf) or None", "one of 'a', 'b'"."""
        if self.choices:
            kind = "one of " + ", ".join(map(repr, self.choices))
        elif self.bound is not None:
            kind = self.bound.describe(self.type is int)
        else:
            kind = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}[self.type]
        kind = "a tuple of texts (on a command line: separated by commas)" if self.many else kind
        return f"{kind} or None" if self.optional else kind

    def invalid(self, value) -> UsageError:
        return UsageError(
            f"Invalid value for `{self.name}`. Expected {self.describe()}. Received: {self.name}={value!r}"
        )

    def check(self, value) -> Any:
        """`value` (from Python or JSON) if the declaration accepts it (an int where a float is declared becomes a
        float); else UsageError."""
        if value is None:
            if self.optional:
                return None
            raise self.invalid(value)
        if self.many:
            if not isinstance(value, tuple | list) or not all(isinstance(v, self.type) for v in value):
                raise self.invalid(value)
            return tuple(value)
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, self.type) or (self.type is int and isinstance(value, bool)):
            raise self.invalid(value)
        if self.choices is not None and value not in self.choices:
            raise self.invalid(value)
        if self.bound is not None and not self.bound.admits(value):
            raise self.invalid(value)
        return value

    def parse(self, text: str) -> Any:
        """The value a text (a command-line word, `--param NAME=VALUE`) stands for, checked; else UsageError."""
        text = text.strip()
        if self.optional and text.lower() in NONE:
            return None
        if self.many:
            return self.check(tuple(v.strip() for v in text.split(",") if v.strip()))
        try:
            value = self._convert(text)
        except ValueError:
            raise self.invalid(text) from None
        return self.check(value)

    def as_words(self, value) -> list[str]:
        """The command-line words that give `value` (what `parse` reads back): ["--epochs", "3"], ["--no-quick"];
        [] for None (the option left out: the lesson chooses)."""
        if value is None or (self.many and not value):
            return []
        if self.many:
            return [self.flag, ",".join(value)]
        if self.type is bool:
            return [self.flag if value else "--no-" + self.flag[2:]]
        return [self.flag, repr(value) if self.type is float else str(value)]

    def _convert(self, text: str) -> Any:
        if self.type is bool:
            if text.lower() in TRUE:
                return True
            if text.lower() in FALSE:
                return False
            raise ValueError(text)
        return self.type(text)


def read_parameters(source: str) -> dict[str, Parameter]:
    """The parameters a cell declares, by name, in order. ValueError for a line that is not a declaration."""
    lines = source.splitlines()
    found = {}
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None):
            raise ValueError(f"parameters cell: line {node.lineno} is not `name: type = value  # help`")
        name = node.target.id
        tp, optional, choices = _annotation(node.annotation)
        bound, help_ = _comment(lines[node.end_lineno - 1], name)
        if tp in (int, float) and bound is None:
            raise ValueError(f"parameters cell: `{name}` is a number and declares no range (`# in [lo, hi]: help`)")
        default = ast.literal_eval(node.value)
        parameter = Parameter(name, tp, optional, choices, default, help_, bound)
        parameter.check(default)  # a default the declaration refuses is the author's mistake: say so now
        found[name] = parameter
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


def _comment(line: str, name: str) -> tuple[Bound | None, str]:
    """(range, help) from a declaration's comment `# in [lo, hi]: help` (or `# help`)."""
    _, hash_, comment = line.partition("#")
    comment = comment.strip() if hash_ else ""
    match = _INTERVAL.match(comment)
    if not match:
        return None, comment
    left, lo, hi, right, help_ = match.groups()
    low, high = _bound_value(lo, name), _bound_value(hi, name)
    return Bound(
        low, high, lo_closed=left == "[" and low is not None, hi_closed=right == "]" and high is not None
    ), help_


def _bound_value(text: str, name: str) -> float | None:
    """A bound: a number, `inf` / `-inf` (no bound), or a product or power of numbers (`2**32`)."""
    if text.strip() in ("inf", "-inf"):
        return None

    def value(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](value(node.left), value(node.right))
        raise ValueError(f"parameters cell: `{name}`: bound {text!r} is not a number")

    return value(ast.parse(text.strip(), mode="eval").body)


def parse_assignments(pairs: list[str], declared: dict[str, Parameter], *, lesson: str) -> dict[str, Any]:
    """['dataset=fashion_mnist', ...] -> {'dataset': 'fashion_mnist'}, each checked against its declaration."""
    values = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--param {pair!r}: expected NAME=VALUE")
        if name not in declared:
            raise UsageError(
                f"--param {name}: the {lesson} lesson has no parameter {name!r}; its parameters: {', '.join(declared)}"
            )
        values[name] = declared[name].parse(text)
    return values


def option(default, *, help: str, bound: Bound | None = None, choices: tuple | None = None, metavar: str | None = None):
    """A field of an options dataclass, declared once: its default, help, and the range (`bound`) or `choices` it
    accepts; its type is the field's annotation (int, float, str, bool, `T | None`, `tuple[str, ...]`). From it come
    the command line's option, its --help, every check and the command that repeats a run (`declared`)."""
    return dataclasses.field(default=default, metadata={"option": (help, bound, choices, metavar)})


def declared(cls) -> dict[str, Parameter]:
    """The options an options dataclass declares with `option(...)`, by name, in order."""
    hints, found = typing.get_type_hints(cls), {}
    for f in dataclasses.fields(cls):
        if "option" not in f.metadata:
            continue
        help_, bound, choices, metavar = f.metadata["option"]
        tp, optional, many = hints[f.name], False, False
        if isinstance(tp, types.UnionType) and type(None) in tp.__args__:
            tp, optional = next(a for a in tp.__args__ if a is not type(None)), True
        if typing.get_origin(tp) is tuple:
            tp, many = typing.get_args(tp)[0], True
        if tp in (int, float) and bound is None:
            raise ValueError(f"{cls.__name__}.{f.name} is a number and declares no range (bound=...)")
        parameter = Parameter(f.name, tp, optional, choices, f.default, help_, bound, many, metavar)
        parameter.check(f.default)  # a default the declaration refuses is the author's mistake: say so now
        found[f.name] = parameter
    return found


def count(name: str, value, *, optional: bool = True):
    """`value` checked as a count (an integer in [1, inf), or None when `optional`), in the words of every other
    option's check: "Invalid value for `devices`. Expected an integer in [1, inf) or None. Received: devices=0"."""
    return Parameter(name, int, optional, None, None, bound=Bound(1)).check(value)


class Values(dict):
    """Parameter values already checked against their declarations where they entered (`check_values`, or the
    command line's options, each parsed by its Parameter): the code they are handed to trusts them."""


def check_values(values: dict[str, Any], declared: dict[str, Parameter], *, lesson: str, source: str = "") -> Values:
    """Every value of `values` checked against its declaration (unknown names refused, naming the valid ones);
    `source` (where they came from: "--config FILE") heads the one line of a bad one."""
    if isinstance(values, Values):
        return values
    where = f"{source}: " if source else ""
    unknown = [name for name in values if name not in declared]
    if unknown:
        raise UsageError(
            f"{where}the {lesson} lesson has no parameter(s) {', '.join(unknown)}; its parameters: "
            f"{', '.join(declared)}"
        )
    checked = Values()
    for name, value in values.items():
        try:
            checked[name] = declared[name].check(value)
        except UsageError as exc:
            raise UsageError(f"{where}{exc}") from None
    return checked


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


def command_words(values: dict, parameters: dict[str, Parameter]) -> str:
    """`values` as the options of a command line, quoted for a POSIX shell: "--epochs 3 --data-dir 'my data'"."""
    words = [w for name, value in values.items() if name in parameters for w in parameters[name].as_words(value)]
    return shlex.join(words)
