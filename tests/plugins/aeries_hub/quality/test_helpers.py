"""Helper columns (ignore_blank, value_set_from, split, rows_where), through validate_frame with real Great
Expectations."""

from __future__ import annotations

import pandas as pd
import pytest

from aeries_hub.quality import REJECT_REASON, CheckConfigError, helpers, row_flags, validate_frame
from tests.plugins.aeries_hub.quality.check_specs import checks, spec


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


#: Values on which Python's re (which GX uses) and Arrow's RE2 differ: Unicode digits and spaces, and "$" before a
#: final line break; a slice of two rows makes the runner search several slices.
TRICKY_TEXT = ["2026-08-15", "٢٠٢٦-٠٨-١٥", "2026-08-15\n", "\xa0", "", None, "2026-8-15", "2026-08-15", "  "]


def _regex_outcome(helper_columns: bool, monkeypatch, *specs: dict):
    if not helper_columns:
        monkeypatch.setattr(helpers, "_REGEX", {})  # Great Expectations' own implementation, the oracle
    monkeypatch.setattr(row_flags, "REGEX_SLICE_ROWS", 2)
    frame = pd.DataFrame({"id": [str(n) for n in range(len(TRICKY_TEXT))], "day": pd.array(TRICKY_TEXT, dtype="str")})
    return validate_frame(frame, checks(*specs), name="days", id_columns=["id"])


@pytest.mark.parametrize("helper_columns", [True, False], ids=["helper column", "GX's own"])
def test_a_regex_is_searched_as_great_expectations_searches_it(helper_columns, monkeypatch):
    day = r"^\d{4}-\d{2}-\d{2}$"
    outcome = _regex_outcome(helper_columns, monkeypatch,
                             spec("expect_column_values_to_match_regex", "warning", column="day", regex=day),
                             spec("expect_column_values_to_match_regex", "warning", column="day", regex=r"\S"),
                             spec("expect_column_values_to_match_regex", "warning", column="day", regex=day,
                                  ignore_blank=True))
    pattern, required, pattern_not_blank = outcome.results
    # Unicode digits, and "$" before a final line break, match; a no-break space is a space to Python
    assert (pattern.unexpected_count, pattern.element_count) == (4, 9)
    assert [row["id"] for row in pattern.sample] == ["3", "4", "6", "8"]
    assert [row["id"] for row in required.sample] == ["3", "4", "8"]
    assert [row["id"] for row in pattern_not_blank.sample] == ["6"]
    rejected = _regex_outcome(helper_columns, monkeypatch,
                              spec("expect_column_values_to_not_match_regex", "reject", column="day", regex=r"\s"))
    assert list(rejected.rejected["id"]) == ["2", "3", "8"]


def test_a_regex_check_of_a_text_column_hands_gx_a_true_false_column_only(monkeypatch):
    frame = pd.DataFrame({"day": pd.array(TRICKY_TEXT, dtype="str")})
    regex = spec("expect_column_values_to_match_regex", "warning", column="day", regex=r"^\d", ignore_blank=True)
    work, specs = helpers.prepare_frame(frame, checks(regex), [0], {})
    assert specs[0].kwargs == {"column": r"day (blank as null) matches ^\d", "value_set": [True]}
    assert list(work.columns) == ["day", r"day (blank as null) matches ^\d"]  # not the blank-as-null copy it came from
    assert list(work[r"day (blank as null) matches ^\d"]) == [True, True, True, pd.NA, pd.NA, pd.NA, True, True, pd.NA]


@pytest.mark.parametrize("helper_columns", [True, False], ids=["helper column", "GX's own"])
def test_a_value_set_of_text_is_tested_as_great_expectations_tests_it(helper_columns, monkeypatch):
    if not helper_columns:
        monkeypatch.setattr(helpers, "_IN_SET", "GX's own")
    frame = pd.DataFrame({"id": ["1", "2", "3", "4", "5", "6"],
                          "role": pd.array(["student", "Student", "", None, "teacher ", "teacher"], dtype="str")})
    outcome = validate_frame(frame, checks(
        spec("expect_column_values_to_be_in_set", "warning", column="role", value_set=["student", "teacher"]),
        spec("expect_column_values_to_be_in_set", "warning", column="role", value_set=["student", "teacher"],
             ignore_blank=True),
    ), name="enrollments", id_columns=["id"])
    tested, blank_ignored = outcome.results
    assert ([row["id"] for row in tested.sample], tested.element_count) == (["2", "3", "5"], 6)
    assert [row["id"] for row in blank_ignored.sample] == ["2", "5"]


