"""End to end: PowerSchool Learning's grade push into the Aeries gradebook (include/writebacks/powerschool_learning.yml).

The outbound DAG aeries_to_powerschool_learning runs once first, so its last delivered snapshot (classes.csv,
rosters.csv) says which classes and students PowerSchool Learning imported. A grade export written by hand from
that snapshot and the emulator's gradebooks (comma separated, a header line) lands in the SFTP drop folder; the
DAG runs under dag.test() against the emulator, whose writes log shows every write it received. The export has
valid scores for two existing assignments (one found by its title), scores for a new assignment, a score out of
range, a score that is not a number, a class that was not delivered and a student not on the class's roster.
"""

from __future__ import annotations

import pytest
import requests

from aeries_hub.staging import staging_base
from tests.dags.writebacks import enabled_include, report_of, staged, successful_writes, writeback_dag

pytestmark = pytest.mark.e2e

DAG_ID = "powerschool_learning_to_aeries"
OUTBOUND = "aeries_to_powerschool_learning"
STACK = {"students": 300, "seed": 5}
HEADER = "class_id,assignment_id,assignment_title,points_possible,user_id,score,date_scored"
FIRST_FILE = "grades_2026-10-05T101500.csv"
SECOND_FILE = "grades_2026-10-05T102000.csv"


@pytest.fixture(scope="module")
def enabled(tmp_path_factory):
    return enabled_include(tmp_path_factory, "powerschool_learning.yml")


def get(stack, path: str):
    answer = requests.get(f"{stack.emulator.url}/api/v5/{path}", headers={"AERIES-CERT": stack.certificate}, timeout=5)
    answer.raise_for_status()
    return answer.json()


@pytest.fixture(scope="module")
def delivered(stack):
    """Run the outbound DAG once; pick from its snapshot a delivered class with a gradebook and four students."""
    from aeries_hub.changes import DeliveredState
    from aeries_hub.dag_factory import build_dags
    from aeries_hub.paths import MAPPINGS_DIR

    assert build_dags(MAPPINGS_DIR)[OUTBOUND].test().state == "success"
    state = DeliveredState(staging_base(), OUTBOUND, "sftp")
    classes = state.snapshot("classes").astype(str).to_dict("records")
    rosters = [r for r in state.snapshot("rosters").astype(str).to_dict("records") if r["role"] == "S"]
    students_of: dict[str, list[str]] = {}
    for row in rosters:
        students_of.setdefault(row["class_id"], []).append(row["user_id"])
    for klass in classes:
        students = students_of.get(klass["class_id"], [])
        if len(students) < 4 or not klass["teacher_id"] or klass["teacher_id"] == "<NA>":
            continue
        school, section = klass["organization_id"], klass["code"].rsplit("-", 1)[1]
        books = get(stack, f"schools/{school}/sections/{section}/gradebooks")
        if len(books) == 1:
            break
    else:
        pytest.fail("no delivered class with four students and one gradebook")
    gn = books[0]["GradebookNumber"]
    assignments = {a["Description"]: a for a in get(stack, f"gradebooks/{gn}/assignments")}
    outsider = next(r["user_id"] for r in rosters if r["user_id"] not in students)
    return {"class": klass["class_id"], "gn": gn, "s": students[:4], "outsider": outsider,
            "hw": assignments["Homework 1"], "test": assignments["Unit 1 Test"],
            "gone": f"{school}-ZZ99-9999-9-2026"}


def row(d, student, assignment, title, points, score, klass=None) -> str:
    return f"{klass or d['class']},{assignment},{title},{points},{student},{score},2026-10-05"


