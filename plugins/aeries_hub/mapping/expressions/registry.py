"""The registry of the functions an expression may call, like the transform steps' (:mod:`aeries_hub.mapping.steps`):
each function is registered with :func:`function`, its parameters (name, the kinds it takes, whether it must be
written as a literal, checked when the mapping loads), the kind it gives, and its docstring, which
docs/mapping-reference.md shows. The implementations are in :mod:`.functions` and :mod:`.dates`; they get each
argument evaluated over the rows (a pandas Series, or a list of them for a ``list``), and a literal argument as
its Python value. Light: no pandas at import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

TEXT, NUMBER, BOOL, DATE, DATETIME, LIST, MAP = "text", "number", "bool", "date", "datetime", "list", "map"
#: The kind a function gives: the same as its first argument's (``map_values`` of text is text).
SAME_AS_FIRST = "same as the first argument"


@dataclass(frozen=True)
class Param:
    name: str
    kinds: tuple[str, ...]
    literal: bool = False  # written as a literal ('%Y-%m-%d', 2, {'a': 'b'}), checked when the mapping loads
    default: Any = None  # an optional parameter's value when left out (None: required)
    #: Why a literal cannot be used (a regular expression that does not compile, an unknown time zone), or None.
    check: Callable[[Any], str | None] | None = None


@dataclass(frozen=True)
class Function:
    name: str
    params: tuple[Param, ...]
    returns: str
    implementation: Callable[..., Any]
    example: str
    variadic: bool = False  # the last parameter may repeat (coalesce(a, b, c, ...))

    @property
    def description(self) -> str:
        return " ".join((self.implementation.__doc__ or "").split())

    @property
    def signature(self) -> str:
        shown = []
        for param in self.params:
            text = param.name if param.default is None else f"{param.name}={param.default!r}"
            shown.append(text)
        if self.variadic:
            shown.append("...")
        return f"{self.name}({', '.join(shown)})"

    @property
    def required(self) -> int:
        return sum(1 for param in self.params if param.default is None)


#: Every function, by name, in the order registered.
FUNCTIONS: dict[str, Function] = {}


def function(name: str, *params: Param, returns: str, example: str, variadic: bool = False) -> Callable:
    """Register the decorated implementation as the function ``name`` (see :class:`Function`)."""
    def register(implementation: Callable[..., Any]) -> Callable[..., Any]:
        FUNCTIONS[name] = Function(name, params, returns, implementation, example, variadic)
        return implementation

    return register


def text(name: str = "x") -> Param:
    return Param(name, (TEXT,))


def regex_problem(pattern: Any) -> str | None:
    import re

    try:
        re.compile(pattern)
    except re.error as exc:
        return f"{pattern!r} is not a regular expression: {exc}"
    return None


def zone_problem(name: Any) -> str | None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"{name!r} is not an IANA time zone (e.g. America/Los_Angeles)"
    return None


def format_problem(fmt: Any) -> str | None:
    if "%" not in fmt:
        return f"{fmt!r} is not a strftime format: it has no %-code (e.g. '%Y-%m-%d')"
    return None


def month_day_problem(month_day: Any) -> str | None:
    import re
    from datetime import date

    if re.fullmatch(r"\d\d-\d\d", month_day):
        try:
            date(2024, int(month_day[:2]), int(month_day[3:]))
            return None
        except ValueError:
            pass
    return f"{month_day!r} is not a month and day written MM-DD (e.g. '07-01')"


def positive(n: Any) -> str | None:
    return None if isinstance(n, int) and n >= 1 else f"{n!r} is not a position: positions start at 1"
