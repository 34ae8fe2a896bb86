"""Every mapping kind, evaluated on small hand-written Aeries tables with the exact expected values."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from aeries_hub.mapping.engine import build_output
from aeries_hub.mapping.loader import load_mapping
from aeries_hub.mapping.models import MappingError, ValueSpec
from aeries_hub.mapping.values import RunValues
from tests.plugins.aeries_hub.mapping.mapping_files import allowing, mapping_with, one_output, rows


def test_direct_constant_and_integers_as_text(tmp_path, tables):
    m = mapping_with(tmp_path, one_output(["id", "school", "kind"], """
        id: {source: StudentID}
        school: {source: SchoolCode}
        kind: {constant: S}
    """))
    # Rows are written in key order; the two records of student 101 keep their source order.
    assert rows(m, tables) == [
        {"id": "101", "school": "994", "kind": "S"},
        {"id": "101", "school": "995", "kind": "S"},
        {"id": "102", "school": "994", "kind": "S"},
        {"id": "103", "school": "995", "kind": "S"},
    ]


def test_match_codes_with_default_and_pass_through(tmp_path, tables):
    m = mapping_with(tmp_path, one_output(["id", "status", "grade"], """
        id: {source: StudentID}
        status: {source: InactiveStatusCode, match: {"": A, P: A}, default: I}
        grade: {source: Grade, match: {"-1": TK, "0": K}}
    """))
    assert [(r["status"], r["grade"]) for r in rows(m, tables)] == [("A", "TK"), ("I", "TK"), ("A", "K"), ("I", "12")]


def test_lookup_first_non_blank_and_lookup_filter(tmp_path, tables):
    m = mapping_with(tmp_path, one_output(["id", "first", "email", "site", "is_teacher"], """
        id: {source: ID}
        first: {first_of: [FirstName, teacher.FirstName]}
        email: {first_of: [EmailAddress, teacher.EmailAddress]}
        site: {source: school.ShortName}
        is_teacher: {source: teacher.TeacherNumber, match: {"": F}, default: T}
    """, table="staff", extra="""
        lookups:
          school: {table: schools, on: {PrimaryAeriesSchool: SchoolCode}}
          teacher: {table: teachers, on: {ID: StaffID1}, where: [{column: InactiveStatusCode, blank: true}]}
    """))
    # Staff 7 has blank names: the first active teacher record (501) fills them in.
    # Staff 8's only teacher record is inactive, so it is not a teacher.
    assert rows(m, tables) == [
        {"id": "7", "first": "Mia", "email": "mchen@example.org", "site": "RHS", "is_teacher": "T"},
        {"id": "8", "first": "Lee", "email": "lpark@example.org", "site": "DO", "is_teacher": "F"},
    ]


def test_distinct_keeps_the_preferred_record(tmp_path, tables):
    m = mapping_with(tmp_path, one_output(["id", "school"], """
        id: {source: StudentID}
        school: {source: SchoolCode}
    """, extra="""
        distinct:
          on: [StudentID]
          prefer: [{column: InactiveStatusCode, order: ["", "P", "I"]}, SchoolCode]
    """))
    built = build_output(m, m.outputs[0], tables)
    assert built.frame[["id", "school"]].to_dict("records") == [
        {"id": "101", "school": "994"},
        {"id": "102", "school": "994"},
        {"id": "103", "school": "995"},
    ]
    assert built.merged_duplicates == {"rows": 1}


def test_where_conditions(tmp_path, tables):
    m = mapping_with(tmp_path, one_output(["id"], """
        id: {source: StudentID}
    """, extra="""
        where:
          - {column: SchoolCode, in: [994]}
          - {column: InactiveStatusCode, not_in: ["I"]}
          - {column: StudentEmailAddress, blank: false}
    """))
    assert rows(m, tables) == [{"id": "101"}]


def test_do_not_map_column_is_left_out_and_unset_columns_are_blank(tmp_path, tables):
    body = """
