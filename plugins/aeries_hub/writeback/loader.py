"""Write-back files (``include/writebacks/*.yml``): which vendor records become which Aeries writes.

Validated against ``include/schemas/writeback.schema.json``; every problem names the file and the key path.
Light on purpose: imported at DAG parse time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from aeries_hub.aeries.tables import TABLES
from aeries_hub.config_files import read_yaml, schema_problems
from aeries_hub.mapping.loader import MAPPING_SCHEMA, MappingError, Schedule, ValueSpec, value_spec
from aeries_hub.paths import SCHEMAS_DIR

WRITEBACK_SCHEMA = SCHEMAS_DIR / "writeback.schema.json"


@dataclass(frozen=True)
class Field:
    """An Aeries field and where its value is in a vendor record."""

    name: str
    path: str
    values: dict[str, str] | None = None  # vendor value -> Aeries value; others are rejected
    required: bool = False
    pattern: str | None = None


@dataclass(frozen=True)
class Contacts:
    source: str  # the path of the list of contacts in a vendor record
    match: tuple[str, ...]
    fields: tuple[Field, ...]
    #: How Aeries' side of a match field is read (a mapping's value spec over the Aeries contact); others: the field.
    aeries_match: dict[str, ValueSpec] = field(default_factory=dict)


#: The Aeries security area of course requests (table SSS): Read to plan, "- Insert" to write.
COURSE_REQUESTS_AREA = "Student Scheduling Schedules (Course Requests)"
#: The StudentCourseRequestUpdate fields a write-back may set besides CourseID (SSS columns).
COURSE_REQUEST_FIELDS = ("SectionNumber", "PreferredTeacherNumber", "PreferredStaffID", "RejectCode", "AlternateTag",
                         "ActualPrimaryCourseID", "PermanentLockCode")
#: What a write-back file writes: exactly one of these sections.
SECTIONS = ("students", "course_requests", "scores")
#: Where the vendor's export files come from: exactly one of these (``source.sftp`` or ``source.http``).
SOURCES = ("sftp", "http")
#: The Aeries security areas of the grade push: assignments (Read to plan, "- Update" to create one) and scores.
GRADEBOOK_AREA = "Gradebook Data"
SCORES_AREA = "Gradebook Scores"
#: The limits of one fetch from the vendor's server (source.<kind>.max_file_bytes, max_fetch_seconds): a larger
#: file is refused, a fetch (listing and every file) still running past the deadline is cut off.
DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024
DEFAULT_MAX_FETCH_SECONDS = 1800.0


@dataclass(frozen=True)
class Scores:
    """Gradebook scores (a grade push): one vendor row is one student's score on one assignment of one class.

    Only classes and students the outbound DAG ``delivered_by`` last delivered (its ``classes`` and ``rosters``
    snapshot) push scores; a class is an Aeries section (``organization_id`` = SchoolCode, ``code`` =
    CourseID-SectionNumber) and its scores go to the section's gradebook."""

    delivered_by: str  # the outbound DAG whose last delivery says which classes and roster rows the vendor has
    class_id: str  # paths of the columns of a row
    student: str
    assignment: str  # the vendor's assignment id, kept in the Aeries assignment's ExternalID
    score: str
    title: str = ""  # optional: matches an Aeries assignment's Description; the Description of a new one
    points_possible: str = ""  # optional: NumberCorrectPossible (and PointsPossible) of a new assignment
    date: str = ""  # optional: DateCompleted of the score (and DateDue of a new assignment)
    create_assignments: bool = False
    user_crosswalk: str = ""  # a crosswalk of the delivered_by mapping that renamed StudentIDs (vendor ids -> back)


@dataclass(frozen=True)
class CourseRequests:
    """Course requests (Aeries table SSS): one per vendor row, for a student at a school and a course."""

    id: tuple[str, ...]  # the paths whose values, joined by "/", name the row in rejects and the report
    school: str  # path of the SchoolCode the request is for
    student: str  # path of the student's StudentID (or StudentNumber at that school: student_key)
    course: str  # path of the Aeries CourseID (CRS.CN)
    student_key: str = "StudentID"
    fields: tuple[Field, ...] = ()  # optional other SSS fields (AlternateTag, ...)


@dataclass(frozen=True)
class Guard:
    """What a write-back may write (``allowed_fields`` per kind of record) and when a run needs approval."""

    allowed_fields: dict[str, tuple[str, ...]]
    max_students_changed: int = 50
    max_students_changed_percent: float = 10.0
    approval_timeout_hours: float = 24.0


