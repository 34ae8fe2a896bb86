"""Aeries records to typed Arrow tables: one page at a time, pages concatenated, the registry's types for nulls."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Sequence

from aeries_hub.aeries.logs import log
from aeries_hub.aeries.tables import TABLES

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

#: Registry types in which a blank string (``""`` or padded ``"  "``, as Aeries sends an unset code) is null.
_BLANK_IS_NULL_TYPES = ("int64", "float64", "bool")


def arrow_type(spec: Any) -> pa.DataType:
    """The Arrow type of a registry column type (:mod:`aeries_hub.aeries.tables`)."""
    import pyarrow as pa

    if isinstance(spec, dict) and "list" in spec:
        return pa.list_(pa.struct([(name, arrow_type(sub)) for name, sub in spec["list"].items()]))
    return {
        "int64": pa.int64(),
        "float64": pa.float64(),
        "bool": pa.bool_(),
        "string": pa.string(),
    }[spec]


def _is_null_type(data_type: pa.DataType) -> bool:
    import pyarrow as pa

    if pa.types.is_null(data_type):
        return True
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        return pa.types.is_null(data_type.value_type)
    return False


def _as_text(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return json.dumps(value) if isinstance(value, bool) else str(value)


def rows_to_arrow(table: str, rows: Sequence[dict[str, Any]]) -> pa.Table:
    """An Arrow table from Aeries records: the union of their keys (missing -> null) plus the table's
    known columns, nested values kept as nested types (list<struct>). Types are inferred from the data;
    the registry's types apply to columns that are null (or empty lists) in every row. A column whose
    values mix types that Arrow cannot unify is written as text (JSON for nested values).

    In a column the registry knows as a number or a boolean, a blank string (empty or only spaces: an
    unset code padded to its width) is null, so one padded blank neither turns the column into text nor
    reaches a vendor file as spaces.
    """
    return _typed_nulls(table, rows_to_arrow_page(table, rows))


def rows_to_arrow_page(table: str, rows: Sequence[dict[str, Any]]) -> pa.Table:
    """:func:`rows_to_arrow` of some of a table's rows (one page), with columns that are null throughout
    left as Arrow's null type, so that the pages of a table concatenate into the types of the whole."""
    spec = TABLES.get(table)
    known = dict(spec.columns) if spec else {}
    page = _page_in_one_pass(table, rows, known)
    return page if page is not None else _page_column_by_column(table, rows, known)


def _page_in_one_pass(table: str, rows: Sequence[dict[str, Any]], known: dict[str, Any]) -> pa.Table | None:
    """The page converted by Arrow in one pass over its records (C++, no Python list per column): the same
    inference as :func:`_page_column_by_column`, which takes over (None) when some column mixes types."""
    import pyarrow as pa

    if not rows:
        return None
    try:
        records = pa.array(rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return None
    if not pa.types.is_struct(records.type):
        return None
    names = [records.type.field(index).name for index in range(records.type.num_fields)]
    arrays = records.flatten()
    for index, name in enumerate(names):
        if known.get(name) in _BLANK_IS_NULL_TYPES and pa.types.is_string(arrays[index].type):
            values = [None if value is None or not value.strip() else value for value in arrays[index].to_pylist()]
            arrays[index] = pa.array(values)
    present = set(names)
    for name in known:
        if name not in present:
            names.append(name)
            arrays.append(pa.nulls(len(rows)))
    return pa.table(arrays, names=names)


def _page_column_by_column(table: str, rows: Sequence[dict[str, Any]], known: dict[str, Any]) -> pa.Table:
    import pyarrow as pa

    names: dict[str, None] = {}
    for row in rows:
        for key in row:
            names.setdefault(key, None)
    for key in known:
        names.setdefault(key, None)
    arrays = []
    for name in names:
        values = [row.get(name) for row in rows]
        if known.get(name) in _BLANK_IS_NULL_TYPES:
            values = [None if isinstance(v, str) and not v.strip() else v for v in values]
        declared = arrow_type(known[name]) if name in known else None
        try:
            array = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            array = None
            if declared is not None:
                try:
                    array = pa.array(values, type=declared)
                except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                    array = None
            if array is None:
                log.warning("Aeries %s: column %s mixes value types; it is written as text", table, name)
                array = pa.array([_as_text(v) for v in values], type=pa.string())
        arrays.append(array)
    return pa.table(arrays, names=list(names)) if names else pa.table({})


def _typed_nulls(table: str, arrow_table: pa.Table) -> pa.Table:
    """Columns null (or empty lists) in every row take the registry's type, else text."""
    import pyarrow as pa

    spec = TABLES.get(table)
    known = dict(spec.columns) if spec else {}
    for index, name in enumerate(arrow_table.column_names):
        column = arrow_table.column(index)
        if not _is_null_type(column.type):
            continue
        target = arrow_type(known[name]) if name in known else None
        if target is None:
            target = pa.string() if pa.types.is_null(column.type) else pa.list_(pa.string())
        if pa.types.is_null(column.type) or pa.types.is_list(target):
            values = column.to_pylist()
            arrow_table = arrow_table.set_column(index, name, pa.array(values, type=target))
    return arrow_table


def concat_pages(table: str, pages: list[pa.Table]) -> pa.Table:
    """One table from the pages of :func:`rows_to_arrow_page`, typed as :func:`rows_to_arrow` types all
    rows at once. Pages whose types do not unify (a column that is a number in one page and text in
    another) are rebuilt from their records, as a whole, the rare slow way."""
    import pyarrow as pa

    pages = [page for page in pages if page.num_columns] or pages[:1]
    if not pages:
        return rows_to_arrow(table, [])
    try:
        combined = pa.concat_tables(pages, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        combined = rows_to_arrow_page(table, [row for page in pages for row in page.to_pylist()])
    return _typed_nulls(table, combined.combine_chunks())
