"""Checks a Microsoft School Data Sync v2.1 CSV set against Microsoft's "SDS V2.1 CSV File Format"
(https://learn.microsoft.com/en-us/schooldatasync/sds-v2.1-csv-file-format), its "Default List of Values"
(https://learn.microsoft.com/en-us/schooldatasync/default-list-of-values) and the sample set it points to
(https://github.com/OfficeDev/O365-EDU-Tools, "CSV Samples/SDS v2.1"):

- files named exactly; orgs.csv, users.csv and roles.csv always; classes.csv and enrollments.csv together when
  classes are managed; academicSessions.csv and courses.csv whenever another file names a session or a course;
- headers case-sensitive, in any order; a column marked required must be there and filled;
- UTF-8, RFC 4180, no line breaks in the data;
- enumerated fields (org type, role, grade) from the default list of values;
- dates: the format page recommends ISO 8601 (YYYY-MM-DD or YYYYMMDD); Microsoft's own sample set writes M/D/YYYY,
  which SDS therefore takes too."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from tests.standards.csv_rules import (
    Column,
    FileSpec,
    Violation,
    count_per_group,
    email,
    files_named,
    finished,
    load_tables,
    read_delivery,
    references,
    unique,
    year,
)

SPEC = "SDS V2.1 CSV File Format https://learn.microsoft.com/en-us/schooldatasync/sds-v2.1-csv-file-format"
VALUES = "SDS Default List of Values https://learn.microsoft.com/en-us/schooldatasync/default-list-of-values"
ORG_TYPES = frozenset({"school", "ministryOfEducation", "localAuthority", "department", "university", "region",
                       "district", "college", "division", "local", "campus", "province", "state", "adultEducation",
                       "researchCenter", "national", "municipality", "program", "departmentOfEducation",
                       "academicTrust"})
ROLES = frozenset({"principal", "chair", "professor", "researcher", "adjunct", "affiliate", "occupationalTherapist",
                   "physicalTherapist", "speechTherapist", "visionTherapist", "paraprofessional", "specialServices",
                   "advisor", "proctor", "nurse", "officeStaff", "lecturer", "itAdmin", "administrator", "teacher",
                   "faculty", "staff", "teacherAssistant", "assistant", "instructor", "substitute", "coach",
                   "alumni", "student", "other"})
GRADES = frozenset({"it", "pr", "pk", "tk", "kg", *(f"{grade:02d}" for grade in range(1, 15)),
                    *(str(grade) for grade in range(1, 10)), "ps", "ug", "other", "ps1", "ps2", "ps3", "ps4",
                    "undergraduate", "graduate", "postgraduate", "alumni", "adultEducation"})
SESSION_TYPES = frozenset({"schoolYear", "semester", "term", "gradingPeriod"})
SEXES = frozenset({"male", "female", "other", "unspecified"})
RACES = frozenset({"americanIndianOrAlaskaNative", "asian", "blackOrAfricanAmerican",
                   "nativeHawaiianOrOtherPacificIslander", "white", "demographicRaceTwoOrMoreRaces"})
REQUIRED_FILES = ("orgs.csv", "users.csv", "roles.csv")


def sds_date(value: str) -> bool:
    iso = re.fullmatch(r"(\d{4})-?(\d{2})-?(\d{2})", value)
    us = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", value)
    if iso:
        y, m, d = (int(part) for part in iso.groups())
    elif us:
        m, d, y = (int(part) for part in us.groups())
    else:
        return False
    try:
        dt.date(y, m, d)
    except ValueError:
        return False
    return True


def boolean(value: str) -> bool:
    return value.lower() in ("true", "false")


def _required(name: str, enum: frozenset[str] | None = None) -> Column:
    return Column(name, header_required=True, value_required=True, enum=enum)


def _optional(name: str, enum: frozenset[str] | None = None, separator: str | None = None) -> Column:
    return Column(name, enum=enum, list_separator=separator)


def _date(name: str, required: bool = False) -> Column:
    return Column(name, header_required=required, value_required=required, format=sds_date,
                  format_name="a date YYYY-MM-DD, YYYYMMDD or M/D/YYYY")


SPECS = {name: FileSpec(name, columns, SPEC, no_line_breaks=True) for name, columns in (
    ("orgs.csv", (_required("sourcedId"), _required("name"), _required("type", ORG_TYPES),
                  _optional("parentSourcedId"))),
    ("users.csv", (_required("sourcedId"), _required("username"), _optional("givenName"), _optional("familyName"),
                   _optional("password"), _optional("activeDirectoryMatchId"),
                   Column("email", format=email, format_name="an e-mail address"), _optional("phone"),
                   _optional("sms"))),
    ("roles.csv", (_required("userSourcedId"), _required("orgSourcedId"), _required("role", ROLES),
                   _optional("sessionSourcedId"), _optional("grade", GRADES),
                   Column("isPrimary", format=boolean, format_name="TRUE or FALSE"), _date("roleStartDate"),
                   _date("roleEndDate"))),
    ("classes.csv", (_required("sourcedId"), _required("orgSourcedId"), _required("title"),
                     _optional("sessionSourcedIds", separator=","), _optional("courseSourcedId"), _optional("code"),
                     _optional("subject"), _optional("periods"))),
    ("enrollments.csv", (_required("classSourcedId"), _required("userSourcedId"), _required("role", ROLES))),
    ("academicSessions.csv", (_required("sourcedId"), _required("title"), _required("type", SESSION_TYPES),
                              Column("schoolYear", header_required=True, value_required=True, format=year,
                                     format_name="a year YYYY"),
                              _date("startDate", True), _date("endDate", True), _optional("parentSourcedId"))),
    ("courses.csv", (_required("sourcedId"), _required("orgSourcedId"), _required("title"), _optional("code"),
                     _optional("schoolYearSourcedId"), _optional("subject"), _optional("grade", GRADES))),
    ("demographics.csv", (_required("userSourcedId"), _optional("sex", SEXES), _date("birthDate"),
                          _optional("birthCity"), _optional("birthState"), _optional("birthCountry"),
                          _optional("ethnicityCodes", frozenset({"hispanicOrLatinoEthnicity"}), ","),
                          _optional("raceCodes", RACES, ","))),
    ("userFlags.csv", (_required("userSourcedId"), _required("flag"))),
    ("relationships.csv", (_required("userSourcedId"), _required("relationshipUserSourcedId"),
                           _required("relationshipRole"))),
)}

# (file, column, target file, target column, list-valued)
REFERENCES = (
    ("orgs.csv", "parentSourcedId", "orgs.csv", "sourcedId", False),
    ("roles.csv", "userSourcedId", "users.csv", "sourcedId", False),
    ("roles.csv", "orgSourcedId", "orgs.csv", "sourcedId", False),
    ("roles.csv", "sessionSourcedId", "academicSessions.csv", "sourcedId", False),
    ("classes.csv", "orgSourcedId", "orgs.csv", "sourcedId", False),
    ("classes.csv", "sessionSourcedIds", "academicSessions.csv", "sourcedId", True),
    ("classes.csv", "courseSourcedId", "courses.csv", "sourcedId", False),
    ("enrollments.csv", "classSourcedId", "classes.csv", "sourcedId", False),
    ("enrollments.csv", "userSourcedId", "users.csv", "sourcedId", False),
    ("academicSessions.csv", "parentSourcedId", "academicSessions.csv", "sourcedId", False),
    ("courses.csv", "orgSourcedId", "orgs.csv", "sourcedId", False),
    ("courses.csv", "schoolYearSourcedId", "academicSessions.csv", "sourcedId", False),
    ("demographics.csv", "userSourcedId", "users.csv", "sourcedId", False),
    ("userFlags.csv", "userSourcedId", "users.csv", "sourcedId", False),
    ("relationships.csv", "userSourcedId", "users.csv", "sourcedId", False),
    ("relationships.csv", "relationshipUserSourcedId", "users.csv", "sourcedId", False),
)
KEYS = (("orgs.csv", ("sourcedId",)), ("users.csv", ("sourcedId",)), ("users.csv", ("username",)),
        ("roles.csv", ("userSourcedId", "orgSourcedId", "role")), ("classes.csv", ("sourcedId",)),
        ("enrollments.csv", ("classSourcedId", "userSourcedId")), ("academicSessions.csv", ("sourcedId",)),
        ("courses.csv", ("sourcedId",)), ("demographics.csv", ("userSourcedId",)))


def check(path: Path) -> list[Violation]:
    files = read_delivery(path)
    violations = files_named(files, REQUIRED_FILES, SPECS, SPEC)
    if ("classes.csv" in files) != ("enrollments.csv" in files):
        violations.append(Violation("enrollments.csv" if "classes.csv" in files else "classes.csv", 0, "",
                                    "classes.csv and enrollments.csv come together", SPEC))
    tables = load_tables(files, SPECS, violations)
    for name, key in KEYS:
        if name in tables:
            violations += unique(tables[name], key, SPEC)
    for name, column, target, target_column, is_list in REFERENCES:
        if name in tables:
            violations += references(tables[name], column, tables.get(target), target_column, SPEC,
                                     separator="," if is_list else None)
    if "roles.csv" in tables:
        # roles.csv isPrimary marks the one org that is the user's primary one (the sample set's teacher 114007:
        # TRUE at 110004, FALSE at 110003): never two
        violations += count_per_group(tables["roles.csv"], ("userSourcedId",),
                                      lambda row: row.get("isPrimary", "").lower() == "true",
                                      lambda count: count <= 1, "more than one isPrimary TRUE for this user",
                                      "isPrimary", SPEC)
    return finished(violations)