#: The kinds of record of ``guard.allowed_fields`` each kind of write-back writes.
GUARDED_KINDS = {"students": ("students", "contacts"), "course_requests": ("course_requests",),
                 "scores": ("assignments", "scores")}


@dataclass(frozen=True)
class WriteBack:
    name: str
    path: Path
    title: str
    description: str
    schedule: Schedule | None
    aeries_conn_id: str
    sftp_conn_id: str  # source.sftp ("" with source.http)
    remote_dir: str
    pattern: str
    record_id: str = ""  # students: ...
    school: str = ""
    match: tuple[str, ...] = ()
    fields: tuple[Field, ...] = ()
    contacts: Contacts | None = None
    course_requests: CourseRequests | None = None
    scores: Scores | None = None
    format: str = "jsonl"  # of the export files: jsonl, or csv (delimited, with a header line)
    delimiter: str = ","
    quoting: str = "minimal"  # of a csv export: minimal (RFC 4180 quotes) or none (Xello's unquoted pipes)
    source: str = "sftp"  # sftp: a drop folder (sftp_conn_id, remote_dir, pattern); http: the vendor's HTTPS API
    http_conn_id: str = ""  # source.http: an http connection (as the vendor API deliveries use)
    endpoint: str = ""  # source.http: the path (after the connection's endpoint_prefix) that lists the exports
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES  # of each export file read from the source
    max_fetch_seconds: float = DEFAULT_MAX_FETCH_SECONDS  # the whole fetch: listing and every file
    enabled: bool = False
    guard: Guard = Guard(allowed_fields={})
    owner: str = "data-engineering"
    tags: tuple[str, ...] = ()

    @property
    def dag_id(self) -> str:
        return f"{self.name}_to_aeries"

    @property
    def kind(self) -> str:
        """What the file writes: ``students`` (with contacts), ``course_requests`` or ``scores``."""
        return "course_requests" if self.course_requests else "scores" if self.scores else "students"


def load_writeback(path: str | Path) -> WriteBack:
    """Read, validate and return the write-back in ``path``; raise MappingError naming what is wrong."""
    path = Path(path)
    where = path.name
    document = read_yaml(path, shown=where, error=MappingError)
    problems = schema_problems(document, _validator(), where)
    if isinstance(document, dict):
        sections = [key for key in SECTIONS if key in document]
        if len(sections) != 1:  # the schema's oneOf says this less clearly ("'students' is required")
            top = f"{where}: (top): "
            has = "neither" if not sections else "both" if len(sections) == 2 else "all of them"
            problems = [f"{top}give exactly one of: {', '.join(SECTIONS)} (it has {has})"] + [
                line for line in problems if not (line.startswith(top) and any(key in line for key in SECTIONS))]
    source = document.get("source") if isinstance(document, dict) else None
    if isinstance(source, dict):
        kinds = [key for key in SOURCES if key in source]
        if len(kinds) != 1:  # the schema's oneOf says this less clearly ("'sftp' is required")
            at = f"{where}: source: "
            has = "neither" if not kinds else "both"
            problems = [line for line in problems if not (line.startswith(at) and any(key in line for key in SOURCES))]
            problems.append(f"{at}give exactly one of: {', '.join(SOURCES)} (it has {has})")
    if problems:
        raise MappingError("\n".join(problems))
    kind = "http" if "http" in document["source"] else "sftp"
    origin = document["source"][kind]
    common = {
        "name": document["name"],
        "path": path,
        "title": document.get("title", document["name"]),
        "description": document["description"],
        "schedule": Schedule(crons=(document["schedule"]["cron"],), timezone=document["schedule"]["timezone"])
        if document.get("schedule")
        else None,
        "aeries_conn_id": document["aeries"]["conn_id"],
        "source": kind,
        "sftp_conn_id": origin["conn_id"] if kind == "sftp" else "",
        "remote_dir": origin.get("remote_dir", ""),
        "http_conn_id": origin["conn_id"] if kind == "http" else "",
        "endpoint": origin.get("endpoint", ""),
        "format": origin.get("format", "jsonl"),
        "delimiter": origin.get("delimiter", ","),
        "quoting": origin.get("quoting", "minimal"),
        "max_file_bytes": origin.get("max_file_bytes", DEFAULT_MAX_FILE_BYTES),
        "max_fetch_seconds": float(origin.get("max_fetch_seconds", DEFAULT_MAX_FETCH_SECONDS)),
        "enabled": document.get("enabled", False),
        "guard": Guard(**{k: v for k, v in document["guard"].items() if k != "allowed_fields"}, allowed_fields={
            kind: tuple(names) for kind, names in document["guard"]["allowed_fields"].items()}),
        "owner": document.get("owner", "data-engineering"),
        "tags": tuple(document.get("tags", ())),
    }
    if "scores" in document:
        spec = document["scores"]
        scores = Scores(
            delivered_by=spec["delivered_by"], class_id=spec["class"], student=spec["student"],
            assignment=spec["assignment"], score=spec["score"], title=spec.get("title", ""),
            points_possible=spec.get("points_possible", ""), date=spec.get("date", ""),
            create_assignments=spec.get("create_assignments", False),
            user_crosswalk=spec.get("user_crosswalk", ""),
        )
        writeback = WriteBack(**common, pattern=_pattern(origin, kind, common["format"]), scores=scores)
        _check_scores(writeback, scores, where)
        _check_allowed_fields(writeback, where)
        return writeback
    if "course_requests" in document:
        spec = document["course_requests"]
        ids = spec.get("id", [spec["school"], spec["student"], spec["course"]])
        course_requests = CourseRequests(
            id=(ids,) if isinstance(ids, str) else tuple(ids), school=spec["school"], student=spec["student"],
            course=spec["course"], student_key=spec.get("student_key", "StudentID"),
            fields=_fields(spec.get("fields") or {}),
        )
        writeback = WriteBack(**common, pattern=_pattern(origin, kind, common["format"]), course_requests=course_requests)
        _check_course_requests(writeback, course_requests, where)
        _check_allowed_fields(writeback, where)
        return writeback
    students = document["students"]
    fields = _fields(students["fields"])
    contacts = students.get("contacts")
    writeback = WriteBack(
        **common,
        pattern=_pattern(origin, kind, "jsonl"),
        record_id=students["id"],
        school=students["school"],
        match=tuple(students["match"]),
        fields=fields,
        contacts=Contacts(source=contacts["from"], match=tuple(contacts["match"]), fields=_fields(contacts["fields"]),
                          aeries_match={name: value_spec(spec)
                                        for name, spec in (contacts.get("aeries_match") or {}).items()})
        if contacts
        else None,
    )
    _check(writeback, where)
    _check_allowed_fields(writeback, where)
    return writeback


