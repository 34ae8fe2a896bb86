"""Crosswalk files: district-maintained CSVs that translate Aeries values into the vendor's.

A mapping names them under ``crosswalks`` and uses one in a value with the step ``{crosswalk: NAME}``:
a value found in the file's ``aeries`` column becomes the ``vendor`` column's value of that row, any
other value passes through unchanged. Rows with a blank ``aeries`` cell list vendor records that no
Aeries record is matched with yet (e.g. the vendor's schools, for the name proposals).

With a ``check``, every row of an Aeries table should be in the crosswalk: :func:`crosswalk_coverage`
lists the missing ones, each with the vendor row whose name is the most similar, for an operator to
confirm by adding the line to the file. The check's ``used_by`` columns (e.g. the staff's school) may hold
values that the table does not list at all (real Aeries staff at a school code missing from the school list):
those are listed too, with the ids of the rows holding them.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from typing import Any, Sequence

import pandas as pd

from aeries_hub.mapping.conditions import conditions_mask
from aeries_hub.mapping.models import Crosswalk, CrosswalkCheck, CrosswalkUse, Mapping, MappingError
from aeries_hub.mapping.reads import source_filter_columns
from aeries_hub.mapping.source_filters import apply_source_filters
from aeries_hub.mapping.text import text

#: Below this name similarity (difflib ratio of the normalised names) no vendor row is proposed.
MIN_SIMILARITY = 0.6


def read_rows(crosswalk: Crosswalk) -> list[dict[str, str]]:
    """The file's rows as dicts of trimmed text; [] for a missing optional file."""
    shown = f"crosswalk {crosswalk.name!r} ({crosswalk.path})"
    if not crosswalk.path.is_file():
        if crosswalk.optional:
            return []
        raise MappingError(f"{shown}: file not found; create it with the header {crosswalk.aeries},{crosswalk.vendor}")
    text = crosswalk.path.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    columns = reader.fieldnames or []
    needed = [crosswalk.aeries, crosswalk.vendor] + ([crosswalk.check.vendor_name] if crosswalk.check else [])
    missing = [c for c in needed if c not in columns]
    if missing:
        raise MappingError(f"{shown}: no column {', '.join(map(repr, missing))} in its header ({', '.join(columns) or 'empty'})")
    return [{k: (v or "").strip() for k, v in row.items() if k is not None} for row in reader]


def translation(crosswalk: Crosswalk, rows: list[dict[str, str]]) -> dict[str, str]:
    """{aeries value: vendor value}; an Aeries value given two different vendor values is an error."""
    table: dict[str, str] = {}
    line_of: dict[str, int] = {}
    for line, row in enumerate(rows, start=2):
        aeries, vendor = row[crosswalk.aeries], row[crosswalk.vendor]
        if not aeries:
            continue
        if not vendor:
            raise MappingError(f"crosswalk {crosswalk.name!r} ({crosswalk.path}) line {line}: {crosswalk.aeries} {aeries} has a blank {crosswalk.vendor}")
        if aeries in table and table[aeries] != vendor:
            raise MappingError(
                f"crosswalk {crosswalk.name!r} ({crosswalk.path}) line {line}: {crosswalk.aeries} {aeries} is mapped to "
                f"{table[aeries]!r} on line {line_of[aeries]} and to {vendor!r} here; keep one"
            )
        table[aeries], line_of[aeries] = vendor, line
    return table


def read_crosswalks(mapping: Mapping) -> dict[str, dict[str, str]]:
    return {name: translation(cw, read_rows(cw)) for name, cw in mapping.crosswalks.items()}


#: Words that say what kind of record a name is rather than which one ("Grant High School" = "Grant High"),
#: and abbreviations districts and vendors spell differently.
_NOISE_WORDS = {"school", "schools", "the", "of"}
_ABBREVIATIONS = {"es": "elementary", "elem": "elementary", "ms": "middle", "hs": "high", "jr": "junior", "sr": "senior",
                  "st": "saint", "acad": "academy", "ctr": "center"}


def _normalised(name: str) -> str:
    words = re.sub(r"[^a-z0-9]+", " ", name.lower()).split()
    return " ".join(_ABBREVIATIONS.get(w, w) for w in words if w not in _NOISE_WORDS)


def closest(name: str, candidates: list[tuple[str, str]]) -> tuple[str, str, float] | None:
    """The (vendor id, vendor name, similarity) whose name is most similar to ``name``, if close enough."""
    best = None
    for vendor_id, vendor_name in candidates:
        score = difflib.SequenceMatcher(None, _normalised(name), _normalised(vendor_name)).ratio()
        if best is None or score > best[2]:
            best = (vendor_id, vendor_name, score)
    return best if best and best[2] >= MIN_SIMILARITY else None


def checked_columns(mapping: Mapping) -> dict[str, set[str]]:
    """The columns of each Aeries table that :func:`crosswalk_coverage` reads for this mapping."""
    read: dict[str, set[str]] = {}
    for crosswalk in mapping.crosswalks.values():
        check = crosswalk.check
        if check is None:
            continue
        read.setdefault(check.table, set()).update({check.column, check.name, *(c for condition in check.where for c in condition.columns)})
        for use in check.used_by:
            read.setdefault(use.table, set()).update({use.column, use.id})
    return {table: columns | source_filter_columns(mapping, table) for table, columns in read.items()}


