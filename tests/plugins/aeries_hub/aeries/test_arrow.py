"""rows_to_arrow: Aeries records to typed Arrow tables; an extract's pages decoded by msgspec give the tables
``json.loads`` gives (the emulator over HTTP), and hostile pages (a scripted server)."""

from __future__ import annotations

import json
import logging

import pyarrow as pa
import pytest

from aeries_hub.aeries.arrow import rows_to_arrow, rows_to_arrow_page
from aeries_hub.aeries.collect import collect_table
from aeries_hub.aeries.errors import AeriesError
from aeries_hub.aeries.hook import AeriesHook
from aeries_hub.aeries.logs import LOGGER_NAME
from aeries_hub.aeries.paging import RequestStats
from aeries_hub.aeries.records import decode_page
from aeries_hub.aeries.tables import TABLES
from aeries_sandbox.emulator import READ_AREAS, generate_district
from tests.plugins.aeries_hub.aeries.scripted import emulator_hook, hook_for


def test_mixed_value_types_fall_back_to_text():
    table = rows_to_arrow("courses", [{"ID": "0001", "Weird": 1}, {"ID": "0002", "Weird": "x"}])
    assert table.column("Weird").to_pylist() == ["1", "x"]


def test_padded_blank_in_a_number_or_boolean_column_is_null_and_the_column_keeps_its_type(caplog):
    import pyarrow as pa

    rows = [
        {"StudentID": 1, "SchoolCode": 100, "NextSchoolCode": 300, "Grade": 5, "Gender": "F"},
        {"StudentID": 2, "SchoolCode": 100, "NextSchoolCode": "  ", "Grade": "", "Gender": "  "},
    ]
    with caplog.at_level(logging.WARNING, logger=LOGGER_NAME):
        table = rows_to_arrow("students", rows)
    assert table.schema.field("NextSchoolCode").type == pa.int64()
    assert table.column("NextSchoolCode").to_pylist() == [300, None]
    assert table.column("Grade").to_pylist() == [5, None]
    # a text column keeps the padding (the mapping engine reads a value of only spaces as blank)
    assert table.column("Gender").to_pylist() == ["F", "  "]
    assert "mixes value types" not in caplog.text
    sections = rows_to_arrow("sections", [
        {"SchoolCode": 100, "SectionNumber": 1, "SectionStaffMembers": [{"StaffID": 7, "IsPrimaryTeacher": True}]},
        {"SchoolCode": 100, "SectionNumber": 2, "SectionStaffMembers": [], "Credit": " "},
    ])
    assert sections.schema.field("Credit").type == pa.float64()
    assert sections.column("Credit").to_pylist() == [None, None]


def test_a_non_blank_text_in_a_number_column_still_falls_back_to_text_not_to_null():
    table = rows_to_arrow("students", [{"StudentID": 1, "NextSchoolCode": 300}, {"StudentID": 2, "NextSchoolCode": "3OO"}])
    assert table.column("NextSchoolCode").to_pylist() == ["300", "3OO"]


def test_a_page_has_its_records_keys_in_first_seen_order_then_the_known_columns_as_nulls():
    import pyarrow as pa

    from aeries_hub.aeries.arrow import rows_to_arrow_page
    from aeries_hub.aeries.tables import TABLES

    page = rows_to_arrow_page("sections", [
        {"SectionNumber": 1, "SchoolCode": 100},
        {"SchoolCode": 100, "SectionNumber": 2, "Extra": "x",
         "SectionStaffMembers": [{"StaffID": 7, "StartDate": "2025-08-01T00:00:00"}]},
    ])
    rest = [name for name in TABLES["sections"].column_names
            if name not in ("SectionNumber", "SchoolCode", "SectionStaffMembers")]
    assert page.column_names == ["SectionNumber", "SchoolCode", "Extra", "SectionStaffMembers", *rest]
    assert page.schema.field("SectionStaffMembers").type == pa.list_(
        pa.struct([("StaffID", pa.int64()), ("StartDate", pa.string())]))
    assert page.column("SectionStaffMembers").to_pylist() == [
        None, [{"StaffID": 7, "StartDate": "2025-08-01T00:00:00"}]]
    assert page.column("Extra").to_pylist() == [None, "x"]
    assert {page.schema.field(name).type for name in rest} == {pa.null()}


