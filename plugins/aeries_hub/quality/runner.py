"""Run check specs on a pandas DataFrame: ``validate_frame`` and what it returns.

``validate_frame`` validates one table in two phases, each one Great Expectations suite (gx_adapter.py):

1. ``reject`` checks (row level) on every row, every failing row listed: their failing rows are removed and
   returned in ``rejected`` with a ``_reject_reason``;
2. ``error`` and ``warning`` checks on the rows that remain (so "at least one row" still holds after
   rejects), as a summary: only the first failing rows are kept, as samples.

What GX cannot test as the check says (``ignore_blank``, ``value_set_from``, ``split``, ``rows_where``) or
would test slowly (strftime formats) it tests on helper columns (helpers.py). With
``expect_column_distinct_values_to_contain_set``, ``rows_where`` and ``value_set_from``, a failed check lists in
``missing`` every value of the other table the rows lack (the classes of classes.csv that no teacher
enrollment names).

Rows are identified by position: failing positions of the frame GX sees are mapped back to the caller's rows,
whatever their index.
"""

from __future__ import annotations

import gc
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from aeries_hub.quality.checks import TABLE, Check
from aeries_hub.quality.gx_adapter import ExpectationResult, FrameValidator, import_gx
from aeries_hub.quality.helpers import (
    columns_of,
    holds_every,
    phase_frame,
    plain,
    prepare_frame,
    rule_column,
    shared_values,
    unique_flags_of,
)
from aeries_hub.quality.messages import groups_text

REJECT_REASON = "_reject_reason"
SAMPLE_SIZE = 5
_UNIQUENESS = ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique")
_CONTAINS = "expect_column_distinct_values_to_contain_set"
#: Rows from which a validation's reference cycles are collected when it is done.
COLLECT_AFTER_ROWS = 100_000


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
    #: For a count per group (``counts:``) that failed: every failing group, ``{ids, count}``, in the order it
    #: first occurs (its ids only: the group's own columns).
    groups: list[dict[str, Any]] = field(default_factory=list)
    #: For a rule across rows or files (mapping/row_rules.py): the rule in words, e.g. ``per userSourcedId:
    #: exactly 1 row where isPrimary in [true]``.
    rule: str = ""

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
        if self.rule:
            return self.rule
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
            "observed_value": plain(self.observed_value),
            "rejected_count": self.rejected_count,
            "exception": self.exception,
            "where": self.where,
            "reason": self.reason,
            "shared": [dict(entry) for entry in self.shared],
            "missing": list(self.missing),
            "groups": [dict(entry) for entry in self.groups],
            "rule": self.rule,
        }

    def summary(self) -> str:
        """``label ("description"): what failed, e.g. sample rows.`` — one sentence for messages."""
        head = self.label + (f' ("{self.description}")' if self.description else "")
        if self.exception:
            return f"{head}: could not run: {self.exception}."
        if self.groups:
            return f"{head}: {groups_text(self.groups)}."
        if self.unexpected_count is not None and self.element_count is not None:
            text = f"{head}: {self.unexpected_count} of {self.element_count} rows fail"
            if self.sample:
                text += ", e.g. " + "; ".join(json.dumps(row, default=str) for row in self.sample[:SAMPLE_SIZE])
            return text + "."
        return f"{head}: observed {json.dumps(plain(self.observed_value), default=str)}."


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
    gx = import_gx()
    timings["gx_import"] = time.perf_counter() - t

    t = time.perf_counter()
    work, specs = prepare_frame(df, checks, runnable, tables or {})
    validator = FrameValidator(gx, _safe(name), docs_dir if data_docs else None)

    positions = np.arange(row_count)  # gate frame position -> caller's position
    reasons: np.ndarray | None = None  # per caller's position: "" or the reasons joined by "; "
    if reject_ids:
        suite = validator.suite(f"{_safe(name)}-rejects", checks, reject_ids, specs)
        gx_results = validator.validate(phase_frame(work, checks, reject_ids, specs), suite, every_failing_row=True,
                                        artifact="rejects_validation_json",
                                        file_name=f"{_safe(name)}.rejects.validation.json")
        for gx_result in sorted(gx_results, key=lambda found: found.check):
            check = checks[gx_result.check]
            result = _result_for(check, gx_result=gx_result)
            index = np.asarray(gx_result.details.get("unexpected_index_list") or [], dtype=np.int64)
            if not result.exception and len(index):
                result.groups = _failing_groups(check, work)
                result.rejected_count = len(index)
                result.sample = _sample(df, index[:SAMPLE_SIZE], check.columns, id_columns)
                if reasons is None:
                    reasons = np.full(row_count, "", dtype=object)
                current = reasons[index]
                reason = check.reason()
                reasons[index] = np.where(current == "", reason, current + ("; " + reason))
            results[gx_result.check] = result
        if reasons is not None:
            positions = np.flatnonzero(reasons == "")

    gate_frame = phase_frame(work, checks, gate_ids, specs)
    gate_frame = gate_frame if reasons is None else gate_frame.iloc[positions].reset_index(drop=True)
    counted = [i for i in gate_ids if hasattr(checks[i].rule, "failing_groups")]  # counts per group: of the rows left
    remaining = work if reasons is None or not counted else work.iloc[positions].reset_index(drop=True)
    for i in counted if reasons is not None else ():
        gate_frame[specs[i].kwargs["column"]] = rule_column(checks[i], remaining, tables or {})
    for i in gate_ids if reasons is not None else ():  # unique among the rows left
        own = specs[i].own_kwargs
        if checks[i].expectation in _UNIQUENESS and own:
            tested = columns_of(work, [own["column"]] if "column" in own else list(dict.fromkeys(own["column_list"])))
            gate_frame[specs[i].kwargs["column"]] = unique_flags_of(tested.iloc[positions].reset_index(drop=True), own)
    missing = {i: holds_every(specs[i], _rows_left(work, specs[i].source_column, positions, reasons), checks[i], tables or {})
               for i in gate_ids if specs[i].source_column}
    suite = validator.suite(_safe(name), checks, gate_ids, specs)
    for gx_result in validator.validate(gate_frame, suite, every_failing_row=False, artifact="validation_json",
                                        file_name=f"{_safe(name)}.validation.json"):
        check_id = gx_result.check
        check = checks[check_id]
        result = _result_for(check, gx_result=gx_result)
        first_failing = gx_result.details.get("partial_unexpected_index_list") or []
        if first_failing and not result.exception and check.row_level:
            result.sample = _sample(df, positions[np.asarray(first_failing[:SAMPLE_SIZE], dtype=np.int64)],
                                    check.columns, id_columns)
        if check_id in counted and not result.success and not result.exception:
            result.groups = _failing_groups(check, remaining)
        if check.expectation in _UNIQUENESS and check.severity == "warning" and not result.success \
                and not result.exception:
            result.shared = shared_values(df, positions, work, specs[check_id], check, id_columns)
        if check_id in missing and not result.success and not result.exception:
            result.missing = missing[check_id]
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
        artifacts = validator.write_docs(Path(docs_dir), _safe(name), site=data_docs)
        timings["docs"] = time.perf_counter() - t
    validator.close()
    if row_count >= COLLECT_AFTER_ROWS:
        # GX's validation objects hold the batch's copies in reference cycles (at 500,000 students, validate_sources
        # left 210 MiB behind); a full collection takes a fifth of a second
        gc.collect()
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


