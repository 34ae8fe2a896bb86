"""Staff records: teachers' staff records (made with their teacher records), principals, office and district
staff, some inactive."""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

from aeries_sandbox.emulator.generator.aeries_shapes import shape_staff_like_aeries
from aeries_sandbox.emulator.generator.state import (
    DATABASE_YEAR,
    DOMAIN,
    LAST,
    MIDDLE,
    SCHOOL_YEAR_START,
    GeneratorState,
    aeries_date,
    ascii_lower,
)

__all__ = ["new_staff", "finish_staff"]


def new_staff(gen: GeneratorState, title: str, school: int, *, teacher: bool = False) -> dict[str, Any]:
    rng = gen.rng
    gender = "F" if rng.random() < 0.6 else "M"
    first = gen.first_name(gender)
    last = rng.choice(LAST)
    user = gen.unique(gen.user_names, f"{ascii_lower(first)[:1]}{ascii_lower(last)}")
    email = gen.unique(gen.emails, f"{ascii_lower(first)}.{ascii_lower(last)}") + f"@{DOMAIN}"
    hire = date(rng.randint(1994, DATABASE_YEAR), 8, rng.randint(1, 20))
    staff = {
        "ID": None,
        "FirstName": first,
        "LastName": last,
        "MiddleName": rng.choice(MIDDLE) if rng.random() < 0.3 else "",
        "NameSuffix": " ",
        "BirthDate": aeries_date(date(rng.randint(1960, 2002), rng.randint(1, 12), rng.randint(1, 28))),
        "Gender": gender,
        "FullTimePercentage": 100 if rng.random() < 0.9 else rng.choice((50, 60, 80)),
        "HireDate": aeries_date(hire),
        "LeaveDate": None,
        "InactiveStatusCode": " ",
        "StateEducatorID": "",
        "UserName": user,
        "EmailAddress": email,
        "PrimaryAeriesSchool": school,
        "NetworkLoginID": user,
        "AlternateEmailAddress": "",
        "HumanResourcesSystemID": f"E{len(gen.staff) + 10001:06d}",
        "Title": title,
        "SchoolAccessPermissions": [{"SchoolCode": school, "ReadOnlyAccess": not teacher and title != "Principal",
                                     "CommunicationGroup": True}],
    }
    gen.staff.append(staff)
    return staff


def finish_staff(gen: GeneratorState) -> None:
    rng = gen.rng
    n_teacher_staff = len(gen.staff)
    regular = sorted(gen.school_kind)
    for school in regular:
        principal = new_staff(gen, "Principal", school)
        record = gen.school_by_code[school]
        record["PrincipalName"] = f"{principal['FirstName']} {principal['LastName']}"
        record["PrincipalEmailAddress"] = principal["EmailAddress"]
        new_staff(gen, "Office Manager", school)
        if gen.school_kind[school] in ("middle", "high"):
            new_staff(gen, "Counselor", school)
    for title in ("Superintendent", "Director of Technology", "Data Specialist", "Payroll Specialist"):
        new_staff(gen, title, 0)
    target = max(math.ceil(gen.size / gen.shape.students_per_staff), len(gen.staff))
    titles = ("Instructional Aide", "Campus Supervisor", "Librarian", "Nurse", "Custodian",
              "Speech Therapist", "Psychologist", "Program Specialist")
    while len(gen.staff) < target:
        school = 0 if rng.random() < 0.15 else regular[rng.randrange(len(regular))]
        new_staff(gen, rng.choice(titles), school)
    non_teachers = gen.staff[n_teacher_staff:]
    inactive = [s for s in non_teachers if s["Title"] not in ("Principal", "Superintendent")]
    picked = rng.sample(inactive, max(1, round(len(inactive) * 0.04)))
    for staff in picked:
        staff["InactiveStatusCode"] = "I"
        staff["LeaveDate"] = aeries_date(SCHOOL_YEAR_START - timedelta(days=rng.randint(30, 900)))
    for staff in non_teachers:
        if staff["PrimaryAeriesSchool"] == 0:
            staff["SchoolAccessPermissions"] = [
                {"SchoolCode": 0, "ReadOnlyAccess": False, "CommunicationGroup": False}
            ]
    ids = rng.sample(range(100000, max(1000000, 100000 + len(gen.staff) * 3)), len(gen.staff))
    educator_ids = rng.sample(range(10**9, 10**10), len(gen.staff))
    for staff, staff_id, educator_id in zip(gen.staff, ids, educator_ids):
        staff["ID"] = staff_id
        if staff["Title"] in ("Teacher", "Principal", "Counselor", "Librarian", "Speech Therapist", "Psychologist"):
            staff["StateEducatorID"] = str(educator_id)
    for teacher, staff in gen.teacher_staff:
        teacher["StaffID1"] = staff["ID"]
    for item, staff in gen.member_staff:
        item["StaffID"] = staff["ID"]
    shape_staff_like_aeries(gen)
