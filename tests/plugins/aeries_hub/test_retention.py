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


def test_the_disclosure_log_outlives_the_period_and_the_dags(tmp_path):
    from aeries_hub.delivery.disclosures import DISCLOSURE_FOLDER, LOG_FILE, read_disclosures, record_disclosures
    from aeries_hub.retention import purge_orphaned_snapshots

    base = ObjectStoragePath(f"file://{tmp_path}")
    entry = {"at": "2025-01-02T03:04:05+00:00", "dag_id": "aeries_to_retired", "run_id": "scheduled__2025-01-02",
             "file": "patrons.csv", "records": 12, "fields": {"patrons.csv": {"field_birthdate": ["students.Birthdate"]}}}
    record_disclosures(base, [entry])
    log = tmp_path / DISCLOSURE_FOLDER / LOG_FILE
    os.utime(log, ((NOW - timedelta(days=400)).timestamp(),) * 2)
    old = staged_run(tmp_path, "aeries_to_retired", "scheduled__2025-01-02", finished=NOW - timedelta(days=400))

    result = purge_staging(base, NOW - timedelta(days=30))
    deleted = purge_orphaned_snapshots(base, {"aeries_to_destiny"})

    assert files(old) == ["report.json"] and result["purged_runs"] == 1 and deleted == []
    assert read_disclosures(base) == [entry]
    assert sorted(p.name for p in log.parent.iterdir()) == [LOG_FILE]


def test_snapshots_of_dags_that_no_longer_exist_are_deleted(tmp_path):
    from aeries_hub.retention import purge_orphaned_snapshots

    for folder in ("aeries_to_destiny/_last_delivered/sftp", "aeries_to_destiny/_extract_snapshot/aeries_default-2026",
                   "aeries_to_retired/_last_delivered/sftp/previous", "aeries_to_retired/_extract_snapshot/x-2026"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "students.parquet").write_text("student data")
    kept_run = staged_run(tmp_path, "aeries_to_retired", "scheduled__2026-11-20", finished=NOW)

    existing = {"aeries_to_destiny", "xello_to_aeries"}
    deleted = purge_orphaned_snapshots(ObjectStoragePath(f"file://{tmp_path}"), existing)

    assert deleted == ["aeries_to_retired/_last_delivered", "aeries_to_retired/_extract_snapshot"]
    assert sorted(p.name for p in (tmp_path / "aeries_to_retired").iterdir()) == ["scheduled__2026-11-20"]
    assert files(kept_run) != []  # run folders age out with the period, like any other DAG's
    assert (tmp_path / "aeries_to_destiny/_last_delivered/sftp/students.parquet").exists()
    assert (tmp_path / "aeries_to_destiny/_extract_snapshot/aeries_default-2026/students.parquet").exists()


def test_the_dag_ids_that_exist_are_those_of_the_mapping_and_write_back_files():
    from aeries_hub.retention import existing_dag_ids

    assert existing_dag_ids() == {
        "aeries_to_destiny", "aeries_to_powerschool_learning", "aeries_to_schoolmint_enroll", "aeries_to_stemscopes",
        "aeries_to_xello", "powerschool_learning_to_aeries", "schoolmint_enroll_to_aeries", "xello_to_aeries",
    }


def test_an_unloadable_mapping_file_keeps_every_snapshot(tmp_path, monkeypatch):
    from aeries_hub import paths
    from aeries_hub.retention import existing_dag_ids

    (tmp_path / "broken.yml").write_text("name: [")
    monkeypatch.setattr(paths, "MAPPINGS_DIR", tmp_path)
    assert existing_dag_ids() is None


def test_log_files_older_than_the_period_are_deleted_and_empty_folders_with_them(tmp_path):
    from aeries_hub.retention import delete_files_before

    old = tmp_path / "dag_id=aeries_to_xello" / "run_id=scheduled__old" / "task_id=deliver" / "attempt=1.log"
    recent = tmp_path / "dag_id=aeries_to_xello" / "run_id=scheduled__new" / "task_id=deliver" / "attempt=1.log"
    for path, age in ((old, 31), (recent, 29)):
        path.parent.mkdir(parents=True)
        path.write_text("changed LastName from 'Ann' to 'Anne'")
        os.utime(path, ((NOW - timedelta(days=age)).timestamp(),) * 2)

    result = delete_files_before(tmp_path, NOW - timedelta(days=30))

    assert (result["files_deleted"], result["files_kept"]) == (1, 1)
    assert not (tmp_path / "dag_id=aeries_to_xello" / "run_id=scheduled__old").exists()
    assert recent.read_text() == "changed LastName from 'Ann' to 'Anne'"


def test_db_clean_without_metadata_database_access_fails_with_what_to_do(monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    from aeries_hub.retention import _metadata_db_env

    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "airflow-db-not-allowed:///")  # a worker's task process
    with pytest.raises(AirflowFailException, match=r"^Airflow blocks the metadata database from task processes, so "
                       r"airflow db clean cannot reach it: set \[aeries_hub\] metadata_db_conn_id to"):
        _metadata_db_env()

    monkeypatch.setenv("AIRFLOW__AERIES_HUB__METADATA_DB_CONN_ID", "airflow_metadata_db")
    monkeypatch.setenv("AIRFLOW_CONN_AIRFLOW_METADATA_DB", "postgres://airflow:s3cret@postgres:5432/airflow")
    url = _metadata_db_env()["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert url == "postgresql://airflow:s3cret@postgres:5432/airflow"
