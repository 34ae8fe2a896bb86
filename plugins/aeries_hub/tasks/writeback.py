"""The tasks of a write-back DAG: fetch the vendor's export, validate it, plan the Aeries writes, write, report.

Like the outbound DAGs, tasks pass paths and counts; each writes its summary under ``summary/`` in the run's
staging folder (:mod:`aeries_hub.run.summary`). The plan (``plan.json``) lists every write with the record it touches and its old and new
values; ``writes.json`` lists what Aeries answered to each. Export files that were written are remembered
(``_last_delivered/inbound/``), so a re-run or the next schedule never writes a file twice; a write whose
record already holds the values is not sent at all. What a write-back's kind does is in its module of
:mod:`aeries_hub.writeback.kinds`.
"""

from __future__ import annotations

import hashlib
import json
import logging

from aeries_hub.run.summary import (
    ExportValidation,
    FetchSummary,
    PlanSummary,
    SchoolYearSummary,
    WriteSummary,
    read_run,
    write_summary,
)
from aeries_hub.staging import RunFolder
from aeries_hub.writeback import sources, state
from aeries_hub.writeback.guard import WRITE_ACTIONS
from aeries_hub.writeback.kinds.base import kind_of
from aeries_hub.writeback.loader import writeback_for
from aeries_hub.writeback.records import rejects_summary
from aeries_hub.writeback.report import count_writes, write_report

log = logging.getLogger(__name__)


def fetch_exports(writeback_file: str) -> dict:
    """Copy the vendor's new export files (not yet written into Aeries) to ``inbound/``, from its SFTP drop
    folder or its HTTPS API; quarantine those that cannot be taken (:mod:`aeries_hub.writeback.sources`)."""
    from airflow.sdk import get_current_context

    writeback = writeback_for(writeback_file)
    run = RunFolder.current()
    fetched = FetchSummary(**sources.fetch_new_exports(writeback, run))
    if any("sha256" in item for item in fetched.quarantined):
        state.remember_quarantined(writeback, fetched.quarantined, get_current_context()["run_id"])
    write_summary(run, "fetch_exports", fetched)
    return {"files": fetched.files}


def validate_exports(writeback_file: str, fetched: dict) -> dict:
    """Map each vendor record to Aeries fields and check it; a record that fails any check is rejected whole
    (rejects/exports.csv names it and why) and nothing of it is written."""
    writeback = writeback_for(writeback_file)
    run = RunFolder.current()
    validated = kind_of(writeback).validate(writeback, run, fetched)
    summary = ExportValidation(**rejects_summary(run, validated.rejects, records=validated.records,
                                                 accepted=validated.accepted))
    write_summary(run, "validate_exports", summary)
    return {"records": summary.records, "accepted": summary.accepted}


def plan_writes(writeback_file: str, validated: dict) -> dict:
    """Compare each accepted record with Aeries: insert what is new, update only the fields that differ, leave a
    record that already holds the values alone. ``guard.json`` says which writes wait for approval
    (:mod:`aeries_hub.writeback.guard`)."""
    from aeries_hub.extract.school_year import aeries_for_run
    from aeries_hub.writeback.guard import fields_of, review

    writeback = writeback_for(writeback_file)
    run = RunFolder.current()
    # Aeries reads and writes its default year, silently, when the year asked for is not offered: settle the year
    # first (as an extraction does), so that the plan compares with, and the writes go into, the year named.
    hook, year = aeries_for_run(writeback.aeries_conn_id, writeback, run)
    write_summary(run, "school_year", SchoolYearSummary(**year.to_dict()))
    plan, students_read = kind_of(writeback).plan(writeback, hook, run)
    run.write_json("plan.json", plan)
    guard = review(writeback, plan, students_read=students_read, created=state.created_students(writeback))
    run.write_json("guard.json", guard)
    counts = count_writes(plan)
    log.info("Planned writes: %s", ", ".join(f"{n} {k}" for k, n in counts.items()) or "none")
    for write in plan:  # ids and field names only: the values stay in plan.json, which retention deletes
        if write["action"] == "rejected":
            log.warning("rejected %s: %s", write["kind"], write["reason"])
        elif write["action"] != "unchanged":
            log.info("%s %s %s (record %s): %s", write["action"], write["kind"], write["target"], write["record"],
                     ", ".join(fields_of(write)))
    if guard["needs_approval"]:
        log.info("%d writes wait for approval: %s", len(guard["waiting"]), "; ".join(guard["reasons"]))
    writes = len([w for w in plan if w["action"] in WRITE_ACTIONS])
    write_summary(run, "plan_writes", PlanSummary(counts=counts, writes=writes, needs_approval=guard["needs_approval"],
                                                  students_changed=guard["students_changed"]))
    return {"writes": writes, "needs_approval": guard["needs_approval"]}


