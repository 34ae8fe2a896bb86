"""Safe delivery of JSON records to a vendor's HTTPS import API, in batches (the sibling of ``sftp``).

    receipt = deliver_records("schoolmint_enroll", "/api/v1/students/import", run_dir / "output/students.jsonl",
                              batch_size=100, idempotency_prefix="aeries_to_schoolmint_enroll-<run_id>-students")

The file is JSON Lines (one record object per line, UTF-8) and is checked whole before anything is sent: a
broken line is a :class:`DeliveryError` naming the file and the line. Records are then posted in file order
as ``{"records": [...]}``, each record's line sent as it is in the file, ``batch_size`` at a time. Every batch
carries ``Idempotency-Key: <prefix>-<batch number>-<sha256 of the body, 16 hex>``, so a retried batch, or a
cleared and re-run Airflow task sending the same bytes, is never imported twice: the vendor replays its
first answer.

429, 500, 502, 503 and 504 answers, timeouts, failed or dropped connections and a 200 whose body is not a
JSON object are retried (``max_attempts`` per batch) with exponential backoff and full jitter, never sooner
than ``Retry-After`` (seconds or an HTTP date, capped). 401/403 fail at once ("check the API token"); other
answers fail at once with the status and the vendor's error text; redirects are not followed (the token
would go with them). A batch that keeps failing ends in a ``retryable`` DeliveryError, so Airflow's own task
retry may try later, with the same keys. The vendor's per-record refusals are not errors: they come back in
the receipt's ``rejected`` list.

Connection (``conn_type`` http): ``schema`` http or https (default https), ``host``, ``port``; the API token
in ``password`` (sent as ``Authorization: Bearer``), or ``login`` + ``password`` with extra ``auth: basic``.
Extra: ``timeout`` (seconds, default 30), ``verify_ssl`` (true, the default; false; or a CA bundle's path),
``endpoint_prefix`` (put before the endpoint, e.g. ``/sandbox``), ``headers`` (static headers). Schema http or
``verify_ssl: false`` is refused unless the extra says ``allow_insecure: true`` (test servers only; logged as a
warning): see :mod:`aeries_hub.connection_extras`. The token and password never appear in logs,
exception messages or the receipt; the log has one line per batch (number, records, status, attempts).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from aeries_hub.connection_extras import ExtraError, tls_verification
from aeries_hub.delivery import DeliveryError, Receipt, local_file, size_and_sha256
from aeries_hub.retrying import RETRY_STATUSES, backoff_delay, retry_after_seconds

__all__ = ["DeliveryError", "HttpReceipt", "deliver_records", "IMPORTED_STATUSES", "record_field"]

log = logging.getLogger(__name__)

#: Per-record result statuses that mean the vendor took the record.
IMPORTED_STATUSES = frozenset({"created", "updated", "unchanged"})
#: Longest idempotency prefix sent as it is; a longer one is shortened with its own checksum.
MAX_PREFIX = 200
_ERROR_TEXT = 500


@dataclass
class HttpReceipt(Receipt):
    """What was sent where, and what the vendor made of it (``to_dict()`` for the run report)."""

    conn_id: str
    url: str
    batches: int = 0
    records_sent: int = 0
    imported: int = 0
    #: ``{"index": record index in the file (0-based), "id": value of id_field, "errors": [...]}`` per refused record.
    rejected: list[dict[str, Any]] = field(default_factory=list)
    bytes: int = 0
    sha256: str = ""
    seconds: float = 0.0
    retries: int = 0


# -- public API ------------------------------------------------------------------------------
def deliver_records(
    conn_id: str,
    endpoint: str,
    records_path: Any,
    *,
    batch_size: int = 100,
    idempotency_prefix: str,
    id_field: str = "students.student_district_id",
    max_attempts: int = 5,
    backoff_base: float = 1.0,
    backoff_max: float = 30.0,
    retry_after_max: float = 120.0,
    sleep: Callable[[float], None] = time.sleep,
    session: requests.Session | None = None,
) -> HttpReceipt:
    """Post every record of the JSON Lines file ``records_path`` to ``endpoint`` on connection ``conn_id``.

    :param records_path: a local path or an ``airflow.sdk.ObjectStoragePath`` (non-local storage is copied
        to a local temp file first).
    :param endpoint: the import path, after the connection's ``endpoint_prefix``.
    :param idempotency_prefix: the run's part of every batch's ``Idempotency-Key`` (same run, same keys).
    :param id_field: the dotted path of a record's id, reported with the vendor's per-record errors.
    :param max_attempts: attempts per batch before giving up (retryable DeliveryError).
    :param backoff_base: first retry waits up to this many seconds, doubling per attempt up to ``backoff_max``;
        a ``Retry-After`` wins, up to ``retry_after_max``.
    :param sleep: how to wait between attempts (tests pass a recorder).
    :param session: a ``requests.Session`` to post with (default: a new one, closed at the end).
    :raises DeliveryError: naming the connection, the URL and the cause, never a secret.
    """
    if batch_size < 1 or max_attempts < 1:
        raise ValueError("batch_size and max_attempts must be at least 1")
    prefix = _key_prefix(idempotency_prefix)
    started = time.monotonic()
    with local_file(records_path) as path:
        count = _check_lines(path, records_path)
        size, sha256 = size_and_sha256(path)
        target = _target(conn_id, endpoint)
        receipt = HttpReceipt(conn_id=conn_id, url=target.url, bytes=size, sha256=sha256)
        total = -(-count // batch_size)
        http = session or requests.Session()
        poster = _Poster(http, target, sleep, max_attempts, backoff_base, backoff_max, retry_after_max)
        try:
            for number, (first, lines) in enumerate(_batches(path, batch_size), start=1):
                body = b'{"records":[' + b",".join(lines) + b"]}"
                key = f"{prefix}-{number}-{hashlib.sha256(body).hexdigest()[:16]}"
                answer, status, attempts = poster.post(body, key, f"batch {number} of {total}")
                receipt.batches += 1
                receipt.records_sent += len(lines)
                receipt.retries += attempts - 1
                imported, rejected = _results(answer, lines, first, id_field, target)
                receipt.imported += imported
                receipt.rejected.extend(rejected)
                log.info("batch %d of %d: %d records, HTTP %d after %d attempt%s: %d imported, %d rejected",
                         number, total, len(lines), status, attempts, "" if attempts == 1 else "s", imported, len(rejected))
        finally:
            if session is None:
                http.close()
    receipt.seconds = round(time.monotonic() - started, 3)
    if not count:
        log.info("%s holds no records: nothing was sent to %s", records_path, target.url)
    return receipt


# -- the file --------------------------------------------------------------------------------
def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """``(line number, the line without its line ending)`` for each line that is not blank."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.rstrip(b"\r\n")
            if number == 1:
                line = line.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte order mark
            if line.strip():
                yield number, line


