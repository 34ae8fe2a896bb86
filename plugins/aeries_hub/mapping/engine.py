"""Turn Aeries tables into a vendor's output rows, as a mapping file describes.

Rows come out record set by record set, each in the order of the file's key (numbers in numeric order),
so a file's bytes do not depend on the order Aeries answered in; literal ``rows`` keep the order written. Lookups take the first matching row of
the looked-up table, whose rows are in primary-key order (see pipeline.validate_sources).

Every value is text: Aeries integers, padded codes and nulls are normalised to strings first, so that
match codes, templates and lookups behave the same whatever type Parquet stored. Blank means an empty
string after trimming; a value of only spaces (an unset Aeries code padded to its width) is read as '',
so neither null nor padding ever reaches an output file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Sequence

import pandas as pd

from aeries_hub.mapping.loader import (
    DATE_CONDITIONS,
    RUN_VALUE,
    Condition,
    Lookup,
    Mapping,
    MappingError,
    Output,
    RecordSet,
    ValueSpec,
)

RECORD_SET_COLUMN = "_record_set"
#: The dtype of every built value: pandas' Arrow-backed text.
TEXT = pd.StringDtype("pyarrow", na_value=float("nan"))
#: The template field for the run's date: ``{run_date:%Y-%m-%d}`` (a strftime format after the colon).
RUN_DATE = "run_date"


_AERIES_NULL_DATES = ("0001-01-01", "1900-01-01")


@dataclass
class BuiltOutput:
    """Rows of one output file (all text) and what the build merged or filtered away, for the report."""

    frame: pd.DataFrame
    rows_by_record_set: dict[str, int] = field(default_factory=dict)
    merged_duplicates: dict[str, int] = field(default_factory=dict)


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


#: The columns :func:`left_out_schools` reads, per table.
PSEUDO_SCHOOL_COLUMNS = {"schools": {"SchoolCode", "Name", "DoNotReport"}, "students": {"SchoolCode"}}


def left_out_schools(mapping: Mapping, schools: pd.DataFrame | None, students: pd.DataFrame | None) -> list[dict]:
    """Aeries' pseudo-schools, which the mapping leaves out unless ``source.include_pseudo_schools``: school 0
    (the district itself), schools with ``DoNotReport`` true (99 Transfer School), and schools no student
    record is listed under (the 900-902 "X ..." schools), each as ``{"code", "name", "reasons"}`` in code order.

    Without a students table (not in ``source.tables``) the last rule cannot be applied and is not. A school
    the mapping names in ``source.school_codes`` is never left out.
    """
    if mapping.include_pseudo_schools or schools is None or "SchoolCode" not in schools.columns:
        return []
    codes = text(schools["SchoolCode"]).str.strip()
    names = text(schools["Name"]).str.strip() if "Name" in schools.columns else pd.Series("", index=schools.index)
    flagged = (text(schools["DoNotReport"]).str.strip().str.lower().isin(["true", "1", "y"])
               if "DoNotReport" in schools.columns else pd.Series(False, index=schools.index))
    enrolled = None
    if students is not None and "SchoolCode" in students.columns:
        enrolled = set(text(students["SchoolCode"]).str.strip())
    chosen = {str(code) for code in mapping.school_codes}
    result = []
    for code, name, do_not_report in zip(codes, names, flagged):
        reasons = []
        if code == "0":
            reasons.append("school 0 is the district itself")
        if do_not_report:
            reasons.append("DoNotReport is true")
        if enrolled is not None and code not in enrolled and code != "0":
            reasons.append("no student is enrolled")
        if reasons and code not in chosen:
            result.append({"code": int(code) if code.isdigit() else code, "name": name, "reasons": reasons})
    return sorted(result, key=lambda school: (not isinstance(school["code"], int), str(school["code"]).zfill(20)))


def describe_left_out(schools: list[dict]) -> str | None:
    """One line for the report and the log: each left-out school with its name and why."""
    if not schools:
        return None
    listed = "; ".join(f"{s['code']} {s['name']!r} ({', '.join(s['reasons'])})" for s in schools)
    return f"left out as pseudo-schools (source.include_pseudo_schools sends them): {listed}"


def apply_source_filters(mapping: Mapping, tables: dict[str, pd.DataFrame], left_out: Sequence[dict] = ()) -> dict[str, pd.DataFrame]:
    """Keep the schools and student statuses the mapping asks for (``source`` section), without the rows of the
    ``left_out`` schools (:func:`left_out_schools`) in the tables tied to a school by SchoolCode."""
    from aeries_hub.aeries.tables import TABLES

    filtered = dict(tables)
    if mapping.school_codes:
        wanted = {str(code) for code in mapping.school_codes}
        for name, frame in tables.items():
            column = TABLES[name].school_column
            if column and column in frame.columns:
                filtered[name] = frame[text(frame[column]).str.strip().isin(wanted)]
    if left_out:
        unwanted = {str(school["code"]) for school in left_out}
        for name, frame in filtered.items():
            if TABLES[name].school_column == "SchoolCode" and "SchoolCode" in frame.columns:
                filtered[name] = frame[~text(frame["SchoolCode"]).str.strip().isin(unwanted)]
    students = filtered.get("students")
    if students is not None and "InactiveStatusCode" in students.columns:
        codes = text(students["InactiveStatusCode"]).str.strip()
        status = pd.Series("inactive", index=students.index, dtype=TEXT)
        status[codes.isin(mapping.student_status_codes.get("pre_enrolled", []))] = "pre_enrolled"
        status[codes.isin(mapping.student_status_codes.get("active", []))] = "active"
        filtered["students"] = students[status.isin(mapping.student_statuses)]
    return filtered


def columns_read_by(mapping: Mapping, output: Output) -> dict[str, set[str]]:
    """The Aeries tables that building ``output`` reads, each with the columns it reads: those of its record
    sets (``from``), of their lookups and explodes, and those the mapping's ``source`` filters test."""
    needed: dict[str, set[str]] = {}
    for record_set in output.records:
        if not record_set.table:
            continue
        read = columns_read(record_set)
        aliases = {lookup.alias for lookup in record_set.lookups} | ({record_set.explode[1]} if record_set.explode else set())
        own = needed.setdefault(record_set.table, set())
        own |= {ref for ref in read if ref.split(".", 1)[0] not in aliases or "." not in ref}
        own |= {record_set.explode[0]} if record_set.explode else set()
        for lookup in record_set.lookups:
            theirs = needed.setdefault(lookup.table, set())
            theirs |= {ref.split(".", 1)[1] for ref in read if ref.startswith(f"{lookup.alias}.")}
            theirs |= set(lookup.on.values()) | {condition.column for condition in lookup.where}
    for name, columns in needed.items():
        columns |= source_filter_columns(mapping, name)
    return needed


