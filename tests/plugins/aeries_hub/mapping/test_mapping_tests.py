"""The runner of a mapping's ``tests:`` block (aeries_hub.mapping.mapping_tests): what a failing test says, and the
names a test may not use. The shipped mappings' own tests run in tests/mappings/test_mapping_blocks.py."""

from __future__ import annotations

import textwrap

import pytest

from aeries_hub.mapping.loader import load_mapping
from aeries_hub.mapping.mapping_tests import read_tests, run_mapping_test
from aeries_hub.mapping.models import MappingError
from aeries_hub.paths import MAPPINGS_DIR

STUDENTS = """\
        schools:
          - {SchoolCode: 994, Name: Eagle High, HighGradeLevel: 12}
        students:
          - {StudentID: 1001, SchoolCode: 994, Grade: 9, FirstName: Ana, LastName: Cruz, Gender: F, Birthdate: "2011-02-10T00:00:00"}
          - {StudentID: 1002, SchoolCode: 994, Grade: 10, FirstName: Ben, LastName: Diaz, Gender: M, Birthdate: ""}
"""


def xello_with(tmp_path, tests: str):
    """xello.yml with its tests replaced by ``tests`` (YAML text under ``tests:``, ``<students>`` standing for
    STUDENTS), its lines as written here."""
    shipped = (MAPPINGS_DIR / "xello.yml").read_text(encoding="utf-8")
    path = tmp_path / "xello.yml"
    tests = textwrap.dedent(tests.replace("        <students>\n", STUDENTS))
    path.write_text(shipped[:shipped.index("\ntests:\n")] + "\ntests:\n" + tests, encoding="utf-8")
    return path


def failures(tmp_path, tests: str) -> list[list[str]]:
    path = xello_with(tmp_path, tests)
    mapping = load_mapping(path)
    return [run_mapping_test(mapping, case, tmp_path / f"run{case.index}") for case in read_tests(path)]


