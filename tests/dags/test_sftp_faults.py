"""SFTP faults in full runs: the Destiny DAG under dag.test() against the Aeries emulator and OpenSSH's sshd.

Each run ends either with the identical delivery or with a failed run whose deliver task names the cause;
never with a partial or duplicate file under the final name (``patrons/patrons.csv``). The faults are real
ones of the real sshd: a wrong user key, a folder the SFTP session may not write to (file permissions bind
it even when the tests run as root: the sandbox's sshd runs without CAP_DAC_OVERRIDE) or that is missing,
a session killed mid-upload (``SftpServer.drop_next_session``), and a re-run of a delivered run.

The deliver task's retries are cut to what each case needs, with a 1 s delay: dag.test() waits out a retry
delay (the DAG's is 30 s, doubling) and then runs the task again, so the retry below is Airflow's own. A
failure that will not heal (a wrong key, a folder it may not write to) is not retried at all: the deliver
task fails at once when the DeliveryError is not ``retryable``. Those cases change only what the deliver task
meets: track_changes and the tasks after it run alone (tests/dags/single_tasks.py) on the files of the module's first run.

The failed task's cause (the error, its first line, the connection and what to check) reaches report.json, the
report task's ``outcome`` XCom and the failure alert (a real SMTP server and webhook receiver): for a wrong key, a
server that is down, and (the one Aeries fault here) a certificate Aeries refuses; and the hub view shows it on the
DAG's row and the run's page (for a wrong key).
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import subprocess
import threading
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from tests.dags.single_tasks import run_folder, run_tasks, tasks_from

pytestmark = pytest.mark.e2e

DAG_ID = "aeries_to_destiny"
CONN_ID = "destiny_sftp"
STACK = {"students": 300, "seed": 7, "aeries_extra": {"backoff_base": 0.05, "backoff_max": 0.5}}
PREVIOUS = b"previous delivery\r\n"
OLD = 1_000_000_000  # an mtime (2001) that any rewrite of the file would change


@pytest.fixture(scope="module")
def destiny_dag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).dags[DAG_ID]


@pytest.fixture
def deliver_retries(destiny_dag):
    """Sets the deliver task's retries (1 s apart) for one test, then puts the DAG's own back."""
    task = destiny_dag.get_task("deliver")
    saved = task.retries, task.retry_delay, task.retry_exponential_backoff

    def set_retries(retries: int):
        task.retries, task.retry_delay, task.retry_exponential_backoff = retries, timedelta(seconds=1), 0
        return task

    yield set_retries
    task.retries, task.retry_delay, task.retry_exponential_backoff = saved


@pytest.fixture(scope="module")
def recorded_delivery(stack, destiny_dag):
    """A first delivery into the empty folder: the hub's record of it makes the file the tests put in the folder
    a delivery of this hub's (an unrecorded file at the target would ask for approval first)."""
    folder = stack.sftp.root / "patrons"
    for leftover in folder.iterdir():
        leftover.unlink()
    dag_run = destiny_dag.test()
    assert dag_run.state == "success"
    return dag_run


@pytest.fixture
def patrons(stack, recorded_delivery) -> Path:
    """The vendor's folder, holding only the previous delivery (with an old mtime)."""
    folder = stack.sftp.root / "patrons"
    folder.chmod(0o755)
    for leftover in folder.iterdir():
        leftover.unlink()
    (folder / "patrons.csv").write_bytes(PREVIOUS)
    os.utime(folder / "patrons.csv", (OLD, OLD))
    yield folder
    folder.chmod(0o755)


@contextmanager
def watching(final: Path):
    """Records every content the final name shows while the run goes on (sha256 of each distinct one)."""
    seen: set[str] = set()
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            try:
                seen.add(hashlib.sha256(final.read_bytes()).hexdigest())
            except FileNotFoundError:
                seen.add("absent")
            stop.wait(0.005)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def where(stack) -> str:
    return f"sftp connection '{CONN_ID}' ({stack.sftp.host}:{stack.sftp.port})"


def states(dag_run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in dag_run.get_task_instances()}


def built_file(dag_run) -> bytes:
    return Path(run_folder(dag_run).path("output", "patrons.csv").path).read_bytes()


def report(dag_run) -> dict:
    return run_folder(dag_run).read_json("report.json")


