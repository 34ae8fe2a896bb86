"""Every built value is text: Aeries integers, padded codes and nulls are normalised to strings first, so that
match codes, templates and lookups behave the same whatever type Parquet stored. Blank means an empty string
after trimming; a value of only spaces (an unset Aeries code padded to its width) is read as '', so neither null
nor padding ever reaches an output file. Text is pandas' Arrow-backed string dtype; here are its helpers.
"""

from __future__ import annotations

import re

import pandas as pd

#: The dtype of every built value: pandas' Arrow-backed text.
TEXT = pd.StringDtype("pyarrow", na_value=float("nan"))


def text(series: pd.Series) -> pd.Series:
    """A column as text: nulls and values of only spaces become '', integral numbers lose their '.0'.

    Text is pandas' Arrow-backed ``str`` dtype, so the string operations of a build run in Arrow rather
    than once per cell in Python (a roster file has millions of rows).
    """
    if series.dtype == TEXT:
        result = series
    elif pd.api.types.is_bool_dtype(series.dtype):
        result = series.map({True: "true", False: "false"})
    elif pd.api.types.is_float_dtype(series.dtype):
        result = series.map(lambda v: "" if pd.isna(v) else (str(int(v)) if float(v).is_integer() else str(v)))
    elif pd.api.types.is_integer_dtype(series.dtype):
        result = series.astype("Int64").astype(TEXT)
    elif pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty"):
        result = series.astype(TEXT)
    else:
        result = series.map(_cell_text)
    result = result.astype(TEXT)
    if result.hasnans:
        result = result.fillna("")
    spaces = result.str.isspace()
    return result.where(~spaces, "") if spaces.any() else result  # text already: no copy


def _cell_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or (not isinstance(value, (list, dict)) and pd.isna(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def is_blank(values: pd.Series) -> pd.Series:
    return values.str.strip().eq("")


def arrow_text(values: pd.Series):
    """A column of text as an Arrow ``large_string`` chunked array, without a copy when it is Arrow-backed."""
    import pyarrow as pa

    array = pa.array(values.astype(TEXT).array)
    return (array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])).cast(pa.large_string())


def natural_order(values: pd.Series) -> pd.Series:
    """Sort key for text: numbers inside it compare as numbers (9 < 10, STAFF-9 < STAFF-10), the rest as text.

    Every run of digits is left-padded with zeros to 20 digits, as ``re.sub(r"\\d+", zfill(20))`` would do, or
    to the longest run of the column when that is shorter (the keys then sort the same: every run has the same
    width either way, and a digit compares with any other character as it does whatever the digit), on the
    column's Arrow buffers, a slice of rows at a time (a roster file's key has millions of values).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    texts = arrow_text(values.astype(TEXT).fillna(""))
    not_ascii = texts.filter(pc.invert(pc.string_is_ascii(texts))).to_pylist()
    if any(re.search(r"[^\x00-\x7f]", "".join(re.findall(r"\d", value))) for value in not_ascii):  # other digits
        keys = [re.sub(r"\d+", lambda m: m.group(0).zfill(20), value) for value in texts.to_pylist()]
        return pd.Series(keys, index=values.index, dtype=TEXT)
    step = 1 << 18
    slices = [chunk.slice(start, step) for chunk in texts.chunks for start in range(0, len(chunk), step)]
    width = min(20, max((_longest_digit_run(part) for part in slices), default=0))
    chunks = [_zero_padded_numbers(part, width) for part in slices]
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(chunks, pa.large_string())), index=values.index).astype(TEXT)


def natural_sort_positions(frame: pd.DataFrame, columns: list[str]):
    """The positions of ``frame``'s rows sorted by ``columns`` in their :func:`natural_order`, rows with the same
    values in the order they are (a stable sort, in Arrow: pandas would sort the keys as Python strings)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    keys = pa.table({f"key{n}": arrow_text(natural_order(frame[column])) for n, column in enumerate(columns)})
    return pc.sort_indices(keys, sort_keys=[(name, "ascending") for name in keys.column_names]).to_numpy()


