"""What every part of the generator shares: the fixed school year, the name pools, the district's layout
(:class:`DistrictShape`) and the draw state (:class:`GeneratorState`)."""

from __future__ import annotations

import functools
import random
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from aeries_sandbox.emulator.records import Compactor

__all__ = ["DistrictShape", "GeneratorState", "DATABASE_YEAR", "SCHOOL_YEAR_START", "SCHOOL_YEAR_END", "DOMAIN",
           "aeries_date", "ascii_lower"]

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


def aeries_date(day: date | None) -> str | None:
    return None if day is None else f"{day.isoformat()}T00:00:00"


@functools.lru_cache(maxsize=4096)
def ascii_lower(text: str) -> str:
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


class GeneratorState:
    """The draw state every part of the generator shares: one ``random.Random(seed)``, the names already used,
    and the tables as they are made (each set by the step named beside it)."""

    courses: list[dict[str, Any]]  # schools.make_courses
    course_options: dict[tuple[str, int, int], list[str]]  # (school kind, grade, period) -> course IDs
    course_by_id: dict[str, dict[str, Any]]
    schools: list[dict[str, Any]]  # schools.make_schools
    school_kind: dict[int, str]
    schools_by_kind: dict[str, list[int]]
    school_by_code: dict[int, dict[str, Any]]
    no_sections_school: int
    families: list[dict[str, Any]]  # students.make_students
    persons: list[dict[str, Any]]
    students: list[dict[str, Any]]
    student_numbers: dict[int, int]
    staff: list[dict[str, Any]]  # sections.make_sections_and_teachers, staff.finish_staff
    teachers: list[dict[str, Any]]
    sections: list[dict[str, Any]]
    teacher_staff: list[tuple[dict[str, Any], dict[str, Any]]]  # (teacher, staff)
    member_staff: list[tuple[dict[str, Any], dict[str, Any]]]  # (SectionStaffMembers item, staff)
    section_grid: dict[int, dict[int, dict[int, list[dict[str, Any]]]]]  # school -> grade -> period -> sections
    teacher_of_section: dict[int, dict[str, Any]]  # id(section) -> teacher record
    rosters: list[Any]  # sections.make_rosters (records)
    contacts: list[Any]  # contacts.make_contacts (records)
    data_changes: list[dict[str, Any]]  # data_changes.make_data_changes
    gradebooks: list[Any]  # gradebooks.make_gradebooks (records)
    assignments: list[Any]

    def __init__(self, size: int, seed: int, shape: DistrictShape, compact: bool = False) -> None:
        self.size = size
        self.seed = seed
        self.shape = shape
        self.rng = random.Random(seed)
        self.compactor = Compactor() if compact else None
        self.emails: dict[str, int] = {}
        self.user_names: dict[str, int] = {}

    # -- helpers -------------------------------------------------------------------------------
    def final(self, row: dict[str, Any]) -> Any:
        """A row no later step changes: a compact record when asked for (see generate_district), else the dict."""
        return row if self.compactor is None else self.compactor.record(row)

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
