"""Helper columns: how a check is handed to Great Expectations when the check says more than GX can test,
or GX would test it slowly. Applied to a working copy of the frame (the caller's frame is never modified):

* ``ignore_blank``: the check runs on a helper column ``<column> (blank as null)`` where null, empty and
  whitespace-only strings are null; GX column-map expectations do not test nulls.
* ``value_set_from``: the distinct non-null values of ``tables[table][column]``. A text column, or a set of more
  than ``INLINE_VALUE_SET_LIMIT`` values, is tested through a membership helper column
  ``<column> in <table>.<column>`` (True/False, null where the value is null) with ``value_set: [True]``: GX 1.24
  re-serialises an expectation's arguments some hundred times per validation, which takes ~10 s for a
  100,000-value set. Smaller sets of other columns are passed to GX as ``value_set``.
* ``expect_column_values_to_be_in_set`` with a literal set of text, on a text column: the membership helper
  ``<column> in [...]``, tested in Arrow.
* ``expect_column_distinct_values_to_contain_set`` with ``value_set_from``: the values the column lacks are found
  here (:func:`holds_every`), on the rows the reject checks left; GX tests a column of False against an empty set
  (passes) or ``[True]`` (fails).
* ``expect_column_values_to_match_regex`` and ``..._not_match_regex`` on text: ``<column> matches <regex>``, each
  distinct value searched once with Python's ``re``, as GX searches it (which would make a Python string of every
  row: pandas cannot hand ``\\d`` or ``\\S`` to Arrow's RE2).
* ``split`` (with ``value_set_from``): a cell holds several values separated by ``split``; the membership
  helper ``<column> (each) in <table>.<column>`` is True where every non-blank part is in the set.
* ``rows_where`` (single-column checks): the check tests a helper column ``<column> where <other> in [...]``,
  null on the rows whose ``<other>`` is not one of the values.
* ``expect_column_values_to_match_strftime_format``: GX parses each row with ``datetime.strptime``; here each
  distinct value is parsed once, the same way, into a helper column ``<column> matches <format>``
  (True/False, null where the value is null) that GX tests with ``value_set: [True]``. GX still checks the
  expectation's own arguments; a column with non-text values is left to GX's own implementation.
* a pair check with ``value_set_from``: the membership helper ``(<a>, <b>) in <table>.(<a>, <b>)``.

Rows are identified by position: GX sees a frame with a fresh RangeIndex, and only the columns the checks use.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from aeries_hub.quality.checks import COLUMN_MAP, COLUMN_PAIR_MAP, Check, CheckConfigError
from aeries_hub.quality.row_flags import (
    all_text,
    blank_mask,
    compound_unique_flags,
    each_in,
    is_arrow_text,
    is_in,
    matches_strftime,
    meets_regex,
    membership,
    unique_flags,
)

INLINE_VALUE_SET_LIMIT = 1000
#: Table expectations that look at the frame's columns; with none of these the runner hands GX only the
#: columns the checks use (less to copy and fingerprint).
_SHAPE_EXPECTATIONS = (
    "expect_table_column_count_to_be_between",
    "expect_table_column_count_to_equal",
    "expect_table_columns_to_match_ordered_list",
    "expect_table_columns_to_match_set",
    "expect_column_to_exist",
)
_STRFTIME = "expect_column_values_to_match_strftime_format"
_UNIQUE = "expect_column_values_to_be_unique"
_COMPOUND_UNIQUE = "expect_compound_columns_to_be_unique"
_IN_SET = "expect_column_values_to_be_in_set"
_CONTAINS = "expect_column_distinct_values_to_contain_set"
_MATCH_REGEX = "expect_column_values_to_match_regex"
#: The regex expectations tested on a helper column, and the word in its name.
_REGEX = {_MATCH_REGEX: "matches", "expect_column_values_to_not_match_regex": "does not match"}


@dataclass
class ExpectationSpec:
    """How one check is handed to GX: the expectation, the column GX tests and the resolved arguments."""

    expectation: str
    kwargs: dict[str, Any]
    #: When a helper column stands in for the check: the check's own arguments, for GX to check them.
    own_kwargs: dict[str, Any] | None = None
    #: The column a check across rows was settled from here (:func:`holds_every`), for the runner to settle it
    #: again on the rows its reject checks left.
    source_column: str | None = None


def prepare_frame(df: pd.DataFrame, checks: list[Check], ids: list[int], tables: Mapping[str, pd.DataFrame]):
    """The frame GX sees (RangeIndex, needed columns, helper columns) and each check's GX arguments."""
    if any(checks[i].expectation in _SHAPE_EXPECTATIONS for i in ids):
        needed = list(df.columns)
    else:
        used = {c for i in ids for c in checks[i].reads}
        needed = [c for c in df.columns if c in used]
        if not needed and len(df.columns):
            needed = [df.columns[0]]  # keep the row count
    work = columns_of(df, needed)
    helpers: dict[str, pd.Series] = {}
    # the last column read with blanks as null: most checks only derive a True/False helper from it (a copy of a
    # text column of every row, which GX is not handed), and a column's checks come one after the other
    blank_as_null: dict[str, pd.Series] = {}
    read_with_blanks: dict[str, str] = {}  # each "<column> (blank as null)" and its column
    specs: dict[int, ExpectationSpec] = {}
    for i in ids:
        check = checks[i]
        if check.rule is not None:
            specs[i] = rule_spec(check, work, tables, helpers)
            continue
        expectation = check.expectation
        kwargs = dict(check.kwargs)
        ref = check.value_set_from
        if check.rows_where:
            on, wanted = check.rows_where
            column = kwargs["column"]
            kwargs["column"] = f"{column} where {on} in {list(wanted)}"
            if kwargs["column"] not in helpers:
                tested = work[on].astype("string").str.strip().isin(wanted).fillna(False).to_numpy(dtype=bool)
                helpers[kwargs["column"]] = work[column].where(tested)
        if check.kind == COLUMN_MAP:
            column = kwargs["column"]
            values = helpers.get(column, work.get(column))
            if check.ignore_blank:
                kwargs["column"] = f"{column} (blank as null)"
                read_with_blanks[kwargs["column"]] = column
                if kwargs["column"] in helpers:
                    values = helpers[kwargs["column"]]
                else:
                    if kwargs["column"] not in blank_as_null:
                        blank_as_null = {kwargs["column"]: values.mask(blank_mask(values))}
                    values = blank_as_null[kwargs["column"]]
            if ref is not None and check.split:
                helper = f"{kwargs['column']} (each) in {ref}"
                if helper not in helpers:
                    helpers[helper] = each_in(values, check.split, reference_values(check, tables))
                kwargs.update(column=helper, value_set=[True])
            elif ref is not None:
                allowed = _reference_frame(check, tables).iloc[:, 0]
                if len(allowed) <= INLINE_VALUE_SET_LIMIT and not is_arrow_text(values):
                    kwargs["value_set"] = _plain_list(allowed.to_numpy())
                else:
                    helper = f"{kwargs['column']} in {ref}"
                    if helper not in helpers:
                        helpers[helper] = membership(is_in(values, allowed), values.isna())
                    kwargs.update(column=helper, value_set=[True])
            elif expectation == _IN_SET and is_arrow_text(values) and all_text(kwargs.get("value_set")):
                # GX's domain of a column with nulls is a copy of every column of the batch without those rows:
                # a True/False column in place of a district file's text takes a ninth of the memory.
                helper = f"{kwargs['column']} in {list(kwargs['value_set'])}"
                if helper not in helpers:
                    helpers[helper] = membership(is_in(values, pd.Series(kwargs["value_set"], dtype=object)),
                                                  values.isna())
                own = dict(kwargs, column=column)
                kwargs.update(column=helper, value_set=[True])
                specs[i] = ExpectationSpec(expectation=_IN_SET, kwargs=kwargs, own_kwargs=own)
                continue
            elif expectation == _UNIQUE:
                # GX hashes every value (on a district's enrollments.csv, more memory than the file): sorting a copy
                # finds the same rows that share a value with another.
                helper = f"{kwargs['column']} is unique"
                if helper not in helpers:
                    helpers[helper] = unique_flags(values)
                own = dict(kwargs)
                kwargs.update(column=helper, value_set=[True])
                specs[i] = ExpectationSpec(expectation=_IN_SET, kwargs=kwargs, own_kwargs=own)
                continue
            elif expectation in _REGEX and isinstance(kwargs.get("regex"), str):
                # GX turns the column into a Python string per row (a district's enrollments.csv: 200 MB a column,
                # its build's peak) and searches each: here a slice of rows at a time, each distinct value once.
                helper = f"{kwargs['column']} {_REGEX[expectation]} {kwargs['regex']}"
                if helper not in helpers:
                    meets = meets_regex(values, kwargs["regex"], match=expectation == _MATCH_REGEX)
                    if meets is not None:  # else a value is not text: GX's own check says so
                        helpers[helper] = meets
                if helper in helpers:
                    own = dict(kwargs, column=column)
                    kwargs = {k: v for k, v in kwargs.items() if k != "regex"}
                    kwargs.update(column=helper, value_set=[True])
                    specs[i] = ExpectationSpec(expectation=_IN_SET, kwargs=kwargs,
                                               own_kwargs=own)
                    continue
            elif expectation == _STRFTIME and isinstance(kwargs.get("strftime_format"), str):
                # GX parses every row with datetime.strptime (~30 s a million rows); dates repeat, so parse each
                # distinct value once, the same way, and let GX check the result column.
                fmt = kwargs["strftime_format"]
                helper = f"{kwargs['column']} matches {fmt}"
                if helper not in helpers:
                    matches = matches_strftime(values, fmt)
                    if matches is not None:  # else a value is not text: GX's own check says so
                        helpers[helper] = matches
                if helper in helpers:
                    own = dict(kwargs, column=column)
                    expectation = _IN_SET
                    kwargs = {k: v for k, v in kwargs.items() if k != "strftime_format"}
                    kwargs.update(column=helper, value_set=[True])
                    specs[i] = ExpectationSpec(expectation=expectation, kwargs=kwargs, own_kwargs=own)
                    continue
        elif expectation == _COMPOUND_UNIQUE and "column_list" in kwargs:
            # GX's pandas `duplicated` hashes every combination of the columns (3.1 million schedule rows: the peak of
            # validate_sources); the same rows are found on the sorted combinations
            helper = _unique_helper_name(kwargs)
            if helper not in helpers:
                flags = _compound_unique(work, kwargs)
                if flags is not None:  # else GX tests it itself
                    helpers[helper] = flags
            if helper in helpers:
                own = dict(kwargs)
                kwargs = {"column": helper, "value_set": [True], **{k: v for k, v in kwargs.items() if k == "mostly"}}
                specs[i] = ExpectationSpec(expectation=_IN_SET, kwargs=kwargs, own_kwargs=own)
                continue
        elif ref is not None and check.kind == COLUMN_PAIR_MAP:
            # GX's pandas implementation of the pair check walks the rows one by one: test membership here
            # and let GX check the result column (same rows fail, null pairs are not tested).
            a, b = kwargs["column_A"], kwargs["column_B"]
            helper = f"({a}, {b}) in {ref}"
            if helper not in helpers:
                allowed = _reference_frame(check, tables)
                pairs = pd.MultiIndex.from_arrays([work[a], work[b]])
                missing = (work[a].isna() | work[b].isna()).to_numpy()
                helpers[helper] = membership(pairs.isin(pd.MultiIndex.from_frame(allowed)), missing)
            expectation = _IN_SET
            kwargs = {"column": helper, "value_set": [True]}
        elif ref is not None and expectation == _CONTAINS:
            # compared here: GX would be handed every value of the other file inline (197,659 classes at 500,000
            # students, serialised again and again with the expectation) and a text column of every row to count
            column = kwargs["column"]
            values = helpers.get(column, work.get(column))
            helper = f"{column} holds every {ref}"
            helpers.setdefault(helper, pd.Series(np.zeros(len(work), dtype=bool)))
            specs[i] = ExpectationSpec(expectation=_CONTAINS, kwargs={"column": helper, "value_set": []},
                                       source_column=column)
            holds_every(specs[i], values, check, tables)
            continue
        elif ref is not None:
            kwargs["value_set"] = _plain_list(reference_values(check, tables))
        specs[i] = ExpectationSpec(expectation=expectation, kwargs=kwargs)
    tested = {spec.kwargs.get(key) for spec in specs.values() for key in ("column", "column_A", "column_B")}
    tested |= {spec.own_kwargs.get("column") for spec in specs.values() if spec.own_kwargs}
    tested |= {spec.source_column for spec in specs.values()}
    for name in [name for name in read_with_blanks if name in tested and name not in helpers]:  # GX tests it
        values = helpers.get(read_with_blanks[name], work.get(read_with_blanks[name]))
        helpers[name] = blank_as_null[name] if name in blank_as_null else values.mask(blank_mask(values))
    helpers = {name: values for name, values in helpers.items() if name in tested}  # (not those others came from)
    if helpers:
        work = pd.concat([work, pd.DataFrame(helpers, copy=False)], axis=1, copy=False)
    return work, specs


