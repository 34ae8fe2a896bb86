"""The HTTP side of the emulator: routes, certificates, paging, fault injection, statistics, the writes log.

:class:`EmulatorServer` serves a :class:`~aeries_sandbox.emulator.district.District` with the standard library's
``ThreadingHTTPServer`` (HTTP/1.1, keep-alive). Everything a request needs is indexed by school when the
server starts (:class:`DistrictIndex`), so a request costs O(page): a dict lookup, a list slice and one
``json.dumps`` of the page. Write requests (:meth:`EmulatorApp.resolve_write`) are validated and applied by
:mod:`aeries_sandbox.emulator.writes` under ``DistrictIndex.lock``, and every one is logged
(``GET {base}/__emulator__/writes``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from bisect import bisect_left, bisect_right, insort
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Mapping, NamedTuple, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from aeries_sandbox.emulator import writes as write_ops
from aeries_sandbox.emulator.district import District, school_year_label
from aeries_sandbox.emulator.errors import HttpError
from aeries_sandbox.emulator.faults import FaultConfig, FaultInjector, parse_fault_spec
from aeries_sandbox.emulator.writes import int_key as _int_key

__all__ = [
    "EmulatorServer",
    "BackgroundServer",
    "SandboxHTTPServer",
    "JsonRequestHandler",
    "HttpError",
    "DistrictIndex",
    "PagingConfig",
    "PAGED_ROUTES",
    "DEFAULT_UNPAGED_ROUTES",
    "SECURITY_AREAS",
    "WRITE_PERMISSIONS",
    "READ_AREAS",
    "WRITE_AREAS",
    "normalise_area",
    "Certificate",
    "CertificateError",
    "load_certificates",
    "normalise_base_path",
    "read_secrets_file",
]

log = logging.getLogger("aeries_sandbox.emulator")

#: Route name -> the security area a certificate needs for it (GET routes: the area's Read permission).
SECURITY_AREAS = {
    "schools": "Schools",
    "terms": "Terms",
    "students": "Student Data",
    "StudentDataChanges": "Student Data",
    "contacts": "Contacts",
    "classes": "Class Schedules/History",
    "section_students": "Class Schedules/History",
    "SectionRosterDataChanges": "Class Schedules/History",
    "staff": "Staff Data",
    "StaffDataChanges": "Staff Data",
    "teachers": "Teacher Data",
    "sections": "Master Schedule",
    "SectionDataChanges": "Master Schedule",
    "courses": "Course Data",
    "CourseDataChanges": "Course Data",
    "gradebooks": "Gradebook Data",
    "assignments": "Gradebook Data",
    "scores": "Gradebook Scores",
    "course_requests": "Student Scheduling Schedules (Course Requests)",
}
COURSE_REQUESTS_AREA = "Student Scheduling Schedules (Course Requests)"
#: Write route -> the permissions a certificate needs for it, checked in this order (the first one missing is named
#: in the 403). ``"<Area> - <Permission>"`` as Aeries' documentation writes them ("Student Data" - Read & Insert).
WRITE_PERMISSIONS = {
    "InsertStudent": ("Student Data", "Student Data - Insert"),
    "UpdateStudent": ("Student Data", "Student Data - Update"),
    "UpdateStudentAddress": ("Student Data", "Student Data - Update"),
    "InsertContact": ("Contacts", "Contacts - Insert"),
    "UpdateContact": ("Contacts", "Contacts - Update"),
    "InsertAssignment": ("Gradebook Data - Update",),
    "UpdateScores": ("Gradebook Scores - Update",),
    "InsertCourseRequest": (COURSE_REQUESTS_AREA + " - Insert",),
}
#: Every read area the emulator knows, for certificates that may read everything.
READ_AREAS = (
    "Schools", "Terms", "Student Data", "Contacts", "Class Schedules/History",
    "Staff Data", "Teacher Data", "Master Schedule", "Course Data",
    "Gradebook Data", "Gradebook Scores", COURSE_REQUESTS_AREA,
)
#: Every write permission the emulator checks; a certificate that may write everything lists these too.
WRITE_AREAS = (
    "Student Data - Insert", "Student Data - Update", "Contacts - Insert", "Contacts - Update",
    "Gradebook Data - Update", "Gradebook Scores - Update", COURSE_REQUESTS_AREA + " - Insert",
)
_OTHER_KNOWN_AREAS = {"Attendance", "Grades", "Test Scores", "Programs", "Student Demographics"}
_AREA_PERMISSIONS = re.compile(
    r"^(?P<area>.+?)\s*[-\u2013:]\s*(?P<perms>(?:read|insert|update|delete)(?:\s*(?:&|,|/|\band\b)\s*(?:read|insert|update|delete))*)$",
    re.IGNORECASE)


def normalise_area(text: str) -> list[str]:
    """A certs file's area entry -> the permissions it grants: ``"Student Data"`` -> ``["Student Data"]`` (Read);
    ``"Student Data - Read & Insert"`` (also ``–``, ``:``, ``,``, ``/``, ``and``) ->
    ``["Student Data", "Student Data - Insert"]``."""
    text = " ".join(text.split())
    match = _AREA_PERMISSIONS.match(text)
    if not match:
        return [text]
    area = match.group("area").strip()
    granted = []
    for word in re.split(r"\s*(?:&|,|/|\band\b)\s*", match.group("perms"), flags=re.IGNORECASE):
        permission = word.strip().capitalize()
        entry = area if permission == "Read" else f"{area} - {permission}"
        if entry not in granted:
            granted.append(entry)
    return granted


_JSON = "application/json; charset=utf-8"
_SAFE_QUERY_KEYS = {"startingrecord", "endingrecord", "databaseyear"}
_VERSION = re.compile(r"v5(\.\d+)?", re.IGNORECASE)
_CERT_SHAPE = re.compile(r"[A-Za-z0-9]{32}")

LOGIN_PAGE = b"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Aeries: Portals</title></head>
<body class="login">
<form method="post" action="./LoginParent.aspx" id="form1">
<div id="LoginPage"><h1>Aeries</h1><p>Please sign in with your district account.</p>
<label for="portalAccountUsername">Email or Username</label><input id="portalAccountUsername" type="text">
<label for="portalAccountPassword">Password</label><input id="portalAccountPassword" type="password">
<button type="submit" id="LoginButton">Sign In</button>
<p>Windows Authentication is required for this site.</p></div>
</form></body></html>
"""

_DATA_CHANGE_AREAS = {
    "studentdatachanges": ("StudentDataChanges", {"student", "contact", "class", "enrollment", "program", "test"}),
    "staffdatachanges": ("StaffDataChanges", None),
    "coursedatachanges": ("CourseDataChanges", None),
    "sectiondatachanges": ("SectionDataChanges", None),
    "sectionrosterdatachanges": ("SectionRosterDataChanges", None),
}
_LOG_AREA = {"StaffDataChanges": "staff", "CourseDataChanges": "course", "SectionDataChanges": "section",
             "SectionRosterDataChanges": "section_roster"}
_CHANGE_KEYS = {
    "student": ("StudentID", "SchoolCode", "StudentNumber"),
    "staff": ("ID",),
    "course": ("ID",),
    "section": ("SchoolCode", "SectionNumber"),
    "section_roster": ("SchoolCode", "SectionNumber"),
}


class CertificateError(ValueError):
    """The certificates configuration is unusable (the message never contains a certificate)."""


def normalise_base_path(base_path: str | None) -> str:
    """``"aeries/"`` -> ``"/aeries"``; ``""`` and ``"/"`` -> ``""`` (the site root)."""
    text = (base_path or "").strip().strip("/")
    return f"/{text}" if text else ""


