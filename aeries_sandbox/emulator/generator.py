"""A synthetic, deterministic Aeries district with the awkward data real districts have.

``generate_district(size, seed)`` returns the same :class:`District` (and :meth:`District.write` the same
bytes) for the same ``(size, seed)``: everything comes from one ``random.Random(seed)``, dates are relative to
the fixed school year 2026-27 (first day 2026-08-13), never to the clock.

What is in it (``size`` = distinct students):

* schools: about one per 400 students, at least 4: elementary (TK-5 with a few preschoolers, grade -2),
  middle (6-8), high (9-12) and one continuation school (10-12) that has no master schedule (no sections);
  plus school 0 (the district itself, named as the district) and the pseudo-schools of a real district:
  99 "Transfer School" (``DoNotReport``) and "X ..." schools 900-902, none with students. Schools carry the full
  field set of Aeries' demo server with its conventions: a blank ``ShortName``, unset codes ``""``.
* students: one record per student per school. About 5% inactive (``InactiveStatusCode`` ``"I"``, with a
  ``SchoolLeaveDate``), 3% pre-enrolled (``"P"``, ``SchoolEnterDate`` in January 2027), 1% enrolled at two
  schools at once (same ``StudentID``, two ``SchoolCode``/``StudentNumber``). Names with apostrophes,
  hyphens, accents, a comma (``"Garcia, Jr."``) and stray leading/trailing spaces; about 10% without a
  ``StudentEmailAddress`` (null or ``""``); some blank ``NetworkLoginID``. The demo server's 77 fields and
  conventions (an active student's code is ``""``), and a few names with a line break: from their own RNG, see
  shape_students_like_aeries.
* staff (about one per 12 students, some inactive, some with blank names or e-mail so callers must fall back
  to the teacher record, some at the district office: ``PrimaryAeriesSchool`` 0; the demo server's 46 fields,
  shared placeholder e-mails ``NoWhere@aeries.com`` and teachers whose first name is blank on both the staff
  and the teacher record, one a service account: from their own RNG, see shape_staff_like_aeries),
  teachers (``StaffID1`` ->
  staff ``ID``), a district course catalogue (``"0001"``...), sections with ``SectionStaffMembers`` (one
  primary teacher, sometimes a co-teacher; a few inactive sections), student schedules (4-7 classes per
  active student at schools with sections), contacts (1-3 per student, in the demo server's shape and
  conventions: see :meth:`_Generator.make_contacts`) and a ``data_changes`` log. Terms carry Aeries' own codes
  (``1``-``4``, ``F``/``S``, ``Y``; see :func:`_terms`).
* Flex scheduling: the last high school is a Flex school (``ScheduleType`` "Flexible", section-staff flags on)
  without teacher (TCH) records, its sections' staff being staff records; there and at the first middle school
  a few co-teachers no longer or not yet teach their section (inactive, ended, or starting later). From their
  own RNG, after every other draw: see :meth:`_Generator.make_flex_scheduling`.
* gradebooks: one per active section, owned by its primary teacher (``Sections`` = that section, ``Terms`` = the
  school's terms other than Y, three ``AssignmentCategories``), each with two assignments (a homework of 10
  points and a test of 40 questions worth 100 points), no scores yet; no course requests (SSS). They come from
  their own ``random.Random`` so that adding them changed no byte of the other tables.
"""

from __future__ import annotations

import functools
import math
import random
import unicodedata
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from aeries_sandbox.emulator.district import DEFAULT_INFO, District, blank_contact, blank_student

__all__ = ["generate_district", "DistrictShape", "DATABASE_YEAR", "SCHOOL_YEAR_START", "SCHOOL_YEAR_END", "DOMAIN"]

DATABASE_YEAR = 2026
SCHOOL_YEAR_START = date(2026, 8, 13)
SCHOOL_YEAR_END = date(2027, 6, 10)
SECOND_SEMESTER = date(2027, 1, 5)
DOMAIN = "demo.k12.ca.us"
STUDENT_DOMAIN = "students.demo.k12.ca.us"
CITY, STATE = "Mountain Vista", "CA"
STATE_COUNTY_ID, STATE_DISTRICT_ID = "12", "62927"
ZIP_CODES = ("95501", "95502", "95503", "95521")
AREA_CODE = "707"