def _digit_runs(texts):
    """The offsets and bytes of ``texts`` (a large_string array), and where each run of ASCII digits starts and ends."""
    import numpy as np

    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int64)[texts.offset:texts.offset + len(texts) + 1]
    data = np.frombuffer(texts.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]] if len(texts) else np.zeros(0, np.uint8)
    offsets = (offsets - offsets[0]).astype(np.int32)
    digit = (data >= ord("0")) & (data <= ord("9"))
    string_start = np.zeros(len(data) + 1, dtype=bool)
    string_start[offsets[:-1]] = True
    after_digit = np.empty_like(digit)  # a digit right before, in the same text
    after_digit[:1] = False
    after_digit[1:] = digit[:-1]
    after_digit &= ~string_start[:-1]
    run_start = np.flatnonzero(digit & ~after_digit).astype(np.int32)
    before_digit = np.empty_like(digit)  # a digit right after, in the same text
    before_digit[-1:] = False
    before_digit[:-1] = digit[1:]
    before_digit &= ~string_start[1:]
    run_end = np.flatnonzero(digit & ~before_digit).astype(np.int32) + 1
    return offsets, data, run_start, run_end


def _longest_digit_run(texts) -> int:
    _, _, run_start, run_end = _digit_runs(texts)
    return int((run_end - run_start).max()) if len(run_start) else 0


def _zero_padded_numbers(texts, width: int = 20):
    """``texts`` (a large_string array) with every run of ASCII digits left-padded with zeros to ``width``."""
    import numpy as np
    import pyarrow as pa

    offsets, data, run_start, run_end = _digit_runs(texts)
    pads = np.maximum(0, width - (run_end - run_start)).astype(np.int32)
    shift = np.zeros(len(data), dtype=np.int32)
    shift[run_start] = pads
    np.cumsum(shift, out=shift)
    shift += np.arange(len(data), dtype=np.int32)
    padded = np.full(len(data) + int(pads.sum()), ord("0"), dtype=np.uint8)
    padded[shift] = data
    added = np.bincount(np.searchsorted(offsets, run_start, side="right") - 1, weights=pads, minlength=len(texts))
    new_offsets = np.concatenate(([0], np.cumsum(added.astype(np.int64)))) + offsets
    return pa.LargeStringArray.from_buffers(len(texts), pa.py_buffer(new_offsets.astype(np.int64)), pa.py_buffer(padded))

def repeated_text(value: str, index: pd.Index) -> pd.Series:
    """``value`` on every row of ``index``, as text whose Arrow memory is one block of rows referenced again and
    again (a constant column of a district's file is millions of rows of the same value)."""
    import pyarrow as pa

    rows = len(index)
    block = pa.array([value] * min(rows, 1 << 16), pa.large_string())
    chunks = [block] * (rows // len(block)) + [block.slice(0, rows % len(block))] if rows else [block]
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(chunks, pa.large_string())), index=index).astype(TEXT)


def per_distinct_text(values: pd.Series, function) -> pd.Series:
    """``function`` (a Series to text) of the distinct values only, its results spread back to every row in Arrow:
    the same as ``function(values)`` where each row's result depends on its own value alone (a roster's dates are
    millions of rows and a few hundred values)."""
    import pyarrow as pa

    codes, distinct = pd.factorize(values, use_na_sentinel=False)
    results = arrow_text(function(pd.Series(distinct, dtype=values.dtype))).combine_chunks()
    return pd.Series(pd.arrays.ArrowStringArray(results.take(pa.array(codes))), index=values.index).astype(TEXT)


def per_distinct(values: pd.Series, function) -> pd.Series:
    """``function`` of each value, computed once per distinct value (codes and dates repeat a lot); a missing
    value (NaT) is passed as it is."""
    import numpy as np

    codes, distinct = pd.factorize(values, use_na_sentinel=False)
    results = np.empty(len(distinct), dtype=object)
    results[:] = [function(value) for value in distinct]
    return pd.Series(results[codes], index=values.index)

