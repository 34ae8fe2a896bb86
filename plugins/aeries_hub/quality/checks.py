"""Check specs: the one format for data quality checks, in YAML config files.

A check is a mapping with ``expectation`` (a Great Expectations Core expectation in snake_case),
``severity`` (``error`` | ``warning`` | ``reject``), an optional ``description``, the expectation's own
keyword arguments, and two runner extensions: ``value_set_from: {table, column}`` (a cross-table
``value_set`` resolved at run time) and ``ignore_blank: true`` (null/blank values are not tested).
The JSON Schema is plugins/aeries_hub/schemas/checks.schema.json, written from :mod:`aeries_hub.quality.check_models`.

Parsing never imports Great Expectations (2-3 s): DAG files may parse check configs. The table
``EXPECTATIONS`` below says what each supported expectation tests (its kind) and which arguments it
needs; tests keep it in step with the installed GX. Arguments beyond those are checked by GX when the
runner builds the suite.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping

from aeries_hub.config_files import closest, format_key_path, loaded_once_per_content, read_yaml_with_lines
from aeries_hub.paths import INCLUDE_DIR, SCHEMAS_DIR
from aeries_hub.quality.messages import failure_sentence

CHECKS_SCHEMA = SCHEMAS_DIR / "checks.schema.json"

SEVERITIES = ("error", "warning", "reject")

# Kinds of expectation. Map kinds test each row and can reject rows; the others test a whole column or table.
COLUMN_MAP = "column_map"
COLUMN_PAIR_MAP = "column_pair_map"
MULTICOLUMN_MAP = "multicolumn_map"
COLUMN_AGGREGATE = "column_aggregate"
TABLE = "table"
ROW_LEVEL_KINDS = (COLUMN_MAP, COLUMN_PAIR_MAP, MULTICOLUMN_MAP)


@dataclass(frozen=True)
class ExpectationInfo:
    kind: str
    #: Each entry is a kwarg name, or a tuple of names of which at least one must be given.
    requires: tuple[str | tuple[str, ...], ...] = ()


_C = ("column",)
_BETWEEN = (("min_value", "max_value"),)

#: Expectations of GX Core 1.x that run on pandas, with the arguments they cannot do without.
EXPECTATIONS: dict[str, ExpectationInfo] = {
    # column map: one value per row
    "expect_column_value_lengths_to_be_between": ExpectationInfo(COLUMN_MAP, _C + _BETWEEN),
    "expect_column_value_lengths_to_equal": ExpectationInfo(COLUMN_MAP, _C + ("value",)),
    "expect_column_value_z_scores_to_be_less_than": ExpectationInfo(COLUMN_MAP, _C + ("threshold", "double_sided")),
    "expect_column_values_to_be_between": ExpectationInfo(COLUMN_MAP, _C + _BETWEEN),
    "expect_column_values_to_be_dateutil_parseable": ExpectationInfo(COLUMN_MAP, _C),
    "expect_column_values_to_be_decreasing": ExpectationInfo(COLUMN_MAP, _C),
    "expect_column_values_to_be_in_set": ExpectationInfo(COLUMN_MAP, _C + ("value_set",)),
    "expect_column_values_to_be_in_type_list": ExpectationInfo(COLUMN_MAP, _C + ("type_list",)),
    "expect_column_values_to_be_increasing": ExpectationInfo(COLUMN_MAP, _C),
    "expect_column_values_to_be_json_parseable": ExpectationInfo(COLUMN_MAP, _C),
    "expect_column_values_to_be_null": ExpectationInfo(COLUMN_MAP, _C),
    "expect_column_values_to_be_of_type": ExpectationInfo(COLUMN_MAP, _C + ("type_",)),
    "expect_column_values_to_be_unique": ExpectationInfo(COLUMN_MAP, _C),
    "expect_column_values_to_match_json_schema": ExpectationInfo(COLUMN_MAP, _C + ("json_schema",)),
    "expect_column_values_to_match_regex": ExpectationInfo(COLUMN_MAP, _C + ("regex",)),
    "expect_column_values_to_match_regex_list": ExpectationInfo(COLUMN_MAP, _C + ("regex_list",)),
    "expect_column_values_to_match_strftime_format": ExpectationInfo(COLUMN_MAP, _C + ("strftime_format",)),
    "expect_column_values_to_not_be_in_set": ExpectationInfo(COLUMN_MAP, _C + ("value_set",)),
    "expect_column_values_to_not_be_null": ExpectationInfo(COLUMN_MAP, _C),
    "expect_column_values_to_not_match_regex": ExpectationInfo(COLUMN_MAP, _C + ("regex",)),
    "expect_column_values_to_not_match_regex_list": ExpectationInfo(COLUMN_MAP, _C + ("regex_list",)),
    # column pair map: two values per row
    "expect_column_pair_values_a_to_be_greater_than_b": ExpectationInfo(COLUMN_PAIR_MAP, ("column_A", "column_B")),
    "expect_column_pair_values_to_be_equal": ExpectationInfo(COLUMN_PAIR_MAP, ("column_A", "column_B")),
    "expect_column_pair_values_to_be_in_set": ExpectationInfo(COLUMN_PAIR_MAP, ("column_A", "column_B", "value_pairs_set")),
    # multicolumn map: several values per row
    "expect_compound_columns_to_be_unique": ExpectationInfo(MULTICOLUMN_MAP, ("column_list",)),
    "expect_multicolumn_sum_to_equal": ExpectationInfo(MULTICOLUMN_MAP, ("column_list", "sum_total")),
    "expect_select_column_values_to_be_unique_within_record": ExpectationInfo(MULTICOLUMN_MAP, ("column_list",)),
    # column aggregate: one answer per column
    "expect_column_distinct_values_to_be_in_set": ExpectationInfo(COLUMN_AGGREGATE, _C + ("value_set",)),
    "expect_column_distinct_values_to_contain_set": ExpectationInfo(COLUMN_AGGREGATE, _C + ("value_set",)),
    "expect_column_distinct_values_to_equal_set": ExpectationInfo(COLUMN_AGGREGATE, _C + ("value_set",)),
    "expect_column_max_to_be_between": ExpectationInfo(COLUMN_AGGREGATE, _C + _BETWEEN),
    "expect_column_mean_to_be_between": ExpectationInfo(COLUMN_AGGREGATE, _C + _BETWEEN),
    "expect_column_median_to_be_between": ExpectationInfo(COLUMN_AGGREGATE, _C + _BETWEEN),
    "expect_column_min_to_be_between": ExpectationInfo(COLUMN_AGGREGATE, _C + _BETWEEN),
    "expect_column_most_common_value_to_be_in_set": ExpectationInfo(COLUMN_AGGREGATE, _C + ("value_set",)),
    "expect_column_proportion_of_non_null_values_to_be_between": ExpectationInfo(COLUMN_AGGREGATE, _C + _BETWEEN),
    "expect_column_proportion_of_unique_values_to_be_between": ExpectationInfo(COLUMN_AGGREGATE, _C + _BETWEEN),
    "expect_column_quantile_values_to_be_between": ExpectationInfo(COLUMN_AGGREGATE, _C + ("quantile_ranges",)),
    "expect_column_stdev_to_be_between": ExpectationInfo(COLUMN_AGGREGATE, _C + _BETWEEN),
    "expect_column_sum_to_be_between": ExpectationInfo(COLUMN_AGGREGATE, _C + _BETWEEN),
    "expect_column_unique_value_count_to_be_between": ExpectationInfo(COLUMN_AGGREGATE, _C + _BETWEEN),
    "expect_column_to_exist": ExpectationInfo(COLUMN_AGGREGATE, _C),
    "expect_column_type_to_be": ExpectationInfo(COLUMN_AGGREGATE, _C + ("type_",)),
    # table: one answer per table
    "expect_table_column_count_to_be_between": ExpectationInfo(TABLE, _BETWEEN),
    "expect_table_column_count_to_equal": ExpectationInfo(TABLE, ("value",)),
    "expect_table_columns_to_match_ordered_list": ExpectationInfo(TABLE, ("column_list",)),
    "expect_table_columns_to_match_set": ExpectationInfo(TABLE, ("column_set",)),
    "expect_table_row_count_to_be_between": ExpectationInfo(TABLE, _BETWEEN),
    "expect_table_row_count_to_equal": ExpectationInfo(TABLE, ("value",)),
}

#: Arguments that ``value_set_from`` provides.
_RESOLVED = ("value_set", "value_pairs_set")

#: Keys of a check that are the runner's, not the expectation's.
RUNNER_KEYS = ("expectation", "severity", "description", "ignore_blank", "value_set_from", "split", "rows_where")


class CheckConfigError(ValueError):
    """A check spec is invalid; the message names the file, the key path and the problem."""


@dataclass(frozen=True)
class TableRef:
    """``value_set_from``: the distinct values of ``table.column``, or of ``table``'s column pair."""

    table: str
    columns: tuple[str, ...]

    @property
    def column(self) -> str:
        return self.columns[0]

    def __str__(self) -> str:
        if len(self.columns) == 1:
            return f"{self.table}.{self.columns[0]}"
        return f"{self.table}.({', '.join(self.columns)})"

    def to_dict(self) -> dict[str, Any]:
        if len(self.columns) == 1:
            return {"table": self.table, "column": self.columns[0]}
        return {"table": self.table, "columns": list(self.columns)}


