"""The district's local time, as Aeries stamps changes: its clock, else its time zone, else the earliest zone."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from aeries_hub.extract.district_time import local_time


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
