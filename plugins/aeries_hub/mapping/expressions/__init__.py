"""Expressions: the small, Python-like language of a mapping's computed values, conditions and keys
(docs/mappings.md, Expressions), e.g. ``'true' if any_in([RaceCode1, RaceCode2], ['600']) else 'false'``.

An expression's text is read by Python's parser and only the forms of :mod:`.parse` are accepted (never run as
Python); it names columns (``StudentID``, ``staff.EmailAddress``), ``settings.NAME``, ``run.NAME``, ``run_date``,
literals, lists, comparisons, ``and``/``or``/``not``, ``+``, ``a if cond else b`` and the functions of the
registry (:mod:`.registry`, implemented in :mod:`.functions` and :mod:`.dates`). It is evaluated over a whole
column at a time (:mod:`.evaluate`). The public API, for the loader, the engine and other checks:

- :func:`compile_expression` (``text -> Expression``, or an :class:`ExpressionError` naming what is wrong),
- :class:`Expression`: ``.columns`` (what it reads), ``.evaluate(frame, run)`` (its values),
  ``.text_values(frame, run)`` (as a file's text), ``.mask(frame, run)`` (a condition's rows),
- :func:`compile_cases` (a value's ``cases``), :func:`compile_in_place` (every expression of a mapping's outputs).

Light on purpose: the loader compiles expressions at DAG parse time; pandas is imported by evaluation only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aeries_hub.mapping.expressions import dates, functions  # noqa: F401  (they register the functions)
from aeries_hub.mapping.expressions import nodes as n
from aeries_hub.mapping.expressions.parse import ExpressionError, Parser
from aeries_hub.mapping.expressions.registry import FUNCTIONS
from aeries_hub.mapping.models import RUN_VALUE, RUN_VALUES, template_fields, template_problem

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FUNCTIONS", "Expression", "ExpressionError", "compile_cases", "compile_expression", "compile_in_place"]

#: What an expression stands for, and the kinds it may give: a condition, or a value written to a file.
CONDITION, VALUE = "condition", "value"
_VALUE_KINDS = ("text", "bool", "number", "date", "datetime")


@dataclass(frozen=True)
class Expression:
    text: str
    tree: n.Node
    written_as: str = "expr"  # the key it was written under: expr, or cases (a value's cases, with their else)

    @property
    def kind(self) -> str:
        return self.tree.kind

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns it reads, in the order written (``alias.Column`` for a lookup's)."""
        names: list[str] = []
        for node in n.walk(self.tree):
            if isinstance(node, n.Column):
                names.append(node.name)
            elif isinstance(node, n.Template):
                names += template_fields(node.text)
        return tuple(dict.fromkeys(names))

    @property
    def run_values(self) -> frozenset[str]:
        """The ``run.NAME`` values it uses."""
        names = set()
        for node in n.walk(self.tree):
            if isinstance(node, n.RunValue):
                names.add(node.name)
            elif isinstance(node, n.Template):
                names |= set(RUN_VALUE.findall(node.text))
        return frozenset(names)

    def evaluate(self, frame: pd.DataFrame, run=None, where: str = "expression") -> pd.Series:
        """Its values over ``frame``'s rows (``run``: the build's :class:`~aeries_hub.mapping.values.RunValues`)."""
        from aeries_hub.mapping.expressions.evaluate import Context, evaluate

        ctx = Context(frame, run, where)
        return ctx.series(evaluate(self.tree, ctx), self.kind)

    def text_values(self, frame: pd.DataFrame, run=None, where: str = "expression") -> pd.Series:
        """Its values as a file's text (true/false, whole numbers, YYYY-MM-DD, ISO 8601 date-times)."""
        from aeries_hub.mapping.expressions.evaluate import Context, as_text, evaluate

        ctx = Context(frame, run, where)
        return as_text(evaluate(self.tree, ctx), self.kind, ctx)

    def mask(self, frame: pd.DataFrame, run=None, where: str = "expression") -> pd.Series:
        """The rows a condition keeps (a bool Series)."""
        from aeries_hub.mapping.expressions.evaluate import Context, as_bool, evaluate

        ctx = Context(frame, run, where)
        return as_bool(evaluate(self.tree, ctx), ctx)


