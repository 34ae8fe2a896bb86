"""End to end: the inbound guard of a write-back, and what a write-back keeps (issue 13, items 4 and 7).

A SchoolMint Enroll export that rewrites an existing student's address and phone and adds a "guardian" to
that child (with one new student beside it) runs under dag.test() against the Aeries emulator: the dry run
needs no approval; a real run parks ``approve_writes`` in AWAITING_INPUT with nothing written, and a thread
answers it through Airflow's REST API (as the UI's Required actions page does) or lets it time out. No answer
in time, or Reject, writes nothing and the report says why (and who rejected); Approve writes. The kept
report, the run's XComs and the task log hold ids, counts and field names, never one of the exported values
(those stay in the staged plan.json and writes.json).
"""

from __future__ import annotations

import io
import json
import logging
from contextlib import redirect_stderr, redirect_stdout

import pytest
import requests

from tests.dags import approvals
from tests.dags.independent import s
from tests.dags.writebacks import enabled_include, staged, successful_writes, writeback_dag

pytestmark = pytest.mark.e2e

DAG_ID = "schoolmint_enroll_to_aeries"
STACK = {"students": 300, "seed": 13}
FILE = "enroll_2026-12-07.jsonl"
NEW_STATE_ID = "9900000201"
#: The exported values that must not outlive the run's staged files (names, birth date, address, phones, e-mails).
EXPORTED = ["77 Harbor Way", "Seacliff Cove", "95999", "8315550177", "Marisol", "Quintanilla", "marisol.q@example.org",
            "8315550178", "Talia", "Brightwater", "2019-08-17", "5 Lantern Ln", "8315550179", "Oren",
            "oren.b@example.org", "8315550180"]


@pytest.fixture(scope="module")
def existing(stack):
    students = json.loads((stack.data_dir / "students.json").read_text(encoding="utf-8"))
    return next(r for r in students if s(r["StateStudentID"]) and not s(r["InactiveStatusCode"]) and s(r["Birthdate"]))


def export(existing) -> list[dict]:
    school = existing["SchoolCode"]
    known = {
        "students": {"enroll_id": "E-2001", "state_id": s(existing["StateStudentID"]),
                     "fname": s(existing["FirstName"]), "lname": s(existing["LastName"]), "DOB": s(existing["Birthdate"])[:10], "home_phone": "8315550177",
                     "address": "77 Harbor Way", "city": "Seacliff Cove", "zip": "95999"},
        "students_annual": {"sis_school_code": school, "grade": s(existing["Grade"])},
        "guardians": [{"fname": "Marisol", "lname": "Quintanilla", "relationship": "20",
                       "email": "marisol.q@example.org", "mobile_phone": "8315550178"}],
    }
    new = {
        "students": {"enroll_id": "E-2002", "state_id": NEW_STATE_ID, "fname": "Talia", "lname": "Brightwater",
                     "DOB": "2019-08-17", "home_phone": "8315550179", "address": "5 Lantern Ln"},
        "students_annual": {"sis_school_code": school, "grade": "1"},
        "guardians": [{"fname": "Oren", "lname": "Brightwater", "email": "oren.b@example.org",
                       "mobile_phone": "8315550180"}],
    }
    return [known, new]


def xcom_values(dag_run) -> list:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter_by(dag_id=DAG_ID, run_id=dag_run.run_id).all()
        return [(row.task_id, row.value) for row in rows]


def get(stack, path: str):
    response = requests.get(f"{stack.emulator.url}/api/v5/{path}", headers={"AERIES-CERT": stack.certificate},
                            timeout=10)
    response.raise_for_status()
    return response.json()


def decided(stack, dag, decision: str | None) -> dict:
    """A real run whose approve_writes is answered ``decision`` (None: nobody answers in time); what the approver
    saw and what Aeries had then."""
    answered: dict = {}

    def look(seen: dict) -> None:
        seen["writes_while_waiting"] = successful_writes(stack, bodies=False)

    log = io.StringIO()
    handler = logging.StreamHandler(log)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    logging.getLogger().addHandler(handler)
    try:
        with redirect_stdout(log), redirect_stderr(log):
            approver = approvals.answer_when_waiting(DAG_ID, "approve_writes", decision, answered, on_waiting=look)
            dag_run = dag.test(run_conf={"dry_run": False})
            approver.join(timeout=30)
    finally:
        logging.getLogger().removeHandler(handler)
    return {"run": dag_run, "answered": answered, "writes": successful_writes(stack, bodies=False),
            "log": log.getvalue(), "xcom": xcom_values(dag_run)}


@pytest.fixture(scope="module")
def runs(stack, existing, tmp_path_factory):
    include = enabled_include(tmp_path_factory, "schoolmint_enroll.yml")
    (stack.sftp.root / "enroll_export" / FILE).write_text("".join(json.dumps(r) + "\n" for r in export(existing)))
    with writeback_dag(include, "schoolmint_enroll.yml") as dag:
        stack.emulator.clear_writes()
        dry = dag.test(run_conf={"dry_run": True})
        after_dry = successful_writes(stack, bodies=False)
        timed_out = decided(stack, dag, None)
        rejected = decided(stack, dag, "Reject")
        approved = decided(stack, dag, "Approve")
    return {"dry": (dry, after_dry), "timed_out": timed_out, "rejected": rejected, "approved": approved}


