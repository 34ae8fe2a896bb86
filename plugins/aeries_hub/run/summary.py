"""Each stage's summary, ``summary/<task>.json`` in the run's staging folder: written once by its task
(:func:`write_summary`), read back typed by the report, the Asset events, the alerts' report, the approvals and
the later tasks that need it (:func:`read_run`), even when a later task failed.

A summary holds counts, check outcomes, record ids and paths, never other student data. Its JSON is its fields;
a field marked :func:`omitted_when_none` is left out when it is None (a failed build has no ``sha256``). The
nested parts the quality runner, the change tracker and the delivery give (``checks``, ``files``, receipts) stay
the JSON objects those modules document. Every field has a default, so a summary of an earlier version of the hub
(a run cleared and re-run across an upgrade) still reads.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from aeries_hub.staging import RunFolder


def omitted_when_none(default: Any = None) -> Any:
    """A field left out of the JSON when it is None."""
    return field(default=default, metadata={"omitted_when_none": True})


class Summary:
    """The JSON of a summary (a stage's, or the run's report): its fields, less those marked omitted when None."""

    def to_json(self) -> dict[str, Any]:
        document = {}
        for item in dataclasses.fields(self):  # type: ignore[arg-type]  # every subclass is a dataclass
            value = getattr(self, item.name)
            if value is None and item.metadata.get("omitted_when_none"):
                continue
            document[item.name] = value
        return document

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Self:
        """The summary a task wrote; keys this version does not know are left out."""
        names = {item.name for item in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return cls(**{name: value for name, value in document.items() if name in names})


@dataclass(frozen=True)
class SchoolYearSummary(Summary):
    """The school year (DatabaseYear) Aeries served for the run's date (``AeriesHook.check_database_year``), or
    why the run could not settle on one (``error``)."""

    database_year: int | None = omitted_when_none()
    school_year: str | None = omitted_when_none()
    requested_year: int | None = omitted_when_none()
    available_years: list[str] | None = omitted_when_none()
    year_note: str | None = omitted_when_none()
    error: str | None = omitted_when_none()


@dataclass(frozen=True)
class ExtractSummary(Summary):
    """``extract_<table>``: one Aeries table pulled, from which school year; ``mode``, ``reason`` and
    ``changed_keys`` for an incremental extraction (:mod:`aeries_hub.extract.incremental`)."""

    table: str = ""
    rows: int = 0
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0
    path: str = ""
    database_year: int | None = None
    school_year: str | None = None
    requested_year: int | None = None
    available_years: list[str] = field(default_factory=list)
    year_note: str | None = None
    mode: str | None = omitted_when_none()
    reason: str | None = None
    changed_keys: int | None = None
    #: {school: teachers} found through section staff (``AeriesHook.extract_to_parquet``).
    teachers_from_section_staff: dict[str, int] | None = omitted_when_none()

    def to_json(self) -> dict[str, Any]:
        document = super().to_json()
        if self.mode is None:  # a full extraction of a mapping without source.incremental
            del document["reason"], document["changed_keys"]
        return document


@dataclass(frozen=True)
class WindowSummary(Summary):
    """``wait_for_window``: whether the run is inside the mapping's pull window, or why not."""

    in_window: bool = True
    window: str | None = omitted_when_none()
    reason: str | None = omitted_when_none()


@dataclass(frozen=True)
class TargetGateSummary(Summary):
    """``check_target``: whether the delivery's target takes this run (``Delivery.skip_reason``)."""

    target: str = ""
    skipped: bool = False
    reason: str | None = omitted_when_none()


@dataclass(frozen=True)
class SourceValidation(Summary):
    """``validate_sources``: the Aeries tables checked (``quality.aeries_sources.validate_tables``), and what every
    build of the run takes from them: the run's date, the day its date conditions compare with, and the
    ``{run.NAME}`` values from Aeries (``extract.school_year.settle_run_values``)."""

    #: {table: {rows, accepted, rejected, rejected_ids, checks}}
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    volumes: dict[str, Any] = field(default_factory=dict)
    left_out_schools: list[dict[str, Any]] = field(default_factory=list)
    crosswalks: dict[str, Any] | None = omitted_when_none()
    run_date: str | None = omitted_when_none()
    dates_as_of: str | None = omitted_when_none()
    run_values: dict[str, str] | None = omitted_when_none()
    #: What the validated files are made from, {path: sha256} of those written, and the earlier run they were
    #: taken from or why they were computed (:mod:`aeries_hub.run.reuse`).
    inputs: dict[str, Any] | None = omitted_when_none()
    files: dict[str, str] | None = omitted_when_none()
    reused_from: str | None = omitted_when_none()
    recomputed_because: str | None = omitted_when_none()
    #: The last completed run, when only extracts changed since: a build whose reads are unchanged takes its files.
    earlier_run: str | None = omitted_when_none()


