"""End to end: two runs of one vendor DAG at once (audit item 14).

The DAG's ``max_active_runs=1`` does not hold back backfill runs (Airflow 3.3 counts them per backfill, 10 by
default), so a backfill run and a scheduled or manual run can both compare their files with the last delivery,
and both deliver. Here two real ``dag.test()`` processes of the Destiny DAG run at once against the Aeries
emulator and OpenSSH's sshd, over a district that lost a third of its students since the last delivery: both
compare with that delivery and park in ``approve_changes``. The first is approved and delivers; then the second
is approved, and its ``deliver`` must refuse: the vendor now has the first run's file, not the one it compared
with. The snapshot the next run is compared with must be the file at the vendor.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from aeries_hub.staging import RunFolder, staging_base
from tests.dags import approvals
from tests.dags.test_change_tracking import DAG_ID, PATRONS, changed_district, patron_ids, serving

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]

RUN_DAG = textwrap.dedent(
    """
    import json, os, sys
    from airflow.dag_processing.dagbag import DagBag
    dag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).dags[sys.argv[1]]
    dag_run = dag.test()
    print(json.dumps({"run_id": dag_run.run_id, "state": str(dag_run.state)}))
    """
)


def start_run(log: Path) -> subprocess.Popen:
    """``dag.test()`` of the Destiny DAG in a process of its own, on this session's metadata database."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)])}
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-c", RUN_DAG, DAG_ID], stdout=out, stderr=subprocess.STDOUT, env=env)


def finished(process: subprocess.Popen, log: Path) -> dict:
    assert process.wait(timeout=300) == 0, log.read_text()[-5000:]
    return json.loads(log.read_text().strip().splitlines()[-1])


def waiting_for_approval(count: int, processes: list[subprocess.Popen], timeout: float = 240) -> list[str]:
    """The run ids of the Destiny runs parked in approve_changes, once ``count`` of them are."""
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with create_session() as session:
            run_ids = sorted(
                ti.run_id for ti in session.query(TaskInstance).filter_by(
                    dag_id=DAG_ID, task_id="approve_changes", state=TaskInstanceState.AWAITING_INPUT)
            )
        if len(run_ids) >= count:
            return run_ids
        assert all(p.poll() is None for p in processes), "a run ended before it waited for approval"
        time.sleep(0.5)
    raise AssertionError(f"{count} runs never waited for approval at once (waiting: {run_ids})")


def test_of_two_runs_that_compared_with_the_same_delivery_only_the_first_delivers(tmp_path, monkeypatch, airflow_db):
    from aeries_sandbox.emulator.generator import generate_district

    workdir = tmp_path
    monkeypatch.setenv("AIRFLOW__AERIES_HUB__STAGING_URL", f"file://{workdir}/staging")

    base = workdir / "district-0"
    generate_district(300, 13).write(base)
    with serving(workdir, base):  # the delivery both runs compare with, in this process
        from airflow.dag_processing.dagbag import DagBag

        first = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).dags[DAG_ID].test()
        baseline = {"run_id": first.run_id, "state": first.state}
    assert baseline["state"] == "success"
    students = json.loads((base / "students.json").read_text(encoding="utf-8"))
    leaving = set(patron_ids(students)[::3])
    smaller = changed_district(
        base, workdir / "district-1", lambda rows: [r for r in rows if str(r["StudentID"]) not in leaving])

    with serving(workdir, smaller) as stack:
        logs = [workdir / "run-a.log", workdir / "run-b.log"]
        processes = [start_run(log) for log in logs]
        try:
            # Both runs compared their files with the baseline delivery and wait for a person.
            winner, loser = waiting_for_approval(2, processes)
            assert approvals.respond_over_api(DAG_ID, "approve_changes", winner, "Approve") == 200
            while all(process.poll() is None for process in processes):  # the approved run delivers and ends
                time.sleep(0.5)
            done = next(index for index, process in enumerate(processes) if process.poll() is not None)
            assert finished(processes[done], logs[done])["run_id"] == winner
            other = 1 - done
            assert waiting_for_approval(1, [processes[other]]) == [loser]  # the other one still waits
            landed = stack.sftp.root / PATRONS
            delivered, mtime = landed.read_bytes(), landed.stat().st_mtime_ns
            assert approvals.respond_over_api(DAG_ID, "approve_changes", loser, "Approve") == 200
            outcome = finished(processes[other], logs[other])
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
        assert (landed.read_bytes(), landed.stat().st_mtime_ns) == (delivered, mtime), "the refused run sent its file"

    won = RunFolder(staging_base(), DAG_ID, winner).read_json("report.json")
    lost = RunFolder(staging_base(), DAG_ID, loser).read_json("report.json")
    assert won["status"] == "Completed" and won["approval"]["decision"] == "approved"
    assert won["changes"]["last_delivery"]["run_id"] == baseline["run_id"]
    assert lost["changes"]["last_delivery"]["run_id"] == baseline["run_id"]
    assert (outcome["run_id"], outcome["state"]) == (loser, "failed")
    assert lost["status"] == "Error" and lost["delivered"] == []
    state_dir = staging_base() / DAG_ID / "_last_delivered" / "sftp"
    manifest = json.loads((state_dir / "delivered.json").read_text())
    compared = lost["changes"]["last_delivery"]
    assert lost["reason"] == (
        f"Not delivered: another run delivered to the sftp target since this run compared its files with the last "
        f"delivery (run {baseline['run_id']} of {compared['delivered_at']}); now run {winner} delivered at "
        f"{manifest['delivered_at']} ({state_dir}). Clear this run to compare again with what the vendor has now."
    )
    # What the next run is compared with is what the vendor has: the first run's file.
    assert manifest["run_id"] == winner
    sha256 = hashlib.sha256(delivered).hexdigest()
    assert manifest["files"]["patrons.csv"]["sha256"] == won["delivered"][0]["sha256"] == sha256
    for student in leaving:
        assert f'"{student}"'.encode() not in delivered
