"""True/False per row, computed outside Great Expectations for a helper column (:mod:`aeries_hub.quality.helpers`)
that GX then tests with ``value_set: [True]``: each the same rows GX's own test would find, null where GX would not
test the value, in Arrow or once per distinct value where GX would make a Python object of every row."""

from __future__ import annotations

import datetime as _dt

import numpy as np
import pandas as pd

#: Rows whose regex search runs at a time (their Python strings live only that long).
REGEX_SLICE_ROWS = 1 << 16
#: Sorted values compared at a time when uniqueness is tested (the copy of a sorted district file's key would be
#: 70 MB at 500,000 students).
UNIQUE_SLICE_ROWS = 1 << 18


def unique_flags(values: pd.Series) -> pd.Series:
    """True where no other row holds the value, null where the value is null (GX does not test nulls). Text in Arrow
    is sorted (a copy of the values and a position per row) rather than hashed; other columns as GX tests them."""
    missing = values.isna().to_numpy(dtype=bool)
    if not is_arrow_text(values) or len(values) < 2:
        return membership(~(values.duplicated(keep=False).to_numpy(dtype=bool) & ~missing), missing)
    import pyarrow as pa
    import pyarrow.compute as pc

    array = pa.array(values.array)
    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    order = pc.sort_indices(array).to_numpy()
    shared = np.zeros(len(values), dtype=bool)  # in sorted order: the value is the one before or after it
    for start in range(0, len(order) - 1, UNIQUE_SLICE_ROWS):  # the sorted values a slice at a time, not a copy
        ordered = array.take(order[start:start + UNIQUE_SLICE_ROWS + 1])  # (and the next slice's first)
        same_as_next = pc.fill_null(pc.equal(ordered.slice(0, len(ordered) - 1), ordered.slice(1)), False)
        same_as_next = same_as_next.to_numpy(zero_copy_only=False)
        shared[start:start + len(same_as_next)] |= same_as_next
        shared[start + 1:start + 1 + len(same_as_next)] |= same_as_next
    unique = np.empty(len(values), dtype=bool)
    unique[order] = ~shared
    return membership(unique, missing)


def compound_unique_flags(rows: pd.DataFrame, ignore_row_if: str) -> pd.Series:
    """True where no other tested row holds the same values in every column of ``rows``, null where the row is not
    tested, as GX's ``expect_compound_columns_to_be_unique`` finds them: ``ignore_row_if`` leaves out a row whose
    every value (``all_values_are_missing``) or any value (``any_value_is_missing``) is missing, or none (``never``);
    missing values equal one another (pandas' ``duplicated``). The values are numbered and the rows that share a
    combination found sorted (:mod:`aeries_hub.row_keys`), where pandas hashes every combination."""
    from aeries_hub.row_keys import combined_codes, shares_a_key

    missing = rows.isna().to_numpy(dtype=bool)
    skipped = {"all_values_are_missing": missing.all(axis=1), "any_value_is_missing": missing.any(axis=1),
               "never": np.zeros(len(rows), dtype=bool)}[ignore_row_if]
    tested = np.flatnonzero(~skipped)

    def numbered():
        for column in rows.columns:
            values = rows[column].array
            codes, distinct = pd.factorize(values[tested] if len(tested) < len(rows) else values)
            yield np.asarray(codes, dtype=np.int64) + 1, len(distinct) + 1  # a missing value is -1: 0 here

    unique = np.zeros(len(rows), dtype=bool)
    unique[tested] = ~shares_a_key(combined_codes(numbered(), len(tested)))
    return membership(unique, skipped)


