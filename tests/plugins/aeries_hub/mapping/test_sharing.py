"""The district's data-sharing policy: a mapping that sends a restricted field without an allowance, or allows a
field it does not send, does not load; the policy file's own mistakes name its line; the fields each delivered
column comes from."""

from __future__ import annotations

import pytest

from aeries_hub import paths
from aeries_hub.mapping.loader import load_mapping
from aeries_hub.mapping.models import MappingError
from aeries_hub.mapping.sharing import district_policy, fields_sent, load_district_policy

# Sends birth dates (line 22), and a guardian's e-mail and id through a lookup (lines 23-24); allows two fields
# (lines 9-10). Each case below edits one line.
SHARED = """\
name: shared
description: Sends restricted fields.
schedule: null
aeries: {conn_id: aeries_default}
delivery: {sftp: {conn_id: vendor_sftp, remote_dir: /in}}
source: {tables: [students, contacts]}
sharing:
  allow:
    students.Birthdate: "the vendor's student file requires a birth date"
    contacts.EmailAddress: "the vendor's guardian accounts log in with it"
outputs:
  - file: people.csv
    format: {}
    key: [id]
    columns: [{name: id}, {name: born}, {name: guardian}, {name: phone}, {name: note, do_not_map: true}]
    records:
      - name: people
        from: students
        lookups: {guardian: {table: contacts, on: {StudentID: StudentID}}}
        values:
          id: {source: StudentID}
          born: {source: Birthdate, transform: [{date: "%Y-%m-%d"}]}
          guardian: {source: guardian.EmailAddress, transform: [trim]}
          phone: {constant: "", transform: [{if_blank: "{guardian.StudentID}"}]}
          note: {source: HomePhone}
"""


def shared_error(tmp_path, old: str = "", new: str = "") -> str | None:
    assert old in SHARED
    path = tmp_path / "shared.yml"
    path.write_text(SHARED.replace(old, new, 1))
    try:
        load_mapping(path)
    except MappingError as exc:
        return str(exc)
    return None


def test_a_restricted_field_sent_without_an_allowance_is_refused_at_its_line(tmp_path):
    assert shared_error(tmp_path) is None
    assert shared_error(tmp_path, '    students.Birthdate: "the vendor\'s student file requires a birth date"\n') == (
        "shared.yml:21: outputs[0].records[0].values.born.source: students.Birthdate (birth date) is restricted by the "
        "district's data-sharing policy (district_policy.yml) and this mapping sends it (people.csv born) without an "
        "allowance. If the vendor needs it, allow it with the reason: sharing: {allow: {students.Birthdate: \"<why the "
        "vendor needs it, citing its documentation>\"}}; else stop sending it")
    # Through a lookup and a step's argument: the lookup's table names the field.
    assert shared_error(tmp_path, '{if_blank: "{guardian.StudentID}"}', '{if_blank: "{guardian.CellPhone}"}') == (
        "shared.yml:24: outputs[0].records[0].values.phone.transform[0].if_blank: contacts.CellPhone (contact's mobile "
        "phone number) is restricted by the district's data-sharing policy (district_policy.yml) and this mapping sends "
        "it (people.csv phone) without an allowance. If the vendor needs it, allow it with the reason: sharing: {allow: "
        "{contacts.CellPhone: \"<why the vendor needs it, citing its documentation>\"}}; else stop sending it")


def test_a_column_that_is_not_delivered_sends_nothing(tmp_path):
    # note reads students.HomePhone, restricted, without an allowance: do_not_map, so it is never sent.
    assert "HomePhone" in SHARED
    assert shared_error(tmp_path) is None
    assert shared_error(tmp_path, "{name: note, do_not_map: true}", "{name: note}").startswith(
        "shared.yml:25: outputs[0].records[0].values.note.source: students.HomePhone (home phone number) is restricted")


def test_an_allowance_for_a_field_not_sent_is_refused(tmp_path):
    assert shared_error(tmp_path, "students.Birthdate: \"the", "students.Birthdat: \"the") == (
        "shared.yml:22: outputs[0].records[0].values.born.source: students.Birthdate (birth date) is restricted by the "
        "district's data-sharing policy (district_policy.yml) and this mapping sends it (people.csv born) without an "
        "allowance. If the vendor needs it, allow it with the reason: sharing: {allow: {students.Birthdate: \"<why the "
        "vendor needs it, citing its documentation>\"}}; else stop sending it\n"
        "shared.yml:9: sharing.allow.students.Birthdat: this mapping sends no students.Birthdat (did you mean "
        "'students.Birthdate'?): no delivered column reads it; remove the allowance, which would record a disclosure "
        "that does not happen")
    assert shared_error(tmp_path, "{source: guardian.EmailAddress, transform: [trim]}", "{constant: none}") == (
        "shared.yml:10: sharing.allow.contacts.EmailAddress: this mapping sends no contacts.EmailAddress: no delivered "
        "column reads it; remove the allowance, which would record a disclosure that does not happen")


