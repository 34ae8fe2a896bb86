"""Turn Aeries tables into a vendor's output rows, as a mapping file describes.

Rows come out record set by record set, each in the order of the file's key (numbers in numeric order),
so a file's bytes do not depend on the order Aeries answered in; literal ``rows`` keep the order written. Lookups take the first matching row of
the looked-up table in their ``prefer`` order (mapping/preferences.py), then in the table's primary-key order (see
quality.aeries_sources.validate_tables).

Every value is text (:mod:`aeries_hub.mapping.text`); a value is evaluated by :mod:`aeries_hub.mapping.values`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from aeries_hub.aeries.tables import TABLES
from aeries_hub.mapping.conditions import conditions_mask
from aeries_hub.mapping.crosswalk import read_crosswalks
from aeries_hub.mapping.models import Condition, Lookup, Mapping, MappingError, Output, RecordSet
from aeries_hub.mapping.preferences import preference_keys, preferred_order
from aeries_hub.mapping.reads import columns_read, distinct_columns, tables_read, value_columns
from aeries_hub.mapping.text import TEXT, arrow_text, natural_sort_positions, repeated_text, text
from aeries_hub.mapping.values import RunValues, evaluate, read_column
from aeries_hub.row_keys import combined_codes, shares_a_key

RECORD_SET_COLUMN = "_record_set"


@dataclass
class BuiltOutput:
    """Rows of one output file (all text) and what the build merged or filtered away, for the report."""

    frame: pd.DataFrame
    rows_by_record_set: dict[str, int] = field(default_factory=dict)
    merged_duplicates: dict[str, int] = field(default_factory=dict)


def build_output(
    mapping: Mapping, output: Output, tables: dict[str, pd.DataFrame], run: RunValues | None = None, *,
    release_tables: bool = False,
) -> BuiltOutput:
    """Rows of ``output`` built from ``tables`` (already filtered), record set after record set.

    Without ``run``, the crosswalk files are read and the run date is unknown. With ``release_tables``, each
    table is removed from ``tables`` once no later record set reads it (the caller hands the tables over).
    """
    if run is None:
        run = RunValues(crosswalks=read_crosswalks(mapping))
    index = mapping.outputs.index(output)
    records = output.records
    built_parts: dict[int, tuple[pd.DataFrame, int]] = {}
    # The smallest record sets first: the tables only they read are gone before the largest is built (a district's
    # sections, with their staff members as Python objects, while its enrollments are built from the rosters).
    order = sorted(range(len(records)), key=lambda r: len(tables.get(records[r].table or "", ())))
    for step, r in enumerate(order):
        record_set = records[r]
        where = f"{mapping.path.name}: outputs[{index}].records[{r}]"
        if record_set.rows is not None:
            built_parts[r] = _literal_rows(record_set, output, run, where), 0
        else:
            later = {name for rest in order[step + 1:] for name in _tables_of(records[rest]) if records[rest].rows is None}
            release = frozenset(_tables_of(record_set) - later) if release_tables else frozenset()
            built_parts[r] = _record_set_rows(record_set, tables, output, where, run, release)
            if release_tables:
                _keep_columns_read(tables, [records[rest] for rest in order[step + 1:]])
    built = BuiltOutput(frame=pd.DataFrame())
    parts = [built_parts[r][0] for r in range(len(records))]
    for record_set, (frame, merged) in zip(records, (built_parts[r] for r in range(len(records)))):
        built.rows_by_record_set[record_set.name] = len(frame)
        if merged:
            built.merged_duplicates[record_set.name] = merged
    names = [record_set.name for record_set in records]
    del built_parts
    built.frame = _stacked(parts, output.built_columns) if parts else pd.DataFrame(columns=output.built_columns)
    built.frame[RECORD_SET_COLUMN] = _record_set_names(names, [len(part) for part in parts])
    return built


def _keep_columns_read(tables: dict[str, pd.DataFrame], record_sets: list[RecordSet]) -> None:
    """Each table of ``tables`` with only the columns ``record_sets`` read (a district's sections lose their staff
    members, Python objects, once the record set that explodes them is built)."""
    still_read: dict[str, set[str]] = {}
    for record_set in record_sets:
        for table, columns in tables_read(record_set).items():
            still_read.setdefault(table, set()).update(columns)
    for name, columns in still_read.items():
        frame = tables.get(name)
        if frame is not None and columns <= set(frame.columns) and len(columns) < len(frame.columns):
            tables[name] = frame[[column for column in frame.columns if column in columns]]


def _record_set_names(names: list[str], rows: list[int]) -> pd.Categorical:
    """Each row's record set, as categories (a file of millions of rows comes from two or three)."""
    categories = list(dict.fromkeys(names))
    codes = np.repeat(np.array([categories.index(name) for name in names], dtype=np.int8 if len(categories) < 128
                               else np.int32), rows)
    return pd.Categorical.from_codes(codes, categories=categories)


