"""The format of a mapping's outputs (``outputs:``): each file's columns, record sets and values, as pydantic
models; the definitions (``$defs``) of plugins/aeries_hub/schemas/mapping.schema.json are written from them
(:mod:`aeries_hub.schema_generator`), the file's top from :mod:`aeries_hub.mapping.schema_models`.

A type named with ``TypeAliasType`` is one ``$defs`` entry of the file; the other models are written inline. Its
variable has the entry's name (``field_ref``, ``output``): mypy takes a ``TypeAliasType`` for a type only then.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, WithJsonSchema
from typing_extensions import TypeAliasType

from aeries_hub.mapping.steps import SCHEMA_KEYWORD
from aeries_hub.quality.check_models import CHECKS_SCHEMA_ID, check_list
from aeries_hub.schema_generator import ClosedModel

NAME_PATTERN = "^[a-z][a-z0-9_]*$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
Severity = Literal["error", "warning", "reject"]
string_list = TypeAliasType("string_list", list[str])
field_ref = TypeAliasType(
    "field_ref",
    Annotated[str, Field(pattern="^([A-Za-z_][A-Za-z0-9_]*\\.)?[A-Za-z_][A-Za-z0-9_]*$",
                         description="A column of the record set's table, or alias.Column for a column of a lookup.")],
)
#: One transform step, checked against the step registry (:mod:`aeries_hub.mapping.steps`) by its JSON Schema
#: keyword; the file holds the registry's definition for editors (:func:`aeries_hub.mapping.steps.json_schema`).
step = TypeAliasType(
    "step", Annotated[str | dict[str, Any], WithJsonSchema({SCHEMA_KEYWORD: True})])
_FieldRefs = Annotated[list[field_ref], Field(min_length=1)]
_CheckListRef = Annotated[check_list, WithJsonSchema({"$ref": CHECKS_SCHEMA_ID + "#/$defs/check_list"})]


class Condition(ClosedModel):
    """A column and one test of it, or an expression: {expr: "..."}."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [
        {"required": ["column"], "minProperties": 2, "maxProperties": 2},
        {"required": ["expr"], "maxProperties": 1},
    ]})

    column: field_ref | None = None
    in_: list[str | int] | None = Field(None, alias="in")
    not_in: list[str | int] | None = None
    blank: bool | None = None
    before_run_date: bool | None = Field(None, description=(
        "true: the date in the column is before the run's date; false: it is not (a blank date is neither before "
        "nor after it). Aeries dates (YYYY-MM-DD[THH:MM:SS]); e.g. a section staff member whose EndDate has passed."))
    after_run_date: bool | None = Field(None, description=(
        "true: the date in the column is after the run's date; false: it is not (a blank date is neither before "
        "nor after it); e.g. a section staff member whose StartDate has not come."))
    expr: Annotated[str, Field(min_length=1)] | None = Field(None, description=(
        "Instead of a column and its test: an expression that is true or false (docs/mappings.md, Expressions), "
        "e.g. \"not blank(term.TermCode) and term.TermCode != 'S'\"."))


condition = TypeAliasType("condition", Condition)


class Expression(ClosedModel):
    """A value computed by an expression (docs/mappings.md, Expressions)."""

    expr: Annotated[str, Field(min_length=1)] = Field(description="The expression, e.g. \"lower(EmailAddress)\".")


expression = TypeAliasType("expression", Expression)


class Case(ClosedModel):
    when: Annotated[str, Field(min_length=1)] = Field(description=(
        "An expression that is true or false, e.g. \"term.TermCode in ['F', 'S']\"."))
    value: str | int | expression = Field(description=(
        "The value where when is true: a template (text with {Column} placeholders) or {expr: ...}."))


class PreferenceOrder(ClosedModel):
    column: field_ref
    order: string_list


preference = TypeAliasType("preference", field_ref | PreferenceOrder)


