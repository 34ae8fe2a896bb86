"""Checks a Canvas SIS import (the CSV files, or the zip posted to POST /api/v1/accounts/:id/sis_imports) against
Instructure's "SIS CSV Format" (https://developerdocs.instructure.com/services/canvas/sis/file.sis_csv) and the
SIS Imports API (https://developerdocs.instructure.com/services/canvas/resources/sis_imports):

- standard CSV (RFC 4180), UTF-8; the first row is a mandatory header that defines the order of the columns, so
  columns come in any order, and Canvas tells a file's kind (users, accounts, terms, courses, sections,
  enrollments) by its header, not its name, so a zip may hold several files of one kind;
- each kind's required fields and status enumeration; timestamps ISO 8601 (YYYY-MM-DDTHH:MM:SSZ);
- ids unique within their file; a reference to an account, term, course, section or user must resolve when
  the set carries the referenced kind (an import may also name objects already in Canvas, which this offline
  check cannot see, so a reference to a kind the set does not carry is not judged)."""

from __future__ import annotations

from pathlib import Path

from tests.standards.csv_rules import (
    Column,
    FileSpec,
    Table,
    Violation,
    check_table,
    email,
    finished,
    iso_date_or_datetime,
    read_delivery,
    read_table,
    references,
    unique_across,
)

SPEC = "Canvas SIS CSV Format https://developerdocs.instructure.com/services/canvas/sis/file.sis_csv"
ACTIVE_DELETED = frozenset({"active", "deleted"})
ENROLLMENT_ROLES = frozenset({"student", "teacher", "ta", "observer", "designer"})


def _required(name: str, enum: frozenset[str] | None = None) -> Column:
    return Column(name, header_required=True, value_required=True, enum=enum)


def _optional(name: str, enum: frozenset[str] | None = None) -> Column:
    return Column(name, enum=enum)


def _time(name: str) -> Column:
    return Column(name, format=iso_date_or_datetime, format_name="an ISO 8601 timestamp")


KINDS: dict[str, tuple[Column, ...]] = {
    "users": (_required("user_id"), _optional("integration_id"), _required("login_id"), _optional("password"),
              _optional("ssha_password"), _optional("authentication_provider_id"), _optional("first_name"),
              _optional("last_name"), _optional("full_name"), _optional("sortable_name"), _optional("short_name"),
              Column("email", format=email, format_name="an e-mail address"), _optional("pronouns"),
              _optional("declared_user_type", frozenset({"administrative", "observer", "staff", "student",
                                                         "student_other", "teacher"})),
              _optional("canvas_password_notification", frozenset({"true", "false"})), _optional("home_account"),
              _required("status", frozenset({"active", "suspended", "deleted"}))),
    # parent_account_id: the header is required, a blank value puts the account under the root account
    "accounts": (_required("account_id"), Column("parent_account_id", header_required=True), _required("name"),
                 _required("status", ACTIVE_DELETED), _optional("integration_id")),
    "terms": (_required("term_id"), _required("name"), _required("status", ACTIVE_DELETED),
              _optional("integration_id"), _optional("date_override_enrollment_type"), _time("start_date"),
              _time("end_date")),
    "courses": (_required("course_id"), _required("short_name"), _required("long_name"), _optional("account_id"),
                _optional("term_id"), _optional("integration_id"),
                _required("status", frozenset({"active", "deleted", "completed", "published"})),
                _time("start_date"), _time("end_date"),
                _optional("course_format", frozenset({"online", "on_campus", "blended"})),
                _optional("blueprint_course_id"), _optional("grade_passback_setting"),
                _optional("homeroom_course", frozenset({"true", "false"})), _optional("friendly_name")),
    "sections": (_required("section_id"), _required("course_id"), _required("name"),
                 _required("status", ACTIVE_DELETED), _optional("integration_id"), _time("start_date"),
                 _time("end_date")),
    "enrollments": (_optional("course_id"), _optional("root_account"), _time("start_date"), _time("end_date"),
                    _optional("user_id"), _optional("user_integration_id"), _optional("role", ENROLLMENT_ROLES),
                    _optional("role_id"), _optional("section_id"),
                    _required("status", frozenset({"active", "deleted", "completed", "inactive",
                                                   "deleted_last_completed"})),
                    _optional("associated_user_id"), _optional("limit_section_privileges", frozenset({"true",
                                                                                                       "false"})),
                    _optional("notify", frozenset({"true", "false"}))),
}
IDS = {"users": ("user_id",), "accounts": ("account_id",), "terms": ("term_id",), "courses": ("course_id",),
       "sections": ("section_id",)}
