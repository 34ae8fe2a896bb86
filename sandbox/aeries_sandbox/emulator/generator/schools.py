"""The district's course catalogue, its schools (with the pseudo-schools of a real district) and their terms."""

from __future__ import annotations

from datetime import date
from typing import Any

from aeries_sandbox.emulator.district import DEFAULT_INFO
from aeries_sandbox.emulator.generator.state import (
    CITY,
    ELEM_SUBJECTS,
    SCHOOL_NAMES,
    SCHOOL_YEAR_END,
    SCHOOL_YEAR_START,
    SECOND_SEMESTER,
    STATE,
    STATE_COUNTY_ID,
    STATE_DISTRICT_ID,
    GeneratorState,
    aeries_date,
)

__all__ = ["make_courses", "make_schools"]


def make_courses(gen: GeneratorState) -> None:
    gen.courses = []
    # (school kind, grade, period) -> course IDs a section can teach
    gen.course_options = {}

    def add(title: str, dept: str, low: int, high: int, *, credit: float = 0.0, state: str = "",
            long: str | None = None, inactive: bool = False) -> str:
        course_id = f"{len(gen.courses) + 1:04d}"
        gen.courses.append({
            "ID": course_id,
            "Title": title,
            "LongDescription": long or title,
            "DepartmentCode": dept,
            "StateCourseCode": state,
            "CreditDefault": credit,
            "LowGrade": low,
            "HighGrade": high,
            "InactiveStatusCode": "I" if inactive else " ",
        })
        return course_id

    def option(kind: str, grades: range | tuple[int, ...], period: int, course_id: str) -> None:
        for grade in grades:
            gen.course_options.setdefault((kind, grade, period), []).append(course_id)

    for period, subject in enumerate(ELEM_SUBJECTS, 1):
        cid = add(f"TK/Pre-K {subject}", "ELEM", -2, -1, long=f"Transitional Kindergarten and Preschool {subject}")
        option("elem", (-2, -1), period, cid)
    for grade in range(0, 6):
        label = "Kindergarten" if grade == 0 else f"Grade {grade}"
        for period, subject in enumerate(ELEM_SUBJECTS, 1):
            cid = add(f"{label} {subject}", "ELEM", grade, grade, long=f"{label} {subject} (self-contained)")
            option("elem", (grade,), period, cid)
    for grade in range(6, 9):
        for period, (subject, dept) in enumerate(
            (("English", "ENG"), ("Math", "MATH"), ("Science", "SCI"), ("History", "SOC"), ("PE", "PE")), 1
        ):
            cid = add(f"{subject} {grade}", dept, grade, grade, long=f"{subject}, Grade {grade}")
            option("middle", (grade,), period, cid)
    for title, dept in (("Band", "VPA"), ("Art", "VPA"), ("Spanish 1A", "WL"),
                        ("Computer Science Discoveries", "CTE"), ("Leadership", "GEN"), ("Study Skills", "GEN")):
        cid = add(title, dept, 6, 8)
        option("middle", range(6, 9), 6, cid)
        option("middle", range(6, 9), 7, cid)
    high = range(9, 13)
    for grade in high:
        cid = add(f"English {grade}", "ENG", grade, grade, credit=10.0, state="2100",
                  long=f"English Language Arts, Grade {grade}")
        option("high", (grade,), 1, cid)
    for title, grades, state in (("Integrated Math 1", (9,), "2403"), ("Integrated Math 2", (10,), "2404"),
                                 ("Integrated Math 3", (11,), "2405"), ("Pre-Calculus", (11, 12), "2414"),
                                 ("AP Calculus AB", (12,), "2480"), ("Statistics", (12,), "2445")):
        option("high", grades, 2, add(title, "MATH", min(grades), max(grades), credit=10.0, state=state))
    for title, grades, state in (("Biology", (9,), "2627"), ("Chemistry", (10,), "2640"),
                                 ("Physics", (11,), "2660"), ("AP Biology", (12,), "2628"),
                                 ("Environmental Science", (11, 12), "2680")):
        option("high", grades, 3, add(title, "SCI", min(grades), max(grades), credit=10.0, state=state))
    for title, grades, state in (("Ethnic Studies", (9,), "2860"), ("World History", (10,), "2807"),
                                 ("U.S. History", (11,), "2800"), ("Government / Economics", (12,), "2801")):
        option("high", grades, 4, add(title, "SOC", min(grades), max(grades), credit=10.0, state=state))
    option("high", (9,), 5, add("PE 9", "PE", 9, 9, credit=10.0, state="2900"))
    option("high", (9,), 5, add("Health", "PE", 9, 9, credit=5.0, state="2910"))
    option("high", range(10, 13), 5, add("PE Elective", "PE", 10, 12, credit=10.0, state="2900"))
    for title, dept in (("Spanish 1", "WL"), ("Spanish 2", "WL"), ("Spanish 3", "WL"), ("French 1", "WL"),
                        ("Art 1", "VPA"), ("Ceramics", "VPA"), ("Band", "VPA"), ("Choir", "VPA"), ("Drama", "VPA"),
                        ("Computer Science Principles", "CTE"), ("Robotics", "CTE"), ("Culinary Arts", "CTE"),
                        ("AVID", "GEN"), ("Yearbook", "GEN")):
        cid = add(title, dept, 9, 12, credit=10.0)
        option("high", high, 6, cid)
        option("high", high, 7, cid)
    for title, dept in (("Independent Study English", "ENG"), ("Independent Study Math", "MATH"),
                        ("Independent Study Science", "SCI"), ("Independent Study Social Science", "SOC")):
        add(title, dept, 9, 12, credit=5.0)
    add("Keyboarding", "CTE", 9, 12, credit=5.0, inactive=True)
    add("Home Economics", "CTE", 9, 12, credit=5.0, inactive=True)
    gen.course_by_id = {c["ID"]: c for c in gen.courses}