def line_of(path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_a_failing_test_names_the_file_line_test_row_and_column_with_what_it_expected_and_got(tmp_path):
    tests = """\
    - name: wrong_values
      given:
        <students>
      expect:
        Student.txt:
          rows:
            - {StudentID: 1001, FirstName: Anna, CurrentGrade: 9}
            - {StudentID: 1003, FirstName: Cy}
          rejects:
            - {row: {StudentID: 1002}, reason: DateOfBirth is blank}
        School.txt:
          columns: all
          rows:
            - {SchoolCode: 994, Name: Eagle High}
    """
    path = xello_with(tmp_path, tests)
    got = failures(tmp_path, tests)
    at = {text: line_of(path, text) for text in ("FirstName: Anna", "StudentID: 1003", "reason: DateOfBirth", "Name: Eagle High}")}
    assert got == [[
        f"xello.yml:{at['FirstName: Anna']}: tests[0].expect.Student.txt.rows[0].FirstName: test 'wrong_values': "
        "Student.txt: row 1001: FirstName: expected 'Anna', got 'Ana'",
        f"xello.yml:{at['StudentID: 1003']}: tests[0].expect.Student.txt.rows[1]: test 'wrong_values': Student.txt: "
        "row 1003 is missing (the file's rows: 1001)",
        f"xello.yml:{at['reason: DateOfBirth']}: tests[0].expect.Student.txt.rejects[0].reason: test 'wrong_values': "
        "Student.txt: rejected row 1002: reason: expected 'DateOfBirth is blank', got 'DateOfBirth is required'",
        # columns: all: a column the row does not give is expected blank
        f"xello.yml:{at['Name: Eagle High}']}: tests[0].expect.School.txt.rows[0].SchoolType: test 'wrong_values': "
        "School.txt: row 994: SchoolType: expected '', got '1'",
    ]]


def test_rows_and_rejects_the_test_does_not_expect_fail_it(tmp_path):
    tests = """\
    - name: too_few_rows_expected
      given:
        <students>
      expect:
        Student.txt:
          rows:
            - {StudentID: 1001}
    """
    path = xello_with(tmp_path, tests)
    assert failures(tmp_path, tests) == [[
        f"xello.yml:{line_of(path, 'Student.txt:')}: tests[0].expect.Student.txt.rejects: test 'too_few_rows_expected': "
        "Student.txt: unexpected rejected row 1002",
    ]]


def test_rows_without_the_files_key_are_compared_in_the_files_order(tmp_path):
    tests = """\
    - name: in_order
      given:
        <students>
      expect:
        Student.txt:
          rows:
            - {FirstName: Ana, LastName: Cruz}
            - {FirstName: Ben}
          rejects:
            - {row: {StudentID: 1002}, reason: DateOfBirth is required}
        School.txt:
          rows: []
    """
    path = xello_with(tmp_path, tests)
    assert failures(tmp_path, tests) == [[
        f"xello.yml:{line_of(path, 'FirstName: Ben}')}: tests[0].expect.Student.txt.rows[1]: test 'in_order': "
        "Student.txt: row 2 is missing (the file's rows: 1001)",
        f"xello.yml:{line_of(path, 'rows: []')}: tests[0].expect.School.txt.rows: test 'in_order': School.txt: "
        "unexpected row 994",
    ]]


def test_names_the_mapping_or_aeries_does_not_know_are_named_with_the_closest(tmp_path):
    tests = """\
    - name: unknown_names
      settings: {domain: eagle.example}
      run_values: {district: Eagle}
      given:
        students:
          - {StudentId: 1001, SchoolCode: 994}
        contacts:
          - {StudentID: 1001}
      expect:
        Students.txt:
          rows: []
        Student.txt:
          rows:
            - {StudentID: 1001, Grade: 9}
    """
    path = xello_with(tmp_path, tests)
    line = lambda text: line_of(path, text)  # noqa: E731
    assert failures(tmp_path, tests) == [[
        f"xello.yml:{line('settings:')}: tests[0].settings.domain: unknown setting 'domain' (the file has no settings)",
        f"xello.yml:{line('run_values:')}: tests[0].run_values.district: unknown run value 'district' (did you mean "
        "'district_name'?)",
        f"xello.yml:{line('StudentId: 1001')}: tests[0].given.students[0].StudentId: unknown column of students 'StudentId' "
        "(did you mean 'StudentID'?)",
        f"xello.yml:{line('contacts:')}: tests[0].given.contacts: the mapping does not extract contacts (source.tables: "
        "schools, students, staff, teachers, courses, rosters)",
        f"xello.yml:{line('Students.txt:')}: tests[0].expect.Students.txt: unknown file 'Students.txt' (did you mean "
        "'Student.txt'?)",
        # none close enough: the file's columns
        f"xello.yml:{line('Grade: 9}')}: tests[0].expect.Student.txt.rows[0].Grade: unknown column of Student.txt "
        "'Grade' (StudentID, FirstName, LastName, Gender, CurrentGrade, CurrentSchoolCode, PreRegSchoolCode, "
        "DateOfBirth, StateProvNumber, Email)",
    ]]


def test_given_rows_that_stop_the_run_fail_the_test_with_the_runs_reason(tmp_path):
    tests = """\
    - name: no_students
      given:
        schools:
          - {SchoolCode: 994, Name: Eagle High}
      expect:
        School.txt:
          rows: []
    """
    path = xello_with(tmp_path, tests)
    [[problem]] = failures(tmp_path, tests)
    assert problem == (
        f"xello.yml:{line_of(path, '- name: no_students')}: tests[0]: test 'no_students': the given rows fail the "
        "Aeries source checks: students: 1 error check failed on 0 rows. expect_table_row_count_to_be_between "
        '("Aeries returned at least one student"): observed 0.')


def test_a_test_block_is_checked_by_the_mapping_schema(tmp_path):
    path = xello_with(tmp_path, """\
    - name: unquoted_date
      run_date: 2026-09-15
      given: {students: []}
      expect: {Student.txt: {rows: [], row: []}}
    """)
    with pytest.raises(MappingError) as err:
        load_mapping(path)
    assert str(err.value) == (
        "xello.yml:223: tests[0].expect.Student.txt: unknown key 'row' (did you mean 'rows'?); allowed keys: columns, "
        "rejects, rows\n"
        "xello.yml:221: tests[0].run_date: datetime.date(2026, 9, 15) is not of type 'string'")
