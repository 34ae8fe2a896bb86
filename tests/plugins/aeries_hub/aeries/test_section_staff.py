"""Teachers from section staff: at a school that schedules with section staff (Flex scheduling) Aeries says "TCH
records are not used and may not exist" (support article 14000077926); the hook makes its teachers from its
sections' SectionStaffMembers and the staff (STF) records, against the emulator serving a small district.

The Flex school's first section is Aeries' own example section (support article 14000113686, Sections (from
Master Schedule): primary teacher Aldrich 995001, co-teachers Carlisle 700004321, inactive "I", and Cullens
700005678); 884 is a Flex school of Aeries' demo server (derekpovah/aeries-api spec/support/fixtures/schools.json).
"""

from __future__ import annotations

import logging

import pyarrow.parquet as pq
import pytest

from aeries_hub.aeries import section_staff
from aeries_hub.aeries.collect import extract_to_parquet, read_table
from aeries_hub.aeries.errors import AeriesAuthError
from aeries_hub.aeries.hook import AeriesHook
from aeries_hub.aeries.logs import LOGGER_NAME
from aeries_sandbox.emulator import READ_AREAS, EmulatorServer
from aeries_sandbox.emulator.district import District

CERT = "F1exStaffCert0000000000000000000"
NO_STAFF_CERT = "F1exNoStaffCert00000000000000000"
YEAR = ("2026-08-13T00:00:00", "2027-06-10T00:00:00")


def school(code: int, schedule_type: str, section_staff: bool) -> dict:
    return {"SchoolCode": code, "Name": f"School {code}", "ScheduleType": schedule_type, "Terms": [],
            "UsingSectionStaffInMasterSchedule": section_staff, "UsingSectionStaffInScheduling": section_staff}


def staff(staff_id: int, first: str, last: str, email: str, status: str = "") -> dict:
    return {"ID": staff_id, "FirstName": first, "LastName": last, "EmailAddress": email, "InactiveStatusCode": status,
            "PrimaryAeriesSchool": 884, "SchoolAccessPermissions": []}


def member(staff_id: int, first: str, last: str, primary: bool, status: str = "", start=None, end=None) -> dict:
    return {"StaffID": staff_id, "LastName": last, "FirstName": first, "IsPrimaryTeacher": primary,
            "StaffRoleCode": "", "StartDate": start, "EndDate": end, "InactiveStatusCode": status}


def section(code: int, number: int, members: list[dict]) -> dict:
    return {"SchoolCode": code, "SectionNumber": number, "Period": "1", "Semester": "Y", "CourseID": "327",
            "SectionStaffMembers": members, "InactiveStatusCode": ""}


DISTRICT = District(
    info={"DatabaseYear": 2026},
    schools=[school(0, "MasterSchedule", False), school(884, "Flexible", True), school(990, "MasterSchedule", False),
             school(994, "MasterSchedule", True)],
    staff=[staff(995001, "Darryl", "Aldrich", "daldrich@example.org"),
           staff(700004321, "Jackie", "Carlisle", "jcarlisle@example.org"),
           staff(700005678, "Mary", "Cullens", "", "I"),  # left the district: an inactive teacher
           staff(700000001, "", "Ames", "NoWhere@aeries.com"),
           staff(700000002, "Bo", "Bell", "bbell@example.org")],
    teachers=[{"SchoolCode": 990, "TeacherNumber": 101, "DisplayName": "Aldrich, D", "FirstName": "Darryl",
               "LastName": "Aldrich", "Room": "A1", "EmailAddress": "daldrich@example.org", "StaffID1": 995001,
               "StaffID2": 0, "StaffID3": 0, "InactiveStatusCode": "", "LowGrade": 9, "HighGrade": 12},
              {"SchoolCode": 994, "TeacherNumber": 7, "DisplayName": "Bell, B", "FirstName": "Bo",
               "LastName": "Bell", "Room": "", "EmailAddress": "bbell@example.org", "StaffID1": 700000002,
               "StaffID2": 0, "StaffID3": 0, "InactiveStatusCode": "", "LowGrade": 9, "HighGrade": 12}],
    sections=[
        section(884, 100, [member(995001, "Darryl", "Aldrich", True), member(700004321, "Jackie", "Carlisle", False, "I"),
                           member(700005678, "Mary", "Cullens", False)]),
        section(884, 101, [member(995001, "Darryl", "Aldrich", True, "", *YEAR),
                           member(700000001, "", "Ames", False, "", YEAR[0], "2026-10-16T00:00:00"),
                           member(700000001, "", "Ames", False, "", "2027-03-22T00:00:00", YEAR[1]),
                           member(700000003, "Cy", "Cole", False)]),  # no staff record: the member's names
        # a regular school's sections name TCH teachers' staff IDs: no teacher is made there
        section(990, 1, [member(995001, "Darryl", "Aldrich", True)]),
        # "Use Staff In Sections" at a regular school: Bell has a TCH record, Carlisle has none
        section(994, 5, [member(700000002, "Bo", "Bell", True), member(700004321, "Jackie", "Carlisle", False)]),
    ],
)


