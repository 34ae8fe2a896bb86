"""An expression's text checked into a tree of :mod:`.nodes`: Python's own parser reads it (``ast.parse(mode="eval")``,
nothing is ever run), then only the forms listed here are accepted, each function call is checked against the
registry (its arguments' number and kinds, its literal arguments) and every node gets its kind. Anything else is
an :class:`ExpressionError` naming the part of the text and what to write instead.
"""

from __future__ import annotations

import ast
from typing import Any

from aeries_hub.config_files import closest
from aeries_hub.mapping.expressions import nodes as n
from aeries_hub.mapping.expressions.registry import FUNCTIONS, LIST, MAP, NUMBER, SAME_AS_FIRST, TEXT
from aeries_hub.mapping.models import RUN_VALUES, MappingError

_COMPARISONS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
                ast.In: "in", ast.NotIn: "not in"}
_ORDERED = (NUMBER, TEXT, "date", "datetime")
#: What to write instead of a form expressions do not have.
_NOT_ALLOWED = {
    ast.Subscript: "indexing is not available: item(list, n) gives the n-th element",
    ast.Lambda: "lambdas are not available",
    ast.ListComp: "comprehensions are not available: map_values, any_in, count_in and join work on lists",
    ast.SetComp: "comprehensions are not available", ast.DictComp: "comprehensions are not available",
    ast.GeneratorExp: "comprehensions are not available",
    ast.NamedExpr: "assignments are not available", ast.Starred: "* is not available",
    ast.JoinedStr: "f-strings are not available: join text with +",
    ast.Set: "sets are not available: write a list [...]",
    ast.Await: "await is not available", ast.Yield: "yield is not available",
}


class ExpressionError(MappingError):
    """An expression cannot be used; the message names the part of it that is wrong and what to write. ``at`` is
    the key path below the value where it stands, when not ``expr`` (``cases[1].when``)."""

    at: str | None = None


def known_names() -> str:
    return ", ".join(sorted(FUNCTIONS))


