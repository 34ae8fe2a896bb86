"""Render output rows as the bytes of the file the mapping names: delimited text or JSON Lines."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

import pandas as pd

from aeries_hub.mapping.loader import FileFormat, Nest, Output

_QUOTING = {"all": csv.QUOTE_ALL, "minimal": csv.QUOTE_MINIMAL, "none": csv.QUOTE_NONE}


class RenderError(ValueError):
    """A value cannot be written in the file's format (names the row and column)."""


def render_delimited(frame: pd.DataFrame, columns: list[str], fmt: FileFormat, key: tuple[str, ...] = ()) -> bytes:
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
    for position, row in enumerate(frame[columns].itertuples(index=False, name=None)):
        try:
            writer.writerow(row)
        except csv.Error as exc:
            raise RenderError(_where(frame, position, key) + f": cannot be written with quoting '{fmt.quoting}': {exc}") from None
    text = buffer.getvalue()
    try:
        return text.encode(fmt.encoding)
    except UnicodeEncodeError as exc:
        line = text.count("\n", 0, exc.start) + 1
        raise RenderError(
            f"line {line} of the file has {text[exc.start:exc.end]!r}, which {fmt.encoding} cannot encode; "
            f"reject such rows with a check or choose encoding utf-8"
        ) from None


def _where(frame: pd.DataFrame, position: int, key: tuple[str, ...]) -> str:
    if key:
        ids = ", ".join(f"{k}={frame.iloc[position][k]}" for k in key if k in frame.columns)
        return f"row {position + 1} ({ids})"
    return f"row {position + 1}"


@dataclass(frozen=True)
class NestedRows:
    """The rows of a nested output (``nest.file``), to be put inside the records of the output that nests them."""

    nest: Nest
    output: Output
    frame: pd.DataFrame


def render_jsonl(frame: pd.DataFrame, output: Output, nested: list[NestedRows] = ()) -> bytes:
    """One JSON object per row, in the frame's order.

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
    return "".join(line + "\n" for line in lines).encode(output.format.encoding)


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
