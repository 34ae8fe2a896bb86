"""End to end: Xello's course requests written into Aeries table SSS (include/writebacks/xello.yml).

Xello's export (pipe delimited, a header line, like Xello's own data files) lands in the SFTP drop folder of
OpenSSH's sshd; the DAG runs under dag.test() against the Aeries emulator, whose writes log
(``GET /__emulator__/writes``) shows every write it received. The rows are written by hand from the emulator's
own data: valid requests (one of them an alternate, one for a pre-enrolled student), the same row twice, and
rows Aeries would refuse: an unknown course, an unpadded course ID, an inactive course, a student with no
record at the school, a blank course.
"""

from __future__ import annotations

import json

import pytest

from tests.dags.independent import s
from tests.dags.writebacks import enabled_include, report_of, successful_writes, writeback_dag

pytestmark = pytest.mark.e2e

DAG_ID = "xello_to_aeries"
STACK = {"students": 300, "seed": 5}
HEADER = "StudentID|SchoolCode|CourseCode|CourseName|IsAlternate|SchoolYear"
FIRST_FILE = "CourseRequests_2027-03-01.txt"


@pytest.fixture(scope="module")
def enabled(tmp_path_factory):
    return enabled_include(tmp_path_factory, "xello.yml")


@pytest.fixture(scope="module")
def district(stack):
    def load(name):
        return json.loads((stack.data_dir / f"{name}.json").read_text(encoding="utf-8"))

    students, courses = load("students"), load("courses")
    schools = {}
    for row in students:
        schools.setdefault(row["SchoolCode"], set()).add(row["StudentID"])
    active = [r for r in students if not s(r["InactiveStatusCode"])]
    a, b = active[0], next(r for r in active if r["SchoolCode"] == active[0]["SchoolCode"] and r["StudentID"] != active[0]["StudentID"])
    pre = next(r for r in students if s(r["InactiveStatusCode"]) == "P")
    elsewhere = next(code for code in sorted(schools) if a["StudentID"] not in schools[code])
    live = [c for c in courses if not s(c.get("InactiveStatusCode"))]
    inactive = next(c for c in courses if s(c.get("InactiveStatusCode")))
    assert live[0]["ID"].startswith("000")  # "0001": the unpadded "1" is not it
    return {"a": a, "b": b, "pre": pre, "elsewhere": elsewhere, "c1": live[0]["ID"], "c2": live[1]["ID"],
            "inactive": inactive["ID"], "unpadded": live[0]["ID"].lstrip("0")}


def line(student, course: str, alternate: str = "0", school=None) -> str:
    school = student["SchoolCode"] if school is None else school
    return f"{student['StudentID']}|{school}|{course}|Course {course}, any name|{alternate}|2027-2028"


def export_lines(d) -> list[str]:
    a, b, pre = d["a"], d["b"], d["pre"]
    return [
        line(a, d["c1"]),
        line(a, d["c2"], alternate="1"),
        line(b, d["c1"]),
        line(pre, d["c1"]),                      # pre-enrolled at that school: the request is for next year
        line(a, d["c1"]),                        # the same row twice
        line(b, "ZZZ9"),                         # not in the catalogue
        line(b, d["unpadded"]),                  # "1" is not "0001"
        line(b, d["inactive"]),
        line(a, d["c2"], school=d["elsewhere"]),  # no record at that school
        line(b, ""),                             # blank course
    ]


def key(student, course, school=None) -> str:
    return f"{student['SchoolCode'] if school is None else school}/{student['StudentID']}/{course}"


def expected_posts(d) -> list[tuple[str, str, dict]]:
    def post(st, course, **extra):
        return "POST", f"schools/{st['SchoolCode']}/students/{st['StudentID']}/courserequests", {"CourseID": course, **extra}

    return [post(d["a"], d["c1"]), post(d["a"], d["c2"], AlternateTag="X"), post(d["b"], d["c1"]), post(d["pre"], d["c1"])]