def made(code: int, staff_id: int, first: str, last: str, email: str, status: str, start, end) -> dict:
    return {"SchoolCode": code, "TeacherNumber": None, "DisplayName": "", "FirstName": first, "LastName": last,
            "Room": "", "EmailAddress": email, "StaffID1": staff_id, "StaffID2": None, "StaffID3": None,
            "InactiveStatusCode": status, "LowGrade": None, "HighGrade": None, "FromSectionStaff": True,
            "SectionStaffStartDate": start, "SectionStaffEndDate": end}


#: what the hook makes, school by school, in staff ID order
MADE = [
    made(884, 995001, "Darryl", "Aldrich", "daldrich@example.org", "", None, None),  # one assignment has no dates
    made(884, 700000001, "", "Ames", "NoWhere@aeries.com", "", YEAR[0], YEAR[1]),  # two spans: their envelope
    made(884, 700000003, "Cy", "Cole", "", "", None, None),
    made(884, 700005678, "Mary", "Cullens", "", "I", None, None),  # (Carlisle is inactive on every section)
    made(994, 700004321, "Jackie", "Carlisle", "jcarlisle@example.org", "", None, None),
]


@pytest.fixture(scope="module")
def emulator():
    certs = [{"name": "t", "certificate": CERT, "areas": list(READ_AREAS)},
             {"name": "no-staff", "certificate": NO_STAFF_CERT, "areas": ["Schools", "Teacher Data", "Master Schedule"]}]
    with EmulatorServer(DISTRICT, certs) as srv:
        yield srv


@pytest.mark.parametrize("page_cost, staff_requests, how", [
    # 5 staff members, 2 teacher records: the staff list costs 1 page of 5 single requests, so one request each
    (section_staff.DEFAULT_PAGE_COST, 2 * 5, "one request each"),
    (4.0, 2 * 1, "the district's staff list"),
], ids=["one-by-one", "staff-list"])
def test_teachers_of_section_staff_schools_are_made_from_their_section_staff(emulator, make_conn, caplog, tmp_path,
                                                                            monkeypatch, page_cost, staff_requests,
                                                                            how):
    monkeypatch.setattr(section_staff, "DEFAULT_PAGE_COST", page_cost)
    hook = AeriesHook(aeries_conn_id=make_conn(host=emulator.url, password=CERT))
    emulator.app.stats.reset()

    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        rows = read_table(hook, "teachers")
        result = extract_to_parquet(hook, "teachers", tmp_path / "teachers.parquet")

    tch = [{**t, "FromSectionStaff": None, "SectionStaffStartDate": None, "SectionStaffEndDate": None}
           for t in DISTRICT.teachers]
    assert [{**t, **{k: None for k in ("FromSectionStaff", "SectionStaffStartDate", "SectionStaffEndDate") if k not in t}}
            for t in rows] == [MADE[0], MADE[1], MADE[2], MADE[3], tch[0], tch[1], MADE[4]]
    assert result.section_staff_teachers == {"884": 4, "994": 1}
    assert result.to_dict()["teachers_from_section_staff"] == {"884": 4, "994": 1}
    extracted = pq.read_table(tmp_path / "teachers.parquet").to_pylist()
    assert extracted == [MADE[0], MADE[1], MADE[2], MADE[3], tch[0], tch[1], MADE[4]]
    assert ("Aeries teachers: school 884 uses section staff (Flex scheduling): 4 teachers from its sections' staff "
            "members and their staff records, 0 teacher (TCH) records") in caplog.text
    assert ("Aeries teachers: school 994 uses section staff (Flex scheduling): 1 teachers from its sections' staff "
            "members and their staff records, 1 teacher (TCH) records") in caplog.text
    assert emulator.stats()["by_route"]["staff"] == staff_requests
    assert (f"Aeries teachers: the staff records of 5 section staff members: {how} (2 teacher records, a page of 500 "
            f"costs {page_cost:g} single requests)") in caplog.text


