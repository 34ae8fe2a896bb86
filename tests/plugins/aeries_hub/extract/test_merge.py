"""Merging changed records into an extract snapshot, and the share of a table that changed."""

from __future__ import annotations

from aeries_hub.aeries.arrow import rows_to_arrow
from aeries_hub.extract.merge import changed_share, merge_tables


def student(school: int, sid: int, number: int, **fields) -> dict:
    return {"StudentID": sid, "SchoolCode": school, "StudentNumber": number, **fields}


def merged(table: str, snapshot_rows: list[dict], groups: set[tuple], fetched: list[dict]):
    """The merge, and what a full extraction of the same records (in Aeries' order) gives."""
    return merge_tables(table, rows_to_arrow(table, snapshot_rows), groups, fetched)


def test_merge_replaces_the_changed_keys_and_keeps_the_order_and_types_of_a_full_extraction():
    snapshot = [student(200, 5, 1, Grade=6, Track=None), student(200, 9, 2, Grade=7, Track="A"),
                student(100, 3, 1, Grade=1, Track=None), student(100, 7, 2, Grade=2, Track=None)]
    fetched = [student(200, 9, 2, Grade=8, Track=None), student(100, 4, 3, Grade=3, Track=None),
               student(300, 1, 1, Grade=9, Track=None)]
    groups = {(200, 9), (100, 4), (100, 7), (300, 1)}  # changed, new, gone (no rows fetched), new school
    full = [student(200, 5, 1, Grade=6, Track=None), fetched[0], student(100, 3, 1, Grade=1, Track=None), fetched[1],
            fetched[2]]

    result = merged("students", snapshot, groups, fetched)

    assert result.equals(rows_to_arrow("students", full))  # Track: null everywhere now, typed as the registry says
    assert [(r["SchoolCode"], r["StudentID"], r["Grade"]) for r in result.to_pylist()] == [
        (200, 5, 6), (200, 9, 8), (100, 3, 1), (100, 4, 3), (300, 1, 9)]


def test_merge_with_a_value_of_another_type_converts_like_a_full_extraction():
    snapshot = [student(100, 3, 1, Grade=1, Custom=5), student(100, 7, 2, Grade=2, Custom=6)]
    fetched = [student(100, 7, 2, Grade=2, Custom="six")]
    result = merged("students", snapshot, {(100, 7)}, fetched)
    assert result.equals(rows_to_arrow("students", [snapshot[0], fetched[0]]))
    assert result.schema.field("Custom").type == "string"


def test_merge_of_a_schedule_replaces_all_the_students_rows_at_that_school_only():
    row = lambda school, sid, seq, section: {"StudentID": sid, "SchoolCode": school, "SequenceNumber": seq,  # noqa: E731
                                             "SectionNumber": section}
    snapshot = [row(100, 1, 1, 10), row(100, 1, 2, 11), row(100, 2, 1, 10), row(200, 1, 1, 50)]
    result = merged("rosters", snapshot, {(100, 1)}, [row(100, 1, 1, 12)])
    assert [(r["SchoolCode"], r["StudentID"], r["SectionNumber"]) for r in result.to_pylist()] == [
        (100, 1, 12), (100, 2, 10), (200, 1, 50)]


def test_merge_of_staff_is_one_list_by_id():
    snapshot = [{"ID": 1, "PrimaryAeriesSchool": 200}, {"ID": 2, "PrimaryAeriesSchool": 100}]
    result = merged("staff", snapshot, {(2,), (3,)}, [{"ID": 3, "PrimaryAeriesSchool": 100}])
    assert [r["ID"] for r in result.to_pylist()] == [1, 3]


def test_the_changed_share_counts_students_sections_and_staff_not_rows():
    students = rows_to_arrow("students", [student(100 + n % 4, n, n) for n in range(2000)])  # 4 schools of 500
    assert changed_share("students", students, 20) == 1.0
    rosters = rows_to_arrow("rosters", [{"StudentID": n // 6, "SchoolCode": 100, "SequenceNumber": n % 6}
                                        for n in range(6000)])  # 1000 students, 6 classes each
    assert changed_share("rosters", rosters, 10) == 1.0
    staff = rows_to_arrow("staff", [{"ID": n} for n in range(5000)])
    assert changed_share("staff", staff, 250) == 5.0
    assert changed_share("staff", rows_to_arrow("staff", []), 1) == 100.0
