"""Check specs: schema, parsing and config error messages (no Great Expectations import needed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aeries_hub.paths import QUALITY_DIR, SCHEMAS_DIR
from aeries_hub.quality import Check, CheckConfigError, TableRef, failure_sentence, load_checks, parse_checks
from aeries_hub.quality.checks import select_checks

REPO = Path(__file__).resolve().parents[4]
WHERE = "include/quality/aeries_sources.yml: students"


def spec(expectation: str, severity: str = "error", **kwargs) -> dict:
    return {"expectation": expectation, "severity": severity, **kwargs}


def config_error(items, where: str = WHERE) -> str:
    with pytest.raises(CheckConfigError) as info:
        parse_checks(items, where=where)
    return str(info.value)


# ------------------------------------------------------------------------------------------- schema


def test_schema_is_valid_draft_2020_12_and_resolvable_from_a_sibling_schema():
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    schema = json.loads((SCHEMAS_DIR / "checks.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == "https://aeries-integration-hub.invalid/schemas/checks.schema.json"
    # how the mapping schema uses it: a relative $ref from a schema in the same folder
    sibling = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://aeries-integration-hub.invalid/schemas/other.schema.json",
        "type": "object",
        "properties": {"checks": {"$ref": "checks.schema.json#/$defs/check_list"}},
    }
    registry = Registry().with_resource(schema["$id"], Resource.from_contents(schema, default_specification=DRAFT202012))
    validator = Draft202012Validator(sibling, registry=registry)
    assert not list(validator.iter_errors({"checks": [spec("expect_table_row_count_to_be_between", min_value=1)]}))
    errors = list(validator.iter_errors({"checks": [spec("expect_table_row_count_to_be_between", "fatal", min_value=1)]}))
    assert [list(e.absolute_path) for e in errors] == [["checks", 0, "severity"]]


def test_aeries_sources_file_validates_against_the_schema_and_loads():
    from jsonschema import Draft202012Validator

    from aeries_hub.config_files import read_yaml

    path = QUALITY_DIR / "aeries_sources.yml"
    document = read_yaml(path, shown=path.name, error=ValueError)
    schema = json.loads((SCHEMAS_DIR / "checks.schema.json").read_text())
    assert not list(Draft202012Validator(schema).iter_errors(document))

    checks = load_checks(path)
    assert set(checks) == {"schools", "terms", "students", "contacts", "staff", "teachers", "courses", "sections", "rosters",
                           "programs"}
    assert checks["students"][0].where == "include/quality/aeries_sources.yml: students[0]"

    def has(table, expectation, severity, columns=None, **kwargs):
        return any(
            c.expectation == expectation and c.severity == severity
            and (columns is None or c.columns == tuple(columns))
            and all(c.kwargs.get(k) == v for k, v in kwargs.items())
            for c in checks[table]
        )

    # keys present (errors) and unique: a duplicated school, course or section stops the run (every other row
    # hangs on it); a duplicated person or enrollment record is rejected, every copy of it
    assert has("courses", "expect_column_values_to_be_unique", "error", ["ID"])
    assert has("sections", "expect_compound_columns_to_be_unique", "error", ["SchoolCode", "SectionNumber"])
    assert has("students", "expect_compound_columns_to_be_unique", "reject", ["SchoolCode", "StudentID"])
    assert has("students", "expect_compound_columns_to_be_unique", "reject", ["SchoolCode", "StudentNumber"],
               ignore_row_if="any_value_is_missing")
    assert has("staff", "expect_column_values_to_be_unique", "reject", ["ID"])
    assert has("teachers", "expect_compound_columns_to_be_unique", "reject", ["SchoolCode", "TeacherNumber"])
    assert has("contacts", "expect_compound_columns_to_be_unique", "reject", ["StudentID", "SequenceNumber"])
    assert has("rosters", "expect_compound_columns_to_be_unique", "reject", ["SchoolCode", "StudentID", "SequenceNumber"])
    for table in checks:
        for check in checks[table]:
            if check.expectation == "expect_compound_columns_to_be_unique" and "ignore_row_if" not in check.kwargs:
                for column in check.columns:
                    assert has(table, "expect_column_values_to_not_be_null", "error", [column]), (table, column)
    # empty schools / students stop the run
    assert has("schools", "expect_table_row_count_to_be_between", "error", min_value=1)
    assert has("students", "expect_table_row_count_to_be_between", "error", min_value=1)
    assert has("students", "expect_column_values_to_be_between", "warning", ["Grade"], min_value=-2, max_value=18)
    # references
    refs = {(t, str(c.value_set_from)): c.severity for t in checks for c in checks[t] if c.value_set_from}
    assert refs[("students", "schools.SchoolCode")] == "reject"
    assert refs[("sections", "courses.ID")] == "reject"
    assert refs[("rosters", "students.(SchoolCode, StudentID)")] == "reject"
    assert refs[("rosters", "sections.(SchoolCode, SectionNumber)")] == "reject"
    assert {ref.split(".")[0] for _, ref in refs} <= set(checks)
    # dates and e-mails: tested where present
    dates = [c for t in checks for c in checks[t] if c.expectation == "expect_column_values_to_match_strftime_format"]
    assert {"Birthdate", "SchoolEnterDate"} <= {c.columns[0] for c in dates}
    assert all(c.ignore_blank and c.kwargs["strftime_format"] == "%Y-%m-%dT%H:%M:%S" for c in dates)
    emails = [c for t in checks for c in checks[t] if "Email" in "".join(c.columns)]
    assert emails and all(c.severity == "warning" and c.ignore_blank for c in emails)
    assert all(c.description for t in checks for c in checks[t])


# ------------------------------------------------------------------------------------------ parsing


def test_parse_checks_splits_runner_keys_from_expectation_kwargs():
    [check] = parse_checks([spec("expect_column_values_to_be_in_set", "reject", column="SchoolCode",
                                 value_set_from={"table": "schools", "column": "SchoolCode"},
                                 description="unknown school")], where=WHERE)
    assert isinstance(check, Check)
    assert check == parse_checks([check.to_dict()], where=WHERE)[0]
    assert check.kwargs == {"column": "SchoolCode"}
    assert check.value_set_from == TableRef("schools", ("SchoolCode",))
    assert check.columns == ("SchoolCode",) and check.row_level and check.kind == "column_map"
    assert check.where == f"{WHERE}[0]"
    assert check.reason() == "unknown school"
    assert check.to_dict() == {"expectation": "expect_column_values_to_be_in_set", "severity": "reject",
                               "description": "unknown school",
                               "value_set_from": {"table": "schools", "column": "SchoolCode"}, "column": "SchoolCode"}


def test_unknown_severity_names_file_and_key_path():
    message = config_error([spec("expect_column_values_to_not_be_null", column="StudentID"),
                            spec("expect_column_values_to_not_be_null", column="SchoolCode"),
                            spec("expect_column_values_to_be_unique", "fatal", column="StudentID")])
    assert message == "include/quality/aeries_sources.yml: students[2].severity: 'fatal' is not one of error, warning, reject"


def test_unknown_expectation_name_suggests_the_closest():
    message = config_error([spec("expect_column_values_to_be_uniqe", column="StudentID")])
    assert message == (
        "include/quality/aeries_sources.yml: students[0].expectation: 'expect_column_values_to_be_uniqe' is not a "
        "Great Expectations Core expectation this runner supports (did you mean 'expect_column_values_to_be_unique'?)"
    )
    assert config_error([spec("ExpectColumnValuesToBeUnique", column="x")]) == (
        "include/quality/aeries_sources.yml: students[0].expectation: 'ExpectColumnValuesToBeUnique' is not an "
        "expectation name (expect_... in snake_case)"
    )


def test_reject_needs_a_row_level_expectation():
    message = config_error([spec("expect_table_row_count_to_be_between", "reject", min_value=1)])
    assert message == (
        "include/quality/aeries_sources.yml: students[0].severity: 'reject' needs a row-level (column map) "
        "expectation, but expect_table_row_count_to_be_between tests the whole table: use error or warning"
    )
    message = config_error([spec("expect_column_max_to_be_between", "reject", column="Grade", max_value=18)])
    assert message.endswith("but expect_column_max_to_be_between tests the column as a whole: use error or warning")
    assert config_error([spec("expect_column_values_to_be_unique", "reject", column="x", mostly=0.9)]) == (
        "include/quality/aeries_sources.yml: students[0].mostly: a reject check removes every failing row, "
        "so mostly cannot be used"
    )
    # compound (multicolumn map) and column pair checks test rows: reject is fine
    parse_checks([spec("expect_compound_columns_to_be_unique", "reject", column_list=["a", "b"]),
                  spec("expect_column_pair_values_to_be_equal", "reject", column_A="a", column_B="b")], where=WHERE)


def test_missing_required_kwargs():
    assert config_error([spec("expect_column_values_to_not_be_null")]) == (
        "include/quality/aeries_sources.yml: students[0]: 'column' is required by expect_column_values_to_not_be_null"
    )
    assert config_error([spec("expect_column_values_to_be_in_set", column="Gender")]) == (
        "include/quality/aeries_sources.yml: students[0]: 'value_set' is required by expect_column_values_to_be_in_set"
    )
    assert config_error([spec("expect_column_values_to_be_between", column="Grade")]) == (
        "include/quality/aeries_sources.yml: students[0]: expect_column_values_to_be_between needs one of "
        "'min_value', 'max_value'"
    )
    assert config_error([spec("expect_compound_columns_to_be_unique")]) == (
        "include/quality/aeries_sources.yml: students[0]: 'column_list' is required by expect_compound_columns_to_be_unique"
    )


def test_schema_level_problems():
    assert config_error([{"severity": "error", "column": "x"}]) == (
        "include/quality/aeries_sources.yml: students[0]: 'expectation' is required"
    )
    assert config_error([spec("expect_column_values_to_be_unique", column=3)]) == (
        "include/quality/aeries_sources.yml: students[0].column: 3 is not of type string"
    )
    assert config_error([spec("expect_column_values_to_be_unique", column="x", meta={"a": 1})]) == (
        "include/quality/aeries_sources.yml: students[0]: 'meta' cannot be set in a check (the runner sets it)"
    )
    assert config_error([spec("expect_column_values_to_be_in_set", column="x", value_set=[1],
                              value_set_from={"table": "t", "column": "c"})]) == (
        "include/quality/aeries_sources.yml: students[0]: value_set or value_set_from: give one, not both"
    )
    assert config_error([spec("expect_column_values_to_be_in_set", column="x", value_set_from={"table": "t"})]) == (
        "include/quality/aeries_sources.yml: students[0].value_set_from: give exactly one of: column, columns"
    )
    assert config_error([spec("expect_column_values_to_be_unique", column="x", ignore_blank="yes")]) == (
        "include/quality/aeries_sources.yml: students[0].ignore_blank: 'yes' is not of type boolean"
    )


def test_runner_extension_rules():
    assert config_error([spec("expect_compound_columns_to_be_unique", column_list=["a", "b"], ignore_blank=True)]) == (
        "include/quality/aeries_sources.yml: students[0].ignore_blank: only for single-column checks, "
        "not expect_compound_columns_to_be_unique"
    )
    assert config_error([spec("expect_column_values_to_not_be_null", column="a", ignore_blank=True)]) == (
        "include/quality/aeries_sources.yml: students[0].ignore_blank: cannot be used with "
        "expect_column_values_to_not_be_null (it tests for blanks)"
    )
    assert config_error([spec("expect_column_values_to_be_unique", column="a",
                              value_set_from={"table": "t", "column": "c"})]) == (
        "include/quality/aeries_sources.yml: students[0].value_set_from: expect_column_values_to_be_unique takes no value_set"
    )
    assert config_error([spec("expect_column_pair_values_to_be_in_set", column_A="a", column_B="b",
                              value_set_from={"table": "t", "column": "c"})]) == (
        "include/quality/aeries_sources.yml: students[0].value_set_from: give two 'columns' for the value_pairs_set "
        "of expect_column_pair_values_to_be_in_set"
    )


def test_every_problem_is_reported_one_per_line():
    message = config_error([spec("expect_column_values_to_not_be_null"),
                            spec("expect_column_values_to_be_unique", column="a"),
                            spec("expect_table_row_count_to_be_between", "reject", min_value=1)])
    assert [line.split(":")[1].strip() for line in message.splitlines()] == ["students[0]", "students[2].severity"]


def test_load_checks_reports_the_file(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("students:\n  - expectation: expect_column_values_to_be_unique\n    column: StudentID\n"
                   "    severity: fatal\n")
    with pytest.raises(CheckConfigError, match=r"^.*bad\.yml:4: students\[0\]\.severity: 'fatal' is not one of error, warning, reject$"):
        load_checks(bad)
    bad.write_text("students:\n  - {expectation: expect_column_values_to_be_unique, column: StudentID, severity: error}\n"
                   "  - expectation: expect_column_values_to_be_uniqe\n    column: StudentID\n    severity: error\n")
    with pytest.raises(CheckConfigError) as err:
        load_checks(bad)
    assert str(err.value).endswith(
        "bad.yml:3: students[1].expectation: 'expect_column_values_to_be_uniqe' is not a Great Expectations Core "
        "expectation this runner supports (did you mean 'expect_column_values_to_be_unique'?)")
    bad.write_text("students: [\n")
    with pytest.raises(CheckConfigError, match=r"bad\.yml: line \d+, column \d+: not valid YAML"):
        load_checks(bad)
    bad.write_text("- just a list\n")
    with pytest.raises(CheckConfigError, match=r"bad\.yml: \(top\): expected a mapping of table name to a list of checks"):
        load_checks(bad)
    bad.write_text("students:\n  expectation: expect_column_values_to_be_unique\n")
    with pytest.raises(CheckConfigError, match=r"bad\.yml:1: students: \{.*\} is not of type array"):
        load_checks(bad)
    with pytest.raises(CheckConfigError, match=r"missing\.yml: file not found"):
        load_checks(tmp_path / "missing.yml")


def test_yaml_1_2_booleans_keep_codes_as_text(tmp_path):
    path = tmp_path / "codes.yml"
    path.write_text("contacts:\n  - expectation: expect_column_values_to_be_in_set\n    severity: warning\n"
                    "    column: PrimaryContact\n    value_set: [Y, N, yes, no, on, off]\n    ignore_blank: true\n")
    [check] = load_checks(path)["contacts"]
    assert check.kwargs["value_set"] == ["Y", "N", "yes", "no", "on", "off"]
    assert check.ignore_blank is True


def test_failure_sentences():
    def sentence(expectation, **kwargs):
        [check] = parse_checks([spec(expectation, "reject", **kwargs)], where="x")
        return failure_sentence(check)

    assert sentence("expect_column_value_lengths_to_be_between", column="field_lastName", max_value=42) == \
        "field_lastName is longer than 42 characters"
    assert sentence("expect_column_value_lengths_to_be_between", column="field_barcode", min_value=1) == "field_barcode is blank"
    assert sentence("expect_column_values_to_not_be_null", column="StudentID") == "StudentID is missing"
    assert sentence("expect_column_values_to_be_in_set", column="field_status", value_set=["A", "I"]) == \
        "field_status is not one of A, I"
    assert sentence("expect_column_values_to_be_in_set", column="SchoolCode",
                    value_set_from={"table": "schools", "column": "SchoolCode"}) == \
        "SchoolCode is not a known schools.SchoolCode"
    assert sentence("expect_column_pair_values_to_be_in_set", column_A="SchoolCode", column_B="SectionNumber",
                    value_set_from={"table": "sections", "columns": ["SchoolCode", "SectionNumber"]}) == \
        "(SchoolCode, SectionNumber) is not a known sections.(SchoolCode, SectionNumber)"
    assert sentence("expect_column_values_to_match_regex", column="field_birthdate", regex=r"^\d{2}/\d{2}/\d{4}$") == \
        r"field_birthdate does not match ^\d{2}/\d{2}/\d{4}$"
    assert sentence("expect_column_values_to_be_between", column="Grade", min_value=-2, max_value=18) == \
        "Grade is not between -2 and 18"
    assert sentence("expect_compound_columns_to_be_unique", column_list=["SchoolCode", "StudentID"]) == \
        "(SchoolCode, StudentID) is not unique"


def test_select_checks_drops_checks_whose_reference_table_is_absent():
    checks = load_checks(QUALITY_DIR / "aeries_sources.yml")["rosters"]
    kept = select_checks(checks, ["rosters", "students"])
    assert [str(c.value_set_from) for c in kept if c.value_set_from] == ["students.(SchoolCode, StudentID)"]
    assert len(kept) == len(checks) - 1


def test_importing_the_package_does_not_import_great_expectations():
    code = "import sys, aeries_hub.quality; assert 'great_expectations' not in sys.modules, 'GX imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, env={"PYTHONPATH": str(REPO / "plugins")})
