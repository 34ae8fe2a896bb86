"""Delivery over ``delivery.http_upload``: the run's one file (the package zip, or its single output) posted to an
import API that answers with an import job, and the job polled until it ends. The API spoken is Canvas LMS's SIS
Imports API (https://canvas.instructure.com/doc/api/sis_imports.html):

* ``POST <endpoint>?extension=<zip|csv>&<params>`` with the file as the raw body (``Content-Type: application/zip``,
  or ``text/csv`` for a single CSV), as the docs' raw-post examples send it; Canvas answers with a SisImport object:
  its ``id`` names the import, its ``workflow_state`` is ``created``.
* ``GET <endpoint>/<id>`` until ``workflow_state`` is final: ``imported`` is success; ``imported_with_messages`` is
  success too, its ``processing_warnings`` (``[file, message]`` pairs) go into the receipt and the run report;
  ``failed``, ``failed_with_messages`` and ``aborted`` fail the task, naming the connection, the import, Canvas's
  first ``processing_errors`` and what to check. The waits between looks grow from 2 s to ``poll_seconds``; an
  import still running after ``timeout_minutes`` is a retryable failure.

The requests go through :class:`aeries_hub.delivery.vendor_api.VendorApiHook` (Airflow's ``HttpHook`` on the
``http`` connection ``conn_id``, the API token in its password, never logged): 429 and 5xx answers, timeouts and
Canvas's ``403 Forbidden (Rate Limit Exceeded)`` (https://canvas.instructure.com/doc/api/file.throttling.html) are
retried with backoff. Canvas has no idempotency key: an upload whose answer is lost after Canvas took it may be
imported twice, which re-applies the same rows (the SIS ids are the rows' keys).

Once Canvas accepted the file, the import's id is kept in the run's staging folder (``uploads/<file>.json``, with the
file's sha256): a retry of the deliver task, or the task cleared, waits on that import instead of uploading the file
a second time. An import that failed or was aborted is forgotten, so that clearing the task uploads again.
Canvas's messages may quote the rows' values: quoted values, e-mail addresses and dates are cut out of them
(:func:`aeries_hub.run.rejects.vendor_reason`) before they reach the receipt, the log or an exception.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from aeries_hub.delivery import DeliveryError, OneTarget, Receipt, local_file, size_and_sha256
from aeries_hub.mapping.models import HttpUpload, Mapping
from aeries_hub.staging import RunFolder

if TYPE_CHECKING:  # the hook (requests, Airflow's HTTP provider) is imported when a file is sent, not at DAG parsing
    from aeries_hub.delivery.vendor_api import RetryPolicy, VendorApiHook

__all__ = ["HttpUploadDelivery", "UploadReceipt", "upload_and_wait"]

log = logging.getLogger(__name__)

#: SisImport ``workflow_state`` values that end an import (https://canvas.instructure.com/doc/api/sis_imports.html).
IMPORTED_STATES = frozenset({"imported", "imported_with_messages"})
FAILED_STATES = frozenset({"failed", "failed_with_messages", "aborted"})
CONTENT_TYPES = {"zip": "application/zip", "csv": "text/csv"}
#: The longest first wait between two looks at the import.
FIRST_WAIT = 2.0
#: The most warnings kept in a receipt (all are counted).
MAX_WARNINGS = 50
#: Canvas errors named in a failure message.
ERRORS_SHOWN = 3
#: The largest SisImport answer read.
MAX_ANSWER_BYTES = 5_000_000
#: The longest Canvas message kept (in the receipt, report and alert); the rest is cut.
MAX_MESSAGE_CHARS = 300
#: An import id as Canvas gives it (an integer, or its digits with string ids): it goes into the polling URL's path.
IMPORT_ID = re.compile(r"[0-9]{1,20}")


@dataclass
class UploadReceipt(Receipt):
    """The upload and the import it made (``to_dict()`` for the run report)."""

    conn_id: str
    url: str  # the import's own URL, ``<endpoint>/<id>``
    import_id: int | str
    workflow_state: str
    bytes: int
    sha256: str
    #: ``{"file": the file in the zip, "message": Canvas's warning without quoted values}``, the first 50.
    warnings: list[dict[str, str]] = field(default_factory=list)
    warning_count: int = 0
    polls: int = 0
    #: True when an earlier try uploaded the file and this one waited on its import.
    resumed: bool = False
    seconds: float = 0.0


def upload_and_wait(
    conn_id: str,
    endpoint: str,
    local_path: Any,
    *,
    name: str,
    params: dict[str, Any] | None = None,
    timeout_minutes: float = 60.0,
    poll_seconds: float = 30.0,
    accepted: dict[str, Any] | None = None,
    remember: Callable[[dict[str, Any] | None], None] = lambda document: None,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> UploadReceipt:
    """Upload the file at ``local_path`` (``name`` names it in messages) to ``endpoint`` on connection ``conn_id``
    and wait until its import ends.

    :param accepted: what ``remember`` kept when an earlier try's upload was accepted: the import is waited on
        again, not uploaded, when the file's sha256 is the same.
    :param remember: called with ``{"import_id", "sha256", "url"}`` once the upload is accepted, and with None when
        its import failed (then the next try uploads again).
    :raises DeliveryError: naming the connection, the URL and the cause, never a secret; retryable for network
        trouble and for an import still running after ``timeout_minutes``.
    """
    from aeries_hub.delivery.vendor_api import RetryPolicy, VendorApiHook

    started = time.monotonic()
    with local_file(local_path) as path, VendorApiHook(conn_id, retry=retry or RetryPolicy()) as hook:
        size, sha256 = size_and_sha256(path)
        earlier = accepted if accepted and accepted.get("sha256") == sha256 and accepted.get("import_id") else None
        resumed = earlier is not None
        if earlier is not None:
            import_id = earlier["import_id"]
            log.info("Canvas accepted %s as import %s in an earlier try: waiting on it, not uploading again", name,
                     import_id)
        else:
            import_id = _upload(hook, endpoint, path, name, params or {})
        url = hook.url_from_endpoint(f"{endpoint.rstrip('/')}/{import_id}")
        if not resumed:
            remember({"import_id": import_id, "sha256": sha256, "url": url})
            log.info("Uploaded %s (%d bytes, sha256 %s) to %s: import %s", name, size, sha256, hook.where(url), import_id)
        job, polls = _wait(hook, url, import_id, timeout_minutes=timeout_minutes, poll_seconds=poll_seconds, sleep=sleep)
    state = job["workflow_state"]
    if state in FAILED_STATES:
        remember(None)
        raise DeliveryError(_failure(hook.where(url), import_id, name, job, endpoint))
    warnings = [{"file": file, "message": message} for file, message in _messages(job.get("processing_warnings"))]
    log.info("Import %s of %s ended %s after %d looks%s", import_id, name, state, polls,
             f": {len(warnings)} warnings, e.g. {_listed(warnings[:ERRORS_SHOWN])}" if warnings else "")
    return UploadReceipt(conn_id=conn_id, url=url, import_id=import_id, workflow_state=state, bytes=size,
                         sha256=sha256, warnings=warnings[:MAX_WARNINGS], warning_count=len(warnings), polls=polls,
                         resumed=resumed, seconds=round(time.monotonic() - started, 3))


def _upload(hook: VendorApiHook, endpoint: str, path: Path, name: str, params: dict[str, Any]) -> int | str:
    """POST the file; the import's id from Canvas's answer."""
    extension = Path(name).suffix.lower().lstrip(".")
    query = {"extension": extension, **{key: _query_value(value) for key, value in params.items()}}
    target = f"{endpoint}?{urlencode(query)}"
    answer, status, attempts = hook.post_for_json(
        target, path.read_bytes(), headers={"Content-Type": CONTENT_TYPES.get(extension, "application/octet-stream")},
        label=f"the upload of {name}", what=f"the upload of {name}")
    import_id = answer.get("id")
    if isinstance(import_id, bool) or not isinstance(import_id, (int, str)) or not IMPORT_ID.fullmatch(str(import_id)):
        raise DeliveryError(f"{hook.where(hook.url_from_endpoint(target))} answered the upload of {name} with HTTP "
                            f"{status} but no import id (a number); it is not an SIS import API (check "
                            "delivery.http_upload.endpoint)")
    return import_id


def _wait(hook: VendorApiHook, url: str, import_id: Any, *, timeout_minutes: float, poll_seconds: float,
          sleep: Callable[[float], None]) -> tuple[dict[str, Any], int]:
    """Look at the import until its state is final: its last SisImport object and how many looks it took."""
    deadline = time.monotonic() + timeout_minutes * 60
    wait, polls = min(FIRST_WAIT, poll_seconds), 0
    while True:
        job = _read_job(hook, url, import_id)
        polls += 1
        state = job["workflow_state"]
        if state in IMPORTED_STATES or state in FAILED_STATES:
            return job, polls
        left = deadline - time.monotonic()
        if left <= 0:
            raise DeliveryError(
                f"{hook.where(url)}: import {import_id} is still {state} ({job.get('progress', '?')}% done) after "
                f"{timeout_minutes:g} minutes (delivery.http_upload.timeout_minutes); a retry of the task waits on it "
                "again without uploading. Check Canvas's SIS imports (Admin > SIS Import) for a queue of imports, or "
                "raise timeout_minutes", retryable=True)
        log.info("Import %s is %s (%s%% done): next look in %.0f s", import_id, state, job.get("progress", "?"),
                 min(wait, left))
        sleep(min(wait, left))
        wait = min(wait * 2, poll_seconds)


def _read_job(hook: VendorApiHook, url: str, import_id: Any) -> dict[str, Any]:
    data = hook.get_bytes(url, label=f"the state of import {import_id}", max_bytes=MAX_ANSWER_BYTES)
    try:
        job = json.loads(data)
    except ValueError:
        job = None
    if not isinstance(job, dict) or not isinstance(job.get("workflow_state"), str):
        raise DeliveryError(f"{hook.where(url)}: the answer about import {import_id} is not a SisImport object with a "
                            "workflow_state; it is not an SIS import API (check delivery.http_upload.endpoint)")
    return job


def _query_value(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _messages(pairs: Any) -> list[tuple[str, str]]:
    """Canvas's ``[file, message]`` pairs, the values they quote cut out."""
    from aeries_hub.run.rejects import vendor_reason

    found = []
    for pair in pairs if isinstance(pairs, list) else []:
        parts = [str(p) for p in pair] if isinstance(pair, list) else ["", str(pair)]
        file, message = (parts[0], parts[-1]) if len(parts) > 1 else ("", "".join(parts))
        found.append((vendor_reason(_cut(file)), vendor_reason(_cut(message))))
    return found


