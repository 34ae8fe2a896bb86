"""An expression's tree evaluated over a build's rows, a whole column at a time (pandas Series operations): text is
pandas' Arrow-backed text, a condition a bool Series, a number a float Series (NaN: none), a date a datetime64
Series (NaT: none), a list a Python list of text Series. A column is read trimmed, as templates and conditions
read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from aeries_hub.mapping.expressions import dates, functions  # noqa: F401  (they register the functions)
from aeries_hub.mapping.expressions import nodes as n
from aeries_hub.mapping.expressions.parse import literal_value, number_text
from aeries_hub.mapping.expressions.registry import FUNCTIONS
from aeries_hub.mapping.models import MappingError
from aeries_hub.mapping.text import TEXT, per_distinct
from aeries_hub.mapping.values import RunValues, read_column, template


@dataclass
class Context:
    frame: pd.DataFrame
    run: RunValues | None  # None outside a build
    where: str
    columns: dict[str, pd.Series] = field(default_factory=dict)

    @property
    def index(self) -> pd.Index:
        return self.frame.index

    def column(self, name: str) -> pd.Series:
        if name not in self.columns:
            self.columns[name] = read_column(self.frame, name, self.where).str.strip()
        return self.columns[name]

    def run_date(self) -> date:
        run_date = getattr(self.run, "run_date", None)
        if run_date is None:
            raise MappingError(f"{self.where}: today() and run_date need the run's date, which this build was not given")
        return run_date

    def series(self, value, kind: str) -> pd.Series:
        """``value`` as a Series over the rows (a literal is the same on every row)."""
        if isinstance(value, pd.Series):
            return value
        if kind == "text":
            return pd.Series(value, index=self.index, dtype=TEXT)
        if kind == "number":
            return pd.Series(float(value), index=self.index)
        if kind == "bool":
            return pd.Series(bool(value), index=self.index, dtype=bool)
        return pd.Series(value, index=self.index)


def evaluate(node: n.Node, ctx: Context):
    """The values of ``node`` over the rows: a Series, a Python literal (the same on every row), or a list of Series."""
    if isinstance(node, n.Literal):
        return node.value
    if isinstance(node, n.Column):
        return ctx.column(node.name)
    if isinstance(node, n.RunValue):
        return (ctx.run or RunValues()).value(node.name, ctx.where)
    if isinstance(node, n.RunDate):
        return pd.Timestamp(ctx.run_date())
    if isinstance(node, n.Template):
        return template(node.text, ctx.frame, ctx.where, ctx.run or RunValues())
    if isinstance(node, n.ListOf):
        return [ctx.series(evaluate(item, ctx), "text") for item in node.items]
    if isinstance(node, n.Not):
        return ~as_bool(evaluate(node.operand, ctx), ctx)
    if isinstance(node, n.BoolOp):
        result = as_bool(evaluate(node.operands[0], ctx), ctx)
        for operand in node.operands[1:]:
            value = as_bool(evaluate(operand, ctx), ctx)
            result = (result & value) if node.op == "and" else (result | value)
        return result
    if isinstance(node, n.Compare):
        return _compare(node, ctx)
    if isinstance(node, n.Conditional):
        test = as_bool(evaluate(node.test, ctx), ctx)
        then = ctx.series(evaluate(node.then, ctx), node.kind)
        otherwise = ctx.series(evaluate(node.otherwise, ctx), node.kind)
        return otherwise.where(~test, then)
    if isinstance(node, n.Arithmetic):
        left, right = evaluate(node.left, ctx), evaluate(node.right, ctx)
        if node.kind == "text":
            return ctx.series(left, "text") + right
        return ctx.series(left, "number") + right if node.op == "+" else ctx.series(left, "number") - right
    if isinstance(node, n.Call):
        return _call(node, ctx)
    raise MappingError(f"{ctx.where}: {type(node).__name__} cannot be evaluated")  # parse.py builds no other node


def as_bool(value, ctx: Context) -> pd.Series:
    return ctx.series(value, "bool").fillna(False).astype(bool)


def _compare(node: n.Compare, ctx: Context) -> pd.Series:
    left = evaluate(node.left, ctx)
    if node.op in ("in", "not in"):
        assert isinstance(node.right, n.ListOf)
        literal = all(isinstance(item, n.Literal) for item in node.right.items)
        values = ctx.series(left, "text")
        if literal:
            hit = values.isin([literal_value(item) for item in node.right.items])
        else:
            hit = pd.Series(False, index=ctx.index)
            for item in evaluate(node.right, ctx):
                hit = hit | values.eq(item)
        hit = hit.astype(bool)
        return hit if node.op == "in" else ~hit
    right = evaluate(node.right, ctx)
    left = ctx.series(left, node.left.kind)
    operations = {"==": left.eq, "!=": left.ne, "<": left.lt, "<=": left.le, ">": left.gt, ">=": left.ge}
    return operations[node.op](right).fillna(False).astype(bool)  # a blank number or date compares false (but !=)


def _call(node: n.Call, ctx: Context):
    function = FUNCTIONS[node.function]
    arguments = []
    for i, argument in enumerate(node.arguments):
        param = function.params[min(i, len(function.params) - 1)]
        if param.literal:
            arguments.append(literal_value(argument))
        elif argument.kind == "list":
            arguments.append(evaluate(argument, ctx))
        else:
            arguments.append(ctx.series(evaluate(argument, ctx), argument.kind))
    arguments += [param.default for param in function.params[len(arguments):]]
    return function.implementation(ctx, *arguments)


def as_text(value, kind: str, ctx: Context) -> pd.Series:
    """A value as the text of a file's column: text as it is, true/false for a condition, a whole number without
    .0, a date as YYYY-MM-DD, a date-time as ISO 8601 with its offset; none is blank."""
    values = ctx.series(value, kind)
    if kind == "text":
        return values.astype(TEXT).fillna("")
    if kind == "bool":
        return pd.Series(np.where(values.fillna(False).astype(bool), "true", "false"), index=ctx.index, dtype=TEXT)
    if kind == "number":
        return per_distinct(values, number_text).astype(TEXT)
    if kind == "date":
        return dates.date_text(values)
    if kind == "datetime":
        return dates.date_text(values, dates.ISO_DATETIME)
    raise MappingError(f"{ctx.where}: a {kind} cannot be a file's value")  # checked when the mapping loads
