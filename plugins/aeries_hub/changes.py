"""What a run changes at the vendor: each file compared, by its key, with the last delivered one.

The last successful delivery of a DAG to a target is kept outside the run folders, in
``<staging>/<dag_id>/_last_delivered/<target>/``: the built rows of every file (``<stem>.parquet``) and
``delivered.json`` (the run, when, each delivered file's sha256, and the row counts Aeries returned per
table and school). Each run is compared with it: added, changed and removed rows per file, the mass-change
guard, and the extract-volume check. The staging retention DAG leaves these folders alone: they are the
vendor's current data, replaced by every delivery.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STATE_FOLDER = "_last_delivered"
SAMPLE_SIZE = 20

#: A school (or table) whose extract shrank below this share of its last delivered count is a failed check
#: (Aeries answered with a partial or empty result), once it had at least VOLUME_MIN_ROWS rows.
VOLUME_MIN_SHARE = 0.1
VOLUME_MIN_ROWS = 20


class DeliveredState:
    """The last delivered snapshot of one DAG to one target."""

    def __init__(self, base, dag_id: str, target: str):
        from aeries_hub.staging import safe_segment

        self.root = base / safe_segment(dag_id) / STATE_FOLDER / safe_segment(target)

    def manifest(self) -> dict[str, Any] | None:
        import json

        path = self.root / "delivered.json"
        if not path.exists():
            return None
        with path.open("rb") as handle:
            return json.load(handle)

    def snapshot(self, stem: str):
        import pandas as pd

        path = self.root / f"{stem}.parquet"
        if not path.exists():
            return None
        with path.open("rb") as handle:
            return pd.read_parquet(handle, dtype_backend="numpy_nullable")

    def save(self, built: dict[str, bytes], manifest: dict[str, Any]) -> None:
        """Replace the snapshot: every file's built rows (parquet bytes), then the manifest that names them."""
        import json

        self.root.mkdir(parents=True, exist_ok=True)
        for stem, data in built.items():
            with (self.root / f"{stem}.parquet").open("wb") as handle:
                handle.write(data)
        with (self.root / "delivered.json").open("wb") as handle:
            handle.write(json.dumps(manifest, indent=2, sort_keys=True).encode())


@dataclass(frozen=True)
class FileChanges:
    rows_before: int
    rows_after: int
    added: list[str]
    changed: list[str]
    removed: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_before": self.rows_before,
            "rows_after": self.rows_after,
            "added": len(self.added),
            "changed": len(self.changed),
            "removed": len(self.removed),
            "unchanged": self.rows_after - len(self.added) - len(self.changed),
            "sample_added": self.added[:SAMPLE_SIZE],
            "sample_changed": self.changed[:SAMPLE_SIZE],
            "sample_removed": self.removed[:SAMPLE_SIZE],
        }

    def to_csv(self) -> bytes:
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["id", "change"])
        for change, ids in (("added", self.added), ("changed", self.changed), ("removed", self.removed)):
            writer.writerows([i, change] for i in ids)
        return buffer.getvalue().encode()


def compare(before, after, key: tuple[str, ...], columns: list[str]) -> FileChanges:
    """Rows of ``after`` whose key is new (added), whose ``columns`` differ (changed), and keys gone (removed).

    Ids are the key columns joined with ``/``, sorted. Values are compared as text, so a column read back as
    another dtype does not count as a change.
    """
    after_rows = _by_id(after, key, columns)
    before_rows = _by_id(before, key, columns) if before is not None else {}
    added = sorted(set(after_rows) - set(before_rows))
    removed = sorted(set(before_rows) - set(after_rows))
    changed = sorted(i for i in set(after_rows) & set(before_rows) if after_rows[i] != before_rows[i])
    return FileChanges(len(before_rows), len(after_rows), added, changed, removed)


def _by_id(frame, key: tuple[str, ...], columns: list[str]) -> dict[str, tuple]:
    compared = [c for c in columns if c in frame.columns and c not in key]
    text = frame[list(key) + compared].astype("string").fillna("")
    rows: dict[str, tuple] = {}
    for values in text.itertuples(index=False, name=None):
        rows.setdefault("/".join(values[: len(key)]), values[len(key):])
    return rows


def extract_volumes(frames: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Rows Aeries returned per table, and per school for tables with a SchoolCode."""
    volumes = {}
    for table, frame in frames.items():
        entry: dict[str, Any] = {"rows": len(frame)}
        if "SchoolCode" in frame.columns:
            counts = frame["SchoolCode"].astype("string").fillna("").value_counts()
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
