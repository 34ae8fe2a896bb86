"""The plan of writes: insert the unknown, update only what differs, leave the unchanged alone."""

from __future__ import annotations

from aeries_hub.paths import WRITEBACKS_DIR
from aeries_hub.writeback.kinds.students import build_plan, students_of
from aeries_hub.writeback.loader import load_writeback
from aeries_hub.writeback.records import ID, SCHOOL

WRITEBACK = load_writeback(WRITEBACKS_DIR / "schoolmint_enroll.yml")
FIELDS = [f.name for f in students_of(WRITEBACK).fields]
AERIES = [{"StudentID": 501, "SchoolCode": 100, "StateStudentID": "1234567890", "FirstName": "Ana", "LastName": "Ruiz",
           "Birthdate": "2015-03-04T00:00:00", "Grade": 5, "HomePhone": "831-555-0100"}]
CONTACTS = [{"StudentID": 501, "SequenceNumber": 1, "FirstName": "Rosa", "LastName": "Ruiz", "EmailAddress": ""}]


def student(record_id: str, **values) -> dict:
    return {ID: record_id, SCHOOL: "100", **{name: "" for name in FIELDS}, **values}


def contact(record_id: str, **values) -> dict:
    return {ID: record_id, **{f.name: "" for f in students_of(WRITEBACK).contacts.fields}, **values}


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


def test_a_guardian_aeries_knows_only_by_its_mailing_name_is_found_and_not_inserted_again():
    # Real Aeries contacts may have a blank FirstName and LastName and only a MailingName ("First Last"): the
    # outbound Enroll mapping sends its first word and the rest, and Enroll exports them back as fname/lname.
    contacts = [{"StudentID": 501, "SequenceNumber": 2, "FirstName": "", "LastName": " ",
                 "MailingName": "Rosa De La Cruz", "EmailAddress": ""},
                {"StudentID": 501, "SequenceNumber": 3, "FirstName": "", "LastName": "", "MailingName": "Cher",
                 "EmailAddress": ""}]
    same = student("E-4", StateStudentID="1234567890", FirstName="Ana", LastName="Ruiz", Grade="5")
    exported = [contact("E-4", FirstName="rosa", LastName="De La Cruz", EmailAddress="r@x.org"),
                contact("E-4", FirstName="Cher", LastName="Smith")]
    plan = build_plan(WRITEBACK, [same], exported, AERIES, contacts)
    assert [(w["kind"], w["action"], w["path"], w["body"]) for w in plan] == [
        ("student", "unchanged", "UpdateStudent/501", {}),
        # found by its MailingName: its blank names are left as they are, the e-mail is set
        ("contact", "update", "UpdateContact/501/2", {"EmailAddress": "r@x.org"}),
        # a one-word MailingName is a first name only: "Cher Smith" is someone else
        ("contact", "insert", "InsertContact/501", {"FirstName": "Cher", "LastName": "Smith"}),
    ]


def test_aeries_match_names_a_match_field_and_reads_aeries_contact_columns(tmp_path):
    import pytest

    from aeries_hub.mapping.models import MappingError

    text = (WRITEBACKS_DIR / "schoolmint_enroll.yml").read_text()
    broken = text.replace("      LastName: {first_of: [LastName, {source: MailingName,",
                          "      EmailAddress: {first_of: [LastName, {source: MailingNam,")
    assert broken != text
    path = tmp_path / "schoolmint_enroll.yml"
    path.write_text(broken)
    with pytest.raises(MappingError) as error:
        load_writeback(path)
    assert str(error.value).splitlines() == [
        "schoolmint_enroll.yml:76: students.contacts.aeries_match.EmailAddress: 'EmailAddress' is not one of "
        "students.contacts.match",
        "schoolmint_enroll.yml:76: students.contacts.aeries_match.EmailAddress: 'MailingNam' is not a field of an "
        "Aeries contact (did you mean 'MailingName'?)",
    ]
    path.write_text(text.replace("{split_name: first}", "{split_name: middle}"))
    with pytest.raises(MappingError, match=r"^schoolmint_enroll\.yml:75: students\.contacts\.aeries_match\.FirstName"
                                           r"\.first_of\[1\]\.transform\[0\]\.split_name: 'middle' is not one of"):
        load_writeback(path)
