"""The emulator's Aeries API v5 over real HTTP: routes, JSON shapes, paging, certificates, errors."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import requests

from aeries_sandbox.emulator import EmulatorServer
from aeries_sandbox.emulator.district import District

FULL_CERT = "Fu11AccessCert0000000000000000AA"  # as in conftest.py
SCHOOLS_ONLY_CERT = "Sch0olsOnlyCert00000000000000000"


def _school_with_most_students(district) -> int:
    return Counter(s["SchoolCode"] for s in district.students).most_common(1)[0][0]


def test_systeminfo_needs_no_certificate(get):
    response = get("systeminfo", cert=None)
    assert response.status_code == 200
    info = response.json()
    # Aeries' documented shape (support article 14000113682, "Aeries Installation Information"): the year as
    # its 9-character form, the years offered newest first.
    assert list(info) == ["AeriesVersion", "DatabaseYear", "AvailableDatabaseYears", "LocalTimeZoneName",
                          "CurrentDateTime"]
    assert info["LocalTimeZoneName"] == "Pacific Standard Time"
    assert info["DatabaseYear"] == "2026-2027"
    assert info["AvailableDatabaseYears"] == ["2026-2027", "2025-2026", "2024-2025", "2023-2024"]
    assert response.headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(("asked", "served"), [
    ("2024", "2024-2025"),  # an available year is the one served, and systeminfo says so
    ("2027", "2026-2027"),  # not available: the district's default year, silently (no error)
    ("2019", "2026-2027"),
    ("2026-2027", "2026-2027"),  # not the documented YYYY form: the default year
    ("soon", "2026-2027"),
])
def test_database_year_falls_back_to_the_default_year(get, asked, served):
    response = get("systeminfo", cert=None, DatabaseYear=asked)
    assert response.status_code == 200 and response.json()["DatabaseYear"] == served
    assert get("schools", DatabaseYear=asked).status_code == 200


def test_a_data_dir_takes_a_real_systeminfo_verbatim(tmp_path, district, certs):
    """district.json may be the demo server's systeminfo answer as Aeries documents it, string year included."""
    real = {
        "AeriesVersion": "9.21.2.25",
        "DatabaseYear": "2020-2021",
        "AvailableDatabaseYears": ["2020-2021", "2019-2020"],
        "LocalTimeZoneName": "(UTC-08:00) Pacific Time (US & Canada)",
        "CurrentDateTime": "2021-03-03T11:13:38.9539491-08:00",
    }
    (tmp_path / "district.json").write_text(json.dumps(real, indent=4))
    (tmp_path / "schools.json").write_text(json.dumps(district.schools[:2]))
    loaded = District.load(tmp_path)
    assert (loaded.database_year, loaded.available_years) == (2020, [2020, 2019])
    with EmulatorServer(loaded, certs, access_log=False) as srv:
        def info(**params):
            return requests.get(f"{srv.url}/api/v5/systeminfo", params=params, timeout=10).json()

        served = info()
        assert {k: served[k] for k in real if k != "CurrentDateTime"} == {k: real[k] for k in real if k != "CurrentDateTime"}
        assert info(DatabaseYear=2019)["DatabaseYear"] == "2019-2020"
        assert info(DatabaseYear=2026)["DatabaseYear"] == "2020-2021"


def test_a_data_dir_with_a_year_that_is_not_one_names_it(tmp_path):
    (tmp_path / "district.json").write_text(json.dumps({"DatabaseYear": "2020-2022"}))
    with pytest.raises(ValueError) as caught:
        District.load(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / 'district.json'}: DatabaseYear '2020-2022' is not a school year: give 2020 or \"2020-2021\""
    )