class Lookup(ClosedModel):
    table: str
    on: Annotated[dict[str, str], Field(min_length=1)] = Field(
        description="{column of this record set: column of the lookup table}; the first matching row is used.")
    where: list[condition] | None = None


lookup = TypeAliasType("lookup", Lookup)


class FirstOfColumn(ClosedModel):
    """A column with its own transform steps, applied only when this column is the one used (e.g. a guardian's
    first name from the first word of MailingName)."""

    source: field_ref
    transform: list[step] | None = None


class FirstInGroup(ClosedModel):
    """"true" on the first row of each group of rows with equal `by` values, in `order` (whole numbers compare as
    numbers, blanks last), "false" on the others; e.g. a student's primary contact: by [StudentID], order
    [ContactOrder, SequenceNumber]."""

    by: _FieldRefs
    order: _FieldRefs


class Value(ClosedModel):
    """Exactly one of source / constant / template / first_of / first_in_group / expr / cases, then optional
    match codes and transform steps."""

    model_config = ConfigDict(json_schema_extra={
        "oneOf": [{"required": [kind]} for kind in ("source", "constant", "template", "first_of", "first_in_group",
                                                    "expr", "cases")],
        "dependentRequired": {"default": ["match"], "else": ["cases"]},
    })

    source: field_ref | None = None
    constant: str | int | None = None
    template: Annotated[str, Field(min_length=1)] | None = Field(None, description=(
        "Text with {Column} or {alias.Column} placeholders, the run's date {run_date:%Y-%m-%d}, and run values from "
        "Aeries such as {run.school_year} (see settings)."))
    first_of: Annotated[list[field_ref | FirstOfColumn], Field(min_length=2)] | None = Field(None, description=(
        "The first non-blank of these columns (each optionally with its own transform steps)."))
    match: dict[str, str] | None = Field(None, description="Match codes: source value (trimmed) -> vendor value.")
    default: str | None = Field(None, description=(
        "With match: the value for codes not listed. Absent: unlisted codes pass through."))
    transform: list[step] | None = None
    first_in_group: FirstInGroup | None = None
    expr: Annotated[str, Field(min_length=1)] | None = Field(None, description=(
        "An expression (docs/mappings.md, Expressions), e.g. \"item(split(TeacherIDs, ','), 2)\"; a condition "
        "gives true or false, a date YYYY-MM-DD."))
    cases: Annotated[list[Case], Field(min_length=1)] | None = Field(None, description=(
        "The value of the first case whose when is true (else: the else value), e.g. a term's type from its "
        "code and description."))
    else_: str | int | expression | None = Field(None, alias="else", description=(
        "With cases: the value where no case is true, a template or {expr: ...} (default: blank)."))


value = TypeAliasType("value", Value)


class Distinct(ClosedModel):
    on: Annotated[list[field_ref | expression], Field(min_length=1)] = Field(description=(
        "The columns (or {expr: ...}, e.g. {expr: \"lower(EmailAddress)\"}) whose equal values make one row."))
    prefer: list[preference] | None = None
    collect: dict[str, Annotated[str, Field(min_length=1)]] | None = Field(None, description=(
        "Columns whose values are gathered from every merged row (distinct, preferred row first) and joined with "
        "the given separator, e.g. {orgSourcedIds: \",\"} for a student enrolled at two schools."))


class Explode(ClosedModel):
    column: str
    as_: Name = Field(alias="as")
    where: list[condition] | None = Field(None, description=(
        "Only the elements that meet these conditions (on <as>.Field) become rows; a row none of whose elements "
        "does is kept once with blank fields, as a row with an empty list (e.g. a section whose staff members are "
        "all inactive still becomes a class, without a teacher)."))


