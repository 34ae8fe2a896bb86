"""The checked tree of an expression: what :mod:`.parse` builds from Python's ``ast`` and :mod:`.evaluate` runs.

Each node knows its kind, the type of what it gives: ``text``, ``number``, ``bool``, ``date``, ``datetime``,
``list`` (of text) or ``map`` (a literal ``{'a': 'b'}``, an argument only). Light: no pandas here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KINDS = ("text", "number", "bool", "date", "datetime", "list", "map")


@dataclass(frozen=True)
class Node:
    kind: str


@dataclass(frozen=True)
class Literal(Node):
    value: Any


@dataclass(frozen=True)
class Column(Node):
    name: str


@dataclass(frozen=True)
class RunValue(Node):
    name: str


@dataclass(frozen=True)
class RunDate(Node):
    pass


@dataclass(frozen=True)
class ListOf(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class MapLiteral(Node):
    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Not(Node):
    operand: Node


@dataclass(frozen=True)
class BoolOp(Node):
    op: str  # and | or
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Compare(Node):
    op: str  # == != < <= > >= in not in
    left: Node
    right: Node


@dataclass(frozen=True)
class Conditional(Node):
    test: Node
    then: Node
    otherwise: Node


@dataclass(frozen=True)
class Arithmetic(Node):
    op: str  # + (joins text, adds numbers) | - (numbers)
    left: Node
    right: Node


@dataclass(frozen=True)
class Call(Node):
    function: str
    arguments: tuple[Node, ...]


@dataclass(frozen=True)
class Template(Node):
    """A ``cases`` value written as a template (``"{SchoolCode}-{term.TermCode}"``), filled as values.template does."""

    text: str


def walk(node: Node):
    """``node`` and every node below it."""
    yield node
    for child in _children(node):
        yield from walk(child)


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, (ListOf,)):
        return node.items
    if isinstance(node, Not):
        return (node.operand,)
    if isinstance(node, BoolOp):
        return node.operands
    if isinstance(node, (Compare, Arithmetic)):
        return (node.left, node.right)
    if isinstance(node, Conditional):
        return (node.test, node.then, node.otherwise)
    if isinstance(node, Call):
        return node.arguments
    return ()
