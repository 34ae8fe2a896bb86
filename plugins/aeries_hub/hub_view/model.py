"""What the hub view shows, collected from Airflow's metadata database and each run's ``report.json``.

One :class:`HubRow` per vendor DAG and write-back DAG (the DAGs tagged ``aeries``, not ``maintenance``) that
the user may read: its latest run (status, rows delivered, rejects with reasons and sample ids, warned checks,
changes), the approvals waiting in Airflow's Required actions, and the next scheduled run. :func:`run_detail` is
one run's page: the whole report, why it ended as it did (its one-line outcome, each failed task's cause), what
its delivery held, its rejects and its quality results (the checks' outcomes from the staged stage summaries, while
retention keeps them). :func:`disclosure_log` is a vendor's page of what it received (the disclosure log's latest
entries: files, record counts and fields, never a value).

Only ids, counts and check descriptions are shown, never a check's sample rows or observed values: those hold
student data (names, birth dates), as the staged ``rejects/*.csv`` do, which the page names but does not show.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aeries_hub.run.summary import TaskFailure, check_name
from aeries_hub.staging import RunFolder, staging_base

VENDOR, WRITEBACK = "vendor", "write-back"
#: What a run with no report yet (or none at all) shows, by the Airflow state of the run.
STATE_WORDS = {"queued": "Queued", "running": "Running", "success": "Finished without a report",
               "failed": "Failed before its report"}


@dataclass
class Approval:
    """An approval waiting in Airflow's Required actions."""

    run_id: str
    task_id: str
    subject: str
    asked_at: datetime
    #: What the approver may answer (``Approve``, ``Deliver additions and changes, hold removals``, ``Reject``).
    options: list[str]
    #: The task instance's Required actions page in Airflow's UI (a path under the UI's base).
    link: str


@dataclass
class RejectReason:
    #: ``Aeries students``, ``patrons.csv``, ``patrons.csv (the vendor)`` or ``records`` (a write-back)
    where: str
    reason: str
    count: int | None
    sample_ids: list[str] = field(default_factory=list)


@dataclass
class HeldFile:
    """What a delivery held of one file: the changed and removed ids that kept what the vendor last received."""

    file: str
    changed: int
    removed: int
    sample_ids: list[str]


@dataclass
class Held:
    #: Why: the approver's choice, or the calendar's additions-only window.
    why: str
    files: list[HeldFile]


@dataclass
class RunView:
    dag_id: str
    run_id: str
    state: str
    started: datetime | None
    ended: datetime | None
    #: The report's status, or what the run's Airflow state says while it has no report.
    status: str
    report: dict[str, Any] | None
    delivered_rows: int | None = None
    rejected: int | None = None
    reasons: list[RejectReason] = field(default_factory=list)
    warned: list[str] = field(default_factory=list)
    #: ``{file or write: {added, changed, removed}}`` for a vendor, ``{"student update": 3}`` for a write-back
    changes: dict[str, Any] = field(default_factory=dict)
    #: Why the run was skipped, stopped, or what its errors were.
    problems: list[str] = field(default_factory=list)
    dry_run: bool = False
    #: Every file of the run was at the vendor already (the same bytes): nothing was sent again.
    already_there: bool = False
    #: The run in one line (the report's ``outcome``, the run's note in Airflow's grid).
    outcome: str = ""
    #: Why each failed task failed: the error, its first line, the connection and what to check.
    failed_tasks: list[TaskFailure] = field(default_factory=list)
    #: What the delivery held back (an approver's hold, an additions-only window).
    held: Held | None = None
    #: The approval's outcome from the report: decision, choice, by, at, reason.
    approval: dict[str, Any] = field(default_factory=dict)

    @property
    def status_class(self) -> str:
        """The CSS class of the status: each status its own colour."""
        return self.status.lower().replace(" ", "-")


