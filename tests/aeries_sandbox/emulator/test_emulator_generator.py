"""The generated district: deterministic, and full of the data real districts have."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import date

import pytest

from aeries_sandbox.emulator import District, generate_district
from aeries_sandbox.emulator.district import TABLES

SIZE, SEED = 300, 7  # as in conftest


def _files(path):
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


def test_same_size_and_seed_give_the_same_bytes(tmp_path, district):
    district.write(tmp_path / "a")
    generate_district(SIZE, SEED).write(tmp_path / "b")
    first, second = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert set(first) == {"district.json", *TABLES.values()}
    assert first == second
    generate_district(SIZE, SEED + 1).write(tmp_path / "c")
    assert _files(tmp_path / "c")["students.json"] != first["students.json"]


def test_write_load_round_trip(tmp_path, district):
    district.write(tmp_path / "d")
    loaded = District.load(tmp_path / "d")
    assert loaded == district
    loaded.write(tmp_path / "e")
    assert _files(tmp_path / "d") == _files(tmp_path / "e")
    text = (tmp_path / "d" / "students.json").read_text(encoding="utf-8")
    assert "O'Brien" in text and "Nguyễn" in text  # UTF-8, not \u escapes
    assert json.loads((tmp_path / "d" / "district.json").read_text())["DatabaseYear"] == 2026


def test_missing_table_files_are_empty_tables(tmp_path):
    (tmp_path / "schools.json").write_text('[{"SchoolCode": 7, "Name": "Only School", "Terms": []}]')
    loaded = District.load(tmp_path)
    assert loaded.schools[0]["SchoolCode"] == 7
    assert loaded.students == [] and loaded.data_changes == []
    assert loaded.database_year == 2026
    with pytest.raises(FileNotFoundError):
        District.load(tmp_path / "missing")
    (tmp_path / "staff.json").write_text('{"not": "a list"}')
    with pytest.raises(ValueError, match="staff.json"):
        District.load(tmp_path)


#: The keys, in order, of a school and of a term in Aeries' demo-server answer to GET /api/v5/schools, as captured
#: in github.com/derekpovah/aeries-api spec/support/fixtures/schools.json, plus the two Flex-scheduling flags of
#: later Aeries versions after ShortName (aeripy 0.2.16's School model, in that place).
DEMO_SCHOOL_KEYS = [
    "RegionCode", "StateCharterNumber", "CharterStatusCode", "FederalTaxID", "FederalInformationProcessingStandardsCode",
    "QualityRatingAndImprovementSystemParticipationCode", "AccreditationStatusCode", "SchoolWebsite",
    "OrganizationCategoryCode", "SchoolCategoryCode", "LocalEducationAgencyTypeCode", "TitleIPartACode",
    "NSLPStatusCode", "NCESSchoolID", "CollegeBoardSchoolCode", "CampusEnrollmentTypeCode", "PreKSchoolTypeCode",
    "EarlyCollegeHighSchoolIndicator", "ScienceTechnologyEngineeringAndMathematicsIndicator",
    "PathwaysInTechnologyIndicator", "ShortName", "UsingSectionStaffInMasterSchedule", "UsingSectionStaffInScheduling",
    "Terms", "SchoolCode", "Name", "InactiveStatusCode", "Address",
    "AddressCity", "AddressState", "AddressZipCode", "AddressZipExt", "DoNotReport", "StateCountyID",
    "StateDistrictID", "StateSchoolID", "LowGradeLevel", "HighGradeLevel", "PrincipalName", "PrincipalEmailAddress",
    "AttendancePeriod", "Tracks", "ScheduleType", "SessionType", "AttendanceType", "AttendanceReporting",
    "ScheduleBasis", "PhoneNumber",
]
DEMO_TERM_KEYS = ["FirstHalfEndDate", "SecondHalfStartDate", "TrackTerms", "TermCode", "TermDescription", "StartDate",
                  "EndDate"]


def test_schools(district):
    codes = [s["SchoolCode"] for s in district.schools]
    assert len(codes) == len(set(codes))
    district_school = next(s for s in district.schools if s["SchoolCode"] == 0)
    assert district_school["Name"] == "Demo Unified School District" and district_school["DoNotReport"] is False
    real = [s for s in district.schools if s["SchoolCode"] not in (0, 99, 900, 901, 902)]
    assert len(real) >= 4
    spans = {(s["LowGradeLevel"], s["HighGradeLevel"]) for s in real}
    assert {(-2, 5), (6, 8), (9, 12)} <= spans
    assert all(s["Terms"] for s in real)
    assert any("Continuation" in s["Name"] for s in real)
    # about one school per 400 students, plus school 0 and the four pseudo-schools
    assert len(generate_district(4000, 1).schools) == 10 + 5


def test_schools_have_the_demo_servers_field_set_and_conventions(district):
    for school in district.schools:
        assert list(school) == DEMO_SCHOOL_KEYS, school["SchoolCode"]
        assert all(list(term) == DEMO_TERM_KEYS for term in school["Terms"]), school["SchoolCode"]
        assert school["ShortName"] == "" and school["InactiveStatusCode"] == ""
        assert school["ScheduleType"] in ("Elementary", "MasterSchedule", "Flexible")  # Flexible: see test_flex_*
        assert (school["SessionType"], school["AttendanceReporting"]) == ("Regular", "Negative")
        assert school["ScheduleBasis"] == ("Trimester" if "Elementary School" in school["Name"] else "Semester")
        assert school["AttendanceType"] in ("Daily", "Period") and school["Tracks"] == 0
    assert {t["TermCode"]: (t["FirstHalfEndDate"], t["SecondHalfStartDate"], t["TrackTerms"])
            for t in district.schools[-1]["Terms"]} == {"1": (None, None, []), "2": (None, None, []),
                                                        "3": (None, None, []), "Y": (None, None, [])}
    pseudo = {s["SchoolCode"]: (s["Name"], s["DoNotReport"], bool(s["Terms"])) for s in district.schools
              if s["SchoolCode"] in (99, 900, 901, 902)}
    assert pseudo == {99: ("Transfer School", True, False), 900: ("X Eagle District School", False, True),
                      901: ("X NPS School", False, True), 902: ("X Private School", False, True)}
    enrolled = {s["SchoolCode"] for s in district.students}
    assert not enrolled & {0, 99, 900, 901, 902}
    assert not {t["SchoolCode"] for t in district.teachers + district.sections} & {0, 99, 900, 901, 902}


def test_students_have_the_hard_cases(district):
    students = district.students
    by_id = defaultdict(list)
    for s in students:
        by_id[s["StudentID"]].append(s)
    assert len(by_id) == SIZE
    two_schools = [rows for rows in by_id.values() if len(rows) > 1]
    assert two_schools
    for rows in two_schools:
        assert len({r["SchoolCode"] for r in rows}) == len(rows)
        assert len({(r["SchoolCode"], r["StudentNumber"]) for r in rows}) == len(rows)
    assert all(100000 <= sid <= 99999999 for sid in by_id)
    assert {len(str(sid)) for sid in by_id} == {6, 7, 8}
    assert all(len(s["StateStudentID"]) == 10 and s["StateStudentID"].isdigit() for s in students)
    statuses = Counter(s["InactiveStatusCode"] for s in students)
    assert statuses[""] > 0.85 * len(students) and statuses["I"] and statuses["P"]
    start = "2026-08-13"
    for s in students:
        if s["InactiveStatusCode"] == "I":
            assert s["SchoolLeaveDate"]
        elif s["InactiveStatusCode"] == "P":
            assert s["SchoolEnterDate"] > start
        else:
            assert s["SchoolLeaveDate"] is None
    assert {s["Grade"] for s in students} == set(range(-2, 13))
    assert {s["Gender"] for s in students} <= {"M", "F", "X"}
    last = [s["LastName"] for s in students]
    first = [s["FirstName"] for s in students]
    names = last + first
    assert any("'" in n for n in last) and any("-" in n for n in last)
    assert any("," in n for n in last)
    assert any(n != n.strip() for n in names)
    assert any(ch in "".join(names) for ch in "éëễ")
    emails = [s["StudentEmailAddress"] for s in students]
    assert None in emails and "" in emails
    assert 0.03 < sum(1 for e in emails if not e) / len(emails) < 0.2
    assert any(s["NetworkLoginID"] == "" for s in students) or len(students) < 100
    # per-school student numbers are unique
    assert len({(s["SchoolCode"], s["StudentNumber"]) for s in students}) == len(students)


def test_birthdate_matches_grade(district):
    for s in district.students:
        born = date.fromisoformat(s["Birthdate"][:10])
        age_on_sept_1 = 2026 - born.year - ((born.month, born.day) > (9, 1))
        assert age_on_sept_1 == s["Grade"] + 5, s


def test_staff_teachers_and_sections(district):
    staff_by_id = {s["ID"]: s for s in district.staff}
    assert len(staff_by_id) == len(district.staff)
    assert len(district.staff) >= SIZE / 12
    assert any(s["InactiveStatusCode"] == "I" and s["LeaveDate"] for s in district.staff)
    assert any(s["PrimaryAeriesSchool"] == 0 for s in district.staff)
    assert all(s["EmailAddress"].endswith("@demo.k12.ca.us") or s["EmailAddress"].lower() == "nowhere@aeries.com"
               for s in district.staff if s["EmailAddress"])
    # a teacher whose staff record has blank names: callers fall back to the teacher record
    blank = [t for t in district.teachers if not staff_by_id[t["StaffID1"]]["LastName"]]
    assert blank and all(t["LastName"] and t["FirstName"] for t in blank)
    teacher_staff = {(t["SchoolCode"], t["StaffID1"]) for t in district.teachers}
    flex = {s["SchoolCode"] for s in district.schools if s["ScheduleType"] == "Flexible"}
    courses = {c["ID"] for c in district.courses}
    assert "0001" in courses and all(len(c) == 4 for c in courses)
    for section in district.sections:
        assert section["CourseID"] in courses
        assert isinstance(section["Period"], str)
        primary = [m for m in section["SectionStaffMembers"] if m["IsPrimaryTeacher"]]
        # a teacher's staff ID; at a Flex school (no teacher records) a staff ID
        assert len(primary) == 1 and ((section["SchoolCode"], primary[0]["StaffID"]) in teacher_staff
                                      or section["SchoolCode"] in flex and primary[0]["StaffID"] in staff_by_id)
    assert any(len(s["SectionStaffMembers"]) > 1 for s in district.sections)
    assert any(s["InactiveStatusCode"] == "I" for s in district.sections)
    with_sections = {s["SchoolCode"] for s in district.sections}
    with_students = {s["SchoolCode"] for s in district.students}
    assert with_students - with_sections, "one school with students has no sections"


def test_rosters_and_contacts(district):
    sections = {(s["SchoolCode"], s["SectionNumber"]): s for s in district.sections}
    per_student = Counter((r["SchoolCode"], r["StudentID"]) for r in district.rosters)
    with_sections = {s["SchoolCode"] for s in district.sections}
    for student in district.students:
        key = (student["SchoolCode"], student["StudentID"])
        if student["InactiveStatusCode"] == "" and student["SchoolCode"] in with_sections:
            assert 4 <= per_student[key] <= 7
        if student["InactiveStatusCode"] == "P":
            assert per_student[key] == 0
    for row in district.rosters:
        section = sections[(row["SchoolCode"], row["SectionNumber"])]
        assert row["CourseID"] == section["CourseID"]
        assert section["InactiveStatusCode"] == " "
    contacts = Counter(c["StudentID"] for c in district.contacts)
    assert set(contacts) == {s["StudentID"] for s in district.students}
    assert set(contacts.values()) <= {1, 2, 3}
    assert any(c["EmailAddress"] == "" for c in district.contacts)
    # PrimaryContact is "" on every real contact; ContactOrder says who is called first (see the next test)
    assert {c["PrimaryContact"] for c in district.contacts} == {""}


# Every field of a contact the Aeries demo server answered, in its order: github derekpovah/aeries-api,
# spec/support/fixtures/contacts.json (captured from the demo server, student 99400001).
CAPTURED_CONTACT_FIELDS = [
    "StudentID", "AdministrativeLockCode", "EnrolledTheStudentIndicator", "Birthdate", "Occupation",
    "TuberculosisTestStatusCode", "TuberculosisTestExpirationDate", "FingerprintStatusCode", "FingerprintDate",
    *(f"UserCode{n}" for n in range(1, 9)), "MiscCode", "MailTagCode", "AddressTypeCode",
    *(f"AdditionalCommunicationTypeCode{n}" for n in range(1, 5)),
    *(f"AdditionalCommunicationDetail{n}" for n in range(1, 5)), "AddressVerificationDate", "RecordAddedDate",
    *(f"MilitaryUserFieldCode{n}" for n in range(1, 6)), "PrimaryContact1Field", "PrimaryContact2Field",
    "PrimaryContact1Description", "PrimaryContact2Description", "EducationalRightsHolder", "AttendanceNotification",
    "PrimaryContact", "SchoolCode", "SequenceNumber", "MailingName", "NamePrefix", "FirstName", "LastName",
    "MiddleName", "NameSuffix", "Address", "AddressCity", "AddressState", "AddressZipCode", "AddressZipExt",
    "RelationshipToStudentCode", "LivesWithStudentIndicator", "RedFlag", "HomePhone", "WorkPhone", "WorkPhoneExt",
    "CellPhone", "Pager", "EmailAddress", "AccessToPortal", "ContactOrder", "CorrespondanceLanguageCode",
    "EmployerName", "EmployerLocation", "MilitaryBranchCode", "MilitaryRankCode", "MilitarySupervisorName",
    "MilitarySupervisorPhone", "MilitaryStatusCode", "NotificationPreferenceCode", "Comments",
]
# A term as the demo server answers it (same repository, spec/support/fixtures/schools.json).
CAPTURED_TERM_FIELDS = ["FirstHalfEndDate", "SecondHalfStartDate", "TrackTerms", "TermCode", "TermDescription",
                        "StartDate", "EndDate"]


def test_contacts_have_the_demo_servers_fields_and_conventions(district):
    assert len(CAPTURED_CONTACT_FIELDS) == 76
    assert {tuple(c) for c in district.contacts} == {tuple(CAPTURED_CONTACT_FIELDS)}
    mailing_only = [c for c in district.contacts if not c["FirstName"] and not c["LastName"]]
    assert mailing_only and all(c["MailingName"].strip() for c in mailing_only)
    assert any(c["FirstName"] and not c["MailingName"] for c in district.contacts)
    by_student = defaultdict(list)
    for c in district.contacts:
        by_student[c["StudentID"]].append(c)
    in_sequence, not_in_sequence, tied = 0, 0, 0
    for contacts in by_student.values():
        orders = [c["ContactOrder"] for c in sorted(contacts, key=lambda c: c["SequenceNumber"])]
        if len(set(orders)) < len(orders):
            tied += 1
        elif orders == sorted(orders):
            in_sequence += 1
        else:
            not_in_sequence += 1
    assert in_sequence > not_in_sequence > 0 and tied > 0
    assert generate_district(SIZE, SEED).contacts == district.contacts


def test_terms_have_the_demo_servers_codes_and_fields(district):
    kinds = {}
    for school in district.schools:
        if school["SchoolCode"] in (0, 99, 900, 901, 902):  # school 0 and the pseudo-schools: test_schools_have_...
            continue
        assert {tuple(t) for t in school["Terms"]} == {tuple(CAPTURED_TERM_FIELDS)}
        codes = [t["TermCode"] for t in school["Terms"]]
        descriptions = [t["TermDescription"] for t in school["Terms"]]
        kinds[(school["LowGradeLevel"], school["HighGradeLevel"])] = (codes, descriptions)
        year = school["Terms"][-1]
        assert (year["TermCode"], year["StartDate"], year["EndDate"]) == ("Y", "2026-08-13T00:00:00",
                                                                         "2027-06-10T00:00:00")
    assert kinds[(-2, 5)] == (["1", "2", "3", "Y"], ["1st Trimester", "2nd Trimester", "3rd Trimester", "Year"])
    assert kinds[(6, 8)] == (["1", "2", "3", "4", "Y"],
                             ["1st Quarter", "2nd Quarter", "3rd Quarter", "4th Quarter", "Year"])
    assert kinds[(9, 12)] == (["1", "2", "3", "4", "F", "S", "Y"],
                              ["1st Quarter", "2nd Quarter", "3rd Quarter", "4th Quarter", "Fall", "Spring", "Year"])
    terms = {(s["SchoolCode"], t["TermCode"]) for s in district.schools for t in s["Terms"]}
    assert {s["Semester"] for s in district.sections} == {"Y", "F", "S"}
    assert all((s["SchoolCode"], s["Semester"]) in terms for s in district.sections)


def test_data_changes(district):
    areas = {e["area"] for e in district.data_changes}
    assert {"student", "contact", "class", "staff", "course", "section", "section_roster"} <= areas
    times = [e["ChangedAt"] for e in district.data_changes]
    assert times == sorted(times)


def test_bad_size():
    with pytest.raises(ValueError):
        generate_district(0)


@pytest.mark.parametrize("size", [1, 5, 17, 41])
def test_tiny_districts_still_work(size):
    district = generate_district(size, seed=size)
    assert district.counts()["distinct_students"] == size
    assert len([s for s in district.schools if s["SchoolCode"] not in (0, 99, 900, 901, 902)]) == 4


def test_a_district_scale_shape_sets_schools_staff_classes_and_section_sizes():
    from aeries_sandbox.emulator import DistrictShape

    shape = DistrictShape(students_per_school=500, students_per_staff=12.5, classes_per_student=(6, 7), students_per_section=18)
    district = generate_district(5000, 1, shape)
    counts = district.counts()
    assert counts["schools"] == 10 + 5  # 5000 / 500, plus school 0 and the four pseudo-schools
    assert counts["staff"] == 400  # 5000 / 12.5
    classes = Counter((r["SchoolCode"], r["StudentID"]) for r in district.rosters)
    assert set(classes.values()) <= {6, 7} and len(set(classes.values())) == 2
    active = Counter((s["SchoolCode"], s["Grade"]) for s in district.students if s["InactiveStatusCode"] == "")
    for section in district.sections:
        if section["InactiveStatusCode"] == " ":
            per_period = -(-active[(section["SchoolCode"], section["LowGrade"])] // 18)
            in_period = sum(1 for other in district.sections if other["SchoolCode"] == section["SchoolCode"]
                            and other["LowGrade"] == section["LowGrade"] and other["Period"] == section["Period"]
                            and other["InactiveStatusCode"] == " ")
            assert in_period == per_period
            break
    assert generate_district(300, 7, DistrictShape()) == generate_district(300, 7)


@pytest.mark.parametrize("shape, message", [
    ({"classes_per_student": (5, 9)}, "classes_per_student must be a range within 1..7"),
    ({"students_per_school": 0}, "students_per_school must be positive"),
])
def test_an_impossible_shape_is_refused(shape, message):
    from aeries_sandbox.emulator import DistrictShape

    with pytest.raises(ValueError, match=message):
        DistrictShape(**shape)
