"""The format of a write-back file (include/writebacks/*.yml) as pydantic models, the one definition of it:
plugins/aeries_hub/schemas/writeback.schema.json is written from :class:`WriteBackFile` (:func:`writeback_schema_document`,
by ``make docs``); a contact's ``aeries_match`` values are a mapping's values (mapping.schema.json).

The loader (:mod:`aeries_hub.writeback.loader`) validates with the written JSON Schema and each kind
(:mod:`aeries_hub.writeback.kinds`) reads its section; these models are read by ``make docs`` and the tests. As in
:mod:`aeries_hub.mapping.output_models`, a type named with ``TypeAliasType`` is one ``$defs`` entry of the file
(``fields``, ``quoting``, ...), every model is written inline where it is used.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, WithJsonSchema, model_validator
from typing_extensions import TypeAliasType

from aeries_hub.mapping.output_models import NAME_PATTERN, value
from aeries_hub.mapping.schema_models import SCHEMA_ID as MAPPING_SCHEMA_ID
from aeries_hub.schema_generator import ClosedModel, schema_document
from aeries_hub.writeback.spec import DEFAULT_MAX_FETCH_SECONDS, DEFAULT_MAX_FILE_BYTES

SCHEMA_ID = MAPPING_SCHEMA_ID.rsplit("/", 1)[0] + "/writeback.schema.json"
_Delimiter = Annotated[str, Field(min_length=1, max_length=1)]
_Format = Literal["jsonl", "csv"]
_Paths = Annotated[list[str], Field(min_length=1)]

quoting = TypeAliasType("quoting", Annotated[Literal["minimal", "none"], Field(description=(
    "How a csv export quotes its values, as the vendor writes them: minimal (a value holding the delimiter, a quote "
    "or a line break is between double quotes) or none (no value is quoted: a double quote is an ordinary "
    "character, as in Xello's pipe files). Read in the wrong way, a value starting with a double quote merges the "
    "rows after it."))])
max_file_bytes = TypeAliasType("max_file_bytes", Annotated[int, Field(ge=1, description=(
    "The largest export file read (bytes, default 256 MiB): a larger file is not fetched; the run reports it "
    "(quarantined) and goes on with the others."))])
max_fetch_seconds = TypeAliasType("max_fetch_seconds", Annotated[float, Field(gt=0, description=(
    "The deadline of a whole fetch (listing and every file, default 30 minutes): a server still sending past it "
    "(stalled, or trickling bytes) is cut off and the run fails naming it."))])
field_names = TypeAliasType("field_names", Annotated[list[str], Field(min_length=1, json_schema_extra={
    "uniqueItems": True})])
# The same types under other names, for a key named as its type that has a default (quoting: _Quoting = "minimal"):
# pydantic reads a model's annotations in the class, where the key's name already is its default.
_Quoting = quoting
_MaxFileBytes = max_file_bytes
_MaxFetchSeconds = max_fetch_seconds
#: A mapping's value (source or first_of with transform steps), checked against mapping.schema.json.
_MappingValue = Annotated[value, WithJsonSchema({"$ref": MAPPING_SCHEMA_ID + "#/$defs/value"})]


class FieldPath(ClosedModel):
    """Where an Aeries field's value is in a vendor record; written as the path alone when only it is given."""

    # One schema of both types, not a oneOf of text and object: the object's keywords pass any text, and an
    # unknown key's error names the key (a oneOf's would be "is not of type 'string'").
    model_config = ConfigDict(json_schema_extra={"type": ["string", "object"]})

    path: str = Field(description="Where the value is in a vendor record.")
    values: dict[str, str] | None = Field(None, description=(
        "Vendor value -> Aeries value; any other value is rejected."))
    required: bool = Field(False, description="A record without a value is rejected.")
    pattern: str | None = Field(None, description=(
        "A regular expression a value must match, else the record is rejected."))

    @model_validator(mode="before")
    @classmethod
    def _path_alone(cls, given: Any) -> Any:
        return {"path": given} if isinstance(given, str) else given


fields = TypeAliasType("fields", Annotated[dict[str, FieldPath], Field(min_length=1, description=(
    "Aeries field <- the vendor's path, or {path, values, required, pattern}."))])
_Fields = fields


class Schedule(ClosedModel):
    cron: str
    timezone: str


class Aeries(ClosedModel):
    conn_id: str = Field(description="An aeries connection whose certificate may update and insert.")


