"""Holds: the rows of a file when removals (or changes and removals) are held, rendered in the vendor's format, and
the held files of a packaged delivery zipped again, with what was held for the report."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pandas as pd
import pytest
from airflow.sdk import ObjectStoragePath

from aeries_hub.changes import DeliveredState
from aeries_hub.delivery.holds import CHANGES_AND_REMOVALS, REMOVALS, Hold, held_rows, hold_files
from aeries_hub.mapping.build import render_rows
from aeries_hub.mapping.loader import load_mapping
from aeries_hub.paths import MAPPINGS_DIR
from aeries_hub.staging import RunFolder

SCHOOLS = ["SchoolCode", "Name", "SchoolType"]
LAST = pd.DataFrame([("994", "Adams Elementary", "ES"), ("995", "Baker Middle", "MS"), ("996", "Cole High", "HS")],
                    columns=SCHOOLS)
# 994 renamed, 995 gone, 996 as it was, 997 new
BUILT = pd.DataFrame([("994", "Adams Academy", "ES"), ("996", "Cole High", "HS"), ("997", "Dunn High", "HS")],
                     columns=SCHOOLS)


@pytest.fixture(scope="module")
def xello():
    return load_mapping(MAPPINGS_DIR / "xello.yml")


def test_holding_removals_delivers_additions_and_changes_and_keeps_the_removed_rows_as_last_delivered(xello):
    output = xello.output("School.txt")
    rows, held, _ = held_rows(BUILT, LAST, output, Hold(REMOVALS, "approved"))
    assert (held["changed"].to_pylist(), held["removed"].to_pylist()) == ([], ["995"])
    assert render_rows(xello, output, rows, {}) == (
        b"SchoolCode|Name|SchoolType\r\n994|Adams Academy|ES\r\n996|Cole High|HS\r\n997|Dunn High|HS\r\n"
        b"995|Baker Middle|MS\r\n")


def test_additions_only_keeps_the_last_delivered_rows_of_changed_and_removed_keys(xello):
    output = xello.output("School.txt")
    rows, held, _ = held_rows(BUILT, LAST, output, Hold(CHANGES_AND_REMOVALS, "additions only"))
    assert (held["changed"].to_pylist(), held["removed"].to_pylist()) == (["994"], ["995"])
    assert render_rows(xello, output, rows, {}) == (
        b"SchoolCode|Name|SchoolType\r\n996|Cole High|HS\r\n997|Dunn High|HS\r\n"
        b"994|Adams Elementary|ES\r\n995|Baker Middle|MS\r\n")


def test_held_files_of_a_packaged_delivery_are_zipped_again_and_their_rows_kept_for_the_record(tmp_path):
    mapping = load_mapping(MAPPINGS_DIR / "powerschool_learning.yml")
    base = ObjectStoragePath(f"file://{tmp_path}")
    run = RunFolder(base, mapping.dag_id, "manual__1")
    state = DeliveredState(base, mapping.dag_id, "sftp")
    snapshots = {}
    for output in mapping.outputs:
        empty = pd.DataFrame({column: pd.Series([], dtype="string") for column in output.delivered_columns})
        last = pd.DataFrame([("100", "Adams"), ("200", "Baker")], columns=output.delivered_columns) \
            if output.file == "organizations.csv" else empty
        built = pd.DataFrame([("100", "Adams ES"), ("300", "Cole")], columns=output.delivered_columns) \
            if output.file == "organizations.csv" else empty
        run.write_parquet(f"built/{output.stem}.parquet", built)
        buffer = io.BytesIO()
        last.to_parquet(buffer, index=False)
        snapshots[output.stem] = buffer.getvalue()
    state.save(snapshots, {"run_id": "manual__0", "delivered_at": "2026-09-01T08:00:00+00:00", "files": {}})

    items, held = hold_files(mapping, run, state.read(), [], Hold(REMOVALS, "ops approved with the removals held"))

    zipped = run.root.joinpath("held", "powerschool_learning_import.zip").read_bytes()
    assert items == [{"file": "powerschool_learning_import.zip", "rows": 3, "bytes": len(zipped),
                      "sha256": hashlib.sha256(zipped).hexdigest(), "folder": "held"}]
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        assert archive.namelist() == [o.file for o in mapping.delivered_outputs]
        assert archive.read("organizations.csv") == b"organization_id,name\n100,Adams ES\n300,Cole\n200,Baker\n"
        assert archive.read("rosters.csv") == b"class_id,user_id,role\n"
    organizations = run.root.joinpath("held", "organizations.csv").read_bytes()
    assert held == {"kind": "removals", "why": "ops approved with the removals held", "files": {
        "organizations.csv": {"changed": 0, "removed": 1, "sample_changed": [], "sample_removed": ["200"], "rows": 3,
                              "sha256": hashlib.sha256(organizations).hexdigest()},
        **{o.file: {"changed": 0, "removed": 0, "sample_changed": [], "sample_removed": [], "rows": 0,
                    "sha256": hashlib.sha256(run.root.joinpath("held", o.file).read_bytes()).hexdigest()}
           for o in mapping.outputs if o.file != "organizations.csv"},
    }}
    assert run.read_parquet("held/organizations.parquet").astype(str).values.tolist() == [
        ["100", "Adams ES"], ["300", "Cole"], ["200", "Baker"]]


def test_a_held_row_whose_value_a_spreadsheet_would_run_is_rendered_as_the_build_renders_it(xello):
    """A held row comes from the last delivery's snapshot, outside this run's build: it is rendered through the same
    formula escaping as a built row (Xello's files are opened in spreadsheets)."""
    output = xello.output("School.txt")
    last = pd.DataFrame([("995", '=HYPERLINK("http://x","Baker")', "MS"), ("996", "Cole High", "HS")], columns=SCHOOLS)
    built = pd.DataFrame([("996", "Cole High", "HS")], columns=SCHOOLS)
    rows, held, _ = held_rows(built, last, output, Hold(REMOVALS, "approved"))
    assert held["removed"].to_pylist() == ["995"]
    assert render_rows(xello, output, rows, {}) == (
        b"SchoolCode|Name|SchoolType\r\n996|Cole High|HS\r\n995|'=HYPERLINK(\"http://x\",\"Baker\")|MS\r\n")
