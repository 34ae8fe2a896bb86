"""The format of a checks file (include/quality/*.yml) and of an output's ``checks:``, as pydantic models;
plugins/aeries_hub/schemas/checks.schema.json is written from them (:mod:`aeries_hub.schema_generator`).

The loader (:mod:`aeries_hub.quality.checks`) validates with the written JSON Schema; a check also takes the
keyword arguments of its expectation, which Great Expectations checks when the suite is built.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, WithJsonSchema
from typing_extensions import TypeAliasType

from aeries_hub.schema_generator import ClosedModel, schema_document

CHECKS_SCHEMA_ID = "https://aeries-integration-hub.invalid/schemas/checks.schema.json"
_Text = Annotated[str, Field(min_length=1)]
#: Expectation settings the runner controls; a check cannot give them.
RUNNER_SETTINGS = ("meta", "id", "notes", "result_format", "catch_exceptions", "rendered_content", "batch_id",
                   "row_condition", "condition_parser", "windows")
_Bound = Annotated[float | str | None, WithJsonSchema({"type": ["number", "string", "null"]})]



class ValueSetFrom(ClosedModel):
    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["column"]}, {"required": ["columns"]}]})

    table: _Text = Field(description="Name of the table whose values are allowed.")
    column: _Text | None = Field(None, description="Column of that table.")
    columns: Annotated[list[_Text], Field(min_length=2, max_length=2)] | None = Field(None, description=(
        "Two columns of that table, matched in order with column_A and column_B."))


class RowsWhere(ClosedModel):
    column: _Text = Field(description="The column that selects the rows tested.")
    in_: Annotated[list[str | float | bool], Field(min_length=1)] = Field(alias="in", description=(
        "The values of that column whose rows are tested."))


class Check(BaseModel):
    """One Great Expectations expectation plus what a failure does (severity)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={
        "propertyNames": {"description": "Expectation settings the runner controls cannot be given.",
                          "not": {"enum": list(RUNNER_SETTINGS)}},
        "allOf": [{"not": {"required": ["value_set", "value_set_from"]}},
                  {"not": {"required": ["value_pairs_set", "value_set_from"]}}],
    })

    expectation: str = Field(pattern="^expect_[a-z0-9_]+$", description=(
        "Great Expectations Core expectation class name in snake_case, e.g. expect_column_values_to_not_be_null, "
        "expect_column_values_to_be_unique, expect_compound_columns_to_be_unique, "
        "expect_column_values_to_be_between, expect_column_values_to_be_in_set, "
        "expect_column_values_to_match_regex, expect_column_value_lengths_to_be_between, "
        "expect_column_values_to_match_strftime_format, expect_table_row_count_to_be_between."))
    severity: Literal["error", "warning", "reject"] = Field(description=(
        "error: the run stops before delivery and the report names the failing expectation with sample rows. "
        "warning: recorded in the run report, the run goes on. reject: record-level; failing rows are removed and "
        "written to the rejects table with a _reject_reason (row-level expectations only: column map, column pair "
        "map, multicolumn map)."))
    description: _Text | None = Field(None, description=(
        "Human sentence shown in reports and Data Docs, and used as the _reject_reason of rejected rows (default: "
        "a generated sentence such as 'field_lastName is longer than 42 characters')."))
    ignore_blank: bool = Field(False, description=(
        "Column checks only: null, empty and whitespace-only values are not tested (e.g. 'e-mail addresses are "
        "well formed where present')."))
    value_set_from: ValueSetFrom | None = Field(None, description=(
        "Cross-table (referential) check, resolved by the runner at run time from the frames it is given. With "
        "column: value_set is the set of distinct non-null values of that table's column (e.g. SchoolCode must be "
        "a known schools.SchoolCode), for expectations that take a value_set. With columns (two names): "
        "value_pairs_set is the set of that table's (columns[0], columns[1]) pairs, for "
        "expect_column_pair_values_to_be_in_set (e.g. a roster's (SchoolCode, SectionNumber) must be a known "
        "section); rows with a null in either column are not tested."))
    split: _Text | None = Field(None, description=(
        "With value_set_from a column: each cell holds several values separated by this text (e.g. a "
        "comma-separated list of ids), and every one of them must be in the set; blank parts are ignored."),
        examples=[","])
    rows_where: RowsWhere | None = Field(None, description=(
        "Single-column checks only: the check tests only the rows whose column holds one of the values in 'in' "
        "(the other rows' values are null to it). With expect_column_distinct_values_to_contain_set and "
        "value_set_from, the values of the other table that no such row holds are listed in the result and the "
        "run report (e.g. the classes that no teacher enrollment names)."))
    column: _Text | None = Field(None, description="The column the expectation tests.")
    column_list: Annotated[list[_Text], Field(min_length=1)] | None = Field(None, description=(
        "Columns tested together (compound keys), or the expected columns for table-shape expectations."))
    column_A: _Text | None = Field(None, description="The first column of a column pair expectation.",
                                   examples=["SchoolCode"])
    column_B: _Text | None = Field(None, description="The second column of a column pair expectation.",
                                   examples=["SectionNumber"])
    mostly: Annotated[float, Field(ge=0, le=1)] | None = Field(None, description=(
        "Fraction of non-null values that must pass for the check to succeed (default 1). Not allowed with "
        "severity reject."), examples=[0.95])
    value_set: list[Any] | None = Field(None, description="Allowed (or forbidden) values.", examples=[["F", "M", "X"]])
    regex: _Text | None = Field(None, description=(
        "Python regular expression (re.search semantics: anchor with ^ and $ to match whole values)."))
    strftime_format: _Text | None = Field(None, description=(
        "strftime format every value must parse with, e.g. %Y-%m-%dT%H:%M:%S."))
    min_value: _Bound = Field(None, description="The lowest value (or row count, or length) allowed; null: none.")
    max_value: _Bound = Field(None, description="The highest value (or row count, or length) allowed; null: none.")
    strict_min: bool | None = Field(None, description="true: a value equal to min_value fails.", examples=[True])
    strict_max: bool | None = Field(None, description="true: a value equal to max_value fails.", examples=[True])
    value: float | str | None = Field(None, description=(
        "The exact value an expectation compares with (e.g. the row count of expect_table_row_count_to_equal)."),
        examples=[1])
    ignore_row_if: Literal["all_values_are_missing", "any_value_is_missing", "never", "both_values_are_missing",
                           "either_value_is_missing", "neither"] | None = Field(None, description=(
        "Multi-column and column pair expectations: the rows not tested, by their missing values."))


check = TypeAliasType("check", Check)
check_list = TypeAliasType(
    "check_list", Annotated[list[check], Field(description=(
        "Checks for one table or output file. They run together; 'reject' checks first, then 'error' and 'warning' "
        "checks on the rows that were not rejected."))])
_TableName = Annotated[str, Field(pattern="^[A-Za-z_][A-Za-z0-9_.-]*$", description=(
    "A table name, as the runner is given it (e.g. students, rosters)."))]


class ChecksFile(RootModel[dict[_TableName, check_list]]):
    """Data quality checks run with Great Expectations Core inside the integration's Airflow tasks. The root of
    this schema is a checks file (include/quality/*.yml): a mapping of table name to a list of checks. Mapping
    files reference one list with {"$ref": "checks.schema.json#/$defs/check_list"}. Besides the keys below, a
    check takes the keyword arguments of its expectation (see https://greatexpectations.io/expectations); they are
    checked by Great Expectations when the suite is built."""


def checks_schema_document() -> dict[str, Any]:
    """plugins/aeries_hub/schemas/checks.schema.json, as :class:`ChecksFile` defines it."""
    return schema_document(ChecksFile, CHECKS_SCHEMA_ID, "Data quality checks")
