"""Checks that test each row on its own, validated a slice of rows at a time (``validate_frame`` with a frame of
more than ``VALIDATION_BATCH_ROWS`` rows): GX never holds every row of a district's file at once, and each check's
result is what one validation of every row finds (gx_adapter.FrameValidator.validate_in_batches)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from aeries_hub.quality.checks import Check
from aeries_hub.quality.gx_adapter import ExpectationResult, FrameValidator
from aeries_hub.quality.helpers import phase_frame, prepare_frame

#: Rows that checks testing each row on its own see at a time: GX keeps what it computes for each check of a
#: batch (masks, failing values), which for a district's enrollments.csv (millions of rows) came to more than
#: the file itself.
VALIDATION_BATCH_ROWS = 250_000
#: Row-level expectations whose outcome for a row depends on the other rows (or on the whole column's type).
_ACROSS_ROWS = (
    "expect_column_values_to_be_unique",
    "expect_compound_columns_to_be_unique",
    "expect_column_values_to_be_increasing",
    "expect_column_values_to_be_decreasing",
    "expect_column_value_z_scores_to_be_less_than",
    "expect_column_values_to_be_of_type",
    "expect_column_values_to_be_in_type_list",
)


def row_by_row(check: Check) -> bool:
    """Whether the check's outcome for a row depends on that row alone, so that it can be validated a slice of
    rows at a time (``mostly`` weighs every row: such a check is validated whole)."""
    return check.row_level and check.rule is None and check.expectation not in _ACROSS_ROWS \
        and "mostly" not in check.kwargs


def validate_in_slices(validator: FrameValidator, suite_name: str, df: pd.DataFrame, positions: np.ndarray,
                        checks: list[Check], ids: list[int], tables: Mapping[str, pd.DataFrame], batch_rows: int, *,
                        every_failing_row: bool, artifact: str, file_name: str) -> list[ExpectationResult]:
    """The checks ``ids`` (row by row) validated on the rows of ``df`` at ``positions``, ``batch_rows`` at a time;
    the results' failing rows are positions in ``positions``."""
    if not ids:
        return []
    suites: dict[str, Any] = {}
    read = {column for i in ids for column in checks[i].reads}
    columns = [n for n, column in enumerate(df.columns) if column in read]

    def slices():
        for start in range(0, len(positions), batch_rows):
            rows = df.iloc[positions[start:start + batch_rows], columns]
            work, specs = prepare_frame(rows, checks, ids, tables)
            del rows
            frame = phase_frame(work, checks, ids, specs)
            del work
            key = repr(sorted((i, spec.expectation, sorted(spec.kwargs.items(), key=str)) for i, spec in specs.items()))
            if not suites:  # (a slice whose checks GX sees differently: e.g. a value that is not text)
                suites[key] = validator.suite(suite_name, checks, ids, specs)
            elif key not in suites:
                raise _SlicesDiffer
            yield start, frame.reset_index(drop=True)

    try:
        iterator = slices()
        first = next(iterator)
        suite = next(iter(suites.values()))
        return validator.validate_in_batches(_chained(first, iterator), suite, every_failing_row=every_failing_row,
                                             artifact=artifact, file_name=file_name)
    except _SlicesDiffer:
        rows = df.iloc[positions, columns]
        work, specs = prepare_frame(rows, checks, ids, tables)
        suite = validator.suite(suite_name, checks, ids, specs)
        return validator.validate(validator.batch(phase_frame(work, checks, ids, specs)), suite,
                                  every_failing_row=every_failing_row, artifact=artifact, file_name=file_name)


class _SlicesDiffer(Exception):
    """Two slices of rows gave GX different arguments for a check: the rows are validated whole."""


def _chained(first, rest):
    yield first
    yield from rest
