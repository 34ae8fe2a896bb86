"""What a run changes at the vendor: each file compared, by its key, with the last delivered one.

The last successful delivery of a DAG to a target is kept outside the run folders, in
``<staging>/<dag_id>/_last_delivered/<target>/``: the built rows of every file (``<stem>.parquet``) and
``delivered.json`` (the run, when, each delivered file's sha256, and the row counts Aeries returned per
table and school). Each run is compared with it: added, changed and removed rows per file, the mass-change
guard, and the extract-volume check. The staging retention DAG leaves these folders alone: they are the
vendor's current data, replaced by every delivery.
"""

from __future__ import annotations

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

    def snapshot_columns(self, stem: str) -> ParquetColumns | None:
        """The last delivered rows of a file, read a column at a time (see :func:`compare`)."""
        path = self.root / f"{stem}.parquet"
        return ParquetColumns(path) if path.exists() else None

    def save(self, built: dict[str, bytes], manifest: dict[str, Any]) -> None:
        """Replace the snapshot: every file's built rows (parquet bytes), then the manifest that names them."""
        import json

        self.root.mkdir(parents=True, exist_ok=True)
        for stem, data in built.items():
            with (self.root / f"{stem}.parquet").open("wb") as handle:
                handle.write(data)
        with (self.root / "delivered.json").open("wb") as handle:
            handle.write(json.dumps(manifest, indent=2, sort_keys=True).encode())


class FileChanges:
    """Added, changed and removed ids of one file, sorted. They are kept as Arrow arrays: ``added`` etc. make
    Python lists on use, while counts, samples and the CSV do not need a string object per row."""

    def __init__(self, rows_before: int, rows_after: int, added, changed, removed):
        self.rows_before = rows_before
        self.rows_after = rows_after
        self._ids = {"added": _arrow_ids(added), "changed": _arrow_ids(changed), "removed": _arrow_ids(removed)}

    @property
    def added(self) -> list[str]:
        return self._ids["added"].to_pylist()

    @property
    def changed(self) -> list[str]:
        return self._ids["changed"].to_pylist()

    @property
    def removed(self) -> list[str]:
        return self._ids["removed"].to_pylist()

    def count(self, change: str) -> int:
        """How many ids are ``added``, ``changed`` or ``removed``."""
        return len(self._ids[change])

    def __eq__(self, other) -> bool:
        if not isinstance(other, FileChanges):
            return NotImplemented
        return (self.rows_before, self.rows_after) == (other.rows_before, other.rows_after) and all(
            self._ids[c].equals(other._ids[c]) for c in self._ids)

    def __repr__(self) -> str:
        return (f"FileChanges(rows_before={self.rows_before}, rows_after={self.rows_after}, "
                + ", ".join(f"{c}={self.count(c)}" for c in self._ids) + ")")

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_before": self.rows_before,
            "rows_after": self.rows_after,
            "added": self.count("added"),
            "changed": self.count("changed"),
            "removed": self.count("removed"),
            "unchanged": self.rows_after - self.count("added") - self.count("changed"),
            "sample_added": self._ids["added"][:SAMPLE_SIZE].to_pylist(),
            "sample_changed": self._ids["changed"][:SAMPLE_SIZE].to_pylist(),
            "sample_removed": self._ids["removed"][:SAMPLE_SIZE].to_pylist(),
        }

    def to_csv(self) -> bytes:
        """``id,change`` rows; an id a spreadsheet would run as a formula gets a ``'`` in front (ids are the
        file's key values, which come from Aeries and may be typed by anyone)."""
        import csv
        import io
        from itertools import repeat

        from aeries_hub.mapping.render import escape_formulas_in_text

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["id", "change"])
        for change, ids in self._ids.items():
            for start in range(0, len(ids), 100_000):  # Python strings for a slice at a time
                writer.writerows(zip(escape_formulas_in_text(ids[start:start + 100_000]).to_pylist(), repeat(change)))
        return buffer.getvalue().encode()


