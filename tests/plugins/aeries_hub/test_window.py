"""The allowed pull window, including a window that runs past midnight."""

from datetime import datetime
from zoneinfo import ZoneInfo

from aeries_hub.window import PullWindow

LA = ZoneInfo("America/Los_Angeles")
WEEKENDS = PullWindow.from_config({"days": ["sat", "sun"], "start": "20:00", "end": "02:00", "timezone": "America/Los_Angeles"})


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=LA)  # 2026-11-21 is a Saturday


def test_inside_the_window_including_after_midnight():
    assert WEEKENDS.contains(at(21, 20))
    assert WEEKENDS.contains(at(22, 1, 59))  # Saturday's window, Sunday 01:59
    assert WEEKENDS.contains(at(22, 23))
    assert WEEKENDS.contains(at(23, 0, 30))  # Sunday's window runs into Monday


def test_outside_the_window():
    assert not WEEKENDS.contains(at(21, 19, 59))
    assert not WEEKENDS.contains(at(22, 2, 0))  # the end is exclusive
    assert not WEEKENDS.contains(at(23, 2, 0))
    assert not WEEKENDS.contains(at(20, 21))  # Friday evening


def test_other_time_zones_are_converted():
    utc = datetime(2026, 11, 22, 4, 30, tzinfo=ZoneInfo("UTC"))  # Saturday 20:30 in Los Angeles
    assert WEEKENDS.contains(utc)


def test_next_opening_and_description():
    assert WEEKENDS.next_opening(at(18, 9)) == at(21, 20)
    assert WEEKENDS.next_opening(at(22, 3)) == at(22, 20)
    assert WEEKENDS.describe() == "sat, sun 20:00-02:00 America/Los_Angeles"
