"""The values a vendor quotes in its errors are taken out before they reach a report, whatever the text's size."""

from __future__ import annotations

import time

from aeries_hub.run.rejects import vendor_reason


def test_quoted_values_addresses_and_dates_are_taken_out():
    assert vendor_reason("students.DOB: '02/10/2010' is not a YYYY-MM-DD date; e-mail ana.reyes@example.org is "
                         'taken by "Ana Reyes", born 2011-04-02') == (
        "students.DOB: <value> is not a YYYY-MM-DD date; e-mail <value> is taken by <value>, born <value>")


def test_a_value_right_after_another_is_taken_out_too():
    assert vendor_reason("1/2/2020-x@y.org and a@b.c+x@d.e") == "<value><value> and <value><value>"


def test_a_megabyte_long_word_is_read_once_not_once_per_character():
    # one pattern tried at every character of the word, to its end, took 12 s for 40 kB (hours for this)
    started = time.monotonic()
    assert vendor_reason("A" * 1_000_000 + " ana@example.org") == "A" * 1_000_000 + " <value>"
    assert vendor_reason("a.1a" * 250_000) == "a.1a" * 250_000
    assert time.monotonic() - started < 10


def test_a_check_without_a_description_is_named_by_its_rule_as_everywhere_else():
    from aeries_hub.run.rejects import reject_reasons
    from aeries_hub.run.report import _too_few_rows, missing_values, shared_values
    from aeries_hub.run.summary import check_name

    result = {"description": None, "rule": "teacher_enrollments.class_id in classes.csv", "severity": "reject",
              "expectation": "expect_column_values_to_be_in_set", "rejected_count": 2, "missing": ["c1"],
              "shared": [{"values": {"email": "x"}, "count": 2, "ids": ["1", "2"]}],
              "sample": [{"id": "1"}, {"id": "2"}]}
    rule = check_name(result)
    assert rule == "teacher_enrollments.class_id in classes.csv"
    reasons, more = reject_reasons({"results": [result]}, ("id",))
    assert (reasons, more) == ([{"reason": rule, "count": 2, "sample_ids": ["1", "2"]}], 0)
    assert shared_values({"results": [result]}) == [{"warning": rule, "values": {"email": "x"}, "count": 2,
                                                     "ids": ["1", "2"]}]
    assert missing_values({"results": [result]}) == [{"warning": rule, "count": 1, "ids": ["c1"]}]
    assert _too_few_rows("classes.csv", result, 2, 2, reasons, 0, "rejects/classes.csv") == (
        f"classes.csv: all 2 rows rejected ({rule}: failed); top reasons: {rule} (2 rows, e.g. 1, 2); "
        "every rejected row with its reasons: rejects/classes.csv")
