"""End to end: a mapping delivering by ``delivery.http_upload`` under dag.test(), against the Aeries emulator and the
Canvas SIS import emulator (aeries_sandbox.canvas_api) on localhost.

The mapping (written here, in a folder of its own) sends the district's active students as a Canvas users.csv in a
zip; Canvas must receive exactly the zip the run built, once, and the run must wait until the import ended. The
users it holds are computed here from the emulator's own data files, independently of the mapping engine.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import zipfile

import pytest

from aeries_hub.staging import staging_base
from aeries_sandbox.canvas_api import CanvasApiServer
from tests.dags.independent import one_line, s
from tests.dags.single_tasks import run_folder

pytestmark = pytest.mark.e2e

DAG_ID = "aeries_to_canvas"
STACK = {"students": 60, "seed": 17}
TOKEN = secrets.token_urlsafe(24)
ENDPOINT = "/api/v1/accounts/self/sis_imports"
MAPPING = f"""\
name: canvas
title: Canvas LMS users (SIS import)
description: The district's active students as a Canvas SIS users.csv, zipped and uploaded to Canvas's SIS import API.
schedule: null
aeries:
  conn_id: aeries_default
source:
  tables: [students]
  include_pseudo_schools: true
outputs:
  - file: users.csv
    format: {{delimiter: ",", header: true, encoding: utf-8, line_ending: lf}}
    key: [user_id]
    columns:
      - {{name: user_id, required: true}}
      - {{name: login_id, required: true}}
      - {{name: first_name}}
      - {{name: last_name}}
      - {{name: status, required: true, allowed: [active, deleted]}}
    records:
      - name: students
        from: students
        distinct: {{on: [StudentID], prefer: [SchoolCode]}}
        values:
          user_id: {{source: StudentID}}
          login_id: {{source: StudentID, transform: [{{prefix: s}}]}}
          first_name: {{source: FirstName, transform: [trim]}}
          last_name: {{source: LastName, transform: [trim]}}
          status: {{constant: active}}
delivery:
  package: {{zip: canvas_sis.zip}}
  http_upload:
    conn_id: canvas
    endpoint: {ENDPOINT}
    params: {{import_type: instructure_csv, diffing_data_set_identifier: aeries-canvas-users}}
    timeout_minutes: 5
    poll_seconds: 1
