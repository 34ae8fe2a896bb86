"""The emulator's write endpoints over real HTTP: success, 400/404/403 with Aeries-style messages, the changed
district seen by later GETs, the writes log, write permissions on certificates, faults on writes.

The module has its own server (writes change what it serves); it serves the session's ``district`` object, which
copy-on-write must leave unchanged.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from typing import Any

import pytest
import requests

from aeries_sandbox.emulator import (
    READ_AREAS,
    WRITE_AREAS,
    WRITE_PERMISSIONS,
    EmulatorServer,
    FaultConfig,
    generate_district,
    load_certificates,
)
from aeries_sandbox.emulator.certificates import normalise_area

WRITER = "Wr1teBackCert0000000000000000000"
READER = "ReadOnlyCert00000000000000000000"
INSERT_ONLY = "Ins3rtOnlyCert000000000000000000"  # "Student Data - Insert" without Read
GRADEBOOK_DATA = "GradebookDataCert000000000000000"  # may add assignments, not scores
FIELD_DENIED = "F1eldDeniedCert00000000000000000"  # field level security: no StateStudentID, RaceCode1, EmailAddress
CERTS = [
    {"name": "writer", "certificate": WRITER, "areas": list(READ_AREAS) + list(WRITE_AREAS)},
    {"name": "reader", "certificate": READER, "areas": list(READ_AREAS)},
    {"name": "insert-only", "certificate": INSERT_ONLY, "areas": ["Student Data - Insert"]},
    {"name": "gradebook-data", "certificate": GRADEBOOK_DATA, "areas": ["Gradebook Data - Read & Update"]},
    {"name": "field-denied", "certificate": FIELD_DENIED, "areas": list(READ_AREAS) + list(WRITE_AREAS),
     "denied_fields": {"Student Data": ["StateStudentID", "RaceCode1"], "Contacts": ["EmailAddress"]}},
]
NO_PROXY = {"http": "", "https": ""}


@pytest.fixture(scope="module")
def pristine(district):
    """A deep copy of the served district, taken before any write, to show the writes never change it."""
    return copy.deepcopy(district)


@pytest.fixture(scope="module")
def server(district, pristine):
    with EmulatorServer(district, CERTS, access_log=False) as srv:
        yield srv


@pytest.fixture()
def emu(server):
    server.faults.clear()
    server.clear_writes()
    yield server
    server.faults.clear()


def call(srv, method: str, path: str, body: Any = None, *, cert: str | None = WRITER, raw: bytes | None = None,
         **params: Any) -> requests.Response:
    headers = {"AERIES-CERT": cert} if cert is not None else {}
    if raw is not None:
        headers["Content-Type"] = "application/json"
        return requests.request(method, f"{srv.url}/api/v5/{path}", data=raw, headers=headers, params=params or None,
                                timeout=10, proxies=NO_PROXY)
    return requests.request(method, f"{srv.url}/api/v5/{path}", json=body, headers=headers, params=params or None,
                            timeout=10, proxies=NO_PROXY)


def post(srv, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
    return call(srv, "POST", path, body, **kwargs)


def get(srv, path: str, **kwargs: Any) -> requests.Response:
    return call(srv, "GET", path, **kwargs)


def assert_error(response: requests.Response, status: int, message: str) -> None:
    assert (response.status_code, response.json()) == (status, {"Message": message}), response.text


def new_student(**fields: Any) -> dict[str, Any]:
    return {"LastName": "Okafor", "FirstName": "Adaeze", "Grade": 3, "BirthDate": "2017-10-02", **fields}


def gradebook_with_students(district, minimum: int = 3) -> tuple[dict[str, Any], list[int]]:
    rosters = Counter((r["SchoolCode"], r["SectionNumber"]) for r in district.rosters)
    for gradebook in district.gradebooks:
        section = gradebook["Sections"][0]
        key = (section["SchoolCode"], section["SectionNumber"])
        if rosters[key] >= minimum:
            students = sorted({r["StudentID"] for r in district.rosters if (r["SchoolCode"], r["SectionNumber"]) == key})
            return gradebook, students
    raise AssertionError("no gradebook with students")


# -- certificates and permissions --------------------------------------------------------------------------------
def test_area_names_grant_read_or_write_permissions():
    assert normalise_area("Student Data") == ["Student Data"]
    assert normalise_area("Student Data - Read & Insert") == ["Student Data", "Student Data - Insert"]
    assert normalise_area("Contacts: read, update") == ["Contacts", "Contacts - Update"]
    assert normalise_area("Gradebook Scores \u2013 Update") == ["Gradebook Scores - Update"]
    assert normalise_area("Student Scheduling Schedules (Course Requests) - Insert") == [
        "Student Scheduling Schedules (Course Requests) - Insert"]
    assert normalise_area("Class Schedules/History") == ["Class Schedules/History"]
    table = load_certificates(CERTS)
    assert table[GRADEBOOK_DATA][:2] == ("gradebook-data", frozenset({"Gradebook Data", "Gradebook Data - Update"}))
    assert table[FIELD_DENIED].denied_fields == {"Student Data": {"statestudentid", "racecode1", "race1code"},
                                                 "Contacts": {"emailaddress"}}
    assert table[READER][1] == frozenset(READ_AREAS)
    assert set(WRITE_AREAS) == {area for needed in WRITE_PERMISSIONS.values() for area in needed if " - " in area}


WRITE_ROUTES = [
    ("schools/100/InsertStudent", "Student Data - Insert"),
    ("UpdateStudent/{student}", "Student Data - Update"),
    ("UpdateStudentAddress/{student}", "Student Data - Update"),
    ("InsertContact/{student}", "Contacts - Insert"),
    ("UpdateContact/{student}/1", "Contacts - Update"),
    ("gradebooks/{gradebook}/Assignments", "Gradebook Data - Update"),
    ("gradebooks/{gradebook}/assignments/1/Scores", "Gradebook Scores - Update"),
    ("schools/100/students/{student}/courserequests", "Student Scheduling Schedules (Course Requests) - Insert"),
]


@pytest.mark.parametrize("path, area", WRITE_ROUTES)
def test_read_only_certificate_is_refused_every_write_with_403_naming_the_permission(emu, district, path, area):
    student = next(s["StudentID"] for s in district.students if s["SchoolCode"] == 100)
    path = path.format(student=student, gradebook=district.gradebooks[0]["GradebookNumber"])
    assert_error(post(emu, path, {"LastName": "X"}, cert=READER), 403,
                 f"The certificate does not have access to {area}")
    assert_error(post(emu, path, {"LastName": "X"}, cert=None), 401,
                 "Authorization has been denied for this request: no AERIES-CERT header.")
    assert_error(post(emu, path, {"LastName": "X"}, cert="Z" * 32), 401, "Authorization has been denied for this request.")
    assert [w["status"] for w in emu.writes()] == [403, 401, 401]


def test_a_write_permission_without_read_is_refused_naming_the_read_area(emu):
    assert_error(post(emu, "schools/100/InsertStudent", new_student(), cert=INSERT_ONLY), 403,
                 "The certificate does not have access to Student Data")


# -- InsertStudent -------------------------------------------------------------------------------------------------
def test_insert_student_then_reread_finds_it(emu, district):
    before = get(emu, "schools/100/students").json()
    response = post(emu, "schools/100/InsertStudent", new_student(
        MiddleName="Chioma", Gender="f", StateStudentID="9000000001", HomePhone="(707) 555-0199",
        MailingAddress="12 Oak St", MailingAddressCity="Mountain Vista", MailingAddressState="ca",
        MailingAddressZipCode="95501", Race1Code="600", CorrespondanceLanguageCode="00",
        StudentEmailAddress="adaeze.okafor@students.demo.k12.ca.us", Unmodelled="ignored"))
    assert response.status_code == 200, response.text
    student = response.json()
    max_id = max(s["StudentID"] for s in district.students)
    assert student["StudentID"] == max_id + 1
    assert student["StudentNumber"] == max(s["StudentNumber"] for s in before) + 1
    assert (student["SchoolCode"], student["Grade"], student["Gender"]) == (100, 3, "F")
    assert student["Birthdate"] == "2017-10-02T00:00:00"
    assert (student["HomePhone"], student["MailingAddressState"], student["RaceCode1"]) == ("7075550199", "CA", "600")
    assert student["CorrespondenceLanguageCode"] == "00" and "Unmodelled" not in student
    assert (student["InactiveStatusCode"], student["NextGrade"], student["NextSchoolCode"]) == (" ", 4, 100)
    assert student["SchoolEnterDate"] == student["DistrictEnterDate"] == "2026-08-13T00:00:00"
    assert set(before[0]) <= set(student)  # the shape every Student has
    sid = student["StudentID"]
    assert get(emu, f"schools/100/students/{sid}").json() == [student]
    assert get(emu, f"schools/100/students/sn/{student['StudentNumber']}").json() == [student]
    assert student in get(emu, "schools/100/students/grade/3").json()
    after = get(emu, "schools/100/students").json()
    assert len(after) == len(before) + 1 and after[-1] == student  # ordered by StudentID
    changes = get(emu, "StudentDataChanges/student/2000/1/1/0/0").json()
    assert {"StudentID": sid, "SchoolCode": 100, "StudentNumber": student["StudentNumber"]} in changes
    # the state id is now taken
    assert_error(post(emu, "schools/100/InsertStudent", new_student(StateStudentID="9000000001")), 400,
                 f"State Student ID 9000000001 already belongs to student {sid}; InsertStudent is only for students "
                 "who have never been enrolled in the district.")


def test_insert_student_with_a_chosen_student_id(emu):
    response = post(emu, "schools/300/InsertStudent", new_student(StudentID=99000001, Grade="9"))
    assert response.status_code == 200 and response.json()["StudentID"] == 99000001
    assert get(emu, "schools/300/students/99000001").json()[0]["Grade"] == 9


@pytest.mark.parametrize("body, message", [
    ({"FirstName": "A", "Grade": 3, "BirthDate": "2017-01-01"}, "LastName is required."),
    (new_student(LastName="  "), "LastName is required."),
    ({"LastName": "A", "FirstName": "B", "Grade": 3}, "BirthDate is required."),
    (new_student(Grade=None), "Grade is required."),
    (new_student(Grade=9), "Grade 9 is not offered at school 100 (grades -2 to 5)."),
    (new_student(Grade="x"), "Grade 'x' is not valid; Aeries grades are -2 to 18."),
    (new_student(Grade=19), "Grade '19' is not valid; Aeries grades are -2 to 18."),
    (new_student(BirthDate="2017-02-30"), "BirthDate '2017-02-30' is not a valid date."),
    (new_student(BirthDate="next week"), "BirthDate 'next week' is not a valid date."),
    (new_student(Gender="Q"), "Gender 'Q' is not valid; use M, F or X."),
    (new_student(LastName="x" * 101), "LastName must be 100 characters or fewer."),
    (new_student(HomePhone="555-12"), "HomePhone '555-12' is not a valid phone number."),
    (new_student(StudentEmailAddress="not-an-email"), "StudentEmailAddress 'not-an-email' is not a valid e-mail address."),
    (new_student(MailingAddressZipCode="9550"), "MailingAddressZipCode '9550' must be 5 digits."),
    (new_student(MailingAddressState="Calif"), "MailingAddressState 'CALIF' must be a 2-letter state code."),
    (new_student(EthnicityCode="maybe"), "EthnicityCode must be Y, N or blank."),
    (new_student(NextSchool=999), "NextSchool 999 is not a school in the district."),
    (new_student(StudentID="abc"), "StudentID 'abc' is not a whole number."),
    (new_student(StudentID=0), "StudentID 0 is out of range (1 to 2147483647)."),
    ([new_student()], "The request body must be a JSON object (a Student)."),
])
def test_insert_student_rule_violations_are_400_and_insert_nothing(emu, body, message):
    count = len(get(emu, "schools/100/students").json())
    assert_error(post(emu, "schools/100/InsertStudent", body), 400, message)
    assert len(get(emu, "schools/100/students").json()) == count


def test_insert_student_only_for_students_never_enrolled(emu, district):
    existing = next(s for s in district.students if s["SchoolCode"] == 300)
    assert_error(post(emu, "schools/100/InsertStudent", new_student(StudentID=existing["StudentID"])), 400,
                 f"Student ID {existing['StudentID']} already exists in the district; InsertStudent is only for "
                 "students who have never been enrolled in the district.")
    assert_error(post(emu, "schools/100/InsertStudent", new_student(StateStudentID=existing["StateStudentID"])), 400,
                 f"State Student ID {existing['StateStudentID']} already belongs to student {existing['StudentID']}; "
                 "InsertStudent is only for students who have never been enrolled in the district.")
    assert_error(post(emu, "schools/0/InsertStudent", new_student()), 400,
                 "Students cannot be added to school 0 (the district office).")


def test_insert_student_bad_bodies_and_unknown_school(emu):
    assert_error(post(emu, "schools/100/InsertStudent", raw=b"{not json"), 400,
                 "The request body is not valid JSON (Expecting property name enclosed in double quotes at line 1 "
                 "column 2).")
    assert_error(post(emu, "schools/100/InsertStudent", raw=b""), 400,
                 "The request body is empty; send a JSON payload with Content-Type: application/json.")
    assert_error(post(emu, "schools/999/InsertStudent", new_student()), 404, "School 999 was not found")
    assert_error(post(emu, "schools/999/InsertStudent", raw=b"{not json"), 404, "School 999 was not found")


# -- UpdateStudent / UpdateStudentAddress ----------------------------------------------------------------------
def test_update_student_changes_every_school_record(emu, district, pristine):
    rows = sorted((s for s in district.students if s["StudentID"] == 7117575), key=lambda s: s["SchoolCode"])
    assert len(rows) == 2
    response = post(emu, "UpdateStudent/7117575", {"LastName": "Renamed", "StudentMobilePhone": "707-555-0142",
                                                   "SchoolCode": 999, "StudentID": 1})
    assert response.status_code == 200, response.text
    updated = response.json()
    assert [(r["SchoolCode"], r["LastName"], r["StudentMobilePhone"]) for r in updated] == [
        (row["SchoolCode"], "Renamed", "7075550142") for row in rows]
    for row, new in zip(rows, updated):
        assert {k: v for k, v in new.items() if k not in ("LastName", "StudentMobilePhone")} == {
            k: v for k, v in row.items() if k not in ("LastName", "StudentMobilePhone")}
        assert get(emu, f"schools/{row['SchoolCode']}/students/7117575").json() == [new]
    # omitted fields are not changed; an empty body changes nothing
    assert post(emu, "UpdateStudent/7117575", {}).json() == updated
    # the District the server was started with is unchanged (copy on write)
    assert district.students == pristine.students


def test_update_student_grade_moves_the_grade_lists(emu, district):
    student = next(s for s in district.students if s["SchoolCode"] == 100 and s["Grade"] == 2
                   and not s["InactiveStatusCode"].strip())
    sid = student["StudentID"]
    assert post(emu, f"UpdateStudent/{sid}", {"Grade": 3}).json()[0]["Grade"] == 3
    assert sid in {s["StudentID"] for s in get(emu, "schools/100/students/grade/3").json()}
    assert sid not in {s["StudentID"] for s in get(emu, "schools/100/students/grade/2").json()}
    assert_error(post(emu, f"UpdateStudent/{sid}", {"Grade": 7}), 400,
                 "Grade 7 is not offered at school 100 (grades -2 to 5).")
    assert_error(post(emu, f"UpdateStudent/{sid}", {"BirthDate": "31/12/2019"}), 400,
                 "BirthDate '31/12/2019' is not a valid date.")
    assert_error(post(emu, f"UpdateStudent/{sid}", ["Grade", 3]), 400,
                 "The request body must be a JSON object (the Student fields to update).")
    assert_error(post(emu, "UpdateStudent/1", {"Grade": 3}), 404, "Student 1 was not found")


def test_update_student_address(emu, district):
    student = next(s for s in district.students if s["SchoolCode"] == 200)
    sid = student["StudentID"]
    body = {"CorrectionOrChange": "Change", "EffectiveStartDate": "2026-11-01", "MailingAddress": "770 The City Dr S",
            "MailingAddressCity": "Orange", "MailingAddressState": "CA", "MailingAddressZipCode": "92868",
            "LastName": "not an address field"}
    response = post(emu, f"UpdateStudentAddress/{sid}", body)
    assert response.status_code == 200, response.text
    record = response.json()[0]
    assert (record["MailingAddress"], record["MailingAddressCity"], record["MailingAddressZipCode"]) == (
        "770 The City Dr S", "Orange", "92868")
    assert record["LastName"] == student["LastName"]
    assert get(emu, f"schools/200/students/{sid}").json() == [record]
    assert_error(post(emu, f"UpdateStudentAddress/{sid}", {"MailingAddress": "1 Elm St"}), 400,
                 "CorrectionOrChange is required (Correction or Change).")
    assert_error(post(emu, f"UpdateStudentAddress/{sid}", {"CorrectionOrChange": "Move"}), 400,
                 "CorrectionOrChange 'Move' is not valid; use Correction or Change.")
    assert_error(post(emu, f"UpdateStudentAddress/{sid}", {"CorrectionOrChange": "Correction",
                                                           "ResidenceAddressZipExt": "12"}), 400,
                 "ResidenceAddressZipExt '12' must be 4 digits.")
    assert_error(post(emu, "UpdateStudentAddress/2", {"CorrectionOrChange": "Correction"}), 404,
                 "Student 2 was not found")


# -- contacts --------------------------------------------------------------------------------------------------
def test_insert_and_update_contact(emu, district):
    student = next(s for s in district.students if s["SchoolCode"] == 300 and not s["InactiveStatusCode"].strip())
    sid = student["StudentID"]
    existing = get(emu, f"schools/300/contacts/{sid}").json()
    response = post(emu, f"InsertContact/{sid}", {
        "FirstName": "Grace", "LastName": "Nguyen", "RelationshipToStudentCode": "15", "EmailAddress": "g.n@example.com",
        "CellPhone": "707.555.0100", "AddressZip": "95501", "PrimaryContact": "N", "LivesWithStudentIndicator": True})
    assert response.status_code == 200, response.text
    contact = response.json()
    assert (contact["StudentID"], contact["SchoolCode"], contact["SequenceNumber"]) == (sid, 300, len(existing) + 1)
    assert (contact["MailingName"], contact["CellPhone"], contact["AddressZipCode"]) == ("Grace Nguyen", "7075550100",
                                                                                        "95501")
    assert (contact["LivesWithStudentIndicator"], contact["ContactOrder"]) == ("Y", contact["SequenceNumber"])
    assert set(existing[0]) <= set(contact)
    assert get(emu, f"schools/300/contacts/{sid}").json() == existing + [contact]
    seq = contact["SequenceNumber"]
    updated = post(emu, f"UpdateContact/{sid}/{seq}", {"EmailAddress": "grace@example.org", "AccessToPortal": "Y"})
    assert updated.status_code == 200 and updated.json() == {**contact, "EmailAddress": "grace@example.org",
                                                             "AccessToPortal": "Y"}
    assert get(emu, f"schools/300/contacts/{sid}").json()[-1] == updated.json()
    assert {"StudentID": sid, "SchoolCode": 300, "StudentNumber": student["StudentNumber"]} in get(
        emu, "StudentDataChanges/contact/2000/1/1/0/0").json()
    assert_error(post(emu, f"InsertContact/{sid}", {"FirstName": "Only"}), 400, "LastName is required.")
    assert_error(post(emu, f"InsertContact/{sid}", {"FirstName": "A", "LastName": "B", "EmailAddress": "a@b"}), 400,
                 "EmailAddress 'a@b' is not a valid e-mail address.")
    assert_error(post(emu, f"InsertContact/{sid}", {"FirstName": "A", "LastName": "B", "PrimaryContact": "Yes"}), 400,
                 "PrimaryContact must be Y or N.")
    assert_error(post(emu, f"InsertContact/{sid}", {"FirstName": "A" * 21, "LastName": "B"}), 400,
                 "FirstName must be 20 characters or fewer.")
    assert_error(post(emu, f"UpdateContact/{sid}/{seq}", {"ContactOrder": 0}), 400,
                 "ContactOrder 0 is out of range (1 to 32767).")
    assert_error(post(emu, f"UpdateContact/{sid}/99", {"CellPhone": "7075550100"}), 404,
                 f"Contact 99 was not found for student {sid}")
    assert_error(post(emu, "InsertContact/3", {"FirstName": "A", "LastName": "B"}), 404, "Student 3 was not found")
    assert_error(post(emu, "UpdateContact/3/1", {"FirstName": "A"}), 404, "Student 3 was not found")


def test_contact_of_a_new_student_is_listed_at_its_school(emu):
    sid = post(emu, "schools/200/InsertStudent", new_student(Grade=7, LastName="Mbeki")).json()["StudentID"]
    contact = post(emu, f"InsertContact/{sid}", {"FirstName": "Thabo", "LastName": "Mbeki"}).json()
    assert (contact["SchoolCode"], contact["SequenceNumber"], contact["PrimaryContact"]) == (200, 1, "N")
    assert get(emu, f"schools/200/contacts/{sid}").json() == [contact]


# -- gradebooks ----------------------------------------------------------------------------------------------------
def test_gradebook_reads(emu, district):
    gradebook, _ = gradebook_with_students(district)
    number = gradebook["GradebookNumber"]
    section = gradebook["Sections"][0]
    teacher = next(t for t in district.teachers if (t["SchoolCode"], t["TeacherNumber"]) == (
        gradebook["SchoolCode"], gradebook["TeacherNumber"]))
    assert get(emu, f"gradebooks/{number}").json() == gradebook
    assert gradebook in get(emu, f"staff/{teacher['StaffID1']}/gradebooks").json()
    assert get(emu, f"schools/{section['SchoolCode']}/sections/{section['SectionNumber']}/gradebooks").json() == [gradebook]
    assignments = [a for a in district.assignments if a["GradebookNumber"] == number]
    assert get(emu, f"gradebooks/{number}/assignments").json() == assignments
    assert get(emu, f"gradebooks/{number}/assignments/2").json() == assignments[1]
    assert get(emu, f"gradebooks/assignments/{assignments[0]['UniqueID'].lower()}").json() == assignments[0]
    assert get(emu, f"gradebooks/{number}/assignments/2/scores").json() == []
    assert get(emu, "staff/1/gradebooks").json() == [] and get(emu, "schools/100/sections/9999/gradebooks").json() == []
    assert_error(get(emu, "gradebooks/1"), 404, "Gradebook 1 was not found")
    assert_error(get(emu, "gradebooks/1/assignments"), 404, "Gradebook 1 was not found")
    assert_error(get(emu, f"gradebooks/{number}/assignments/99"), 404, f"Assignment 99 was not found in gradebook {number}")
    assert_error(get(emu, f"gradebooks/{number}/assignments/99/scores"), 404,
                 f"Assignment 99 was not found in gradebook {number}")
    assert_error(get(emu, "gradebooks/assignments/NOPE"), 404, "Assignment NOPE was not found")
    assert_error(get(emu, f"gradebooks/{number}", cert=INSERT_ONLY), 403,
                 "The certificate does not have access to Gradebook Data")
    assert_error(get(emu, f"gradebooks/{number}/assignments/1/scores", cert=GRADEBOOK_DATA), 403,
                 "The certificate does not have access to Gradebook Scores")
    assert get(emu, f"gradebooks/{number}/assignments", cert=GRADEBOOK_DATA).status_code == 200
    assert emu.writes() == []  # reads are not logged


def test_insert_assignment(emu, district):
    gradebook = district.gradebooks[1]
    number = gradebook["GradebookNumber"]
    response = post(emu, f"gradebooks/{number}/Assignments", {
        "Description": "Lab report", "AssignmentCategoryCode": "C", "DateAssigned": "2026-09-14",
        "DateDue": "2026/09/21", "NumberCorrectPossible": 25, "PointsPossible": 50, "FormativeSummativeIndicator": "f",
        "ExternalID": "lms-123", "RubricAssignment": False})
    assert response.status_code == 201, response.text
    [assignment] = response.json()
    assert (assignment["GradebookNumber"], assignment["AssignmentNumber"]) == (number, 3)
    assert assignment["AssignmentCategory"] == gradebook["AssignmentCategories"][2]
    assert (assignment["DateAssigned"], assignment["DateDue"]) == ("2026-09-14T00:00:00", "2026-09-21T00:00:00")
    assert (assignment["NumberCorrectPossible"], assignment["PointsPossible"]) == (25, 50)
    assert (assignment["FormativeSummativeIndicator"], assignment["ExternalID"]) == ("F", "lms-123")
    assert get(emu, f"gradebooks/{number}/assignments/3").json() == assignment
    assert get(emu, f"gradebooks/assignments/{assignment['UniqueID']}").json() == assignment
    assert len(get(emu, f"gradebooks/{number}/assignments").json()) == 3
    # documented defaults: the first category, "S", NumberCorrectPossible from PointsPossible, DateDue from DateAssigned
    [second] = post(emu, f"gradebooks/{number}/Assignments", {
        "Description": "", "AssignmentCategoryCode": "Z", "PointsPossible": 12.5, "DateAssigned": "2026-10-01",
        "FormativeSummativeIndicator": "?"}).json()
    assert second["AssignmentNumber"] == 4 and second["AssignmentCategory"]["Code"] == "H"
    assert (second["FormativeSummativeIndicator"], second["NumberCorrectPossible"], second["DateDue"]) == (
        "S", 12.5, "2026-10-01T00:00:00")
    assert_error(post(emu, f"gradebooks/{number}/Assignments", {"PointsPossible": 10}), 400, "Description is required.")
    assert_error(post(emu, f"gradebooks/{number}/Assignments", {"Description": "x", "PointsPossible": -1}), 400,
                 "PointsPossible must not be negative.")
    assert_error(post(emu, f"gradebooks/{number}/Assignments", {"Description": "x"}), 400,
                 "PointsPossible must be greater than 0 (the emulator's gradebooks do not use rubric grading).")
    assert_error(post(emu, f"gradebooks/{number}/Assignments", {"Description": "x", "PointsPossible": "ten"}), 400,
                 "PointsPossible 'ten' is not a number.")
    assert_error(post(emu, f"gradebooks/{number}/Assignments", {"Description": "x", "PointsPossible": 5,
                                                                 "DateDue": "2026-13-01"}), 400,
                 "DateDue '2026-13-01' is not a valid date.")
    assert_error(post(emu, "gradebooks/1/Assignments", {"Description": "x", "PointsPossible": 5}), 404,
                 "Gradebook 1 was not found")
    assert_error(post(emu, f"gradebooks/{number}/Assignments", {"Description": "x", "PointsPossible": 5}, cert=READER),
                 403, "The certificate does not have access to Gradebook Data - Update")
    assert post(emu, f"gradebooks/{number}/Assignments", {"Description": "y", "PointsPossible": 5},
                cert=GRADEBOOK_DATA).status_code == 201
    assert len(get(emu, f"gradebooks/{number}/assignments").json()) == 5


def test_new_assignment_goes_to_linked_gradebooks_too():
    district = generate_district(120, seed=5)
    by_teacher: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for gradebook in district.gradebooks:
        by_teacher.setdefault((gradebook["SchoolCode"], gradebook["TeacherNumber"]), []).append(gradebook)
    first, second, third = next(g for g in by_teacher.values() if len(g) >= 3)[:3]
    first["LinkedGroup"] = second["LinkedGroup"] = 7
    with EmulatorServer(district, CERTS, access_log=False) as srv:
        created = post(srv, f"gradebooks/{first['GradebookNumber']}/Assignments",
                       {"Description": "Shared quiz", "PointsPossible": 10}).json()
        assert [(a["GradebookNumber"], a["AssignmentNumber"]) for a in created] == [
            (first["GradebookNumber"], 3), (second["GradebookNumber"], 3)]
        assert len(get(srv, f"gradebooks/{third['GradebookNumber']}/assignments").json()) == 2
        alone = post(srv, f"gradebooks/{first['GradebookNumber']}/Assignments",
                     {"Description": "Only here", "PointsPossible": 10, "CreateInLinkedGradebooksToo": False}).json()
        assert [a["GradebookNumber"] for a in alone] == [first["GradebookNumber"]]


def test_push_scores(emu, district):
    gradebook, students = gradebook_with_students(district)
    number = gradebook["GradebookNumber"]
    path = f"gradebooks/{number}/assignments/2/Scores"
    response = post(emu, path, [{"StudentID": students[1], "NumberCorrect": 30.5},
                                 {"StudentID": students[0], "NumberCorrect": "40", "DateCompleted": "2026/09/15"}])
    assert response.status_code == 200, response.text
    scores = response.json()
    assert scores == [
        {"GradebookNumber": number, "AssignmentNumber": 2, "StudentID": students[0], "Mark": "40", "NumberCorrect": 40,
         "NumberCorrectPossible": 40, "PointsEarned": 100, "PointsPossible": 100, "PercentCorrect": 100,
         "DateCompleted": "2026-09-15T00:00:00", "IsMissing": False},
        {"GradebookNumber": number, "AssignmentNumber": 2, "StudentID": students[1], "Mark": "30.5",
         "NumberCorrect": 30.5, "NumberCorrectPossible": 40, "PointsEarned": 76.25, "PointsPossible": 100,
         "PercentCorrect": 76.25, "DateCompleted": district.assignments[[a["GradebookNumber"] for a in
                                                                           district.assignments].index(number) + 1]["DateDue"],
         "IsMissing": False},
    ]
    assert get(emu, f"gradebooks/{number}/assignments/2/scores").json() == scores
    assert get(emu, f"gradebooks/{number}/assignments/2/scores/{students[1]}").json() == [scores[1]]
    # a second push updates, and the answer is every score of the assignment
    again = post(emu, path, [{"StudentID": students[1], "NumberCorrect": 0}]).json()
    assert [(s["StudentID"], s["Mark"], s["PointsEarned"]) for s in again] == [(students[0], "40", 100),
                                                                                (students[1], "0", 0)]
    unique_id = next(a["UniqueID"] for a in district.assignments if (a["GradebookNumber"], a["AssignmentNumber"]) == (number, 1))
    by_uid = post(emu, f"gradebooks/assignments/{unique_id}/Scores", [{"StudentID": students[2], "NumberCorrect": 9.12345}])
    assert by_uid.status_code == 200 and by_uid.json()[0]["NumberCorrect"] == 9.1235
    assert get(emu, f"gradebooks/{number}/assignments/1/scores").json() == by_uid.json()


def test_score_rows_are_all_or_nothing(emu, district):
    gradebook, students = gradebook_with_students(district)
    number = gradebook["GradebookNumber"]
    path = f"gradebooks/{number}/assignments/1/Scores"
    before = get(emu, f"gradebooks/{number}/assignments/1/scores").json()
    outsider = next(s["StudentID"] for s in district.students if s["StudentID"] not in students)
    cases = [
        ([{"StudentID": students[0], "NumberCorrect": 5}, {"StudentID": outsider, "NumberCorrect": 5}],
         f"Row 2: student {outsider} is not in gradebook {number}."),
        ([{"StudentID": students[0], "NumberCorrect": 11}],
         f"Row 1: NumberCorrect 11 for student {students[0]} is outside 0 to 10 (NumberCorrectPossible of assignment 1)."),
        ([{"StudentID": students[0], "NumberCorrect": -0.5}],
         f"Row 1: NumberCorrect -0.5 for student {students[0]} is outside 0 to 10 (NumberCorrectPossible of assignment 1)."),
        ([{"StudentID": students[0], "NumberCorrect": "A+"}], "Row 1: NumberCorrect 'A+' is not a number."),
        ([{"StudentID": students[0], "NumberCorrect": True}], "Row 1: NumberCorrect 'true' is not a number."),
        ([{"StudentID": students[0]}], "Row 1: NumberCorrect is required."),
        ([{"PermanentID": students[0], "NumberCorrect": 5}], "Row 1: StudentID is required."),
        ([{"StudentID": "x1", "NumberCorrect": 5}], "Row 1: StudentID 'x1' is not a whole number."),
        ([{"StudentID": students[0], "NumberCorrect": 5}, {"StudentID": students[0], "NumberCorrect": 6}],
         f"Row 2: student {students[0]} appears more than once in this request."),
        ([{"StudentID": students[0], "NumberCorrect": 5, "DateCompleted": "yesterday"}],
         "Row 1: DateCompleted 'yesterday' is not a valid date."),
        ([{"StudentID": students[0], "StandardScores": [{"AeriesStandardID": "x", "NumberCorrect": 1}]}],
         "Row 1: StandardScores cannot be used: assignment 1 does not use Input Scores By Standard."),
        ([5], "Row 1: each score must be a JSON object."),
        ({"StudentID": students[0], "NumberCorrect": 5}, "The request body must be a JSON array of AssignmentScoreUpdate objects."),
    ]
    for body, message in cases:
        assert_error(post(emu, path, body), 400, message)
    assert get(emu, f"gradebooks/{number}/assignments/1/scores").json() == before
    assert_error(post(emu, f"gradebooks/{number}/assignments/99/Scores", []), 404,
                 f"Assignment 99 was not found in gradebook {number}")
    assert_error(post(emu, "gradebooks/1/assignments/1/Scores", []), 404, "Gradebook 1 was not found")
    assert_error(post(emu, "gradebooks/assignments/NOPE/Scores", []), 404, "Assignment NOPE was not found")
    ok = [{"StudentID": students[0], "NumberCorrect": 5}]
    assert_error(post(emu, path, ok, cert=READER), 403, "The certificate does not have access to Gradebook Scores - Update")
    assert_error(post(emu, path, ok, cert=GRADEBOOK_DATA), 403,
                 "The certificate does not have access to Gradebook Scores - Update")
    assert get(emu, f"gradebooks/{number}/assignments/1/scores").json() == before
    assert all(w["status"] >= 400 for w in emu.writes())


# -- course requests (SSS) -------------------------------------------------------------------------------------
def test_course_requests(emu, district):
    student = next(s for s in district.students if s["SchoolCode"] == 300 and s["Grade"] == 10)
    sid, sn = student["StudentID"], student["StudentNumber"]
    response = post(emu, f"schools/300/students/{sid}/courserequests", {"CourseID": "0090"})
    assert response.status_code == 201, response.text
    first = response.json()
    assert first == {"StudentID": sid, "AlternateCourseRequests": [], "ActualPrimaryCourseID": "", "SchoolCode": 300,
                     "SequenceNumber": 1, "SectionNumber": 0, "CourseID": "0090", "PreferredTeacherNumber": 0,
                     "PreferredStaffID": 0, "RejectCode": "", "AlternateTag": "", "PermanentLockCode": ""}
    # school 300 is the generated Flex school: no teacher (TCH) records, its teachers are staff members
    staff_id = next(s for s in district.sections if s["SchoolCode"] == 300)["SectionStaffMembers"][0]["StaffID"]
    second = post(emu, f"schools/300/students/{sid}/courserequests", {
        "CourseID": "0091", "PreferredStaffID": staff_id, "AlternateTag": "x", "ActualPrimaryCourseID": "0090"}).json()
    assert (second["SequenceNumber"], second["AlternateTag"], second["ActualPrimaryCourseID"]) == (2, "X", "0090")
    assert (second["PreferredStaffID"], second["PreferredTeacherNumber"]) == (staff_id, 0)
    assert get(emu, f"schools/300/students/{sid}/courserequests").json() == [first, second]
    assert get(emu, f"schools/300/students/{sid}/courserequests/2").json() == second
    assert get(emu, f"schools/300/students/sn/{sn}/courserequests").json() == [first, second]
    assert get(emu, f"schools/300/students/sn/{sn}/courserequests/1").json() == first
    school_list = get(emu, "schools/300/scheduling/courserequests").json()
    assert first in school_list and second in school_list
    assert_error(get(emu, f"schools/300/students/{sid}/courserequests/9"), 404,
                 f"Course request 9 was not found for student {sid} at school 300")
    assert_error(post(emu, f"schools/300/students/{sid}/courserequests", {"CourseID": "0090"}), 400,
                 f"Student {sid} already has a request for course '0090' at school 300 (sequence 1).")
    inactive = next(c["ID"] for c in district.courses if c["InactiveStatusCode"] != " ")
    section = next(s for s in district.sections if s["SchoolCode"] == 300 and s["CourseID"] != "0092")
    for body, message in [
        ({}, "Course ID is required."),
        ({"CourseID": " "}, "Course ID is required."),
        ({"CourseID": 1}, "Course ID '1' was not found."),
        ({"CourseID": "1234567"}, "Course ID must be 6 characters or fewer."),
        ({"CourseID": inactive}, f"Course ID '{inactive}' is inactive."),
        ({"CourseID": "0092", "SequenceNumber": 1}, f"Sequence number 1 already exists for student {sid} at school 300."),
        ({"CourseID": "0092", "SectionNumber": 9999}, "Section 9999 was not found at school 300."),
        ({"CourseID": "0092", "SectionNumber": section["SectionNumber"]},
         f"Section {section['SectionNumber']} is course '{section['CourseID']}', not '0092'."),
        ({"CourseID": "0092", "PreferredTeacherNumber": 999}, "Teacher 999 was not found at school 300."),
        ({"CourseID": "0092", "PreferredStaffID": 5}, "Staff 5 was not found."),
        ({"CourseID": "0092", "AlternateTag": "Y"}, "AlternateTag must be blank or X."),
        ({"CourseID": "0092", "AlternateCourseRequestReferences": [1]},
         f"Alternate course request 1 was not found for student {sid}."),
        ([{"CourseID": "0092"}], "The request body must be a JSON object (a StudentCourseRequestUpdate)."),
    ]:
        assert_error(post(emu, f"schools/300/students/{sid}/courserequests", body), 400, message)
    assert len(get(emu, f"schools/300/students/{sid}/courserequests").json()) == 2
    other_school = next(s["StudentID"] for s in district.students if s["SchoolCode"] == 100)
    assert_error(post(emu, f"schools/300/students/{other_school}/courserequests", {"CourseID": "0090"}), 404,
                 f"Student {other_school} was not found at school 300")
    assert_error(post(emu, f"schools/999/students/{sid}/courserequests", {"CourseID": "0090"}), 404,
                 "School 999 was not found")
    assert_error(post(emu, f"schools/300/students/{sid}/courserequests", {"CourseID": "0093"}, cert=READER), 403,
                 "The certificate does not have access to Student Scheduling Schedules (Course Requests) - Insert")
    assert_error(get(emu, f"schools/300/students/{sid}/courserequests", cert=INSERT_ONLY), 403,
                 "The certificate does not have access to Student Scheduling Schedules (Course Requests)")


# -- the writes log ------------------------------------------------------------------------------------------------
def test_writes_log_records_every_write_with_its_status(emu):
    emu.clear_writes()
    ok = post(emu, "schools/100/InsertStudent", new_student(LastName="Logged"))
    post(emu, "schools/100/InsertStudent", new_student(Grade=12))
    post(emu, "schools/100/InsertStudent", new_student(), cert=READER)
    get(emu, "schools/100/students")
    post(emu, "schools/100/students", {"x": 1})  # a read route: 405
    call(emu, "DELETE", "UpdateStudent/1")  # no such route: 404
    post(emu, "schools/100/InsertStudent", raw=b"not json")
    control = requests.get(f"{emu.url}/__emulator__/writes", timeout=5, proxies=NO_PROXY)
    assert control.status_code == 200
    log = control.json()
    assert log == emu.writes()
    assert [(w["seq"], w["method"], w["route"], w["cert"], w["status"]) for w in log] == [
        (1, "POST", "InsertStudent", "writer", 200),
        (2, "POST", "InsertStudent", "writer", 400),
        (3, "POST", "InsertStudent", "reader", 403),
        (4, "POST", "students", "-", 405),
        (5, "DELETE", None, "-", 404),
        (6, "POST", "InsertStudent", "writer", 400),
    ]
    assert log[0]["path"] == "/aeries/api/v5/schools/100/InsertStudent"
    assert log[0]["body"] == new_student(LastName="Logged") and log[5]["body"] == "not json"
    assert all(w["fault"] is None and w["time"] for w in log)
    # "never written twice": one successful InsertStudent for this student
    inserted = [w for w in log if w["route"] == "InsertStudent" and w["status"] < 300]
    assert [w["body"]["LastName"] for w in inserted] == ["Logged"] and ok.status_code == 200
    cleared = requests.delete(f"{emu.url}/__emulator__/writes", timeout=5, proxies=NO_PROXY)
    assert cleared.json() == {"cleared": 6}
    assert requests.get(f"{emu.url}/__emulator__/writes", timeout=5, proxies=NO_PROXY).json() == []
    assert requests.put(f"{emu.url}/__emulator__/writes", json={}, timeout=5, proxies=NO_PROXY).status_code == 405


def test_faults_on_writes(emu):
    before = len(get(emu, "schools/100/students").json())
    emu.faults.configure(FaultConfig(rates={"500": 1.0}, max_faults=1, path_pattern="InsertStudent"))
    assert post(emu, "schools/100/InsertStudent", new_student(LastName="Faulted")).status_code == 500
    assert len(get(emu, "schools/100/students").json()) == before  # nothing written
    emu.faults.configure(FaultConfig(rates={"truncate": 1.0}, max_faults=1, path_pattern="InsertStudent"))
    truncated = post(emu, "schools/100/InsertStudent", new_student(LastName="Truncated"))
    assert truncated.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(truncated.text)
    students = get(emu, "schools/100/students").json()
    assert len(students) == before + 1 and students[-1]["LastName"] == "Truncated"  # the write happened
    assert [(w["status"], w["fault"], w["body"]["LastName"]) for w in emu.writes()] == [
        (500, "500", "Faulted"), (200, "truncate", "Truncated")]
    stats = emu.stats()
    assert stats["by_route"]["InsertStudent"] >= 2


def test_writes_never_change_the_started_district(emu, district, pristine):
    assert district == pristine


# -- the generated gradebooks --------------------------------------------------------------------------------------
def test_generated_gradebooks(district):
    active = {(s["SchoolCode"], s["SectionNumber"]): s for s in district.sections if s["InactiveStatusCode"] == " "}
    sections = [(g["Sections"][0]["SchoolCode"], g["Sections"][0]["SectionNumber"]) for g in district.gradebooks]
    assert sorted(sections) == sorted(active) and len(set(sections)) == len(sections)
    numbers = [g["GradebookNumber"] for g in district.gradebooks]
    assert numbers == list(range(4400001, 4400001 + len(numbers)))
    teachers = {(t["SchoolCode"], t["TeacherNumber"]): t for t in district.teachers}
    flex = {s["SchoolCode"] for s in district.schools if s["ScheduleType"] == "Flexible"}
    for gradebook, key in zip(district.gradebooks, sections):
        section = active[key]
        primary = next(m for m in section["SectionStaffMembers"] if m["IsPrimaryTeacher"])
        if gradebook["SchoolCode"] in flex:  # no teacher records there: the owner's name is the primary member's
            assert gradebook["TeacherName"].startswith(primary["LastName"])
            continue
        assert teachers[(gradebook["SchoolCode"], gradebook["TeacherNumber"])]["StaffID1"] == primary["StaffID"]
        assert gradebook["Terms"] and all(t["Code"] != "Y" for t in gradebook["Terms"])
    per_gradebook = Counter(a["GradebookNumber"] for a in district.assignments)
    assert set(per_gradebook.values()) == {2} and set(per_gradebook) == set(numbers)
    assert len({a["UniqueID"] for a in district.assignments}) == len(district.assignments)
    assert district.assignment_scores == [] and district.course_requests == []


def test_field_level_security_ignores_denied_fields_without_an_error(emu, district):
    """Aeries' field level security (support article 14000068040) denies single fields; the write goes through
    and the denied fields are not stored, as if they had not been sent."""
    inserted = post(emu, "schools/100/InsertStudent",
                    new_student(StateStudentID="9876543210", Race1Code="700", MiddleName="Ngozi"), cert=FIELD_DENIED)
    assert inserted.status_code == 200, inserted.text
    student = inserted.json()
    assert (student["StateStudentID"], student["RaceCode1"], student["MiddleName"]) == ("", "", "Ngozi")
    contact = post(emu, f"InsertContact/{student['StudentID']}",
                   {"FirstName": "Chidi", "LastName": "Okafor", "EmailAddress": "chidi@example.org", "CellPhone": "5551234567"},
                   cert=FIELD_DENIED)
    assert contact.status_code == 200, contact.text
    assert (contact.json()["EmailAddress"], contact.json()["CellPhone"]) == ("", "5551234567")
    updated = post(emu, f"UpdateStudent/{student['StudentID']}", {"RaceCode1": "700", "LastName": "Okafor-Eze"},
                   cert=FIELD_DENIED)
    assert [(r["RaceCode1"], r["LastName"]) for r in updated.json()] == [("", "Okafor-Eze")]
    assert [w.get("ignored_fields") for w in emu.writes()] == [["StateStudentID", "Race1Code"], ["EmailAddress"],
                                                               ["RaceCode1"]]
    # the writer certificate, without field level security, stores them
    other = post(emu, "schools/100/InsertStudent", new_student(StateStudentID="9876543211"), cert=WRITER).json()
    assert other["StateStudentID"] == "9876543211"
