"""extract_to_parquet against a scripted HTTP server (see conftest.py): types, empty tables, object
storage."""

from __future__ import annotations

import pyarrow.parquet as pq
from airflow.sdk import ObjectStoragePath

from aeries_hub.aeries.collect import extract_to_parquet
from aeries_hub.aeries.tables import TABLES
from tests.plugins.aeries_hub.aeries.scripted import SCHOOLS, hook_for


# ------------------------------------------------------------------------------------------------
# Parquet
# ------------------------------------------------------------------------------------------------
def test_parquet_round_trip_with_nested_values(server, make_conn, tmp_path):
    conn_id = make_conn()
    server.json(server.api("schools"), SCHOOLS)
    sections = [
        {
            "SchoolCode": 994,
            "SectionNumber": 12,
            "Period": "1",
            "CourseID": "0001",
            "Credit": 5.0,
            "SectionStaffMembers": [
                {"StaffID": 884616, "LastName": "Abbott", "FirstName": "Dario", "IsPrimaryTeacher": True, "StaffRoleCode": "1"},
                {"StaffID": 884700, "LastName": "Bell", "FirstName": "Ann", "IsPrimaryTeacher": False, "StaffRoleCode": "2"},
            ],
        },
        {"SchoolCode": 994, "SectionNumber": 13, "Period": "2", "CourseID": "0002", "SectionStaffMembers": [], "Room": "B12"},
    ]
    server.json(server.api("schools/994/sections"), sections)
    hook, _ = hook_for(conn_id)
    target = tmp_path / "nested" / "sections.parquet"

    result = extract_to_parquet(hook, "sections", str(target), school_codes=[994])

    table = pq.read_table(target)
    assert result.rows == table.num_rows == 2
    staff_type = table.schema.field("SectionStaffMembers").type
    assert str(staff_type.value_type) .startswith("struct<StaffID: int64, LastName: string")
    staff = table.column("SectionStaffMembers").to_pylist()
    assert [m["StaffID"] for m in staff[0]] == [884616, 884700]
    assert staff[0][0]["IsPrimaryTeacher"] is True and staff[1] == []
    assert table.column("Room").to_pylist() == [None, "B12"]  # union of keys, missing -> null
    assert table.column("Credit").to_pylist() == [5.0, None]
    assert table.column("CourseID").to_pylist() == ["0001", "0002"]  # leading zeros kept
    assert "MaxStudents" in table.column_names  # known columns are always present
    assert table.schema.metadata[b"aeries.table"] == b"sections"
    frame = pq.read_table(target).to_pandas()
    assert list(frame["SectionNumber"]) == [12, 13]


def test_empty_table_writes_known_columns_or_those_asked_for(server, make_conn, tmp_path):
    conn_id = make_conn()
    server.json(server.api("schools"), SCHOOLS)
    for school in (990, 994):
        server.json(server.api(f"schools/{school}/students"), [])
    hook, _ = hook_for(conn_id)

    result = extract_to_parquet(hook, "students", tmp_path / "students.parquet")

    table = pq.read_table(tmp_path / "students.parquet")
    assert table.num_rows == 0 == result.rows
    assert table.column_names == list(TABLES["students"].column_names)
    assert table.schema.field("StudentID").type == "int64"
    assert (result.pages, result.requests) == (2, 3)  # one page per school; the schools list is not a page

    result = extract_to_parquet(hook, "students", tmp_path / "some.parquet", columns={"Grade", "StudentID", "NoSuch"})

    table = pq.read_table(tmp_path / "some.parquet")
    assert table.num_rows == 0 == result.rows
    assert table.column_names == [name for name in TABLES["students"].column_names if name in ("StudentID", "Grade")]
    assert table.schema.field("Grade").type == "int64"
    assert table.schema.metadata[b"aeries.table"] == b"students"


def test_extract_to_object_storage_path(server, make_conn):
    conn_id = make_conn()
    server.json(server.api("schools"), SCHOOLS)
    server.json(server.api("staff"), [
        {"ID": 1, "LastName": "Abbott", "SchoolAccessPermissions": [{"SchoolCode": 994, "ReadOnlyAccess": False, "CommunicationGroup": True}]},
        {"ID": 2, "LastName": "Bell", "SchoolAccessPermissions": None},
    ])
    import fsspec
    from airflow.sdk.io import attach

    attach("memory", fs=fsspec.filesystem("memory"))  # stands in for s3:// and friends
    target = ObjectStoragePath("memory://aeries-hook-test/extract/staff.parquet")
    hook, _ = hook_for(conn_id)

    result = extract_to_parquet(hook, "staff", target)

    with target.open("rb") as handle:
        table = pq.read_table(handle)
    assert result.path == str(target)
    assert table.column("ID").to_pylist() == [1, 2]
    assert table.column("SchoolAccessPermissions").to_pylist()[0] == [{"SchoolCode": 994, "ReadOnlyAccess": False, "CommunicationGroup": True}]