def _check_lines(path: Path, shown: Any) -> int:
    """The number of records; a line that is not a UTF-8 JSON object is a DeliveryError naming it."""
    count = 0
    for number, line in _lines(path):
        try:
            record = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise DeliveryError(f"{shown} line {number} is not UTF-8 (byte {exc.start + 1}); nothing was sent") from None
        except json.JSONDecodeError as exc:
            raise DeliveryError(f"{shown} line {number} is not JSON ({exc.msg} at column {exc.colno}); "
                                "nothing was sent") from None
        if not isinstance(record, dict):
            raise DeliveryError(f"{shown} line {number} is a JSON {type(record).__name__}, not an object; "
                                "nothing was sent")
        count += 1
    return count


def _batches(path: Path, size: int) -> Iterator[tuple[int, list[bytes]]]:
    """``(index of the first record, the records' lines)`` per batch, in file order."""
    batch: list[bytes] = []
    first = 0
    for _number, line in _lines(path):
        batch.append(line)
        if len(batch) == size:
            yield first, batch
            first += size
            batch = []
    if batch:
        yield first, batch


def _key_prefix(prefix: str) -> str:
    prefix = str(prefix or "").strip()
    if not prefix or not prefix.isprintable():
        raise ValueError("idempotency_prefix must be printable text that names the run (e.g. dag, run id, file)")
    if len(prefix) <= MAX_PREFIX:
        return prefix
    return f"{prefix[:MAX_PREFIX - 17]}-{hashlib.sha256(prefix.encode('utf-8')).hexdigest()[:16]}"