def _pattern(spec: dict[str, Any], kind: str, format: str) -> str:
    """Which files of the SFTP folder to read ("" for source.http: every file the API lists)."""
    if kind != "sftp":
        return ""
    return spec.get("pattern", "*.jsonl" if format == "jsonl" else "*.csv")


def _fields(spec: dict[str, Any]) -> tuple[Field, ...]:
    result = []
    for name, value in spec.items():
        if isinstance(value, str):
            value = {"path": value}
        result.append(Field(name=name, path=value["path"], values=value.get("values"),
                            required=value.get("required", False), pattern=value.get("pattern")))
    return tuple(result)


def _source_problems(writeback: WriteBack, where: str) -> list[str]:
    problems = []
    if writeback.format == "jsonl" and writeback.delimiter != ",":
        problems.append(f"{where}: source.{writeback.source}.delimiter: only for format csv")
    if writeback.format == "jsonl" and writeback.quoting != "minimal":
        problems.append(f"{where}: source.{writeback.source}.quoting: only for format csv")
    return problems


def _check_course_requests(writeback: WriteBack, spec: CourseRequests, where: str) -> None:
    problems = []
    for requested in spec.fields:
        if requested.name not in COURSE_REQUEST_FIELDS:
            problems.append(f"{where}: course_requests.fields.{requested.name}: not a field of an Aeries course request "
                            f"that a write-back may set ({', '.join(COURSE_REQUEST_FIELDS)})")
    problems += _source_problems(writeback, where)
    if problems:
        raise MappingError("\n".join(problems))


def _check_scores(writeback: WriteBack, spec: Scores, where: str) -> None:
    problems = []
    if spec.create_assignments and not spec.points_possible:
        problems.append(f"{where}: scores.points_possible: required with create_assignments: true "
                        "(a new Aeries assignment needs its NumberCorrectPossible)")
    if spec.user_crosswalk and not spec.delivered_by.startswith("aeries_to_"):
        problems.append(f"{where}: scores.user_crosswalk: only for scores.delivered_by an outbound DAG "
                        f"(aeries_to_<mapping>), not {spec.delivered_by!r}")
    problems += _source_problems(writeback, where)
    if problems:
        raise MappingError("\n".join(problems))