@dataclass(frozen=True)
class Check:
    """One parsed check. ``kwargs`` are the expectation's own keyword arguments (never the runner keys)."""

    expectation: str
    severity: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None
    ignore_blank: bool = False
    value_set_from: TableRef | None = None
    #: With value_set_from: a cell holds several values separated by this, and each must be in the set.
    split: str | None = None
    #: ``rows_where``: (column, values) — the check tests only the rows whose ``column`` is one of ``values``.
    rows_where: tuple[str, tuple[str, ...]] | None = None
    #: Where the check was written, e.g. ``include/quality/aeries_sources.yml: students[2]``.
    where: str = ""
    #: A rule across rows or files (:mod:`aeries_hub.mapping.row_rules`) that the runner tests row by row, in place
    #: of an expectation's own arguments (``expectation`` is then the rule's name).
    rule: Any = None

    @property
    def kind(self) -> str:
        return COLUMN_MAP if self.rule is not None else EXPECTATIONS[self.expectation].kind

    @property
    def row_level(self) -> bool:
        return self.kind in ROW_LEVEL_KINDS

    @property
    def columns(self) -> tuple[str, ...]:
        """The data columns the check tests (empty for table checks)."""
        if self.rule is not None:
            return self.rule.columns
        if self.kind == COLUMN_PAIR_MAP:
            return (self.kwargs["column_A"], self.kwargs["column_B"])
        if self.kind == MULTICOLUMN_MAP:
            return tuple(self.kwargs["column_list"])
        if "column" in self.kwargs and self.kind != TABLE:
            return (self.kwargs["column"],)
        return ()

    @property
    def reads(self) -> tuple[str, ...]:
        """The data columns the check needs: those it tests and the one its ``rows_where`` tests."""
        if self.rule is not None:
            return self.rule.reads
        return self.columns + ((self.rows_where[0],) if self.rows_where else ())

    @property
    def label(self) -> str:
        """``expect_x [col1, col2]`` for messages."""
        if self.rule is not None:
            return self.rule.label
        return f"{self.expectation} [{', '.join(self.columns)}]" if self.columns else self.expectation

    def reason(self) -> str:
        """Why a row fails: the description, or a generated sentence."""
        return self.description or (self.rule.sentence() if self.rule is not None else failure_sentence(self))

    def to_dict(self) -> dict[str, Any]:
        """The check as written in a config file."""
        if self.rule is not None:
            return {**self.rule.to_dict(), "severity": self.severity, **({"description": self.description} if self.description else {})}
        spec: dict[str, Any] = {"expectation": self.expectation, "severity": self.severity}
        if self.description:
            spec["description"] = self.description
        if self.ignore_blank:
            spec["ignore_blank"] = True
        if self.value_set_from:
            spec["value_set_from"] = self.value_set_from.to_dict()
        if self.split:
            spec["split"] = self.split
        if self.rows_where:
            spec["rows_where"] = {"column": self.rows_where[0], "in": list(self.rows_where[1])}
        spec.update(self.kwargs)
        return spec


