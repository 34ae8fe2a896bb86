"""Retention of staged student data: old runs lose everything but report.json; recent runs are untouched."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from airflow.sdk import ObjectStoragePath

from aeries_hub.retention import finished_at, purge_staging

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


def staged_run(base: Path, dag_id: str, run_id: str, *, finished: datetime | None, report: bool = True) -> Path:
    run = base / dag_id / run_id
    for relative in ("extract/students.parquet", "validated/students.parquet", "output/patrons.csv",
                     "rejects/patrons.csv", "quality/patrons/index.html", "summary/deliver.json"):
        (run / relative).parent.mkdir(parents=True, exist_ok=True)
        (run / relative).write_text("student data")
    if report:
        (run / "report.json").write_text(json.dumps({"status": "Completed", "generated_at": finished.isoformat()}))
    elif finished is not None:
        for file in run.rglob("*"):
            os.utime(file, (finished.timestamp(), finished.timestamp()))
    return run


def files(run: Path) -> list[str]:
    return sorted(p.relative_to(run).as_posix() for p in run.rglob("*"))


def test_runs_older_than_the_period_keep_only_their_report(tmp_path):
    old = staged_run(tmp_path, "aeries_to_destiny", "scheduled__2026-09-01", finished=NOW - timedelta(days=40))
    crashed = staged_run(tmp_path, "aeries_to_xello", "manual__2026-08-01", finished=NOW - timedelta(days=90), report=False)
    recent = staged_run(tmp_path, "aeries_to_destiny", "scheduled__2026-11-20", finished=NOW - timedelta(days=2))
    recent_before = files(recent)

    result = purge_staging(ObjectStoragePath(f"file://{tmp_path}"), NOW - timedelta(days=30))

    assert files(old) == ["report.json"]
    assert files(crashed) == []  # no report to keep: nothing of it is left
    assert files(recent) == recent_before and "extract/students.parquet" in recent_before
    assert (result["purged_runs"], result["files_deleted"], result["runs_kept"]) == (2, 12, 1)
    assert [r["run"] for r in result["runs"]] == ["aeries_to_destiny/scheduled__2026-09-01", "aeries_to_xello/manual__2026-08-01"]

    again = purge_staging(ObjectStoragePath(f"file://{tmp_path}"), NOW - timedelta(days=30))
    assert (again["purged_runs"], again["files_deleted"]) == (0, 0)


def test_a_runs_age_is_its_reports_time_or_its_newest_file(tmp_path):
    finished = NOW - timedelta(days=3)
    with_report = staged_run(tmp_path, "d", "r1", finished=finished)
    without = staged_run(tmp_path, "d", "r2", finished=finished, report=False)

    assert finished_at(ObjectStoragePath(f"file://{with_report}")) == finished
    assert finished_at(ObjectStoragePath(f"file://{without}")) == finished


@pytest.mark.parametrize(
    ("folder", "names"),
    [
        ("aeries_to_destiny/_last_delivered/sftp", ["delivered.json", "patrons.parquet"]),  # the vendor's data
        ("aeries_to_stemscopes/_extract_snapshot/aeries_default-2026", ["students.json", "students.parquet"]),  # Aeries'
    ],
)
def test_the_last_delivered_and_the_extract_snapshots_are_never_purged(tmp_path, folder, names):
    snapshot = tmp_path / folder
    snapshot.mkdir(parents=True)
    for name in names:
        (snapshot / name).write_text("the current data")
        os.utime(snapshot / name, ((NOW - timedelta(days=400)).timestamp(),) * 2)

    result = purge_staging(ObjectStoragePath(f"file://{tmp_path}"), NOW - timedelta(days=30))

    assert result["purged_runs"] == 0
    assert sorted(p.name for p in snapshot.iterdir()) == names
