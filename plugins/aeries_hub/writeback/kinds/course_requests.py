"""The ``course_requests`` write-back kind: each vendor row becomes an Aeries course request (table SSS) of a
student at a school, inserted unless Aeries (or an earlier row of the export) already has it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aeries_hub.aeries.collect import read_table
from aeries_hub.config_files import did_you_mean
from aeries_hub.writeback.kinds.base import Planned, Validated
from aeries_hub.writeback.records import ID, ROW, checked_rows, exported_records, field_checks, mapped, row, text
from aeries_hub.writeback.spec import Field, WriteBack, parse_fields, sftp_pattern

if TYPE_CHECKING:
    from aeries_hub.aeries.hook import AeriesHook
    from aeries_hub.staging import RunFolder

#: The Aeries security area of course requests (table SSS): Read to plan, "- Insert" to write.
COURSE_REQUESTS_AREA = "Student Scheduling Schedules (Course Requests)"
#: The StudentCourseRequestUpdate fields a write-back may set besides CourseID (SSS columns).
COURSE_REQUEST_FIELDS = ("SectionNumber", "PreferredTeacherNumber", "PreferredStaffID", "RejectCode", "AlternateTag",
                         "ActualPrimaryCourseID", "PermanentLockCode")
#: StudentCourseRequestUpdate fields that are numbers in Aeries.
_NUMBER_FIELDS = {"SectionNumber", "PreferredTeacherNumber", "PreferredStaffID"}


@dataclass(frozen=True)
class CourseRequests:
    """Course requests (Aeries table SSS): one per vendor row, for a student at a school and a course."""

    id: tuple[str, ...]  # the paths whose values, joined by "/", name the row in rejects and the report
    school: str  # path of the SchoolCode the request is for
    student: str  # path of the student's StudentID (or StudentNumber at that school: student_key)
    course: str  # path of the Aeries CourseID (CRS.CN)
    student_key: str = "StudentID"
    fields: tuple[Field, ...] = ()  # optional other SSS fields (AlternateTag, ...)


def course_requests_of(writeback: WriteBack) -> CourseRequests:
    """The ``course_requests`` section of a write-back of this kind."""
    assert isinstance(writeback.section, CourseRequests), writeback.kind
    return writeback.section


class CourseRequestsKind:
    key = "course_requests"
    record_kinds = {"course request": "course_requests"}
    new_id_name = ""  # no later write needs the id of an inserted request
    writable_fields: dict[str, tuple[str, ...]] = {"course_requests": ("CourseID", *COURSE_REQUEST_FIELDS)}
    security_areas = {"course request": COURSE_REQUESTS_AREA}

    def load(self, section: dict[str, Any], common: dict[str, Any], origin: dict[str, Any]) -> WriteBack:
        ids = section.get("id", [section["school"], section["student"], section["course"]])
        course_requests = CourseRequests(
            id=(ids,) if isinstance(ids, str) else tuple(ids), school=section["school"], student=section["student"],
            course=section["course"], student_key=section.get("student_key", "StudentID"),
            fields=parse_fields(section.get("fields") or {}),
        )
        pattern = sftp_pattern(origin, common["source"], common["format"])
        return WriteBack(**common, pattern=pattern, kind=self.key, section=course_requests)

    def problems(self, writeback: WriteBack) -> list[str]:
        problems = []
        for requested in course_requests_of(writeback).fields:
            if requested.name not in COURSE_REQUEST_FIELDS:
                problems.append(f"course_requests.fields.{requested.name}: not a field of an Aeries course request "
                                f"that a write-back may set{did_you_mean(requested.name, COURSE_REQUEST_FIELDS)} "
                                f"({', '.join(COURSE_REQUEST_FIELDS)})")
        return problems

    def written_fields(self, writeback: WriteBack) -> dict[str, dict[str, str]]:
        fields = course_requests_of(writeback).fields
        return {"course_requests": {"CourseID": "course_requests.course",
                                    **{f.name: f"course_requests.fields.{f.name}" for f in fields}}}

    def validate(self, writeback: WriteBack, run: RunFolder, fetched: dict) -> Validated:
        """Each row -> a course request (SchoolCode, StudentID or StudentNumber, CourseID and the extra fields); a
        row with a value missing or malformed is rejected before anything is read from Aeries."""
        import pandas as pd

        from aeries_hub.delivery.http import record_field
        from aeries_hub.quality import parse_checks

        spec = course_requests_of(writeback)
        fields = request_key_fields(writeback) + spec.fields
        rows: list[dict] = []
        unreadable: list[dict] = []
        for where, record in exported_records(writeback, run, fetched, unreadable):
            parts = [text(record_field(record, path)) for path in spec.id]
            record_id = "/".join(parts) if all(parts) else where
            rows.append(row(record, fields, record_id, where))
        frame = pd.DataFrame(rows, columns=[ID, ROW] + [f.name for f in fields])
        checks = parse_checks(field_checks(fields, "course request"), where=f"{writeback.path.name}: course_requests")
        accepted, rejects = checked_rows(run, frame, checks, "course_requests", unreadable)
        run.write_parquet("validated/course_requests.parquet", mapped(accepted, fields))
        return Validated(rejects, records=len(frame) + len(unreadable), accepted=len(accepted))

    def plan(self, writeback: WriteBack, hook: AeriesHook, run: RunFolder) -> Planned:
        requests = run.read_parquet("validated/course_requests.parquet").to_dict("records")
        schools = sorted({int(r["SchoolCode"]) for r in requests})
        # No requests: nothing to read (an empty school list would mean every school).
        aeries_students = read_table(hook, "students", school_codes=schools) if schools else []
        courses = read_table(hook, "courses") if schools else []
        existing = [request for school in schools for request in read_course_requests(hook, school)]
        plan = build_course_request_plan(writeback, requests, aeries_students, courses, existing)
        return Planned(plan, students_read=len({student["StudentID"] for student in aeries_students}))

    def id_field(self, write: dict) -> str | None:
        return None

    def inserted(self, writeback: WriteBack, write: dict, path: str, hook: AeriesHook,
                 rows_of: Callable[[str], list[dict]]) -> Any:
        parts = path.split("/")
        requests = read_course_requests(hook, int(parts[1]))
        return next((True for request in requests if str(request.get("StudentID")) == parts[3]
                     and text(request.get("CourseID")).upper() == str(write["body"]["CourseID"]).upper()), None)

    def not_stored(self, write: dict, answer: Any) -> list[str]:
        return []


def request_key_fields(writeback: WriteBack) -> tuple[Field, ...]:
    """The key of a course request as fields, each required and checked for its Aeries format."""
    spec = course_requests_of(writeback)
    return (
        Field(name="SchoolCode", path=spec.school, required=True, pattern=r"^\d{1,5}$"),
        Field(name=spec.student_key, path=spec.student, required=True, pattern=r"^\d{1,9}$"),
        Field(name="CourseID", path=spec.course, required=True, pattern=r"^\S.{0,5}$"),
    )


def read_course_requests(hook: AeriesHook, school: int) -> list[dict]:
    """Every course request (SSS row) of a school: ``GET schools/{sc}/scheduling/courserequests``, page by page,
    ending against a server that ignores the paging parameters or caps the rows per request (see
    :meth:`AeriesHook.get_paged`)."""
    return hook.get_paged(f"schools/{int(school)}/scheduling/courserequests", security_area=COURSE_REQUESTS_AREA,
                          key=("SchoolCode", "StudentID", "SequenceNumber"))


def build_course_request_plan(writeback: WriteBack, requests: list[dict], aeries_students: list[dict],
                              courses: list[dict], existing: list[dict]) -> list[dict]:
    """One entry per accepted row, in order: ``insert`` a request the student does not have at that school yet,
    ``unchanged`` for one Aeries (or an earlier row of this export) already has, ``rejected`` (with the reason,
    naming the row) when the student has no record at that school or the course is unknown or inactive. Pure."""
    spec = course_requests_of(writeback)
    by_key: dict[tuple[int, int], int] = {}  # (school, StudentID or StudentNumber) -> StudentID
    for student in aeries_students:
        key = student.get(spec.student_key)
        if key is not None and student.get("SchoolCode") is not None:
            by_key.setdefault((int(student["SchoolCode"]), int(key)), int(student["StudentID"]))
    catalogue = {text(c.get("ID")).upper(): c for c in courses}
    have = {(int(r["SchoolCode"]), int(r["StudentID"]), text(r.get("CourseID")).upper()): r for r in existing}
    planned: dict[tuple, str] = {}
    plan = []
    for request in requests:
        school, course_id = int(request["SchoolCode"]), request["CourseID"]
        number = int(request[spec.student_key])
        entry = {"record": request[ID], "row": request[ROW], "kind": "course request"}
        student_id = by_key.get((school, number))
        shown = f"student {number}" if spec.student_key == "StudentID" else f"student number {number}"
        if student_id is None:
            plan.append({**entry, "action": "rejected", "target": f"{shown} at school {school}",
                         "reason": f"{request[ID]}: {shown} has no record at school {school} in Aeries"})
            continue
        target = f"student {student_id} at school {school}"
        request_key = (school, student_id, course_id.upper())
        if request_key in have:
            plan.append({**entry, "action": "unchanged", "target": target, "body": {}, "changes": {},
                         "note": f"Aeries already has this request (sequence {have[request_key].get('SequenceNumber')})"})
            continue
        if request_key in planned:
            plan.append({**entry, "action": "unchanged", "target": target, "body": {}, "changes": {},
                         "note": f"the same request as {planned[request_key]}"})
            continue
        course = catalogue.get(course_id.upper())
        if course is None:
            padded = [c["ID"] for c in courses
                      if course_id.isdigit() and text(c.get("ID")).lstrip("0") == course_id.lstrip("0")]
            hint = f" (Aeries has '{padded[0]}': course IDs must match exactly)" if padded else ""
            plan.append({**entry, "action": "rejected", "target": target,
                         "reason": f"{request[ID]}: course '{course_id}' is not in Aeries' course catalogue{hint}"})
            continue
        if text(course.get("InactiveStatusCode")):
            plan.append({**entry, "action": "rejected", "target": target,
                         "reason": f"{request[ID]}: course '{course_id}' is inactive in Aeries"})
            continue
        body = {"CourseID": course["ID"]}
        for field in spec.fields:
            value = request[field.name]
            if value != "":
                body[field.name] = int(value) if field.name in _NUMBER_FIELDS and value.isdigit() else value
        planned[request_key] = request[ROW]
        plan.append({**entry, "action": "insert", "target": target,
                     "path": f"schools/{school}/students/{student_id}/courserequests", "body": body,
                     "changes": {k: [None, v] for k, v in body.items()}})
    return plan


KIND = CourseRequestsKind()
