"""The notice that an approval waits: when ``approve_changes`` or ``approve_writes`` parks in Required actions, the
failure alerts' channels (``[aeries_hub] alert_email_to`` / ``alert_webhook_conn_id``, :mod:`aeries_hub.notifications`)
are told, with the counts per file and the link to the run's Required actions page, so that the first anyone hears
is not the timeout. Counts and the DAG's title only: never a record id beyond what the report holds, never a name.

Never raises: a channel that fails is logged and the approval waits all the same.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

#: What the channels' log lines call it (they call a run's alert a failure alert).
NOTICE = "approval notice"


def waiting_notice(dag_id: str, run_id: str, subject: str, counts: list[str], hours: float, link: str | None) -> dict[str, Any]:
    """The notice's subject, text and fields (the webhook posts them as JSON)."""
    lines = [f"{dag_id} run {run_id} waits for a decision in Required actions: {subject}", *counts,
             f"No answer within {hours:g} hours: nothing is delivered and the run ends in Error."]
    lines.append(f"decide: {link}" if link else "decide: the run's Required actions page in the Airflow UI "
                 "(set [api] base_url for a link)")
    return {
        "subject": f"[Aeries hub] {dag_id} run {run_id} waits for approval",
        "text": "\n".join(lines),
        "dag_id": dag_id,
        "run_id": run_id,
        "status": "Waiting for approval",
        "counts": counts,
        "url": link,
    }


def notify_waiting(context, operator, counts: list[str]) -> None:
    """Send the notice of ``operator`` (a RecordedApprovalOperator about to park) to every configured channel."""
    from aeries_hub.notifications import alert_settings, send_email

    settings = alert_settings()
    if not settings["email_to"] and not settings["webhook_conn_id"]:
        log.info("No alert channel is configured ([aeries_hub] alert_email_to / alert_webhook_conn_id): nobody is "
                 "told that this approval waits")
        return
    ti = context["ti"]
    try:
        link: str | None = operator.generate_link_to_ui(task_instance=ti)
    except ValueError:  # no [api] base_url
        link = None
    hours = (operator.response_timeout.total_seconds() / 3600) if operator.response_timeout else 0
    notice = waiting_notice(ti.dag_id, ti.run_id, operator.subject, counts, hours, link)
    if settings["email_to"]:
        try:
            send_email(settings["smtp_conn_id"], settings["email_to"], notice, what=NOTICE)
        except Exception as exc:  # noqa: BLE001 - the approval waits whatever the channels do
            log.error("The approval notice was not e-mailed: %s", exc if isinstance(exc, RuntimeError) else type(exc).__name__)
    if settings["webhook_conn_id"]:
        try:
            from aeries_hub.alert_webhook import post_webhook  # requests: not at DAG parse time

            post_webhook(settings["webhook_conn_id"], notice, what=NOTICE)
        except Exception as exc:  # noqa: BLE001
            log.error("The approval notice was not posted: %s", exc if isinstance(exc, RuntimeError) else type(exc).__name__)
