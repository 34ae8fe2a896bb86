"""Change tracking by key, the mass-change guard's arithmetic, and the extract-volume check."""

from __future__ import annotations

import hashlib
import io

import pandas as pd
import pytest
from airflow.sdk import ObjectStoragePath

from aeries_hub.changes import (
    DeliveredState,
    LastDelivery,
    ParquetColumns,
    StateUnreadable,
    compare,
    id_sample,
    shown_key,
    unchanged,
)
from aeries_hub.mapping.models import Guard
from aeries_hub.quality.volumes import extract_volumes, volume_drops

COLUMNS = ["id", "school", "name"]


def frame(*rows: tuple) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS)


def test_rows_are_compared_by_key_on_the_delivered_columns():
    before = frame(("1", "100", "Ann"), ("2", "100", "Bo"), ("3", "200", "Cy"))
    after = frame(("2", "100", "Bob"), ("3", "200", "Cy"), ("4", "200", "Di")).assign(not_delivered="x")
    changes = compare(before, after, ("id",), COLUMNS)
    assert (changes.added, changes.changed, changes.removed) == (["4"], ["2"], ["1"])
    assert changes.to_dict() == {
        "rows_before": 3, "rows_after": 3, "added": 1, "changed": 1, "removed": 1, "unchanged": 1,
        "sample_added": ["4"], "sample_changed": ["2"], "sample_removed": ["1"],
    }
    assert changes.to_csv() == b"id,change\n4,added\n2,changed\n1,removed\n"


def test_a_key_with_more_than_ids_shows_only_its_id_columns_in_the_samples():
    """Xello's Educator.txt key is [Email, SchoolCode, EducatorSISId]: the report and the approval show no e-mail."""
    key = ("Email", "SchoolCode", "EducatorSISId")
    columns = [*key, "LastName"]
    before = pd.DataFrame([("ann.lee@x.org", "100", "T1", "Lee"), ("bo.day@x.org", "100", "T2", "Day")], columns=columns)
    after = pd.DataFrame([("bo.day@x.org", "100", "T2", "Day-Ray"), ("cy.ng@x.org", "200", "T3", "Ng")], columns=columns)
    changes = compare(before, after, key, columns)
    assert (changes.added, changes.changed, changes.removed) == (
        ["cy.ng@x.org/200/T3"], ["bo.day@x.org/100/T2"], ["ann.lee@x.org/100/T1"])
    assert changes.to_dict() == {
        "rows_before": 2, "rows_after": 2, "added": 1, "changed": 1, "removed": 1, "unchanged": 0,
        "sample_added": ["200/T3"], "sample_changed": ["100/T2"], "sample_removed": ["100/T1"],
    }
    assert b"cy.ng@x.org/200/T3,added" in changes.to_csv()  # the staged full list keeps the whole key
    names_only = compare(before, after, ("Email",), columns)
    assert [names_only.sample(change) for change in ("added", "changed", "removed")] == [[], [], []]


def test_a_key_column_of_a_restricted_field_is_never_shown_though_it_is_a_code():
    """A file of students' programs keyed [StudentID, ProgramCode]: the code tells who has an IEP (144), so the
    samples show the student ids alone (Output.restricted_columns, from the data-sharing policy)."""
    key = ("StudentID", "ProgramCode")
    before = pd.DataFrame([("1001", "144"), ("1002", "181")], columns=list(key))
    after = pd.DataFrame([("1002", "181"), ("1003", "101")], columns=list(key))
    changes = compare(before, after, key, list(key), restricted=frozenset({"ProgramCode"}))
    assert [changes.sample(change) for change in ("added", "changed", "removed")] == [["1003"], [], ["1001"]]
    assert shown_key(key, frozenset({"ProgramCode"})) == ("StudentID",)
    assert shown_key(key) == key


def test_the_changes_csv_writes_an_id_a_spreadsheet_would_run_as_a_formula_behind_a_quote():
    before = frame(("=HYPERLINK(\"http://x\")", "100", "Ann"), ("-7", "100", "Bo"))
    after = frame(("@SUM(1+1)", "100", "Cy"), ("-7", "100", "Bob"))
    changes = compare(before, after, ("id",), COLUMNS)
    assert changes.to_csv() == b"""id,change\n'@SUM(1+1),added\n-7,changed\n"'=HYPERLINK(""http://x"")",removed\n"""


