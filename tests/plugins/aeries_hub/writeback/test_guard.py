"""The inbound guard: which planned writes wait for approval, and why (ids and field names only)."""

from __future__ import annotations

import dataclasses

import pytest

from aeries_hub.mapping.models import MappingError
from aeries_hub.operators.approval import writeback_approval_body
from aeries_hub.paths import WRITEBACKS_DIR
from aeries_hub.writeback.guard import review
from aeries_hub.writeback.kinds.students import build_plan, students_of
from aeries_hub.writeback.loader import load_writeback
from aeries_hub.writeback.records import ID, SCHOOL

ENROLL = load_writeback(WRITEBACKS_DIR / "schoolmint_enroll.yml")
XELLO = load_writeback(WRITEBACKS_DIR / "xello.yml")
AERIES = [{"StudentID": 501, "SchoolCode": 100, "StateStudentID": "1234567890", "FirstName": "Ana", "LastName": "Ruiz",
           "Birthdate": "2015-03-04T00:00:00", "Grade": 5, "HomePhone": "831-555-0100", "MailingAddress": "1 Oak St"}]
CONTACTS = [{"StudentID": 501, "SequenceNumber": 1, "FirstName": "Rosa", "LastName": "Ruiz", "CellPhone": ""}]


def student(record_id: str, **values) -> dict:
    return {ID: record_id, SCHOOL: "100", **{f.name: "" for f in students_of(ENROLL).fields}, **values}


def contact(record_id: str, **values) -> dict:
    return {ID: record_id, **{f.name: "" for f in students_of(ENROLL).contacts.fields}, **values}


KNOWN = dict(StateStudentID="1234567890", FirstName="Ana", LastName="Ruiz", BirthDate="2015-03-04")


def guard_of(students, contacts, *, created=(), writeback=ENROLL) -> dict:
    plan = build_plan(writeback, students, contacts, AERIES, CONTACTS)
    return review(writeback, plan, students_read=len(AERIES) * 100, created=set(created))


def test_a_new_student_with_its_guardians_goes_in_without_approval():
    new = student("E-2", StateStudentID="2222222222", FirstName="Li", LastName="Wu", BirthDate="2019-01-01", Grade="1",
                  HomePhone="8315550142", MailingAddress="12 Elm St")
    guard = guard_of([new], [contact("E-2", FirstName="Mei", LastName="Wu", CellPhone="8315550143")])
    assert guard == {"needs_approval": False, "reasons": [], "students_changed": 0, "students_read": 100,
                     "changed_students": [], "waiting": []}


def test_an_existing_students_address_and_a_new_guardian_wait_naming_the_student_and_fields_only():
    known = student("E-1", **KNOWN, Grade="5", MailingAddress="77 Harbor Way")
    guard = guard_of([known], [contact("E-1", FirstName="Sam", LastName="Stranger", CellPhone="8315550199")])
    assert guard["needs_approval"] is True
    assert guard["waiting"] == [
        {"record": "E-1", "kind": "student", "action": "update", "students": ["501"], "fields": ["MailingAddress"],
         "why": "update of an existing Aeries student"},
        {"record": "E-1", "kind": "contact", "action": "insert", "students": ["501"],
         "fields": ["CellPhone", "FirstName", "LastName"], "why": "contact added to an existing Aeries student"},
    ]
    assert guard["reasons"] == ["1 writes: update of an existing Aeries student",
                                "1 writes: contact added to an existing Aeries student"]
    body = writeback_approval_body("schoolmint_enroll_to_aeries", guard, 24)
    assert "`501`" in body and "MailingAddress" in body and "CellPhone" in body
    assert not any(value in body for value in ("77 Harbor Way", "Stranger", "8315550199", "Sam"))


def test_a_student_this_writeback_created_may_be_updated_but_not_its_address_or_phone():
    grade = guard_of([student("E-1", **KNOWN, Grade="6")], [], created={"501"})
    assert grade["needs_approval"] is False and grade["students_changed"] == 1
    phone = guard_of([student("E-1", **KNOWN, Grade="5", HomePhone="8315550111")], [], created={"501"})
    assert [(w["fields"], w["why"]) for w in phone["waiting"]] == [(["HomePhone"], "address, phone or e-mail changed")]
    guardian = guard_of([student("E-1", **KNOWN, Grade="5")], [contact("E-1", FirstName="Sam", LastName="Lee")],
                        created={"501"})
    assert guardian["needs_approval"] is False


def test_past_the_mass_change_limits_every_write_waits():
    course_requests = [{"record": f"100/{sid}/0001", "kind": "course request", "action": "insert",
                        "path": f"schools/100/students/{sid}/courserequests", "body": {"CourseID": "0001"}}
                       for sid in range(1, 12)]
    small = dataclasses.replace(XELLO, guard=dataclasses.replace(XELLO.guard, max_students_changed=10))
    guard = review(small, course_requests, students_read=1000, created=set())
    assert guard["reasons"] == ["it changes 11 existing students, more than guard.max_students_changed (10)"]
    assert len(guard["waiting"]) == 11 and {w["why"] for w in guard["waiting"]} == {"over the mass-change limits"}
    share = review(XELLO, course_requests, students_read=20, created=set())
    assert share["reasons"] == ["it changes 55.0% of the 20 students it read, more than "
                                "guard.max_students_changed_percent (50%)"]
    assert review(XELLO, course_requests, students_read=1000, created=set())["needs_approval"] is False


def test_a_planned_field_the_guard_does_not_allow_stops_the_run_before_anything_is_sent():
    write = {"record": "100/7/0001", "kind": "course request", "action": "insert",
             "path": "schools/100/students/7/courserequests", "body": {"CourseID": "0001", "RejectCode": "X"}}
    with pytest.raises(MappingError) as err:
        review(XELLO, [write], students_read=10, created=set())
    assert str(err.value) == ("xello.yml: record 100/7/0001: the plan writes course_requests field(s) RejectCode, "
                              "which guard.allowed_fields.course_requests does not allow; nothing was sent")
