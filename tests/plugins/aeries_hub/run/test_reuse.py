"""The inputs a run's validated and built files are made from, and taking an earlier run's files
(:mod:`aeries_hub.run.reuse`). The decision under dag.test(): tests/dags/test_reuse_unchanged_run.py."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from datetime import datetime, timedelta, timezone

import fsspec
import pytest
from airflow.sdk import ObjectStoragePath
from airflow.sdk.io import attach
from fsspec.implementations.memory import MemoryFileSystem

from aeries_hub.delivery import CHUNK
from aeries_hub.run.reuse import (
    REPORTS_READ,
    EarlierTables,
    changed_inputs,
    describe_reuse,
    last_successful_run,
    table_inputs,
    take_files,
    tree_sha256,
    written_files,
)
from aeries_hub.run.summary import BuildSummary, SourceValidation
from aeries_hub.staging import RunFolder

INPUTS = {"extracts": {"students": "a" * 64, "rosters": "b" * 64}, "mapping": "c" * 64, "include": "d" * 64,
          "params": "e" * 64, "settings": "f" * 64, "code": "0" * 64, "run_date": "2026-12-04", "school_years": [2026]}


def run_folder(tmp_path, run_id: str) -> RunFolder:
    return RunFolder(ObjectStoragePath(f"file://{tmp_path}"), "aeries_to_stemscopes", run_id)


class StoreReads:
    """What the object store (fsspec's memory store, standing in for s3:// and friends) was asked: the files
    opened for reading, the size of each read (-1: the whole rest) and the copies it made itself."""

    def __init__(self, monkeypatch):
        self.opened: list[str] = []
        self.reads: list[int] = []
        self.copied: list[tuple[str, str]] = []
        store_open, store_copy = MemoryFileSystem._open, MemoryFileSystem.cp_file
        reads = self.reads

        class CountedFile:
            def __init__(self, handle):
                self.handle = handle

            def read(self, size=-1):
                reads.append(size)
                return self.handle.read(size)

            def __getattr__(self, name):
                return getattr(self.handle, name)

            def __enter__(self):
                return self

            def __exit__(self, *_):
                self.handle.close()

        def counted_open(fs, path, mode="rb", **kwargs):
            handle = store_open(fs, path, mode, **kwargs)
            if "r" not in mode:
                return handle
            self.opened.append(path)
            return CountedFile(handle)

        def counted_copy(fs, source, target, **kwargs):
            self.copied.append((source, target))
            return store_copy(fs, source, target, **kwargs)

        monkeypatch.setattr(MemoryFileSystem, "_open", counted_open)
        monkeypatch.setattr(MemoryFileSystem, "cp_file", counted_copy)


@pytest.fixture()
def object_storage(monkeypatch) -> tuple[ObjectStoragePath, StoreReads]:
    attach("memory", fs=fsspec.filesystem("memory"))
    return ObjectStoragePath(f"memory://reuse-test-{uuid.uuid4().hex}/staging"), StoreReads(monkeypatch)


def test_the_same_inputs_change_nothing():
    assert changed_inputs(INPUTS, json.loads(json.dumps(INPUTS))) == []


@pytest.mark.parametrize(("change", "said"), [
    ({"extracts": {**INPUTS["extracts"], "students": "9" * 64}}, ["the extract of students"]),
    ({"extracts": {"students": "a" * 64}}, ["the extract of rosters"]),  # a table no longer extracted
    ({"mapping": "1" * 64}, ["the mapping file"]),
    ({"include": "1" * 64}, ["the crosswalks, check suites or district policy (include/)"]),
    ({"params": "1" * 64, "settings": "2" * 64}, ["the run's params", "the [aeries_hub] settings"]),
    ({"code": "1" * 64}, ["the hub's code or libraries"]),
    ({"run_date": "2026-12-05"}, ["the run's date"]),
    ({"school_years": [2025]}, ["the school year Aeries served"]),
])
def test_each_changed_input_is_named(change, said):
    assert changed_inputs({**INPUTS, **change}, INPUTS) == said


def test_inputs_an_earlier_hub_did_not_record_count_as_changed():
    assert changed_inputs(INPUTS, {k: v for k, v in INPUTS.items() if k != "code"}) == ["the hub's code or libraries"]


def test_a_tree_sha256_covers_names_and_bytes_and_leaves_out_what_it_is_told(tmp_path):
    (tmp_path / "crosswalks").mkdir()
    (tmp_path / "mappings").mkdir()
    (tmp_path / "crosswalks" / "sites.csv").write_text("a,b\n")
    (tmp_path / "mappings" / "x.yml").write_text("one")
    before = tree_sha256(tmp_path, skip=("mappings/",))

    (tmp_path / "mappings" / "x.yml").write_text("two")
    assert tree_sha256(tmp_path, skip=("mappings/",)) == before
    assert tree_sha256(tmp_path) != tree_sha256(tmp_path, skip=("mappings/",))
    (tmp_path / "crosswalks" / "sites.csv").rename(tmp_path / "crosswalks" / "other.csv")
    assert tree_sha256(tmp_path, skip=("mappings/",)) != before


def test_written_files_are_the_sha256s_of_the_files_under_the_prefixes(tmp_path):
    run = run_folder(tmp_path, "manual__1")
    run.write_bytes("validated/students.parquet", b"rows")
    run.write_bytes("rejects/source_students.csv", b"id\n1\n")
    run.write_bytes("rejects/users.csv", b"id\n2\n")
    run.write_bytes("quality/sources/students.validation.json", b"{}")
    assert written_files(run, ("validated/", "rejects/source_", "quality/sources/")) == {
        "quality/sources/students.validation.json": hashlib.sha256(b"{}").hexdigest(),
        "rejects/source_students.csv": hashlib.sha256(b"id\n1\n").hexdigest(),
        "validated/students.parquet": hashlib.sha256(b"rows").hexdigest(),
    }


def test_files_taken_are_hard_links_checked_against_their_sha256(tmp_path):
    previous, run = run_folder(tmp_path, "manual__1"), run_folder(tmp_path, "manual__2")
    previous.write_bytes("validated/students.parquet", b"rows")
    files = written_files(previous, ("validated/",))

    assert take_files(previous, run, files) is None

    taken = run.root / "validated" / "students.parquet"
    assert taken.read_bytes() == b"rows"
    assert os.stat(taken.path).st_ino == os.stat((previous.root / "validated" / "students.parquet").path).st_ino
    assert oct(os.stat(taken.path).st_mode & 0o777) == "0o600"


def test_a_missing_or_different_file_is_said_and_nothing_is_left_taken(tmp_path):
    previous, run = run_folder(tmp_path, "manual__1"), run_folder(tmp_path, "manual__2")
    previous.write_bytes("validated/a.parquet", b"a")
    previous.write_bytes("validated/b.parquet", b"b")
    files = written_files(previous, ("validated/",))
    previous.write_bytes("validated/b.parquet", b"tampered")

    assert take_files(previous, run, files) == "validated/b.parquet of manual__1 is not the file its summary recorded (sha256 differs)"
    assert run.list("validated") == []

    (previous.root / "validated" / "a.parquet").unlink()
    assert take_files(previous, run, files) == "validated/a.parquet of manual__1 is missing"


def test_on_object_storage_the_store_copies_the_files_and_the_check_reads_them_in_chunks(object_storage):
    """A 500,000-student enrollments.csv is ~190 MB: it never passes whole through the task's memory."""
    base, store = object_storage
    previous = RunFolder(base, "aeries_to_stemscopes", "manual__1")
    run = RunFolder(base, "aeries_to_stemscopes", "manual__2")
    data = b"sourcedId,classSourcedId\n" + b"1,2\n" * (CHUNK // 2)
    previous.write_bytes("output/enrollments.csv", data)
    files = written_files(previous, ("output/",))
    assert files == {"output/enrollments.csv": hashlib.sha256(data).hexdigest()}
    store.reads.clear()

    assert take_files(previous, run, files) is None

    assert store.copied == [(str(previous.root.joinpath("output", "enrollments.csv").path),
                             str(run.root.joinpath("output", "enrollments.csv").path))]
    assert store.reads and set(store.reads) == {CHUNK}  # the check's chunks; no read of the whole file
    assert run.root.joinpath("output", "enrollments.csv").read_bytes() == data

    previous.write_bytes("output/enrollments.csv", b"tampered")
    assert take_files(previous, run, files) == (
        "output/enrollments.csv of manual__1 is not the file its summary recorded (sha256 differs)")
    assert run.files() == []


@pytest.mark.parametrize("recorded", ["../manual__9/output/users.csv", "/etc/passwd", "output/../../x.csv",
                                      "output//users.csv", "./output/users.csv", ""])
def test_a_recorded_path_that_leaves_the_run_folder_is_refused_naming_the_run_and_the_path(tmp_path, recorded):
    """A run folder's summary is data from disk: hostile until checked. Nothing is taken, nothing outside is read."""
    previous, run = run_folder(tmp_path, "manual__1"), run_folder(tmp_path, "manual__2")
    previous.write_bytes("output/users.csv", b"sourcedId\n1\n")
    run_folder(tmp_path, "manual__9").write_bytes("output/users.csv", b"another run's\n")
    files = {**written_files(previous, ("output/",)), recorded: "0" * 64}

    with pytest.raises(ValueError) as refused:
        take_files(previous, run, files)

    assert str(refused.value) == (
        f"the summary of run manual__1 records the file {recorded!r}, a path that leaves its run folder (absolute, "
        f"'..' or an empty part): the hub never writes one, so the staging folder was edited; find out by whom, then "
        f"delete the folder {previous.root} so that runs compute their files")
    assert run.files() == []


def write_report(run: RunFolder, status: str, at: datetime) -> None:
    run.write_json("report.json", {"status": status, "generated_at": at.isoformat()})


def test_the_last_run_is_the_newest_report_and_must_have_completed(tmp_path):
    now = datetime.now(timezone.utc)
    current = run_folder(tmp_path, "manual__9")
    write_report(run_folder(tmp_path, "manual__1"), "Completed", now - timedelta(hours=2))
    write_report(run_folder(tmp_path, "manual__2"), "Completed with errors", now - timedelta(hours=1))
    run_folder(tmp_path, "manual__3").write_bytes("summary/validate_sources.json", b"{}")  # running, no report
    assert last_successful_run(current)[0] == "manual__2"  # type: ignore[index]

    write_report(run_folder(tmp_path, "manual__4"), "Error", now)
    assert last_successful_run(current) is None  # the last run failed: nothing is taken from an older one


def test_a_run_older_than_the_retention_period_is_not_taken(tmp_path):
    write_report(run_folder(tmp_path, "manual__1"), "Completed", datetime.now(timezone.utc) - timedelta(days=31))
    assert last_successful_run(run_folder(tmp_path, "manual__2")) is None


def test_on_object_storage_only_the_newest_reports_are_read(object_storage):
    """A DAG keeps hundreds of reports: the newest written decides (an unreadable one is passed over), at most
    REPORTS_READ of them are read, on object storage as on local staging."""
    base, store = object_storage
    now = datetime.now(timezone.utc)
    current = RunFolder(base, "aeries_to_stemscopes", "manual__99")
    for n in range(40):
        write_report(RunFolder(base, "aeries_to_stemscopes", f"manual__{n:02d}"), "Completed", now - timedelta(hours=40 - n))
    RunFolder(base, "aeries_to_stemscopes", "manual__40").write_bytes("report.json", b"{not json")
    RunFolder(base, "aeries_to_stemscopes", "manual__41").write_bytes("summary/validate_sources.json", b"{}")
    store.opened.clear()

    assert last_successful_run(current)[0] == "manual__39"  # type: ignore[index]
    assert [path.rsplit("/", 2)[1] for path in store.opened] == ["manual__40", "manual__39"]

    for n in range(42, 42 + REPORTS_READ):
        RunFolder(base, "aeries_to_stemscopes", f"manual__{n}").write_bytes("report.json", b"")
    store.opened.clear()
    assert last_successful_run(current) is None  # the newest REPORTS_READ are unreadable: the run computes
    assert len(store.opened) == REPORTS_READ


def test_a_store_that_cannot_tell_when_a_report_was_written_makes_the_run_compute(object_storage, monkeypatch,
                                                                                 caplog):
    base, _ = object_storage
    write_report(RunFolder(base, "aeries_to_stemscopes", "manual__1"), "Completed", datetime.now(timezone.utc))

    def cannot_tell(fs, path):
        raise NotImplementedError

    monkeypatch.setattr(MemoryFileSystem, "modified", cannot_tell)
    with caplog.at_level("WARNING", logger="aeries_hub.run.reuse"):
        assert last_successful_run(RunFolder(base, "aeries_to_stemscopes", "manual__2")) is None
    assert "memory cannot tell when a run's report was written: the run computes" in caplog.text



def test_the_report_line_says_what_was_taken_or_why_not():
    builds = {"users": BuildSummary(file="users.csv", reused_from="manual__1"),
              "classes": BuildSummary(file="classes.csv")}
    assert describe_reuse(SourceValidation(reused_from="manual__1"), builds) == (
        "reused from run manual__1 (nothing they depend on changed): the validated tables and users.csv; "
        "built again: classes.csv")
    assert describe_reuse(SourceValidation(recomputed_because="the full_extract param is on"), {}) == (
        "validated and built again: the full_extract param is on")
    assert describe_reuse(SourceValidation(), {}) is None
    partly = SourceValidation(recomputed_because="since the last completed run manual__1: the extract of students changed",
                              tables={"rosters": {"reused_from": "manual__1"}, "students": {},
                                      "sections": {"reused_from": "manual__1"}})
    assert describe_reuse(partly, {}) == (
        "validated and built again: since the last completed run manual__1: the extract of students changed; the "
        "validated rosters, sections taken from run manual__1 (their extracts unchanged)")
    assert describe_reuse(partly, builds) == (
        "validated and built again: since the last completed run manual__1: the extract of students changed; the "
        "validated rosters, sections taken from run manual__1 (their extracts unchanged); users.csv taken from run "
        "manual__1 (what they read unchanged)")


def test_a_tables_inputs_are_its_extract_the_tables_extracted_and_what_its_checks_read():
    import pandas as pd

    students = pd.DataFrame({"SchoolCode": [1, 1], "StudentID": ["10", "11"]}).astype({"StudentID": "string"})
    before = table_inputs("a" * 64, ["students", "rosters"], {"students": students})
    assert table_inputs("a" * 64, ["rosters", "students"], {"students": students.copy()}) == before
    assert table_inputs("b" * 64, ["students", "rosters"], {"students": students}) != before
    assert table_inputs("a" * 64, ["students", "rosters", "sections"], {"students": students}) != before
    assert table_inputs("a" * 64, ["students", "rosters"], {"students": students.iloc[:1]}) != before
    other = students.assign(StudentID=pd.array(["10", "12"], dtype="string"))
    assert table_inputs("a" * 64, ["students", "rosters"], {"students": other}) != before
    assert table_inputs("a" * 64, ["students", "rosters"], {"students": students[["StudentID"]]}) != before


def test_a_table_is_taken_with_its_own_files_only_when_its_inputs_are_the_recorded_ones(tmp_path, caplog):
    previous, run = run_folder(tmp_path, "manual__1"), run_folder(tmp_path, "manual__2")
    for relative in ("validated/rosters.parquet", "rejects/source_rosters.csv", "quality/sources/rosters.validation.json",
                     "validated/students.parquet", "quality/sources/students.validation.json"):
        previous.write_bytes(relative, relative.encode())
    recorded = SourceValidation(tables={"rosters": {"rows": 2, "accepted": 1, "inputs": "1" * 64}},
                                files=written_files(previous, ("validated/", "rejects/source_", "quality/sources/")))
    earlier = EarlierTables("manual__1", recorded, previous)

    assert earlier.take(run, "rosters", "2" * 64) is None
    assert earlier.take(run, "students", "1" * 64) is None  # no inputs recorded for it
    assert run.list("validated") == []

    assert earlier.take(run, "rosters", "1" * 64) == {"rows": 2, "accepted": 1, "inputs": "1" * 64,
                                                       "reused_from": "manual__1"}
    assert run.list("validated") == ["rosters.parquet"]
    assert sorted(run.list("quality/sources")) == ["rosters.validation.json"]
    assert run.list("rejects") == ["source_rosters.csv"]

    again = run_folder(tmp_path, "manual__3")
    previous.write_bytes("rejects/source_rosters.csv", b"tampered")
    assert earlier.take(again, "rosters", "1" * 64) is None
    assert not again.exists("validated/rosters.parquet")
    assert ("validate_sources validates rosters: cannot take the files of manual__1: rejects/source_rosters.csv of "
            "manual__1 is not the file its summary recorded (sha256 differs)") in caplog.text



def test_dry_run_and_full_extract_are_not_inputs_other_params_are():
    """A first delivery takes the files its dry run validated and built; a param that can change them cannot."""
    from types import SimpleNamespace

    from airflow.sdk.execution_time.context import set_current_context

    from aeries_hub.mapping.loader import load_mapping
    from aeries_hub.paths import MAPPINGS_DIR
    from aeries_hub.run.reuse import configuration

    mapping = load_mapping(MAPPINGS_DIR / "destiny.yml")
    dag_run = SimpleNamespace(logical_date=datetime(2026, 12, 4, 8, tzinfo=timezone.utc), run_after=None)
    with set_current_context({"dag_run": dag_run}):
        delivery = configuration(mapping, {"dry_run": False, "rollover_preview": False})
        assert configuration(mapping, {"dry_run": True, "rollover_preview": False, "full_extract": True}) == delivery
        preview = configuration(mapping, {"dry_run": True, "rollover_preview": True})
    assert changed_inputs(preview, delivery) == ["the run's params"]
