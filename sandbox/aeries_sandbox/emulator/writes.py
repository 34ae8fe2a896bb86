"""The write endpoints of the emulator: Aeries' validation, then a change to the in-memory district.

Each public function takes the server's :class:`~aeries_sandbox.emulator.index.DistrictIndex`, the path ids and
the parsed JSON body, and returns ``(status, answer)``; a rule violation raises
:class:`~aeries_sandbox.emulator.errors.HttpError` (400 with the first violation found, 404 for an id in the path
that does not exist). Nothing is changed unless the whole request is valid (a score array is all-or-nothing).
Callers hold ``index.lock`` so that one write is validated and applied at a time.

Records are copied on write: an update replaces the record in every index with an updated copy, so the
:class:`~aeries_sandbox.emulator.district.District` the server was started with is never changed.

The rules (field names, lengths, which fields are required, answers) are listed in README.md ("Writes").
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, Mapping

from aeries_sandbox.emulator.district import blank_contact, blank_student, int_key
from aeries_sandbox.emulator.errors import HttpError
from aeries_sandbox.emulator.write_fields import (
    ADDRESS_FIELDS,
    CONTACT_FIELDS,
    CONTACT_REQUIRED,
    FOUR_DECIMALS,
    STUDENT_FIELDS,
    STUDENT_REQUIRED,
    bad_request,
    json_number,
    json_object,
    mark_text,
    parse_date,
    read_fields,
    shown,
    to_decimal,
    to_text,
    to_whole,
)

if TYPE_CHECKING:  # pragma: no cover
    from aeries_sandbox.emulator.index import DistrictIndex

__all__ = [
    "insert_student",
    "update_student",
    "update_student_address",
    "insert_contact",
    "update_contact",
    "insert_assignment",
    "update_scores",
    "insert_course_request",
    "score_rows",
]


# -- students ----------------------------------------------------------------------------------------------
def _school(index: DistrictIndex, school: int) -> dict[str, Any]:
    record = index.school_by_code.get(school)
    if record is None:
        raise HttpError(404, f"School {school} was not found")
    return record


def _check_grade(index: DistrictIndex, school: int, grade: int, name: str = "Grade") -> None:
    record = index.school_by_code.get(school) or {}
    low, high = int_key(record.get("LowGradeLevel")), int_key(record.get("HighGradeLevel"))
    if isinstance(low, int) and isinstance(high, int) and (low, high) != (0, 0) and not low <= grade <= high:
        raise bad_request(f"{name} {grade} is not offered at school {school} (grades {low} to {high}).")


def _check_next_school(index: DistrictIndex, values: Mapping[str, Any]) -> None:
    next_school = values.get("NextSchoolCode")
    if next_school is not None and next_school not in index.school_by_code:
        raise bad_request(f"NextSchool {next_school} is not a school in the district.")


def insert_student(index: DistrictIndex, school: int, payload: Any) -> tuple[int, Any]:
    """``POST schools/{sc}/InsertStudent``: a student who has never been enrolled in the district."""
    _school(index, school)
    if school == 0:
        raise bad_request("Students cannot be added to school 0 (the district office).")
    body = json_object(payload, "a Student")
    values = read_fields(body, STUDENT_FIELDS, STUDENT_REQUIRED)
    _check_grade(index, school, values["Grade"])
    _check_next_school(index, values)
    lowered = {str(key).lower(): value for key, value in body.items()}
    student_id = lowered.get("studentid")
    if student_id is not None:
        student_id = to_whole(student_id, "StudentID", 1)
        if student_id in index.student_records:
            raise bad_request(f"Student ID {student_id} already exists in the district; InsertStudent is only for students "
                              "who have never been enrolled in the district.")
    else:
        student_id = index.next_student_id()
    state_id = lowered.get("statestudentid")
    state_id = to_text(state_id, "StateStudentID", 10).strip() if state_id is not None else ""
    if state_id and state_id in index.state_student_ids:
        raise bad_request(f"State Student ID {state_id} already belongs to student {index.state_student_ids[state_id]}; "
                          "InsertStudent is only for students who have never been enrolled in the district.")
    grade = values["Grade"]
    enter = values.get("SchoolEnterDate") or f"{index.info.get('SchoolYearStart', '2026-08-13')}T00:00:00"
    record: dict[str, Any] = {
        **blank_student(), "StudentID": student_id, "OldStudentID": 0, "SchoolCode": school,
        "StudentNumber": index.next_student_number(school), "StateStudentID": state_id,
        "LastName": "", "FirstName": "", "MiddleName": "", "LastNameAlias": "", "FirstNameAlias": "",
        "MiddleNameAlias": "", "Gender": "", "Grade": grade, "Birthdate": None, "ParentGuardianName": "",
        "HomePhone": "", "StudentMobilePhone": "", "MailingAddress": "", "MailingAddressCity": "",
        "MailingAddressState": "", "MailingAddressZipCode": "", "ResidenceAddress": "", "ResidenceAddressCity": "",
        "ResidenceAddressState": "", "ResidenceAddressZipCode": "", "EthnicityCode": "", "RaceCode1": "",
        "RaceCode2": "", "RaceCode3": "", "RaceCode4": "", "RaceCode5": "", "SchoolEnterDate": enter,
        "SchoolLeaveDate": None, "DistrictEnterDate": values.get("DistrictEnterDate") or enter, "CounselorNumber": 0,
        "Track": "", "InactiveStatusCode": " ", "FamilyKey": 0, "LanguageFluencyCode": "", "HomeLanguageCode": "",
        "CorrespondenceLanguageCode": "", "ParentEmailAddress": "", "StudentEmailAddress": "",
        "NetworkLoginID": "", "HomeRoomTeacherNumber": "0",
        "NextSchoolCode": school, "NextGrade": min(grade + 1, 18), "RecordsReleaseCode": "",
    }
    record.update(values)
    index.add_student(record)
    index.add_change("student", record)
    return 200, record


def _student_records(index: DistrictIndex, student_id: int) -> list[dict[str, Any]]:
    records = index.student_records.get(student_id)
    if not records:
        raise HttpError(404, f"Student {student_id} was not found")
    return sorted(records, key=lambda r: int_key(r.get("SchoolCode")))


def _apply_student_update(index: DistrictIndex, records: list[dict[str, Any]],
                          values: Mapping[str, Any]) -> tuple[int, Any]:
    if "Grade" in values:
        for record in records:
            _check_grade(index, int_key(record.get("SchoolCode")), values["Grade"])
    _check_next_school(index, values)
    updated = []
    for record in records:
        new = {**record, **values}
        if new != record:
            index.replace_student(record, new)
            index.add_change("student", new)
        updated.append(new)
    return 200, updated


def update_student(index: DistrictIndex, student_id: int, payload: Any) -> tuple[int, Any]:
    """``POST UpdateStudent/{StudentID}``: the fields given, on every school record of the student."""
    records = _student_records(index, student_id)
    values = read_fields(json_object(payload, "the Student fields to update"), STUDENT_FIELDS)
    return _apply_student_update(index, records, values)


def update_student_address(index: DistrictIndex, student_id: int, payload: Any) -> tuple[int, Any]:
    """``POST UpdateStudentAddress/{StudentID}``: mailing/residence address, a Correction or a Change."""
    records = _student_records(index, student_id)
    body = json_object(payload, "an address update")
    lowered = {str(key).lower(): value for key, value in body.items()}
    kind = lowered.get("correctionorchange")
    if kind is None or (isinstance(kind, str) and not kind.strip()):
        raise bad_request("CorrectionOrChange is required (Correction or Change).")
    if not isinstance(kind, str) or kind.strip().lower() not in ("correction", "change"):
        raise bad_request(f"CorrectionOrChange '{shown(kind)}' is not valid; use Correction or Change.")
    if lowered.get("effectivestartdate") is not None:
        parse_date(lowered["effectivestartdate"], "EffectiveStartDate")
    values = read_fields(body, ADDRESS_FIELDS)
    return _apply_student_update(index, records, values)


# -- contacts ----------------------------------------------------------------------------------------------
def insert_contact(index: DistrictIndex, student_id: int, payload: Any) -> tuple[int, Any]:
    """``POST InsertContact/{StudentID}``: a new contact with the next sequence number."""
    records = _student_records(index, student_id)
    values = read_fields(json_object(payload, "a Contact"), CONTACT_FIELDS, CONTACT_REQUIRED)
    existing = index.contacts_by_id.get(student_id, [])
    if existing:
        school = int_key(existing[0].get("SchoolCode"))
    else:
        active = [r for r in records if str(r.get("InactiveStatusCode") or " ").strip() == ""]
        school = int_key((active or records)[0].get("SchoolCode"))
    sequence = max((int_key(c.get("SequenceNumber")) for c in existing), default=0) + 1
    record: dict[str, Any] = {
        **blank_contact(), "StudentID": student_id, "SchoolCode": school, "SequenceNumber": sequence,
        "MailingName": f"{values.get('FirstName', '')} {values.get('LastName', '')}".strip(),
        "LivesWithStudentIndicator": "N", "ContactOrder": sequence, "PrimaryContact": "N",
    }
    record.update(values)
    index.add_contact(record)
    index.add_change("contact", records[0])
    return 200, record


def update_contact(index: DistrictIndex, student_id: int, sequence: int, payload: Any) -> tuple[int, Any]:
    """``POST UpdateContact/{StudentID}/{Seq}``: the fields given."""
    records = _student_records(index, student_id)
    contact = next((c for c in index.contacts_by_id.get(student_id, []) if int_key(c.get("SequenceNumber")) == sequence),
                   None)
    if contact is None:
        raise HttpError(404, f"Contact {sequence} was not found for student {student_id}")
    values = read_fields(json_object(payload, "the Contact fields to update"), CONTACT_FIELDS)
    new = {**contact, **values}
    if new != contact:
        index.replace_contact(contact, new)
        index.add_change("contact", records[0])
    return 200, new


# -- gradebooks --------------------------------------------------------------------------------------------
def _today() -> str:
    return f"{datetime.now().date().isoformat()}T00:00:00"


def insert_assignment(index: DistrictIndex, gradebook_number: int, payload: Any) -> tuple[int, Any]:
    """``POST gradebooks/{gn}/Assignments``: 201 with the new assignment (and its copies in linked gradebooks)."""
    gradebook = index.gradebook_by_number.get(gradebook_number)
    if gradebook is None:
        raise HttpError(404, f"Gradebook {gradebook_number} was not found")
    body = json_object(payload, "an AssignmentInsert")
    lowered = {str(key).lower(): value for key, value in body.items()}
    description = lowered.get("description")
    if description is None:
        raise bad_request("Description is required.")
    description = to_text(description, "Description", 255)
    possible: dict[str, Decimal | None] = {}
    for name in ("NumberCorrectPossible", "PointsPossible"):
        value = lowered.get(name.lower())
        possible[name] = None if value is None else to_decimal(value, name)
        if possible[name] is not None and possible[name] < 0:  # type: ignore[operator]
            raise bad_request(f"{name} must not be negative.")
    correct = possible["NumberCorrectPossible"] or possible["PointsPossible"] or Decimal(0)
    points = possible["PointsPossible"] if possible["PointsPossible"] is not None else correct
    if not correct or not points:
        raise bad_request("PointsPossible must be greater than 0 (the emulator's gradebooks do not use rubric grading).")
    dates = {name: (parse_date(lowered[name.lower()], name) if lowered.get(name.lower()) is not None else None)
             for name in ("DateAssigned", "DateDue")}
    assigned = dates["DateAssigned"] or dates["DateDue"] or _today()
    due = dates["DateDue"] or assigned
    kind = lowered.get("formativesummativeindicator")
    kind = kind.strip().upper() if isinstance(kind, str) and kind.strip().upper() in ("F", "S") else "S"
    comment = to_text(lowered["comment"], "Comment", 1000) if lowered.get("comment") is not None else ""
    external = to_text(lowered["externalid"], "ExternalID", 255) if lowered.get("externalid") is not None else ""
    category_code = lowered.get("assignmentcategorycode")
    linked = lowered.get("createinlinkedgradebookstoo")
    targets = [gradebook]
    group = int_key(gradebook.get("LinkedGroup"))
    if linked is not False and group:
        targets += [g for g in index.gradebooks_by_teacher.get(
            (int_key(gradebook.get("SchoolCode")), int_key(gradebook.get("TeacherNumber"))), [])
            if g is not gradebook and int_key(g.get("LinkedGroup")) == group]
    created = []
    for target in targets:
        number = int_key(target.get("GradebookNumber"))
        categories = target.get("AssignmentCategories") or []
        category = next((c for c in categories if str(c.get("Code")) == str(category_code)),
                        categories[0] if categories else None)
        assignment_number = max((int_key(a.get("AssignmentNumber")) for a in index.assignments_by_gradebook.get(number, [])),
                                default=0) + 1
        record = {
            "GradebookNumber": number, "AssignmentNumber": assignment_number, "Description": description,
            "AssignmentCategory": category, "Comment": comment, "DateAssigned": assigned, "DateDue": due,
            "NumberCorrectPossible": json_number(correct), "PointsPossible": json_number(points),
            "FormativeSummativeIndicator": kind, "GradingCompleted": False, "RubricAssignment": False,
            "ExternalID": external, "VisibleToParents": True, "ScoresVisibleToParents": True,
            "InputScoresByStandard": False, "NarrativeGradeSetID": 0, "Standards": [],
            "UniqueID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"aeries-emulator/gradebooks/{number}/{assignment_number}")).upper(),
        }
        index.add_assignment(record)
        created.append(record)
    return 201, created


def gradebook_student_ids(index: DistrictIndex, gradebook: Mapping[str, Any]) -> set[Any]:
    """The students of a gradebook: those with a class schedule row in one of its sections (dropped ones too)."""
    students: set[Any] = set()
    for section in gradebook.get("Sections") or []:
        key = (int_key(section.get("SchoolCode", gradebook.get("SchoolCode"))), int_key(section.get("SectionNumber")))
        students.update(int_key(row.get("StudentID")) for row in index.rosters_by_section.get(key, []))
    return students


def score_rows(index: DistrictIndex, assignment: Mapping[str, Any]) -> list[dict[str, Any]]:
    key = (int_key(assignment.get("GradebookNumber")), int_key(assignment.get("AssignmentNumber")))
    scores = index.scores.get(key, {})
    return [scores[student] for student in sorted(scores)]


def update_scores(index: DistrictIndex, assignment: Mapping[str, Any], payload: Any) -> tuple[int, Any]:
    """``POST gradebooks/{gn}/assignments/{an}/Scores``: every row valid, or nothing is written (400 names the
    first bad row); 200 with all scores of the assignment."""
    gradebook_number = int_key(assignment.get("GradebookNumber"))
    assignment_number = int_key(assignment.get("AssignmentNumber"))
    if isinstance(payload, HttpError):
        raise payload
    if not isinstance(payload, list):
        raise bad_request("The request body must be a JSON array of AssignmentScoreUpdate objects.")
    gradebook = index.gradebook_by_number.get(gradebook_number) or {}
    enrolled = gradebook_student_ids(index, gradebook)
    possible = to_decimal(assignment.get("NumberCorrectPossible") or 0, "NumberCorrectPossible")
    points = to_decimal(assignment.get("PointsPossible") or 0, "PointsPossible")
    seen: set[int] = set()
    rows = []
    for number, item in enumerate(payload, 1):
        where = f"Row {number}: "
        if not isinstance(item, dict):
            raise bad_request(f"{where}each score must be a JSON object.")
        lowered = {str(key).lower(): value for key, value in item.items()}
        if lowered.get("studentid") is None:
            raise bad_request(f"{where}StudentID is required.")
        student_id = to_whole(lowered["studentid"], f"{where}StudentID", 1)
        if student_id in seen:
            raise bad_request(f"{where}student {student_id} appears more than once in this request.")
        seen.add(student_id)
        if student_id not in enrolled:
            raise bad_request(f"{where}student {student_id} is not in gradebook {gradebook_number}.")
        if lowered.get("standardscores"):
            raise bad_request(f"{where}StandardScores cannot be used: assignment {assignment_number} does not use "
                              "Input Scores By Standard.")
        if lowered.get("numbercorrect") is None:
            raise bad_request(f"{where}NumberCorrect is required.")
        correct = to_decimal(lowered["numbercorrect"], "NumberCorrect", where)
        if not Decimal(0) <= correct <= possible:
            raise bad_request(f"{where}NumberCorrect {mark_text(correct)} for student {student_id} is outside 0 to "
                              f"{mark_text(possible)} (NumberCorrectPossible of assignment {assignment_number}).")
        completed = lowered.get("datecompleted")
        completed = parse_date(completed, f"{where}DateCompleted") if completed is not None else assignment.get("DateDue")
        rows.append((student_id, correct, completed))
    for student_id, correct, completed in rows:
        earned = (correct / possible * points) if possible else correct
        percent = (correct / possible * 100) if possible else Decimal(0)
        index.set_score({
            "GradebookNumber": gradebook_number, "AssignmentNumber": assignment_number, "StudentID": student_id,
            "Mark": mark_text(correct), "NumberCorrect": json_number(correct), "NumberCorrectPossible": json_number(possible),
            "PointsEarned": json_number(earned.quantize(FOUR_DECIMALS, ROUND_HALF_UP)), "PointsPossible": json_number(points),
            "PercentCorrect": json_number(percent.quantize(Decimal("0.01"), ROUND_HALF_UP)), "DateCompleted": completed,
            "IsMissing": False,
        })
    return 200, score_rows(index, assignment)


# -- course requests (SSS) ---------------------------------------------------------------------------------
def insert_course_request(index: DistrictIndex, school: int, student_id: int, payload: Any) -> tuple[int, Any]:
    """``POST schools/{sc}/students/{id}/courserequests``: one SSS row; 201 with the StudentCourseRequest."""
    _school(index, school)
    if not index.student_by_id.get((school, student_id)):
        raise HttpError(404, f"Student {student_id} was not found at school {school}")
    body = json_object(payload, "a StudentCourseRequestUpdate")
    lowered = {str(key).lower(): value for key, value in body.items()}
    course_id = lowered.get("courseid")
    if course_id is None or (isinstance(course_id, str) and not course_id.strip()):
        raise bad_request("Course ID is required.")
    course_id = to_text(course_id, "Course ID", 6).strip()
    if len(course_id) > 6:
        raise bad_request("Course ID must be 6 characters or fewer.")
    course = index.course_by_id.get(course_id.upper())
    if course is None:
        raise bad_request(f"Course ID '{course_id}' was not found.")
    if str(course.get("InactiveStatusCode") or " ").strip():
        raise bad_request(f"Course ID '{course_id}' is inactive.")
    existing = index.course_requests_by_student.get((school, student_id), [])
    for row in existing:
        if str(row.get("CourseID", "")).strip().upper() == course_id.upper():
            raise bad_request(f"Student {student_id} already has a request for course '{course_id}' at school {school} "
                              f"(sequence {row.get('SequenceNumber')}).")
    taken = {int_key(row.get("SequenceNumber")) for row in existing}
    sequence = lowered.get("sequencenumber")
    if sequence is not None and sequence != 0:
        sequence = to_whole(sequence, "SequenceNumber", 1, 32767)
        if sequence in taken:
            raise bad_request(f"Sequence number {sequence} already exists for student {student_id} at school {school}.")
    else:
        sequence = max(taken, default=0) + 1
    section_number = to_whole(lowered.get("sectionnumber") or 0, "SectionNumber", 0, 32767)
    if section_number:
        section = index.section_by_number.get((school, section_number))
        if section is None:
            raise bad_request(f"Section {section_number} was not found at school {school}.")
        if str(section.get("CourseID", "")).upper() != course_id.upper():
            raise bad_request(f"Section {section_number} is course '{section.get('CourseID')}', not '{course_id}'.")
    teacher_number = to_whole(lowered.get("preferredteachernumber") or 0, "PreferredTeacherNumber", 0, 32767)
    if teacher_number and (school, teacher_number) not in index.teacher_by_number:
        raise bad_request(f"Teacher {teacher_number} was not found at school {school}.")
    staff_id = to_whole(lowered.get("preferredstaffid") or 0, "PreferredStaffID", 0)
    if staff_id and staff_id not in index.staff_by_id:
        raise bad_request(f"Staff {staff_id} was not found.")
    codes = {}
    for name, length in (("RejectCode", 2), ("PermanentLockCode", 2), ("ActualPrimaryCourseID", 6)):
        value = lowered.get(name.lower())
        codes[name] = to_text(value, name, length).strip() if value is not None else ""
    tag = lowered.get("alternatetag")
    tag = tag.strip().upper() if isinstance(tag, str) else ("" if tag is None else tag)
    if tag not in ("", "X"):
        raise bad_request("AlternateTag must be blank or X.")
    references = lowered.get("alternatecourserequestreferences") or []
    if references:
        reference = references[0] if isinstance(references, list) else references
        raise bad_request(f"Alternate course request {shown(reference)} was not found for student {student_id}.")
    record = {
        "StudentID": student_id, "AlternateCourseRequests": [],
        "ActualPrimaryCourseID": codes["ActualPrimaryCourseID"] if tag == "X" else "", "SchoolCode": school,
        "SequenceNumber": sequence, "SectionNumber": section_number, "CourseID": course.get("ID", course_id),
        "PreferredTeacherNumber": teacher_number, "PreferredStaffID": staff_id, "RejectCode": codes["RejectCode"],
        "AlternateTag": tag, "PermanentLockCode": codes["PermanentLockCode"],
    }
    index.add_course_request(record)
    return 201, record
