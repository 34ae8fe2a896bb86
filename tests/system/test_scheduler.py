"""The Destiny DAG under the real scheduler (LocalExecutor), dag-processor and api-server, on PostgreSQL.

One run is triggered through the REST API; the other is started by the scheduler itself from the DAG's
cron schedule: the test's copy of include/ gives the Destiny mapping a cron (UTC) that fires once, 40
seconds after the test starts.

When a DAG has never run and ``catchup`` is off, Airflow schedules at once the latest cron time that has
passed, so a daily cron would also start a run for yesterday. The cron therefore names every field
(croniter's 7-field form: minute hour day month weekday second year), with the years: a (leap) year before
the DAGs' start_date, so that the only earlier time is before the start_date, and this year to 2099, so
that the cron still has a next time once today's has passed (Airflow asks for it; a cron without one fails).

Everything is read back through the API: the runs (with their notes: the report's one-line outcome), their task
instances, and the report task's XCom, whose delivered sha256 must be the sha256 of the file on the SFTP server.
Then, on the same deployment (whose simple auth manager has users with passwords), the hub view in a real headless
browser (tests/system/hub_browser.py): refused without a login, reached through Airflow's login page, inside
Airflow's UI, and one click from the latest run to its report; its screenshots are in the test's tmp folder (the
paths are printed).
"""

from __future__ import annotations

import calendar
import hashlib
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.system.deployment import DAG_ID, DESTINY_TASKS
from tests.system.hub_browser import check_the_hub_view

pytestmark = pytest.mark.system

#: How far ahead of the test's start the cron fires: after the components are up (about 10 s), while the
#: triggered run is still running, so that the cron run waits for it (``max_active_runs=1``). Were the components
#: slow to start, the scheduler would start the run as soon as it sees the DAG (the latest cron time that has
#: passed), with the same logical date.
LEAD = timedelta(seconds=25)
#: From the trigger until both runs have finished.
RUNS_TIMEOUT = 360


def cron_fire_time(now: datetime) -> datetime:
    return (now + LEAD).replace(microsecond=0)


