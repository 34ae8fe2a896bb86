"""End to end: the library's Canvas SIS import mapping (include/mappings/library/canvas.yml) under dag.test(),
against the emulator's generated district and the Canvas SIS import emulator (aeries_sandbox.canvas_api) over HTTP:
Canvas receives exactly the zip the run built, once, with the mapping's import parameters, and the independent
Canvas checker (tests/standards/canvas_sis.py, Instructure's SIS CSV Format) finds no rule broken in what Canvas
received. The accounts, courses and sections are also counted here from the emulator's data files."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from tests.dags.independent import GENERATED_PSEUDO_SCHOOLS, s
from tests.dags.library import run_library_mapping_on_canvas
from tests.standards import canvas_sis

pytestmark = pytest.mark.e2e

STACK = {"students": 300, "seed": 5}
FILES = ["accounts.csv", "terms.csv", "courses.csv", "sections.csv", "users.csv", "enrollments.csv"]
ENDPOINT = "/api/v1/accounts/self/sis_imports"


@pytest.fixture(scope="module")
def uploaded(stack, tmp_path_factory):
    """The module's one run and what the Canvas emulator saw of it."""
    return run_library_mapping_on_canvas(tmp_path_factory.mktemp("canvas"))


def test_canvas_receives_the_built_zip_once_and_the_run_waits_for_its_import(uploaded):
    assert uploaded.dag_run.state == "success"
    (upload,) = uploaded.uploads
    assert upload.body == uploaded.run.path("output", "canvas_sis_import.zip").read_bytes()
    assert (upload.account, upload.content_type) == ("self", "application/zip")
    assert upload.params == {"extension": "zip", "import_type": "instructure_csv",
                             "diffing_data_set_identifier": "aeries-canvas", "change_threshold": "10"}
    with zipfile.ZipFile(io.BytesIO(upload.body)) as zipped:
        assert zipped.namelist() == FILES
    # created (the upload's answer), then importing, then imported: looked at until it ended
    assert uploaded.requests == [
        ("POST", ENDPOINT, 200), ("GET", f"{ENDPOINT}/{upload.import_id}", 200),
        ("GET", f"{ENDPOINT}/{upload.import_id}", 200)]
    (receipt,) = uploaded.report["delivered"]
    assert {k: receipt[k] for k in ("file", "conn_id", "url", "import_id", "workflow_state", "warning_count")} == {
        "file": "canvas_sis_import.zip", "conn_id": "canvas", "url": f"{uploaded.url}{ENDPOINT}/{upload.import_id}",
        "import_id": upload.import_id, "workflow_state": "imported", "warning_count": 0}
    assert uploaded.report["status"] == "Completed"
    assert uploaded.report["left_out_schools"] == GENERATED_PSEUDO_SCHOOLS


def test_what_canvas_received_breaks_no_rule_of_the_sis_csv_format(uploaded, tmp_path):
    (upload,) = uploaded.uploads
    received = tmp_path / "received.zip"
    received.write_bytes(upload.body)
    assert canvas_sis.check(received) == []


def test_one_account_per_school_and_one_course_and_section_per_active_aeries_section(stack, uploaded):
    def rows(name: str) -> int:
        with zipfile.ZipFile(io.BytesIO(uploaded.uploads[0].body)) as zipped:
            return len(zipped.read(name).decode("utf-8").splitlines()) - 1

    pseudo = {str(school["code"]) for school in GENERATED_PSEUDO_SCHOOLS}
    schools = {s(x["SchoolCode"]) for x in json.loads((stack.data_dir / "schools.json").read_text())}
    sections = [x for x in json.loads((stack.data_dir / "sections.json").read_text())
                if s(x["SchoolCode"]) not in pseudo and s(x.get("InactiveStatusCode")) == ""]
    assert rows("accounts.csv") == len(schools - pseudo)
    assert rows("terms.csv") == 1
    assert rows("courses.csv") == rows("sections.csv") == len(sections)
