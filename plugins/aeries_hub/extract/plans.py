"""Which Aeries tables are extracted incrementally, and how: their change endpoints, fetch path, groups, order."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    """How one table is extracted incrementally.

    ``changes``: the change endpoints (without the date); ``group``: the columns whose rows one fetch of
    ``fetch`` (formatted with them) returns in full; ``order``: how Aeries orders a school's rows.
    """

    changes: tuple[str, ...]
    group: tuple[str, ...]
    fetch: str
    order: tuple[str, ...]


#: The group of a student's rows at one school.
STUDENT_GROUP = ("SchoolCode", "StudentID")
PLANS: dict[str, Plan] = {
    "students": Plan(("StudentDataChanges/student", "StudentDataChanges/enrollment"), STUDENT_GROUP,
                     "schools/{SchoolCode}/students/{StudentID}", ("StudentID", "StudentNumber")),
    "contacts": Plan(("StudentDataChanges/contact",), STUDENT_GROUP, "schools/{SchoolCode}/contacts/{StudentID}",
                     ("StudentID", "SequenceNumber")),
    # A schedule changes with a class change of the student, an enrolment change (a withdrawal drops classes)
    # or a change of a section's roster (its students, old and new, are fetched again).
    "rosters": Plan(("StudentDataChanges/class", "StudentDataChanges/enrollment", "SectionRosterDataChanges"),
                    STUDENT_GROUP, "schools/{SchoolCode}/classes/{StudentID}", ("StudentID", "SequenceNumber")),
    "sections": Plan(("SectionDataChanges",), ("SchoolCode", "SectionNumber"),
                     "schools/{SchoolCode}/sections/{SectionNumber}", ("SectionNumber",)),
    "staff": Plan(("StaffDataChanges",), ("ID",), "staff/{ID}", ("ID",)),
    # A student's programs change with a program change, or an enrolment at another school (whose list then has
    # them). Aeries lists a student's programs in its own order (GATE, 504, special education, meals, others: no
    # column orders them), which the merge keeps: it sorts by StudentID only, and pyarrow's sort_indices is stable.
    "programs": Plan(("StudentDataChanges/program", "StudentDataChanges/enrollment"), STUDENT_GROUP,
                     "schools/{SchoolCode}/students/{StudentID}/programs", ("StudentID",)),
}
#: Why a table that is not one of :data:`PLANS` was extracted in full.
ALWAYS_FULL_REASON = "always full (a small table)"
#: The column whose schools order a full extraction's rows (staff: none, one district-wide list by ID).
TABLES_SCHOOL_COLUMN = {"staff": None}