def once_cron(fire: datetime, start_date: datetime) -> str:
    """A cron (croniter's 7 fields) that fires at ``fire`` and, before it, only before ``start_date``.

    The earlier year is a leap year, so that it has every day of the year (29 February included).
    """
    before = max(year for year in range(start_date.year - 4, start_date.year) if calendar.isleap(year))
    return f"{fire.minute} {fire.hour} {fire.day} {fire.month} * {fire.second} {before},{fire.year}-2099"


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def test_scheduler_runs_a_triggered_and_a_cron_run_of_destiny(launch, airflow_system, capsys, tmp_path):
    from aeries_hub.dag_factory import START_DATE

    started = time.monotonic()
    test_started_at = datetime.now(timezone.utc)
    fire = cron_fire_time(test_started_at)
    cron = once_cron(fire, START_DATE)
    # Users with passwords (not every request an admin's), so that the hub view's browser test logs in.
    airflow = launch("scheduler", schedule={"cron": cron, "timezone": "UTC"},
                     env={"AIRFLOW__CORE__EXECUTOR": "LocalExecutor"}, users={"admin": "admin", "operator": "viewer"})
    landed = airflow.stack.sftp.root / "patrons" / "patrons.csv"

    triggered = airflow.trigger()
    assert triggered["run_type"] == "manual" and triggered["logical_date"] is None, triggered
    triggered_at = time.monotonic()

    def both_finished():
        # This test's runs only: the session's database may hold an earlier test's.
        runs = [r for r in airflow.dag_runs() if parse_time(r["run_after"]) >= test_started_at]
        failed = [r for r in runs if r["state"] == "failed"]
        assert not failed, f"runs failed: {[(r['dag_run_id'], r['run_type']) for r in failed]}"
        scheduled = [r for r in runs if r["run_type"] == "scheduled"]
        manual = [r for r in runs if r["dag_run_id"] == triggered["dag_run_id"]]
        if manual and manual[0]["state"] == "success" and scheduled and scheduled[0]["state"] == "success":
            return runs
        return None

    runs = airflow.wait_for(
        f"the triggered run and the cron run at {fire:%H:%M:%S} UTC to succeed", both_finished, timeout=RUNS_TIMEOUT,
        interval=3,
    )
    runs_done = time.monotonic()

    # -- the run history, as the API tells it
    assert len(runs) == 2, [(r["dag_run_id"], r["run_type"], r["state"]) for r in runs]
    scheduled = next(r for r in runs if r["run_type"] == "scheduled")
    assert parse_time(scheduled["logical_date"]) == fire, scheduled
    assert parse_time(scheduled["run_after"]) == fire, scheduled
    assert parse_time(scheduled["start_date"]) >= fire, scheduled  # started by the cron, not before it

    sha256 = hashlib.sha256(landed.read_bytes()).hexdigest()
    history = []
    for run in sorted(runs, key=lambda r: r["start_date"]):
        instances = airflow.task_instances(run["dag_run_id"])
        states = {ti["task_id"]: ti["state"] for ti in instances}
        assert set(states) == DESTINY_TASKS, sorted(states)
        assert set(states.values()) == {"success"}, states
        report = airflow.xcom(run["dag_run_id"], "report")
        assert report["status"] == "Completed", report
        # The run's one line, as its note in the grid (set by the scheduler's listener, aeries_hub.run.notes).
        assert run["note"] == report["outcome"] == f"Completed: {report['delivered'][0]['rows']} rows delivered in 1 file" \
            or run["note"] == report["outcome"] == "Completed: already at the vendor, nothing sent again", run
        assert len(report["delivered"]) == 1, report["delivered"]
        delivered = report["delivered"][0]
        assert delivered["sha256"] == sha256, (delivered, sha256)
        history.append((run, instances, report))

    # The first run delivered the file; the second found the same bytes already there.
    (first, _, first_report), (second, _, second_report) = history
    assert not first_report["delivered"][0].get("already_there"), first_report["delivered"]
    assert second_report["delivered"][0].get("already_there") is True, second_report["delivered"]

    # The hub view of these runs in a real browser (on this deployment: no launch of its own).
    hub_started = time.monotonic()
    latest, _, latest_report = max(history, key=lambda h: h[0]["run_after"])
    hub_lines = check_the_hub_view(airflow, "operator", DAG_ID, latest, latest_report, tmp_path)
    hub_lines[0] += f" ({time.monotonic() - hub_started:.1f} s)"

    wall = time.monotonic() - started
    lines = [
        f"== test_scheduler (LocalExecutor, PostgreSQL db {airflow_system.database}) ==",
        f"wall time {wall:.1f} s: sandbox {airflow.timings['sandbox']:.1f} s, api-server up at "
        f"{airflow.timings['api_up']:.1f} s, {DAG_ID} parsed at {airflow.timings['dag_parsed']:.1f} s, both runs done "
        f"{runs_done - triggered_at:.1f} s after the trigger (db migrate, once per session: "
        f"{airflow_system.migrate_seconds:.1f} s)",
        f"cron {cron!r} (UTC) fires at {fire.isoformat()}",
    ]
    for run, instances, report in history:
        lines.append(
            f"run {run['dag_run_id']}: type {run['run_type']}, state {run['state']}, "
            f"logical_date {run['logical_date']}, queued {run['queued_at']}, started {run['start_date']}, "
            f"ended {run['end_date']}, duration {run['duration']:.1f} s"
        )
        for ti in sorted(instances, key=lambda t: t["start_date"]):
            lines.append(
                f"    {ti['task_id']:<17} {ti['state']:<8} {ti['duration']:5.1f} s  try {ti['try_number']}  "
                f"host {ti['hostname']}  pid {ti['pid']}"
            )
        d = report["delivered"][0]
        lines.append(
            f"    report XCom: status {report['status']}, extracted {report['extracted']}, checks {report['checks']}, "
            f"rejected {report['rejected']}, delivered {d.get('remote_path')} {d['rows']} rows sha256 {d['sha256']} "
            f"already_there {d.get('already_there', False)}"
        )
    lines.append(f"sha256 of {landed.relative_to(airflow.stack.sftp.root)} on the SFTP server: {sha256}")
    with capsys.disabled():
        print("\n" + "\n".join(lines + hub_lines))