@dataclass
class HubRow:
    dag_id: str
    kind: str
    paused: bool
    next_run: datetime | None
    last_run: RunView | None
    approvals: list[Approval] = field(default_factory=list)


@dataclass
class QualityResult:
    where: str
    check: str
    columns: list[str]
    severity: str
    outcome: str
    #: ``3 of 250 rows``, or why the check could not run
    detail: str


@dataclass
class RunDetail:
    run: RunView
    quality: list[QualityResult]
    #: The staged files that hold every rejected row with its values (student data: named, not shown).
    rejects_files: list[str]
    staging: str
    report_json: str | None


def hub_dag_ids(session) -> dict[str, tuple[str, bool, datetime | None]]:
    """``{dag_id: (kind, paused, next run)}`` of every vendor and write-back DAG Airflow knows (not stale)."""
    from airflow.models.dag import DagModel, DagTag
    from sqlalchemy import select

    tags: dict[str, set[str]] = {}
    for dag_id, tag in session.execute(select(DagTag.dag_id, DagTag.name)):
        tags.setdefault(dag_id, set()).add(tag)
    dags = {}
    for dag in session.scalars(select(DagModel).where(DagModel.is_stale.is_(False)).order_by(DagModel.dag_id)):
        names = tags.get(dag.dag_id, set())
        if "aeries" not in names or "maintenance" in names:
            continue
        next_run = None if dag.is_paused else dag.next_dagrun_create_after or dag.next_dagrun
        dags[dag.dag_id] = (WRITEBACK if "writeback" in names else VENDOR, bool(dag.is_paused), next_run)
    return dags


def collect_hub(readable: set[str], session) -> list[HubRow]:
    """One row per vendor and write-back DAG in ``readable`` (the DAG ids the user may read)."""
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    waiting = waiting_approvals(readable, session)
    rows = []
    for dag_id, (kind, paused, next_run) in hub_dag_ids(session).items():
        if dag_id not in readable:
            continue
        latest = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id)
                                 .order_by(DagRun.run_after.desc(), DagRun.id.desc()).limit(1)).first()
        rows.append(HubRow(dag_id, kind, paused, next_run, run_view(latest, kind) if latest else None,
                           waiting.get(dag_id, [])))
    return rows


def waiting_approvals(readable: set[str], session) -> dict[str, list[Approval]]:
    """The approvals nobody has answered yet, of tasks still waiting for one, by DAG id."""
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select

    # Airflow 3.3 parks a task waiting for input in its own state (before 3.3 it deferred to a trigger).
    query = (select(HITLDetail, TaskInstance).join(TaskInstance, HITLDetail.ti_id == TaskInstance.id)
             .where(HITLDetail.responded_at.is_(None), TaskInstance.state == TaskInstanceState.AWAITING_INPUT,
                    TaskInstance.dag_id.in_(readable))
             .order_by(HITLDetail.created_at))
    found: dict[str, list[Approval]] = {}
    for detail, ti in session.execute(query):
        link = f"dags/{ti.dag_id}/runs/{ti.run_id}/tasks/{ti.task_id}"
        link += f"/mapped/{ti.map_index}" if ti.map_index >= 0 else ""
        found.setdefault(ti.dag_id, []).append(
            Approval(ti.run_id, ti.task_id, detail.subject, detail.created_at, list(detail.options or []),
                     f"{link}/required_actions"))
    return found


def run_folder(dag_id: str, run_id: str) -> RunFolder:
    return RunFolder(staging_base(), dag_id, run_id)


#: How many parsed reports the view keeps (every DAG's latest run, and the run pages looked at since); the least
#: recently read goes first.
REPORTS_KEPT = 512
_reports: OrderedDict[str, tuple[tuple[float, int], dict[str, Any]]] = OrderedDict()
_reports_lock = threading.Lock()


