"""The records of a vendor's export files: reading them safely, turning them into rows, checking the rows.

An export file is JSON Lines, or delimited text whose first line names the columns. A record past the bounds
(:data:`MAX_RECORD_BYTES`, :data:`MAX_FIELD_CHARS`, :data:`MAX_JSON_DEPTH`) makes its whole file unreadable (it is
quarantined when fetched); a record that is merely wrong is rejected, naming its file and line.

Imported at DAG parse time through the kinds: pandas and the quality runner are imported where they are used.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import IO, TYPE_CHECKING, Any, Literal

from aeries_hub.writeback.spec import Field, WriteBack

if TYPE_CHECKING:
    import pandas as pd

    from aeries_hub.quality.checks import Check
    from aeries_hub.staging import RunFolder

#: The columns every validated row has besides its fields: the record's id (named in rejects and the report),
#: where it is (``<file> line <n>``) and, for a student, its school.
ID, SCHOOL, ROW = "_record", "_school", "_row"

#: Bounds of one record of an export file: a JSON line's bytes, a CSV field's characters (Python's csv field limit,
#: stated here), a JSON record's nesting. A file past any of them is quarantined whole (fetch_exports).
MAX_RECORD_BYTES = 1024 * 1024
MAX_FIELD_CHARS = 131_072
MAX_JSON_DEPTH = 32


class ExportFileUnreadable(Exception):
    """An export file that cannot be read safely as a whole (a record past the bounds, broken CSV quoting)."""


def unreadable_file(writeback: WriteBack, name: str, data: bytes) -> str | None:
    """Why the export file ``data`` cannot be read safely, or None (a bad record alone is only rejected)."""
    import io

    try:
        for _record in read_records(writeback, name, io.BytesIO(data)):
            pass
    except ExportFileUnreadable as exc:
        return str(exc)
    return None


def _json_depth(value: Any) -> int:
    depth, level = 0, [(value, 1)]
    while level:
        node, at = level.pop()
        if isinstance(node, (dict, list)):
            depth = max(depth, at)
            level.extend((child, at + 1) for child in (node.values() if isinstance(node, dict) else node))
    return depth


def read_records(writeback: WriteBack, name: str, handle: IO[bytes]) -> Iterator[tuple[str, dict | None, str | None]]:
    """``(where, record, problem)`` for each record of an export file: JSON Lines, or delimited text whose first
    line names the columns (``source.sftp.format: csv``). ``where`` is ``<file> line <n>``. A record that breaks
    the bounds (:data:`MAX_RECORD_BYTES`, :data:`MAX_FIELD_CHARS`, :data:`MAX_JSON_DEPTH`) or CSV that cannot be
    parsed raises :class:`ExportFileUnreadable`."""
    if writeback.format != "csv":
        for number, line in enumerate(handle, start=1):
            where = f"{name} line {number}"
            if len(line) > MAX_RECORD_BYTES:
                raise ExportFileUnreadable(f"{where} is longer than {MAX_RECORD_BYTES} bytes")
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except RecursionError:
                record = None
            except ValueError as exc:
                yield where, None, f"not a JSON object: {exc}"
                continue
            if record is None or _json_depth(record) > MAX_JSON_DEPTH:
                raise ExportFileUnreadable(f"{where} is nested deeper than {MAX_JSON_DEPTH} levels")
            if not isinstance(record, dict):
                yield where, None, "not a JSON object"
                continue
            yield where, record, None
        return
    import csv
    import io

    try:
        text = handle.read().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield f"{name} line 1", None, f"not UTF-8 text: {exc}"
        return
    quoting: Literal[0, 1, 2, 3] = csv.QUOTE_NONE if writeback.quoting == "none" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=writeback.delimiter, quoting=quoting)
    header = None
    while True:
        try:
            row = next(reader, None)
        except csv.Error as exc:
            too_long = "field larger than field limit" in str(exc)
            reason = (f"has a field longer than {MAX_FIELD_CHARS} characters" if too_long
                      else f"is not readable as delimited text ({exc})")
            raise ExportFileUnreadable(f"{name} line {reader.line_num} {reason}") from None
        if row is None:
            return
        where = f"{name} line {reader.line_num}"
        if any(len(value) > MAX_FIELD_CHARS for value in row):  # csv's own limit is process-wide: checked here too
            raise ExportFileUnreadable(f"{where} has a field longer than {MAX_FIELD_CHARS} characters")
        if header is None:
            header = [column.strip() for column in row]
            continue
        if not any(value.strip() for value in row):
            continue
        if len(row) != len(header):
            yield where, None, (f"has {len(row)} columns, the header has {len(header)} "
                                f"(delimiter {writeback.delimiter!r})")
            continue
        yield where, dict(zip(header, row)), None


def exported_records(writeback: WriteBack, run: RunFolder, fetched: dict, unreadable: list[dict]
                     ) -> Iterator[tuple[str, dict]]:
    """``(where, record)`` for each readable record of the fetched export files; a record that cannot be read
    goes to ``unreadable`` with the reason (it is rejected whole)."""
    from aeries_hub.quality.runner import REJECT_REASON

    for item in fetched["files"]:
        with run.path("inbound", item["file"]).open("rb") as handle:
            for where, record, problem in read_records(writeback, item["file"], handle):
                if problem:
                    unreadable.append({ID: where, REJECT_REASON: f"{where}: {problem}"})
                elif record is not None:
                    yield where, record


def text(value: Any) -> str:
    """A value of a record or of Aeries as trimmed text ("" for None)."""
    return "" if value is None else str(value).strip()


def row(record: dict, fields: Iterable[Field], record_id: str, where: str) -> dict:
    """A validated row: the record's id and place, and each field's value (its path in ``record``) as text."""
    from aeries_hub.delivery.http import record_field

    return {ID: record_id, ROW: where, **{f.name: text(record_field(record, f.path)) for f in fields}}


def field_checks(fields: Iterable[Field], what: str) -> list[dict]:
    """The reject checks of ``fields``: required, pattern, values."""
    checks: list[dict[str, Any]] = []
    for field in fields:
        if field.required:
            checks.append({"expectation": "expect_column_values_to_match_regex", "column": field.name, "regex": r"\S",
                           "severity": "reject", "description": f"the {what}'s {field.name} is required"})
        if field.pattern:
            checks.append({"expectation": "expect_column_values_to_match_regex", "column": field.name,
                           "regex": field.pattern, "ignore_blank": True, "severity": "reject",
                           "description": f"the {what}'s {field.name} does not match {field.pattern}"})
        if field.values:
            checks.append({"expectation": "expect_column_values_to_be_in_set", "column": field.name,
                           "value_set": sorted(field.values), "ignore_blank": True, "severity": "reject",
                           "description": f"the {what}'s {field.name} is not one of {', '.join(sorted(field.values))}"})
    return checks


def mapped(frame: pd.DataFrame, fields: Iterable[Field]) -> pd.DataFrame:
    """``frame`` with each field's vendor values turned into Aeries values (``values``)."""
    frame = frame.copy()
    for field in fields:
        if field.values:
            frame[field.name] = frame[field.name].map(lambda v, m=field.values: m.get(v, v))
    return frame.reset_index(drop=True)