def check_name(result: dict[str, Any]) -> str:
    """What a check result of ``checks`` (``quality.runner``) is called: its description, its rule, or its
    expectation."""
    return result.get("description") or result.get("rule") or result["expectation"]


@dataclass(frozen=True)
class BuildSummary(Summary):
    """``build_<stem>``: one vendor file built and checked (``mapping.build.build_vendor_file``); ``error`` when it
    could not be built, ``path``, ``bytes`` and ``sha256`` once it was written."""

    file: str = ""
    rows_built: int | None = omitted_when_none()
    rows: int | None = omitted_when_none()
    rejected: int = 0
    rejected_ids: list[str] | None = omitted_when_none()
    rows_by_record_set: dict[str, int] | None = omitted_when_none()
    merged_duplicates: dict[str, Any] | None = omitted_when_none()
    single_line_values: dict[str, Any] | None = omitted_when_none()
    checks: dict[str, Any] = field(default_factory=dict)
    #: The day the file's date conditions compared with and the run's date, when they differ.
    dates_as_of: str | None = None
    run_date: str | None = None
    error: str | None = omitted_when_none()
    path: str | None = omitted_when_none()
    bytes: int | None = omitted_when_none()
    sha256: str | None = omitted_when_none()
    #: {path: sha256} of the files written, the configuration they were built with (the mapping file, include,
    #: params, settings, code, run date: :func:`aeries_hub.run.reuse.configuration`) and the earlier run they were
    #: taken from (:mod:`aeries_hub.run.reuse`).
    files: dict[str, str] | None = omitted_when_none()
    inputs: dict[str, Any] | None = omitted_when_none()
    reused_from: str | None = omitted_when_none()


@dataclass(frozen=True)
class ChangeTracking(Summary):
    """``track_changes``: the run's files compared with the last delivery (``delivery.tracking.compare_files``)."""

    target: str = ""
    #: {run_id, delivered_at} of the delivery compared with; None on a first delivery or a lost record.
    last_delivery: dict[str, str] | None = None
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    exceeded: list[str] = field(default_factory=list)
    guard: dict[str, Any] = field(default_factory=dict)
    state_problems: list[str] = field(default_factory=list)
    #: No record of a delivery to the target, none in Airflow, none of the files there: the first delivery.
    first_delivery: bool = False
    #: On a first delivery, the last successful dry run to the target ({run_id, at}), if any.
    dry_run: dict[str, str] | None = None


@dataclass(frozen=True)
class DeliverySummary(Summary):
    """``deliver``: one receipt per delivered file, or why nothing was sent (a dry run, ``error``)."""

    dry_run: bool = False
    files: list[dict[str, Any]] = field(default_factory=list)
    seconds: float | None = omitted_when_none()
    error: str | None = omitted_when_none()
    #: What was held and why (``aeries_hub.delivery.holds.hold_files``): {kind, why, files: {file: counts, samples}}
    held: dict[str, Any] | None = omitted_when_none()
    #: Why nothing was delivered though the run went well (a blackout of the mapping's calendar).
    held_because: str | None = omitted_when_none()


@dataclass(frozen=True)
class ApprovalSummary(Summary):
    """``approve_changes`` or ``approve_writes`` (:mod:`aeries_hub.operators.approval`): not needed and why, or
    waiting (with ``exceeded`` or ``reasons``), then approved, rejected or timed out: by whom, when, the reason."""

    needed: bool = False
    decision: str | None = omitted_when_none()
    exceeded: list[str] | None = omitted_when_none()
    reasons: list[str] | None = omitted_when_none()
    by: str | None = omitted_when_none()
    at: str | None = omitted_when_none()
    reason: str | None = omitted_when_none()
    why: str | None = omitted_when_none()
    #: What the approver chose (the option's text), and what of the changes it holds (``delivery.holds``).
    choice: str | None = omitted_when_none()
    hold: str | None = omitted_when_none()


@dataclass(frozen=True)
class FetchSummary(Summary):
    """``fetch_exports``: the vendor's export files copied to ``inbound/`` (:mod:`aeries_hub.writeback.sources`),
    those written before (skipped) and those that cannot be taken (quarantined, with the reason)."""

    files: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    quarantined: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ExportValidation(Summary):
    """``validate_exports``: the vendor's records read and checked (``writeback.records.rejects_summary``)."""

    records: int = 0
    accepted: int = 0
    rejected: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PlanSummary(Summary):
    """``plan_writes``: the writes planned, by kind and action (``writeback.report.count_writes``)."""

    counts: dict[str, int] = field(default_factory=dict)
    writes: int = 0
    needs_approval: bool = False
    students_changed: int = 0


