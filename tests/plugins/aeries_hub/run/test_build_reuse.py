"""A build taking an earlier run's file (:mod:`aeries_hub.run.build_reuse`): with the run validate_sources took its
files from, and, when only extracts changed, when what it reads is unchanged. Under dag.test():
tests/dags/test_reuse_unchanged_run.py."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import pytest
from airflow.sdk import ObjectStoragePath

from aeries_hub.run.reuse import written_files
from aeries_hub.run.summary import BuildSummary, SourceValidation
from aeries_hub.staging import RunFolder


def run_folder(tmp_path, run_id: str) -> RunFolder:
    return RunFolder(ObjectStoragePath(f"file://{tmp_path}"), "aeries_to_stemscopes", run_id)


def test_a_summary_naming_an_earlier_run_outside_the_dag_is_refused(tmp_path):
    from types import SimpleNamespace

    from airflow.sdk.execution_time.context import set_current_context

    from aeries_hub.mapping.loader import load_mapping
    from aeries_hub.paths import MAPPINGS_DIR
    from aeries_hub.run.build_reuse import reuse_build
    from aeries_hub.run.reuse import configuration
    from aeries_hub.run.summary import write_summary

    mapping = load_mapping(MAPPINGS_DIR / "stemscopes.yml")
    run = run_folder(tmp_path, "manual__2")
    dag_run = SimpleNamespace(logical_date=datetime(2026, 12, 4, 8, tzinfo=timezone.utc), run_after=None)
    with set_current_context({"dag_run": dag_run}):
        write_summary(run, "validate_sources", SourceValidation(inputs=configuration(mapping, {}), reused_from=".."))
        with pytest.raises(ValueError, match=r"^the summary of run manual__2 names the earlier run '\.\.', which is "
                                             r"not a run folder's name: the staging folder was edited"):
            reuse_build(mapping, mapping.output("users.csv"), run, {})


def test_a_build_is_taken_only_if_it_was_built_with_this_runs_configuration(tmp_path, caplog):
    """A build of the last run may have run again alone after its validation (cleared after the mapping was
    edited): its own recorded configuration decides, not its validation's."""
    from types import SimpleNamespace

    from airflow.sdk.execution_time.context import set_current_context

    from aeries_hub.mapping.loader import load_mapping
    from aeries_hub.paths import MAPPINGS_DIR
    from aeries_hub.run.build_reuse import reuse_build
    from aeries_hub.run.reuse import configuration
    from aeries_hub.run.summary import write_summary

    mapping = load_mapping(MAPPINGS_DIR / "stemscopes.yml")
    output = mapping.output("users.csv")
    previous, run = run_folder(tmp_path, "manual__1"), run_folder(tmp_path, "manual__2")
    previous.write_bytes("output/users.csv", b"sourcedId\n1\n")
    files = written_files(previous, ("output/",))
    dag_run = SimpleNamespace(logical_date=datetime(2026, 12, 4, 8, tzinfo=timezone.utc), run_after=None)

    with set_current_context({"dag_run": dag_run}):  # the run's date comes from the task's context
        now = configuration(mapping, {})
        write_summary(run, "validate_sources", SourceValidation(inputs=now, reused_from="manual__1"))

        def last_build_made_with(inputs: dict) -> None:
            write_summary(previous, "build_users", BuildSummary(file="users.csv", rows=1, sha256="1" * 64,
                                                                files=files, inputs=inputs))

        last_build_made_with({**now, "mapping": "edited" * 8})
        with caplog.at_level("WARNING", logger="aeries_hub.run.build_reuse"):
            assert reuse_build(mapping, output, run, {}) is None
        assert "build_users computes: the mapping file changed since manual__1 built it" in caplog.text
        assert not run.exists("output/users.csv")

        last_build_made_with(now)
        taken = reuse_build(mapping, output, run, {})
    assert taken is not None and taken.reused_from == "manual__1"
    assert run.path("output", "users.csv").read_bytes() == b"sourcedId\n1\n"


def test_what_a_build_reads_is_the_columns_it_maps_and_checks_not_whole_files(tmp_path):
    """enrollments.csv reads the students' keys and users.csv's sourcedId: a new last name changes users.csv only."""
    import pandas as pd

    from aeries_hub.mapping.loader import load_mapping
    from aeries_hub.paths import MAPPINGS_DIR
    from aeries_hub.run.build_reuse import changed_reads
    from aeries_hub.run.summary import write_summary

    mapping = load_mapping(MAPPINGS_DIR / "stemscopes.yml")
    enrollments, users_file = mapping.output("enrollments.csv"), mapping.output("users.csv")
    previous, run = run_folder(tmp_path, "manual__1"), run_folder(tmp_path, "manual__2")
    students = pd.DataFrame({"SchoolCode": [994, 994], "StudentID": [1001, 1002], "LastName": ["Cruz", "Diaz"]})
    users = pd.DataFrame({"sourcedId": ["1001", "1002"], "familyName": ["Cruz", "Diaz"]})

    def stage(folder: RunFolder, students, users, run_date: str = "2026-12-04") -> None:
        folder.write_parquet("validated/students.parquet", students)
        folder.write_parquet("built/users.parquet", users)
        write_summary(folder, "validate_sources", SourceValidation(run_date=run_date, dates_as_of=run_date,
                                                                   files=written_files(folder, ("validated/",))))
        write_summary(folder, "build_users", BuildSummary(file="users.csv", files=written_files(folder, ("built/",))))

    stage(previous, students, users)
    stage(run, students.assign(LastName=["Cruz", "Changed"]), users.assign(familyName=["Cruz", "Changed"]))
    assert changed_reads(mapping, enrollments, run, previous) == []
    assert changed_reads(mapping, users_file, run, previous) == ["the columns it reads of the validated students"]

    stage(run, students.assign(StudentID=[1001, 1003]), users.assign(sourcedId=["1001", "1003"]))
    assert changed_reads(mapping, enrollments, run, previous) == [
        "the columns it reads of the validated students", "the columns its checks read of users.csv"]

    stage(run, students, users, run_date="2026-12-05")
    assert changed_reads(mapping, enrollments, run, previous) == ["the run values"]


def test_a_file_recorded_with_the_same_sha256_in_both_runs_is_not_read(tmp_path, caplog):
    from aeries_hub.mapping.loader import load_mapping
    from aeries_hub.paths import MAPPINGS_DIR
    from aeries_hub.run.build_reuse import changed_reads
    from aeries_hub.run.summary import write_summary

    mapping = load_mapping(MAPPINGS_DIR / "stemscopes.yml")
    previous, run = run_folder(tmp_path, "manual__1"), run_folder(tmp_path, "manual__2")
    for folder in (previous, run):
        folder.write_bytes("validated/rosters.parquet", b"not parquet: reading it would fail")
        write_summary(folder, "validate_sources", SourceValidation(files={"validated/rosters.parquet": "1" * 64}))
    assert changed_reads(mapping, mapping.output("enrollments.csv"), run, previous) == []
    write_summary(run, "validate_sources", SourceValidation(files={"validated/rosters.parquet": "2" * 64}))
    with caplog.at_level(logging.WARNING, logger="aeries_hub.run.build_reuse"):
        assert changed_reads(mapping, mapping.output("enrollments.csv"), run, previous) == [
            "the columns it reads of the validated rosters"]
    assert ("validated/rosters.parquet of manual__2 or manual__1 cannot be read (ArrowInvalid): taken as changed"
            in caplog.text)
