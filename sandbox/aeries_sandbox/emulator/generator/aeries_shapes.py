"""The realistic oddities: student and staff records as the Aeries demo server serves them (every field, in its
order, with its conventions), names with a line break, shared placeholder e-mails, teachers without a first name.

Each part draws from its own RNG, after every other draw, so that no other table and no count changes."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from aeries_sandbox.emulator.district import blank_student
from aeries_sandbox.emulator.generator.state import DATABASE_YEAR, LAST, MIDDLE, GeneratorState

__all__ = ["shape_students_like_aeries", "shape_staff_like_aeries", "PLACEHOLDER_EMAIL"]


def shape_students_like_aeries(gen: GeneratorState) -> None:
    """Student records as the Aeries demo server serves them (emulator README, "Students as Aeries serves
    them"): the 77 fields of a captured record in its order, with its conventions (an active student's
    ``InactiveStatusCode`` is ``""``), and a few students whose name holds a line break (``"\\r\\n"`` or
    ``"\\n"``), the first an active high-school student with classes.

    From its own RNG, after every other draw, so that no other table and no count changes."""
    rng = random.Random(f"{gen.seed}:student-shapes")
    for record in gen.students:
        full = _full_student_record(record, rng)
        record.clear()
        record.update(full)
    high = [p for p in gen.persons
            if p["status"] == " " and gen.school_kind[p["enrollments"][0]["SchoolCode"]] == "high"]
    first = [rng.choice(high)] if high else []
    others = [p for p in gen.persons if p not in first]
    wanted = max(len(LINE_BREAK_NAMES), round(gen.size * 0.002))
    chosen = first + rng.sample(others, min(len(others), wanted - len(first)))
    for n, person in enumerate(chosen):
        name, shape = LINE_BREAK_NAMES[n % len(LINE_BREAK_NAMES)]
        broken = shape(person["enrollments"][0][name], rng)
        for record in person["enrollments"]:  # a student enrolled at two schools has one name
            record[name] = broken


def shape_staff_like_aeries(gen: GeneratorState) -> None:
    """Staff and teacher records as the Aeries demo server serves them (emulator README, "Staff"): the full
    field set of a staff record, placeholder e-mails shared by many staff, and teachers whose first name is
    blank on both the staff and the teacher record (one of them a service account that teaches sections).

    From its own RNG, after every other draw, so that no other table and no count changes."""
    rng = random.Random(f"{gen.seed}:staff-shapes")
    for staff in gen.staff:
        full = _full_staff_record(staff, rng)
        staff.clear()
        staff.update(full)
    teaching = {}  # (SchoolCode, StaffID) with an active section -> the (teacher, staff) pair
    for section in gen.sections:
        if section["InactiveStatusCode"] == " ":
            for item in section["SectionStaffMembers"]:
                teaching.setdefault((section["SchoolCode"], item["StaffID"]), None)
    records_of_staff = Counter(id(st) for _, st in gen.teacher_staff)
    pairs = [(t, st) for t, st in gen.teacher_staff
             if (t["SchoolCode"], st["ID"]) in teaching and t["FirstName"] and st["FirstName"]
             and records_of_staff[id(st)] == 1]
    pairs.sort(key=lambda pair: (pair[0]["SchoolCode"], pair[0]["TeacherNumber"]))
    blank_first = rng.sample(pairs, min(len(pairs), max(2, round(len(gen.teachers) * 0.04))))
    for n, (teacher, staff) in enumerate(blank_first):
        staff["FirstName"] = teacher["FirstName"] = ""
        if n == 0:  # a service account that owns sections: no person behind it
            staff.update({"LastName": "Staff", "MiddleName": "", "Gender": "", "BirthDate": None, "BirthYear": 0,
                          "HumanResourcesSystemID": "", "StateEducatorID": "", "EmailAddress": PLACEHOLDER_EMAIL})
            teacher.update({"LastName": "Staff", "EmailAddress": PLACEHOLDER_EMAIL})
        teacher["DisplayName"] = teacher["LastName"]
    # Placeholder e-mails: at least two teachers of one school, then about 8% of the other staff
    picked = {id(st) for _, st in blank_first}
    rest = [pair for pair in pairs if id(pair[1]) not in picked]
    by_school: dict[int, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for pair in rest:
        by_school.setdefault(pair[0]["SchoolCode"], []).append(pair)
    shared = next((group[:2] for _, group in sorted(by_school.items()) if len(group) >= 2), [])
    for teacher, staff in shared:
        staff["EmailAddress"] = teacher["EmailAddress"] = PLACEHOLDER_EMAIL
    others = [st for st in gen.staff if st["EmailAddress"] and st["Title"] != "Principal"
              and st["EmailAddress"] != PLACEHOLDER_EMAIL]
    for staff in rng.sample(others, round(len(others) * 0.08)):
        staff["EmailAddress"] = rng.choice(PLACEHOLDER_EMAILS)
    teacher_of_staff = {id(st): t for t, st in gen.teacher_staff}
    for staff in gen.staff:
        teacher = teacher_of_staff.get(id(staff))
        if teacher is not None and staff["EmailAddress"] in PLACEHOLDER_EMAILS and teacher["EmailAddress"]:
            teacher["EmailAddress"] = staff["EmailAddress"]
    for item, staff in gen.member_staff:
        item["FirstName"], item["LastName"] = staff["FirstName"], staff["LastName"]


#: The placeholder e-mails of the Aeries demo server's staff (derekpovah/aeries-api spec/support/fixtures/
#: all_staff.json): many staff share one, whatever their school.
PLACEHOLDER_EMAIL = "NoWhere@aeries.com"
PLACEHOLDER_EMAILS = (PLACEHOLDER_EMAIL, PLACEHOLDER_EMAIL, PLACEHOLDER_EMAIL, "nowhere@aeries.com")

_CERTIFICATED = ("Teacher", "Principal", "Counselor", "Librarian", "Speech Therapist", "Psychologist")


def _full_staff_record(staff: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A staff record with the 46 fields, in the order, of a demo-server staff record (derekpovah/aeries-api
    spec/support/fixtures/staff.json); the generator's values are kept, the others follow the fixture's
    conventions (``" "`` and ``""`` codes, ``0`` years, blank address)."""
    certificated = staff["Title"] in _CERTIFICATED
    born = staff["BirthDate"]
    hired = staff["HireDate"]
    years = max(0, DATABASE_YEAR - int(hired[:4])) if hired else 0
    return {
        "SchoolAccessPermissions": staff["SchoolAccessPermissions"],
        "ExtendedProperties": [],
        "EarlyChildhoodCertificationCode": "",
        "Gender": staff["Gender"],
        "EducationLevelCode": rng.choice(("2", "4", "5", "6", " ")) if certificated else " ",
        "EthnicityCode": rng.choice(("N", "N", "Y", "")),
        "RaceCode1": rng.choice(("700", "700", "600", "")),
        "RaceCode2": "", "RaceCode3": "", "RaceCode4": "", "RaceCode5": "",
        "PositionStatusCode": rng.choice(("1", "1", "2", " ")),
        "TotalYearsOfEduService": years + (rng.randint(0, 10) if certificated else 0),
        "TotalYearsInThisDistrict": years,
        "PreviousLastName": "", "PreviousFirstName": "", "PreviousMiddleName": "",
        "NameSuffix": staff["NameSuffix"],
        "Address": "", "AddressCity": "", "AddressState": rng.choice(("CA", "")), "AddressZipCode": " ",
        "AddressZipExt": " ", "HomePhone": "", "EmergencyContactName": "", "EmergencyContactPhone": "",
        "ID": staff["ID"],
        "FirstName": staff["FirstName"],
        "LastName": staff["LastName"],
        "MiddleName": staff["MiddleName"],
        "BirthYear": int(born[:4]) if born else 0,
        "BirthDate": born,
        "FullTimePercentage": staff["FullTimePercentage"],
        "HireDate": hired,
        "LeaveDate": staff["LeaveDate"],
        "InactiveStatusCode": staff["InactiveStatusCode"],
        "StateEducatorID": staff["StateEducatorID"],
        "UserName": staff["UserName"],
        "EmailAddress": staff["EmailAddress"],
        "PrimaryAeriesSchool": staff["PrimaryAeriesSchool"],
        "NetworkLoginID": staff["NetworkLoginID"],
        "AlternateEmailAddress": staff["AlternateEmailAddress"],
        "HumanResourcesSystemID": staff["HumanResourcesSystemID"],
        "CellPhone": "",
        "NotificationPreferenceCode": "1",
        "Title": staff["Title"],
    }