def test_schools_and_terms(get, district):
    schools = get("schools").json()
    assert [s["SchoolCode"] for s in schools] == sorted(s["SchoolCode"] for s in district.schools)
    school = get("schools/100").json()
    assert isinstance(school, dict) and school["SchoolCode"] == 100 and school["Terms"]
    terms = get("schools/100/terms").json()
    assert [t["TermCode"] for t in terms] == [t["TermCode"] for t in school["Terms"]]
    assert terms == school["Terms"] and all("SchoolCode" not in t and t["StartDate"].endswith("T00:00:00") for t in terms)
    missing = get("schools/999")
    assert missing.status_code == 404 and "Message" in missing.json()
    assert get("schools/999/terms").json() == []
    assert get("schools/100/terms", DatabaseYear=2019).status_code == 200


def test_students_paging(get, district):
    school = _school_with_most_students(district)
    expected = sorted((s for s in district.students if s["SchoolCode"] == school), key=lambda s: s["StudentID"])
    everything = get(f"schools/{school}/students").json()
    assert everything == expected
    assert [s["StudentID"] for s in everything] == sorted(s["StudentID"] for s in everything)
    size = 25
    pages, start = [], 1
    while True:
        page = get(f"schools/{school}/students", StartingRecord=start, EndingRecord=start + size - 1).json()
        pages.append(page)
        if len(page) < size:
            break
        start += size
    assert [s for page in pages for s in page] == expected
    assert all(len(p) == size for p in pages[:-1]) and len(pages[-1]) == len(expected) % size
    one = get(f"schools/{school}/students", StartingRecord=3, EndingRecord=3).json()
    assert one == [expected[2]]
    assert get(f"schools/{school}/students", startingrecord=2, endingrecord=4).json() == expected[1:4]
    beyond = len(expected) + 1
    assert get(f"schools/{school}/students", StartingRecord=beyond, EndingRecord=beyond + 10).json() == []
    assert get(f"schools/{school}/students", StartingRecord=5).json() == expected[4:]
    bad = get(f"schools/{school}/students", StartingRecord="x", EndingRecord=3)
    assert bad.status_code == 400 and "Message" in bad.json()


def test_student_lookups(get, district):
    student = next(s for s in district.students if s["SchoolCode"] != 0)
    school, sid = student["SchoolCode"], student["StudentID"]
    assert get(f"schools/{school}/students/{sid}").json() == [student]
    assert get(f"schools/{school}/students/{sid}/extended").json() == [student]
    assert get(f"schools/{school}/students/sn/{student['StudentNumber']}").json() == [student]
    grade = get(f"schools/{school}/students/grade/{student['Grade']}").json()
    assert student in grade and {s["Grade"] for s in grade} == {student["Grade"]}
    assert get(f"schools/{school}/students/1").json() == []
    assert get("schools/0/students").json() == []
    assert get("schools/999/students").json() == []


def test_two_school_student_is_listed_at_both(get, district):
    by_id: dict[int, list] = {}
    for s in district.students:
        by_id.setdefault(s["StudentID"], []).append(s)
    rows = next(r for r in by_id.values() if len(r) == 2)
    for row in rows:
        assert get(f"schools/{row['SchoolCode']}/students/{row['StudentID']}").json() == [row]


def test_a_students_contacts_are_answered_whatever_the_school_in_the_path(get, district):
    """Aeries support article 14000166308: with a StudentID the school in the path does not restrict the contacts."""
    contact = district.contacts[0]
    sid = contact["StudentID"]
    theirs = sorted((c for c in district.contacts if c["StudentID"] == sid), key=lambda c: c["SequenceNumber"])
    other = next(s["SchoolCode"] for s in district.schools if s["SchoolCode"] not in (0, contact["SchoolCode"]))
    assert get(f"schools/{contact['SchoolCode']}/contacts/{sid}").json() == theirs
    assert get(f"schools/{other}/contacts/{sid}").json() == theirs
    assert [c for c in get(f"schools/{other}/contacts").json() if c["StudentID"] == sid] == [
        c for c in theirs if c["SchoolCode"] == other]


