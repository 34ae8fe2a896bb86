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

import pandas as pd

from aeries_hub.mapping.loader import (
    Condition,
    Lookup,
    Mapping,
    MappingError,
    Output,
    RecordSet,
    ValueSpec,
)

RECORD_SET_COLUMN = "_record_set"
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
    """A column as text: nulls and values of only spaces become '', integral numbers lose their '.0'."""
    if pd.api.types.is_bool_dtype(series.dtype):
        result = series.map({True: "true", False: "false"})
    elif pd.api.types.is_float_dtype(series.dtype):
        result = series.map(lambda v: "" if pd.isna(v) else (str(int(v)) if float(v).is_integer() else str(v)))
    elif pd.api.types.is_integer_dtype(series.dtype):
        result = series.astype("Int64").astype("string")
    else:
        result = series.map(_cell_text)
        result = result.where(~result.str.isspace().fillna(False).astype(bool), "")
    return result.astype("string").fillna("").astype(object)


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


def apply_source_filters(mapping: Mapping, tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Keep the schools and student statuses the mapping asks for (``source`` section)."""
    from aeries_hub.hooks.aeries import TABLES

    filtered = dict(tables)
    if mapping.school_codes:
        wanted = {str(code) for code in mapping.school_codes}
        for name, frame in tables.items():
            column = TABLES[name].school_column
            if column and column in frame.columns:
                filtered[name] = frame[text(frame[column]).str.strip().isin(wanted)]
    students = filtered.get("students")
    if students is not None and "InactiveStatusCode" in students.columns:
        codes = text(students["InactiveStatusCode"]).str.strip()
        status = pd.Series("inactive", index=students.index, dtype=object)
        status[codes.isin(mapping.student_status_codes.get("pre_enrolled", []))] = "pre_enrolled"
        status[codes.isin(mapping.student_status_codes.get("active", []))] = "active"
        filtered["students"] = students[status.isin(mapping.student_statuses)]
    return filtered


@dataclass(frozen=True)
class RunValues:
    """What a build knows besides the tables: the crosswalk files and the run's date.

    ``crosswalks`` is {name: {aeries value: vendor value}}; ``run_date`` is the run's date in the mapping's
    time zone (templates use it as ``{run_date:%Y-%m-%d}``), so a re-run of a run builds the same bytes.
    """

    crosswalks: dict[str, dict[str, str]] = field(default_factory=dict)
    run_date: date | None = None


def build_output(
    mapping: Mapping, output: Output, tables: dict[str, pd.DataFrame], run: RunValues | None = None
) -> BuiltOutput:
    """Rows of ``output`` built from ``tables`` (already filtered), record set after record set.

    Without ``run``, the crosswalk files are read and the run date is unknown.
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
            frame, merged = _literal_rows(record_set, output), 0
        else:
            frame, merged = _record_set_rows(record_set, tables, output, where, run)
        built.rows_by_record_set[record_set.name] = len(frame)
        if merged:
            built.merged_duplicates[record_set.name] = merged
        parts.append(frame)
    columns = output.delivered_columns + [RECORD_SET_COLUMN]
    built.frame = pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)
    return built


def _literal_rows(record_set: RecordSet, output: Output) -> pd.DataFrame:
    out = pd.DataFrame(
        [[row.get(column, "") for column in output.delivered_columns] for row in record_set.rows],
        columns=output.delivered_columns,
        dtype=object,
    )
    out[RECORD_SET_COLUMN] = record_set.name
    return out


def _record_set_rows(
    record_set: RecordSet, tables: dict[str, pd.DataFrame], output: Output, where: str, run: RunValues
) -> tuple[pd.DataFrame, int]:
    base = _table(tables, record_set.table, f"{where}.from")
    frame = base.reset_index(drop=True)
    if record_set.explode:
        frame = _explode(frame, record_set.table, *record_set.explode, where=f"{where}.explode")
    for lookup in record_set.lookups:
        frame = _join_lookup(frame, lookup, tables, f"{where}.lookups.{lookup.alias}")
    # After the lookups, so that a condition can test a looked-up column (e.g. that a student was found).
    frame = frame[conditions_mask(frame, record_set.where, f"{where}.where")]
    out = pd.DataFrame(index=frame.index)
    for column in output.delivered_columns:
        spec = record_set.values.get(column)
        out[column] = _evaluate(spec, frame, f"{where}.values.{column}", run) if spec else ""
    merged = 0
    if record_set.distinct_on:
        out, merged = _distinct(frame, out, record_set, f"{where}.distinct")
    out[RECORD_SET_COLUMN] = record_set.name
    order = out.sort_values(list(output.key), key=natural_order, kind="mergesort").index
    return out.loc[order].reset_index(drop=True), merged


def natural_order(values: pd.Series) -> pd.Series:
    """Sort key for text: numbers inside it compare as numbers (9 < 10, STAFF-9 < STAFF-10), the rest as text."""
    return values.astype(str).str.replace(r"\d+", lambda m: m.group(0).zfill(20), regex=True)


def _explode(frame: pd.DataFrame, table: str, column: str, alias: str, where: str) -> pd.DataFrame:
    """One row per element of a list column, the element's fields as ``alias.Field``. The fields the Aeries
    registry knows are always there (blank when no row has them: e.g. a pre-v5 server's sections have no
    SectionStaffMembers), so conditions and lookups on them work whatever the server sent."""
    from aeries_hub.hooks.aeries import TABLES

    if column not in frame.columns:
        raise MappingError(f"{where}.column: column {column!r} does not exist")
    rows = frame.explode(column, ignore_index=True)
    elements = rows[column].map(lambda item: item if isinstance(item, dict) else {})
    fields = pd.DataFrame(elements.tolist(), index=rows.index)
    known = TABLES[table].column_type(column) if table in TABLES else None
    for name in (known or {}).get("list", {}) if isinstance(known, dict) else ():
        if name not in fields.columns:
            fields[name] = None
    fields.columns = [f"{alias}.{name}" for name in fields.columns]
    return pd.concat([rows.drop(columns=[column]), fields], axis=1)


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


