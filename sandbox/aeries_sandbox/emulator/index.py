"""The served district, indexed by school and key once (:class:`DistrictIndex`), and the changes the writes make.

Everything a request needs is indexed when the server starts, so a request costs O(page): a dict lookup, a list
slice and one ``json.dumps`` of the page.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right, insort
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping

from aeries_sandbox.emulator.district import TABLES, District, int_key
from aeries_sandbox.emulator.errors import HttpError
from aeries_sandbox.emulator.http import json_bytes
from aeries_sandbox.emulator.records import Compactor

__all__ = ["DistrictIndex", "STUDENT_CHANGE_AREAS", "local_now"]


#: The areas of ``StudentDataChanges``: a change in any of them is logged with the student's keys.
STUDENT_CHANGE_AREAS = {"student", "contact", "class", "enrollment", "program", "test"}
_CHANGE_KEYS = {
    "student": ("StudentID", "SchoolCode", "StudentNumber"),
    "staff": ("ID",),
    "course": ("ID",),
    "section": ("SchoolCode", "SectionNumber"),
    "section_roster": ("SchoolCode", "SectionNumber"),
}


class DistrictIndex:
    """The district, indexed by school and key once, so that every request is O(page)."""

    def __init__(self, district: District) -> None:
        district = _compacted(district)
        info = district.info
        self.info = info
        self.database_year = district.database_year
        self.available_years = district.available_years
        self.schools = sorted(district.schools, key=lambda s: int_key(s.get("SchoolCode")))
        self.school_by_code = {int_key(s.get("SchoolCode")): s for s in self.schools}
        # schools/{sc}/terms answers the school's Terms as they are, without a SchoolCode: aeripy's Term model
        # (PyPI aeripy 0.2.16, written against Aeries' demo server) takes exactly those fields
        self.terms_by_school = {code: list(school.get("Terms") or []) for code, school in self.school_by_code.items()}

        def per_school(rows: list[dict[str, Any]], sort_key: Callable[[dict[str, Any]], Any]) -> dict[Any, list[dict[str, Any]]]:
            grouped: dict[Any, list[dict[str, Any]]] = {}
            for row in rows:
                grouped.setdefault(int_key(row.get("SchoolCode")), []).append(row)
            for group in grouped.values():
                group.sort(key=sort_key)
            return grouped

        def group_by(groups: dict[Any, list[dict[str, Any]]], field: str) -> dict[tuple[Any, Any], list[dict[str, Any]]]:
            index: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
            for school, rows in groups.items():
                for row in rows:
                    index.setdefault((school, int_key(row.get(field))), []).append(row)
            return index

        def id_seq(row: dict[str, Any]) -> tuple[Any, Any]:
            return (int_key(row.get("StudentID")), int_key(row.get("SequenceNumber")))

        self.students = per_school(district.students,
                                   lambda r: (int_key(r.get("StudentID")), int_key(r.get("StudentNumber"))))
        self.student_by_id = group_by(self.students, "StudentID")
        self.student_by_grade = group_by(self.students, "Grade")
        self.student_by_number = group_by(self.students, "StudentNumber")
        self.contacts = per_school(district.contacts, id_seq)
        self.contacts_by_student = group_by(self.contacts, "StudentID")
        self.rosters = per_school(district.rosters, id_seq)
        self.rosters_by_student = group_by(self.rosters, "StudentID")
        self.rosters_by_section = group_by(self.rosters, "SectionNumber")
        self.teachers = per_school(district.teachers, lambda r: int_key(r.get("TeacherNumber")))
        self.teacher_by_number = {key: rows[0] for key, rows in group_by(self.teachers, "TeacherNumber").items()}
        self.teachers_by_staff: dict[Any, list[dict[str, Any]]] = {}
        for rows in self.teachers.values():
            for row in rows:
                for field in ("StaffID1", "StaffID2", "StaffID3"):
                    staff_id = int_key(row.get(field))
                    if staff_id:
                        self.teachers_by_staff.setdefault(staff_id, []).append(row)
        self.sections = per_school(district.sections, lambda r: int_key(r.get("SectionNumber")))
        self.section_by_number = {key: rows[0] for key, rows in group_by(self.sections, "SectionNumber").items()}
        self.staff = sorted(district.staff, key=lambda r: int_key(r.get("ID")))
        self.staff_by_id = {int_key(r.get("ID")): r for r in self.staff}
        self.courses = sorted(district.courses, key=lambda r: str(r.get("ID")))
        self.course_by_id = {str(r.get("ID")).upper(): r for r in self.courses}
        # gradebooks (GBK), their assignments (GBA) and scores (GBS)
        self.gradebooks = sorted(district.gradebooks, key=lambda r: int_key(r.get("GradebookNumber")))
        self.gradebook_by_number = {int_key(g.get("GradebookNumber")): g for g in self.gradebooks}
        self.gradebooks_by_section: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
        self.gradebooks_by_teacher: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
        self.gradebooks_by_staff: dict[Any, list[dict[str, Any]]] = {}
        for gradebook in self.gradebooks:
            school = int_key(gradebook.get("SchoolCode"))
            for section in gradebook.get("Sections") or []:
                key = (int_key(section.get("SchoolCode", school)), int_key(section.get("SectionNumber")))
                self.gradebooks_by_section.setdefault(key, []).append(gradebook)
            teacher_key = (school, int_key(gradebook.get("TeacherNumber")))
            self.gradebooks_by_teacher.setdefault(teacher_key, []).append(gradebook)
            teacher = self.teacher_by_number.get(teacher_key)
            for field in ("StaffID1", "StaffID2", "StaffID3"):
                staff_id = int_key((teacher or {}).get(field))
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
        # student programs: Aeries keeps them by student (PGM.PID and the GTE, FOF, CSE, FRE tables), not by school
        self.programs_by_student: dict[Any, list[dict[str, Any]]] = {}
        for row in district.programs:
            self.programs_by_student.setdefault(int_key(row.get("StudentID")), []).append(row)
        # district-wide lookups the writes need
        self.student_records: dict[Any, list[dict[str, Any]]] = {}
        self.state_student_ids: dict[str, Any] = {}
        for rows in self.students.values():
            for row in rows:
                self._index_student_id(row)
        self.max_student_id = max((k for k in self.student_records if isinstance(k, int)), default=0)
        self.max_student_number = {school: max((int_key(r.get("StudentNumber")) for r in rows
                                                if isinstance(int_key(r.get("StudentNumber")), int)), default=0)
                                   for school, rows in self.students.items()}
        self.contacts_by_id: dict[Any, list[dict[str, Any]]] = {}
        for rows in self.contacts.values():
            for row in rows:
                self.contacts_by_id.setdefault(int_key(row.get("StudentID")), []).append(row)
        #: held by every write while it validates and changes the district (and by readers of the change log)
        self.lock = threading.RLock()
        # change log: area -> (sorted ChangedAt values, keys in the same order)
        self.changes: dict[str, tuple[list[str], list[dict[str, Any]]]] = {}
        for entry in sorted(district.data_changes, key=lambda e: str(e.get("ChangedAt", ""))):
            area = str(entry.get("area", "")).lower()
            fields = _CHANGE_KEYS.get("student" if area in STUDENT_CHANGE_AREAS else area)
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
                    body = json_bytes(build())
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
        changed = local_now().strftime("%Y-%m-%dT%H:%M:%S")
        fields = _CHANGE_KEYS["student" if area in STUDENT_CHANGE_AREAS else area]
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
        student_id = int_key(row.get("StudentID"))
        self.student_records.setdefault(student_id, []).append(row)
        state_id = str(row.get("StateStudentID") or "").strip()
        if state_id:
            self.state_student_ids.setdefault(state_id, student_id)

    def add_student(self, record: dict[str, Any]) -> None:
        school, student_id = int_key(record["SchoolCode"]), int_key(record["StudentID"])
        insort(self.students.setdefault(school, []), record, key=_student_key)
        insort(self.student_by_id.setdefault((school, student_id), []), record, key=_student_key)
        insort(self.student_by_grade.setdefault((school, int_key(record.get("Grade"))), []), record, key=_student_key)
        insort(self.student_by_number.setdefault((school, int_key(record.get("StudentNumber"))), []), record,
               key=_student_key)
        self._index_student_id(record)
        if isinstance(student_id, int):
            self.max_student_id = max(self.max_student_id, student_id)

    def replace_student(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        """Put ``new`` (an updated copy) wherever ``old`` is indexed; a new Grade moves it between grade lists."""
        school, student_id = int_key(old["SchoolCode"]), int_key(old["StudentID"])
        for rows in (self.students.get(school, []), self.student_by_id.get((school, student_id), []),
                     self.student_by_number.get((school, int_key(old.get("StudentNumber"))), []),
                     self.student_records.get(student_id, [])):
            _replace(rows, old, new)
        old_grade, new_grade = int_key(old.get("Grade")), int_key(new.get("Grade"))
        if old_grade == new_grade:
            _replace(self.student_by_grade.get((school, old_grade), []), old, new)
        else:
            rows = self.student_by_grade.get((school, old_grade), [])
            rows[:] = [r for r in rows if r is not old]
            insort(self.student_by_grade.setdefault((school, new_grade), []), new, key=_student_key)

    def add_contact(self, record: dict[str, Any]) -> None:
        school, student_id = int_key(record["SchoolCode"]), int_key(record["StudentID"])
        insort(self.contacts.setdefault(school, []), record, key=_id_seq)
        insort(self.contacts_by_student.setdefault((school, student_id), []), record, key=_id_seq)
        insort(self.contacts_by_id.setdefault(student_id, []), record, key=_id_seq)

    def replace_contact(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        school, student_id = int_key(old["SchoolCode"]), int_key(old["StudentID"])
        for rows in (self.contacts.get(school, []), self.contacts_by_student.get((school, student_id), []),
                     self.contacts_by_id.get(student_id, [])):
            _replace(rows, old, new)

    def _index_assignment(self, assignment: dict[str, Any]) -> None:
        gradebook = int_key(assignment.get("GradebookNumber"))
        insort(self.assignments_by_gradebook.setdefault(gradebook, []), assignment, key=_assignment_key)
        self.assignment_by_key[(gradebook, int_key(assignment.get("AssignmentNumber")))] = assignment
        if assignment.get("UniqueID"):
            self.assignment_by_uid[str(assignment["UniqueID"]).upper()] = assignment

    def add_assignment(self, assignment: dict[str, Any]) -> None:
        self._index_assignment(assignment)

    def set_score(self, row: dict[str, Any]) -> None:
        key = (int_key(row.get("GradebookNumber")), int_key(row.get("AssignmentNumber")))
        self.scores.setdefault(key, {})[int_key(row.get("StudentID"))] = row

    def replace_schedule(self, school: Any, student_id: Any, rows: list[dict[str, Any]]) -> None:
        """The student's class schedule (SEC rows) at ``school`` becomes ``rows``; logs a ``class`` change of the
        student and a ``section_roster`` change of every section the student joined or left."""
        old = self.rosters_by_student.get((school, student_id), [])
        sections = {int_key(r.get("SectionNumber")) for r in old} ^ {int_key(r.get("SectionNumber")) for r in rows}
        kept = [r for r in self.rosters.get(school, []) if int_key(r.get("StudentID")) != student_id]
        self.rosters[school] = sorted(kept + rows, key=_id_seq)
        self.rosters_by_student[(school, student_id)] = sorted(rows, key=_id_seq)
        for (code, _number), members in list(self.rosters_by_section.items()):
            if code == school:
                members[:] = [r for r in members if int_key(r.get("StudentID")) != student_id]
        for row in rows:
            insort(self.rosters_by_section.setdefault((school, int_key(row.get("SectionNumber"))), []), row,
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
        school, student_id = int_key(record["SchoolCode"]), int_key(record["StudentID"])
        insort(self.course_requests.setdefault(school, []), record, key=_id_seq)
        insort(self.course_requests_by_student.setdefault((school, student_id), []), record, key=_id_seq)


def _compacted(district: District) -> District:
    """The district with every row a :class:`~aeries_sandbox.emulator.records.Record` (a loaded district's
    already are; a generated one's are dicts): less than half the memory, the same answers."""
    compactor = Compactor()
    tables = {name: compactor.rows(getattr(district, name)) for name in TABLES if name != "data_changes"}
    return District(info=district.info, data_changes=district.data_changes, **tables)


def _student_key(row: Mapping[str, Any]) -> tuple[Any, Any]:
    return (int_key(row.get("StudentID")), int_key(row.get("StudentNumber")))


def _id_seq(row: Mapping[str, Any]) -> tuple[Any, Any]:
    return (int_key(row.get("StudentID")), int_key(row.get("SequenceNumber")))


def _assignment_key(row: Mapping[str, Any]) -> tuple[Any, Any]:
    return (int_key(row.get("GradebookNumber")), int_key(row.get("AssignmentNumber")))


def _replace(rows: list[dict[str, Any]], old: dict[str, Any], new: dict[str, Any]) -> None:
    for position, row in enumerate(rows):
        if row is old:
            rows[position] = new
            return


def local_now() -> datetime:
    try:
        from zoneinfo import ZoneInfo

        return datetime.now(ZoneInfo("America/Los_Angeles")).replace(tzinfo=None)
    except Exception:  # no tz database: Pacific Standard Time, near enough
        return datetime.now(timezone(timedelta(hours=-8))).replace(tzinfo=None)
