"""End to end: a write-back run says in one line how it ended and why, as a vendor run does: the report's
``outcome`` and ``reason``, each failed task's cause (its first line, the connection, what to check), the run's note
in Airflow's grid (the listener of :mod:`aeries_hub.run.notes`), and the hub view's write-back row.

Xello's course requests (include/writebacks/xello.yml) land in the SFTP drop folder of OpenSSH's sshd; the DAG runs
under dag.test() against the Aeries emulator: a dry run that plans two requests, then a run whose write-back
certificate Aeries refuses: nothing is written.
"""

from __future__ import annotations

import json

import pytest
from markupsafe import escape

from tests.dags.independent import s
from tests.dags.single_tasks import run_note
from tests.dags.writebacks import enabled_include, report_of, writeback_dag
from tests.plugins.aeries_hub.hub_view.client import hub_pages

pytestmark = pytest.mark.e2e

DAG_ID = "xello_to_aeries"
CONN_ID = "aeries_writeback"
STACK = {"students": 50, "seed": 5}
HEADER = "StudentID|SchoolCode|CourseCode|CourseName|IsAlternate|SchoolYear"


@pytest.fixture(scope="module")
def export(stack):
    """Two course requests of one active student, in Xello's drop folder (written by hand from the emulator's data)."""
    students = json.loads((stack.data_dir / "students.json").read_text(encoding="utf-8"))
    courses = json.loads((stack.data_dir / "courses.json").read_text(encoding="utf-8"))
    student = next(r for r in students if not s(r["InactiveStatusCode"]))
    live = [c["ID"] for c in courses if not s(c.get("InactiveStatusCode"))][:2]
    lines = [HEADER] + [f"{student['StudentID']}|{student['SchoolCode']}|{course}|Course {course}|0|2027-2028"
                        for course in live]
    (stack.sftp.root / "xello_export" / "CourseRequests_2027-03-01.txt").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def enabled(tmp_path_factory):
    return enabled_include(tmp_path_factory, "xello.yml")


def hub_row(hub: str) -> str:
    """The HTML of the write-back's row of the hub page."""
    start = hub.index(f'<tr id="dag-{DAG_ID}">')
    return hub[start:hub.index("</tr>", start)]


def test_a_dry_run_says_what_it_planned_in_the_report_the_note_and_the_hub_row(stack, export, enabled):
    with writeback_dag(enabled, "xello.yml") as dag:
        dag_run = dag.test(run_conf={"dry_run": True})

    document = report_of(dag_run)
    outcome = "Completed (dry run): 2 writes planned, none sent: dry_run is on"
    assert (dag_run.state, document["status"], document["dry_run"]) == ("success", "Completed", True)
    assert (document["reason"], document["outcome"], document["failed_tasks"]) == (None, outcome, [])
    assert run_note(dag_run) == outcome
    hub, run_page = hub_pages(DAG_ID, dag_run.run_id)
    row = hub_row(hub)
    assert ('<span class="status completed">Completed</span> <span class="muted">(dry run)</span>\n'
            f'    <div class="outcome">{outcome}</div>') in row
    assert '<div class="failed-task">' not in row and '<div class="problem">' not in row
    assert f'<p id="outcome" class="outcome">{outcome}</p>' in run_page


def test_a_refused_certificate_is_the_reason_of_the_report_the_alert_the_note_and_the_hub_row(stack, export, enabled,
                                                                                            alerts, monkeypatch):
    connection = json.loads(stack.connection_env()[f"AIRFLOW_CONN_{CONN_ID.upper()}"])
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps({**connection, "password": "0" * 32}))
    with writeback_dag(enabled, "xello.yml") as dag:
        dag.get_task("plan_writes").retries = 0
        dag_run = dag.test(run_conf={"dry_run": False})

    check = f"Check the password (API certificate) of connection '{CONN_ID}'."
    message = (f"Aeries refused connection '{CONN_ID}' at /api/v5/schools (HTTP 401): the certificate was not "
               f"accepted. {check} Aeries said: Authorization has been denied for this request.")
    failure = {"task_id": "plan_writes", "error": "AeriesAuthError", "message": message, "conn_id": CONN_ID,
               "check": check}
    reason = f"plan_writes failed: AeriesAuthError: {message}"
    document = report_of(dag_run)
    assert (dag_run.state, document["status"]) == ("failed", "Error")
    assert document["failed_tasks"] == [failure]
    assert (document["reason"], document["outcome"]) == (reason, f"Error: {reason}")
    assert run_note(dag_run) == f"Error: {reason}"
    assert [w for w in stack.emulator.writes() if w["status"] < 300] == []
    # The alert (the DAG's on_failure_callback) carries it as a vendor run's does.
    mailbox, webhook = alerts
    ((_, posted),) = webhook.received
    assert posted["text"].splitlines()[:2] == ["xello write-back into Aeries: Error", reason]
    assert (posted["reason"], posted["failed_tasks"]) == (reason, [failure])
    # The hub view: the status, the outcome and the cause on the write-back's row; the cause's parts on the run page.
    hub, run_page = hub_pages(DAG_ID, dag_run.run_id)
    row = hub_row(hub)
    assert '<span class="status error">Error</span>\n' in row
    assert f'<div class="outcome">{escape(document["outcome"])}</div>' in row
    assert (f'<div class="failed-task"><b>plan_writes</b> failed: AeriesAuthError: {escape(message)} '
            f'<span class="conn">(connection {CONN_ID})</span>\n  <div class="check">what to check: {escape(check)}'
            "</div></div>") in row
    assert (f'<tr class="failed-task"><td>plan_writes</td><td>AeriesAuthError</td><td>{escape(message)}</td>'
            f"<td>{CONN_ID}</td><td>{escape(check)}</td></tr>") in run_page
