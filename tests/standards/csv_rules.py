"""The shared judge of the standard-format checkers: reads a delivered set (a folder or a zip) and applies the
rules each format module declares as data (its files, columns, enumerations, formats, keys and references).

It deliberately imports nothing of aeries_hub: the checkers are the independent judge of what the mapping engine
writes, so they re-read the bytes with the standard library only. A row number is the CSV record's number in its
file, the header being record 1 (row 0 means the whole file or the whole set)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, order=True)
class Violation:
    file: str
    row: int
    column: str
    rule: str
    spec: str


Format = Callable[[str], bool]


@dataclass(frozen=True)
class Column:
    name: str
    header_required: bool = False
    value_required: bool = False
    enum: frozenset[str] | None = None
    format: Format | None = None
    format_name: str = ""
    # a list-valued column (OneRoster's comma-separated sourcedIds, grades): each element is checked
    list_separator: str | None = None


@dataclass(frozen=True)
class FileSpec:
    name: str
    columns: tuple[Column, ...]
    spec: str
    # OneRoster fixes the order of its columns; Clever, SDS and Canvas take them in any order
    fixed_order: bool = False
    # a header outside the specification: OneRoster allows extension columns named metadata.*
    extra_column: Callable[[str], bool] = field(default=lambda name: False)
    # SDS: "we don't accept line breaks in incoming data"
    no_line_breaks: bool = False


@dataclass
class Table:
    name: str
    header: list[str]
    rows: list[tuple[int, dict[str, str]]]

    def values(self, column: str) -> Iterable[tuple[int, str]]:
        return ((number, row[column]) for number, row in self.rows if row.get(column, ""))


def read_delivery(path: Path) -> dict[str, bytes]:
    """Every file of a delivered set by its name: a zip's members, or a folder's files."""
    if path.is_file():
        with zipfile.ZipFile(path) as archive:
            return {name: archive.read(name) for name in archive.namelist() if not name.endswith("/")}
    return {child.name: child.read_bytes() for child in sorted(path.iterdir()) if child.is_file()}


def read_table(name: str, data: bytes, violations: list[Violation], spec: str) -> Table | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        violations.append(Violation(name, 0, "", "not UTF-8", spec))
        return None
    records = list(csv.reader(io.StringIO(text, newline="")))
    if not records:
        violations.append(Violation(name, 0, "", "no header row", spec))
        return None
    header = records[0]
    rows = []
    for number, record in enumerate(records[1:], start=2):
        if len(record) != len(header):
            violations.append(Violation(name, number, "", f"{len(record)} fields where the header has {len(header)}",
                                        spec))
            continue
        rows.append((number, dict(zip(header, record, strict=True))))
    return Table(name, header, rows)


def check_table(table: Table, file_spec: FileSpec) -> list[Violation]:
    """The header against the file's columns, then every cell against its column's rules."""
    found: list[Violation] = []
    spec = file_spec.spec

    def add(row: int, column: str, rule: str) -> None:
        found.append(Violation(table.name, row, column, rule, spec))

    known = {column.name for column in file_spec.columns}
    for name in table.header:
        if name not in known and not file_spec.extra_column(name):
            add(1, name, "column not in the specification")
    if len(set(table.header)) != len(table.header):
        add(1, "", "a column named twice")
    for column in file_spec.columns:
        if column.header_required and column.name not in table.header:
            add(1, column.name, "required column missing")
    if file_spec.fixed_order:
        standard = [name for name in table.header if name in known]
        expected = [column.name for column in file_spec.columns if column.name in standard]
        if standard != expected:
            add(1, "", "columns out of the specification's order")
        extensions_start = next((i for i, name in enumerate(table.header) if name not in known), len(table.header))
        if any(name in known for name in table.header[extensions_start:]):
            add(1, "", "extension columns before a standard column")
    present = [column for column in file_spec.columns if column.name in table.header]
    for number, row in table.rows:
        for column in present:
            value = row[column.name]
            if not value:
                if column.value_required:
                    add(number, column.name, "required value blank")
                continue
            if file_spec.no_line_breaks and ("\n" in value or "\r" in value):
                add(number, column.name, "line break in a value")
            elements = value.split(column.list_separator) if column.list_separator else [value]
            for element in elements:
                if column.enum is not None and element not in column.enum:
                    add(number, column.name, "value outside the enumeration")
                    break
                if column.format is not None and not column.format(element):
                    add(number, column.name, f"not {column.format_name}")
                    break
    return found


def unique(table: Table, columns: tuple[str, ...], spec: str) -> list[Violation]:
    return unique_across([table], columns, spec)


def unique_across(tables: list[Table], columns: tuple[str, ...], spec: str) -> list[Violation]:
    """A key unique over the rows of one file, or of several files of one kind (Canvas)."""
    seen: dict[tuple[str, ...], tuple[str, int]] = {}
    found = []
    for table in tables:
        for number, row in table.rows:
            key = tuple(row.get(column, "") for column in columns)
            if not all(key):
                continue
            if key not in seen:
                seen[key] = (table.name, number)
                continue
            first_file, first_row = seen[key]
            where = f"row {first_row}" if first_file == table.name else f"{first_file} row {first_row}"
            found.append(Violation(table.name, number, "+".join(columns), f"duplicate of {where}", spec))
    return found


def references(table: Table, column: str, target: Table | None, target_column: str, spec: str,
               separator: str | None = None, target_filter: Callable[[dict[str, str]], bool] | None = None,
               ) -> list[Violation]:
    """Every value of table.column (each element of a list) names a row of target.target_column."""
    if column not in table.header:
        return []
    keys = set() if target is None else {row[target_column] for _, row in target.rows
                                         if target_filter is None or target_filter(row)}
    where = target.name if target is not None else "a missing file"
    found = []
    for number, value in table.values(column):
        for element in value.split(separator) if separator else [value]:
            if element not in keys:
                found.append(Violation(table.name, number, column, f"names no row of {where}", spec))
                break
    return found


def count_per_group(table: Table, group: tuple[str, ...], counted: Callable[[dict[str, str]], bool],
                    allowed: Callable[[int], bool], rule: str, column: str, spec: str) -> list[Violation]:
    """A cardinality rule: among a group's rows, the number of rows that `counted` accepts must be `allowed`;
    the violation is reported on the group's first row."""
    first_row: dict[tuple[str, ...], int] = {}
    counts: dict[tuple[str, ...], int] = defaultdict(int)
    for number, row in table.rows:
        key = tuple(row.get(name, "") for name in group)
        first_row.setdefault(key, number)
        counts[key] += counted(row)
    return [Violation(table.name, first_row[key], column, rule, spec)
            for key in first_row if not allowed(counts[key])]