def compile_expression(text: str, settings: dict[str, Any] | None = None, expect: str = VALUE) -> Expression:
    """``text`` checked and compiled; ``expect`` is :data:`CONDITION` (it must be true or false) or :data:`VALUE`
    (it must be something a file can hold)."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("an expression is a text, e.g. \"lower(EmailAddress)\"")
    tree = Parser(text, settings or {}).parse()
    return Expression(text.strip(), _expected(tree, text, expect))


def _expected(tree: n.Node, text: str, expect: str) -> n.Node:
    if expect == CONDITION and tree.kind != "bool":
        raise ExpressionError(f"expression {text.strip()!r}: a condition is true or false, not {tree.kind}: compare "
                              "it (x == 'Y'), or test it with blank(x)")
    if expect == VALUE and tree.kind not in _VALUE_KINDS:
        how = ("join(list, ',') or item(list, n) makes text of a list" if tree.kind == "list"
               else "a map is an argument of map_values")
        raise ExpressionError(f"expression {text.strip()!r}: a {tree.kind} cannot be a value: {how}")
    return tree


def compile_cases(cases: list[dict], otherwise: Any = "", settings: dict[str, Any] | None = None) -> Expression:
    """A value's ``cases`` as one expression: the ``value`` of the first case whose ``when`` holds, else
    ``otherwise``; a value is a template (``"{SchoolCode}-{term.TermCode}"``) or ``{expr: ...}``."""
    tree = _case_value(otherwise, "else", settings)
    for i, case in reversed(list(enumerate(cases))):
        try:
            test = compile_expression(case["when"], settings, CONDITION).tree
        except ExpressionError as exc:
            raise _located(exc, f"cases[{i}].when") from None
        then = _case_value(case["value"], f"cases[{i}].value", settings)
        if then.kind != tree.kind:
            raise _located(ExpressionError(f"gives {then.kind} and the cases after it {tree.kind}: every case gives "
                                           "one kind of value (a template is text)"), f"cases[{i}].value")
        tree = n.Conditional(tree.kind, test, then, tree)
    return Expression("cases", tree, written_as="cases")


def _case_value(value: Any, at: str, settings: dict[str, Any] | None) -> n.Node:
    if isinstance(value, dict):
        try:
            return compile_expression(value["expr"], settings).tree
        except ExpressionError as exc:
            raise _located(exc, f"{at}.expr") from None
    text = str(value)
    problem = template_problem(text)
    unknown = [name for name in RUN_VALUE.findall(text) if name not in RUN_VALUES]
    if unknown:
        problem = f"unknown run value {{run.{unknown[0]}}} (run values: {', '.join(RUN_VALUES)})"
    if problem:
        raise _located(ExpressionError(problem), at)
    return n.Template("text", text) if "{" in text else n.Literal("text", text)


def _located(error: ExpressionError, at: str) -> ExpressionError:
    """``error`` with the key path below the value where it stands (``cases[1].when``)."""
    error.at = at
    return error


def compile_in_place(node: Any, settings: dict[str, Any], path: list) -> tuple[list[str], set[str]]:
    """Compile every expression below ``node`` (a mapping's outputs), replacing its text by the
    :class:`Expression`: ``{expr: ...}`` (a condition in a ``where`` list, a value elsewhere), and a value's
    ``cases`` (with its ``else``) by ``{expr: <the cases>}``. Returns the problems (``<key path>: <problem>``)
    and the ``run.NAME`` values used. Literal ``rows`` are data, not expressions."""
    from aeries_hub.config_files import format_key_path

    problems: list[str] = []
    used: set[str] = set()
    if isinstance(node, list):
        for i, item in enumerate(node):
            found, names = compile_in_place(item, settings, path + [i])
            problems += found
            used |= names
        return problems, used
    if not isinstance(node, dict) or "rows" in path[-1:]:
        return problems, used
    compiled = None
    try:
        if isinstance(node.get("cases"), list):
            compiled = compile_cases(node.pop("cases"), node.pop("else", ""), settings)
        elif isinstance(node.get("expr"), str):
            in_where = len(path) >= 2 and path[-2] == "where"
            compiled = compile_expression(node["expr"], settings, CONDITION if in_where else VALUE)
    except ExpressionError as exc:
        problems.append(f"{format_key_path(path)}.{getattr(exc, 'at', None) or 'expr'}: {exc}")
        return problems, used
    if compiled is not None:
        node["expr"] = compiled
        used |= compiled.run_values
    for key, value in node.items():
        if key != "rows" and isinstance(value, (dict, list)):
            found, names = compile_in_place(value, settings, path + [key])
            problems += found
            used |= names
    return problems, used
