"""Aeries' Flex scheduling at the last high school, and co-teachers who do not (yet) teach their section."""

from __future__ import annotations

import random
from datetime import date

from aeries_sandbox.emulator.generator.state import SCHOOL_YEAR_END, SCHOOL_YEAR_START, GeneratorState, aeries_date

__all__ = ["make_flex_scheduling"]


def make_flex_scheduling(gen: GeneratorState) -> None:
    """Aeries' Flex scheduling (README, "Flex scheduling"): the last high school schedules with section staff
    (``ScheduleType`` "Flexible", both section-staff flags) and has no teacher (TCH) records: its teachers are
    the staff (STF) records its sections' ``SectionStaffMembers`` name, and those carry the names. At the Flex
    school and the first middle school three sections each get a co-teacher who does not teach them on a
    day of the school year's second half: one inactive (``InactiveStatusCode`` "I", ended in September), one
    whose ``EndDate`` (the end of the first quarter) has passed, one who starts with the fourth quarter.

    From its own RNG, after every other draw, so that the other tables are those of the generator before it
    (but the Flex school's teacher records, gone, and staff records that had no name, named as their
    teacher record was)."""
    rng = random.Random(f"{gen.seed}:flex")
    flex = gen.schools_by_kind["high"][-1]
    gen.school_by_code[flex].update(ScheduleType="Flexible", UsingSectionStaffInMasterSchedule=True,
                                     UsingSectionStaffInScheduling=True)
    renamed = set()
    for teacher, staff in gen.teacher_staff:
        if teacher["SchoolCode"] == flex and not staff["LastName"]:
            staff["FirstName"], staff["LastName"] = teacher["FirstName"], teacher["LastName"]
            renamed.add(id(staff))
        if teacher["SchoolCode"] == flex and not staff["EmailAddress"]:
            staff["EmailAddress"] = teacher["EmailAddress"]
    for item, staff in gen.member_staff:
        if id(staff) in renamed:
            item["FirstName"], item["LastName"] = staff["FirstName"], staff["LastName"]
    gen.teachers = [t for t in gen.teachers if t["SchoolCode"] != flex]
    spans = (("I", SCHOOL_YEAR_START, date(2026, 9, 30)),
             (" ", SCHOOL_YEAR_START, date(2026, 10, 16)),
             (" ", date(2027, 3, 22), SCHOOL_YEAR_END))
    staff_by_id = {st["ID"]: st for _, st in gen.teacher_staff}
    for school in (flex, gen.schools_by_kind["middle"][0]):
        staff_ids = sorted({st["ID"] for t, st in gen.teacher_staff if t["SchoolCode"] == school})
        if len(staff_ids) < 2:
            continue
        candidates = [s for s in gen.sections if s["SchoolCode"] == school and s["InactiveStatusCode"] == " "
                      and len(s["SectionStaffMembers"]) == 1]
        for section, (status, start, end) in zip(rng.sample(candidates, min(3, len(candidates))), spans):
            primary = section["SectionStaffMembers"][0]["StaffID"]
            staff = staff_by_id[rng.choice([i for i in staff_ids if i != primary])]
            section["SectionStaffMembers"].append({
                "StaffID": staff["ID"], "LastName": staff["LastName"], "FirstName": staff["FirstName"],
                "IsPrimaryTeacher": False, "StaffRoleCode": "C", "StartDate": aeries_date(start), "EndDate": aeries_date(end),
                "InactiveStatusCode": status,
            })