def files_named(files: Collection[str], required: Iterable[str], known: Collection[str], spec: str
                ) -> list[Violation]:
    """The set's files by name: each ``required`` one there, none outside the specification's (``known``)."""
    return [*(Violation(name, 0, "", "required file missing", spec) for name in required if name not in files),
            *(Violation(name, 0, "", "file not in the specification", spec) for name in files if name not in known)]


def load_tables(files: dict[str, bytes], specs: dict[str, FileSpec], violations: list[Violation]
                ) -> dict[str, Table]:
    tables = {}
    for name, file_spec in specs.items():
        if name in files:
            table = read_table(name, files[name], violations, file_spec.spec)
            if table is not None:
                violations.extend(check_table(table, file_spec))
                tables[name] = table
    return tables


# Formats shared by the specifications (each module cites where its format says which one it uses).
def date_pattern(pattern: str, strptime: str) -> Format:
    compiled = re.compile(pattern)

    def matches(value: str) -> bool:
        if not compiled.fullmatch(value):
            return False
        try:
            dt.datetime.strptime(value, strptime)
        except ValueError:
            return False
        return True
    return matches


iso_date = date_pattern(r"\d{4}-\d{2}-\d{2}", "%Y-%m-%d")
us_date = date_pattern(r"\d{2}/\d{2}/\d{4}", "%m/%d/%Y")


def _timestamp(pattern: str) -> Format:
    compiled = re.compile(pattern)

    def matches(value: str) -> bool:
        if not compiled.fullmatch(value):
            return False
        try:
            dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return False
        return True
    return matches


# OneRoster's dateLastModified: YYYY-MM-DDTHH:MM:SS(.sss)Z
iso_datetime_utc = _timestamp(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z")
_iso_timestamp = _timestamp(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})")


def iso_date_or_datetime(value: str) -> bool:
    """Canvas takes an ISO 8601 timestamp (YYYY-MM-DDTHH:MM:SSZ, or with an offset) or a date."""
    return iso_date(value) or _iso_timestamp(value)


def year(value: str) -> bool:
    return re.fullmatch(r"\d{4}", value) is not None


def email(value: str) -> bool:
    return re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value) is not None


def finished(violations: list[Violation]) -> list[Violation]:
    """The report: each violation once, in file, row and column order."""
    return sorted(set(violations))