outputs:
  - file: out.csv
    format: {}
    key: [id]
    columns:
      - {name: id}
      - {name: password, do_not_map: true}
      - {name: nickname}
    records:
      - name: rows
        from: students
        values:
          id: {source: StudentID}
          password: {constant: secret}
"""
    m = mapping_with(tmp_path, body)
    assert rows(m, tables)[0] == {"id": "101", "nickname": ""}


def with_unchecked_value(mapping, column: str, spec: ValueSpec):
    """``mapping`` with a value the loader would refuse (it checks columns against the Aeries registry), to
    test the engine's own message: the build's second line of defence, for columns missing from the data."""
    mapping.outputs[0].records[0].values[column] = spec
    return mapping


def test_unknown_source_column_names_file_key_path_and_columns(tmp_path, tables):
    m = mapping_with(tmp_path, one_output(["id"], "id: {source: StudentID}\n"))
    m = with_unchecked_value(m, "id", ValueSpec(kind="source", argument="PermanentID"))
    with pytest.raises(MappingError) as err:
        build_output(m, m.outputs[0], tables)
    assert str(err.value) == (
        "sample.yml: outputs[0].records[0].values.id: column 'PermanentID' does not exist; columns available: "
        "Birthdate, FirstName, Grade, InactiveStatusCode, LastName, NetworkLoginID, SchoolCode, "
        "StudentEmailAddress, StudentID"
    )


def test_literal_rows_come_first_in_the_order_written(tmp_path, tables):
    body = """
outputs:
  - file: out.csv
    format: {}
    key: [id]
    columns:
      - {name: id}
      - {name: kind}
    records:
      - name: fixed
        rows:
          - {id: zeta, kind: "{settings.kind}"}
          - {id: alpha}
      - name: schools
        from: schools
        values:
          id: {source: SchoolCode}
          kind: {constant: school}
settings:
  kind: district
"""
    m = mapping_with(tmp_path, body)
    assert rows(m, tables) == [
        {"id": "zeta", "kind": "district"},
        {"id": "alpha", "kind": ""},
        {"id": "0", "kind": "school"},
        {"id": "994", "kind": "school"},
        {"id": "995", "kind": "school"},
    ]


def test_distinct_collects_the_values_of_every_merged_row(tmp_path, tables):
    m = mapping_with(tmp_path, one_output(["id", "schools", "first"], """
        id: {source: StudentID}
        schools: {source: SchoolCode, match: {"995": V-995}}
        first: {source: FirstName}
    """, extra="""
        distinct:
          on: [StudentID]
          prefer: [{column: InactiveStatusCode, order: ["I", ""]}]
          collect: {schools: "|"}
    """))
    # Student 101 is at 994 (active) and 995 (inactive): the preferred (inactive) record comes first.
    assert rows(m, tables) == [
        {"id": "101", "schools": "V-995|994", "first": "Zoë"},
        {"id": "102", "schools": "994", "first": "  Ana "},
        {"id": "103", "schools": "V-995", "first": "Seán"},
    ]


def test_run_date_in_templates_is_the_runs_date_not_the_clock(tmp_path, tables):
    from datetime import date

    from aeries_hub.mapping.values import RunValues

    m = mapping_with(tmp_path, one_output(["id", "entered", "year"], """
        id: {source: StudentID}
        entered: {source: Birthdate, transform: [{date: "%Y-%m-%d"}, {if_blank: "{run_date:%Y-%m-%d}"}]}
        year: {template: "{run_date:%Y}"}
    """) + allowing("students.Birthdate"))
    built = build_output(m, m.outputs[0], tables, RunValues(run_date=date(2027, 1, 4)))
    assert built.frame[["id", "entered", "year"]].values.tolist() == [
        ["101", "2019-03-04", "2027"], ["101", "2019-03-04", "2027"], ["102", "2027-01-04", "2027"], ["103", "2027-01-04", "2027"],
    ]
    with pytest.raises(MappingError, match=r"\{run_date\} needs the run's date"):
        build_output(m, m.outputs[0], tables)


def test_run_values_from_aeries_in_rows_constants_templates_and_if_blank(tmp_path, tables):
    from aeries_hub.mapping.values import RunValues

    m = mapping_with(tmp_path, """