# -- msgspec's decoding against json.loads, over HTTP --------------------------------------------------------------------

CERT = "ArrowReaderCert00000000000000000"
CONN_ID = "aeries_arrow"
TABLES_READ = ["schools", "terms", "students", "staff", "teachers", "courses", "sections", "rosters", "contacts"]


@pytest.fixture(scope="module")
def district():
    """The realistic generated district, with the odd values a real Aeries sends in some records."""
    district = generate_district(400, 7)
    first, later, other = district.students[0], district.students[7], district.students[-1]
    first["NewAeriesCount"] = 3  # a field the registry does not know, in a page's first record
    later["NewAeriesDate"] = "2026-01-02T00:00:00"  # unknown, later in the page, text a JSON reader could take for a date
    later["MiddleName"] = "Ñandú 😀 \u0000 \"quoted\" \\ back"
    later["Grade"] = "  "  # a padded blank in a number column
    other["CounselorNumber"] = "12"  # a number sent as text, in a column of numbers
    other["SchoolLeaveDate"] = None
    other["LastName"] = ""
    district.contacts[3]["Extra"] = {"Nested": ["a", 1]}  # an unknown nested field
    for row in district.rosters[:600]:
        row["SectionNumber"] = str(row["SectionNumber"])  # numbers as text in a whole page
    return district


@pytest.fixture(scope="module")
def certificates():
    return [{"name": "arrow", "certificate": CERT, "areas": list(READ_AREAS)}]


@pytest.fixture()
def hook(emu, monkeypatch):
    return emulator_hook(monkeypatch, emu.url, CONN_ID, CERT, page_size=50)


@pytest.mark.parametrize("table", TABLES_READ)
def test_msgspec_gives_the_table_json_loads_gives(hook, table):
    spec = TABLES[table]
    read = collect_table(hook, spec, None, RequestStats(), as_arrow=True)
    reference = collect_table(hook, spec, None, RequestStats(), as_arrow=True, via_records=True)
    assert read.schema == reference.schema
    assert read.to_pylist() == reference.to_pylist()
    assert read.num_rows > 0


def test_the_odd_values_arrive_as_the_records_give_them(hook):
    students = collect_table(hook, TABLES["students"], None, RequestStats(), as_arrow=True)
    names = students.column_names
    assert names.index("NewAeriesCount") < names.index("NewAeriesDate")
    assert students.schema.field("NewAeriesDate").type == pa.string()
    assert students.schema.field("CounselorNumber").type == pa.string()  # mixed: written as text
    assert students.schema.field("Grade").type == pa.int64()  # the blank is null
    dates = [value for value in students.column("NewAeriesDate").to_pylist() if value is not None]
    assert dates == ["2026-01-02T00:00:00"]
    assert "Ñandú 😀 \u0000 \"quoted\" \\ back" in students.column("MiddleName").to_pylist()
    rosters = collect_table(hook, TABLES["rosters"], None, RequestStats(), as_arrow=True)
    assert rosters.schema.field("SectionNumber").type == pa.string()


@pytest.mark.parametrize("body", [
    b'[{"StudentID": 1, "LastName": "A"}, {"StudentID": 2, "Zed": "2026-01-01", "Alpha": 5}, {"Alpha": 6, "Grade": " "}]',
    b'\xef\xbb\xbf[{"StudentID": 1e400, "N": -0.0, "Big": 123456789012345678901234567890, "S": "\\u00d1\\u0000\\"\\\\"}]',
    b'{"StudentID": 1, "Nested": {"a": [1, "x", null, true]}}',
    b'null',
    b'[]',
])
def test_a_page_decodes_as_json_loads_decodes_it(body):
    decoded = decode_page(body)
    assert decoded == json.loads(body.decode("utf-8-sig"))
    assert json.dumps(decoded) == json.dumps(json.loads(body.decode("utf-8-sig")))  # key order, -0.0, infinity


@pytest.mark.parametrize("body", [b'[{"A": "\xff"}]', b'[{"A": 1},]', b'[{"A": NaN}]', b'[{"A": 1}'])
def test_a_page_that_is_not_utf8_json_is_a_value_error_the_hook_retries(body):
    with pytest.raises(ValueError):
        decode_page(body)