@dataclass(frozen=True)
class WriteSummary(Summary):
    """``write_to_aeries``: what Aeries took, or why nothing was sent (``skipped_because``)."""

    written: int = 0
    refused: list[str] | None = omitted_when_none()
    incomplete: list[str] | None = omitted_when_none()
    results: int | None = omitted_when_none()
    skipped_because: str | None = omitted_when_none()


@dataclass(frozen=True)
class TaskFailure(Summary):
    """One failed task of the run: what it raised (``error``: the type's name; ``message``: its first line) and,
    when the error names them, the connection (``conn_id``) and what to check (``check``)."""

    task_id: str = ""
    error: str = ""
    message: str = ""
    conn_id: str | None = omitted_when_none()
    check: str | None = omitted_when_none()

    def line(self) -> str:
        """``deliver failed: DeliveryError: authentication failed ... on sftp connection 'destiny_sftp' ...``"""
        text = f"{self.task_id} failed: {self.error}: {self.message}"
        return text if not self.check or self.check in self.message else f"{text} ({self.check})"


@dataclass(frozen=True)
class RunSummaries:
    """Every stage summary of a run so far (a vendor DAG's or a write-back's), each None until its task wrote it."""

    #: The tasks whose summary is one of the fields below, by task id.
    STAGES: ClassVar[dict[str, tuple[str, type[Summary]]]] = {
        "school_year": ("school_year", SchoolYearSummary),
        "wait_for_window": ("window", WindowSummary),
        "check_target": ("target_gate", TargetGateSummary),
        "validate_sources": ("sources", SourceValidation),
        "track_changes": ("changes", ChangeTracking),
        "approve_changes": ("approve_changes", ApprovalSummary),
        "deliver": ("delivery", DeliverySummary),
        "fetch_exports": ("fetched", FetchSummary),
        "validate_exports": ("exports", ExportValidation),
        "plan_writes": ("plan", PlanSummary),
        "approve_writes": ("approve_writes", ApprovalSummary),
        "write_to_aeries": ("written", WriteSummary),
    }

    #: {table: its extract}, in the order of the task ids.
    extracts: dict[str, ExtractSummary] = field(default_factory=dict)
    #: {output stem: its build}, in the order of the task ids.
    builds: dict[str, BuildSummary] = field(default_factory=dict)
    school_year: SchoolYearSummary | None = None
    window: WindowSummary | None = None
    target_gate: TargetGateSummary | None = None
    sources: SourceValidation | None = None
    changes: ChangeTracking | None = None
    approve_changes: ApprovalSummary | None = None
    delivery: DeliverySummary | None = None
    fetched: FetchSummary | None = None
    exports: ExportValidation | None = None
    plan: PlanSummary | None = None
    approve_writes: ApprovalSummary | None = None
    written: WriteSummary | None = None
    #: {task id: why it failed} (``failures/<task_id>.json``, :mod:`aeries_hub.run.failures`)
    failures: dict[str, TaskFailure] = field(default_factory=dict)

    @classmethod
    def from_documents(cls, documents: dict[str, dict[str, Any]],
                       failures: dict[str, dict[str, Any]] | None = None) -> RunSummaries:
        """The summaries from their JSON, by task id; a task id of no stage is left out. ``failures``: the
        failed tasks' records, by task id."""
        extracts, builds, stages = {}, {}, {}
        for task_id, document in sorted(documents.items()):
            if task_id.startswith("extract_"):
                extract = ExtractSummary.from_json(document)
                extracts[extract.table] = extract
            elif task_id.startswith("build_"):
                builds[task_id[len("build_"):]] = BuildSummary.from_json(document)
            elif task_id in cls.STAGES:
                name, kind = cls.STAGES[task_id]
                stages[name] = kind.from_json(document)
        failed = {task_id: TaskFailure.from_json(document) for task_id, document in sorted((failures or {}).items())}
        return cls(extracts=extracts, builds=builds, failures=failed, **stages)  # type: ignore[arg-type]


#: The folder of the failed tasks' records (:mod:`aeries_hub.run.failures`).
FAILURES_DIR = "failures"


def write_summary(run: RunFolder, task_id: str, summary: Summary) -> None:
    """Write ``summary/<task_id>.json``, the one record of what the task did."""
    run.write_json(f"summary/{task_id}.json", summary.to_json())


def read_run(run: RunFolder) -> RunSummaries:
    """Every stage summary of the run so far, and why its failed tasks failed."""
    def documents(folder: str) -> dict[str, dict[str, Any]]:
        return {name[: -len(".json")]: run.read_json(f"{folder}/{name}") for name in run.list(folder)
                if name.endswith(".json")}

    return RunSummaries.from_documents(documents("summary"), documents(FAILURES_DIR))