def read_report(dag_id: str, run_id: str) -> dict[str, Any] | None:
    """The run's report.json, parsed again only when its modification time or size changed (the hub page shows
    every DAG's latest run at each request: a large report would otherwise be parsed each time). The dict is
    shared between requests: read it, never change it."""
    path = run_folder(dag_id, run_id).root / "report.json"
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    key, stamp = str(path), (info.st_mtime, info.st_size)
    with _reports_lock:
        kept = _reports.get(key)
        if kept is not None and kept[0] == stamp:
            _reports.move_to_end(key)
            return kept[1]
    with path.open("rb") as handle:
        report = json.load(handle)
    with _reports_lock:
        _reports[key] = (stamp, report)
        _reports.move_to_end(key)
        while len(_reports) > REPORTS_KEPT:
            _reports.popitem(last=False)
    return report


def run_view(dag_run, kind: str) -> RunView:
    report = read_report(dag_run.dag_id, dag_run.run_id)
    state = str(dag_run.state)
    view = RunView(dag_run.dag_id, dag_run.run_id, state, dag_run.start_date, dag_run.end_date,
                   report["status"] if report else STATE_WORDS.get(state, state.capitalize()), report)
    if report is None:
        return view
    if kind == WRITEBACK:
        return _writeback_view(view, report)
    files = report.get("files") or {}
    view.dry_run = bool(report.get("dry_run"))
    receipts = report.get("delivered") or []
    view.delivered_rows = sum(d.get("rows") or 0 for d in receipts)
    view.already_there = bool(receipts) and all(d.get("already_there") for d in receipts)
    view.rejected = report.get("rejected")
    for name, table in (report.get("sources") or {}).items():
        view.reasons += [_reason(f"Aeries {name}", r) for r in table.get("reject_reasons") or []]
    for file in files.values():
        view.reasons += [_reason(file["file"], r) for r in file.get("reject_reasons") or []]
        view.reasons += [_reason(f"{file['file']} (the vendor)", r) for r in file.get("vendor_reject_reasons") or []]
    view.warned = warned_checks(dag_run.dag_id, dag_run.run_id) + list(report.get("attention") or [])
    changes = report.get("changes") or {}
    view.changes = {file: {k: c[k] for k in ("added", "changed", "removed")} for file, c in changes.get("files", {}).items()}
    view.outcome = report.get("outcome") or ""
    # The outcome line holds the reason: shown once.
    view.problems = [p for p in [report.get("reason")] if p and not view.outcome] + list(report.get("errors") or [])
    view.failed_tasks = [TaskFailure(**failure) for failure in report.get("failed_tasks") or []]
    view.held = _held(report.get("held"))
    view.approval = dict(report.get("approval") or {})
    return view


def _held(held: dict[str, Any] | None) -> Held | None:
    """The report's ``held`` (``delivery.holds.hold_files``: why, and per file the held counts and sample ids)."""
    if not held:
        return None
    return Held(held["why"], [HeldFile(file, c["changed"], c["removed"],
                                       list(c.get("sample_removed") or []) + list(c.get("sample_changed") or []))
                              for file, c in (held.get("files") or {}).items()])


def _writeback_view(view: RunView, report: dict[str, Any]) -> RunView:
    written = [w for w in report.get("written") or [] if w.get("status") == "written"]
    view.delivered_rows = len(written)
    view.rejected = len(report.get("rejected") or [])
    if report.get("reject_reasons"):
        view.reasons = [RejectReason("records", reason, None) for reason in report["reject_reasons"]]
        view.reasons[0].sample_ids = list(report["rejected"][:5])
    view.warned = list(report.get("attention") or [])
    view.changes = dict(report.get("planned") or {})
    view.dry_run = bool(report.get("dry_run"))
    view.outcome = report.get("outcome") or ""
    problems = [report.get("not_written_because"), *(report.get("errors") or [])]
    problems += [f"{q.get('file')}: {q.get('reason')}" for q in report.get("quarantined_files") or []]
    view.problems = [p for p in problems if p and p not in view.outcome]  # the outcome line says it once
    view.failed_tasks = [TaskFailure(**failure) for failure in report.get("failed_tasks") or []]
    return view


