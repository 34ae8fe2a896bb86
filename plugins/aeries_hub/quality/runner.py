"""Run check specs on a pandas DataFrame with Great Expectations Core 1.x.

``validate_frame`` validates one table in two phases, each one GX expectation suite on an ephemeral
data context (pandas data source, dataframe asset, whole-dataframe batch):

1. ``reject`` checks (row level) on every row, result format COMPLETE: their failing rows are removed and
   returned in ``rejected`` with a ``_reject_reason``;
2. ``error`` and ``warning`` checks on the rows that remain (so "at least one row" still holds after
   rejects), result format SUMMARY: only the first failing rows are kept, as samples.

GX is imported only inside these functions (the import costs seconds and would slow DAG parsing).

Runner extensions, applied to a working copy of the frame (the caller's frame is never modified):

* ``ignore_blank``: the check runs on a helper column ``<column> (blank as null)`` where null, empty and
  whitespace-only strings are null; GX column-map expectations do not test nulls.
* ``value_set_from``: the distinct non-null values of ``tables[table][column]``. Sets of up to
  ``INLINE_VALUE_SET_LIMIT`` values are passed to GX as ``value_set``. Larger sets are tested through a
  membership helper column ``<column> in <table>.<column>`` (True/False, null where the value is null)
  with ``value_set: [True]``: GX 1.24 re-serialises an expectation's arguments some hundred times per
  validation, which takes ~10 s for a 100,000-value set.

* ``split`` (with ``value_set_from``): a cell holds several values separated by ``split``; the membership
  helper ``<column> (each) in <table>.<column>`` is True where every non-blank part is in the set.

* ``rows_where`` (single-column checks): the check tests a helper column ``<column> where <other> in [...]``,
  null on the rows whose ``<other>`` is not one of the values. With ``expect_column_distinct_values_to_contain_set``
  and ``value_set_from``, a failed check lists in ``missing`` every value of the other table the rows lack
  (the classes of classes.csv that no teacher enrollment names).

Rows are identified by position: GX sees a frame with a fresh RangeIndex, and failing positions are
mapped back to the caller's rows, whatever their index. GX gets only the columns the checks use.

Data Docs: with ``docs_dir``, the GX expectation suites and validation results are kept in
``<docs_dir>/.gx_store/`` (filesystem stores of the otherwise ephemeral context), so that several
``validate_frame`` calls into one folder (one per table of a run) build one site whose index.html lists
them all; only the new pages are rendered on each call. With ``data_docs=False`` only the validation JSON
files are written (what the run's tasks use: the HTML site is for browsing, and costs time per table).

``expect_column_values_to_match_strftime_format``: GX parses each row with ``datetime.strptime``; the runner
parses each distinct value once, the same way, into a helper column ``<column> matches <format>``
(True/False, null where the value is null) that GX tests with ``value_set: [True]``. GX still checks the
expectation's own arguments; a column with non-text values is left to GX's own implementation.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from aeries_hub.quality.checks import (
    COLUMN_MAP,
    COLUMN_PAIR_MAP,
    TABLE,
    Check,
    CheckConfigError,
)

REJECT_REASON = "_reject_reason"
SAMPLE_SIZE = 5
#: Longest unexpected value/index list kept in the written validation results (reject checks ask GX for every
#: failing row; 100,000 rejected roster rows made seconds of JSON and megabytes of docs). The rejects CSV has all.
DOCS_LIST_LIMIT = 1000
INLINE_VALUE_SET_LIMIT = 1000
#: Table expectations that look at the frame's columns; with none of these the runner hands GX only the
#: columns the checks use (less to copy and fingerprint).
_SHAPE_EXPECTATIONS = (
    "expect_table_column_count_to_be_between",
    "expect_table_column_count_to_equal",
    "expect_table_columns_to_match_ordered_list",
    "expect_table_columns_to_match_set",
    "expect_column_to_exist",
)
_STRFTIME = "expect_column_values_to_match_strftime_format"
_UNIQUENESS = ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique")
_CONTAINS = "expect_column_distinct_values_to_contain_set"
_GX_SEVERITY = {"error": "critical", "warning": "warning", "reject": "warning"}
_STORE_DIR = ".gx_store"


@dataclass
class CheckResult:
    """The outcome of one check."""

    expectation: str
    columns: tuple[str, ...]
    severity: str
    success: bool
    unexpected_count: int | None = None
    element_count: int | None = None
    description: str | None = None
    #: Up to 5 failing rows as plain dicts: ``row`` (the caller's index label) and the tested columns.
    sample: list[dict[str, Any]] = field(default_factory=list)
    #: For column-aggregate and table expectations: what GX observed (e.g. the row count).
    observed_value: Any = None
    #: Rows removed by this check (reject severity).
    rejected_count: int = 0
    #: Set when the check could not run (missing column, GX exception): it then counts as failed.
    exception: str | None = None
    where: str = ""
    #: Why a failing row fails, in words (the check's description, or a generated sentence): the
    #: ``_reject_reason`` of the rows a reject check removes.
    reason: str = ""
    #: For a uniqueness warning that failed: each value several rows share, ``{values, count, ids}`` (every row
    #: that shares it, by its ``id_columns`` other than the tested ones), for the district to fix them all.
    shared: list[dict[str, Any]] = field(default_factory=list)
    #: For ``expect_column_distinct_values_to_contain_set`` with ``value_set_from`` that failed: every value of
    #: the other table that the column does not hold, in that table's order (e.g. the classes without a teacher).
    missing: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        """``passed``, ``warned`` (warning failures; reject checks that removed rows) or ``failed``."""
        if self.exception:
            return "failed"
        if self.severity == "reject":
            return "warned" if self.rejected_count else "passed"
        if self.success:
            return "passed"
        return "failed" if self.severity == "error" else "warned"

    @property
    def label(self) -> str:
        return f"{self.expectation} [{', '.join(self.columns)}]" if self.columns else self.expectation

    def to_dict(self) -> dict[str, Any]:
        return {
            "expectation": self.expectation,
            "columns": list(self.columns),
            "severity": self.severity,
            "outcome": self.outcome,
            "success": self.success,
            "unexpected_count": self.unexpected_count,
            "element_count": self.element_count,
            "description": self.description,
            "sample": [dict(row) for row in self.sample[:SAMPLE_SIZE]],
            "observed_value": _plain(self.observed_value),
            "rejected_count": self.rejected_count,
            "exception": self.exception,
            "where": self.where,
            "reason": self.reason,
            "shared": [dict(entry) for entry in self.shared],
            "missing": list(self.missing),
        }

    def summary(self) -> str:
        """``label ("description"): what failed, e.g. sample rows.`` — one sentence for messages."""
        head = self.label + (f' ("{self.description}")' if self.description else "")
        if self.exception:
            return f"{head}: could not run: {self.exception}."
        if self.unexpected_count is not None and self.element_count is not None:
            text = f"{head}: {self.unexpected_count} of {self.element_count} rows fail"
            if self.sample:
                text += ", e.g. " + "; ".join(json.dumps(row, default=str) for row in self.sample[:SAMPLE_SIZE])
            return text + "."
        return f"{head}: observed {json.dumps(_plain(self.observed_value), default=str)}."


def rejects_csv(rejected: pd.DataFrame) -> bytes:
    """The CSV of rejected rows (``rejects/*.csv``) that a person opens in a spreadsheet: rejected rows are the
    ones most likely to hold a hostile value, so text that a spreadsheet would run as a formula gets a ``'`` in
    front (:func:`aeries_hub.mapping.render.escape_formula`)."""
    from aeries_hub.mapping.render import escape_formulas_in_frame

    return escape_formulas_in_frame(rejected).to_csv(index=False).encode()


@dataclass
class ValidationOutcome:
    """What ``validate_frame`` found for one table."""

    name: str
    results: list[CheckResult]
    accepted: pd.DataFrame
    rejected: pd.DataFrame
    row_count: int = 0
    #: Files written when ``docs_dir`` was given: ``docs_index``, ``validation_json`` and, with reject
    #: checks, ``rejects_validation_json``.
    artifacts: dict[str, str] = field(default_factory=dict)
    #: Seconds spent: ``gx_import``, ``validate``, ``docs``, ``total``.
    timings: dict[str, float] = field(default_factory=dict)

    def _count(self, outcome: str) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    @property
    def passed(self) -> int:
        return self._count("passed")

    @property
    def warned(self) -> int:
        return self._count("warned")

    @property
    def failed(self) -> int:
        return self._count("failed")

    @property
    def has_errors(self) -> bool:
        return self.failed > 0

    @property
    def rejected_count(self) -> int:
        return len(self.rejected)

    @property
    def errors(self) -> list[CheckResult]:
        return [r for r in self.results if r.outcome == "failed"]

    def error_message(self) -> str:
        """One paragraph naming each failing error check, its columns and sample rows ('' when none failed)."""
        errors = self.errors
        if not errors:
            return ""
        plural = "s" if len(errors) != 1 else ""
        head = f"{self.name}: {len(errors)} error check{plural} failed on {self.row_count} rows."
        return " ".join([head] + [r.summary() for r in errors])

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (no DataFrames; at most 5 sample rows per check)."""
        return {
            "name": self.name,
            "rows": self.row_count,
            "accepted": len(self.accepted),
            "rejected": self.rejected_count,
            "checks": len(self.results),
            "passed": self.passed,
            "warned": self.warned,
            "failed": self.failed,
            "has_errors": self.has_errors,
            "error_message": self.error_message(),
            "results": [r.to_dict() for r in self.results],
            "artifacts": dict(self.artifacts),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }


def combine_reports(outcomes: Iterable[ValidationOutcome | Mapping[str, Any]]) -> dict[str, Any]:
    """Totals for a run report over several tables (outcomes or their ``to_dict()``)."""
    tables = [o.to_dict() if isinstance(o, ValidationOutcome) else dict(o) for o in outcomes]
    totals = {key: sum(int(t.get(key, 0)) for t in tables)
              for key in ("checks", "passed", "warned", "failed", "rejected", "rows", "accepted")}
    return {
        **totals,
        "tables": tables,
        "has_errors": any(t.get("has_errors") for t in tables),
        "error_messages": [t["error_message"] for t in tables if t.get("error_message")],
    }


# --------------------------------------------------------------------------------------------- runner


def _import_gx():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx

    return gx


def validate_frame(
    df: pd.DataFrame,
    checks: Sequence[Check],
    *,
    name: str,
    tables: Mapping[str, pd.DataFrame] | None = None,
    docs_dir: str | os.PathLike | None = None,
    id_columns: Sequence[str] = (),
    data_docs: bool = True,
) -> ValidationOutcome:
    """Validate ``df`` against ``checks`` with Great Expectations.

    ``tables`` provides the frames that ``value_set_from`` refers to. With ``docs_dir``, GX Data Docs
    (index.html) and ``<name>.validation.json`` are written there; several calls may share one folder (the
    index lists every table). ``data_docs=False`` writes only the validation JSON (no HTML site, whose
    rendering costs about half a second a table and whose static files are 3 MB a folder).
    ``id_columns`` are added to sample rows to identify them (e.g. StudentID).
    Raises CheckConfigError when a check cannot be built (bad arguments, unknown value_set_from table).
    """
    started = time.perf_counter()
    timings: dict[str, float] = {}
    checks = list(checks)
    row_count = len(df)
    results: list[CheckResult | None] = [None] * len(checks)

    missing = {i: [c for c in check.reads if c not in df.columns] for i, check in enumerate(checks)}
    for i, cols in missing.items():
        if cols:
            results[i] = _result_for(checks[i], exception=f"column {', '.join(map(repr, cols))} is not in the data")
    runnable = [i for i in range(len(checks)) if results[i] is None]
    reject_ids = [i for i in runnable if checks[i].severity == "reject"]
    gate_ids = [i for i in runnable if checks[i].severity != "reject"]

    if not runnable and docs_dir is None:  # nothing for GX to do: do not pay for its import
        timings["total"] = time.perf_counter() - started
        return ValidationOutcome(name=name, results=[r for r in results if r is not None], accepted=df,
                                 rejected=_no_rejects(df), row_count=row_count, timings=timings)

    t = time.perf_counter()
    gx = _import_gx()
    timings["gx_import"] = time.perf_counter() - t

    t = time.perf_counter()
    work, specs = _prepare(df, checks, runnable, tables or {})
    context = _context(gx, docs_dir if data_docs else None)
    data = context.data_sources.add_pandas(name="frames")
    asset = data.add_dataframe_asset(name=_safe(name))
    batch_definition = asset.add_batch_definition_whole_dataframe("whole frame")
    phases = []

    positions = np.arange(row_count)  # gate frame position -> caller's position
    reasons: np.ndarray | None = None  # per caller's position: "" or the reasons joined by "; "
    if reject_ids:
        suite = _suite(gx, context, f"{_safe(name)}-rejects", checks, reject_ids, specs)
        with _no_batch_fingerprint():
            reject_frame = _phase_frame(work, checks, reject_ids, specs)
            batch = batch_definition.get_batch(batch_parameters={"dataframe": reject_frame})
        with _no_batch_fingerprint():  # batch.validate gets the batch again
            validation = batch.validate(suite, result_format={
                "result_format": "COMPLETE", "partial_unexpected_count": 20, "return_unexpected_index_query": False})
        phases.append(("rejects_validation_json", f"{_safe(name)}.rejects.validation.json", suite, batch, validation))
        for check_id, gx_result in sorted(_by_check(validation), key=lambda pair: pair[0]):
            check = checks[check_id]
            result = _result_for(check, gx_result=gx_result)
            index = np.asarray((gx_result.result or {}).get("unexpected_index_list") or [], dtype=np.int64)
            if not result.exception and len(index):
                result.rejected_count = len(index)
                result.sample = _sample(df, index[:SAMPLE_SIZE], check.columns, id_columns)
                if reasons is None:
                    reasons = np.full(row_count, "", dtype=object)
                current = reasons[index]
                reason = check.reason()
                reasons[index] = np.where(current == "", reason, current + ("; " + reason))
            results[check_id] = result
        if reasons is not None:
            positions = np.flatnonzero(reasons == "")

    gate_frame = _phase_frame(work, checks, gate_ids, specs)
    gate_frame = gate_frame if reasons is None else gate_frame.iloc[positions].reset_index(drop=True)
    suite = _suite(gx, context, _safe(name), checks, gate_ids, specs)
    if reasons is None and phases and list(reject_frame.columns) == list(gate_frame.columns):
        batch = phases[0][3]
    else:
        with _no_batch_fingerprint():
            batch = batch_definition.get_batch(batch_parameters={"dataframe": gate_frame})
    with _no_batch_fingerprint():
        validation = batch.validate(suite, result_format={
            "result_format": "SUMMARY", "partial_unexpected_count": 20, "return_unexpected_index_query": False})
    phases.append(("validation_json", f"{_safe(name)}.validation.json", suite, batch, validation))
    for check_id, gx_result in _by_check(validation):
        check = checks[check_id]
        result = _result_for(check, gx_result=gx_result)
        index = (gx_result.result or {}).get("partial_unexpected_index_list") or []
        if index and not result.exception and check.row_level:
            result.sample = _sample(df, positions[np.asarray(index[:SAMPLE_SIZE], dtype=np.int64)],
                                    check.columns, id_columns)
        if check.expectation in _UNIQUENESS and check.severity == "warning" and not result.success \
                and not result.exception:
            result.shared = _shared_values(df, positions, gate_frame, specs[check_id], check, id_columns)
        if check.expectation == _CONTAINS and check.value_set_from and not result.success and not result.exception:
            found = set(gate_frame[specs[check_id].kwargs["column"]].dropna().astype(str))
            result.missing = [v for v in map(str, _reference_values(check, tables or {})) if v not in found]
        results[check_id] = result
    for i in runnable:
        if results[i] is None:  # never expected: GX returned no result for this expectation
            results[i] = _result_for(checks[i], exception="Great Expectations returned no result")
    timings["validate"] = time.perf_counter() - t

    if reasons is None:
        accepted = df
        rejected = _no_rejects(df)
    else:
        accepted = df.iloc[positions]
        removed = np.flatnonzero(reasons != "")
        rejected = df.iloc[removed].assign(**{REJECT_REASON: reasons[removed]})

    artifacts: dict[str, str] = {}
    if docs_dir is not None:
        t = time.perf_counter()
        artifacts = _write_docs(gx, context, Path(docs_dir), name, phases, site=data_docs)
        timings["docs"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - started
    return ValidationOutcome(
        name=name,
        results=[r for r in results if r is not None],
        accepted=accepted,
        rejected=rejected,
        row_count=row_count,
        artifacts=artifacts,
        timings=timings,
    )


# ------------------------------------------------------------------------------------------- helpers


def _no_rejects(df: pd.DataFrame) -> pd.DataFrame:
    return df.iloc[0:0].assign(**{REJECT_REASON: pd.Series(dtype=object)})


@dataclass
class _Spec:
    """How one check is handed to GX: the expectation, the column GX tests and the resolved arguments."""

    expectation: str
    kwargs: dict[str, Any]
    #: When a helper column stands in for the check: the check's own arguments, for GX to check them.
    own_kwargs: dict[str, Any] | None = None


def _prepare(df: pd.DataFrame, checks: list[Check], ids: list[int], tables: Mapping[str, pd.DataFrame]):
    """The frame GX sees (RangeIndex, needed columns, helper columns) and each check's GX arguments."""
    if any(checks[i].expectation in _SHAPE_EXPECTATIONS for i in ids):
        needed = list(df.columns)
    else:
        used = {c for i in ids for c in checks[i].reads}
        needed = [c for c in df.columns if c in used]
        if not needed and len(df.columns):
            needed = [df.columns[0]]  # keep the row count
    work = df[needed].reset_index(drop=True)
    helpers: dict[str, pd.Series] = {}
    specs: dict[int, _Spec] = {}
    for i in ids:
        check = checks[i]
        expectation = check.expectation
        kwargs = dict(check.kwargs)
        ref = check.value_set_from
        if check.rows_where:
            on, wanted = check.rows_where
            column = kwargs["column"]
            kwargs["column"] = f"{column} where {on} in {list(wanted)}"
            if kwargs["column"] not in helpers:
                tested = work[on].astype("string").str.strip().isin(wanted).fillna(False).to_numpy(dtype=bool)
                helpers[kwargs["column"]] = work[column].where(tested)
        if check.kind == COLUMN_MAP:
            column = kwargs["column"]
            values = helpers.get(column, work.get(column))
            if check.ignore_blank:
                kwargs["column"] = f"{column} (blank as null)"
                if kwargs["column"] not in helpers:
                    helpers[kwargs["column"]] = values.mask(_blank_mask(values))
                values = helpers[kwargs["column"]]
            if ref is not None and check.split:
                helper = f"{kwargs['column']} (each) in {ref}"
                if helper not in helpers:
                    helpers[helper] = _each_in(values, check.split, _reference_values(check, tables))
                kwargs.update(column=helper, value_set=[True])
            elif ref is not None:
                allowed = _reference_values(check, tables)
                if len(allowed) <= INLINE_VALUE_SET_LIMIT:
                    kwargs["value_set"] = _plain_list(allowed)
                else:
                    helper = f"{kwargs['column']} in {ref}"
                    if helper not in helpers:
                        helpers[helper] = _membership(values.isin(allowed), values.isna())
                    kwargs.update(column=helper, value_set=[True])
            elif expectation == _STRFTIME and isinstance(kwargs.get("strftime_format"), str):
                # GX parses every row with datetime.strptime (~30 s a million rows); dates repeat, so parse each
                # distinct value once, the same way, and let GX check the result column.
                fmt = kwargs["strftime_format"]
                helper = f"{kwargs['column']} matches {fmt}"
                if helper not in helpers:
                    matches = _matches_strftime(values, fmt)
                    if matches is not None:  # else a value is not text: GX's own check says so
                        helpers[helper] = matches
                if helper in helpers:
                    own = dict(kwargs, column=column)
                    expectation = "expect_column_values_to_be_in_set"
                    kwargs = {k: v for k, v in kwargs.items() if k != "strftime_format"}
                    kwargs.update(column=helper, value_set=[True])
                    specs[i] = _Spec(expectation=expectation, kwargs=kwargs, own_kwargs=own)
                    continue
        elif ref is not None and check.kind == COLUMN_PAIR_MAP:
            # GX's pandas implementation of the pair check walks the rows one by one: test membership here
            # and let GX check the result column (same rows fail, null pairs are not tested).
            a, b = kwargs["column_A"], kwargs["column_B"]
            helper = f"({a}, {b}) in {ref}"
            if helper not in helpers:
                allowed = _reference_frame(check, tables)
                pairs = pd.MultiIndex.from_arrays([work[a], work[b]])
                missing = (work[a].isna() | work[b].isna()).to_numpy()
                helpers[helper] = _membership(pairs.isin(pd.MultiIndex.from_frame(allowed)), missing)
            expectation = "expect_column_values_to_be_in_set"
            kwargs = {"column": helper, "value_set": [True]}
        elif ref is not None:
            kwargs["value_set"] = _plain_list(_reference_values(check, tables))
        specs[i] = _Spec(expectation=expectation, kwargs=kwargs)
    if helpers:
        work = pd.concat([work, pd.DataFrame(helpers)], axis=1)
    return work, specs


def _matches_strftime(values: pd.Series, fmt: str) -> pd.Series | None:
    """True where ``datetime.strptime(value, fmt)`` parses the value, as GX tests it, null where the value is
    null; None when a value is not a string (GX then reports its own error)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    parsed = np.empty(len(uniques), dtype=bool)
    for n, value in enumerate(uniques):
        if not isinstance(value, str):
            return None
        try:
            _dt.datetime.strptime(value, fmt)  # noqa: DTZ007 (only whether it parses)
            parsed[n] = True
        except ValueError:
            parsed[n] = False
    codes = np.asarray(codes)
    missing = codes < 0
    return _membership(parsed[np.where(missing, 0, codes)] if len(uniques) else np.zeros(len(codes), dtype=bool),
                       missing)


def _phase_frame(work: pd.DataFrame, checks: list[Check], ids: list[int], specs: dict[int, _Spec]) -> pd.DataFrame:
    """The columns of ``work`` that these checks test (all of them for a check on the table's columns): GX
    copies the batch's every column when it filters rows for a check, and keeps what it computed for each."""
    if any(checks[i].expectation in _SHAPE_EXPECTATIONS for i in ids):
        return work
    used = set()
    for i in ids:
        kwargs = specs[i].kwargs
        used.update(kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs)
        used.update(kwargs.get("column_list") or ())
    columns = [c for c in work.columns if c in used] or list(work.columns[:1])  # keep the row count
    return work if len(columns) == len(work.columns) else work[columns]


def _each_in(values: pd.Series, separator: str, allowed) -> pd.Series:
    """True where every non-blank part of the cell is allowed; null where the cell is null."""
    parts = values.astype("string").str.split(separator, regex=False).explode().str.strip()
    parts = parts[parts.notna() & parts.ne("")]
    bad_rows = parts.index[~parts.isin(pd.Index(allowed).astype(str))].unique()
    member = np.ones(len(values), dtype=bool)
    member[np.asarray(values.index.get_indexer(bad_rows), dtype=np.int64)] = False
    return _membership(member, values.isna().to_numpy())


def _membership(member, missing) -> pd.Series:
    """True/False per row, null where the tested value is null (GX does not test nulls)."""
    flags = pd.array(np.asarray(member, dtype=bool), dtype="boolean")
    flags[np.asarray(missing, dtype=bool)] = pd.NA
    return pd.Series(flags)


def _blank_mask(values: pd.Series) -> np.ndarray:
    """Null, or a string that is empty after stripping whitespace."""
    mask = values.isna().to_numpy(dtype=bool, copy=True)
    if pd.api.types.is_string_dtype(values.dtype) or values.dtype == object:
        try:
            stripped = values.str.strip()  # non-strings in an object column become NaN
        except AttributeError:  # an object column without any string
            return mask
        mask |= stripped.eq("").fillna(False).to_numpy(dtype=bool)
    return mask


def _reference_frame(check: Check, tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The distinct, complete rows of the referenced column(s)."""
    ref = check.value_set_from
    assert ref is not None
    if ref.table not in tables:
        given = ", ".join(sorted(tables)) or "none"
        raise CheckConfigError(f"{check.where}.value_set_from: table {ref.table!r} was not given to the runner "
                               f"(tables given: {given})")
    frame = tables[ref.table]
    absent = [c for c in ref.columns if c not in frame.columns]
    if absent:
        raise CheckConfigError(f"{check.where}.value_set_from: table {ref.table!r} has no column {absent[0]!r}")
    return frame[list(ref.columns)].dropna().drop_duplicates()


def _reference_values(check: Check, tables: Mapping[str, pd.DataFrame]) -> np.ndarray:
    return _reference_frame(check, tables).iloc[:, 0].to_numpy()


def _plain_list(values: Iterable[Any]) -> list[Any]:
    items = [_plain(v) for v in values]
    try:
        return sorted(items)
    except TypeError:
        return items


@contextmanager
def _no_batch_fingerprint():
    """GX hashes every row of a pandas batch under 1 GB for a ``pandas_data_fingerprint`` batch marker (4-5 s
    of a district's validation); nothing here reads it and each frame is new, so the runner turns it off while
    it makes its batches (GX's threshold, restored afterwards; a GX without it is left as it is)."""
    from great_expectations.execution_engine import pandas_execution_engine as engine

    threshold = getattr(engine, "HASH_THRESHOLD", None)
    if threshold is None:
        yield
        return
    engine.HASH_THRESHOLD = 0
    try:
        yield
    finally:
        engine.HASH_THRESHOLD = threshold


def _context(gx, docs_dir: str | os.PathLike | None):
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    defaults = InMemoryStoreBackendDefaults(init_temp_docs_sites=False)
    sites: dict[str, Any] = {}
    if docs_dir is not None:
        root = Path(docs_dir).resolve()
        for store_name, folder in ((defaults.expectations_store_name, "expectations"),
                                   (defaults.validation_results_store_name, "validations")):
            defaults.stores[store_name]["store_backend"] = {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(root / _STORE_DIR / folder),
            }
        sites["local_site"] = {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(root)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    config = DataContextConfig(
        store_backend_defaults=defaults,
        data_docs_sites=sites,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _suite(gx, context, suite_name: str, checks: list[Check], ids: list[int], specs: dict[int, _Spec]):
    from great_expectations.expectations.registry import get_expectation_impl

    suite = gx.ExpectationSuite(name=suite_name)
    for i in ids:
        check = checks[i]
        spec = specs[i]
        meta = {
            "check": i,
            "severity": check.severity,
            "description": check.description,
            "where": check.where,
            "columns": list(check.columns),
        }
        if check.ignore_blank:
            meta["ignore_blank"] = True
        if check.value_set_from:
            meta["value_set_from"] = str(check.value_set_from)
        if spec.expectation != check.expectation:
            meta["expectation"] = check.expectation
        try:
            if spec.own_kwargs is not None:  # a helper column stands in: GX still checks the check's arguments
                get_expectation_impl(check.expectation)(**spec.own_kwargs)
            expectation = get_expectation_impl(spec.expectation)(
                **spec.kwargs, meta=meta, severity=_GX_SEVERITY[check.severity],
                **({"description": check.description} if check.description else {}),
            )
        except Exception as exc:  # pydantic ValidationError, GX InvalidExpectationConfigurationError
            raise CheckConfigError(f"{check.where}: {check.expectation}: {_pydantic_message(exc)}") from None
        suite.add_expectation(expectation)
    return context.suites.add_or_update(suite)


def _pydantic_message(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc).splitlines()[0]
    by_field: dict[str, str] = {}
    for error in errors():
        loc = ".".join(str(p) for p in error.get("loc", ()) if p != "__root__") or "arguments"
        if error.get("type") == "value_error.extra":
            by_field.setdefault(loc, f"{loc}: unknown argument")
        else:
            by_field.setdefault(loc, f"{loc}: {error.get('msg')}")
    return "; ".join(by_field.values())


def _by_check(validation) -> Iterable[tuple[int, Any]]:
    for gx_result in validation.results:
        yield int(gx_result.expectation_config.meta["check"]), gx_result


def _exception_text(gx_result) -> str | None:
    info = gx_result.exception_info or {}
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "exception")
    messages = [v.get("exception_message") for v in info.values()
                if isinstance(v, Mapping) and v.get("raised_exception")]
    messages = [m for m in dict.fromkeys(messages) if m]
    return "; ".join(messages) if messages else None


def _result_for(check: Check, *, gx_result=None, exception: str | None = None) -> CheckResult:
    result = CheckResult(
        expectation=check.expectation,
        columns=check.columns,
        severity=check.severity,
        success=False,
        description=check.description,
        exception=exception,
        where=check.where,
        reason=check.reason(),
    )
    if gx_result is None:
        return result
    details = gx_result.result or {}
    result.exception = _exception_text(gx_result)
    result.success = bool(gx_result.success) and not result.exception
    if "unexpected_count" in details:
        result.unexpected_count = int(details["unexpected_count"])
        result.element_count = int(details.get("element_count") or 0)
    elif check.kind == TABLE or "observed_value" in details:
        result.observed_value = _plain(details.get("observed_value"))
    return result


def _sample(df: pd.DataFrame, positions: np.ndarray, columns: Sequence[str], id_columns: Sequence[str]) -> list[dict]:
    wanted = list(dict.fromkeys([c for c in id_columns if c in df.columns] + list(columns)))
    rows = df.iloc[positions]
    sample = []
    for label, (_, row) in zip(rows.index, rows[wanted].iterrows()):
        entry = {"row": _plain(label)}
        entry.update({column: _plain(row[column]) for column in wanted})
        sample.append(entry)
    return sample


def _shared_values(df: pd.DataFrame, positions: np.ndarray, gate_frame: pd.DataFrame, spec: _Spec, check: Check,
                   id_columns: Sequence[str]) -> list[dict[str, Any]]:
    """The values of a failed uniqueness check that several rows share, in the order they first occur, each with
    how many rows share it and their ids. The rows are the ones GX tested (``gate_frame``, blanks as null with
    ``ignore_blank``), skipped as GX skips them: a null value, or for a compound check its ``ignore_row_if``."""
    tested = list(spec.kwargs["column_list"]) if "column_list" in spec.kwargs else [spec.kwargs["column"]]
    missing = gate_frame[tested].isna()
    skip = spec.kwargs.get("ignore_row_if", "all_values_are_missing") if len(tested) > 1 else "any_value_is_missing"
    skipped = {"all_values_are_missing": missing.all(axis=1), "any_value_is_missing": missing.any(axis=1),
               "never": pd.Series(False, index=missing.index)}[skip]
    values = gate_frame.loc[~skipped, tested]
    repeated = values[values.duplicated(keep=False)]
    named_by = [c for c in id_columns if c in df.columns and c not in check.columns] or \
        [c for c in id_columns if c in df.columns]
    shared = []
    for gate_rows in repeated.groupby(tested, sort=False, dropna=False).indices.values():
        rows = df.iloc[positions[repeated.index[gate_rows]]]
        first = rows.iloc[0]
        shared.append({
            "values": {column: _plain(first[column]) for column in check.columns},
            "count": len(rows),
            "ids": ["/".join(str(_plain(row[c])) for c in named_by) for _, row in rows.iterrows()] if named_by else [],
        })
    return shared


def _plain(value: Any) -> Any:
    """A JSON-able Python value (numpy scalars, NA, timestamps, tuples...)."""
    if value is None:
        return None
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, (str, int, bool)):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, (pd.Timestamp, _dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "table"


def _shorten_lists(validation) -> None:
    """Cut the unexpected lists of the results to ``DOCS_LIST_LIMIT`` entries, saying so in the result."""
    for gx_result in validation.results:
        details = gx_result.result or {}
        for key in ("unexpected_list", "unexpected_index_list"):
            values = details.get(key)
            if isinstance(values, list) and len(values) > DOCS_LIST_LIMIT:
                details[key] = values[:DOCS_LIST_LIMIT]
                details[f"{key}_length"] = len(values)


def _write_docs(gx, context, docs_dir: Path, name: str, phases, *, site: bool = True) -> dict[str, str]:
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    docs_dir.mkdir(parents=True, exist_ok=True)
    run_id = RunIdentifier(run_name=_safe(name), run_time=_dt.datetime.now(_dt.timezone.utc))
    keys = []
    artifacts: dict[str, str] = {}
    for artifact, file_name, suite, batch, validation in phases:
        _shorten_lists(validation)
        suite_key = ExpectationSuiteIdentifier(name=suite.name)
        key = ValidationResultIdentifier(expectation_suite_identifier=suite_key, run_id=run_id, batch_identifier=batch.id)
        validation.meta["run_id"] = run_id
        if site:
            context.validation_results_store.set(key, validation)
        keys += [suite_key, key]
        target = docs_dir / file_name
        target.write_text(json.dumps(validation.to_json_dict(), indent=2, default=str), encoding="utf-8")
        artifacts[artifact] = str(target)
    if site:
        context.build_data_docs(resource_identifiers=keys)
        artifacts["docs_index"] = str(docs_dir / "index.html")
    return artifacts