def export_lines(d) -> list[str]:
    s1, s2, s3, s4 = d["s"]
    return [
        row(d, s1, "psl-hw-1", "Homework 1", 10, 9),          # existing assignment, found by its title
        row(d, s2, "psl-hw-1", "Homework 1", 10, 10),
        row(d, s3, "psl-hw-1", "Homework 1", 10, 12),         # out of range (0 to 10)
        row(d, s4, "psl-hw-1", "Homework 1", 10, "A-"),       # not a number
        row(d, s1, "psl-test-1", "Unit 1 Test", 40, 33.5),
        row(d, s1, "psl-hw-1", "Homework 1", 10, 5, klass=d["gone"]),  # class not delivered
        row(d, d["outsider"], "psl-hw-1", "Homework 1", 10, 7),        # not on this class's roster
        row(d, s1, "psl-lab-1", "Lab 1", 20, 18),             # a new assignment: created, then scored
        row(d, s2, "psl-lab-1", "Lab 1", 20, 20),
    ]


def expected_posts(d) -> list[tuple[str, str, object]]:
    s1, s2 = int(d["s"][0]), int(d["s"][1])
    gn, hw, test = d["gn"], d["hw"]["AssignmentNumber"], d["test"]["AssignmentNumber"]
    lab = max(hw, test) + 1
    score = lambda sid, value: {"StudentID": sid, "NumberCorrect": value, "DateCompleted": "2026-10-05"}  # noqa: E731
    return [
        ("POST", f"gradebooks/{gn}/assignments/{hw}/Scores", [score(s1, 9), score(s2, 10)]),
        ("POST", f"gradebooks/{gn}/assignments/{test}/Scores", [score(s1, 33.5)]),
        ("POST", f"gradebooks/{gn}/Assignments", {"Description": "Lab 1", "ExternalID": "psl-lab-1", "NumberCorrectPossible": 20,
                                                  "PointsPossible": 20, "CreateInLinkedGradebooksToo": False,
                                                  "DateDue": "2026-10-05"}),
        ("POST", f"gradebooks/{gn}/assignments/{lab}/Scores", [score(s1, 18), score(s2, 20)]),
    ]


def drop(stack, name: str, lines: list[str]) -> None:
    folder = stack.sftp.root / "powerschool_learning_export"
    (folder / name).write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def runs(stack, delivered, enabled):
    """Dry run, real run, re-run of the same file, then a new export re-sending a held score and changing one."""
    with writeback_dag(enabled, "powerschool_learning.yml") as dag:
        stack.emulator.clear_writes()
        drop(stack, FIRST_FILE, export_lines(delivered))
        dry = dag.test(run_conf={"dry_run": True})
        after_dry = successful_writes(stack)
        first = dag.test(run_conf={"dry_run": False})
        after_first = successful_writes(stack)
        again = dag.test(run_conf={"dry_run": False})
        after_again = successful_writes(stack)
        s1, s2 = delivered["s"][:2]
        drop(stack, SECOND_FILE, [row(delivered, s1, "psl-hw-1", "Homework 1", 10, 9),     # Aeries holds 9
                                  row(delivered, s2, "psl-hw-1", "Homework 1", 10, 8)])    # regraded: 10 -> 8
        regraded = dag.test(run_conf={"dry_run": False})
        after_regrade = successful_writes(stack)
    return {"dry": (dry, after_dry), "first": (first, after_first), "again": (again, after_again),
            "regraded": (regraded, after_regrade)}


def test_dry_run_plans_every_write_and_sends_none(runs):
    dag_run, writes = runs["dry"]
    report = report_of(dag_run)
    assert writes == []
    assert report["not_written_because"] == "dry_run is on"
    assert report["planned"] == {"assignment insert": 1, "score rejected": 4, "scores update": 3}