def holds_every(spec: ExpectationSpec, values: pd.Series, check: Check, tables: Mapping[str, pd.DataFrame]) -> list[str]:
    """``expect_column_distinct_values_to_contain_set`` with ``value_set_from``, settled here: the values of the
    other table that ``values`` lack (nulls are no value, as GX skips them), in that table's order. GX is left to
    test a column of False against an empty set (passes) when none is missing, else against ``[True]`` (fails)."""
    found = set(map(str, pd.unique(values.dropna())))
    missing = [value for value in map(str, reference_values(check, tables)) if value not in found]
    spec.kwargs["value_set"] = [True] if missing else []
    return missing


def unique_flags_of(rows: pd.DataFrame, own_kwargs: Mapping[str, Any]) -> pd.Series | None:
    """The helper column of a uniqueness check (its own arguments ``own_kwargs``) over ``rows``: one column's
    (:func:`~aeries_hub.quality.row_flags.unique_flags`) or several columns' together; None when GX is to test it
    itself (values it cannot number)."""
    if "column" in own_kwargs:
        return unique_flags(rows[own_kwargs["column"]])
    return _compound_unique(rows, own_kwargs)


def _compound_unique(rows: pd.DataFrame, kwargs: Mapping[str, Any]) -> pd.Series | None:
    columns = list(kwargs.get("column_list") or ())
    if not columns or not set(columns) <= set(rows.columns) or len(set(columns)) < len(columns):
        return None
    try:
        return compound_unique_flags(columns_of(rows, columns), kwargs.get("ignore_row_if", "all_values_are_missing"))
    except (TypeError, KeyError):  # unhashable values (lists), an unknown ignore_row_if: GX's own check says so
        return None