class Parser:
    """Checks one expression's text; ``settings`` are the mapping's (``settings.NAME`` is their value)."""

    def __init__(self, text: str, settings: dict[str, Any]):
        self.text = text
        self.settings = settings

    def fail(self, node: ast.AST | None, problem: str) -> ExpressionError:
        part = ast.get_source_segment(self.text, node) if node is not None else None
        at = f" at {part!r}" if part and part != self.text else ""
        return ExpressionError(f"expression {self.text!r}{at}: {problem}")

    def parse(self) -> n.Node:
        self.text = self.text.strip()
        try:
            tree = ast.parse(self.text, mode="eval")
        except SyntaxError as exc:
            raise ExpressionError(f"expression {self.text!r}: not an expression: {exc.msg} (column "
                                  f"{exc.offset or 1}); the syntax is Python's, e.g. \"'a' if x == '1' else 'b'\"") from None
        return self.node(tree.body)

    def node(self, tree: ast.AST) -> n.Node:
        handler = getattr(self, f"_{type(tree).__name__.lower()}", None)
        if handler is None:
            why = _NOT_ALLOWED.get(type(tree), f"{type(tree).__name__} is not part of the expression language")
            raise self.fail(tree, why)
        return handler(tree)

    def _constant(self, tree: ast.Constant) -> n.Node:
        value = tree.value
        if isinstance(value, bool):
            return n.Literal("bool", value)
        if isinstance(value, (int, float)):
            return n.Literal(NUMBER, value)
        if isinstance(value, str):
            return n.Literal(TEXT, value)
        raise self.fail(tree, f"{value!r} is not a value an expression can hold (text, a number, True or False)")

    def _name(self, tree: ast.Name) -> n.Node:
        name = tree.id
        if name.startswith("__"):
            raise self.fail(tree, "names starting with __ are not available")
        if name == "run_date":
            return n.RunDate("date")
        if name in ("settings", "run"):
            raise self.fail(tree, f"write {name}.NAME")
        if name in FUNCTIONS:
            raise self.fail(tree, f"{name} is a function: call it as {FUNCTIONS[name].signature}")
        return n.Column(TEXT, name)

    def _attribute(self, tree: ast.Attribute) -> n.Node:
        if not isinstance(tree.value, ast.Name) or tree.attr.startswith("__") or tree.value.id.startswith("__"):
            raise self.fail(tree, "only alias.Column, settings.NAME and run.NAME have a dot; there are no methods: "
                                  "write lower(x), not x.lower()")
        base, name = tree.value.id, tree.attr
        if base == "settings":
            if name not in self.settings:
                meant = closest(name, self.settings)
                hint = f" (did you mean {meant!r}?)" if meant else ""
                raise self.fail(tree, f"unknown setting {name!r}{hint}; settings: {', '.join(sorted(self.settings)) or 'none'}")
            return n.Literal(TEXT, str(self.settings[name]))
        if base == "run":
            if name not in RUN_VALUES:
                raise self.fail(tree, f"unknown run value {name!r}; run values: {', '.join(RUN_VALUES)}")
            return n.RunValue(TEXT, name)
        return n.Column(TEXT, f"{base}.{name}")

    def _list(self, tree: ast.List | ast.Tuple) -> n.Node:
        items = tuple(self.as_text(self.node(item), item, "an element of a list") for item in tree.elts)
        return n.ListOf(LIST, items)

    _tuple = _list

    def _dict(self, tree: ast.Dict) -> n.Node:
        pairs = []
        for key, value in zip(tree.keys, tree.values):
            if not (isinstance(key, ast.Constant) and isinstance(value, ast.Constant)
                    and isinstance(key.value, (str, int)) and isinstance(value.value, (str, int))):
                raise self.fail(key or value, "a map is written with literal text only: {'a': 'b'}")
            pairs.append((str(key.value), str(value.value)))
        return n.MapLiteral(MAP, tuple(pairs))

    def _unaryop(self, tree: ast.UnaryOp) -> n.Node:
        if isinstance(tree.op, ast.Not):
            return n.Not("bool", self.as_bool(tree.operand))
        number = tree.operand.value if isinstance(tree.operand, ast.Constant) else None
        if isinstance(tree.op, ast.USub) and isinstance(number, (int, float)) and not isinstance(number, bool):
            return n.Literal(NUMBER, -number)
        raise self.fail(tree, "only not and a negative number are written before a value")

    def _boolop(self, tree: ast.BoolOp) -> n.Node:
        op = "and" if isinstance(tree.op, ast.And) else "or"
        return n.BoolOp("bool", op, tuple(self.as_bool(value) for value in tree.values))

    def _ifexp(self, tree: ast.IfExp) -> n.Node:
        test = self.as_bool(tree.test)
        then, otherwise = self.node(tree.body), self.node(tree.orelse)
        then, otherwise = self.same_kind(then, otherwise, tree.body, tree.orelse)
        return n.Conditional(then.kind, test, then, otherwise)

    def same_kind(self, a: n.Node, b: n.Node, tree_a: ast.AST, tree_b: ast.AST) -> tuple[n.Node, n.Node]:
        """Both branches as one kind: a number literal next to text is text."""
        if a.kind == b.kind:
            return a, b
        if TEXT in (a.kind, b.kind):
            return self.as_text(a, tree_a, "a branch"), self.as_text(b, tree_b, "a branch")
        raise self.fail(tree_b, f"both sides give one kind of value, here {a.kind} and {b.kind}")

    def _binop(self, tree: ast.BinOp) -> n.Node:
        left, right = self.node(tree.left), self.node(tree.right)
        if isinstance(tree.op, ast.Add) and TEXT in (left.kind, right.kind):
            left = self.as_text(left, tree.left, "+ with text")
            right = self.as_text(right, tree.right, "+ with text")
            return n.Arithmetic(TEXT, "+", left, right)
        if isinstance(tree.op, (ast.Add, ast.Sub)) and left.kind == right.kind == NUMBER:
            return n.Arithmetic(NUMBER, "+" if isinstance(tree.op, ast.Add) else "-", left, right)
        if isinstance(tree.op, (ast.Add, ast.Sub)):
            raise self.fail(tree, f"+ joins text and adds numbers, - subtracts numbers; here {left.kind} and "
                                  f"{right.kind} (dates: add_days(d, n), days_between(a, b))")
        raise self.fail(tree, "the operators are + and - (and comparisons, and, or, not)")

    def _compare(self, tree: ast.Compare) -> n.Node:
        parts = []
        left_tree = tree.left
        left = self.node(left_tree)
        for op, right_tree in zip(tree.ops, tree.comparators):
            right = self.node(right_tree)
            parts.append(self.comparison(_COMPARISONS[type(op)], left, right, left_tree, right_tree))
            left, left_tree = right, right_tree
        return parts[0] if len(parts) == 1 else n.BoolOp("bool", "and", tuple(parts))

    def comparison(self, op: str, left: n.Node, right: n.Node, left_tree: ast.AST, right_tree: ast.AST) -> n.Node:
        if op in ("in", "not in"):
            if right.kind != LIST:
                raise self.fail(right_tree, f"{op} takes a list on its right: x in ['a', 'b']")
            return n.Compare("bool", op, self.as_text(left, left_tree, f"the value left of {op}"), right)
        if left.kind != right.kind:
            left, right = self.comparable(left, right, left_tree, right_tree)
        if op not in ("==", "!=") and left.kind not in _ORDERED:
            raise self.fail(left_tree, f"{left.kind} values are compared with == and != only")
        if left.kind in (LIST, MAP):
            raise self.fail(left_tree, f"a {left.kind} cannot be compared: any_in(list, values) tests its elements")
        return n.Compare("bool", op, left, right)

    def comparable(self, left, right, left_tree, right_tree) -> tuple[n.Node, n.Node]:
        """Text compared with a number is read as a number; a text literal compared with a date is a date."""
        kinds = {left.kind, right.kind}
        if kinds == {TEXT, NUMBER}:
            return tuple(x if x.kind == NUMBER else n.Call(NUMBER, "number", (x,)) for x in (left, right))  # type: ignore[return-value]
        if kinds in ({TEXT, "date"}, {TEXT, "datetime"}):
            for side, tree in ((left, left_tree), (right, right_tree)):
                if side.kind == TEXT and not isinstance(side, n.Literal):
                    raise self.fail(tree, f"text compared with a {(kinds - {TEXT}).pop()}: convert it with date(...)")
                if side.kind == TEXT and not _is_iso_date(side.value):
                    raise self.fail(tree, f"{side.value!r} is not a date written YYYY-MM-DD")
            return tuple(n.Call("date", "date", (x,)) if x.kind == TEXT else x for x in (left, right))  # type: ignore[return-value]
        raise self.fail(right_tree, f"{left.kind} compared with {right.kind}: convert one (date(x), number(x))")

    def _call(self, tree: ast.Call) -> n.Node:
        if not isinstance(tree.func, ast.Name):
            raise self.fail(tree, "there are no methods: call a function as f(x) (lower(x), not x.lower())")
        name = tree.func.id
        if name.startswith("__"):
            raise self.fail(tree.func, "names starting with __ are not available")
        function = FUNCTIONS.get(name)
        if function is None:
            meant = closest(name, FUNCTIONS)
            hint = f" (did you mean {meant!r}?)" if meant else ""
            raise self.fail(tree.func, f"unknown function {name!r}{hint}; functions: {known_names()}")
        if tree.keywords:
            raise self.fail(tree, f"write the arguments in order, without names: {function.signature}")
        given = tree.args
        most = None if function.variadic else len(function.params)
        if len(given) < function.required or (most is not None and len(given) > most):
            raise self.fail(tree, f"{name} takes {_count_in_words(function)}, {len(given)} given: {function.signature}")
        arguments = []
        for i, argument in enumerate(given):
            param = function.params[min(i, len(function.params) - 1)]
            arguments.append(self.argument(function.name, param, argument, i))
        returns = arguments[0].kind if function.returns == SAME_AS_FIRST else function.returns
        return n.Call(returns, name, tuple(arguments))

    def argument(self, function: str, param, tree: ast.AST, i: int) -> n.Node:
        node = self.node(tree)
        position = f"{function}'s {_ordinal(i + 1)} argument ({param.name})"
        if param.literal:
            if not isinstance(node, (n.Literal, n.MapLiteral)) and not (
                    isinstance(node, n.ListOf) and all(isinstance(item, n.Literal) for item in node.items)):
                raise self.fail(tree, f"{position} is written as a literal value, e.g. {_literal_example(param)}")
        if node.kind not in param.kinds and TEXT in param.kinds and isinstance(node, n.Literal) and node.kind == NUMBER:
            node = n.Literal(TEXT, number_text(node.value))
        if node.kind not in param.kinds:
            hint = " (convert text with date(x))" if "date" in param.kinds and node.kind == TEXT else ""
            raise self.fail(tree, f"{position} is {' or '.join(param.kinds)}, not {node.kind}{hint}")
        if param.check is not None:
            problem = param.check(literal_value(node))
            if problem:
                raise self.fail(tree, f"{position}: {problem}")
        return node

    def as_bool(self, tree: ast.AST) -> n.Node:
        node = self.node(tree)
        if node.kind != "bool":
            raise self.fail(tree, f"a condition is true or false, not {node.kind}: compare it (x == 'Y'), or test it "
                                  "with blank(x)")
        return node

    def as_text(self, node: n.Node, tree: ast.AST, what: str) -> n.Node:
        if node.kind == TEXT:
            return node
        if isinstance(node, n.Literal) and node.kind == NUMBER:
            return n.Literal(TEXT, number_text(node.value))
        raise self.fail(tree, f"{what} is text, not {node.kind}"
                        + (": write it with format_date(d)" if node.kind in ("date", "datetime") else ""))


