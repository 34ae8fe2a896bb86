"""Certificates and the security areas they grant: what a request may read and write.

Aeries gives each API certificate security areas (``"Student Data"``: Read) and write permissions
(``"Student Data - Insert"``); field level security denies single fields of a write (:func:`load_certificates`).
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any, Mapping, NamedTuple

from aeries_sandbox.emulator.process import read_secrets_file
from aeries_sandbox.emulator.write_fields import CONTACT_FIELDS, STUDENT_FIELDS

__all__ = [
    "SECURITY_AREAS",
    "WRITE_PERMISSIONS",
    "READ_AREAS",
    "WRITE_AREAS",
    "normalise_area",
    "Certificate",
    "CertificateError",
    "load_certificates",
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
    "programs": "Student Programs",
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
    "Gradebook Data", "Gradebook Scores", COURSE_REQUESTS_AREA, "Student Programs",
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


_CERT_SHAPE = re.compile(r"[A-Za-z0-9]{32}")


class CertificateError(ValueError):
    """The certificates configuration is unusable (the message never contains a certificate)."""


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
    areas = {"Student Data": STUDENT_FIELDS, "Contacts": CONTACT_FIELDS}
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
