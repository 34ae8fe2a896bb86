"""Maintenance DAG of the Aeries integration hub: student data is deleted after the retention period.

Every vendor run stages extracts and outputs that hold student data, and leaves XComs, task-instance rows and
task logs in Airflow; this DAG deletes them nightly once they are older than
``[aeries_hub] staging_retention_days`` (default 30), keeps each run's report.json, and deletes the snapshots
of DAGs that no longer exist (see aeries_hub.retention).
"""

from airflow.sdk import Param, task

from aeries_hub import retention
from aeries_hub.dag_factory import maintenance_dag

with maintenance_dag(
    "aeries_hub_staging_retention",
    description="Delete staged student data, XComs, task rows and logs after the retention period; keep reports",
    doc_md=retention.__doc__,
    schedule="30 3 * * *",
    retries=1,
    params={
        "retention_days": Param(
            None, type=["null", "integer"], minimum=1,
            description="Days to keep staged files, metadata rows and logs, for this run only "
            "(default: [aeries_hub] staging_retention_days).",
        ),
    },
):
    # Independent: metadata the worker cannot reach does not keep staged files or logs.
    task(task_id="purge_staged_runs")(retention.purge_expired_runs)()
    task(task_id="delete_old_task_logs")(retention.delete_old_logs)()
    task(task_id="clean_metadata_db")(retention.clean_metadata)()
