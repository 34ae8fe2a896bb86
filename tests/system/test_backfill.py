"""Backfills of the Destiny DAG under the real scheduler (LocalExecutor) on PostgreSQL, on one deployment.

``POST /api/v2/backfills`` (what ``airflow backfill create`` does) over past days of the DAG's daily cron (13:00
UTC here); unpausing the DAG also starts today's latest cron run, which delivers first.

1. A ``dry_run`` backfill over two days, as README (Operating) advises for rebuilding past files: the scheduler
   runs one run per day, each reading the Aeries database of its date's school year (``?DatabaseYear=2024`` for
   March 2025: the school year starts on 07-01) and staging in a folder of its own.
2. A delivering backfill over three days beside it. Airflow 3.3 counts a backfill's runs apart from the DAG's
   ``max_active_runs`` (against the backfill's own), so three backfill runs run at once and all of them deliver
   ``patrons.csv`` to the same SFTP server. The ``deliver`` tasks must run one at a time (the task's
   ``max_active_tis_per_dag``), a run whose comparison went stale must deliver nothing and say why, and the
   delivery snapshot the next run is compared with must be the file at the vendor.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from datetime import datetime
from itertools import combinations
from pathlib import Path

import pytest

from aeries_hub.staging import safe_segment
from tests.system.deployment import DAG_ID

pytestmark = pytest.mark.system

RUNS_TIMEOUT = 600
STALE = "Not delivered: another run delivered to the sftp target since this run compared its files with the last delivery"


@pytest.fixture(scope="module")
def airflow(launch_for_module):
    return launch_for_module("backfill", schedule={"cron": "0 13 * * *", "timezone": "UTC"},
                             env={"AIRFLOW__CORE__EXECUTOR": "LocalExecutor"})


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_backfill_runs_each_past_day_on_its_school_year_in_its_own_staging(airflow, capsys):
    started = time.monotonic()
    log_before = airflow.stack.emulator.log_path.stat().st_size

    backfill = airflow.api("POST", "backfills", json={
        "dag_id": DAG_ID,
        "from_date": "2025-03-02T00:00:00Z",
        "to_date": "2025-03-03T23:59:59Z",
        "dag_run_conf": {"dry_run": True},
        "reprocess_behavior": "none",
        "max_active_runs": 1,
    })

    def backfill_done():
        runs = [r for r in airflow.dag_runs() if r["run_type"] == "backfill"]
        assert not [r for r in runs if r["state"] == "failed"], runs
        return runs if len(runs) == 2 and all(r["state"] == "success" for r in runs) else None

    runs = airflow.wait_for("both backfill runs to succeed", backfill_done, timeout=RUNS_TIMEOUT, interval=3)

    assert sorted(r["logical_date"][:16] for r in runs) == ["2025-03-02T13:00", "2025-03-03T13:00"]
    reports = [airflow.xcom(r["dag_run_id"], "report") for r in runs]
    assert [r["database_year"] for r in reports] == [2024, 2024]
    assert [(r["status"], r["dry_run"], r["delivered"]) for r in reports] == [("Completed", True, [])] * 2
    staged = [Path(r["staging"].removeprefix("file://")) for r in reports]
    assert len(set(staged)) == 2
    for folder in staged:
        assert folder.name.startswith("backfill__2025-03-0"), folder
        assert (folder / "output" / "patrons.csv").stat().st_size > 0
    with airflow.stack.emulator.log_path.open("rb") as log:
        log.seek(log_before)
        years = set(re.findall(rb"DatabaseYear=(\d+)", log.read()))
    assert b"2024" in years, years  # the backfill's requests (today's cron run reads the current year)

    with capsys.disabled():
        print(f"\n== test_backfill: backfill {backfill['id']} of {DAG_ID}, 2 runs in {time.monotonic() - started:.1f} s ==")
        for run, report in zip(runs, reports):
            print(f"run {run['dag_run_id']}: {run['state']}, DatabaseYear {report['database_year']}, staged in {report['staging']}")


def test_backfill_runs_and_the_cron_run_deliver_one_at_a_time(airflow, capsys):
    started = time.monotonic()
    for earlier in airflow.api("GET", "backfills", params={"dag_id": DAG_ID})["backfills"]:
        if earlier["completed_at"] is None:  # Airflow allows one running backfill per DAG
            airflow.api("PUT", f"backfills/{earlier['id']}/cancel")
    airflow.api("POST", "backfills", json={
        "dag_id": DAG_ID,
        "from_date": "2025-04-02T00:00:00Z",
        "to_date": "2025-04-04T23:59:59Z",
        "reprocess_behavior": "none",
        "max_active_runs": 3,
    })

    def all_done():
        # the runs that deliver: this backfill's and the cron run (the dry-run backfill delivers nothing)
        runs = [r for r in airflow.dag_runs() if not (r["conf"] or {}).get("dry_run")
                and r["start_date"] and moment(r["start_date"]).timestamp() >= airflow.started_at]
        backfill = [r for r in runs if r["run_type"] == "backfill"]
        done = len(backfill) == 3 and len(runs) >= 4 and all(r["state"] in ("success", "failed") for r in runs)
        return runs if done else None

    runs = airflow.wait_for("the backfill runs and the cron run to finish", all_done, timeout=RUNS_TIMEOUT, interval=3)

    staging = airflow.workdir / "staging" / DAG_ID
    delivers, reports = {}, {}
    for run in runs:
        delivers[run["dag_run_id"]] = next(t for t in airflow.task_instances(run["dag_run_id"]) if t["task_id"] == "deliver")
        reports[run["dag_run_id"]] = json.loads((staging / safe_segment(run["dag_run_id"]) / "report.json").read_text())
    ran = {run_id: (moment(t["start_date"]), moment(t["end_date"])) for run_id, t in delivers.items() if t["start_date"]}
    for (a, (a_start, a_end)), (b, (b_start, b_end)) in combinations(ran.items(), 2):
        assert a_end <= b_start or b_end <= a_start, f"deliver of {a} and of {b} ran at the same time"
    delivered = [r["dag_run_id"] for r in runs if r["state"] == "success"]
    refused = [r["dag_run_id"] for r in runs if r["state"] == "failed"]
    assert delivered, "no run delivered"
    assert [reports[run_id]["status"] for run_id in delivered] == ["Completed"] * len(delivered)
    for run_id in refused:  # the only reason a run of this district fails: its comparison went stale
        assert delivers[run_id]["state"] == "failed"
        assert reports[run_id]["reason"].startswith(STALE), reports[run_id]
        assert reports[run_id]["delivered"] == []
    # Every delivery was compared with the one it replaced (its mass-change guard looked at the vendor's data).
    in_order = sorted(delivered, key=lambda run_id: ran[run_id][1])
    compared = [(reports[run_id]["changes"]["last_delivery"] or {}).get("run_id") for run_id in in_order]
    assert compared == [None, *in_order[:-1]], list(zip(in_order, compared))
    # The snapshot the next run is compared with is the last successful delivery, and it is the vendor's file.
    last = in_order[-1]
    manifest = json.loads((staging / "_last_delivered" / "sftp" / "delivered.json").read_text())
    at_vendor = (airflow.stack.sftp.root / "patrons" / "patrons.csv").read_bytes()
    assert manifest["run_id"] == last
    assert manifest["files"]["patrons.csv"]["sha256"] == hashlib.sha256(at_vendor).hexdigest()

    with capsys.disabled():
        print(f"\n== test_backfill (deliveries): {len(runs)} runs in {time.monotonic() - started:.1f} s ==")
        for run in runs:
            start, end = ran.get(run["dag_run_id"], (None, None))
            print(f"{run['dag_run_id']}: {run['state']}, deliver {start} - {end}: "
                  f"{reports[run['dag_run_id']].get('reason', reports[run['dag_run_id']]['status'])}")
