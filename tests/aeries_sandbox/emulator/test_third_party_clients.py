"""A third-party Aeries client reads the emulator as it reads Aeries.

aeripy (PyPI, BSD licence) turns each answer into a dataclass built from its exact keys: a key it does not know,
or one it needs and does not get, is a TypeError. Its models were written against Aeries' demo server, so an
emulator that aeripy reads serves the real field set of systeminfo, schools, terms and staff, with no extra key.
The client is pointed at the emulator's plain-HTTP URL (aeripy always builds an https:// one).
"""

from __future__ import annotations

import dataclasses

import pytest

aeripy = pytest.importorskip("aeripy")


@pytest.fixture()
def client(emulator, full_cert):
    aeries = aeripy.Aeripy(hostname="emulator.invalid/aeries/api", api_key=full_cert)
    aeries._rest_adapter.url = f"{emulator.url}/api/v5"
    return aeries


def test_aeripy_reads_systeminfo_with_the_available_years(client):
    info = client.get_system_info()
    assert info.available_database_years and info.database_year in info.available_database_years


def test_aeripy_reads_every_school_and_each_school_alone(client, district):
    schools = client.get_schools()
    assert [s.school_code for s in schools] == [s["SchoolCode"] for s in district.schools]
    assert client.get_school(schools[-1].school_code) == schools[-1]


def test_aeripy_reads_the_terms_of_each_school(client, district):
    for school in district.schools:
        terms = client.get_terms(school["SchoolCode"])
        assert [t.term_code for t in terms] == [t["TermCode"] for t in school["Terms"]]


def test_aeripy_reads_the_staff(client, district):
    staff = client.get_staff()
    assert sorted(member.id for member in staff) == sorted(s["ID"] for s in district.staff)
    assert {f.name for f in dataclasses.fields(staff[0])} >= {"email_address", "first_name", "inactive_status_code"}
