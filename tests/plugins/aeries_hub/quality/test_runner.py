"""validate_frame with real Great Expectations Core (no mocks): severities, rejects, results and reports."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from aeries_hub.quality import REJECT_REASON, combine_reports, validate_frame
from tests.plugins.aeries_hub.quality.check_specs import checks, spec


def test_error_stops_with_a_message_naming_expectation_column_and_sample_rows(students):
    outcome = validate_frame(students, checks(
        spec("expect_column_values_to_be_unique", column="StudentID", description="StudentID identifies a student"),
        spec("expect_column_values_to_not_be_null", column="LastName"),
        spec("expect_table_row_count_to_be_between", min_value=10),
    ), name="students")
    assert outcome.has_errors
    assert (outcome.passed, outcome.warned, outcome.failed) == (1, 0, 2)
    unique = outcome.results[0]
    assert (unique.success, unique.unexpected_count, unique.element_count) == (False, 2, 6)
    assert unique.sample == [{"row": 1, "StudentID": 1002}, {"row": 2, "StudentID": 1002}]
    assert outcome.results[2].observed_value == 6
    assert outcome.error_message() == (
        'students: 2 error checks failed on 6 rows. '
        'expect_column_values_to_be_unique [StudentID] ("StudentID identifies a student"): 2 of 6 rows fail, '
        'e.g. {"row": 1, "StudentID": 1002}; {"row": 2, "StudentID": 1002}. '
        'expect_table_row_count_to_be_between: observed 6.'
    )
    assert outcome.accepted is students and outcome.rejected.empty


def test_error_samples_stop_at_five_rows_and_can_carry_id_columns():
    frame = pd.DataFrame({"StudentID": range(100, 120), "Grade": [99] * 20})
    outcome = validate_frame(frame, checks(
        spec("expect_column_values_to_be_between", column="Grade", min_value=-2, max_value=18),
    ), name="students", id_columns=["StudentID"])
    [result] = outcome.results
    assert result.unexpected_count == 20
    assert result.sample == [{"row": i, "StudentID": 100 + i, "Grade": 99} for i in range(5)]
    assert outcome.error_message().startswith(
        'students: 1 error check failed on 20 rows. expect_column_values_to_be_between [Grade]: 20 of 20 rows fail, '
        'e.g. {"row": 0, "StudentID": 100, "Grade": 99}; {"row": 1, '
    )


def test_warning_is_recorded_and_the_run_goes_on(students):
    outcome = validate_frame(students, checks(
        spec("expect_column_values_to_be_between", "warning", column="Grade", min_value=-2, max_value=18),
        spec("expect_column_values_to_not_be_null", "warning", column="StudentID"),
    ), name="students")
    assert not outcome.has_errors and outcome.error_message() == ""
    assert (outcome.passed, outcome.warned, outcome.failed) == (1, 1, 0)
    grade = outcome.results[0]
    assert grade.outcome == "warned" and grade.unexpected_count == 2
    assert grade.sample == [{"row": 4, "Grade": 19}, {"row": 5, "Grade": -3}]
    assert len(outcome.accepted) == 6 and outcome.rejected.empty


def test_a_uniqueness_warning_names_every_row_that_shares_a_value():
    # Aeries staff share the placeholder e-mail NoWhere@aeries.com: a warning lists each shared value with the
    # ids of every row (the key columns the check does not test), not only the five sample rows.
    staff = pd.DataFrame({
        "user_id": [f"T{n}" for n in range(1, 10)],
        "school": ["1", "1", "2", "1", "2", "1", "1", "2", "1"],
        "email": ["NoWhere@aeries.com", "a@x.org", "NoWhere@aeries.com", " ", "NoWhere@aeries.com",
                  "NoWhere@aeries.com", "NoWhere@aeries.com", "b@x.org", " "],
    }, index=list("abcdefghi"))
    outcome = validate_frame(staff, checks(
        spec("expect_column_values_to_be_unique", "warning", column="email", ignore_blank=True),
        spec("expect_compound_columns_to_be_unique", "warning", column_list=["email", "school"]),
        spec("expect_column_values_to_be_unique", "warning", column="user_id"),
    ), name="users", id_columns=["user_id"])
    single, compound, passed = outcome.results
    assert (single.outcome, single.unexpected_count, len(single.sample)) == ("warned", 5, 5)
    assert single.shared == [
        {"values": {"email": "NoWhere@aeries.com"}, "count": 5, "ids": ["T1", "T3", "T5", "T6", "T7"]}]
    # blanks count in a compound check (GX skips a row only when every value is missing)
    assert compound.shared == [
        {"values": {"email": "NoWhere@aeries.com", "school": "1"}, "count": 3, "ids": ["T1", "T6", "T7"]},
        {"values": {"email": "NoWhere@aeries.com", "school": "2"}, "count": 2, "ids": ["T3", "T5"]},
        {"values": {"email": " ", "school": "1"}, "count": 2, "ids": ["T4", "T9"]},
    ]
    assert compound.unexpected_count == 7
    assert passed.outcome == "passed" and passed.shared == []
    assert outcome.to_dict()["results"][0]["shared"] == single.shared


def test_a_failed_uniqueness_error_lists_samples_only(students):
    outcome = validate_frame(students, checks(spec("expect_column_values_to_be_unique", column="StudentID")),
                             name="students")
    assert outcome.results[0].outcome == "failed" and outcome.results[0].shared == []


def test_reject_removes_exactly_the_failing_rows_with_reasons(students, schools):
    outcome = validate_frame(students, checks(
        spec("expect_column_value_lengths_to_be_between", "reject", column="LastName", max_value=42),
        spec("expect_column_values_to_be_in_set", "reject", column="SchoolCode",
             value_set_from={"table": "schools", "column": "SchoolCode"}),
        spec("expect_column_values_to_be_between", "reject", column="Grade", min_value=-2, max_value=18,
             description="grade out of range"),
        spec("expect_column_values_to_be_unique", column="StudentID"),
    ), name="students", tables={"schools": schools})
    assert list(outcome.accepted.index) == [0, 2]
    assert list(outcome.rejected.index) == [1, 3, 4, 5]
    assert list(outcome.rejected[REJECT_REASON]) == [
        "LastName is longer than 42 characters",
        "SchoolCode is not a known schools.SchoolCode",
        "grade out of range",
        "LastName is longer than 42 characters; grade out of range",
    ]
    assert list(outcome.rejected.columns) == list(students.columns) + [REJECT_REASON]
    pd.testing.assert_frame_equal(outcome.rejected.drop(columns=REJECT_REASON), students.iloc[[1, 3, 4, 5]])
    assert [r.rejected_count for r in outcome.results] == [2, 1, 2, 0]
    # reject checks that removed rows count as warned; the unique check ran on the kept rows only
    assert (outcome.passed, outcome.warned, outcome.failed) == (1, 3, 0)
    assert outcome.results[3].element_count == 2 and outcome.results[3].success
    assert outcome.rejected_count == 4 and not outcome.has_errors
    assert list(students.columns) == ["StudentID", "SchoolCode", "LastName", "Grade", "StudentEmailAddress", "Birthdate"]


def test_error_checks_see_the_rows_left_after_rejects(students):
    outcome = validate_frame(students, checks(
        spec("expect_column_values_to_be_between", "reject", column="Grade", min_value=100),
        spec("expect_table_row_count_to_be_between", min_value=1, description="at least one student"),
    ), name="students")
    assert outcome.rejected_count == 6 and outcome.accepted.empty
    assert outcome.has_errors
    assert outcome.error_message() == (
        'students: 1 error check failed on 6 rows. expect_table_row_count_to_be_between ("at least one student"): observed 0.'
    )


def test_rows_are_identified_by_position_whatever_the_index(students, schools):
    frame = students.set_axis(["b", "a", "a", "z", "y", "x"])  # unsorted, duplicate labels
    outcome = validate_frame(frame, checks(
        spec("expect_column_values_to_be_in_set", "reject", column="SchoolCode",
             value_set_from={"table": "schools", "column": "SchoolCode"}),
        spec("expect_column_values_to_be_between", "warning", column="Grade", min_value=-2, max_value=18),
        spec("expect_column_values_to_be_unique", column="StudentID"),
    ), name="students", tables={"schools": schools})
    pd.testing.assert_frame_equal(outcome.rejected.drop(columns=REJECT_REASON), frame.iloc[[3]])
    pd.testing.assert_frame_equal(outcome.accepted, frame.iloc[[0, 1, 2, 4, 5]])
    grade, unique = outcome.results[1], outcome.results[2]
    assert grade.sample == [{"row": "y", "Grade": 19}, {"row": "x", "Grade": -3}]
    assert unique.sample == [{"row": "a", "StudentID": 1002}, {"row": "a", "StudentID": 1002}]


def test_a_check_on_a_missing_column_fails_whatever_its_severity(students):
    outcome = validate_frame(students, checks(
        spec("expect_column_values_to_not_be_null", "warning", column="Gender"),
        spec("expect_column_values_to_not_be_null", "reject", column="StudentNumber"),
    ), name="students")
    assert outcome.failed == 2 and outcome.rejected.empty
    assert outcome.error_message() == (
        "students: 2 error checks failed on 6 rows. expect_column_values_to_not_be_null [Gender]: could not run: "
        "column 'Gender' is not in the data. expect_column_values_to_not_be_null [StudentNumber]: could not run: "
        "column 'StudentNumber' is not in the data."
    )


def test_compound_unique(students):
    outcome = validate_frame(students, checks(
        spec("expect_compound_columns_to_be_unique", column_list=["SchoolCode", "StudentID"]),
    ), name="students")
    assert not outcome.has_errors  # 1002 is at two schools: two records, both fine
    doubled = pd.concat([students, students.iloc[[2]]], ignore_index=True)
    outcome = validate_frame(doubled, checks(
        spec("expect_compound_columns_to_be_unique", column_list=["SchoolCode", "StudentID"]),
    ), name="students")
    [result] = outcome.results
    assert result.unexpected_count == 2
    assert result.sample == [{"row": 2, "SchoolCode": 995, "StudentID": 1002}, {"row": 6, "SchoolCode": 995, "StudentID": 1002}]


def test_to_dict_is_json_serialisable_with_awkward_types(tmp_path):
    frame = pd.DataFrame({
        "When": pd.to_datetime(["2024-01-01", "2024-01-01", None]),
        "Flag": [True, True, False],
        "Amount": pd.array([1, 1, None], dtype="Int64"),
        "Ratio": [0.5, 0.5, float("nan")],
    }, index=pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1)]))
    outcome = validate_frame(frame, checks(
        spec("expect_compound_columns_to_be_unique", "warning", column_list=["When", "Flag", "Amount", "Ratio"]),
        spec("expect_column_values_to_not_be_null", "warning", column="Amount"),
        spec("expect_table_row_count_to_be_between", max_value=2),
    ), name="awkward", id_columns=["Flag"])
    document = json.loads(json.dumps(outcome.to_dict()))
    assert document["results"][0]["sample"] == [
        {"row": ["a", 1], "Flag": True, "When": "2024-01-01T00:00:00", "Amount": 1, "Ratio": 0.5},
        {"row": ["a", 2], "Flag": True, "When": "2024-01-01T00:00:00", "Amount": 1, "Ratio": 0.5},
    ]
    assert document["results"][1]["sample"] == [{"row": ["b", 1], "Flag": False, "Amount": None}]
    assert {k: document[k] for k in ("name", "rows", "accepted", "rejected", "passed", "warned", "failed", "has_errors")} == {
        "name": "awkward", "rows": 3, "accepted": 3, "rejected": 0, "passed": 0, "warned": 2, "failed": 1, "has_errors": True}
    assert document["error_message"] == outcome.error_message()


def test_to_dict_keeps_at_most_five_sample_rows():
    frame = pd.DataFrame({"ID": list(range(1000)), "Code": ["bad"] * 1000})
    outcome = validate_frame(frame, checks(
        spec("expect_column_values_to_be_in_set", "reject", column="Code", value_set=["A"]),
        spec("expect_column_values_to_be_in_set", "warning", column="Code", value_set=["A"]),
    ), name="codes")
    assert outcome.rejected_count == 1000
    text = json.dumps(outcome.to_dict())
    assert [len(r["sample"]) for r in outcome.to_dict()["results"]] == [5, 0]
    assert len(text) < 5000


def test_combine_reports(students, schools):
    one = validate_frame(students, checks(
        spec("expect_column_values_to_be_in_set", "reject", column="SchoolCode",
             value_set_from={"table": "schools", "column": "SchoolCode"}),
        spec("expect_column_values_to_be_unique", column="StudentID"),
    ), name="students", tables={"schools": schools})
    two = validate_frame(schools, checks(spec("expect_table_row_count_to_be_between", min_value=1)), name="schools")
    report = combine_reports([one, two.to_dict()])
    assert {k: report[k] for k in ("checks", "passed", "warned", "failed", "rejected", "rows", "accepted", "has_errors")} == {
        "checks": 3, "passed": 1, "warned": 1, "failed": 1, "rejected": 1, "rows": 8, "accepted": 7, "has_errors": True}
    assert [t["name"] for t in report["tables"]] == ["students", "schools"]
    assert report["error_messages"] == [one.error_message()]
    json.dumps(report)


def test_no_checks_does_not_need_great_expectations(students):
    outcome = validate_frame(students, [], name="students")
    assert outcome.accepted is students and outcome.rejected.empty and outcome.results == []
    assert "gx_import" not in outcome.timings


def test_a_large_frame_takes_seconds_not_minutes():
    n = 200_000
    frame = pd.DataFrame({
        "StudentID": np.arange(n),
        "Grade": np.tile(np.arange(-2, 19), n // 21 + 1)[:n],
        "StudentEmailAddress": pd.array([f"s{i}@example.org" if i % 50 else "" for i in range(n)], dtype="string"),
    })
    frame.loc[7, "Grade"] = 40
    outcome = validate_frame(frame, checks(
        spec("expect_column_values_to_not_be_null", column="StudentID"),
        spec("expect_column_values_to_be_unique", column="StudentID"),
        spec("expect_column_values_to_match_regex", "warning", column="StudentEmailAddress",
             regex=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", ignore_blank=True),
        spec("expect_column_values_to_be_between", "reject", column="Grade", min_value=-2, max_value=18),
    ), name="students")
    assert list(outcome.rejected.index) == [7] and (outcome.passed, outcome.warned, outcome.failed) == (3, 1, 0)
    assert outcome.timings["validate"] < 20, outcome.timings


def test_a_count_per_group_rejects_every_row_of_a_failing_group_and_names_the_groups():
    from aeries_hub.mapping.models import Condition
    from aeries_hub.mapping.row_rules import GroupCount
    from aeries_hub.quality.checks import rule_check

    roles = pd.DataFrame({"sourcedId": ["r1", "r2", "r3", "r4"], "userSourcedId": ["u1", "u1", "u2", "u3"],
                          "isPrimary": ["true", "true", "true", "false"]})
    rule = GroupCount(per=("userSourcedId",), where=(Condition("isPrimary", "in", ["true"]),), exactly=1)
    outcome = validate_frame(roles, [rule_check(rule, "reject", where="x.yml: outputs[0].counts[0]")], name="roles",
                             id_columns=["sourcedId"])
    [result] = outcome.results
    assert (result.outcome, result.rejected_count, result.groups) == (
        "warned", 3, [{"ids": "u1", "count": 2}, {"ids": "u3", "count": 0}])
    assert result.summary() == ("per userSourcedId: exactly 1 row where isPrimary in [true]: 2 groups fail: "
                                "1 has 0 (u3), 1 has 2 (u1).")
    assert result.sample == [{"row": 0, "sourcedId": "r1", "userSourcedId": "u1"},
                             {"row": 1, "sourcedId": "r2", "userSourcedId": "u1"},
                             {"row": 3, "sourcedId": "r4", "userSourcedId": "u3"}]
    assert outcome.accepted["sourcedId"].tolist() == ["r3"]
    assert outcome.rejected[REJECT_REASON].tolist() == [
        "its userSourcedId has not exactly 1 row where isPrimary in [true]"] * 3
    assert result.to_dict()["rule"] == "per userSourcedId: exactly 1 row where isPrimary in [true]"


def test_an_error_count_counts_the_rows_left_after_rejects():
    from aeries_hub.mapping.row_rules import GroupCount
    from aeries_hub.quality.checks import rule_check

    roles = pd.DataFrame({"sourcedId": ["r1", "r2", "r3"], "userSourcedId": ["u1", "u1", "u2"], "org": ["o1", "", "o2"]})
    outcome = validate_frame(roles, [
        rule_check(GroupCount(per=("userSourcedId",), at_most=1), "error", description="one role per user"),
        *checks(spec("expect_column_values_to_match_regex", "reject", column="org", regex=r"\S")),
    ], name="roles", id_columns=["sourcedId"])
    assert not outcome.has_errors  # u1's blank-org role is rejected first: u1 has one role left
    assert outcome.results[0].groups == [] and outcome.results[0].outcome == "passed"
    assert outcome.rejected["sourcedId"].tolist() == ["r2"]


def test_unique_on_arrow_text_finds_every_row_that_shares_a_value_and_skips_nulls():
    from aeries_hub.mapping.text import TEXT

    frame = pd.DataFrame({"sourcedId": pd.array(["b", "a", "b", None, "c", "a", "a"], dtype=TEXT),
                          "role": ["s", "s", "x", "s", "s", "s", "s"]})
    outcome = validate_frame(frame, checks(
        spec("expect_column_values_to_be_unique", "warning", column="sourcedId"),
        spec("expect_column_values_to_be_in_set", "reject", column="role", value_set=["s"]),
    ), name="enrollments")
    unique = outcome.results[0]
    assert (unique.outcome, unique.unexpected_count, unique.element_count) == ("warned", 3, 6)  # "b" left once
    assert [row["row"] for row in unique.sample] == [1, 5, 6]
    assert unique.shared == [{"values": {"sourcedId": "a"}, "count": 3, "ids": []}]
