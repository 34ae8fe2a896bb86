"""Expressions in mapping files: the ``expr`` and ``cases`` values, ``where: [{expr: ...}]`` conditions, keys and
``distinct.on`` entries, built over hand-written tables; and the load errors that name the file, line and key."""

from __future__ import annotations

import pandas as pd
import pytest

from aeries_hub.mapping.engine import RECORD_SET_COLUMN, build_output
from aeries_hub.mapping.models import MappingError
from aeries_hub.mapping.values import RunValues
from aeries_hub.quality import parse_checks, validate_frame
from aeries_hub.quality.column_rules import output_checks
from tests.plugins.aeries_hub.mapping.mapping_files import edited_error, mapping_with, one_output, rows


def test_expr_and_cases_values_with_transform_steps(tmp_path, tables):
    m = mapping_with(tmp_path, one_output(["id", "band", "login", "teen"], """
        id: {source: StudentID}
        band:
          cases:
            - {when: "Grade <= 0", value: "early-{SchoolCode}"}
            - {when: "Grade >= 9 and not blank(NetworkLoginID)", value: {expr: "upper(NetworkLoginID)"}}
          else: other
        login: {expr: "coalesce(NetworkLoginID, lower(FirstName) + settings.suffix)", transform: [{truncate: 6}]}
        teen: {expr: "Grade >= 13 or Grade == 12"}
    """) + "settings: {suffix: '.new'}\n")
    assert [(r["id"], r["band"], r["login"], r["teen"]) for r in rows(m, tables)] == [
        ("101", "early-994", "zobrie", "false"),
        ("101", "early-995", "zobrie", "false"),
        ("102", "early-994", "ana.ne", "false"),
        ("103", "SGARCIA", "sgarci", "true"),
    ]


def test_where_expressions_in_a_record_set_and_a_lookup(tmp_path, tables):
    m = mapping_with(tmp_path, one_output(["id", "school"], """
        id: {source: StudentID}
        school: {source: school.ShortName}
    """, extra="""
        where:
          - {expr: "InactiveStatusCode in ['', 'P'] or starts_with(lower(FirstName), 'se')"}
        lookups:
          school:
            table: schools
            on: {SchoolCode: SchoolCode}
            where: [{expr: "Name != 'Vale Elem'"}]
    """))
    assert [(r["id"], r["school"]) for r in rows(m, tables)] == [("101", "RHS"), ("102", "RHS"), ("103", "")]


STAFF_EMAILS = """
outputs:
  - file: users.csv
    format: {}
    key: [email]
    columns: [{name: email}, {name: id}]
    records:
      - name: staff
        from: staff
        %s
        values:
          email: {expr: "lower(EmailAddress)"}
          id: {source: ID}
"""


def emails(tmp_path, distinct: str) -> tuple[list[dict], list[str]]:
    """The rows of a file keyed by lowercased staff e-mails, and the checks of the file that fail."""
    m = mapping_with(tmp_path, STAFF_EMAILS % distinct, tables="[staff]")
    staff = pd.DataFrame({"ID": pd.array([7, 8, 9], dtype="Int64"),
                          "EmailAddress": ["Lee.Park@Example.org", "lee.park@example.org", "mchen@example.org"]})
    built = build_output(m, m.outputs[0], {"staff": staff}).frame
    outcome = validate_frame(built, parse_checks(output_checks(m.outputs[0]), where="sample.yml: outputs[0]"),
                             name="users", id_columns=m.outputs[0].key, data_docs=False)
    failed = [result["description"] for result in outcome.to_dict()["results"] if not result["success"]]
    return built.drop(columns=[RECORD_SET_COLUMN]).to_dict("records"), failed


def test_a_capitalised_copy_of_an_email_is_merged_by_a_distinct_expression(tmp_path):
    # Without it, the two spellings are two rows whose lowercased e-mail is one key: the run stops.
    assert emails(tmp_path, "") == (
        [{"email": "lee.park@example.org", "id": "7"}, {"email": "lee.park@example.org", "id": "8"},
         {"email": "mchen@example.org", "id": "9"}],
        ["email is unique in users.csv"])
    assert emails(tmp_path, 'distinct: {on: [{expr: "lower(EmailAddress)"}], prefer: [ID]}') == (
        [{"email": "lee.park@example.org", "id": "7"}, {"email": "mchen@example.org", "id": "9"}], [])


