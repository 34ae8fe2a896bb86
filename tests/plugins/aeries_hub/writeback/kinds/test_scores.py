"""The grade push (include/writebacks/powerschool_learning.yml, `scores:`): the file loads, mistakes name the key
path, and the plan writes only delivered classes and roster rows, creates a missing assignment when allowed,
rejects non-numeric and out-of-range scores naming the row, and leaves scores Aeries already holds alone."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
import yaml

from aeries_hub.config_files import read_yaml
from aeries_hub.mapping.models import MappingError
from aeries_hub.paths import WRITEBACKS_DIR
from aeries_hub.writeback.kinds.scores import build_score_plan, class_section, scores_of
from aeries_hub.writeback.loader import load_writeback
from aeries_hub.writeback.records import ID, ROW, read_records

PSL = WRITEBACKS_DIR / "powerschool_learning.yml"
WRITEBACK = load_writeback(PSL)
C1, C2, GONE = "994-0101-12-1-2026", "994-0202-13-2-2026", "994-0303-14-3-2026"
NO_TEACHER = "994-0404-15-4-2026"
CLASSES = [{"class_id": C1, "code": "0101-12", "organization_id": "994", "teacher_id": "T77"},
           {"class_id": C2, "code": "0202-13", "organization_id": "994", "teacher_id": "T78"},
           {"class_id": NO_TEACHER, "code": "0404-15", "organization_id": "994", "teacher_id": ""}]
ROSTERS = [{"class_id": NO_TEACHER, "user_id": "501", "role": "S"}, {"class_id": C1, "user_id": "501", "role": "S"},
           {"class_id": C1, "user_id": "502", "role": "S"}, {"class_id": C1, "user_id": "T77", "role": "T"}, {"class_id": C2, "user_id": "501", "role": "S"}]
GRADEBOOKS = {C1: [{"GradebookNumber": 7}], C2: []}
ASSIGNMENTS = {7: [{"GradebookNumber": 7, "AssignmentNumber": 1, "Description": "Homework 1", "ExternalID": "",
                    "NumberCorrectPossible": 10},
                   {"GradebookNumber": 7, "AssignmentNumber": 2, "Description": "Unit 1 Test", "ExternalID": "psl-9",
                    "NumberCorrectPossible": 40}]}
SCORES = {(7, 1): [{"StudentID": 502, "NumberCorrect": 8}], (7, 2): []}


def psl_with(tmp_path, edit) -> str:
    document = read_yaml(PSL, shown="powerschool_learning.yml", error=ValueError)
    edit(document)
    path = tmp_path / "powerschool_learning.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(MappingError) as err:
        load_writeback(path)
    return str(err.value)


def score(line: int, student="501", assignment="psl-1", score="9", klass=C1, title="Homework 1", points="10",
          date="2026-10-01") -> dict:
    return {ID: f"{klass}/{assignment}/{student}", ROW: f"grades.csv line {line}", "class_id": klass,
            "student": student, "assignment": assignment, "title": title, "points_possible": points, "score": score,
            "date": date}


def plan(rows, writeback=WRITEBACK, scores=SCORES):
    return build_score_plan(writeback, rows, CLASSES, ROSTERS, GRADEBOOKS, ASSIGNMENTS, scores)


def test_shipped_powerschool_learning_writeback_loads_with_writing_off():
    assert WRITEBACK.dag_id == "powerschool_learning_to_aeries" and WRITEBACK.kind == "scores"
    assert WRITEBACK.enabled is False
    assert (WRITEBACK.aeries_conn_id, WRITEBACK.sftp_conn_id, WRITEBACK.remote_dir, WRITEBACK.format, WRITEBACK.pattern) == (
        "aeries_writeback", "powerschool_learning_export_sftp", "powerschool_learning_export", "csv", "grades_*.csv")
    assert WRITEBACK.schedule.crons == ("*/5 6-18 * * 1-5",)
    spec = scores_of(WRITEBACK)
    assert (spec.delivered_by, spec.class_id, spec.student, spec.assignment, spec.title, spec.points_possible,
            spec.score, spec.date, spec.create_assignments) == (
        "aeries_to_powerschool_learning", "class_id", "user_id", "assignment_id", "assignment_title", "points_possible",
        "score", "date_scored", True)
    assert spec.user_crosswalk == "user_ids"


def test_exactly_one_of_the_three_sections(tmp_path):
    xello = read_yaml(WRITEBACKS_DIR / "xello.yml", shown="x", error=ValueError)
    enroll = read_yaml(WRITEBACKS_DIR / "schoolmint_enroll.yml", shown="x", error=ValueError)
    assert psl_with(tmp_path, lambda d: d.update(course_requests=xello["course_requests"])) == (
        "powerschool_learning.yml:57: (top): give exactly one of: students, course_requests, scores (it has both)")
    assert psl_with(tmp_path, lambda d: d.update(course_requests=xello["course_requests"],
                                                 students=enroll["students"])) == (
        "powerschool_learning.yml:57: (top): give exactly one of: students, course_requests, scores (it has all of them)")
    assert psl_with(tmp_path, lambda d: d.pop("scores")) == (
        "powerschool_learning.yml: (top): give exactly one of: students, course_requests, scores (it has neither)")


def test_scores_mistakes_name_the_key_path(tmp_path):
    assert psl_with(tmp_path, lambda d: d["scores"].pop("delivered_by")) == (
        "powerschool_learning.yml:57: scores: 'delivered_by' is required")
    assert psl_with(tmp_path, lambda d: d["scores"].pop("score")) == (
        "powerschool_learning.yml:57: scores: 'score' is required")
    message = psl_with(tmp_path, lambda d: d["scores"].update(grade="x"))
    assert message == ("powerschool_learning.yml:68: scores: unknown key 'grade'; allowed keys: assignment, class, "
                       "create_assignments, date, delivered_by, points_possible, score, student, title, user_crosswalk")
    assert psl_with(tmp_path, lambda d: d["scores"].update(delivered_by="psl_rosters")) == (
        "powerschool_learning.yml:67: scores.user_crosswalk: only for scores.delivered_by an outbound DAG "
        "(aeries_to_<mapping>), not 'psl_rosters'")
    assert psl_with(tmp_path, lambda d: d["scores"].update(create_assignments="yes")) == (
        "powerschool_learning.yml:66: scores.create_assignments: 'yes' is not of type 'boolean'")
    assert psl_with(tmp_path, lambda d: d["scores"].pop("points_possible")) == (
        "powerschool_learning.yml:57: scores.points_possible: required with create_assignments: true "
        "(a new Aeries assignment needs its NumberCorrectPossible)")


def test_the_export_is_read_as_comma_separated_text_with_a_header():
    text = ("class_id,assignment_id,assignment_title,points_possible,user_id,score,date_scored\n"
            f"{C1},psl-1,\"Homework 1, part A\",10,501,9,2026-10-01\n")
    [(where, record, problem)] = list(read_records(WRITEBACK, "grades_1.csv", io.BytesIO(text.encode())))
    assert (where, problem) == ("grades_1.csv line 2", None)
    assert record["assignment_title"] == "Homework 1, part A" and record["user_id"] == "501"


def test_class_section_comes_from_organization_and_code():
    assert class_section(CLASSES[0]) == (994, 12)
    assert class_section({"class_id": "haiku-class-9", "code": "0101-12", "organization_id": "994"}) == (994, 12)
    assert class_section({"class_id": "x", "code": "", "organization_id": "994"}) is None


def test_valid_scores_of_one_assignment_go_in_one_request():
    result = plan([score(2, title="Homework 1", assignment="psl-1"), score(3, student="502", assignment="psl-1", score="6"),
                   score(4, assignment="psl-9", title="", score="35.5")])
    writes = [(w["kind"], w["action"], w["path"], w["body"], w["changes"]) for w in result]
    assert writes == [
        ("scores", "update", "gradebooks/7/assignments/1/Scores",
         [{"StudentID": 501, "NumberCorrect": 9, "DateCompleted": "2026-10-01"},
          {"StudentID": 502, "NumberCorrect": 6, "DateCompleted": "2026-10-01"}],
         {"student 501": [None, 9], "student 502": [8, 6]}),
        ("scores", "update", "gradebooks/7/assignments/2/Scores",
         [{"StudentID": 501, "NumberCorrect": 35.5, "DateCompleted": "2026-10-01"}], {"student 501": [None, 35.5]}),
    ]
    assert result[0]["target"] == "gradebook 7, assignment 1"


def test_only_delivered_classes_and_roster_rows_push_scores():
    result = plan([score(2, klass=GONE), score(3, student="503"), score(4, student="T77"), score(5, klass=C2, student="502"),
                   score(6, klass=NO_TEACHER)])
    assert [(w["action"], w["reason"]) for w in result] == [
        ("rejected", f"{GONE}/psl-1/501: class {GONE} was not delivered to PowerSchool Learning"),
        ("rejected", f"{C1}/psl-1/503: student 503 is not on the roster delivered for class {C1}"),
        ("rejected", f"{C1}/psl-1/T77: student T77 is not on the roster delivered for class {C1}"),
        ("rejected", f"{C2}/psl-1/502: student 502 is not on the roster delivered for class {C2}"),
        ("rejected", f"{NO_TEACHER}/psl-1/501: class {NO_TEACHER} was delivered to PowerSchool Learning without a teacher"),
    ]


def test_bad_scores_are_rejected_before_any_write():
    result = plan([score(2, score="A+"), score(3, score="11"), score(4, score="-1"), score(5, student="502", score="NaN"),
                   score(6, date="next week"), score(7, student="502", score="10")])
    assert [w.get("reason") for w in result if w["action"] == "rejected"] == [
        f"{C1}/psl-1/501: score 'A+' is not a number",
        f"{C1}/psl-1/501: score 11 is outside 0 to 10 (NumberCorrectPossible of assignment 1 in gradebook 7)",
        f"{C1}/psl-1/501: score -1 is outside 0 to 10 (NumberCorrectPossible of assignment 1 in gradebook 7)",
        f"{C1}/psl-1/502: score 'NaN' is not a number",
        f"{C1}/psl-1/501: date 'next week' is not a date (YYYY-MM-DD or MM/DD/YYYY)",
    ]
    assert [w["body"] for w in result if w["action"] == "update"] == [
        [{"StudentID": 502, "NumberCorrect": 10, "DateCompleted": "2026-10-01"}]]


def test_a_score_aeries_already_holds_is_not_written_again():
    result = plan([score(2, student="502", score="8.0")])
    assert [(w["action"], w["note"]) for w in result] == [("unchanged", "Aeries already holds 8")]


def test_the_last_row_for_a_student_wins():
    result = plan([score(2, score="5"), score(3, score="7")])
    assert [w["action"] for w in result] == ["unchanged", "update"]
    assert result[0]["note"] == "a later row (grades.csv line 3) scores it again"
    assert result[1]["body"] == [{"StudentID": 501, "NumberCorrect": 7, "DateCompleted": "2026-10-01"}]


def test_a_missing_assignment_is_created_then_scored():
    result = plan([score(2, assignment="psl-20", title="Lab 3", points="25", score="25"),
                   score(3, student="502", assignment="psl-20", title="Lab 3", points="25", score="26")])
    assert [(w["kind"], w["action"]) for w in result] == [("score", "rejected"), ("assignment", "insert"), ("scores", "update")]
    assert result[0]["reason"] == (f"{C1}/psl-20/502: score 26 is outside 0 to 25 "
                                   "(NumberCorrectPossible of new assignment psl-20 in gradebook 7)")
    insert, scores = result[1], result[2]
    assert (insert["path"], insert["body"]) == ("gradebooks/7/Assignments", {
        "Description": "Lab 3", "ExternalID": "psl-20", "NumberCorrectPossible": 25, "PointsPossible": 25,
        "CreateInLinkedGradebooksToo": False, "DateDue": "2026-10-01"})
    assert insert["record"] == scores["record"] == f"{C1}/psl-20"  # a failed insert stops its scores
    assert scores["path"] == "gradebooks/7/assignments/{assignment}/Scores"


def test_without_create_assignments_a_missing_assignment_is_rejected():
    writeback = replace(WRITEBACK, section=replace(scores_of(WRITEBACK), create_assignments=False))
    result = plan([score(2, assignment="psl-20", title="Lab 3")], writeback=writeback)
    assert [w["reason"] for w in result] == [
        f"{C1}/psl-20/501: assignment psl-20 ('Lab 3') is not in gradebook 7 (create_assignments is off)"]


def test_a_class_without_a_gradebook_and_a_new_assignment_without_points():
    result = plan([score(2, klass=C2), score(3, assignment="psl-30", title="Quiz", points="")])
    assert [w["reason"] for w in result] == [
        f"{C2}/psl-1/501: class {C2} (section 13 at school 994) has no gradebook in Aeries",
        (f"{C1}/psl-30/501: assignment psl-30 ('Quiz') is not in gradebook 7 and cannot be created: points possible '' "
         "is not a number greater than 0"),
    ]


def test_a_student_renamed_by_the_user_ids_crosswalk_is_read_back_to_the_studentid():
    rosters = ROSTERS + [{"class_id": C1, "user_id": "haiku-0001", "role": "S"}]
    result = build_score_plan(WRITEBACK, [score(2, student="haiku-0001"), score(3, student="haiku-0002")], CLASSES,
                              rosters, GRADEBOOKS, ASSIGNMENTS, SCORES, {"haiku-0001": "502"})
    assert result[0]["reason"] == f"{C1}/psl-1/haiku-0002: student haiku-0002 is not on the roster delivered for class {C1}"
    assert result[1]["body"] == [{"StudentID": 502, "NumberCorrect": 9, "DateCompleted": "2026-10-01"}]
    assert result[1]["changes"] == {"student 502": [8, 9]}


def test_the_crosswalk_is_read_backwards_from_the_outbound_mapping(tmp_path, monkeypatch):
    import shutil

    from aeries_hub import paths
    from aeries_hub.writeback.kinds.scores import student_ids

    mappings = tmp_path / "include" / "mappings"
    shutil.copytree(paths.INCLUDE_DIR, tmp_path / "include")
    (tmp_path / "include" / "crosswalks" / "powerschool_learning_user_ids.csv").write_text(
        "aeries_id,vendor_id\n99400001,haiku-0001\nT12,haiku-0002\n")
    monkeypatch.setattr(paths, "MAPPINGS_DIR", mappings)
    assert student_ids(WRITEBACK) == {"haiku-0001": "99400001", "haiku-0002": "T12"}
    assert student_ids(replace(WRITEBACK, section=replace(scores_of(WRITEBACK), user_crosswalk=""))) == {}
