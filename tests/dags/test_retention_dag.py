"""The maintenance DAG under dag.test(): staged student data older than the retention period is deleted,
reports are kept, recent runs are untouched."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from aeries_hub.staging import staging_base


def staged_run(dag_id: str, run_id: str, days_ago: float) -> Path:
    run = Path(staging_base().path) / dag_id / run_id
    (run / "extract").mkdir(parents=True)
    (run / "extract" / "students.parquet").write_bytes(b"student data")
    (run / "output").mkdir()
    (run / "output" / "patrons.csv").write_bytes(b"student data")
    finished = datetime.now(timezone.utc) - timedelta(days=days_ago)
    (run / "report.json").write_text(json.dumps({"status": "Completed", "generated_at": finished.isoformat()}))
    return run


@pytest.mark.e2e
def test_the_retention_dag_deletes_old_staged_data_and_keeps_reports(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    from aeries_hub.paths import INCLUDE_DIR

    old = staged_run("aeries_to_retention_probe", "scheduled__old", days_ago=45)
    recent = staged_run("aeries_to_retention_probe", "scheduled__recent", days_ago=5)
    dag = DagBag(dag_folder=str(INCLUDE_DIR.parent / "dags")).dags["aeries_hub_staging_retention"]

    dag_run = dag.test(run_conf={"retention_days": 30})

    assert dag_run.state == "success"
    assert sorted(p.name for p in old.rglob("*")) == ["report.json"]
    assert json.loads((old / "report.json").read_text())["status"] == "Completed"
    assert (recent / "extract" / "students.parquet").exists() and (recent / "output" / "patrons.csv").exists()


def rows(run_id: str) -> dict:
    from airflow.models import DagRun, TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return {
            "dag_run": session.query(DagRun).filter_by(run_id=run_id).count(),
            "task_instance": session.query(TaskInstance).filter_by(run_id=run_id).count(),
            "xcom": session.query(XComModel).filter_by(run_id=run_id).count(),
        }


def backdate(run_id: str, days: int) -> None:
    from airflow.models import DagRun, TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    past = datetime.now(timezone.utc) - timedelta(days=days)
    with create_session() as session:
        session.query(DagRun).filter_by(run_id=run_id).update({"start_date": past, "end_date": past})
        session.query(TaskInstance).filter_by(run_id=run_id).update({"start_date": past, "end_date": past})
        session.query(XComModel).filter_by(run_id=run_id).update({"timestamp": past})


def log_file(days_ago: float, name: str) -> Path:
    from airflow.configuration import conf

    path = Path(conf.get("logging", "base_log_folder")) / "dag_id=aeries_to_xello" / f"run_id={name}" / "attempt=1.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("LastName changed from 'Ann' to 'Anne'")
    when = (datetime.now(timezone.utc) - timedelta(days=days_ago)).timestamp()
    os.utime(path, (when, when))
    return path


@pytest.mark.e2e
def test_the_retention_dag_cleans_old_xcoms_task_rows_logs_and_snapshots_of_deleted_dags(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    from aeries_hub.paths import INCLUDE_DIR

    dag = DagBag(dag_folder=str(INCLUDE_DIR.parent / "dags")).dags["aeries_hub_staging_retention"]
    # two earlier runs of this DAG (any DAG's runs leave the same rows: a run, its task instances, XComs)
    old, recent = dag.test(run_conf={"retention_days": 400}), dag.test(run_conf={"retention_days": 400})
    created = rows(recent.run_id)
    assert rows(old.run_id) == created and created["dag_run"] == 1
    assert created["task_instance"] >= 1 and created["xcom"] >= 1  # each task's return value is an XCom
    backdate(old.run_id, days=45)
    backdate(recent.run_id, days=5)
    old_log, recent_log = log_file(45, "old"), log_file(5, "recent")
    retired = Path(staging_base().path) / "aeries_to_retired" / "_extract_snapshot" / "aeries_default-2026"
    retired.mkdir(parents=True)
    (retired / "students.parquet").write_bytes(b"every column of every student")

    dag_run = dag.test(run_conf={"retention_days": 30})

    assert dag_run.state == "success"
    assert rows(old.run_id) == {"dag_run": 0, "task_instance": 0, "xcom": 0}
    assert rows(recent.run_id) == created
    assert not old_log.exists() and not old_log.parent.exists()
    assert recent_log.read_text() == "LastName changed from 'Ann' to 'Anne'"
    assert not retired.parent.exists()
