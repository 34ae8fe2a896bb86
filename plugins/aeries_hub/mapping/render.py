"""Render output rows as the bytes of a delimited file, in the format the mapping names."""

from __future__ import annotations

import csv
import io

import pandas as pd

from aeries_hub.mapping.loader import FileFormat

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
