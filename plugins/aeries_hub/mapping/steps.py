"""The transform steps of a value (``transform: [trim, {truncate: 10}]``), registered by name.

A step is one function here, registered with :func:`step`: its name, the JSON Schema of its argument (none: the
step is written as a bare name, ``trim``), the columns of the row it reads besides the value (checked by the
loader, joined by the engine), and what it does to the values. The loader checks every step against this
registry (:func:`schema_keyword`) and the engine applies it (:func:`apply_step`); the step definition of
plugins/aeries_hub/schemas/mapping.schema.json, there for editors, is :func:`json_schema`, written by ``make docs``, and
docs/mapping-reference.md lists each step with its function's docstring (:attr:`Step.description`).

Light on purpose: the loader reads the registry at DAG parse time, so pandas is imported by the step functions,
which run in a build only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator

from aeries_hub.config_files import did_you_mean
from aeries_hub.mapping.models import MappingError, template_fields

if TYPE_CHECKING:
    import pandas as pd

    from aeries_hub.mapping.values import Rows

#: The keyword of the loader's JSON Schema that stands for one step (in place of the file's ``$defs.step``).
SCHEMA_KEYWORD = "aeriesStep"


def _reads_nothing(argument: Any) -> list[tuple[str, str]]:
    return []


@dataclass(frozen=True)
class Example:
    """A step as a mapping writes it, a value before it and the value after it (docs/mapping-reference.md shows it;
    tests/plugins/aeries_hub/mapping/test_steps.py runs it)."""

    written: str | dict[str, Any]
    value: str
    result: str
    #: The other columns of the row the step reads (blank_if_equal_to, a template in if_blank).
    row: dict[str, str] = field(default_factory=dict)
    #: The crosswalks the step reads: {name: {aeries value: vendor value}}.
    crosswalks: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    name: str
    function: Callable[[pd.Series, Any, Rows], pd.Series]
    #: The JSON Schema of the argument (``{name: argument}``); None: the step is a bare name and takes none.
    argument: dict[str, Any] | None = None
    #: The columns of the row the step reads, from its argument: (key path below the step, column).
    reads: Callable[[Any], list[tuple[str, str]]] = _reads_nothing
    #: What the step does to one value (every step has one: test_steps.py).
    example: Example | None = None

    @property
    def description(self) -> str:
        """What the step does: its function's docstring, else the description of its argument."""
        return " ".join((self.function.__doc__ or (self.argument or {}).get("description", "")).split())


#: Every step, by name, in the order they are defined below.
STEPS: dict[str, Step] = {}


def step(name: str, argument: dict[str, Any] | None = None,
         reads: Callable[[Any], list[tuple[str, str]]] = _reads_nothing, *, example: Example | None = None) -> Callable:
    """Register the decorated function as the step ``name`` (see :class:`Step`)."""
    def register(function: Callable[[pd.Series, Any, Rows], pd.Series]) -> Callable:
        STEPS[name] = Step(name, function, argument, reads, example)
        return function

    return register


def parts(written: str | dict) -> tuple[str, Any]:
    """(name, argument) of a step as a mapping writes it: ``trim`` or ``{truncate: 10}``."""
    if isinstance(written, str):
        return written, None
    (name, argument), = written.items()
    return name, argument


def apply_step(written: str | dict, values: pd.Series, rows: Rows) -> pd.Series:
    """``values`` transformed by one step; ``rows`` are the rows they belong to (a step may read another column)."""
    name, argument = parts(written)
    if name not in STEPS:
        raise MappingError(f"{rows.where}: unknown step {written!r}")
    return STEPS[name].function(values, argument, rows)


# ----------------------------------------------------------------------------------------------- validation


def json_schema() -> dict[str, Any]:
    """The JSON Schema of one step, from the registry (plugins/aeries_hub/schemas/mapping.schema.json ``$defs.step``)."""
    return {
        "oneOf": [
            {"enum": [s.name for s in STEPS.values() if s.argument is None]},
            {
                "type": "object",
                "minProperties": 1,
                "maxProperties": 1,
                "additionalProperties": False,
                "properties": {s.name: s.argument for s in STEPS.values() if s.argument is not None},
            },
        ]
    }


