"""rows_to_arrow: Aeries records to typed Arrow tables, without a server."""

from __future__ import annotations

import logging

from aeries_hub.aeries.arrow import rows_to_arrow
from aeries_hub.aeries.logs import LOGGER_NAME


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
