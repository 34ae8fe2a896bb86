"""Incremental extraction without a server: which mode, the district's clock, the merge, the snapshot files."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from aeries_hub.aeries.arrow import rows_to_arrow
from aeries_hub.extract.district_time import local_time
from aeries_hub.extract.incremental import (
    ExtractSnapshot,
    changed_groups,
    choose_mode,
    describe_extraction,
)
from aeries_hub.extract.merge import changed_share, merge_tables
from aeries_hub.extract.plans import ALWAYS_FULL_REASON

SETTINGS = {"school_codes": [], "api_version": 5}
NOW = datetime(2026, 12, 1, 8, 0)


def state(last_full: str = "2026-11-30T08:00:00", settings=None) -> dict:
    return {"extracted_at": "2026-12-01T02:00:00", "last_full_at": last_full, "settings": settings or SETTINGS}


@pytest.mark.parametrize(
    ("table", "snapshot", "force", "expected"),
    [
        ("students", state(), False, ("incremental", "changes since 2026-12-01T02:00:00 (last full extraction 24 h ago)")),
        ("courses", state(), False, ("full", ALWAYS_FULL_REASON)),
        ("students", None, False, ("full", "no extract snapshot yet")),
        ("students", state(), True, ("full", "the full_extract param is on")),
        ("students", state("2026-11-23T08:00:00"), False, ("full", "the last full extraction was 192 h ago (full_every_hours 168)")),
        ("staff", state(settings={"school_codes": [100], "api_version": 5}), False,
         ("full", "the snapshot was taken with other settings (schools, API version)")),
    ],
)
def test_choose_mode(table, snapshot, force, expected):
    assert choose_mode(table, snapshot, NOW, 168, force_full=force, settings=SETTINGS) == expected


def test_district_time_is_aeries_clock_else_its_zone_else_the_earliest_zone():
    now = datetime(2026, 12, 1, 16, 0, 30, 123, tzinfo=timezone.utc)
    assert local_time({"CurrentDateTime": "2026-12-01T08:01:02"}, now) == datetime(2026, 12, 1, 8, 1, 2)
    assert local_time({"LocalTimeZoneName": "Pacific Standard Time"}, now) == datetime(2026, 12, 1, 8, 0, 30)
    assert local_time({"LocalTimeZoneName": "America/Chicago"}, now) == datetime(2026, 12, 1, 10, 0, 30)
    assert local_time({}, now) == datetime(2026, 12, 1, 4, 0, 30)  # UTC-12: never misses a change


@pytest.mark.parametrize(
    "zone, local",
    [
        # Aeries' documented systeminfo answer, and aeripy's fixture of the demo server's (its odd offset)
        ("(UTC-08:00) Pacific Time (US & Canada)", datetime(2026, 12, 1, 8, 0, 30)),
        ("(UTC-0:8:00) Pacific Time (US & Canada)", datetime(2026, 12, 1, 8, 0, 30)),
        ("(UTC-06:00) Central Time (US & Canada)", datetime(2026, 12, 1, 10, 0, 30)),
        ("(UTC-07:00) Arizona", datetime(2026, 12, 1, 9, 0, 30)),
        ("(UTC) Coordinated Universal Time", datetime(2026, 12, 1, 16, 0, 30)),
        # a display name this table does not know: its standard offset
        ("(UTC+05:30) Chennai, Kolkata, Mumbai, New Delhi", datetime(2026, 12, 1, 21, 30, 30)),
        ("(UTC-03:30) Newfoundland", datetime(2026, 12, 1, 12, 30, 30)),
        # nonsense: the earliest zone
        ("(UTC-99:00) Nowhere", datetime(2026, 12, 1, 4, 0, 30)),
        ("Middle Earth Time", datetime(2026, 12, 1, 4, 0, 30)),
    ],
)
def test_windows_display_names_give_the_district_time(zone, local):
    now = datetime(2026, 12, 1, 16, 0, 30, 123, tzinfo=timezone.utc)
    assert local_time({"LocalTimeZoneName": zone}, now) == local


def test_a_display_name_follows_daylight_saving_time():
    summer = datetime(2026, 7, 1, 16, 0, 0, tzinfo=timezone.utc)
    assert local_time({"LocalTimeZoneName": "(UTC-08:00) Pacific Time (US & Canada)"}, summer) == datetime(2026, 7, 1, 9)


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


def test_snapshot_is_trusted_only_when_its_json_names_its_parquet(tmp_path):
    snapshot = ExtractSnapshot(tmp_path, "aeries_to_x", "aeries_default", 2026)
    assert snapshot.root == tmp_path / "aeries_to_x" / "_extract_snapshot" / "aeries_default-2026"
    assert snapshot.state("students") is None
    snapshot.save("students", b"parquet bytes", {"extracted_at": "2026-12-01T08:00:00"})
    assert snapshot.state("students")["extracted_at"] == "2026-12-01T08:00:00"
    (snapshot.root / "students.parquet").write_bytes(b"half written")
    assert snapshot.state("students") is None
    other_year = ExtractSnapshot(tmp_path, "aeries_to_x", "aeries_default", 2025)
    assert other_year.state("students") is None


def test_report_line():
    summaries = [
        {"table": "students", "mode": "incremental", "changed_keys": 4, "requests": 7, "reason": "changes since x"},
        {"table": "rosters", "mode": "incremental", "changed_keys": 1, "requests": 5, "reason": "changes since x"},
        {"table": "schools", "mode": "full", "reason": ALWAYS_FULL_REASON},
        {"table": "staff", "mode": "full", "reason": "no extract snapshot yet"},
    ]
    assert describe_extraction(summaries) == (
        "extraction: incremental for rosters, students (5 changed keys, 12 requests); "
        "full for schools, staff (no extract snapshot yet)")
    assert describe_extraction([{"table": "students", "rows": 3}]) is None


class _Answers:
    """Stands for the hook: answers each change route and path from dicts (the e2e test runs the real one against
    the emulator)."""

    def __init__(self, changes: dict, records: dict):
        self.changes, self.records, self.asked = changes, records, []

    def get_data_changes(self, route, since, *, stats):
        self.asked.append((route, since))
        return self.changes[route]

    def get_records(self, path, *, security_area, stats):
        self.asked.append(path)
        return self.records[path]


def test_a_changed_section_roster_refetches_only_the_students_whose_rows_there_differ():
    sec = lambda sid, section, seq=1: {"StudentID": sid, "SchoolCode": 100, "SequenceNumber": seq,  # noqa: E731
                                       "SectionNumber": section}
    snapshot = [sec(1, 57), sec(2, 57), sec(3, 57), sec(3, 60, 2), sec(9, 60)]
    hook = _Answers({
        "StudentDataChanges/class": [],
        "StudentDataChanges/enrollment": [{"StudentID": 9, "SchoolCode": 100, "StudentNumber": 4}],
        "SectionRosterDataChanges": [{"SchoolCode": 100, "SectionNumber": 57}],
    }, {
        # student 2 left section 57, student 4 joined it; 1 and 3 are as they were
        "schools/100/sections/57/students": [sec(1, 57), sec(3, 57), sec(4, 57)],
    })
    since = datetime(2026, 12, 1, 7, 45)

    groups = changed_groups(hook, "rosters", since, None, rows_to_arrow("rosters", snapshot), None)

    assert groups == {(100, 2), (100, 4), (100, 9)}
    assert hook.asked == [("StudentDataChanges/class", since), ("StudentDataChanges/enrollment", since),
                          ("SectionRosterDataChanges", since), "schools/100/sections/57/students"]


def test_the_changed_share_counts_students_sections_and_staff_not_rows():
    students = rows_to_arrow("students", [student(100 + n % 4, n, n) for n in range(2000)])  # 4 schools of 500
    assert changed_share("students", students, 20) == 1.0
    rosters = rows_to_arrow("rosters", [{"StudentID": n // 6, "SchoolCode": 100, "SequenceNumber": n % 6}
                                        for n in range(6000)])  # 1000 students, 6 classes each
    assert changed_share("rosters", rosters, 10) == 1.0
    staff = rows_to_arrow("staff", [{"ID": n} for n in range(5000)])
    assert changed_share("staff", staff, 250) == 5.0
    assert changed_share("staff", rows_to_arrow("staff", []), 1) == 100.0