def source_filter_columns(mapping: Mapping, table: str) -> set[str]:
    """The columns of ``table`` that :func:`apply_source_filters` tests for this mapping."""
    from aeries_hub.aeries.tables import TABLES

    columns = {"InactiveStatusCode"} if table == "students" else set()
    school_column = TABLES[table].school_column if table in TABLES else None
    if mapping.school_codes and school_column:
        columns.add(school_column)
    if not mapping.include_pseudo_schools and school_column == "SchoolCode":
        columns.add("SchoolCode")  # the rows of left-out pseudo-schools go, whether or not a value reads it
    return columns


@dataclass(frozen=True)
class RunValues:
    """What a build knows besides the tables: the crosswalk files, the run's date, and what Aeries said.

    ``crosswalks`` is {name: {aeries value: vendor value}}; ``run_date`` is the run's date in the mapping's
    time zone (templates use it as ``{run_date:%Y-%m-%d}``), so a re-run of a run builds the same bytes;
    ``aeries`` holds the ``{run.NAME}`` values (loader.RUN_VALUES: the district's name, the school year served).
    """

    crosswalks: dict[str, dict[str, str]] = field(default_factory=dict)
    run_date: date | None = None
    aeries: dict[str, str] = field(default_factory=dict)
    #: The day date conditions compare with (pipeline.dates_as_of: the run's date held inside the school year
    #: Aeries served); the run's date when not given.
    dates_as_of: date | None = None

    @property
    def conditions_date(self) -> date | None:
        return self.dates_as_of or self.run_date

    def value(self, name: str, where: str) -> str:
        """The run value ``{run.NAME}``; MappingError when this build was not given it."""
        try:
            return self.aeries[name]
        except KeyError:
            raise MappingError(f"{where}: {{run.{name}}} needs a value from Aeries, which this build was not given") from None

    def fill(self, text: str, where: str) -> str:
        """``text`` with each ``{run.NAME}`` replaced by its value."""
        return RUN_VALUE.sub(lambda match: self.value(match.group(1), where), text) if "{run." in text else text