def literal_value(node: n.Node) -> Any:
    """The Python value of a literal argument: text, a number, a list of text or a dict."""
    if isinstance(node, n.MapLiteral):
        return dict(node.pairs)
    if isinstance(node, n.ListOf):
        return [literal_value(item) for item in node.items]
    assert isinstance(node, n.Literal), "literal arguments are checked when parsed"
    return node.value


def _is_iso_date(text: str) -> bool:
    from datetime import date

    try:
        date.fromisoformat(text)
        return len(text) == 10
    except ValueError:
        return False


def number_text(value: int | float) -> str:
    """A number as a file writes it: a whole number without .0; none (NaN) blank."""
    return "" if value != value else (str(int(value)) if float(value).is_integer() else str(value))


def _ordinal(i: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(i, f"{i}th")


def _count_in_words(function) -> str:
    most = len(function.params)
    if function.variadic:
        return f"{function.required} or more arguments"
    if function.required == most:
        return f"{most} argument{'s' if most != 1 else ''}"
    return f"{function.required} to {most} arguments"


def _literal_example(param) -> str:
    return {"regex": "'^[0-9]+$'", "map": "{'a': 'b'}", "values": "['100', '600']", "n": "2", "tz": "'America/Los_Angeles'",
            "sep": "','"}.get(param.name, "'%Y-%m-%d'" if "fmt" in param.name else "'text'")