def test_teachers_pages_keep_the_columns_asked_for(emulator, make_conn, tmp_path):
    """The section-staff step reads StaffID1 from the teachers' pages; it is not in the file unless asked for."""
    hook = AeriesHook(aeries_conn_id=make_conn(host=emulator.url, password=CERT))

    extract_to_parquet(hook, "teachers", tmp_path / "teachers.parquet", columns=["SchoolCode", "LastName"])
    assert pq.read_table(tmp_path / "teachers.parquet").to_pylist() == [
        {"SchoolCode": row["SchoolCode"], "LastName": row["LastName"]}
        for row in (MADE[0], MADE[1], MADE[2], MADE[3], *DISTRICT.teachers, MADE[4])]


def test_only_the_selected_schools_are_read(emulator, make_conn, tmp_path):
    hook = AeriesHook(aeries_conn_id=make_conn(host=emulator.url, password=CERT))

    assert read_table(hook, "teachers", school_codes=[990]) == DISTRICT.teachers[:1]
    result = extract_to_parquet(hook, "teachers", tmp_path / "teachers.parquet", school_codes=[990])
    assert result.section_staff_teachers == {} and "teachers_from_section_staff" not in result.to_dict()


def test_a_certificate_without_staff_data_is_told_which_area_the_flex_teachers_need(emulator, make_conn):
    hook = AeriesHook(aeries_conn_id=make_conn(host=emulator.url, password=NO_STAFF_CERT))

    with pytest.raises(AeriesAuthError) as failed:
        read_table(hook, "teachers")
    assert str(failed.value) == (
        "Aeries refused connection 'aeries_test' at /api/v5/staff/700000001 (HTTP 403): the certificate lacks the security area "
        "'Staff Data'. Grant it in Aeries under Security > API Security for this certificate. Aeries said: The "
        "certificate does not have access to Staff Data")


def test_a_hostile_staff_id_in_a_section_names_no_other_endpoint(make_conn, tmp_path):
    """A member's StaffID comes from Aeries' answer: ``../schools`` is asked for as one path segment (Aeries knows
    no such staff member: 404), not as the schools list; the teacher is made from the member's own names."""
    district = District(info={"DatabaseYear": 2026}, schools=[school(884, "Flexible", True)], staff=[], teachers=[],
                        sections=[section(884, 1, [member("../schools", "Eve", "Ames", True)])])
    with EmulatorServer(district, [{"name": "t", "certificate": CERT, "areas": list(READ_AREAS)}]) as emulator:
        hook = AeriesHook(aeries_conn_id=make_conn(host=emulator.url, password=CERT))
        rows = read_table(hook, "teachers")
        routes = emulator.stats()["by_route"]
    assert [(r["StaffID1"], r["FirstName"], r["LastName"]) for r in rows] == [("../schools", "Eve", "Ames")]
    assert routes.get("schools") == 1 and "staff" not in routes  # the schools list once, for the extract itself
