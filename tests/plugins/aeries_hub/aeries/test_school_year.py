"""AeriesHook.check_database_year against the emulator serving the demo server's real systeminfo.

Aeries serves its default year, silently, when the DatabaseYear asked for is not available (support article
14000113681); systeminfo says which year a request reads and which years the district offers (14000113682,
whose example answer is the district info below, verbatim).
"""

from __future__ import annotations

import logging
import re

import pytest

from aeries_hub.aeries.errors import AeriesConfigError
from aeries_hub.aeries.hook import AeriesHook
from aeries_hub.aeries.logs import LOGGER_NAME
from aeries_hub.aeries.school_year import SchoolYear
from aeries_sandbox.emulator import READ_AREAS, EmulatorServer
from aeries_sandbox.emulator.district import District

CERT = "Ye4rCheckCert000000000000000000A"
REAL_SYSTEMINFO = {
    "AeriesVersion": "9.21.2.25",
    "DatabaseYear": "2020-2021",
    "AvailableDatabaseYears": ["2020-2021", "2019-2020"],
    "LocalTimeZoneName": "(UTC-08:00) Pacific Time (US & Canada)",
    "CurrentDateTime": "2021-03-03T11:13:38.9539491-08:00",
}
SCHOOLS = [{"SchoolCode": 0, "Name": "Eagle Unified School District", "Terms": []}]


@pytest.fixture(scope="module")
def emulator():
    district = District(info=dict(REAL_SYSTEMINFO), schools=SCHOOLS)
    with EmulatorServer(district, [{"name": "t", "certificate": CERT, "areas": list(READ_AREAS)}]) as srv:
        yield srv


@pytest.fixture
def connect(emulator, make_conn):
    def connect(school_year: int | None = None, **extra) -> AeriesHook:
        conn_id = make_conn(host=emulator.url, password=CERT, **extra)
        return AeriesHook(aeries_conn_id=conn_id, school_year=school_year)

    return connect


def years_asked(log: str, path: str) -> list[str]:
    """The DatabaseYear of each request to ``path`` in the emulator's access log."""
    return re.findall(rf"GET /aeries/api/v5/{path}(?:\?DatabaseYear=(\d+))? ", log)


def test_an_offered_year_is_read_as_asked(connect, caplog):
    hook = connect(school_year=2019)
    with caplog.at_level(logging.INFO, logger="aeries_sandbox.emulator"):
        assert hook.check_database_year() == SchoolYear(2019, 2019, (2020, 2019))
        assert hook.get_schools() == SCHOOLS
    log = caplog.text
    assert years_asked(log, "systeminfo") == ["2019"] and years_asked(log, "schools") == ["2019"]


def test_by_default_the_newest_offered_year_that_has_started_is_read_and_said(connect, caplog):
    """The July rollover: the run's school year, 2021-2022, is not in Aeries yet; 2020-2021 is read instead."""
    hook = connect(school_year=2021)
    with caplog.at_level(logging.INFO, logger="aeries_sandbox.emulator"), \
            caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        year = hook.check_database_year()
        hook.get_schools()
    note = ("Aeries does not offer the school year 2021-2022 (it offers 2020-2021, 2019-2020); read 2020-2021, the "
            "newest that has started (connection extra unavailable_year: newest_started)")
    assert year == SchoolYear(2021, 2020, (2020, 2019), note)
    assert year.to_dict() == {"database_year": 2020, "school_year": "2020-2021", "requested_year": 2021,
                              "available_years": ["2020-2021", "2019-2020"], "year_note": note}
    assert f"Aeries connection 'aeries_test': {note}" in caplog.text
    assert hook.database_year == 2020
    log = caplog.text
    # Aeries' default year is the one chosen here, so it is not asked for twice; every later request names it.
    assert years_asked(log, "systeminfo") == ["2021"] and years_asked(log, "schools") == ["2020"]


