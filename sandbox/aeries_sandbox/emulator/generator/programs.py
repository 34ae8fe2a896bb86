"""Student programs (IEP, 504, free or reduced-price meals, GATE, foster youth) in the demo server's shape.

Aeries' Programs end point (support article 14000113683, "Aeries API - Student-related end points", Programs)
answers one record per program of a student from several Aeries tables: GATE (GTE, code 127), 504 (FOF, 101),
special education (CSE, 144), NSLP free (FRE with FRE.CD "F", 181) and reduced-price (FRE.CD "R", 182) meals, and
every other program from PGM (e.g. 190 Foster Program). Its dates come from different columns per table, and
special education has no participation dates ("N/A"). The demo server's student 99400001 (github
derekpovah/aeries-api spec/support/fixtures/student_programs.json) lists them in that order, GATE, 504, special
education, meals, then PGM programs, with the field order and ``ExtendedProperties`` used here.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from aeries_sandbox.emulator.generator.state import DATABASE_YEAR, SCHOOL_YEAR_START, GeneratorState, aeries_date

__all__ = ["PROGRAM_DESCRIPTIONS", "make_programs", "program_record"]

#: ProgramCode -> ProgramDescription as Aeries answers them (the article's ProgramDescription table; 190 as the
#: demo server names its PGM program).
PROGRAM_DESCRIPTIONS = {
    "127": "Gifted and Talented Education (GATE)",
    "101": "504 Accommodation Plan",
    "144": "Special Education",
    "181": "NSLP Free Meal Program",
    "182": "NSLP Reduced-Price Meal Program",
    "190": "Foster Program",
}
#: The disability codes of the demo server's special education record (CALPADS codes, with Aeries' descriptions).
DISABILITIES = (("240", "Speech or Language Impairment (SLI)"), ("260", "Emotional Disturbance (ED)"))
#: Shares of students per program. Special education: 12.8% of California's students in 2019 (kidsdata.org
#: "Students receiving special education services", from CDE DataQuest); free or reduced-price meals: below the
#: 62.4% of "high-needs" students (meals, English learners or foster youth, CALPADS Unduplicated Pupil Count
#: 2020-21, kidsdata.org); 504, GATE and foster youth: no statewide source found, small assumed shares.
SHARES = {"144": 0.13, "101": 0.03, "181": 0.48, "182": 0.07, "127": 0.08, "190": 0.005}
#: The first day meal eligibility of the school year counts from (the NSLP year starts on July 1).
MEALS_YEAR_START = date(DATABASE_YEAR, 7, 1)


def program_record(student_id: int, code: str, eligibility: tuple[date | None, date | None],
                   participation: tuple[date | None, date | None],
                   extended: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """One record as the Programs end point answers it (the demo server's field order)."""
    return {
        "ExtendedProperties": extended or [],
        "StudentID": student_id,
        "ProgramCode": code,
        "ProgramDescription": PROGRAM_DESCRIPTIONS[code],
        "EligibilityStartDate": aeries_date(eligibility[0]),
        "EligibilityEndDate": aeries_date(eligibility[1]),
        "ParticipationStartDate": aeries_date(participation[0]),
        "ParticipationEndDate": aeries_date(participation[1]),
    }


def make_programs(gen: GeneratorState) -> list[dict[str, Any]]:
    """Every student's program records, a student's in the order Aeries lists them. From their own RNG, after
    every other draw, so that no other table changed when programs were added. Each kind is there at least once:
    an ended 504 plan, a special education exit, a student whose meals changed from reduced to free during the
    year (with a record ending the day before it starts, as the demo server's 181 records), and an ended GATE."""
    rng = random.Random(f"{gen.seed}:programs")
    records: list[dict[str, Any]] = []
    firsts: set[str] = set()

    def first(kind: str) -> bool:
        new = kind not in firsts
        firsts.add(kind)
        return new

    def past(years: int) -> date:
        return SCHOOL_YEAR_START - timedelta(days=rng.randint(30, 365 * years))

    for person in sorted(gen.persons, key=lambda p: p["StudentID"]):
        sid, grade = person["StudentID"], person["Grade"]
        draws = {code: rng.random() for code in SHARES}
        if grade >= 3 and draws["127"] < SHARES["127"]:
            start = past(3)
            ended = first("127 ended")
            records.append(program_record(sid, "127", (start, None),
                                          (start + timedelta(days=60), SCHOOL_YEAR_START if ended else None)))
        if draws["101"] < SHARES["101"]:
            start = past(4)
            end = SCHOOL_YEAR_START + timedelta(days=rng.randint(20, 90)) if first("101 ended") or rng.random() < 0.2 else None
            records.append(program_record(sid, "101", (start, end), (start, end)))
        if draws["144"] < SHARES["144"]:
            start = past(6)
            exited = first("144 exited") or rng.random() < 0.08
            primary, second = rng.sample(DISABILITIES, 2)
            second = second if rng.random() < 0.3 else ("", "")
            extended = [{"Name": "DisabilityCode", "Value": primary[0]},
                        {"Name": "DisabilityCodeDescription", "Value": primary[1]},
                        {"Name": "DisabilityCode2", "Value": second[0]},
                        {"Name": "DisabilityCode2Description", "Value": second[1]},
                        {"Name": "ParentalConsentDate", "Value": aeries_date(start - timedelta(days=rng.randint(1, 30)))}]
            end = SCHOOL_YEAR_START + timedelta(days=rng.randint(10, 100)) if exited else None
            records.append(program_record(sid, "144", (start, end), (None, None), extended))
        if draws["181"] < SHARES["181"] + SHARES["182"]:
            records.extend(_meals(rng, sid, "181" if draws["181"] < SHARES["181"] else "182", first("meals changed")))
        if first("190") or draws["190"] < SHARES["190"]:
            start = past(5)
            records.append(program_record(sid, "190", (start, None), (start, None), [{"Name": "FosterID", "Value": ""}]))
    return records


def _meals(rng: random.Random, student_id: int, code: str, changed: bool) -> list[dict[str, Any]]:
    """A student's meal eligibility: last year's, ended, for some; this year's; or (``changed``) this year's
    reduced-price eligibility ended when a new application made the student eligible for free meals, recorded
    as the demo server's: the reduced record, a free record ending the day before it starts, and the free one."""
    rows = []
    if rng.random() < 0.4:
        rows.append(program_record(student_id, code, (MEALS_YEAR_START.replace(year=DATABASE_YEAR - 1),
                                                      MEALS_YEAR_START - timedelta(days=1)), (None, None)))
    if not changed:
        return [*rows, program_record(student_id, code, (MEALS_YEAR_START, None), (None, None))]
    switch = SCHOOL_YEAR_START + timedelta(days=rng.randint(30, 60))
    return [*rows,
            program_record(student_id, "182", (MEALS_YEAR_START, switch - timedelta(days=1)), (None, None)),
            program_record(student_id, "181", (switch, switch - timedelta(days=1)), (None, None)),
            program_record(student_id, "181", (switch, None), (None, None))]
