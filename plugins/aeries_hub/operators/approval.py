"""Approvals in the Airflow UI (Required actions): the outbound mass-change approval, and the write-backs' guard.

The mass-change approval: a run whose changes exceed the mapping's guard waits for a person.

The task reads the ``track_changes`` summary of its run. Within the guard (or on a dry run or a test_record run) it
finishes at once. Otherwise it asks in the Airflow UI (Required actions), showing the counts per file and a sample
of the ids that would be removed, and tells the alert channels that it waits (:mod:`aeries_hub.approval_notice`).
A first delivery to a target asks too, with a preview (each file's rows and first ids), unless a dry run to that
target completed before or ``[aeries_hub] approve_first_delivery`` is off:

* Approve: the delivery goes on;
* Deliver additions and changes, hold removals (offered when the run removes rows and its delivery sends files):
  the delivery goes on, and each removed key keeps its last delivered rows (:mod:`aeries_hub.delivery.holds`);
* Reject: the delivery is skipped, and the report ends the run in Error with who rejected it;
* no answer within ``guard.approval_timeout_hours``: this task fails, nothing is delivered, and the
  report names the timeout.

Each outcome is written to the run's ``summary/approve_changes.json`` for the report. A write-back's
``approve_writes`` (:class:`WriteBackApprovalOperator`) works the same way for the writes its plan marks as
needing approval, with its outcome in ``summary/approve_writes.json``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator

from aeries_hub.delivery.holds import REMOVALS
from aeries_hub.run.summary import ApprovalSummary, ChangeTracking, read_run, write_summary
from aeries_hub.staging import RunFolder

SAMPLE_SHOWN = 20
HOLD_REMOVALS = "Deliver additions and changes, hold removals"
#: The options that approve part of the changes, and what of them each holds (``aeries_hub.delivery.holds``).
HOLDS = {HOLD_REMOVALS: REMOVALS}


class RecordedApprovalOperator(ApprovalOperator):
    """An approval whose outcome (not needed, waiting, approved, rejected, timed out: who and when) is written to
    the run's ``summary/<task_id>.json`` for the report. On Reject the next task is skipped; on timeout this task
    fails. Subclasses decide in :meth:`execute` whether to ask: :meth:`_not_needed`, or :meth:`_ask` with what."""

    #: What does not happen without approval, and the key that sets the timeout (named in the messages).
    NOT_DONE = "Not delivered"
    TIMEOUT_KEY = "guard.approval_timeout_hours"
    WHAT = "the changes"
    SUBJECT = "Approve changes to the vendor"

    def __init__(self, *, approval_timeout_hours: float, **kwargs: Any) -> None:
        super().__init__(subject=self.SUBJECT, response_timeout=timedelta(hours=approval_timeout_hours), **kwargs)

    def _not_needed(self, run: RunFolder, why: str) -> dict:
        self.log.info("No approval needed (%s)", why)
        return self._record(run, ApprovalSummary(needed=False, why=why))

    def _ask(self, context, run: RunFolder, subject: str, body: str, waiting: ApprovalSummary,
             counts: list[str]) -> Any:
        """Ask in the UI (Required actions) and tell the alert channels (``counts``: a line per file); the task
        waits for the answer (``waiting`` says why)."""
        from aeries_hub.approval_notice import notify_waiting

        self.subject, self.body = subject, body
        self._record(run, waiting)
        self.log.info("Waiting for a decision in the Airflow UI (Required actions):\n%s", self.body)
        notify_waiting(context, self, counts)
        return super().execute(context)

    def execute_complete(self, context, event: dict[str, Any]) -> Any:
        from airflow.sdk.exceptions import AirflowFailException

        run = RunFolder.current()
        what = self._what(run)
        if event.get("error_type") == "timeout":
            hours = (self.response_timeout or timedelta(0)).total_seconds() / 3600  # set, or it could not time out
            reason = f"{self.NOT_DONE}: nobody approved {what} within {hours:g} hours ({self.TIMEOUT_KEY})"
            self._record(run, ApprovalSummary(needed=True, decision="timed out", reason=reason))
            raise AirflowFailException(reason)
        # Recorded before the parent acts on it: on Reject the parent ends this task by skipping the next one.
        choice = (event.get("chosen_options") or [""])[0]
        hold = HOLDS.get(choice)
        approved = choice == self.APPROVE or hold is not None
        user = (event.get("responded_by_user") or {}).get("name") or "someone"
        responded_at = event.get("responded_at")
        when = responded_at.isoformat(timespec="seconds") if isinstance(responded_at, datetime) else str(responded_at or "")
        decision = "approved" if approved else "rejected"
        reason = f"{user} {decision} {what}" + (" with the removals held" if hold else "") + f" at {when}"
        if not approved:
            reason = f"{self.NOT_DONE}: {reason}"
        self.log.info("%s", reason)
        self._record(run, ApprovalSummary(needed=True, decision=decision, by=user, at=when, reason=reason,
                                          choice=choice or None, hold=hold))
        if hold:  # the parent would skip the delivery on any answer but Approve
            return HITLOperator.execute_complete(self, context, event)
        return super().execute_complete(context, event)

    def _what(self, run: RunFolder) -> str:
        """What is approved, as the outcome names it (the answer comes to a new instance of the task: from the run)."""
        return self.WHAT

    def _record(self, run: RunFolder, outcome: ApprovalSummary) -> dict:
        """Write the outcome as the task's summary; its JSON is also the task's XCom when no one is asked."""
        write_summary(run, self.task_id, outcome)
        return outcome.to_json()


class MassChangeApprovalOperator(RecordedApprovalOperator):
    """Ask for approval when the run's changes exceed the mass-change guard of ``mapping_file``; with
    ``offer_hold`` (a file delivery), the approver may also deliver additions and changes and hold removals."""

    def __init__(self, *, mapping_file: str, offer_hold: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mapping_file = mapping_file
        if offer_hold:
            self.options = [self.APPROVE, HOLD_REMOVALS, self.REJECT]

    def execute(self, context):
        from aeries_hub.extract.school_year import run_date
        from aeries_hub.tasks.context import delivers_nothing, mapping_for

        run = RunFolder.current()
        params = context["params"]
        changes = read_run(run).changes or ChangeTracking()
        if delivers_nothing(params) or params.get("test_record"):
            return self._not_needed(run, "dry run" if delivers_nothing(params) else "test_record run")
        if changes.first_delivery and not approve_first_delivery():
            return self._not_needed(run, "first delivery (approve_first_delivery is off)")
        if changes.first_delivery and changes.dry_run:
            return self._not_needed(run, f"first delivery after dry run {changes.dry_run['run_id']} "
                                         f"({changes.dry_run['at']})")
        if not changes.exceeded and not changes.first_delivery:
            return self._not_needed(run, "within the mass-change guard")
        mapping = mapping_for(self.mapping_file)
        blackout = mapping.calendar.blackout_on(run_date(mapping))
        if blackout:
            return self._not_needed(run, f"blackout {blackout.name} until {blackout.end}: nothing is delivered")
        if changes.first_delivery:
            self.options = [self.APPROVE, self.REJECT]
            files = first_delivery_preview(mapping, run)
            return self._ask(context, run, f"{mapping.title}: approve the first delivery to {changes.target}",
                             first_delivery_body(mapping.dag_id, changes.target, files, str(run.root),
                                                 mapping.guard.approval_timeout_hours),
                             ApprovalSummary(needed=True, decision="waiting", reasons=[f"first delivery to {changes.target}"]),
                             [f"{f['file']}: {f['rows']} rows, first delivery" for f in files])
        removes = any(c["removed"] for c in changes.files.values())
        if HOLD_REMOVALS in self.options and not removes:
            self.options = [self.APPROVE, self.REJECT]  # nothing to hold
        return self._ask(context, run, f"{mapping.title}: approve {'; '.join(changes.exceeded)}",
                         approval_body(mapping.dag_id, changes, mapping.guard.approval_timeout_hours,
                                       HOLD_REMOVALS in self.options),
                         ApprovalSummary(needed=True, decision="waiting", exceeded=changes.exceeded),
                         [f"{file}: {c['added']} added, {c['changed']} changed, {c['removed']} removed "
                          f"({c['rows_before']} rows before, {c['rows_after']} now)" for file, c in changes.files.items()])

    def _what(self, run: RunFolder) -> str:
        changes = read_run(run).changes or ChangeTracking()
        return f"the first delivery to {changes.target}" if changes.first_delivery else self.WHAT


class WriteBackApprovalOperator(RecordedApprovalOperator):
    """Ask for approval when the planned writes of ``writeback_file`` need it (its ``guard.json``, see
    :mod:`aeries_hub.writeback.guard`): Approve writes the plan, Reject writes nothing and the report ends the run
    in Error naming who rejected it. A dry run, or a write-back with writing off, writes nothing: no approval."""

    NOT_DONE = "Not written"
    WHAT = "the writes"
    SUBJECT = "Approve writes into Aeries"

    def __init__(self, *, writeback_file: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.writeback_file = writeback_file

    def execute(self, context):
        from aeries_hub.writeback.loader import writeback_for

        run = RunFolder.current()
        writeback = writeback_for(self.writeback_file)
        guard = run.read_json("guard.json")
        if context["params"].get("dry_run") or not writeback.enabled or not guard["needs_approval"]:
            return self._not_needed(run, "dry run" if context["params"].get("dry_run") else "writing is off"
                                    if not writeback.enabled else "no write needs approval")
        return self._ask(context, run, f"{writeback.title}: approve {len(guard['waiting'])} writes into Aeries",
                         writeback_approval_body(writeback.dag_id, guard, writeback.guard.approval_timeout_hours),
                         ApprovalSummary(needed=True, decision="waiting", reasons=guard["reasons"]),
                         [f"{len(guard['waiting'])} writes need approval"] + guard["reasons"])


def approval_body(dag_id: str, changes: ChangeTracking, timeout_hours: float, offer_hold: bool = False) -> str:
    """The Markdown an approver reads: the counts per file, why approval is needed, and a sample of removals."""
    last = changes.last_delivery
    lines = [
        f"**{dag_id}** would deliver changes larger than its mass-change guard allows, compared with the last "
        f"delivery (run `{last['run_id']}` at {last['delivered_at']})." if last else
        f"**{dag_id}** has no readable record of its last delivery, so its changes cannot be counted.",
        "",
        "| file | rows before | rows now | added | changed | removed |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for file, c in changes.files.items():
        lines.append(f"| {file} | {c['rows_before']} | {c['rows_after']} | {c['added']} | {c['changed']} | {c['removed']} |")
    lines += ["", "Why approval is needed:", *(f"- {reason}" for reason in changes.exceeded)]
    for file, c in changes.files.items():
        if c["removed"]:
            shown = c["sample_removed"][:SAMPLE_SHOWN]
            lines += ["", f"Would be removed from {file} (ids, {len(shown)} of {c['removed']}): " + ", ".join(f"`{i}`" for i in shown)]
    hold = (f"**{HOLD_REMOVALS}** delivers the files with the removed rows still in them, as last delivered (the "
            "next run counts them as removals again). ") if offer_hold else ""
    lines += [
        "",
        f"**Approve** delivers the files. {hold}**Reject** delivers nothing and ends the run in Error; so does no "
        f"answer within {timeout_hours:g} hours. The full lists are in the run's staging folder, changes/*.csv.",
    ]
    return "\n".join(lines)


def approve_first_delivery() -> bool:
    """``[aeries_hub] approve_first_delivery``: whether a first delivery without a dry run before it asks."""
    from airflow.configuration import conf

    return conf.getboolean("aeries_hub", "approve_first_delivery", fallback=True)


def first_delivery_preview(mapping, run: RunFolder) -> list[dict]:
    """Each file of a first delivery: its rows, the id columns of its key, and a sample of their values."""
    from aeries_hub.changes import id_sample, shown_key

    builds = read_run(run).builds
    files = []
    for output in mapping.outputs:
        columns = shown_key(output.key, output.restricted_columns)
        sample, ids = id_sample(run.path("built", f"{output.stem}.parquet"), columns) if columns else ([], 0)
        rows = builds[output.stem].rows if output.stem in builds else None
        files.append({"file": output.file, "rows": rows, "key": list(output.key), "id_columns": list(columns),
                      "sample": sample, "ids": ids})
    return files


def first_delivery_body(dag_id: str, target: str, files: list[dict], staging: str, timeout_hours: float) -> str:
    """The Markdown an approver of a first delivery reads: each file with its rows and a sample of its ids (ids
    only), and where the whole files are."""
    lines = [
        f"**{dag_id}** has never delivered to {target}: there is no record of a delivery, Airflow has none, and the "
        "target holds none of its files. This first delivery sends every row.",
        "",
        "| file | rows |",
        "|---|---:|",
        *(f"| {f['file']} | {f['rows'] if f['rows'] is not None else '?'} |" for f in files),
    ]
    for f in files:
        if f["id_columns"]:
            lines += ["", f"First ids of {f['file']} ({'/'.join(f['id_columns'])}, {len(f['sample'])} of {f['ids']}): "
                      + ", ".join(f"`{i}`" for i in f["sample"])]
        else:
            lines += ["", f"No ids shown for {f['file']}: its key ({', '.join(f['key'])}) has no id or code column."]
    lines += [
        "",
        f"The whole files are in this run's staging folder, {staging}/output/. **Approve** delivers them. "
        f"**Reject** delivers nothing and ends the run in Error; so does no answer within {timeout_hours:g} hours. "
        "A dry run (the `dry_run` param) builds the same files in its staging folder without delivering; once one "
        "has completed, the first delivery goes without asking.",
    ]
    return "\n".join(lines)


def writeback_approval_body(dag_id: str, guard: dict, timeout_hours: float) -> str:
    """The Markdown an approver of a write-back reads: why, then each waiting write (record, students, fields)."""
    waiting = guard["waiting"]
    lines = [
        f"**{dag_id}** would make {len(waiting)} writes into Aeries that need approval. It changes "
        f"{guard['students_changed']} existing students of the {guard['students_read']} it read.",
        "",
        "Why approval is needed:",
        *(f"- {reason}" for reason in guard["reasons"]),
        "",
        "| record | write | students | fields | why |",
        "|---|---|---|---|---|",
    ]
    for write in waiting[:SAMPLE_SHOWN]:
        students = ", ".join(f"`{sid}`" for sid in write["students"][:SAMPLE_SHOWN]) or "new"
        lines.append(f"| `{write['record']}` | {write['kind']} {write['action']} | {students} | "
                     f"{', '.join(write['fields'])} | {write['why']} |")
    if len(waiting) > SAMPLE_SHOWN:
        lines.append(f"| ... | {len(waiting) - SAMPLE_SHOWN} more | | | |")
    lines += [
        "",
        f"**Approve** writes them (and the run's other planned writes). **Reject** writes nothing and ends the run in "
        f"Error; so does no answer within {timeout_hours:g} hours. The values are in the run's staging folder, "
        "plan.json; the full list in guard.json.",
    ]
    return "\n".join(lines)