def _check(writeback: WriteBack, where: str) -> None:
    problems = []
    aeries_student = set(TABLES["students"].column_names) | {"BirthDate"}  # InsertStudent's name for Birthdate
    names = [f.name for f in writeback.fields]
    for student_field in writeback.fields:
        if student_field.name not in aeries_student:
            problems.append(f"{where}: students.fields.{student_field.name}: not a field of an Aeries student")
    for key in writeback.match:
        if key not in names:
            problems.append(f"{where}: students.match: {key!r} is not one of students.fields ({', '.join(names)})")
    if writeback.contacts:
        aeries_contact = set(TABLES["contacts"].column_names)
        contact_names = [f.name for f in writeback.contacts.fields]
        for field in writeback.contacts.fields:
            if field.name not in aeries_contact:
                problems.append(f"{where}: students.contacts.fields.{field.name}: not a field of an Aeries contact")
        for key in writeback.contacts.match:
            if key not in contact_names:
                problems.append(f"{where}: students.contacts.match: {key!r} is not one of students.contacts.fields")
        for key, spec in writeback.contacts.aeries_match.items():
            at = f"{where}: students.contacts.aeries_match.{key}"
            if key not in writeback.contacts.match:
                problems.append(f"{at}: {key!r} is not one of students.contacts.match")
            if spec.kind not in ("source", "first_of"):
                problems.append(f"{at}: give source or first_of (the Aeries contact's columns), not {spec.kind}")
                continue
            for column in columns_read(spec):
                if column not in aeries_contact:
                    problems.append(f"{at}: {column!r} is not a field of an Aeries contact")
    if problems:
        raise MappingError("\n".join(problems))


def columns_read(spec: ValueSpec) -> list[str]:
    """The columns a source or first_of value reads."""
    items = spec.argument if spec.kind == "first_of" else (spec.argument,)
    return [item if isinstance(item, str) else item.argument for item in items]


def written_fields(writeback: WriteBack) -> dict[str, dict[str, str]]:
    """Per kind of record (``guard.allowed_fields``' keys), each Aeries field the write-back writes and the key of
    its file that makes it write it."""
    if writeback.scores:
        spec = writeback.scores
        scores = {"NumberCorrect": "scores.score", **({"DateCompleted": "scores.date"} if spec.date else {})}
        assignments = {}
        if spec.create_assignments:
            assignments = {name: "scores.create_assignments"
                           for name in ("Description", "ExternalID", "NumberCorrectPossible", "PointsPossible")}
            assignments.update({"DateDue": "scores.date"} if spec.date else {})
        return {"assignments": assignments, "scores": scores}
    if writeback.course_requests:
        fields = writeback.course_requests.fields
        return {"course_requests": {"CourseID": "course_requests.course",
                                    **{f.name: f"course_requests.fields.{f.name}" for f in fields}}}
    contacts = writeback.contacts.fields if writeback.contacts else ()
    return {"students": {f.name: f"students.fields.{f.name}" for f in writeback.fields},
            "contacts": {f.name: f"students.contacts.fields.{f.name}" for f in contacts}}


def _check_allowed_fields(writeback: WriteBack, where: str) -> None:
    """Every field the write-back writes must be in ``guard.allowed_fields`` of its kind of record."""
    allowed = writeback.guard.allowed_fields
    kinds = GUARDED_KINDS[writeback.kind]
    problems = [f"{where}: guard.allowed_fields.{kind}: this write-back writes {writeback.kind}, whose records are "
                f"{', '.join(kinds)}" for kind in allowed if kind not in kinds]
    for kind, fields in written_fields(writeback).items():
        for name, key in fields.items():
            if name not in allowed.get(kind, ()):
                problems.append(f"{where}: {key}: field {name} is not in guard.allowed_fields.{kind} (the {kind} "
                                f"fields this write-back may write: {', '.join(allowed.get(kind, ())) or 'none'}); "
                                "add it there only if the write-back must write it")
    if problems:
        raise MappingError("\n".join(problems))


@lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    mapping_schema = json.loads(MAPPING_SCHEMA.read_text())  # aeries_match values are a mapping's values
    registry = Registry().with_resource(mapping_schema["$id"], Resource.from_contents(
        mapping_schema, default_specification=DRAFT202012))
    return Draft202012Validator(json.loads(WRITEBACK_SCHEMA.read_text()), registry=registry)