# ------------------------------------------------------------------------------------- check results


def _rows_left(work: pd.DataFrame, column: str, positions: np.ndarray, reasons: np.ndarray | None) -> pd.Series:
    """``work``'s column on the rows its reject checks left."""
    return work[column] if reasons is None else work[column].iloc[positions]


def _no_rejects(df: pd.DataFrame) -> pd.DataFrame:
    return df.iloc[0:0].assign(**{REJECT_REASON: pd.Series(dtype=object)})


def _result_for(check: Check, *, gx_result: ExpectationResult | None = None, exception: str | None = None
                ) -> CheckResult:
    result = CheckResult(
        expectation=check.expectation,
        columns=check.columns,
        severity=check.severity,
        success=False,
        description=check.description,
        exception=exception,
        where=check.where,
        reason=check.reason(),
        rule=check.label if check.rule is not None else "",
    )
    if gx_result is None:
        return result
    details = gx_result.details
    result.exception = gx_result.exception
    result.success = gx_result.success and not result.exception
    if "unexpected_count" in details:
        result.unexpected_count = int(details["unexpected_count"])
        result.element_count = int(details.get("element_count") or 0)
    elif check.kind == TABLE or "observed_value" in details:
        result.observed_value = plain(details.get("observed_value"))
    return result


def _failing_groups(check: Check, rows: pd.DataFrame) -> list[dict[str, Any]]:
    failing_groups = getattr(check.rule, "failing_groups", None)
    return failing_groups(rows) if failing_groups is not None else []


def _sample(df: pd.DataFrame, positions: np.ndarray, columns: Sequence[str], id_columns: Sequence[str]) -> list[dict]:
    wanted = list(dict.fromkeys([c for c in id_columns if c in df.columns] + list(columns)))
    rows = df.iloc[positions]
    sample = []
    for label, (_, row) in zip(rows.index, rows[wanted].iterrows()):
        entry = {"row": plain(label)}
        entry.update({column: plain(row[column]) for column in wanted})
        sample.append(entry)
    return sample


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "table"
