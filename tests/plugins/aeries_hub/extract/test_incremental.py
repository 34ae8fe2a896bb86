"""Incremental extraction without a server: which mode, the snapshot files, the changed keys, the report line."""

from __future__ import annotations

from datetime import datetime

import pytest

from aeries_hub.aeries.arrow import rows_to_arrow
from aeries_hub.extract.incremental import (
    ExtractSnapshot,
    changed_groups,
    choose_mode,
    describe_extraction,
)
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
