"""The failure alert's webhook channel: the alert posted as JSON through Airflow's ``HttpHook``.

A webhook's URL is itself a secret (its path often carries the token): it is never logged, not even by urllib3
or HttpHook at DEBUG, nor put in an error message; a redirect is not followed (it would take the alert elsewhere)
and fails the post. Imported when an alert is sent, not when DAGs are parsed (it brings requests).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from airflow.providers.http.hooks.http import HttpHook

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_SECONDS = 10


def post_webhook(conn_id: str, alert: dict[str, Any], what: str = "failure alert") -> None:
    """POST the alert as JSON (``text`` for chat hooks, and the structured fields) to the connection's URL; ``what``
    it is names it in the log and errors (an approval notice goes the same way)."""
    hook = AlertWebhookHook(http_conn_id=conn_id)
    connection = hook.get_connection(conn_id)
    with _secrets_hidden_from_logs(_url_secrets(_webhook_url(connection), connection), [hook.log]):
        try:
            response = hook.run(json=alert, extra_options={"timeout": WEBHOOK_TIMEOUT_SECONDS,
                                                           "allow_redirects": False, "check_response": False})
        except requests.RequestException as exc:
            raise RuntimeError(f"{what} webhook {conn_id!r}: the post failed ({type(exc).__name__})") from None
    if response.is_redirect or 300 <= response.status_code < 400:
        raise RuntimeError(f"{what} webhook {conn_id!r} answered HTTP {response.status_code}, a redirect, which "
                           "is not followed: set the connection to the webhook's final URL")
    if response.status_code >= 300:
        raise RuntimeError(f"{what} webhook {conn_id!r} answered HTTP {response.status_code}")
    log.info("%s posted to webhook connection %s (HTTP %d)", what.capitalize(), conn_id, response.status_code)


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
