"""The mapping's calendar: blackout ranges and additions-only windows, checked at load with errors naming the key."""

from __future__ import annotations

from datetime import date

import pytest
import yaml

from aeries_hub.calendar_policy import CalendarPolicy, DateRange
from aeries_hub.config_files import read_yaml
from aeries_hub.mapping.loader import load_mapping
from aeries_hub.mapping.models import MappingError
from aeries_hub.paths import MAPPINGS_DIR
from tests.plugins.aeries_hub.mapping.mapping_files import destiny_with, without_lines

SUMMER = {"name": "summer", "start": "2027-06-10", "end": "2027-08-15"}


def with_calendar(calendar: dict):
    return lambda document: document.update(calendar=calendar)


def test_a_range_that_ends_before_it_starts_is_a_load_error_naming_it(tmp_path):
    calendar = {"blackouts": [SUMMER, {"name": "winter", "start": "2027-12-31", "end": "2027-12-20"}]}
    assert destiny_with(tmp_path, with_calendar(calendar)) == (
        "destiny.yml: calendar.blackouts[1]: 'winter' ends on 2027-12-20, before it starts on 2027-12-31; "
        "a range's end is its last day, on or after its start")


def test_a_day_that_is_not_a_date_and_a_name_used_twice_are_load_errors(tmp_path):
    calendar = {"additions_only": [{"name": "fall", "start": "2027-02-30", "end": "2027-09-15"},
                                   {"name": "fall", "start": "2028-08-10", "end": "2028-09-15"}]}
    assert destiny_with(tmp_path, with_calendar(calendar)) == (
        "destiny.yml: calendar.additions_only[0].start: '2027-02-30' is not a date (YYYY-MM-DD)\n"
        "destiny.yml: calendar.additions_only: 'fall' names more than one range")


def test_a_day_in_another_format_is_refused_by_the_schema(tmp_path):
    calendar = {"blackouts": [{**SUMMER, "end": "Aug 15"}]}
    assert "calendar.blackouts[0].end: 'Aug 15' does not match" in destiny_with(tmp_path, with_calendar(calendar))


def test_an_additions_only_window_of_an_http_delivery_is_a_load_error(tmp_path):
    document = read_yaml(MAPPINGS_DIR / "schoolmint_enroll.yml", shown="schoolmint_enroll.yml", error=ValueError)
    document["calendar"] = {"additions_only": [SUMMER]}
    path = tmp_path / "schoolmint_enroll.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(MappingError) as err:
        load_mapping(path)
    assert without_lines(str(err.value)) == (
        "schoolmint_enroll.yml: calendar.additions_only: the http delivery posts records to the vendor's import API, "
        "which cannot keep a vendor's rows for held keys; additions-only windows need a file delivery (delivery.sftp)")


def test_both_ends_of_a_range_are_in_it_and_a_blackout_is_found_before_a_window():
    policy = CalendarPolicy.from_config({"blackouts": [SUMMER],
                                         "additions_only": [{"name": "fall", "start": "2027-08-01", "end": "2027-09-15"}]})
    assert policy.blackouts == (DateRange("summer", "2027-06-10", "2027-08-15"),)
    assert [policy.blackout_on(date(2027, 6, d)) for d in (9, 10)] == [None, policy.blackouts[0]]
    assert [policy.blackout_on(date(2027, 8, d)) for d in (15, 16)] == [policy.blackouts[0], None]
    assert policy.additions_only_on(date(2027, 9, 15)).name == "fall"
    assert policy.additions_only_on(date(2027, 9, 16)) is None
    assert CalendarPolicy.from_config(None) == CalendarPolicy()
