"""Teachers, the master schedule (sections with their ``SectionStaffMembers``) and the students' class schedules."""

from __future__ import annotations

import math
from typing import Any

from aeries_sandbox.emulator.generator.staff import new_staff
from aeries_sandbox.emulator.generator.state import SCHOOL_YEAR_END, SCHOOL_YEAR_START, GeneratorState, aeries_date

__all__ = ["make_sections_and_teachers", "make_rosters"]


def make_sections_and_teachers(gen: GeneratorState) -> None:
    rng = gen.rng
    gen.staff = []
    gen.teachers = []
    gen.sections = []
    gen.teacher_staff = []  # (teacher, staff)
    gen.member_staff = []  # (SectionStaffMembers item, staff)
    # school -> grade -> period -> active sections
    gen.section_grid = {}
    gen.teacher_of_section = {}  # id(section) -> teacher record
    by_school_grade: dict[int, dict[int, int]] = {}
    seen: dict[int, dict[int, int]] = {}
    for record in gen.students:
        counts = seen.setdefault(record["SchoolCode"], {})
        counts[record["Grade"]] = counts.get(record["Grade"], 0) + 1
        if record["InactiveStatusCode"] == " ":
            active = by_school_grade.setdefault(record["SchoolCode"], {})
            active[record["Grade"]] = active.get(record["Grade"], 0) + 1
    class_id = 10001
    first_blank_done = False
    schools_with_teachers: list[int] = []
    for school in sorted(gen.school_kind):
        kind = gen.school_kind[school]
        enrolled = sum(seen.get(school, {}).values())
        if school == gen.no_sections_school:
            n_teachers = max(1, math.ceil(enrolled / 20))
            plan: list[tuple[int, int]] = []
        else:
            plan = []  # (grade, period) per section
            for grade in sorted(seen.get(school, {})):
                active = by_school_grade.get(school, {}).get(grade, 0)
                if gen.shape.students_per_section:
                    per_period = max(1, math.ceil(active / gen.shape.students_per_section))
                else:
                    per_period = max(1, math.ceil(active * 0.8 / (24 if kind == "elem" else 30)))
                for period in range(1, 8):
                    plan.extend([(grade, period)] * per_period)
            n_inactive = round(len(plan) * 0.02) + (1 if school == gen.schools_by_kind["elem"][0] else 0)
            if not plan:
                n_inactive = 0
            n_teachers = max(1, math.ceil(len(plan) / 6))
        # teachers (and their staff records)
        teachers = []
        for t in range(n_teachers):
            reuse = schools_with_teachers and rng.random() < 0.03
            if reuse:
                other = gen.teacher_staff[rng.randrange(len(gen.teacher_staff))]
                staff = other[1]
                names = (other[0]["FirstName"], other[0]["LastName"], other[0]["EmailAddress"])
                staff["SchoolAccessPermissions"].append(
                    {"SchoolCode": school, "ReadOnlyAccess": False, "CommunicationGroup": True})
            else:
                staff = new_staff(gen, "Teacher", school, teacher=True)
                names = (staff["FirstName"], staff["LastName"], staff["EmailAddress"])
                blank = rng.random()
                if not first_blank_done and school != gen.no_sections_school:
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
                "LowGrade": gen.school_by_code[school]["LowGradeLevel"],
                "HighGrade": gen.school_by_code[school]["HighGradeLevel"],
            }
            gen.teachers.append(teacher)
            gen.teacher_staff.append((teacher, staff))
            teachers.append((teacher, staff))
        schools_with_teachers.append(school)
        if school == gen.no_sections_school:
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
            course_id = rng.choice(gen.course_options[(kind, grade, period)])
            course = gen.course_by_id[course_id]
            room = f"{rng.choice('ABCDP')}{rng.randint(1, 40)}" if kind != "elem" else str(rng.randint(1, 30))
            if not teacher["Room"]:
                teacher["Room"] = room
            members = [member(gen, teacher, staff, True)]
            if n_teachers > 1 and rng.random() < 0.05:
                co_teacher, co_staff = teachers[(k + period + 1) % n_teachers]
                members.append(member(gen, co_teacher, co_staff, False))
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
            gen.sections.append(section)
            gen.teacher_of_section[id(section)] = teacher
            if not inactive:
                grid.setdefault(grade, {}).setdefault(period, []).append(section)
        gen.section_grid[school] = grid


def member(gen: GeneratorState, teacher: dict[str, Any], staff: dict[str, Any], primary: bool) -> dict[str, Any]:
    item = {
        "StaffID": None,
        "LastName": staff["LastName"],
        "FirstName": staff["FirstName"],
        "IsPrimaryTeacher": primary,
        "StaffRoleCode": "T" if primary else "C",
        "StartDate": aeries_date(SCHOOL_YEAR_START),
        "EndDate": aeries_date(SCHOOL_YEAR_END),
        "InactiveStatusCode": " ",
    }
    gen.member_staff.append((item, staff))
    return item


def make_rosters(gen: GeneratorState) -> None:
    rng = gen.rng
    gen.rosters = []
    for record in gen.students:
        status = record["InactiveStatusCode"]
        grid = gen.section_grid.get(record["SchoolCode"])
        if status == "P" or not grid:
            continue
        by_period = grid.get(record["Grade"])
        if not by_period:
            continue
        periods = sorted(by_period)
        count = min(len(periods), rng.randint(*gen.shape.classes_per_student))
        chosen = sorted(rng.sample(periods, count))
        started = max(SCHOOL_YEAR_START.isoformat(), record["SchoolEnterDate"][:10])
        ended = record["SchoolLeaveDate"]
        for sequence, period in enumerate(chosen, 1):
            options = by_period[period]
            section = options[rng.randrange(len(options))]
            if status == " ":
                section["TotalStudents"] += 1
            if sequence == 1 and gen.school_kind[record["SchoolCode"]] == "elem":
                record["HomeRoomTeacherNumber"] = str(gen.teacher_of_section[id(section)]["TeacherNumber"])
            gen.rosters.append(gen.final({
                "StudentID": record["StudentID"],
                "SchoolCode": record["SchoolCode"],
                "SequenceNumber": sequence,
                "SectionNumber": section["SectionNumber"],
                "CourseID": section["CourseID"],
                "DateStarted": f"{started}T00:00:00",
                "DateEnded": ended,
            }))


def _semester(kind: str, period: int, section_number: int) -> str:
    """The MST ``Semester`` (the term a section runs in): at high schools the 7th-period sections are one-semester
    electives, alternately Fall and Spring; every other section runs the whole year."""
    if kind == "high" and period == 7:
        return "F" if section_number % 2 else "S"
    return "Y"