def _unique_helper_name(kwargs: Mapping[str, Any]) -> str:
    name = f"({', '.join(map(str, kwargs['column_list']))}) is unique"
    return name + (f" ({kwargs['ignore_row_if']})" if "ignore_row_if" in kwargs else "")


def rule_spec(check: Check, rows: pd.DataFrame, tables: Mapping[str, pd.DataFrame],
              helpers: dict[str, pd.Series]) -> ExpectationSpec:
    """A rule across rows or files (:mod:`aeries_hub.mapping.row_rules`) as the helper column ``<its label>``:
    True where ``rows``' row meets it, null where it is not tested; GX tests it with ``value_set: [True]``."""
    helper = check.rule.label
    if helper not in helpers:
        helpers[helper] = rule_column(check, rows, tables)
    return ExpectationSpec(expectation=_IN_SET, kwargs={"column": helper, "value_set": [True]})


def rule_column(check: Check, rows: pd.DataFrame, tables: Mapping[str, pd.DataFrame]) -> pd.Series:
    """True/False per row of ``rows`` (a RangeIndex), whether it meets the check's rule; null where not tested."""
    return membership(*check.rule.meets(rows, tables))


def phase_frame(work: pd.DataFrame, checks: list[Check], ids: list[int], specs: dict[int, ExpectationSpec]) -> pd.DataFrame:
    """The columns of ``work`` that these checks test (all of them for a check on the table's columns): GX
    copies the batch's every column when it filters rows for a check, and keeps what it computed for each."""
    if any(checks[i].expectation in _SHAPE_EXPECTATIONS for i in ids):
        return work
    used: set[str] = set()
    for i in ids:
        kwargs = specs[i].kwargs
        used.update(kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs)
        used.update(kwargs.get("column_list") or ())
    columns = [c for c in work.columns if c in used] or list(work.columns[:1])  # keep the row count
    return work if len(columns) == len(work.columns) else columns_of(work, columns)


