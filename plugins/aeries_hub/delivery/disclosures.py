"""The disclosure log: what each vendor received, appended by the deliver task once the target confirmed each file.

One JSON object per delivered file: the vendor (its DAG id and title), the run, the time, the target and where the
file went, the file, its sha256 and record count, and each of its columns with the Aeries fields its values came
from (:func:`aeries_hub.mapping.sharing.fields_sent`); never a value. A file the target already held with the same
bytes (``already_there``: nothing was sent) is not a new disclosure and is not logged. A delivery that failed
partway logs what the target took before (``DeliveryError.received``: the batches of an HTTP import it answered),
marked ``partial``, its ``records`` those sent.

The log is ``<staging_url>/_disclosures/disclosures.jsonl``, beside the DAGs' folders: retention never deletes
it (:mod:`aeries_hub.retention`). On local staging each delivery's lines are appended in one ``write`` to a file
opened with O_APPEND, under an exclusive ``flock``, so that concurrent runs never interleave or overwrite each
other's lines; a line a full disk cut short is followed by a newline before the next delivery's, so that it never
swallows them. Object storage cannot append: there each delivery writes its lines as one object of the same
folder (``<time>_<dag_id>_<run_id>.jsonl``), and :func:`read_disclosures` reads the log and those objects alike.
The log only grows (retention keeps it): what a page shows, :func:`latest_disclosures`, reads it from its end, at
most :data:`TAIL_BYTES` of it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from datetime import datetime, timezone
from typing import Any, BinaryIO, Iterator

from aeries_hub.mapping.models import Mapping, Output
from aeries_hub.staging import PRIVATE_FILE_MODE, is_local, local_path, make_private_folder, safe_segment, write_private

log = logging.getLogger(__name__)

#: The folder of the log under the staging base; not a DAG's folder (retention keeps it).
DISCLOSURE_FOLDER = "_disclosures"
LOG_FILE = "disclosures.jsonl"
#: How much of the log's end :func:`latest_disclosures` reads at most: about a thousand deliveries of a zip of
#: eight files (an entry lists each file's columns and their Aeries fields: up to about 8 kB).
TAIL_BYTES = 8 * 1024 * 1024
_BLOCK_BYTES = 64 * 1024


def disclosure_entries(mapping: Mapping, receipts: list[dict], run_id: str, target: str,
                       at: datetime | None = None) -> list[dict[str, Any]]:
    """One entry per file a delivery sent (its receipts), without values."""
    from aeries_hub.mapping.sharing import fields_sent

    at = at or datetime.now(timezone.utc)
    entries = []
    for receipt in receipts:
        if receipt.get("already_there"):
            continue
        entries.append({
            "at": at.isoformat(timespec="seconds"),
            "dag_id": mapping.dag_id,
            "vendor": mapping.title,
            "run_id": run_id,
            "target": target,
            "conn_id": receipt["conn_id"],
            "location": receipt.get("remote_path") or receipt.get("url"),
            "file": receipt["file"],
            "sha256": receipt["sha256"],
            "records": receipt.get("records_sent", receipt["rows"]),
            "test_record": bool(receipt.get("test_record")),
            "fields": {output.file: fields_sent(mapping, output) for output in _carried(mapping, receipt["file"])},
        } | ({"partial": True} if receipt.get("partial") else {}))
    return entries


def _carried(mapping: Mapping, file: str) -> list[Output]:
    """The outputs whose rows a delivered file carries: every output in the package zip, else the file's own
    output and the outputs nested in it."""
    if file == mapping.package_zip:
        return list(mapping.outputs)
    carried = [mapping.output(file)]
    for output in carried:
        carried += [mapping.output(nest.file) for nest in output.nest if mapping.output(nest.file) not in carried]
    return carried


def record_disclosures(base, entries: list[dict[str, Any]]) -> None:
    """Append ``entries`` to the disclosure log under the staging ``base``."""
    if not entries:
        return
    data = "".join(json.dumps(entry, sort_keys=True) + "\n" for entry in entries).encode()
    folder = base / DISCLOSURE_FOLDER
    make_private_folder(folder)
    first = entries[0]
    if not is_local(folder):
        name = f"{first['at'].replace(':', '')}_{safe_segment(first['dag_id'])}_{safe_segment(first['run_id'])}.jsonl"
        write_private(folder / name, data)
    else:
        _append(local_path(folder / LOG_FILE), data)
    log.info("Disclosure log %s: %s", folder, "; ".join(
        f"{entry['file']} ({entry['records']} records, {sum(len(c) for c in entry['fields'].values())} columns)"
        for entry in entries))


def _append(path, data: bytes) -> None:
    descriptor = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, PRIVATE_FILE_MODE)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # another host's run on a shared folder waits its turn too
        end = os.lseek(descriptor, 0, os.SEEK_END)
        if end and os.pread(descriptor, 1, end - 1) != b"\n":  # a line cut short before: it must not swallow these
            data = b"\n" + data
        written = os.write(descriptor, data)
        if written != len(data):  # a full disk: the line is cut short, and said to be
            raise OSError(f"{path}: only {written} of {len(data)} bytes of the disclosure log entry were written")
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read_disclosures(base, dag_id: str | None = None) -> list[dict[str, Any]]:
    """Every entry of the disclosure log (of ``dag_id`` only when given), oldest first.

    A last line without its newline is left out: another run is appending it (readers take no lock), or a full disk
    cut it short and that delivery's task said so. Any other line that is not JSON is an error naming the file and
    line: the log is the record of what vendors received, and an audit must not quietly miss an entry."""
    folder = base / DISCLOSURE_FOLDER
    if not folder.exists():
        return []
    entries = []
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".jsonl"):
            with item.open("rb") as handle:
                entries += _read_lines(handle, item)
    return sorted((e for e in entries if dag_id in (None, e["dag_id"])), key=lambda e: e["at"])


def _read_lines(handle: BinaryIO, item) -> list[dict[str, Any]]:
    entries = []
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            entries.append(json.loads(line))
        except ValueError:
            if not line.endswith(b"\n"):
                log.warning("%s: line %d (%d bytes) has no newline yet, left out: a delivery still appending it, or "
                            "one a full disk cut short", item, number, len(line))
                continue
            raise ValueError(
                f"{item}: line {number} of the disclosure log is not JSON ({len(line) - 1} bytes): a line cut short "
                f"by a full disk (the deliver task of that run failed saying so, naming its files) or a damaged file: "
                f"rewrite the line whole from that run's deliver log or delete it, then read again"
            ) from None
    return entries


def latest_disclosures(base, dag_id: str, count: int, budget: int = TAIL_BYTES) -> tuple[list[dict[str, Any]], bool]:
    """The latest ``count`` entries of ``dag_id`` in the disclosure log under the staging ``base``, newest first, read
    from the log's end (the newest objects first, on object storage), at most ``budget`` bytes in all; and whether
    the log may hold older entries of it (one more was found, or the budget ran out before the log's start)."""
    folder = base / DISCLOSURE_FOLDER
    if not folder.exists():
        return [], False
    found: list[dict[str, Any]] = []
    for item in sorted((i for i in folder.iterdir() if i.name.endswith(".jsonl")), key=lambda i: i.name, reverse=True):
        with item.open("rb") as handle:
            lines = _TailLines(handle, budget)
            for line in lines:
                entry = _entry(line, item)
                if entry is not None and entry.get("dag_id") == dag_id:
                    found.append(entry)
                    if len(found) > count:
                        break
            budget -= lines.read
        if len(found) > count or not lines.reached_start:
            return sorted(found, key=lambda e: e["at"], reverse=True)[:count], True
    return sorted(found, key=lambda e: e["at"], reverse=True), False


class _TailLines:
    """The complete lines of a file opened ``rb``, from its last to its first, reading at most ``budget`` bytes
    (a line cut by the budget, or still being appended without its newline, is left out)."""

    def __init__(self, handle: BinaryIO, budget: int):
        self.handle, self.budget = handle, budget
        self.read = 0
        self.reached_start = False

    def __iter__(self) -> Iterator[bytes]:
        position = self.handle.seek(0, os.SEEK_END)
        rest: bytes | None = None  # the start of the earliest line read so far: complete only at the file's start
        while position > 0 and self.read < self.budget:
            size = min(_BLOCK_BYTES, position, self.budget - self.read)
            position -= size
            self.handle.seek(position)
            block = self.handle.read(size)
            self.read += size
            lines = (block + (rest or b"")).split(b"\n")
            if rest is None:
                lines.pop()  # after the last newline: nothing, or a line not yet complete
            rest = lines.pop(0)
            yield from (line for line in reversed(lines) if line.strip())
        self.reached_start = position == 0
        if self.reached_start and rest and rest.strip():
            yield rest


def _entry(line: bytes, item) -> dict[str, Any] | None:
    try:
        return json.loads(line)
    except ValueError:  # a line cut short by a full disk (_append says so when it happens)
        log.warning("%s: a line of %d bytes that is not JSON is left out", item, len(line))
        return None