def schema_keyword(validator, _enabled: bool, instance: Any, _schema: dict) -> Iterator:
    """The JSON Schema keyword :data:`SCHEMA_KEYWORD`: ``instance`` is a step of the registry, with its argument."""
    from jsonschema.exceptions import ValidationError

    if not isinstance(instance, str) and not (isinstance(instance, dict) and len(instance) == 1):
        yield ValidationError(not_a_step(instance))
        return
    name = instance if isinstance(instance, str) else next(iter(instance))
    known = STEPS.get(name) if isinstance(name, str) else None
    if name is not None and known is None:
        yield ValidationError(unknown_step(str(name)))
        return
    takes_argument = known is not None and known.argument is not None
    if takes_argument and (isinstance(instance, str) or instance[name] is None):
        yield ValidationError(f"step {name!r} takes an argument: write it as {{{name}: ...}}")
        return
    if known is not None and isinstance(instance, dict) and known.argument is None:
        yield ValidationError(f"step {name!r} takes no argument: write it as {name}")
        return
    yield from validator.descend(instance, json_schema())


def not_a_step(written: Any) -> str:
    """Why ``written`` (not a name, nor a map of one key) is not a step; the usual cause is a step's argument
    written beside its name instead of below it."""
    steps = f"steps: {', '.join(sorted(STEPS))}"
    if not isinstance(written, dict):
        return f"a step is written as its name (trim) or as {{name: argument}}, not {written!r}; {steps}"
    if not written:
        return f"an empty step: write a step's name (trim) or {{name: argument}}; {steps}"
    named = [key for key in written if key in STEPS]
    others = ", ".join(str(key) for key in written if key not in STEPS)
    if len(named) == 1 and written[named[0]] is None and STEPS[named[0]].argument is not None:
        return (f"step {named[0]!r} has its argument's keys ({others}) beside its name: indent them below "
                f"{named[0]}: as the keys of its argument")
    if len(named) == len(written):
        return f"{len(named)} steps in one list item ({', '.join(named)}): write each step as its own item"
    unknown = [str(key) for key in written if key not in STEPS]
    return f"a step is one name or {{name: argument}}, this item has {len(written)} keys; {unknown_step(unknown[0])}"


def unknown_step(name: str) -> str:
    """Why ``name`` is not a step: the closest step name, and every step."""
    return f"unknown step {name!r}{did_you_mean(name, STEPS)}; steps: {', '.join(sorted(STEPS))}"


def crosswalk_step(written) -> tuple[str | None, str | None]:
    """(crosswalk name, ``else`` template or None) of a ``{crosswalk: NAME}`` or ``{crosswalk: {name, else}}``
    step; (None, None) for another step."""
    argument = written.get("crosswalk") if isinstance(written, dict) else None
    if isinstance(argument, dict):
        return argument["name"], argument.get("else")
    return argument, None


# ----------------------------------------------------------------------------------------------- the steps


@step("trim", example=Example("trim", "  Ana ", "Ana"))
def _trim(values: pd.Series, _argument: None, _rows: Rows) -> pd.Series:
    """Removes the spaces at both ends."""
    return values.str.strip()


@step("upper", example=Example("upper", "Ridge High", "RIDGE HIGH"))
def _upper(values: pd.Series, _argument: None, _rows: Rows) -> pd.Series:
    """Upper case."""
    return values.str.upper()


@step("lower", example=Example("lower", "ZOBrien@Example.org", "zobrien@example.org"))
def _lower(values: pd.Series, _argument: None, _rows: Rows) -> pd.Series:
    """Lower case."""
    return values.str.lower()


@step("title", example=Example("title", "MARIA DE LA CRUZ", "Maria De La Cruz"))
def _title(values: pd.Series, _argument: None, _rows: Rows) -> pd.Series:
    """Title Case (each word capitalised)."""
    return values.str.title()


@step("digits_only", example=Example("digits_only", "(555) 010-0100", "5550100100"))
def _digits_only(values: pd.Series, _argument: None, _rows: Rows) -> pd.Series:
    """Keeps the digits only (a phone number's 555-0100 becomes 5550100)."""
    return values.str.replace(r"\D", "", regex=True)


