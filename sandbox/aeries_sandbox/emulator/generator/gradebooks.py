"""Gradebooks: one per active section, with assignment categories, terms and two assignments each."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

from aeries_sandbox.emulator.generator.state import (
    GRADEBOOK_CATEGORIES,
    GRADEBOOK_NUMBER_START,
    SCHOOL_YEAR_END,
    SCHOOL_YEAR_START,
    GeneratorState,
    aeries_date,
)

__all__ = ["make_gradebooks"]


def make_gradebooks(gen: GeneratorState) -> None:
    """One gradebook per active section, two assignments each; drawn from a separate RNG (see module doc)."""
    rng = random.Random(f"{gen.seed}:gradebooks")
    gen.gradebooks = []
    gen.assignments = []
    active = sorted((s for s in gen.sections if s["InactiveStatusCode"] == " "),
                    key=lambda s: (s["SchoolCode"], s["SectionNumber"]))
    for number, section in enumerate(active, GRADEBOOK_NUMBER_START):
        school = gen.school_by_code[section["SchoolCode"]]
        teacher = gen.teacher_of_section[id(section)]
        course = gen.course_by_id[section["CourseID"]]
        categories = [{"GradebookNumber": number, "Code": code, "Description": text, "PercentageOfGrade": weight,
                       "Color": color} for code, text, weight, color in GRADEBOOK_CATEGORIES]
        gen.gradebooks.append(gen.final({
            "GradebookNumber": number,
            "SchoolCode": section["SchoolCode"],
            "TeacherNumber": teacher["TeacherNumber"],
            "TeacherName": teacher["DisplayName"],
            "TeacherEmailAddress": teacher["EmailAddress"],
            "Name": course["Title"],
            "Period": int(section["Period"]),
            "Comment": "",
            "StartDate": aeries_date(SCHOOL_YEAR_START),
            "EndDate": aeries_date(SCHOOL_YEAR_END),
            "LinkedGroup": 0,
            "GradebookType": "",
            "Sections": [{"GradebookNumber": number, "SchoolCode": section["SchoolCode"],
                          "SectionNumber": section["SectionNumber"]}],
            "Terms": [{"GradebookNumber": number, "Code": t["TermCode"], "Name": t["TermDescription"],
                       "StartDate": t["StartDate"], "EndDate": t["EndDate"]}
                      for t in school["Terms"] if t["TermCode"] != "Y"],
            "AssignmentCategories": categories,
        }))
        assigned = SCHOOL_YEAR_START + timedelta(days=rng.randint(5, 20))
        plan = (("Homework 1", categories[0], 10, 10, "F", assigned, assigned + timedelta(days=7)),
                ("Unit 1 Test", categories[1], 40, 100, "S", assigned + timedelta(days=14),
                 assigned + timedelta(days=rng.randint(21, 35))))
        for assignment_number, (text, category, correct, points, kind, given, due) in enumerate(plan, 1):
            gen.assignments.append(gen.final({
                "GradebookNumber": number,
                "AssignmentNumber": assignment_number,
                "Description": text,
                "AssignmentCategory": category,
                "Comment": "",
                "DateAssigned": aeries_date(given),
                "DateDue": aeries_date(due),
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
            }))