def _cut(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS - 1] + "…"


def _listed(messages: list[dict[str, str]]) -> str:
    return "; ".join(f"{m['file']}: {m['message']}" if m["file"] else m["message"] for m in messages)


def _failure(where: str, import_id: Any, name: str, job: dict[str, Any], endpoint: str) -> str:
    errors = [{"file": file, "message": message} for file, message in _messages(job.get("processing_errors"))]
    said = _listed(errors[:ERRORS_SHOWN]) or "Canvas gave no error message"
    if len(errors) > ERRORS_SHOWN:
        said += f" (and {len(errors) - ERRORS_SHOWN} more)"
    state = job["workflow_state"]
    check = ("Someone or Canvas aborted it: check the SIS imports in Canvas (Admin > SIS Import)" if state == "aborted"
             else "Check the file against Canvas's SIS CSV format (https://canvas.instructure.com/doc/api/"
                  f"file.sis_csv.html) and the import's errors (Admin > SIS Import, or GET {endpoint}/{import_id}/errors)")
    return f"{where}: import {import_id} of {name} ended {state}: {said.rstrip('.')}. {check}; then clear the task to " \
           "upload again"


@dataclass(frozen=True)
class HttpUploadDelivery(OneTarget):
    spec: HttpUpload

    #: A file, as over SFTP: it can carry the last delivered rows of held keys (:mod:`aeries_hub.delivery.holds`).
    supports_holds = True

    @classmethod
    def from_mapping(cls, mapping: Mapping) -> HttpUploadDelivery | None:
        return cls(mapping.http_upload) if mapping.http_upload else None

    def target_name(self, params: dict) -> str:
        return "http_upload"

    def target_address(self, params: dict) -> tuple[str, str]:
        return self.spec.conn_id, self.spec.endpoint

    def deliver(self, run: RunFolder, built: list[dict], context: Any, state: Any) -> list[dict]:
        from aeries_hub.staging import safe_segment

        receipts = []
        for item in built:
            record = f"uploads/{safe_segment(item['file'])}.json"

            def remember(document: dict | None, record: str = record) -> None:
                if document is not None:
                    run.write_json(record, document)
                elif run.exists(record):
                    run.path(record).unlink()

            receipt = upload_and_wait(
                self.spec.conn_id, self.spec.endpoint, run.path(item.get("folder", "output"), item["file"]),
                name=item["file"], params=self.spec.params, timeout_minutes=self.spec.timeout_minutes,
                poll_seconds=self.spec.poll_seconds, accepted=run.read_json(record) if run.exists(record) else None,
                remember=remember)
            receipts.append({**receipt.to_dict(), "file": item["file"], "rows": item["rows"]})
        return receipts

    def files_at_target(self, names: list[str]) -> tuple[str, list[str]]:
        return "", []  # an import API keeps no files to list
