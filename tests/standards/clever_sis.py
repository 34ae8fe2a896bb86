"""Checks a Clever SIS CSV set (SFTP upload) against Clever's SFTP Instructions v2.1.1 (Clever, "Clever SFTP
Specification", public copies at https://info.5y1.org/clever-email-names_1_210927.html; Clever's own summary:
https://support.clever.com/hc/en-us/articles/203114867-SFTP-Syncs-How-do-I-format-my-CSV-files-):

- §2: five files, named exactly schools.csv, students.csv, teachers.csv, sections.csv, enrollments.csv
  (staff.csv optional; admins.csv deprecated);
- §3: a header row is required, headers match the specification's names exactly, column order does not matter,
  some fields are required, the files hold active records only;
- §3.1-3.6: each file's fields, the ids every other file refers to, dates as MM/DD/YYYY, the enumerations
  below. Value sets cross-checked with Clever's API docs: sections' subject
  (https://dev.clever.com/docs/sections), students' Gender, Race and Hispanic_Latino as Clever ingests them
  (https://my.amplify.com/help/en/articles/6319783-clever-enrollment-demographics-data-for-amplify-enrollment)."""

from __future__ import annotations

from pathlib import Path

from tests.standards.csv_rules import (
    Column,
    FileSpec,
    Violation,
    email,
    files_named,
    finished,
    load_tables,
    read_delivery,
    references,
    unique,
    us_date,
    year,
)

SPEC = "Clever SFTP Instructions v2.1.1 https://info.5y1.org/clever-email-names_1_210927.html"
REQUIRED_FILES = ("schools.csv", "students.csv", "teachers.csv", "sections.csv", "enrollments.csv")
OPTIONAL_FILES = ("staff.csv", "admins.csv")
GRADES = frozenset({"InfantToddler", "Preschool", "PreKindergarten", "TransitionalKindergarten", "Kindergarten",
                    *(str(grade) for grade in range(1, 14)), "PostGraduate", "Ungraded", "Other"})
SUBJECTS = frozenset({"english/language arts", "math", "science", "social studies", "language",
                      "homeroom/advisory", "interventions/online learning", "technology and engineering",
                      "PE and health", "arts and music", "other"})
YES_NO = frozenset({"Y", "N"})
EXTRA_TEACHERS = tuple(f"Teacher_{number}_id" for number in range(2, 11))


def _required(name: str) -> Column:
    return Column(name, header_required=True, value_required=True)


def _optional(name: str, enum: frozenset[str] | None = None) -> Column:
    return Column(name, enum=enum)


def _us_date(name: str) -> Column:
    return Column(name, format=us_date, format_name="a date MM/DD/YYYY")


def _email(name: str) -> Column:
    return Column(name, format=email, format_name="an e-mail address")


SCHOOLS = (_required("School_id"), _required("School_name"), _required("School_number"), _optional("State_id"),
           _optional("Low_grade", GRADES), _optional("High_grade", GRADES), _optional("Principal"),
           _email("Principal_email"), _optional("School_address"), _optional("School_city"),
           _optional("School_state"), _optional("School_zip"), _optional("School_phone"))
STUDENTS = (_required("School_id"), _required("Student_id"), _optional("Student_number"), _optional("State_id"),
            _required("Last_name"), _optional("Middle_name"), _required("First_name"), _optional("Grade", GRADES),
            _optional("Gender", frozenset({"M", "F", "X"})),
            Column("Graduation_year", format=year, format_name="a year YYYY"), _us_date("DOB"),
            _optional("Race", frozenset({"A", "B", "I", "M", "P", "W"})), _optional("Hispanic_Latino", YES_NO),
            _optional("Home_language"), _optional("Ell_status", YES_NO), _optional("Frl_status"),
            _optional("IEP_status", YES_NO), _optional("Student_street"), _optional("Student_city"),
            _optional("Student_state"), _optional("Student_zip"), _email("Student_email"),
            _optional("Contact_relationship"), _optional("Contact_type"), _optional("Contact_name"),
            _optional("Contact_phone"), _optional("Contact_phone_type"), _email("Contact_email"),
            _optional("Contact_sis_id"), _optional("Username"), _optional("Password"), _optional("Unweighted_gpa"),
            _optional("Weighted_gpa"))
TEACHERS = (_required("School_id"), _required("Teacher_id"), _optional("Teacher_number"),
            _optional("State_teacher_id"), _email("Teacher_email"), _required("First_name"), _optional("Middle_name"),
            _required("Last_name"), _optional("Title"), _optional("Username"), _optional("Password"))
SECTIONS = (_required("School_id"), _required("Section_id"), _required("Teacher_id"),
            *(_optional(name) for name in EXTRA_TEACHERS), _optional("Name"), _optional("Section_number"),
            _optional("Grade", GRADES), _optional("Course_name"), _optional("Course_number"),
            _optional("Course_description"), _optional("Period"), _optional("Subject", SUBJECTS),
            _optional("Term_name"), _us_date("Term_start"), _us_date("Term_end"))
ENROLLMENTS = (_required("School_id"), _required("Section_id"), _required("Student_id"))
STAFF = (_required("School_id"), _required("Staff_id"), _email("Staff_email"), _required("First_name"),
         _required("Last_name"), _optional("Department"), _optional("Title"), _optional("Username"),
         _optional("Password"), _optional("Role"))
ADMINS = (_required("School_id"), _required("Staff_id"), _email("Admin_email"), _required("First_name"),
          _required("Last_name"), _optional("Admin_title"), _optional("Username"), _optional("Password"))
SPECS = {name: FileSpec(name, columns, SPEC) for name, columns in (
    ("schools.csv", SCHOOLS), ("students.csv", STUDENTS), ("teachers.csv", TEACHERS), ("sections.csv", SECTIONS),
    ("enrollments.csv", ENROLLMENTS), ("staff.csv", STAFF), ("admins.csv", ADMINS))}


def check(path: Path) -> list[Violation]:
    files = read_delivery(path)
    violations = files_named(files, REQUIRED_FILES, REQUIRED_FILES + OPTIONAL_FILES, SPEC)
    tables = load_tables(files, SPECS, violations)
    schools, sections = tables.get("schools.csv"), tables.get("sections.csv")
    # §3.1-3.4: each record has one id; a student belongs to one school, a teacher who teaches at several schools
    # is one row per school with the same Teacher_id (support article above, "teachers that teach at multiple
    # schools")
    for name, key in (("schools.csv", ("School_id",)), ("students.csv", ("Student_id",)),
                      ("teachers.csv", ("Teacher_id", "School_id")), ("sections.csv", ("Section_id",)),
                      ("enrollments.csv", ("Section_id", "Student_id")), ("staff.csv", ("Staff_id", "School_id"))):
        if name in tables:
            violations += unique(tables[name], key, SPEC)
    # §3: School_id everywhere names a row of schools.csv; sections name teachers, enrollments name sections
    # and students
    for name in ("students.csv", "teachers.csv", "sections.csv", "enrollments.csv", "staff.csv", "admins.csv"):
        if name in tables:
            violations += references(tables[name], "School_id", schools, "School_id", SPEC)
    if sections is not None:
        for column in ("Teacher_id", *EXTRA_TEACHERS):
            violations += references(sections, column, tables.get("teachers.csv"), "Teacher_id", SPEC)
    if "enrollments.csv" in tables:
        violations += references(tables["enrollments.csv"], "Section_id", sections, "Section_id", SPEC)
        violations += references(tables["enrollments.csv"], "Student_id", tables.get("students.csv"), "Student_id",
                                 SPEC)
    return finished(violations)