def conditions_mask(frame: pd.DataFrame, conditions: tuple[Condition, ...], where: str) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for i, cond in enumerate(conditions):
        values = _column(frame, cond.column, f"{where}[{i}].column").str.strip()
        if cond.op == "blank":
            mask &= values.eq("") if cond.operand else values.ne("")
        else:
            wanted = {str(v).strip() for v in cond.operand}
            hit = values.isin(wanted)
            mask &= hit if cond.op == "in" else ~hit
    return mask


def _join_lookup(frame: pd.DataFrame, lookup: Lookup, tables: dict[str, pd.DataFrame], where: str) -> pd.DataFrame:
    other = _table(tables, lookup.table, f"{where}.table")
    other = other[conditions_mask(other, lookup.where, f"{where}.where")]
    left_keys = [f"__key{i}" for i in range(len(lookup.on))]
    joined = frame.copy()
    right = other.rename(columns={c: f"{lookup.alias}.{c}" for c in other.columns})
    for key, (mine, theirs) in zip(left_keys, lookup.on.items()):
        joined[key] = _column(frame, mine, f"{where}.on").str.strip()
        right[key] = _column(other, theirs, f"{where}.on.{mine}").str.strip()
    right = right.drop_duplicates(subset=left_keys, keep="first")
    joined = joined.merge(right, on=left_keys, how="left", sort=False)
    joined.index = frame.index
    return joined.drop(columns=left_keys)


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
            keys[name] = values.map(lambda v: rank.get(v, len(rank)))
        else:
            keys[name] = pd.to_numeric(values, errors="coerce").fillna(float("inf")) if values.str.isdigit().all() else values
        sort_columns.append(name)
    on = []
    for i, ref in enumerate(record_set.distinct_on):
        keys[f"__on{i}"] = _column(frame, ref, f"{where}.on[{i}]").str.strip()
        on.append(f"__on{i}")
    ordered = keys.sort_values(sort_columns, kind="mergesort") if sort_columns else keys
    first = ordered.drop_duplicates(subset=on, keep="first")
    result = out.loc[out.index.isin(first.index)].copy()
    if record_set.collect:
        groups = ordered.groupby(on, sort=False).ngroup()
        for column, separator in record_set.collect.items():
            parts = pd.DataFrame({"group": groups, "value": out.loc[ordered.index, column].str.strip()})
            parts = parts[parts["value"].ne("")].drop_duplicates()
            joined = parts.groupby("group", sort=False)["value"].agg(separator.join)
            result[column] = groups.loc[result.index].map(joined).fillna("").astype(object)
    return result, len(out) - len(result)


def _evaluate(spec: ValueSpec, frame: pd.DataFrame, where: str, run: RunValues) -> pd.Series:
    if spec.kind == "constant":
        values = pd.Series(spec.argument, index=frame.index, dtype=object)
    elif spec.kind == "source":
        values = _column(frame, spec.argument, where)
    elif spec.kind == "first_of":
        values = pd.Series("", index=frame.index, dtype=object)
        for ref in spec.argument:
            candidate = _column(frame, ref, where)
            values = values.where(~is_blank(values), candidate)
    else:
        values = _template(spec.argument, frame, where, run)
    if spec.match is not None:
        trimmed = values.str.strip()
        matched = trimmed.map(spec.match)
        fallback = values if spec.default is None else pd.Series(spec.default, index=frame.index, dtype=object)
        values = matched.where(trimmed.isin(spec.match.keys()), fallback).astype(object)
    for step in spec.transform:
        values = _apply_step(step, values, frame, where, run)
    return values


def _template(template: str, frame: pd.DataFrame, where: str, run: RunValues) -> pd.Series:
    import string

    result = pd.Series("", index=frame.index, dtype=object)
    for literal, name, spec, _ in string.Formatter().parse(template):
        if literal:
            result = result + literal
        if name == RUN_DATE:
            if run.run_date is None:
                raise MappingError(f"{where}: {{{RUN_DATE}}} needs the run's date, which this build was not given")
            result = result + format(run.run_date, spec or "%Y-%m-%d")
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
        return pd.Series(argument["else"], index=values.index, dtype=object).where(~hit, argument["then"])
    if name == "crosswalk":
        table = run.crosswalks[argument]
        trimmed = values.str.strip()
        return trimmed.map(table).where(trimmed.isin(table.keys()), values).astype(object)
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


def _search(values: pd.Series, pattern: str, where: str) -> pd.Series:
    """True where the regular expression is found in the value (re.search)."""
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise MappingError(f"{where} pattern {pattern!r} is invalid: {exc}") from None
    return values.map(lambda value: compiled.search(value) is not None).astype(bool)


def _format_dates(values: pd.Series, fmt: str) -> pd.Series:
    day = values.str.strip().str.slice(0, 10)
    parsed = pd.to_datetime(day.where(~day.isin(_AERIES_NULL_DATES), ""), format="%Y-%m-%d", errors="coerce")
    return parsed.dt.strftime(fmt).astype(object).where(parsed.notna(), "")