FIRST_F = (
    "Sophia", "Olivia", "Emma", "Isabella", "Mia", "Ava", "Camila", "Valeria", "Ximena", "Aaliyah",
    "Chloé", "Zoë", "Renée", "Maria", "Guadalupe", "Jasmine", "Priya", "Mei", "Thảo", "Linh",
    "Fatima", "Amara", "Hannah", "Grace", "Lily", "Naomi", "Ana Sofía", "Mary-Kate", "Leilani", "Kiara",
    "Elena", "Noemí", "Abigail", "Harper", "Nayeli", "Daniela", "Yesenia", "Aisha", "Sakura", "Mariana",
)
FIRST_M = (
    "Liam", "Noah", "Mateo", "Santiago", "José", "Andrés", "Ethan", "Lucas", "Daniel", "Elijah",
    "Aiden", "Jayden", "Diego", "Luis", "Minh", "Huy", "Arjun", "Wei", "Omar", "Malik",
    "Caleb", "Isaac", "Gabriel", "Jean-Luc", "D'Andre", "Benjamín", "Kai", "Mason", "Julian", "Adrián",
    "Jesús", "Carlos", "Angel", "Emiliano", "Hiroshi", "Tevita", "Samuel", "Joaquín", "Ryan", "Bao",
)
FIRST_X = ("Alex", "Jordan", "Taylor", "Riley", "Sky", "Avery", "Quinn", "Rowan", "River", "Sage")
LAST = (
    "Garcia", "Hernandez", "Martinez", "Lopez", "Gonzalez", "Rodriguez", "Perez", "Sanchez", "Ramirez", "Torres",
    "Flores", "Rivera", "Gomez", "Diaz", "Reyes", "Cruz", "Morales", "Ortiz", "Gutierrez", "Chavez",
    "Nguyen", "Nguyễn", "Tran", "Trần", "Le", "Pham", "Kim", "Lee", "Park", "Chen",
    "Wang", "Li", "Patel", "Singh", "Kaur", "Smith", "Johnson", "Williams", "Brown", "Jones",
    "Miller", "Davis", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "White",
    "Harris", "Clark", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott",
    "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell", "Roberts", "Carter", "Evans",
    "O'Brien", "O'Connor", "D'Angelo", "McDonald", "Smith-Jones", "Garcia-Lopez", "Muñoz", "Peña", "Núñez",
    "Ibáñez", "Müller", "St. John", "De La Cruz", "Van der Berg", "Fa'atasi", "Kealoha", "Abbott", "Yoshida",
)
MIDDLE = ("James", "Marie", "Lee", "Ann", "Alejandro", "Rose", "Thanh", "Elizabeth", "Michael", "Grace", "José", "Jean")
STREETS = (
    "Oak", "Maple", "Cedar", "Pine", "Elm", "Walnut", "Sycamore", "Madrone", "Manzanita", "El Camino",
    "Mission", "Alameda", "Vista", "Sierra", "Redwood", "Cypress", "Laurel", "Juniper", "Magnolia", "Willow",
)
STREET_SUFFIX = ("St", "Ave", "Dr", "Ln", "Way", "Ct", "Blvd", "Pl")
SCHOOL_NAMES = (
    "Lincoln", "Washington", "Jefferson", "Roosevelt", "Cesar Chavez", "Sequoia", "Redwood", "Oak Grove",
    "Sierra Vista", "Mountain View", "Del Mar", "Los Altos", "Harriet Tubman", "Dolores Huerta", "Madrone",
    "Pacific", "Bayside", "Hillcrest", "Valley Oak", "Juniper", "Sunset", "Mission", "Rosa Parks",
    "Grant", "Franklin", "Sutter", "Cabrillo", "Muir", "Emerson", "Whitney",
)
ELEM_SUBJECTS = ("ELA", "Math", "Science", "Social Studies", "PE", "Music", "Art")
RACE_CODES = ("700", "700", "700", "600", "201", "204", "205", "299", "301", "400", "100")
LANGUAGES = ("00", "00", "00", "00", "01", "01", "02", "07", "05", "11")
RELATIONSHIPS_OTHER = ("12", "13", "14", "15", "20", "99")  # step/grand parents, guardian, other

STUDENT_AREAS = ("student", "contact", "class", "enrollment", "program", "test")
OTHER_AREAS = ("staff", "course", "section", "section_roster")
GRADEBOOK_NUMBER_START = 4400001
#: (Code, Description, PercentageOfGrade, Color) of every generated gradebook's assignment categories.
GRADEBOOK_CATEGORIES = (("H", "Homework", 30, "6666ff"), ("T", "Test", 50, "33ffff"), ("C", "Classwork", 20, "00ff66"))


def _d(day: date | None) -> str | None:
    return None if day is None else f"{day.isoformat()}T00:00:00"


@functools.lru_cache(maxsize=4096)
def _ascii(text: str) -> str:
    """Lower-case ASCII letters only: the shape of e-mail locals and user names."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in folded.lower() if ch.isalnum())


@dataclass(frozen=True)
class DistrictShape:
    """How a district of a given size is laid out. The defaults give the district the tests know; a benchmark
    can ask for a district-scale layout (e.g. 500 students per school, 6-7 classes each, 16 per section)."""

    students_per_school: int = 400
    students_per_staff: float = 12
    classes_per_student: tuple[int, int] = (4, 7)
    students_per_section: float | None = None  # None: 80% of 24 (elementary) or 30 (secondary) per section

    def __post_init__(self) -> None:
        low, high = self.classes_per_student
        if not 1 <= low <= high <= 7:
            raise ValueError(f"classes_per_student must be a range within 1..7 (there are 7 periods), not {self.classes_per_student!r}")
        for name in ("students_per_school", "students_per_staff", "students_per_section"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive, not {value!r}")


def generate_district(size: int, seed: int = 0, shape: DistrictShape | None = None) -> District:
    """A district of ``size`` distinct students; the same ``(size, seed, shape)`` always gives the same data."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive number of students, not {size!r}")
    return _Generator(size, seed, shape or DistrictShape()).run()


