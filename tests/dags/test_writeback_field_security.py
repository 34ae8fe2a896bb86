"""End to end: Aeries' field level security drops a field of a write without an error; the write-back says so.

Aeries ignores, without an error, a field the certificate's group may not update (field level security, Aeries
support article 14000068040). SchoolMint Enroll's write-back matches students by ``StateStudentID``: a student
inserted without it would be inserted again by the next export. Here the write-back certificate is denied
``StateStudentID``; the insert goes through, its answer lacks the state id, and the run ends in Error naming the
field and what to grant. Nothing is sent twice, and the student's guardian is still written.
"""

from __future__ import annotations

import json

import pytest

from tests.dags.writebacks import enabled_include, report_of, successful_writes, writeback_dag

pytestmark = pytest.mark.e2e

DAG_ID = "schoolmint_enroll_to_aeries"
STACK = {"students": 120, "seed": 5, "writeback_denied_fields": {"Student Data": ["StateStudentID"]}}
NEW = {
    "students": {"enroll_id": "E-2001", "state_id": "9900000021", "fname": "Mai", "lname": "Nguyen",
                 "DOB": "2019-04-02", "gender": "female"},
    "students_annual": {"grade": "1", "sis_entrydate": "2026-12-01"},
    "guardians": [{"fname": "Lan", "lname": "Nguyen", "relationship": "20", "mobile_phone": "8315550143"}],
}


@pytest.fixture(scope="module")
def run(stack, tmp_path_factory):
    students = json.loads((stack.data_dir / "students.json").read_text(encoding="utf-8"))
    school = next(r["SchoolCode"] for r in students if r["SchoolCode"] and int(r["Grade"]) == 1)
    record = {**NEW, "students_annual": {**NEW["students_annual"], "sis_school_code": school}}
    (stack.sftp.root / "enroll_export" / "enroll_2026-12-01.jsonl").write_text(json.dumps(record) + "\n")
    include = enabled_include(tmp_path_factory, "schoolmint_enroll.yml")
    with writeback_dag(include, "schoolmint_enroll.yml") as dag:
        stack.emulator.clear_writes()
        dag_run = dag.test(run_conf={"dry_run": False})
        writes = successful_writes(stack)
        ignored = [w.get("ignored_fields") for w in stack.emulator.writes()]
    return {"run": dag_run, "writes": writes, "ignored": ignored, "school": school,
            "report": report_of(dag_run)}


def test_the_insert_goes_through_without_the_denied_field_and_the_guardian_is_written(run):
    assert [(method, path.split("/")[0] if "/" in path else path) for method, path, _ in run["writes"]] == [
        ("POST", "schools"), ("POST", "InsertContact")]
    assert run["writes"][0][2]["StateStudentID"] == "9900000021"  # sent ...
    assert run["ignored"] == [["StateStudentID"], None]  # ... and dropped by Aeries without an error


def test_the_run_ends_in_error_naming_the_field_and_the_permission(run):
    report = run["report"]
    student = next(w for w in report["written"] if w["kind"] == "student")
    assert run["run"].state == "failed" and report["status"] == "Error"
    assert student["status"] == "incomplete" and student["not_stored"] == ["StateStudentID"]
    assert student["reason"] == (
        f"Aeries took the student insert on schools/{run['school']}/InsertStudent but did not store StateStudentID: "
        "field level security denies the API certificate StateStudentID in Student Data. Grant its group Update on "
        "these fields (Aeries: Security, field level security) and set them on that record in Aeries by hand; this "
        "export counts as processed, and until the fields are set a later export may not find the record by them")
    assert report["outcome"] == ("Error: 1 write not taken by Aeries, e.g. incomplete student insert of record E-2001 "
                                 "(not stored: StateStudentID)")
    contact = next(w for w in report["written"] if w["kind"] == "contact")
    assert contact["status"] == "written"
    assert "9900000021" not in json.dumps(report)  # the report holds ids and field names, never a value
