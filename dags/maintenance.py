"""Maintenance DAG of the Aeries integration hub: staged student data is deleted after the retention period.

Every vendor run stages extracts and outputs that hold student data; this DAG deletes them nightly once they
are older than ``[aeries_hub] staging_retention_days`` (default 30) and keeps each run's report.json
(see aeries_hub.retention).
"""

from datetime import datetime

from airflow.sdk import DAG, Param, task

from aeries_hub import retention

with DAG(
    dag_id="aeries_hub_staging_retention",
    description="Delete staged student data after the retention period; keep run reports",
    doc_md=retention.__doc__,
    schedule="30 3 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["aeries", "maintenance"],
    default_args={"owner": "data-engineering", "retries": 1},
    params={
        "retention_days": Param(
            None, type=["null", "integer"], minimum=1,
            description="Days to keep staged files, for this run only (default: [aeries_hub] staging_retention_days).",
        ),
    },
):
    task(retention.purge_expired_runs, task_id="purge_staged_runs")()
