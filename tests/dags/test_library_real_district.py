"""End to end on the fixture district built from real Aeries answers (tests/fixtures/real_district/, its README
cites each source): every mapping of the library delivers files that break no rule of its format's independent
checker (tests/standards/), as on the generated district of test_<format>_e2e.py. Canvas's zip is judged as the
Canvas SIS import emulator received it (delivery.http_upload)."""

from __future__ import annotations

import pytest

from tests.dags.library import run_library_mapping, run_library_mapping_on_canvas
from tests.dags.test_fixture_district import FIXTURES
from tests.standards import canvas_sis, clever_sis, oneroster, sds_v21

pytestmark = pytest.mark.e2e

# The module's own stack (tests/dags/conftest.py) serves the real-data district.
STACK = {"data_dir": FIXTURES / "real_district"}

# mapping: the checker of its format
LIBRARY = {"clever": clever_sis.check, "oneroster12": oneroster.check, "sds_v21": sds_v21.check}


@pytest.mark.parametrize("name", list(LIBRARY))
def test_the_library_mapping_breaks_no_rule_of_its_format(stack, tmp_path, name):
    dag_run, delivered, report = run_library_mapping(stack, tmp_path, name)
    assert dag_run.state == "success"
    assert report["status"] == "Completed"
    assert LIBRARY[name](delivered) == []


def test_canvas_receives_a_zip_that_breaks_no_rule_of_the_sis_csv_format(stack, tmp_path):
    uploaded = run_library_mapping_on_canvas(tmp_path / "run")
    assert uploaded.dag_run.state == "success"
    assert uploaded.report["status"] == "Completed"
    (upload,) = uploaded.uploads
    assert upload.body == uploaded.run.path("output", "canvas_sis_import.zip").read_bytes()
    received = tmp_path / "received.zip"
    received.write_bytes(upload.body)
    assert canvas_sis.check(received) == []
