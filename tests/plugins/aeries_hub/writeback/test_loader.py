"""Write-back files: the shipped one loads, writing is off by default, mistakes name the file and key path."""

from __future__ import annotations

import pytest
import yaml

from aeries_hub.config_files import read_yaml
from aeries_hub.mapping.models import MappingError
from aeries_hub.paths import WRITEBACKS_DIR
from aeries_hub.writeback.kinds.base import kind_of
from aeries_hub.writeback.kinds.students import students_of
from aeries_hub.writeback.loader import load_writeback

ENROLL = WRITEBACKS_DIR / "schoolmint_enroll.yml"


def enroll_with(tmp_path, edit) -> str:
    document = read_yaml(ENROLL, shown="schoolmint_enroll.yml", error=ValueError)
    edit(document)
    path = tmp_path / "schoolmint_enroll.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(MappingError) as err:
        load_writeback(path)
    return str(err.value)


def test_shipped_writeback_loads_with_writing_off():
    writeback = load_writeback(ENROLL)
    assert writeback.dag_id == "schoolmint_enroll_to_aeries"
    assert writeback.enabled is False
    students = students_of(writeback)
    assert students.match == ("StateStudentID",) and students.contacts.match == ("FirstName", "LastName")


def test_unknown_key_and_unknown_aeries_field_name_the_key_path(tmp_path):
    assert enroll_with(tmp_path, lambda d: d["students"].update(matches=["X"])) == (
        "schoolmint_enroll.yml:133: students: unknown key 'matches' (did you mean 'match'?); allowed keys: contacts, fields, id, match, "
        "school"
    )

    def edit(d):
        d["students"]["fields"]["FavoriteColor"] = "students.color"
        d["students"]["match"] = ["StateId"]

    assert enroll_with(tmp_path, edit) == (
        "schoolmint_enroll.yml:100: students.fields.FavoriteColor: not a field of an Aeries student\n"
        "schoolmint_enroll.yml:64: students.match: 'StateId' is not one of students.fields (StateStudentID, FirstName, "
        "MiddleName, LastName, BirthDate, Gender, Grade, HomePhone, MailingAddress, MailingAddressCity, "
        "MailingAddressState, MailingAddressZipCode, SchoolEnterDate, FavoriteColor)"
    )


def test_an_aeries_match_template_whose_braces_do_not_pair_is_refused_at_load_naming_its_key(tmp_path):
    """As in a mapping: else the write-back loads and each run fails when it matches the contacts."""
    def edit(d):
        d["students"]["contacts"]["aeries_match"]["LastName"]["transform"] = ["trim", {"if_blank": "a}b"}]

    assert enroll_with(tmp_path, edit) == (
        "schoolmint_enroll.yml:122: students.contacts.aeries_match.LastName.transform[1].if_blank: 'a}b' is not a "
        "template: Single '}' encountered in format string (a brace in the text is written {{ or }})"
    )


def test_a_field_the_guard_does_not_allow_is_refused_at_load_naming_file_key_and_field(tmp_path):
    def edit(d):
        d["guard"]["allowed_fields"]["students"].remove("MailingAddress")

    assert enroll_with(tmp_path, edit) == (
        "schoolmint_enroll.yml:92: students.fields.MailingAddress: field MailingAddress is not in "
        "guard.allowed_fields.students (the students fields this write-back may write: StateStudentID, FirstName, "
        "MiddleName, LastName, BirthDate, Gender, Grade, HomePhone, MailingAddressCity, MailingAddressState, "
        "MailingAddressZipCode, SchoolEnterDate); add it there only if the write-back must write it"
    )


def test_a_contact_field_and_an_allowed_fields_kind_the_writeback_does_not_write_are_refused(tmp_path):
    def edit(d):
        d["guard"]["allowed_fields"]["contacts"] = ["FirstName", "LastName"]
        d["guard"]["allowed_fields"]["scores"] = ["NumberCorrect"]

    problems = enroll_with(tmp_path, edit).splitlines()
    assert problems[0] == ("schoolmint_enroll.yml:49: guard.allowed_fields.scores: this write-back writes students, "
                           "whose records are students, contacts")
    assert [p.split(": ")[1] for p in problems[1:]] == [
        "students.contacts.fields.RelationshipToStudentCode", "students.contacts.fields.EmailAddress",
        "students.contacts.fields.CellPhone", "students.contacts.fields.HomePhone"]