@step("date", {"type": "string",
               "description": "strftime format for an Aeries date, e.g. %m/%d/%Y. Blank and 0001-01-01 become blank."},
      example=Example({"date": "%m/%d/%Y"}, "2019-03-04T00:00:00", "03/04/2019"))
def _date(values: pd.Series, fmt: str, _rows: Rows) -> pd.Series:
    from aeries_hub.mapping.expressions.dates import dates_of
    from aeries_hub.mapping.text import TEXT, per_distinct_text

    def formatted(distinct: pd.Series) -> pd.Series:
        parsed = dates_of(distinct)
        return parsed.dt.strftime(fmt).astype(TEXT).where(parsed.notna(), "")

    return per_distinct_text(values, formatted)


@step("truncate", {"type": "integer", "minimum": 1}, example=Example({"truncate": 3}, "Ridge", "Rid"))
def _truncate(values: pd.Series, length: int, _rows: Rows) -> pd.Series:
    """Keeps the first N characters."""
    return values.str.slice(0, length)


def _if_blank_reads(fill: str) -> list[tuple[str, str]]:
    return [(".if_blank", ref) for ref in template_fields(fill)]


@step("if_blank", {"type": "string",
                   "description": "Value for blank cells; may use {Column} placeholders, e.g. a generated username."},
      reads=_if_blank_reads, example=Example({"if_blank": "S{StudentID}"}, "", "S101", row={"StudentID": "101"}))
def _if_blank(values: pd.Series, fill: str, rows: Rows) -> pd.Series:
    from aeries_hub.mapping.text import is_blank

    return values.where(~is_blank(values), rows.template(fill) if "{" in fill else fill)


@step("prefix", {"type": "string"}, example=Example({"prefix": "T-"}, "501", "T-501"))
def _prefix(values: pd.Series, prefix: str, _rows: Rows) -> pd.Series:
    """Writes the text before each value that is not blank."""
    from aeries_hub.mapping.text import is_blank

    return values.where(is_blank(values), prefix + values)


@step("pad_left", {"type": "object", "additionalProperties": False, "required": ["width"],
                   "properties": {"width": {"type": "integer", "minimum": 1},
                                  "char": {"type": "string", "minLength": 1, "maxLength": 1}}},
      example=Example({"pad_left": {"width": 6}}, "101", "000101"))
def _pad_left(values: pd.Series, argument: dict, _rows: Rows) -> pd.Series:
    """Pads each value that is not blank on the left to width characters with char (default 0)."""
    from aeries_hub.mapping.text import is_blank

    padded = values.str.rjust(argument["width"], argument.get("char", "0"))
    return values.where(is_blank(values), padded)


@step("replace", {"type": "object", "additionalProperties": False, "required": ["pattern", "with"],
                  "properties": {"pattern": {"type": "string"}, "with": {"type": "string"}}},
      example=Example({"replace": {"pattern": "@.*$", "with": ""}}, "zoe@example.org", "zoe"))
def _replace(values: pd.Series, argument: dict, rows: Rows) -> pd.Series:
    """Replaces what the regular expression pattern finds by with (re.sub; \\1 refers to a group)."""
    try:
        return values.str.replace(argument["pattern"], argument["with"], regex=True)
    except re.error as exc:
        raise MappingError(f"{rows.where}: replace pattern {argument['pattern']!r} is invalid: {exc}") from None


@step("blank_unless", {"type": "string", "description": "Regular expression: values that do not match it become blank."},
      example=Example({"blank_unless": "@example\\.org$"}, "zoe@gmail.com", ""))
def _blank_unless(values: pd.Series, pattern: str, rows: Rows) -> pd.Series:
    return values.where(_search(values, pattern, f"{rows.where}: blank_unless"), "")


def _crosswalk_reads(argument: str | dict) -> list[tuple[str, str]]:
    otherwise = crosswalk_step({"crosswalk": argument})[1]
    return [(".crosswalk.else", ref) for ref in template_fields(otherwise)] if otherwise else []


