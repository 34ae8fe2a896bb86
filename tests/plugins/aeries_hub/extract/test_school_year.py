"""The school year of a run's date (extract.school_year)."""

from __future__ import annotations

from datetime import date

import pytest

from aeries_hub.extract.school_year import school_year_of


def test_school_year_of_a_date_starts_on_the_configured_first_day(monkeypatch):
    assert [school_year_of(d) for d in (date(2025, 6, 30), date(2025, 7, 1), date(2026, 3, 2))] == [2024, 2025, 2025]
    monkeypatch.setenv("AIRFLOW__AERIES_HUB__SCHOOL_YEAR_START", "08-15")
    assert [school_year_of(d) for d in (date(2025, 8, 14), date(2025, 8, 15))] == [2024, 2025]
    monkeypatch.setenv("AIRFLOW__AERIES_HUB__SCHOOL_YEAR_START", "August")
    with pytest.raises(Exception, match=r"school_year_start is 'August'; give the first day of the school year as MM-DD"):
        school_year_of(date(2025, 8, 15))