class Http(ClosedModel):
    conn_id: str = Field(description=(
        "An http connection, as for the vendor API deliveries: schema, host, port; the API token in the password "
        "(Bearer); extra timeout, verify_ssl, endpoint_prefix."))
    endpoint: str = Field(pattern="^/", description=(
        "The path (after the connection's endpoint_prefix) that lists the export files: GET answers "
        "{\"files\": [{\"name\", \"url\" or \"path\", \"sha256\"?}]}; each file is then read with a GET."))
    format: _Format = Field("jsonl", description="As source.sftp.format.")
    delimiter: _Delimiter = Field(",", description="As source.sftp.delimiter.")
    quoting: _Quoting = "minimal"
    max_file_bytes: _MaxFileBytes = DEFAULT_MAX_FILE_BYTES
    max_fetch_seconds: _MaxFetchSeconds = int(DEFAULT_MAX_FETCH_SECONDS)


class Sftp(ClosedModel):
    conn_id: str = Field(description="An SFTP connection to the vendor's server.")
    remote_dir: str = Field(description="The folder the vendor drops its export files in.")
    pattern: str | None = Field(None, description=(
        "Which files of it to read (a glob); default *.jsonl, or *.csv for format csv."))
    format: _Format = Field("jsonl", description=(
        "jsonl: one JSON object per line (paths are dotted: students.state_id). csv: delimited text whose first "
        "line names the columns (paths are column names)."))
    delimiter: _Delimiter = Field(",", description=(
        "The column separator of a csv export: ',' or '|' (Xello's files are pipe delimited), '\\t', ..."))
    quoting: _Quoting = "minimal"
    max_file_bytes: _MaxFileBytes = DEFAULT_MAX_FILE_BYTES
    max_fetch_seconds: _MaxFetchSeconds = int(DEFAULT_MAX_FETCH_SECONDS)


class Source(ClosedModel):
    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["sftp"]}, {"required": ["http"]}]})

    http: Http | None = None
    sftp: Sftp | None = None


class AllowedFields(ClosedModel):
    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    students: field_names | None = None
    contacts: field_names | None = None
    course_requests: field_names | None = None
    assignments: field_names | None = None
    scores: field_names | None = None


class Guard(ClosedModel):
    allowed_fields: AllowedFields = Field(description=(
        "Per kind of record, every Aeries field the write-back may write: students and contacts (students:), "
        "course_requests (course_requests:, CourseID included), assignments and scores (scores:). A field mapped "
        "or written that is not listed is refused when the file is loaded."))
    max_students_changed: Annotated[int, Field(ge=0)] = Field(50, description=(
        "Existing Aeries students one run may change (update, add a contact, course request or score to) without "
        "approval."))
    max_students_changed_percent: Annotated[float, Field(ge=0, le=100)] = Field(10, description=(
        "The same as a share of the Aeries students the run read (the students it could have changed)."))
    approval_timeout_hours: Annotated[float, Field(gt=0)] = Field(24, description=(
        "No answer within this many hours: nothing is written and the run ends in Error."))


class Contacts(ClosedModel):
    from_: str = Field(alias="from", description="Path of the list of contacts in a vendor record.")
    match: _Paths = Field(description="Contact fields that identify an existing contact of the student.")
    aeries_match: dict[str, _MappingValue] | None = Field(None, description=(
        "How Aeries' side of a match field is read, as a mapping's value (source or first_of with transform steps, "
        "over the Aeries contact's columns), e.g. a name blank in Aeries from its MailingName: {first_of: "
        "[FirstName, {source: MailingName, transform: [{split_name: first}]}]}. A match field not listed is the "
        "contact's own field."))
    fields: fields


class Students(ClosedModel):
    """Each vendor record is a student (with its contacts): inserted, or updated when Aeries has it."""

    id: str = Field(description="Path of the vendor's own record id (named in rejects and the report).")
    school: str = Field(description="Path of the Aeries SchoolCode a new student is inserted at.")
    match: _Paths = Field(description=(
        "Aeries student fields (from fields) that identify an existing student: a match is updated, never inserted "
        "again."))
    fields: fields
    contacts: Contacts | None = None


