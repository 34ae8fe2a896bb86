"""Change tracking by key, the mass-change guard's arithmetic, and the extract-volume check."""

from __future__ import annotations

import io

import pandas as pd
from airflow.sdk import ObjectStoragePath

from aeries_hub.changes import DeliveredState, compare, extract_volumes, volume_drops
from aeries_hub.mapping.loader import Guard

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


def test_guard_needs_approval_above_either_percentage_once_the_change_reaches_min_rows():
    guard = Guard(max_removed_percent=10, max_changed_percent=30, min_rows=10)
    assert guard.exceeded(rows_before=200, removed=20, changed=60) == []  # exactly at the limits
    assert guard.exceeded(rows_before=200, removed=21, changed=61) == [
        "21 of 200 rows removed (10.5%, guard.max_removed_percent is 10)",
        "61 of 200 rows changed (30.5%, guard.max_changed_percent is 30)",
    ]
    assert guard.exceeded(rows_before=20, removed=9, changed=0) == []  # 45%, but fewer than min_rows rows


def test_saved_snapshot_is_read_back(tmp_path):
    state = DeliveredState(ObjectStoragePath(f"file://{tmp_path}"), "aeries_to_destiny", "sftp")
    assert state.manifest() is None and state.snapshot("patrons") is None
    data = frame(("1", "100", "Ann"))
    buffer = io.BytesIO()
    data.to_parquet(buffer, index=False)
    state.save({"patrons": buffer.getvalue()}, {"run_id": "manual__1", "files": {}})
    assert (tmp_path / "aeries_to_destiny" / "_last_delivered" / "sftp" / "patrons.parquet").exists()
    assert state.manifest() == {"run_id": "manual__1", "files": {}}
    assert state.snapshot("patrons")["name"].tolist() == ["Ann"]


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