def test_contacts_classes_sections_teachers(get, district):
    school = _school_with_most_students(district)
    contacts = get(f"schools/{school}/contacts").json()
    assert contacts == [c for c in sorted(district.contacts, key=lambda c: (c["StudentID"], c["SequenceNumber"]))
                        if c["SchoolCode"] == school]
    assert get(f"schools/{school}/contacts", StartingRecord=1, EndingRecord=2).json() == contacts  # not paged
    sid = contacts[0]["StudentID"]
    assert get(f"schools/{school}/contacts/{sid}").json() == [c for c in contacts if c["StudentID"] == sid]

    classes = get(f"schools/{school}/classes").json()
    assert classes and set(classes[0]) == {"StudentID", "SchoolCode", "SequenceNumber", "SectionNumber", "CourseID",
                                           "DateStarted", "DateEnded"}
    assert get(f"schools/{school}/classes", StartingRecord=2, EndingRecord=3).json() == classes  # not paged
    sid = classes[0]["StudentID"]
    assert get(f"schools/{school}/classes/{sid}").json() == [r for r in classes if r["StudentID"] == sid]

    sections = get(f"schools/{school}/sections").json()
    section = sections[0]
    assert get(f"schools/{school}/sections/{section['SectionNumber']}").json() == section
    member = section["SectionStaffMembers"][0]
    assert set(member) >= {"StaffID", "LastName", "FirstName", "IsPrimaryTeacher", "StaffRoleCode", "StartDate",
                           "EndDate", "InactiveStatusCode"}
    roster = get(f"schools/{school}/sections/{section['SectionNumber']}/students").json()
    assert roster == [r for r in classes if r["SectionNumber"] == section["SectionNumber"]]
    assert get(f"schools/{school}/sections/99999").status_code == 404

    teachers = get(f"schools/{school}/teachers").json()
    assert teachers and get(f"schools/{school}/teachers/{teachers[0]['TeacherNumber']}").json() == teachers[0]
    assert get(f"schools/{school}/teachers/9999").status_code == 404
    assert teachers[0] in get(f"staff/{teachers[0]['StaffID1']}/teachers").json()


def test_school_without_sections(get, district):
    with_sections = {s["SchoolCode"] for s in district.sections}
    school = next(s["SchoolCode"] for s in district.students if s["SchoolCode"] not in with_sections)
    assert get(f"schools/{school}/sections").json() == []
    assert get(f"schools/{school}/classes").json() == []
    assert get(f"schools/{school}/students").json()


def test_staff_and_courses(get, district):
    staff = get("staff").json()
    assert [s["ID"] for s in staff] == sorted(s["ID"] for s in district.staff)
    one = get(f"staff/{staff[0]['ID']}").json()
    assert one == staff[0] and isinstance(one["SchoolAccessPermissions"], list)
    assert get("staff/1").status_code == 404
    courses = get("courses").json()
    assert courses[0]["ID"] == "0001"
    assert get("courses/0001").json()["ID"] == "0001"
    assert get("courses/1").status_code == 404


def test_json_shapes_and_casing(get, district):
    student = get(f"schools/{_school_with_most_students(district)}/students", StartingRecord=1, EndingRecord=1).json()[0]
    for field in ("StudentID", "SchoolCode", "StudentNumber", "Gender", "Grade", "Birthdate", "InactiveStatusCode",
                  "StudentEmailAddress", "NetworkLoginID", "HomeRoomTeacherNumber"):
        assert field in student
    assert "PermanentID" not in student and "Sex" not in student
    assert isinstance(student["HomeRoomTeacherNumber"], str) and isinstance(student["StudentID"], int)
    assert student["Birthdate"].endswith("T00:00:00")


@pytest.mark.parametrize(
    "path, area",
    [
        ("schools/100/students", "Student Data"),
        ("schools/100/contacts", "Contacts"),
        ("schools/100/classes", "Class Schedules/History"),
        ("schools/100/sections/1/students", "Class Schedules/History"),
        ("schools/100/sections", "Master Schedule"),
        ("schools/100/teachers", "Teacher Data"),
        ("schools/100/terms", "Terms"),
        ("staff", "Staff Data"),
        ("courses", "Course Data"),
        ("StudentDataChanges/student/2026/8/1/0/0", "Student Data"),
        ("SectionDataChanges/2026/8/1/0/0", "Master Schedule"),
    ],
)
def test_certificate_without_the_area_gets_403(get, path, area, schools_only_cert):
    assert schools_only_cert == SCHOOLS_ONLY_CERT
    response = get(path, cert=SCHOOLS_ONLY_CERT)
    assert response.status_code == 403
    assert response.json() == {"Message": f"The certificate does not have access to {area}"}
    assert get("schools", cert=SCHOOLS_ONLY_CERT).status_code == 200


