"""Render output rows as the bytes of the file the mapping names: delimited text or JSON Lines."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from aeries_hub.mapping.models import FileFormat, Nest, Output

_QUOTING: dict[str, Literal[0, 1, 2, 3]] = {"all": csv.QUOTE_ALL, "minimal": csv.QUOTE_MINIMAL, "none": csv.QUOTE_NONE}


class RenderError(ValueError):
    """A value cannot be written in the file's format (names the row and column)."""


# Spreadsheet formula injection (CWE-1236, OWASP "CSV Injection"): a cell that starts with one of these characters
# is a formula to Excel, LibreOffice or Google Sheets (a tab or CR in front is skipped by some of them). A value
# that is a plain decimal number (-3, +1.5) is left alone: a spreadsheet reads it as that number, and no function
# can hide in it. _NUMBER reads the same in Python's re (fullmatch) and Arrow's RE2: ASCII digits only.
FORMULA_START = "=+-@\t\r"
_NUMBER = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$"
_NUMBER_RE = re.compile(_NUMBER)


def escape_formula(value):
    """``value`` with a ``'`` in front when it is text a spreadsheet would run as a formula (see FORMULA_START);
    anything else as it is. A spreadsheet shows the value after the quote, as text."""
    if isinstance(value, str) and value[:1] in FORMULA_START and value and not _NUMBER_RE.fullmatch(value):
        return "'" + value
    return value


def escape_formulas_in_text(values):
    """:func:`escape_formula` of every value of an Arrow string array (or chunked array), column-wise. The first
    byte of each value is looked up in the buffers as they are (a few milliseconds a million values); the array
    itself comes back when no value starts like a formula, the common case."""
    import pyarrow as pa
    import pyarrow.compute as pc

    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    risky = [_starts_like_formula(chunk) for chunk in chunks]
    if not any(mask.any() for mask in risky):
        return values
    risky = pa.chunked_array([pa.array(mask) for mask in risky], pa.bool_())
    if not isinstance(values, pa.ChunkedArray):
        risky = risky.combine_chunks()
    risky = pc.and_(risky, pc.invert(pc.match_substring_regex(values, _NUMBER)))
    quote = pa.scalar("'", values.type)
    return pc.if_else(risky, pc.binary_join_element_wise(quote, values, pa.scalar("", values.type)), values)


#: Which first bytes start a formula (the characters of FORMULA_START are ASCII: a first byte is a first character).
_FORMULA_BYTES = np.isin(np.arange(256), np.frombuffer(FORMULA_START.encode("ascii"), dtype=np.uint8))


def _starts_like_formula(chunk) -> np.ndarray:
    """Which values of an Arrow string array start with a character of FORMULA_START."""
    import pyarrow as pa

    offsets_type = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    _, offsets, data = chunk.buffers()
    if data is None or not len(chunk) or data.size == 0:
        return np.zeros(len(chunk), dtype=bool)
    offsets = np.frombuffer(offsets, dtype=offsets_type)[chunk.offset:chunk.offset + len(chunk) + 1]
    data = np.frombuffer(data, dtype=np.uint8)
    starts = offsets[:-1]
    ends: np.ndarray = offsets[1:]
    return _FORMULA_BYTES[data[np.minimum(starts, len(data) - 1)]] & (ends > starts)