def record_field(record: Any, path: str) -> Any:
    """The value at a dotted path of a JSON record (``students.student_district_id``), None when absent."""
    node = record
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _results(answer: dict[str, Any], lines: list[bytes], first: int, id_field: str,
             target: _Target) -> tuple[int, list[dict[str, Any]]]:
    """(records imported, the refused ones) from the vendor's per-record results."""
    results = answer.get("results")
    if not isinstance(results, list):
        raise DeliveryError(f"{target.where}: the answer to a batch has no results list; it is not the import "
                            "API this delivery speaks (check the endpoint and endpoint_prefix)")
    imported = 0
    rejected = []
    for result in results:
        result = result if isinstance(result, dict) else {}
        if result.get("status") in IMPORTED_STATUSES:
            imported += 1
            continue
        index = result.get("index")
        local = index if isinstance(index, int) and 0 <= index < len(lines) else None
        record_id = record_field(json.loads(lines[local]), id_field) if local is not None else result.get("student_district_id")
        errors = result.get("errors") or [f"status {result.get('status')!r}"]
        rejected.append({"index": first + local if local is not None else None, "id": record_id,
                         "errors": [target.redact(str(e)) for e in errors]})
    return imported, rejected


# -- the connection --------------------------------------------------------------------------
class _BearerAuth(requests.auth.AuthBase):
    """``Authorization: Bearer <token>`` (an auth object, so that requests never adds ~/.netrc credentials)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request


@dataclass(frozen=True)
class _Target:
    conn_id: str
    url: str
    auth: requests.auth.AuthBase = field(repr=False)
    headers: dict[str, str]
    timeout: float
    verify: bool | str
    secrets: tuple[str, ...] = field(repr=False)

    @property
    def where(self) -> str:
        return f"http connection {self.conn_id!r} ({self.url})"

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "***")
        return text


def _target(conn_id: str, endpoint: str) -> _Target:
    from airflow.sdk import BaseHook

    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception as exc:
        if "notfound" in type(exc).__name__.lower():
            raise DeliveryError(
                f"http connection {conn_id!r} is not defined: add it in Airflow (Admin > Connections) or as the "
                f"AIRFLOW_CONN_{conn_id.upper()} environment variable, with the vendor API's host and the API "
                "token as its password"
            ) from None
        raise DeliveryError(f"http connection {conn_id!r} cannot be read ({type(exc).__name__}); fix its "
                            "definition (host, password, extra as a JSON object)") from None
    if conn.conn_type and conn.conn_type.lower() not in ("http", "https"):
        raise DeliveryError(f"connection {conn_id!r} is of type {conn.conn_type!r}; the vendor API needs an http connection")
    try:
        extra = conn.extra_dejson
    except Exception:  # noqa: BLE001 - an unreadable extra; its text may hold secrets, so it is not shown
        extra = None
    if not isinstance(extra, dict):
        raise DeliveryError(f"http connection {conn_id!r}: the extra must be a JSON object")
    host = (conn.host or "").strip()
    if not host:
        raise DeliveryError(f"http connection {conn_id!r} has no host: set the vendor API's host name")
    address = urlsplit(host if "://" in host else f"//{host}")
    if address.username or address.password:
        raise DeliveryError(f"http connection {conn_id!r}: put no credentials in the host; the token goes in the password")
    scheme = (conn.schema or address.scheme or "https").strip().lower()
    if scheme not in ("http", "https"):
        raise DeliveryError(f"http connection {conn_id!r}: schema {conn.schema!r} is not http or https")
    port = conn.port or address.port
    netloc = f"{address.hostname}:{port}" if port else address.hostname
    prefix = str(extra.get("endpoint_prefix") or "").strip("/")
    path = "/".join(p for p in (address.path.strip("/"), prefix, endpoint.strip("/")) if p)
    url = f"{scheme}://{netloc}/{path}"

    mode = str(extra.get("auth") or "bearer").strip().lower()
    if mode not in ("bearer", "basic"):
        raise DeliveryError(f"http connection {conn_id!r}: extra auth {mode!r} is not bearer or basic")
    if not conn.password:
        what = "the API token" if mode == "bearer" else "the password (and the login)"
        raise DeliveryError(f"http connection {conn_id!r} has no API token: put {what} in the connection's password")
    if mode == "basic" and not conn.login:
        raise DeliveryError(f"http connection {conn_id!r} uses auth basic but has no login: set the login")
    auth = _BearerAuth(conn.password) if mode == "bearer" else requests.auth.HTTPBasicAuth(conn.login or "", conn.password)

    headers = extra.get("headers") or {}
    if not isinstance(headers, dict) or any(str(k).lower() == "authorization" for k in headers):
        raise DeliveryError(f"http connection {conn_id!r}: extra headers must be an object of static headers, "
                            "without Authorization (the token goes in the password)")
    try:
        timeout = float(extra.get("timeout", 30))
    except (TypeError, ValueError):
        timeout = 0.0
    if not timeout > 0:
        raise DeliveryError(f"http connection {conn_id!r}: extra timeout must be a number of seconds above 0")
    try:
        verify = tls_verification(extra, scheme, conn_id, log)
    except ExtraError as exc:
        raise DeliveryError(f"http {exc}") from None
    return _Target(
        conn_id=conn_id,
        url=url,
        auth=auth,
        headers={"Content-Type": "application/json", "Accept": "application/json",
                 **{str(k): str(v) for k, v in headers.items()}},
        timeout=timeout,
        verify=verify,
        secrets=tuple(s for s in (conn.password, conn.login if mode == "basic" else None) if s),
    )


# -- one batch -------------------------------------------------------------------------------
@dataclass
class _Poster:
    http: requests.Session
    target: _Target
    sleep: Callable[[float], None]
    max_attempts: int
    backoff_base: float
    backoff_max: float
    retry_after_max: float

    def post(self, body: bytes, key: str, label: str) -> tuple[dict[str, Any], int, int]:
        """The vendor's JSON answer to one batch, its HTTP status, and how many attempts it took."""
        target = self.target
        cause = ""
        for attempt in range(1, self.max_attempts + 1):
            retry_after = None
            try:
                response = self.http.post(target.url, data=body, headers={**target.headers, "Idempotency-Key": key},
                                          auth=target.auth, timeout=target.timeout, verify=target.verify,
                                          allow_redirects=False)
            except requests.exceptions.SSLError as exc:
                raise DeliveryError(f"TLS failed with {target.where}: {target.redact(_reason(exc))}; check the "
                                    "server's certificate (or give the extra verify_ssl a CA bundle path)") from None
            except requests.exceptions.Timeout:
                cause = f"no answer within {target.timeout:g} s"
            except requests.exceptions.RequestException as exc:
                cause = f"connection failed ({target.redact(_reason(exc))})"
            else:
                answer, cause, retry_after = self._read(response)
                if answer is not None:
                    return answer, response.status_code, attempt
            if attempt < self.max_attempts:
                if retry_after is not None:
                    retry_after = min(retry_after, self.retry_after_max)
                delay = backoff_delay(attempt - 1, self.backoff_base, self.backoff_max, retry_after)
                log.warning("%s to %s: %s; attempt %d of %d, next in %.2f s", label, target.url, cause, attempt,
                            self.max_attempts, delay)
                self.sleep(delay)
        raise DeliveryError(f"{label} to {target.where} kept failing after {self.max_attempts} attempts; "
                            f"last cause: {cause}; nothing is imported twice when it is sent again",
                            retryable=True)

    def _read(self, response: requests.Response) -> tuple[dict[str, Any] | None, str, float | None]:
        """(the answer, or None with the cause of a retry and the server's Retry-After); raises for the rest."""
        target = self.target
        status = response.status_code
        if status in (401, 403):
            raise DeliveryError(f"{target.where} answered HTTP {status} ({_vendor_text(response, target)}); "
                                f"check the API token in connection {target.conn_id!r}")
        if status in RETRY_STATUSES:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            return None, f"HTTP {status} ({_vendor_text(response, target)})", retry_after
        if 300 <= status < 400:
            raise DeliveryError(f"{target.where} answered HTTP {status}, a redirect to "
                                f"{_no_credentials(response.headers.get('Location') or '?')}, which is not "
                                "followed: set the connection's host and endpoint_prefix to the final address")
        if not 200 <= status < 300:
            raise DeliveryError(f"{target.where} refused the batch with HTTP {status}: {_vendor_text(response, target)}")
        try:
            answer = response.json()
        except ValueError:
            return None, f"HTTP {status} with a body that is not JSON", None
        if not isinstance(answer, dict):
            return None, f"HTTP {status} with a JSON {type(answer).__name__}, not an object", None
        return answer, "", None


def _reason(exc: BaseException) -> str:
    """A requests error, shortly (its text carries the host and path, never headers)."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"


def _no_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.username or parts.password:
        return parts._replace(netloc=parts.hostname or "").geturl()
    return url


def _vendor_text(response: requests.Response, target: _Target) -> str:
    """The vendor's error text, at most 500 characters, never with a secret in it."""
    try:
        document = response.json()
    except ValueError:
        text = response.text
    else:
        text = str(document.get("error") or document.get("message") or document.get("Message") or document) \
            if isinstance(document, dict) else str(document)
    text = " ".join(text.split()) or "no message"
    return target.redact(text)[:_ERROR_TEXT]