def read_secrets_file(path: str | os.PathLike[str], what: str, error: type[Exception]) -> Any:
    """The parsed JSON of a secrets file; ``error`` names the file and the problem, never its content."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as exc:
        raise error(f"cannot read the {what} file: {exc.strerror} ({os.fspath(path)})") from None
    except json.JSONDecodeError as exc:
        raise error(f"the {what} file is not valid JSON ({exc.msg} at line {exc.lineno})") from None


class Certificate(NamedTuple):
    """A certificate's name, the permissions it grants, and the fields field level security denies it writing
    (security area -> lower-case field names, the names the write bodies use included)."""

    name: str
    areas: frozenset[str]
    denied_fields: Mapping[str, frozenset[str]] = {}


def load_certificates(source: Any) -> dict[str, Certificate]:
    """Certificate -> :class:`Certificate` from a certs file path, its parsed JSON, the list of entries, or an
    already loaded table.

    Each entry is ``{"name": ..., "certificate": <32 letters/digits>, "areas": [...]}`` with an optional
    ``"denied_fields": {"Student Data": ["StateStudentID"], "Contacts": [...]}``: Aeries' field level security
    (support article 14000068040) denies a group updating single fields of Student Data, Emergency Contacts and
    Staff Data; a write of such a field is ignored without an error. Errors name the entry by its name or
    position, never by its certificate.
    """
    if isinstance(source, Mapping) and source and all(isinstance(v, tuple) for v in source.values()):
        return dict(source)  # already loaded
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if isinstance(source, str):
        source = read_secrets_file(source, "certificates", CertificateError)
    if isinstance(source, Mapping):
        entries = source.get("certificates")
        if not isinstance(entries, list):
            raise CertificateError('the certificates JSON needs a "certificates" list')
    else:
        entries = list(source)
    table: dict[str, Certificate] = {}
    for position, entry in enumerate(entries):
        label = f"certificate #{position + 1}"
        if not isinstance(entry, Mapping):
            raise CertificateError(f"{label} is not an object")
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise CertificateError(f"{label} needs a non-empty name")
        label = f"certificate {name!r}"
        cert = entry.get("certificate")
        if not isinstance(cert, str) or not _CERT_SHAPE.fullmatch(cert):
            raise CertificateError(f"{label}: the certificate must be 32 letters and digits")
        areas = entry.get("areas", [])
        if not isinstance(areas, list) or not all(isinstance(a, str) for a in areas):
            raise CertificateError(f"{label}: areas must be a list of security area names")
        granted = [permission for area in areas for permission in normalise_area(area)]
        unknown = [a for a in granted
                   if a.split(" - ")[0] not in READ_AREAS and a.split(" - ")[0] not in _OTHER_KNOWN_AREAS]
        if unknown:
            log.warning("%s: unknown security areas %s (known: %s; write permissions as \"<area> - Insert\" or "
                        "\"<area> - Update\")", label, unknown, ", ".join(READ_AREAS))
        if cert in table:
            raise CertificateError(f"{label} repeats the certificate of {table[cert][0]!r}")
        table[cert] = Certificate(name, frozenset(granted), _denied_fields(entry.get("denied_fields", {}), label))
    return table


def _denied_fields(entry: Any, label: str) -> dict[str, frozenset[str]]:
    """``{"Student Data": ["RaceCode1"]}`` -> ``{"Student Data": {"racecode1", "race1code"}}``: a denied field is
    ignored under every name a write body may give it."""
    areas = {"Student Data": write_ops.STUDENT_FIELDS, "Contacts": write_ops.CONTACT_FIELDS}
    if not isinstance(entry, Mapping) or not all(
            isinstance(names, list) and all(isinstance(n, str) for n in names) for names in entry.values()):
        raise CertificateError(f"{label}: denied_fields must map a security area to a list of field names")
    denied = {}
    for area, names in entry.items():
        if area not in areas:
            raise CertificateError(f"{label}: denied_fields names {area!r}; field level security of writes is "
                                   f"emulated for {', '.join(areas)}")
        aliases = {field.lower(): {field.lower(), *(n.lower() for n in body_names)}
                   for field, body_names, _ in areas[area]}
        denied[area] = frozenset(alias for name in names for alias in aliases.get(name.lower(), {name.lower()}))
    return denied

def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class DistrictIndex:
    """The district, indexed by school and key once, so that every request is O(page)."""

    def __init__(self, district: District) -> None:
        info = district.info
        self.info = info
        self.database_year = district.database_year
        self.available_years = district.available_years
        self.schools = sorted(district.schools, key=lambda s: _int_key(s.get("SchoolCode")))
        self.school_by_code = {_int_key(s.get("SchoolCode")): s for s in self.schools}
        # schools/{sc}/terms answers the school's Terms as they are, without a SchoolCode: aeripy's Term model
        # (PyPI aeripy 0.2.16, written against Aeries' demo server) takes exactly those fields
        self.terms_by_school = {code: list(school.get("Terms") or []) for code, school in self.school_by_code.items()}

        def per_school(rows: list[dict[str, Any]], sort_key: Callable[[dict[str, Any]], Any]) -> dict[Any, list[dict[str, Any]]]:
            grouped: dict[Any, list[dict[str, Any]]] = {}
            for row in rows:
                grouped.setdefault(_int_key(row.get("SchoolCode")), []).append(row)
            for group in grouped.values():
                group.sort(key=sort_key)
            return grouped

        def group_by(groups: dict[Any, list[dict[str, Any]]], field: str) -> dict[tuple[Any, Any], list[dict[str, Any]]]:
            index: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
            for school, rows in groups.items():
                for row in rows:
                    index.setdefault((school, _int_key(row.get(field))), []).append(row)
            return index

        def id_seq(row: dict[str, Any]) -> tuple[Any, Any]:
            return (_int_key(row.get("StudentID")), _int_key(row.get("SequenceNumber")))

        self.students = per_school(district.students,
                                   lambda r: (_int_key(r.get("StudentID")), _int_key(r.get("StudentNumber"))))
        self.student_by_id = group_by(self.students, "StudentID")
        self.student_by_grade = group_by(self.students, "Grade")
        self.student_by_number = group_by(self.students, "StudentNumber")
        self.contacts = per_school(district.contacts, id_seq)
        self.contacts_by_student = group_by(self.contacts, "StudentID")
        self.rosters = per_school(district.rosters, id_seq)
        self.rosters_by_student = group_by(self.rosters, "StudentID")
        self.rosters_by_section = group_by(self.rosters, "SectionNumber")
        self.teachers = per_school(district.teachers, lambda r: _int_key(r.get("TeacherNumber")))
        self.teacher_by_number = {key: rows[0] for key, rows in group_by(self.teachers, "TeacherNumber").items()}
        self.teachers_by_staff: dict[Any, list[dict[str, Any]]] = {}
        for rows in self.teachers.values():
            for row in rows:
                for field in ("StaffID1", "StaffID2", "StaffID3"):
                    staff_id = _int_key(row.get(field))
                    if staff_id:
                        self.teachers_by_staff.setdefault(staff_id, []).append(row)
        self.sections = per_school(district.sections, lambda r: _int_key(r.get("SectionNumber")))
        self.section_by_number = {key: rows[0] for key, rows in group_by(self.sections, "SectionNumber").items()}
        self.staff = sorted(district.staff, key=lambda r: _int_key(r.get("ID")))
        self.staff_by_id = {_int_key(r.get("ID")): r for r in self.staff}
        self.courses = sorted(district.courses, key=lambda r: str(r.get("ID")))
        self.course_by_id = {str(r.get("ID")).upper(): r for r in self.courses}
        # gradebooks (GBK), their assignments (GBA) and scores (GBS)
        self.gradebooks = sorted(district.gradebooks, key=lambda r: _int_key(r.get("GradebookNumber")))
        self.gradebook_by_number = {_int_key(g.get("GradebookNumber")): g for g in self.gradebooks}
        self.gradebooks_by_section: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
        self.gradebooks_by_teacher: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
        self.gradebooks_by_staff: dict[Any, list[dict[str, Any]]] = {}
        for gradebook in self.gradebooks:
            school = _int_key(gradebook.get("SchoolCode"))
            for section in gradebook.get("Sections") or []:
                key = (_int_key(section.get("SchoolCode", school)), _int_key(section.get("SectionNumber")))
                self.gradebooks_by_section.setdefault(key, []).append(gradebook)
            teacher_key = (school, _int_key(gradebook.get("TeacherNumber")))
            self.gradebooks_by_teacher.setdefault(teacher_key, []).append(gradebook)
            teacher = self.teacher_by_number.get(teacher_key)
            for field in ("StaffID1", "StaffID2", "StaffID3"):
                staff_id = _int_key((teacher or {}).get(field))
                if staff_id:
                    self.gradebooks_by_staff.setdefault(staff_id, []).append(gradebook)
        self.assignments_by_gradebook: dict[Any, list[dict[str, Any]]] = {}
        self.assignment_by_key: dict[tuple[Any, Any], dict[str, Any]] = {}
        self.assignment_by_uid: dict[str, dict[str, Any]] = {}
        for assignment in sorted(district.assignments, key=_assignment_key):
            self._index_assignment(assignment)
        self.scores: dict[tuple[Any, Any], dict[Any, dict[str, Any]]] = {}
        for row in district.assignment_scores:
            self.set_score(row)
        # student course requests (SSS)
        self.course_requests = per_school(district.course_requests, id_seq)
        self.course_requests_by_student = group_by(self.course_requests, "StudentID")
        # district-wide lookups the writes need
        self.student_records: dict[Any, list[dict[str, Any]]] = {}
        self.state_student_ids: dict[str, Any] = {}
        for rows in self.students.values():
            for row in rows:
                self._index_student_id(row)
        self.max_student_id = max((k for k in self.student_records if isinstance(k, int)), default=0)
        self.max_student_number = {school: max((_int_key(r.get("StudentNumber")) for r in rows
                                                if isinstance(_int_key(r.get("StudentNumber")), int)), default=0)
                                   for school, rows in self.students.items()}
        self.contacts_by_id: dict[Any, list[dict[str, Any]]] = {}
        for rows in self.contacts.values():
            for row in rows:
                self.contacts_by_id.setdefault(_int_key(row.get("StudentID")), []).append(row)
        #: held by every write while it validates and changes the district (and by readers of the change log)
        self.lock = threading.RLock()
        # change log: area -> (sorted ChangedAt values, keys in the same order)
        self.changes: dict[str, tuple[list[str], list[dict[str, Any]]]] = {}
        for entry in sorted(district.data_changes, key=lambda e: str(e.get("ChangedAt", ""))):
            area = str(entry.get("area", "")).lower()
            fields = _CHANGE_KEYS.get("student" if area in _DATA_CHANGE_AREAS["studentdatachanges"][1] else area)
            if not fields:
                continue
            times, keys = self.changes.setdefault(area, ([], []))
            times.append(str(entry.get("ChangedAt", "")))
            keys.append({field: entry.get(field) for field in fields})
        # whole-table responses that never change: serialised once, on first use
        self._cache: dict[str, bytes] = {}
        self._cache_lock = threading.Lock()

    def cached(self, name: str, build: Callable[[], Any]) -> bytes:
        body = self._cache.get(name)
        if body is None:
            with self._cache_lock:
                body = self._cache.get(name)
                if body is None:
                    body = _dumps(build())
                    self._cache[name] = body
        return body

    def changes_since(self, area: str, since: str) -> list[dict[str, Any]]:
        with self.lock:
            times, keys = self.changes.get(area, ([], []))
            keys = keys[bisect_left(times, since):]
        seen: set[tuple[Any, ...]] = set()
        result = []
        for key in keys:
            marker = tuple(key.values())
            if marker not in seen:
                seen.add(marker)
                result.append(key)
        return result

    # -- changes made by the write endpoints (callers hold self.lock) -----------------------------------------
    def add_change(self, area: str, record: Mapping[str, Any]) -> None:
        """Log a change of ``record`` now (local time), as the ``*DataChanges`` endpoints list it."""
        changed = _local_now().strftime("%Y-%m-%dT%H:%M:%S")
        fields = _CHANGE_KEYS["student" if area in _DATA_CHANGE_AREAS["studentdatachanges"][1] else area]
        times, keys = self.changes.setdefault(area, ([], []))
        position = bisect_right(times, changed)
        times.insert(position, changed)
        keys.insert(position, {field: record.get(field) for field in fields})

    def next_student_id(self) -> int:
        self.max_student_id = max(self.max_student_id, 0) + 1
        while self.max_student_id in self.student_records:
            self.max_student_id += 1
        return self.max_student_id

    def next_student_number(self, school: Any) -> int:
        number = self.max_student_number.get(school, 0) + 1
        self.max_student_number[school] = number
        return number

    def _index_student_id(self, row: dict[str, Any]) -> None:
        student_id = _int_key(row.get("StudentID"))
        self.student_records.setdefault(student_id, []).append(row)
        state_id = str(row.get("StateStudentID") or "").strip()
        if state_id:
            self.state_student_ids.setdefault(state_id, student_id)

    def add_student(self, record: dict[str, Any]) -> None:
        school, student_id = _int_key(record["SchoolCode"]), _int_key(record["StudentID"])
        insort(self.students.setdefault(school, []), record, key=_student_key)
        insort(self.student_by_id.setdefault((school, student_id), []), record, key=_student_key)
        insort(self.student_by_grade.setdefault((school, _int_key(record.get("Grade"))), []), record, key=_student_key)
        insort(self.student_by_number.setdefault((school, _int_key(record.get("StudentNumber"))), []), record,
               key=_student_key)
        self._index_student_id(record)
        if isinstance(student_id, int):
            self.max_student_id = max(self.max_student_id, student_id)

    def replace_student(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        """Put ``new`` (an updated copy) wherever ``old`` is indexed; a new Grade moves it between grade lists."""
        school, student_id = _int_key(old["SchoolCode"]), _int_key(old["StudentID"])
        for rows in (self.students.get(school, []), self.student_by_id.get((school, student_id), []),
                     self.student_by_number.get((school, _int_key(old.get("StudentNumber"))), []),
                     self.student_records.get(student_id, [])):
            _replace(rows, old, new)
        old_grade, new_grade = _int_key(old.get("Grade")), _int_key(new.get("Grade"))
        if old_grade == new_grade:
            _replace(self.student_by_grade.get((school, old_grade), []), old, new)
        else:
            rows = self.student_by_grade.get((school, old_grade), [])
            rows[:] = [r for r in rows if r is not old]
            insort(self.student_by_grade.setdefault((school, new_grade), []), new, key=_student_key)

    def add_contact(self, record: dict[str, Any]) -> None:
        school, student_id = _int_key(record["SchoolCode"]), _int_key(record["StudentID"])
        insort(self.contacts.setdefault(school, []), record, key=_id_seq)
        insort(self.contacts_by_student.setdefault((school, student_id), []), record, key=_id_seq)
        insort(self.contacts_by_id.setdefault(student_id, []), record, key=_id_seq)

    def replace_contact(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        school, student_id = _int_key(old["SchoolCode"]), _int_key(old["StudentID"])
        for rows in (self.contacts.get(school, []), self.contacts_by_student.get((school, student_id), []),
                     self.contacts_by_id.get(student_id, [])):
            _replace(rows, old, new)

    def _index_assignment(self, assignment: dict[str, Any]) -> None:
        gradebook = _int_key(assignment.get("GradebookNumber"))
        insort(self.assignments_by_gradebook.setdefault(gradebook, []), assignment, key=_assignment_key)
        self.assignment_by_key[(gradebook, _int_key(assignment.get("AssignmentNumber")))] = assignment
        if assignment.get("UniqueID"):
            self.assignment_by_uid[str(assignment["UniqueID"]).upper()] = assignment

    def add_assignment(self, assignment: dict[str, Any]) -> None:
        self._index_assignment(assignment)

    def set_score(self, row: dict[str, Any]) -> None:
        key = (_int_key(row.get("GradebookNumber")), _int_key(row.get("AssignmentNumber")))
        self.scores.setdefault(key, {})[_int_key(row.get("StudentID"))] = row

    def replace_schedule(self, school: Any, student_id: Any, rows: list[dict[str, Any]]) -> None:
        """The student's class schedule (SEC rows) at ``school`` becomes ``rows``; logs a ``class`` change of the
        student and a ``section_roster`` change of every section the student joined or left."""
        old = self.rosters_by_student.get((school, student_id), [])
        sections = {_int_key(r.get("SectionNumber")) for r in old} ^ {_int_key(r.get("SectionNumber")) for r in rows}
        kept = [r for r in self.rosters.get(school, []) if _int_key(r.get("StudentID")) != student_id]
        self.rosters[school] = sorted(kept + rows, key=_id_seq)
        self.rosters_by_student[(school, student_id)] = sorted(rows, key=_id_seq)
        for (code, _number), members in list(self.rosters_by_section.items()):
            if code == school:
                members[:] = [r for r in members if _int_key(r.get("StudentID")) != student_id]
        for row in rows:
            insort(self.rosters_by_section.setdefault((school, _int_key(row.get("SectionNumber"))), []), row,
                   key=_id_seq)
        student = (self.student_by_id.get((school, student_id)) or [{}])[0]
        self.add_change("class", {"StudentID": student_id, "SchoolCode": school,
                                  "StudentNumber": student.get("StudentNumber")})
        for number in sorted(sections, key=str):
            self.add_change("section_roster", {"SchoolCode": school, "SectionNumber": number})

    def update_staff(self, staff_id: Any, values: Mapping[str, Any]) -> dict[str, Any]:
        """Change fields of a staff record (a copy, as the writes do); logs a ``staff`` change."""
        old = self.staff_by_id.get(staff_id)
        if old is None:
            raise HttpError(404, f"Staff {staff_id} was not found")
        new = {**old, **values}
        _replace(self.staff, old, new)
        self.staff_by_id[staff_id] = new
        self._cache.pop("staff", None)
        self.add_change("staff", new)
        return new

    def add_course_request(self, record: dict[str, Any]) -> None:
        school, student_id = _int_key(record["SchoolCode"]), _int_key(record["StudentID"])
        insort(self.course_requests.setdefault(school, []), record, key=_id_seq)
        insort(self.course_requests_by_student.setdefault((school, student_id), []), record, key=_id_seq)


def _student_key(row: Mapping[str, Any]) -> tuple[Any, Any]:
    return (_int_key(row.get("StudentID")), _int_key(row.get("StudentNumber")))


def _id_seq(row: Mapping[str, Any]) -> tuple[Any, Any]:
    return (_int_key(row.get("StudentID")), _int_key(row.get("SequenceNumber")))


def _assignment_key(row: Mapping[str, Any]) -> tuple[Any, Any]:
    return (_int_key(row.get("GradebookNumber")), _int_key(row.get("AssignmentNumber")))


def _replace(rows: list[dict[str, Any]], old: dict[str, Any], new: dict[str, Any]) -> None:
    for position, row in enumerate(rows):
        if row is old:
            rows[position] = new
            return


class _Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests = 0
            self.by_status: dict[str, int] = {}
            self.faults: dict[str, int] = {}
            self.by_route: dict[str, int] = {}
            self.started = time.time()

    def record(self, route: str, status: int | None, fault: str | None) -> None:
        with self._lock:
            self.requests += 1
            self.by_route[route] = self.by_route.get(route, 0) + 1
            if status is not None:
                key = str(status)
                self.by_status[key] = self.by_status.get(key, 0) + 1
            if fault:
                self.faults[fault] = self.faults.get(fault, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "by_status": dict(sorted(self.by_status.items())),
                "faults": dict(sorted(self.faults.items())),
                "faults_injected": sum(self.faults.values()),
                "by_route": dict(sorted(self.by_route.items())),
                "seconds": round(time.time() - self.started, 3),
            }


def _local_now() -> datetime:
    try:
        from zoneinfo import ZoneInfo

        return datetime.now(ZoneInfo("America/Los_Angeles")).replace(tzinfo=None)
    except Exception:  # no tz database: Pacific Standard Time, near enough
        return datetime.now(timezone(timedelta(hours=-8))).replace(tzinfo=None)


class JsonRequestHandler(BaseHTTPRequestHandler):
    """The plumbing every sandbox HTTP server shares: HTTP/1.1 keep-alive, every method to ``_handle``, JSON
    answers counted by ``_record`` before the client can see them, bodies read with a size cap, and
    http.server's own lines (which show the request line) only at debug level. Headers are never logged."""

    protocol_version = "HTTP/1.1"
    timeout = 120  # idle keep-alive connections
    max_body = 1_000_000
    server: SandboxHTTPServer

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
        log.debug("http.server: " + format, *args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    #: The answer to an unexpected exception (the exception goes to the log, not to the client).
    internal_error_message = "An error has occurred."

    def _handle(self, method: str) -> None:
        """One request: :meth:`_respond` answers (or raises :class:`HttpError`); whatever happens, the request
        is counted (:meth:`_record`) and logged (:meth:`_log_access`) once, with the status sent or None."""
        started = time.monotonic()
        self._status: int | None = None
        self._pending = None
        try:
            self._respond(method)
        except HttpError as exc:
            self._send(exc.status, self._error_body(exc.message))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            log.exception("internal error for %s %s", method, urlsplit(self.path).path)
            try:
                self._send(500, self._error_body(self.internal_error_message))
            except OSError:
                self.close_connection = True
        finally:
            self._record(self._status)  # requests that got no answer (drop, client gone)
            self._log_access(method, self._status, (time.monotonic() - started) * 1000)

    def _respond(self, method: str) -> None:
        raise NotImplementedError

    def _error_body(self, message: str) -> bytes:
        return _dumps({"Message": message})

    def _log_access(self, method: str, status: int | None, milliseconds: float) -> None:
        """One line per request (a subclass decides what it shows; never headers)."""

    def _record(self, status: int | None) -> None:
        """Count the request (called before the answer is sent; a subclass counts each request once)."""

    def _send(self, status: int, body: bytes, content_type: str = _JSON, headers: Mapping[str, str] | None = None) -> None:
        self._status = status
        self._record(status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True
            raise HttpError(411, "Send the body with a Content-Length (chunked bodies are not accepted)")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise HttpError(400, "Content-Length is not a number") from None
        if length > self.max_body:
            self.close_connection = True  # the unread body would be taken for the next request
            raise HttpError(413, "The request body is too large")
        return self.rfile.read(length) if length > 0 else b""


class _Handler(JsonRequestHandler):
    server_version = "Microsoft-IIS/10.0"

    def _record(self, status: int | None) -> None:
        """Count the request once, before the client can see the answer (so stats and the writes log are never
        behind)."""
        if self._pending is not None:
            route, fault = self._pending
            self._pending = None
            self.server.app.stats.record(route, status, fault)
        entry = getattr(self, "_write_entry", None)
        if entry is not None:
            self._write_entry = None
            entry["status"] = status
            self.server.app.record_write(entry)

    def _safe_target(self, path: str, query: list[tuple[str, str]]) -> str:
        if not query:
            return path
        shown = "&".join(f"{k}={v if k.lower() in _SAFE_QUERY_KEYS else '***'}" for k, v in query)
        return f"{path}?{shown}"

    # -- one request ---------------------------------------------------------------------------
    def _respond(self, method: str) -> None:
        app = self.server.app
        split = urlsplit(self.path)
        path = split.path
        query = parse_qsl(split.query, keep_blank_values=True)
        self._target = self._safe_target(path, query)
        self._fault: str | None = None
        self._cert_name = "-"
        self._pending = ("unknown", None)
        self._write_entry: dict[str, Any] | None = None
        body = self._read_body()
        relative = app.relative_path(path)
        segments = [unquote(s) for s in relative.split("/") if s] if relative is not None else None
        if segments and segments[0].lower() == "__emulator__":
            self._pending = None  # control requests are not counted
            status, answer = app.control(method, segments[1:], body)
            self._send(status, answer)
            return
        if segments is None or len(segments) < 2 or segments[0].lower() != "api" or not _VERSION.fullmatch(segments[1]):
            raise HttpError(404, app.not_found_message(path))
        api = segments[2:]
        if method != "GET":
            self._respond_write(method, path, api, body, query)
            return
        resolved = app.resolve(api)
        if resolved is None:
            raise HttpError(404, app.not_found_message(path))
        route, action = resolved
        self._pending = (route, None)
        if route != "systeminfo":
            fault, latency = app.faults.decide("/".join(api))
            self._fault = fault
            self._pending = (route, fault)
            if latency:
                time.sleep(latency)
            if fault:
                self._inject(fault, action, query)
                return
            self._check_certificate((SECURITY_AREAS[route],))
        params = {k.lower(): v for k, v in query}
        self._send(200, action(params))

    def _check_certificate(self, needed: tuple[str, ...]) -> Certificate:
        """The request's certificate: 401 without a known one; 403 naming the first of ``needed`` it lacks."""
        app = self.server.app
        cert = (self.headers.get("AERIES-CERT") or "").strip()
        known = app.certificates.get(cert) if cert else None
        if known is None:
            raise HttpError(401, "Authorization has been denied for this request."
                            if cert else "Authorization has been denied for this request: no AERIES-CERT header.")
        self._cert_name = known[0]
        if self._write_entry is not None:
            self._write_entry["cert"] = known[0]
        for area in needed:
            if area not in known[1]:
                raise HttpError(403, f"The certificate does not have access to {area}")
        return known

    def _without_denied_fields(self, certificate: Certificate, area: str, body: bytes) -> bytes:
        """The body without the fields field level security denies this certificate in ``area``: Aeries answers
        as if they had not been sent (the writes log lists them as ``ignored_fields``)."""
        denied = certificate.denied_fields.get(area.split(" - ")[0]) if isinstance(certificate, Certificate) else None
        if not denied:
            return body
        try:
            payload = json.loads(body.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return body  # the write itself answers 400
        if not isinstance(payload, dict):
            return body
        ignored = [key for key in payload if str(key).lower() in denied]
        if not ignored:
            return body
        if self._write_entry is not None:
            self._write_entry["ignored_fields"] = ignored
        return _dumps({k: v for k, v in payload.items() if k not in ignored})

    def _respond_write(self, method: str, path: str, api: list[str], body: bytes,
                       query: list[tuple[str, str]]) -> None:
        """Any method but GET: logged in the writes log (with the status sent), checked like a read (faults,
        certificate, the route's permissions), then applied. A ``truncate`` fault applies the write and cuts the
        answer (the write happened, the client cannot tell); the other faults answer before anything is written."""
        app = self.server.app
        try:
            logged: Any = json.loads(body.decode("utf-8-sig")) if body.strip() else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            logged = body.decode("utf-8", "replace")
        self._write_entry = {"seq": 0, "time": _local_now().strftime("%Y-%m-%dT%H:%M:%S"), "method": method,
                             "path": path, "route": None, "cert": "-", "body": logged, "status": None, "fault": None}
        resolved = app.resolve_write(method, api)
        if resolved is None:
            readable = app.resolve(api)
            if readable is None:
                raise HttpError(404, app.not_found_message(path))
            self._pending = (readable[0], None)
            self._write_entry["route"] = readable[0]
            raise HttpError(405, f"The requested resource does not support http method '{method}'.")
        route, action = resolved
        self._pending = (route, None)
        self._write_entry["route"] = route
        fault, latency = app.faults.decide("/".join(api))
        self._fault = fault
        self._pending = (route, fault)
        self._write_entry["fault"] = fault
        if latency:
            time.sleep(latency)
        if fault and fault != "truncate":
            self._inject(fault, lambda p: b"", query)
            return
        certificate = self._check_certificate(WRITE_PERMISSIONS[route])
        body = self._without_denied_fields(certificate, WRITE_PERMISSIONS[route][0], body)
        status, answer = action({k.lower(): v for k, v in query}, body)
        if fault == "truncate":
            answer = answer[: max(1, len(answer) // 2)]
        self._send(status, answer)

    def _log_access(self, method: str, status: int | None, milliseconds: float) -> None:
        if self.server.app.access_log:
            log.info("%s %s %s %.1fms cert=%s%s", method, getattr(self, "_target", "-"),
                     status if status is not None else "-", milliseconds, getattr(self, "_cert_name", "-"),
                     f" fault={self._fault}" if getattr(self, "_fault", None) else "")

    def _inject(self, fault: str, action: Callable[[dict[str, str]], bytes], query: list[tuple[str, str]]) -> None:
        if fault == "drop":
            self.close_connection = True
            return
        if fault == "429":
            self._send(429, _dumps({"Message": "Too many requests"}), headers={"Retry-After": "1"})
            return
        if fault in ("500", "503"):
            message = "An error has occurred." if fault == "500" else "The service is unavailable."
            self._send(int(fault), _dumps({"Message": message}))
            return
        if fault == "html":
            self._send(200, LOGIN_PAGE, content_type="text/html; charset=utf-8")
            return
        # truncate: a real answer cut off mid-body (Content-Length matches what is sent)
        try:
            body = action({k.lower(): v for k, v in query})
        except HttpError as exc:
            body = _dumps({"Message": exc.message})
        self._send(200, body[: max(1, len(body) // 2)])


class SandboxHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that hands its ``app`` to the handler (``self.server.app``)."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], app: Any, handler: type[JsonRequestHandler] = _Handler) -> None:
        self.app = app
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            log.debug("connection from %s ended: %s", client_address, exc)
            return
        log.exception("error serving %s", client_address)


#: A write route's action: ``(query parameters, raw body) -> (status, answer body)``.
WriteAction = Callable[[dict[str, str], bytes], tuple[int, bytes]]


class EmulatorApp:
    """Routing and the API's behaviour, independent of the socket server."""

    def __init__(self, district: District, certificates: dict[str, Certificate], *,
                 base_path: str = "/aeries", faults: FaultInjector | None = None, access_log: bool = True,
                 paging: PagingConfig | None = None) -> None:
        self.index = DistrictIndex(district)
        self.paging = paging or PagingConfig()
        self.certificates = certificates
        self.base_path = normalise_base_path(base_path)
        self._base_lower = self.base_path.lower()
        self.faults = faults or FaultInjector()
        self.stats = _Stats()
        self.access_log = access_log
        self._writes: list[dict[str, Any]] = []
        self._writes_lock = threading.Lock()

    # -- the writes log --------------------------------------------------------------------------------------
    def record_write(self, entry: dict[str, Any]) -> None:
        """Append one write request (any method but GET under ``api/``) to the log ``GET __emulator__/writes``
        shows."""
        with self._writes_lock:
            entry["seq"] = len(self._writes) + 1
            self._writes.append(entry)

    def writes(self) -> list[dict[str, Any]]:
        with self._writes_lock:
            return [dict(entry) for entry in self._writes]

    def clear_writes(self) -> int:
        with self._writes_lock:
            count = len(self._writes)
            self._writes.clear()
            return count

    def relative_path(self, path: str) -> str | None:
        if not self._base_lower:
            return path
        lower = path.lower()
        if lower == self._base_lower or lower.startswith(self._base_lower + "/"):
            return path[len(self.base_path):]
        return None

    @staticmethod
    def not_found_message(path: str) -> str:
        return f"No HTTP resource was found that matches the request URI '{path}'."

    # -- control endpoints ---------------------------------------------------------------------
    def control(self, method: str, segments: list[str], body: bytes) -> tuple[int, bytes]:
        if segments and segments[0].lower() in ("classes", "staff") and len(segments) > 1:
            return self.control_edit(method, segments, body)
        name = segments[0].lower() if len(segments) == 1 else ""
        if name == "stats" and method == "GET":
            return 200, _dumps({**self.stats.snapshot(), "fault_config": self.faults.state()})
        if name == "stats" and method == "DELETE":
            self.stats.reset()
            return 200, _dumps(self.stats.snapshot())
        if name == "faults" and method == "GET":
            return 200, _dumps(self.faults.state())
        if name == "faults" and method in ("PUT", "POST"):
            try:
                parsed = json.loads(body.decode("utf-8") or "{}")
                config = FaultConfig.from_json(parsed)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                return 400, _dumps({"Message": f"The body is not JSON: {exc}"})
            except ValueError as exc:
                return 400, _dumps({"Message": str(exc)})
            self.faults.configure(config)
            log.info("faults set: %s", json.dumps(config.to_json()))
            return 200, _dumps(self.faults.state())
        if name == "faults" and method == "DELETE":
            self.faults.clear()
            log.info("faults cleared")
            return 200, _dumps(self.faults.state())
        if name == "paging" and method == "GET":
            return 200, _dumps(self.paging.to_json())
        if name == "paging" and method in ("PUT", "POST"):
            try:
                parsed = json.loads(body.decode("utf-8") or "{}")
                if not isinstance(parsed, dict) or set(parsed) - {"unpaged_routes", "max_rows_per_request"}:
                    raise ValueError("the body must be an object with unpaged_routes and/or max_rows_per_request")
                self.paging = PagingConfig.build(parsed.get("unpaged_routes", sorted(self.paging.unpaged_routes)),
                                                 parsed.get("max_rows_per_request"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                return 400, _dumps({"Message": f"The body is not JSON: {exc}"})
            except ValueError as exc:
                return 400, _dumps({"Message": str(exc)})
            log.info("paging set: %s", json.dumps(self.paging.to_json()))
            return 200, _dumps(self.paging.to_json())
        if name == "writes" and method == "GET":
            return 200, _dumps(self.writes())
        if name == "writes" and method == "DELETE":
            return 200, _dumps({"cleared": self.clear_writes()})
        if name in ("stats", "faults", "writes", "paging"):
            return 405, _dumps({"Message": f"The requested resource does not support http method '{method}'."})
        return 404, _dumps({"Message": "Unknown emulator control endpoint; use stats, faults, paging or writes."})

    def control_edit(self, method: str, segments: list[str], body: bytes) -> tuple[int, bytes]:
        """``PUT classes/{sc}/{StudentID}`` (body: the student's SEC rows at that school) and ``PUT staff/{ID}``
        (body: the fields to change): edits Aeries' API cannot make, logged as changes as Aeries logs them."""
        numbers = [_parse_int(segment) for segment in segments[1:]]
        kind = segments[0].lower()
        if method != "PUT":
            return 405, _dumps({"Message": f"The requested resource does not support http method '{method}'."})
        if None in numbers or len(numbers) != (2 if kind == "classes" else 1):
            return 404, _dumps({"Message": "Use PUT classes/{SchoolCode}/{StudentID} or PUT staff/{ID}."})
        try:
            payload = json.loads(body.decode("utf-8") or "null")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return 400, _dumps({"Message": f"The body is not JSON: {exc}"})
        ix = self.index
        with ix.lock:
            if kind == "staff":
                if not isinstance(payload, dict):
                    return 400, _dumps({"Message": "The body must be an object of staff fields."})
                try:
                    return 200, _dumps(ix.update_staff(numbers[0], payload))
                except HttpError as exc:
                    return exc.status, _dumps({"Message": exc.message})
            school, student_id = numbers
            if not isinstance(payload, list) or not all(isinstance(row, dict) for row in payload):
                return 400, _dumps({"Message": "The body must be an array of class schedule (SEC) rows."})
            rows = [{"StudentID": student_id, "SchoolCode": school, **row} for row in payload]
            ix.replace_schedule(school, student_id, rows)
        return 200, _dumps(rows)

    # -- routing -------------------------------------------------------------------------------
    def resolve(self, api: list[str]) -> tuple[str, Callable[[dict[str, str]], bytes]] | None:
        """``(route name, action)`` for the path segments after ``api/v5``, or None (404)."""
        if not api:
            return None
        head = api[0].lower()
        n = len(api)
        ix = self.index
        if head == "systeminfo" and n == 1:
            return "systeminfo", lambda p: _dumps(self.system_info(p.get("databaseyear")))
        if head == "schools":
            if n == 1:
                return "schools", lambda p: ix.cached("schools", lambda: ix.schools)
            school = _parse_int(api[1])
            if school is None:
                return None
            if n == 2:
                return "schools", lambda p: _dumps(self.one(ix.school_by_code, school, f"School {school} was not found"))
            kind = api[2].lower()
            rest = [s.lower() for s in api[3:]]
            if kind == "students" and rest and rest[-1] == "extended":  # same records, more fields in real Aeries
                rest, api, n = rest[:-1], api[:-1], n - 1
            if kind == "terms" and n == 3:
                return "terms", lambda p: _dumps(ix.terms_by_school.get(school, []))
            if kind == "students" and len(rest) >= 2 and rest[-2] == "courserequests":
                sequence = _parse_int(api[-1])
                if sequence is None:
                    return None
                lookup = self._student_lookup(school, rest[:-2])
                return None if lookup is None else ("course_requests", lambda p: _dumps(self.one_course_request(
                    school, lookup, sequence)))
            if kind == "students" and rest and rest[-1] == "courserequests":
                lookup = self._student_lookup(school, rest[:-1])
                return None if lookup is None else ("course_requests", lambda p: _dumps(self.page(
                    "course_requests", self.course_requests_of(school, lookup), p)))
            if kind == "scheduling" and n == 4 and rest[0] == "courserequests":
                return "course_requests", lambda p: _dumps(self.page("course_requests", ix.course_requests.get(school, []), p))
            if kind == "students":
                if n == 3:
                    return "students", lambda p: _dumps(self.page("students", ix.students.get(school, []), p))
                if n == 4:
                    sid = _parse_int(api[3])
                    return None if sid is None else ("students", lambda p: _dumps(self.page("students", ix.student_by_id.get((school, sid), []), p)))
                if n == 5 and rest[0] in ("grade", "sn"):
                    value = _parse_int(api[4])
                    table = ix.student_by_grade if rest[0] == "grade" else ix.student_by_number
                    return None if value is None else ("students", lambda p: _dumps(self.page("students", table.get((school, value), []), p)))
                return None
            if kind == "contacts":
                if n == 3:
                    return "contacts", lambda p: _dumps(self.page("contacts", ix.contacts.get(school, []), p))
                if n == 4:
                    sid = _parse_int(api[3])
                    # Aeries answers every contact of the student, whatever their school (support article 14000166308)
                    return None if sid is None else ("contacts", lambda p: _dumps(self.page("contacts", ix.contacts_by_id.get(sid, []), p)))
                return None
            if kind == "classes":
                if n == 3:
                    return "classes", lambda p: _dumps(self.page("classes", ix.rosters.get(school, []), p))
                if n == 4:
                    sid = _parse_int(api[3])
                    return None if sid is None else ("classes", lambda p: _dumps(self.page("classes", ix.rosters_by_student.get((school, sid), []), p)))
                return None
            if kind == "teachers":
                if n == 3:
                    return "teachers", lambda p: _dumps(ix.teachers.get(school, []))
                if n == 4:
                    number = _parse_int(api[3])
                    return None if number is None else ("teachers", lambda p: _dumps(self.one(
                        ix.teacher_by_number, (school, number), f"Teacher {number} was not found at school {school}")))
                return None
            if kind == "sections":
                if n == 3:
                    return "sections", lambda p: _dumps(ix.sections.get(school, []))
                number = _parse_int(api[3])
                if number is None:
                    return None
                if n == 4:
                    return "sections", lambda p: _dumps(self.one(
                        ix.section_by_number, (school, number), f"Section {number} was not found at school {school}"))
                if n == 5 and rest[1] == "students":
                    return "section_students", lambda p: _dumps(self.page("section_students", ix.rosters_by_section.get((school, number), []), p))
                if n == 5 and rest[1] == "gradebooks":
                    return "gradebooks", lambda p: _dumps(ix.gradebooks_by_section.get((school, number), []))
                return None
            return None
        if head == "staff":
            if n == 1:
                return "staff", lambda p: ix.cached("staff", lambda: ix.staff)
            staff_id = _parse_int(api[1])
            if staff_id is None:
                return None
            if n == 2:
                return "staff", lambda p: _dumps(self.one(ix.staff_by_id, staff_id, f"Staff {staff_id} was not found"))
            if n == 3 and api[2].lower() == "teachers":
                return "teachers", lambda p: _dumps(ix.teachers_by_staff.get(staff_id, []))
            if n == 3 and api[2].lower() == "gradebooks":
                return "gradebooks", lambda p: _dumps(ix.gradebooks_by_staff.get(staff_id, []))
            return None
        if head == "gradebooks":
            return self._resolve_gradebooks(api)
        if head == "courses":
            if n == 1:
                return "courses", lambda p: ix.cached("courses", lambda: ix.courses)
            if n == 2:
                course_id = api[1]
                return "courses", lambda p: _dumps(self.one(ix.course_by_id, course_id.upper(),
                                                            f"Course {course_id} was not found"))
            return None
        if head in _DATA_CHANGE_AREAS:
            route, student_areas = _DATA_CHANGE_AREAS[head]
            parts = api[1:]
            if student_areas is not None:
                if not parts or parts[0].lower() not in student_areas:
                    return None
                area, parts = parts[0].lower(), parts[1:]
            else:
                area = _LOG_AREA[route]
            if len(parts) != 5:
                return None
            numbers = [_parse_int(x) for x in parts]
            if any(x is None for x in numbers):
                return None
            return route, lambda p: _dumps(self.data_changes(area, numbers))
        return None

    def _resolve_gradebooks(self, api: list[str]) -> tuple[str, Callable[[dict[str, str]], bytes]] | None:
        """``gradebooks/{gn}[/assignments[/{an}[/scores[/{StudentID}]]]]`` and ``gradebooks/assignments/{UniqueID}
        [/scores[/{StudentID}]]``."""
        n = len(api)
        lower = [segment.lower() for segment in api]
        if n >= 3 and lower[1] == "assignments":  # by UniqueID
            unique_id = api[2]
            rest = lower[3:]

            def find():
                return self.assignment_by_uid(unique_id)
        else:
            number = _parse_int(api[1]) if n >= 2 else None
            if number is None:
                return None
            if n == 2:
                return "gradebooks", lambda p: _dumps(self.gradebook(number))
            if lower[2] != "assignments":
                return None
            if n == 3:
                return "assignments", lambda p: _dumps(self.assignments_of(number))
            assignment_number = _parse_int(api[3])
            if assignment_number is None:
                return None
            rest = lower[4:]

            def find():
                return self.assignment(number, assignment_number)
        if not rest:
            return "assignments", lambda p: _dumps(find())
        if rest[0] != "scores" or len(rest) > 2:
            return None
        if len(rest) == 1:
            return "scores", lambda p: _dumps(write_ops.score_rows(self.index, find()))
        student_id = _parse_int(rest[1])
        if student_id is None:
            return None
        return "scores", lambda p: _dumps([row for row in write_ops.score_rows(self.index, find())
                                           if _int_key(row.get("StudentID")) == student_id])

    def resolve_write(self, method: str, api: list[str]) -> tuple[str, WriteAction] | None:
        """``(route name, action)`` for a write request, or None (then 405 if a GET route matches, else 404).

        An action takes the query parameters and the raw body and returns ``(status, body)``."""
        if method != "POST" or not api:
            return None
        ix = self.index
        lower = [segment.lower() for segment in api]
        n = len(api)
        numbers = [_parse_int(segment) for segment in api]

        def run(operation: Callable[..., tuple[int, Any]], *args: Any) -> WriteAction:
            def action(params: dict[str, str], body: bytes) -> tuple[int, bytes]:
                try:
                    payload: Any = write_ops.parse_json_body(body)
                except HttpError as exc:
                    payload = exc  # path ids are checked first (404), then the body
                with ix.lock:
                    resolved = [arg() if callable(arg) else arg for arg in args]
                    status, answer = operation(ix, *resolved, payload)
                return status, _dumps(answer)
            return action

        if lower[0] == "schools" and n == 3 and numbers[1] is not None and lower[2] == "insertstudent":
            return "InsertStudent", run(write_ops.insert_student, numbers[1])
        if lower[0] == "schools" and n == 5 and numbers[1] is not None and lower[2] == "students" \
                and numbers[3] is not None and lower[4] == "courserequests":
            return "InsertCourseRequest", run(write_ops.insert_course_request, numbers[1], numbers[3])
        if n == 2 and numbers[1] is not None and lower[0] in ("updatestudent", "updatestudentaddress", "insertcontact"):
            route, operation = {"updatestudent": ("UpdateStudent", write_ops.update_student),
                                "updatestudentaddress": ("UpdateStudentAddress", write_ops.update_student_address),
                                "insertcontact": ("InsertContact", write_ops.insert_contact)}[lower[0]]
            return route, run(operation, numbers[1])
        if n == 3 and lower[0] == "updatecontact" and numbers[1] is not None and numbers[2] is not None:
            return "UpdateContact", run(write_ops.update_contact, numbers[1], numbers[2])
        if lower[0] == "gradebooks":
            if n == 3 and numbers[1] is not None and lower[2] == "assignments":
                return "InsertAssignment", run(write_ops.insert_assignment, numbers[1])
            if n == 5 and numbers[1] is not None and lower[2] == "assignments" and numbers[3] is not None \
                    and lower[4] == "scores":
                gradebook, assignment = numbers[1], numbers[3]
                return "UpdateScores", run(write_ops.update_scores, lambda: self.assignment(gradebook, assignment))
            if n == 4 and lower[1] == "assignments" and lower[3] == "scores":
                unique_id = api[2]
                return "UpdateScores", run(write_ops.update_scores, lambda: self.assignment_by_uid(unique_id))
        return None

    # -- behaviour -----------------------------------------------------------------------------
    def page(self, route: str, rows: list[dict[str, Any]], params: Mapping[str, str]) -> list[dict[str, Any]]:
        """The rows of a list answer: the range asked for (unless ``route`` ignores paging), then the row cap."""
        paging = self.paging
        if route not in paging.unpaged_routes:
            rows = _page(rows, params)
        elif params.get("startingrecord") or params.get("endingrecord"):
            _page(rows, params)  # still 400 for a range that is not a number
        if paging.max_rows_per_request is not None:
            rows = rows[:paging.max_rows_per_request]
        return rows

    def gradebook(self, number: int) -> dict[str, Any]:
        return self.one(self.index.gradebook_by_number, number, f"Gradebook {number} was not found")

    def assignments_of(self, number: int) -> list[dict[str, Any]]:
        self.gradebook(number)
        return self.index.assignments_by_gradebook.get(number, [])

    def assignment(self, number: int, assignment_number: int) -> dict[str, Any]:
        self.gradebook(number)
        return self.one(self.index.assignment_by_key, (number, assignment_number),
                        f"Assignment {assignment_number} was not found in gradebook {number}")

    def assignment_by_uid(self, unique_id: str) -> dict[str, Any]:
        return self.one(self.index.assignment_by_uid, unique_id.upper(), f"Assignment {unique_id} was not found")

    def _student_lookup(self, school: int, rest: list[str]) -> tuple[str, int] | None:
        """``[id]`` or ``["sn", number]`` (path segments after ``students``) -> ``("id"|"sn", number)``."""
        if len(rest) == 1 and _parse_int(rest[0]) is not None:
            return "id", _parse_int(rest[0])  # type: ignore[return-value]
        if len(rest) == 2 and rest[0] == "sn" and _parse_int(rest[1]) is not None:
            return "sn", _parse_int(rest[1])  # type: ignore[return-value]
        return None

    def course_requests_of(self, school: int, lookup: tuple[str, int]) -> list[dict[str, Any]]:
        kind, number = lookup
        if kind == "sn":
            students = self.index.student_by_number.get((school, number), [])
            if not students:
                return []
            number = _int_key(students[0].get("StudentID"))
        return self.index.course_requests_by_student.get((school, number), [])

    def one_course_request(self, school: int, lookup: tuple[str, int], sequence: int) -> dict[str, Any]:
        for row in self.course_requests_of(school, lookup):
            if _int_key(row.get("SequenceNumber")) == sequence:
                return row
        who = f"student number {lookup[1]}" if lookup[0] == "sn" else f"student {lookup[1]}"
        raise HttpError(404, f"Course request {sequence} was not found for {who} at school {school}")

    def served_year(self, requested: str | None) -> int:
        """The school year a request with ``?DatabaseYear=requested`` reads: that year when the district offers
        it, else, silently, the district's default year (also for a missing or malformed value), as Aeries does."""
        year = _parse_int(requested) if requested is not None else None
        return year if year in self.index.available_years else self.index.database_year

    def system_info(self, requested_year: str | None = None) -> dict[str, Any]:
        info = self.index.info
        return {
            "AeriesVersion": info.get("AeriesVersion", ""),
            "DatabaseYear": school_year_label(self.served_year(requested_year)),
            "AvailableDatabaseYears": [school_year_label(year) for year in self.index.available_years],
            "LocalTimeZoneName": info.get("LocalTimeZoneName", "Pacific Standard Time"),
            "CurrentDateTime": _local_now().strftime("%Y-%m-%dT%H:%M:%S"),
        }

    @staticmethod
    def one(table: Mapping[Any, Any], key: Any, message: str) -> Any:
        found = table.get(key)
        if found is None:
            raise HttpError(404, message)
        return found

    def data_changes(self, area: str, numbers: list[int | None]) -> list[dict[str, Any]]:
        year, month, day, hour, minute = (int(x) for x in numbers)  # type: ignore[arg-type]
        try:
            since = datetime(year, month, day, hour, minute)
        except ValueError as exc:
            raise HttpError(400, f"The date and time are not valid: {exc}") from None
        return self.index.changes_since(area, since.strftime("%Y-%m-%dT%H:%M:%S"))


def _parse_int(text: str) -> int | None:
    text = text.strip()
    if not re.fullmatch(r"-?\d{1,12}", text):
        return None
    return int(text)


#: The list routes that take ``StartingRecord``/``EndingRecord`` in the emulator's API.
PAGED_ROUTES = ("students", "contacts", "classes", "section_students", "course_requests")
#: The routes whose answers ignore the paging parameters unless told otherwise. Aeries documents
#: ``StartingRecord``/``EndingRecord`` for the student endpoints only (support article 14000113683; the
#: Posh-AeriesApi client pages only ``Get-AeriesStudent``), so by default every other list answers whole.
DEFAULT_UNPAGED_ROUTES = ("contacts", "classes", "section_students", "course_requests")


@dataclass(frozen=True)
class PagingConfig:
    """How the emulator pages: ``unpaged_routes`` answer whole whatever the range asked; every list answer of a
    paged route is cut to ``max_rows_per_request`` rows (None: no cap)."""

    unpaged_routes: frozenset[str] = frozenset(DEFAULT_UNPAGED_ROUTES)
    max_rows_per_request: int | None = None

    @classmethod
    def build(cls, unpaged_routes: Any = None, max_rows_per_request: Any = None) -> PagingConfig:
        """From ``"contacts,classes"``, a list, ``"none"``/``""``/``[]`` (every route pages) or None (the default);
        ValueError naming a route that does not exist or a cap that is not a positive whole number."""
        if unpaged_routes is None:
            routes: frozenset[str] = frozenset(DEFAULT_UNPAGED_ROUTES)
        else:
            if isinstance(unpaged_routes, str):
                items = [] if unpaged_routes.strip().lower() == "none" else unpaged_routes.split(",")
            elif isinstance(unpaged_routes, (list, tuple, set, frozenset)):
                items = list(unpaged_routes)
            else:
                raise ValueError("unpaged_routes must be a comma-separated string or a list of route names")
            routes = frozenset(str(item).strip() for item in items if str(item).strip())
            unknown = sorted(routes - set(PAGED_ROUTES))
            if unknown:
                raise ValueError(f"unpaged_routes: unknown routes {unknown}; paged routes: {', '.join(PAGED_ROUTES)}")
        cap = max_rows_per_request
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
            raise ValueError(f"max_rows_per_request must be null or a whole number of at least 1, not {cap!r}")
        return cls(routes, cap)

    def to_json(self) -> dict[str, Any]:
        return {"unpaged_routes": sorted(self.unpaged_routes), "max_rows_per_request": self.max_rows_per_request}


def _page(rows: list[dict[str, Any]], params: Mapping[str, str]) -> list[dict[str, Any]]:
    """``StartingRecord``/``EndingRecord``: 1-based and inclusive; either may be left out."""
    start_text = params.get("startingrecord")
    end_text = params.get("endingrecord")
    if not start_text and not end_text:
        return rows
    try:
        start = int(start_text) if start_text else 1
        end = int(end_text) if end_text else len(rows)
    except ValueError:
        raise HttpError(400, "StartingRecord and EndingRecord must be whole numbers") from None
    start = max(start, 1)
    if end < start:
        return []
    return rows[start - 1:end]


class BackgroundServer:
    """Serving a :class:`SandboxHTTPServer` (``self._httpd``): ``start()`` from a daemon thread (tests),
    ``serve_forever()`` from the calling thread (the CLI); ``stop()`` closes the socket; a context manager."""

    thread_name = "sandbox-server"
    _httpd: SandboxHTTPServer

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def _url(self, host: str, path: str = "") -> str:
        host = "127.0.0.1" if host in ("", "0.0.0.0") else host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}{path}"

    def serve_forever(self) -> None:
        self._httpd.serve_forever(poll_interval=0.2)

    def start(self) -> Self:
        if getattr(self, "_thread", None) is None:
            self._thread = threading.Thread(target=self.serve_forever, name=self.thread_name, daemon=True)
            self._thread.start()
        return self

    def shutdown(self) -> None:
        """Stop serve_forever (from another thread); the socket stays open until :meth:`stop`."""
        self._httpd.shutdown()

    def stop(self) -> None:
        if getattr(self, "_thread", None) is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class EmulatorServer(BackgroundServer):
    """An emulator listening on ``host:port`` (0 = a free port), in this process.

    ``start()`` serves from a daemon thread (tests); ``serve_forever()`` serves from the calling thread
    (the CLI). ``url`` is the Aeries base URL with its path, e.g. ``http://127.0.0.1:8081/aeries``.

    :param certs: the certificates: a certs file path, its parsed JSON, or the list of entries.
    :param faults: a fault spec (``"429=0.1,latency=0.01"`` or a dict) active from the start.
    :param unpaged_routes: routes whose answers ignore ``StartingRecord``/``EndingRecord`` (names from
        :data:`PAGED_ROUTES`, a list or ``"contacts,classes"``; ``[]`` or ``"none"``: all page; None:
        :data:`DEFAULT_UNPAGED_ROUTES`). ``max_rows_per_request``: a row cap on every paged list answer.
    """

    thread_name = "aeries-emulator"

    def __init__(self, district: District, certs: Any, *, host: str = "127.0.0.1", port: int = 0,
                 base_path: str = "/aeries", faults: str | Mapping[str, Any] | None = None, fault_seed: int = 0,
                 access_log: bool = True, unpaged_routes: Any = None,
                 max_rows_per_request: int | None = None) -> None:
        injector = FaultInjector(FaultConfig(rates=parse_fault_spec(faults), seed=fault_seed))
        paging = PagingConfig.build(unpaged_routes, max_rows_per_request)
        self.app = EmulatorApp(district, load_certificates(certs), base_path=base_path, faults=injector,
                               access_log=access_log, paging=paging)
        self.host = host
        self._httpd = SandboxHTTPServer((host, port), self.app)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self._url(self.host, self.app.base_path)

    @property
    def faults(self) -> FaultInjector:
        return self.app.faults

    def stats(self) -> dict[str, Any]:
        return {**self.app.stats.snapshot(), "fault_config": self.app.faults.state()}

    def set_paging(self, unpaged_routes: Any = None, max_rows_per_request: int | None = None) -> dict[str, Any]:
        """Change how the server pages (see :class:`PagingConfig`; None: the default routes, no cap)."""
        self.app.paging = PagingConfig.build(unpaged_routes, max_rows_per_request)
        return self.app.paging.to_json()

    def writes(self) -> list[dict[str, Any]]:
        """The writes log: ``[{"seq", "time", "method", "path", "route", "cert", "body", "status", "fault"}]``."""
        return self.app.writes()

    def clear_writes(self) -> int:
        return self.app.clear_writes()
