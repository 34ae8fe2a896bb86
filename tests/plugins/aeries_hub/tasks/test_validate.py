"""The validate_sources task (:mod:`aeries_hub.tasks.validate`) run in this process with a task's context, on
extracts staged by hand; the whole DAG's runs: tests/dags/."""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
import yaml
from airflow.sdk.exceptions import AirflowFailException
from airflow.sdk.execution_time.context import set_current_context

from aeries_hub.paths import QUALITY_DIR
from aeries_hub.staging import RunFolder, staging_base
from tests.plugins.aeries_hub.quality.test_sources import aeries_tables

PARENT_EMAIL_CHECK = {"expectation": "expect_column_values_to_not_match_regex", "severity": "error",
                      "column": "ParentEmailAddress", "regex": "@example\\.com$",
                      "description": "no parent e-mail at example.com"}


def test_a_failed_error_check_stops_the_run_naming_the_rows_ids_never_their_values(tmp_path, monkeypatch):
    """A district's own error check on a column of student data: its sample rows hold the values, the task's
    exception (its log) only the failing rows' ids."""
    from aeries_hub.quality import aeries_sources
    from aeries_hub.tasks.validate import validate_sources

    checks = yaml.safe_load((QUALITY_DIR / "aeries_sources.yml").read_text(encoding="utf-8"))
    checks["students"].append(PARENT_EMAIL_CHECK)
    (tmp_path / "aeries_sources.yml").write_text(yaml.safe_dump(checks), encoding="utf-8")
    monkeypatch.setattr(aeries_sources, "SOURCE_CHECKS_FILE", tmp_path / "aeries_sources.yml")
    monkeypatch.setenv("AIRFLOW__AERIES_HUB__STAGING_URL", f"file://{tmp_path}/staging")
    run = RunFolder(staging_base(), "aeries_to_destiny", "manual__1")
    tables = aeries_tables()
    for name in ("schools", "students"):
        run.write_parquet(f"extract/{name}.parquet", tables[name])
    context = {"dag": SimpleNamespace(dag_id="aeries_to_destiny"), "run_id": "manual__1",
               "params": {"allow_extract_drop": True},
               "dag_run": SimpleNamespace(logical_date=datetime(2026, 12, 4, 8, tzinfo=timezone.utc), run_after=None)}

    with set_current_context(context), pytest.raises(AirflowFailException) as stopped:
        validate_sources("destiny.yml", [{"table": "schools"}, {"table": "students"}])

    assert str(stopped.value) == (
        "Aeries data failed its error checks; nothing was delivered.\n"
        "students: no parent e-mail at example.com [ParentEmailAddress]: 1 of 4 rows fail, e.g. 994/99400001")
    assert "parent@example.com" in str(run.read_json("summary/validate_sources.json")["errors"])  # staged only