def _arrow_ids(ids):
    import pyarrow as pa

    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    return ids if isinstance(ids, pa.Array) else pa.array(list(ids), type=pa.large_string())


def compare(before, after, key: tuple[str, ...], columns: list[str]) -> FileChanges:
    """Rows of ``after`` whose key is new (added), whose ``columns`` differ (changed), and keys gone (removed).

    ``before`` and ``after`` are data frames or :class:`ParquetColumns` (a file read a column at a time).
    Ids are the key columns joined with ``/``, sorted. Values are compared as text, so a column read back as
    another dtype does not count as a change. Of rows with the same id, the first one counts.

    Column-wise with Arrow (hash lookups of the ids, element-wise comparison of each column): no Python
    object per row but the ids of the rows that changed, and one compared column of each side in memory.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    after = _as_columns(after)
    before = _as_columns(before) if before is not None else None
    after_ids = _ids(after, key)
    before_ids = _ids(before, key) if before is not None else pa.array([], type=pa.large_string())
    kept = _first_of_each(after_ids)  # positions in after of each id's first row
    ids = after_ids.take(kept)
    del after_ids
    found = pc.index_in(ids, value_set=before_ids)  # each id's first row in before (null: new)
    is_new = pc.is_null(found)
    common = pc.indices_nonzero(pc.invert(is_new))
    changed_mask = _differs(after, before, key, columns, kept.take(common), found.take(common))
    removed_rows = _first_of_each(before_ids)
    removed_ids = before_ids.take(removed_rows)
    removed_ids = removed_ids.filter(pc.invert(pc.is_in(removed_ids, value_set=ids)))
    return FileChanges(
        len(removed_rows),
        len(ids),
        _sorted(ids.filter(is_new)),
        _sorted(ids.take(common).filter(changed_mask)),
        _sorted(removed_ids),
    )


class ParquetColumns:
    """A Parquet file (a path or ObjectStoragePath) read one column at a time, as text."""

    def __init__(self, path):
        import pyarrow.parquet as pq

        self.path = path
        with path.open("rb") as handle:
            self.columns = pq.read_schema(handle).names

    def text(self, column: str):
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        with self.path.open("rb") as handle:
            values = pq.read_table(handle, columns=[column]).column(0).combine_chunks()
        return pc.fill_null(values.cast(pa.large_string()), "")


class _FrameColumns:
    """A data frame's columns as text ('' for null), as :class:`ParquetColumns` gives a file's."""

    def __init__(self, frame):
        self.frame = frame
        self.columns = list(frame.columns)

    def text(self, column: str):
        import pyarrow as pa

        values = pa.array(self.frame[column].astype("string").fillna("").array)
        values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
        return values.cast(pa.large_string())  # one type on both sides (parquet may hold either)


def _as_columns(table):
    return table if isinstance(table, (ParquetColumns, _FrameColumns)) else _FrameColumns(table)


def _ids(table, key: tuple[str, ...]):
    """The rows' ids: the key values as text joined with ``/``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = [table.text(k) for k in key]
    return parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, pa.scalar("/", pa.large_string()))


def _first_of_each(ids):
    """Positions of the first row of each distinct id, in row order."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    first = pc.index_in(ids, value_set=ids).to_numpy(zero_copy_only=False)
    return pa.array(np.flatnonzero(first == np.arange(len(ids))))


def _differs(after, before, key: tuple[str, ...], columns: list[str], after_rows, before_rows):
    """Per common id: whether any compared value differs (compared as tuples: another column count differs),
    one column of each side read at a time."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    compared = [c for c in columns if c in after.columns and c not in key]
    if before is None or compared != [c for c in columns if c in before.columns and c not in key]:
        return pa.array(np.ones(len(after_rows), dtype=bool))
    differs = pa.array(np.zeros(len(after_rows), dtype=bool))
    for column in compared:
        differs = pc.or_(differs, pc.not_equal(after.text(column).take(after_rows), before.text(column).take(before_rows)))
    return differs


def _sorted(ids):
    import pyarrow.compute as pc

    return ids.take(pc.sort_indices(ids))


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