def test_a_dry_run_needs_no_approval_and_writes_nothing(runs):
    dag_run, writes = runs["dry"]
    assert writes == []
    assert staged(dag_run, "summary/approve_writes.json") == {"needed": False, "why": "dry run"}
    assert staged(dag_run, "report.json")["not_written_because"] == "dry_run is on"


def test_a_run_that_changes_an_existing_student_waits_with_nothing_written(runs, existing):
    for name in ("timed_out", "rejected", "approved"):
        answered = runs[name]["answered"]
        assert "error" not in answered, answered.get("error")
        assert answered["writes_while_waiting"] == []  # not even the new student went in while it waited
    answered = runs["rejected"]["answered"]
    assert answered["subject"] == "SchoolMint Enroll new students into Aeries: approve 2 writes into Aeries"
    sid = str(existing["StudentID"])
    body = answered["body"]
    assert (f"| `E-2001` | student update | `{sid}` | HomePhone, MailingAddress, MailingAddressCity, "
            "MailingAddressZipCode | update of an existing Aeries student |") in body
    assert f"| `E-2001` | contact insert | `{sid}` | CellPhone, EmailAddress, FirstName, LastName, " \
           "RelationshipToStudentCode | contact added to an existing Aeries student |" in body
    guard = staged(runs["rejected"]["run"], "guard.json")
    assert [(w["record"], w["kind"], w["action"]) for w in guard["waiting"]] == [
        ("E-2001", "student", "update"), ("E-2001", "contact", "insert")]
    assert not any(value in body for value in EXPORTED)


def test_reject_writes_nothing_and_the_report_says_who_rejected(runs):
    rejected = runs["rejected"]
    assert rejected["writes"] == []
    report = staged(rejected["run"], "report.json")
    approval = report["approval"]
    assert approval["decision"] == "rejected" and approval["by"]
    assert report["status"] == "Error"
    assert report["not_written_because"] == f"Not written: {approval['by']} rejected the writes at {approval['at']}"
    assert report["written"] == []
    assert [(w["record"], w["kind"], w["action"]) for w in approval["waiting"]] == [
        ("E-2001", "student", "update"), ("E-2001", "contact", "insert")]
    assert rejected["run"].state == "failed"


def test_no_answer_in_time_writes_nothing_and_the_report_says_so(runs):
    timed_out = runs["timed_out"]
    assert timed_out["writes"] == []
    report = staged(timed_out["run"], "report.json")
    assert report["status"] == "Error" and report["approval"]["decision"] == "timed out"
    assert report["not_written_because"] == ("Not written: nobody approved the writes within 24 hours "
                                             "(guard.approval_timeout_hours)")


def test_approve_writes_the_new_student_and_the_approved_changes(runs, existing, stack):
    approved = runs["approved"]
    sid = existing["StudentID"]
    paths = [p for _, p in approved["writes"]]
    assert paths[:3] == [f"UpdateStudent/{sid}", f"InsertContact/{sid}",
                         f"schools/{existing['SchoolCode']}/InsertStudent"]
    assert paths[3].startswith("InsertContact/") and len(paths) == 4
    report = staged(approved["run"], "report.json")
    assert report["status"] == "Completed" and report["approval"]["decision"] == "approved"
    record = next(r for r in get(stack, f"schools/{existing['SchoolCode']}/students/{sid}"))
    assert (record["MailingAddress"], record["MailingAddressCity"], record["HomePhone"]) == (
        "77 Harbor Way", "Seacliff Cove", "8315550177")
    guardians = [c for c in get(stack, f"schools/{existing['SchoolCode']}/contacts/{sid}")
                 if (c["FirstName"], c["LastName"]) == ("Marisol", "Quintanilla")]
    assert len(guardians) == 1


def test_the_report_xcoms_and_task_log_keep_no_exported_value(runs):
    for name in ("rejected", "approved"):
        run = runs[name]
        kept = {
            "report.json": json.dumps(staged(run["run"], "report.json")),
            "XCom": json.dumps(run["xcom"], default=str),
            "task log": run["log"],
        }
        for where, text in kept.items():
            assert [value for value in EXPORTED if value in text] == [], f"{name} run: {where}"
        # What is kept says what happened: ids and field names (and the capture above did see the run).
        assert "E-2001" in kept["report.json"] and "MailingAddress" in kept["report.json"]
        assert {task for task, _ in run["xcom"]} >= {"fetch_exports", "validate_exports", "plan_writes", "approve_writes"}
        assert "Planned writes:" in kept["task log"] and "MailingAddress" in kept["task log"]
    # The values are in the staged plan, which retention deletes.
    assert "77 Harbor Way" in json.dumps(staged(runs["approved"]["run"], "plan.json"))