def columns_of(frame: pd.DataFrame, columns: list) -> pd.DataFrame:
    """``frame[columns]`` with a fresh RangeIndex, sharing the columns' data: no copy of a column of millions of
    rows (a new column set on the result is the result's alone)."""
    if not frame.columns.is_unique:
        return frame[columns].reset_index(drop=True)
    return pd.DataFrame({column: frame[column].array for column in columns}, index=pd.RangeIndex(len(frame)), copy=False)


def shared_values(df: pd.DataFrame, positions: np.ndarray, work: pd.DataFrame, spec: ExpectationSpec,
                   check: Check, id_columns: Sequence[str]) -> list[dict[str, Any]]:
    """The values of a failed uniqueness check that several rows share, in the order they first occur, each with
    how many rows share it and their ids. The rows are the ones GX tested (``work``'s at ``positions``, blanks as
    null with ``ignore_blank``), skipped as GX skips them: a null value, or for a compound check its
    ``ignore_row_if``."""
    kwargs = spec.own_kwargs or spec.kwargs
    tested = list(kwargs["column_list"]) if "column_list" in kwargs else [kwargs["column"]]
    gate_frame = columns_of(work, tested)
    if len(positions) != len(work):
        gate_frame = gate_frame.iloc[positions].reset_index(drop=True)
    missing = gate_frame[tested].isna()
    skip = kwargs.get("ignore_row_if", "all_values_are_missing") if len(tested) > 1 else "any_value_is_missing"
    skipped = {"all_values_are_missing": missing.all(axis=1), "any_value_is_missing": missing.any(axis=1),
               "never": pd.Series(False, index=missing.index)}[skip]
    values = gate_frame.loc[~skipped, tested]
    repeated = values[values.duplicated(keep=False)]
    named_by = [c for c in id_columns if c in df.columns and c not in check.columns] or \
        [c for c in id_columns if c in df.columns]
    shared = []
    for gate_rows in repeated.groupby(tested, sort=False, dropna=False).indices.values():
        rows = df.iloc[positions[repeated.index[gate_rows]]]
        first = rows.iloc[0]
        shared.append({
            "values": {column: plain(first[column]) for column in check.columns},
            "count": len(rows),
            "ids": ["/".join(str(plain(row[c])) for c in named_by) for _, row in rows.iterrows()] if named_by else [],
        })
    return shared


def _reference_frame(check: Check, tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The distinct, complete rows of the referenced column(s)."""
    ref = check.value_set_from
    assert ref is not None
    if ref.table not in tables:
        given = ", ".join(sorted(tables)) or "none"
        raise CheckConfigError(f"{check.where}.value_set_from: table {ref.table!r} was not given to the runner "
                               f"(tables given: {given})")
    frame = tables[ref.table]
    absent = [c for c in ref.columns if c not in frame.columns]
    if absent:
        raise CheckConfigError(f"{check.where}.value_set_from: table {ref.table!r} has no column {absent[0]!r}")
    return frame[list(ref.columns)].dropna().drop_duplicates()


def reference_values(check: Check, tables: Mapping[str, pd.DataFrame]) -> np.ndarray:
    return _reference_frame(check, tables).iloc[:, 0].to_numpy()


def _plain_list(values: Iterable[Any]) -> list[Any]:
    items = [plain(v) for v in values]
    try:
        return sorted(items)
    except TypeError:
        return items


def plain(value: Any) -> Any:
    """A JSON-able Python value (numpy scalars, NA, timestamps, tuples...): for GX arguments and report samples."""
    if value is None:
        return None
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, (str, int, bool)):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, (pd.Timestamp, _dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