@pytest.mark.parametrize("rows, classes, outcome, missing", [
    (["c1", "c2", None], ["c2", "c1"], "passed", []),
    ([], [], "passed", []),
    ([], ["c1"], "warned", ["c1"]),
    ([None, "c1 "], ["c1"], "warned", ["c1"]),  # values are compared as they are: "c1 " is not c1
], ids=["all held", "nothing to hold", "no rows", "another value"])
def test_distinct_values_hold_every_value_of_another_file_as_great_expectations_tests_a_value_set(
        rows, classes, outcome, missing):
    enrollments = pd.DataFrame({"classSourcedId": pd.array(rows, dtype="str")})
    has_teacher = spec("expect_column_distinct_values_to_contain_set", "warning", column="classSourcedId",
                       value_set_from={"table": "classes", "column": "sourcedId"})
    result = validate_frame(enrollments, checks(has_teacher), name="enrollments",
                            tables={"classes": pd.DataFrame({"sourcedId": pd.array(classes, dtype="str")})}).results[0]
    assert (result.outcome, result.missing) == (outcome, missing)


#: Values a district's data or a vendor's file can hold: a formula a spreadsheet would run, a path out of a folder,
#: a megabyte in one field, control characters.
HOSTILE_TEXT = ["=cmd|' /C calc'!A0", "+SUM(A1:A9)", "../../etc/passwd", "2026-08-15" + "7" * 2**20, "\x00\r\n", "@x"]


def test_hostile_values_are_tested_by_the_helper_columns_as_great_expectations_tests_them(monkeypatch):
    frame = pd.DataFrame({"id": [str(n) for n in range(len(HOSTILE_TEXT))], "value": pd.array(HOSTILE_TEXT, dtype="str")})
    specs = [spec("expect_column_values_to_match_regex", "warning", column="value", regex=r"^\d{4}-\d{2}-\d{2}"),
             spec("expect_column_values_to_match_regex", "warning", column="value", regex=r"^[=+\-@]"),
             spec("expect_column_values_to_not_match_regex", "warning", column="value", regex=r"[\x00-\x1f]|\.\./"),
             spec("expect_column_values_to_be_in_set", "warning", column="value", value_set=["@x", "../../etc/passwd"])]

    def failing_ids(helper_columns: bool) -> list[list[str]]:
        with monkeypatch.context() as patched:
            if not helper_columns:  # Great Expectations' own implementations, the oracle
                patched.setattr(helpers, "_REGEX", {})
                patched.setattr(helpers, "_IN_SET", "GX's own")
            outcome = validate_frame(frame, checks(*specs), name="hostile", id_columns=["id"])
        return [[row["id"] for row in result.sample] for result in outcome.results]

    assert failing_ids(True) == failing_ids(False) == [
        ["0", "1", "2", "4", "5"],  # the megabyte value starts with a date
        ["2", "3", "4"],
        ["2", "4"],
        ["0", "1", "3", "4"],
    ]


def test_uniqueness_compares_the_sorted_values_a_slice_at_a_time_across_the_slices_edges(monkeypatch):
    from aeries_hub.mapping.text import TEXT

    monkeypatch.setattr(row_flags, "UNIQUE_SLICE_ROWS", 3)  # sorted: a a b | b c c | e e f | g h (null)
    values = pd.Series(["b", "a", None, "c", "a", "b", "e", "e", "f", "g", "c", "h"], dtype=TEXT)
    flags = row_flags.unique_flags(values)
    assert flags.tolist() == [False, False, pd.NA, False, False, False, False, False, True, True, False, True]


