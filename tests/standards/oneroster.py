"""Checks a OneRoster CSV set, version 1.1 or 1.2 as its manifest says, against the 1EdTech CSV bindings:

- 1.1: OneRoster v1.1 CSV Tables, https://www.imsglobal.org/oneroster-v11-final-csv-tables
  (§2.1 the zip and manifest.csv, §2.2 bulk and delta, §3 one table per file with its columns in order,
  §4 the enumerations, Appendix A the file dependency matrix).
- 1.2: OneRoster 1.2 CSV Binding, https://www.imsglobal.org/spec/oneroster/v1p2/bind/csv
  (same structure; users.csv loses orgSourcedIds and role to the new roles.csv, gains userMasterIdentifier,
  preferred names, primaryOrgSourcedId and pronouns; userProfiles.csv is new).

Columns marked required are the spec's "Required" cells; values are checked against the spec's formats
(dates YYYY-MM-DD, dateLastModified YYYY-MM-DDTHH:MM:SS.sssZ, booleans true/false, schoolYear YYYY)."""

from __future__ import annotations

from pathlib import Path

from tests.standards.csv_rules import (
    Column,
    FileSpec,
    Table,
    Violation,
    count_per_group,
    files_named,
    finished,
    iso_date,
    iso_datetime_utc,
    load_tables,
    read_delivery,
    read_table,
    references,
    unique,
    year,
)

SPEC_11 = "OneRoster 1.1 CSV Tables https://www.imsglobal.org/oneroster-v11-final-csv-tables"
SPEC_12 = "OneRoster 1.2 CSV Binding https://www.imsglobal.org/spec/oneroster/v1p2/bind/csv"
BOOLEAN = frozenset({"true", "false"})
STATUS = frozenset({"active", "tobedeleted"})
ORG_TYPES = frozenset({"department", "school", "district", "local", "state", "national"})
SESSION_TYPES = frozenset({"gradingPeriod", "semester", "schoolYear", "term"})
ENROLLMENT_ROLES = frozenset({"administrator", "proctor", "student", "teacher"})
USER_ROLES_11 = frozenset({"administrator", "aide", "guardian", "parent", "proctor", "relative", "student",
                           "teacher"})
USER_ROLES_12 = frozenset({"aide", "counselor", "districtAdministrator", "guardian", "parent", "principal",
                           "proctor", "relative", "siteAdministrator", "student", "systemAdministrator", "teacher"})
SEX_11 = frozenset({"male", "female"})
SEX_12 = frozenset({"male", "female", "other", "unspecified"})
MANIFEST_MODES = frozenset({"absent", "bulk", "delta"})


def _id(name: str, required: bool = True) -> Column:
    return Column(name, header_required=True, value_required=required)


def _list(name: str, required: bool = False, enum: frozenset[str] | None = None) -> Column:
    return Column(name, header_required=True, value_required=required, enum=enum, list_separator=",")


def _text(name: str, required: bool = False) -> Column:
    return Column(name, header_required=True, value_required=required)


def _enum(name: str, values: frozenset[str], required: bool = False) -> Column:
    return Column(name, header_required=True, value_required=required, enum=values)


def _date(name: str, required: bool = False) -> Column:
    return Column(name, header_required=True, value_required=required, format=iso_date,
                  format_name="a date YYYY-MM-DD")


def _common() -> tuple[Column, ...]:
    # §3: every data file starts with sourcedId, status, dateLastModified; status and dateLastModified are
    # required in delta files only (§2.2), which check() enforces per file
    return (_id("sourcedId"), _enum("status", STATUS),
            Column("dateLastModified", header_required=True, format=iso_datetime_utc,
                   format_name="a UTC date-time YYYY-MM-DDTHH:MM:SS.sssZ"))


def _race_flags() -> tuple[Column, ...]:
    names = ("americanIndianOrAlaskaNative", "asian", "blackOrAfricanAmerican", "nativeHawaiianOrOtherPacificIslander",
             "white", "demographicRaceTwoOrMoreRaces", "hispanicOrLatinoEthnicity")
    return tuple(_enum(name, BOOLEAN) for name in names)


def _is_extension(name: str) -> bool:
    # §3: a file may carry extension columns, named metadata.*, after the standard ones
    return name.startswith("metadata.")


