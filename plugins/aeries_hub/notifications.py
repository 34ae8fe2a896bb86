"""Failure alerts of every vendor DAG: an e-mail and/or a webhook post carrying the run report's summary.

Configured once, in Airflow configuration (or the matching ``AIRFLOW__AERIES_HUB__*`` variables)::

    [aeries_hub]
    alert_email_to = data-team@district.org, sis-admin@district.org
    alert_smtp_conn_id = smtp_default          # an smtp connection (host, port, login, password)
    alert_webhook_conn_id = aeries_hub_alerts  # an http connection: the webhook's URL, e.g. a Teams/Slack hook

Either may be left out. The message holds what the run report holds (a vendor DAG's: status, reason, counts,
failed checks with record ids, the top reasons rows were rejected with their counts and sample ids (also in the
webhook's ``rejects`` field), why each failed task failed (the ``reason`` and the webhook's ``failed_tasks``: the
error's first line, the connection and what to check), what was delivered; a write-back's: files, record and write counts) and a link
to the run; never a connection's secret. A webhook's URL is itself a secret (its path often carries the
token): it is never logged, not even by urllib3 at DEBUG, nor put in an error message; a redirect is not
followed (it would take the alert elsewhere) and fails the post. The post goes through Airflow's ``HttpHook``
(:mod:`aeries_hub.alert_webhook`), the e-mail through the SMTP provider's ``SmtpHook``.

The notifier never raises: a report it cannot render gives a plain alert (DAG, run, status, link), and a
channel that fails (SMTP down, webhook refusing) is logged without stopping the other.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk.bases.notifier import BaseNotifier

log = logging.getLogger(__name__)


def alert_settings() -> dict[str, Any]:
    from airflow.sdk import conf

    emails = conf.get("aeries_hub", "alert_email_to", fallback="") or ""
    return {
        "email_to": [address.strip() for address in emails.replace(";", ",").split(",") if address.strip()],
        "smtp_conn_id": conf.get("aeries_hub", "alert_smtp_conn_id", fallback="smtp_default") or "smtp_default",
        "webhook_conn_id": conf.get("aeries_hub", "alert_webhook_conn_id", fallback="") or "",
    }


class RunFailureNotifier(BaseNotifier):
    """The ``on_failure_callback`` of every vendor DAG."""

    def render_template_fields(self, context, jinja_env=None) -> None:
        """Nothing to render (no template fields); the serialized DAG a callback may get has no template env."""

    def notify(self, context) -> None:
        settings = alert_settings()
        if not settings["email_to"] and not settings["webhook_conn_id"]:
            log.info("No failure alert is configured ([aeries_hub] alert_email_to / alert_webhook_conn_id)")
            return
        dag_id, run_id = context["dag"].dag_id, context["run_id"]
        try:
            alert = failure_alert(dag_id, run_id, context.get("dag_run"))
        except Exception as exc:  # noqa: BLE001 - an alert must go out whatever the report holds
            log.warning("The failure alert of %s run %s could not read the run report (%s): a plain alert is sent",
                        dag_id, run_id, type(exc).__name__)
            alert = plain_alert(dag_id, run_id)
        channels = []
        if settings["email_to"]:
            channels.append(("e-mail", lambda: send_email(settings["smtp_conn_id"], settings["email_to"], alert)))
        if settings["webhook_conn_id"]:
            def post() -> None:
                from aeries_hub.alert_webhook import post_webhook  # requests: not at DAG parse time

                post_webhook(settings["webhook_conn_id"], alert)

            channels.append(("webhook", post))
        for name, send in channels:
            try:
                send()
            except Exception as exc:  # noqa: BLE001 - one channel failing must not stop the other
                log.error("The failure alert of %s run %s was not sent by %s: %s", dag_id, run_id, name,
                          exc if isinstance(exc, RuntimeError) else type(exc).__name__)


def failure_alert(dag_id: str, run_id: str, dag_run=None) -> dict[str, Any]:
    """Subject, text and fields of the alert, from the run's report (or what is known without one)."""
    from aeries_hub.run.rejects import reject_reason_lines
    from aeries_hub.run.report import report_lines
    from aeries_hub.staging import RunFolder, staging_base

    run = RunFolder(staging_base(), dag_id, run_id)
    try:
        report = run.read_json("report.json")
    except FileNotFoundError:
        return plain_alert(dag_id, run_id,
                           lines=[f"{dag_id}: the run failed before it wrote a report; see its task logs"])
    if not isinstance(report, dict):
        raise TypeError(f"report.json holds a JSON {type(report).__name__}, not an object")
    status = str(report.get("status") or "Error")
    writeback = "planned" in report
    render = writeback_report_lines if writeback else report_lines
    rejects: list[str] = []
    try:
        lines = render(report)
        rejects = [] if writeback else reject_reason_lines(report)
    except Exception as exc:  # noqa: BLE001 - a report of another shape still alerts, plainly
        log.warning("The report of %s run %s could not be rendered (%s: %s): a plain alert is sent", dag_id, run_id,
                    type(exc).__name__, exc)
        lines = None
    alert = plain_alert(dag_id, run_id, status, lines=lines)
    errors = report.get("errors")
    failed = report.get("failed_tasks")
    return alert | {"reason": report.get("reason"), "errors": errors if isinstance(errors, list) else [],
                    "rejects": rejects, "failed_tasks": failed if isinstance(failed, list) else [],
                    "report": f"{run.root}/report.json"}