def _compound_outcome(helper_columns: bool, monkeypatch, *specs: dict):
    if not helper_columns:
        monkeypatch.setattr(helpers, "_compound_unique", lambda rows, kwargs: None)  # GX's own, the oracle
    frame = pd.DataFrame({
        "id": [f"r{n}" for n in range(9)],
        "school": pd.array([994, 994, 994, 995, None, None, 994, 994, None], dtype="Int64"),
        "student": pd.array([1, 1, 2, 1, None, None, 3, 3, 7], dtype="Int64"),
        "seq": pd.array(["1", "1", "1", "1", None, None, None, None, "2"], dtype="str"),
        "grade": [9, 99, 9, 9, 9, 9, 9, 9, 9],
    })
    return validate_frame(frame, checks(*specs), name="rosters", id_columns=["id"])


@pytest.mark.parametrize("helper_columns", [True, False], ids=["helper column", "GX's own"])
def test_compound_uniqueness_finds_the_rows_great_expectations_finds(helper_columns, monkeypatch):
    key = ["school", "student", "seq"]
    outcome = _compound_outcome(helper_columns, monkeypatch,
                                spec("expect_compound_columns_to_be_unique", "warning", column_list=key),
                                spec("expect_compound_columns_to_be_unique", "warning", column_list=key,
                                     ignore_row_if="any_value_is_missing"),
                                spec("expect_compound_columns_to_be_unique", "warning", column_list=key,
                                     ignore_row_if="never"))
    every_missing_skipped, any_missing_skipped, none_skipped = outcome.results
    # r0/r1 share a key; r6/r7 too (a missing value equals another); r4/r5 have no value at all
    assert [row["id"] for row in every_missing_skipped.sample] == ["r0", "r1", "r6", "r7"]
    assert [row["id"] for row in any_missing_skipped.sample] == ["r0", "r1"]
    assert [row["id"] for row in none_skipped.sample] == ["r0", "r1", "r4", "r5", "r6"]
    assert none_skipped.unexpected_count == 6
    assert [(shared["count"], shared["ids"]) for shared in every_missing_skipped.shared] == [
        (2, ["r0", "r1"]), (2, ["r6", "r7"])]

    # rejected, then tested again on the rows left: without r1 (grade 99), r0 shares its key with no row
    rejected = _compound_outcome(helper_columns, monkeypatch,
                                 spec("expect_column_values_to_be_between", "reject", column="grade", max_value=18),
                                 spec("expect_compound_columns_to_be_unique", "reject", column_list=["school", "seq"]),
                                 spec("expect_compound_columns_to_be_unique", "warning", column_list=key))
    assert list(rejected.rejected["id"]) == ["r0", "r1", "r2", "r6", "r7"]
    assert [row["id"] for row in rejected.results[2].sample] == []  # r3, r4, r5, r8 are left: r4 and r5 skipped
    left = _compound_outcome(helper_columns, monkeypatch,
                             spec("expect_column_values_to_be_between", "reject", column="grade", max_value=18),
                             spec("expect_compound_columns_to_be_unique", "warning", column_list=key))
    assert [row["id"] for row in left.results[1].sample] == ["r6", "r7"]


@pytest.mark.parametrize("helper_columns", [True, False], ids=["helper column", "GX's own"])
def test_hostile_values_are_compared_as_they_are_by_compound_uniqueness(helper_columns, monkeypatch):
    if not helper_columns:
        monkeypatch.setattr(helpers, "_compound_unique", lambda rows, kwargs: None)  # GX's own, the oracle
    huge = "=" + "A" * (1 << 20)
    frame = pd.DataFrame({"id": ["h0", "h1", "h2", "h3", "h4"],
                          "school": ["../../etc/passwd", "../../etc/passwd", "=cmd|' /C calc'!A0", huge, huge],
                          "key": ["1", "1", "1", "\x00\r\n", "\x00\r\n "]})
    outcome = validate_frame(frame, checks(spec("expect_compound_columns_to_be_unique", "reject",
                                                column_list=["school", "key"])), name="hostile", id_columns=["id"])
    assert list(outcome.rejected["id"]) == ["h0", "h1"]
    assert outcome.accepted["school"].tolist()[-1] == huge  # the value as it came, not trimmed or cut
