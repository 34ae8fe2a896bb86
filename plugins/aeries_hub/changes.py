"""What a run changes at the vendor: each file compared, by its key, with the last delivered one.

The last successful delivery of a DAG to a target is kept outside the run folders, in
``<staging>/<dag_id>/_last_delivered/<target>/``: the built rows of every file (``<stem>.parquet``) and
``delivered.json`` (the run, when, each delivered file's sha256, each snapshot's sha256, and the row counts
Aeries returned per table and school), and the generation before it in ``previous/``; ``dry_run.json`` names the
last successful dry run to that target (a first delivery after one needs no approval). Each run is compared
with it: added, changed and removed rows per file, the mass-change guard, and the extract-volume check. The
staging retention DAG leaves these folders alone: they are the vendor's current data, replaced by every
delivery.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aeries_hub.key_columns import Matched, ParquetColumns, as_columns, key_ids, rows_differ

STATE_FOLDER = "_last_delivered"
SAMPLE_SIZE = 20


#: Keys every manifest has (``sources``, the extract volumes, and ``snapshots``, each parquet's sha256, are
#: written by vendor deliveries; write-backs keep their processed files without snapshots).
MANIFEST_KEYS = {"run_id": str, "delivered_at": str, "files": dict}
PREVIOUS_FOLDER = "previous"
#: The last successful dry run to the target ({run_id, at}), beside the record: not part of a generation.
DRY_RUN_FILE = "dry_run.json"


class StateUnreadable(RuntimeError):
    """A last-delivered record exists but cannot be read: the message names the file and what to do."""


@dataclass
class LastDelivery:
    """What :meth:`DeliveredState.read` found: the manifest of the readable generation (None when there is no
    readable one), which generation it is, and what is wrong with the others (each line naming its file)."""

    manifest: dict[str, Any] | None
    generation: str | None  # "current", "previous" (the current one is unreadable) or None
    folder: Any
    problems: list[str]

    @property
    def current(self) -> dict[str, Any] | None:
        """The manifest when it is the current generation's (what the vendor last received)."""
        return self.manifest if self.generation == "current" else None

    @property
    def unreadable(self) -> bool:
        """A record exists, but no generation of it can be read."""
        return self.manifest is None and bool(self.problems)

    def snapshot_columns(self, stem: str) -> ParquetColumns | None:
        """The last delivered rows of a file, read a column at a time (see :func:`compare`)."""
        path = self.folder / f"{stem}.parquet" if self.folder is not None else None
        return ParquetColumns(path) if path is not None and path.exists() else None

    def same_snapshot(self, stem: str, path) -> bool:
        """Whether the file at ``path`` is the last delivered snapshot of ``stem``, byte for byte: its sha256 is the
        one the manifest names (which :meth:`DeliveredState.read` checked the snapshot against)."""
        snapshots = (self.manifest or {}).get("snapshots")
        return isinstance(snapshots, dict) and snapshots.get(stem) is not None and _sha256(path) == snapshots[stem]


