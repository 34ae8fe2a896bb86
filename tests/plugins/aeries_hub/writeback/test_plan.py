"""The plan of writes: insert the unknown, update only what differs, leave the unchanged alone."""

from __future__ import annotations

from aeries_hub.paths import WRITEBACKS_DIR
from aeries_hub.writeback.loader import load_writeback
from aeries_hub.writeback.tasks import ID, SCHOOL, build_plan

WRITEBACK = load_writeback(WRITEBACKS_DIR / "schoolmint_enroll.yml")
FIELDS = [f.name for f in WRITEBACK.fields]
AERIES = [{"StudentID": 501, "SchoolCode": 100, "StateStudentID": "1234567890", "FirstName": "Ana", "LastName": "Ruiz",
           "Birthdate": "2015-03-04T00:00:00", "Grade": 5, "HomePhone": "831-555-0100"}]
CONTACTS = [{"StudentID": 501, "SequenceNumber": 1, "FirstName": "Rosa", "LastName": "Ruiz", "EmailAddress": ""}]


def student(record_id: str, **values) -> dict:
    return {ID: record_id, SCHOOL: "100", **{name: "" for name in FIELDS}, **values}


def contact(record_id: str, **values) -> dict:
    return {ID: record_id, **{f.name: "" for f in WRITEBACK.contacts.fields}, **values}


def test_a_known_student_is_updated_only_where_it_differs_and_dates_and_phones_compare_by_value():
    known = student("E-1", StateStudentID="1234567890", FirstName="Ana", LastName="Ruiz", BirthDate="2015-03-04",
                    Grade="6", HomePhone="8315550100")
    plan = build_plan(WRITEBACK, [known], [contact("E-1", FirstName="rosa", LastName="RUIZ", EmailAddress="r@x.org")],
                      AERIES, CONTACTS)
    assert [(w["kind"], w["action"], w["path"], w["body"]) for w in plan] == [
        ("student", "update", "UpdateStudent/501", {"Grade": "6"}),
        ("contact", "update", "UpdateContact/501/1", {"EmailAddress": "r@x.org"}),
    ]
    assert plan[0]["changes"] == {"Grade": ["5", "6"]}


def test_an_unknown_student_is_inserted_at_its_school_and_its_contacts_follow():
    new = student("E-2", StateStudentID="2222222222", FirstName="Li", LastName="Wu", BirthDate="2019-01-01", Grade="1")
    plan = build_plan(WRITEBACK, [new], [contact("E-2", FirstName="Mei", LastName="Wu")], AERIES, CONTACTS)
    assert [(w["action"], w["path"]) for w in plan] == [
        ("insert", "schools/100/InsertStudent"), ("insert", "InsertContact/{student}"),
    ]
    assert plan[0]["body"] == {"StateStudentID": "2222222222", "FirstName": "Li", "LastName": "Wu",
                               "BirthDate": "2019-01-01", "Grade": "1"}


def test_a_student_aeries_already_holds_is_left_alone():
    same = student("E-3", StateStudentID="1234567890", FirstName="Ana", LastName="Ruiz", Grade="5")
    plan = build_plan(WRITEBACK, [same], [contact("E-3", FirstName="Rosa", LastName="Ruiz")], AERIES, CONTACTS)
    assert [(w["action"], w["body"]) for w in plan] == [("unchanged", {}), ("unchanged", {})]
