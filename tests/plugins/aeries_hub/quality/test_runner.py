"""validate_frame with real Great Expectations Core (no mocks)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from aeries_hub.quality import (
    EXPECTATIONS,
    REJECT_REASON,
    CheckConfigError,
    combine_reports,
    gx_adapter,
    helpers,
    parse_checks,
    validate_frame,
)

WHERE = "test.yml: students"


def checks(*specs):
    return parse_checks(list(specs), where=WHERE)


def spec(expectation: str, severity: str = "error", **kwargs) -> dict:
    return {"expectation": expectation, "severity": severity, **kwargs}


@pytest.fixture
def students() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "StudentID": pd.array([1001, 1002, 1002, 1004, 1005, 1006], dtype="Int64"),
            "SchoolCode": pd.array([994, 994, 995, 999, 994, 994], dtype="Int64"),
            "LastName": pd.array(["Smith", "X" * 50, "Lee", "Kim", "Ng", "Y" * 43], dtype="string"),
            "Grade": pd.array([9, 10, 11, 12, 19, -3], dtype="Int64"),
            "StudentEmailAddress": pd.array(["a@b.org", "", "   ", None, "not-an-email", "c@d.org"], dtype="string"),
            "Birthdate": pd.array(["2002-11-11T00:00:00", None, "", "2003-02-30T00:00:00", "2004-01-05T00:00:00",
                                  "01/05/2004"], dtype="string"),
        }
    )


@pytest.fixture
def schools() -> pd.DataFrame:
    return pd.DataFrame({"SchoolCode": pd.array([994, 995], dtype="Int64"), "Name": ["North High", "South High"]})


# ------------------------------------------------------------------------------------------ severities


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


# ------------------------------------------------------------------------------------ runner features


def test_ignore_blank_skips_null_empty_and_whitespace_values(students):
    email = spec("expect_column_values_to_match_regex", "warning", column="StudentEmailAddress",
                 regex=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    date = spec("expect_column_values_to_match_strftime_format", "warning", column="Birthdate",
                strftime_format="%Y-%m-%dT%H:%M:%S")
    outcome = validate_frame(students, checks({**email, "ignore_blank": True}, email, {**date, "ignore_blank": True}),
                             name="students")
    blank_ignored, blank_tested, dates = outcome.results
    assert (blank_ignored.unexpected_count, blank_ignored.sample) == (1, [{"row": 4, "StudentEmailAddress": "not-an-email"}])
    assert blank_tested.unexpected_count == 3  # "", "   " and the bad address (null is never tested)
    assert [row["row"] for row in dates.sample] == [3, 5]  # 30 February and a US date; null and "" skipped


def test_ignore_blank_with_reject_removes_only_malformed_values(students):
    outcome = validate_frame(students, checks(
        spec("expect_column_values_to_match_regex", "reject", column="StudentEmailAddress",
             regex=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", ignore_blank=True),
    ), name="students")
    assert list(outcome.rejected.index) == [4]
    assert outcome.rejected[REJECT_REASON].iloc[0] == r"StudentEmailAddress does not match ^[^@\s]+@[^@\s]+\.[^@\s]+$"


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


@pytest.mark.parametrize("limit", [helpers.INLINE_VALUE_SET_LIMIT, 1], ids=["inline value_set", "membership column"])
def test_value_set_from_cross_table_reference(students, schools, monkeypatch, limit):
    monkeypatch.setattr(helpers, "INLINE_VALUE_SET_LIMIT", limit)
    rosters = pd.DataFrame({
        "StudentID": pd.array([1001, 1002, 4242, None, 1006], dtype="Int64"),
        "SchoolCode": pd.array([994, 995, 994, 994, 994], dtype="Int64"),
        "SectionNumber": pd.array([1, 7, 1, 1, 2], dtype="Int64"),
    }, index=[10, 11, 12, 13, 14])
    sections = pd.DataFrame({"SchoolCode": [994, 994, 995], "SectionNumber": [1, 2, 1], "CourseID": ["0001", "0002", "0001"]})
    outcome = validate_frame(rosters, checks(
        spec("expect_column_values_to_be_in_set", "reject", column="StudentID",
             value_set_from={"table": "students", "column": "StudentID"}),
        spec("expect_column_pair_values_to_be_in_set", "reject", column_A="SchoolCode", column_B="SectionNumber",
             value_set_from={"table": "sections", "columns": ["SchoolCode", "SectionNumber"]}),
        spec("expect_column_values_to_be_in_set", "warning", column="SchoolCode",
             value_set_from={"table": "schools", "column": "SchoolCode"}),
    ), name="rosters", tables={"students": students, "sections": sections, "schools": schools})
    assert dict(zip(outcome.rejected.index, outcome.rejected[REJECT_REASON])) == {
        11: "(SchoolCode, SectionNumber) is not a known sections.(SchoolCode, SectionNumber)",
        12: "StudentID is not a known students.StudentID",
    }
    assert list(outcome.accepted.index) == [10, 13, 14]  # a null StudentID is not an orphan (not-null checks catch it)
    assert outcome.results[0].sample == [{"row": 12, "StudentID": 4242}]
    assert outcome.results[2].success


def test_value_set_from_needs_the_referenced_table(students):
    with pytest.raises(CheckConfigError) as info:
        validate_frame(students, checks(
            spec("expect_column_values_to_not_be_null", column="StudentID"),
            spec("expect_column_values_to_be_in_set", "reject", column="SchoolCode",
                 value_set_from={"table": "schools", "column": "SchoolCode"}),
        ), name="students", tables={"courses": pd.DataFrame({"ID": ["0001"]})})
    assert str(info.value) == (
        "test.yml: students[1].value_set_from: table 'schools' was not given to the runner (tables given: courses)"
    )
    with pytest.raises(CheckConfigError, match=r"students\[0\]\.value_set_from: table 'schools' has no column 'Code'"):
        validate_frame(students, checks(spec("expect_column_values_to_be_in_set", column="SchoolCode",
                                             value_set_from={"table": "schools", "column": "Code"})),
                       name="students", tables={"schools": pd.DataFrame({"SchoolCode": [994]})})


def test_expectation_arguments_are_checked_by_gx_when_the_suite_is_built(students):
    with pytest.raises(CheckConfigError) as info:
        validate_frame(students, checks(
            spec("expect_column_values_to_be_between", column="Grade", min_value=-2, max_vale=18),
        ), name="students")
    assert str(info.value) == "test.yml: students[0]: expect_column_values_to_be_between: max_vale: unknown argument"


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


# ------------------------------------------------------------------------------------------ Data Docs


def test_data_docs_index_and_validation_json(tmp_path, students, schools):
    docs = tmp_path / "quality"
    outcome = validate_frame(students, checks(
        spec("expect_column_values_to_be_in_set", "reject", column="SchoolCode",
             value_set_from={"table": "schools", "column": "SchoolCode"}),
        spec("expect_compound_columns_to_be_unique", column_list=["SchoolCode", "StudentID"],
             description="one record per student and school"),
    ), name="students", tables={"schools": schools}, docs_dir=docs)
    assert (docs / "index.html").is_file()
    assert outcome.artifacts == {
        "rejects_validation_json": str(docs / "students.rejects.validation.json"),
        "validation_json": str(docs / "students.validation.json"),
        "docs_index": str(docs / "index.html"),
    }
    gate = json.loads((docs / "students.validation.json").read_text())
    assert gate["suite_name"] == "students" and gate["success"] is True
    [result] = gate["results"]
    assert result["expectation_config"]["type"] == "expect_compound_columns_to_be_unique"
    assert result["expectation_config"]["meta"]["severity"] == "error"
    assert result["expectation_config"]["meta"]["description"] == "one record per student and school"
    assert result["result"]["element_count"] == 5  # the rejected row is not in the gate suite's batch
    rejects = json.loads((docs / "students.rejects.validation.json").read_text())
    assert rejects["results"][0]["result"]["unexpected_index_list"] == [3]
    assert rejects["results"][0]["expectation_config"]["meta"]["value_set_from"] == "schools.SchoolCode"
    assert "timings" in outcome.to_dict() and outcome.timings["docs"] < 10

    # a second table validated into the same folder is added to the same site
    validate_frame(schools, checks(spec("expect_table_row_count_to_be_between", min_value=1)), name="schools", docs_dir=docs)
    index = (docs / "index.html").read_text()
    assert "students" in index and "schools" in index
    pages = sorted(p.relative_to(docs).parts[1] for p in (docs / "validations").rglob("*.html"))
    assert pages == ["schools", "students", "students-rejects"]


# ------------------------------------------------------------------------------- kept in step with GX


def test_expectation_table_matches_the_installed_great_expectations():
    gx_adapter.import_gx()
    from great_expectations.expectations import expectation as base
    from great_expectations.expectations.registry import get_expectation_impl

    kinds = {
        "column_map": base.ColumnMapExpectation,
        "column_pair_map": base.ColumnPairMapExpectation,
        "multicolumn_map": base.MulticolumnMapExpectation,
        "column_aggregate": (base.ColumnAggregateExpectation, base.BatchExpectation),
        "table": base.BatchExpectation,
    }
    for name, info in EXPECTATIONS.items():
        cls = get_expectation_impl(name)
        assert issubclass(cls, kinds[info.kind]), name
        ours = {r for requirement in info.requires for r in (requirement if isinstance(requirement, tuple) else (requirement,))}
        theirs = {f for f, field in cls.__fields__.items() if field.required}
        assert theirs <= ours, (name, theirs - ours)


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


def test_split_tests_every_value_of_a_multi_value_cell():
    users = pd.DataFrame({"sourcedId": ["u1", "u2", "u3", "u4", "u5"],
                          "orgSourcedIds": ["100", "100,200", "100, 999", "", None]})
    orgs = pd.DataFrame({"sourcedId": ["100", "200"]})
    reference = spec("expect_column_values_to_be_in_set", "reject", column="orgSourcedIds", ignore_blank=True, split=",",
                     value_set_from={"table": "orgs", "column": "sourcedId"})

    outcome = validate_frame(users, checks(reference), name="users", tables={"orgs": orgs}, id_columns=["sourcedId"])

    assert outcome.rejected["sourcedId"].tolist() == ["u3"]
    assert outcome.rejected[REJECT_REASON].tolist() == ["orgSourcedIds (each of its values) is not a known orgs.sourcedId"]
    assert outcome.accepted["sourcedId"].tolist() == ["u1", "u2", "u4", "u5"]


def test_split_needs_a_value_set_from_column():
    with pytest.raises(CheckConfigError, match=r"students\[0\]\.split: only for a single-column check with value_set_from"):
        checks(spec("expect_column_values_to_be_in_set", column="x", value_set=["a"], split=","))


def test_rows_where_tests_only_the_chosen_rows_and_lists_every_missing_value_after_rejects():
    enrollments = pd.DataFrame({"sourcedId": ["e1", "e2", "e3", "e4", "e5"],
                                "classSourcedId": ["c1", "c2", "c3", "c4", "c5"],
                                "userSourcedId": ["T1", "s1", "T9", "T2", " T3"],
                                "role": ["teacher", "student", "teacher", "teacher ", "teacher"]})
    users = pd.DataFrame({"sourcedId": ["T1", "T2", "T3", "s1"]})
    classes = pd.DataFrame({"sourcedId": ["c10", "c2", "c1", "c3", "c4", "c9"]})
    rejected_teacher = spec("expect_column_values_to_be_in_set", "reject", column="userSourcedId",
                            value_set_from={"table": "users", "column": "sourcedId"})
    has_teacher = spec("expect_column_distinct_values_to_contain_set", "warning", column="classSourcedId",
                       rows_where={"column": "role", "in": ["teacher"]},
                       value_set_from={"table": "classes", "column": "sourcedId"}, description="a class has a teacher")

    outcome = validate_frame(enrollments, checks(rejected_teacher, has_teacher), name="enrollments",
                             tables={"users": users, "classes": classes}, id_columns=["sourcedId"])

    # e3's teacher is no user (rejected first), e2 is a student's: c2 and c3 have no teacher, nor c10 and c9 (no row);
    # " T3" of e5 is no user either. The missing values keep the order of the other table.
    assert outcome.rejected["sourcedId"].tolist() == ["e3", "e5"]
    result = outcome.results[1]
    assert (result.outcome, result.missing) == ("warned", ["c10", "c2", "c3", "c9"])
    assert result.to_dict()["missing"] == ["c10", "c2", "c3", "c9"]


def test_rows_where_is_for_single_column_checks_only():
    with pytest.raises(CheckConfigError, match=r"students\[0\]\.rows_where: only for single-column checks"):
        checks(spec("expect_compound_columns_to_be_unique", column_list=["a", "b"], rows_where={"column": "r", "in": ["x"]}))
