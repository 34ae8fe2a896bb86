"""Delivery over ``delivery.sftp``: each of a run's files uploaded into the mapping's folder on the SFTP server
(atomically, and not again when the server already has the same bytes: :func:`aeries_hub.delivery.sftp.deliver_file`)."""

from __future__ import annotations

import logging

from aeries_hub.mapping.loader import Mapping
from aeries_hub.staging import RunFolder

log = logging.getLogger(__name__)


def deliver_sftp(mapping: Mapping, run: RunFolder, built: list[dict]) -> list[dict]:
    from aeries_hub.delivery.sftp import deliver_file

    assert mapping.sftp_conn_id and mapping.sftp_remote_dir, "an sftp delivery of a mapping that delivers over http"
    receipts = []
    for item in built:
        remote = f"{mapping.sftp_remote_dir.rstrip('/')}/{item['file']}"
        receipt = deliver_file(mapping.sftp_conn_id, run.path("output", item["file"]), remote)
        receipts.append({**receipt.to_dict(), "file": item["file"], "rows": item["rows"]})
        if receipts[-1].get("already_there"):
            log.info("%s is already on the server with the same sha256 %s: not sent again", remote, receipt.sha256)
        else:
            log.info("Delivered %s (%d rows, %d bytes, sha256 %s)", remote, item["rows"], receipt.bytes, receipt.sha256)
    return receipts