def test_a_compound_key_is_joined_with_a_slash_and_dtypes_do_not_count_as_changes():
    before = pd.DataFrame({"school": [100, 100], "id": [1, 2], "name": ["Ann", None]})
    after = pd.DataFrame({"school": ["100", "100"], "id": ["1", "2"], "name": ["Ann", ""]})
    changes = compare(before, after, ("school", "id"), ["school", "id", "name"])
    assert (changes.added, changes.changed, changes.removed) == ([], [], [])
    assert compare(None, after, ("school", "id"), ["name"]).added == ["100/1", "100/2"]


def test_of_rows_with_the_same_id_the_first_one_counts_wherever_the_rows_are():
    before = frame(("1", "100", "Ann"), ("2", "100", "Bo"), ("1", "100", "Zed"), ("3", "200", "Cy"), ("5", "200", "Ed"))
    after = frame(("3", "200", "Cy"), ("2", "100", "Bo"), ("2", "100", "Bob"), ("1", "100", "Ann"), ("4", "200", "Di"),
                  ("1", "100", "Al"), ("3", "200", "Cyd"))
    changes = compare(before, after, ("id",), COLUMNS)
    assert (changes.added, changes.changed, changes.removed) == (["4"], [], ["5"])
    assert (changes.rows_before, changes.rows_after) == (4, 4)
    reordered = compare(before, after.iloc[[2, 1, 0, 5, 4, 3, 6]], ("id",), COLUMNS)
    assert (reordered.added, reordered.changed, reordered.removed) == (["4"], ["1", "2"], ["5"])
    assert compare(before, after.iloc[:0], ("id",), COLUMNS).removed == ["1", "2", "3", "5"]
    assert compare(before.iloc[:0], after.iloc[:0], ("id",), COLUMNS).to_dict()["rows_after"] == 0


def test_a_file_of_the_last_snapshots_bytes_is_unchanged_without_comparing_its_rows(tmp_path):
    """track_changes compares no row of a built file whose sha256 is its snapshot's: the counts are compare()'s."""
    state = DeliveredState(ObjectStoragePath(f"file://{tmp_path}"), "aeries_to_destiny", "sftp")
    rows = [("1", "100", "Ann"), ("2", "100", "Bo"), ("1", "100", "Zed")]
    state.save({"patrons": parquet(*rows)}, manifest("manual__1"))
    built = tmp_path / "built.parquet"
    built.write_bytes(parquet(*rows))
    last = state.read()
    assert last.same_snapshot("patrons", built)
    assert unchanged(ParquetColumns(built), ("id",)) == compare(frame(*rows), frame(*rows), ("id",), COLUMNS)
    assert unchanged(ParquetColumns(built), ("school", "id")).to_dict() == {
        "rows_before": 2, "rows_after": 2, "added": 0, "changed": 0, "removed": 0, "unchanged": 2,
        "sample_added": [], "sample_changed": [], "sample_removed": []}
    assert not last.same_snapshot("teachers", built)  # no snapshot of that file
    built.write_bytes(parquet(*rows[:2]))
    assert not last.same_snapshot("patrons", built)
    assert not LastDelivery(None, None, None, []).same_snapshot("patrons", built)


def test_guard_needs_approval_above_either_percentage_once_the_change_reaches_min_rows():
    guard = Guard(max_removed_percent=10, max_changed_percent=30, min_rows=10)
    assert guard.exceeded(rows_before=200, removed=20, changed=60) == []  # exactly at the limits
    assert guard.exceeded(rows_before=200, removed=21, changed=61) == [
        "21 of 200 rows removed (10.5%, guard.max_removed_percent is 10)",
        "61 of 200 rows changed (30.5%, guard.max_changed_percent is 30)",
    ]
    assert guard.exceeded(rows_before=20, removed=9, changed=0) == []  # 45%, but fewer than min_rows rows


def parquet(*rows: tuple) -> bytes:
    buffer = io.BytesIO()
    frame(*rows).to_parquet(buffer, index=False)
    return buffer.getvalue()


def manifest(run_id: str) -> dict:
    return {"run_id": run_id, "delivered_at": "2026-11-30T03:00:00+00:00", "files": {}}


