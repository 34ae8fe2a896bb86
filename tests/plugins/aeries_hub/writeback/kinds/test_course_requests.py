"""Course-request write-backs (include/writebacks/xello.yml): the file loads, mistakes name the key path, the
plan inserts only what Aeries lacks and rejects, naming the row, what Aeries would refuse."""

from __future__ import annotations

import dataclasses
import io

import pytest
import yaml

from aeries_hub.config_files import read_yaml
from aeries_hub.mapping.models import MappingError
from aeries_hub.paths import WRITEBACKS_DIR
from aeries_hub.writeback.kinds.course_requests import build_course_request_plan, course_requests_of
from aeries_hub.writeback.loader import load_writeback
from aeries_hub.writeback.records import ID, ROW, read_records

XELLO = WRITEBACKS_DIR / "xello.yml"
WRITEBACK = load_writeback(XELLO)
STUDENTS = [{"StudentID": 501, "SchoolCode": 300, "StudentNumber": 7, "InactiveStatusCode": " "},
            {"StudentID": 502, "SchoolCode": 300, "StudentNumber": 8, "InactiveStatusCode": "P"},
            {"StudentID": 502, "SchoolCode": 200, "StudentNumber": 9, "InactiveStatusCode": "I"}]
COURSES = [{"ID": "0001", "Title": "English 9", "InactiveStatusCode": ""},
           {"ID": "0002", "Title": "Algebra 1", "InactiveStatusCode": None},
           {"ID": "0099", "Title": "Typing", "InactiveStatusCode": "I"}]
EXISTING = [{"StudentID": 501, "SchoolCode": 300, "SequenceNumber": 1, "CourseID": "0002"}]


def xello_with(tmp_path, edit) -> str:
    document = read_yaml(XELLO, shown="xello.yml", error=ValueError)
    edit(document)
    path = tmp_path / "xello.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(MappingError) as err:
        load_writeback(path)
    return str(err.value)


def request(line: int, school="300", student="501", course="0001", alternate="") -> dict:
    return {ID: f"{school}/{student}/{course}", ROW: f"x.txt line {line}", "SchoolCode": school, "StudentID": student,
            "CourseID": course, "AlternateTag": alternate}


def test_shipped_xello_writeback_loads_with_writing_off():
    assert WRITEBACK.dag_id == "xello_to_aeries" and WRITEBACK.kind == "course_requests"
    assert WRITEBACK.enabled is False
    assert (WRITEBACK.sftp_conn_id, WRITEBACK.remote_dir, WRITEBACK.format, WRITEBACK.delimiter) == (
        "xello_export_sftp", "xello_export", "csv", "|")
    spec = course_requests_of(WRITEBACK)
    assert (spec.id, spec.school, spec.student, spec.course, spec.student_key) == (
        ("SchoolCode", "StudentID", "CourseCode"), "SchoolCode", "StudentID", "CourseCode", "StudentID")
    assert [f.name for f in spec.fields] == ["AlternateTag"]


def test_exactly_one_of_students_and_course_requests(tmp_path):
    enroll = read_yaml(WRITEBACKS_DIR / "schoolmint_enroll.yml", shown="x", error=ValueError)
    assert xello_with(tmp_path, lambda d: d.update(students=enroll["students"])) == (
        "xello.yml:47: (top): give exactly one of: students, course_requests, scores (it has both)")
    assert xello_with(tmp_path, lambda d: d.pop("course_requests")) == (
        "xello.yml: (top): give exactly one of: students, course_requests, scores (it has neither)")


def test_course_request_mistakes_name_the_key_path(tmp_path):
    assert xello_with(tmp_path, lambda d: d["course_requests"].pop("course")) == (
        "xello.yml:47: course_requests: 'course' is required")
    assert xello_with(tmp_path, lambda d: d["course_requests"].update(cours="x")) == (
        "xello.yml:61: course_requests: unknown key 'cours' (did you mean 'course'?); allowed keys: course, fields, id, "
        "school, student, student_key")
    assert xello_with(tmp_path, lambda d: d["course_requests"]["fields"].update(Grade="g")) == (
        "xello.yml:61: course_requests.fields.Grade: not a field of an Aeries course request that a write-back may set "
        "(SectionNumber, PreferredTeacherNumber, PreferredStaffID, RejectCode, AlternateTag, ActualPrimaryCourseID, "
        "PermanentLockCode)")
    assert xello_with(tmp_path, lambda d: d["course_requests"].update(student_key="StateStudentID")) == (
        "xello.yml:61: course_requests.student_key: 'StateStudentID' is not one of StudentID, StudentNumber")


def test_source_format_mistakes(tmp_path):
    assert xello_with(tmp_path, lambda d: d["source"]["sftp"].update(format="xlsx")) == (
        "xello.yml:44: source.sftp.format: 'xlsx' is not one of jsonl, csv")
    assert xello_with(tmp_path, lambda d: d["source"]["sftp"].update(delimiter="||")) == (
        "xello.yml:45: source.sftp.delimiter: '||' is too long")
    assert xello_with(tmp_path, lambda d: d["source"]["sftp"].update(format="jsonl", quoting="minimal")) == (
        "xello.yml:45: source.sftp.delimiter: only for format csv")
    assert xello_with(tmp_path, lambda d: d["source"]["sftp"].update(quoting="double")) == (
        "xello.yml:46: source.sftp.quoting: 'double' is not one of minimal, none")


