"""Student records as the Aeries demo server serves them (issue 14), read over HTTP."""

from __future__ import annotations

from collections import Counter

from aeries_sandbox.emulator import generate_district

#: The keys, in order, of a student record captured from the Aeries demo server: github derekpovah/aeries-api,
#: spec/support/fixtures/students.json and student.json at commit 41a774110427a564aaad2497cf5274bbe24c839a (every
#: record of both files has the same keys).
CAPTURED_STUDENT_KEYS = [
    "StudentID", "OldStudentID", "CorrespondenceLanguageCode", "SchoolCode", "StudentNumber", "StateStudentID",
    "LastName", "FirstName", "MiddleName", "LastNameAlias", "FirstNameAlias", "MiddleNameAlias", "Gender", "Grade",
    "GradeLevelShortDescription", "GradeLevelLongDescription", "Birthdate", "ParentGuardianName", "HomePhone",
    "StudentMobilePhone", "MailingAddress", "MailingAddressCity", "MailingAddressState", "MailingAddressZipCode",
    "MailingAddressZipExt", "ResidenceAddress", "ResidenceAddressCity", "ResidenceAddressState",
    "ResidenceAddressZipCode", "ResidenceAddressZipExt", "AddressVerified", "EthnicityCode", "RaceCode1", "RaceCode2",
    "RaceCode3", "RaceCode4", "RaceCode5", "UserCode1", "UserCode2", "UserCode3", "UserCode4", "UserCode5",
    "UserCode6", "UserCode7", "UserCode8", "UserCode9", "UserCode10", "UserCode11", "UserCode12", "UserCode13",
    "SchoolEnterDate", "SchoolLeaveDate", "DistrictEnterDate", "CounselorNumber", "Track",
    "AttendanceProgramCodePrimary", "AttendanceProgramCodeAdditional1", "AttendanceProgramCodeAdditional2",
    "LockerNumber", "LowSchedulingPeriod", "HighSchedulingPeriod", "InactiveStatusCode", "FamilyKey",
    "LanguageFluencyCode", "HomeLanguageCode", "ParentEdLevelCode", "ParentEmailAddress", "StudentEmailAddress",
    "NetworkLoginID", "AtRiskPoints", "HomeRoomTeacherNumber", "NotificationPreferenceCode", "NextSchoolCode",
    "NextGrade", "NextGradeLevelShortDescription", "NextGradeLevelLongDescription", "RecordsReleaseCode",
]

NAME_FIELDS = ("LastName", "FirstName", "MiddleName", "ParentGuardianName")


def students_of(get, district) -> list[dict]:
    return [s for school in district.schools if school["SchoolCode"] not in (0,)
            for s in get(f"schools/{school['SchoolCode']}/students").json()]


def test_student_records_have_the_captured_field_set_and_order(get, district):
    students = students_of(get, district)

    assert len(CAPTURED_STUDENT_KEYS) == 77
    assert len(students) == len(district.students)
    assert {tuple(record) for record in students} == {tuple(CAPTURED_STUDENT_KEYS)}
    one = get(f"schools/{students[0]['SchoolCode']}/students/{students[0]['StudentID']}").json()
    assert [list(record) for record in one] == [CAPTURED_STUDENT_KEYS]


def test_student_values_follow_the_captures_conventions(get, district):
    students = students_of(get, district)

    # an active student's code is "" (every captured student), never " "
    assert Counter(s["InactiveStatusCode"] for s in students).keys() == {"", "I", "P"}
    assert all(s["SchoolLeaveDate"] is None for s in students if s["InactiveStatusCode"] == "")
    assert all(isinstance(s["AddressVerified"], bool) for s in students)
    assert {s["AddressVerified"] for s in students} == {True, False}
    assert all((s["MailingAddressZipExt"], s["ResidenceAddressZipExt"], s["UserCode3"], s["LockerNumber"],
                s["NotificationPreferenceCode"], s["AttendanceProgramCodePrimary"]) == ("", "", "", "", "", "")
               for s in students)
    assert all((s["LowSchedulingPeriod"], s["HighSchedulingPeriod"]) == (0, 9) for s in students)
    assert all(s["AtRiskPoints"].endswith(".0000") and s["AtRiskPoints"][:-5].isdigit() for s in students)
    assert {s["UserCode9"] for s in students} == {"Y", "N"}
    by_grade = {s["Grade"]: (s["GradeLevelShortDescription"], s["GradeLevelLongDescription"]) for s in students}
    assert (by_grade[9], by_grade[10], by_grade[12], by_grade[0]) == (
        ("9", "Ninth Grade"), ("10", "Tenth Grade"), ("12", "Twelfth Grade"), ("K", "Kindergarten"))
    seniors = [s for s in students if s["Grade"] == 12]
    assert {(s["NextGrade"], s["NextGradeLevelShortDescription"], s["NextGradeLevelLongDescription"])
            for s in seniors} == {(13, "13", "Reserved for Graduating Seniors")}
    assert all(s["Birthdate"].endswith("T00:00:00") for s in students)


def test_some_names_hold_a_line_break(get, district):
    students = students_of(get, district)
    broken = {(s["StudentID"], name): s[name] for s in students for name in NAME_FIELDS if "\n" in s[name]}

    # one of each shape (CR/LF inside a first name, CR/LF after a last name, LF inside a last name, CR/LF after the
    # parents' name), each student with one broken name
    assert len(broken) == 4 and len({sid for sid, _ in broken}) == 4
    shapes = sorted((name, value.endswith("\r\n"), "\r\n" in value.rstrip(), "\n" in value.rstrip().replace("\r\n", ""))
                    for (_, name), value in broken.items())
    assert shapes == [("FirstName", False, True, False), ("LastName", False, False, True),
                      ("LastName", True, False, False), ("ParentGuardianName", True, False, False)]
    # the first is an active high-school student with classes, so every vendor file of students carries it
    (first_name,) = [(sid, value) for (sid, name), value in broken.items() if name == "FirstName"]
    record = next(s for s in students if s["StudentID"] == first_name[0])
    assert record["InactiveStatusCode"] == "" and record["Grade"] >= 9
    classes = get(f"schools/{record['SchoolCode']}/classes/{record['StudentID']}").json()
    assert 4 <= len(classes) <= 7


def test_student_shapes_are_deterministic_and_change_no_other_table():
    one, two, other = generate_district(300, 7), generate_district(300, 7), generate_district(300, 8)

    assert one.students == two.students and one.students != other.students
    # from their own RNG after every other draw: the other tables and the counts are the generator's own
    assert (len(one.students), len(one.contacts), len(one.rosters), len(one.staff), len(one.sections)) == (
        303, 537, 1573, 33, 108)  # as before issue 14
    big = generate_district(5000, 1)
    names: dict[int, set] = {}
    for s in big.students:
        names.setdefault(s["StudentID"], set()).add(tuple(s[name] for name in NAME_FIELDS))
    assert all(len(values) == 1 for values in names.values())  # a student at two schools has one name
    assert sum(1 for (values,) in map(tuple, names.values()) if any("\n" in v for v in values)) == 10  # 0.2%