# --------------------------------------------------------------------------------------------- loading


def display_path(path: str | Path) -> str:
    """``include/quality/x.yml`` for files of this project, else the path as given."""
    path = Path(path)
    try:
        return path.resolve().relative_to(INCLUDE_DIR.resolve().parent).as_posix()
    except ValueError:
        return str(path)


def load_checks(path: str | Path) -> dict[str, list[Check]]:
    """Read a checks file (``{table: [check, ...]}``), validate it and return the parsed checks by table."""
    return {table: list(checks) for table, checks in _load_checks(path).items()}


@loaded_once_per_content()
def _load_checks(path: Path) -> dict[str, tuple[Check, ...]]:
    shown = display_path(path)
    document, lines = read_yaml_with_lines(path, shown=shown, error=CheckConfigError)
    document = {} if document is None else document
    if not isinstance(document, dict):
        raise CheckConfigError(f"{shown}: (top): expected a mapping of table name to a list of checks, "
                               f"found {type(document).__name__}")
    try:
        _raise_schema_errors(_validator(), document, shown)
        return {table: tuple(_parse_valid(items, where=f"{shown}: {table}")) for table, items in document.items()}
    except CheckConfigError as exc:  # each line "<file>: <key path>: ..." gets the key's line after the file
        raise CheckConfigError("\n".join(lines.located(problem.removeprefix(f"{shown}: "))
                                         for problem in str(exc).splitlines())) from None


