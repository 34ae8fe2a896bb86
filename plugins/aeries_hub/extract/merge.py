"""Merging changed records into an extract snapshot, in Arrow (a snapshot of millions of schedule rows never
becomes Python objects): the table a full extraction gives, in its order and with its types."""

from __future__ import annotations

import logging
from typing import Any, Collection, Iterable

from aeries_hub.aeries.arrow import arrow_type, rows_to_arrow
from aeries_hub.aeries.collect import table_spec
from aeries_hub.extract.plans import PLANS, TABLES_SCHOOL_COLUMN

log = logging.getLogger(__name__)


def sortable(value: Any) -> tuple:
    """A sort key that orders numbers, then text, then nulls (the keys of a table can mix them)."""
    if value is None:
        return (2, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value)
    return (1, str(value))


def group_of(row: dict[str, Any], columns: Iterable[str]) -> tuple:
    return tuple(row.get(c) for c in columns)


def _mask(snapshot, column: str, values: Iterable[Any]):
    """A boolean array: which rows have ``column`` in ``values``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = [v for v in set(values) if v is not None]
    if not values or column not in snapshot.column_names:
        import numpy as np

        return pa.array(np.zeros(snapshot.num_rows, dtype=bool))
    try:
        return pc.is_in(snapshot[column], value_set=pa.array(values).cast(snapshot.schema.field(column).type))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):  # other key types: compare as text
        wanted = {str(v) for v in values}
        return pa.array([str(v) in wanted for v in snapshot[column].to_pylist()], type=pa.bool_())


def rows_where(snapshot, column: str, values: Iterable[Any]) -> list[dict[str, Any]]:
    """The snapshot's rows whose ``column`` is one of ``values``, as dicts (a few rows, never the table)."""
    return snapshot.filter(_mask(snapshot, column, values)).to_pylist()


def _group_positions(snapshot, columns: tuple[str, ...], groups: set[tuple]) -> list[int]:
    """Positions of the snapshot's rows whose values of ``columns`` are one of ``groups``."""
    import pyarrow.compute as pc

    candidates = pc.indices_nonzero(_mask(snapshot, columns[-1], (g[-1] for g in groups)))
    rows = snapshot.select(list(columns)).take(candidates).to_pylist()
    return [position for position, row in zip(candidates.to_pylist(), rows) if group_of(row, columns) in groups]


def merge_tables(table: str, snapshot, groups: set[tuple], fetched, units: Collection[Any] = ()):
    """The snapshot (an Arrow table) without the rows of ``groups`` and of ``units`` (schools fetched whole; None:
    the whole table), plus ``fetched`` (their rows now: records or an Arrow table): the table a full extraction
    gives, in its order (schools in the snapshot's order, new ones after by code, then Aeries' order in a school)
    and with its column types."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    plan = PLANS[table]
    school = TABLES_SCHOOL_COLUMN.get(table, "SchoolCode")
    snapshot = snapshot.replace_schema_metadata(None)
    keep = np.ones(snapshot.num_rows, dtype=bool)
    keep[_group_positions(snapshot, plan.group, groups)] = False
    if None in units:
        keep[:] = False
    elif units and school:
        keep &= ~_mask(snapshot, school, units).to_numpy(zero_copy_only=False)
    fetched_arrow = fetched if isinstance(fetched, pa.Table) else rows_to_arrow(table, fetched)
    fresh = _conform(snapshot, fetched_arrow.replace_schema_metadata(None))
    if fresh is None:  # a type a full extraction would infer otherwise: the same conversion over every row
        log.warning("Aeries %s: changed records bring other column types; the merge converts every row", table)
        merged = rows_to_arrow(table, snapshot.filter(pa.array(keep)).to_pylist()
                               + (fetched if isinstance(fetched, list) else fetched_arrow.to_pylist()))
        keep = np.ones(merged.num_rows, dtype=bool)
    else:
        # the snapshot's rows and the fresh ones side by side (no copy), the rows kept put in order by their keys
        # alone and taken once: a copy of a snapshot of millions of rows, not three
        conformed, fresh = fresh
        merged = pa.concat_tables([conformed, fresh])
        keep = np.concatenate([keep, np.ones(fresh.num_rows, dtype=bool)])
    keys = [(c, "ascending") for c in plan.order if c in merged.column_names]
    sorted_by = merged.select([c for c, _ in keys])
    if school and school in merged.column_names:
        order = pc.unique(snapshot[school]).to_pylist()  # in the order of first appearance
        new_schools = pc.unique(fetched_arrow[school]).to_pylist() if school in fetched_arrow.column_names else []
        order += sorted(set(new_schools) - set(order), key=sortable)
        rank = pc.index_in(merged[school], value_set=pa.array(order, type=merged.schema.field(school).type))
        sorted_by = sorted_by.append_column("__rank", rank)
        keys.insert(0, ("__rank", "ascending"))
    positions = np.flatnonzero(keep)
    if keys:
        positions = positions[pc.sort_indices(sorted_by.take(pa.array(positions)), sort_keys=keys).to_numpy()]
    merged = merged.take(pa.array(positions))
    return _null_columns_as_extracted(table, merged)


def _conform(kept, fresh):
    """``(kept, fresh)`` with the same columns and types (each side gets the other's extra columns as nulls), or
    None when a column's values would make a full extraction infer another type than the snapshot has."""
    import pyarrow as pa

    if fresh.num_rows == 0:
        fresh = pa.table({name: pa.nulls(0, kept.schema.field(name).type) for name in kept.column_names})
    for name in fresh.column_names:
        if name not in kept.column_names:
            column = fresh[name]
            data_type = column.type if not pa.types.is_null(column.type) else pa.string()
            kept = kept.append_column(pa.field(name, data_type), pa.nulls(kept.num_rows, data_type))
    columns = []
    for field in kept.schema:
        if field.name not in fresh.column_names or fresh[field.name].null_count == fresh.num_rows:
            columns.append(pa.nulls(fresh.num_rows, field.type))
        elif fresh.schema.field(field.name).type == field.type:
            columns.append(fresh[field.name])
        else:  # e.g. a column null in every kept row: a full extraction takes the fetched values' type
            return None
    return kept, pa.table(columns, schema=kept.schema)


def _null_columns_as_extracted(table: str, merged):
    """A column null in every row has the type a full extraction gives it: the registry's, else text."""
    import pyarrow as pa

    known = dict(table_spec(table).columns)
    for index, field in enumerate(merged.schema):
        if merged.num_rows and merged[field.name].null_count == merged.num_rows:
            target = arrow_type(known[field.name]) if field.name in known else (
                pa.list_(pa.string()) if pa.types.is_list(field.type) else pa.string())
            if target != field.type:
                merged = merged.set_column(index, pa.field(field.name, target), pa.nulls(merged.num_rows, target))
    return merged


def changed_share(table: str, snapshot, changed: int) -> float:
    """``changed`` groups (students, sections, staff members) as a percentage of the snapshot's groups."""
    import pyarrow.compute as pc

    columns = [c for c in PLANS[table].group if c in snapshot.column_names]
    if not snapshot.num_rows or not columns:
        return 100.0 if changed else 0.0
    groups = snapshot.select(columns).group_by(columns).aggregate([]).num_rows if len(columns) > 1 else len(pc.unique(snapshot[columns[0]]))
    return 100.0 * changed / max(groups, 1)