def write_to_aeries(writeback_file: str, planned: dict) -> dict:
    """Send the planned writes, in order; a refused record is reported and the others still go. Off until the
    write-back file says ``enabled: true``; the ``dry_run`` param also stops here, and so does a plan that
    needs approval nobody gave (``approve_writes``). Run again after a crash or a kill, it does not send a write
    Aeries already took (:mod:`aeries_hub.writeback.write`)."""
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from aeries_hub.writeback.journal import WriteJournal
    from aeries_hub.writeback.write import apply_plan, hook_on_planned_year

    writeback = writeback_for(writeback_file)
    run = RunFolder.current()
    context = get_current_context()
    with run.root.joinpath("plan.json").open("rb") as handle:
        plan_bytes = handle.read()
    plan = json.loads(plan_bytes)
    if not writeback.enabled or context["params"].get("dry_run"):
        why = "dry_run is on" if writeback.enabled else f"writing is off ({writeback.path.name} has enabled: false)"
        write_summary(run, "write_to_aeries", WriteSummary(skipped_because=why))
        raise AirflowSkipException(f"{why}: the {planned['writes']} planned writes are in plan.json, none was sent")
    stages = read_run(run)
    if run.read_json("guard.json")["needs_approval"] and (stages.approve_writes is None
                                                         or stages.approve_writes.decision != "approved"):
        raise AirflowFailException(f"{writeback.dag_id}: the plan needs approval (guard.json) and approve_writes has "
                                   "not approved it: nothing was sent; run the DAG again and answer in Required actions")
    hook = hook_on_planned_year(writeback, run)
    journal = WriteJournal(run, hashlib.sha256(plan_bytes).hexdigest())
    results, failed_records = apply_plan(writeback, hook, journal, plan)
    run.write_json("writes.json", results)
    fetched = (stages.fetched or FetchSummary()).files
    created = [str(r["student_id"]) for r in results
               if r["kind"] == "student" and r["action"] == "insert" and r["status"] in ("written", "incomplete")]
    state.remember_written(writeback, context["run_id"], files=[] if failed_records else fetched, created=created)
    written = sum(r["status"] == "written" for r in results)
    incomplete = sorted({r["record"] for r in results if r["status"] == "incomplete"})
    write_summary(run, "write_to_aeries", WriteSummary(written=written, refused=sorted(failed_records),
                                                       incomplete=incomplete, results=len(results)))
    return {"written": written, "results": len(results)}


def report(writeback_file: str) -> dict:
    """The run's report (:mod:`aeries_hub.writeback.report`), returned as XCom, and its one-line outcome as the
    XCom ``outcome`` (the run's note: :mod:`aeries_hub.run.notes`); the task fails when the run ended in Error."""
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowFailException

    writeback = writeback_for(writeback_file)
    run = RunFolder.current()
    context = get_current_context()
    document = write_report(writeback, run, dry_run=bool(context["params"].get("dry_run")))
    context["ti"].xcom_push(key="outcome", value=document["outcome"])
    if document["status"] == "Error":
        raise AirflowFailException(f"{writeback.name} write-back: {document['outcome']} (see {run.root}/report.json)")
    return document
