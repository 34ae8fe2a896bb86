"""The maintenance DAG under dag.test(): staged student data older than the retention period is deleted,
reports are kept, recent runs are untouched."""

from __future__ import annotations

import json
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
