"""The format of a mapping file (include/mappings/*.yml) as pydantic models, the one definition of it:
plugins/aeries_hub/schemas/mapping.schema.json is written from :class:`MappingFile` (:func:`mapping_schema_document`), its
outputs' definitions from :mod:`aeries_hub.mapping.output_models`.

The loader validates with the written JSON Schema (jsonschema, at DAG parse time) and builds the engine's
dataclasses (:mod:`aeries_hub.mapping.models`); these models are read by ``make docs`` and the tests.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from aeries_hub.aeries.tables import TABLE_NAMES
from aeries_hub.mapping.output_models import Name, condition, output, string_list
from aeries_hub.mapping.policy_models import AeriesField, Explanation
from aeries_hub.mapping.steps import json_schema
from aeries_hub.schema_generator import ClosedModel, schema_document

SCHEMA_ID = "https://aeries-integration-hub.invalid/schemas/mapping.schema.json"
_HOURS_MINUTES = "^([01]\\d|2[0-3]):[0-5]\\d$"
_UNIQUE: dict[str, Any] = {"uniqueItems": True}
_Cron = Annotated[str, Field(min_length=9)]
_Text = Annotated[str, Field(min_length=1)]
_Percent = Annotated[float, Field(ge=0, le=100)]
_Hours = Annotated[float, Field(gt=0)]
#: A table of the Aeries table registry: a new registry entry is a new choice of source.tables.
_TableName = Literal[TABLE_NAMES]  # type: ignore[valid-type]


class Schedule(ClosedModel):
    cron: _Cron | Annotated[list[_Cron], Field(min_length=1)] = Field(
        description="One cron expression or several (the run happens at each).")
    timezone: str = Field(description="IANA time zone name, e.g. America/Los_Angeles.")


class Aeries(ClosedModel):
    conn_id: str = Field(description="Airflow connection of type aeries.")


class Incremental(ClosedModel):
    full_every_hours: _Hours | None = Field(None, description=(
        "Hours after the last full extraction when the next run extracts everything again (default 168, a week)."))
    max_changed_percent: Annotated[float, Field(gt=0, le=100)] | None = Field(None, description=(
        "A table whose changed records (students, sections, staff; a student's schedule, contacts or programs count "
        "as one) "
        "exceed this share of its snapshot is extracted in full instead: past it, pages cost Aeries less than one "
        "request per record (default 5)."), examples=[5])


class StudentStatusCodes(ClosedModel):
    active: string_list | None = Field(None, description="Codes of active students (default: blank).",
                                       examples=[["", "A"]])
    pre_enrolled: string_list | None = Field(None, description="Codes of pre-enrolled students (default: P).",
                                             examples=[["P", "N"]])


class Source(ClosedModel):
    tables: Annotated[list[_TableName], Field(min_length=1)] = Field(
        description="Aeries tables to extract.", json_schema_extra=_UNIQUE)
    school_codes: list[Annotated[int, Field(ge=1)]] | None = Field(None, json_schema_extra=_UNIQUE, description=(
        "Schools to include (Aeries SchoolCode). Empty or absent: every school."))
    include_pseudo_schools: bool = Field(False, description=(
        "Send Aeries' pseudo-schools too. Absent or false: they are left out of every file, with their rows in "
        "every table tied to them by SchoolCode (students, contacts, teachers, sections, rosters, terms; staff keep "
        "their PrimaryAeriesSchool), and the run report lists each with its code, name and reason. A pseudo-school "
        "is school 0 (the district itself), a school with DoNotReport true (e.g. 99 Transfer School), or a school "
        "no student record is listed under (e.g. 900-902 'X ...' schools; this rule needs students in "
        "source.tables). A school named in school_codes is never left out."))
    student_statuses: Annotated[list[Literal["active", "pre_enrolled", "inactive"]], Field(min_length=1)] | None = (
        Field(None, json_schema_extra=_UNIQUE, description="Students to include, by status. Absent: active only."))
    incremental: Incremental | None = Field(None, description=(
        "Extract students, contacts, programs, staff, sections and rosters incrementally with Aeries' *DataChanges "
        "endpoints (only the records changed since the last extraction, merged into the DAG's extract snapshot); "
        "schools, terms, teachers and courses are always extracted in full. A full extraction runs when the "
        "snapshot's last full extraction is older than full_every_hours (or with the DAG param full_extract). "
        "Absent: every run extracts everything."))
    student_status_codes: StudentStatusCodes | None = Field(None, description=(
        "Aeries InactiveStatusCode values (trimmed) that mean each status. Default: active = blank, pre_enrolled = "
        "P, inactive = every other code."), examples=[{"active": [""], "pre_enrolled": ["P", "N"]}])


class Sftp(ClosedModel):
    conn_id: str = Field(description="Airflow connection of type sftp (host key checking on).")
    remote_dir: _Text = Field(description="Folder on the vendor's server that receives the files.")


class Package(ClosedModel):
    zip: str = Field(pattern="^[A-Za-z0-9_.-]+\\.zip$", description="Name of the zip file delivered.")


class HttpTarget(ClosedModel):
    conn_id: str = Field(description="Airflow connection of type http (token in the password).")
    scheduled_imports: Literal["always", "once"] = Field("always", description=(
        "once: after one successful scheduled import, later scheduled runs to this target skip (a vendor "
        "sandbox)."))


class Http(ClosedModel):
    endpoint: str = Field(pattern="^/", description=(
        "Path of the import endpoint, after the connection's host (and its endpoint_prefix extra)."))
    batch_size: Annotated[int, Field(ge=1, le=10000)] = Field(100, description="Records posted per request.")
    targets: Annotated[dict[Name, HttpTarget], Field(min_length=1)] = Field(description=(
        "The vendor's servers a run may post to, by name (e.g. sandbox and production)."))
    target: str = Field(description=(
        "The target scheduled runs deliver to; manual runs may choose another with the target param."))


class HttpUpload(ClosedModel):
    conn_id: str = Field(description="Airflow connection of type http (the API token in the password).",
                         examples=["canvas_api"])
    endpoint: str = Field(pattern="^/", examples=["/api/v1/accounts/self/sis_imports"], description=(
        "Path the file is posted to, after the connection's host (and its endpoint_prefix extra), e.g. "
        "/api/v1/accounts/self/sis_imports (Canvas's SIS import API); the import is polled at <endpoint>/<id>."))
    params: dict[Name, str | int | bool] = Field(default_factory=dict, description=(
        "Query parameters sent with the upload, e.g. import_type: instructure_csv, "
        "diffing_data_set_identifier, batch_mode, override_sis_stickiness (Canvas); true/false are sent as such."),
        examples=[{"import_type": "instructure_csv", "diffing_data_set_identifier": "district-sis"}])
    timeout_minutes: Annotated[float, Field(gt=0, le=1440)] = Field(60, description=(
        "How long the import may take once the file was accepted; then the task fails (a retry waits on the same "
        "import, it does not upload again)."))
    poll_seconds: Annotated[float, Field(ge=1, le=300)] = Field(30, description=(
        "Longest wait between two looks at the import's state (the first waits are shorter)."))


class Delivery(ClosedModel):
    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["sftp"]}, {"required": ["http"]},
                                                           {"required": ["http_upload"]}]})

    sftp: Sftp | None = Field(None, description="Upload the output files to the vendor's SFTP server.")
    package: Package | None = Field(None, description=(
        "Deliver every output file in one zip archive instead of one by one."))
    http: Http | None = Field(None, description=(
        "Post the records of the jsonl output(s) to the vendor's HTTPS API in batches, with an idempotency key per "
        "batch."))
    http_upload: HttpUpload | None = Field(None, description=(
        "Upload the one file (the package zip, or the single output) to an import API that answers with an import "
        "job, and wait until the job ends: Canvas LMS's SIS import API."),
        examples=[{"conn_id": "canvas_api", "endpoint": "/api/v1/accounts/self/sis_imports",
                   "params": {"import_type": "instructure_csv"}}])


class Window(ClosedModel):
    days: Annotated[list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]], Field(min_length=1)] = Field(
        json_schema_extra=_UNIQUE, description="Days on which the window opens.")
    start: str = Field(pattern=_HOURS_MINUTES, description="Opening time, HH:MM.")
    end: str = Field(pattern=_HOURS_MINUTES, description="Closing time, HH:MM; at or before start: the next day.")
    timezone: str = Field(description="IANA time zone name of start and end, e.g. America/Los_Angeles.")
    outside: Literal["wait", "skip"] = Field("wait", description="What a run started outside the window does.")
    max_wait_hours: _Hours = Field(24, description="With wait: give up (skip) after this long.")


class Guard(ClosedModel):
    max_removed_percent: _Percent = Field(10, description=(
        "Most rows of the last delivery a file may drop without approval, in percent."))
    max_changed_percent: _Percent = Field(30, description=(
        "Most rows of the last delivery a file may change without approval, in percent."))
    min_rows: Annotated[int, Field(ge=1)] = Field(10, description=(
        "A change of fewer rows than this never needs approval, whatever its percentage (small files)."))
    approval_timeout_hours: _Hours = Field(24, description=(
        "How long a run waits for the decision; then it ends without delivering."))


_Day = Annotated[str, Field(pattern="^\\d{4}-\\d{2}-\\d{2}$", description="A day, YYYY-MM-DD.")]


class DateRange(ClosedModel):
    name: _Text = Field(description="What the range is, named in the report (e.g. summer).", examples=["summer"])
    start: _Day = Field(description="Its first day, YYYY-MM-DD.", examples=["2026-06-12"])
    end: _Day = Field(description="Its last day, YYYY-MM-DD, on or after start.", examples=["2026-08-09"])


class Calendar(ClosedModel):
    blackouts: list[DateRange] | None = Field(None, description=(
        "Days on which nothing is delivered (summer, testing weeks): a run builds and checks its files, reports "
        "'held: blackout NAME until END', delivers nothing and ends in success with the status Held."),
        examples=[[{"name": "state testing", "start": "2027-04-12", "end": "2027-04-23"}]])
    additions_only: list[DateRange] | None = Field(None, description=(
        "Days on which a delivery sends new rows only: changed and removed rows keep what the vendor last received "
        "(the start of a school year, while schedules settle). Needs a file delivery (delivery.sftp)."),
        examples=[[{"name": "schedule changes", "start": "2026-08-13", "end": "2026-09-04"}]])


class CrosswalkUse(ClosedModel):
    table: str = Field(description="Aeries table of source.tables.")
    column: str = Field(description=(
        "Its column holding values of the check's column (e.g. PrimaryAeriesSchool for SchoolCode)."))
    id: str = Field(description="Its column that names a row in the report (e.g. ID).")


class CrosswalkCheck(ClosedModel):
    table: str = Field(description="Aeries table of source.tables whose rows should all be in the crosswalk.")
    column: str = Field(description="Column of the table whose values are looked up in the crosswalk's aeries column.")
    name: str = Field(description="Column of the table with the name compared to vendor names.")
    vendor_name: str = Field(description="Column of the crosswalk file with the vendor's name.")
    where: list[condition] | None = Field(None, description="Only the table's rows that meet these conditions.")
    used_by: list[CrosswalkUse] | None = Field(None, description=(
        "Columns of other Aeries tables whose values are looked up in the crosswalk (e.g. the staff's "
        "PrimaryAeriesSchool): a value in neither the crosswalk nor the table's column (a code Aeries does not "
        "list) is reported with the ids of the rows that hold it, which are sent under that value."))


class Crosswalk(ClosedModel):
    file: str = Field(pattern="^[A-Za-z0-9_./-]+\\.csv$", description=(
        "CSV file with a header row, relative to include/ (e.g. crosswalks/stemscopes_schools.csv)."))
    aeries: _Text = Field(description="Column holding the Aeries value.")
    vendor: _Text = Field(description="Column holding the vendor's value.")
    optional: bool = Field(False, description="A missing file means no translation (every value passes through).")
    check: CrosswalkCheck | None = Field(None, description=(
        "Every row of an Aeries table should be in the crosswalk: the run reports each missing one with the closest "
        "vendor name in the file (for an operator to confirm) and sends it under its Aeries value."))


class Sharing(ClosedModel):
    allow: dict[AeriesField, Explanation] = Field(description=(
        "Fields of the district's data-sharing policy (include/district_policy.yml) this vendor receives, as "
        "table.Column, each with the reason it needs the field, citing the vendor's documentation: a mapping that "
        "sends a restricted field without its allowance here is an import error, and so is an allowance for a "
        "field the mapping does not send (a stale one). An allowance for a field the policy does not restrict is "
        "accepted: it documents the field if the district restricts it later."))


_Cell = str | int | float | bool | None


class ExpectedReject(ClosedModel):
    row: dict[str, _Cell] = Field(description=(
        "Columns of the file that identify the rejected row (e.g. {StudentID: \"3\"}), compared as text."))
    reason: _Text = Field(description="The reason the run gives for it (rejects/<file>.csv, _reject_reason), exactly.")


class ExpectedFile(ClosedModel):
    rows: list[dict[str, _Cell]] = Field(description=(
        "The file's rows as built (before the format's quoting and formula escaping), each with the columns the test "
        "cares about, compared as text; a file with a row more or a row less fails. Rows are matched by the file's "
        "key when every row gives it, else in the file's order."))
    columns: Literal["listed", "all"] = Field("listed", description=(
        "listed: only the columns each row gives are compared; all: every column of the file, those a row does "
        "not give are expected blank."))
    rejects: list[ExpectedReject] | None = Field(None, description=(
        "The rows the file's checks reject, with their reasons. Absent or empty: none may be rejected."))


class MappingTest(ClosedModel):
    """A test of the mapping, run by `make test` and `aeries-hub test FILE` without Aeries or a vendor: the given
    Aeries rows go through the run's real stages (the source checks, the mapping, the files' checks) and the files
    named under expect must hold the expected rows (docs/mappings.md, Testing a mapping)."""

    name: Name = Field(description="What the test shows, as a name (pre_enrolled_student_is_sent).")
    description: str | None = Field(None, description="What the test proves, in a sentence.",
                                    examples=["a pre-enrolled student is sent with the enrolled ones"])
    run_date: _Day | None = Field(None, description=(
        "The run's date (quoted, \"2026-09-15\"), for date conditions and {run_date:...}; absent: today."))
    settings: dict[Name, str | int] | None = Field(None, description=(
        "Settings of the file given other values for this test ({settings.NAME}); the others keep the file's."))
    run_values: dict[Name, str] | None = Field(None, description=(
        "{run.NAME} values (district_name: Eagle USD) as Aeries would give them; the others come from the given "
        "schools and the run's date, as in a run."))
    given: dict[_TableName, list[dict[str, Any]]] = Field(min_length=1, description=(
        "Aeries rows per table of source.tables, each with only the columns the test cares about: the others are "
        "blank (null for numbers, true/false and lists). A table not given has no rows."))
    expect: dict[str, ExpectedFile] = Field(min_length=1, description=(
        "Per output file (its file name): the rows it must hold and the rows it must reject."))


class MappingFile(ClosedModel):
    """One file in include/mappings/ describes one vendor integration: what to extract from Aeries, how to shape
    each output file, and where to deliver it. One DAG is built per file."""

    name: str = Field(pattern="^[a-z][a-z0-9_]{1,40}$", description=(
        "Identifier of the integration; the DAG id is aeries_to_<name>."))
    title: str | None = Field(None, description="Human name shown in the Airflow UI.")
    description: _Text = Field(description="Markdown shown as the DAG's documentation.")
    tags: list[str] | None = Field(None, json_schema_extra=_UNIQUE, description="Tags of the DAG in the Airflow UI.")
    owner: str | None = Field(None, description="Owner of the DAG in the Airflow UI (default data-engineering).")
    schedule: Schedule | None = Field(description="When the integration runs. null: only when triggered.")
    aeries: Aeries = Field(description="The Aeries server to extract from.")
    source: Source = Field(description="What to extract from Aeries: the tables, schools and students.")
    outputs: Annotated[list[output], Field(min_length=1)] = Field(description="The files built for the vendor.")
    delivery: Delivery = Field(description="How the files reach the vendor.")
    window: Window | None = Field(None, description=(
        "The district's allowed pull window: a run outside it waits for it (or skips) with the reason in its log."))
    guard: Guard | None = Field(None, description=(
        "The mass-change guard. Each run compares every file with the last delivered one by its key; a file that "
        "removes or changes more rows than this waits for a person to approve it in the Airflow UI (rejected or "
        "unanswered: nothing is delivered)."), examples=[{"max_removed_percent": 5, "approval_timeout_hours": 12}])
    calendar: Calendar | None = Field(None, description=(
        "The vendor's calendar, in the time zone of the schedule (UTC without one): blackout date ranges and "
        "additions-only windows, each day of a range included; a blackout wins over a window on the same day."),
        examples=[{"blackouts": [{"name": "summer", "start": "2026-06-12", "end": "2026-08-09"}]}])
    settings: dict[Name, str | int] | None = Field(None, description=(
        "Named values used as {settings.NAME} in any text of the outputs (templates, constants, steps), e.g. the "
        "Google Apps domain, and as settings.NAME in expressions; {settings.NAME|regex} gives the value escaped for "
        "use inside a regular expression. "
        "What Aeries says (the district's name, the school year served) is not a setting: name it as "
        "{run.district_name}, {run.school_year}, {run.school_year_start_year}, {run.school_year_end_year}, "
        "{run.school_year_first_day} or {run.school_year_last_day} in literal rows, constant, template, "
        "if_blank and the templates of cases, and as run.NAME in expressions (README: Mappings)."))
    crosswalks: dict[Name, Crosswalk] | None = Field(None, description=(
        "District-maintained CSV files that translate Aeries values into the vendor's (school codes, ids the vendor "
        "already holds). A value uses one with the transform step {crosswalk: NAME}: values found in the file's "
        "aeries column become the vendor column's value, others pass through unchanged."))
    sharing: Sharing | None = Field(None, description=(
        "The restricted fields of the district's data-sharing policy this vendor may receive, and why "
        "(docs/operating.md, Data sharing)."))
    tests: list[MappingTest] | None = Field(None, description=(
        "Tests of the mapping: given Aeries rows, the rows each file must hold (docs/mappings.md, Testing a mapping)."))


def mapping_schema_document() -> dict[str, Any]:
    """plugins/aeries_hub/schemas/mapping.schema.json, as :class:`MappingFile` defines it."""
    return schema_document(MappingFile, SCHEMA_ID, "Vendor integration mapping", {"step": json_schema()})
