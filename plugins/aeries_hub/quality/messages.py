"""Failure sentences for reports and rejects: why a row fails a check, in words (the ``_reject_reason`` of a
rejected row when its check has no description). Standard library only, as checks.py that uses it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

if TYPE_CHECKING:
    from aeries_hub.quality.checks import Check


def _fmt(value: Any) -> str:
    return str(value) if not isinstance(value, str) else value


def _set_text(values: Any, limit: int = 8) -> str:
    values = list(values or [])
    shown = ", ".join(map(_fmt, values[:limit]))
    return shown + (f", ... ({len(values)} values)" if len(values) > limit else "")


def failure_sentence(check: Check) -> str:
    """A sentence saying what is wrong with a failing row, e.g. 'field_lastName is longer than 42 characters'."""
    k = check.kwargs
    name = check.expectation
    subject = ", ".join(check.columns) if check.columns else "the table"
    lo, hi = k.get("min_value"), k.get("max_value")
    if name == "expect_column_values_to_not_be_null":
        return f"{subject} is missing"
    if name == "expect_column_values_to_be_null":
        return f"{subject} is not empty"
    if name == "expect_column_values_to_be_unique":
        return f"{subject} is not unique"
    if name == "expect_compound_columns_to_be_unique":
        return f"({subject}) is not unique"
    if name == "expect_select_column_values_to_be_unique_within_record":
        return f"({subject}) repeat a value"
    if name in ("expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set"):
        negate = name == "expect_column_values_to_not_be_in_set"
        if check.value_set_from:
            each = " (each of its values)" if check.split else ""
            return f"{subject}{each} is {'a' if negate else 'not a'} known {check.value_set_from}"
        return f"{subject} is {'one' if negate else 'not one'} of {_set_text(k.get('value_set'))}"
    if name == "expect_column_values_to_match_regex":
        if k.get("regex") in (r"\S", r"[^\s]", r"^.*\S.*$"):
            return f"{subject} is blank"
        return f"{subject} does not match {k.get('regex')}"
    if name == "expect_column_values_to_not_match_regex":
        return f"{subject} matches {k.get('regex')}"
    if name == "expect_column_values_to_match_regex_list":
        return f"{subject} does not match {_set_text(k.get('regex_list'))}"
    if name == "expect_column_values_to_not_match_regex_list":
        return f"{subject} matches one of {_set_text(k.get('regex_list'))}"
    if name == "expect_column_value_lengths_to_be_between":
        if lo in (None, 0) and hi is not None:
            return f"{subject} is longer than {hi} characters"
        if hi is None and lo == 1:
            return f"{subject} is blank"
        if hi is None:
            return f"{subject} is shorter than {lo} characters"
        return f"{subject} is not {lo} to {hi} characters long"
    if name == "expect_column_value_lengths_to_equal":
        return f"{subject} is not {k.get('value')} characters long"
    if name == "expect_column_values_to_be_between":
        if lo is None:
            return f"{subject} is greater than {hi}"
        if hi is None:
            return f"{subject} is less than {lo}"
        return f"{subject} is not between {lo} and {hi}"
    if name == "expect_column_values_to_match_strftime_format":
        return f"{subject} is not a date in the format {k.get('strftime_format')}"
    if name == "expect_column_values_to_be_dateutil_parseable":
        return f"{subject} is not a date"
    if name == "expect_column_values_to_be_json_parseable":
        return f"{subject} is not JSON"
    if name == "expect_column_values_to_match_json_schema":
        return f"{subject} does not match its JSON schema"
    if name == "expect_column_values_to_be_of_type":
        return f"{subject} is not of type {k.get('type_')}"
    if name == "expect_column_values_to_be_in_type_list":
        return f"{subject} is not of type {_set_text(k.get('type_list'))}"
    if name == "expect_column_pair_values_a_to_be_greater_than_b":
        return f"{k.get('column_A')} is not greater than {k.get('column_B')}"
    if name == "expect_column_pair_values_to_be_in_set":
        if check.value_set_from:
            return f"({subject}) is not a known {check.value_set_from}"
        return f"({subject}) is not an allowed pair"
    if name == "expect_column_pair_values_to_be_equal":
        return f"{k.get('column_A')} does not equal {k.get('column_B')}"
    if name == "expect_table_row_count_to_be_between":
        if hi is None:
            return f"the table has fewer than {lo} rows"
        return f"the table does not have {lo if lo is not None else 0} to {hi} rows"
    words = name.removeprefix("expect_").replace("_", " ")
    return f"{subject} fails {words}"


def groups_text(groups: Sequence[Mapping[str, Any]], shown: int = 10) -> str:
    """``3 groups fail: 2 have 2 rows (u1, u2), 1 has 0 (u9)``: the failing groups by count, each with its ids."""
    by_count: dict[int, list[str]] = {}
    for group in groups:
        by_count.setdefault(int(group["count"]), []).append(str(group["ids"]))
    parts = []
    for count, ids in sorted(by_count.items(), key=lambda item: (-len(item[1]), item[0])):
        more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
        verb = "has" if len(ids) == 1 else "have"
        parts.append(f"{len(ids)} {verb} {count} ({', '.join(ids[:shown])}{more})")
    plural = "s" if len(groups) != 1 else ""
    return f"{len(groups)} group{plural} fail{'s' if not plural else ''}: " + ", ".join(parts)
