"""The read routes (GET): system info, schools, terms, students, contacts, classes, teachers, sections, staff,
courses and course requests; gradebooks and data changes are their own modules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from aeries_sandbox.emulator.district import int_key, school_year_label
from aeries_sandbox.emulator.errors import HttpError
from aeries_sandbox.emulator.http import json_bytes
from aeries_sandbox.emulator.index import local_now
from aeries_sandbox.emulator.routes.common import one, parse_int
from aeries_sandbox.emulator.routes.data_changes import DATA_CHANGE_AREAS, resolve_data_changes
from aeries_sandbox.emulator.routes.gradebooks import resolve_gradebooks

if TYPE_CHECKING:  # pragma: no cover
    from aeries_sandbox.emulator.app import EmulatorApp

__all__ = ["resolve_read", "student_lookup", "course_requests_of", "one_course_request", "programs_of", "served_year",
           "system_info"]


def resolve_read(app: EmulatorApp, api: list[str]) -> tuple[str, Callable[[dict[str, str]], bytes]] | None:
    """``(route name, action)`` for the path segments after ``api/v5``, or None (404)."""
    if not api:
        return None
    head = api[0].lower()
    n = len(api)
    ix = app.index
    if head == "systeminfo" and n == 1:
        return "systeminfo", lambda p: json_bytes(system_info(app, p.get("databaseyear")))
    if head == "schools":
        if n == 1:
            return "schools", lambda p: ix.cached("schools", lambda: ix.schools)
        school = parse_int(api[1])
        if school is None:
            return None
        if n == 2:
            return "schools", lambda p: json_bytes(one(ix.school_by_code, school, f"School {school} was not found"))
        kind = api[2].lower()
        rest = [s.lower() for s in api[3:]]
        if kind == "students" and rest and rest[-1] == "extended":  # same records, more fields in real Aeries
            rest, api, n = rest[:-1], api[:-1], n - 1
        if kind == "terms" and n == 3:
            return "terms", lambda p: json_bytes(ix.terms_by_school.get(school, []))
        if kind == "students" and len(rest) >= 2 and rest[-2] == "courserequests":
            sequence = parse_int(api[-1])
            if sequence is None:
                return None
            lookup = student_lookup(school, rest[:-2])
            return None if lookup is None else ("course_requests", lambda p: json_bytes(one_course_request(
                app, school, lookup, sequence)))
        if kind == "students" and rest and rest[-1] == "courserequests":
            lookup = student_lookup(school, rest[:-1])
            return None if lookup is None else ("course_requests", lambda p: json_bytes(app.page(
                "course_requests", course_requests_of(app, school, lookup), p)))
        if kind == "students" and len(rest) == 2 and rest[1] == "programs":
            sid = parse_int(api[3])
            return None if sid is None else ("programs", lambda p: json_bytes(programs_of(app, school, sid, p.get("code"))))
        if kind == "scheduling" and n == 4 and rest[0] == "courserequests":
            return "course_requests", lambda p: json_bytes(app.page("course_requests", ix.course_requests.get(school, []), p))
        if kind == "students":
            if n == 3:
                return "students", lambda p: json_bytes(app.page("students", ix.students.get(school, []), p))
            if n == 4:
                sid = parse_int(api[3])
                return None if sid is None else ("students", lambda p: json_bytes(app.page("students", ix.student_by_id.get((school, sid), []), p)))
            if n == 5 and rest[0] in ("grade", "sn"):
                value = parse_int(api[4])
                table = ix.student_by_grade if rest[0] == "grade" else ix.student_by_number
                return None if value is None else ("students", lambda p: json_bytes(app.page("students", table.get((school, value), []), p)))
            return None
        if kind == "contacts":
            if n == 3:
                return "contacts", lambda p: json_bytes(app.page("contacts", ix.contacts.get(school, []), p))
            if n == 4:
                sid = parse_int(api[3])
                # Aeries answers every contact of the student, whatever their school (support article 14000166308)
                return None if sid is None else ("contacts", lambda p: json_bytes(app.page("contacts", ix.contacts_by_id.get(sid, []), p)))
            return None
        if kind == "classes":
            if n == 3:
                return "classes", lambda p: json_bytes(app.page("classes", ix.rosters.get(school, []), p))
            if n == 4:
                sid = parse_int(api[3])
                return None if sid is None else ("classes", lambda p: json_bytes(app.page("classes", ix.rosters_by_student.get((school, sid), []), p)))
            return None
        if kind == "teachers":
            if n == 3:
                return "teachers", lambda p: json_bytes(ix.teachers.get(school, []))
            if n == 4:
                number = parse_int(api[3])
                return None if number is None else ("teachers", lambda p: json_bytes(one(
                    ix.teacher_by_number, (school, number), f"Teacher {number} was not found at school {school}")))
            return None
        if kind == "sections":
            if n == 3:
                return "sections", lambda p: json_bytes(ix.sections.get(school, []))
            number = parse_int(api[3])
            if number is None:
                return None
            if n == 4:
                return "sections", lambda p: json_bytes(one(
                    ix.section_by_number, (school, number), f"Section {number} was not found at school {school}"))
            if n == 5 and rest[1] == "students":
                return "section_students", lambda p: json_bytes(app.page("section_students", ix.rosters_by_section.get((school, number), []), p))
            if n == 5 and rest[1] == "gradebooks":
                return "gradebooks", lambda p: json_bytes(ix.gradebooks_by_section.get((school, number), []))
            return None
        return None
    if head == "staff":
        if n == 1:
            return "staff", lambda p: ix.cached("staff", lambda: ix.staff)
        staff_id = parse_int(api[1])
        if staff_id is None:
            return None
        if n == 2:
            return "staff", lambda p: json_bytes(one(ix.staff_by_id, staff_id, f"Staff {staff_id} was not found"))
        if n == 3 and api[2].lower() == "teachers":
            return "teachers", lambda p: json_bytes(ix.teachers_by_staff.get(staff_id, []))
        if n == 3 and api[2].lower() == "gradebooks":
            return "gradebooks", lambda p: json_bytes(ix.gradebooks_by_staff.get(staff_id, []))
        return None
    if head == "gradebooks":
        return resolve_gradebooks(app, api)
    if head == "courses":
        if n == 1:
            return "courses", lambda p: ix.cached("courses", lambda: ix.courses)
        if n == 2:
            course_id = api[1]
            return "courses", lambda p: json_bytes(one(ix.course_by_id, course_id.upper(),
                                                        f"Course {course_id} was not found"))
        return None
    if head in DATA_CHANGE_AREAS:
        return resolve_data_changes(app, head, api)
    return None


def student_lookup(school: int, rest: list[str]) -> tuple[str, int] | None:
    """``[id]`` or ``["sn", number]`` (path segments after ``students``) -> ``("id"|"sn", number)``."""
    if len(rest) == 1 and parse_int(rest[0]) is not None:
        return "id", parse_int(rest[0])  # type: ignore[return-value]
    if len(rest) == 2 and rest[0] == "sn" and parse_int(rest[1]) is not None:
        return "sn", parse_int(rest[1])  # type: ignore[return-value]
    return None


def programs_of(app: EmulatorApp, school: int, student_id: int, code: str | None) -> list[dict[str, Any]]:
    """The Programs end point: StudentID 0 gives the programs of every student of the school (support article
    14000113683, Programs), in StudentID order, a student's in Aeries' order; a StudentID gives that student's,
    whatever the school (as contacts: programs are kept by student). ``?code=`` keeps one ProgramCode, as Aeries'
    PowerShell client asks (github AeriesSoftware/Posh-AeriesApi, Get-AeriesStudentProgram's -Code)."""
    ix = app.index
    if student_id == 0:
        students = dict.fromkeys(int_key(row.get("StudentID")) for row in ix.students.get(school, []))
        rows = [row for sid in students for row in ix.programs_by_student.get(sid, [])]
    else:
        rows = ix.programs_by_student.get(student_id, [])
    if code is not None:
        rows = [row for row in rows if str(row.get("ProgramCode")).strip() == code.strip()]
    return rows


def course_requests_of(app: EmulatorApp, school: int, lookup: tuple[str, int]) -> list[dict[str, Any]]:
    kind, number = lookup
    if kind == "sn":
        students = app.index.student_by_number.get((school, number), [])
        if not students:
            return []
        number = int_key(students[0].get("StudentID"))
    return app.index.course_requests_by_student.get((school, number), [])


def one_course_request(app: EmulatorApp, school: int, lookup: tuple[str, int], sequence: int) -> dict[str, Any]:
    for row in course_requests_of(app, school, lookup):
        if int_key(row.get("SequenceNumber")) == sequence:
            return row
    who = f"student number {lookup[1]}" if lookup[0] == "sn" else f"student {lookup[1]}"
    raise HttpError(404, f"Course request {sequence} was not found for {who} at school {school}")


def served_year(app: EmulatorApp, requested: str | None) -> int:
    """The school year a request with ``?DatabaseYear=requested`` reads: that year when the district offers
    it, else, silently, the district's default year (also for a missing or malformed value), as Aeries does."""
    year = parse_int(requested) if requested is not None else None
    return year if year in app.index.available_years else app.index.database_year


def system_info(app: EmulatorApp, requested_year: str | None = None) -> dict[str, Any]:
    info = app.index.info
    return {
        "AeriesVersion": info.get("AeriesVersion", ""),
        "DatabaseYear": school_year_label(served_year(app, requested_year)),
        "AvailableDatabaseYears": [school_year_label(year) for year in app.index.available_years],
        "LocalTimeZoneName": info.get("LocalTimeZoneName", "Pacific Standard Time"),
        "CurrentDateTime": local_now().strftime("%Y-%m-%dT%H:%M:%S"),
    }