def test_the_delimited_reader_names_lines_and_refuses_a_row_with_the_wrong_column_count():
    data = "\ufeffStudentID|SchoolCode|CourseCode\n501|300|0001\n\n502|300\n503|300|a,b\n".encode()
    read = list(read_records(WRITEBACK, "x.txt", io.BytesIO(data)))
    assert read == [
        ("x.txt line 2", {"StudentID": "501", "SchoolCode": "300", "CourseCode": "0001"}, None),
        ("x.txt line 4", None, "has 2 columns, the header has 3 (delimiter '|')"),
        ("x.txt line 5", {"StudentID": "503", "SchoolCode": "300", "CourseCode": "a,b"}, None),
    ]


def test_an_unquoted_pipe_export_reads_a_leading_double_quote_as_text_not_as_a_quote_opening_two_rows():
    # Xello writes its pipe files unquoted: read with RFC 4180 quoting, the '"' opens a quoted field that runs on
    # to the next '"', swallowing line 3 into line 2.
    data = 'StudentID|SchoolCode|CourseCode\n501|300|"0001\n502|300|0002"\n503|300|0003\n'.encode()
    read = list(read_records(WRITEBACK, "x.txt", io.BytesIO(data)))
    assert WRITEBACK.quoting == "none"
    assert read == [
        ("x.txt line 2", {"StudentID": "501", "SchoolCode": "300", "CourseCode": '"0001'}, None),
        ("x.txt line 3", {"StudentID": "502", "SchoolCode": "300", "CourseCode": '0002"'}, None),
        ("x.txt line 4", {"StudentID": "503", "SchoolCode": "300", "CourseCode": "0003"}, None),
    ]
    quoted = list(read_records(dataclasses.replace(WRITEBACK, quoting="minimal"), "x.txt", io.BytesIO(data)))
    assert [where for where, _, _ in quoted] == ["x.txt line 3", "x.txt line 4"]  # what it read before: 2 rows


def test_plan_inserts_new_requests_once_and_leaves_existing_ones_alone():
    plan = build_course_request_plan(WRITEBACK, [
        request(2, alternate="X"), request(3, course="0002"), request(4, student="502"), request(5)],
        STUDENTS, COURSES, EXISTING)
    assert [(w["record"], w["action"], w.get("path"), w.get("body")) for w in plan] == [
        ("300/501/0001", "insert", "schools/300/students/501/courserequests", {"CourseID": "0001", "AlternateTag": "X"}),
        ("300/501/0002", "unchanged", None, {}),
        ("300/502/0001", "insert", "schools/300/students/502/courserequests", {"CourseID": "0001"}),  # pre-enrolled
        ("300/501/0001", "unchanged", None, {}),
    ]
    assert plan[1]["note"] == "Aeries already has this request (sequence 1)"
    assert plan[3]["note"] == "the same request as x.txt line 2"


def test_plan_rejects_what_aeries_would_refuse_naming_the_row():
    plan = build_course_request_plan(WRITEBACK, [
        request(2, school="200", student="501"), request(3, course="ZZZ9"), request(4, course="1"),
        request(5, course="0099"), request(6, course="0001")], STUDENTS, COURSES, EXISTING)
    assert [(w["action"], w.get("reason")) for w in plan] == [
        ("rejected", "200/501/0001: student 501 has no record at school 200 in Aeries"),
        ("rejected", "300/501/ZZZ9: course 'ZZZ9' is not in Aeries' course catalogue"),
        ("rejected", "300/501/1: course '1' is not in Aeries' course catalogue (Aeries has '0001': course IDs must match exactly)"),
        ("rejected", "300/501/0099: course '0099' is inactive in Aeries"),
        ("insert", None),
    ]


def test_a_course_id_matches_ignoring_case_as_aeries_does():
    plan = build_course_request_plan(WRITEBACK, [request(2, course="0002"), request(3, course="abc")],
                                     STUDENTS, [{"ID": "ABC"}], EXISTING)
    assert [(w["action"], w.get("body")) for w in plan] == [("unchanged", {}), ("insert", {"CourseID": "ABC"})]


def test_students_can_be_named_by_student_number(tmp_path):
    document = read_yaml(XELLO, shown="xello.yml", error=ValueError)
    document["course_requests"]["student_key"] = "StudentNumber"
    path = tmp_path / "xello.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    writeback = load_writeback(path)
    row = {ID: "300/8/0001", ROW: "x.txt line 2", "SchoolCode": "300", "StudentNumber": "8", "CourseID": "0001",
           "AlternateTag": ""}
    plan = build_course_request_plan(writeback, [row, {**row, ID: "300/9/0001", "StudentNumber": "9"}], STUDENTS, COURSES, [])
    assert [(w["action"], w.get("path"), w.get("reason")) for w in plan] == [
        ("insert", "schools/300/students/502/courserequests", None),
        ("rejected", None, "300/9/0001: student number 9 has no record at school 300 in Aeries"),
    ]