@pytest.mark.parametrize(("body", "said"), [
    (b'[{"StudentID": 1}, {"StudentID": 2,}]', "not valid JSON"),
    (b'[{"StudentID": 1}, 7]', "a record is a JSON int, not an object"),
    (b'[{"StudentID": 1}, {"StudentID": 2', "not valid JSON"),
    (b'17', "Aeries returned a JSON int at schools/994/students where a list of records was expected"),
])
def test_a_hostile_page_is_an_error_naming_the_table_school_and_page(server, make_conn, body, said):
    server.route(server.api("schools"), lambda seen: server.reply(200, [{"SchoolCode": 994}]))

    def page(seen):
        if seen.query["StartingRecord"] == "1":
            return server.reply(200, [{"StudentID": n} for n in range(1, 3)])
        return server.reply(200, body)

    server.route(server.api("schools/994/students"), page)
    hook, _ = hook_for(make_conn(page_size=2, max_concurrency=1, max_retries=1, prefetch_pages=0))
    with pytest.raises(AeriesError) as caught:
        collect_table(hook, TABLES["students"], None, RequestStats(), as_arrow=True)
    message = str(caught.value)
    assert message.startswith("Aeries students: school 994, page 2 (records 3-4): "), message
    assert said in message


def test_a_huge_string_is_read_whole():
    huge = "x" * (3 << 20)
    rows = decode_page(b'[{"StudentID": 1, "LastName": "' + huge.encode() + b'"}, {"StudentID": 2, "LastName": "B"}]')
    assert rows_to_arrow_page("students", rows).column("LastName").to_pylist() == [huge, "B"]


@pytest.mark.parametrize("via_records", [False, True])
def test_a_page_larger_than_max_page_bytes_fails_naming_table_school_page_and_the_extra(
        emu, monkeypatch, district, via_records):
    document = {"conn_type": "aeries", "host": emu.url, "password": CERT,
                "extra": {"allow_insecure": True, "page_size": 50, "max_concurrency": 1, "prefetch_pages": 0,
                          "max_page_bytes": 20000}}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(document))
    hook = AeriesHook(aeries_conn_id=CONN_ID)
    with_students = {student["SchoolCode"] for student in district.students}
    school = next(s["SchoolCode"] for s in district.schools if s["SchoolCode"] in with_students)
    asked = emu.stats()["requests"]
    with pytest.raises(AeriesError) as caught:
        collect_table(hook, TABLES["students"], None, RequestStats(), as_arrow=True, via_records=via_records)
    assert str(caught.value) == (
        f"Aeries students: school {school}, page 1 (records 1-50): the answer is larger than 20000 bytes, the "
        "connection extra max_page_bytes: raise it, or lower page_size so that a page holds fewer records")
    before = [s["SchoolCode"] for s in district.schools].index(school) - 1  # the schools before it, but the office
    assert emu.stats()["requests"] - asked == 1 + before + 1  # the schools, their empty pages, the page once


def test_pages_within_max_page_bytes_are_read(emu, monkeypatch, district):
    document = {"conn_type": "aeries", "host": emu.url, "password": CERT,
                "extra": {"allow_insecure": True, "page_size": 50, "max_page_bytes": 200_000}}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(document))
    read = collect_table(AeriesHook(aeries_conn_id=CONN_ID), TABLES["students"], None, RequestStats(), as_arrow=True)
    assert read.num_rows == len(district.students)


def test_a_compressed_page_is_bounded_by_its_decoded_size(server, make_conn):
    import gzip

    server.route(server.api("schools"), lambda seen: server.reply(200, [{"SchoolCode": 994}]))
    body = json.dumps([{"StudentID": n, "LastName": "x" * 1000} for n in range(1, 101)]).encode()
    packed = gzip.compress(body)
    assert len(packed) < 20000 < len(body)  # its Content-Length is under the bound, what it decodes to is not
    server.route(server.api("schools/994/students"),
                 lambda seen: server.reply(200, packed, headers={"Content-Encoding": "gzip"}))
    hook, _ = hook_for(make_conn(page_size=100, max_concurrency=1, max_page_bytes=20000))
    with pytest.raises(AeriesError) as caught:
        collect_table(hook, TABLES["students"], None, RequestStats(), as_arrow=True)
    assert str(caught.value) == (
        "Aeries students: school 994, page 1 (records 1-100): the answer is larger than 20000 bytes, the connection "
        "extra max_page_bytes: raise it, or lower page_size so that a page holds fewer records")
    assert len(server.seen(server.api("schools/994/students"))) == 1


