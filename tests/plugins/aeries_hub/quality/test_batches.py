"""validate_frame on a frame of more rows than one batch: the checks that test each row on their own run a slice of
rows at a time, those across rows once; the outcome is the same as one batch's (real Great Expectations)."""

from __future__ import annotations

import json

import pandas as pd

from aeries_hub.mapping.row_rules import GroupCount
from aeries_hub.quality import validate_frame
from aeries_hub.quality.checks import rule_check
from aeries_hub.quality.runner import rejects_csv
from tests.plugins.aeries_hub.quality.check_specs import checks, spec

ROWS = 47


def enrollments() -> pd.DataFrame:
    """Rows that fail each kind of check somewhere past the first slice, with an index that is not 0..n-1."""
    n = range(ROWS)
    return pd.DataFrame({
        "sourcedId": [f"e{i if i not in (30, 41) else 7}" for i in n],
        "classSourcedId": [f"c{i % 9}" if i % 13 else "c99" for i in n],
        "userSourcedId": [f"u{i % 40}" if i not in (3, 22, 38) else "gone" for i in n],
        "role": ["teacher" if i % 5 == 0 else "student" if i % 17 else "pupil" for i in n],
        "primary": ["" if i % 5 else "true" if i % 10 else "maybe" for i in n],
        "beginDate": ["2026-08-1" + str(i % 10) if i % 11 else "Aug 1" for i in n],
        "grades": ["9,10" if i % 7 else "9,13" for i in n],
        "school": [f"s{i % 3}" for i in n],
    }, index=pd.RangeIndex(1000, 1000 + 2 * ROWS, 2))


def enrollment_checks():
    users = [f"u{i}" for i in range(1200)]  # more than can be inlined: tested through a membership column
    tables = {
        "users.csv": pd.DataFrame({"sourcedId": users[:35] + users[36:]}),
        "classes.csv": pd.DataFrame({"sourcedId": [f"c{i}" for i in range(10)]}),
        "grades": pd.DataFrame({"code": [str(g) for g in range(1, 13)]}),
        "schools": pd.DataFrame({"school": ["s0", "s1", "s2"], "role": ["student", "teacher", "student"]}),
    }
    written = checks(
        spec("expect_table_row_count_to_be_between", min_value=1),
        spec("expect_column_values_to_be_unique", "warning", column="sourcedId"),
        spec("expect_column_values_to_match_regex", column="sourcedId", regex=r"\S"),
        spec("expect_column_values_to_be_in_set", "reject", column="userSourcedId", ignore_blank=True,
             value_set_from={"table": "users.csv", "column": "sourcedId"}),
        spec("expect_column_values_to_be_in_set", "reject", column="role", value_set=["student", "teacher"]),
        spec("expect_column_values_to_be_in_set", "warning", column="primary", value_set=["true", "false"],
             ignore_blank=True),
        spec("expect_column_values_to_match_regex", "warning", column="beginDate", regex=r"^\d{4}-\d{2}-\d{2}$"),
        spec("expect_column_values_to_match_strftime_format", "warning", column="beginDate", strftime_format="%Y-%m-%d"),
        spec("expect_column_values_to_be_in_set", "warning", column="classSourcedId",
             value_set_from={"table": "classes.csv", "column": "sourcedId"}),
        spec("expect_column_values_to_be_in_set", "warning", column="grades", split=",",
             value_set_from={"table": "grades", "column": "code"}),
        spec("expect_column_pair_values_to_be_in_set", "warning", column_A="school", column_B="role",
             value_set_from={"table": "schools", "columns": ["school", "role"]}),
        spec("expect_column_values_to_match_regex", "warning", column="classSourcedId", regex=r"^c\d$", mostly=0.9),
        spec("expect_column_distinct_values_to_contain_set", "warning", column="classSourcedId",
             rows_where={"column": "role", "in": ["teacher"]}, value_set_from={"table": "classes.csv", "column": "sourcedId"}),
        spec("expect_compound_columns_to_be_unique", "warning", column_list=["userSourcedId", "classSourcedId"]),
    )
    written.append(rule_check(GroupCount(per=("userSourcedId",), at_most=1), "warning", where="x.yml: counts[0]"))
    return written, tables


def outcomes(tmp_path, batch_rows: int):
    written, tables = enrollment_checks()
    docs = tmp_path / str(batch_rows)
    outcome = validate_frame(enrollments(), written, name="enrollments", tables=tables, id_columns=["sourcedId"],
                             docs_dir=docs, data_docs=False, batch_rows=batch_rows)
    return outcome, docs


def test_a_frame_larger_than_a_batch_has_the_outcome_of_one_batch(tmp_path):
    whole, whole_docs = outcomes(tmp_path, ROWS)
    sliced, sliced_docs = outcomes(tmp_path, 5)

    assert sliced.accepted.equals(whole.accepted) and sliced.rejected.equals(whole.rejected)
    assert rejects_csv(sliced.rejected) == rejects_csv(whole.rejected)
    found = {key: value for key, value in sliced.to_dict().items() if key not in ("timings", "artifacts")}
    assert found == {key: value for key, value in whole.to_dict().items() if key not in ("timings", "artifacts")}
    # the checks found rows to reject and warn about in slices after the first
    assert whole.rejected["sourcedId"].tolist() == ["e3", "e17", "e22", "e34", "e35", "e38"]
    assert (whole.passed, whole.warned, whole.failed) == (4, 11, 0)
    assert [row["row"] for row in whole.results[5].sample] == [1000, 1020, 1040, 1060, 1080]  # primary: one a slice

    for file in ("enrollments.rejects.validation.json", "enrollments.validation.json"):
        assert _results(sliced_docs / file) == _results(whole_docs / file), file


def _results(path) -> list:
    """The validation's results as GX wrote them, by check, but the most common failing values (each slice's are
    counted)."""
    document = json.loads(path.read_text())
    results = []
    for result in document["results"]:
        details = {key: value for key, value in result["result"].items() if key != "partial_unexpected_counts"}
        results.append((result["expectation_config"]["meta"]["check"], result["success"], details))
    return [document["success"], document["statistics"], sorted(results, key=lambda result: result[0])]


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
