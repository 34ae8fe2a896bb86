"""A backfill of the Destiny DAG under the real scheduler (LocalExecutor) on PostgreSQL.

``POST /api/v2/backfills`` (what ``airflow backfill create`` does) over two past days of the DAG's daily
cron: the scheduler runs one backfill run per day. Each run reads the Aeries database of its date's school
year (``?DatabaseYear=2024`` for March 2025: the school year starts on 07-01) and stages in a folder of its
own. The backfill passes ``dry_run``, as README (Operating) advises for rebuilding past files.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.system.deployment import DAG_ID

pytestmark = pytest.mark.system

RUNS_TIMEOUT = 300


def test_backfill_runs_each_past_day_on_its_school_year_in_its_own_staging(launch, capsys):
    started = time.monotonic()
    # The DAG's own cron, in UTC for the test: 13:00 each day. Unpausing also starts today's latest run.
    airflow = launch("backfill", schedule={"cron": "0 13 * * *", "timezone": "UTC"},
                     env={"AIRFLOW__CORE__EXECUTOR": "LocalExecutor"})
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