def test_an_allowance_needs_a_reason_and_may_name_an_unrestricted_field(tmp_path):
    assert shared_error(tmp_path, "\"the vendor's student file requires a birth date\"", '" "') == (
        "shared.yml:9: sharing.allow.students.Birthdate: ' ' does not match '\\\\S'")
    assert shared_error(tmp_path, "    contacts.EmailAddress:", "    EmailAddress:") == (
        "shared.yml:10: sharing.allow.EmailAddress: the key 'EmailAddress' does not match "
        "'^[a-z]+\\\\.[A-Za-z][A-Za-z0-9]*$'")
    assert shared_error(tmp_path, "    contacts.EmailAddress:", "    students.StudentID: the vendor's key\n"
                                                                 "    contacts.EmailAddress:") is None


def test_the_shipped_mappings_load_under_the_shipped_policy_and_allow_only_what_they_send():
    policy = district_policy()
    assert policy.path == paths.DISTRICT_POLICY
    assert {"students.Birthdate", "students.EthnicityCode", "students.RaceCode1", "students.HomeLanguageCode",
            "students.MailingAddress", "students.HomePhone", "contacts.EmailAddress", "contacts.CellPhone",
            "contacts.FirstName", "students.ParentGuardianName"} <= set(policy.restricted)
    allowed = {path.stem: set(load_mapping(path).allowed_fields) for path in sorted(paths.MAPPINGS_DIR.glob("*.yml"))}
    assert allowed["powerschool_learning"] == set()
    assert allowed["xello"] == {"students.Birthdate"}
    assert allowed["stemscopes"] == {"students.Birthdate", "students.EthnicityCode"} | {
        f"students.RaceCode{n}" for n in range(1, 6)}
    assert "contacts.EmailAddress" in allowed["schoolmint_enroll"]


def test_the_fields_of_each_delivered_column():
    destiny = load_mapping(paths.MAPPINGS_DIR / "destiny.yml")
    sent = fields_sent(destiny, destiny.outputs[0])
    assert "field_password" not in sent  # do_not_map
    assert sent["field_patronType"] == []
    assert sent["field_birthdate"] == ["students.Birthdate"]
    assert sent["field_lastName"] == ["staff.LastName", "students.LastName", "teachers.LastName"]
    assert sent["field_siteShortName"] == ["schools.ShortName", "staff.PrimaryAeriesSchool", "students.SchoolCode"]
    stemscopes = load_mapping(paths.MAPPINGS_DIR / "stemscopes.yml")
    enrollments = stemscopes.output("enrollments.csv")
    assert fields_sent(stemscopes, enrollments)["primary"] == ["sections.SectionStaffMembers"]  # an exploded list


@pytest.fixture
def policy_file(tmp_path, monkeypatch):
    path = tmp_path / "district_policy.yml"
    monkeypatch.setattr(paths, "DISTRICT_POLICY", path)
    return path


def test_a_changed_policy_is_read_again_by_every_mapping(tmp_path, policy_file):
    mapping = tmp_path / "shared.yml"
    mapping.write_text(SHARED)
    policy_file.write_text("restricted:\n  students.Birthdate: birth date\n  contacts.EmailAddress: e-mail\n")
    assert load_mapping(mapping).policy.restricted == {"students.Birthdate": "birth date", "contacts.EmailAddress": "e-mail"}
    policy_file.write_text("restricted:\n  students.StudentID: student id\n")
    with pytest.raises(MappingError, match=r"^shared.yml:21: outputs\[0\].records\[0\].values.id.source: "
                                           r"students.StudentID \(student id\) is restricted"):
        load_mapping(mapping)
    policy_file.write_text("restricted: {}\n")
    assert load_mapping(mapping).policy.restricted == {}