# one of each pair must be given (enrollments.csv: "course_id or section_id", "user_id or user_integration_id",
# "role or role_id")
ENROLLMENT_EITHER = (("course_id", "section_id"), ("user_id", "user_integration_id"), ("role", "role_id"))


def kind_of(header: list[str]) -> str | None:
    """The kind Canvas reads a file as, from its header's identifying columns."""
    columns = set(header)
    if {"user_id", "login_id"} <= columns:
        return "users"
    if "status" in columns and columns & {"role", "role_id"}:
        return "enrollments"
    if {"section_id", "course_id", "name"} <= columns:
        return "sections"
    if {"course_id", "short_name", "long_name"} <= columns:
        return "courses"
    if {"term_id", "name"} <= columns:
        return "terms"
    if {"account_id", "parent_account_id"} <= columns:
        return "accounts"
    return None


def check(path: Path) -> list[Violation]:
    files = read_delivery(path)
    violations: list[Violation] = []
    tables: dict[str, list[Table]] = {}
    for name, data in files.items():
        table = read_table(name, data, violations, SPEC)
        if table is None:
            continue
        kind = kind_of(table.header)
        if kind is None:
            violations.append(Violation(name, 1, "", "header of no SIS import kind", SPEC))
            continue
        violations += check_table(table, FileSpec(name, KINDS[kind], SPEC))
        tables.setdefault(kind, []).append(table)
    for kind, key in (*IDS.items(), ("users", ("login_id",))):
        violations += unique_across(tables.get(kind, []), key, SPEC)
    merged = {kind: _merged(parts) for kind, parts in tables.items()}
    for enrollments in tables.get("enrollments", []):
        violations += _enrollments(enrollments)
    violations += _references(tables, merged)
    return finished(violations)


def _merged(parts: list[Table]) -> Table:
    """One kind's files as the one table references resolve against."""
    if len(parts) == 1:
        return parts[0]
    return Table(" + ".join(part.name for part in parts), parts[0].header,
                 [row for part in parts for row in part.rows])


def _enrollments(enrollments: Table) -> list[Violation]:
    return [Violation(enrollments.name, number, "+".join(pair), "neither of the two given", SPEC)
            for number, row in enrollments.rows for pair in ENROLLMENT_EITHER
            if not any(row.get(column) for column in pair)]


def _references(tables: dict[str, list[Table]], merged: dict[str, Table]) -> list[Violation]:
    found = []
    for kind, column, target, target_column in (
            ("accounts", "parent_account_id", "accounts", "account_id"),
            ("courses", "account_id", "accounts", "account_id"),
            ("courses", "term_id", "terms", "term_id"),
            ("sections", "course_id", "courses", "course_id"),
            ("enrollments", "course_id", "courses", "course_id"),
            ("enrollments", "section_id", "sections", "section_id"),
            ("enrollments", "user_id", "users", "user_id")):
        if target in merged:
            for table in tables.get(kind, []):
                found += references(table, column, merged[target], target_column, SPEC)
    if "sections" in merged:
        for enrollments in tables.get("enrollments", []):
            found += _section_in_course(enrollments, merged["sections"])
    return found


def _section_in_course(enrollments: Table, sections: Table) -> list[Violation]:
    # an enrollment naming both a course and a section: the section is one of that course's
    course_of = {row["section_id"]: row["course_id"] for _, row in sections.rows}
    return [Violation(enrollments.name, number, "section_id", "a section of another course", SPEC)
            for number, row in enrollments.rows
            if row.get("course_id") and row.get("section_id") in course_of
            and course_of[row["section_id"]] != row["course_id"]]
