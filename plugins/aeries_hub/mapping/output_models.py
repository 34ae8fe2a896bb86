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
_Text = Annotated[str, Field(min_length=1)]
_CheckListRef = Annotated[check_list, WithJsonSchema({"$ref": CHECKS_SCHEMA_ID + "#/$defs/check_list"})]


class Condition(ClosedModel):
    """A column and one test of it, or an expression: {expr: "..."}."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [
        {"required": ["column"], "minProperties": 2, "maxProperties": 2},
        {"required": ["expr"], "maxProperties": 1},
    ]})

    column: field_ref | None = None
    in_: list[str | int] | None = Field(None, alias="in", description=(
        "The column's value (trimmed) is one of these literal values."))
    not_in: list[str | int] | None = Field(None, description="The column's value (trimmed) is none of these.")
    blank: bool | None = Field(None, description="true: the column is blank (empty or spaces); false: it is not.")
    before_run_date: bool | None = Field(None, description=(
        "true: the date in the column is before the run's date; false: it is not (a blank date is neither before "
        "nor after it). Aeries dates (YYYY-MM-DD[THH:MM:SS]); e.g. a section staff member whose EndDate has passed."))
    after_run_date: bool | None = Field(None, description=(
        "true: the date in the column is after the run's date; false: it is not (a blank date is neither before "
        "nor after it); e.g. a section staff member whose StartDate has not come."))
    expr: Annotated[str, Field(min_length=1)] | None = Field(None, description=(
        "Instead of a column and its test: an expression that is true or false (docs/mappings.md, Expressions), "
        "e.g. \"not blank(term.TermCode) and term.TermCode != 'S'\"."),
        examples=["date(EndDate) >= today() or blank(EndDate)"])


condition = TypeAliasType("condition", Condition)


class Expression(ClosedModel):
    """A value computed by an expression (docs/mappings.md, Expressions)."""

    expr: Annotated[str, Field(min_length=1)] = Field(description="The expression, e.g. \"lower(EmailAddress)\".",
                                                      examples=["lower(email)"])


expression = TypeAliasType("expression", Expression)


class Case(ClosedModel):
    when: Annotated[str, Field(min_length=1)] = Field(description=(
        "An expression that is true or false, e.g. \"term.TermCode in ['F', 'S']\"."))
    value: str | int | expression = Field(description=(
        "The value where when is true: a template (text with {Column} placeholders) or {expr: ...}."))


class PreferenceOrder(ClosedModel):
    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["column", "order"]}, {"required": ["where"]}]})

    column: field_ref | None = Field(None, description="With order: the column whose values rank the rows.")
    order: string_list | Literal["ascending", "descending"] | None = Field(None, description=(
        "The values listed first, in that order (rows holding none of them last); or ascending / descending: the "
        "column's values in that order (whole numbers as numbers when every value is one, else as text; descending "
        "puts blanks last)."))
    where: Annotated[list[condition], Field(min_length=1)] | None = Field(None, description=(
        "Instead of column and order: the rows meeting these conditions first (e.g. an active teacher record, a "
        "staff member whose EndDate has not passed)."), examples=[[{"column": "InactiveStatusCode", "blank": True}]])


preference = TypeAliasType("preference", Annotated[field_ref | PreferenceOrder, Field(description=(
    "Which row comes first among rows that compete (a distinct key's rows, a lookup's matches). A column name "
    "alone: ascending (whole numbers as numbers when every value is one, else as text). Preferences apply in the "
    "order written; rows still tied keep their order (a lookup's: the table's key order)."))])


class Lookup(ClosedModel):
    table: str = Field(description="Aeries table of source.tables to look a row up in.")
    on: Annotated[dict[str, str], Field(min_length=1)] = Field(description=(
        "{column of this record set: column of the lookup table}. One matching row is joined: the first in "
        "prefer's order, and among rows prefer does not tell apart (or without prefer) the first in the lookup "
        "table's key order (Aeries tables are sorted by their key, e.g. staff by ID, teachers by SchoolCode and "
        "TeacherNumber; see the tables below)."))
    where: list[condition] | None = Field(None, description=(
        "Only the rows of the lookup table that meet these conditions can match."))
    prefer: Annotated[list[preference], Field(min_length=1)] | None = Field(None, description=(
        "Which matching row is joined when several match, e.g. [{column: IsPrimaryTeacher, order: [\"true\"]}]: "
        "the primary teacher first. Columns of the lookup table."),
        examples=[[{"where": [{"column": "InactiveStatusCode", "blank": True}]}, {"column": "TeacherNumber", "order": "descending"}]])


lookup = TypeAliasType("lookup", Lookup)


class FirstOfColumn(ClosedModel):
    """A column with its own transform steps, applied only when this column is the one used (e.g. a guardian's
    first name from the first word of MailingName)."""

    source: field_ref
    transform: list[step] | None = Field(None, description="Steps applied to this column's value only.")


class FirstInGroup(ClosedModel):
    """"true" on the first row of each group of rows with equal `by` values, in `order` (whole numbers compare as
    numbers, blanks last), "false" on the others; e.g. a student's primary contact: by [StudentID], order
    [ContactOrder, SequenceNumber]."""

    by: _FieldRefs = Field(description="The columns whose equal values make a group.")
    order: _FieldRefs = Field(description="The columns that order the rows of a group; the first row is true.")


class Value(ClosedModel):
    """Exactly one of source / constant / template / first_of / first_in_group / expr / cases, then optional
    match codes and transform steps."""

    model_config = ConfigDict(json_schema_extra={
        "oneOf": [{"required": [kind]} for kind in ("source", "constant", "template", "first_of", "first_in_group",
                                                    "expr", "cases")],
        "dependentRequired": {"default": ["match"], "else": ["cases"]},
    })

    source: field_ref | None = None
    constant: str | int | None = Field(None, description="The same text on every row.")
    template: Annotated[str, Field(min_length=1)] | None = Field(None, description=(
        "Text with {Column} or {alias.Column} placeholders, the run's date {run_date:%Y-%m-%d}, and run values from "
        "Aeries such as {run.school_year} (see settings)."))
    first_of: Annotated[list[field_ref | FirstOfColumn], Field(min_length=2)] | None = Field(None, description=(
        "The first non-blank of these columns (each optionally with its own transform steps)."))
    match: dict[str, str] | None = Field(None, description="Match codes: source value (trimmed) -> vendor value.")
    default: str | None = Field(None, description=(
        "With match: the value for codes not listed. Absent: unlisted codes pass through."))
    transform: list[step] | None = Field(None, description="Steps applied to the value in order.")
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
    prefer: list[preference] | None = Field(None, description=(
        "Which of the merged rows is kept: a column (lowest value first) or {column, order}, in priority order."))
    collect: dict[str, Annotated[str, Field(min_length=1)]] | None = Field(None, description=(
        "Columns whose values are gathered from every merged row (distinct, preferred row first) and joined with "
        "the given separator, e.g. {orgSourcedIds: \",\"} for a student enrolled at two schools."))


class Explode(ClosedModel):
    column: str = Field(description="A list column of the table (see Aeries tables).")
    as_: Name = Field(alias="as", description="Name its fields are read by: <as>.Field.")
    where: list[condition] | None = Field(None, description=(
        "Only the elements that meet these conditions (on <as>.Field) become rows; a row none of whose elements "
        "does is kept once with blank fields, as a row with an empty list (e.g. a section whose staff members are "
        "all inactive still becomes a class, without a teacher)."))


class RecordSet(ClosedModel):
    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["from", "values"]}, {"required": ["rows"]}]})

    name: Name = Field(description="Names the record set in the run report and errors.")
    from_: str | None = Field(None, alias="from", description="Source table of this record set.")
    where: list[condition] | None = Field(None, description=(
        "Only the rows that meet all these conditions, tested after the lookups (see How a record set is built)."))
    lookups: dict[Name, lookup] | None = Field(None, description=(
        "Rows of other tables joined to each row, by alias; their columns are read as alias.Column."))
    distinct: Distinct | None = Field(None, description="One row per key: merge the rows with equal on values.")
    values: dict[str, value] | None = Field(None, description="The value of each column of the file, by name.")
    explode: Explode | None = Field(None, description=(
        "One row per element of a list column (e.g. a section's SectionStaffMembers); the element's fields are read "
        "as <as>.Field. A row whose list is empty is kept once, with blank fields."))
    rows: Annotated[list[Annotated[dict[str, str | int], Field(min_length=1)]], Field(min_length=1)] | None = Field(
        None, description=("Literal rows (column -> text), in the order written, instead of rows from a table: e.g. "
                           "a manifest or the district's own record."))


record_set = TypeAliasType("record_set", RecordSet)


class Column(ClosedModel):
    name: Annotated[str, Field(min_length=1)] = Field(description="The column's name, its header in the file.")
    description: str | None = Field(None, description="What the column holds, for the reader of the mapping.")
    required: bool = Field(False, description="A row with a blank value breaks the column's rules.")
    max_length: Annotated[int, Field(ge=1)] | None = Field(None, description=(
        "A row with a longer value breaks the column's rules."))
    allowed: Annotated[list[str], Field(min_length=1)] | None = Field(None, description=(
        "A row with a non-blank value not listed breaks the column's rules."))
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
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = Field(",", description=(
        "The character between values, e.g. | for pipes."))
    header: bool = Field(True, description="The first line names the columns.")
    quoting: Literal["all", "minimal", "none"] = Field("minimal", description=(
        "Quote every value, only those that need it (a delimiter, quote or line break), or none."))
    encoding: Literal["utf-8", "utf-8-sig", "latin-1", "cp1252"] = Field("utf-8", description=(
        "Character encoding of the file; utf-8-sig starts it with a byte order mark (Excel)."))
    line_ending: Literal["crlf", "lf"] = Field("lf", description="End of each line: crlf (Windows) or lf.")


format = TypeAliasType("format", Format)


class Reference(ClosedModel):
    column: str = Field(description="Column of this file whose values must be keys of the other file.")
    file: str = Field(description="Another output's file name.")
    key: str | None = Field(None, description="Column of that file (default: its first key column).")
    separator: Annotated[str, Field(min_length=1)] | None = Field(
        None, description="The cell holds several values separated by this.")
    where: Annotated[list[condition], Field(min_length=1)] | None = Field(None, description=(
        "Only the rows of that file meeting these conditions (on its columns) count, e.g. [{column: type, in: "
        "[school]}]: a school's id must be an org of type school."), examples=[[{"column": "type", "in": ["school"]}]])
    severity: Severity = Field("error", description=(
        "What a value that is not a key does: error stops the run, warning reports it, reject drops the row."))
    description: _Text | None = Field(None, description="The reason in reports and of rejected rows.",
                                      examples=["a class's school is an org of type school"])


class GroupCount(ClosedModel):
    """A check across rows: in each group of rows with equal per values, the rows meeting where (every row, without
    it) must number exactly / at least / at most so many. A failure names every failing group's ids with its count;
    severity reject removes every row of the failing groups (a row with a blank per value is in no group)."""

    per: Annotated[list[str], Field(min_length=1)] = Field(description="Columns of this file that form the groups.",
                                                           examples=[["userSourcedId"]])
    where: Annotated[list[condition], Field(min_length=1)] | None = Field(None, description=(
        "The rows counted (on this file's columns)."), examples=[[{"column": "isPrimary", "in": ["true"]}]])
    exactly: Annotated[int, Field(ge=0)] | None = Field(None, description="Each group has exactly this many.",
                                                        examples=[1])
    at_least: Annotated[int, Field(ge=0)] | None = Field(None, description="Each group has at least this many.",
                                                         examples=[1])
    at_most: Annotated[int, Field(ge=0)] | None = Field(None, description=(
        "Each group has at most this many (with at_least: a range)."), examples=[1])
    severity: Severity = Field("error", description=(
        "What a failing group does: error stops the run, warning reports it, reject drops its rows."), examples=["reject"])
    description: _Text | None = Field(None, description="The reason in reports and of rejected rows.",
                                      examples=["a user has exactly one primary role"])


class FileMatch(ClosedModel):
    """A check across files: column equals the equals column of the row of file whose on columns hold this row's
    values (only file's rows meeting where). A row with a blank on value is not tested; one with no matching row
    fails; with several matching rows, it must equal one of them (count them with counts: on that file)."""

    column: str = Field(description="Column of this file.", examples=["primaryOrg"])
    file: str = Field(description="Another output's file name (or this one's).", examples=["roles.csv"])
    on: Annotated[dict[str, str], Field(min_length=1)] = Field(description=(
        "{column of this file: column of that file}, e.g. {sourcedId: userSourcedId}."),
        examples=[{"sourcedId": "userSourcedId"}])
    equals: str = Field(description="Column of that file.", examples=["orgSourcedId"])
    where: Annotated[list[condition], Field(min_length=1)] | None = Field(None, description=(
        "Only that file's rows meeting these conditions (on its columns), e.g. its primary roles."),
        examples=[[{"column": "isPrimary", "in": ["true"]}]])
    severity: Severity = Field("error", description=(
        "What a row that does not match does: error stops the run, warning reports it, reject drops the row."),
        examples=["reject"])
    description: _Text | None = Field(None, description="The reason in reports and of rejected rows.",
                                      examples=["a user's primaryOrg is the org of their primary role"])


class Cells(ClosedModel):
    """Rules for every delivered cell of the file: a row with a cell breaking them is rejected (the reason names the
    column; the report the row's id), or stops the run (error), or is only counted (warning)."""

    forbid: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)] = Field(description=(
        "Texts no cell may hold, e.g. [\"\\n\", \"\\r\"] for a vendor whose CSV reader breaks on a line break inside "
        "a quoted cell. Tested on the values as built: with a line break forbidden, the rows are checked before "
        "the values are written on one line."), examples=[["\n", "\r"]])
    severity: Severity = Field("reject", description=(
        "What a row with a forbidden text does: reject drops the row (default), error stops the run, warning "
        "reports it."), examples=["reject"])
    description: _Text | None = Field(None, description="The reason in reports and of rejected rows.",
                                      examples=["SDS accepts no line breaks in its data"])


