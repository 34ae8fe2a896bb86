"""Retention of staged student data: a run's staged files are deleted after the district's retention period;
its report.json, which holds counts, check outcomes and record ids but no other student data, is kept.

The period is Airflow configuration ``[aeries_hub] staging_retention_days`` (environment
``AIRFLOW__AERIES_HUB__STAGING_RETENTION_DAYS``), 30 days by default; the maintenance DAG
``aeries_hub_staging_retention`` applies it every night, and its ``retention_days`` param overrides it for a
manual run. A run's age is the time its report was written, or, for a run that never wrote one, the time
of its newest file.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from aeries_hub.changes import STATE_FOLDER
from aeries_hub.incremental import SNAPSHOT_FOLDER

log = logging.getLogger(__name__)

DEFAULT_RETENTION_DAYS = 30
#: Files of a run folder that outlive the retention period.
KEPT_FILES = ("report.json",)


def retention_days() -> int:
    from airflow.sdk import conf

    return conf.getint("aeries_hub", "staging_retention_days", fallback=DEFAULT_RETENTION_DAYS)


def purge_expired_runs() -> dict[str, Any]:
    """Task of the maintenance DAG: purge every run folder older than the retention period."""
    from airflow.sdk import get_current_context

    from aeries_hub.staging import staging_base

    days = get_current_context()["params"].get("retention_days")
    days = retention_days() if days is None else int(days)
    older_than = datetime.now(timezone.utc) - timedelta(days=days)
    result = purge_staging(staging_base(), older_than)
    log.info(
        "Staged run folders older than %d days (before %s): %d purged (%d files deleted), %d kept",
        days, older_than.isoformat(timespec="seconds"), result["purged_runs"], result["files_deleted"], result["runs_kept"],
    )
    for run in result["runs"]:
        log.info("purged %s (finished %s): %d files", run["run"], run["finished"], run["files"])
    return {key: result[key] for key in ("older_than", "purged_runs", "files_deleted", "runs_kept")}


def purge_staging(base, older_than: datetime) -> dict[str, Any]:
    """Delete the staged files of every ``<base>/<dag_id>/<run_id>/`` finished before ``older_than``,
    except :data:`KEPT_FILES`. Folders already purged are left as they are."""
    purged, kept = [], 0
    for dag_dir in _folders(base):
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
