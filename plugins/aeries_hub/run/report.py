"""The run report: every stage's summary gathered into one document (``report.json``), and its lines of text
for the log and the failure alert.

The report holds counts, check outcomes and record ids, never other student data, so it is kept when the
retention DAG deletes the run's staged files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aeries_hub.mapping.models import Mapping
from aeries_hub.run.rejects import (
    more_reasons,
    reason_text,
    reject_reason_lines,
    reject_reasons,
    rejects_of_file,
    rejects_of_table,
    sample_ids,
    top_reject_reasons,
    without_vendor_values,
)
from aeries_hub.run.reuse import describe_reuse
from aeries_hub.run.summary import (
    BuildSummary,
    ExtractSummary,
    RunSummaries,
    SourceValidation,
    Summary,
    check_name,
    omitted_when_none,
)


@dataclass(frozen=True)
class RunReport(Summary):
    """The run's report (``report.json``), composed from its stage summaries by :func:`summarize_run`; the report
    task adds where the run's files are, each task's time and memory, and when it was written."""

    integration: str
    status: str
    dry_run: bool
    #: {table: rows extracted}
    extracted: dict[str, int]
    #: The DatabaseYear Aeries served, or every one when the extracts read several (a rollover mid-run).
    database_year: int | list[int] | None
    school_year: str | list[str] | None
    #: {passed, warned, failed}: the checks of the sources and of the files
    checks: dict[str, int]
    rejected: int
    rejected_by_vendor: int
    #: {output stem: the file's counts, rejected ids, reject reasons, shared and missing values}
    files: dict[str, dict[str, Any]]
    #: {table: its counts, rejected ids and reject reasons}
    sources: dict[str, dict[str, Any]]
    crosswalks: dict[str, Any]
    left_out_schools: list[dict[str, Any]]
    #: Warnings: the year served, unmapped crosswalk values, held dates, single-line values, allowed drops, ...
    attention: list[str]
    changes: dict[str, Any] | None
    extraction: str | None
    approval: dict[str, Any] | None
    #: The receipts of the delivery, without the values a vendor quoted in its refusals
    delivered: list[dict[str, Any]]
    errors: list[str]
    #: Why each failed task failed: {task_id, error, message, conn_id, check} (``aeries_hub.run.failures``)
    failed_tasks: list[dict[str, Any]] = field(default_factory=list)
    #: The run in one line: its status, and why (the reason) or what it delivered.
    outcome: str = ""
    #: Why the run was skipped, ended in Error or completed with errors: what a stage says, the failed tasks'
    #: causes, and the top reasons rows were rejected with their counts.
    reason: str | None = omitted_when_none()
    staging: str | None = omitted_when_none()
    #: {task id: {seconds, peak_memory_mb}} (``aeries_hub.resources``)
    resources: dict[str, dict[str, float]] | None = omitted_when_none()
    generated_at: str | None = omitted_when_none()
    #: What the delivery held and why (the approver's choice, an additions-only window): ``delivery.holds``.
    held: dict[str, Any] | None = omitted_when_none()
    #: The earlier run whose validated and built files this run took, or why it computed (``aeries_hub.run.reuse``).
    reuse: str | None = omitted_when_none()


def summarize_run(mapping: Mapping, stages: RunSummaries) -> RunReport:
    from aeries_hub.extract.incremental import describe_extraction
    from aeries_hub.mapping.crosswalk import coverage_lines

    extracts = list(stages.extracts.values())
    extracted = {s.table: s.rows for s in extracts}
    years = sorted({s.database_year for s in extracts if s.database_year is not None})
    # The school year Aeries served (AeriesHook.check_database_year): why it is not the run's, or why none was.
    year_notes = sorted({s.year_note for s in extracts if s.year_note})
    year_error = stages.school_year.error if stages.school_year else None
    sources = stages.sources or SourceValidation()
    builds = stages.builds
    delivery = stages.delivery
    delivered = [without_vendor_values(d) for d in (delivery.files if delivery else [])]
    outcomes = [t["checks"] for t in sources.tables.values()] + [b.checks for b in builds.values()]
    checks = {key: sum(o.get(key, 0) for o in outcomes) for key in ("passed", "warned", "failed")}
    crosswalks = sources.crosswalks or {}
    unmapped = [line for name, c in crosswalks.items() for line in coverage_lines(name, c)]
    rejected_by_vendor = sum(len(d.get("rejected") or []) for d in delivered)
    rejected = (
        sum(t.get("rejected", 0) for t in sources.tables.values())
        + sum(b.rejected for b in builds.values())
        + rejected_by_vendor
    )
    expected_tables = set(mapping.tables)
    expected_files = {o.stem for o in mapping.outputs}
    finished = (
        set(extracted) == expected_tables
        and not sources.errors
        and stages.sources is not None
        and all(stem in builds and builds[stem].sha256 is not None for stem in expected_files)
        and delivery is not None
    )
    window, gate, approval = stages.window, stages.target_gate, stages.approve_changes
    volumes = sources.volumes
    changes = stages.changes
    reason = None
    if window and window.in_window is False and not extracted:
        status, reason = "Skipped", window.reason
    elif gate and gate.skipped:
        status, reason = "Skipped", gate.reason
    elif approval and approval.decision in ("rejected", "timed out"):
        status, reason = "Error", approval.reason
    elif delivery and delivery.error:
        status, reason = "Error", delivery.error
    elif delivery and delivery.held_because and finished and not checks["failed"]:
        status, reason = "Held", delivery.held_because
    elif not finished or checks["failed"]:
        status = "Error"
    elif rejected:
        status = "Completed with errors"
    else:
        status = "Completed"
    files = {
        stem: {k: getattr(b, k) for k in ("file", "rows", "rejected", "rejected_ids", "merged_duplicates",
                                          "single_line_values", "sha256")}
        | rejects_of_file(mapping, stem, b, delivered) | {"shared_values": shared_values(b.checks),
                                                           "missing_values": missing_values(b.checks)}
        | ({"failing_groups": groups} if (groups := failing_groups(b.checks)) else {})
        for stem, b in builds.items()
    }
    tables = {
        name: {k: t.get(k) for k in ("rows", "rejected", "rejected_ids")} | rejects_of_table(name, t)
        | {"shared_values": shared_values(t.get("checks") or {})}
        for name, t in sources.tables.items()
    }
    if status != "Skipped":
        reason = run_reason(reason, stages, rejected, top_reject_reasons(tables, files))
    dry_run = bool(delivery and delivery.dry_run)
    return RunReport(
        integration=mapping.name,
        status=status,
        dry_run=dry_run,
        extracted=extracted,
        database_year=years[0] if len(years) == 1 else years or None,
        school_year=_school_year_labels(extracts),
        checks=checks,
        rejected=rejected,
        rejected_by_vendor=rejected_by_vendor,
        files=files,
        sources=tables,
        crosswalks=crosswalks,
        left_out_schools=sources.left_out_schools,
        attention=year_notes + unmapped + _dates_held_lines(builds) + _single_line_lines(builds)
        + (volumes["drops"] if volumes.get("allowed") else [])
        + (changes.state_problems if changes else []),
        changes=changes.to_json() if changes else None,
        extraction=describe_extraction(s.to_json() for s in extracts),
        approval=_approval_with_hold(approval, delivery),
        delivered=delivered,
        errors=failed_checks(mapping, sources, builds)
        + [f"{b.file}: {b.error}" for b in builds.values() if b.error]
        + ([volumes["message"]] if volumes.get("drops") and not volumes.get("allowed") else [])
        + ([year_error] if year_error else []),
        failed_tasks=[f.to_json() for f in stages.failures.values()],
        outcome=outcome_line(status, dry_run, reason, delivered),
        reason=reason,
        held=delivery.held if delivery else None,
        reuse=describe_reuse(sources, builds),
    )


def _approval_with_hold(approval, delivery) -> dict[str, Any] | None:
    """The approval's outcome, with what its delivery held (``delivery.holds``: counts and sample ids per file)
    when the approver chose a hold."""
    if approval is None:
        return None
    document = approval.to_json()
    if approval.hold and delivery and delivery.held:
        document["held"] = delivery.held
    return document


def run_reason(said: str | None, stages: RunSummaries, rejected: int, top: list[str], unit: str = "rows") -> str | None:
    """What a stage ``said``, each failed task's cause (unless it is what the stage said), and the top reasons rows
    (a write-back's records: ``unit``) were rejected, with counts."""
    parts = [said] if said else []
    parts += [failure.line() for failure in stages.failures.values()
              if not (said and _same_text(failure.message, said))]
    parts += [f"{rejected} {unit} rejected, top reasons: {'; '.join(top)}"] if top else []
    return "; ".join([part.removesuffix(".") for part in parts[:-1]] + parts[-1:]) or None


def _same_text(message: str, said: str) -> bool:
    """Whether a task's (possibly shortened) error message is the text a stage summary already says."""
    shown = message.removesuffix("…").strip()
    return bool(shown) and shown[:200] in said


#: The longest one-line outcome (a run note, a task's XCom).
OUTCOME_CHARS = 500


def outcome_line(status: str, dry_run: bool, reason: str | None, delivered: list[dict]) -> str:
    """``Completed with errors: 3 rows rejected, top reasons: patrons.csv: ... (3 rows)``, ``Completed: 887 rows
    delivered in 1 file``: what an operator reads first."""
    sent = [d for d in delivered if not d.get("already_there")]
    said: str | None
    if reason:
        said = reason
    elif sent:
        rows = sum(d.get("rows") or 0 for d in sent)
        said = f"{rows} rows delivered in {len(sent)} file{'s' if len(sent) != 1 else ''}"
    else:
        said = "already at the vendor, nothing sent again" if delivered else None
    return one_line_outcome(status, dry_run, said)


def one_line_outcome(status: str, dry_run: bool, said: str | None) -> str:
    """``Status (dry run): what happened or why``, at most :data:`OUTCOME_CHARS` long (a vendor's or a write-back's)."""
    head = status + (" (dry run)" if dry_run else "")
    line = f"{head}: {said}" if said else head
    return line if len(line) <= OUTCOME_CHARS else line[: OUTCOME_CHARS - 1].rstrip() + "…"


def _dates_held_lines(builds: dict[str, BuildSummary]) -> list[str]:
    """The warning that date conditions compared with a day other than the run's date, naming the files."""
    from datetime import date

    held = [b for b in builds.values() if b.dates_as_of and b.run_date]
    if not held or not held[0].run_date or not held[0].dates_as_of:
        return []
    return [dates_held_line(date.fromisoformat(held[0].run_date), date.fromisoformat(held[0].dates_as_of),
                            [b.file for b in held])]


def dates_held_line(run_day, as_of, files: list[str]) -> str:
    edge = "last" if as_of < run_day else "first"
    return (f"the run's date {run_day.isoformat()} is outside the school year Aeries served, so the date conditions "
            f"of {', '.join(files)} (who teaches a section, by its staff's start and end dates) compared with "
            f"{as_of.isoformat()}, that year's {edge} day of school")


def _single_line_lines(builds: dict[str, BuildSummary]) -> list[str]:
    """One line per delivered file in which values with line breaks were written on one line (a warning)."""
    from aeries_hub.mapping.render import describe_single_line_values

    return [describe_single_line_values(b.file, b.single_line_values) for b in builds.values()
            if b.single_line_values]


def _school_year_labels(extracts: list[ExtractSummary]) -> str | list[str] | None:
    """The school year Aeries served (``"2026-2027"``), or every year when the extracts read several."""
    labels = sorted({s.school_year for s in extracts if s.school_year})
    return labels[0] if len(labels) == 1 else labels or None


def failed_checks(mapping: Mapping, sources: SourceValidation, builds: dict[str, BuildSummary]) -> list[str]:
    """One line per failed error check: what failed, how many rows, and the ids of the sample rows (the
    samples' other values are student data: they stay in the run's staged quality files). A file or table
    left with too few rows because rows were rejected says how many and why (:func:`_too_few_rows`)."""
    from aeries_hub.aeries.tables import TABLES
    from aeries_hub.quality.messages import groups_text  # the quality package imports pandas: not at DAG parse time

    checked = [(name, table["checks"], table.get("rejected"), TABLES[name].key, f"rejects/source_{name}.csv",
                table.get("rows")) for name, table in sources.tables.items()]
    keys = {o.stem: o.key for o in mapping.outputs}
    checked += [(build.file, build.checks, build.rejected, keys.get(stem, ()), f"rejects/{stem}.csv", build.rows_built)
                for stem, build in builds.items()]
    lines = []
    for name, checks, rejected, id_columns, rejects_file, rows in checked:
        for result in checks.get("results", []):
            if result["outcome"] != "failed":
                continue
            columns = f" [{', '.join(result['columns'])}]" if result["columns"] else ""
            what = f"{name}: {check_name(result)}{columns}"
            if result.get("exception"):
                lines.append(f"{what}: could not run: {result['exception']}")
                continue
            if result["expectation"] == "expect_table_row_count_to_be_between" and rejected and rows:
                reasons, more = reject_reasons(checks, id_columns)
                lines.append(_too_few_rows(name, result, rows, rejected, reasons, more, rejects_file))
                continue
            if result.get("groups"):
                lines.append(f"{what}: {groups_text(result['groups'])}")
                continue
            ids = sorted(sample_ids(result.get("sample", []), id_columns))
            counted = result.get("unexpected_count") is not None and result.get("element_count") is not None
            line = f"{what}: {result['unexpected_count']} of {result['element_count']} rows fail" if counted else f"{what}: failed"
            lines.append(line + (f", e.g. {', '.join(ids)}" if ids else ""))
    return lines


def _too_few_rows(name: str, result: dict, rows: int, rejected: int, reasons: list[dict], more: int,
                  rejects_file: str) -> str:
    """``patrons.csv: all 887 rows rejected (patrons.csv has at least 1 rows: failed); top reasons: ...``"""
    left = rows - rejected
    if left > 0:
        head = f"{rejected} of {rows} rows rejected, {left} left"
    else:
        head = f"all {rows} rows rejected" if rows > 1 else "its only row rejected"
    check = check_name(result)
    because = "; ".join(reason_text(r) for r in reasons) + (f"; {more_reasons(more)}" if more else "")
    return (f"{name}: {head} ({check}: failed); top reasons: {because}; "
            f"every rejected row with its reasons: {rejects_file}")



def shared_values(checks: dict) -> list[dict]:
    """The values that a uniqueness warning found shared by several rows (staff sharing Aeries' placeholder e-mail
    ``NoWhere@aeries.com``): ``{warning, values, count, ids}`` each, every row's id (the runner's ``shared``)."""
    return [{"warning": check_name(result), **entry}
            for result in checks.get("results", []) for entry in result.get("shared") or []]


def missing_values(checks: dict) -> list[dict]:
    """The values of another file that a warning found no row for (a class of classes.csv that no teacher enrollment
    names): ``{warning, count, ids}`` each, every id (the runner's ``missing``)."""
    return [{"warning": check_name(result), "count": len(result["missing"]),
             "ids": result["missing"]}
            for result in checks.get("results", []) if result.get("missing")]


def failing_groups(checks: dict) -> list[dict]:
    """The groups that a count per group (``counts:``) that warned or rejected found failing: ``{check, groups}``
    each, every group's ids with its count (the runner's ``groups``)."""
    return [{"check": check_name(result), "groups": result["groups"]}
            for result in checks.get("results", []) if result.get("groups") and result["outcome"] == "warned"]


def failing_group_lines(document: dict) -> list[str]:
    """``roles.csv: a user teaches at one school: 1 group fails: 1 has 2 (7)``"""
    from aeries_hub.quality.messages import groups_text

    return [f"{file['file']}: {entry['check']}: {groups_text(entry['groups'])}"
            for file in (document.get("files") or {}).values() for entry in file.get("failing_groups") or []]


def missing_value_lines(document: dict) -> list[str]:
    """``enrollments.csv: every class has a teacher enrollment ...: 2 without: 300-12, 300-15``"""
    return [f"{file['file']}: {entry['warning']}: {entry['count']} without: {', '.join(entry['ids'])}"
            for file in (document.get("files") or {}).values() for entry in file.get("missing_values") or []]


def shared_value_lines(document: dict) -> list[str]:
    """``Educator.txt: an e-mail ... per school: Email nowhere@aeries.com, SchoolCode 994 is shared by 3 rows: 1, 2``"""
    named = [(f"Aeries {name}", table) for name, table in (document.get("sources") or {}).items()]
    named += [(file["file"], file) for file in (document.get("files") or {}).values()]
    lines = []
    for where, part in named:
        for entry in part.get("shared_values") or []:
            values = ", ".join(f"{column} {value}" for column, value in entry["values"].items())
            lines.append(f"{where}: {entry['warning']}: {values} is shared by {entry['count']} rows: "
                         + ", ".join(entry["ids"]))
    return lines


def held_lines(document: dict) -> list[str]:
    """``held in Student.txt (additions only: ...): 3 changed, 2 removed ids kept as last delivered, e.g. 12, 14``"""
    held = document.get("held") or {}
    lines = []
    for file, counts in (held.get("files") or {}).items():
        sample = (counts.get("sample_removed") or []) + (counts.get("sample_changed") or [])
        lines.append(f"held in {file} ({held['why']}): {counts['changed']} changed and {counts['removed']} removed "
                     "ids keep what the vendor last received" + (f", e.g. {', '.join(sample[:5])}" if sample else ""))
    return lines


def report_lines(document: dict) -> list[str]:
    from aeries_hub.mapping.source_filters import describe_left_out

    lines = [f"{document['integration']}: {document['status']}" + (" (dry run)" if document["dry_run"] else "")]
    if document.get("reason"):
        lines.append(document["reason"])
    year, label = document.get("database_year"), document.get("school_year")
    school_year = f" (Aeries DatabaseYear {year}" + (f", school year {label})" if isinstance(label, str) else ")") if year else ""
    lines.append(f"extracted{school_year}: " + ", ".join(f"{t} {n}" for t, n in sorted(document["extracted"].items())))
    if document.get("extraction"):
        lines.append(document["extraction"])
    if document.get("reuse"):
        lines.append(document["reuse"])
    c = document["checks"]
    lines.append(f"checks: {c['passed']} passed, {c['warned']} warned, {c['failed']} failed; {document['rejected']} rows rejected")
    lines += reject_reason_lines(document)
    lines += shared_value_lines(document)
    lines += missing_value_lines(document)
    lines += failing_group_lines(document)
    lines += document.get("attention", [])
    left_out = describe_left_out(document.get("left_out_schools") or [])
    lines += [left_out] if left_out else []
    for f in document["files"].values():
        if f.get("sha256"):
            lines.append(f"built {f['file']}: {f['rows']} rows, {f['rejected']} rejected")
    changes = document.get("changes")
    if changes:
        since = (f"since run {changes['last_delivery']['run_id']}" if changes["last_delivery"]
                 else "(no readable record of the last delivery)" if changes["exceeded"] else "(first delivery)")
        for file, c in changes["files"].items():
            lines.append(f"changes to {file} {since}: {c['added']} added, {c['changed']} changed, {c['removed']} removed")
        lines += [f"over the mass-change guard: {reason}" for reason in changes["exceeded"]]
    approval = document.get("approval") or {}
    if approval.get("decision") == "approved":
        lines.append(approval["reason"])
    elif (approval.get("why") or "").startswith("first delivery"):
        lines.append(f"no approval asked: {approval['why']}")
    lines += held_lines(document)
    for d in document["delivered"]:
        where = d.get("remote_path") or d.get("url")
        if d.get("already_there"):
            lines.append(f"already at the vendor, not sent again: {where} over {d['conn_id']}, sha256 {d['sha256']}")
            continue
        line = f"delivered {where} over {d['conn_id']}: {d['rows']} rows, {d['bytes']} bytes, sha256 {d['sha256']}"
        if d.get("rejected"):
            line += f"; the vendor rejected {len(d['rejected'])} records"
        if d.get("warning_count"):
            count = d["warning_count"]
            line += f"; import {d['import_id']} ended {d['workflow_state']} with {count} warning{'s' if count != 1 else ''}"
        lines.append(line)
    lines += [f"error: {error}" for error in document.get("errors", [])]
    if document.get("resources"):
        lines.append("time and peak memory per task: " + ", ".join(
            f"{task_id} {r['seconds']:.1f} s {r['peak_memory_mb']:.0f} MiB" for task_id, r in document["resources"].items()))
    if document.get("staging"):
        lines.append(f"report: {document['staging']}/report.json")
    return lines
