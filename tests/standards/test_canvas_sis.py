"""The Canvas SIS import checker: a small set shaped like the examples of Instructure's SIS CSV Format page
passes; each rule, broken once, gives exactly its violation."""

from __future__ import annotations

import pytest

from tests.standards import canvas_sis
from tests.standards.csv_rules import Violation
from tests.standards.samples import changed, without, write_set, write_zip

S = canvas_sis.SPEC
VALID = {
    "accounts.csv": "account_id,parent_account_id,name,status\n"
                    "district,,Demo Unified,active\n"
                    "994,district,Demo High School,active\n",
    "terms.csv": "term_id,name,status,start_date,end_date\n"
                 "2026-S1,Fall 2026,active,2026-08-13T07:00:00Z,2026-12-19T08:00:00Z\n",
    "courses.csv": "course_id,short_name,long_name,account_id,term_id,status\n"
                   "994-0421,ALG1,Algebra I,994,2026-S1,active\n",
    "sections.csv": "section_id,course_id,name,status,start_date,end_date\n"
                    "994-1001,994-0421,Algebra I - Period 1,active,,\n",
    "users.csv": "user_id,login_id,first_name,last_name,email,declared_user_type,status\n"
                 "99400001,s99400001,Ana,Reyes,ana.reyes@example.org,student,active\n"
                 "T-7,t7,Kim,Lee,kim.lee@example.org,teacher,active\n",
    "enrollments.csv": "course_id,user_id,role,section_id,status\n"
                       "994-0421,99400001,student,994-1001,active\n"
                       "994-0421,T-7,teacher,994-1001,active\n",
}


def test_a_valid_set_passes_as_a_folder_and_as_a_zip(tmp_path):
    assert canvas_sis.check(write_set(tmp_path / "set", VALID)) == []
    assert canvas_sis.check(write_zip(tmp_path / "sis_import.zip", VALID)) == []


def test_canvas_reads_a_files_kind_from_its_header_not_its_name(tmp_path):
    files = {("01_" + name if name != "users.csv" else "people.csv"): text for name, text in VALID.items()}
    assert canvas_sis.check(write_set(tmp_path, files)) == []


def test_a_kind_may_come_in_several_files(tmp_path):
    files = {**VALID, "more_terms.csv": "term_id,name,status\n2027-S2,Spring 2027,active\n"}
    files = changed(files, "courses.csv", "active\n", "active\n994-0431,GEO,Geometry,994,2027-S2,active\n")
    assert canvas_sis.check(write_set(tmp_path, files)) == []


def test_a_set_may_name_objects_already_in_canvas(tmp_path):
    assert canvas_sis.check(write_set(tmp_path, without(without(VALID, "accounts.csv"), "terms.csv"))) == []


MUTATIONS = {
    "a file of no import kind": ({**VALID, "grades.csv": "student,grade\n1,A\n"},
                                 [Violation("grades.csv", 1, "", "header of no SIS import kind", S)]),
    "one id in two files of one kind": (
        {**VALID, "more_terms.csv": "term_id,name,status\n2027-S2,Spring,active\n2026-S1,Fall,active\n"},
        [Violation("terms.csv", 2, "term_id", "duplicate of more_terms.csv row 3", S)]),
    "a required column missing": (
        changed(changed(VALID, "sections.csv", "name,status,", "name,"), "sections.csv", "Period 1,active,",
                "Period 1,"),
        [Violation("sections.csv", 1, "status", "required column missing", S)]),
    "a required value blank": (
        changed(VALID, "courses.csv", "ALG1,Algebra I,", "ALG1,,"),
        [Violation("courses.csv", 2, "long_name", "required value blank", S)]),
    "a user status outside the enumeration": (
        changed(VALID, "users.csv", "teacher,active", "teacher,inactive"),
        [Violation("users.csv", 3, "status", "value outside the enumeration", S)]),
    "an enrollment role outside the base roles": (
        changed(VALID, "enrollments.csv", "T-7,teacher,", "T-7,Teacher,"),
        [Violation("enrollments.csv", 3, "role", "value outside the enumeration", S)]),
    "a timestamp that is not ISO 8601": (
        changed(VALID, "terms.csv", "2026-08-13T07:00:00Z", "08/13/2026 07:00"),
        [Violation("terms.csv", 2, "start_date", "not an ISO 8601 timestamp", S)]),
    "a duplicate login": (
        changed(VALID, "users.csv", "T-7,t7,", "T-7,s99400001,"),
        [Violation("users.csv", 3, "login_id", "duplicate of row 2", S)]),
    "an enrollment with neither user_id nor user_integration_id": (
        changed(VALID, "enrollments.csv", "994-0421,T-7,", "994-0421,,"),
        [Violation("enrollments.csv", 3, "user_id+user_integration_id", "neither of the two given", S)]),
    "a course in an account the set lacks": (
        changed(VALID, "courses.csv", "Algebra I,994,", "Algebra I,995,"),
        [Violation("courses.csv", 2, "account_id", "names no row of accounts.csv", S)]),
    "a section of another course": (
        changed(changed(VALID, "courses.csv", "active\n", "active\n994-0422,GEO,Geometry,994,2026-S1,active\n"),
                "enrollments.csv", "994-0421,T-7,", "994-0422,T-7,"),
        [Violation("enrollments.csv", 3, "section_id", "a section of another course", S)]),
    "an enrollment of no user": (
        changed(VALID, "enrollments.csv", "994-0421,99400001,", "994-0421,99400002,"),
        [Violation("enrollments.csv", 2, "user_id", "names no row of users.csv", S)]),
}


@pytest.mark.parametrize("case", list(MUTATIONS))
def test_each_broken_rule_gives_exactly_its_violation(tmp_path, case):
    files, expected = MUTATIONS[case]
    assert canvas_sis.check(write_set(tmp_path, files)) == expected