class RecordSet(ClosedModel):
    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["from", "values"]}, {"required": ["rows"]}]})

    name: Name
    from_: str | None = Field(None, alias="from", description="Source table of this record set.")
    where: list[condition] | None = None
    lookups: dict[Name, lookup] | None = None
    distinct: Distinct | None = None
    values: dict[str, value] | None = None
    explode: Explode | None = Field(None, description=(
        "One row per element of a list column (e.g. a section's SectionStaffMembers); the element's fields are read "
        "as <as>.Field. A row whose list is empty is kept once, with blank fields."))
    rows: Annotated[list[Annotated[dict[str, str | int], Field(min_length=1)]], Field(min_length=1)] | None = Field(
        None, description=("Literal rows (column -> text), in the order written, instead of rows from a table: e.g. "
                           "a manifest or the district's own record."))


record_set = TypeAliasType("record_set", RecordSet)


class Column(ClosedModel):
    name: Annotated[str, Field(min_length=1)]
    description: str | None = None
    required: bool = False
    max_length: Annotated[int, Field(ge=1)] | None = None
    allowed: Annotated[list[str], Field(min_length=1)] | None = None
    pattern: str | None = Field(None, description="Regular expression every non-blank value must match.")
    severity: Severity = Field("reject", description="What a row breaking this column's rules does.")
    do_not_map: bool = Field(False, description="Documented but not sent: the column is left out of the file.")
    overwrite: bool = Field(False, description=(
        "jsonl only: a blank value is sent as null, clearing the field at the vendor; without overwrite a blank "
        "value is left out."))
    escape_formulas: bool = Field(True, description=(
        "Delimited files only. A value that starts with =, +, -, @, a tab or a carriage return (and is not a plain "
        "number such as -3) is written with a ' in front, so that a spreadsheet shows it as text instead of running "
        "it as a formula (OWASP CSV injection). false writes this column's values as they are, for a vendor that "
        "needs the raw value."))


column = TypeAliasType("column", Column)


class Format(ClosedModel):
    type: Literal["delimited", "jsonl"] = Field("delimited", description=(
        "delimited text (CSV, pipes) or JSON Lines: one object per row, column names with dots become nested "
        "objects (students.fname)."))
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","
    header: bool = True
    quoting: Literal["all", "minimal", "none"] = "minimal"
    encoding: Literal["utf-8", "utf-8-sig", "latin-1", "cp1252"] = "utf-8"
    line_ending: Literal["crlf", "lf"] = "lf"


format = TypeAliasType("format", Format)


class Reference(ClosedModel):
    column: str
    file: str = Field(description="Another output's file name.")
    key: str | None = Field(None, description="Column of that file (default: its first key column).")
    separator: Annotated[str, Field(min_length=1)] | None = Field(
        None, description="The cell holds several values separated by this.")
    severity: Severity = "error"


class Nest(ClosedModel):
    file: str
    on: Annotated[dict[str, str], Field(min_length=1, max_length=1)] = Field(description=(
        "{column of the nested file: column of this file}; the nested column is left out of the nested objects."))


class Output(ClosedModel):
    file: str = Field(pattern="^[A-Za-z0-9_.-]+$", description="File name delivered to the vendor.")
    format: format
    key: Annotated[list[str | expression], Field(min_length=1)] = Field(description=(
        "Column(s) that identify a record in this file; must be unique. An entry {expr: ...} is an expression over "
        "the file's columns, e.g. {expr: \"lower(email)\"}: e-mails that differ only in case are one key."))
    min_rows: Annotated[int, Field(ge=0)] = Field(1, description="Fewer rows than this stops the run before delivery.")
    columns: Annotated[list[column], Field(min_length=1)]
    records: Annotated[list[record_set], Field(min_length=1)]
    checks: _CheckListRef | None = None
    references: list[Reference] | None = Field(None, description=(
        "Referential completeness: every value of column (each part, with separator) must be a key of an output "
        "file of this mapping (this one included, e.g. a parent id). Another file is built first."))
    nest: dict[Annotated[str, Field(pattern="^[A-Za-z_][A-Za-z0-9_]*$")], Nest] | None = Field(None, description=(
        "jsonl only: put the rows of another jsonl output inside each record, as a list named by the key (e.g. a "
        "student's guardians). The nested file is built first and not delivered on its own."))


output = TypeAliasType("output", Output)
