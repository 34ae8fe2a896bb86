"""The extract volume check: rows per Aeries table and school compared with the last delivery, so that a partial
answer from Aeries does not make the vendor drop the missing records."""

from __future__ import annotations

import logging
from typing import Any

from aeries_hub.delivery.state import delivered_state
from aeries_hub.mapping.models import Mapping

log = logging.getLogger(__name__)

#: A school (or table) whose extract shrank below this share of its last delivered count is a failed check
#: (Aeries answered with a partial or empty result), once it had at least VOLUME_MIN_ROWS rows.
VOLUME_MIN_SHARE = 0.1
VOLUME_MIN_ROWS = 20


def volume_check(mapping: Mapping, volumes: dict, params: dict) -> dict:
    """Rows per table and school (``extract_volumes``) compared with the last delivery: a far smaller extract
    is a failed check (unless the run's ``allow_extract_drop`` param says the drop is real)."""
    last = delivered_state(mapping, params).read().manifest or {}
    drops = volume_drops(volumes, last.get("sources", {}), last.get("run_id", ""))
    allowed = bool(params.get("allow_extract_drop"))
    message = ""
    if drops:
        message = (
            "Aeries returned far fewer rows than at the last delivery (a partial answer would make the vendor "
            "drop those records):\n  " + "\n  ".join(drops) + "\nRe-run once Aeries answers in full; if the drop "
            "is real (a school closed or left the integration), trigger the DAG with allow_extract_drop on."
        )
        (log.warning if allowed else log.error)("%s", message)
    return {"tables": volumes, "drops": drops, "allowed": allowed, "message": message}


def extract_volumes(frames: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Rows Aeries returned per table, and per school for tables with a SchoolCode."""
    import pandas as pd

    volumes = {}
    for table, frame in frames.items():
        entry: dict[str, Any] = {"rows": len(frame)}
        if "SchoolCode" in frame.columns:
            # counted on the column as it is, then the (few) codes are made text: not a string per row
            counts = frame["SchoolCode"].value_counts(dropna=False)
            labels = pd.Series(counts.index, dtype=counts.index.dtype).astype("string").fillna("")
            counts = pd.Series(counts.to_numpy(), index=labels.to_numpy()).groupby(level=0).sum()
            entry["by_school"] = {str(school): int(n) for school, n in sorted(counts.items())}
        volumes[table] = entry
    return volumes


def volume_drops(now: dict[str, dict], before: dict[str, dict], last_run: str) -> list[str]:
    """A line per table or school that returned far fewer rows than at the last delivery (``last_run``)."""
    problems = []
    for table, entry in sorted(now.items()):
        previous = before.get(table)
        if not previous:
            continue
        if _dropped(entry["rows"], previous["rows"]):
            problems.append(f"{table}: Aeries returned {entry['rows']} rows, {previous['rows']} at the last delivery ({last_run})")
            continue
        for school, count in sorted(previous.get("by_school", {}).items()):
            current = entry.get("by_school", {}).get(school, 0)
            if _dropped(current, count):
                problems.append(f"{table}: school {school} has {current} rows, {count} at the last delivery ({last_run})")
    return problems


def _dropped(now: int, before: int) -> bool:
    return before >= VOLUME_MIN_ROWS and now < before * VOLUME_MIN_SHARE or before > 0 and now == 0
