"""The Destiny DAG with the CeleryExecutor: Redis as the broker, PostgreSQL as the result backend.

The scheduler, dag-processor and api-server run as in test_scheduler.py, plus ``airflow celery worker``
(concurrency 2) in a process of its own. All of them run on this machine, so the worker gets a name of its
own for Airflow (``[core] hostname_callable``, see worker_hostname.py): a task instance's ``hostname``
then says that the worker ran it, and the worker's log shows each task it received.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import time

import pytest

from tests.system.deployment import DAG_ID, DESTINY_TASKS, HERE, PG, tail

pytestmark = pytest.mark.system

RUN_TIMEOUT = 240


def test_celery_worker_runs_the_destiny_tasks(launch, airflow_system, redis_broker, capsys):
    started = time.monotonic()
    worker = f"aeries-hub-worker-{secrets.token_hex(3)}"
    # SQLAlchemy 2.1's default PostgreSQL driver is psycopg 3: name psycopg2, the one installed.
    result_backend = f"db+postgresql+psycopg2://{PG['user']}@{PG['host']}:{PG['port']}/{airflow_system.database}"
    airflow = launch(
        "celery",
        schedule=None,  # only the triggered run: no cron run competes with it (max_active_runs=1)
        env={
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": redis_broker,
            "AIRFLOW__CELERY__RESULT_BACKEND": result_backend,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        },
        workers={
            "celery-worker": (
                ["celery", "worker", "--concurrency", "2", "--celery-hostname", f"{worker}@%h",
                 "--skip-serve-logs", "--without-gossip", "--without-mingle"],
                {
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
                    "AIRFLOW__CORE__HOSTNAME_CALLABLE": "worker_hostname.hostname",
                    "AERIES_HUB_TEST_WORKER_HOSTNAME": worker,
                },
            ),
        },
    )
    worker_log = airflow.components["celery-worker"].log_path
    landed = airflow.stack.sftp.root / "patrons" / "patrons.csv"

    triggered = airflow.trigger()
    triggered_at = time.monotonic()
    run = airflow.wait_for_run(triggered["dag_run_id"], timeout=RUN_TIMEOUT)
    run_done = time.monotonic()

    assert run["state"] == "success", run
    instances = airflow.task_instances(run["dag_run_id"])
    assert {ti["task_id"] for ti in instances} == DESTINY_TASKS
    assert {ti["state"] for ti in instances} == {"success"}, {ti["task_id"]: ti["state"] for ti in instances}
    # Only the worker runs tasks: every task instance carries its name, the extraction tasks included.
    hosts = {ti["task_id"]: ti["hostname"] for ti in instances}
    assert set(hosts.values()) == {worker}, hosts
    extracts = sorted(task_id for task_id in hosts if task_id.startswith("extract_"))
    assert extracts == ["extract_schools", "extract_staff", "extract_students", "extract_teachers"]
    log_text = worker_log.read_text(encoding="utf-8", errors="replace")
    received = [line for line in log_text.splitlines() if "Executing workload in Celery" in line]
    for task_id in DESTINY_TASKS:
        assert any(f"task_id='{task_id}'" in line and triggered["dag_run_id"] in line for line in received), (
            f"{task_id} of {triggered['dag_run_id']} is not in the worker's log:\n{tail(worker_log)}"
        )

    report = airflow.xcom(run["dag_run_id"], "report")
    sha256 = hashlib.sha256(landed.read_bytes()).hexdigest()
    assert report["status"] == "Completed", report
    assert report["delivered"][0]["sha256"] == sha256, (report["delivered"], sha256)

    wall = time.monotonic() - started
    lines = [
        f"== test_celery (CeleryExecutor, broker {redis_broker}, result backend {result_backend}) ==",
        f"wall time {wall:.1f} s: api-server up at {airflow.timings['api_up']:.1f} s, {DAG_ID} parsed at "
        f"{airflow.timings['dag_parsed']:.1f} s, run done {run_done - triggered_at:.1f} s after the trigger",
        f"run {run['dag_run_id']}: type {run['run_type']}, state {run['state']}, started {run['start_date']}, "
        f"ended {run['end_date']}, duration {run['duration']:.1f} s",
    ]
    for ti in sorted(instances, key=lambda t: t["start_date"]):
        lines.append(f"    {ti['task_id']:<17} {ti['state']:<8} {ti['duration']:5.1f} s  host {ti['hostname']}  "
                     f"queue {ti['queue']}  pid {ti['pid']}")
    lines.append(f"worker log ({worker}): {len(received)} 'Executing workload in Celery' lines; the extract tasks':")
    for line in received:
        task = re.search(r"task_id='(extract_\w+)'", line)
        if task:
            lines.append(f"    {line[:60]} ... task_id='{task[1]}' ... run_id='{triggered['dag_run_id']}'")
    d = report["delivered"][0]
    lines.append(f"report XCom: status {report['status']}, delivered {d.get('remote_path')} {d['rows']} rows, "
                 f"sha256 {d['sha256']} (file on the SFTP server: {sha256})")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