def test_wrong_user_key_fails_the_run_and_names_the_connection(stack, destiny_dag, deliver_retries, patrons, tmp_path,
                                                              monkeypatch, capfd, recorded_delivery, alerts):
    from markupsafe import escape

    from aeries_hub.hub_view.render import url_segment
    from tests.plugins.aeries_hub.hub_view.client import hub_pages

    wrong_key = tmp_path / "wrong_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong_key)], check=True)
    connection = stack.sftp.airflow_connection()
    connection["extra"]["key_file"] = str(wrong_key)
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(connection))
    deliver_retries(0)

    dag_run = run_tasks(destiny_dag, recorded_delivery, tasks_from(destiny_dag, "track_changes"))
    output = "".join(capfd.readouterr())

    assert states(dag_run)["deliver"] == "failed"
    check = "check the login and the key_file/private_key extra, and that the vendor installed the matching public key"
    cause = f"authentication failed for user {stack.sftp.username} on {where(stack)}: {check}"
    assert f"DeliveryError: {cause}" in output
    assert wrong_key.read_text() not in output
    assert os.listdir(patrons) == ["patrons.csv"] and (patrons / "patrons.csv").read_bytes() == PREVIOUS

    # The cause reaches the report, its one-line outcome (the report task's XCom) and the failure alert.
    document = report(dag_run)
    failure = {"task_id": "deliver", "error": "DeliveryError", "message": cause, "conn_id": CONN_ID, "check": check}
    assert document["failed_tasks"] == [failure]
    reason = f"deliver failed: DeliveryError: {cause}"
    assert (document["status"], document["reason"], document["outcome"]) == ("Error", reason, f"Error: {reason}")
    assert outcome_xcom(dag_run) == f"Error: {reason}"
    assert f"{reason} (see " in output  # the report task's own failure, the last red square of the run
    body, posted = alerted(destiny_dag, dag_run, alerts)
    assert "destiny: Error\n" + reason + "\n" in body
    assert posted["reason"] == reason and posted["failed_tasks"] == [failure]
    assert posted["text"].splitlines()[:2] == ["destiny: Error", reason]
    # The hub view: the outcome and the cause on the DAG's row, the cause's parts on the run's page.
    hub, run_page = hub_pages(DAG_ID, dag_run.run_id)
    assert f'class="run-link" href="/aeries-hub/runs/{DAG_ID}/{url_segment(dag_run.run_id)}">' in hub
    assert f'<div class="outcome">{escape(document["outcome"])}</div>' in hub
    assert (f'<div class="failed-task"><b>deliver</b> failed: DeliveryError: {escape(cause)} <span class="conn">'
            f'(connection {CONN_ID})</span>\n  <div class="check">what to check: {check}</div></div>') in hub
    assert f'<p id="outcome" class="outcome">{escape(document["outcome"])}</p>' in run_page
    assert (f'<tr class="failed-task"><td>deliver</td><td>DeliveryError</td><td>{escape(cause)}</td><td>{CONN_ID}</td>'
            f"<td>{check}</td></tr>") in run_page


def test_sftp_down_names_the_connection_in_the_report(stack, destiny_dag, deliver_retries, patrons, monkeypatch,
                                                     recorded_delivery):
    import socket

    from aeries_hub.delivery import sftp

    with socket.socket() as probe:  # a port nothing listens on: the vendor's server is down
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps({**stack.sftp.airflow_connection(), "port": port}))
    monkeypatch.setattr(sftp, "RETRY_WAIT_SECONDS", 0.05)
    deliver_retries(0)

    dag_run = run_tasks(destiny_dag, recorded_delivery, tasks_from(destiny_dag, "track_changes"))

    check = "check the host and port in the connection and the network/firewall"
    cause = (f"cannot reach sftp connection '{CONN_ID}' ({stack.sftp.host}:{port}): [Errno None] Unable to connect to "
             f"port {port} on {stack.sftp.host}; {check}")
    assert report(dag_run)["failed_tasks"] == [
        {"task_id": "deliver", "error": "DeliveryError", "message": cause, "conn_id": CONN_ID, "check": check}]
    assert report(dag_run)["reason"] == f"deliver failed: DeliveryError: {cause}"


def test_a_refused_aeries_certificate_is_the_reason_of_the_report(stack, destiny_dag, monkeypatch, recorded_delivery):
    aeries = json.loads(os.environ["AIRFLOW_CONN_AERIES_DEFAULT"])
    monkeypatch.setenv("AIRFLOW_CONN_AERIES_DEFAULT", json.dumps({**aeries, "password": "0" * 32}))

    dag_run = run_tasks(destiny_dag, recorded_delivery, tasks_from(destiny_dag, "extract_schools"))

    check = "Check the password (API certificate) of connection 'aeries_default'."
    message = ("Aeries refused connection 'aeries_default' at /api/v5/schools (HTTP 401): the certificate was not "
               f"accepted. {check} Aeries said: Authorization has been denied for this request.")
    document = report(dag_run)
    assert document["failed_tasks"] == [{"task_id": "extract_schools", "error": "AeriesAuthError", "message": message,
                                         "conn_id": "aeries_default", "check": check}]
    assert document["reason"] == f"extract_schools failed: AeriesAuthError: {message}"
    assert document["outcome"] == f"Error: {document['reason']}"


def outcome_xcom(dag_run) -> str:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        (xcom,) = session.scalars(XComModel.get_many(run_id=dag_run.run_id, dag_ids=DAG_ID, task_ids="report",
                                                     key="outcome"))
        return XComModel.deserialize_value(xcom)