def plain_alert(dag_id: str, run_id: str, status: str = "Error", *, lines: list[str] | None = None) -> dict[str, Any]:
    """The alert with what is known without a readable report: the DAG, the run, its status and its link."""
    link = _run_link(dag_id, run_id)
    lines = lines or [f"{dag_id} run {run_id} ended in {status}; see its report and task logs"]
    return {
        "subject": f"[Aeries hub] {dag_id} run {run_id} ended in {status}",
        "text": "\n".join(lines + ([f"run: {link}"] if link else [])),
        "dag_id": dag_id,
        "run_id": run_id,
        "status": status,
        "reason": None,
        "errors": [],
        "rejects": [],
        "failed_tasks": [],
        "report": None,
        "url": link,
    }


def writeback_report_lines(document: dict) -> list[str]:
    """The alert's lines for a write-back's report (``aeries_hub.writeback.report``): files and counts, no values."""
    lines = [f"{document['integration']} write-back into Aeries: {document['status']}"]
    if document.get("reason"):
        lines.append(document["reason"])
    if document.get("not_written_because"):
        lines.append(f"nothing was written: {document['not_written_because']}")
    if document.get("school_year"):
        lines.append(f"Aeries school year: {document['school_year']} (DatabaseYear {document['database_year']})")
    lines += document.get("attention") or []
    files = [f["file"] for f in document.get("files") or []]
    lines.append(f"export files read: {', '.join(files)}" if files else "no new export file was read")
    if document.get("skipped_files"):
        lines.append(f"{_count(document['skipped_files'])} export files were written before: skipped")
    lines += [f"quarantined (not read): {item['reason']}" for item in document.get("quarantined_files") or []]
    lines.append(f"records: {document['records']}, {_count(document['rejected'])} rejected")
    planned = document.get("planned") or {}
    lines.append("planned: " + (", ".join(f"{n} {kind}" for kind, n in planned.items()) or "no write"))
    written = document.get("written") or []
    done = sum(w["status"] == "written" for w in written)
    lines.append(f"written into Aeries: {done}; not written: {len(written) - done}")
    lines += [f"error: {error}" for error in document.get("errors", [])]
    if document.get("staging"):
        lines.append(f"report: {document['staging']}/report.json")
    return lines


def _count(value: Any) -> int:
    """A count a report gives as a number or as the list of what it counts."""
    return value if isinstance(value, int) else len(value)


def send_email(smtp_conn_id: str, to: list[str], alert: dict[str, Any], what: str = "failure alert") -> None:
    """E-mail the alert's subject and text; ``what`` it is names it in the log (an approval notice goes this way)."""
    import html

    from airflow.providers.smtp.hooks.smtp import SmtpHook

    body = f"<pre>{html.escape(alert['text'])}</pre>"
    with SmtpHook(smtp_conn_id=smtp_conn_id) as hook:
        hook.send_email_smtp(to=to, subject=alert["subject"], html_content=body)
    log.info("%s e-mailed to %s over %s", what.capitalize(), ", ".join(to), smtp_conn_id)


def _run_link(dag_id: str, run_id: str) -> str | None:
    from urllib.parse import quote

    from airflow.sdk import conf

    base = conf.get("api", "base_url", fallback=None)
    return f"{base.rstrip('/')}/dags/{dag_id}/runs/{quote(run_id, safe='')}" if base else None