def parse_checks(items: Iterable[Mapping[str, Any]] | None, *, where: str) -> list[Check]:
    """Validate and parse a list of check specs.

    ``where`` names the list in messages, as ``<file>: <key path>`` (e.g. ``destiny.yml: outputs[0].checks``);
    problems are reported as ``<where>[<i>].<key>: <problem>``.
    """
    items = list(items or [])
    _raise_schema_errors(_list_validator(), items, where, list_root=True)
    return _parse_valid(items, where=where)


def rule_check(rule: Any, severity: str, *, description: str | None = None, where: str = "") -> Check:
    """A check of a rule across rows or files (:mod:`aeries_hub.mapping.row_rules`), e.g. a mapping's ``counts:``."""
    if severity not in SEVERITIES:
        raise CheckConfigError(f"{where}.severity: {severity!r} is not one of {', '.join(SEVERITIES)}")
    return Check(expectation=rule.expectation, severity=severity, description=description, where=where, rule=rule)


def select_checks(checks: Iterable[Check], tables: Iterable[str]) -> list[Check]:
    """The checks that can run with these tables: those whose ``value_set_from`` table is among them.

    E.g. a DAG that extracts rosters but not students keeps its other roster checks.
    """
    available = set(tables)
    return [c for c in checks if c.value_set_from is None or c.value_set_from.table in available]


def referenced_columns(checks: Iterable[Check]) -> dict[str, set[str]]:
    """The columns that the checks' ``value_set_from`` read, by table (what the runner needs of other tables)."""
    columns: dict[str, set[str]] = {}
    for check in checks:
        if check.value_set_from is not None:
            columns.setdefault(check.value_set_from.table, set()).update(check.value_set_from.columns)
    return columns


def _parse_valid(items: list[Mapping[str, Any]], *, where: str) -> list[Check]:
    checks = []
    problems: list[str] = []
    for index, spec in enumerate(items):
        try:
            checks.append(_parse_one(spec, f"{where}[{index}]"))
        except CheckConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise CheckConfigError("\n".join(problems))
    return checks