def alerted(dag, dag_run, alerts) -> tuple[str, dict]:
    """The failure alert Airflow sends when the run fails (the DAG's on_failure_callback), as e-mailed and posted."""
    from aeries_hub.notifications import RunFailureNotifier

    mailbox, webhook = alerts
    RunFailureNotifier().notify({"dag": dag, "run_id": dag_run.run_id, "dag_run": dag_run})
    ((_, mail),) = mailbox.messages
    ((_, posted),) = webhook.received
    return html.unescape(mail.get_body(("html",)).get_content()), posted


@pytest.mark.parametrize("folder_state", ["read_only", "missing"])
def test_unwritable_or_missing_folder_fails_the_run_and_names_the_remote_path(
    stack, destiny_dag, deliver_retries, patrons, folder_state, capfd, recorded_delivery
):
    if folder_state == "read_only":
        if not stack.sftp.permissions_enforced:
            pytest.skip("root's sshd kept CAP_DAC_OVERRIDE (no CAP_SETPCAP): a read-only folder cannot be simulated")
        patrons.chmod(0o555)
        expected = (f"DeliveryError: permission denied writing patrons/patrons.csv on {where(stack)}: "
                    "grant the SFTP user write access to patrons")
    else:
        hidden = patrons.with_name("patrons.moved")
        patrons.rename(hidden)
        expected = (f"DeliveryError: remote directory patrons does not exist on {where(stack)}: "
                    "create it on the server or pass create_dirs=True")
    deliver_retries(0)
    try:
        dag_run = run_tasks(destiny_dag, recorded_delivery, tasks_from(destiny_dag, "track_changes"))
    finally:
        if folder_state == "missing":
            hidden.rename(patrons)
    output = "".join(capfd.readouterr())

    assert states(dag_run)["deliver"] == "failed"
    assert expected in output
    assert os.listdir(patrons) == ["patrons.csv"] and (patrons / "patrons.csv").read_bytes() == PREVIOUS


def test_connection_dropped_mid_upload_then_airflow_retry_delivers(stack, destiny_dag, deliver_retries, patrons, capfd):
    # paramiko writes 32 kB requests: the session is killed by the second one, which starts at the limit.
    after_bytes = 32 * 1024
    deliver_retries(1)
    stack.sftp.drop_next_session(after_bytes=after_bytes)
    try:
        with watching(patrons / "patrons.csv") as seen:
            dag_run = destiny_dag.test()
    finally:
        stack.sftp.clear_faults()
    output = "".join(capfd.readouterr())

    assert dag_run.state == "success", states(dag_run)
    delivered = built_file(dag_run)
    assert len(delivered) > 2 * after_bytes
    assert (patrons / "patrons.csv").read_bytes() == delivered
    deliver = dag_run.get_task_instance("deliver")
    assert deliver.try_number == 2  # the first attempt failed, Airflow's retry delivered
    (first_error,) = set(re.findall(r"DeliveryError: (the connection to .*)", output))
    assert re.fullmatch(
        re.escape(f"the connection to {where(stack)} dropped while writing patrons/patrons.csv ")
        + r"\((Socket is closed|Server connection dropped)\): "
        + re.escape("nothing was written to patrons/patrons.csv; a partial upload may remain as patrons/.patrons.csv.")
        + r"[0-9a-f]{16}\.part"
        + re.escape(" (a hidden temp name, not the final name). Try again; if it keeps happening, check the network "
                    "and ask the vendor about their server"),
        first_error,
    ), first_error
    # The final name only ever showed the previous delivery or the whole new file, never a part of it.
    assert seen <= {sha(PREVIOUS), sha(delivered)}, seen
    # The dead session's temp file stays behind under its hidden name, with what was written before the drop.
    (leftover,) = patrons.glob(".patrons.csv.*.part")
    assert leftover.stat().st_size == after_bytes
    assert report(dag_run)["delivered"][0]["already_there"] is False
    # The first attempt's cause was recorded as it failed, and forgotten when the retry started.
    assert (report(dag_run)["failed_tasks"], report(dag_run)["status"]) == ([], "Completed")


def test_rerun_of_a_delivered_run_does_not_send_the_file_again(stack, destiny_dag, deliver_retries, patrons):
    deliver_retries(0)
    first = destiny_dag.test()
    assert first.state == "success", states(first)
    final = patrons / "patrons.csv"
    assert final.read_bytes() == built_file(first)
    assert report(first)["delivered"][0]["already_there"] is False
    os.utime(final, (OLD, OLD))
    inode = final.stat().st_ino

    again = destiny_dag.test(logical_date=first.logical_date)  # the run again: same logical date, same data

    assert again.state == "success", states(again)
    assert built_file(again) == built_file(first)
    (receipt,) = report(again)["delivered"]
    assert receipt["already_there"] is True
    assert receipt["sha256"] == sha(final.read_bytes())
    assert final.stat().st_mtime == OLD and final.stat().st_ino == inode  # not rewritten, not replaced
    assert os.listdir(patrons) == ["patrons.csv"]
