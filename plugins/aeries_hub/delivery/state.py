"""The record of the last delivery of a DAG to a target (a snapshot of its files, :class:`aeries_hub.changes.DeliveredState`):
which one a run compares with, where it delivers (without credentials), and keeping a complete delivery as the next
run's record."""

from __future__ import annotations

import hashlib
import logging

from aeries_hub.delivery.base import delivery_for
from aeries_hub.mapping.models import Mapping
from aeries_hub.run.summary import ChangeTracking, DeliverySummary, SourceValidation, read_run, write_summary
from aeries_hub.staging import RunFolder

log = logging.getLogger(__name__)


def delivered_state(mapping: Mapping, params: dict):
    """The last delivered snapshot of this DAG at the run's target (the http target, or the SFTP server)."""
    from aeries_hub.changes import DeliveredState
    from aeries_hub.staging import staging_base

    return DeliveredState(staging_base(), mapping.dag_id, delivery_for(mapping).target_name(params))


def delivery_fingerprint(mapping: Mapping, params: dict) -> str:
    """Which server and folder (or endpoint) a run delivers to, as a short sha256 of the connection's type,
    host, port and SFTP host key, and the folder: kept with each delivery's asset event, without credentials."""
    from airflow.sdk import Connection

    conn_id, where = delivery_for(mapping).target_address(params)
    conn = Connection.get(conn_id)
    host_key = conn.extra_dejson.get("host_key", "")
    return hashlib.sha256(f"{conn.conn_type}|{conn.host}|{conn.port}|{host_key}|{where}".encode()).hexdigest()[:16]


def check_still_compared(run: RunFolder, state, run_id: str) -> None:
    """Another run of the DAG (a backfill, a manual run) may have delivered to the target after this run's
    ``track_changes`` compared its files with the last delivery: then the comparison, the mass-change guard and
    its approval were about other data than the vendor now has, and delivering would undo that run's files."""
    from airflow.sdk.exceptions import AirflowFailException

    compared = (read_run(run).changes or ChangeTracking()).last_delivery
    last = state.read().manifest  # what track_changes compared with: the previous generation if the current is cut off
    current = {"run_id": last["run_id"], "delivered_at": last["delivered_at"]} if last else None
    if current == compared or (current and current["run_id"] == run_id):  # the same, or this run's own earlier try
        return
    then = f"run {compared['run_id']} of {compared['delivered_at']}" if compared else "there was none yet"
    now = f"run {current['run_id']} delivered at {current['delivered_at']}" if current else "no delivery is recorded"
    reason = (
        f"Not delivered: another run delivered to the {state.root.name} target since this run compared its files with "
        f"the last delivery ({then}); now {now} ({state.root}). Clear this run to compare again with what the "
        f"vendor has now."
    )
    write_summary(run, "deliver", DeliverySummary(error=reason))
    raise AirflowFailException(reason)


def remember_delivery(mapping: Mapping, run: RunFolder, state, receipts: list[dict], run_id: str,
                      rows_folder: str = "built") -> None:
    """After a complete delivery, its files' rows (``<rows_folder>/<stem>.parquet``: ``held`` when part of the
    changes was held) become the snapshot the next run is compared with."""
    from datetime import datetime, timezone

    sources = (read_run(run).sources or SourceValidation()).volumes.get("tables", {})
    built = {}
    for output in mapping.outputs:
        with run.path(rows_folder, f"{output.stem}.parquet").open("rb") as handle:
            built[output.stem] = handle.read()
    state.save(
        built,
        {
            "run_id": run_id,
            "delivered_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "files": {r["file"]: {"sha256": r["sha256"], "rows": r["rows"]} for r in receipts},
            "sources": sources,
        },
    )
    log.info("Snapshot of this delivery kept in %s for the next run's change tracking", state.root)