def test_an_older_offered_year_than_the_default_is_asked_for_by_name(emulator, make_conn):
    district = District(info={**REAL_SYSTEMINFO, "AvailableDatabaseYears": ["2020-2021", "2018-2019"]}, schools=SCHOOLS)
    with EmulatorServer(district, [{"name": "t", "certificate": CERT, "areas": ["Schools"]}], access_log=False) as srv:
        hook = AeriesHook(aeries_conn_id=make_conn(host=srv.url, password=CERT), school_year=2019)
        year = hook.check_database_year()
    assert (year.served, year.note) == (2018, (
        "Aeries does not offer the school year 2019-2020 (it offers 2020-2021, 2018-2019); read 2018-2019, the "
        "newest that has started (connection extra unavailable_year: newest_started)"))


def test_configured_to_fail_it_names_the_years_aeries_offers(connect):
    hook = connect(school_year=2021, unavailable_year="fail")
    with pytest.raises(AeriesConfigError) as caught:
        hook.check_database_year()
    assert str(caught.value) == (
        "Aeries connection 'aeries_test' does not offer the school year 2021-2022 (DatabaseYear 2021); it offers "
        "2020-2021, 2019-2020. The connection's extra unavailable_year is \"fail\": pin one of those years with the "
        "extra database_year, or set unavailable_year to \"newest_started\" to read the newest year that has started"
    )


def test_a_year_before_every_offered_one_fails_under_either_rule(connect):
    with pytest.raises(AeriesConfigError) as caught:
        connect(school_year=2017).check_database_year()
    assert str(caught.value) == (
        "Aeries connection 'aeries_test' does not offer the school year 2017-2018 (DatabaseYear 2017); it offers "
        "2020-2021, 2019-2020, all of them later. Pin one of those years with the connection's extra database_year"
    )


def test_a_pinned_year_follows_the_same_rule(connect):
    hook = connect(school_year=2025, database_year=2019)
    assert hook.check_database_year() == SchoolYear(2019, 2019, (2020, 2019))


def test_without_a_year_asked_for_the_default_year_is_recorded(connect):
    hook = connect()
    assert hook.check_database_year() == SchoolYear(None, 2020, (2020, 2019))
    assert hook.database_year == 2020


def test_an_unknown_rule_is_a_configuration_error(connect):
    with pytest.raises(AeriesConfigError) as caught:
        connect(school_year=2020, unavailable_year="latest").check_database_year()
    assert str(caught.value) == (
        "Connection 'aeries_test' is misconfigured: unavailable_year must be \"newest_started\" or \"fail\", not \"latest\""
    )


@pytest.mark.parametrize(("info", "expected"), [
    # An int year and no list (an older server, or our own emulator before it had the list).
    ({"DatabaseYear": 2026}, SchoolYear(2026, 2026)),
    ({"DatabaseYear": "2026"}, SchoolYear(2026, 2026)),
    ({"DatabaseYear": 2025}, SchoolYear(2026, 2025, (), (
        "Aeries does not offer the school year 2026-2027 (it offers 2025-2026); read 2025-2026, the newest that has "
        "started (connection extra unavailable_year: newest_started)"))),
    # Nothing said: the year asked for is used, and the report says it was not confirmed.
    ({"AeriesVersion": "10.1"}, SchoolYear(2026, 2026, (), (
        "Aeries' systeminfo did not say which school year it serves; the files are labelled with the school year "
        "asked for, 2026-2027"))),
    (None, SchoolYear(2026, 2026, (), (  # a server without systeminfo (404)
        "Aeries' systeminfo did not say which school year it serves; the files are labelled with the school year "
        "asked for, 2026-2027"))),
])
def test_other_systeminfo_shapes(server, make_conn, info, expected):
    server.json(server.api("systeminfo"), info, status=404 if info is None else 200)
    hook = AeriesHook(aeries_conn_id=make_conn(), school_year=2026)
    assert hook.check_database_year() == expected
    asked = server.seen(server.api("systeminfo"))
    assert [(r.query, r.cert) for r in asked] == [({"DatabaseYear": "2026"}, None)]  # systeminfo needs no certificate