#: The names of a few generated students hold a line break (README, "Students as Aeries serves them"): which field,
#: and how its value is broken. A name typed on two lines, or pasted with the line break that ended it.
LINE_BREAK_NAMES = (
    ("FirstName", lambda value, rng: f"{value}\r\n{rng.choice(MIDDLE)}"),
    ("LastName", lambda value, rng: f"{value}\r\n"),
    ("LastName", lambda value, rng: f"{value}\n{rng.choice(LAST)}"),
    ("ParentGuardianName", lambda value, rng: f"{value}\r\n"),
)

#: Aeries' grade level descriptions (short, long): 9-13 as the demo server's students have them (derekpovah/aeries-api
#: spec/support/fixtures/students.json), the others in the same pattern (the capture has no student below grade 9).
GRADE_LEVELS = {
    -2: ("PS", "Preschool"), -1: ("TK", "Transitional Kindergarten"), 0: ("K", "Kindergarten"),
    1: ("1", "First Grade"), 2: ("2", "Second Grade"), 3: ("3", "Third Grade"), 4: ("4", "Fourth Grade"),
    5: ("5", "Fifth Grade"), 6: ("6", "Sixth Grade"), 7: ("7", "Seventh Grade"), 8: ("8", "Eighth Grade"),
    9: ("9", "Ninth Grade"), 10: ("10", "Tenth Grade"), 11: ("11", "Eleventh Grade"), 12: ("12", "Twelfth Grade"),
    13: ("13", "Reserved for Graduating Seniors"),
}