class Nest(ClosedModel):
    file: str = Field(description="The jsonl output whose rows are nested.")
    on: Annotated[dict[str, str], Field(min_length=1, max_length=1)] = Field(description=(
        "{column of the nested file: column of this file}; the nested column is left out of the nested objects."))


class Output(ClosedModel):
    file: str = Field(pattern="^[A-Za-z0-9_.-]+$", description="File name delivered to the vendor.")
    format: Annotated[format, Field(description="How the file is written: delimited text or JSON Lines.")]
    key: Annotated[list[str | expression], Field(min_length=1)] = Field(description=(
        "Column(s) that identify a record in this file; must be unique. An entry {expr: ...} is an expression over "
        "the file's columns, e.g. {expr: \"lower(email)\"}: e-mails that differ only in case are one key."))
    min_rows: Annotated[int, Field(ge=0)] = Field(1, description="Fewer rows than this stops the run before delivery.")
    columns: Annotated[list[column], Field(min_length=1)] = Field(description=(
        "The file's columns, in file order, with their rules."))
    records: Annotated[list[record_set], Field(min_length=1)] = Field(description=(
        "Where the rows come from: record sets, one after another."))
    checks: _CheckListRef | None = Field(None, description=(
        "Great Expectations checks of the file's rows (see Check files)."))
    references: list[Reference] | None = Field(None, description=(
        "Referential completeness: every value of column (each part, with separator) must be a key of an output "
        "file of this mapping (this one included, e.g. a parent id). Another file is built first."))
    counts: list[GroupCount] | None = Field(None, description=(
        "Checks across rows: how many rows each group has, e.g. exactly one primary role per user."),
        examples=[[{"per": ["userSourcedId"], "where": [{"column": "isPrimary", "in": ["true"]}], "exactly": 1,
                    "severity": "reject"}]])
    matches: list[FileMatch] | None = Field(None, description=(
        "Checks across files: a column equals a column of the matching row of another output file, e.g. a user's "
        "primaryOrg is the org of their primary role. That file is built first."),
        examples=[[{"column": "primaryOrg", "file": "roles.csv", "on": {"sourcedId": "userSourcedId"},
                    "where": [{"column": "isPrimary", "in": ["true"]}], "equals": "orgSourcedId"}]])
    cells: Cells | None = Field(None, description="Rules for every delivered cell of the file.",
                                examples=[{"forbid": ["\n", "\r"], "severity": "reject"}])
    nest: dict[Annotated[str, Field(pattern="^[A-Za-z_][A-Za-z0-9_]*$")], Nest] | None = Field(None, description=(
        "jsonl only: put the rows of another jsonl output inside each record, as a list named by the key (e.g. a "
        "student's guardians). The nested file is built first and not delivered on its own."))


output = TypeAliasType("output", Output)