def checked_rows(run: RunFolder, frame: pd.DataFrame, checks: list[Check], name: str, unreadable: list[dict]
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``frame``'s rows that pass ``checks``, and every reject (failed checks and unreadable records) with why."""
    import pandas as pd

    from aeries_hub.quality import validate_frame
    from aeries_hub.quality.runner import REJECT_REASON

    with run.local_dir("quality/exports") as docs_dir:
        checked = validate_frame(frame, checks, name=name, docs_dir=docs_dir, id_columns=[ID])
    rejects = pd.concat([checked.rejected[[ID, REJECT_REASON]], pd.DataFrame(unreadable, columns=[ID, REJECT_REASON])],
                        ignore_index=True)
    accepted = checked.accepted[~checked.accepted[ID].isin(set(rejects[ID]))].drop(columns=[REJECT_REASON], errors="ignore")
    return accepted, rejects


def rejects_summary(run: RunFolder, rejects: pd.DataFrame, *, records: int, accepted: int) -> dict:
    """Write ``rejects/exports.csv`` (the rejected records and why); the summary of validate_exports."""
    from aeries_hub.quality.runner import REJECT_REASON, rejects_csv

    if len(rejects):
        run.write_bytes("rejects/exports.csv", rejects_csv(rejects))
    return {
        "records": records,
        "accepted": accepted,
        "rejected": sorted(set(rejects[ID])),
        "reasons": sorted(set(rejects[REJECT_REASON])),
    }
