"""The disclosure log: what each vendor received, appended by the deliver task once the target confirmed each file.

One JSON object per delivered file: the vendor (its DAG id and title), the run, the time, the target and where the
file went, the file, its sha256 and record count, and each of its columns with the Aeries fields its values came
from (:func:`aeries_hub.mapping.sharing.fields_sent`); never a value. A file the target already held with the same
bytes (``already_there``: nothing was sent) is not a new disclosure and is not logged.

The log is ``<staging_url>/_disclosures/disclosures.jsonl``, beside the DAGs' folders: retention never deletes
it (:mod:`aeries_hub.retention`). On local staging each delivery's lines are appended in one ``write`` to a file
opened with O_APPEND, under an exclusive ``flock``, so that concurrent runs never interleave or overwrite each
other's lines. Object storage cannot append: there each delivery writes its lines as one object of the same
folder (``<time>_<dag_id>_<run_id>.jsonl``), and :func:`read_disclosures` reads the log and those objects alike.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from datetime import datetime, timezone
from typing import Any

from aeries_hub.mapping.models import Mapping, Output
from aeries_hub.staging import PRIVATE_FILE_MODE, is_local, local_path, make_private_folder, safe_segment, write_private

log = logging.getLogger(__name__)

#: The folder of the log under the staging base; not a DAG's folder (retention keeps it).
DISCLOSURE_FOLDER = "_disclosures"
LOG_FILE = "disclosures.jsonl"


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
        })
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
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE_MODE)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # another host's run on a shared folder waits its turn too
        written = os.write(descriptor, data)
        if written != len(data):  # a full disk: the line is cut short, and said to be
            raise OSError(f"{path}: only {written} of {len(data)} bytes of the disclosure log entry were written")
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read_disclosures(base, dag_id: str | None = None) -> list[dict[str, Any]]:
    """Every entry of the disclosure log (of ``dag_id`` only when given), oldest first."""
    folder = base / DISCLOSURE_FOLDER
    if not folder.exists():
        return []
    entries = []
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".jsonl"):
            with item.open("rb") as handle:
                entries += [json.loads(line) for line in handle if line.strip()]
    return sorted((e for e in entries if dag_id in (None, e["dag_id"])), key=lambda e: e["at"])