def test_saved_snapshot_is_read_back(tmp_path):
    state = DeliveredState(ObjectStoragePath(f"file://{tmp_path}"), "aeries_to_destiny", "sftp")
    assert state.manifest() is None and state.snapshot("patrons") is None
    data = parquet(("1", "100", "Ann"))
    state.save({"patrons": data}, manifest("manual__1"))
    assert (tmp_path / "aeries_to_destiny" / "_last_delivered" / "sftp" / "patrons.parquet").exists()
    assert state.manifest() == {**manifest("manual__1"), "snapshots": {"patrons": hashlib.sha256(data).hexdigest()}}
    assert state.snapshot("patrons")["name"].tolist() == ["Ann"]
    assert sorted(p.name for p in state_folder(tmp_path).iterdir()) == ["delivered.json", "patrons.parquet"]


def state_folder(tmp_path):
    return tmp_path / "aeries_to_destiny" / "_last_delivered" / "sftp"


def test_a_save_keeps_the_generation_it_replaces_and_a_cut_off_current_one_falls_back_to_it(tmp_path):
    state = DeliveredState(ObjectStoragePath(f"file://{tmp_path}"), "aeries_to_destiny", "sftp")
    state.save({"patrons": parquet(("1", "100", "Ann"))}, manifest("manual__1"))
    state.save({"patrons": parquet(("1", "100", "Ann"), ("2", "100", "Bo"))}, manifest("manual__2"))
    assert state.read().generation == "current" and state.read().manifest["run_id"] == "manual__2"
    current = state_folder(tmp_path) / "patrons.parquet"
    current.write_bytes(current.read_bytes()[:100])  # a save killed while it replaced the file
    last = state.read()
    assert (last.generation, last.manifest["run_id"], last.current) == ("previous", "manual__1", None)
    assert last.problems == [f"file://{current} is not the file delivered.json names (sha256 differs: cut off or "
                             "replaced)"]
    assert last.snapshot_columns("patrons").text("name").to_pylist() == ["Ann"]
    with pytest.raises(StateUnreadable, match=r"patrons.parquet is not the file delivered.json names .*\. Restore "):
        state.manifest()  # a write-back's processed files: never guessed
    # a current generation deleted, the previous one left: the previous one, and why
    (state_folder(tmp_path) / "delivered.json").rename(tmp_path / "aside.json")
    missing = f"file://{state_folder(tmp_path)}/delivered.json is missing beside patrons.parquet"
    assert state.read().problems == [missing]
    assert state.read().manifest["run_id"] == "manual__1"
    (tmp_path / "aside.json").rename(state_folder(tmp_path) / "delivered.json")
    # the next save does not make the unreadable generation the previous one
    state.save({"patrons": parquet(("3", "100", "Cy"))}, manifest("manual__3"))
    assert state.read().manifest["run_id"] == "manual__3"
    assert state._load(state.root / "previous")["run_id"] == "manual__1"


@pytest.mark.parametrize("content, problem", [
    (b"null", "delivered.json holds null, not a record of a delivery"),
    (b"{}", "delivered.json lacks run_id, delivered_at, files (a record of a delivery has run_id, delivered_at, "
            "files)"),
    (b'{"run_id": "manual__1", "delivered_at": "2026-11-30", "files": []}',
     "delivered.json lacks files (a record of a delivery has run_id, delivered_at, files)"),
    (b'{"run_id": "manual__1", "deliv',
     "delivered.json is not valid JSON (Unterminated string starting at: line 1 column 25 (char 24))"),
])
def test_a_manifest_that_is_not_a_record_of_a_delivery_is_unreadable_not_a_first_delivery(tmp_path, content, problem):
    state = DeliveredState(ObjectStoragePath(f"file://{tmp_path}"), "aeries_to_destiny", "sftp")
    state.save({"patrons": parquet(("1", "100", "Ann"))}, manifest("manual__1"))
    (state_folder(tmp_path) / "delivered.json").write_bytes(content)
    last = state.read()
    assert last.unreadable and last.manifest is None
    assert last.problems == [f"file://{state_folder(tmp_path)}/{problem}"]