@step("crosswalk", {
    "description": "Name of a crosswalk (top-level crosswalks): values in its aeries column become its vendor value; "
                   "others pass through. As {name, else}: the others become the else value instead (a text that may "
                   "use {Column} placeholders, e.g. {school.ShortName}).",
    "oneOf": [
        {"type": "string"},
        {"type": "object", "additionalProperties": False, "required": ["name", "else"],
         "properties": {"name": {"type": "string"}, "else": {"type": "string"}}},
    ],
}, reads=_crosswalk_reads, example=Example({"crosswalk": "sites"}, "994", "RHS", crosswalks={"sites": {"994": "RHS"}}))
def _crosswalk(values: pd.Series, argument: str | dict, rows: Rows) -> pd.Series:
    from aeries_hub.mapping.text import TEXT, per_distinct_text

    crosswalk, otherwise = crosswalk_step({"crosswalk": argument})
    assert crosswalk is not None, "a crosswalk step names its crosswalk"
    table = rows.run.crosswalks[crosswalk]

    def crosswalked(codes: pd.Series, others: pd.Series | str) -> pd.Series:
        trimmed = codes.str.strip()
        return trimmed.map(table).astype(TEXT).where(trimmed.isin(table.keys()), others)

    if otherwise is not None and "{" in otherwise:  # (each row's own "else" value)
        return crosswalked(values, rows.template(otherwise))
    return per_distinct_text(values, lambda codes: crosswalked(codes, codes if otherwise is None else otherwise))


@step("if_match", {
    "type": "object", "additionalProperties": False, "required": ["pattern", "then", "else"],
    "description": "Regular expression test: values it finds become then, the others else (e.g. race codes to "
                   "true/false).",
    "properties": {"pattern": {"type": "string"}, "then": {"type": "string"}, "else": {"type": "string"}},
}, example=Example({"if_match": {"pattern": "^(700|600)$", "then": "true", "else": "false"}}, "700", "true"))
def _if_match(values: pd.Series, argument: dict, rows: Rows) -> pd.Series:
    import pandas as pd

    from aeries_hub.mapping.text import TEXT

    hit = _search(values, argument["pattern"], f"{rows.where}: if_match")
    return pd.Series(argument["else"], index=values.index, dtype=TEXT).where(~hit, argument["then"])


@step("blank_if_equal_to", {
    "$ref": "#/$defs/field_ref",
    "description": "Blank where the value equals this column of the row (e.g. a next school that is the current "
                   "school).",
}, reads=lambda column: [(".blank_if_equal_to", column)],
      example=Example({"blank_if_equal_to": "SchoolCode"}, "994", "", row={"SchoolCode": "994"}))
def _blank_if_equal_to(values: pd.Series, column: str, rows: Rows) -> pd.Series:
    return values.where(values.str.strip().ne(rows.column(column).str.strip()), "")


@step("split_name", {
    "enum": ["first", "last"],
    "description": "A part of a whole name written \"First Last\" (Aeries' MailingName): first = its first word, "
                   "last = the words after it (blank for one word).",
}, example=Example({"split_name": "last"}, "Maria De La Cruz", "De La Cruz"))
def _split_name(values: pd.Series, part: str, _rows: Rows) -> pd.Series:
    from aeries_hub.mapping.text import TEXT, per_distinct

    return per_distinct(values, lambda value: _name_part(value, part)).astype(TEXT)


def _name_part(name: str, part: str) -> str:
    """A part of a whole name written "First Last" (Aeries' MailingName): ``first`` is its first word, ``last``
    the words after it ("Maria De La Cruz" -> "Maria", "De La Cruz"; a one-word name has no last part)."""
    words = name.split(None, 1)
    if part == "first":
        return words[0] if words else ""
    return words[1] if len(words) > 1 else ""


def _search(values: pd.Series, pattern: str, where: str) -> pd.Series:
    """True where the regular expression is found in the value (re.search)."""
    from aeries_hub.mapping.text import per_distinct

    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise MappingError(f"{where} pattern {pattern!r} is invalid: {exc}") from None
    return per_distinct(values, lambda value: compiled.search(value) is not None).astype(bool)
