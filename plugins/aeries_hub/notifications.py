"""Failure alerts of every vendor DAG: an e-mail and/or a webhook post carrying the run report's summary.

Configured once, in Airflow configuration (or the matching ``AIRFLOW__AERIES_HUB__*`` variables)::

    [aeries_hub]
    alert_email_to = data-team@district.org, sis-admin@district.org
    alert_smtp_conn_id = smtp_default          # an smtp connection (host, port, login, password)
    alert_webhook_conn_id = aeries_hub_alerts  # an http connection: the webhook's URL, e.g. a Teams/Slack hook

Either may be left out. The message holds what the run report holds (a vendor DAG's: status, reason, counts,
failed checks with record ids, the top reasons rows were rejected with their counts and sample ids (also in the
webhook's ``rejects`` field), what was delivered; a write-back's: files, record and write counts) and a link
to the run; never a connection's secret. A webhook's URL is itself a secret (its path often carries the
token): it is never logged, not even by urllib3 at DEBUG, nor put in an error message; a redirect is not
followed (it would take the alert elsewhere) and fails the post. The post goes through Airflow's ``HttpHook``
(:class:`AlertWebhookHook`), the e-mail through the SMTP provider's ``SmtpHook``.

The notifier never raises: a report it cannot render gives a plain alert (DAG, run, status, link), and a
channel that fails (SMTP down, webhook refusing) is logged without stopping the other.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Any, Iterator

from airflow.providers.http.hooks.http import HttpHook
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
            channels.append(("webhook", lambda: post_webhook(settings["webhook_conn_id"], alert)))
        for name, send in channels:
            try:
                send()
            except Exception as exc:  # noqa: BLE001 - one channel failing must not stop the other
                log.error("The failure alert of %s run %s was not sent by %s: %s", dag_id, run_id, name,
                          exc if isinstance(exc, RuntimeError) else type(exc).__name__)


def failure_alert(dag_id: str, run_id: str, dag_run=None) -> dict[str, Any]:
    """Subject, text and fields of the alert, from the run's report (or what is known without one)."""
    from aeries_hub.pipeline import reject_reason_lines, report_lines
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
    return alert | {"reason": report.get("reason"), "errors": errors if isinstance(errors, list) else [],
                    "rejects": rejects, "report": f"{run.root}/report.json"}


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
        "report": None,
        "url": link,
    }


def writeback_report_lines(document: dict) -> list[str]:
    """The alert's lines for a write-back's report (``writeback.tasks.report``): files and counts, no values."""
    lines = [f"{document['integration']} write-back into Aeries: {document['status']}"]
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

    hook = AlertWebhookHook(http_conn_id=conn_id)
    connection = hook.get_connection(conn_id)
    with _secrets_hidden_from_logs(_url_secrets(_webhook_url(connection), connection), [hook.log]):
        try:
            response = hook.run(json=alert, extra_options={"timeout": WEBHOOK_TIMEOUT_SECONDS,
                                                           "allow_redirects": False, "check_response": False})
        except requests.RequestException as exc:
            raise RuntimeError(f"failure alert webhook {conn_id!r}: the post failed ({type(exc).__name__})") from None
    if response.is_redirect or 300 <= response.status_code < 400:
        raise RuntimeError(f"failure alert webhook {conn_id!r} answered HTTP {response.status_code}, a redirect, which "
                           "is not followed: set the connection to the webhook's final URL")
    if response.status_code >= 300:
        raise RuntimeError(f"failure alert webhook {conn_id!r} answered HTTP {response.status_code}")
    log.info("Failure alert posted to webhook connection %s (HTTP %d)", conn_id, response.status_code)


class AlertWebhookHook(HttpHook):
    """The alert webhook's ``http`` connection: its host is the webhook's URL, with its path (the token), with or
    without the scheme, the port apart or in the URL."""

    def __init__(self, http_conn_id: str) -> None:
        super().__init__(method="POST", http_conn_id=http_conn_id)
        # A standard-library logger, so that the redacting filter also covers the URL HttpHook logs.
        self._log = logging.getLogger(f"{__name__}.webhook")  # type: ignore[assignment]

    def url_from_endpoint(self, endpoint: str | None) -> str:
        return _webhook_url(self.get_connection(self.http_conn_id))


def _url_secrets(url: str, connection) -> list[str]:
    """What of the webhook's URL is secret: the URL itself, its path and query (the token), the password."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    found = [url, path if path.strip("/") else "", connection.password or ""]
    found = [secret for secret in found if secret]
    try:
        from airflow.sdk.log import mask_secret

        for secret in found:
            mask_secret(secret)
    except Exception:  # noqa: BLE001 - the task log's masking is best effort; the filter below still applies
        pass
    return found


#: The loggers that write a request's URL at DEBUG (``"POST /hooks/<token> HTTP/1.1" 200``).
_URL_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry")


class _Redact(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = sorted(secrets, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self._secrets):
            for secret in self._secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, ()
        return True


@contextmanager
def _secrets_hidden_from_logs(secrets: list[str], also: list[Any]) -> Iterator[None]:
    """``secrets`` replaced by ``***`` in what urllib3 and the loggers ``also`` write meanwhile."""
    redact = _Redact(secrets)
    loggers = [logging.getLogger(name) for name in _URL_LOGGERS] + also
    for logger in loggers:
        logger.addFilter(redact)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(redact)


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