class CourseRequests(ClosedModel):
    """Each vendor row is one course request (Aeries table SSS) of a student at a school. A request the student
    already has at that school is not written again; a student without a record at that school, or a course not in
    the catalogue (CRS) or inactive, is rejected. Needs the certificate's Student Scheduling Schedules (Course
    Requests) Read and Insert, Student Data and Course Data."""

    id: str | _Paths | None = Field(None, description=(
        "Path (or paths, their values joined by '/') naming a row in rejects and the report; default "
        "school/student/course."))
    school: str = Field(description=(
        "Path of the Aeries SchoolCode the request is for (the school the student attends that year)."))
    student: str = Field(description=(
        "Path of the student's Aeries StudentID (or StudentNumber at that school, see student_key)."))
    student_key: Literal["StudentID", "StudentNumber"] = Field("StudentID", description="What the student path holds.")
    course: str = Field(description="Path of the Aeries CourseID (CRS.CN, exact: '0001' is not '1').")
    fields: _Fields | None = Field(None, description=(
        "Optional other course request fields: SectionNumber, PreferredTeacherNumber, PreferredStaffID, RejectCode, "
        "AlternateTag, ActualPrimaryCourseID, PermanentLockCode."))


class Scores(ClosedModel):
    """A grade push: each vendor row is one student's score on one assignment of one class, written to the Aeries
    gradebook of the class's section (one Scores POST per assignment). Only classes (delivered with a teacher) and
    roster rows in the last delivery of the outbound DAG delivered_by push scores; a score Aeries already holds is
    not written again; a score that is not a number or outside 0..NumberCorrectPossible is rejected. Needs the
    certificate's Gradebook Data (Read, Update) and Gradebook Scores (Read, Update)."""

    delivered_by: str = Field(description=(
        "The outbound DAG (e.g. aeries_to_powerschool_learning) whose last delivered classes and rosters say which "
        "classes and students may push scores."))
    class_: str = Field(alias="class", description=(
        "Path of the vendor's class id (class_id of the delivered classes file)."))
    student: str = Field(description=(
        "Path of the student's user id (user_id of the delivered rosters file: the Aeries StudentID)."))
    assignment: str = Field(description="Path of the vendor's assignment id, kept in the Aeries assignment's ExternalID.")
    title: str | None = Field(None, description=(
        "Path of the assignment's title: finds an Aeries assignment by its Description when no ExternalID matches; "
        "the Description of a new one."))
    points_possible: str | None = Field(None, description=(
        "Path of the assignment's points possible (NumberCorrectPossible and PointsPossible of a new assignment)."))
    score: str = Field(description="Path of the score (Aeries NumberCorrect).")
    date: str | None = Field(None, description=(
        "Path of the date the score was given (DateCompleted; DateDue of a new assignment)."))
    create_assignments: bool = Field(False, description=(
        "Create an assignment the gradebook does not have (else its rows are rejected)."))
    user_crosswalk: str | None = Field(None, description=(
        "The crosswalk of the delivered_by mapping (e.g. user_ids) that gave students the vendor's ids instead of "
        "their StudentID: read backwards to find the StudentID of a vendor user id."))


class WriteBackFile(ClosedModel):
    # Exactly one section, the key of its kind (:data:`aeries_hub.writeback.kinds.base.KINDS`).
    model_config = ConfigDict(json_schema_extra={
        "oneOf": [{"required": [kind]} for kind in ("students", "course_requests", "scores")]})

    name: str = Field(pattern=NAME_PATTERN, description="The DAG is <name>_to_aeries.")
    title: str | None = Field(None, description=(
        "The DAG's description in the Airflow UI and the title of its approval requests; default the name."))
    description: str = Field(description="What the write-back does: the DAG's documentation (doc_md).")
    owner: str = Field("data-engineering", description="The DAG's owner.")
    tags: list[str] | None = Field(None, description="The DAG's tags.")
    enabled: bool = Field(False, description="Write into Aeries. Off: every run only plans and reports the writes.")
    schedule: Schedule | None = Field(description=(
        "When the DAG runs: a cron expression in a timezone; null: only when triggered."))
    aeries: Aeries
    source: Source = Field(description=(
        "Where the vendor's export files come from: exactly one of sftp (a drop folder) or http (the vendor's HTTPS "
        "API)."))
    guard: Guard = Field(description=(
        "What the write-back may ever write, and when a person must approve a run's writes first (Required actions "
        "in the Airflow UI). New students are inserted without approval; updates of students this write-back did "
        "not create, contacts added to or changed on them, and any change of an address, phone or e-mail wait for "
        "approval; so does every write of a run that changes more existing students than max_students_changed or "
        "max_students_changed_percent allow."))
    students: Students | None = None
    course_requests: CourseRequests | None = None
    scores: Scores | None = None


def writeback_schema_document() -> dict[str, Any]:
    """plugins/aeries_hub/schemas/writeback.schema.json, as :class:`WriteBackFile` defines it."""
    return schema_document(WriteBackFile, SCHEMA_ID, "A write-back: records a vendor exports, written into Aeries")
