"""Backfill runs that deliver, beside the scheduled run, under the real scheduler (LocalExecutor) on PostgreSQL.

Airflow 3.3 counts a backfill's runs apart from the DAG's ``max_active_runs`` (against the backfill's own, 10
by default), so here three backfill runs and the cron run that unpausing starts run at once, and all of them
deliver ``patrons.csv`` to the same SFTP server. The ``deliver`` tasks must run one at a time (the task's
``max_active_tis_per_dag``), a run whose comparison went stale must deliver nothing and say why, and the
delivery snapshot the next run is compared with must be the file at the vendor.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime
from itertools import combinations

import pytest

from aeries_hub.staging import safe_segment
from tests.system.deployment import DAG_ID

pytestmark = pytest.mark.system

RUNS_TIMEOUT = 600
STALE = "Not delivered: another run delivered to the sftp target since this run compared its files with the last delivery"


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_backfill_runs_and_the_cron_run_deliver_one_at_a_time(launch, capsys):
    started = time.monotonic()
    # The session's database holds the earlier system tests' runs of this DAG: another hour than test_backfill's
    # 13:00 (so unpausing starts a cron run of this test's own), other backfill days, and only runs started here.
    airflow = launch("backfill-deliveries", schedule={"cron": "0 14 * * *", "timezone": "UTC"},
                     env={"AIRFLOW__CORE__EXECUTOR": "LocalExecutor"})
    for earlier in airflow.api("GET", "backfills", params={"dag_id": DAG_ID})["backfills"]:
        if earlier["completed_at"] is None:  # its scheduler is gone: Airflow allows one running backfill per DAG
            airflow.api("PUT", f"backfills/{earlier['id']}/cancel")
    airflow.api("POST", "backfills", json={
        "dag_id": DAG_ID,
        "from_date": "2025-04-02T00:00:00Z",
        "to_date": "2025-04-04T23:59:59Z",
        "reprocess_behavior": "none",
        "max_active_runs": 3,
    })

    def all_done():
        runs = [r for r in airflow.dag_runs()
                if r["start_date"] and moment(r["start_date"]).timestamp() >= airflow.started_at]
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
        print(f"\n== test_backfill_deliveries: {len(runs)} runs in {time.monotonic() - started:.1f} s ==")
        for run in runs:
            start, end = ran.get(run["dag_run_id"], (None, None))
            print(f"{run['dag_run_id']}: {run['state']}, deliver {start} - {end}: "
                  f"{reports[run['dag_run_id']].get('reason', reports[run['dag_run_id']]['status'])}")