def file_specs(version: str) -> dict[str, FileSpec]:
    spec = SPEC_12 if version == "1.2" else SPEC_11
    sex = SEX_12 if version == "1.2" else SEX_11
    tables: dict[str, tuple[Column, ...]] = {
        "academicSessions.csv": (*_common(), _text("title", True), _enum("type", SESSION_TYPES, True),
                                 _date("startDate", True), _date("endDate", True), _id("parentSourcedId", False),
                                 Column("schoolYear", header_required=True, value_required=True, format=year,
                                        format_name="a year YYYY")),
        "classes.csv": (*_common(), _text("title", True), _list("grades"), _id("courseSourcedId"),
                        _text("classCode"), _enum("classType", frozenset({"homeroom", "scheduled"}), True),
                        _text("location"), _id("schoolSourcedId"), _list("termSourcedIds", True), _list("subjects"),
                        _list("subjectCodes"), _list("periods")),
        "courses.csv": (*_common(), _id("schoolYearSourcedId", False), _text("title", True), _text("courseCode"),
                        _list("grades"), _id("orgSourcedId"), _list("subjects"), _list("subjectCodes")),
        "demographics.csv": (*_common(), _date("birthDate"), _enum("sex", sex), *_race_flags(), _text("countryOfBirthCode"), _text("stateOfBirthAbbreviation"),
                             _text("cityOfBirth"), _text("publicSchoolResidenceStatus")),
        "enrollments.csv": (*_common(), _id("classSourcedId"), _id("schoolSourcedId"), _id("userSourcedId"),
                            _enum("role", ENROLLMENT_ROLES, True), _enum("primary", BOOLEAN), _date("beginDate"),
                            _date("endDate")),
        "orgs.csv": (*_common(), _text("name", True), _enum("type", ORG_TYPES, True), _text("identifier"),
                     _id("parentSourcedId", False)),
    }
    person = (_enum("enabledUser", BOOLEAN, True),)
    names = (_text("username", True), _list("userIds"), _text("givenName", True), _text("familyName", True),
             _text("middleName"), _text("identifier"), _text("email"), _text("sms"), _text("phone"),
             _list("agentSourcedIds"), _list("grades"), _text("password"))
    if version == "1.2":
        tables["users.csv"] = (*_common(), *person, *names, _text("userMasterIdentifier"),
                               _list("resourceSourcedIds"), _text("preferredGivenName"),
                               _text("preferredMiddleName"), _text("preferredFamilyName"),
                               _id("primaryOrgSourcedId", False), _text("pronouns"))
        tables["roles.csv"] = (*_common(), _id("userSourcedId"),
                               _enum("roleType", frozenset({"primary", "secondary"}), True),
                               _enum("role", USER_ROLES_12, True), _date("beginDate"), _date("endDate"),
                               _id("orgSourcedId"), _id("userProfileSourcedId", False))
        tables["userProfiles.csv"] = (*_common(), _id("userSourcedId"), _text("profileType", True),
                                      _text("vendorId", True), _text("applicationId"), _text("description"),
                                      _text("credentialType", True), _text("username", True), _text("password"))
    else:
        tables["users.csv"] = (*_common(), *person, _list("orgSourcedIds", True), _enum("role", USER_ROLES_11, True),
                               *names)
    return {name: FileSpec(name, columns, spec, fixed_order=True, extra_column=_is_extension)
            for name, columns in tables.items()}


# Appendix A (file dependency matrix): (file, column, target file, list-valued)
REFERENCES = (
    ("academicSessions.csv", "parentSourcedId", "academicSessions.csv", False),
    ("classes.csv", "courseSourcedId", "courses.csv", False),
    ("classes.csv", "schoolSourcedId", "orgs.csv", False),
    ("classes.csv", "termSourcedIds", "academicSessions.csv", True),
    ("courses.csv", "schoolYearSourcedId", "academicSessions.csv", False),
    ("courses.csv", "orgSourcedId", "orgs.csv", False),
    ("demographics.csv", "sourcedId", "users.csv", False),
    ("enrollments.csv", "classSourcedId", "classes.csv", False),
    ("enrollments.csv", "schoolSourcedId", "orgs.csv", False),
    ("enrollments.csv", "userSourcedId", "users.csv", False),
    ("orgs.csv", "parentSourcedId", "orgs.csv", False),
    ("users.csv", "orgSourcedIds", "orgs.csv", True),
    ("users.csv", "agentSourcedIds", "users.csv", True),
    ("users.csv", "primaryOrgSourcedId", "orgs.csv", False),
    ("roles.csv", "userSourcedId", "users.csv", False),
    ("roles.csv", "orgSourcedId", "orgs.csv", False),
    ("roles.csv", "userProfileSourcedId", "userProfiles.csv", False),
    ("userProfiles.csv", "userSourcedId", "users.csv", False),
)