class _Generator:
    def __init__(self, size: int, seed: int, shape: DistrictShape) -> None:
        self.size = size
        self.seed = seed
        self.shape = shape
        self.rng = random.Random(seed)
        self.emails: dict[str, int] = {}
        self.user_names: dict[str, int] = {}

    # -- helpers -------------------------------------------------------------------------------
    def phone(self) -> str:
        return f"{AREA_CODE}555{self.rng.randrange(10000):04d}"

    def address(self) -> tuple[str, str]:
        rng = self.rng
        street = f"{rng.randint(100, 9999)} {rng.choice(STREETS)} {rng.choice(STREET_SUFFIX)}"
        if rng.random() < 0.08:
            street += f" Apt {rng.randint(1, 40)}"
        return street, rng.choice(ZIP_CODES)

    def unique(self, seen: dict[str, int], base: str) -> str:
        count = seen.get(base, 0) + 1
        seen[base] = count
        return base if count == 1 else f"{base}{count}"

    def first_name(self, gender: str) -> str:
        pool = FIRST_F if gender == "F" else FIRST_M if gender == "M" else FIRST_X
        return self.rng.choice(pool)

    def gender(self) -> str:
        r = self.rng.random()
        return "F" if r < 0.49 else "M" if r < 0.99 else "X"

    # -- the district --------------------------------------------------------------------------
    def run(self) -> District:
        self.make_courses()
        self.make_schools()
        self.make_students()
        self.make_sections_and_teachers()
        self.make_rosters()
        self.make_contacts()
        self.finish_staff()
        self.make_data_changes()
        self.make_gradebooks()
        self.shape_students_like_aeries()
        self.make_flex_scheduling()
        info = dict(DEFAULT_INFO)
        info.update({"DatabaseYear": DATABASE_YEAR, "SchoolYearStart": SCHOOL_YEAR_START.isoformat()})
        return District(
            info=info,
            schools=sorted(self.schools, key=lambda s: s["SchoolCode"]),
            students=sorted(self.students, key=lambda s: (s["SchoolCode"], s["StudentID"])),
            contacts=sorted(self.contacts, key=lambda c: (c["SchoolCode"], c["StudentID"], c["SequenceNumber"])),
            staff=sorted(self.staff, key=lambda s: s["ID"]),
            teachers=sorted(self.teachers, key=lambda t: (t["SchoolCode"], t["TeacherNumber"])),
            courses=sorted(self.courses, key=lambda c: c["ID"]),
            sections=sorted(self.sections, key=lambda s: (s["SchoolCode"], s["SectionNumber"])),
            rosters=sorted(self.rosters, key=lambda r: (r["SchoolCode"], r["StudentID"], r["SequenceNumber"])),
            data_changes=self.data_changes,
            gradebooks=self.gradebooks,
            assignments=self.assignments,
            assignment_scores=[],
            course_requests=[],
        )

    # -- courses -------------------------------------------------------------------------------
    def make_courses(self) -> None:
        self.courses: list[dict[str, Any]] = []
        # (school kind, grade, period) -> course IDs a section can teach
        self.course_options: dict[tuple[str, int, int], list[str]] = {}

        def add(title: str, dept: str, low: int, high: int, *, credit: float = 0.0, state: str = "",
                long: str | None = None, inactive: bool = False) -> str:
            course_id = f"{len(self.courses) + 1:04d}"
            self.courses.append({
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
                self.course_options.setdefault((kind, grade, period), []).append(course_id)

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
        self.course_by_id = {c["ID"]: c for c in self.courses}

    # -- schools -------------------------------------------------------------------------------
    def make_schools(self) -> None:
        rng = self.rng
        total = max(4, round(self.size / self.shape.students_per_school))
        regular = total - 1
        n_middle = max(1, round(regular * 0.2))
        n_high = max(1, round(regular * 0.2))
        n_elem = max(1, regular - n_middle - n_high)
        plan = [("elem", n_elem), ("middle", n_middle), ("high", n_high), ("cont", 1)]
        self.schools: list[dict[str, Any]] = []
        self.school_kind: dict[int, str] = {}
        self.schools_by_kind: dict[str, list[int]] = {kind: [] for kind, _ in plan}
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
                street, zip_code = self.address()
                phone = self.phone()  # (drawn in this order: the rest of the district depends on it)
                nces = f"06{rng.randrange(10**10):010d}"
                self.schools.append(_school(
                    code, name, low, high, _terms(kind),
                    Address=street, AddressCity=CITY, AddressState=STATE, AddressZipCode=zip_code,
                    StateCountyID=STATE_COUNTY_ID, StateDistrictID=STATE_DISTRICT_ID,
                    StateSchoolID=f"{1200000 + code:07d}", PhoneNumber=phone, NCESSchoolID=nces,
                    CollegeBoardSchoolCode=f"05{code:04d}" if kind in ("high", "cont") else "",
                    ScheduleType="Elementary" if kind == "elem" else "MasterSchedule",
                    AttendanceType="Daily" if kind == "elem" else "Period",
                    ScheduleBasis="Trimester" if kind == "elem" else "Semester",
                ))
                self.school_kind[code] = kind
                self.schools_by_kind[kind].append(code)
                code += 1
        # School 0 is the district itself (named as the district, with the district's year of terms).
        street, zip_code = self.address()
        self.schools.append(_school(
            0, DEFAULT_INFO["DistrictName"], -2, 12, _terms("high"),
            Address=street, AddressCity=CITY, AddressState=STATE, AddressZipCode=zip_code,
            StateCountyID=STATE_COUNTY_ID, StateDistrictID=STATE_DISTRICT_ID, StateSchoolID="0000000",
            PhoneNumber=self.phone(), ScheduleType="MasterSchedule",
        ))
        # Pseudo-schools, as Aeries' demo district has them, with no enrolled students: 99 "Transfer School"
        # (DoNotReport) and the "X ..." schools 900-902 (past the last real school if a huge district reaches 900).
        self.schools.append(_school(99, "Transfer School", -1, 12, [], DoNotReport=True,
                                    PrincipalEmailAddress="transfer@example.com"))
        first_x = max(900, (max(self.school_kind) // 100 + 1) * 100)
        for offset, (name, low, state_id) in enumerate(
                (("X Eagle District School", -2, "1299999"), ("X NPS School", 0, "0000001"),
                 ("X Private School", -2, "0000002"))):
            self.schools.append(_school(
                first_x + offset, name, low, 12, [t for t in _terms("middle") if t["TermCode"] != "4"],
                StateCountyID=STATE_COUNTY_ID, StateDistrictID=STATE_DISTRICT_ID, StateSchoolID=state_id,
            ))
        self.school_by_code = {s["SchoolCode"]: s for s in self.schools}
        # the continuation school is the one without a master schedule
        self.no_sections_school = self.schools_by_kind["cont"][0]

    # -- students ------------------------------------------------------------------------------
    def new_family(self, last: str | None = None) -> dict[str, Any]:
        rng = self.rng
        last = last or rng.choice(LAST)
        street, zip_code = self.address()
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
            first = self.first_name(gender)
            glast = last if rng.random() < 0.8 else rng.choice(LAST)
            email = "" if rng.random() < 0.15 else f"{_ascii(first)}.{_ascii(glast)}{rng.randint(1, 999)}@example.com"
            guardians.append({
                "FirstName": first, "LastName": glast, "RelationshipToStudentCode": relation, "EmailAddress": email,
                "CellPhone": self.phone() if rng.random() < 0.85 else "",
                "WorkPhone": self.phone() if rng.random() < 0.4 else "",
                "LivesWithStudentIndicator": "Y" if number < 2 else "N",
            })
        return {
            "key": len(self.families) + 1001, "last": last, "street": street, "zip": zip_code, "phone": self.phone(),
            "guardians": guardians, "language": rng.choice(LANGUAGES),
        }

    def make_students(self) -> None:
        rng = self.rng
        size = self.size
        n6 = size * 2 // 10
        n8 = size * 3 // 10
        ids = (rng.sample(range(100000, 1000000), n6) + rng.sample(range(1000000, 10000000), size - n6 - n8)
               + rng.sample(range(10000000, 100000000), n8))
        rng.shuffle(ids)
        state_ids = rng.sample(range(10**9, 10**10), size)
        grades = list(range(-2, 13))
        weights = [0.2, 0.6] + [1.0] * 13
        self.families: list[dict[str, Any]] = []
        self.persons: list[dict[str, Any]] = []
        self.students: list[dict[str, Any]] = []
        self.student_numbers: dict[int, int] = {}
        forced_names = {0: ("LastName", "O'Brien"), 1: ("LastName", "Smith-Jones"), 2: ("FirstName", "José"),
                        3: ("FirstName", "Zoë"), 4: ("LastName", "Nguyễn"), 5: ("LastName", "Garcia, Jr."),
                        6: ("FirstName", " Maria"), 7: ("LastName", "Lee ")}
        elem, middle, high = self.schools_by_kind["elem"], self.schools_by_kind["middle"], self.schools_by_kind["high"]
        cont = self.schools_by_kind["cont"][0]
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
            gender = self.gender()
            if i >= 20 and self.families and rng.random() < 0.25:
                family = self.families[-1 - rng.randrange(min(50, len(self.families)))]
            else:
                family = self.new_family()
                self.families.append(family)
            first = self.first_name(gender)
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
            low = self.school_by_code[school]["LowGradeLevel"]
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
                email = self.unique(self.emails, f"{_ascii(first)}.{_ascii(last)}") + f"@{STUDENT_DOMAIN}"
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
                "StudentMobilePhone": self.phone() if grade >= 6 and rng.random() < 0.3 else "",
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
            self.persons.append(person)
            self.enroll(person, school, school_enter, leave, status)
        # about 1% enrolled at two schools at once: high school + continuation (or another high school)
        eligible = [p for p in self.persons
                    if p["status"] == " " and p["Grade"] >= 10 and self.school_kind[p["enrollments"][0]["SchoolCode"]] == "high"]
        wanted = min(len(eligible), max(2, round(size * 0.01)))
        for person in rng.sample(eligible, wanted):
            first_school = person["enrollments"][0]["SchoolCode"]
            others = [code for code in high if code != first_school]
            second = others[rng.randrange(len(others))] if others and rng.random() < 0.3 else cont
            enter = SCHOOL_YEAR_START + timedelta(days=rng.randint(0, 60))
            self.enroll(person, second, enter, None, " ")

    def enroll(self, person: dict[str, Any], school: int, enter: date, leave: date | None, status: str) -> None:
        rng = self.rng
        number = self.student_numbers.get(school, 0) + 1
        self.student_numbers[school] = number
        family = person["family"]
        grade = person["Grade"]
        kind = self.school_kind[school]
        if kind == "elem" and grade == 5:
            next_school = self.schools_by_kind["middle"][school % len(self.schools_by_kind["middle"])]
        elif kind == "middle" and grade == 8:
            next_school = self.schools_by_kind["high"][school % len(self.schools_by_kind["high"])]
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
            "Birthdate": _d(person["Birthdate"]),
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
            "SchoolEnterDate": _d(enter),
            "SchoolLeaveDate": _d(leave),
            "DistrictEnterDate": _d(person["DistrictEnterDate"]),
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
        self.students.append(record)

    def shape_students_like_aeries(self) -> None:
        """Student records as the Aeries demo server serves them (emulator README, "Students as Aeries serves
        them"): the 77 fields of a captured record in its order, with its conventions (an active student's
        ``InactiveStatusCode`` is ``""``), and a few students whose name holds a line break (``"\\r\\n"`` or
        ``"\\n"``), the first an active high-school student with classes.

        From its own RNG, after every other draw, so that no other table and no count changes."""
        rng = random.Random(f"{self.seed}:student-shapes")
        for record in self.students:
            full = _full_student_record(record, rng)
            record.clear()
            record.update(full)
        high = [p for p in self.persons
                if p["status"] == " " and self.school_kind[p["enrollments"][0]["SchoolCode"]] == "high"]
        first = [rng.choice(high)] if high else []
        others = [p for p in self.persons if p not in first]
        wanted = max(len(LINE_BREAK_NAMES), round(self.size * 0.002))
        chosen = first + rng.sample(others, min(len(others), wanted - len(first)))
        for n, person in enumerate(chosen):
            name, shape = LINE_BREAK_NAMES[n % len(LINE_BREAK_NAMES)]
            broken = shape(person["enrollments"][0][name], rng)
            for record in person["enrollments"]:  # a student enrolled at two schools has one name
                record[name] = broken

    # -- sections, teachers, staff -------------------------------------------------------------
    def new_staff(self, title: str, school: int, *, teacher: bool = False) -> dict[str, Any]:
        rng = self.rng
        gender = "F" if rng.random() < 0.6 else "M"
        first = self.first_name(gender)
        last = rng.choice(LAST)
        user = self.unique(self.user_names, f"{_ascii(first)[:1]}{_ascii(last)}")
        email = self.unique(self.emails, f"{_ascii(first)}.{_ascii(last)}") + f"@{DOMAIN}"
        hire = date(rng.randint(1994, DATABASE_YEAR), 8, rng.randint(1, 20))
        staff = {
            "ID": None,
            "FirstName": first,
            "LastName": last,
            "MiddleName": rng.choice(MIDDLE) if rng.random() < 0.3 else "",
            "NameSuffix": " ",
            "BirthDate": _d(date(rng.randint(1960, 2002), rng.randint(1, 12), rng.randint(1, 28))),
            "Gender": gender,
            "FullTimePercentage": 100 if rng.random() < 0.9 else rng.choice((50, 60, 80)),
            "HireDate": _d(hire),
            "LeaveDate": None,
            "InactiveStatusCode": " ",
            "StateEducatorID": "",
            "UserName": user,
            "EmailAddress": email,
            "PrimaryAeriesSchool": school,
            "NetworkLoginID": user,
            "AlternateEmailAddress": "",
            "HumanResourcesSystemID": f"E{len(self.staff) + 10001:06d}",
            "Title": title,
            "SchoolAccessPermissions": [{"SchoolCode": school, "ReadOnlyAccess": not teacher and title != "Principal",
                                         "CommunicationGroup": True}],
        }
        self.staff.append(staff)
        return staff

    def make_sections_and_teachers(self) -> None:
        rng = self.rng
        self.staff: list[dict[str, Any]] = []
        self.teachers: list[dict[str, Any]] = []
        self.sections: list[dict[str, Any]] = []
        self.teacher_staff: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (teacher, staff)
        self.member_staff: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (SectionStaffMembers item, staff)
        # school -> grade -> period -> active sections
        self.section_grid: dict[int, dict[int, dict[int, list[dict[str, Any]]]]] = {}
        self.teacher_of_section: dict[int, dict[str, Any]] = {}  # id(section) -> teacher record
        by_school_grade: dict[int, dict[int, int]] = {}
        seen: dict[int, dict[int, int]] = {}
        for record in self.students:
            counts = seen.setdefault(record["SchoolCode"], {})
            counts[record["Grade"]] = counts.get(record["Grade"], 0) + 1
            if record["InactiveStatusCode"] == " ":
                active = by_school_grade.setdefault(record["SchoolCode"], {})
                active[record["Grade"]] = active.get(record["Grade"], 0) + 1
        class_id = 10001
        first_blank_done = False
        schools_with_teachers: list[int] = []
        for school in sorted(self.school_kind):
            kind = self.school_kind[school]
            enrolled = sum(seen.get(school, {}).values())
            if school == self.no_sections_school:
                n_teachers = max(1, math.ceil(enrolled / 20))
                plan: list[tuple[int, int]] = []
            else:
                plan = []  # (grade, period) per section
                for grade in sorted(seen.get(school, {})):
                    active = by_school_grade.get(school, {}).get(grade, 0)
                    if self.shape.students_per_section:
                        per_period = max(1, math.ceil(active / self.shape.students_per_section))
                    else:
                        per_period = max(1, math.ceil(active * 0.8 / (24 if kind == "elem" else 30)))
                    for period in range(1, 8):
                        plan.extend([(grade, period)] * per_period)
                n_inactive = round(len(plan) * 0.02) + (1 if school == self.schools_by_kind["elem"][0] else 0)
                if not plan:
                    n_inactive = 0
                n_teachers = max(1, math.ceil(len(plan) / 6))
            # teachers (and their staff records)
            teachers = []
            for t in range(n_teachers):
                reuse = schools_with_teachers and rng.random() < 0.03
                if reuse:
                    other = self.teacher_staff[rng.randrange(len(self.teacher_staff))]
                    staff = other[1]
                    names = (other[0]["FirstName"], other[0]["LastName"], other[0]["EmailAddress"])
                    staff["SchoolAccessPermissions"].append(
                        {"SchoolCode": school, "ReadOnlyAccess": False, "CommunicationGroup": True})
                else:
                    staff = self.new_staff("Teacher", school, teacher=True)
                    names = (staff["FirstName"], staff["LastName"], staff["EmailAddress"])
                    blank = rng.random()
                    if not first_blank_done and school != self.no_sections_school:
                        blank, first_blank_done = 0.0, True
                    if blank < 0.015:  # names and e-mail blank on the staff record
                        staff["FirstName"], staff["LastName"], staff["EmailAddress"] = "", "", ""
                    elif blank < 0.025:
                        staff["EmailAddress"] = ""
                    elif blank < 0.03:
                        staff["FirstName"], staff["LastName"] = "", ""
                first, last, email = names
                teacher = {
                    "SchoolCode": school,
                    "TeacherNumber": 101 + t,
                    "DisplayName": f"{last}, {first[:1]}",
                    "FirstName": first,
                    "LastName": last,
                    "Room": "",
                    "EmailAddress": "" if staff["EmailAddress"] and rng.random() < 0.02 else email,
                    "StaffID1": None,
                    "StaffID2": 0,
                    "StaffID3": 0,
                    "InactiveStatusCode": " ",
                    "LowGrade": self.school_by_code[school]["LowGradeLevel"],
                    "HighGrade": self.school_by_code[school]["HighGradeLevel"],
                }
                self.teachers.append(teacher)
                self.teacher_staff.append((teacher, staff))
                teachers.append((teacher, staff))
            schools_with_teachers.append(school)
            if school == self.no_sections_school:
                continue
            # sections: within a period every section has a different teacher
            grid: dict[int, dict[int, list[dict[str, Any]]]] = {}
            in_period: dict[int, int] = {}
            specs = [(grade, period, False) for grade, period in plan]
            for _ in range(n_inactive):
                specs.append((rng.choice(plan)[0], rng.randint(1, 7), True))
            for number, (grade, period, inactive) in enumerate(specs, 1):
                k = in_period.get(period, 0)
                in_period[period] = k + 1
                teacher, staff = teachers[(k + period) % n_teachers]
                course_id = rng.choice(self.course_options[(kind, grade, period)])
                course = self.course_by_id[course_id]
                room = f"{rng.choice('ABCDP')}{rng.randint(1, 40)}" if kind != "elem" else str(rng.randint(1, 30))
                if not teacher["Room"]:
                    teacher["Room"] = room
                members = [self.member(teacher, staff, True)]
                if n_teachers > 1 and rng.random() < 0.05:
                    co_teacher, co_staff = teachers[(k + period + 1) % n_teachers]
                    members.append(self.member(co_teacher, co_staff, False))
                section = {
                    "SchoolCode": school,
                    "SectionNumber": number,
                    "Period": str(period),
                    "PeriodBlock": "",
                    "Semester": _semester(kind, period, number),
                    "ClassCalendar": "",
                    "CourseID": course_id,
                    "SectionStaffMembers": members,
                    "Room": room,
                    "Credit": course["CreditDefault"],
                    "LowGrade": grade,
                    "HighGrade": grade,
                    "MaxStudents": 24 if kind == "elem" else 32,
                    "TotalStudents": 0,
                    "InactiveStatusCode": "I" if inactive else " ",
                    "Track": "",
                    "ClassID": class_id,
                }
                class_id += 1
                self.sections.append(section)
                self.teacher_of_section[id(section)] = teacher
                if not inactive:
                    grid.setdefault(grade, {}).setdefault(period, []).append(section)
            self.section_grid[school] = grid

    def member(self, teacher: dict[str, Any], staff: dict[str, Any], primary: bool) -> dict[str, Any]:
        item = {
            "StaffID": None,
            "LastName": staff["LastName"],
            "FirstName": staff["FirstName"],
            "IsPrimaryTeacher": primary,
            "StaffRoleCode": "T" if primary else "C",
            "StartDate": _d(SCHOOL_YEAR_START),
            "EndDate": _d(SCHOOL_YEAR_END),
            "InactiveStatusCode": " ",
        }
        self.member_staff.append((item, staff))
        return item

    def make_rosters(self) -> None:
        rng = self.rng
        self.rosters: list[dict[str, Any]] = []
        for record in self.students:
            status = record["InactiveStatusCode"]
            grid = self.section_grid.get(record["SchoolCode"])
            if status == "P" or not grid:
                continue
            by_period = grid.get(record["Grade"])
            if not by_period:
                continue
            periods = sorted(by_period)
            count = min(len(periods), rng.randint(*self.shape.classes_per_student))
            chosen = sorted(rng.sample(periods, count))
            started = max(SCHOOL_YEAR_START.isoformat(), record["SchoolEnterDate"][:10])
            ended = record["SchoolLeaveDate"]
            for sequence, period in enumerate(chosen, 1):
                options = by_period[period]
                section = options[rng.randrange(len(options))]
                if status == " ":
                    section["TotalStudents"] += 1
                if sequence == 1 and self.school_kind[record["SchoolCode"]] == "elem":
                    record["HomeRoomTeacherNumber"] = str(self.teacher_of_section[id(section)]["TeacherNumber"])
                self.rosters.append({
                    "StudentID": record["StudentID"],
                    "SchoolCode": record["SchoolCode"],
                    "SequenceNumber": sequence,
                    "SectionNumber": section["SectionNumber"],
                    "CourseID": section["CourseID"],
                    "DateStarted": f"{started}T00:00:00",
                    "DateEnded": ended,
                })

    def make_contacts(self) -> None:
        """Contacts in the shape of the demo server's (every field of the captured ``contacts.json``, see the
        README). Its conventions are drawn from a separate RNG (so that no other table changed): ``PrimaryContact``
        is ``""`` on every contact, ``ContactOrder`` is the order a school calls them in (at some families not
        the ``SequenceNumber`` order; at a few, two contacts share an order), some contacts are known only by
        their ``MailingName`` (first and last name blank) and some have a blank ``MailingName``."""
        rng = self.rng
        conventions = random.Random(f"{self.seed}:contacts")
        self.contacts: list[dict[str, Any]] = []
        first_mailing_only = first_reordered = first_tied = False
        for person in self.persons:
            family = person["family"]
            school = person["enrollments"][0]["SchoolCode"]
            guardians = family["guardians"]
            orders = list(range(1, len(guardians) + 1))
            if len(guardians) >= 2:
                draw = conventions.random()
                if draw < 0.10 or not first_reordered:
                    orders[0], orders[1] = orders[1], orders[0]  # the second contact is called first
                    first_reordered = True
                elif draw < 0.13 or not first_tied:
                    orders[1] = orders[0]  # as the demo server's contacts 4 and 6 of student 99400001
                    first_tied = True
            for sequence, guardian in enumerate(guardians, 1):
                lives_with = guardian["LivesWithStudentIndicator"] == "Y"
                first, last = guardian["FirstName"], guardian["LastName"]
                mailing = f"{first} {last}"
                names = conventions.random()
                if names < 0.08 or not first_mailing_only:
                    first, last, first_mailing_only = "", "", True  # as the demo server's "Sara Abbott"
                elif names < 0.13:
                    mailing = ""  # as the demo server's "Bonnie Johnson"
                portal = "Y" if guardian["EmailAddress"] and rng.random() < 0.7 else ""
                self.contacts.append({
                    **blank_contact(),
                    "StudentID": person["StudentID"],
                    "RecordAddedDate": _d(SCHOOL_YEAR_START - timedelta(days=30)),
                    "SchoolCode": school,
                    "SequenceNumber": sequence,
                    "MailingName": mailing,
                    "NamePrefix": "",
                    "FirstName": first,
                    "LastName": last,
                    "MiddleName": "",
                    "NameSuffix": "",
                    "Address": family["street"] if lives_with else "",
                    "AddressCity": CITY,
                    "AddressState": STATE,
                    "AddressZipCode": family["zip"],
                    "AddressZipExt": "",
                    "RelationshipToStudentCode": guardian["RelationshipToStudentCode"],
                    "LivesWithStudentIndicator": guardian["LivesWithStudentIndicator"],
                    "HomePhone": family["phone"] if lives_with else "",
                    "WorkPhone": guardian["WorkPhone"],
                    "WorkPhoneExt": "",
                    "CellPhone": guardian["CellPhone"],
                    "EmailAddress": guardian["EmailAddress"],
                    "AccessToPortal": portal,
                    "ContactOrder": orders[sequence - 1],
                    "CorrespondanceLanguageCode": family["language"],
                    "NotificationPreferenceCode": "1",
                    "Comments": "",
                })

    def finish_staff(self) -> None:
        rng = self.rng
        n_teacher_staff = len(self.staff)
        regular = sorted(self.school_kind)
        for school in regular:
            principal = self.new_staff("Principal", school)
            record = self.school_by_code[school]
            record["PrincipalName"] = f"{principal['FirstName']} {principal['LastName']}"
            record["PrincipalEmailAddress"] = principal["EmailAddress"]
            self.new_staff("Office Manager", school)
            if self.school_kind[school] in ("middle", "high"):
                self.new_staff("Counselor", school)
        for title in ("Superintendent", "Director of Technology", "Data Specialist", "Payroll Specialist"):
            self.new_staff(title, 0)
        target = max(math.ceil(self.size / self.shape.students_per_staff), len(self.staff))
        titles = ("Instructional Aide", "Campus Supervisor", "Librarian", "Nurse", "Custodian",
                  "Speech Therapist", "Psychologist", "Program Specialist")
        while len(self.staff) < target:
            school = 0 if rng.random() < 0.15 else regular[rng.randrange(len(regular))]
            self.new_staff(rng.choice(titles), school)
        non_teachers = self.staff[n_teacher_staff:]
        inactive = [s for s in non_teachers if s["Title"] not in ("Principal", "Superintendent")]
        picked = rng.sample(inactive, max(1, round(len(inactive) * 0.04)))
        for staff in picked:
            staff["InactiveStatusCode"] = "I"
            staff["LeaveDate"] = _d(SCHOOL_YEAR_START - timedelta(days=rng.randint(30, 900)))
        for staff in non_teachers:
            if staff["PrimaryAeriesSchool"] == 0:
                staff["SchoolAccessPermissions"] = [
                    {"SchoolCode": 0, "ReadOnlyAccess": False, "CommunicationGroup": False}
                ]
        ids = rng.sample(range(100000, max(1000000, 100000 + len(self.staff) * 3)), len(self.staff))
        educator_ids = rng.sample(range(10**9, 10**10), len(self.staff))
        for staff, staff_id, educator_id in zip(self.staff, ids, educator_ids):
            staff["ID"] = staff_id
            if staff["Title"] in ("Teacher", "Principal", "Counselor", "Librarian", "Speech Therapist", "Psychologist"):
                staff["StateEducatorID"] = str(educator_id)
        for teacher, staff in self.teacher_staff:
            teacher["StaffID1"] = staff["ID"]
        for item, staff in self.member_staff:
            item["StaffID"] = staff["ID"]
        self.shape_staff_like_aeries()

    def shape_staff_like_aeries(self) -> None:
        """Staff and teacher records as the Aeries demo server serves them (emulator README, "Staff"): the full
        field set of a staff record, placeholder e-mails shared by many staff, and teachers whose first name is
        blank on both the staff and the teacher record (one of them a service account that teaches sections).

        From its own RNG, after every other draw, so that no other table and no count changes."""
        rng = random.Random(f"{self.seed}:staff-shapes")
        for staff in self.staff:
            full = _full_staff_record(staff, rng)
            staff.clear()
            staff.update(full)
        teaching = {}  # (SchoolCode, StaffID) with an active section -> the (teacher, staff) pair
        for section in self.sections:
            if section["InactiveStatusCode"] == " ":
                for item in section["SectionStaffMembers"]:
                    teaching.setdefault((section["SchoolCode"], item["StaffID"]), None)
        records_of_staff = Counter(id(st) for _, st in self.teacher_staff)
        pairs = [(t, st) for t, st in self.teacher_staff
                 if (t["SchoolCode"], st["ID"]) in teaching and t["FirstName"] and st["FirstName"]
                 and records_of_staff[id(st)] == 1]
        pairs.sort(key=lambda pair: (pair[0]["SchoolCode"], pair[0]["TeacherNumber"]))
        blank_first = rng.sample(pairs, min(len(pairs), max(2, round(len(self.teachers) * 0.04))))
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
        others = [st for st in self.staff if st["EmailAddress"] and st["Title"] != "Principal"
                  and st["EmailAddress"] != PLACEHOLDER_EMAIL]
        for staff in rng.sample(others, round(len(others) * 0.08)):
            staff["EmailAddress"] = rng.choice(PLACEHOLDER_EMAILS)
        teacher_of_staff = {id(st): t for t, st in self.teacher_staff}
        for staff in self.staff:
            teacher = teacher_of_staff.get(id(staff))
            if teacher is not None and staff["EmailAddress"] in PLACEHOLDER_EMAILS and teacher["EmailAddress"]:
                teacher["EmailAddress"] = staff["EmailAddress"]
        for item, staff in self.member_staff:
            item["FirstName"], item["LastName"] = staff["FirstName"], staff["LastName"]

    # -- Flex scheduling -----------------------------------------------------------------------
    def make_flex_scheduling(self) -> None:
        """Aeries' Flex scheduling (README, "Flex scheduling"): the last high school schedules with section staff
        (``ScheduleType`` "Flexible", both section-staff flags) and has no teacher (TCH) records: its teachers are
        the staff (STF) records its sections' ``SectionStaffMembers`` name, and those carry the names. At the Flex
        school and the first middle school three sections each get a co-teacher who does not teach them on a
        day of the school year's second half: one inactive (``InactiveStatusCode`` "I", ended in September), one
        whose ``EndDate`` (the end of the first quarter) has passed, one who starts with the fourth quarter.

        From its own RNG, after every other draw, so that the other tables are those of the generator before it
        (but the Flex school's teacher records, gone, and staff records that had no name, named as their
        teacher record was)."""
        rng = random.Random(f"{self.seed}:flex")
        flex = self.schools_by_kind["high"][-1]
        self.school_by_code[flex].update(ScheduleType="Flexible", UsingSectionStaffInMasterSchedule=True,
                                         UsingSectionStaffInScheduling=True)
        renamed = set()
        for teacher, staff in self.teacher_staff:
            if teacher["SchoolCode"] == flex and not staff["LastName"]:
                staff["FirstName"], staff["LastName"] = teacher["FirstName"], teacher["LastName"]
                renamed.add(id(staff))
            if teacher["SchoolCode"] == flex and not staff["EmailAddress"]:
                staff["EmailAddress"] = teacher["EmailAddress"]
        for item, staff in self.member_staff:
            if id(staff) in renamed:
                item["FirstName"], item["LastName"] = staff["FirstName"], staff["LastName"]
        self.teachers = [t for t in self.teachers if t["SchoolCode"] != flex]
        spans = (("I", SCHOOL_YEAR_START, date(2026, 9, 30)),
                 (" ", SCHOOL_YEAR_START, date(2026, 10, 16)),
                 (" ", date(2027, 3, 22), SCHOOL_YEAR_END))
        staff_by_id = {st["ID"]: st for _, st in self.teacher_staff}
        for school in (flex, self.schools_by_kind["middle"][0]):
            staff_ids = sorted({st["ID"] for t, st in self.teacher_staff if t["SchoolCode"] == school})
            if len(staff_ids) < 2:
                continue
            candidates = [s for s in self.sections if s["SchoolCode"] == school and s["InactiveStatusCode"] == " "
                          and len(s["SectionStaffMembers"]) == 1]
            for section, (status, start, end) in zip(rng.sample(candidates, min(3, len(candidates))), spans):
                primary = section["SectionStaffMembers"][0]["StaffID"]
                staff = staff_by_id[rng.choice([i for i in staff_ids if i != primary])]
                section["SectionStaffMembers"].append({
                    "StaffID": staff["ID"], "LastName": staff["LastName"], "FirstName": staff["FirstName"],
                    "IsPrimaryTeacher": False, "StaffRoleCode": "C", "StartDate": _d(start), "EndDate": _d(end),
                    "InactiveStatusCode": status,
                })

    # -- change log ----------------------------------------------------------------------------
    def make_data_changes(self) -> None:
        rng = self.rng
        areas = STUDENT_AREAS + OTHER_AREAS
        weights = (30, 15, 15, 10, 5, 5, 8, 3, 6, 3)
        active_sections = [s for s in self.sections if s["InactiveStatusCode"] == " "]
        start = datetime(DATABASE_YEAR, 8, 1)
        span = int((datetime(DATABASE_YEAR, 11, 21) - start).total_seconds())
        entries = []
        for n in range(max(24, self.size // 40)):
            area = areas[n] if n < len(areas) else rng.choices(areas, weights)[0]
            changed = (start + timedelta(seconds=rng.randrange(span))).isoformat()
            entry: dict[str, Any] = {"area": area, "ChangedAt": changed}
            if area in STUDENT_AREAS:
                record = self.students[rng.randrange(len(self.students))]
                entry.update({"StudentID": record["StudentID"], "SchoolCode": record["SchoolCode"],
                              "StudentNumber": record["StudentNumber"]})
            elif area == "staff":
                entry["ID"] = self.staff[rng.randrange(len(self.staff))]["ID"]
            elif area == "course":
                entry["ID"] = self.courses[rng.randrange(len(self.courses))]["ID"]
            elif active_sections:
                section = active_sections[rng.randrange(len(active_sections))]
                entry.update({"SchoolCode": section["SchoolCode"], "SectionNumber": section["SectionNumber"]})
            else:
                continue
            entries.append(entry)
        entries.sort(key=lambda e: e["ChangedAt"])
        self.data_changes = entries

    # -- gradebooks ----------------------------------------------------------------------------
    def make_gradebooks(self) -> None:
        """One gradebook per active section, two assignments each; drawn from a separate RNG (see module doc)."""
        rng = random.Random(f"{self.seed}:gradebooks")
        self.gradebooks: list[dict[str, Any]] = []
        self.assignments: list[dict[str, Any]] = []
        active = sorted((s for s in self.sections if s["InactiveStatusCode"] == " "),
                        key=lambda s: (s["SchoolCode"], s["SectionNumber"]))
        for number, section in enumerate(active, GRADEBOOK_NUMBER_START):
            school = self.school_by_code[section["SchoolCode"]]
            teacher = self.teacher_of_section[id(section)]
            course = self.course_by_id[section["CourseID"]]
            categories = [{"GradebookNumber": number, "Code": code, "Description": text, "PercentageOfGrade": weight,
                           "Color": color} for code, text, weight, color in GRADEBOOK_CATEGORIES]
            self.gradebooks.append({
                "GradebookNumber": number,
                "SchoolCode": section["SchoolCode"],
                "TeacherNumber": teacher["TeacherNumber"],
                "TeacherName": teacher["DisplayName"],
                "TeacherEmailAddress": teacher["EmailAddress"],
                "Name": course["Title"],
                "Period": int(section["Period"]),
                "Comment": "",
                "StartDate": _d(SCHOOL_YEAR_START),
                "EndDate": _d(SCHOOL_YEAR_END),
                "LinkedGroup": 0,
                "GradebookType": "",
                "Sections": [{"GradebookNumber": number, "SchoolCode": section["SchoolCode"],
                              "SectionNumber": section["SectionNumber"]}],
                "Terms": [{"GradebookNumber": number, "Code": t["TermCode"], "Name": t["TermDescription"],
                           "StartDate": t["StartDate"], "EndDate": t["EndDate"]}
                          for t in school["Terms"] if t["TermCode"] != "Y"],
                "AssignmentCategories": categories,
            })
            assigned = SCHOOL_YEAR_START + timedelta(days=rng.randint(5, 20))
            plan = (("Homework 1", categories[0], 10, 10, "F", assigned, assigned + timedelta(days=7)),
                    ("Unit 1 Test", categories[1], 40, 100, "S", assigned + timedelta(days=14),
                     assigned + timedelta(days=rng.randint(21, 35))))
            for assignment_number, (text, category, correct, points, kind, given, due) in enumerate(plan, 1):
                self.assignments.append({
                    "GradebookNumber": number,
                    "AssignmentNumber": assignment_number,
                    "Description": text,
                    "AssignmentCategory": category,
                    "Comment": "",
                    "DateAssigned": _d(given),
                    "DateDue": _d(due),
                    "NumberCorrectPossible": correct,
                    "PointsPossible": points,
                    "FormativeSummativeIndicator": kind,
                    "GradingCompleted": False,
                    "RubricAssignment": False,
                    "ExternalID": "",
                    "VisibleToParents": True,
                    "ScoresVisibleToParents": True,
                    "InputScoresByStandard": False,
                    "NarrativeGradeSetID": 0,
                    "Standards": [],
                    "UniqueID": str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper(),
                })


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
             "TermDescription": text, "StartDate": _d(start), "EndDate": _d(end)} for code, text, start, end in spans]


def _semester(kind: str, period: int, section_number: int) -> str:
    """The MST ``Semester`` (the term a section runs in): at high schools the 7th-period sections are one-semester
    electives, alternately Fall and Spring; every other section runs the whole year."""
    if kind == "high" and period == 7:
        return "F" if section_number % 2 else "S"
    return "Y"


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
