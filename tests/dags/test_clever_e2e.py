"""End to end: the library's Clever SIS CSV mapping (include/mappings/library/clever.yml) under dag.test(),
against the emulator's generated district and sshd, judged by the independent Clever checker
(tests/standards/clever_sis.py, Clever's SFTP Instructions v2.1.1): the delivered files break no rule.

The mapping is a library file, not loaded by the DAG factory; a district enables it by copying it into
include/mappings/, which is what this module does with a copy of include/. The stack has no `clever_sftp`
connection (it serves the five shipped vendors), so the module adds it, on the same SFTP server."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.dags.independent import (
    GENERATED_PSEUDO_SCHOOLS,
    real_schools,
    run_day,
    s,
    section_staff_teachers,
    teaches_on,
)
from tests.dags.library import run_library_mapping
from tests.standards import clever_sis

pytestmark = pytest.mark.e2e

STACK = {"students": 300, "seed": 5}
FILES = ["enrollments.csv", "schools.csv", "sections.csv", "students.csv", "teachers.csv"]


@pytest.fixture(scope="module")
def delivered_run(stack, tmp_path_factory):
    """The module's one run: the DagRun, the SFTP folder Clever reads, and the run's report."""
    return run_library_mapping(stack, tmp_path_factory.mktemp("clever"), "clever")


def test_clever_delivers_the_five_files(delivered_run):
    dag_run, folder, _ = delivered_run
    assert dag_run.state == "success"
    assert sorted(path.name for path in folder.iterdir()) == FILES


def test_the_files_break_no_rule_of_clevers_specification(delivered_run):
    _, folder, _ = delivered_run
    assert clever_sis.check(folder) == []


def test_every_active_student_of_a_real_school_is_one_clever_student(delivered_run, stack):
    """One row per active student, at a school where the student has a class schedule (the lowest such
    SchoolCode), else at the lowest of the student's schools: Clever assigns the primary school from the
    sections itself and keeps the one sent only for a student without sections."""
    _, folder, report = delivered_run
    load = lambda name: json.loads((stack.data_dir / f"{name}.json").read_text(encoding="utf-8"))  # noqa: E731
    students = load("students")
    schools = real_schools(load("schools"), students)
    scheduled = {(s(row["SchoolCode"]), s(row["StudentID"])) for row in load("rosters")}
    enrolled: dict[str, list[str]] = {}
    for record in students:
        if not s(record["InactiveStatusCode"]) and s(record["SchoolCode"]) in schools:
            enrolled.setdefault(s(record["StudentID"]), []).append(s(record["SchoolCode"]))
    expected = {student: min(codes, key=lambda code: ((code, student) not in scheduled, int(code)))
                for student, codes in enrolled.items()}
    assert any(len(codes) > 1 for codes in enrolled.values())  # the district has students at two schools
    rows = list(csv.DictReader(io.StringIO((folder / "students.csv").read_text(encoding="utf-8"), newline="")))
    assert {row["Student_id"]: row["School_id"] for row in rows} == expected
    assert len(rows) == len(expected)
    assert report["status"] == "Completed"
    assert report["left_out_schools"] == GENERATED_PSEUDO_SCHOOLS


def test_each_active_section_with_a_teacher_that_day_is_sent_with_its_teacher_and_co_teachers(delivered_run, stack):
    """Independently of the mapping engine: an active section of a real school is sent when one of its section
    staff members teaches it on the run's date and is an active teacher of the school (a TCH record, or at the
    Flex school the staff member itself); its Teacher_id is the primary such member, else the lowest staff ID,
    and Teacher_2_id .. Teacher_10_id the other such members by staff ID."""
    dag_run, folder, _ = delivered_run
    load = lambda name: json.loads((stack.data_dir / f"{name}.json").read_text(encoding="utf-8"))  # noqa: E731
    today = run_day(dag_run, "UTC")  # schedule null: the run's date is taken in UTC
    schools = real_schools(load("schools"), load("students"))
    teachers = load("teachers")
    teachers += section_staff_teachers(load("schools"), load("sections"), load("staff"), teachers, today)
    active_teachers = {(s(t["SchoolCode"]), s(t["StaffID1"])) for t in teachers if not s(t["InactiveStatusCode"])}
    expected = {}
    for section in load("sections"):
        school = s(section["SchoolCode"])
        if school not in schools or s(section["InactiveStatusCode"]):
            continue
        members = [m for m in section["SectionStaffMembers"]
                   if teaches_on(m, today) and (school, s(m["StaffID"])) in active_teachers]
        if members:
            first = min(members, key=lambda m: (m["IsPrimaryTeacher"] is not True, int(m["StaffID"])))
            others = sorted({int(m["StaffID"]) for m in members} - {int(first["StaffID"])})
            ids = [s(first["StaffID"]), *(str(staff_id) for staff_id in others)][:10]
            expected[f"{school}-{s(section['SectionNumber'])}"] = tuple(ids + [""] * (10 - len(ids)))
    assert any(ids[1] for ids in expected.values())  # the district's sections have co-teachers
    rows = csv.DictReader(io.StringIO((folder / "sections.csv").read_text(encoding="utf-8"), newline=""))
    columns = ["Teacher_id", *clever_sis.EXTRA_TEACHERS]
    assert {row["Section_id"]: tuple(row[column] for column in columns) for row in rows} == expected