def _reason(where: str, reason: dict[str, Any]) -> RejectReason:
    return RejectReason(where, reason["reason"], reason.get("count"), list(reason.get("sample_ids") or []))


def check_results(dag_id: str, run_id: str) -> list[tuple[str, dict[str, Any]]]:
    """``(where, result)`` of every check of the run, from the staged summaries of ``validate_sources`` and each
    ``build_<stem>`` ([] once retention deleted them)."""
    folder = run_folder(dag_id, run_id)
    found: list[tuple[str, dict[str, Any]]] = []
    for name in folder.list("summary"):
        summary = folder.read_json(f"summary/{name}")
        if name == "validate_sources.json":
            for table, outcome in (summary.get("tables") or {}).items():
                found += [(f"Aeries {table}", r) for r in (outcome.get("checks") or {}).get("results", [])]
        elif name.startswith("build_"):
            found += [(summary.get("file") or name, r) for r in (summary.get("checks") or {}).get("results", [])]
    return found


def warned_checks(dag_id: str, run_id: str) -> list[str]:
    """``Aeries students: Birthdate is Aeries' null date ...`` for each check that warned."""
    return [f"{where}: {check_name(r)}" + (f" ({r['unexpected_count']} rows)" if r.get("unexpected_count") else "")
            for where, r in check_results(dag_id, run_id) if r.get("outcome") == "warned"]


def quality_results(dag_id: str, run_id: str) -> list[QualityResult]:
    results = []
    for where, r in check_results(dag_id, run_id):
        if r.get("exception"):
            detail = f"could not run: {r['exception']}"
        elif r.get("unexpected_count") is not None and r.get("element_count") is not None:
            detail = f"{r['unexpected_count']} of {r['element_count']} rows"
            detail += f", {r['rejected_count']} rejected" if r.get("rejected_count") else ""
        else:
            detail = ""
        results.append(QualityResult(where, check_name(r), list(r.get("columns") or []), r.get("severity", ""),
                                     r.get("outcome", ""), detail))
    return results


def run_detail(dag_id: str, run_id: str, session) -> RunDetail | None:
    """One run's page, or None when Airflow has no such run."""
    from airflow.models.dag import DagTag
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    dag_run = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)).first()
    if dag_run is None:
        return None
    tags = set(session.scalars(select(DagTag.name).where(DagTag.dag_id == dag_id)))
    view = run_view(dag_run, WRITEBACK if "writeback" in tags else VENDOR)
    folder = run_folder(dag_id, run_id)
    return RunDetail(view, quality_results(dag_id, run_id), [f"rejects/{name}" for name in folder.list("rejects")],
                     str(folder.root),
                     json.dumps(view.report, indent=2, sort_keys=True) if view.report is not None else None)


#: How many of a vendor's latest disclosure log entries its page shows.
DISCLOSURES_SHOWN = 100


@dataclass
class DisclosureLog:
    dag_id: str
    #: The latest entries, newest first (``delivery.disclosures``: time, run, target, file, records, fields).
    entries: list[dict[str, Any]]
    #: Whether the log may hold older entries of the DAG than those shown (it is read from its end only).
    more: bool
    #: Where the whole log is.
    folder: str


def disclosure_log(dag_id: str, base=None, shown: int = DISCLOSURES_SHOWN) -> DisclosureLog:
    """What ``dag_id``'s vendor received: the latest ``shown`` entries of the disclosure log under the staging
    ``base`` (default: the configured one), read from the log's end (``delivery.disclosures.latest_disclosures``)."""
    from aeries_hub.delivery.disclosures import DISCLOSURE_FOLDER, latest_disclosures

    base = base if base is not None else staging_base()
    entries, more = latest_disclosures(base, dag_id, shown)
    return DisclosureLog(dag_id, entries, more, str(base / DISCLOSURE_FOLDER))