# -- only some columns: the pages convert those, and the Parquet is the whole table's selected --------------------------

#: Per table: its key, columns of odd values (an unknown field in a first record and in a later one, a number column
#: with a number sent as text, a padded blank, a nested list), a known column no record has, and a name that is no
#: column at all.
SOME_COLUMNS = {
    "students": {"StudentID", "SchoolCode", "NewAeriesDate", "NewAeriesCount", "CounselorNumber", "Grade",
                 "MiddleName", "StudentPersonalEmailAddress", "NoSuchColumn"},
    "staff": {"ID", "SchoolAccessPermissions", "LeaveDate", "FirstName", "NoSuchColumn"},
    "teachers": {"SchoolCode", "TeacherNumber", "EmailAddress", "SectionStaffEndDate"},
    "sections": {"SchoolCode", "SectionNumber", "SectionStaffMembers", "Room", "NoSuchColumn"},
    "rosters": {"SchoolCode", "StudentID", "SectionNumber", "DateEnded"},
    "contacts": {"StudentID", "SequenceNumber", "Extra"},
}


@pytest.mark.parametrize("table", sorted(SOME_COLUMNS))
def test_an_extract_of_some_columns_is_the_whole_extract_with_only_those(hook, tmp_path, table):
    import pyarrow.parquet as pq

    from aeries_hub.aeries.collect import extract_to_parquet

    whole = extract_to_parquet(hook, table, tmp_path / "whole.parquet")
    some = extract_to_parquet(hook, table, tmp_path / "some.parquet", columns=SOME_COLUMNS[table])
    expected = pq.read_table(tmp_path / "whole.parquet")
    expected = expected.select([name for name in expected.column_names if name in SOME_COLUMNS[table]])
    written = pq.read_table(tmp_path / "some.parquet")
    assert written.schema.equals(expected.schema, check_metadata=True)
    assert written.to_pylist() == expected.to_pylist()
    assert some.columns == written.column_names
    assert some.rows == whole.rows == written.num_rows
    assert "NoSuchColumn" not in written.column_names


def test_a_page_of_some_columns_keeps_their_first_seen_order_and_whole_page_types():
    rows = [
        {"SectionNumber": 1, "SchoolCode": 100, "Room": "  "},
        {"SchoolCode": 100, "SectionNumber": 2, "Extra": "x", "Credit": " ",
         "SectionStaffMembers": [{"StaffID": 7, "StartDate": "2025-08-01T00:00:00"}]},
    ]
    keep = {"SchoolCode", "Extra", "SectionNumber", "SectionStaffMembers", "Credit", "MaxStudents"}
    page = rows_to_arrow_page("sections", rows, keep)
    whole = rows_to_arrow_page("sections", rows)
    assert page.column_names == ["SectionNumber", "SchoolCode", "Extra", "Credit", "SectionStaffMembers", "MaxStudents"]
    assert page == whole.select(page.column_names)
    assert rows_to_arrow_page("sections", rows[:1], {"SchoolCode", "Extra"}).column_names == ["SchoolCode"]
    # kept keys the first record lacks: in the order they first appear, by record and then within it
    rows = [{"SchoolCode": 100}, {"SchoolCode": 100, "Late": 1, "Later": 2}, {"Early": 3, "SchoolCode": 100, "Late": 4},
            {"Later": 5, "SchoolCode": 100, "Earliest": 6}]
    for keep in ({"SchoolCode", "Later", "Early", "Late", "Earliest"}, {"Earliest", "Early", "Later"}):
        whole = rows_to_arrow_page("sections", rows)
        page = rows_to_arrow_page("sections", rows, keep)
        assert page == whole.select([name for name in whole.column_names if name in keep])
    assert page.column_names[:3] == ["Later", "Early", "Earliest"]