class DeliveredState:
    """The last delivered snapshot of one DAG to one target, and the generation before it.

    A save writes each file whole (:func:`aeries_hub.staging.write_private`) and the manifest last, naming
    each parquet's sha256; the generation it replaces is copied to ``previous/`` first. A killed save
    leaves either the old generation or a current one whose files do not match its manifest: then the
    previous generation is used, and the report says so.
    """

    def __init__(self, base, dag_id: str, target: str):
        from aeries_hub.staging import safe_segment

        self.root = base / safe_segment(dag_id) / STATE_FOLDER / safe_segment(target)

    def read(self) -> LastDelivery:
        """The current generation if it is readable, else the previous one; never raises."""
        problem = self._problem(self.root)
        if problem is None:
            return LastDelivery(self._load(self.root), "current", self.root, [])
        previous = self.root / PREVIOUS_FOLDER
        previous_problem = self._problem(previous)
        if problem == "missing":
            if previous_problem == "missing":
                return LastDelivery(None, None, None, [])
            problem = f"{self.root / 'delivered.json'} is missing"
        if previous_problem is None:
            return LastDelivery(self._load(previous), "previous", previous, [problem])
        if previous_problem != "missing":
            problem += f"; the previous generation is unreadable too: {previous_problem}"
        return LastDelivery(None, None, None, [problem])

    def manifest(self) -> dict[str, Any] | None:
        """The current generation's manifest; None when nothing was delivered yet. Raises
        :class:`StateUnreadable` when it exists but cannot be read."""
        last = self.read()
        if last.problems:
            raise StateUnreadable(f"{last.problems[0]}. Restore {self.root} from the previous generation "
                                  f"({self.root / PREVIOUS_FOLDER}) or a backup")
        return last.manifest

    def snapshot(self, stem: str):
        import pandas as pd

        self.manifest()  # an unreadable record is an error, not "no snapshot"
        path = self.root / f"{stem}.parquet"
        if not path.exists():
            return None
        with path.open("rb") as handle:
            return pd.read_parquet(handle, dtype_backend="numpy_nullable")

    def save(self, built: dict[str, bytes], manifest: dict[str, Any]) -> None:
        """Make ``built`` (parquet bytes per file stem) and ``manifest`` the current generation; the current
        one, when readable, becomes the previous generation."""
        import hashlib

        from aeries_hub.staging import write_private

        if self._problem(self.root) is None:
            previous = self.root / PREVIOUS_FOLDER
            if (previous / "delivered.json").exists():
                (previous / "delivered.json").unlink()  # a half-copied previous generation is never read
            for stem in self._load(self.root).get("snapshots", {}):
                write_private(previous / f"{stem}.parquet", _read(self.root / f"{stem}.parquet"))
            write_private(previous / "delivered.json", _read(self.root / "delivered.json"))
        for stem, data in built.items():
            write_private(self.root / f"{stem}.parquet", data)
        snapshots = {stem: hashlib.sha256(data).hexdigest() for stem, data in built.items()}
        write_private(self.root / "delivered.json",
                      json.dumps({**manifest, "snapshots": snapshots}, indent=2, sort_keys=True).encode())

    def save_dry_run(self, run_id: str, at: str) -> None:
        """Remember ``run_id``, a dry run to this target that completed at ``at``."""
        from aeries_hub.staging import write_private

        write_private(self.root / DRY_RUN_FILE, json.dumps({"run_id": run_id, "at": at}).encode())

    def dry_run(self) -> dict[str, str] | None:
        """The last successful dry run to this target ({run_id, at}); None when there was none or its file cannot
        be read (then a first delivery asks)."""
        path = self.root / DRY_RUN_FILE
        try:
            marker = json.loads(_read(path)) if path.exists() else None
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(marker, dict) or not all(isinstance(marker.get(key), str) for key in ("run_id", "at")):
            return None
        return {"run_id": marker["run_id"], "at": marker["at"]}

    def _load(self, folder) -> dict[str, Any]:
        return json.loads(_read(folder / "delivered.json"))

    @staticmethod
    def _problem(folder) -> str | None:
        """None when ``folder`` holds a readable generation, "missing" when it holds nothing, else what is
        wrong, naming the file."""
        path = folder / "delivered.json"
        if not path.exists():
            leftovers = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != DRY_RUN_FILE) \
                if folder.exists() else []
            return f"{path} is missing beside {', '.join(leftovers)}" if leftovers else "missing"
        try:
            manifest = json.loads(_read(path))
        except (ValueError, UnicodeDecodeError) as exc:
            return f"{path} is not valid JSON ({exc})"
        if not isinstance(manifest, dict):
            return f"{path} holds {json.dumps(manifest)[:40]}, not a record of a delivery"
        wrong = [key for key, kind in MANIFEST_KEYS.items() if not isinstance(manifest.get(key), kind)]
        if wrong:
            return f"{path} lacks {', '.join(wrong)} (a record of a delivery has {', '.join(MANIFEST_KEYS)})"
        snapshots = manifest.get("snapshots", {})
        for stem, sha256 in sorted(snapshots.items() if isinstance(snapshots, dict) else []):
            parquet = folder / f"{stem}.parquet"
            if not parquet.exists():
                return f"{parquet} is missing (named by {path.name})"
            if _sha256(parquet) != sha256:
                return f"{parquet} is not the file {path.name} names (sha256 differs: cut off or replaced)"
        return None


def _read(path) -> bytes:
    with path.open("rb") as handle:
        return handle.read()


def _sha256(path) -> str:
    """A file's sha256, read a chunk at a time (a district's snapshots are tens of megabytes)."""
    from aeries_hub.delivery import size_and_sha256

    return size_and_sha256(path)[1]


class FileChanges:
    """Added, changed and removed ids of one file, sorted. They are kept as Arrow arrays: ``added`` etc. make
    Python lists on use, while counts, samples and the CSV do not need a string object per row."""

    def __init__(self, rows_before: int, rows_after: int, added, changed, removed,
                 samples: dict[str, list[str]] | None = None):
        self.rows_before = rows_before
        self.rows_after = rows_after
        self._ids = {"added": _arrow_ids(added), "changed": _arrow_ids(changed), "removed": _arrow_ids(removed)}
        #: What the report and the approval show of the first ids of each change: only the key's id columns
        #: (:func:`shown_key`); None when the whole key is ids.
        self._samples = samples

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

    def arrow_ids(self, change: str):
        """The ``added``, ``changed`` or ``removed`` ids as a sorted Arrow array (no Python list made)."""
        return self._ids[change]

    def __eq__(self, other) -> bool:
        if not isinstance(other, FileChanges):
            return NotImplemented
        return (self.rows_before, self.rows_after) == (other.rows_before, other.rows_after) and all(
            self.arrow_ids(c).equals(other.arrow_ids(c)) for c in self._ids)

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
            **{f"sample_{change}": self.sample(change) for change in self._ids},
        }

    def sample(self, change: str) -> list[str]:
        """The first ids of a change as reports show them: the values of the key's id columns only."""
        if self._samples is not None:
            return self._samples[change]
        return self._ids[change][:SAMPLE_SIZE].to_pylist()

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