def _stacked(parts: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """The parts one under the other, built a column at a time (each part's column is freed once copied)."""
    if len(parts) == 1:
        return parts[0][columns].reset_index(drop=True)
    return pd.DataFrame({column: pd.concat([part.pop(column) for part in parts], ignore_index=True) for column in columns})


def _literal_rows(record_set: RecordSet, output: Output, run: RunValues, where: str) -> pd.DataFrame:
    out = pd.DataFrame(
        [[run.fill(str(row[column]), f"{where}.rows[{n}].{column}") if column in row else ""
          for column in output.delivered_columns] for n, row in enumerate(record_set.rows or ())],
        columns=output.delivered_columns,
        dtype=object,
    )
    _add_key_expressions(out, output, run, where)
    return out


def _add_key_expressions(out: pd.DataFrame, output: Output, run: RunValues, where: str) -> None:
    """The values of the key's ``{expr: ...}`` entries, over the file's own columns (e.g. lower(email))."""
    for name, expression in output.key_expressions.items():
        out[name] = expression.text_values(out, run, f"{where}: key {name!r}") if len(out) else ""


def _record_set_rows(
    record_set: RecordSet, tables: dict[str, pd.DataFrame], output: Output, where: str, run: RunValues,
    release: frozenset[str] = frozenset(),
) -> tuple[pd.DataFrame, int]:
    """The record set's rows; the tables in ``release`` are dropped from ``tables`` once joined (no later
    record set reads them), so that their memory goes while the rows are checked, merged and sorted."""
    table = record_set.table
    assert table is not None, "a record set of literal rows has no table"
    frame = _table(tables, table, f"{where}.from").reset_index(drop=True)
    if record_set.explode:
        frame = _explode(frame, table, *record_set.explode, where=f"{where}.explode",
                         conditions=record_set.explode_where, run_date=run.conditions_date, run=run)
    read = columns_read(record_set)
    for lookup in record_set.lookups:
        frame = _join_lookup(frame, lookup, tables, f"{where}.lookups.{lookup.alias}", read, run.conditions_date, run)
    for name in release:
        tables.pop(name, None)
    if read <= set(frame.columns):  # (else keep them all: the error about the unknown one lists them)
        frame = frame[[column for column in frame.columns if column in read]]
    for column in list(frame.columns):  # once, rather than at every use
        frame[column] = text(frame[column])
    # After the lookups, so that a condition can test a looked-up column (e.g. that a student was found).
    frame = _filtered(frame, conditions_mask(frame, record_set.where, f"{where}.where", run.conditions_date, run))
    # Which rows ``distinct`` keeps is settled before the values exist (they are most of a build's memory); its
    # ``collect`` joins values of the merged rows, so it settles after them.
    still_read = _read_from(record_set, output, distinct_after=True)[0] | _value_reads(record_set, output.delivered_columns[0])
    _keep_only(frame, still_read)  # (the columns only the lookups and conditions read)
    kept = _first_of_each(frame, record_set, f"{where}.distinct", run) \
        if record_set.distinct_on and not record_set.collect else None
    constants = _constants(record_set, output, run, where)
    out = pd.DataFrame(index=frame.index)
    for column, still_read in zip(output.delivered_columns, _read_from(record_set, output, kept is None)):
        if column not in constants:
            out[column] = evaluate(record_set.values[column], frame, f"{where}.values.{column}", run)
        _keep_only(frame, still_read)
    merged = 0
    if kept is not None:
        out = _filtered(out, pd.Series(kept, index=out.index))
        merged = len(kept) - len(out)
    elif record_set.distinct_on:
        distinct_by = set(distinct_columns(record_set)) | {ref for preference in record_set.prefer for ref in preference.reads}
        if distinct_by <= set(frame.columns):
            frame = frame[[column for column in frame.columns if column in distinct_by]]
        out, merged = _distinct(frame, out, record_set, f"{where}.distinct", run)
    del frame
    for column, value in constants.items():
        out[column] = repeated_text(value, out.index)
    _add_key_expressions(out, output, run, where)
    return _reordered(out, natural_sort_positions(out, list(output.key)), constants), merged


def _constants(record_set: RecordSet, output: Output, run: RunValues, where: str) -> dict[str, str]:
    """The delivered columns whose value is the same on every row: a ``constant`` without ``match`` or steps, or no
    value at all (blank); they are added once the rows are settled (:func:`aeries_hub.mapping.text.repeated_text`)."""
    constants = {}
    for column in output.delivered_columns:
        spec = record_set.values.get(column)
        if spec is None:
            constants[column] = ""
        elif spec.kind == "constant" and spec.match is None and not spec.transform:
            constants[column] = run.fill(spec.argument, f"{where}.values.{column}.constant")
    return constants


def _read_from(record_set: RecordSet, output: Output, distinct_after: bool) -> list[set[str]]:
    """For each delivered column, the columns of the record set's rows still read once its value is evaluated: the
    later values' and, with ``distinct_after``, those of ``distinct`` (a column goes as soon as nothing reads it)."""
    still_read = set(distinct_columns(record_set)) | {ref for preference in record_set.prefer for ref in preference.reads} \
        if distinct_after and record_set.distinct_on else set()
    after: list[set[str]] = []
    for column in reversed(output.delivered_columns):
        after.append(set(still_read))
        still_read |= _value_reads(record_set, column)
    return after[::-1]


def _value_reads(record_set: RecordSet, column: str) -> set[str]:
    spec = record_set.values.get(column)
    return set(value_columns(spec)) if spec else set()


def _keep_only(frame: pd.DataFrame, columns: set[str]) -> None:
    """Drop the other columns of ``frame`` (in place), unless one of ``columns`` is unknown: its error lists them."""
    if columns <= set(frame.columns):
        frame.drop(columns=[name for name in frame.columns if name not in columns], inplace=True)


def _filtered(frame: pd.DataFrame, mask: pd.Series) -> pd.DataFrame:
    """``frame[mask]``, moved a column at a time (and not copied at all when every row stays); the kept rows'
    index is made once, where each column filtered by the mask would make its own."""
    keep = mask.to_numpy(dtype=bool)
    if keep.all():
        return frame
    index = frame.index[keep]
    result = pd.DataFrame(index=index)
    for column in list(frame.columns):
        result[column] = pd.Series(frame.pop(column).array[keep], index=index, copy=False)
    return result


def _reordered(frame: pd.DataFrame, positions, constants: dict[str, str] | None = None) -> pd.DataFrame:
    """``frame.iloc[positions]`` with a fresh index, moved a column at a time (a whole copy of a file's millions of
    rows next to the original would double the build's memory); the ``constants`` columns are made anew."""
    result = pd.DataFrame(index=pd.RangeIndex(len(positions)))
    for column in list(frame.columns):
        if constants and column in constants:
            del frame[column]
            result[column] = repeated_text(constants[column], result.index)
        else:
            result[column] = frame.pop(column).take(positions).reset_index(drop=True)
    return result


def _explode(frame: pd.DataFrame, table: str, column: str, alias: str, where: str,
             conditions: tuple[Condition, ...] = (), run_date: date | None = None, run: RunValues | None = None,
             ) -> pd.DataFrame:
    """One row per element of a list column, the element's fields as ``alias.Field``. The fields the Aeries
    registry knows are always there (blank when no row has them: e.g. a pre-v5 server's sections have no
    SectionStaffMembers), so conditions and lookups on them work whatever the server sent.

    With ``conditions`` (``explode.where``), only the elements that meet them are kept; a row none of whose
    elements does is kept once with blank fields, as a row with an empty list (a section whose staff members
    have all left still becomes a class, without a teacher, where the output's checks can name it)."""
    if column not in frame.columns:
        raise MappingError(f"{where}.column: column {column!r} does not exist")
    rows = frame.explode(column)
    origin = pd.Series(rows.index.to_numpy())
    rows = rows.reset_index(drop=True)
    elements = rows[column].map(lambda item: item if isinstance(item, dict) else {})
    fields = pd.DataFrame(elements.tolist(), index=rows.index)
    known = TABLES[table].column_type(column) if table in TABLES else None
    for name in (known or {}).get("list", {}) if isinstance(known, dict) else ():
        if name not in fields.columns:
            fields[name] = None
    fields.columns = [f"{alias}.{name}" for name in fields.columns]
    exploded = pd.concat([rows.drop(columns=[column]), fields], axis=1)
    if not conditions:
        return exploded
    met = conditions_mask(exploded, conditions, f"{where}.where", run_date, run)
    none_met = ~origin.isin(set(origin[met]))
    kept_blank = none_met & ~origin.duplicated()
    blank = kept_blank.to_numpy()
    if blank.any():
        for name in fields.columns:
            exploded[name] = exploded[name].astype(object).where(~blank, None)
    return exploded[(met | kept_blank).to_numpy()].reset_index(drop=True)


def _table(tables: dict[str, pd.DataFrame], name: str, where: str) -> pd.DataFrame:
    try:
        return tables[name]
    except KeyError:
        raise MappingError(f"{where}: table {name!r} was not extracted; add it to source.tables") from None


def _tables_of(record_set: RecordSet) -> set[str]:
    return ({record_set.table} if record_set.table else set()) | {lookup.table for lookup in record_set.lookups}




def _join_lookup(frame: pd.DataFrame, lookup: Lookup, tables: dict[str, pd.DataFrame], where: str,
                 read: set[str] | None = None, run_date: date | None = None, run: RunValues | None = None,
                 ) -> pd.DataFrame:
    """``frame`` with the first matching row of the lookup's table (in ``prefer``'s order, then the table's), its
    columns named ``alias.Column``; only
    the columns in ``read`` are joined (a roster joined with all of a student's columns would not fit in memory)."""
    other = _table(tables, lookup.table, f"{where}.table")
    other = other[conditions_mask(other, lookup.where, f"{where}.where", run_date, run)]
    preferred = preferred_order(other, lookup.prefer, f"{where}.prefer", run_date, run) if lookup.prefer else None
    prefix = f"{lookup.alias}."
    if read is not None and all(ref[len(prefix):] in other.columns for ref in read if ref.startswith(prefix)):
        # (with an unknown column, everything is joined so that the error can list the lookup's columns)
        other = other[[c for c in other.columns if prefix + c in read or c in lookup.on.values()]]
    theirs = [_key_codes(other, column, f"{where}.on.{name}") for name, column in lookup.on.items()]
    mine = (_key_codes(frame, column, f"{where}.on") for column in lookup.on)  # (one key's numbers at a time)
    # the position in ``other`` of each row's first match (-1: none): only the looked-up columns are copied
    rows = _first_matches(mine, theirs, preferred, len(frame), len(other))
    looked_up = {
        f"{prefix}{column}": pd.Series(pd.api.extensions.take(other[column].array, rows, allow_fill=True), index=frame.index)
        for column in other.columns
    }
    return frame.assign(**looked_up)


def _first_of_each(frame: pd.DataFrame, record_set: RecordSet, where: str, run: RunValues) -> np.ndarray:
    """Per row of ``frame``, whether ``distinct`` keeps it: the first row of each ``distinct.on`` key (its values
    trimmed) in ``prefer``'s order, then the frame's. The keys are numbered rather than copied, and the rows that
    share them found on those numbers (:mod:`aeries_hub.row_keys`)."""
    def key_codes():
        for i, ref in enumerate(record_set.distinct_on):
            if isinstance(ref, str):
                values = read_column(frame, ref, f"{where}.on[{i}]")
            else:
                values = ref.text_values(frame, run, f"{where}.on[{i}].expr")
            codes, distinct = _trimmed_codes(values)
            yield codes, len(distinct)

    group = combined_codes(key_codes(), len(frame))
    kept = ~shares_a_key(group)
    shared = np.flatnonzero(~kept)  # the rows whose key another row has: only these are put in order
    if len(shared):
        order = np.arange(len(shared))
        if record_set.prefer:
            keys, ascending = preference_keys(frame, record_set.prefer, f"{where}.prefer", run.conditions_date, run)
            keys = keys.iloc[shared].reset_index(drop=True)
            order = keys.sort_values(list(keys.columns), ascending=ascending, kind="mergesort").index.to_numpy()
        _, first = np.unique(group[shared[order]], return_index=True)
        kept[shared[order[first]]] = True
    return kept


def _key_codes(frame: pd.DataFrame, ref: str, where: str) -> tuple[np.ndarray, pd.Index]:
    """:func:`_trimmed_codes` of column ``ref`` (a missing column: the error that lists the columns)."""
    if ref not in frame.columns:
        read_column(frame, ref, where)
    return _trimmed_codes(frame[ref])


def _trimmed_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Each row's number among the distinct ``values`` read as text and trimmed, and those texts: only the distinct
    values become text (a roster's key columns are millions of rows of a few thousand values)."""
    codes, distinct = pd.factorize(values, use_na_sentinel=False)
    trimmed_codes, trimmed = pd.factorize(text(pd.Series(distinct)).str.strip(), use_na_sentinel=False)
    return np.asarray(trimmed_codes)[codes], pd.Index(trimmed)


def _first_matches(mine: Iterable[tuple[np.ndarray, pd.Index]], theirs: list[tuple[np.ndarray, pd.Index]],
                   preferred: np.ndarray | None, mine_rows: int, their_rows: int) -> np.ndarray:
    """For each of ``mine_rows``, the position among ``their_rows`` of the first row (in ``preferred`` order, else
    theirs) whose every key (:func:`_key_codes`) equals its own, -1 where none does. A blank key identifies
    nothing (a Flex school's teachers have no TeacherNumber, nor a section its TeacherNumber1). The keys are matched
    as numbers: each pair's values are numbered by their side's distinct values, the pairs' numbers combined."""
    mine_key = np.zeros(mine_rows, dtype=np.int64)
    mine_lost = np.zeros(mine_rows, dtype=bool)  # a value none of theirs has
    their_key = np.zeros(their_rows, dtype=np.int64)
    their_blank = np.zeros(their_rows, dtype=bool)
    for (mine_codes, mine_values), (their_codes, their_values) in zip(mine, theirs):
        mine_codes = their_values.get_indexer(mine_values)[mine_codes]
        mine_lost |= mine_codes < 0
        their_blank |= np.asarray(their_values == "", dtype=bool)[their_codes] if their_rows else their_blank
        width = max(len(their_values), 1)
        their_key, numbers = pd.factorize(their_key * width + their_codes)
        mine_key *= width
        mine_key += np.maximum(mine_codes, 0, out=mine_codes)
        del mine_codes
        mine_key = pd.Index(numbers).get_indexer(mine_key)  # (-1: a combination none of theirs has)
        mine_lost |= mine_key < 0
        np.maximum(mine_key, 0, out=mine_key)
    order = np.arange(their_rows) if preferred is None else np.asarray(preferred, dtype=np.int64)
    order = order[~their_blank[order]]
    keys, first = np.unique(their_key[order], return_index=True)
    first_row = np.full(int(their_key.max()) + 1 if their_rows else 1, -1, dtype=np.int64)
    first_row[keys] = order[first]
    rows = first_row[mine_key] if their_rows else np.full(mine_rows, -1, dtype=np.int64)
    rows[mine_lost] = -1
    return rows


def _distinct(frame: pd.DataFrame, out: pd.DataFrame, record_set: RecordSet, where: str,
              run: RunValues | None = None) -> tuple[pd.DataFrame, int]:
    """One output row per ``distinct.on`` key: the preferred row's values, and for ``collect`` columns
    the distinct non-blank values of every merged row (preferred first) joined with the separator."""
    keys, ascending = preference_keys(frame, record_set.prefer, f"{where}.prefer",
                                       run.conditions_date if run else None, run)
    sort_columns = list(keys.columns)
    on = []
    for i, ref in enumerate(record_set.distinct_on):
        if isinstance(ref, str):
            keys[f"__on{i}"] = read_column(frame, ref, f"{where}.on[{i}]").str.strip()
        else:
            keys[f"__on{i}"] = ref.text_values(frame, run, f"{where}.on[{i}].expr").str.strip()
        on.append(f"__on{i}")
    ordered = keys.sort_values(sort_columns, ascending=ascending, kind="mergesort") if sort_columns else keys
    first = ordered.drop_duplicates(subset=on, keep="first")
    collected = {}
    if record_set.collect:
        groups = ordered.groupby(on, sort=False).ngroup()
        for column, separator in record_set.collect.items():
            parts = pd.DataFrame({"group": groups, "value": out.loc[ordered.index, column].str.strip()})
            parts = parts[parts["value"].ne("")].drop_duplicates()
            collected[column] = groups.loc[first.index].map(_joined_per_group(parts["group"], parts["value"], separator))
    rows = len(out)
    result = _filtered(out, pd.Series(out.index.isin(first.index), index=out.index))
    for column, values in collected.items():
        result[column] = values.reindex(result.index).astype(TEXT).fillna("")
    return result, rows - len(result)


def _joined_per_group(groups: pd.Series, values: pd.Series, separator: str) -> pd.Series:
    """Each group's values in the order given, joined with ``separator`` (by group number), in Arrow."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = pa.table({"group": pa.array(groups.to_numpy()), "value": arrow_text(values)})
    listed = table.group_by("group", use_threads=False).aggregate([("value", "list")])  # keeps the given order
    joined = pc.binary_join(listed["value_list"], pa.scalar(separator, pa.large_string()))
    return pd.Series(joined.to_pylist(), index=listed["group"].to_pylist(), dtype=TEXT)


