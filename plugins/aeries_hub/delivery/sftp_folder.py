"""Delivery over ``delivery.sftp``: each of a run's files uploaded into the mapping's folder on the SFTP server
(atomically, and not again when the server already has the same bytes: :func:`aeries_hub.delivery.sftp.deliver_file`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from aeries_hub.delivery import OneTarget
from aeries_hub.mapping.models import Mapping
from aeries_hub.staging import RunFolder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SftpFolderDelivery(OneTarget):
    conn_id: str
    remote_dir: str

    #: Files can carry the last delivered rows of held keys (:mod:`aeries_hub.delivery.holds`).
    supports_holds = True

    @classmethod
    def from_mapping(cls, mapping: Mapping) -> SftpFolderDelivery | None:
        if not (mapping.sftp_conn_id and mapping.sftp_remote_dir):
            return None
        return cls(mapping.sftp_conn_id, mapping.sftp_remote_dir)

    def target_name(self, params: dict) -> str:
        return "sftp"

    def target_address(self, params: dict) -> tuple[str, str]:
        return self.conn_id, self.remote_dir

    def remote_path(self, name: str) -> str:
        return f"{self.remote_dir.rstrip('/')}/{name}"

    def deliver(self, run: RunFolder, built: list[dict], context: Any, state: Any) -> list[dict]:
        from aeries_hub.delivery.sftp import deliver_file

        receipts = []
        for item in built:
            remote = self.remote_path(item["file"])
            receipt = deliver_file(self.conn_id, run.path(item.get("folder", "output"), item["file"]), remote)
            receipts.append({**receipt.to_dict(), "file": item["file"], "rows": item["rows"]})
            if receipts[-1].get("already_there"):
                log.info("%s is already on the server with the same sha256 %s: not sent again", remote, receipt.sha256)
            else:
                log.info("Delivered %s (%d rows, %d bytes, sha256 %s)", remote, item["rows"], receipt.bytes, receipt.sha256)
        return receipts

    def files_at_target(self, names: list[str]) -> tuple[str, list[str]]:
        """Where the SFTP server is, and which of ``names`` its folder already holds ("path (size bytes, modified
        at)"); a server that cannot be reached gives no signal (deliver then fails with the connection error)."""
        from datetime import datetime, timezone

        from aeries_hub.delivery.sftp import DeliveryError, open_sftp

        shown = []
        try:
            with open_sftp(self.conn_id, connect_attempts=1) as (sftp, where):
                for name in names:
                    remote = self.remote_path(name)
                    try:
                        attrs = sftp.stat(remote)
                    except OSError:  # missing, or not ours to read: no sign of an earlier delivery
                        continue
                    at = datetime.fromtimestamp(attrs.st_mtime or 0, timezone.utc).isoformat(timespec="seconds")
                    shown.append(f"{remote} ({attrs.st_size} bytes, modified {at})")
        except DeliveryError as exc:
            log.warning("Could not look for earlier deliveries in the target folder: %s", exc)
            return "", []
        return where, shown