def test_a_key_expression_finds_keys_that_differ_only_in_case(tmp_path):
    m = mapping_with(tmp_path, (STAFF_EMAILS % "").replace("key: [email]", 'key: [{expr: "lower(email)"}]')
                     .replace('{expr: "lower(EmailAddress)"}', "{source: EmailAddress}"), tables="[staff]")
    assert m.outputs[0].key == ("lower(email)",)
    staff = pd.DataFrame({"ID": pd.array([7, 8], dtype="Int64"),
                          "EmailAddress": ["Lee.Park@Example.org", "lee.park@example.org"]})
    built = build_output(m, m.outputs[0], {"staff": staff}).frame
    assert built.to_dict("records") == [
        {"email": "Lee.Park@Example.org", "id": "7", "lower(email)": "lee.park@example.org", RECORD_SET_COLUMN: "staff"},
        {"email": "lee.park@example.org", "id": "8", "lower(email)": "lee.park@example.org", RECORD_SET_COLUMN: "staff"},
    ]
    outcome = validate_frame(built, parse_checks(output_checks(m.outputs[0]), where="sample.yml: outputs[0]"),
                             name="users", id_columns=m.outputs[0].key, data_docs=False)
    assert [r["description"] for r in outcome.to_dict()["results"] if not r["success"]] == [
        "lower(email) is unique in users.csv"]


LINED = """\
name: lined
description: A test integration.
schedule: null
aeries: {conn_id: aeries_default}
delivery: {sftp: {conn_id: vendor_sftp, remote_dir: /in}}
source: {tables: [students, staff]}
settings: {domain: example.org}
outputs:
  - file: people.csv
    format: {}
    key: [id]
    columns: [{name: id}, {name: kind}, {name: email}]
    records:
      - name: students
        from: students
        where:
          - {expr: "not blank(StudentID)"}
        distinct: {on: [StudentID]}
        values:
          id: {source: StudentID}
          kind:
            cases:
              - {when: "Grade >= 9", value: high}
              - {when: "Grade >= 6", value: middle}
          email: {expr: "lower(StudentEmailAddress) + '@' + settings.domain"}
"""


def lined_error(tmp_path, old: str, new: str) -> str | None:
    return edited_error(tmp_path, LINED, old, new)


def test_load_errors_name_the_file_the_line_and_the_key(tmp_path):
    assert lined_error(tmp_path, "Grade >= 6", "Grade >= 6") is None
    assert lined_error(tmp_path, "lower(StudentEmailAddress)", "StudentEmailAddress.lower()") == (
        "lined.yml:25: outputs[0].records[0].values.email.expr: expression \"StudentEmailAddress.lower() + '@' + "
        "settings.domain\" at 'StudentEmailAddress.lower()': there are no methods: call a function as f(x) "
        "(lower(x), not x.lower())")
    assert lined_error(tmp_path, "settings.domain", "settings.domian") == (
        "lined.yml:25: outputs[0].records[0].values.email.expr: expression \"lower(StudentEmailAddress) + '@' + "
        "settings.domian\" at 'settings.domian': unknown setting 'domian' (did you mean 'domain'?); settings: domain")
    assert lined_error(tmp_path, "Grade >= 6", "Grade >= ") == (
        "lined.yml:24: outputs[0].records[0].values.kind.cases[1].when: expression 'Grade >=': not an expression: "
        "invalid syntax (column 1); the syntax is Python's, e.g. \"'a' if x == '1' else 'b'\"")
    assert lined_error(tmp_path, "not blank(StudentID)", "StudentID") == (
        "lined.yml:17: outputs[0].records[0].where[0].expr: expression 'StudentID': a condition is true or false, not "
        "text: compare it (x == 'Y'), or test it with blank(x)")
    assert lined_error(tmp_path, "distinct: {on: [StudentID]}", 'distinct: {on: [{expr: "lowr(StudentID)"}]}') == (
        "lined.yml:18: outputs[0].records[0].distinct.on[0].expr: expression 'lowr(StudentID)' at 'lowr': unknown "
        "function 'lowr' (did you mean 'lower'?); functions: add_days, any_in, any_matches, blank, coalesce, "
        "contains, count, count_in, date, datetime, days_between, ends_with, format_date, format_datetime, "
        "group_values, item, join, length, lower, map_values, matches, number, replace, school_year, "
        "school_year_start, split, starts_with, today, trim, upper, without, year")


