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

from aeries_hub.bounded import read_bounded
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
        """Raise :meth:`past_deadline` once the deadline has passed."""
        if self.left() <= 0:
            raise self.past_deadline(where, what)

    def past_deadline(self, where: str, what: str) -> Exception:
        from aeries_hub.delivery import DeliveryError

        return DeliveryError(f"{where}: cut off while reading {what}: the fetch took longer than "
                             f"{self.seconds:g} s ({self.setting}.max_fetch_seconds); the server is too slow or "
                             "stalls. Nothing was written into Aeries; the next run tries again")

    def too_large(self, where: str, what: str) -> ExportFileRefused:
        return ExportFileRefused(f"{where}: {what} is larger than {self.max_bytes} bytes "
                                 f"({self.setting}.max_file_bytes); it was not fetched (ask the vendor to split it, "
                                 "or raise max_file_bytes)")

    def read(self, read_some: Callable[[int], bytes], where: str, what: str) -> bytes:
        """Everything ``read_some(n)`` gives until it gives ``b""``, at most max_file_bytes (more raises
        :meth:`too_large`), checking the deadline between chunks."""
        return read_bounded(read_some, self.max_bytes, check_deadline=lambda: self.check(where, what),
                            too_large=lambda: self.too_large(where, what))

    def watchdog(self, stop):
        """A timer calling ``stop()`` at the deadline, to break a read blocked on a server that trickles bytes."""
        import threading

        timer = threading.Timer(max(self.left(), 0.0), stop)
        timer.daemon = True
        timer.start()
        return timer


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
                 backoff_max: float = 30.0, retry_after_max: float = 120.0, sleep: Callable[[float], None] | None = None
                 ) -> Iterator[Export]:
    """``(name, sha256 or None, read)`` for each file the vendor's API lists, by name.

    ``GET {endpoint}`` answers ``{"files": [{"name", "url" or "path", "sha256"?}]}`` (a path or URL relative
    to the listing's URL, on the same host); ``read()`` GETs the file's bytes and gives ``(bytes, url)``. The
    GETs go through :meth:`aeries_hub.delivery.vendor_api.VendorApiHook.get_bytes`: 429 and 5xx answers,
    timeouts and failed connections are retried (reads are safe to retry); 401/403 and other answers fail at
    once. Errors name the connection and the URL, never the token. The names are checked by
    :func:`fetch_new_exports` (one rule for every source); the limits are :class:`_FetchLimits`."""
    import time
    from urllib.parse import urljoin, urlsplit

    from aeries_hub.delivery import DeliveryError
    from aeries_hub.delivery.vendor_api import DeadlinePassed, ResponseTooLarge, RetryPolicy, VendorApiHook

    limits = _FetchLimits(writeback)
    retry = RetryPolicy(max_attempts, backoff_base, backoff_max, retry_after_max, sleep or time.sleep)
    with VendorApiHook(writeback.http_conn_id, retry=retry) as hook:
        listing_url = hook.url_from_endpoint(writeback.endpoint)
        where = hook.where(listing_url)

        def get(url: str, label: str) -> bytes:
            try:
                return hook.get_bytes(url, label=label, max_bytes=limits.max_bytes, deadline=limits.ends)
            except ResponseTooLarge:
                raise limits.too_large(hook.where(url), label) from None
            except DeadlinePassed:
                raise limits.past_deadline(hook.where(url), label) from None

        try:
            listing = get(listing_url, "the export list")
        except ExportFileRefused as exc:
            raise DeliveryError(str(exc)) from None
        try:
            document = json.loads(listing.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            document = None
        files = document.get("files") if isinstance(document, dict) else None
        if not isinstance(files, list):
            raise DeliveryError(f"{where}: the answer is not a JSON object with a files list; it is not the "
                                "export API this source speaks (check source.http.endpoint and endpoint_prefix)")
        origin = urlsplit(listing_url)[:2]
        entries = []
        for position, item in enumerate(files, start=1):
            name = item.get("name") if isinstance(item, dict) else None
            link = (item.get("url") or item.get("path")) if isinstance(item, dict) else None
            if not isinstance(name, str) or not name or not isinstance(link, str) or not link:
                raise DeliveryError(f"{where}: file #{position} of the export list needs a name and a url or path")
            url = urljoin(listing_url, link)
            if urlsplit(url)[:2] != origin:  # the token goes with the request: only to the API's own host
                raise DeliveryError(f"{where}: export file {name!r} is served from another host "
                                    f"({urlsplit(url).netloc}); the API token is only sent to {origin[1]}")
            sha256 = item.get("sha256")
            entries.append((name, str(sha256).lower() if sha256 else None, url))
        if len({name for name, _, _ in entries}) != len(entries):
            raise DeliveryError(f"{where}: the export list names a file twice")
        for name, sha256, url in sorted(entries):
            def read(url: str = url, name: str = name) -> tuple[bytes, str]:
                return get(url, f"export file {name!r}"), f"{where}: {url}"
            yield name, sha256, read
