"""The Clever SIS CSV checker: a small valid set written from the SFTP Instructions' field tables passes; each
rule, broken once, gives exactly its violation."""

from __future__ import annotations

import pytest

from tests.standards import clever_sis
from tests.standards.csv_rules import Violation
from tests.standards.samples import changed, without, write_set, write_zip

S = clever_sis.SPEC
VALID = {
    "schools.csv": "School_id,School_name,School_number,State_id,Low_grade,High_grade,Principal,Principal_email\n"
                   "994,Demo High School,994,1964212,9,12,Pat Rivera,prin@example.org\n"
                   "995,Demo Middle School,995,,6,8,,\n",
    "students.csv": "School_id,Student_id,Student_number,Last_name,First_name,Grade,Gender,DOB,Race,"
                    "Hispanic_Latino,Student_email\n"
                    "994,99400001,1001,Reyes,Ana,9,F,04/02/2011,W,Y,ana.reyes@example.org\n"
                    "995,99500002,2002,Okafor,Chidi,Kindergarten,M,,,,\n",
    # a teacher at two schools is two rows with one Teacher_id
    "teachers.csv": "School_id,Teacher_id,Teacher_number,Teacher_email,First_name,Last_name,Title\n"
                    "994,T-7,7,kim.lee@example.org,Kim,Lee,Ms.\n"
                    "995,T-7,7,kim.lee@example.org,Kim,Lee,Ms.\n"
                    "994,T-8,8,,Sam,Ortiz,\n",
    "sections.csv": "School_id,Section_id,Teacher_id,Teacher_2_id,Teacher_3_id,Name,Grade,Course_name,Subject,"
                    "Term_name,Term_start,Term_end\n"
                    "994,994-1001,T-7,T-8,,Algebra I - Period 1,9,Algebra I,math,Fall,08/13/2026,12/18/2026\n"
                    "995,995-0001,T-7,,,Homeroom,Kindergarten,Homeroom,homeroom/advisory,,,\n",
    "enrollments.csv": "School_id,Section_id,Student_id\n"
                       "994,994-1001,99400001\n"
                       "995,995-0001,99500002\n",
}


def test_a_valid_set_passes_as_a_folder_and_as_a_zip(tmp_path):
    assert clever_sis.check(write_set(tmp_path / "set", VALID)) == []
    assert clever_sis.check(write_zip(tmp_path / "set.zip", VALID)) == []


def test_columns_may_come_in_any_order(tmp_path):
    files = changed(VALID, "enrollments.csv", "School_id,Section_id,Student_id\n", "Student_id,School_id,Section_id\n")
    files = changed(files, "enrollments.csv", "994,994-1001,99400001", "99400001,994,994-1001")
    files = changed(files, "enrollments.csv", "995,995-0001,99500002", "99500002,995,995-0001")
    assert clever_sis.check(write_set(tmp_path, files)) == []


MUTATIONS = {
    "a required file missing": (without(VALID, "enrollments.csv"),
                                [Violation("enrollments.csv", 0, "", "required file missing", S)]),
    "a file outside the specification": ({**VALID, "courses.csv": "Course_id\n1\n"},
                                         [Violation("courses.csv", 0, "", "file not in the specification", S)]),
    "a header not spelled as the specification": (
        changed(VALID, "teachers.csv", ",Title\n", ",Teacher_title\n"),
        [Violation("teachers.csv", 1, "Teacher_title", "column not in the specification", S)]),
    "a required column missing": (
        changed(changed(changed(VALID, "schools.csv", "School_name,School_number,", "School_name,"), "schools.csv",
                        "School,995,,6", "School,,6"), "schools.csv", "School,994,1964212", "School,1964212"),
        [Violation("schools.csv", 1, "School_number", "required column missing", S)]),
    "a required value blank": (
        changed(VALID, "students.csv", ",Reyes,Ana,", ",,Ana,"),
        [Violation("students.csv", 2, "Last_name", "required value blank", S)]),
    "a grade outside the enumeration": (
        changed(VALID, "students.csv", "Okafor,Chidi,Kindergarten", "Okafor,Chidi,K"),
        [Violation("students.csv", 3, "Grade", "value outside the enumeration", S)]),
    "a gender outside the enumeration": (
        changed(VALID, "students.csv", "Ana,9,F,", "Ana,9,Female,"),
        [Violation("students.csv", 2, "Gender", "value outside the enumeration", S)]),
    "a subject outside the enumeration": (
        changed(VALID, "sections.csv", "Algebra I,math,", "Algebra I,Mathematics,"),
        [Violation("sections.csv", 2, "Subject", "value outside the enumeration", S)]),
    "a date not MM/DD/YYYY": (
        changed(VALID, "students.csv", "04/02/2011", "2011-04-02"),
        [Violation("students.csv", 2, "DOB", "not a date MM/DD/YYYY", S)]),
    "an impossible date": (
        changed(VALID, "sections.csv", "12/18/2026", "02/30/2026"),
        [Violation("sections.csv", 2, "Term_end", "not a date MM/DD/YYYY", S)]),
    "a duplicate school": (
        changed(VALID, "schools.csv", "995,,6,8,,\n", "995,,6,8,,\n994,Demo Annex,996,,,,,\n"),
        [Violation("schools.csv", 4, "School_id", "duplicate of row 2", S)]),
    "a student twice": (
        changed(VALID, "students.csv", "995,99500002,", "995,99400001,"),
        [Violation("enrollments.csv", 3, "Student_id", "names no row of students.csv", S),
         Violation("students.csv", 3, "Student_id", "duplicate of row 2", S)]),
    "a school no file names": (
        changed(VALID, "teachers.csv", "994,T-8,", "996,T-8,"),
        [Violation("teachers.csv", 4, "School_id", "names no row of schools.csv", S)]),
    "a co-teacher who is no teacher": (
        changed(VALID, "sections.csv", "T-7,T-8,,", "T-7,T-8,T-9,"),
        [Violation("sections.csv", 2, "Teacher_3_id", "names no row of teachers.csv", S)]),
    "an enrollment in no section": (
        changed(VALID, "enrollments.csv", "994,994-1001,", "994,994-1002,"),
        [Violation("enrollments.csv", 2, "Section_id", "names no row of sections.csv", S)]),
    "a row with a missing field": (
        changed(VALID, "enrollments.csv", "995,995-0001,99500002", "995,99500002"),
        [Violation("enrollments.csv", 3, "", "2 fields where the header has 3", S)]),
}


@pytest.mark.parametrize("case", list(MUTATIONS))
def test_each_broken_rule_gives_exactly_its_violation(tmp_path, case):
    files, expected = MUTATIONS[case]
    assert clever_sis.check(write_set(tmp_path, files)) == expected