def escape_formulas_in_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text values are escaped (:func:`escape_formula`): the hub's own CSVs of rejected
    rows and changes hold vendor and Aeries values that a person opens in a spreadsheet."""
    escaped = frame.copy()
    for column in escaped.columns:
        if escaped[column].dtype == object or isinstance(escaped[column].dtype, pd.StringDtype):
            escaped[column] = escaped[column].map(escape_formula, na_action="ignore")
    escaped.columns = [escape_formula(c) for c in escaped.columns]
    return escaped


#: Line breaks and the other control characters (Unicode Cc: C0, DEL, C1; and the line and paragraph separators
#: U+2028/U+2029, line breaks to many readers). In a delimited file one of them splits a row in two (a line break)
#: or a value in two (a tab in a tab-delimited file), and a vendor's importer reads what is left as another record.
#: The class reads the same in Python's re and in Arrow's RE2.
CONTROL_CHARACTERS = "[\\x00-\\x1f\\x7f-\\x9f\u2028\u2029]"
#: A run of control characters with the spaces around it: one space inside a value, nothing at either end.
_CONTROL_RUN = re.compile(f" *{CONTROL_CHARACTERS}(?:{CONTROL_CHARACTERS}| )*")
#: How many record ids the build summary keeps for values written on one line.
_IDS_KEPT = 1000


def single_line(value: str) -> str:
    """``value`` on one line: each run of line breaks and other control characters (CONTROL_CHARACTERS), with the
    spaces around it, becomes one space; at the start or the end of the value it is removed.
    ``"Kiara\\r\\nRose"`` -> ``"Kiara Rose"``, ``"Lewis\\r\\n"`` -> ``"Lewis"``."""
    return _CONTROL_RUN.sub(lambda run: "" if run.start() == 0 or run.end() == len(value) else " ", value)


def single_line_values(frame: pd.DataFrame, columns: list[str], key: tuple[str, ...] = ()) -> tuple[pd.DataFrame, dict]:
    """The rows of a delimited file with every text value of ``columns`` on one line (:func:`single_line`), and
    what changed for the run report: ``{"values": n, "columns": {column: n}, "ids": [record ids]}`` (ids are the
    ``key`` values of the rows, ``994/101`` for a two-column key; ``{}`` when nothing changed).

    A value with a line break would split its row in two in any reader that reads a line at a time, and cannot be
    written at all in an unquoted file; a name typed in Aeries on two lines is the common case. Nothing is dropped:
    the value is the same text on one line."""
    changed: dict[str, int] = {}
    hit_rows = None
    for column in columns:
        values = frame[column]
        if isinstance(values.dtype, pd.StringDtype):
            hits = values.str.contains(CONTROL_CHARACTERS, regex=True).fillna(False).astype(bool)
        elif values.dtype == object:
            hits = values.map(lambda v: isinstance(v, str) and _CONTROL_RUN.search(v) is not None).astype(bool)
        else:
            continue
        if not hits.any():
            continue
        if not changed:
            frame = frame.copy()
        frame[column] = values.where(~hits, values[hits].map(single_line))
        changed[column] = int(hits.sum())
        hit_rows = hits if hit_rows is None else hit_rows | hits
    if not changed:
        return frame, {}
    present = [k for k in key if k in frame.columns]
    rows = frame.loc[hit_rows, present].head(_IDS_KEPT).itertuples(index=False, name=None) if present else []
    return frame, {"values": sum(changed.values()), "columns": changed,
                   "ids": list(dict.fromkeys("/".join(str(v) for v in row) for row in rows))}


def describe_single_line_values(file: str, changed: dict, shown: int = 5) -> str:
    """``Student.txt: 2 values (FirstName 1, LastName 1) held line breaks or other control characters, written on
    one line with a space for each run: ids 1702322, 57193392``"""
    columns = ", ".join(f"{column} {count}" for column, count in changed["columns"].items())
    ids = changed["ids"]
    more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
    plural = "s" if changed["values"] != 1 else ""
    return (f"{file}: {changed['values']} value{plural} ({columns}) held line breaks or other control characters, "
            f"written on one line with a space for each run: ids {', '.join(ids[:shown])}{more}")


def render_delimited(
    frame: pd.DataFrame, columns: list[str], fmt: FileFormat, key: tuple[str, ...] = (),
    raw_columns: Collection[str] = (),
) -> bytes:
    """The rows as delimited text, byte for byte what Python's csv module writes with the file's format, after
    :func:`escape_formula` of every value of ``columns`` but ``raw_columns`` (a mapping's ``escape_formulas: false``).

    Text columns with quoting ``minimal`` or ``all`` are written column-wise in Arrow (a roster file has
    millions of rows); anything else (quoting ``none``, a single column, values that are not text) goes
    through the csv module, which also names the row a value cannot be written in.
    """
    raw = set(raw_columns)
    escaped = [column for column in columns if column not in raw]
    fast = _delimited_in_arrow(frame, columns, fmt, escaped)
    if fast is not None:
        header, body = fast
        if fmt.encoding in ("utf-8", "utf-8-sig"):  # the bytes as they are: no text copy of a large file
            return b"".join([header.encode(fmt.encoding), *body])
        text = header + b"".join(body).decode("utf-8")
    else:
        text = _delimited_with_csv(frame, columns, fmt, key, escaped)
    try:
        return text.encode(fmt.encoding)
    except UnicodeEncodeError:
        raise RenderError(_unencodable(frame, columns, fmt.encoding, key)) from None


def _delimited_in_arrow(
    frame: pd.DataFrame, columns: list[str], fmt: FileFormat, escaped: list[str]
) -> tuple[str, list[memoryview]] | None:
    """What the csv module writes (QUOTE_MINIMAL or QUOTE_ALL, doubled quotes), built a column at a time:
    a value is quoted when it holds the delimiter, a quote or a line-terminator character. Returns the
    header line and the rows as UTF-8 (views of Arrow's buffers, one per chunk)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if fmt.quoting not in ("minimal", "all") or len(columns) < 2:
        return None
    texts = [_arrow_text(frame[column]) for column in columns]
    if any(values is None for values in texts):
        return None
    texts = [escape_formulas_in_text(values) if column in escaped else values for column, values in zip(columns, texts)]
    terminator = "\r\n" if fmt.line_ending == "crlf" else "\n"
    special = "[" + "".join(f"\\x{{{ord(ch):x}}}" for ch in sorted({fmt.delimiter, '"', *terminator})) + "]"
    def text(value: str):
        return pa.scalar(value, pa.large_string())

    cells = []
    for values in texts:
        needs_quotes = pc.match_substring_regex(values, special)
        if fmt.quoting == "minimal" and not pc.any(needs_quotes).as_py():
            cells.append(values)  # most columns: nothing to quote
            continue
        doubled = pc.replace_substring(values, '"', '""') if pc.any(pc.match_substring(values, '"')).as_py() else values
        quoted = pc.binary_join_element_wise(text('"'), doubled, text('"'), text(""))
        cells.append(pc.if_else(needs_quotes, quoted, values) if fmt.quoting == "minimal" else quoted)
    cells[-1] = pc.binary_join_element_wise(cells[-1], text(terminator), text(""))
    lines = pc.binary_join_element_wise(*cells, text(fmt.delimiter))
    del cells, texts
    body = []
    for chunk in lines.chunks:  # a chunk's lines lie one after the other in its data buffer
        if len(chunk):
            offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64)
            start, end = offsets[chunk.offset], offsets[chunk.offset + len(chunk)]
            body.append(memoryview(chunk.buffers()[2])[start:end])
    header = ""
    if fmt.header:
        buffer = io.StringIO(newline="")
        csv.writer(buffer, delimiter=fmt.delimiter, quoting=_QUOTING[fmt.quoting], lineterminator=terminator).writerow(columns)
        header = buffer.getvalue()
    return header, body


def _arrow_text(values: pd.Series):
    """The column as an Arrow large_string (chunked) array when every value is text (no nulls), else None."""
    from aeries_hub.mapping.text import arrow_text

    if isinstance(values.dtype, pd.StringDtype) and values.isna().any():
        return None
    if not isinstance(values.dtype, pd.StringDtype) and pd.api.types.infer_dtype(values, skipna=False) not in ("string", "empty"):
        return None
    return arrow_text(values)


def _delimited_with_csv(
    frame: pd.DataFrame, columns: list[str], fmt: FileFormat, key: tuple[str, ...], escaped: list[str]
) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(
        buffer,
        delimiter=fmt.delimiter,
        quoting=_QUOTING[fmt.quoting],
        lineterminator="\r\n" if fmt.line_ending == "crlf" else "\n",
        # Unquoted files have no quote character: a '"' inside a value is just a character.
        quotechar=None if fmt.quoting == "none" else '"',
        escapechar=None,
    )
    if fmt.header:
        writer.writerow(columns)
    values = [
        [escape_formula(v) for v in frame[column].tolist()] if column in escaped else frame[column].tolist()
        for column in columns
    ]
    rows = list(zip(*values))  # far faster than itertuples
    del values
    try:
        writer.writerows(rows)
    except csv.Error:
        for position, row in enumerate(rows):  # which row: the first that cannot be written
            try:
                writer.writerow(row)
            except csv.Error as exc:
                raise RenderError(_where(frame, position, key) + f": cannot be written with quoting '{fmt.quoting}': {exc}") from None
        raise
    return buffer.getvalue()


def _where(frame: pd.DataFrame, position: int, key: tuple[str, ...]) -> str:
    if key:
        ids = ", ".join(f"{k}={frame.iloc[position][k]}" for k in key if k in frame.columns)
        return f"row {position + 1} ({ids})"
    return f"row {position + 1}"


#: How many unencodable values a RenderError lists before it only counts the rest.
_LISTED = 5


def _unencodable(frame: pd.DataFrame, columns: list[str], encoding: str, key: tuple[str, ...]) -> str:
    """Why a delimited file cannot be written in ``encoding``: each value (row, record id, column, the
    characters) that the encoding cannot hold. Nothing is replaced or dropped: the file is not written."""
    problems = []
    for position, row in enumerate(zip(*(frame[column].tolist() for column in columns))):
        for column, value in zip(columns, row):
            bad = _unencodable_chars(str(value), encoding)
            if bad:
                chars = ", ".join(f"{ch!r} (U+{ord(ch):04X})" for ch in bad)
                problems.append(f"{_where(frame, position, key)} column {column}: {chars}")
    if not problems:  # the header: a column name the encoding cannot hold
        names = [c for c in columns if _unencodable_chars(c, encoding)]
        problems = [f"header: column {', '.join(names)}"]
    listed = "; ".join(problems[:_LISTED]) + (f"; and {len(problems) - _LISTED} more" if len(problems) > _LISTED else "")
    return (
        f"{len(problems)} value{'s' if len(problems) != 1 else ''} cannot be encoded in {encoding}, the file's "
        f"format.encoding: {listed}. Nothing was written; set format.encoding to utf-8 if the vendor accepts it, "
        f"or reject such rows with a check on those columns"
    )


def _unencodable_chars(value: str, encoding: str) -> list[str]:
    """The distinct characters of ``value`` that ``encoding`` cannot hold, in order of appearance."""
    try:
        value.encode(encoding)
        return []
    except UnicodeEncodeError:
        pass
    bad: dict[str, None] = {}
    for ch in value:
        try:
            ch.encode(encoding)
        except UnicodeEncodeError:
            bad[ch] = None
    return list(bad)


def _json_escape_unencodable(line: str, encoding: str) -> bytes:
    """``line`` (one JSON document) in ``encoding``; characters the encoding cannot hold are written as JSON
    escapes (``\\u00e9``, a surrogate pair above U+FFFF), which every JSON reader turns back into the same
    text. They only occur inside JSON strings, where an escape is valid."""
    try:
        return line.encode(encoding)
    except UnicodeEncodeError:
        pass
    parts = []
    for ch in line:
        try:
            parts.append(ch.encode(encoding))
        except UnicodeEncodeError:
            parts.append(json.dumps(ch, ensure_ascii=True)[1:-1].encode("ascii"))
    return b"".join(parts)


@dataclass(frozen=True)
class NestedRows:
    """The rows of a nested output (``nest.file``), to be put inside the records of the output that nests them."""

    nest: Nest
    output: Output
    frame: pd.DataFrame


def render_jsonl(frame: pd.DataFrame, output: Output, nested: Sequence[NestedRows] = ()) -> bytes:
    """One JSON object per row, in the frame's order, in the output's encoding: characters it cannot hold
    are written as JSON escapes (``"Nguy\\u1ec5n"`` in an ascii file), so no text is lost or changed.

    A column name with dots is a path (``students.fname`` -> ``{"students": {"fname": ...}}``). A blank value
    is ``null`` when the column has ``overwrite`` (it clears the field at the vendor) and is left out
    otherwise. Each nest adds the list of the nested file's rows that belong to the row (without their link
    column); a row with none gets no list, so a vendor never loses data the SIS does not hold.
    """
    lists = []
    for item in nested:
        keep = [c for c in item.output.columns if not c.do_not_map and c.name != item.nest.child_column]
        groups: dict[str, list[dict]] = {}
        for row in item.frame.to_dict("records"):
            groups.setdefault(str(row[item.nest.child_column]).strip(), []).append(_record(row, keep))
        lists.append((item.nest, groups))
    columns = [c for c in output.columns if not c.do_not_map]
    lines = []
    for row in frame.to_dict("records"):
        record = _record(row, columns)
        for nest, groups in lists:
            children = groups.get(str(row[nest.parent_column]).strip())
            if children:
                record[nest.name] = children
        lines.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
    encoding = output.format.encoding
    return b"".join(_json_escape_unencodable(line + "\n", encoding) for line in lines)


def _record(row: dict, columns) -> dict:
    record: dict = {}
    for column in columns:
        value = row[column.name]
        if value is None or not str(value).strip():
            if not column.overwrite:
                continue
            value = None
        *parents, leaf = column.name.split(".")
        target = record
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
    return record
