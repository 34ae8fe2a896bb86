"""Holds: part of a run's changes kept back from the vendor, which keeps the rows it had for the held keys.

Two holds, each chosen by an approver (:mod:`aeries_hub.operators.approval`) or by the mapping's calendar
(:mod:`aeries_hub.calendar_policy`):

* ``removals``: additions and changes are delivered; each removed key keeps its last delivered rows;
* ``changes_and_removals`` (additions only): added keys are delivered; each changed key keeps its last delivered
  rows instead of the new ones, and each removed key keeps its last delivered rows.

Each file's rows are the run's built rows less those of held changed keys, then the held rows of the last delivery
in its order. They are rendered in the file's format (``held/<file>``, zipped again when the mapping packages its
files) and kept as ``held/<stem>.parquet``: the delivery sends the held files, and its record of the last delivery
is the held rows, what the vendor now has, so the next run compares with the truth (a held removal is a removal
again next run). Only file deliveries hold (:func:`holds_supported`): an HTTP import sends records, the approval
does not offer it a hold, and its mapping cannot have an additions-only window (a load error,
:mod:`aeries_hub.mapping.rules`).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from aeries_hub.mapping.models import Mapping, Output
from aeries_hub.staging import RunFolder

log = logging.getLogger(__name__)

REMOVALS = "removals"
CHANGES_AND_REMOVALS = "changes_and_removals"
HELD_FOLDER = "held"


@dataclass(frozen=True)
class Hold:
    """What is held (``REMOVALS`` or ``CHANGES_AND_REMOVALS``) and why (who chose it, or the calendar window)."""

    kind: str
    why: str

    @property
    def holds_changes(self) -> bool:
        return self.kind == CHANGES_AND_REMOVALS


def holds_supported(mapping: Mapping) -> bool:
    """Whether the mapping's delivery sends files, which can carry held rows (its ``supports_holds``)."""
    from aeries_hub.delivery.base import delivery_for

    return bool(getattr(delivery_for(mapping), "supports_holds", False))


def held_rows(built, last, output: Output, hold: Hold):
    """The rows of ``output`` to deliver under ``hold`` (``built``: the run's rows, ``last``: the last delivered
    ones, data frames) and what was held: ``(rows, {"changed": ids, "removed": ids}, samples)`` (Arrow arrays, sorted;
    the first of them as reports show them, the key's id columns only)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    from aeries_hub.changes import compare, row_ids

    changes = compare(last, built, output.key, output.delivered_columns, output.restricted_columns)
    held_changed = changes.arrow_ids("changed") if hold.holds_changes else pa.array([], pa.large_string())
    held_removed = changes.arrow_ids("removed")
    kept = pc.invert(pc.is_in(row_ids(built, output.key), value_set=held_changed)).to_numpy(zero_copy_only=False)
    back = pc.is_in(row_ids(last, output.key), value_set=pa.concat_arrays([held_changed, held_removed]))
    rows = pd.concat([built[kept], last[back.to_numpy(zero_copy_only=False)]], ignore_index=True)
    samples = {"changed": changes.sample("changed") if hold.holds_changes else [], "removed": changes.sample("removed")}
    return rows, {"changed": held_changed, "removed": held_removed}, samples


def hold_files(mapping: Mapping, run: RunFolder, last_delivery, built: list[dict], hold: Hold) -> tuple[list[dict], dict]:
    """Write the held files of the run (``held/``) and their rows (``held/<stem>.parquet``) from the run's built
    rows and ``last_delivery`` (:class:`aeries_hub.changes.LastDelivery`); the items to deliver (in place of
    ``built``: the zip when the mapping packages its files) and what was held, for the report."""
    import pandas as pd

    from aeries_hub.delivery.package import package_files
    from aeries_hub.mapping.build import render_rows

    frames: dict[str, Any] = {}
    held: dict[str, dict] = {}
    for output in mapping.outputs:
        rows = run.read_parquet(f"built/{output.stem}.parquet")
        path = last_delivery.folder / f"{output.stem}.parquet" if last_delivery.folder is not None else None
        if path is not None and path.exists():
            with path.open("rb") as handle:
                last = pd.read_parquet(handle, dtype_backend="numpy_nullable")
            rows, ids, samples = held_rows(rows, last, output, hold)
            held[output.file] = {change: len(ids[change]) for change in ids} | {
                f"sample_{change}": samples[change] for change in ids}
        run.write_parquet(f"{HELD_FOLDER}/{output.stem}.parquet", rows)
        frames[output.file] = rows
    items = []
    for output in mapping.delivered_outputs:
        data = render_rows(mapping, output, frames[output.file], frames)
        run.write_bytes(f"{HELD_FOLDER}/{output.file}", data)
        items.append({"file": output.file, "rows": len(frames[output.file]), "bytes": len(data),
                      "sha256": hashlib.sha256(data).hexdigest(), "folder": HELD_FOLDER})
        if output.file in held:
            held[output.file] |= {"rows": len(frames[output.file]), "sha256": items[-1]["sha256"]}
            log.info("%s: held %d changed and %d removed ids (%s); %d rows delivered", output.file,
                     held[output.file]["changed"], held[output.file]["removed"], hold.why, len(frames[output.file]))
    if mapping.package_zip:
        items = package_files(run, items, mapping.package_zip, folder=HELD_FOLDER)
    return items, {"kind": hold.kind, "why": hold.why, "files": held}


def hold_of_run(mapping: Mapping, run: RunFolder) -> Hold | None:
    """The hold the run's delivery applies: changes and removals in an additions-only window of the mapping's
    calendar, else what the approver chose (``approve_changes``), else none."""
    from aeries_hub.calendar_policy import additions_only_line
    from aeries_hub.extract.school_year import run_date
    from aeries_hub.run.summary import read_run

    window = mapping.calendar.additions_only_on(run_date(mapping)) if mapping.calendar.additions_only else None
    if window:
        return Hold(CHANGES_AND_REMOVALS, additions_only_line(window))
    approval = read_run(run).approve_changes
    if approval and approval.hold and approval.reason:
        return Hold(approval.hold, approval.reason)
    return None