def check(path: Path) -> list[Violation]:
    files = read_delivery(path)
    violations: list[Violation] = []
    if "manifest.csv" not in files:
        return [Violation("manifest.csv", 0, "", "the set has no manifest.csv", SPEC_11)]
    manifest = _manifest(files["manifest.csv"], violations)
    version = manifest.get("oneroster.version", "")
    if version not in ("1.1", "1.2"):
        violations.append(Violation("manifest.csv", 0, "oneroster.version", "not 1.1 or 1.2", SPEC_11))
        return finished(violations)
    spec = SPEC_12 if version == "1.2" else SPEC_11
    specs = file_specs(version)
    violations.extend(_manifest_matches_files(manifest, files, specs, spec))
    tables = load_tables(files, specs, violations)
    for name, table in tables.items():
        violations.extend(unique(table, ("sourcedId",), spec))
        if manifest.get(f"file.{name.removesuffix('.csv')}") == "delta":
            violations.extend(_delta_fields(table, spec))
    for name, column, target, is_list in REFERENCES:
        if name in tables and manifest.get(f"file.{target.removesuffix('.csv')}") != "delta":
            violations.extend(references(tables[name], column, tables.get(target), "sourcedId", spec,
                                         separator="," if is_list else None))
    if "classes.csv" in tables and "orgs.csv" in tables:
        # §3 classes.csv: schoolSourcedId is "the school" of the class: an org of type school
        violations.extend(_school_references(tables["classes.csv"], tables["orgs.csv"], spec))
    if version == "1.2" and "roles.csv" in tables:
        violations.extend(_primary_roles(tables["roles.csv"], tables.get("users.csv"), spec))
    return finished(violations)


def _manifest(data: bytes, violations: list[Violation]) -> dict[str, str]:
    table = read_table("manifest.csv", data, violations, SPEC_11)
    if table is None:
        return {}
    if table.header != ["propertyName", "value"]:
        violations.append(Violation("manifest.csv", 1, "", "header is not propertyName,value", SPEC_11))
        return {}
    violations.extend(unique(table, ("propertyName",), SPEC_11))
    properties = {row["propertyName"]: row["value"] for _, row in table.rows}
    if properties.get("manifest.version") != "1.0":
        violations.append(Violation("manifest.csv", 0, "manifest.version", "not 1.0", SPEC_11))
    for number, row in table.rows:
        if row["propertyName"].startswith("file.") and row["value"] not in MANIFEST_MODES:
            violations.append(Violation("manifest.csv", number, row["propertyName"], "not absent, bulk or delta",
                                        SPEC_11))
    return properties


def _manifest_matches_files(manifest: dict[str, str], files: dict[str, bytes], specs: dict[str, FileSpec],
                            spec: str) -> list[Violation]:
    found = []
    for name in specs:
        mode = manifest.get(f"file.{name.removesuffix('.csv')}", "absent")
        if mode == "absent" and name in files:
            found.append(Violation(name, 0, "", "file present but the manifest says absent", spec))
        if mode in ("bulk", "delta") and name not in files:
            found.append(Violation(name, 0, "", f"the manifest says {mode} but the file is missing", spec))
    return found + files_named(files, (), {*specs, "manifest.csv"}, spec)


def _delta_fields(table: Table, spec: str) -> list[Violation]:
    # §2.2: in a delta file every row says its status and when it last changed
    return [Violation(table.name, number, column, "required value blank", spec)
            for number, row in table.rows for column in ("status", "dateLastModified") if not row.get(column)]


def _school_references(classes: Table, orgs: Table, spec: str) -> list[Violation]:
    types = {row["sourcedId"]: row["type"] for _, row in orgs.rows}
    return [Violation("classes.csv", number, "schoolSourcedId", "names an org that is not a school", spec)
            for number, value in classes.values("schoolSourcedId") if value in types and types[value] != "school"]


def _primary_roles(roles: Table, users: Table | None, spec: str) -> list[Violation]:
    # roles.csv roleType: a user has one primary role in each org it has roles in; the user's
    # primaryOrgSourcedId is one of the orgs of its roles
    found = count_per_group(roles, ("userSourcedId", "orgSourcedId"), lambda row: row["roleType"] == "primary",
                            lambda count: count == 1, "not exactly one primary role for this user and org",
                            "roleType", spec)
    if users is not None and "primaryOrgSourcedId" in users.header:
        orgs_of_user: dict[str, set[str]] = {}
        for _, row in roles.rows:
            orgs_of_user.setdefault(row["userSourcedId"], set()).add(row["orgSourcedId"])
        found += [Violation("users.csv", number, "primaryOrgSourcedId", "not an org of the user's roles", spec)
                  for number, row in users.rows
                  if row["primaryOrgSourcedId"] and row["primaryOrgSourcedId"] not in
                  orgs_of_user.get(row["sourcedId"], set())]
    return found
