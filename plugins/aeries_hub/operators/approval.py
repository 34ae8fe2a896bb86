"""The mass-change approval: a run whose changes exceed the mapping's guard waits for a person.

The task reads the ``track_changes`` summary of its run. Within the guard (or on a first delivery, a dry
run or a test_record run) it finishes at once. Otherwise it asks in the Airflow UI (Required actions),
showing the counts per file and a sample of the ids that would be removed:

* Approve: the delivery goes on;
* Reject: the delivery is skipped, and the report ends the run in Error with who rejected it;
* no answer within ``guard.approval_timeout_hours``: this task fails, nothing is delivered, and the
  report names the timeout.

Each outcome is written to the run's ``summary/approve_changes.json`` for the report.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator

from aeries_hub.staging import RunFolder

SAMPLE_SHOWN = 20


class MassChangeApprovalOperator(ApprovalOperator):
    """Ask for approval when the run's changes exceed the mass-change guard of ``mapping_file``."""

    def __init__(self, *, mapping_file: str, approval_timeout_hours: float, **kwargs: Any) -> None:
        super().__init__(
            subject="Approve changes to the vendor",
            response_timeout=timedelta(hours=approval_timeout_hours),
            **kwargs,
        )
        self.mapping_file = mapping_file

    def execute(self, context):
        from aeries_hub.pipeline import mapping_for

        run = RunFolder.current()
        params = context["params"]
        changes = run.read_json("summary/track_changes.json")
        if params.get("dry_run") or params.get("test_record") or not changes["exceeded"]:
            why = "dry run" if params.get("dry_run") else "test_record run" if params.get("test_record") else "within the mass-change guard"
            self.log.info("No approval needed (%s)", why)
            return self._record(run, {"needed": False, "why": why})
        mapping = mapping_for(self.mapping_file)
        self.subject = f"{mapping.title}: approve {'; '.join(changes['exceeded'])}"
        self.body = approval_body(mapping.dag_id, changes, mapping.guard.approval_timeout_hours)
        self._record(run, {"needed": True, "decision": "waiting", "exceeded": changes["exceeded"]})
        self.log.info("Waiting for a decision in the Airflow UI (Required actions):\n%s", self.body)
        return super().execute(context)

    def execute_complete(self, context, event: dict[str, Any]) -> Any:
        from airflow.sdk.exceptions import AirflowFailException

        run = RunFolder.current()
        if event.get("error_type") == "timeout":
            hours = self.response_timeout.total_seconds() / 3600
            reason = f"Not delivered: nobody approved the changes within {hours:g} hours (guard.approval_timeout_hours)"
            self._record(run, {"needed": True, "decision": "timed out", "reason": reason})
            raise AirflowFailException(reason)
        # Recorded before the parent acts on it: on Reject the parent ends this task by skipping the delivery.
        approved = event.get("chosen_options") == [self.APPROVE]
        user = (event.get("responded_by_user") or {}).get("name") or "someone"
        when = event.get("responded_at")
        when = when.isoformat(timespec="seconds") if hasattr(when, "isoformat") else str(when or "")
        decision = "approved" if approved else "rejected"
        reason = f"{user} {decision} the changes at {when}"
        if not approved:
            reason = f"Not delivered: {reason}"
        self.log.info("%s", reason)
        self._record(run, {"needed": True, "decision": decision, "by": user, "at": when, "reason": reason})
        return super().execute_complete(context, event)

    @staticmethod
    def _record(run: RunFolder, outcome: dict) -> dict:
        run.write_json("summary/approve_changes.json", outcome)
        return outcome


def approval_body(dag_id: str, changes: dict, timeout_hours: float) -> str:
    """The Markdown an approver reads: the counts per file, why approval is needed, and a sample of removals."""
    last = changes["last_delivery"]
    lines = [
        f"**{dag_id}** would deliver changes larger than its mass-change guard allows, compared with the last "
        f"delivery (run `{last['run_id']}` at {last['delivered_at']})." if last else
        f"**{dag_id}** has no readable record of its last delivery, so its changes cannot be counted.",
        "",
        "| file | rows before | rows now | added | changed | removed |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for file, c in changes["files"].items():
        lines.append(f"| {file} | {c['rows_before']} | {c['rows_after']} | {c['added']} | {c['changed']} | {c['removed']} |")
    lines += ["", "Why approval is needed:", *(f"- {reason}" for reason in changes["exceeded"])]
    for file, c in changes["files"].items():
        if c["removed"]:
            shown = c["sample_removed"][:SAMPLE_SHOWN]
            lines += ["", f"Would be removed from {file} (ids, {len(shown)} of {c['removed']}): " + ", ".join(f"`{i}`" for i in shown)]
    lines += [
        "",
        f"**Approve** delivers the files. **Reject** delivers nothing and ends the run in Error; so does no "
        f"answer within {timeout_hours:g} hours. The full lists are in the run's staging folder, changes/*.csv.",
    ]
    return "\n".join(lines)
