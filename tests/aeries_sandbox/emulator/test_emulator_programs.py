"""Student programs as the emulator serves and generates them (README, "Student programs").

Aeries documents ``GET schools/{SchoolCode}/students/{StudentID}/programs`` with security area "Student
Programs", StudentID 0 for every student of the school (support article 14000113683, Programs); Aeries'
PowerShell client narrows it with ``?code=`` (AeriesSoftware/Posh-AeriesApi Get-AeriesStudentProgram). The
record shape is the demo server's (github derekpovah/aeries-api spec/support/fixtures/student_programs.json).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import requests

from aeries_sandbox.emulator import EmulatorServer, generate_district
from aeries_sandbox.emulator.district import District

DEMO_FIELDS = ["ExtendedProperties", "StudentID", "ProgramCode", "ProgramDescription", "EligibilityStartDate",
               "EligibilityEndDate", "ParticipationStartDate", "ParticipationEndDate"]
#: The order Aeries lists a student's programs in: GATE, 504, special education, meals, then PGM programs.
AERIES_ORDER = {"127": 0, "101": 1, "144": 2, "181": 3, "182": 3, "190": 4}


def school_of_many(district) -> tuple[int, list[int]]:
    """The school with most students, and its StudentIDs in order (two records of one student count once)."""
    school = Counter(s["SchoolCode"] for s in district.students).most_common(1)[0][0]
    return school, sorted({s["StudentID"] for s in district.students if s["SchoolCode"] == school})


def test_student_zero_answers_the_programs_of_every_student_of_the_school(get, district):
    school, students = school_of_many(district)
    expected = [row for sid in students for row in district.programs if row["StudentID"] == sid]

    answer = get(f"schools/{school}/students/0/programs")

    assert answer.status_code == 200
    assert answer.json() == expected and len(expected) > 20
    assert get("schools/4242/students/0/programs").json() == []


def test_a_student_id_answers_that_students_programs_narrowed_by_code(get, district):
    sid = next(row["StudentID"] for row in district.programs if row["ProgramCode"] == "144")
    school = next(s["SchoolCode"] for s in district.students if s["StudentID"] == sid)
    mine = [row for row in district.programs if row["StudentID"] == sid]

    assert get(f"schools/{school}/students/{sid}/programs").json() == mine
    assert get(f"schools/{school}/Students/{sid}/Programs", code="144").json() == [
        row for row in mine if row["ProgramCode"] == "144"]
    assert get(f"schools/{school}/students/{sid}/programs", code="999").json() == []
    assert get(f"schools/{school}/students/x/programs").status_code == 404


def test_programs_need_the_student_programs_area(get, district, schools_only_cert):
    answer = get(f"schools/{district.students[0]['SchoolCode']}/students/0/programs", cert=schools_only_cert)

    assert answer.status_code == 403
    assert answer.json() == {"Message": "The certificate does not have access to Student Programs"}


def test_generated_programs_have_the_demo_servers_shape_and_a_districts_shares():
    district = generate_district(3000, 11)
    students = {s["StudentID"] for s in district.students}
    holders = {code: {r["StudentID"] for r in district.programs if r["ProgramCode"] == code}
               for code in AERIES_ORDER}

    assert all(list(row) == DEMO_FIELDS for row in district.programs)
    assert 0.11 <= len(holders["144"]) / len(students) <= 0.15  # special education, 12.8% statewide
    assert 0.45 <= len(holders["181"] | holders["182"]) / len(students) <= 0.62  # free or reduced-price meals
    assert 0.02 <= len(holders["101"]) / len(students) <= 0.05
    assert holders["190"] and holders["127"]
    by_student: dict[int, list[dict]] = {}
    for row in district.programs:
        by_student.setdefault(row["StudentID"], []).append(row)
    for rows in by_student.values():
        assert [AERIES_ORDER[r["ProgramCode"]] for r in rows] == sorted(AERIES_ORDER[r["ProgramCode"]] for r in rows)
    special = [r for r in district.programs if r["ProgramCode"] == "144"]
    assert all(r["ParticipationStartDate"] is None and r["ParticipationEndDate"] is None for r in special)
    assert all([p["Name"] for p in r["ExtendedProperties"]] == [
        "DisabilityCode", "DisabilityCodeDescription", "DisabilityCode2", "DisabilityCode2Description",
        "ParentalConsentDate"] for r in special)
    assert any(r["EligibilityEndDate"] for r in special)  # an exit
    assert any(r["ParticipationEndDate"] for r in district.programs if r["ProgramCode"] == "101")  # an ended plan
    assert any(r["EligibilityEndDate"] and r["EligibilityEndDate"] < r["EligibilityStartDate"]
               for r in district.programs if r["ProgramCode"] == "181")  # ends the day before it starts
    assert {r["ProgramDescription"] for r in district.programs} == {
        "Gifted and Talented Education (GATE)", "504 Accommodation Plan", "Special Education",
        "NSLP Free Meal Program", "NSLP Reduced-Price Meal Program", "Foster Program"}


def test_the_demo_servers_captured_programs_are_served_as_captured(certs, full_cert):
    """The real-district fixture's programs.json is the demo server's answer for student 99400001."""
    data_dir = Path(__file__).parents[2] / "fixtures" / "real_district"
    captured = json.loads((data_dir / "programs.json").read_text())
    with EmulatorServer(District.load(data_dir), certs, access_log=False) as server:
        def get(path: str) -> list:
            return requests.get(f"{server.url}/api/v5/{path}", headers={"AERIES-CERT": full_cert}, timeout=10,
                                proxies={"http": "", "https": ""}).json()

        assert get("schools/994/students/99400001/programs") == captured
        assert get("schools/994/students/0/programs") == captured  # no other student of 994 has a program
    assert [row["ProgramCode"] for row in captured] == ["127", "101", "144", "181", "181", "181", "122", "153", "190"]
