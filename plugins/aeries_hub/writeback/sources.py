"""The vendor's export files: listed and read from its SFTP drop folder (``source.sftp``) or its export API
(``source.http``), within the fetch's limits, and staged in ``inbound/`` of the run, or ``quarantine/``.

Every name and byte from the vendor is untrusted: a name that is not a plain file name, a file larger than
``max_file_bytes`` and a file that cannot be read safely are quarantined, each with the reason, and the other
files go on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

from aeries_hub.staging import RunFolder
from aeries_hub.writeback import state
from aeries_hub.writeback.records import unreadable_file
from aeries_hub.writeback.spec import WriteBack

log = logging.getLogger(__name__)

#: One export file of a listing: its name, its sha256 when the source gives it, and how to read it (bytes, where).
Export = tuple[Any, str | None, Callable[[], tuple[bytes, str]]]


def fetch_new_exports(writeback: WriteBack, run: RunFolder) -> dict:
    """Copy the vendor's new export files (not yet written into Aeries) to ``inbound/``: from its SFTP drop
    folder (``source.sftp``) or its HTTPS API (``source.http``). Both sources only list and read the files;
    what is new and the staging are the same for both. The files found, skipped and quarantined.

    A name that is not a plain file name, a file larger than ``max_file_bytes`` and a file that cannot be read
    safely (a field or record past the limits, JSON nested too deep) are quarantined, each with the reason, and
    the other files go on. A file kept in ``quarantine/`` is skipped by later runs with a log line, once it is
    remembered (:func:`aeries_hub.writeback.state.remember_quarantined`)."""
    done = (state.processed_state(writeback).manifest() or {}).get("files", {})
    poisoned = (state.quarantine_state(writeback).manifest() or {}).get("files", {})
    fetched: list[dict] = []
    skipped: list[dict] = []
    quarantined: list[dict] = []
    exports = http_exports if writeback.source == "http" else sftp_exports
    source = source_name(writeback)
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
        poison = unreadable_file(writeback, name, data)
        if poison:
            run.write_bytes(staged_path(run, "quarantine", name), data)
            quarantined.append({"file": name, "sha256": sha256, "bytes": len(data), "kept": f"quarantine/{name}",
                                "reason": f"{where}: {poison}; the file is kept in quarantine/ and not read again"})
            continue
        run.write_bytes(staged_path(run, "inbound", name), data)
        fetched.append({"file": name, "sha256": sha256, "bytes": len(data)})
    for item in skipped:
        if "quarantined_by" in item:
            log.warning("%s (sha256 %s) was quarantined by run %s: skipped (%s)", item["file"], item["sha256"],
                        item["quarantined_by"], item["reason"])
        else:
            log.info("%s was already written into Aeries by run %s: skipped", item["file"], item["written_by"])
    for item in quarantined:
        log.error("quarantined: %s", item["reason"])
    log.info("%d new export files from %s (%d already written or quarantined before, %d quarantined now)",
             len(fetched), source, len(skipped), len(quarantined))
    return {"files": fetched, "skipped": skipped, "quarantined": quarantined}


def source_name(writeback: WriteBack) -> str:
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


def staged_path(run: RunFolder, folder: str, name: str) -> str:
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
        chunks: list[bytes] = []
        size = 0
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


def sftp_exports(writeback: WriteBack) -> Iterator[Export]:
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


def http_exports(writeback: WriteBack, *, max_attempts: int = 5, backoff_base: float = 1.0,
                 backoff_max: float = 30.0, retry_after_max: float = 120.0, sleep=None, session=None
                 ) -> Iterator[Export]:
    """``(name, sha256 or None, read)`` for each file the vendor's API lists, by name.

    ``GET {endpoint}`` answers ``{"files": [{"name", "url" or "path", "sha256"?}]}`` (a path or URL relative
    to the listing's URL, on the same host); ``read()`` GETs the file's bytes and gives ``(bytes, url)``. 429
    and 5xx answers, timeouts and failed connections are retried (reads are safe to retry); 401/403 and other
    answers fail at once. Errors name the connection and the URL, never the token. The names are checked by
    :func:`fetch_new_exports` (one rule for every source); the limits are :class:`_FetchLimits`."""
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
            def read(url: str = url, name: str = name) -> tuple[bytes, str]:
                return getter.get(url, f"export file {name!r}"), f"{target.where}: {url}"
            yield name, sha256, read
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