def test_the_real_run_sends_exactly_the_valid_scores_one_request_per_assignment(runs, delivered):
    dag_run, writes = runs["first"]
    assert writes == expected_posts(delivered)
    report = report_of(dag_run)
    assert report["status"] == "Completed with errors"
    assert [w["status"] for w in report["written"]] == ["written"] * 4
    s1, s2 = delivered["s"][:2]
    gn, hw = delivered["gn"], delivered["hw"]["AssignmentNumber"]
    first = report["written"][0]
    # The kept report names the students and fields; the values are only in the staged writes.json.
    assert (first["target"], first["students"], first["fields"]) == (
        f"gradebook {gn}, assignment {hw}", sorted([str(s1), str(s2)]), ["DateCompleted", "NumberCorrect"])
    assert "changes" not in first
    assert staged(dag_run, "writes.json")[0]["changes"] == {f"student {s1}": [None, 9], f"student {s2}": [None, 10]}
    assert report["written"][2]["assignment_number"] == max(hw, delivered["test"]["AssignmentNumber"]) + 1


def test_rows_that_may_not_be_pushed_are_rejected_naming_the_row(runs, delivered):
    d = delivered
    s1, _s2, s3, s4 = d["s"]
    c, gn, hw = d["class"], d["gn"], d["hw"]["AssignmentNumber"]
    report = report_of(runs["first"][0])
    assert report["rejected"] == sorted([f"{c}/psl-hw-1/{s3}", f"{c}/psl-hw-1/{s4}", f"{d['gone']}/psl-hw-1/{s1}",
                                         f"{c}/psl-hw-1/{d['outsider']}"])
    assert report["reject_reasons"] == sorted([
        f"{c}/psl-hw-1/{s3}: score 12 is outside 0 to 10 (NumberCorrectPossible of assignment {hw} in gradebook {gn})",
        f"{c}/psl-hw-1/{s4}: score 'A-' is not a number",
        f"{d['gone']}/psl-hw-1/{s1}: class {d['gone']} was not delivered to PowerSchool Learning",
        f"{c}/psl-hw-1/{d['outsider']}: student {d['outsider']} is not on the roster delivered for class {c}",
    ])


def test_the_scores_read_back_from_aeries(runs, delivered, stack):
    s1, s2 = int(delivered["s"][0]), int(delivered["s"][1])
    gn, hw, test = delivered["gn"], delivered["hw"]["AssignmentNumber"], delivered["test"]["AssignmentNumber"]
    lab = next(a for a in get(stack, f"gradebooks/{gn}/assignments") if a["ExternalID"] == "psl-lab-1")
    assert (lab["Description"], lab["NumberCorrectPossible"]) == ("Lab 1", 20)
    held = lambda an: {r["StudentID"]: float(r["NumberCorrect"]) for r in get(stack, f"gradebooks/{gn}/assignments/{an}/scores")}  # noqa: E731
    # After the regrade of the last run: s2's homework is 8.
    assert held(hw) == {s1: 9.0, s2: 8.0}
    assert held(test) == {s1: 33.5}
    assert held(lab["AssignmentNumber"]) == {s1: 18.0, s2: 20.0}


def test_a_rerun_of_the_same_file_writes_nothing(runs):
    dag_run, writes = runs["again"]
    assert writes == runs["first"][1]
    report = report_of(dag_run)
    assert report["files"] == [] and [f["file"] for f in report["skipped_files"]] == [FIRST_FILE]
    assert report["written"] == []


def test_a_score_aeries_already_holds_is_not_written_again(runs, delivered):
    dag_run, writes = runs["regraded"]
    s2 = int(delivered["s"][1])
    gn, hw = delivered["gn"], delivered["hw"]["AssignmentNumber"]
    assert writes[len(runs["first"][1]):] == [
        ("POST", f"gradebooks/{gn}/assignments/{hw}/Scores", [{"StudentID": s2, "NumberCorrect": 8, "DateCompleted": "2026-10-05"}])]
    report = report_of(dag_run)
    assert report["planned"] == {"score unchanged": 1, "scores update": 1}
    assert report["status"] == "Completed"
    assert report["written"][0]["students"] == [str(s2)]
    assert staged(dag_run, "writes.json")[0]["changes"] == {f"student {s2}": [10, 8]}