def _full_student_record(student: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A student record with the fields, in the order, of a demo-server student record (``blank_student``); the
    generator's values are kept, the others follow the capture's conventions (``""`` codes and ZIP extensions,
    ``UserCode1``-``13`` mostly blank, ``AtRiskPoints`` as text with four decimals, scheduling periods 0-9). An
    active student's ``InactiveStatusCode`` is ``""``, as on every captured student. The capture has no
    ``StudentPersonalEmailAddress``: a generated student has none either."""
    record = blank_student()
    record.update({name: value for name, value in student.items() if name in record})
    short, long = GRADE_LEVELS[student["Grade"]]
    next_short, next_long = GRADE_LEVELS[student["NextGrade"]]
    record.update({
        "GradeLevelShortDescription": short, "GradeLevelLongDescription": long,
        "NextGradeLevelShortDescription": next_short, "NextGradeLevelLongDescription": next_long,
        "AddressVerified": rng.random() < 0.2,
        "UserCode1": "R" if rng.random() < 0.1 else "", "UserCode2": "6" if rng.random() < 0.05 else "",
        "UserCode4": rng.choice(("Y", "Y", "N", "")), "UserCode6": rng.choice(("", "", "B", "G")),
        "UserCode7": rng.choice(("", "", "C", "L")), "UserCode9": rng.choice(("Y", "N")),
        "LowSchedulingPeriod": 0, "HighSchedulingPeriod": 9,
        "InactiveStatusCode": student["InactiveStatusCode"].strip(),
        "ParentEdLevelCode": rng.choice(("10", "11", "12", "13", "14")),
        "AtRiskPoints": f"{rng.choice((0, rng.randint(1, 30)))}.0000",
    })
    return record
