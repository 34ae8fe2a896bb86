"""The report of a write-back run (``report.json``): files read, records accepted and rejected, the approval,
every write with the fields it set. Kept after retention deletes the staged files: ids, counts and field names
only, never a value (those are in plan.json and writes.json)."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from aeries_hub.run.report import one_line_outcome, run_reason
from aeries_hub.run.summary import (
    ApprovalSummary,
    ExportValidation,
    FetchSummary,
    SchoolYearSummary,
    WriteSummary,
    read_run,
)
from aeries_hub.staging import RunFolder
from aeries_hub.writeback.guard import WRITE_ACTIONS, fields_of, students_of
from aeries_hub.writeback.kinds.base import kind_of
from aeries_hub.writeback.spec import WriteBack

log = logging.getLogger(__name__)


def write_report(writeback: WriteBack, run: RunFolder, *, dry_run: bool = False) -> dict:
    """Write and log the run's ``report.json``; its ``status`` is Error when the run did not finish or Aeries
    refused a write. Its ``outcome`` is the run in one line (the run's note in the grid, as a vendor run's): the
    status, and why (``reason``: what stopped the writes, each failed task's cause, the writes Aeries did not take,
    the records rejected) or what was written."""
    new_id = kind_of(writeback).new_id_name  # the id an insert got, which later writes of its record used
    stages = read_run(run)
    writes = run.read_json("writes.json") if run.exists("writes.json") else []
    plan = run.read_json("plan.json") if run.exists("plan.json") else []
    validated = stages.exports or ExportValidation()
    wrote = stages.written or WriteSummary()
    approval = stages.approve_writes or ApprovalSummary()
    asked = stages.approve_writes.to_json() if stages.approve_writes else {}
    guard = run.read_json("guard.json") if run.exists("guard.json") else None
    year = stages.school_year or SchoolYearSummary()
    fetched = stages.fetched or FetchSummary()
    refused = [w for w in writes if w["status"] != "written"]
    # Rows found wrong only against Aeries (an unknown course, a student not at that school) are rejected by the plan.
    plan_rejects = [w for w in plan if w["action"] == "rejected"]
    rejected = sorted(set(validated.rejected) | {w["record"] for w in plan_rejects})
    reasons = sorted(set(validated.reasons) | {w["reason"] for w in plan_rejects})
    finished = stages.plan is not None and stages.written is not None
    quarantined = fetched.quarantined  # export files not taken, and why
    status = ("Error" if not finished or refused else "Completed with errors" if rejected or quarantined
              else "Completed")
    document: dict[str, Any] = {
        "integration": writeback.name,
        "status": status,
        "files": fetched.files,
        "skipped_files": fetched.skipped,
        "quarantined_files": quarantined,
        "records": validated.records,
        "rejected": rejected,
        "reject_reasons": reasons,
        "planned": count_writes(plan),
        "approval": {k: v for k, v in asked.items() if k in ("needed", "decision", "by", "at", "why")}
        | ({k: guard[k] for k in ("reasons", "students_changed", "waiting")} if guard else {}),
        "written": [{k: w[k] for k in ("record", "kind", "action", "target", "path", new_id, "status", "reason",
                                       "not_stored") if k in w}
                    | {"fields": fields_of(w)} | ({"students": students_of(w)} if w["kind"] == "scores" else {})
                    for w in writes],
        "not_written_because": wrote.skipped_because
        or (approval.reason if approval.decision not in (None, "approved") else None),
        # The school year the plan read and the writes went into (AeriesHook.check_database_year), and why it is
        # not the run's, or why the run did not settle on one.
        "database_year": year.database_year,
        "school_year": year.school_year,
        "attention": [year.year_note] if year.year_note else [],
        "errors": [year.error] if year.error else [],
        "failed_tasks": [failure.to_json() for failure in stages.failures.values()],
        "staging": str(run.root),
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    said = [document["not_written_because"]] if status == "Error" and document["not_written_because"] else []
    said += ([f"{_writes(len(refused))} not taken by Aeries, e.g. {_write_line(refused[0])}"] if refused else [])
    said += document["errors"] + [f"quarantined {item.get('file')}: {item.get('reason')}" for item in quarantined]
    document["reason"] = run_reason("; ".join(said) or None, stages, len(rejected), reasons[:3], unit="records")
    document["dry_run"] = dry_run
    document["outcome"] = one_line_outcome(status, dry_run, document["reason"] or _what_happened(document, wrote))
    run.write_json("report.json", document)
    log.info("%s: %s; %d records, %d rejected; planned %s; %d written%s", writeback.name, status, document["records"],
             len(document["rejected"]), document["planned"], sum(w["status"] == "written" for w in writes),
             f" ({document['not_written_because']})" if document["not_written_because"] else "")
    if document["school_year"]:
        log.info("Aeries school year read and written: %s (DatabaseYear %s)", document["school_year"],
                 document["database_year"])
    for line in document["attention"] + [f"error: {error}" for error in document["errors"]]:
        log.warning("%s", line)
    for w in refused:
        log.info("%s: %s %s of record %s: %s", "incomplete" if w["status"] == "incomplete" else "not written",
                 w["action"], w["kind"], w["record"], w.get("reason"))
    return document


def _write_line(write: dict) -> str:
    """``incomplete student insert of record E-2001 (not stored: StateStudentID)``: ids and field names only (what
    Aeries said may quote a value)."""
    not_stored = f" (not stored: {', '.join(write['not_stored'])})" if write.get("not_stored") else ""
    return f"{write['status']} {write['kind']} {write['action']} of record {write['record']}{not_stored}"


def _what_happened(document: dict, wrote: WriteSummary) -> str:
    """What a run without a problem did: ``3 writes into Aeries``, or why it wrote nothing."""
    planned = sum(n for key, n in document["planned"].items() if key.split()[-1] in WRITE_ACTIONS)
    if document["not_written_because"]:
        return f"{_writes(planned)} planned, none sent: {document['not_written_because']}"
    if not document["files"]:
        return "no new export file"
    return f"{_writes(wrote.written)} into Aeries" if wrote.written else "nothing to write: Aeries holds every record"


def _writes(count: int) -> str:
    return f"{count} write{'s' if count != 1 else ''}"


def count_writes(plan: list[dict]) -> dict[str, int]:
    """How many planned writes of each kind and action ("student insert": 3)."""
    counts: dict[str, int] = {}
    for write in plan:
        key = f"{write['kind']} {write['action']}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))

