"""The typed stage summaries: what a task writes is what the report, the approvals and later tasks read back."""

from __future__ import annotations

import json

from airflow.sdk import ObjectStoragePath

from aeries_hub.run.summary import (
    ApprovalSummary,
    BuildSummary,
    ChangeTracking,
    ExtractSummary,
    SourceValidation,
    read_run,
    write_summary,
)
from aeries_hub.staging import RunFolder


def run_folder(tmp_path) -> RunFolder:
    return RunFolder(ObjectStoragePath(f"file://{tmp_path}"), "destiny_library", "manual__1")


def test_each_stage_reads_back_as_its_task_wrote_it(tmp_path):
    run = run_folder(tmp_path)
    extract = ExtractSummary(table="students", rows=9, requests=2, retries=0, seconds=0.5, path="/x/students.parquet",
                             database_year=2026, school_year="2026-2027", requested_year=2026)
    sources = SourceValidation(tables={"students": {"rows": 9, "accepted": 9, "rejected": 0, "checks": {}}},
                               run_date="2026-09-01", dates_as_of="2026-09-01", run_values={"school_year": "2026-2027"})
    build = BuildSummary(file="patrons.csv", rows_built=9, rows=9, checks={"passed": 3}, sha256="ab")
    changes = ChangeTracking(target="sftp", files={"patrons.csv": {"added": 9}}, exceeded=["9 added"])
    approval = ApprovalSummary(needed=True, decision="approved", by="admin", at="2026-09-01T06:00:00", reason="ok")
    for task_id, summary in [("extract_students", extract), ("validate_sources", sources), ("build_patrons", build),
                             ("track_changes", changes), ("approve_changes", approval)]:
        write_summary(run, task_id, summary)

    stages = read_run(run)

    assert (stages.extracts, stages.sources, stages.builds) == ({"students": extract}, sources, {"patrons": build})
    assert (stages.changes, stages.approve_changes, stages.delivery) == (changes, approval, None)


def test_a_summary_leaves_out_what_its_stage_did_not_get_to():
    failed = BuildSummary(file="patrons.csv", error="column 'X' is missing").to_json()
    assert failed == {"file": "patrons.csv", "error": "column 'X' is missing", "rejected": 0, "checks": {},
                      "dates_as_of": None, "run_date": None}
    assert ApprovalSummary(needed=False, why="dry run").to_json() == {"needed": False, "why": "dry run"}
    full = ExtractSummary(table="schools").to_json()
    assert "mode" not in full and "reason" not in full and "teachers_from_section_staff" not in full
    incremental = ExtractSummary(table="schools", mode="full", reason="first extraction").to_json()
    assert (incremental["mode"], incremental["reason"], incremental["changed_keys"]) == ("full", "first extraction", None)


def test_a_summary_of_an_earlier_version_still_reads(tmp_path):
    """A run cleared and re-run across an upgrade: keys it does not know are left out, missing ones take defaults."""
    run = run_folder(tmp_path)
    run.write_json("summary/deliver.json", {"dry_run": False, "files": [{"file": "patrons.csv"}], "retired_key": 1})
    run.write_json("summary/some_new_task.json", {"anything": True})

    stages = read_run(run)

    assert stages.delivery is not None and stages.delivery.files == [{"file": "patrons.csv"}]
    assert json.loads(json.dumps(stages.delivery.to_json())) == {"dry_run": False, "files": [{"file": "patrons.csv"}]}
