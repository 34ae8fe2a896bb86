"""End to end: a write-back killed mid-write, cleared and run again writes each record once (issue 13, item 5).

``airflow dags test`` runs the SchoolMint Enroll write-back in a subprocess against the Aeries emulator, whose
contact inserts are made slow (its ``latency`` fault on InsertContact). The export adds two guardians to an
existing student (approved here through Airflow's REST API) and one new student with a guardian. Once Aeries
acknowledged the first guardian, the subprocess is killed with SIGKILL while the second is on its way (Aeries
still takes it: its answer is lost). Then ``airflow tasks clear`` clears write_to_aeries, and ``airflow tasks
test`` runs it again for the same run: each guardian and the new student must exist exactly once in Aeries.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from aeries_hub.staging import RunFolder, staging_base
from tests.dags import approvals
from tests.dags.independent import s
from tests.dags.writebacks import enabled_include, successful_writes

pytestmark = pytest.mark.e2e

DAG_ID = "schoolmint_enroll_to_aeries"
STACK = {"students": 300, "seed": 17}
REPO = Path(__file__).resolve().parents[2]
SLOW_SECONDS = 4
GUARDIANS = [("Ines", "Achterberg"), ("Tobias", "Achterberg")]
NEW_STATE_ID = "9900000301"


def airflow(*args: str, log: Path, env: dict, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "airflow", *args], cwd=REPO, env=env, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT, **popen)


def contacts_of(stack, school, student_id) -> list[tuple[str, str]]:
    response = requests.get(f"{stack.emulator.url}/api/v5/schools/{school}/contacts/{student_id}",
                            headers={"AERIES-CERT": stack.certificate}, timeout=10)
    response.raise_for_status()
    return [(c["FirstName"], c["LastName"]) for c in response.json()]


def journaled_sending(write: int) -> bool:
    """The write-back's journal (in the run's staging folder) says write ``write`` of the plan is being sent
    (write 0 is the existing student, 1 and 2 its guardians)."""
    for journal in Path(staging_base().path).glob(f"{DAG_ID}/*/journal.jsonl"):
        for line in journal.read_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:  # the line being written
                continue
            if entry.get("write") == write and entry.get("event") == "sending":
                return True
    return False


@pytest.fixture(scope="module")
def crashed_and_cleared(stack, tmp_path_factory):
    students = json.loads((stack.data_dir / "students.json").read_text(encoding="utf-8"))
    existing = next(r for r in students
                    if s(r["StateStudentID"]) and not s(r["InactiveStatusCode"]) and s(r["Birthdate"]))
    school = existing["SchoolCode"]
    records = [
        {"students": {"enroll_id": "E-3001", "state_id": s(existing["StateStudentID"]),
                      "fname": s(existing["FirstName"]), "lname": s(existing["LastName"]),
                      "DOB": s(existing["Birthdate"])[:10]},
         "students_annual": {"sis_school_code": school, "grade": s(existing["Grade"])},
         "guardians": [{"fname": first, "lname": last, "relationship": "20"} for first, last in GUARDIANS]},
        {"students": {"enroll_id": "E-3002", "state_id": NEW_STATE_ID, "fname": "Pia", "lname": "Lindqvist",
                      "DOB": "2019-02-11"},
         "students_annual": {"sis_school_code": school, "grade": "1"},
         "guardians": [{"fname": "Arvid", "lname": "Lindqvist", "relationship": "21"}]},
    ]
    export = stack.sftp.root / "enroll_export" / "enroll_2026-12-09.jsonl"
    export.write_text("".join(json.dumps(r) + "\n" for r in records))
    include = enabled_include(tmp_path_factory, "schoolmint_enroll.yml")
    env = {**os.environ, "AERIES_HUB_INCLUDE_DIR": str(include),
           "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO), os.environ.get("PYTHONPATH", "")])}
    log = tmp_path_factory.mktemp("crash") / "airflow.log"
    stack.emulator.clear_writes()
    stack.emulator.set_faults({"latency": SLOW_SECONDS}, path_pattern=r"^InsertContact/")
    answered: dict = {}
    approver = approvals.answer_when_waiting(DAG_ID, "approve_writes", "Approve", answered)
    dag_test = airflow("dags", "test", DAG_ID, "-f", str(REPO / "dags" / "writebacks.py"), "-c", '{"dry_run": false}',
                       log=log, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not any(p.startswith("InsertContact/") for _, p in successful_writes(stack, bodies=False)):
            assert dag_test.poll() is None, f"airflow dags test ended early:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no guardian was inserted:\n{log.read_text()[-3000:]}"
            time.sleep(0.05)
        # The second guardian is journaled just before it is sent; a second later it is inside Aeries' slow insert
        # (SLOW_SECONDS), on a busy machine too: the kill then loses its answer, not the request.
        while not journaled_sending(write=2):
            assert dag_test.poll() is None, f"airflow dags test ended early:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"the second guardian was never sent:\n{log.read_text()[-3000:]}"
            time.sleep(0.05)
        time.sleep(1)
        os.killpg(dag_test.pid, signal.SIGKILL)  # the process running write_to_aeries, and anything it started
    finally:
        if dag_test.poll() is None:
            os.killpg(dag_test.pid, signal.SIGKILL)
        dag_test.wait()
    approver.join(timeout=30)
    # Aeries takes the guardian that was on its way when the task was killed
    deadline = time.monotonic() + SLOW_SECONDS + 10
    while len(successful_writes(stack, bodies=False)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    stack.emulator.clear_faults()
    at_kill = successful_writes(stack, bodies=False)

    from airflow.models import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        run_id = session.query(DagRun).filter_by(dag_id=DAG_ID).order_by(DagRun.id.desc()).first().run_id
    cleared = airflow("tasks", "clear", DAG_ID, "-t", "^write_to_aeries$", "-y", log=log, env=env)
    assert cleared.wait(timeout=300) == 0, log.read_text()[-3000:]
    rerun = airflow("tasks", "test", DAG_ID, "write_to_aeries", run_id, log=log, env=env)
    assert rerun.wait(timeout=300) == 0, log.read_text()[-3000:]
    return {"existing": existing, "answered": answered, "at_kill": at_kill,
            "after": successful_writes(stack, bodies=False),
            "run": RunFolder(staging_base(), DAG_ID, run_id), "log": log}


def test_the_kill_came_mid_write(crashed_and_cleared):
    at_kill = [p for _, p in crashed_and_cleared["at_kill"]]
    sid = crashed_and_cleared["existing"]["StudentID"]
    assert "error" not in crashed_and_cleared["answered"], crashed_and_cleared["answered"].get("error")
    # Both guardians reached Aeries (the second one after the kill); the new student was never sent.
    assert at_kill == [f"InsertContact/{sid}", f"InsertContact/{sid}"]
    journal = [json.loads(line) for line in crashed_and_cleared["run"].path("journal.jsonl").read_text().splitlines()]
    # Writes 1 and 2 of the plan are the guardians (0: the existing student, unchanged): each was sent once; the
    # second's answer was lost, and the re-run found it in Aeries.
    assert [e["event"] for e in journal if e["write"] == 1].count("sending") == 1
    second = [(e["event"], e.get("verified")) for e in journal if e["write"] == 2]
    assert second == [("sending", None), ("answered", True)]


def test_after_clear_and_rerun_each_guardian_and_the_new_student_exist_exactly_once(crashed_and_cleared, stack):
    existing = crashed_and_cleared["existing"]
    names = contacts_of(stack, existing["SchoolCode"], existing["StudentID"])
    assert [names.count(guardian) for guardian in GUARDIANS] == [1, 1], names
    new = [p for _, p in crashed_and_cleared["after"][2:]]
    assert new[0] == f"schools/{existing['SchoolCode']}/InsertStudent"
    assert len(new) == 2 and new[1].startswith("InsertContact/")
    new_id = new[1].split("/")[1]
    assert contacts_of(stack, existing["SchoolCode"], new_id) == [("Arvid", "Lindqvist")]
    students = requests.get(f"{stack.emulator.url}/api/v5/schools/{existing['SchoolCode']}/students",
                            headers={"AERIES-CERT": stack.certificate}, timeout=10).json()
    assert [str(r["StudentID"]) for r in students if r["StateStudentID"] == NEW_STATE_ID] == [new_id]


def test_the_rerun_names_what_it_did_not_send_again(crashed_and_cleared):
    writes = crashed_and_cleared["run"].read_json("writes.json")
    assert [(w["kind"], w["action"], w["status"]) for w in writes] == [
        ("contact", "insert", "written"), ("contact", "insert", "written"), ("student", "insert", "written"),
        ("contact", "insert", "written")]
    # Only the new student's writes carry a new StudentID (the guardians of the existing student have none).
    assert [w.get("student_id") for w in writes] == [None, None, writes[2]["student_id"], writes[2]["student_id"]]
    assert str(writes[3]["path"]) == f"InsertContact/{writes[2]['student_id']}"
    log = crashed_and_cleared["log"].read_text()
    assert "written by an earlier attempt, not sent again" in log
    assert "sent by an earlier attempt whose answer was lost; Aeries has it, not sent again" in log
