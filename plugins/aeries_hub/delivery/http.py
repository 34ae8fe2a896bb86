"""Safe delivery of JSON records to a vendor's HTTPS import API, in batches (the sibling of ``sftp``).

    receipt = deliver_records("schoolmint_enroll", "/api/v1/students/import", run_dir / "output/students.jsonl",
                              batch_size=100, idempotency_prefix="aeries_to_schoolmint_enroll-<run_id>-students")

The file is JSON Lines (one record object per line, UTF-8) and is checked whole before anything is sent: a
broken line is a :class:`DeliveryError` naming the file and the line. Records are then posted in file order
as ``{"records": [...]}``, each record's line sent as it is in the file, ``batch_size`` at a time. Every batch
carries ``Idempotency-Key: <prefix>-<batch number>-<sha256 of the body, 16 hex>``, so a retried batch, or a
cleared and re-run Airflow task sending the same bytes, is never imported twice: the vendor replays its
first answer.

The posts go through :class:`aeries_hub.delivery.vendor_api.VendorApiHook` (Airflow's ``HttpHook`` on the
``http`` connection ``conn_id``; its docstring lists the connection's fields and extras): 429/5xx answers,
timeouts, failed or dropped connections and a 200 whose body is not a JSON object are retried (``max_attempts``
per batch, backoff with full jitter, never sooner than ``Retry-After``); 401/403, redirects and other answers
fail at once. A batch that keeps failing ends in a ``retryable`` DeliveryError, so Airflow's own task retry may
try later, with the same keys. An error after some batches were answered carries their receipt (``received``):
those records reached the vendor. The vendor's per-record refusals are not errors: they come back in the receipt's
``rejected`` list. The token never appears in logs, exception messages or the receipt; the log has one line per
batch (number, records, status, attempts).
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

from aeries_hub.delivery import DeliveryError, Receipt, local_file, size_and_sha256
from aeries_hub.delivery.vendor_api import RetryPolicy, VendorApiHook

__all__ = ["DeliveryError", "HttpReceipt", "deliver_records", "IMPORTED_STATUSES", "record_field"]

log = logging.getLogger(__name__)

#: Per-record result statuses that mean the vendor took the record.
IMPORTED_STATUSES = frozenset({"created", "updated", "unchanged"})
#: Longest idempotency prefix sent as it is; a longer one is shortened with its own checksum.
MAX_PREFIX = 200


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
    :raises DeliveryError: naming the connection, the URL and the cause, never a secret.
    """
    if batch_size < 1 or max_attempts < 1:
        raise ValueError("batch_size and max_attempts must be at least 1")
    prefix = _key_prefix(idempotency_prefix)
    started = time.monotonic()
    retry = RetryPolicy(max_attempts, backoff_base, backoff_max, retry_after_max, sleep)
    with local_file(records_path) as path, VendorApiHook(conn_id, retry=retry) as hook:
        count = _check_lines(path, records_path)
        size, sha256 = size_and_sha256(path)
        url = hook.url_from_endpoint(endpoint)
        receipt = HttpReceipt(conn_id=conn_id, url=url, bytes=size, sha256=sha256)
        total = -(-count // batch_size)
        try:
            for number, (first, lines) in enumerate(_batches(path, batch_size), start=1):
                body = b'{"records":[' + b",".join(lines) + b"]}"
                key = f"{prefix}-{number}-{hashlib.sha256(body).hexdigest()[:16]}"
                answer, status, attempts = hook.post_batch(endpoint, body, idempotency_key=key,
                                                           label=f"batch {number} of {total}")
                imported, rejected = _results(answer, lines, first, id_field, hook, url)
                receipt.batches += 1
                receipt.records_sent += len(lines)
                receipt.retries += attempts - 1
                receipt.imported += imported
                receipt.rejected.extend(rejected)
                log.info("batch %d of %d: %d records, HTTP %d after %d attempt%s: %d imported, %d rejected", number,
                         total, len(lines), status, attempts, "" if attempts == 1 else "s", imported, len(rejected))
        except DeliveryError as exc:
            # The batches the vendor answered were received: the error says so (the disclosure log records them).
            receipt.seconds = round(time.monotonic() - started, 3)
            exc.received = [receipt.to_dict()] if receipt.batches else []
            raise
    receipt.seconds = round(time.monotonic() - started, 3)
    if not count:
        log.info("%s holds no records: nothing was sent to %s", records_path, url)
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


def _results(answer: dict[str, Any], lines: list[bytes], first: int, id_field: str, hook: VendorApiHook,
             url: str) -> tuple[int, list[dict[str, Any]]]:
    """(records imported, the refused ones) from the vendor's per-record results."""
    results = answer.get("results")
    if not isinstance(results, list):
        raise DeliveryError(f"{hook.where(url)}: the answer to a batch has no results list; it is not the import "
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
                         "errors": [hook.redact(str(e)) for e in errors]})
    return imported, rejected