def _parse_one(spec: Mapping[str, Any], where: str) -> Check:
    name = spec["expectation"]
    info = EXPECTATIONS.get(name)
    if info is None:
        meant = closest(name, EXPECTATIONS)
        hint = f" (did you mean {meant!r}?)" if meant else ""
        raise CheckConfigError(f"{where}.expectation: {name!r} is not a Great Expectations Core expectation "
                               f"this runner supports{hint}")
    severity = spec["severity"]
    value_set_from = spec.get("value_set_from")
    for requirement in info.requires:
        if isinstance(requirement, tuple):
            if not any(spec.get(key) is not None for key in requirement):
                raise CheckConfigError(f"{where}: {name} needs one of {', '.join(map(repr, requirement))}")
        elif requirement not in spec and not (requirement in _RESOLVED and value_set_from):
            raise CheckConfigError(f"{where}: {requirement!r} is required by {name}")
    if value_set_from:
        if "value_set" in info.requires and "column" not in value_set_from:
            raise CheckConfigError(f"{where}.value_set_from: give one 'column' for the value_set of {name}")
        if "value_pairs_set" in info.requires and "columns" not in value_set_from:
            raise CheckConfigError(f"{where}.value_set_from: give two 'columns' for the value_pairs_set of {name}")
        if not set(_RESOLVED) & {r for r in info.requires if isinstance(r, str)}:
            raise CheckConfigError(f"{where}.value_set_from: {name} takes no value_set")
    if severity == "reject":
        if info.kind not in ROW_LEVEL_KINDS:
            raise CheckConfigError(
                f"{where}.severity: 'reject' needs a row-level (column map) expectation, but {name} tests the "
                f"{'whole table' if info.kind == TABLE else 'column as a whole'}: use error or warning"
            )
        if spec.get("mostly", 1) != 1:
            raise CheckConfigError(f"{where}.mostly: a reject check removes every failing row, so mostly cannot be used")
    if spec.get("split") and not (value_set_from and info.kind == COLUMN_MAP and "column" in value_set_from):
        raise CheckConfigError(f"{where}.split: only for a single-column check with value_set_from a column")
    if spec.get("ignore_blank"):
        if info.kind != COLUMN_MAP:
            raise CheckConfigError(f"{where}.ignore_blank: only for single-column checks, not {name}")
        if name in ("expect_column_values_to_not_be_null", "expect_column_values_to_be_null"):
            raise CheckConfigError(f"{where}.ignore_blank: cannot be used with {name} (it tests for blanks)")
    rows_where = spec.get("rows_where")
    if rows_where and info.kind not in (COLUMN_MAP, COLUMN_AGGREGATE):
        raise CheckConfigError(f"{where}.rows_where: only for single-column checks, not {name}")
    kwargs = {key: value for key, value in spec.items() if key not in RUNNER_KEYS}
    return Check(
        expectation=name,
        severity=severity,
        kwargs=kwargs,
        description=spec.get("description"),
        ignore_blank=bool(spec.get("ignore_blank", False)),
        value_set_from=TableRef(value_set_from["table"], tuple(value_set_from.get("columns") or [value_set_from["column"]]))
        if value_set_from else None,
        split=spec.get("split"),
        rows_where=(rows_where["column"], tuple(str(v) for v in rows_where["in"])) if rows_where else None,
        where=where,
    )


# ---------------------------------------------------------------------------------------------- schema


@lru_cache(maxsize=1)
def _schema() -> dict:
    return json.loads(CHECKS_SCHEMA.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft202012Validator

    return Draft202012Validator(_schema())


@lru_cache(maxsize=1)
def _list_validator():
    from jsonschema import Draft202012Validator

    schema = dict(_schema())
    schema_for_list = {key: schema[key] for key in ("$schema", "$id", "$defs")}
    schema_for_list["$ref"] = "#/$defs/check_list"
    return Draft202012Validator(schema_for_list)


def _raise_schema_errors(validator, document, where: str, *, list_root: bool = False) -> None:
    errors = sorted(validator.iter_errors(document), key=lambda e: ([str(p) for p in e.absolute_path], e.message))
    if not errors:
        return
    lines = []
    seen: set[tuple] = set()
    for error in errors:
        path = tuple(error.absolute_path)
        if path in seen:
            continue
        seen.add(path)
        key_path = format_key_path(path) if path else ""
        if list_root:
            # ``where`` already names the list: "x.yml: outputs[0].checks" + "[2].severity"
            location = f"{where}{key_path}" if key_path else where
        else:
            location = f"{where}: {key_path or '(top)'}"
        lines.append(f"{location}: {describe_schema_error(error)}")
    raise CheckConfigError("\n".join(lines[:10]))


def describe_schema_error(error) -> str:
    """A short, human message for one jsonschema error."""
    if error.validator == "enum":
        return f"{error.instance!r} is not one of {', '.join(map(str, error.validator_value))}"
    if error.validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        return f"{missing[0]!r} is required" if missing else error.message
    if error.validator == "not" and isinstance(error.validator_value, dict) and "enum" in error.validator_value:
        return f"{error.instance!r} cannot be set in a check (the runner sets it)"
    if error.validator == "not" and isinstance(error.validator_value, dict) and "required" in error.validator_value:
        return " or ".join(error.validator_value["required"]) + ": give one, not both"
    if error.validator == "oneOf" and all(set(sub) == {"required"} for sub in error.validator_value):
        return "give exactly one of: " + ", ".join(sub["required"][0] for sub in error.validator_value)
    if error.validator == "pattern" and error.absolute_path and error.absolute_path[-1] == "expectation":
        return f"{error.instance!r} is not an expectation name (expect_... in snake_case)"
    if error.validator == "type":
        expected = error.validator_value if isinstance(error.validator_value, str) else " or ".join(error.validator_value)
        return f"{error.instance!r} is not of type {expected}"
    return error.message