def test_policy_mistakes_name_the_policy_file_and_line(tmp_path, policy_file):
    mapping = tmp_path / "shared.yml"
    mapping.write_text(SHARED)
    with pytest.raises(MappingError) as err:
        load_mapping(mapping)
    assert str(err.value) == (
        f"district_policy.yml: file not found at {policy_file}: every mapping is checked against the district's "
        "data-sharing policy; restore the project's include/district_policy.yml or write one (docs/operating.md, "
        "Data sharing)")
    policy_file.write_text("# restricted fields\nrestricted:\n  students.BirthDate: birth date\n"
                           "  student.HomePhone: phone\n  students.Grade: ''\n")
    with pytest.raises(MappingError) as err:
        load_district_policy(policy_file)
    assert str(err.value) == "district_policy.yml:5: restricted.students.Grade: '' does not match '\\\\S'"
    policy_file.write_text("# restricted fields\nrestricted:\n  students.BirthDate: birth date\n"
                           "  student.HomePhone: phone\n  students.Bogus: bogus\n")
    with pytest.raises(MappingError) as err:
        load_mapping(mapping)
    assert str(err.value) == (
        "district_policy.yml:3: restricted.students.BirthDate: 'BirthDate' is not a column of the Aeries table "
        "students; did you mean 'students.Birthdate'?\n"
        "district_policy.yml:4: restricted.student.HomePhone: 'student' is not an Aeries table; did you mean "
        "'students.HomePhone'?\n"
        "district_policy.yml:5: restricted.students.Bogus: 'Bogus' is not a column of the Aeries table students; its "
        "columns: " + ", ".join(__import__("aeries_hub.aeries.tables", fromlist=["TABLES"]).TABLES["students"].column_names))
    policy_file.write_text("restricted:\n  students.Birthdate: birth date\n  Birthdate: birth date\n")
    with pytest.raises(MappingError) as err:
        load_district_policy(policy_file)
    assert str(err.value) == ("district_policy.yml:3: restricted.Birthdate: the key 'Birthdate' does not match "
                              "'^[a-z]+\\\\.[A-Za-z][A-Za-z0-9]*$'")


# A student's programs (Aeries' Programs end point: IEP, 504, free or reduced-price meals) are restricted whole.
PROGRAMS = """\
name: programs
description: Sends each student's programs.
schedule: null
aeries: {conn_id: aeries_default}
delivery: {sftp: {conn_id: vendor_sftp, remote_dir: /in}}
source: {tables: [students, programs]}
sharing:
  allow:
    programs.ProgramCode: "the vendor's accommodations need the student's IEP and 504 status"
outputs:
  - file: programs.csv
    format: {}
    key: [id, program]
    columns: [{name: id}, {name: program}]
    records:
      - name: programs
        from: programs
        values:
          id: {source: StudentID}
          program: {source: ProgramCode}
"""


def test_a_program_field_is_sent_only_with_an_allowance(tmp_path):
    path = tmp_path / "programs.yml"
    path.write_text(PROGRAMS)
    assert load_mapping(path).tables == ("students", "programs")
    path.write_text(PROGRAMS.replace("""sharing:
  allow:
    programs.ProgramCode: "the vendor's accommodations need the student's IEP and 504 status"
""", ""))
    with pytest.raises(MappingError) as refused:
        load_mapping(path)
    assert str(refused.value) == (
        "programs.yml:17: outputs[0].records[0].values.program.source: programs.ProgramCode (student program (IEP, "
        "504, free or reduced-price meals...)) is restricted by the district's data-sharing policy "
        "(district_policy.yml) and this mapping sends it (programs.csv program) without an allowance. If the vendor "
        "needs it, allow it with the reason: sharing: {allow: {programs.ProgramCode: \"<why the vendor needs it, "
        "citing its documentation>\"}}; else stop sending it")


def test_a_field_that_chooses_the_rows_is_sent_too(tmp_path):
    """A file of the students in special education (program 144) tells the vendor who has an IEP, though no cell
    holds the code: a condition or preference on a restricted field needs its allowance like a value."""
    filtered = PROGRAMS.replace("""sharing:
  allow:
    programs.ProgramCode: "the vendor's accommodations need the student's IEP and 504 status"
""", "").replace("key: [id, program]", "key: [id]").replace(
        "          program: {source: ProgramCode}", "          program: {constant: iep}").replace(
        "        from: programs\n", "        from: programs\n        where: [{expr: \"ProgramCode == '144'\"}]\n")
    path = tmp_path / "programs.yml"
    path.write_text(filtered)
    with pytest.raises(MappingError) as refused:
        load_mapping(path)
    assert str(refused.value) == (
        "programs.yml:15: outputs[0].records[0].where[0]: programs.ProgramCode (student program (IEP, 504, free or "
        "reduced-price meals...)) is restricted by the district's data-sharing policy (district_policy.yml) and this "
        "mapping sends it (programs.csv (which rows)) without an allowance. If the vendor needs it, allow it with the "
        "reason: sharing: {allow: {programs.ProgramCode: \"<why the vendor needs it, citing its documentation>\"}}; "
        "else stop sending it")

    allowed = filtered.replace("outputs:\n", "sharing:\n  allow:\n    programs.ProgramCode: \"the vendor's "
                               "accommodations need the student's IEP status\"\noutputs:\n")
    path.write_text(allowed)
    mapping = load_mapping(path)
    assert fields_sent(mapping, mapping.outputs[0]) == {"id": ["programs.StudentID"], "program": [],
                                                        "(which rows)": ["programs.ProgramCode"]}


def test_an_output_knows_its_columns_of_restricted_fields(tmp_path):
    path = tmp_path / "programs.yml"
    path.write_text(PROGRAMS)
    assert load_mapping(path).outputs[0].restricted_columns == frozenset({"program"})
