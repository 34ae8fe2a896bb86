"""An extract of some columns (``extract_to_parquet(columns=)``) on the fixture district built from real Aeries
answers (tests/fixtures/real_district/: ``" "`` and ``""`` codes, ``null`` dates, ``"29.0000"``, nested staff of
sections and school permissions of staff), over HTTP: the Parquet is the whole extract's, with only those columns."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from aeries_hub.aeries.collect import extract_to_parquet
from aeries_hub.aeries.tables import TABLES
from aeries_sandbox.emulator import READ_AREAS
from aeries_sandbox.emulator.district import District
from tests.plugins.aeries_hub.aeries.scripted import emulator_hook

CERT = "RealDistrictColumnsCert000000000"
CONN_ID = "aeries_real_columns"
FIXTURE = Path(__file__).parents[3] / "fixtures" / "real_district"


@pytest.fixture(scope="module")
def district():
    return District.load(FIXTURE)


@pytest.fixture(scope="module")
def certificates():
    return [{"name": "real", "certificate": CERT, "areas": list(READ_AREAS)}]


@pytest.fixture()
def hook(emu, monkeypatch):
    return emulator_hook(monkeypatch, emu.url, CONN_ID, CERT, page_size=2)


@pytest.mark.parametrize("table", ["students", "staff", "teachers", "sections", "rosters", "contacts"])
def test_every_other_column_and_the_key_give_the_whole_extracts_columns(hook, tmp_path, table):
    names = pq.read_schema(extract_to_parquet(hook, table, tmp_path / "whole.parquet").path).names
    columns = {*TABLES[table].key, *names[::2], "SectionStaffMembers", "SchoolAccessPermissions"}  # nested lists
    some = extract_to_parquet(hook, table, tmp_path / "some.parquet", columns=columns)
    whole = pq.read_table(tmp_path / "whole.parquet")
    expected = whole.select([name for name in whole.column_names if name in columns])
    written = pq.read_table(some.path)
    assert written.schema.equals(expected.schema, check_metadata=True)
    assert written.to_pylist() == expected.to_pylist()
    assert 0 < len(written.column_names) < len(whole.column_names)
    assert written.num_rows == whole.num_rows > 0