def crosswalk_coverage(mapping: Mapping, tables: dict[str, pd.DataFrame], left_out: Sequence[dict] = ()) -> dict[str, dict[str, Any]]:
    """Per checked crosswalk: how many Aeries rows it maps, each missing one with a proposal, and each value of
    a ``used_by`` column that is in neither the crosswalk nor the checked table (``unlisted``), with its rows' ids.

    ``tables`` are the accepted Aeries rows; the mapping's source filters (and the ``left_out`` schools) are
    applied here, but a value is unlisted only if no row of the unfiltered table has it.
    """
    filtered = apply_source_filters(mapping, tables, left_out)
    report: dict[str, dict[str, Any]] = {}
    for name, crosswalk in mapping.crosswalks.items():
        check = crosswalk.check
        if check is None or check.table not in tables:
            continue
        rows = read_rows(crosswalk)
        table = translation(crosswalk, rows)
        frame = filtered[check.table]
        frame = frame[conditions_mask(frame, check.where, f"{mapping.path.name}: crosswalks.{name}.check.where")]
        candidates = [(row[crosswalk.vendor], row[check.vendor_name]) for row in rows if row[crosswalk.vendor]]
        matched_to = {row[crosswalk.vendor]: row[crosswalk.aeries] for row in rows if row[crosswalk.aeries]}
        values = text(frame[check.column]).str.strip()
        names = text(frame[check.name]).str.strip()
        unmapped = []
        for value, label in sorted(set(zip(values, names)), key=lambda pair: pair[0]):
            if value in table:
                continue
            proposal = closest(label, candidates)
            unmapped.append(
                {
                    "aeries": value,
                    "name": label,
                    "proposal": None
                    if proposal is None
                    else {
                        "vendor": proposal[0],
                        "vendor_name": proposal[1],
                        "similarity": round(proposal[2], 2),
                        **({"already_mapped_to": matched_to[proposal[0]]} if proposal[0] in matched_to else {}),
                    },
                }
            )
        listed = set(text(tables[check.table][check.column]).str.strip()) | set(table)
        report[name] = {
            "file": str(crosswalk.path.name),
            "checked": int(values.nunique()),
            "mapped": int(values[values.isin(table.keys())].nunique()),
            "unmapped": unmapped,
            "unlisted": [entry for use in check.used_by if use.table in filtered
                         for entry in _unlisted(filtered[use.table], use, listed, check)],
        }
    return report


#: Ids of the rows holding an unlisted value that the report names (all are counted).
IDS_LISTED = 20


def _unlisted(frame: pd.DataFrame, use: CrosswalkUse, listed: set[str], check: CrosswalkCheck) -> list[dict[str, Any]]:
    """The values of ``use.column`` outside ``listed`` (blanks aside: a blank is its own reject), each with the
    number and the first ids of the rows holding it."""
    values = text(frame[use.column]).str.strip()
    outside = (values != "") & ~values.isin(listed)
    ids = text(frame.loc[outside, use.id]).str.strip()
    entries = []
    for value in sorted(set(values[outside]), key=lambda v: (len(v), v)):
        holders = list(dict.fromkeys(ids[values[outside] == value]))
        entries.append({"aeries": value, "not_in": {"table": check.table, "column": check.column},
                        "table": use.table, "column": use.column, "id": use.id,
                        "count": len(holders), "ids": holders[:IDS_LISTED]})
    return entries


def describe_unmapped(name: str, entry: dict[str, Any]) -> str:
    """One line for the task log and the report, e.g. for an Aeries school missing from the crosswalk."""
    text = f"crosswalk {name}: {entry['aeries']} {entry['name']!r} is not in the file; it is sent as {entry['aeries']}"
    proposal = entry["proposal"]
    if proposal is None:
        return text + "; no vendor record has a similar name"
    text += f"; closest vendor record: {proposal['vendor']} {proposal['vendor_name']!r} (similarity {proposal['similarity']:.2f})"
    if "already_mapped_to" in proposal:
        text += f", already mapped to {proposal['already_mapped_to']}"
    return text


def describe_unlisted(name: str, entry: dict[str, Any]) -> str:
    """One line for the task log and the report, e.g. for a school code that staff carry and Aeries does not list."""
    value, count = entry["aeries"], entry["count"]
    rows = f"{count} row of {entry['table']} with {entry['column']} {value} is" if count == 1 else \
        f"{count} rows of {entry['table']} with {entry['column']} {value} are"
    ids = ", ".join(entry["ids"]) + (f" and {count - len(entry['ids'])} more" if count > len(entry["ids"]) else "")
    not_in = entry["not_in"]
    return (f"crosswalk {name}: {value} is neither in the file nor a {not_in['column']} of Aeries' {not_in['table']}; {rows} "
            f"sent as {value} ({entry['id']} {ids}); add {value} to the file or correct the {entry['column']} in Aeries")


def coverage_lines(name: str, coverage: dict[str, Any]) -> list[str]:
    """The task log's and the report's lines for one crosswalk's :func:`crosswalk_coverage`."""
    return ([describe_unmapped(name, entry) for entry in coverage.get("unmapped", [])]
            + [describe_unlisted(name, entry) for entry in coverage.get("unlisted", [])])