def make_schools(gen: GeneratorState) -> None:
    rng = gen.rng
    total = max(4, round(gen.size / gen.shape.students_per_school))
    regular = total - 1
    n_middle = max(1, round(regular * 0.2))
    n_high = max(1, round(regular * 0.2))
    n_elem = max(1, regular - n_middle - n_high)
    plan = [("elem", n_elem), ("middle", n_middle), ("high", n_high), ("cont", 1)]
    gen.schools = []
    gen.school_kind = {}
    gen.schools_by_kind = {kind: [] for kind, _ in plan}
    name_use: dict[str, int] = {}
    code = 0
    grade_span = {"elem": (-2, 5), "middle": (6, 8), "high": (9, 12), "cont": (9, 12)}
    suffix = {"elem": "Elementary School", "middle": "Middle School", "high": "High School",
              "cont": "Continuation High School"}
    pool_offset = rng.randrange(len(SCHOOL_NAMES))
    index = 0
    for kind, count in plan:
        code = (code // 100 + 1) * 100  # each kind starts on the next hundred: 100, 200, ...
        for _ in range(count):
            base = SCHOOL_NAMES[(pool_offset + index) % len(SCHOOL_NAMES)]
            index += 1
            if kind == "cont":
                base = "Sierra Vista"
            uses = name_use.get(base + kind, 0) + 1
            name_use[base + kind] = uses
            number = "" if uses == 1 else str(uses)
            name = f"{base} {number + ' ' if number else ''}{suffix[kind]}"
            low, high = grade_span[kind]
            street, zip_code = gen.address()
            phone = gen.phone()  # (drawn in this order: the rest of the district depends on it)
            nces = f"06{rng.randrange(10**10):010d}"
            gen.schools.append(_school(
                code, name, low, high, _terms(kind),
                Address=street, AddressCity=CITY, AddressState=STATE, AddressZipCode=zip_code,
                StateCountyID=STATE_COUNTY_ID, StateDistrictID=STATE_DISTRICT_ID,
                StateSchoolID=f"{1200000 + code:07d}", PhoneNumber=phone, NCESSchoolID=nces,
                CollegeBoardSchoolCode=f"05{code:04d}" if kind in ("high", "cont") else "",
                ScheduleType="Elementary" if kind == "elem" else "MasterSchedule",
                AttendanceType="Daily" if kind == "elem" else "Period",
                ScheduleBasis="Trimester" if kind == "elem" else "Semester",
            ))
            gen.school_kind[code] = kind
            gen.schools_by_kind[kind].append(code)
            code += 1
    # School 0 is the district itself (named as the district, with the district's year of terms).
    street, zip_code = gen.address()
    gen.schools.append(_school(
        0, DEFAULT_INFO["DistrictName"], -2, 12, _terms("high"),
        Address=street, AddressCity=CITY, AddressState=STATE, AddressZipCode=zip_code,
        StateCountyID=STATE_COUNTY_ID, StateDistrictID=STATE_DISTRICT_ID, StateSchoolID="0000000",
        PhoneNumber=gen.phone(), ScheduleType="MasterSchedule",
    ))
    # Pseudo-schools, as Aeries' demo district has them, with no enrolled students: 99 "Transfer School"
    # (DoNotReport) and the "X ..." schools 900-902 (past the last real school if a huge district reaches 900).
    gen.schools.append(_school(99, "Transfer School", -1, 12, [], DoNotReport=True,
                                PrincipalEmailAddress="transfer@example.com"))
    first_x = max(900, (max(gen.school_kind) // 100 + 1) * 100)
    for offset, (name, low, state_id) in enumerate(
            (("X Eagle District School", -2, "1299999"), ("X NPS School", 0, "0000001"),
             ("X Private School", -2, "0000002"))):
        gen.schools.append(_school(
            first_x + offset, name, low, 12, [t for t in _terms("middle") if t["TermCode"] != "4"],
            StateCountyID=STATE_COUNTY_ID, StateDistrictID=STATE_DISTRICT_ID, StateSchoolID=state_id,
        ))
    gen.school_by_code = {s["SchoolCode"]: s for s in gen.schools}
    # the continuation school is the one without a master schedule
    gen.no_sections_school = gen.schools_by_kind["cont"][0]


def _terms(kind: str) -> list[dict[str, Any]]:
    """A school's terms with the demo server's codes and shape (README: "Terms"): trimesters 1-3 at elementary
    schools (as its school 990), quarters 1-4 at middle schools, quarters 1-4 and Fall/Spring semesters F/S at
    high schools (as its schools 884 and 894), and the year Y everywhere."""
    if kind == "elem":
        spans = (("1", "1st Trimester", SCHOOL_YEAR_START, date(2026, 11, 20)),
                 ("2", "2nd Trimester", date(2026, 11, 30), date(2027, 3, 5)),
                 ("3", "3rd Trimester", date(2027, 3, 8), SCHOOL_YEAR_END))
    else:
        spans = (("1", "1st Quarter", SCHOOL_YEAR_START, date(2026, 10, 16)),
                 ("2", "2nd Quarter", date(2026, 10, 19), date(2026, 12, 18)),
                 ("3", "3rd Quarter", SECOND_SEMESTER, date(2027, 3, 19)),
                 ("4", "4th Quarter", date(2027, 3, 22), SCHOOL_YEAR_END))
        if kind in ("high", "cont"):
            spans += (("F", "Fall", SCHOOL_YEAR_START, date(2026, 12, 18)),
                      ("S", "Spring", SECOND_SEMESTER, SCHOOL_YEAR_END))
    spans += (("Y", "Year", SCHOOL_YEAR_START, SCHOOL_YEAR_END),)
    return [{"FirstHalfEndDate": None, "SecondHalfStartDate": None, "TrackTerms": [], "TermCode": code,
             "TermDescription": text, "StartDate": aeries_date(start), "EndDate": aeries_date(end)} for code, text, start, end in spans]


def _school(code: int, name: str, low: int, high: int, terms: list[dict[str, Any]], **values: Any) -> dict[str, Any]:
    """A school with every field, in the order, of a school in Aeries' demo-server answers (README: "Schools"):
    codes Aeries leaves unset are "" (never " "), ShortName is blank, the flags are false."""
    record: dict[str, Any] = {name_: "" for name_ in _SCHOOL_CODES_FIELDS}
    record.update({"EarlyCollegeHighSchoolIndicator": False, "ScienceTechnologyEngineeringAndMathematicsIndicator": False,
                   "PathwaysInTechnologyIndicator": False, "ShortName": "", "UsingSectionStaffInMasterSchedule": False,
                   "UsingSectionStaffInScheduling": False, "Terms": terms, "SchoolCode": code,
                   "Name": name, "InactiveStatusCode": "", "Address": "", "AddressCity": "", "AddressState": "",
                   "AddressZipCode": "", "AddressZipExt": "", "DoNotReport": False, "StateCountyID": "",
                   "StateDistrictID": "", "StateSchoolID": "", "LowGradeLevel": low, "HighGradeLevel": high,
                   "PrincipalName": "", "PrincipalEmailAddress": "", "AttendancePeriod": 0, "Tracks": 0,
                   "ScheduleType": "Elementary", "SessionType": "Regular", "AttendanceType": "Daily",
                   "AttendanceReporting": "Negative", "ScheduleBasis": "Semester", "PhoneNumber": ""})
    unknown = set(values) - set(record)
    if unknown:
        raise ValueError(f"not a school field: {', '.join(sorted(unknown))}")
    record.update(values)
    return record


#: The text fields a demo-server school starts with (all "" there but CollegeBoardSchoolCode at high schools).
_SCHOOL_CODES_FIELDS = (
    "RegionCode", "StateCharterNumber", "CharterStatusCode", "FederalTaxID", "FederalInformationProcessingStandardsCode",
    "QualityRatingAndImprovementSystemParticipationCode", "AccreditationStatusCode", "SchoolWebsite",
    "OrganizationCategoryCode", "SchoolCategoryCode", "LocalEducationAgencyTypeCode", "TitleIPartACode",
    "NSLPStatusCode", "NCESSchoolID", "CollegeBoardSchoolCode", "CampusEnrollmentTypeCode", "PreKSchoolTypeCode",
)
