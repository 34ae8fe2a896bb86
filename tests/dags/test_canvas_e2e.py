"""End to end: the library's Canvas SIS import mapping (include/mappings/library/canvas.yml) under dag.test(),
against the emulator's generated district and sshd, judged by the independent Canvas checker
(tests/standards/canvas_sis.py, Instructure's SIS CSV Format): the delivered zip breaks no rule."""

from __future__ import annotations

import zipfile

import pytest

from tests.dags.independent import GENERATED_PSEUDO_SCHOOLS
from tests.dags.library import run_library_mapping
from tests.standards import canvas_sis

pytestmark = pytest.mark.e2e

STACK = {"students": 300, "seed": 5}
FILES = ["accounts.csv", "terms.csv", "courses.csv", "sections.csv", "users.csv", "enrollments.csv"]


@pytest.fixture(scope="module")
def delivered_run(stack, tmp_path_factory):
    """The module's one run: the DagRun, the delivered zip, and the run's report."""
    dag_run, folder, report = run_library_mapping(stack, tmp_path_factory.mktemp("canvas"), "canvas", "canvas_sftp",
                                                  "canvas")
    return dag_run, folder / "canvas_sis_import.zip", report


def test_canvas_delivers_one_zip_of_the_six_files(delivered_run):
    dag_run, archive, report = delivered_run
    assert dag_run.state == "success"
    with zipfile.ZipFile(archive) as zipped:
        assert zipped.namelist() == FILES
    assert report["status"] == "Completed"
    assert report["left_out_schools"] == GENERATED_PSEUDO_SCHOOLS


def test_the_zip_breaks_no_rule_of_the_sis_csv_format(delivered_run):
    _, archive, _ = delivered_run
    assert canvas_sis.check(archive) == []