def test_every_writeback_must_declare_its_allowed_fields(tmp_path):
    assert enroll_with(tmp_path, lambda d: d.pop("guard")) == "schoolmint_enroll.yml: (top): 'guard' is required"


def test_the_shipped_writebacks_declare_what_they_write():
    for path in sorted(WRITEBACKS_DIR.glob("*.yml")):
        writeback = load_writeback(path)
        for kind, fields in kind_of(writeback).written_fields(writeback).items():
            assert set(fields) <= set(writeback.guard.allowed_fields[kind]), (path.name, kind)


#: A hand-written write-back with a mistake on lines 6, 15 and 20 (the schema's), then 22 (the kind's) and 6 (the
#: source's): each problem names its line.
HAND_WRITTEN = """\
name: enroll
description: New students from the enrolment system
schedule: null
aeries: {conn_id: aeries_writer}
source:
  sftp: {conn_id: enroll_sftp, remote_dir: outbox, delimter: "|"}
guard:
  allowed_fields: {students: [StateStudentID, FirstName], contacts: [FirstName]}
students:
  id: id
  school: school
  match: [StateStudentID]
  fields:
    StateStudentID: state_id
    FirstName: {path: first, requird: true}
  contacts:
    from: contacts
    match: [FirstName]
    aeries_match:
      FirstName: {source: MailingName, transform: [{split_nam: first}]}
    fields:
      FirstName: first
"""


def test_a_hand_written_file_s_mistakes_name_their_line_and_the_key_or_step_meant(tmp_path):
    path = tmp_path / "enroll.yml"
    path.write_text(HAND_WRITTEN)
    with pytest.raises(MappingError) as err:
        load_writeback(path)
    assert str(err.value).splitlines() == [
        "enroll.yml:6: source.sftp: unknown key 'delimter' (did you mean 'delimiter'?); allowed keys: conn_id, "
        "delimiter, format, max_fetch_seconds, max_file_bytes, pattern, quoting, remote_dir",
        "enroll.yml:20: students.contacts.aeries_match.FirstName.transform[0]: unknown step 'split_nam' (did you mean "
        "'split_name'?); steps: blank_if_equal_to, blank_unless, crosswalk, date, digits_only, if_blank, if_match, "
        "lower, pad_left, prefix, replace, split_name, title, trim, truncate, upper",
        "enroll.yml:15: students.fields.FirstName: unknown key 'requird' (did you mean 'required'?); allowed keys: "
        "path, pattern, required, values",
    ]
    fixed = HAND_WRITTEN.replace("delimter", "delimiter").replace("requird", "required").replace("split_nam:", "split_name:")
    path.write_text(fixed.replace("      FirstName: first\n", "      FirstNam: first\n"))
    with pytest.raises(MappingError) as err:
        load_writeback(path)
    assert str(err.value).splitlines() == [
        "enroll.yml:22: students.contacts.fields.FirstNam: not a field of an Aeries contact (did you mean 'FirstName'?)",
        "enroll.yml:18: students.contacts.match: 'FirstName' is not one of students.contacts.fields",
        "enroll.yml:6: source.sftp.delimiter: only for format csv",
    ]
    path.write_text(fixed.replace('delimiter: "|"', "format: csv, delimiter: \"|\""))
    assert load_writeback(path).delimiter == "|"


def test_a_field_aeries_serves_but_no_write_takes_is_refused(tmp_path):
    """The registry knows every field of an Aeries student (their at-risk points too); InsertStudent and
    UpdateStudent take none of the read-only ones, so a write-back naming one would write nothing."""
    assert enroll_with(tmp_path, lambda d: d["students"]["fields"].update(AtRiskPoints="students.color")) == (
        "schoolmint_enroll.yml:100: students.fields.AtRiskPoints: not a field of an Aeries student")
