"""The table registry's student programs, extracted over HTTP from the emulator serving a small district.

Aeries' Programs end point (support article 14000113683, Programs): security area "Student Programs",
``schools/{SchoolCode}/students/0/programs`` for every student of a school, records without a SchoolCode. The
programs of student 99400001 are the demo server's (github derekpovah/aeries-api
spec/support/fixtures/student_programs.json): three NSLP Free records, one ending the day before it starts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from aeries_hub.aeries.collect import extract_to_parquet, read_table
from aeries_hub.aeries.errors import AeriesAuthError
from aeries_hub.aeries.hook import AeriesHook
from aeries_hub.aeries.tables import TABLE_NAMES, TABLES
from aeries_hub.mapping.schema_models import Source
from aeries_sandbox.emulator import READ_AREAS, EmulatorServer
from aeries_sandbox.emulator.district import District

CERT = "Pr0gramsCert00000000000000000000"
NO_PROGRAMS_CERT = "N0ProgramsCert000000000000000000"
SPECIAL_EDUCATION = [{"Name": "DisabilityCode", "Value": "240"},
                     {"Name": "DisabilityCodeDescription", "Value": "Speech or Language Impairment (SLI)"},
                     {"Name": "DisabilityCode2", "Value": "260"},
                     {"Name": "DisabilityCode2Description", "Value": "Emotional Disturbance (ED)"},
                     {"Name": "ParentalConsentDate", "Value": "2012-11-21T00:00:00"}]


def program(student: int, code: str, description: str, eligibility=(None, None), participation=(None, None),
            extended=()) -> dict:
    return {"ExtendedProperties": list(extended), "StudentID": student, "ProgramCode": code,
            "ProgramDescription": description, "EligibilityStartDate": eligibility[0],
            "EligibilityEndDate": eligibility[1], "ParticipationStartDate": participation[0],
            "ParticipationEndDate": participation[1]}


DEMO = [
    program(99400001, "127", "Gifted and Talented Education (GATE)", ("2017-01-11T00:00:00", None),
            ("2017-03-15T00:00:00", None)),
    program(99400001, "101", "504 Accommodation Plan", ("2020-07-15T00:00:00", "2020-08-05T00:00:00"),
            ("2020-07-15T00:00:00", "2020-08-05T00:00:00")),
    program(99400001, "144", "Special Education", ("2013-11-22T00:00:00", None), extended=SPECIAL_EDUCATION),
    program(99400001, "181", "NSLP Free Meal Program", ("2020-07-06T00:00:00", "2020-10-06T00:00:00")),
    program(99400001, "181", "NSLP Free Meal Program", ("2020-10-07T00:00:00", "2020-10-06T00:00:00")),
    program(99400001, "181", "NSLP Free Meal Program", ("2020-10-07T00:00:00", None)),
    program(99400001, "190", "Foster Program", ("2015-09-05T00:00:00", None), ("2015-09-05T00:00:00", None),
            [{"Name": "FosterID", "Value": ""}]),
]
REDUCED = program(99500001, "182", "NSLP Reduced-Price Meal Program", ("2026-07-01T00:00:00", None))
LEFT = program(99900009, "101", "504 Accommodation Plan", ("2025-01-06T00:00:00", None), ("2025-01-06T00:00:00", None))


def student(student_id: int, school: int) -> dict:
    return {"StudentID": student_id, "SchoolCode": school, "StudentNumber": student_id % 1000, "LastName": "Doe",
            "FirstName": "Al", "Grade": 10, "InactiveStatusCode": ""}


DISTRICT = District(
    info={"DatabaseYear": 2026},
    schools=[{"SchoolCode": code, "Name": f"School {code}", "Terms": []} for code in (0, 994, 995)],
    # 99500001 is enrolled at both schools: its programs are listed at both
    students=[student(99400001, 994), student(99400002, 994), student(99500001, 994), student(99500001, 995)],
    programs=[REDUCED, *DEMO, LEFT],  # 99900009 is no school's student: no school lists its program
)


@pytest.fixture(scope="module")
def emulator():
    certs = [{"name": "t", "certificate": CERT, "areas": list(READ_AREAS)},
             {"name": "no-programs", "certificate": NO_PROGRAMS_CERT, "areas": ["Schools", "Student Data"]}]
    with EmulatorServer(DISTRICT, certs) as srv:
        yield srv


def test_programs_are_read_school_by_school_with_the_school_asked(emulator, make_conn, tmp_path):
    hook = AeriesHook(aeries_conn_id=make_conn(host=emulator.url, password=CERT))

    rows = read_table(hook, "programs")
    result = extract_to_parquet(hook, "programs", tmp_path / "programs.parquet")

    expected = ([{"SchoolCode": 994, **row} for row in [*DEMO, REDUCED]] + [{"SchoolCode": 995, **REDUCED}])
    assert rows == expected
    assert result.rows == 9 and result.requests == 3  # the schools list, then one request per school
    extracted = pq.read_table(tmp_path / "programs.parquet")
    assert extracted.column_names == ["SchoolCode", *DEMO[0]]
    assert extracted.to_pylist() == expected
    assert str(extracted.schema.field("ExtendedProperties").type) == "list<element: struct<Name: string, Value: string>>"
    assert read_table(hook, "programs", school_codes=[995]) == [{"SchoolCode": 995, **REDUCED}]


def test_a_certificate_without_student_programs_is_told_the_area(emulator, make_conn):
    hook = AeriesHook(aeries_conn_id=make_conn(host=emulator.url, password=NO_PROGRAMS_CERT))

    with pytest.raises(AeriesAuthError) as failed:
        read_table(hook, "programs", school_codes=[994])
    assert str(failed.value) == (
        "Aeries refused connection 'aeries_test' at /api/v5/schools/994/students/0/programs (HTTP 403): the "
        "certificate lacks the security area 'Student Programs'. Grant it in Aeries under Security > API Security "
        "for this certificate. Aeries said: The certificate does not have access to Student Programs")


def test_every_registry_table_is_a_choice_of_source_tables():
    assert TABLE_NAMES == tuple(TABLES)
    assert Source.model_json_schema()["properties"]["tables"]["items"]["enum"] == [
        "schools", "terms", "students", "contacts", "staff", "teachers", "courses", "sections", "rosters", "programs"]


def test_every_field_of_the_demo_servers_students_is_a_students_column():
    """A mapping may read any field Aeries serves: the captured students (real-district fixture) name none the
    registry lacks."""
    captured = json.loads((Path(__file__).parents[3] / "fixtures" / "real_district" / "students.json").read_text())
    fields = {name for record in captured for name in record}
    assert len(fields) == 77
    assert fields <= set(TABLES["students"].column_names)
    assert set(TABLES["students"].column_names) - fields == {"StudentPersonalEmailAddress"}  # Aeries' documentation