def build_output(
    mapping: Mapping, output: Output, tables: dict[str, pd.DataFrame], run: RunValues | None = None, *,
    release_tables: bool = False,
) -> BuiltOutput:
    """Rows of ``output`` built from ``tables`` (already filtered), record set after record set.

    Without ``run``, the crosswalk files are read and the run date is unknown. With ``release_tables``, each
    table is removed from ``tables`` once no later record set reads it (the caller hands the tables over).
    """
    if run is None:
        from aeries_hub.mapping.crosswalk import read_crosswalks

        run = RunValues(crosswalks=read_crosswalks(mapping))
    index = mapping.outputs.index(output)
    parts = []
    built = BuiltOutput(frame=pd.DataFrame())
    for r, record_set in enumerate(output.records):
        where = f"{mapping.path.name}: outputs[{index}].records[{r}]"
        if record_set.rows is not None:
            frame, merged = _literal_rows(record_set, output, run, where), 0
        else:
            later = {name for rest in output.records[r + 1:] for name in _tables_of(rest)}
            release = frozenset(_tables_of(record_set) - later) if release_tables else frozenset()
            frame, merged = _record_set_rows(record_set, tables, output, where, run, release)
        built.rows_by_record_set[record_set.name] = len(frame)
        if merged:
            built.merged_duplicates[record_set.name] = merged
        parts.append(frame)
    columns = output.delivered_columns + [RECORD_SET_COLUMN]
    built.frame = _stacked(parts, columns) if parts else pd.DataFrame(columns=columns)
    return built


def _stacked(parts: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """The parts one under the other, built a column at a time (each part's column is freed once copied)."""
    if len(parts) == 1:
        return parts[0][columns].reset_index(drop=True)
    return pd.DataFrame({column: pd.concat([part.pop(column) for part in parts], ignore_index=True) for column in columns})


def _literal_rows(record_set: RecordSet, output: Output, run: RunValues, where: str) -> pd.DataFrame:
    out = pd.DataFrame(
        [[run.fill(str(row[column]), f"{where}.rows[{n}].{column}") if column in row else ""
          for column in output.delivered_columns] for n, row in enumerate(record_set.rows or ())],
        columns=output.delivered_columns,
        dtype=object,
    )
    out[RECORD_SET_COLUMN] = record_set.name
    return out


def _record_set_rows(
    record_set: RecordSet, tables: dict[str, pd.DataFrame], output: Output, where: str, run: RunValues,
    release: frozenset[str] = frozenset(),
) -> tuple[pd.DataFrame, int]:
    """The record set's rows; the tables in ``release`` are dropped from ``tables`` once joined (no later
    record set reads them), so that their memory goes while the rows are checked, merged and sorted."""
    table = record_set.table
    assert table is not None, "a record set of literal rows has no table"
    frame = _table(tables, table, f"{where}.from").reset_index(drop=True)
    if record_set.explode:
        frame = _explode(frame, table, *record_set.explode, where=f"{where}.explode",
                         conditions=record_set.explode_where, run_date=run.conditions_date)
    read = columns_read(record_set)
    for lookup in record_set.lookups:
        frame = _join_lookup(frame, lookup, tables, f"{where}.lookups.{lookup.alias}", read, run.conditions_date)
    for name in release:
        tables.pop(name, None)
    if read <= set(frame.columns):  # (else keep them all: the error about the unknown one lists them)
        frame = frame[[column for column in frame.columns if column in read]]
    for column in list(frame.columns):  # once, rather than at every use
        frame[column] = text(frame[column])
    # After the lookups, so that a condition can test a looked-up column (e.g. that a student was found).
    frame = _filtered(frame, conditions_mask(frame, record_set.where, f"{where}.where", run.conditions_date))
    out = pd.DataFrame(index=frame.index)
    for column in output.delivered_columns:
        spec = record_set.values.get(column)
        out[column] = _evaluate(spec, frame, f"{where}.values.{column}", run) if spec else ""
    merged = 0
    if record_set.distinct_on:
        distinct_by = set(record_set.distinct_on) | {preference.column for preference in record_set.prefer}
        if distinct_by <= set(frame.columns):
            frame = frame[[column for column in frame.columns if column in distinct_by]]
        out, merged = _distinct(frame, out, record_set, f"{where}.distinct")
    del frame
    out[RECORD_SET_COLUMN] = record_set.name
    order = out.sort_values(list(output.key), key=natural_order, kind="mergesort").index
    return _reordered(out, order), merged


def _filtered(frame: pd.DataFrame, mask: pd.Series) -> pd.DataFrame:
    """``frame[mask]``, moved a column at a time (and not copied at all when every row stays)."""
    if bool(mask.all()):
        return frame
    result = pd.DataFrame(index=frame.index[mask.to_numpy()])
    for column in list(frame.columns):
        result[column] = frame.pop(column)[mask]
    return result


def _reordered(frame: pd.DataFrame, order: pd.Index) -> pd.DataFrame:
    """``frame.loc[order]`` with a fresh index, moved a column at a time (a whole copy of a file's millions of
    rows next to the original would double the build's memory)."""
    positions = frame.index.get_indexer(order)
    result = pd.DataFrame(index=pd.RangeIndex(len(positions)))
    for column in list(frame.columns):
        result[column] = frame.pop(column).take(positions).reset_index(drop=True)
    return result


def arrow_text(values: pd.Series):
    """A column of text as an Arrow ``large_string`` chunked array, without a copy when it is Arrow-backed."""
    import pyarrow as pa

    array = pa.array(values.astype(TEXT).array)
    return (array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])).cast(pa.large_string())


