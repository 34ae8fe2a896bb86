"""Students: families, one record per student per school, the awkward names, statuses and dates of a real district."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from aeries_sandbox.emulator.generator.state import (
    CITY,
    DATABASE_YEAR,
    LANGUAGES,
    LAST,
    MIDDLE,
    RACE_CODES,
    RELATIONSHIPS_OTHER,
    SCHOOL_YEAR_START,
    SECOND_SEMESTER,
    STATE,
    STUDENT_DOMAIN,
    GeneratorState,
    aeries_date,
    ascii_lower,
)

__all__ = ["make_students", "enroll"]


def new_family(gen: GeneratorState, last: str | None = None) -> dict[str, Any]:
    rng = gen.rng
    last = last or rng.choice(LAST)
    street, zip_code = gen.address()
    n_guardians = 1 if rng.random() < 0.3 else 2 if rng.random() < 0.8 else 3
    guardians = []
    for number in range(n_guardians):
        gender = "F" if (number == 0) == (rng.random() < 0.7) else "M"
        if number < 2:
            relation = "10" if gender == "F" else "11"
            if rng.random() < 0.1:
                relation = rng.choice(RELATIONSHIPS_OTHER)
        else:
            relation = rng.choice(RELATIONSHIPS_OTHER)
        first = gen.first_name(gender)
        glast = last if rng.random() < 0.8 else rng.choice(LAST)
        email = "" if rng.random() < 0.15 else f"{ascii_lower(first)}.{ascii_lower(glast)}{rng.randint(1, 999)}@example.com"
        guardians.append({
            "FirstName": first, "LastName": glast, "RelationshipToStudentCode": relation, "EmailAddress": email,
            "CellPhone": gen.phone() if rng.random() < 0.85 else "",
            "WorkPhone": gen.phone() if rng.random() < 0.4 else "",
            "LivesWithStudentIndicator": "Y" if number < 2 else "N",
        })
    return {
        "key": len(gen.families) + 1001, "last": last, "street": street, "zip": zip_code, "phone": gen.phone(),
        "guardians": guardians, "language": rng.choice(LANGUAGES),
    }


def make_students(gen: GeneratorState) -> None:
    rng = gen.rng
    size = gen.size
    n6 = size * 2 // 10
    n8 = size * 3 // 10
    ids = (rng.sample(range(100000, 1000000), n6) + rng.sample(range(1000000, 10000000), size - n6 - n8)
           + rng.sample(range(10000000, 100000000), n8))
    rng.shuffle(ids)
    state_ids = rng.sample(range(10**9, 10**10), size)
    grades = list(range(-2, 13))
    weights = [0.2, 0.6] + [1.0] * 13
    gen.families = []
    gen.persons = []
    gen.students = []
    gen.student_numbers = {}
    forced_names = {0: ("LastName", "O'Brien"), 1: ("LastName", "Smith-Jones"), 2: ("FirstName", "José"),
                    3: ("FirstName", "Zoë"), 4: ("LastName", "Nguyễn"), 5: ("LastName", "Garcia, Jr."),
                    6: ("FirstName", " Maria"), 7: ("LastName", "Lee ")}
    elem, middle, high = gen.schools_by_kind["elem"], gen.schools_by_kind["middle"], gen.schools_by_kind["high"]
    cont = gen.schools_by_kind["cont"][0]
    for i in range(size):
        # grade: the first 15 students cover every grade from -2 to 12
        grade = i - 2 if i < 15 else rng.choices(grades, weights)[0]
        if i in (15, 16):  # the continuation school always has students
            grade = 10 + (i - 15)
        if grade <= 5:
            school = elem[rng.randrange(len(elem))]
        elif grade <= 8:
            school = middle[rng.randrange(len(middle))]
        else:
            school = high[rng.randrange(len(high))]
            if (grade >= 10 and rng.random() < 0.05) or i in (15, 16):
                school = cont
        gender = gen.gender()
        if i >= 20 and gen.families and rng.random() < 0.25:
            family = gen.families[-1 - rng.randrange(min(50, len(gen.families)))]
        else:
            family = new_family(gen)
            gen.families.append(family)
        first = gen.first_name(gender)
        last = family["last"]
        if rng.random() < 0.004:
            last = f"{last}, Jr." if gender != "F" else last
        if rng.random() < 0.003:
            first = f" {first}" if rng.random() < 0.5 else f"{first} "
        forced = forced_names.get(i)
        if forced:
            if forced[0] == "FirstName":
                first = forced[1]
                gender = "M" if forced[1] == "José" else "F"
            else:
                last = forced[1]
        status = " "
        r = rng.random()
        if i == 8 or (i > 17 and r < 0.05):
            status = "I"
        elif i == 9 or (i > 17 and r < 0.08):
            status = "P"
        birth_start = date(DATABASE_YEAR - grade - 6, 9, 2)
        birthdate = birth_start + timedelta(days=rng.randrange(365))
        years_in_district = rng.randint(0, max(0, grade + 2))
        low = gen.school_by_code[school]["LowGradeLevel"]
        years_at_school = min(years_in_district, max(0, grade - max(low, -1)))
        district_enter = date(DATABASE_YEAR - years_in_district, 8, rng.randint(10, 20))
        school_enter = date(DATABASE_YEAR - years_at_school, 8, rng.randint(10, 20))
        if years_at_school == 0 and rng.random() < 0.08:  # arrived after the first day
            school_enter = SCHOOL_YEAR_START + timedelta(days=rng.randint(7, 80))
        if years_in_district == years_at_school:
            district_enter = school_enter
        leave = None
        if status == "P":
            school_enter = SECOND_SEMESTER + timedelta(days=rng.randrange(30))
            district_enter = school_enter
        elif status == "I":
            leave = SCHOOL_YEAR_START + timedelta(days=rng.randint(7, 90))
            school_enter = min(school_enter, leave - timedelta(days=1))
            district_enter = min(district_enter, school_enter)
        email_roll = rng.random()
        if i == 10 or (i > 17 and email_roll < 0.05):
            email: str | None = None
        elif i == 11 or (i > 17 and email_roll < 0.10):
            email = ""
        else:
            email = gen.unique(gen.emails, f"{ascii_lower(first)}.{ascii_lower(last)}") + f"@{STUDENT_DOMAIN}"
        student_id = ids[i]
        guardians = family["guardians"]
        person = {
            "StudentID": student_id,
            "StateStudentID": str(state_ids[i]),
            "FirstName": first,
            "LastName": last,
            "MiddleName": rng.choice(MIDDLE) if rng.random() < 0.6 else "",
            "Gender": gender,
            "Grade": grade,
            "Birthdate": birthdate,
            "family": family,
            "ParentGuardianName": " and ".join(g["FirstName"] for g in guardians[:2]) + f" {guardians[0]['LastName']}",
            "StudentMobilePhone": gen.phone() if grade >= 6 and rng.random() < 0.3 else "",
            "EthnicityCode": "Y" if rng.random() < 0.45 else "N",
            "RaceCode1": rng.choice(RACE_CODES),
            "RaceCode2": rng.choice(RACE_CODES) if rng.random() < 0.1 else "",
            "DistrictEnterDate": district_enter,
            "LanguageFluencyCode": "E" if family["language"] == "00" else rng.choice("LRIT"),
            "ParentEmailAddress": guardians[0]["EmailAddress"],
            "StudentEmailAddress": email,
            "NetworkLoginID": "" if rng.random() < 0.05 else f"s{student_id}",
            "status": status,
            "enrollments": [],
        }
        gen.persons.append(person)
        enroll(gen, person, school, school_enter, leave, status)
    # about 1% enrolled at two schools at once: high school + continuation (or another high school)
    eligible = [p for p in gen.persons
                if p["status"] == " " and p["Grade"] >= 10 and gen.school_kind[p["enrollments"][0]["SchoolCode"]] == "high"]
    wanted = min(len(eligible), max(2, round(size * 0.01)))
    for person in rng.sample(eligible, wanted):
        first_school = person["enrollments"][0]["SchoolCode"]
        others = [code for code in high if code != first_school]
        second = others[rng.randrange(len(others))] if others and rng.random() < 0.3 else cont
        enter = SCHOOL_YEAR_START + timedelta(days=rng.randint(0, 60))
        enroll(gen, person, second, enter, None, " ")


def enroll(gen: GeneratorState, person: dict[str, Any], school: int, enter: date, leave: date | None, status: str) -> None:
    rng = gen.rng
    number = gen.student_numbers.get(school, 0) + 1
    gen.student_numbers[school] = number
    family = person["family"]
    grade = person["Grade"]
    kind = gen.school_kind[school]
    if kind == "elem" and grade == 5:
        next_school = gen.schools_by_kind["middle"][school % len(gen.schools_by_kind["middle"])]
    elif kind == "middle" and grade == 8:
        next_school = gen.schools_by_kind["high"][school % len(gen.schools_by_kind["high"])]
    elif grade == 12:
        next_school = 0
    else:
        next_school = school
    record = {
        "StudentID": person["StudentID"],
        "OldStudentID": 0,
        "SchoolCode": school,
        "StudentNumber": number,
        "StateStudentID": person["StateStudentID"],
        "LastName": person["LastName"],
        "FirstName": person["FirstName"],
        "MiddleName": person["MiddleName"],
        "LastNameAlias": "",
        "FirstNameAlias": "",
        "MiddleNameAlias": "",
        "Gender": person["Gender"],
        "Grade": grade,
        "Birthdate": aeries_date(person["Birthdate"]),
        "ParentGuardianName": person["ParentGuardianName"],
        "HomePhone": family["phone"],
        "StudentMobilePhone": person["StudentMobilePhone"],
        "MailingAddress": family["street"],
        "MailingAddressCity": CITY,
        "MailingAddressState": STATE,
        "MailingAddressZipCode": family["zip"],
        "ResidenceAddress": family["street"],
        "ResidenceAddressCity": CITY,
        "ResidenceAddressState": STATE,
        "ResidenceAddressZipCode": family["zip"],
        "EthnicityCode": person["EthnicityCode"],
        "RaceCode1": person["RaceCode1"],
        "RaceCode2": person["RaceCode2"],
        "RaceCode3": "",
        "RaceCode4": "",
        "RaceCode5": "",
        "SchoolEnterDate": aeries_date(enter),
        "SchoolLeaveDate": aeries_date(leave),
        "DistrictEnterDate": aeries_date(person["DistrictEnterDate"]),
        "CounselorNumber": rng.randint(1, 3) if kind in ("middle", "high") else 0,
        "Track": "",
        "InactiveStatusCode": status,
        "FamilyKey": family["key"],
        "LanguageFluencyCode": person["LanguageFluencyCode"],
        "HomeLanguageCode": family["language"],
        "CorrespondenceLanguageCode": family["language"],
        "ParentEmailAddress": person["ParentEmailAddress"],
        "StudentEmailAddress": person["StudentEmailAddress"],
        "StudentPersonalEmailAddress": "",
        "NetworkLoginID": person["NetworkLoginID"],
        "HomeRoomTeacherNumber": "0",
        "NextSchoolCode": next_school,
        "NextGrade": grade + 1,
        "RecordsReleaseCode": "",
    }
    person["enrollments"].append(record)
    gen.students.append(record)
