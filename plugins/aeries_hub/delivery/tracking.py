"""Change tracking: a run's built files compared by key with the last delivery (added, changed, removed rows, and
the mass-change guard), and the approval reason when the record of an earlier delivery is missing."""

from __future__ import annotations

import logging

from aeries_hub.delivery.base import delivery_for
from aeries_hub.delivery.state import delivery_fingerprint
from aeries_hub.mapping.models import Mapping
from aeries_hub.staging import RunFolder

log = logging.getLogger(__name__)


def compare_files(mapping: Mapping, run: RunFolder, last_delivery) -> tuple[dict[str, dict], list[str]]:
    """Every built file compared with its last delivered snapshot by its key: the counts per file, and where the
    changes exceed the mapping's mass-change guard (when there was a delivery to compare with)."""
    from aeries_hub.changes import ParquetColumns, compare, unchanged
    from aeries_hub.resources import use_allocators_that_return_memory

    use_allocators_that_return_memory()  # each file's ids and columns are freed before the next file's
    last = last_delivery.manifest
    exceeded: list[str] = []
    files = {}
    for output in mapping.outputs:
        before = last_delivery.snapshot_columns(output.stem)
        built = run.path("built", f"{output.stem}.parquet")
        if before is not None and last_delivery.same_snapshot(output.stem, built):  # no row to compare
            changes = unchanged(ParquetColumns(built), output.key)
        else:
            changes = compare(before, ParquetColumns(built), output.key, output.delivered_columns,
                              output.restricted_columns)
        files[output.file] = counts = changes.to_dict()
        if last:
            exceeded += [f"{output.file}: {reason}" for reason in mapping.guard.exceeded(changes.rows_before, counts["removed"], counts["changed"])]
        # No list of ids when the file was never delivered: every row is added (the report has the count).
        if before is not None and (counts["added"] or counts["changed"] or counts["removed"]):
            run.write_bytes(f"changes/{output.stem}.csv", changes.to_csv())
        log.info(
            "%s: %d rows before, %d now: %d added, %d changed, %d removed",
            output.file, changes.rows_before, changes.rows_after, counts["added"], counts["changed"], counts["removed"],
        )
    return files, exceeded


def state_loss(mapping: Mapping, state, last_delivery, context) -> list[str]:
    """The approval reason when there is no readable record of the last delivery though there was one: the
    record is unreadable, the metadata database holds an earlier delivery to this target, or the target's SFTP
    folder already holds the files this DAG delivers (a new metadata database, or files delivered by hand)."""
    what_to_do = ("Restore the folder from a backup and clear this run, or approve: every row then counts as "
                  "added, removals are not counted, and this delivery becomes the new record")
    if last_delivery.unreadable:
        problem = last_delivery.problems[0]
        return [f"no readable record of the last delivery to {state.root.name}: {problem}. {what_to_do}"]
    try:
        earlier = _earlier_delivery(mapping, context)
    except Exception as exc:  # noqa: BLE001 - not knowing is treated as having delivered
        return [f"no record of the last delivery in {state.root}, and Airflow could not tell whether {mapping.dag_id} "
                f"delivered to {state.root.name} before ({type(exc).__name__}: {exc}). {what_to_do}"]
    if earlier is not None:
        return [f"no record of the last delivery in {state.root}, though {mapping.dag_id} delivered to "
                f"{state.root.name} before (run {earlier['run_id']} at {earlier['at']}). {what_to_do}"]
    where, shown = files_at_target(mapping)
    if not shown:
        return []
    return [f"no record of the last delivery in {state.root}, though {where} already holds {', '.join(shown)}: "
            f"a delivery this hub has no record of. {what_to_do}"]


def files_at_target(mapping: Mapping) -> tuple[str, list[str]]:
    """Where the target is, and which of the files this DAG delivers it already holds, for the state-loss check
    (:meth:`aeries_hub.delivery.base.Delivery.files_at_target`)."""
    names = [mapping.package_zip] if mapping.package_zip else [output.file for output in mapping.outputs]
    return delivery_for(mapping).files_at_target(names)


def _earlier_delivery(mapping: Mapping, context) -> dict | None:
    """The newest delivery to this run's target that Airflow recorded: an event of a delivered asset (the
    track_changes task's inlets) from a delivery to the same server and folder, not a test_record run."""
    fingerprint = delivery_fingerprint(mapping, context["params"])
    newest = None
    for asset in context["inlet_events"]:
        for event in context["inlet_events"][asset].ascending(False):
            extra = event.extra or {}
            delivered = extra.get("delivered") or {}
            if delivered.get("test_record") or extra.get("target_fingerprint", fingerprint) != fingerprint:
                continue
            if newest is None or event.timestamp > newest.timestamp:
                newest = event
            break  # the newest of this asset
    if newest is None:
        return None
    return {"run_id": newest.source_run_id or (newest.extra or {}).get("run_id"),
            "at": newest.timestamp.isoformat(timespec="seconds")}