def drop(stack, name: str, lines: list[str]) -> None:
    folder = stack.sftp.root / "xello_export"
    (folder / name).write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def runs(stack, district, enabled):
    """Dry run, real run, re-run of the same file, then Xello exporting an already written request again."""
    with writeback_dag(enabled, "xello.yml") as dag:
        stack.emulator.clear_writes()
        drop(stack, FIRST_FILE, export_lines(district))
        dry = dag.test(run_conf={"dry_run": True})
        after_dry = successful_writes(stack)
        first = dag.test(run_conf={"dry_run": False})
        after_first = successful_writes(stack)
        again = dag.test(run_conf={"dry_run": False})
        after_again = successful_writes(stack)
        drop(stack, "CourseRequests_2027-03-02.txt", export_lines(district)[:1])
        re_exported = dag.test(run_conf={"dry_run": False})
        after_re_export = successful_writes(stack)
    return {"dry": (dry, after_dry), "first": (first, after_first), "again": (again, after_again),
            "re_exported": (re_exported, after_re_export)}


def test_dry_run_plans_every_request_and_sends_none(runs):
    dag_run, writes = runs["dry"]
    report = report_of(dag_run)
    assert writes == []
    assert report["not_written_because"] == "dry_run is on"
    assert report["planned"] == {"course request insert": 4, "course request rejected": 4, "course request unchanged": 1}


def test_the_real_run_sends_exactly_the_valid_requests_once(runs, district):
    dag_run, writes = runs["first"]
    assert writes == expected_posts(district)
    report = report_of(dag_run)
    assert report["status"] == "Completed with errors"
    assert [w["status"] for w in report["written"]] == ["written"] * 4


def test_rows_aeries_would_refuse_are_rejected_naming_the_row(runs, district):
    d = district
    a, b = d["a"], d["b"]
    report = report_of(runs["first"][0])
    blank = f"{FIRST_FILE} line 11"
    assert report["rejected"] == sorted([key(b, "ZZZ9"), key(b, d["unpadded"]), key(b, d["inactive"]),
                                         key(a, d["c2"], d["elsewhere"]), blank])
    assert report["reject_reasons"] == sorted([
        "the course request's CourseID is required",
        f"{key(b, 'ZZZ9')}: course 'ZZZ9' is not in Aeries' course catalogue",
        (f"{key(b, d['unpadded'])}: course '{d['unpadded']}' is not in Aeries' course catalogue "
         f"(Aeries has '{d['c1']}': course IDs must match exactly)"),
        f"{key(b, d['inactive'])}: course '{d['inactive']}' is inactive in Aeries",
        f"{key(a, d['c2'], d['elsewhere'])}: student {a['StudentID']} has no record at school {d['elsewhere']} in Aeries",
    ])


def test_the_requests_read_back_from_aeries(runs, district, stack):
    import requests

    headers = {"AERIES-CERT": stack.certificate}
    school = district["a"]["SchoolCode"]
    rows = requests.get(f"{stack.emulator.url}/api/v5/schools/{school}/scheduling/courserequests", headers=headers,
                        timeout=5).json()
    mine = sorted((r["StudentID"], r["CourseID"], r["AlternateTag"]) for r in rows
                  if r["StudentID"] in (district["a"]["StudentID"], district["b"]["StudentID"]))
    assert mine == sorted([(district["a"]["StudentID"], district["c1"], ""), (district["a"]["StudentID"], district["c2"], "X"),
                           (district["b"]["StudentID"], district["c1"], "")])


def test_a_rerun_of_the_same_file_writes_nothing(runs):
    dag_run, writes = runs["again"]
    assert writes == runs["first"][1]
    report = report_of(dag_run)
    assert report["files"] == [] and [f["file"] for f in report["skipped_files"]] == [FIRST_FILE]
    assert report["written"] == []


def test_a_request_exported_again_is_found_in_aeries_and_not_written_twice(runs):
    dag_run, writes = runs["re_exported"]
    assert writes == runs["first"][1]
    report = report_of(dag_run)
    assert report["planned"] == {"course request unchanged": 1}
    assert report["status"] == "Completed" and report["written"] == []
