"""Retention of student data: what a run leaves behind is deleted after the district's retention period.

* A run's staged files (extracts, outputs, rejects, changes); its report.json, which holds counts, check
  outcomes and record ids but no other student data, is kept. A run's age is the time its report was
  written, or, for a run that never wrote one, the time of its newest file.
* The snapshots (``_last_delivered``, ``_extract_snapshot``) of a DAG that no longer exists (no mapping or
  write-back file names it); a DAG that exists keeps them, replaced by each run.
* Never the disclosure log (``_disclosures``, :mod:`aeries_hub.delivery.disclosures`): the record of what each
  vendor received, which holds no values, outlives the runs and the DAGs.
* Airflow's metadata rows older than the period: XComs, task instances (with their history, reschedules and
  approval details), DAG runs (Airflow keeps each DAG's latest scheduled run), jobs and the audit log, with
  Airflow's own ``airflow db clean`` run as a subprocess. Asset events are kept: they are how a DAG
  knows it delivered before when its snapshot is lost.
* Task log files older than the period under ``[logging] base_log_folder``.

The period is Airflow configuration ``[aeries_hub] staging_retention_days`` (environment
``AIRFLOW__AERIES_HUB__STAGING_RETENTION_DAYS``), 30 days by default; the maintenance DAG
``aeries_hub_staging_retention`` applies it every night, and its ``retention_days`` param overrides it for a
manual run.

Airflow 3 blocks the metadata database from task processes (a worker's task sees the connection
``airflow-db-not-allowed:///``). ``airflow db clean`` then needs the database's SQLAlchemy URL from an Airflow
connection: ``[aeries_hub] metadata_db_conn_id`` (its URI, e.g.
``AIRFLOW_CONN_AIRFLOW_METADATA_DB='postgresql://airflow:...@postgres/airflow'``). Without it the task fails
with that explanation, after the staged files and logs were deleted.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

from aeries_hub.changes import STATE_FOLDER
from aeries_hub.delivery.disclosures import DISCLOSURE_FOLDER
from aeries_hub.extract.incremental import SNAPSHOT_FOLDER

log = logging.getLogger(__name__)

DEFAULT_RETENTION_DAYS = 30
#: Files of a run folder that outlive the retention period.
KEPT_FILES = ("report.json",)


def retention_days() -> int:
    from airflow.sdk import conf

    return conf.getint("aeries_hub", "staging_retention_days", fallback=DEFAULT_RETENTION_DAYS)


#: Metadata tables ``airflow db clean`` empties of rows older than the period (not asset_event: see above).
METADATA_TABLES = ("xcom", "task_instance", "task_instance_history", "task_reschedule", "dag_run", "job", "log")
#: What a task process sees instead of the metadata database's URL (Airflow 3's supervisor sets it).
BLOCKED_DATABASE = "airflow-db-not-allowed:"


def _cutoff() -> tuple[int, datetime]:
    """The run's period (its ``retention_days`` param, else the configuration) and the time before which
    everything goes."""
    from airflow.sdk import get_current_context

    days = get_current_context()["params"].get("retention_days")
    days = retention_days() if days is None else int(days)
    return days, datetime.now(timezone.utc) - timedelta(days=days)


def purge_expired_runs() -> dict[str, Any]:
    """Task of the maintenance DAG: purge every run folder older than the retention period, and the
    snapshots of DAGs that no longer exist."""
    from aeries_hub.staging import staging_base

    days, older_than = _cutoff()
    result = purge_staging(staging_base(), older_than)
    log.info(
        "Staged run folders older than %d days (before %s): %d purged (%d files deleted), %d kept",
        days, older_than.isoformat(timespec="seconds"), result["purged_runs"], result["files_deleted"], result["runs_kept"],
    )
    for run in result["runs"]:
        log.info("purged %s (finished %s): %d files", run["run"], run["finished"], run["files"])
    dag_ids = existing_dag_ids()
    if dag_ids is None:
        log.warning("A mapping or write-back file cannot be loaded: no DAG's snapshots are deleted as orphaned "
                    "this time")
        result["orphaned_snapshots"] = []
    else:
        result["orphaned_snapshots"] = purge_orphaned_snapshots(staging_base(), dag_ids)
    for folder in result["orphaned_snapshots"]:
        log.info("deleted %s: its DAG no longer exists (no mapping or write-back file names it)", folder)
    kept = ("older_than", "purged_runs", "files_deleted", "runs_kept", "orphaned_snapshots")
    return {key: result[key] for key in kept}


def existing_dag_ids() -> set[str] | None:
    """The DAG ids of every mapping and write-back file; None when one of them cannot be loaded (its DAG may
    exist, with a mistake being fixed)."""
    from pathlib import Path

    from aeries_hub import paths
    from aeries_hub.mapping.loader import load_mapping
    from aeries_hub.mapping.models import MappingError
    from aeries_hub.writeback.loader import load_writeback

    dag_ids = set()
    for folder, load in ((paths.MAPPINGS_DIR, load_mapping), (paths.WRITEBACKS_DIR, load_writeback)):
        for path in sorted(Path(folder).glob("*.yml")):
            try:
                dag_ids.add(load(path).dag_id)
            except MappingError:
                return None
    return dag_ids


def purge_orphaned_snapshots(base, dag_ids: set[str]) -> list[str]:
    """Delete ``<base>/<dag_id>/_last_delivered`` and ``_extract_snapshot`` of every DAG not in ``dag_ids``;
    the folders deleted."""
    from aeries_hub.staging import safe_segment

    existing = {safe_segment(dag_id) for dag_id in dag_ids}
    deleted = []
    for dag_dir in _folders(base):
        if dag_dir.name in existing or dag_dir.name == DISCLOSURE_FOLDER:
            continue
        for folder in (dag_dir / STATE_FOLDER, dag_dir / SNAPSHOT_FOLDER):
            if folder.exists():
                _delete_tree(folder)
                deleted.append(f"{dag_dir.name}/{folder.name}")
    return deleted


def _delete_tree(folder) -> None:
    for item in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        item.unlink() if item.is_file() else item.rmdir()
    folder.rmdir()


def clean_metadata() -> dict[str, Any]:
    """Task of the maintenance DAG: ``airflow db clean`` of :data:`METADATA_TABLES` before the period."""
    from airflow.sdk.exceptions import AirflowFailException

    days, older_than = _cutoff()
    command = [
        sys.executable, "-m", "airflow", "db", "clean", "--clean-before-timestamp", older_than.isoformat(),
        "--tables", ",".join(METADATA_TABLES), "--skip-archive", "--yes", "--error-on-cleanup-failure",
    ]
    done = subprocess.run(command, env=_metadata_db_env(), capture_output=True, text=True, timeout=3600)
    output = (done.stdout + done.stderr).strip()
    if done.returncode:
        raise AirflowFailException(f"airflow db clean failed (exit {done.returncode}); nothing older than "
                                   f"{older_than:%Y-%m-%d %H:%M} UTC was removed from the metadata database:\n"
                                   f"{output[-4000:]}")
    log.info("Metadata rows older than %d days (before %s) deleted from %s:\n%s", days,
             older_than.isoformat(timespec="seconds"), ", ".join(METADATA_TABLES), output[-4000:])
    return {"older_than": older_than.isoformat(timespec="seconds"), "tables": list(METADATA_TABLES)}


def _metadata_db_env() -> dict[str, str]:
    """The environment of ``airflow db clean``: this process's, with the metadata database's URL from
    ``[aeries_hub] metadata_db_conn_id`` when Airflow blocks it here (a worker's task process)."""
    from airflow.sdk import Connection, conf
    from airflow.sdk.exceptions import AirflowFailException

    env = dict(os.environ)
    conn_id = conf.get("aeries_hub", "metadata_db_conn_id", fallback=None)
    if conn_id:
        from airflow.sdk.log import mask_secret

        uri = Connection.get(conn_id).get_uri().replace("postgres://", "postgresql://", 1)
        mask_secret(uri)  # an error of airflow db clean may quote it
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = uri
        env.pop("AIRFLOW__CORE__SQL_ALCHEMY_CONN", None)
    elif env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "").startswith(BLOCKED_DATABASE):
        raise AirflowFailException(
            "Airflow blocks the metadata database from task processes, so airflow db clean cannot reach it: set "
            "[aeries_hub] metadata_db_conn_id to an Airflow connection whose URI is the metadata database "
            "(e.g. AIRFLOW_CONN_AIRFLOW_METADATA_DB), or run `airflow db clean` from the scheduler's host. "
            "Staged files and task logs were deleted; XComs, task instances and DAG runs were not."
        )
    return env


