"""A file's columns read as text, and two versions of a file matched by key: what :func:`aeries_hub.changes.compare`
works on, a column at a time (Arrow for the text, numpy for the positions)."""

from __future__ import annotations


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

        with self.path.open("rb") as handle:  # (one thread, no pre-buffering: less held at once)
            values = pq.ParquetFile(handle, pre_buffer=False).read(columns=[column], use_threads=False).column(0).combine_chunks()
        values = values.cast(pa.large_string())
        return pc.fill_null(values, "") if values.null_count else values  # (a scalar "" imports pandas)


class FrameColumns:
    """A data frame's columns as text ('' for null), as :class:`ParquetColumns` gives a file's."""

    def __init__(self, frame):
        self.frame = frame
        self.columns = list(frame.columns)

    def text(self, column: str):
        import pyarrow as pa

        values = pa.array(self.frame[column].astype("string").fillna("").array)
        values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
        return values.cast(pa.large_string())  # one type on both sides (parquet may hold either)


def as_columns(table):
    return table if isinstance(table, (ParquetColumns, FrameColumns)) else FrameColumns(table)


def key_ids(table, key: tuple[str, ...]):
    """The rows' ids: the key values as text joined with ``/``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = [table.text(k) for k in key]
    return parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, pa.scalar("/", pa.large_string()))


class Matched:
    """Both sides' ids as codes of one dictionary (one hash pass over both at once; ``before`` first), and what
    :func:`aeries_hub.changes.compare` needs of them as numpy arrays: the position of each id's first row on each side."""

    def __init__(self, before_ids, after_ids):
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        encoded = pc.dictionary_encode(pa.chunked_array([before_ids, after_ids], type=pa.large_string())).chunks
        # (every chunk has the whole dictionary; an empty side has no chunk)
        self.dictionary = encoded[-1].dictionary if encoded else pa.array([], type=pa.large_string())
        codes = np.concatenate([chunk.indices.to_numpy(zero_copy_only=False) for chunk in encoded] or [np.array([], np.int32)])
        del encoded
        before_codes, after_codes = codes[:len(before_ids)], codes[len(before_ids):]
        first_before = _first_rows(before_codes, len(self.dictionary))
        first_after = _first_rows(after_codes, len(self.dictionary))
        #: The positions in after of each id's first row, in row order, and the ids' codes.
        self.kept = np.flatnonzero(first_after[after_codes] == np.arange(len(after_codes)))
        self.kept_codes = after_codes[self.kept]
        #: Each kept id's first row in before (-1: new).
        self.found = first_before[self.kept_codes]
        self.removed_codes = np.flatnonzero((first_before >= 0) & (first_after < 0))
        self.rows_before = int(np.count_nonzero(first_before >= 0))

    def ids(self, codes):
        import pyarrow as pa

        return self.dictionary.take(pa.array(codes))


def _first_rows(codes, size: int):
    """For each code below ``size``, the position of its first occurrence in ``codes`` (-1: none)."""
    import numpy as np

    first = np.full(size, len(codes), dtype=np.int64)
    np.minimum.at(first, codes, np.arange(len(codes)))  # (a plain assignment leaves which duplicate wins undefined)
    first[first == len(codes)] = -1
    return first


def rows_differ(after, before, key: tuple[str, ...], columns: list[str], after_rows, before_rows):
    """Per common id: whether any compared value differs (compared as tuples: another column count differs),
    one column of each side read at a time. A side whose rows are all of its rows in order is not copied."""
    import numpy as np
    import pyarrow.compute as pc

    compared = [c for c in columns if c in after.columns and c not in key]
    if before is None or compared != [c for c in columns if c in before.columns and c not in key]:
        return np.ones(len(after_rows), dtype=bool)
    differs = np.zeros(len(after_rows), dtype=bool)
    for column in compared:
        after_values, before_values = _rows_of(after.text(column), after_rows), _rows_of(before.text(column), before_rows)
        differs |= pc.not_equal(after_values, before_values).to_numpy(zero_copy_only=False)
        del after_values, before_values
    return differs


def _rows_of(values, rows):
    """``values`` at ``rows`` (numpy positions); ``values`` itself when ``rows`` are all its positions in order."""
    import numpy as np
    import pyarrow as pa

    if len(rows) == len(values) and (not len(rows) or (rows[0] == 0 and np.all(np.diff(rows) == 1))):
        return values
    return values.take(pa.array(rows))
