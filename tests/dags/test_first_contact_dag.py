"""The first-contact DAG under dag.test(): it checks the connection given as a param against the emulator over
HTTP and writes the report and the suggested extras into the run's staging folder."""

from __future__ import annotations

import json
import logging
import stat
from contextlib import contextmanager
from pathlib import Path

import pytest

from aeries_sandbox.emulator import READ_AREAS, EmulatorServer, generate_district

CERT = "F1rstContactDagCert0000000000000"


@contextmanager
def records_of(logger_name: str):
    """The records of one logger, whatever Airflow's task logging did to the root logger's handlers."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


@pytest.mark.e2e
def test_the_first_contact_dag_writes_the_report_into_staging(airflow_db, tmp_path, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    from aeries_hub.paths import INCLUDE_DIR

    monkeypatch.setenv("AIRFLOW__AERIES_HUB__STAGING_URL", f"file://{tmp_path}/staging")
    certs = [{"name": "dag", "certificate": CERT, "areas": list(READ_AREAS)}]
    with EmulatorServer(generate_district(120, 5), certs, access_log=False, max_rows_per_request=30) as emu:
        monkeypatch.setenv("AIRFLOW_CONN_AERIES_DISTRICT", json.dumps({
            "conn_type": "aeries", "host": emu.url, "password": CERT, "extra": {"allow_insecure": True}}))
        dag = DagBag(dag_folder=str(INCLUDE_DIR.parent / "dags")).dags["aeries_first_contact"]

        with records_of("aeries_hub.first_contact") as task_log:
            dag_run = dag.test(run_conf={"aeries_conn_id": "aeries_district"})

    assert dag_run.state == "success"
    assert dag.schedule is None and dag.params["aeries_conn_id"] == "aeries_default"
    run_folder = Path(tmp_path, "staging", "aeries_first_contact")
    files = sorted(p.relative_to(run_folder).parts[1] for p in run_folder.rglob("*") if p.is_file())
    assert files == ["first_contact.json", "first_contact.md", "suggested_extra.json"]
    (folder,) = [p for p in run_folder.iterdir()]
    assert json.loads((folder / "suggested_extra.json").read_text()) == {"page_size": 30, "probe_short_pages": True}
    report = json.loads((folder / "first_contact.json").read_text())
    assert report["connection"] == "aeries_district"
    assert {name: p["row_cap"] for name, p in report["paging"].items()} == {"students": 30, "contacts": None,
                                                                             "rosters": None}
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in folder.iterdir())
    assert CERT not in (folder / "first_contact.md").read_text() + (folder / "first_contact.json").read_text()
    # The task log: the summary, one line per finding, the extras to paste.
    logged = [record.getMessage() for record in task_log]
    findings = len(report["findings"])
    assert logged[0] == f"First contact with Aeries over connection 'aeries_district': {findings} findings"
    assert logged[1:-1] == [f"- {finding}" for finding in report["findings"]]
    assert logged[-1] == 'Suggested connection extras: {"page_size": 30, "probe_short_pages": true}'