def delete_old_logs() -> dict[str, Any]:
    """Task of the maintenance DAG: delete task log files older than the period under
    ``[logging] base_log_folder`` (they may hold values a run changed), and the folders left empty."""
    from pathlib import Path

    from airflow.sdk import conf

    days, older_than = _cutoff()
    folder = Path(conf.get("logging", "base_log_folder"))
    result = delete_files_before(folder, older_than)
    log.info("Task logs older than %d days under %s: %d files deleted, %d kept", days, folder,
             result["files_deleted"], result["files_kept"])
    return result


def delete_files_before(folder, older_than: datetime) -> dict[str, Any]:
    """Delete every file under ``folder`` last written before ``older_than``, then the folders left empty."""
    deleted = kept = 0
    if not folder.exists():
        return {"folder": str(folder), "files_deleted": 0, "files_kept": 0}
    cutoff = older_than.timestamp()
    for item in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if item.is_symlink() or item.is_file():
            if item.lstat().st_mtime < cutoff:
                item.unlink()
                deleted += 1
            else:
                kept += 1
        elif item.is_dir() and not any(item.iterdir()):
            item.rmdir()
    return {"folder": str(folder), "files_deleted": deleted, "files_kept": kept}


def purge_staging(base, older_than: datetime) -> dict[str, Any]:
    """Delete the staged files of every ``<base>/<dag_id>/<run_id>/`` finished before ``older_than``,
    except :data:`KEPT_FILES`. Folders already purged are left as they are."""
    purged, kept = [], 0
    for dag_dir in _folders(base):
        if dag_dir.name == DISCLOSURE_FOLDER:  # the disclosure log: never expired
            continue
        for run_dir in _folders(dag_dir):
            if run_dir.name in (STATE_FOLDER, SNAPSHOT_FOLDER):  # the last delivery / the extract snapshot: never expired
                continue
            finished = finished_at(run_dir)
            if finished is None or finished >= older_than:
                kept += 1
                continue
            deleted = _purge(run_dir)
            if deleted:
                purged.append({"run": f"{dag_dir.name}/{run_dir.name}", "finished": finished.isoformat(timespec="seconds"),
                               "files": deleted})
    return {
        "older_than": older_than.isoformat(timespec="seconds"),
        "purged_runs": len(purged),
        "files_deleted": sum(run["files"] for run in purged),
        "runs_kept": kept,
        "runs": purged,
    }


def finished_at(run_dir) -> datetime | None:
    """When the run finished: its report's ``generated_at``, else its newest file's time (None if empty)."""
    report = run_dir / "report.json"
    if report.exists():
        try:
            with report.open("rb") as handle:
                return datetime.fromisoformat(json.load(handle)["generated_at"])
        except (ValueError, KeyError, TypeError):
            pass  # a report without a time (written before reports had one): fall back to the files' times
    times = [f.stat().st_mtime for f in run_dir.rglob("*") if f.is_file()]
    return datetime.fromtimestamp(max(times), timezone.utc) if times else None


def _folders(path) -> list:
    return sorted((p for p in path.iterdir() if p.is_dir()), key=lambda p: p.name) if path.exists() else []


def _purge(run_dir) -> int:
    deleted = 0
    for item in sorted(run_dir.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if item.is_file():
            if item.parent == run_dir and item.name in KEPT_FILES:
                continue
            item.unlink()
            deleted += 1
        elif item.is_dir() and not any(item.iterdir()):
            item.rmdir()
    return deleted