def meets_regex(values: pd.Series, regex: str, *, match: bool) -> pd.Series | None:
    """True where ``re.search(regex, value)`` finds the pattern (``match``) or does not (not ``match``), as GX
    tests it (``str.contains``); null where the value is null; None when a value is not a string (GX then reports
    its own error). Text in Arrow is searched a slice of rows at a time, each slice's distinct values once."""
    import re

    search = re.compile(regex).search
    missing = values.isna().to_numpy(dtype=bool)
    if not is_arrow_text(values):
        if not all(isinstance(value, str) for value in values[~missing]):
            return None
        return membership([skip or (search(value) is not None) == match for value, skip in zip(values, missing)],
                          missing)
    import pyarrow as pa

    array = pa.array(values.array)
    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    meets = np.zeros(len(values), dtype=bool)
    for start in range(0, len(array), REGEX_SLICE_ROWS):
        encoded = array.slice(start, REGEX_SLICE_ROWS).dictionary_encode()
        distinct = np.fromiter(((search(value) is not None) == match for value in encoded.dictionary.to_pylist()),
                               dtype=bool, count=len(encoded.dictionary))
        indices = encoded.indices.fill_null(0).to_numpy(zero_copy_only=False)
        meets[start:start + len(indices)] = distinct[indices] if len(distinct) else False
    return membership(meets, missing)


def matches_strftime(values: pd.Series, fmt: str) -> pd.Series | None:
    """True where ``datetime.strptime(value, fmt)`` parses the value, as GX tests it, null where the value is
    null; None when a value is not a string (GX then reports its own error)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    parsed = np.empty(len(uniques), dtype=bool)
    for n, value in enumerate(uniques):
        if not isinstance(value, str):
            return None
        try:
            _dt.datetime.strptime(value, fmt)  # noqa: DTZ007 (only whether it parses)
            parsed[n] = True
        except ValueError:
            parsed[n] = False
    codes = np.asarray(codes)
    missing = codes < 0
    return membership(parsed[np.where(missing, 0, codes)] if len(uniques) else np.zeros(len(codes), dtype=bool),
                       missing)


def each_in(values: pd.Series, separator: str, allowed) -> pd.Series:
    """True where every non-blank part of the cell is allowed; null where the cell is null."""
    parts = values.astype("string").str.split(separator, regex=False).explode().str.strip()
    parts = parts[parts.notna() & parts.ne("")]
    bad_rows = parts.index[~parts.isin(pd.Index(allowed).astype(str))].unique()
    member = np.ones(len(values), dtype=bool)
    member[np.asarray(values.index.get_indexer(bad_rows), dtype=np.int64)] = False
    return membership(member, values.isna().to_numpy())


def is_in(values: pd.Series, allowed: pd.Series) -> np.ndarray:
    """Per value, whether ``allowed`` holds it: in Arrow when both are text (pandas makes a Python object of every
    allowed value: a district's users, half a million)."""
    if is_arrow_text(values) and (is_arrow_text(allowed) or all_text(allowed)):
        import pyarrow as pa
        import pyarrow.compute as pc

        from aeries_hub.mapping.text import arrow_text

        value_set = arrow_text(allowed).combine_chunks() if is_arrow_text(allowed) else pa.array(list(allowed),
                                                                                               pa.large_string())
        return pc.is_in(arrow_text(values), value_set=value_set, skip_nulls=True).to_numpy().astype(bool, copy=False)
    return values.isin(allowed.to_numpy()).to_numpy(dtype=bool)


def is_arrow_text(values: pd.Series) -> bool:
    return isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"


def all_text(values) -> bool:
    return values is not None and all(isinstance(value, str) for value in values)


def membership(member, missing) -> pd.Series:
    """True/False per row, null where the tested value is null (GX does not test nulls). Without nulls, NumPy's
    bool: a byte a row, where a nullable column takes two (GX copies a batch's every column for each check)."""
    missing = np.asarray(missing, dtype=bool)
    if not missing.any():
        return pd.Series(np.asarray(member, dtype=bool))
    flags = pd.array(np.asarray(member, dtype=bool), dtype="boolean")
    flags[missing] = pd.NA
    return pd.Series(flags)


def blank_mask(values: pd.Series) -> np.ndarray:
    """Null, or a string that is empty after stripping whitespace."""
    mask = values.isna().to_numpy(dtype=bool, copy=True)
    if pd.api.types.is_string_dtype(values.dtype) or values.dtype == object:
        try:
            stripped = values.str.strip()  # non-strings in an object column become NaN
        except AttributeError:  # an object column without any string
            return mask
        mask |= stripped.eq("").fillna(False).to_numpy(dtype=bool)
    return mask