def compare(before, after, key: tuple[str, ...], columns: list[str],
            restricted: frozenset[str] = frozenset()) -> FileChanges:
    """Rows of ``after`` whose key is new (added), whose ``columns`` differ (changed), and keys gone (removed).

    ``before`` and ``after`` are data frames or :class:`ParquetColumns` (a file read a column at a time).
    Ids are the key columns joined with ``/``, sorted; the samples show only :func:`shown_key`'s (never the
    ``restricted`` ones). Values are compared as text, so a column read back as another dtype does not count as a
    change. Of rows with the same id, the first one counts.

    Column-wise with Arrow: both sides' ids encoded in one hash pass (:class:`Matched`), then integer work in numpy,
    and one compared column of each side in memory at a time; no Python object per row but the ids of the rows
    that changed.
    """
    import pyarrow as pa

    after = as_columns(after)
    before = as_columns(before) if before is not None else None
    before_ids = key_ids(before, key) if before is not None else pa.array([], type=pa.large_string())
    matched = Matched(before_ids, key_ids(after, key))
    del before_ids
    common = matched.found >= 0
    changed_mask = rows_differ(after, before, key, columns, matched.kept[common], matched.found[common])
    added = _sorted(matched.ids(matched.kept_codes[~common]))
    changed = _sorted(matched.ids(matched.kept_codes[common][changed_mask]))
    removed = _sorted(matched.ids(matched.removed_codes))
    samples = None
    shown = shown_key(key, restricted)
    if shown != key:  # the key holds more than ids (an e-mail, a group named after a teacher): show its ids only
        samples = {"added": _shown_sample(after, key, shown, added), "changed": _shown_sample(after, key, shown, changed),
                   "removed": _shown_sample(before, key, shown, removed) if before is not None else []}
    return FileChanges(matched.rows_before, len(matched.kept), added, changed, removed, samples)


def unchanged(table, key: tuple[str, ...]) -> FileChanges:
    """What :func:`compare` finds for a file compared with itself (the same bytes as the last delivery's): no
    change, and as many rows on each side as the file has distinct ids."""
    import pyarrow.compute as pc

    ids = _sorted(key_ids(as_columns(table), key))  # (sorted and counted: a third of pc.unique's memory, and faster)
    rows = len(ids) and 1 + pc.sum(pc.not_equal(ids[1:], ids[:-1]), min_count=0).as_py()
    return FileChanges(rows, rows, ids[:0], ids[:0], ids[:0])


#: A key column whose name ends so holds an identifier or a code (StudentID, SchoolCode, sourcedId): what reports and
#: approvals show of a row, never the rest of a key (an e-mail address, a group named after a teacher).
ID_COLUMN_ENDINGS = ("id", "code", "number")


def shown_key(key: tuple[str, ...], restricted: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """The columns of ``key`` that hold ids or codes (:data:`ID_COLUMN_ENDINGS`), but ``restricted`` ones (values of
    a field the district's data-sharing policy restricts, such as a student's program code)."""
    return tuple(column for column in key if column.lower().endswith(ID_COLUMN_ENDINGS) and column not in restricted)


def _shown_sample(table, key: tuple[str, ...], shown: tuple[str, ...], ids) -> list[str]:
    """The ``shown`` columns (joined with ``/``) of the rows of the first :data:`SAMPLE_SIZE` of ``ids``."""
    import pyarrow.compute as pc

    first = ids[:SAMPLE_SIZE]
    if not shown or not len(first):
        return []
    positions = pc.index_in(first, value_set=key_ids(table, key))
    return key_ids(table, shown).take(positions).to_pylist()


def id_sample(path, columns: tuple[str, ...], size: int = SAMPLE_SIZE) -> tuple[list[str], int]:
    """The first ``size`` distinct ids of a Parquet file (its ``columns`` joined with ``/``, sorted), and how many
    distinct ids it has."""
    import pyarrow.compute as pc

    ids = _sorted(pc.unique(key_ids(ParquetColumns(path), columns)))
    return ids[:size].to_pylist(), len(ids)


def row_ids(table, key: tuple[str, ...]):
    """Each row's id in a data frame or :class:`ParquetColumns`: its ``key`` values as text joined with ``/``, as
    :func:`compare` matches them."""
    return key_ids(as_columns(table), key)


def _sorted(ids):
    import pyarrow.compute as pc

    return ids.take(pc.sort_indices(ids))