outputs:
  - file: out.csv
    format: {}
    key: [id]
    columns: [{name: id}, {name: name}, {name: year}]
    records:
      - name: district
        rows:
          - {id: district, name: "{run.district_name}", year: "{run.school_year_end_year}"}
      - name: students
        from: students
        values:
          id: {source: StudentID}
          name: {template: "{FirstName} ({run.school_year})", transform: [trim]}
          year: {constant: "SY{run.school_year_start_year}", transform: [{if_blank: "{run.school_year}"}]}
""")
    assert m.run_values == {"district_name", "school_year", "school_year_start_year", "school_year_end_year"}
    run = RunValues(aeries={"district_name": "Eagle Unified School District", "school_year": "2020-2021",
                            "school_year_start_year": "2020", "school_year_end_year": "2021"})
    built = build_output(m, m.outputs[0], tables, run)
    assert built.frame[["id", "name", "year"]].values.tolist() == [
        ["district", "Eagle Unified School District", "2021"],
        ["101", "Zoë (2020-2021)", "SY2020"], ["101", "Zoë (2020-2021)", "SY2020"],
        ["102", "Ana (2020-2021)", "SY2020"], ["103", "Seán (2020-2021)", "SY2020"],
    ]
    with pytest.raises(MappingError) as caught:
        build_output(m, m.outputs[0], tables)
    assert str(caught.value) == ("sample.yml: outputs[0].records[0].rows[0].name: {run.district_name} needs a value "
                                 "from Aeries, which this build was not given")


def test_powerschool_learning_classes_find_teachers_by_staff_members_or_by_teacher_number1():
    """A v5 section names its teachers in SectionStaffMembers; a pre-v5 one only has TeacherNumber1."""
    from aeries_hub.mapping.values import RunValues
    from aeries_hub.paths import MAPPINGS_DIR

    mapping = load_mapping(MAPPINGS_DIR / "powerschool_learning.yml")
    teachers = pd.DataFrame({"SchoolCode": pd.array([994, 994], dtype="Int64"), "TeacherNumber": pd.array([501, 502], dtype="Int64"),
                             "StaffID1": pd.array([7, 8], dtype="Int64"), "InactiveStatusCode": [" ", " "],
                             "FirstName": ["Mia", "Lee"], "LastName": ["Chen", "Park"], "EmailAddress": ["", ""]})
    sections = pd.DataFrame({
        "SchoolCode": pd.array([994, 994], dtype="Int64"), "SectionNumber": pd.array([1, 2], dtype="Int64"),
        "CourseID": ["0001", "0002"], "Period": ["1", "2"], "InactiveStatusCode": [" ", " "],
        "SectionStaffMembers": [[{"StaffID": 7, "IsPrimaryTeacher": True}], []],
        "TeacherNumber1": pd.array([None, 502], dtype="Int64"),
    })
    tables = {"teachers": teachers, "sections": sections, "courses": pd.DataFrame({"ID": ["0001", "0002"], "Title": ["A", "B"], "LongDescription": ["", ""]}),
              "rosters": pd.DataFrame({"SchoolCode": pd.array([], dtype="Int64"), "StudentID": pd.array([], dtype="Int64"),
                                       "SectionNumber": pd.array([], dtype="Int64")}),
              "students": pd.DataFrame({"SchoolCode": pd.array([], dtype="Int64"), "StudentID": pd.array([], dtype="Int64")})}
    # (the mapping compares staff members' dates with the run's date)
    run = RunValues(crosswalks={"user_ids": {}, "class_ids": {}}, aeries={"school_year_start_year": "2026"},
                    run_date=date(2026, 12, 3))

    classes = build_output(mapping, mapping.output("classes.csv"), tables, run).frame
    rosters = build_output(mapping, mapping.output("rosters.csv"), tables, run).frame

    assert classes[["class_id", "teacher_id"]].values.tolist() == [["994-0001-1-1-2026", "T7"], ["994-0002-2-2-2026", "T8"]]
    assert rosters[["class_id", "user_id", "role"]].values.tolist() == [["994-0001-1-1-2026", "T7", "T"], ["994-0002-2-2-2026", "T8", "T"]]


def test_powerschool_learning_leaves_out_section_staff_who_left_or_are_not_yet_or_no_longer_assigned():
    """A Flex school's section (Aeries' example of a section, support article 14000113686: a primary teacher, an
    inactive co-teacher "I" and an active one) plus members whose EndDate has passed or StartDate is to come: only
    the members teaching on the run's date are the class's teachers; a section none of whose members is has no
    teacher, and the warning names it."""
    from aeries_hub.mapping.values import RunValues
    from aeries_hub.paths import MAPPINGS_DIR

    mapping = load_mapping(MAPPINGS_DIR / "powerschool_learning.yml")

    def member(staff_id, primary, status="", start=None, end=None):
        return {"StaffID": staff_id, "IsPrimaryTeacher": primary, "InactiveStatusCode": status, "StartDate": start,
                "EndDate": end}

    # as the hook makes them from the section staff (no TeacherNumber; Carlisle, inactive wherever listed, is none)
    teachers = pd.DataFrame({
        "SchoolCode": pd.array([894] * 4, dtype="Int64"), "TeacherNumber": pd.array([None] * 4, dtype="Int64"),
        "StaffID1": pd.array([995001, 700005678, 700000001, 700000002], dtype="Int64"),
        "InactiveStatusCode": [""] * 4, "FirstName": ["Darryl", "Mary", "Ann", "Bo"],
        "LastName": ["Aldrich", "Cullens", "Ames", "Bell"], "EmailAddress": [""] * 4,
        "FromSectionStaff": [True] * 4,
        "SectionStaffStartDate": [None, None, "2026-08-13T00:00:00", "2027-03-22T00:00:00"],
        "SectionStaffEndDate": [None, None, "2026-10-16T00:00:00", "2027-06-10T00:00:00"]})
    sections = pd.DataFrame({
        "SchoolCode": pd.array([894, 894, 894], dtype="Int64"), "SectionNumber": pd.array([100, 101, 102], dtype="Int64"),
        "CourseID": ["327", "327", "327"], "Period": ["1", "2", "3"], "InactiveStatusCode": ["", "", ""],
        "SectionStaffMembers": [
            [member(995001, True), member(700004321, False, "I"), member(700005678, False)],
            # the primary teacher has left (inactive); one co-teacher's assignment ended, the other's is to come
            [member(700004321, True, "I"), member(700000001, False, "", "2026-08-13T00:00:00", "2026-10-16T00:00:00"),
             member(700000002, False, "", "2027-03-22T00:00:00", "2027-06-10T00:00:00")],
            # the primary teacher's assignment ended: the co-teacher, still assigned, is the teacher
            [member(700000001, True, "", "2026-08-13T00:00:00", "2026-10-16T00:00:00"), member(700005678, False)],
        ],
        "TeacherNumber1": pd.array([None, None, None], dtype="Int64"),
    })
    staff = pd.DataFrame({"ID": pd.array([], dtype="Int64"),
                          **{c: pd.Series([], dtype=object) for c in ("FirstName", "MiddleName", "LastName", "UserName",
                                                                          "EmailAddress")}})
    students = pd.DataFrame({"SchoolCode": pd.array([], dtype="Int64"), "StudentID": pd.array([], dtype="Int64"),
                             **{c: pd.Series([], dtype=object) for c in (
                                 "FirstName", "MiddleName", "LastName", "FirstNameAlias", "NetworkLoginID",
                                 "StudentEmailAddress", "InactiveStatusCode", "Grade")}})
    tables = {"teachers": teachers, "sections": sections, "staff": staff, "students": students,
              "courses": pd.DataFrame({"ID": ["327"], "Title": ["Art"], "LongDescription": [""]}),
              "rosters": pd.DataFrame({"SchoolCode": pd.array([], dtype="Int64"), "StudentID": pd.array([], dtype="Int64"),
                                       "SectionNumber": pd.array([], dtype="Int64")})}
    run = RunValues(crosswalks={"user_ids": {}, "class_ids": {}}, aeries={"school_year_start_year": "2026"},
                    run_date=date(2026, 12, 3))

    users = build_output(mapping, mapping.output("users.csv"), tables, run).frame
    classes = build_output(mapping, mapping.output("classes.csv"), tables, run).frame
    rosters = build_output(mapping, mapping.output("rosters.csv"), tables, run).frame

    # Ames's only assignment ended in October, Bell's begins in March: neither is a teacher on 3 December
    assert users["user_id"].tolist() == ["T995001", "T700005678"]
    assert classes[["class_id", "teacher_id"]].values.tolist() == [
        ["894-327-100-1-2026", "T995001"], ["894-327-101-2-2026", ""], ["894-327-102-3-2026", "T700005678"]]
    assert rosters[["class_id", "user_id", "role"]].values.tolist() == [
        ["894-327-100-1-2026", "T995001", "T"], ["894-327-100-1-2026", "T700005678", "T"],
        ["894-327-102-3-2026", "T700005678", "T"]]
    # in March Bell is the teacher of section 101, and a teacher
    march = RunValues(crosswalks={"user_ids": {}, "class_ids": {}}, aeries={"school_year_start_year": "2026"},
                      run_date=date(2027, 3, 22))
    assert build_output(mapping, mapping.output("classes.csv"), tables, march).frame["teacher_id"].tolist() == [
        "T995001", "T700000002", "T700005678"]
    assert "T700000002" in build_output(mapping, mapping.output("users.csv"), tables, march).frame["user_id"].tolist()


def test_a_date_condition_needs_the_run_date_and_aeries_dates(tmp_path):
    m = mapping_with(tmp_path, one_output(["id"], """
        id: {source: StudentID}
    """, extra="where: [{column: SchoolLeaveDate, before_run_date: false}]\n"))
    students = pd.DataFrame({"StudentID": pd.array([1, 2, 3], dtype="Int64"),
                             "SchoolLeaveDate": ["2026-09-01T00:00:00", None, "2027-01-05"]})
    built = build_output(m, m.outputs[0], {"students": students}, RunValues(run_date=date(2026, 12, 3))).frame
    assert built["id"].tolist() == ["2", "3"]
    with pytest.raises(MappingError, match=r"records\[0\]\.where\[0\]\.before_run_date: needs the run's date"):
        build_output(m, m.outputs[0], {"students": students}, RunValues())
    students.loc[0, "SchoolLeaveDate"] = "09/01/2026"
    with pytest.raises(MappingError, match=r"'SchoolLeaveDate' is not a date in 1 rows \(e\.g\. '09/01/2026'\)"):
        build_output(m, m.outputs[0], {"students": students}, RunValues(run_date=date(2026, 12, 3)))


# ------------------------------------------------------------------------------ bad inputs (issue 4)


def test_a_value_of_only_spaces_is_blank_even_where_a_match_passes_unlisted_codes_through(tmp_path):
    m = mapping_with(tmp_path, one_output(["id", "gender", "next", "login", "status"], """
        id: {source: StudentID}
        gender: {source: Gender, match: {M: male, F: female}}
        next: {source: NextSchoolCode, match: {"0": ""}}
        login: {source: NetworkLoginID}
        status: {source: InactiveStatusCode, match: {"": A, P: A}, default: I}
    """))
    students = pd.DataFrame({
        "StudentID": pd.array([1, 2], dtype="Int64"),
        "SchoolCode": pd.array([994, 994], dtype="Int64"),
        "Gender": ["  ", "F "],
        "NextSchoolCode": ["  ", "995"],  # a padded blank in a column Parquet stored as text
        "NetworkLoginID": ["\t ", " sam "],
        "InactiveStatusCode": ["   ", "I"],
    })
    assert rows(m, {"students": students}) == [
        {"id": "1", "gender": "", "next": "", "login": "", "status": "A"},
        {"id": "2", "gender": "female", "next": "995", "login": " sam ", "status": "I"},
    ]


def test_unknown_column_of_a_lookup_names_the_lookups_columns_and_the_closest_name(tmp_path, tables):
    m = mapping_with(tmp_path, one_output(["id", "site"], """
        id: {source: StudentID}
        site: {source: school.ShortName}
    """, extra="""
        lookups:
          school: {table: schools, on: {SchoolCode: SchoolCode}}
    """))
    m = with_unchecked_value(m, "site", ValueSpec(kind="source", argument="school.Shortname"))
    with pytest.raises(MappingError) as err:
        build_output(m, m.outputs[0], tables)
    assert str(err.value) == (
        "sample.yml: outputs[0].records[0].values.site: column 'school.Shortname' does not exist "
        "(did you mean 'school.ShortName'?); columns available: school.Name, school.SchoolCode, school.ShortName"
    )


def test_unknown_source_column_with_a_close_name_says_which_one_was_meant(tmp_path, tables):
    m = mapping_with(tmp_path, one_output(["id"], "id: {source: StudentID}\n"))
    m = with_unchecked_value(m, "id", ValueSpec(kind="source", argument="StudentId"))
    with pytest.raises(MappingError) as err:
        build_output(m, m.outputs[0], tables)
    assert str(err.value).startswith(
        "sample.yml: outputs[0].records[0].values.id: column 'StudentId' does not exist (did you mean 'StudentID'?); "
        "columns available: Birthdate, FirstName, "
    )


def test_guardian_names_fall_back_to_mailing_name_and_the_primary_is_the_lowest_contact_order(tmp_path):
    # As on Aeries' demo server: PrimaryContact "" everywhere, ContactOrder ties, a contact known only by MailingName.
    contacts = pd.DataFrame({
        "StudentID": pd.array([1, 1, 1, 2, 2, 3], dtype="Int64"),
        "SequenceNumber": pd.array([1, 2, 3, 1, 2, 1], dtype="Int64"),
        "ContactOrder": pd.array([3, 2, 2, 10, 9, None], dtype="Int64"),
        "FirstName": ["Adam", "", "Bonnie", "Ana", "", ""],
        "LastName": ["Abbott", "", "Johnson", "", "", ""],
        "MailingName": ["Adam Abbott", " Sara  Abbott ", "", "Ana Garcia", "Maria De La Cruz", "Cher"],
        "PrimaryContact": ["", "", "", "", "", ""],
    })
    m = mapping_with(tmp_path, one_output(["key", "fname", "lname", "primary"], """
        key: {template: "{StudentID}-{SequenceNumber}"}
        fname: {first_of: [FirstName, {source: MailingName, transform: [{split_name: first}]}], transform: [trim]}
        lname: {first_of: [LastName, {source: MailingName, transform: [{split_name: last}]}], transform: [trim]}
        primary:
          first_in_group: {by: [StudentID], order: [ContactOrder, SequenceNumber]}
          match: {"true": Y}
          default: N
    """, table="contacts") + allowing("contacts.FirstName", "contacts.LastName", "contacts.MailingName"),
                     tables="[contacts]")
    assert rows(m, {"contacts": contacts}) == [
        {"key": "1-1", "fname": "Adam", "lname": "Abbott", "primary": "N"},
        {"key": "1-2", "fname": "Sara", "lname": "Abbott", "primary": "Y"},  # order 2, before sequence 3's 2
        {"key": "1-3", "fname": "Bonnie", "lname": "Johnson", "primary": "N"},
        {"key": "2-1", "fname": "Ana", "lname": "Garcia", "primary": "N"},
        {"key": "2-2", "fname": "Maria", "lname": "De La Cruz", "primary": "Y"},  # 9 before 10: numbers, not text
        {"key": "3-1", "fname": "Cher", "lname": "", "primary": "Y"},  # a one-word MailingName has no last name
    ]


def test_distinct_keys_are_compared_trimmed_and_the_preferred_row_of_each_is_kept(tmp_path):
    students = pd.DataFrame({"StudentID": ["7", " 7 ", "8", "7", "8"], "SchoolCode": ["995", "994", "996", "996", "994"],
                             "Grade": ["9", "10", "11", "12", "1"]})
    m = mapping_with(tmp_path, one_output(["id", "school", "grade"], """
        id: {source: StudentID}
        school: {source: SchoolCode}
        grade: {source: Grade}
    """, extra="""
        distinct:
          on: [StudentID]
          prefer: [SchoolCode]
    """))
    built = build_output(m, m.outputs[0], {"students": students})
    assert built.frame[["id", "school", "grade"]].to_dict("records") == [
        {"id": " 7 ", "school": "994", "grade": "10"},
        {"id": "8", "school": "994", "grade": "1"},
    ]
    assert built.merged_duplicates == {"rows": 3}


def test_constant_and_unset_columns_of_many_rows_hold_one_block_of_memory(tmp_path):
    import pyarrow as pa

    size = 300_000
    students = pd.DataFrame({"StudentID": [str(n) for n in range(size, 0, -1)], "SchoolCode": "994"})
    m = mapping_with(tmp_path, one_output(["id", "kind", "note"], """
        id: {source: StudentID}
        kind: {constant: student}
    """))
    frame = build_output(m, m.outputs[0], {"students": students}).frame
    assert list(frame["id"].iloc[[0, 1, -1]]) == ["1", "2", str(size)]  # sorted: every other column moved
    assert frame["kind"].eq("student").all() and frame["note"].eq("").all() and len(frame) == size
    for column in ("kind", "note"):
        chunks = pa.array(frame[column].array).chunks
        held = {(buffer.address, buffer.size) for chunk in chunks for buffer in chunk.buffers() if buffer is not None}
        assert sum(size for _, size in held) < 2 * 2**20, column  # 3.4 MB of offsets alone, were each row its own


def test_a_lookup_matches_every_key_as_trimmed_text_whatever_its_type_and_a_blank_key_matches_nothing(tmp_path):
    staff = pd.DataFrame({"ID": pd.array([7, 8, 9, 10, None], dtype="Int64"),
                          "PrimaryAeriesSchool": ["994", " 995", "994", "994", "994"]})
    teachers = pd.DataFrame({
        "StaffID1": [" 7 ", "7", "8", "8", "9", "", "10"],
        "SchoolCode": pd.array([994, 994, 995, 995, 995, 994, None], dtype="Int64"),
        "FirstName": ["Ada", "Bo", "Cy", "Di", "Ed", "Flo", "Gus"],
        "TeacherNumber": ["2", "1", "5", "6", "7", "8", "9"],
    })
    m = mapping_with(tmp_path, one_output(["id", "name"], """
        id: {source: ID}
        name: {source: teacher.FirstName}
    """, table="staff", extra="""
        lookups:
          teacher: {table: teachers, on: {ID: StaffID1, PrimaryAeriesSchool: SchoolCode}, prefer: [TeacherNumber]}
    """))
    # 7: both teacher rows match, the lower TeacherNumber is preferred; 8: " 995" is 995; 9 teaches at another
    # school; 10's teacher row has no school (a blank key) and the staff row without an ID matches no blank StaffID1
    assert [(r["id"], r["name"]) for r in rows(m, {"staff": staff, "teachers": teachers})] == [
        ("", ""), ("7", "Bo"), ("8", "Cy"), ("9", ""), ("10", ""),
    ]


def test_hostile_values_go_through_lookups_distinct_crosswalks_and_constants_as_the_same_text(tmp_path):
    huge = "=" + "A" * 2**20  # a formula, a megabyte long
    staff = pd.DataFrame({"ID": ["=1+1", "../../etc", huge, "=1+1"],
                          "PrimaryAeriesSchool": ["=SUM(A1)", "../994", "994", "=SUM(A1)"]})
    teachers = pd.DataFrame({"StaffID1": [huge, "=1+1", "../../etc"], "FirstName": ["+cmd", "@x", "-1"]})
    crosswalk = "crosswalks:\n  schools: {file: crosswalks/schools.csv, aeries: code, vendor: vendor_id, optional: true}\n"
    m = mapping_with(tmp_path, crosswalk + one_output(["id", "name", "school", "kind"], """
        id: {source: ID}
        name: {source: teacher.FirstName}
        school: {source: PrimaryAeriesSchool, transform: [{crosswalk: schools}]}
        kind: {constant: "=HYPERLINK(\\"x\\")"}
    """, table="staff", extra="""
        lookups:
          teacher: {table: teachers, on: {ID: StaffID1}}
        distinct:
          on: [ID]
    """))
    run = RunValues(crosswalks={"schools": {"994": "North", "=SUM(A1)": "=evil"}})  # (the file, as read)
    frame = build_output(m, m.outputs[0], {"staff": staff, "teachers": teachers}, run).frame
    # nothing is evaluated, cut or resolved as a path: each value is the text it was, in key order
    assert frame[["id", "name", "school", "kind"]].to_dict("records") == [
        {"id": "../../etc", "name": "-1", "school": "../994", "kind": '=HYPERLINK("x")'},
        {"id": "=1+1", "name": "@x", "school": "=evil", "kind": '=HYPERLINK("x")'},
        {"id": huge, "name": "+cmd", "school": "North", "kind": '=HYPERLINK("x")'},
    ]


def test_distinct_on_keys_whose_numbers_do_not_fit_in_one_integer_keeps_the_first_row_of_each(tmp_path):
    # nine keys of 256 distinct values each: 2**72 combinations, so the keys' numbers are numbered again on the way;
    # numbers that wrapped around 2**64 would lose the first key, merging rows that differ only in it
    rng = np.random.default_rng(7)
    on = ["StudentID", "SchoolCode", "StudentNumber", "StateStudentID", "LastName", "FirstName", "MiddleName",
          "Gender", "Grade"]
    keys = pd.DataFrame({column: [f"{value:03d}" for value in rng.permutation(256)] for column in on})
    other_first_key = keys.iloc[:50].assign(StudentID=keys["StudentID"].iloc[1:51].to_numpy())
    students = pd.concat([keys, other_first_key, keys.iloc[::3]], ignore_index=True)  # every third key again, later
    students["UserCode1"] = [str(n) for n in range(len(students))]
    students.loc[306:, "LastName"] = " " + students.loc[306:, "LastName"] + " "  # the same key, trimmed
    m = mapping_with(tmp_path, one_output(["row"], """
        row: {source: UserCode1}
    """, extra=f"""
        distinct:
          on: [{", ".join(on)}]
    """))
    built = build_output(m, m.outputs[0], {"students": students})
    assert list(built.frame["row"]) == [str(n) for n in range(306)]
    assert built.merged_duplicates == {"rows": 86}