def test_unknown_or_missing_certificate_gets_401(get):
    for cert in (None, "", "X" * 32, FULL_CERT.lower()):
        response = get("schools", cert=cert)
        assert response.status_code == 401
        body = response.json()
        assert list(body) == ["Message"] and body["Message"]


def test_unknown_routes_and_methods(get, emulator):
    for path in ("nope", "schools/100/nope", "schools/abc", "schools/100/students/grade", "StudentDataChanges/x/1/2/3/4/5"):
        response = get(path)
        assert response.status_code == 404, path
        assert "Message" in response.json()
    assert requests.get(f"{emulator.url}/api/v4x/schools", timeout=5).status_code == 404
    assert requests.get(emulator.url.replace("/aeries", "/admin") + "/api/v5/schools", timeout=5).status_code == 404
    post = requests.post(f"{emulator.url}/api/v5/schools", json={}, headers={"AERIES-CERT": FULL_CERT}, timeout=5)
    assert post.status_code == 405 and "Message" in post.json()
    assert get("schools/100/Students", StartingRecord=1, EndingRecord=1).status_code == 200  # case-insensitive


def test_data_changes_return_keys(get, district):
    changes = get("StudentDataChanges/student/2026/1/1/0/0").json()
    expected_ids = {(e["StudentID"], e["SchoolCode"]) for e in district.data_changes if e["area"] == "student"}
    assert changes and all(set(c) == {"StudentID", "SchoolCode", "StudentNumber"} for c in changes)
    assert {(c["StudentID"], c["SchoolCode"]) for c in changes} == expected_ids
    assert get("StudentDataChanges/student/2026/01/01/00/00").json() == changes  # padded
    assert get("StudentDataChanges/student/2030/1/1/0/0").json() == []
    middle = sorted(e["ChangedAt"] for e in district.data_changes)[len(district.data_changes) // 2]
    y, m, d = middle[:10].split("-")
    later = get(f"StaffDataChanges/{y}/{m}/{d}/{middle[11:13]}/{middle[14:16]}").json()
    assert all(set(c) == {"ID"} for c in later)
    assert all(set(c) == {"ID"} and isinstance(c["ID"], str) for c in get("CourseDataChanges/2026/1/1/0/0").json())
    for route in ("SectionDataChanges", "SectionRosterDataChanges"):
        rows = get(f"{route}/2026/1/1/0/0").json()
        assert rows and all(set(c) == {"SchoolCode", "SectionNumber"} for c in rows)
    for area in ("contact", "class", "enrollment", "program", "test"):
        assert get(f"StudentDataChanges/{area}/2026/1/1/0/0").status_code == 200
    assert get("StudentDataChanges/student/2026/13/1/0/0").status_code == 400


def test_base_path_is_configurable(district, certs):
    with EmulatorServer(district, certs, base_path="/", access_log=False) as root, \
            EmulatorServer(district, certs, base_path="admin/", access_log=False) as admin:
        assert root.url.endswith(f":{root.port}") and admin.url.endswith("/admin")
        for srv in (root, admin):
            response = requests.get(f"{srv.url}/api/v5/schools", headers={"AERIES-CERT": FULL_CERT}, timeout=5)
            assert response.status_code == 200 and response.json()


def test_stats_count_requests_by_status(emulator, get, control):
    control("DELETE", "stats")
    get("schools")
    get("schools", cert=None)
    get("nope")
    stats = control("GET", "stats").json()
    assert stats["requests"] == 3
    assert stats["by_status"] == {"200": 1, "401": 1, "404": 1}
    assert stats["by_route"]["schools"] == 2


def test_access_log_names_the_certificate_never_its_value(district, certs, caplog):
    caplog.set_level("INFO", logger="aeries_sandbox.emulator")
    with EmulatorServer(district, certs) as srv:
        requests.get(f"{srv.url}/api/v5/schools", params={"DatabaseYear": 2026, "secret": "x"},
                     headers={"AERIES-CERT": FULL_CERT}, timeout=5)
    lines = [r.getMessage() for r in caplog.records if "/api/v5/schools" in r.getMessage()]
    assert lines and "cert=full" in lines[0] and " 200 " in lines[0]
    assert "DatabaseYear=2026" in lines[0] and "secret=***" in lines[0]
    assert FULL_CERT not in caplog.text


@pytest.fixture()
def paging(emulator):
    """The shared server's paging options, back to the default after the test."""
    yield emulator
    emulator.set_paging()


def test_only_the_student_endpoints_page_by_default(paging, get, district):
    school = _school_with_most_students(district)
    students = get(f"schools/{school}/students").json()
    assert get(f"schools/{school}/students", StartingRecord=2, EndingRecord=3).json() == students[1:3]
    for path in (f"schools/{school}/contacts", f"schools/{school}/classes"):
        whole = get(path).json()
        assert len(whole) > 3 and get(path, StartingRecord=2, EndingRecord=3).json() == whole, path
        assert get(path, StartingRecord=len(whole) + 1, EndingRecord=len(whole) + 5).json() == whole, path
    bad = get(f"schools/{school}/contacts", StartingRecord="x", EndingRecord=3)
    assert (bad.status_code, bad.json()) == (400, {"Message": "StartingRecord and EndingRecord must be whole numbers"})
    assert paging.app.paging.to_json() == {"unpaged_routes": ["classes", "contacts", "course_requests",
                                                              "section_students"], "max_rows_per_request": None}


def test_every_route_pages_when_configured(paging, get, district):
    school = _school_with_most_students(district)
    paging.set_paging([])
    contacts = get(f"schools/{school}/contacts").json()
    assert get(f"schools/{school}/contacts", StartingRecord=2, EndingRecord=3).json() == contacts[1:3]
    classes = get(f"schools/{school}/classes").json()
    assert get(f"schools/{school}/classes", StartingRecord=4, EndingRecord=4).json() == [classes[3]]


def test_row_cap_cuts_every_list_answer(paging, get, district, control):
    school = _school_with_most_students(district)
    students = get(f"schools/{school}/students").json()
    contacts = get(f"schools/{school}/contacts").json()
    answer = control("PUT", "paging", {"max_rows_per_request": 3})
    assert answer.status_code == 200
    assert answer.json() == {"unpaged_routes": ["classes", "contacts", "course_requests", "section_students"],
                             "max_rows_per_request": 3}
    assert get(f"schools/{school}/students", StartingRecord=1, EndingRecord=10).json() == students[:3]
    assert get(f"schools/{school}/students", StartingRecord=4, EndingRecord=10).json() == students[3:6]
    assert get(f"schools/{school}/students", StartingRecord=5, EndingRecord=6).json() == students[4:6]
    assert get(f"schools/{school}/contacts").json() == contacts[:3]  # ignores the range, still capped
    assert len(get("staff").json()) > 3  # a list that is not paged at all is not capped
    assert control("GET", "paging").json()["max_rows_per_request"] == 3


@pytest.mark.parametrize(("body", "message"), [
    ({"unpaged_routes": ["contacts", "parents"]},
     "unpaged_routes: unknown routes ['parents']; paged routes: students, contacts, classes, section_students, "
     "course_requests"),
    ({"max_rows_per_request": 0}, "max_rows_per_request must be null or a whole number of at least 1, not 0"),
    ({"page_size": 5}, "the body must be an object with unpaged_routes and/or max_rows_per_request"),
])
def test_paging_control_rejects_bad_settings(paging, control, body, message):
    answer = control("PUT", "paging", body)
    assert (answer.status_code, answer.json()) == (400, {"Message": message})
    assert control("GET", "paging").json()["max_rows_per_request"] is None