def natural_order(values: pd.Series) -> pd.Series:
    """Sort key for text: numbers inside it compare as numbers (9 < 10, STAFF-9 < STAFF-10), the rest as text.

    Every run of digits is left-padded with zeros to 20 digits, as ``re.sub(r"\\d+", zfill(20))`` would do,
    but on the column's Arrow buffers, a slice of rows at a time (a roster file's key has millions of values).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    texts = arrow_text(values.astype(TEXT).fillna(""))
    not_ascii = texts.filter(pc.invert(pc.string_is_ascii(texts))).to_pylist()
    if any(re.search(r"[^\x00-\x7f]", "".join(re.findall(r"\d", value))) for value in not_ascii):  # other digits
        keys = [re.sub(r"\d+", lambda m: m.group(0).zfill(20), value) for value in texts.to_pylist()]
        return pd.Series(keys, index=values.index, dtype=TEXT)
    step = 1 << 18
    chunks = [_zero_padded_numbers(chunk.slice(start, step)) for chunk in texts.chunks for start in range(0, len(chunk), step)]
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(chunks, pa.large_string())), index=values.index).astype(TEXT)


def _zero_padded_numbers(texts, width: int = 20):
    """``texts`` (a large_string array) with every run of ASCII digits left-padded with zeros to ``width``."""
    import numpy as np
    import pyarrow as pa

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


def _explode(frame: pd.DataFrame, table: str, column: str, alias: str, where: str,
             conditions: tuple[Condition, ...] = (), run_date: date | None = None) -> pd.DataFrame:
    """One row per element of a list column, the element's fields as ``alias.Field``. The fields the Aeries
    registry knows are always there (blank when no row has them: e.g. a pre-v5 server's sections have no
    SectionStaffMembers), so conditions and lookups on them work whatever the server sent.

    With ``conditions`` (``explode.where``), only the elements that meet them are kept; a row none of whose
    elements does is kept once with blank fields, as a row with an empty list (a section whose staff members
    have all left still becomes a class, without a teacher, where the output's checks can name it)."""
    from aeries_hub.aeries.tables import TABLES

    if column not in frame.columns:
        raise MappingError(f"{where}.column: column {column!r} does not exist")
    rows = frame.explode(column)
    origin = pd.Series(rows.index.to_numpy())
    rows = rows.reset_index(drop=True)
    elements = rows[column].map(lambda item: item if isinstance(item, dict) else {})
    fields = pd.DataFrame(elements.tolist(), index=rows.index)
    known = TABLES[table].column_type(column) if table in TABLES else None
    for name in (known or {}).get("list", {}) if isinstance(known, dict) else ():
        if name not in fields.columns:
            fields[name] = None
    fields.columns = [f"{alias}.{name}" for name in fields.columns]
    exploded = pd.concat([rows.drop(columns=[column]), fields], axis=1)
    if not conditions:
        return exploded
    met = conditions_mask(exploded, conditions, f"{where}.where", run_date)
    none_met = ~origin.isin(set(origin[met]))
    kept_blank = none_met & ~origin.duplicated()
    blank = kept_blank.to_numpy()
    if blank.any():
        for name in fields.columns:
            exploded[name] = exploded[name].astype(object).where(~blank, None)
    return exploded[(met | kept_blank).to_numpy()].reset_index(drop=True)


def _table(tables: dict[str, pd.DataFrame], name: str, where: str) -> pd.DataFrame:
    try:
        return tables[name]
    except KeyError:
        raise MappingError(f"{where}: table {name!r} was not extracted; add it to source.tables") from None


def _column(frame: pd.DataFrame, ref: str, where: str) -> pd.Series:
    if ref not in frame.columns:
        raise MappingError(f"{where}: {_unknown_column(frame, ref)}")
    return text(frame[ref])


def _unknown_column(frame: pd.DataFrame, ref: str) -> str:
    """Why ``ref`` cannot be read: the columns that can (those of its lookup, for ``alias.Column``) and the
    closest name when there is one (``StudentId`` -> ``StudentID``)."""
    import difflib

    alias = ref.split(".", 1)[0] + "." if "." in ref else ""
    pool = sorted(c for c in frame.columns if isinstance(c, str) and (c.startswith(alias) if alias else "." not in c))
    if alias and not pool:
        return f"column {ref!r} does not exist: no lookup or explode is named {alias[:-1]!r}"
    by_case = {c.lower(): c for c in pool}
    close = [by_case[ref.lower()]] if ref.lower() in by_case else difflib.get_close_matches(ref, pool, n=1, cutoff=0.8)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"column {ref!r} does not exist{hint}; columns available: {', '.join(pool) or 'none'}"


def conditions_mask(frame: pd.DataFrame, conditions: tuple[Condition, ...], where: str,
                    run_date: date | None = None) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for i, cond in enumerate(conditions):
        values = _column(frame, cond.column, f"{where}[{i}].column").str.strip()
        if cond.op == "blank":
            mask &= values.eq("") if cond.operand else values.ne("")
        elif cond.op in DATE_CONDITIONS:
            mask &= _date_condition(values, cond, run_date, f"{where}[{i}]")
        else:
            wanted = {str(v).strip() for v in cond.operand}
            hit = values.isin(wanted)
            mask &= hit if cond.op == "in" else ~hit
    return mask


def _date_condition(values: pd.Series, cond: Condition, run_date: date | None, where: str) -> pd.Series:
    """The rows meeting a :data:`DATE_CONDITIONS` condition; Aeries dates are ``YYYY-MM-DD[THH:MM:SS]``."""
    if run_date is None:
        raise MappingError(f"{where}.{cond.op}: needs the run's date, which this build was not given")
    days = pd.to_datetime(values.str[:10], format="%Y-%m-%d", errors="coerce")
    unreadable = values.ne("") & days.isna()
    if unreadable.any():
        raise MappingError(f"{where}.column: {cond.column!r} is not a date in {int(unreadable.sum())} rows "
                           f"(e.g. {values[unreadable].iloc[0]!r}); Aeries dates are YYYY-MM-DD[THH:MM:SS]")
    day = pd.Timestamp(run_date)
    hit = (days < day) if cond.op == "before_run_date" else (days > day)
    hit = hit & days.notna()
    return hit if cond.operand else ~hit


def _tables_of(record_set: RecordSet) -> set[str]:
    return ({record_set.table} if record_set.table else set()) | {lookup.table for lookup in record_set.lookups}


def columns_read(record_set: RecordSet) -> set[str]:
    """Every column name the record set reads after its lookups are joined (``alias.Column`` included):
    its values, conditions, distinct keys and preferences, and the left side of each lookup's ``on``."""
    from aeries_hub.mapping.loader import _refs

    read = {ref for spec in record_set.values.values() for ref in _refs(spec)}
    read |= {condition.column for condition in record_set.where}
    read |= set(record_set.distinct_on) | {preference.column for preference in record_set.prefer}
    read |= {mine for lookup in record_set.lookups for mine in lookup.on}
    return read


def _join_lookup(frame: pd.DataFrame, lookup: Lookup, tables: dict[str, pd.DataFrame], where: str,
                 read: set[str] | None = None, run_date: date | None = None) -> pd.DataFrame:
    """``frame`` with the first matching row of the lookup's table, its columns named ``alias.Column``; only
    the columns in ``read`` are joined (a roster joined with all of a student's columns would not fit in memory)."""
    other = _table(tables, lookup.table, f"{where}.table")
    other = other[conditions_mask(other, lookup.where, f"{where}.where", run_date)]
    prefix = f"{lookup.alias}."
    if read is not None and all(ref[len(prefix):] in other.columns for ref in read if ref.startswith(prefix)):
        # (with an unknown column, everything is joined so that the error can list the lookup's columns)
        other = other[[c for c in other.columns if prefix + c in read or c in lookup.on.values()]]
    keys = [f"__key{i}" for i in range(len(lookup.on))]
    mine = pd.DataFrame({key: _column(frame, column, f"{where}.on").str.strip() for key, column in zip(keys, lookup.on)})
    theirs = pd.DataFrame({key: _column(other, column, f"{where}.on.{name}").str.strip().to_numpy()
                           for key, (name, column) in zip(keys, lookup.on.items())})
    theirs["__row"] = range(len(theirs))
    # a blank key identifies nothing (a Flex school's teachers have no TeacherNumber, nor a section its TeacherNumber1)
    theirs = theirs[theirs[keys].ne("").all(axis=1)].drop_duplicates(subset=keys, keep="first")
    # the position in ``other`` of each row's first match (-1: none): only the looked-up columns are copied
    rows = mine.merge(theirs, on=keys, how="left", sort=False)["__row"].fillna(-1).astype("int64").to_numpy()
    looked_up = {
        f"{prefix}{column}": pd.Series(pd.api.extensions.take(other[column].array, rows, allow_fill=True), index=frame.index)
        for column in other.columns
    }
    return frame.assign(**looked_up)


def _distinct(frame: pd.DataFrame, out: pd.DataFrame, record_set: RecordSet, where: str) -> tuple[pd.DataFrame, int]:
    """One output row per ``distinct.on`` key: the preferred row's values, and for ``collect`` columns
    the distinct non-blank values of every merged row (preferred first) joined with the separator."""
    keys = pd.DataFrame(index=frame.index)
    sort_columns = []
    for i, pref in enumerate(record_set.prefer):
        values = _column(frame, pref.column, f"{where}.prefer[{i}]").str.strip()
        name = f"__prefer{i}"
        if pref.order is not None:
            rank = {v: n for n, v in enumerate(pref.order)}
            keys[name] = values.map(lambda v, rank=rank: rank.get(v, len(rank)))
        else:
            keys[name] = pd.to_numeric(values, errors="coerce").fillna(float("inf")) if values.str.isdigit().all() else values
        sort_columns.append(name)
    on = []
    for i, ref in enumerate(record_set.distinct_on):
        keys[f"__on{i}"] = _column(frame, ref, f"{where}.on[{i}]").str.strip()
        on.append(f"__on{i}")
    ordered = keys.sort_values(sort_columns, kind="mergesort") if sort_columns else keys
    first = ordered.drop_duplicates(subset=on, keep="first")
    collected = {}
    if record_set.collect:
        groups = ordered.groupby(on, sort=False).ngroup()
        for column, separator in record_set.collect.items():
            parts = pd.DataFrame({"group": groups, "value": out.loc[ordered.index, column].str.strip()})
            parts = parts[parts["value"].ne("")].drop_duplicates()
            collected[column] = groups.loc[first.index].map(_joined_per_group(parts["group"], parts["value"], separator))
    rows = len(out)
    result = _filtered(out, pd.Series(out.index.isin(first.index), index=out.index))
    for column, values in collected.items():
        result[column] = values.reindex(result.index).astype(TEXT).fillna("")
    return result, rows - len(result)


def _joined_per_group(groups: pd.Series, values: pd.Series, separator: str) -> pd.Series:
    """Each group's values in the order given, joined with ``separator`` (by group number), in Arrow."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = pa.table({"group": pa.array(groups.to_numpy()), "value": arrow_text(values)})
    listed = table.group_by("group", use_threads=False).aggregate([("value", "list")])  # keeps the given order
    joined = pc.binary_join(listed["value_list"], pa.scalar(separator, pa.large_string()))
    return pd.Series(joined.to_pylist(), index=listed["group"].to_pylist(), dtype=TEXT)


def evaluate_value(spec: ValueSpec, frame: pd.DataFrame, where: str) -> pd.Series:
    """A value spec on ``frame``'s rows as text, outside a build (no crosswalks or run values): a write-back reads
    Aeries' side of a match the way the outbound mappings read it (``contacts.aeries_match``)."""
    return _evaluate(spec, frame, where, RunValues())


def _evaluate(spec: ValueSpec, frame: pd.DataFrame, where: str, run: RunValues) -> pd.Series:
    if spec.kind == "constant":
        values = pd.Series(run.fill(spec.argument, f"{where}.constant"), index=frame.index, dtype=TEXT)
    elif spec.kind == "source":
        values = _column(frame, spec.argument, where)
    elif spec.kind == "first_of":
        values = pd.Series("", index=frame.index, dtype=TEXT)
        for i, item in enumerate(spec.argument):
            if isinstance(item, str):
                candidate = _column(frame, item, where)
            else:
                candidate = _evaluate(item, frame, f"{where}.first_of[{i}]", run)
            values = values.where(~is_blank(values), candidate)
    elif spec.kind == "first_in_group":
        by, order = spec.argument
        values = _first_in_group(frame, by, order, where=f"{where}.first_in_group")
    else:
        values = _template(spec.argument, frame, where, run)
    if spec.match is not None:
        trimmed = values.str.strip()
        matched = trimmed.map(spec.match)
        fallback = values if spec.default is None else pd.Series(spec.default, index=frame.index, dtype=TEXT)
        values = matched.astype(TEXT).where(trimmed.isin(spec.match.keys()), fallback)
    for step in spec.transform:
        values = _apply_step(step, values, frame, where, run)
    return values


def _first_in_group(frame: pd.DataFrame, by: tuple[str, ...], order: tuple[str, ...], where: str) -> pd.Series:
    """"true" on the first row of each group of equal ``by`` values, in ``order`` (numbers as numbers, blanks
    last; ties keep the earlier column's order, then the rows' order), "false" on the others."""
    keys = pd.DataFrame(index=frame.index)
    for i, ref in enumerate(by):
        keys[f"__by{i}"] = _column(frame, ref, f"{where}.by[{i}]").str.strip()
    for i, ref in enumerate(order):
        keys[f"__order{i}"] = _order_key(_column(frame, ref, f"{where}.order[{i}]").str.strip())
    ordered = keys.sort_values([f"__order{i}" for i in range(len(order))], kind="mergesort")
    first = ordered.index[~ordered.duplicated(subset=[f"__by{i}" for i in range(len(by))], keep="first")]
    values = pd.Series("false", index=frame.index, dtype=TEXT)
    values.loc[first] = "true"
    return values


def _order_key(values: pd.Series) -> pd.Series:
    """Sort key of a column: numbers when every non-blank value is a whole number (blanks sort last), else text."""
    filled = values.where(values.ne(""))
    if bool(filled.dropna().str.fullmatch(r"-?\d+").all()):
        return pd.to_numeric(filled, errors="coerce").fillna(float("inf"))
    return values.where(values.ne(""), "\U0010ffff")


def _template(template: str, frame: pd.DataFrame, where: str, run: RunValues) -> pd.Series:
    import string

    result = pd.Series("", index=frame.index, dtype=TEXT)
    for literal, name, spec, _ in string.Formatter().parse(template):
        if literal:
            result = result + literal
        if name == RUN_DATE:
            if run.run_date is None:
                raise MappingError(f"{where}: {{{RUN_DATE}}} needs the run's date, which this build was not given")
            result = result + format(run.run_date, spec or "%Y-%m-%d")
        elif name and name.startswith("run."):
            result = result + format(run.value(name[len("run."):], where), spec or "")
        elif name:
            result = result + _column(frame, name, where).str.strip()
    return result


def _apply_step(step, values: pd.Series, frame: pd.DataFrame, where: str, run: RunValues) -> pd.Series:
    if isinstance(step, str):
        if step == "trim":
            return values.str.strip()
        if step == "upper":
            return values.str.upper()
        if step == "lower":
            return values.str.lower()
        if step == "title":
            return values.str.title()
        if step == "digits_only":
            return values.str.replace(r"\D", "", regex=True)
    (name, argument), = step.items()
    blank = is_blank(values)
    if name == "date":
        return _format_dates(values, argument)
    if name == "split_name":
        return per_distinct(values, lambda value: _name_part(value, argument)).astype(TEXT)
    if name == "truncate":
        return values.str.slice(0, argument)
    if name == "if_blank":
        fill = _template(argument, frame, f"{where}.transform", run) if "{" in argument else argument
        return values.where(~blank, fill)
    if name == "blank_unless":
        return values.where(_search(values, argument, f"{where}.transform: blank_unless"), "")
    if name == "blank_if_equal_to":
        other = _column(frame, argument, f"{where}.transform").str.strip()
        return values.where(values.str.strip().ne(other), "")
    if name == "if_match":
        hit = _search(values, argument["pattern"], f"{where}.transform: if_match")
        return pd.Series(argument["else"], index=values.index, dtype=TEXT).where(~hit, argument["then"])
    if name == "crosswalk":
        from aeries_hub.mapping.loader import crosswalk_step

        crosswalk, otherwise = crosswalk_step(step)
        assert crosswalk is not None, "a crosswalk step names its crosswalk"
        table = run.crosswalks[crosswalk]
        trimmed = values.str.strip()
        if otherwise is not None:
            values = _template(otherwise, frame, f"{where}.transform", run) if "{" in otherwise else otherwise
        return trimmed.map(table).astype(TEXT).where(trimmed.isin(table.keys()), values)
    if name == "prefix":
        return values.where(blank, argument + values)
    if name == "pad_left":
        padded = values.str.rjust(argument["width"], argument.get("char", "0"))
        return values.where(blank, padded)
    if name == "replace":
        try:
            return values.str.replace(argument["pattern"], argument["with"], regex=True)
        except re.error as exc:
            raise MappingError(f"{where}.transform: replace pattern {argument['pattern']!r} is invalid: {exc}") from None
    raise MappingError(f"{where}.transform: unknown step {step!r}")


def _name_part(name: str, part: str) -> str:
    """A part of a whole name written "First Last" (Aeries' MailingName): ``first`` is its first word, ``last``
    the words after it ("Maria De La Cruz" -> "Maria", "De La Cruz"; a one-word name has no last part)."""
    words = name.split(None, 1)
    if part == "first":
        return words[0] if words else ""
    return words[1] if len(words) > 1 else ""


def _search(values: pd.Series, pattern: str, where: str) -> pd.Series:
    """True where the regular expression is found in the value (re.search)."""
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise MappingError(f"{where} pattern {pattern!r} is invalid: {exc}") from None
    return per_distinct(values, lambda value: compiled.search(value) is not None).astype(bool)


def per_distinct(values: pd.Series, function) -> pd.Series:
    """``function`` of each value, computed once per distinct value (codes and dates repeat a lot)."""
    distinct = values.drop_duplicates()
    return values.map(dict(zip(distinct, map(function, distinct))))


def _format_dates(values: pd.Series, fmt: str) -> pd.Series:
    day = values.str.strip().str.slice(0, 10)
    parsed = pd.to_datetime(day.where(~day.isin(_AERIES_NULL_DATES), ""), format="%Y-%m-%d", errors="coerce")
    return parsed.dt.strftime(fmt).astype(TEXT).where(parsed.notna(), "")
