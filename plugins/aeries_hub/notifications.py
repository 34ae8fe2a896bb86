"""Failure alerts of every vendor DAG: an e-mail and/or a webhook post carrying the run report's summary.

Configured once, in Airflow configuration (or the matching ``AIRFLOW__AERIES_HUB__*`` variables)::

    [aeries_hub]
    alert_email_to = data-team@district.org, sis-admin@district.org
    alert_smtp_conn_id = smtp_default          # an smtp connection (host, port, login, password)
    alert_webhook_conn_id = aeries_hub_alerts  # an http connection: the webhook's URL, e.g. a Teams/Slack hook

Either may be left out. The message holds what the run report holds (status, reason, counts, failed checks
with record ids, what was delivered) and a link to the run; never a connection's secret. A webhook's URL is
itself a secret (its path often carries the token): it is never logged, nor put in an error message.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk.bases.notifier import BaseNotifier

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_SECONDS = 10


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
        alert = failure_alert(context["dag"].dag_id, context["run_id"], context.get("dag_run"))
        if settings["email_to"]:
            send_email(settings["smtp_conn_id"], settings["email_to"], alert)
        if settings["webhook_conn_id"]:
            post_webhook(settings["webhook_conn_id"], alert)


def failure_alert(dag_id: str, run_id: str, dag_run=None) -> dict[str, Any]:
    """Subject, text and fields of the alert, from the run's report (or what is known without one)."""
    from aeries_hub.pipeline import report_lines
    from aeries_hub.staging import RunFolder, staging_base

    run = RunFolder(staging_base(), dag_id, run_id)
    try:
        report = run.read_json("report.json")
    except FileNotFoundError:
        report = None
    status = report["status"] if report else "Error"
    lines = report_lines(report) if report else [f"{dag_id}: the run failed before it wrote a report; see its task logs"]
    link = _run_link(dag_id, run_id)
    text = "\n".join(lines + ([f"run: {link}"] if link else []))
    return {
        "subject": f"[Aeries hub] {dag_id} run {run_id} ended in {status}",
        "text": text,
        "dag_id": dag_id,
        "run_id": run_id,
        "status": status,
        "reason": (report or {}).get("reason"),
        "errors": (report or {}).get("errors", []),
        "report": f"{run.root}/report.json" if report else None,
        "url": link,
    }


def send_email(smtp_conn_id: str, to: list[str], alert: dict[str, Any]) -> None:
    import html

    from airflow.providers.smtp.hooks.smtp import SmtpHook

    body = f"<pre>{html.escape(alert['text'])}</pre>"
    with SmtpHook(smtp_conn_id=smtp_conn_id) as hook:
        hook.send_email_smtp(to=to, subject=alert["subject"], html_content=body)
    log.info("Failure alert e-mailed to %s over %s", ", ".join(to), smtp_conn_id)


def post_webhook(conn_id: str, alert: dict[str, Any]) -> None:
    """POST the alert as JSON (``text`` for chat hooks, and the structured fields) to the connection's URL."""
    import requests
    from airflow.sdk import BaseHook

    connection = BaseHook.get_connection(conn_id)
    url = _webhook_url(connection)
    try:
        response = requests.post(url, json=alert, timeout=WEBHOOK_TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        raise RuntimeError(f"failure alert webhook {conn_id!r}: the post failed ({type(exc).__name__})") from None
    if response.status_code >= 300:
        raise RuntimeError(f"failure alert webhook {conn_id!r} answered HTTP {response.status_code}")
    log.info("Failure alert posted to webhook connection %s (HTTP %d)", conn_id, response.status_code)


def _webhook_url(connection) -> str:
    host = connection.host or ""
    if "://" in host:
        return host
    scheme = connection.schema or "https"
    port = f":{connection.port}" if connection.port else ""
    path = host.split("/", 1)
    return f"{scheme}://{path[0]}{port}" + (f"/{path[1]}" if len(path) > 1 else "")


def _run_link(dag_id: str, run_id: str) -> str | None:
    from urllib.parse import quote

    from airflow.sdk import conf

    base = conf.get("api", "base_url", fallback=None)
    return f"{base.rstrip('/')}/dags/{dag_id}/runs/{quote(run_id, safe='')}" if base else None