def test_unknown_columns_in_expressions_are_named_with_the_closest_one(tmp_path):
    assert lined_error(tmp_path, "Grade >= 9", "grade >= 9") == (
        "lined.yml:22: outputs[0].records[0].values.kind.cases: 'grade' is not a column of the Aeries table students; "
        "did you mean 'Grade'?")
    assert lined_error(tmp_path, "not blank(StudentID)", "not blank(StudentId)") == (
        "lined.yml:17: outputs[0].records[0].where[0].expr: 'StudentId' is not a column of the Aeries table "
        "students; did you mean 'StudentID'?")
    assert lined_error(tmp_path, "key: [id]", 'key: [{expr: "lower(ID)"}]') == (
        "lined.yml:11: outputs[0].key[0].expr: 'ID' is not a delivered column of people.csv (did you mean 'id'?); "
        "a key's expression reads the file's own columns")


@pytest.mark.parametrize("written", ["{expr: \"today()\"}", "{expr: \"run_date\"}"])
def test_an_expression_of_the_run_date_needs_it(tmp_path, tables, written):
    m = mapping_with(tmp_path, one_output(["id", "day"], f"""
        id: {{source: StudentID}}
        day: {written}
    """))
    with pytest.raises(MappingError, match=r"values.day.expr: today\(\) and run_date need the run's date"):
        rows(m, tables)


def test_run_values_in_expressions_and_case_templates_are_known_to_the_mapping(tmp_path, tables):
    m = mapping_with(tmp_path, one_output(["id", "year", "label"], """
        id: {source: StudentID}
        year: {expr: "run.school_year_end_year"}
        label:
          cases:
            - {when: "Grade < 1", value: "{run.school_year} early"}
          else: {expr: "'grade ' + Grade"}
    """))
    assert m.run_values == {"school_year", "school_year_end_year"}
    run = RunValues(aeries={"school_year": "2026-2027", "school_year_end_year": "2027"})
    built = build_output(m, m.outputs[0], tables, run).frame
    assert built[["id", "year", "label"]].values.tolist() == [
        ["101", "2027", "2026-2027 early"], ["101", "2027", "2026-2027 early"], ["102", "2027", "2026-2027 early"],
        ["103", "2027", "grade 12"]]
    with pytest.raises(MappingError, match=r"cases\[0\].value: unknown run value \{run.year\}"):
        mapping_with(tmp_path, one_output(["id"], """
        id:
          cases: [{when: "Grade < 1", value: "{run.year}"}]
        """))


def test_an_explode_where_expression_keeps_the_elements_it_holds_for(tmp_path):
    m = mapping_with(tmp_path, one_output(["id", "type"], """
        id: {template: "{SchoolCode}-{term.TermCode}"}
        type:
          cases:
            - {when: "term.TermCode in ['F', 'S']", value: semester}
          else: term
    """, table="schools", extra="""
        explode:
          column: Terms
          as: term
          where: [{expr: "days_between(date(term.StartDate), date(term.EndDate)) > 60"}]
    """), tables="[schools]")
    terms = [{"TermCode": "F", "TermDescription": "Fall", "StartDate": "2026-08-13T00:00:00", "EndDate": "2026-12-18T00:00:00"},
             {"TermCode": "1", "TermDescription": "Q1", "StartDate": "2026-08-13T00:00:00", "EndDate": "2026-10-09T00:00:00"},
             {"TermCode": "Y", "TermDescription": "Year", "StartDate": "2026-08-13T00:00:00", "EndDate": "2027-06-04T00:00:00"}]
    schools = pd.DataFrame({"SchoolCode": pd.array([994], dtype="Int64"), "Name": ["Ridge High"], "Terms": [terms]})
    built = build_output(m, m.outputs[0], {"schools": schools}).frame
    assert built[["id", "type"]].values.tolist() == [["994-F", "semester"], ["994-Y", "term"]]
