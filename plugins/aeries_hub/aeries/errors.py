"""The errors raised by :class:`~aeries_hub.aeries.hook.AeriesHook`.

Authentication and configuration errors are also :class:`AirflowFailException`: Airflow does not retry them.
"""

from __future__ import annotations

import json
from typing import Callable

from airflow.sdk.exceptions import AirflowFailException


class AeriesError(Exception):
    """Base class of the errors raised by :class:`~aeries_hub.aeries.hook.AeriesHook`."""


class AeriesPageTooLarge(AeriesError):
    """An answer larger than the connection's ``max_page_bytes``: not retried (it would be as large again)."""


class AeriesRequestError(AeriesError):
    """A request failed for good (retries exhausted, or a 4xx other than 401/403/404)."""

    def __init__(self, message: str, *, conn_id: str = "", endpoint: str = "", status: int | None = None,
                 attempts: int = 0, cause: str = ""):
        super().__init__(message)
        self.conn_id = conn_id
        self.endpoint = endpoint
        self.status = status
        self.attempts = attempts
        self.cause = cause


class AeriesNotFoundError(AeriesRequestError):
    """HTTP 404: the single object asked for does not exist."""


class AeriesValidationError(AeriesRequestError):
    """HTTP 400 on a write: Aeries refused the record (its message says which rule); never retried."""


class AeriesWriteUnknownError(AeriesRequestError):
    """A write whose answer was lost (timeout, dropped connection, 5xx): Aeries may or may not have made it.
    It is not retried blindly; read the record back before writing it again."""


class AeriesAuthError(AirflowFailException, AeriesError):
    """HTTP 401/403: the certificate was refused or lacks a security area. Airflow does not retry it."""

    def __init__(self, message: str, *, conn_id: str = "", endpoint: str = "", status: int | None = None,
                 security_area: str | None = None):
        super().__init__(message)
        self.conn_id = conn_id
        self.endpoint = endpoint
        self.status = status
        self.security_area = security_area


class AeriesConfigError(AirflowFailException, AeriesError):
    """The Aeries connection is unusable as configured (bad extra, missing certificate, unknown table)."""


class RequestCancelled(Exception):
    """Another request of the same call failed (or the call has what it needs), so this one gave up."""


def server_message(body: bytes) -> str:
    """The ``Message`` of an Aeries error body, shortened; "" when there is none."""
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        return ""
    message = ""
    if isinstance(data, dict):
        message = str(data.get("Message") or data.get("message") or "")
        detail = data.get("ExceptionMessage") or data.get("MessageDetail")
        if detail and str(detail) not in message:
            message = f"{message} ({detail})" if message else str(detail)
    return " ".join(message.split())[:500]


def request_error(conn_id: str, redact: Callable[[str], str], endpoint: str, attempts: int, cause: str, *,
                  status: int | None = None, exhausted: bool = False) -> AeriesRequestError:
    """The error of a request to ``endpoint`` that failed for good after ``attempts``; ``redact`` removes the
    certificate from its text."""
    noun = "attempt" if attempts == 1 else "attempts"
    if exhausted:
        where = f"{endpoint} after {attempts} {noun}; {cause}"
    else:
        where = f"{endpoint} ({attempts} {noun}): {cause}"
    message = f"Aeries request failed for connection {conn_id!r} at {where}"
    return AeriesRequestError(
        redact(message), conn_id=conn_id, endpoint=endpoint, status=status, attempts=attempts, cause=redact(cause),
    )


def auth_error(conn_id: str, redact: Callable[[str], str], endpoint: str, status: int, area: str | None,
               said: str) -> AeriesAuthError:
    """The error of HTTP ``status`` 401 or 403 at ``endpoint``: what to check or grant (the security ``area``,
    when known), and what Aeries ``said``; ``redact`` removes the certificate from its text."""
    prefix = f"Aeries refused connection {conn_id!r} at {endpoint} (HTTP {status}): "
    if status == 401:
        text = f"the certificate was not accepted. Check the password (API certificate) of connection {conn_id!r}."
    elif area:
        text = (
            f"the certificate lacks the security area {area!r}. Grant it in Aeries under "
            "Security > API Security for this certificate."
        )
    else:
        text = (
            "the certificate lacks a security area this endpoint needs. Grant it in Aeries under "
            "Security > API Security for this certificate."
        )
    if said:
        text += f" Aeries said: {said}"
    return AeriesAuthError(redact(prefix + text), conn_id=conn_id, endpoint=endpoint, status=status, security_area=area)


def not_found_error(conn_id: str, redact: Callable[[str], str], endpoint: str, attempts: int,
                    said: str) -> AeriesNotFoundError:
    """The error of HTTP 404 at ``endpoint``, with what Aeries ``said``."""
    return AeriesNotFoundError(
        redact(f"Aeries connection {conn_id!r}: {endpoint} was not found (HTTP 404)" + (f": {said}" if said else "")),
        conn_id=conn_id, endpoint=endpoint, status=404, attempts=attempts, cause="HTTP 404",
    )


def validation_error(conn_id: str, redact: Callable[[str], str], method: str, endpoint: str, attempts: int,
                     said: str) -> AeriesValidationError:
    """The error of a write Aeries refused (HTTP 400), with its reason (what Aeries ``said``)."""
    return AeriesValidationError(
        redact(f"Aeries refused {method} {endpoint} for connection {conn_id!r} (HTTP 400): "
               + (said or "no reason given")),
        conn_id=conn_id, endpoint=endpoint, status=400, attempts=attempts, cause=redact(said or "HTTP 400"),
    )


def write_unknown_error(conn_id: str, redact: Callable[[str], str], method: str, endpoint: str, attempts: int,
                        cause: str) -> AeriesWriteUnknownError:
    """The error of a write whose answer was lost (``cause``): it is not sent again."""
    return AeriesWriteUnknownError(
        redact(
            f"Aeries {method} {endpoint} for connection {conn_id!r}: {cause}; Aeries may "
            "or may not have written it, so it was not sent again. Read the record back before writing it again"
        ),
        conn_id=conn_id, endpoint=endpoint, attempts=attempts, cause=redact(cause),
    )