"""


@pytest.fixture(scope="module")
def canvas():
    with CanvasApiServer(tokens=[TOKEN]) as server:
        yield server


def canvas_dag(folder, canvas, patch):
    """The DAG of MAPPING, written into ``folder`` (the mappings folder while ``patch`` lasts), its connection at
    ``canvas``."""
    from aeries_hub import paths
    from aeries_hub.dag_factory import build_dags

    (folder / "canvas.yml").write_text(MAPPING, encoding="utf-8")
    patch.setattr(paths, "MAPPINGS_DIR", folder)
    patch.setenv("AIRFLOW_CONN_CANVAS", json.dumps(canvas.airflow_connection(TOKEN)))
    return build_dags(folder)[DAG_ID]


@pytest.fixture(scope="module")
def delivered(stack, canvas, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        dag_run = canvas_dag(tmp_path_factory.mktemp("canvas_mappings"), canvas, patch).test()
    (upload,) = canvas.uploads  # the first test of the module to upload
    return dag_run, run_folder(dag_run), upload


def expected_users(data_dir) -> set[tuple[str, ...]]:
    """Each active student once (the row at the lowest SchoolCode), as a users.csv row; a line break in a name is
    written as a space (the engine's rule for every file)."""
    students = json.loads((data_dir / "students.json").read_text(encoding="utf-8"))
    first: dict[str, dict] = {}
    for r in sorted(students, key=lambda r: int(s(r["SchoolCode"]))):
        if s(r["InactiveStatusCode"]) == "":
            first.setdefault(s(r["StudentID"]), r)
    return {(sid, f"s{sid}", one_line(s(r["FirstName"])), one_line(s(r["LastName"])), "active")
            for sid, r in first.items()}


def test_canvas_receives_the_built_zip_once_and_the_run_waits_for_the_import(stack, canvas, delivered):
    dag_run, run, upload = delivered

    assert dag_run.state == "success"
    built = run.path("output", "canvas_sis.zip").read_bytes()
    assert upload.body == built
    assert (upload.content_type, upload.account) == ("application/zip", "self")
    assert upload.params == {"extension": "zip", "import_type": "instructure_csv",
                             "diffing_data_set_identifier": "aeries-canvas-users"}
    with zipfile.ZipFile(io.BytesIO(upload.body)) as archive:
        assert archive.namelist() == ["users.csv"]
        rows = list(csv.reader(io.StringIO(archive.read("users.csv").decode("utf-8"), newline="")))
    assert rows[0] == ["user_id", "login_id", "first_name", "last_name", "status"]
    assert len(rows) - 1 == len(expected_users(stack.data_dir))
    assert {tuple(row) for row in rows[1:]} == expected_users(stack.data_dir)
    # The import was looked at until it ended: created (the upload's answer), importing, imported.
    looks = [(method, status) for method, path, status in canvas.requests if path == f"{ENDPOINT}/{upload.import_id}"]
    assert looks == [("GET", 200), ("GET", 200)]


def test_the_report_and_the_disclosure_log_name_the_import(stack, canvas, delivered):
    from aeries_hub.delivery.disclosures import read_disclosures

    dag_run, run, upload = delivered
    url = f"{canvas.url}{ENDPOINT}/{upload.import_id}"
    report = run.read_json("report.json")

    (receipt,) = report["delivered"]
    assert {k: receipt[k] for k in ("file", "conn_id", "url", "import_id", "workflow_state", "warnings", "resumed")} == {
        "file": "canvas_sis.zip", "conn_id": "canvas", "url": url, "import_id": upload.import_id,
        "workflow_state": "imported", "warnings": [], "resumed": False}
    assert receipt["bytes"] == len(upload.body) and receipt["rows"] == len(expected_users(stack.data_dir))
    assert report["status"] == "Completed"
    (entry,) = [e for e in read_disclosures(staging_base(), DAG_ID) if e["run_id"] == dag_run.run_id]
    assert (entry["file"], entry["conn_id"], entry["location"], entry["target"]) == (
        "canvas_sis.zip", "canvas", url, "http_upload")
    assert entry["fields"] == {"users.csv": entry["fields"]["users.csv"]} and entry["records"] == receipt["rows"]
    # What a retry of the deliver task would wait on instead of uploading again.
    assert run.read_json("uploads/canvas_sis.zip.json") == {"import_id": upload.import_id, "sha256": receipt["sha256"],
                                                            "url": url}


def test_a_dry_run_builds_the_zip_and_uploads_nothing(stack, canvas, delivered, tmp_path, monkeypatch):
    dag = canvas_dag(tmp_path, canvas, monkeypatch)
    uploads_before, requests_before = len(canvas.uploads), len(canvas.requests)

    dag_run = dag.test(run_conf={"dry_run": True})

    run = run_folder(dag_run)
    assert run.exists("output/canvas_sis.zip") and run.read_json("report.json")["delivered"] == []
    assert (len(canvas.uploads), len(canvas.requests)) == (uploads_before, requests_before)


def test_airflow_s_retry_of_deliver_waits_on_the_accepted_import_without_a_second_upload(stack, canvas, delivered,
                                                                                         tmp_path, monkeypatch):
    """Canvas accepts the zip, then every look at the import fails (500) until the first try gives up (a retryable
    error); Airflow's own retry must wait on that import, not upload the zip again."""
    from datetime import timedelta

    dag = canvas_dag(tmp_path, canvas, monkeypatch)
    deliver = dag.get_task("deliver")
    deliver.retries, deliver.retry_delay, deliver.retry_exponential_backoff = 1, timedelta(seconds=1), 0
    uploads_before, requests_before = len(canvas.uploads), len(canvas.requests)
    canvas.set_faults({"500": 1.0}, max_faults=5, path_pattern="^GET ")  # the hook's 5 attempts at the first look
    try:
        dag_run = dag.test()
    finally:
        canvas.set_faults({})

    assert dag_run.state == "success"
    assert dag_run.get_task_instance("deliver").try_number == 2
    (upload,) = canvas.uploads[uploads_before:]
    assert upload.body == run_folder(dag_run).path("output", "canvas_sis.zip").read_bytes()
    made = [(method, status) for method, _path, status in canvas.requests[requests_before:]]
    assert made == [("POST", 200)] + [("GET", 500)] * 5 + [("GET", 200)] * 2
    (receipt,) = run_folder(dag_run).read_json("report.json")["delivered"]
    assert (receipt["import_id"], receipt["resumed"], receipt["workflow_state"]) == (upload.import_id, True, "imported")
