"""What ``aeries-hub try`` prints of a run: each delivered file's first rows as a table, and the run's report."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Callable

#: A cell wider than this is cut, ending in "~", so that a table of many columns stays readable.
CELL_WIDTH = 24


def delivered_files(mapping, run_folder: Path) -> list[tuple[str, list[dict[str, str]]]]:
    """Each file the mapping delivers, as the run built it (``<run folder>/output/<file>``), parsed into rows: a
    delimited file by its format, a jsonl file one record a row, nested objects as ``a.b`` columns."""
    files = []
    for output in mapping.delivered_outputs:
        path = run_folder / "output" / output.file
        if not path.exists():
            continue
        text = path.read_bytes().decode(output.format.encoding or "utf-8")
        files.append((output.file, _jsonl_rows(text) if output.format.type == "jsonl" else _delimited_rows(text, output)))
    return files


def _delimited_rows(text: str, output) -> list[dict[str, str]]:
    fmt = output.format
    quoting = csv.QUOTE_NONE if fmt.quoting == "none" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=fmt.delimiter, quoting=quoting)
    lines = list(reader)
    header = lines.pop(0) if fmt.header and lines else output.delivered_columns
    return [dict(zip(header, line)) for line in lines]


def _jsonl_rows(text: str) -> list[dict[str, str]]:
    def flat(node: Any, prefix: str, into: dict[str, str]) -> dict[str, str]:
        if isinstance(node, dict):
            for key, value in node.items():
                flat(value, f"{prefix}{key}.", into)
        else:
            into[prefix[:-1]] = node if isinstance(node, str) else json.dumps(node)
        return into

    return [flat(json.loads(line), "", {}) for line in text.splitlines() if line.strip()]


def _cell(value: str) -> str:
    return value if len(value) <= CELL_WIDTH else value[:CELL_WIDTH - 1] + "~"


def file_table(name: str, rows: list[dict[str, str]], first: int) -> str:
    """``name: N rows (first M)`` and the first rows under their column names, each column as wide as its widest
    cell (at most CELL_WIDTH), columns two spaces apart."""
    shown = rows[:first]
    columns = list(dict.fromkeys(column for row in rows for column in row))
    cells = [[_cell(column) for column in columns]] + [[_cell(row.get(column, "")) for column in columns] for row in shown]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in cells]
    title = f"{name}: {len(rows)} rows" + (f" (the first {len(shown)})" if len(shown) < len(rows) else "")
    return "\n".join([title, *lines]) if columns else title


def report_summary(report: dict, landed: Callable[[dict], str]) -> str:
    """The run report's lines (rejects with their reasons, warnings, counts), then where each delivered file is."""
    from aeries_hub.run.report import report_lines

    lines = [f"  {line}" for line in report_lines(report)]
    lines += [f"  landed: {landed(delivered)}" for delivered in report["delivered"]]
    return "\n".join(lines)