def test_a_dry_run_marker_is_no_record_of_a_delivery_and_no_damage_to_one(tmp_path):
    state = DeliveredState(ObjectStoragePath(f"file://{tmp_path}"), "aeries_to_destiny", "sftp")
    assert state.dry_run() is None
    state.save_dry_run("manual__dry", "2026-12-03T08:00:00+00:00")
    assert state.read() == LastDelivery(None, None, None, [])  # a first delivery, not a lost record
    assert state.manifest() is None
    assert state.dry_run() == {"run_id": "manual__dry", "at": "2026-12-03T08:00:00+00:00"}
    # beside a snapshot whose manifest is gone, only the snapshot is named
    (state_folder(tmp_path) / "patrons.parquet").write_bytes(parquet(("1", "100", "Ann")))
    assert state.read().problems == [f"file://{state_folder(tmp_path)}/delivered.json is missing beside patrons.parquet"]
    # a delivery keeps the marker out of its generations
    (state_folder(tmp_path) / "patrons.parquet").unlink()
    state.save({"patrons": parquet(("1", "100", "Ann"))}, manifest("manual__1"))
    state.save({"patrons": parquet(("1", "100", "Ann"))}, manifest("manual__2"))
    assert (state.read().manifest["run_id"], state.read().problems) == ("manual__2", [])
    assert sorted(p.name for p in (state_folder(tmp_path) / "previous").iterdir()) == ["delivered.json", "patrons.parquet"]
    assert state.dry_run()["run_id"] == "manual__dry"


@pytest.mark.parametrize("content", [b"null", b"{}", b'{"run_id": "manual__dry"', b'{"run_id": 7, "at": "x"}'])
def test_an_unreadable_dry_run_marker_counts_as_no_dry_run(tmp_path, content):
    state = DeliveredState(ObjectStoragePath(f"file://{tmp_path}"), "aeries_to_destiny", "sftp")
    state.save_dry_run("manual__dry", "2026-12-03T08:00:00+00:00")
    (state_folder(tmp_path) / "dry_run.json").write_bytes(content)
    assert state.dry_run() is None
    assert state.read().problems == []


def test_an_id_sample_is_the_first_distinct_ids_of_the_columns_asked_for(tmp_path):
    path = tmp_path / "groups.parquet"
    path.write_bytes(parquet(("7", "200", "Homeroom B"), ("12", "100", "Homeroom A"), ("7", "200", "Homeroom C"),
                             ("3", "100", "Homeroom A")))
    assert id_sample(ObjectStoragePath(f"file://{path}"), ("school", "id")) == (["100/12", "100/3", "200/7"], 3)
    assert id_sample(ObjectStoragePath(f"file://{path}"), ("id",), size=2) == (["12", "3"], 3)


def test_state_files_are_private_whatever_the_umask(tmp_path):
    import os
    import stat

    saved = os.umask(0)
    try:
        state = DeliveredState(ObjectStoragePath(f"file://{tmp_path}"), "aeries_to_destiny", "sftp")
        state.save({"patrons": parquet(("1", "100", "Ann"))}, manifest("manual__1"))
        state.save({"patrons": parquet(("1", "100", "Ann"))}, manifest("manual__2"))
    finally:
        os.umask(saved)
    modes = {p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in tmp_path.rglob("*")}
    assert modes == {
        "aeries_to_destiny": 0o700, "aeries_to_destiny/_last_delivered": 0o700,
        "aeries_to_destiny/_last_delivered/sftp": 0o700,
        "aeries_to_destiny/_last_delivered/sftp/delivered.json": 0o600,
        "aeries_to_destiny/_last_delivered/sftp/patrons.parquet": 0o600,
        "aeries_to_destiny/_last_delivered/sftp/previous": 0o700,
        "aeries_to_destiny/_last_delivered/sftp/previous/delivered.json": 0o600,
        "aeries_to_destiny/_last_delivered/sftp/previous/patrons.parquet": 0o600,
    }


def test_volume_drop_names_the_table_or_school_and_the_last_delivery():
    before = extract_volumes({
        "students": pd.DataFrame({"SchoolCode": [100] * 50 + [200] * 30 + [300] * 3}),
        "staff": pd.DataFrame({"ID": range(40)}),
    })
    assert before["students"] == {"rows": 83, "by_school": {"100": 50, "200": 30, "300": 3}}
    now = extract_volumes({
        "students": pd.DataFrame({"SchoolCode": [100] * 49 + [200] * 2}),  # 200 fell under 10%, 300 is gone
        "staff": pd.DataFrame({"ID": []}),
    })
    assert volume_drops(now, before, "scheduled__1") == [
        "staff: Aeries returned 0 rows, 40 at the last delivery (scheduled__1)",
        "students: school 200 has 2 rows, 30 at the last delivery (scheduled__1)",
        "students: school 300 has 0 rows, 3 at the last delivery (scheduled__1)",
    ]
    assert volume_drops(now, {}, "") == []  # no earlier delivery: nothing to compare with
