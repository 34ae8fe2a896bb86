"""The tasks of a write-back DAG: fetch the vendor's export, validate it, plan the Aeries writes, write, report.

Like the outbound DAGs, tasks pass paths and counts; each writes a summary under ``summary/`` in the run's
staging folder. The plan (``plan.json``) lists every write with the record it touches and its old and new
values; ``writes.json`` lists what Aeries answered to each. Export files that were written are remembered
(``_last_delivered/inbound/``), so a re-run or the next schedule never writes a file twice; a write whose
record already holds the values is not sent at all.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from typing import Any

from aeries_hub import paths
from aeries_hub.run.summary import write_summary
from aeries_hub.staging import RunFolder
from aeries_hub.writeback.guard import WRITE_ACTIONS
from aeries_hub.writeback.loader import (
    COURSE_REQUESTS_AREA,
    GRADEBOOK_AREA,
    SCORES_AREA,
    Field,
    WriteBack,
    load_writeback,
)

log = logging.getLogger(__name__)

ID, SCHOOL, ROW = "_record", "_school", "_row"


def writeback_for(writeback_file: str) -> WriteBack:
    return load_writeback(paths.WRITEBACKS_DIR / writeback_file)


def _processed_state(writeback: WriteBack):
    from aeries_hub.changes import DeliveredState
    from aeries_hub.staging import staging_base

    return DeliveredState(staging_base(), writeback.dag_id, "inbound")


def fetch_exports(writeback_file: str) -> dict:
    """Copy the vendor's new export files (not yet written into Aeries) to ``inbound/``: from its SFTP drop
    folder (``source.sftp``) or its HTTPS API (``source.http``). Both sources only list and read the files;
    what is new, the staging and the summary are the same for both.

    Every name and byte from the vendor is untrusted: a name that is not a plain file name, a file larger than
    ``max_file_bytes`` and a file that cannot be read safely (a field or record past the limits, JSON nested too
    deep) are quarantined, each with the reason, and the other files go on. A file kept in ``quarantine/`` is
    remembered by its sha256: later runs skip it with a log line."""
    writeback = writeback_for(writeback_file)
    run = RunFolder.current()
    done = (_processed_state(writeback).manifest() or {}).get("files", {})
    quarantine_state = _quarantine_state(writeback)
    poisoned = (quarantine_state.manifest() or {}).get("files", {})
    fetched, skipped, quarantined = [], [], []
    exports = _http_exports if writeback.source == "http" else _sftp_exports
    source = _source_name(writeback)
    for name, listed_sha256, read in exports(writeback):
        problem = export_name_problem(name)
        if problem:
            quarantined.append({"file": name, "reason": f"{source}: export file name {name!r} refused: {problem}; "
                                                        "it was not fetched (ask the vendor to rename it)"})
            continue
        if listed_sha256 and (listed_sha256 in done or listed_sha256 in poisoned):
            # The vendor gave its checksum: no need to download it again.
            skipped.append(_skipped(name, listed_sha256, done, poisoned))
            continue
        try:
            data, where = read()
        except ExportFileRefused as exc:
            quarantined.append({"file": name, "reason": str(exc)})
            continue
        sha256 = hashlib.sha256(data).hexdigest()
        if listed_sha256 and listed_sha256 != sha256:
            raise RuntimeError(f"{where}: export file {name!r} has sha256 {sha256}, its listing says {listed_sha256}: "
                               "it changed or was cut off while it was read; nothing was fetched, try again")
        if sha256 in done or sha256 in poisoned:
            skipped.append(_skipped(name, sha256, done, poisoned))
            continue
        poison = _unreadable_file(writeback, name, data)
        if poison:
            run.write_bytes(_staged_path(run, "quarantine", name), data)
            quarantined.append({"file": name, "sha256": sha256, "bytes": len(data), "kept": f"quarantine/{name}",
                                "reason": f"{where}: {poison}; the file is kept in quarantine/ and not read again"})
            continue
        run.write_bytes(_staged_path(run, "inbound", name), data)
        fetched.append({"file": name, "sha256": sha256, "bytes": len(data)})
    for item in skipped:
        if "quarantined_by" in item:
            log.warning("%s (sha256 %s) was quarantined by run %s: skipped (%s)", item["file"], item["sha256"],
                        item["quarantined_by"], item["reason"])
        else:
            log.info("%s was already written into Aeries by run %s: skipped", item["file"], item["written_by"])
    for item in quarantined:
        log.error("quarantined: %s", item["reason"])
    if any("sha256" in item for item in quarantined):
        _remember_quarantined(quarantine_state, poisoned, quarantined)
    log.info("%d new export files from %s (%d already written or quarantined before, %d quarantined now)",
             len(fetched), source, len(skipped), len(quarantined))
    return write_summary(run, "fetch_exports", {"files": fetched, "skipped": skipped, "quarantined": quarantined})


def _source_name(writeback: WriteBack) -> str:
    if writeback.source == "http":
        return f"http connection {writeback.http_conn_id!r} endpoint {writeback.endpoint!r}"
    return f"sftp connection {writeback.sftp_conn_id!r} folder {writeback.remote_dir!r}"


#: A file name a write-back stages, whatever the source: a plain file name (no folders, not hidden).
_EXPORT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._ -]{0,254}")
EXPORT_NAME_RULE = ("a plain file name (letters, digits, '_', '.', '-' and spaces, at most 255 characters, not "
                    "hidden, no '/', '\\', '..' or NUL)")


def export_name_problem(name: Any) -> str | None:
    """Why ``name`` (from a vendor's listing) may not be staged, or None: it must be :data:`EXPORT_NAME_RULE`."""
    if not isinstance(name, str) or not _EXPORT_NAME.fullmatch(name) or ".." in name:
        return f"not {EXPORT_NAME_RULE}"
    return None


def _staged_path(run: RunFolder, folder: str, name: str) -> str:
    """``folder/name`` once it is sure to stay inside the run's staging folder (CWE-22): the name rule is checked
    again and the resolved target must lie under ``run.root/folder``."""
    import posixpath

    problem = export_name_problem(name)
    if problem is None:
        inside = run.root.joinpath(folder)
        target = inside.joinpath(name)
        if target.protocol in ("file", "local", ""):
            import os

            inside_path, target_path = os.path.realpath(inside.path), os.path.realpath(target.path)
        else:
            inside_path, target_path = posixpath.normpath(inside.path), posixpath.normpath(target.path)
        if posixpath.dirname(target_path) != inside_path:
            problem = f"it resolves to {target_path}, outside {inside_path}"
    if problem:
        raise ValueError(f"export file name {name!r} may not be staged: {problem}")
    return f"{folder}/{name}"


def _skipped(name: str, sha256: str, done: dict, poisoned: dict) -> dict:
    if sha256 in done:
        return {"file": name, "sha256": sha256, "written_by": done[sha256]["run_id"]}
    return {"file": name, "sha256": sha256, "quarantined_by": poisoned[sha256]["run_id"],
            "reason": poisoned[sha256]["reason"]}


def _quarantine_state(writeback: WriteBack):
    """Where the export files quarantined by earlier runs are remembered (by sha256)."""
    from aeries_hub.changes import DeliveredState
    from aeries_hub.staging import staging_base

    return DeliveredState(staging_base(), writeback.dag_id, "quarantine")


def _remember_quarantined(state, poisoned: dict, quarantined: list[dict]) -> None:
    from datetime import datetime, timezone

    from airflow.sdk import get_current_context

    run_id = get_current_context()["run_id"]
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    poisoned = {**poisoned, **{item["sha256"]: {"file": item["file"], "run_id": run_id, "quarantined_at": stamp,
                                                "reason": item["reason"]}
                               for item in quarantined if "sha256" in item}}
    state.save({}, {"run_id": run_id, "delivered_at": stamp, "files": poisoned})


class ExportFileRefused(Exception):
    """One export file is not taken (larger than max_file_bytes); the message says why. The other files go on."""


class _FetchLimits:
    """The limits of one fetch from a vendor's server: ``max_file_bytes`` per file, read in chunks and refused
    once past it; ``max_fetch_seconds`` for the whole fetch (listing and every file), so that a server that
    stalls or trickles a byte at a time is cut off, not only one that does not answer at all."""

    def __init__(self, writeback: WriteBack):
        import time

        self.max_bytes, self.seconds = writeback.max_file_bytes, writeback.max_fetch_seconds
        self.ends = time.monotonic() + self.seconds
        self.setting = f"{writeback.path.name} source.{writeback.source}"

    def left(self) -> float:
        import time

        return self.ends - time.monotonic()

    def check(self, where: str, what: str) -> None:
        """Raise once the deadline has passed."""
        from aeries_hub.delivery import DeliveryError

        if self.left() <= 0:
            raise DeliveryError(f"{where}: cut off while reading {what}: the fetch took longer than "
                                f"{self.seconds:g} s ({self.setting}.max_fetch_seconds); the server is too slow or "
                                "stalls. Nothing was written into Aeries; the next run tries again")

    def too_large(self, where: str, what: str) -> ExportFileRefused:
        return ExportFileRefused(f"{where}: {what} is larger than {self.max_bytes} bytes "
                                 f"({self.setting}.max_file_bytes); it was not fetched (ask the vendor to split it, "
                                 "or raise max_file_bytes)")

    def read(self, read_some, where: str, what: str, *, max_bytes: int | None = None, cut: bool = False) -> bytes:
        """Everything ``read_some(n)`` gives until it gives ``b""``: at most ``max_bytes`` (default max_file_bytes;
        more raises :meth:`too_large`, or with ``cut`` is dropped), checking the deadline between chunks."""
        limit = self.max_bytes if max_bytes is None else max_bytes
        chunks, size = [], 0
        while True:
            self.check(where, what)
            chunk = read_some(min(_READ_CHUNK, limit + 1 - size))
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > limit:
                if cut:
                    return b"".join(chunks) + chunk[: limit - size]
                raise self.too_large(where, what)
            chunks.append(chunk)

    def watchdog(self, stop):
        """A timer calling ``stop()`` at the deadline, to break a read blocked on a server that trickles bytes."""
        import threading

        timer = threading.Timer(max(self.left(), 0.0), stop)
        timer.daemon = True
        timer.start()
        return timer


#: Bytes asked of the server at a time while an export file is read.
_READ_CHUNK = 64 * 1024


def _sftp_exports(writeback: WriteBack):
    """``(name, None, read)`` for each file of the SFTP folder matching ``pattern``, by name; ``read()`` gives
    ``(bytes, where)``. The host key is checked as for deliveries; the limits are :class:`_FetchLimits`."""
    import fnmatch
    import posixpath

    import paramiko

    from aeries_hub.delivery.sftp import open_sftp

    limits = _FetchLimits(writeback)
    with open_sftp(writeback.sftp_conn_id) as (sftp, where):
        # At the deadline the SFTP channel is closed: a read blocked on a server that trickles then fails at once.
        timer = limits.watchdog(sftp.get_channel().close)
        try:
            try:
                listed = sftp.listdir_attr(writeback.remote_dir)
            except (OSError, EOFError, paramiko.SSHException):
                limits.check(where, f"the listing of folder {writeback.remote_dir!r}")
                raise
            entries = sorted((a.filename, a.st_size) for a in listed
                             if fnmatch.fnmatch(a.filename, writeback.pattern))
            for name, size in entries:
                def read(name=name, size=size):
                    path = posixpath.join(writeback.remote_dir, name)
                    what = f"export file {path!r}"
                    if size is not None and size > limits.max_bytes:  # what the server says; the read checks too
                        raise limits.too_large(where, what)
                    try:
                        with sftp.open(path, "rb") as remote:
                            return limits.read(remote.read, where, what), f"{where}: {path}"
                    except (OSError, EOFError, paramiko.SSHException):
                        limits.check(where, what)
                        raise
                yield name, None, read
        finally:
            timer.cancel()


def _http_exports(writeback: WriteBack, *, max_attempts: int = 5, backoff_base: float = 1.0,
                  backoff_max: float = 30.0, retry_after_max: float = 120.0, sleep=None, session=None):
    """``(name, sha256 or None, read)`` for each file the vendor's API lists, by name.

    ``GET {endpoint}`` answers ``{"files": [{"name", "url" or "path", "sha256"?}]}`` (a path or URL relative
    to the listing's URL, on the same host); ``read()`` GETs the file's bytes and gives ``(bytes, url)``. 429
    and 5xx answers, timeouts and failed connections are retried (reads are safe to retry); 401/403 and other
    answers fail at once. Errors name the connection and the URL, never the token. The names are checked by
    :func:`fetch_exports` (one rule for every source); the limits are :class:`_FetchLimits`."""
    import time
    from urllib.parse import urljoin, urlsplit

    import requests

    from aeries_hub.delivery import DeliveryError
    from aeries_hub.delivery.http import _target

    target = _target(writeback.http_conn_id, writeback.endpoint)
    getter = _Getter(session or requests.Session(), target, sleep or time.sleep, max_attempts, backoff_base,
                     backoff_max, retry_after_max, _FetchLimits(writeback))
    try:
        try:
            listing = getter.get(target.url, "the export list")
        except ExportFileRefused as exc:
            raise DeliveryError(str(exc)) from None
        try:
            document = json.loads(listing.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            document = None
        files = document.get("files") if isinstance(document, dict) else None
        if not isinstance(files, list):
            raise DeliveryError(f"{target.where}: the answer is not a JSON object with a files list; it is not the "
                                "export API this source speaks (check source.http.endpoint and endpoint_prefix)")
        origin = urlsplit(target.url)[:2]
        entries = []
        for position, item in enumerate(files, start=1):
            name = item.get("name") if isinstance(item, dict) else None
            link = (item.get("url") or item.get("path")) if isinstance(item, dict) else None
            if not isinstance(name, str) or not name or not isinstance(link, str) or not link:
                raise DeliveryError(f"{target.where}: file #{position} of the export list needs a name and a url "
                                    "or path")
            url = urljoin(target.url, link)
            if urlsplit(url)[:2] != origin:  # the token goes with the request: only to the API's own host
                raise DeliveryError(f"{target.where}: export file {name!r} is served from another host "
                                    f"({urlsplit(url).netloc}); the API token is only sent to {origin[1]}")
            sha256 = item.get("sha256")
            entries.append((name, str(sha256).lower() if sha256 else None, url))
        if len({name for name, _, _ in entries}) != len(entries):
            raise DeliveryError(f"{target.where}: the export list names a file twice")
        for name, sha256, url in sorted(entries):
            yield name, sha256, lambda url=url, name=name: (getter.get(url, f"export file {name!r}"),
                                                              f"{target.where}: {url}")
    finally:
        if session is None:
            getter.http.close()


#: The most of an error answer's body read (its text goes into the error message, cut to 500 characters).
_ERROR_BODY_BYTES = 64 * 1024


class _Getter:
    """GETs on the vendor API with the connection's auth, retried on 429/5xx, timeouts and failed connections;
    bodies are read within the fetch's limits (:class:`_FetchLimits`)."""

    def __init__(self, http, target, sleep, max_attempts, backoff_base, backoff_max, retry_after_max,
                 limits: _FetchLimits) -> None:
        self.http, self.target, self.sleep = http, target, sleep
        self.max_attempts, self.backoff_base = max_attempts, backoff_base
        self.backoff_max, self.retry_after_max = backoff_max, retry_after_max
        self.limits = limits

    def get(self, url: str, label: str) -> bytes:
        import requests
        import urllib3

        from aeries_hub.delivery import DeliveryError
        from aeries_hub.delivery.http import _reason, _vendor_text
        from aeries_hub.retrying import RETRY_STATUSES, backoff_delay, retry_after_seconds

        target, limits = self.target, self.limits
        where = f"http connection {target.conn_id!r} ({url})"
        cause = ""
        for attempt in range(1, self.max_attempts + 1):
            retry_after = None
            limits.check(where, label)
            # A socket read waits at most the connection's timeout, and never past the fetch's deadline.
            timeout = max(min(target.timeout, limits.left()), 0.001)
            try:
                with self.http.get(url, headers={k: v for k, v in target.headers.items() if k != "Content-Type"},
                                   auth=target.auth, timeout=timeout, verify=target.verify, allow_redirects=False,
                                   stream=True) as response:
                    status = response.status_code
                    # Decoded (gzip): max_file_bytes bounds what the answer unpacks to, not what it sends.
                    read_some = lambda size: response.raw.read1(size, decode_content=True)  # noqa: E731
                    if 200 <= status < 300:
                        length = response.headers.get("Content-Length", "")
                        if length.isdigit() and int(length) > limits.max_bytes:
                            raise limits.too_large(where, label)
                        return limits.read(read_some, where, label)
                    # Only the start of an error answer: its text is shown cut anyway.
                    response._content = limits.read(read_some, where, label, max_bytes=_ERROR_BODY_BYTES,
                                                    cut=True)
            except requests.exceptions.SSLError as exc:
                raise DeliveryError(f"TLS failed with {where}: {target.redact(_reason(exc))}; check the server's "
                                    "certificate (or give the extra verify_ssl a CA bundle path)") from None
            except (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError):
                limits.check(where, label)
                cause = f"no answer within {timeout:g} s"
            except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as exc:
                cause = f"connection failed ({target.redact(_reason(exc))})"
            else:
                if status in (401, 403):
                    raise DeliveryError(f"{where} answered HTTP {status} to {label} ({_vendor_text(response, target)}); "
                                        f"check the API token in connection {target.conn_id!r}")
                if status not in RETRY_STATUSES:
                    raise DeliveryError(f"{where} answered HTTP {status} to {label}: {_vendor_text(response, target)}")
                cause = f"HTTP {status} ({_vendor_text(response, target)})"
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            if attempt < self.max_attempts:
                if retry_after is not None:
                    retry_after = min(retry_after, self.retry_after_max)
                delay = backoff_delay(attempt - 1, self.backoff_base, self.backoff_max, retry_after)
                log.warning("%s from %s: %s; attempt %d of %d, next in %.2f s", label, url, cause, attempt,
                            self.max_attempts, delay)
                self.sleep(min(delay, max(limits.left(), 0.0)))
        raise DeliveryError(f"{label} from {where} kept failing after {self.max_attempts} attempts; last cause: {cause}",
                            retryable=True)


def validate_exports(writeback_file: str, fetched: dict) -> dict:
    """Map each vendor record to Aeries fields and check it; a record that fails any check is rejected whole
    (rejects/exports.csv names it and why) and nothing of it is written."""
    import pandas as pd

    from aeries_hub.delivery.http import record_field
    from aeries_hub.quality import parse_checks, validate_frame
    from aeries_hub.quality.runner import REJECT_REASON

    writeback = writeback_for(writeback_file)
    run = RunFolder.current()
    if writeback.course_requests:
        return _validate_course_requests(writeback, run, fetched)
    if writeback.scores:
        return _validate_scores(writeback, run, fetched)
    students, contacts, unreadable = [], [], []
    for where, record in _exported_records(writeback, run, fetched, unreadable):
        record_id = str(record_field(record, writeback.record_id) or where)
        students.append(_row(record, writeback.fields, record_id, where)
                        | {SCHOOL: _text(record_field(record, writeback.school))})
        if writeback.contacts:
            for contact in record_field(record, writeback.contacts.source) or []:
                contacts.append(_row(contact, writeback.contacts.fields, record_id, where))
    student_frame = pd.DataFrame(students, columns=[ID, ROW, SCHOOL] + [f.name for f in writeback.fields])
    contact_frame = pd.DataFrame(contacts, columns=[ID, ROW] + [f.name for f in (writeback.contacts.fields if writeback.contacts else ())])
    where = f"{writeback.path.name}: students"
    with run.local_dir("quality/exports") as docs_dir:
        checked = validate_frame(student_frame, parse_checks(_checks(writeback.fields, "student"), where=f"{where}.fields"),
                                 name="students", docs_dir=docs_dir, id_columns=[ID])
        rejected = [checked.rejected[[ID, REJECT_REASON]]]
        if writeback.contacts and len(contact_frame):
            contact_checks = parse_checks(_checks(writeback.contacts.fields, "contact"), where=f"{where}.contacts.fields")
            contacts_checked = validate_frame(contact_frame, contact_checks, name="contacts", docs_dir=docs_dir, id_columns=[ID])
            rejected.append(contacts_checked.rejected[[ID, REJECT_REASON]])
    rejects = pd.concat(rejected + [pd.DataFrame(unreadable, columns=[ID, REJECT_REASON])], ignore_index=True)
    bad = set(rejects[ID])
    accepted = checked.accepted[~checked.accepted[ID].isin(bad)].drop(columns=[REJECT_REASON], errors="ignore")
    run.write_parquet("validated/students.parquet", _mapped(accepted, writeback.fields))
    run.write_parquet("validated/contacts.parquet", _mapped(contact_frame[~contact_frame[ID].isin(bad)],
                                                            writeback.contacts.fields if writeback.contacts else ()))
    return _validated(run, rejects, records=len(student_frame) + len(unreadable), accepted=len(accepted))


#: Bounds of one record of an export file: a JSON line's bytes, a CSV field's characters (Python's csv field limit,
#: stated here), a JSON record's nesting. A file past any of them is quarantined whole (fetch_exports).
MAX_RECORD_BYTES = 1024 * 1024
MAX_FIELD_CHARS = 131_072
MAX_JSON_DEPTH = 32


class ExportFileUnreadable(Exception):
    """An export file that cannot be read safely as a whole (a record past the bounds, broken CSV quoting)."""


def _unreadable_file(writeback: WriteBack, name: str, data: bytes) -> str | None:
    """Why the export file ``data`` cannot be read safely, or None (a bad record alone is only rejected)."""
    import io

    try:
        for _record in _read_records(writeback, name, io.BytesIO(data)):
            pass
    except ExportFileUnreadable as exc:
        return str(exc)
    return None


def _json_depth(value: Any) -> int:
    depth, level = 0, [(value, 1)]
    while level:
        node, at = level.pop()
        if isinstance(node, (dict, list)):
            depth = max(depth, at)
            level.extend((child, at + 1) for child in (node.values() if isinstance(node, dict) else node))
    return depth


def _read_records(writeback: WriteBack, name: str, handle):
    """``(where, record, problem)`` for each record of an export file: JSON Lines, or delimited text whose first
    line names the columns (``source.sftp.format: csv``). ``where`` is ``<file> line <n>``. A record that breaks
    the bounds (:data:`MAX_RECORD_BYTES`, :data:`MAX_FIELD_CHARS`, :data:`MAX_JSON_DEPTH`) or CSV that cannot be
    parsed raises :class:`ExportFileUnreadable`."""
    if writeback.format != "csv":
        for number, line in enumerate(handle, start=1):
            where = f"{name} line {number}"
            if len(line) > MAX_RECORD_BYTES:
                raise ExportFileUnreadable(f"{where} is longer than {MAX_RECORD_BYTES} bytes")
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except RecursionError:
                record = None
            except ValueError as exc:
                yield where, None, f"not a JSON object: {exc}"
                continue
            if record is None or _json_depth(record) > MAX_JSON_DEPTH:
                raise ExportFileUnreadable(f"{where} is nested deeper than {MAX_JSON_DEPTH} levels")
            if not isinstance(record, dict):
                yield where, None, "not a JSON object"
                continue
            yield where, record, None
        return
    import csv
    import io

    try:
        text = handle.read().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield f"{name} line 1", None, f"not UTF-8 text: {exc}"
        return
    quoting = csv.QUOTE_NONE if writeback.quoting == "none" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=writeback.delimiter, quoting=quoting)
    header = None
    while True:
        try:
            row = next(reader, None)
        except csv.Error as exc:
            too_long = "field larger than field limit" in str(exc)
            reason = (f"has a field longer than {MAX_FIELD_CHARS} characters" if too_long
                      else f"is not readable as delimited text ({exc})")
            raise ExportFileUnreadable(f"{name} line {reader.line_num} {reason}") from None
        if row is None:
            return
        where = f"{name} line {reader.line_num}"
        if any(len(value) > MAX_FIELD_CHARS for value in row):  # csv's own limit is process-wide: checked here too
            raise ExportFileUnreadable(f"{where} has a field longer than {MAX_FIELD_CHARS} characters")
        if header is None:
            header = [column.strip() for column in row]
            continue
        if not any(value.strip() for value in row):
            continue
        if len(row) != len(header):
            yield where, None, (f"has {len(row)} columns, the header has {len(header)} "
                                f"(delimiter {writeback.delimiter!r})")
            continue
        yield where, dict(zip(header, row)), None


def _row(record: dict, fields, record_id: str, where: str) -> dict:
    from aeries_hub.delivery.http import record_field

    return {ID: record_id, ROW: where, **{f.name: _text(record_field(record, f.path)) for f in fields}}


def _request_key_fields(writeback: WriteBack) -> tuple[Field, ...]:
    """The key of a course request as fields, each required and checked for its Aeries format."""
    spec = writeback.course_requests
    return (
        Field(name="SchoolCode", path=spec.school, required=True, pattern=r"^\d{1,5}$"),
        Field(name=spec.student_key, path=spec.student, required=True, pattern=r"^\d{1,9}$"),
        Field(name="CourseID", path=spec.course, required=True, pattern=r"^\S.{0,5}$"),
    )


def _validate_course_requests(writeback: WriteBack, run: RunFolder, fetched: dict) -> dict:
    """Each row -> a course request (SchoolCode, StudentID or StudentNumber, CourseID and the extra fields); a row
    with a value missing or malformed is rejected (rejects/exports.csv) before anything is read from Aeries."""
    import pandas as pd

    from aeries_hub.delivery.http import record_field
    from aeries_hub.quality import parse_checks

    spec = writeback.course_requests
    fields = _request_key_fields(writeback) + spec.fields
    rows, unreadable = [], []
    for where, record in _exported_records(writeback, run, fetched, unreadable):
        parts = [_text(record_field(record, path)) for path in spec.id]
        record_id = "/".join(parts) if all(parts) else where
        rows.append(_row(record, fields, record_id, where))
    frame = pd.DataFrame(rows, columns=[ID, ROW] + [f.name for f in fields])
    checks = parse_checks(_checks(fields, "course request"), where=f"{writeback.path.name}: course_requests")
    accepted, rejects = _checked_rows(run, frame, checks, "course_requests", unreadable)
    run.write_parquet("validated/course_requests.parquet", _mapped(accepted, fields))
    return _validated(run, rejects, records=len(frame) + len(unreadable), accepted=len(accepted))


#: The columns of a validated score row (scores: paths -> these names).
SCORE_COLUMNS = ("class_id", "student", "assignment", "title", "points_possible", "score", "date")


def _validate_scores(writeback: WriteBack, run: RunFolder, fetched: dict) -> dict:
    """Each row -> one score (class, student, assignment, score and the optional title, points possible, date); a
    row without a class, student, assignment or score is rejected here, everything else is checked by the plan."""
    import pandas as pd

    from aeries_hub.delivery.http import record_field
    from aeries_hub.quality import parse_checks

    spec = writeback.scores
    paths_of = {"class_id": spec.class_id, "student": spec.student, "assignment": spec.assignment, "title": spec.title,
                "points_possible": spec.points_possible, "score": spec.score, "date": spec.date}
    rows, unreadable = [], []
    for where, record in _exported_records(writeback, run, fetched, unreadable):
        row = {name: (_text(record_field(record, path)) if path else "") for name, path in paths_of.items()}
        parts = [row["class_id"], row["assignment"], row["student"]]
        rows.append({ID: "/".join(parts) if all(parts) else where, ROW: where, **row})
    frame = pd.DataFrame(rows, columns=[ID, ROW, *SCORE_COLUMNS])
    required = [Field(name=name, path=name, required=True) for name in ("class_id", "student", "assignment", "score")]
    checks = parse_checks(_checks(required, "score"), where=f"{writeback.path.name}: scores")
    accepted, rejects = _checked_rows(run, frame, checks, "scores", unreadable)
    run.write_parquet("validated/scores.parquet", accepted.reset_index(drop=True))
    return _validated(run, rejects, records=len(frame) + len(unreadable), accepted=len(accepted))


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _checks(fields, what: str) -> list[dict]:
    checks = []
    for field in fields:
        if field.required:
            checks.append({"expectation": "expect_column_values_to_match_regex", "column": field.name, "regex": r"\S",
                           "severity": "reject", "description": f"the {what}'s {field.name} is required"})
        if field.pattern:
            checks.append({"expectation": "expect_column_values_to_match_regex", "column": field.name,
                           "regex": field.pattern, "ignore_blank": True, "severity": "reject",
                           "description": f"the {what}'s {field.name} does not match {field.pattern}"})
        if field.values:
            checks.append({"expectation": "expect_column_values_to_be_in_set", "column": field.name,
                           "value_set": sorted(field.values), "ignore_blank": True, "severity": "reject",
                           "description": f"the {what}'s {field.name} is not one of {', '.join(sorted(field.values))}"})
    return checks


def _mapped(frame, fields):
    frame = frame.copy()
    for field in fields:
        if field.values:
            frame[field.name] = frame[field.name].map(lambda v, m=field.values: m.get(v, v))
    return frame.reset_index(drop=True)


def plan_writes(writeback_file: str, validated: dict) -> dict:
    """Compare each accepted record with Aeries: insert a new student, update an existing one (only the fields
    that differ), leave a student whose record already holds the values alone; the same for its contacts.
    ``guard.json`` says which writes wait for approval (:mod:`aeries_hub.writeback.guard`)."""
    from aeries_hub.extract.school_year import aeries_for_run
    from aeries_hub.writeback.guard import fields_of, review

    writeback = writeback_for(writeback_file)
    run = RunFolder.current()
    # Aeries reads and writes its default year, silently, when the year asked for is not offered: settle the year
    # first (as an extraction does), so that the plan compares with, and the writes go into, the year named.
    hook, year = aeries_for_run(writeback.aeries_conn_id, writeback, run)
    write_summary(run, "school_year", year.to_dict())
    if writeback.scores:
        plan = _plan_scores(writeback, hook, run.read_parquet("validated/scores.parquet").to_dict("records"))
        rosters = delivered_classes(writeback)[1]
        students_read = len({r["user_id"] for r in rosters if r.get("role", "S") == "S"})
    elif writeback.course_requests:
        requests = run.read_parquet("validated/course_requests.parquet").to_dict("records")
        schools = sorted({int(r["SchoolCode"]) for r in requests})
        # No requests: nothing to read (an empty school list would mean every school).
        aeries_students = hook.get_table("students", school_codes=schools) if schools else []
        courses = hook.get_table("courses") if schools else []
        existing = [row for school in schools for row in read_course_requests(hook, school)]
        plan = build_course_request_plan(writeback, requests, aeries_students, courses, existing)
        students_read = len({row["StudentID"] for row in aeries_students})
    else:
        students = run.read_parquet("validated/students.parquet")
        contacts = run.read_parquet("validated/contacts.parquet")
        aeries_students = hook.get_table("students")
        aeries_contacts = hook.get_table("contacts") if writeback.contacts and len(contacts) else []
        plan = build_plan(writeback, students.to_dict("records"), contacts.to_dict("records"), aeries_students, aeries_contacts)
        students_read = len({row["StudentID"] for row in aeries_students})
    run.write_json("plan.json", plan)
    guard = review(writeback, plan, students_read=students_read, created=_created_students(writeback))
    run.write_json("guard.json", guard)
    counts = _count(plan)
    log.info("Planned writes: %s", ", ".join(f"{n} {k}" for k, n in counts.items()) or "none")
    for write in plan:  # ids and field names only: the values stay in plan.json, which retention deletes
        if write["action"] == "rejected":
            log.warning("rejected %s: %s", write["kind"], write["reason"])
        elif write["action"] != "unchanged":
            log.info("%s %s %s (record %s): %s", write["action"], write["kind"], write["target"], write["record"],
                     ", ".join(fields_of(write)))
    if guard["needs_approval"]:
        log.info("%d writes wait for approval: %s", len(guard["waiting"]), "; ".join(guard["reasons"]))
    writes = len([w for w in plan if w["action"] in WRITE_ACTIONS])
    return write_summary(run, "plan_writes", {"counts": counts, "writes": writes, "needs_approval": guard["needs_approval"],
                                         "students_changed": guard["students_changed"]})


def delivered_classes(writeback: WriteBack) -> tuple[list[dict], list[dict]]:
    """The ``classes`` and ``rosters`` rows the outbound DAG ``scores.delivered_by`` last delivered over SFTP."""
    from aeries_hub.changes import DeliveredState
    from aeries_hub.staging import staging_base

    state = DeliveredState(staging_base(), writeback.scores.delivered_by, "sftp")
    classes, rosters = state.snapshot("classes"), state.snapshot("rosters")
    if classes is None or rosters is None:
        raise RuntimeError(f"{writeback.path.name}: {writeback.scores.delivered_by} has not delivered classes and rosters "
                           f"yet (no snapshot in {state.root}): no score can be checked, nothing is planned")
    import pandas as pd

    def as_text(frame) -> list[dict]:
        return [{k: "" if pd.isna(v) else _text(v) for k, v in r.items()} for r in frame.astype(object).to_dict("records")]

    return as_text(classes), as_text(rosters)


def class_section(row: dict) -> tuple[int, int] | None:
    """(SchoolCode, SectionNumber) of a delivered class: ``organization_id`` and the end of ``code``
    (CourseID-SectionNumber), which hold even when a crosswalk renamed the class_id."""
    school, code = _text(row.get("organization_id")), _text(row.get("code"))
    section = code.rsplit("-", 1)[-1] if "-" in code else ""
    return (int(school), int(section)) if school.isdigit() and section.isdigit() else None


def _plan_scores(writeback: WriteBack, hook, rows: list[dict]) -> list[dict]:
    """Read what the plan needs from Aeries (only for delivered classes the export names): each section's
    gradebooks, their assignments and the scores those hold; then :func:`build_score_plan`."""
    classes, rosters = delivered_classes(writeback)
    by_class = {c["class_id"]: c for c in classes}
    gradebooks: dict[str, list[dict]] = {}
    assignments: dict[int, list[dict]] = {}
    scores: dict[tuple[int, int], list[dict]] = {}
    for class_id in sorted({r["class_id"] for r in rows if r["class_id"] in by_class}):
        section = class_section(by_class[class_id])
        if section is None:
            continue
        gradebooks[class_id] = hook.get_json(f"schools/{section[0]}/sections/{section[1]}/gradebooks",
                                             security_area=GRADEBOOK_AREA) or []
        for gradebook in gradebooks[class_id]:
            number = int(gradebook["GradebookNumber"])
            if number in assignments:
                continue
            assignments[number] = hook.get_json(f"gradebooks/{number}/assignments", security_area=GRADEBOOK_AREA) or []
            for assignment in assignments[number]:
                an = int(assignment["AssignmentNumber"])
                scores[(number, an)] = hook.get_json(f"gradebooks/{number}/assignments/{an}/scores",
                                                     security_area=SCORES_AREA) or []
    return build_score_plan(writeback, rows, classes, rosters, gradebooks, assignments, scores, student_ids(writeback))


def student_ids(writeback: WriteBack) -> dict[str, str]:
    """Vendor user id -> Aeries StudentID, from ``scores.user_crosswalk`` read backwards ({} without one)."""
    spec = writeback.scores
    if not spec.user_crosswalk:
        return {}
    from aeries_hub.mapping.crosswalk import read_rows, translation
    from aeries_hub.mapping.loader import load_mapping

    mapping = load_mapping(paths.MAPPINGS_DIR / f"{spec.delivered_by[len('aeries_to_'):]}.yml")
    crosswalk = mapping.crosswalks.get(spec.user_crosswalk)
    if crosswalk is None:
        raise RuntimeError(f"{writeback.path.name}: scores.user_crosswalk: {mapping.path.name} has no crosswalk "
                           f"{spec.user_crosswalk!r} ({', '.join(mapping.crosswalks) or 'none'})")
    return {vendor: aeries for aeries, vendor in translation(crosswalk, read_rows(crosswalk)).items()}


def _number(value: str):
    """A score or points as a number (int when whole), or None when it is not a finite number."""
    from decimal import Decimal, InvalidOperation

    try:
        number = Decimal(_text(value))
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    return int(number) if number == number.to_integral_value() else float(number)


def _find_assignment(assignments: list[dict], external_id: str, title: str) -> dict | None:
    """The gradebook's assignment for a vendor assignment: its ExternalID, else (ignoring case) its Description."""
    for assignment in assignments:
        if _text(assignment.get("ExternalID")) == external_id:
            return assignment
    if title:
        for assignment in assignments:
            if not _text(assignment.get("ExternalID")) and _text(assignment.get("Description")).lower() == title.lower():
                return assignment
    return None


def build_score_plan(writeback: WriteBack, rows: list[dict], classes: list[dict], rosters: list[dict],
                     gradebooks: dict[str, list[dict]], assignments: dict[int, list[dict]],
                     scores: dict[tuple[int, int], list[dict]], ids: dict[str, str] | None = None) -> list[dict]:
    """The grade push, pure: only a delivered class with its teacher and a student on its delivered roster push
    scores (seed 000). Per row ``rejected`` (naming the row and why) or ``unchanged`` (Aeries holds that
    score, or a later row of the export scores the same student); then, per assignment, an ``insert`` of an
    assignment the gradebook lacks (``create_assignments``) and one ``update`` of its scores (one Scores POST
    with every changed score; ``changes`` maps ``student {id}`` to [old, new]). ``ids`` maps the vendor's user ids
    back to StudentIDs (a user_ids crosswalk); other user ids are StudentIDs. Nothing here writes."""
    spec = writeback.scores
    by_class = {c["class_id"]: c for c in classes}
    on_roster = {(r["class_id"], r["user_id"]) for r in rosters if r.get("role", "S") == "S"}
    last_row = {}  # (class, assignment, student) -> the row that counts: the last one
    for row in rows:
        last_row[(row["class_id"], row["assignment"], row["student"])] = row[ROW]
    plan: list[dict] = []
    batches: dict[tuple, dict] = {}  # (gradebook, assignment key) -> the planned writes of one assignment
    for row in rows:
        class_id, student, assignment_id = row["class_id"], row["student"], row["assignment"]
        entry = {"record": row[ID], "row": row[ROW], "kind": "score"}

        def reject(why: str, row=row, entry=entry) -> None:
            plan.append({**entry, "action": "rejected", "target": row[ID], "reason": f"{row[ID]}: {why}"})

        if class_id not in by_class:
            reject(f"class {class_id} was not delivered to PowerSchool Learning")
            continue
        if "teacher_id" in by_class[class_id] and not by_class[class_id]["teacher_id"]:
            reject(f"class {class_id} was delivered to PowerSchool Learning without a teacher")
            continue
        if (class_id, student) not in on_roster:
            reject(f"student {student} is not on the roster delivered for class {class_id}")
            continue
        student_id = (ids or {}).get(student, student)
        if not student_id.isdigit():
            reject(f"student {student} is not an Aeries StudentID")
            continue
        score = _number(row["score"])
        if score is None:
            reject(f"score '{row['score']}' is not a number")
            continue
        if row["date"] and not re.match(r"^(\d{4}-\d{2}-\d{2}([T ].*)?|\d{1,2}/\d{1,2}/\d{4})$", row["date"]):
            reject(f"date '{row['date']}' is not a date (YYYY-MM-DD or MM/DD/YYYY)")
            continue
        books = sorted(gradebooks.get(class_id) or [], key=lambda g: int(g["GradebookNumber"]))
        if not books:
            section = class_section(by_class[class_id])
            where = f"section {section[1]} at school {section[0]}" if section else "its section"
            reject(f"class {class_id} ({where}) has no gradebook in Aeries")
            continue
        found, gradebook = None, books[0]
        for book in books:  # the gradebook that already has the assignment, else the section's first
            found = _find_assignment(assignments.get(int(book["GradebookNumber"]), []), assignment_id, row["title"])
            if found:
                gradebook = book
                break
        gn = int(gradebook["GradebookNumber"])
        shown = f"assignment {assignment_id}" + (f" ('{row['title']}')" if row["title"] else "")
        if found is None:
            key = (gn, f"new {assignment_id}")
            if key not in batches:
                if not spec.create_assignments:
                    reject(f"{shown} is not in gradebook {gn} (create_assignments is off)")
                    continue
                possible = _number(row["points_possible"])
                if possible is None or possible <= 0:
                    reject(f"{shown} is not in gradebook {gn} and cannot be created: points possible "
                           f"'{row['points_possible']}' is not a number greater than 0")
                    continue
                record = f"{class_id}/{assignment_id}"
                body = {"Description": row["title"] or assignment_id, "ExternalID": assignment_id,
                        "NumberCorrectPossible": possible, "PointsPossible": possible, "CreateInLinkedGradebooksToo": False}
                if row["date"]:
                    body["DateDue"] = row["date"]
                insert = {"record": record, "row": row[ROW], "kind": "assignment", "action": "insert",
                          "target": f"gradebook {gn}", "path": f"gradebooks/{gn}/Assignments", "body": body,
                          "changes": {k: [None, v] for k, v in body.items() if k != "CreateInLinkedGradebooksToo"}}
                batches[key] = {"record": record, "insert": insert, "possible": possible, "have": {},
                                "path": f"gradebooks/{gn}/assignments/{{assignment}}/Scores",
                                "target": f"gradebook {gn}, new assignment {assignment_id}", "rows": []}
        else:
            an = int(found["AssignmentNumber"])
            key = (gn, an)
            if key not in batches:
                have = {int(s["StudentID"]): s.get("NumberCorrect") for s in scores.get((gn, an), [])}
                batches[key] = {"record": f"{class_id}/{assignment_id}", "insert": None,
                                "possible": _number(str(found.get("NumberCorrectPossible") or 0)), "have": have,
                                "path": f"gradebooks/{gn}/assignments/{an}/Scores",
                                "target": f"gradebook {gn}, assignment {an}", "rows": []}
        batch = batches[key]
        if not 0 <= score <= batch["possible"]:
            reject(f"score {row['score']} is outside 0 to {batch['possible']} (NumberCorrectPossible of "
                   f"{batch['target'].split(', ', 1)[1]} in gradebook {gn})")
            continue
        if last_row[(class_id, assignment_id, student)] != row[ROW]:
            plan.append({**entry, "action": "unchanged", "target": batch["target"], "body": {}, "changes": {},
                         "note": f"a later row ({last_row[(class_id, assignment_id, student)]}) scores it again"})
            continue
        old = batch["have"].get(int(student_id))
        if old is not None and _number(str(old)) == score:
            plan.append({**entry, "action": "unchanged", "target": batch["target"], "body": {}, "changes": {},
                         "note": f"Aeries already holds {score}"})
            continue
        batch["rows"].append((int(student_id), _number(str(old)) if old is not None else None, score, row["date"]))
    for batch in batches.values():
        if not batch["rows"]:
            continue
        if batch["insert"]:
            plan.append(batch["insert"])
        body = [{"StudentID": sid, "NumberCorrect": new, **({"DateCompleted": date} if date else {})}
                for sid, _old, new, date in batch["rows"]]
        plan.append({"record": batch["record"], "kind": "scores", "action": "update", "target": batch["target"],
                     "path": batch["path"], "body": body,
                     "changes": {f"student {sid}": [old, new] for sid, old, new, _date in batch["rows"]}})
    return plan


def read_course_requests(hook, school: int) -> list[dict]:
    """Every course request (SSS row) of a school: ``GET schools/{sc}/scheduling/courserequests``, page by page,
    ending against a server that ignores the paging parameters or caps the rows per request (see
    :meth:`AeriesHook.get_paged`)."""
    return hook.get_paged(f"schools/{int(school)}/scheduling/courserequests", security_area=COURSE_REQUESTS_AREA,
                          key=("SchoolCode", "StudentID", "SequenceNumber"))


#: StudentCourseRequestUpdate fields that are numbers in Aeries.
_NUMBER_FIELDS = {"SectionNumber", "PreferredTeacherNumber", "PreferredStaffID"}


def build_course_request_plan(writeback: WriteBack, requests: list[dict], aeries_students: list[dict],
                              courses: list[dict], existing: list[dict]) -> list[dict]:
    """One entry per accepted row, in order: ``insert`` a request the student does not have at that school yet,
    ``unchanged`` for one Aeries (or an earlier row of this export) already has, ``rejected`` (with the reason,
    naming the row) when the student has no record at that school or the course is unknown or inactive. Pure."""
    spec = writeback.course_requests
    by_key = {}  # (school, StudentID or StudentNumber) -> StudentID
    for row in aeries_students:
        key = row.get(spec.student_key)
        if key is not None and row.get("SchoolCode") is not None:
            by_key.setdefault((int(row["SchoolCode"]), int(key)), int(row["StudentID"]))
    catalogue = {_text(c.get("ID")).upper(): c for c in courses}
    have = {(int(r["SchoolCode"]), int(r["StudentID"]), _text(r.get("CourseID")).upper()): r for r in existing}
    planned: dict[tuple, str] = {}
    plan = []
    for request in requests:
        school, course_id = int(request["SchoolCode"]), request["CourseID"]
        number = int(request[spec.student_key])
        entry = {"record": request[ID], "row": request[ROW], "kind": "course request"}
        student_id = by_key.get((school, number))
        shown = f"student {number}" if spec.student_key == "StudentID" else f"student number {number}"
        if student_id is None:
            plan.append({**entry, "action": "rejected", "target": f"{shown} at school {school}",
                         "reason": f"{request[ID]}: {shown} has no record at school {school} in Aeries"})
            continue
        target = f"student {student_id} at school {school}"
        key = (school, student_id, course_id.upper())
        if key in have:
            plan.append({**entry, "action": "unchanged", "target": target, "body": {}, "changes": {},
                         "note": f"Aeries already has this request (sequence {have[key].get('SequenceNumber')})"})
            continue
        if key in planned:
            plan.append({**entry, "action": "unchanged", "target": target, "body": {}, "changes": {},
                         "note": f"the same request as {planned[key]}"})
            continue
        course = catalogue.get(course_id.upper())
        if course is None:
            padded = [c["ID"] for c in courses if course_id.isdigit() and _text(c.get("ID")).lstrip("0") == course_id.lstrip("0")]
            hint = f" (Aeries has '{padded[0]}': course IDs must match exactly)" if padded else ""
            plan.append({**entry, "action": "rejected", "target": target,
                         "reason": f"{request[ID]}: course '{course_id}' is not in Aeries' course catalogue{hint}"})
            continue
        if _text(course.get("InactiveStatusCode")):
            plan.append({**entry, "action": "rejected", "target": target,
                         "reason": f"{request[ID]}: course '{course_id}' is inactive in Aeries"})
            continue
        body = {"CourseID": course["ID"]}
        for field in spec.fields:
            value = request[field.name]
            if value != "":
                body[field.name] = int(value) if field.name in _NUMBER_FIELDS and value.isdigit() else value
        planned[key] = request[ROW]
        plan.append({**entry, "action": "insert", "target": target,
                     "path": f"schools/{school}/students/{student_id}/courserequests", "body": body,
                     "changes": {k: [None, v] for k, v in body.items()}})
    return plan


def build_plan(writeback: WriteBack, students: list[dict], contacts: list[dict], aeries_students: list[dict],
               aeries_contacts: list[dict]) -> list[dict]:
    """The writes, in order: each student, then its contacts. Pure: the same inputs give the same plan."""
    field_names = [f.name for f in writeback.fields]
    index: dict[tuple, dict] = {}
    for row in aeries_students:
        key = tuple(_text(_aeries_value(row, k)) for k in writeback.match)
        if all(key):
            index.setdefault(key, row)
    plan = []
    for record in students:
        new = {name: record[name] for name in field_names if record[name] != ""}
        existing = index.get(tuple(record[k] for k in writeback.match))
        if existing is None:
            plan.append({"record": record[ID], "kind": "student", "action": "insert", "target": f"school {record[SCHOOL]}",
                         "path": f"schools/{int(record[SCHOOL])}/InsertStudent", "body": new,
                         "changes": {k: [None, v] for k, v in new.items()}})
            student_id = None
        else:
            student_id = existing["StudentID"]
            changes = {k: [_text(_aeries_value(existing, k)) or None, v] for k, v in new.items()
                       if _same(_aeries_value(existing, k), v) is False}
            plan.append({"record": record[ID], "kind": "student", "action": "update" if changes else "unchanged",
                         "target": f"student {student_id}", "path": f"UpdateStudent/{student_id}",
                         "body": {k: v[1] for k, v in changes.items()}, "changes": changes})
        if writeback.contacts:
            plan += _contact_writes(writeback, record[ID], student_id,
                                    [c for c in contacts if c[ID] == record[ID]], aeries_contacts)
    return plan


def _contact_writes(writeback: WriteBack, record_id: str, student_id, contacts: list[dict], aeries_contacts: list[dict]) -> list[dict]:
    spec = writeback.contacts
    theirs = [c for c in aeries_contacts if c.get("StudentID") == student_id] if student_id is not None else []
    existing = {key: (c, dict(zip(spec.match, key))) for c, key in zip(theirs, contact_match_keys(writeback, theirs))}
    writes = []
    for contact in contacts:
        new = {f.name: contact[f.name] for f in spec.fields if contact[f.name] != ""}
        found, matched = existing.get(tuple(contact[k].lower() for k in spec.match), (None, {}))
        # A new student's id is known only once it is inserted: "{student}" is filled in then.
        who = f"student {student_id}" if student_id is not None else "the new student"
        if found is None:
            writes.append({"record": record_id, "kind": "contact", "action": "insert", "target": who,
                           "path": f"InsertContact/{student_id if student_id is not None else '{student}'}",
                           "body": new, "changes": {k: [None, v] for k, v in new.items()}})
            continue
        # The match fields found the contact (ignoring case, read as aeries_match says): they are not rewritten
        # for a difference of case, nor filled in where Aeries knows the contact by its MailingName.
        changes = {k: [_text(found.get(k)) or None, v] for k, v in new.items()
                   if _same(found.get(k), v) is False and matched.get(k) != v.lower()}
        writes.append({"record": record_id, "kind": "contact", "action": "update" if changes else "unchanged",
                       "target": f"{who}, contact {found['SequenceNumber']}",
                       "path": f"UpdateContact/{student_id}/{found['SequenceNumber']}",
                       "body": {k: v[1] for k, v in changes.items()}, "changes": changes})
    return writes


def contact_match_keys(writeback: WriteBack, aeries_contacts: list[dict]) -> list[tuple[str, ...]]:
    """Each Aeries contact's match key (``contacts.match``, lower case), its fields read as ``contacts.aeries_match``
    says (a contact whose names are blank, known by its MailingName, read as the outbound mappings read it)."""
    spec = writeback.contacts
    if not spec.aeries_match or not aeries_contacts:
        return [tuple(_text(c.get(k)).lower() for k in spec.match) for c in aeries_contacts]
    import pandas as pd

    from aeries_hub.mapping.engine import evaluate_value, text
    from aeries_hub.writeback.loader import columns_read

    read = set(spec.match) | {c for value in spec.aeries_match.values() for c in columns_read(value)}
    frame = pd.DataFrame([{k: _text(c.get(k)) for k in read} for c in aeries_contacts])
    keys = [evaluate_value(spec.aeries_match[k], frame, f"{writeback.path.name}: students.contacts.aeries_match.{k}")
            if k in spec.aeries_match else text(frame[k]) for k in spec.match]
    return list(zip(*(key.str.lower().tolist() for key in keys)))


def _aeries_value(row: dict, field: str):
    return row.get("Birthdate") if field == "BirthDate" else row.get(field)


def _same(aeries_value, new: str) -> bool:
    """Whether Aeries already holds ``new`` (dates compared by day, digits of phones, case of codes kept)."""
    old = _text(aeries_value)
    if old[:10] == new and len(new) == 10 and old[4:5] == "-":
        return True
    if old.replace("-", "").replace(" ", "") == new.replace("-", "").replace(" ", "").replace("(", "").replace(")", ""):
        return True
    return old == new


def write_to_aeries(writeback_file: str, planned: dict) -> dict:
    """Send the planned writes, in order; a refused record is reported and the others still go. Off until the
    write-back file says ``enabled: true``; the ``dry_run`` param also stops here, and so does a plan that
    needs approval nobody gave (``approve_writes``).

    Every write goes through the run's write-ahead journal (:mod:`aeries_hub.writeback.journal`): run again
    after a crash or a kill, this task does not send a write Aeries already took, and sends an insert whose
    answer was lost only when Aeries does not have the record."""
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from aeries_hub.writeback.journal import WriteJournal

    writeback = writeback_for(writeback_file)
    run = RunFolder.current()
    context = get_current_context()
    with run.root.joinpath("plan.json").open("rb") as handle:
        plan_bytes = handle.read()
    plan = json.loads(plan_bytes)
    if not writeback.enabled or context["params"].get("dry_run"):
        why = "dry_run is on" if writeback.enabled else f"writing is off ({writeback.path.name} has enabled: false)"
        write_summary(run, "write_to_aeries", {"written": 0, "skipped_because": why})
        raise AirflowSkipException(f"{why}: the {planned['writes']} planned writes are in plan.json, none was sent")
    approval = run.read_json("summary/approve_writes.json") if run.exists("summary/approve_writes.json") else {}
    if run.read_json("guard.json")["needs_approval"] and approval.get("decision") != "approved":
        raise AirflowFailException(f"{writeback.dag_id}: the plan needs approval (guard.json) and approve_writes has "
                                   "not approved it: nothing was sent; run the DAG again and answer in Required actions")
    hook = _hook_on_planned_year(writeback, run)
    journal = WriteJournal(run, hashlib.sha256(plan_bytes).hexdigest())
    found = _Recorded(writeback, hook)
    results, new_ids, failed_records = [], {}, set()
    for index, write in enumerate(plan):
        if write["action"] not in WRITE_ACTIONS:
            continue
        if write["record"] in failed_records:
            results.append({**write, "status": "not sent", "reason": "an earlier write of this record failed"})
            continue
        path = write["path"].replace("{student}", str(new_ids.get(write["record"], "")))
        path = path.replace("{assignment}", str(new_ids.get(write["record"], "")))
        outcome = journal.written(index)
        if outcome is None and write["action"] == "insert" and journal.unanswered(index):
            new_id = found.existing(write, path)
            if new_id is not None:
                log.info("%s %s %s (record %s): sent by an earlier attempt whose answer was lost; Aeries has it, "
                         "not sent again", write["action"], write["kind"], path, write["record"])
                journal.answered(index, path, "written", verified=True,
                                 new_id=new_id if write["kind"] in ("student", "assignment") else None)
                outcome = journal.written(index)
        if outcome is None:
            outcome = _send(hook, journal, index, write, path)
        elif not outcome.get("verified"):
            log.info("%s %s %s (record %s): written by an earlier attempt, not sent again", write["action"],
                     write["kind"], path, write["record"])
        if outcome["status"] != "written":
            failed_records.add(write["record"])
            results.append({**write, "path": path, "status": outcome["status"], "reason": outcome["reason"]})
            continue
        if outcome.get("new_id") is not None:
            new_ids[write["record"]] = outcome["new_id"]
        extra = {} if write["record"] not in new_ids else (
            {"assignment_number": new_ids[write["record"]]} if write["kind"] in ("assignment", "scores")
            else {"student_id": new_ids[write["record"]]})
        results.append({**write, "path": path, **extra, **_stored(write, outcome.get("not_stored"))})
    run.write_json("writes.json", results)
    fetched = run.read_json("summary/fetch_exports.json")["files"]
    created = [str(r["student_id"]) for r in results
               if r["kind"] == "student" and r["action"] == "insert" and r["status"] in ("written", "incomplete")]
    _remember(writeback, context["run_id"], files=[] if failed_records else fetched, created=created)
    written = sum(r["status"] == "written" for r in results)
    incomplete = sorted({r["record"] for r in results if r["status"] == "incomplete"})
    return write_summary(run, "write_to_aeries", {"written": written, "refused": sorted(failed_records),
                                             "incomplete": incomplete, "results": len(results)})


def _hook_on_planned_year(writeback: WriteBack, run: RunFolder):
    """The Aeries hook that writes the plan, on the school year the plan was made against, once Aeries still serves
    it (the approval may have waited through the July rollover): else nothing is written."""
    from airflow.sdk.exceptions import AirflowFailException

    from aeries_hub.hooks.aeries import AeriesHook, school_year_label

    planned = run.read_json("summary/school_year.json")["database_year"]
    hook = AeriesHook(aeries_conn_id=writeback.aeries_conn_id, database_year=planned)
    served = hook.check_database_year().served
    if planned is not None and served != planned:
        raise AirflowFailException(
            f"{writeback.dag_id}: the plan was made against the Aeries school year {school_year_label(planned)}, "
            f"which Aeries no longer serves (it serves {school_year_label(served)}): nothing was sent; run the "
            "DAG again to plan against the year Aeries serves now")
    return hook


def _send(hook, journal, index: int, write: dict, path: str) -> dict:
    """Send one planned write, journalled before it goes and once Aeries answered; the journal entry."""
    from aeries_hub.hooks.aeries import AeriesValidationError, AeriesWriteUnknownError

    area = {"contact": "Contacts", "course request": COURSE_REQUESTS_AREA, "assignment": GRADEBOOK_AREA,
            "scores": SCORES_AREA}.get(write["kind"], "Student Data")
    journal.sending(index, path)
    try:
        answer = hook.write(path, write["body"], security_area=area, idempotent=write["action"] == "update")
    except (AeriesValidationError, AeriesWriteUnknownError) as exc:
        status = "refused" if isinstance(exc, AeriesValidationError) else "unknown"
        journal.answered(index, path, status, reason=exc.cause)
        log.error("%s %s for record %s: %s", write["action"], write["kind"], write["record"], exc)
        return journal.last[index]
    new_id = None
    if write["action"] == "insert" and write["kind"] in ("student", "assignment"):
        new_id = (answer[0] if isinstance(answer, list) else answer)[
            "StudentID" if write["kind"] == "student" else "AssignmentNumber"]
    not_stored = _not_stored(write, answer)
    journal.answered(index, path, "written", new_id=new_id, **({"not_stored": not_stored} if not_stored else {}))
    if not_stored:
        log.error("%s %s %s (record %s): Aeries answered without %s", write["action"], write["kind"], path,
                  write["record"], ", ".join(not_stored))
    else:
        log.info("%s %s %s (record %s)", write["action"], write["kind"], path, write["record"])
    return journal.last[index]


#: Where a write body names a field other than Aeries' answer does (InsertStudent's body spells them as Aeries'
#: PowerShell client does).
_ANSWERED_AS = {"BirthDate": "Birthdate", "Race1Code": "RaceCode1", "Race2Code": "RaceCode2", "Race3Code": "RaceCode3",
                "Race4Code": "RaceCode4", "Race5Code": "RaceCode5", "NextSchool": "NextSchoolCode",
                "CorrespondanceLanguageCode": "CorrespondenceLanguageCode", "AddressZip": "AddressZipCode"}


def _not_stored(write: dict, answer) -> list[str]:
    """The fields of a student or contact write that Aeries' answer does not hold as sent. Aeries ignores,
    without an error, a field its field level security denies the certificate (support article 14000068040):
    the answer, the stored record, is the only sign. A field the answer does not show is not judged."""
    if write["kind"] not in ("student", "contact"):
        return []
    records = [r for r in (answer if isinstance(answer, list) else [answer]) if isinstance(r, dict)]
    if not records:
        return []
    missing = []
    for field, sent in write["body"].items():
        shown = next((name for name in (field, _ANSWERED_AS.get(field)) if name and name in records[0]), None)
        if shown is not None and any(_same(record.get(shown), str(sent)) is False for record in records):
            missing.append(field)
    return missing


def _stored(write: dict, not_stored: list[str] | None) -> dict:
    """A written record's status: ``written``, or ``incomplete`` with what to do when Aeries dropped fields."""
    if not not_stored:
        return {"status": "written"}
    area = "Contacts" if write["kind"] == "contact" else "Student Data"
    fields = ", ".join(not_stored)
    return {"status": "incomplete", "not_stored": not_stored, "reason": (
        f"Aeries took the {write['kind']} {write['action']} on {write['path']} but did not store {fields}: field "
        f"level security denies the API certificate {fields} in {area}. Grant its group Update on these fields "
        f"(Aeries: Security, field level security) and set them on that record in Aeries by hand; this export "
        f"counts as processed, and until the fields are set a later export may not find the record by them")}


class _Recorded:
    """Looks in Aeries for the record of an insert whose answer was lost (read once, when first needed)."""

    def __init__(self, writeback: WriteBack, hook) -> None:
        self.writeback, self.hook = writeback, hook
        self.tables: dict[str, list[dict]] = {}

    def _table(self, name: str) -> list[dict]:
        if name not in self.tables:
            self.tables[name] = self.hook.get_table(name)
        return self.tables[name]

    def existing(self, write: dict, path: str):
        """The new record's id (StudentID, AssignmentNumber; True for a contact or course request) when Aeries
        has the record ``write`` inserts, else None."""
        body, parts = write["body"], path.split("/")
        if write["kind"] == "student":
            key = [str(body.get(k, "")) for k in self.writeback.match]
            return next((row["StudentID"] for row in self._table("students")
                         if [_text(_aeries_value(row, k)) for k in self.writeback.match] == key), None)
        if write["kind"] == "contact":
            key = tuple(str(body.get(k, "")).lower() for k in self.writeback.contacts.match)
            theirs = [row for row in self._table("contacts") if str(row.get("StudentID")) == parts[1]]
            return True if key in contact_match_keys(self.writeback, theirs) else None
        if write["kind"] == "course request":
            requests = read_course_requests(self.hook, int(parts[1]))
            return next((True for row in requests if str(row.get("StudentID")) == parts[3]
                         and _text(row.get("CourseID")).upper() == str(body["CourseID"]).upper()), None)
        if write["kind"] == "assignment":
            assignments = self.hook.get_json(f"gradebooks/{parts[1]}/assignments", security_area=GRADEBOOK_AREA) or []
            return next((a["AssignmentNumber"] for a in assignments
                         if _text(a.get("ExternalID")) == str(body["ExternalID"])), None)
        return None


def _created_students(writeback: WriteBack) -> set[str]:
    """The StudentIDs this write-back inserted (kept with the files it wrote, ``_last_delivered/inbound/``)."""
    return set((_processed_state(writeback).manifest() or {}).get("students_created", {}))


def _remember(writeback: WriteBack, run_id: str, *, files: list[dict], created: list[str]) -> None:
    """Add the export ``files`` written and the students ``created`` by this run to the write-back's state."""
    from datetime import datetime, timezone

    state = _processed_state(writeback)
    manifest = state.manifest() or {}
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    done = manifest.get("files", {})
    done.update({f["sha256"]: {"file": f["file"], "run_id": run_id, "written_at": stamp} for f in files})
    students = manifest.get("students_created", {})
    students.update({student_id: run_id for student_id in created})
    state.save({}, {"run_id": run_id, "delivered_at": stamp, "files": done, "students_created": students})


def report(writeback_file: str) -> dict:
    """The run's report: files read, records accepted and rejected, the approval, every write with the fields it
    set. Kept (and returned as XCom) after retention deletes the staged files: ids, counts and field names
    only, never a value (those are in plan.json and writes.json)."""
    from datetime import datetime, timezone

    from airflow.sdk.exceptions import AirflowFailException

    from aeries_hub.writeback.guard import fields_of, students_of

    writeback = writeback_for(writeback_file)
    run = RunFolder.current()
    stages = {name[: -len(".json")]: run.read_json(f"summary/{name}") for name in run.list("summary")}
    writes = run.read_json("writes.json") if run.exists("writes.json") else []
    plan = run.read_json("plan.json") if run.exists("plan.json") else []
    validated = stages.get("validate_exports", {})
    wrote = stages.get("write_to_aeries", {})
    approval = stages.get("approve_writes", {})
    guard = run.read_json("guard.json") if run.exists("guard.json") else None
    year = stages.get("school_year", {})
    refused = [w for w in writes if w["status"] != "written"]
    # Rows found wrong only against Aeries (an unknown course, a student not at that school) are rejected by the plan.
    plan_rejects = [w for w in plan if w["action"] == "rejected"]
    rejected = sorted(set(validated.get("rejected", [])) | {w["record"] for w in plan_rejects})
    reasons = sorted(set(validated.get("reasons", [])) | {w["reason"] for w in plan_rejects})
    finished = "plan_writes" in stages and "write_to_aeries" in stages
    quarantined = stages.get("fetch_exports", {}).get("quarantined", [])  # export files not taken, and why
    status = ("Error" if not finished or refused else "Completed with errors" if rejected or quarantined
              else "Completed")
    document = {
        "integration": writeback.name,
        "status": status,
        "files": stages.get("fetch_exports", {}).get("files", []),
        "skipped_files": stages.get("fetch_exports", {}).get("skipped", []),
        "quarantined_files": quarantined,
        "records": validated.get("records", 0),
        "rejected": rejected,
        "reject_reasons": reasons,
        "planned": _count(plan),
        "approval": {k: v for k, v in approval.items() if k in ("needed", "decision", "by", "at", "why")}
        | ({k: guard[k] for k in ("reasons", "students_changed", "waiting")} if guard else {}),
        "written": [{k: w[k] for k in ("record", "kind", "action", "target", "path", "assignment_number", "student_id",
                                       "status", "reason", "not_stored") if k in w}
                    | {"fields": fields_of(w)} | ({"students": students_of(w)} if w["kind"] == "scores" else {})
                    for w in writes],
        "not_written_because": wrote.get("skipped_because")
        or (approval.get("reason") if approval.get("decision") not in (None, "approved") else None),
        # The school year the plan read and the writes went into (AeriesHook.check_database_year), and why it is
        # not the run's, or why the run did not settle on one.
        "database_year": year.get("database_year"),
        "school_year": year.get("school_year"),
        "attention": [year["year_note"]] if year.get("year_note") else [],
        "errors": [year["error"]] if year.get("error") else [],
        "staging": str(run.root),
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    run.write_json("report.json", document)
    log.info("%s: %s; %d records, %d rejected; planned %s; %d written%s", writeback.name, status, document["records"],
             len(document["rejected"]), document["planned"], sum(w["status"] == "written" for w in writes),
             f" ({document['not_written_because']})" if document["not_written_because"] else "")
    if document["school_year"]:
        log.info("Aeries school year read and written: %s (DatabaseYear %s)", document["school_year"],
                 document["database_year"])
    for line in document["attention"] + [f"error: {error}" for error in document["errors"]]:
        log.warning("%s", line)
    for w in refused:
        log.info("%s: %s %s of record %s: %s", "incomplete" if w["status"] == "incomplete" else "not written",
                 w["action"], w["kind"], w["record"], w.get("reason"))
    if status == "Error":
        raise AirflowFailException(f"{writeback.name} write-back ended in Error; see {run.root}/report.json")
    return document


def _count(plan: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for write in plan:
        key = f"{write['kind']} {write['action']}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def _validated(run: RunFolder, rejects, *, records: int, accepted: int) -> dict:
    """Write ``rejects/exports.csv`` (the rejected records and why) and the summary of validate_exports."""
    from aeries_hub.quality.runner import REJECT_REASON, rejects_csv

    if len(rejects):
        run.write_bytes("rejects/exports.csv", rejects_csv(rejects))
    return write_summary(run, "validate_exports", {
        "records": records,
        "accepted": accepted,
        "rejected": sorted(set(rejects[ID])),
        "reasons": sorted(set(rejects[REJECT_REASON])),
    })


def _exported_records(writeback: WriteBack, run: RunFolder, fetched: dict, unreadable: list):
    """``(where, record)`` for each readable record of the fetched export files; a record that cannot be read
    goes to ``unreadable`` with the reason (it is rejected whole)."""
    from aeries_hub.quality.runner import REJECT_REASON

    for item in fetched["files"]:
        with run.path("inbound", item["file"]).open("rb") as handle:
            for where, record, problem in _read_records(writeback, item["file"], handle):
                if problem:
                    unreadable.append({ID: where, REJECT_REASON: f"{where}: {problem}"})
                else:
                    yield where, record


def _checked_rows(run: RunFolder, frame, checks, name: str, unreadable: list):
    """``frame``'s rows that pass ``checks``, and every reject (failed checks and unreadable records) with why."""
    import pandas as pd

    from aeries_hub.quality import validate_frame
    from aeries_hub.quality.runner import REJECT_REASON

    with run.local_dir("quality/exports") as docs_dir:
        checked = validate_frame(frame, checks, name=name, docs_dir=docs_dir, id_columns=[ID])
    rejects = pd.concat([checked.rejected[[ID, REJECT_REASON]], pd.DataFrame(unreadable, columns=[ID, REJECT_REASON])],
                        ignore_index=True)
    accepted = checked.accepted[~checked.accepted[ID].isin(set(rejects[ID]))].drop(columns=[REJECT_REASON], errors="ignore")
    return accepted, rejects
