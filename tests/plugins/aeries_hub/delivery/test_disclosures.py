"""The disclosure log (delivery.disclosures): one line per file a vendor received, with its columns' Aeries fields and
no values; appended whole by concurrent runs; one object per delivery on object storage."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
from datetime import datetime, timezone

import pytest
from airflow.sdk import ObjectStoragePath

from aeries_hub.delivery.disclosures import (
    DISCLOSURE_FOLDER,
    LOG_FILE,
    disclosure_entries,
    latest_disclosures,
    read_disclosures,
    record_disclosures,
)
from aeries_hub.mapping.loader import load_mapping
from aeries_hub.paths import MAPPINGS_DIR

AT = datetime(2026, 12, 3, 13, 5, 7, tzinfo=timezone.utc)
DESTINY = load_mapping(MAPPINGS_DIR / "destiny.yml")
SFTP_RECEIPT = {"file": "patrons.csv", "rows": 2167, "conn_id": "destiny_sftp", "remote_path": "patrons/patrons.csv",
                "bytes": 460721, "sha256": "ab" * 32, "seconds": 0.2, "already_there": False}


def test_an_entry_names_the_vendor_target_file_columns_and_fields_and_counts_records():
    [entry] = disclosure_entries(DESTINY, [SFTP_RECEIPT], "scheduled__2026-12-03T13:00:00+00:00", "sftp", at=AT)
    fields = entry.pop("fields")
    assert entry == {
        "at": "2026-12-03T13:05:07+00:00", "dag_id": "aeries_to_destiny", "vendor": "Follett Destiny patrons",
        "run_id": "scheduled__2026-12-03T13:00:00+00:00", "target": "sftp", "conn_id": "destiny_sftp",
        "location": "patrons/patrons.csv", "file": "patrons.csv", "sha256": "ab" * 32, "records": 2167,
        "test_record": False,
    }
    assert list(fields) == ["patrons.csv"]
    assert list(fields["patrons.csv"]) == [*DESTINY.outputs[0].delivered_columns, "(which rows)"]  # no field_password
    assert fields["patrons.csv"]["(which rows)"] == [  # who is in the file: active students and current teachers
        "students.InactiveStatusCode", "students.SchoolCode", "teachers.InactiveStatusCode",
        "teachers.SectionStaffEndDate", "teachers.SectionStaffStartDate"]
    assert fields["patrons.csv"]["field_birthdate"] == ["students.Birthdate"]
    assert fields["patrons.csv"]["field_patronType"] == []
    assert fields["patrons.csv"]["field_emailPrimary"] == ["staff.EmailAddress", "students.StudentEmailAddress",
                                                           "teachers.EmailAddress"]


def test_a_file_the_target_already_held_is_no_new_disclosure():
    assert disclosure_entries(DESTINY, [{**SFTP_RECEIPT, "already_there": True}], "r", "sftp") == []


def test_a_zip_carries_every_output_and_a_jsonl_its_nested_files():
    stemscopes = load_mapping(MAPPINGS_DIR / "stemscopes.yml")
    receipt = {**SFTP_RECEIPT, "file": "stemscopes_oneroster.zip", "rows": 14809}
    [entry] = disclosure_entries(stemscopes, [receipt], "r", "sftp", at=AT)
    assert list(entry["fields"]) == [output.file for output in stemscopes.outputs]
    assert entry["fields"]["demographics.csv"]["birthDate"] == ["students.Birthdate"]

    enroll = load_mapping(MAPPINGS_DIR / "schoolmint_enroll.yml")
    receipt = {"file": "students.jsonl", "rows": 1884, "records_sent": 1, "conn_id": "schoolmint_enroll_sandbox",
               "url": "http://127.0.0.1:1/sandbox/api/v1/students/import", "sha256": "cd" * 32, "test_record": "1001"}
    [entry] = disclosure_entries(enroll, [receipt], "r", "sandbox", at=AT)
    assert (entry["records"], entry["test_record"], entry["location"]) == (1, True, receipt["url"])
    assert list(entry["fields"]) == ["students.jsonl", "guardians.jsonl", "emergency_contacts.jsonl"]
    assert entry["fields"]["guardians.jsonl"]["email"] == ["contacts.EmailAddress"]
    assert "1001" not in json.dumps(entry)  # the test record's id is a value: not logged


def _append_many(base: str, writer: int, entries: int) -> None:
    for n in range(entries):
        # Each entry is larger than an atomic pipe write (4 kB), so that only O_APPEND and the lock keep it whole.
        record_disclosures(ObjectStoragePath(f"file://{base}"), [
            {"at": f"2026-12-03T13:{writer:02d}:{n:02d}+00:00", "dag_id": f"dag_{writer}", "run_id": f"run_{n}",
             "file": "x.csv", "records": n, "fields": {"x.csv": {"c": ["students." + "X" * 20_000]}}},
        ])


def test_concurrent_runs_append_whole_lines_to_one_private_file(tmp_path):
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_append_many, args=(str(tmp_path), writer, 25)) for writer in range(6)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(60)
        assert process.exitcode == 0
    log = tmp_path / DISCLOSURE_FOLDER / LOG_FILE
    lines = log.read_bytes().split(b"\n")
    assert lines.pop() == b""
    entries = [json.loads(line) for line in lines]  # a cut or interleaved line would not parse
    assert sorted((e["dag_id"], e["records"]) for e in entries) == sorted(
        (f"dag_{writer}", n) for writer in range(6) for n in range(25))
    for writer in range(6):  # each run's entries in the order it appended them
        assert [e["records"] for e in entries if e["dag_id"] == f"dag_{writer}"] == list(range(25))
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(log.parent).st_mode) == 0o700
    assert len(read_disclosures(ObjectStoragePath(f"file://{tmp_path}"), "dag_3")) == 25


def test_on_object_storage_each_delivery_is_one_object_read_with_the_rest():
    import fsspec
    from airflow.sdk.io import attach

    attach("memory", fs=fsspec.filesystem("memory"))  # stands in for s3:// and friends
    base = ObjectStoragePath("memory://disclosure-test/staging")
    first = disclosure_entries(DESTINY, [SFTP_RECEIPT], "scheduled__2026-12-03T13:00:00+00:00", "sftp", at=AT)
    later = disclosure_entries(DESTINY, [SFTP_RECEIPT], "manual__2026-12-04", "sftp",
                               at=datetime(2026, 12, 4, tzinfo=timezone.utc))
    record_disclosures(base, later)
    record_disclosures(base, first)
    assert sorted(p.name for p in (base / DISCLOSURE_FOLDER).iterdir()) == [
        "2026-12-03T130507+0000_aeries_to_destiny_scheduled__2026-12-03T13_00_00_00_00.jsonl",
        "2026-12-04T000000+0000_aeries_to_destiny_manual__2026-12-04.jsonl",
    ]
    assert read_disclosures(base) == first + later
    assert read_disclosures(base, "aeries_to_xello") == []


def _entry(n: int, dag_id: str) -> dict:
    return {"at": f"2026-{1 + n // 28 // 24 % 12:02d}-{1 + n // 24 % 28:02d}T{n % 24:02d}:00:00+00:00", "dag_id": dag_id,
            "run_id": f"run_{n}", "file": "x.csv", "records": n, "fields": {"x.csv": {"c": ["students.StudentID"]}}}


def test_the_latest_entries_of_a_dag_are_read_from_the_end_of_a_large_log(tmp_path):
    # 1 GiB of a log nobody could read (a hole of zero bytes, not JSON), then 6,000 deliveries of three DAGs: the
    # page's read takes only the end, never the rest.
    base = ObjectStoragePath(f"file://{tmp_path}")
    folder = tmp_path / DISCLOSURE_FOLDER
    folder.mkdir()
    with open(folder / LOG_FILE, "wb") as log:
        log.truncate(1024**3)
    dags = ("aeries_to_destiny", "aeries_to_xello", "aeries_to_stemscopes")
    record_disclosures(base, [_entry(n, dags[n % 3]) for n in range(6000)])

    entries, more = latest_disclosures(base, "aeries_to_xello", 100)
    assert ([e["run_id"] for e in entries], more) == ([f"run_{n}" for n in range(5998, 5998 - 300, -3)], True)
    # A DAG whose deliveries are all further back than the bytes read: none shown, and the log may hold some.
    record_disclosures(base, [_entry(6000, "aeries_to_powerschool_learning")])
    record_disclosures(base, [_entry(n, "aeries_to_destiny") for n in range(6001, 6400)])
    assert latest_disclosures(base, "aeries_to_powerschool_learning", 100, budget=64 * 1024) == ([], True)
    [found], more = latest_disclosures(base, "aeries_to_powerschool_learning", 100)
    assert (found["run_id"], more) == ("run_6000", True)  # found in the default 8 MiB; the hole is further back


def test_a_whole_small_log_is_read_to_its_start_and_a_line_not_yet_complete_is_left_out(tmp_path):
    base = ObjectStoragePath(f"file://{tmp_path}")
    record_disclosures(base, [_entry(n, "aeries_to_destiny") for n in range(3)])
    with open(tmp_path / DISCLOSURE_FOLDER / LOG_FILE, "ab") as log:
        log.write(b'{"at": "2026-12-31T00:00:00+00:00", "dag_id": "aeries_to_destiny", "run_id": "run_')  # appending
    entries, more = latest_disclosures(base, "aeries_to_destiny", 100)
    assert ([e["run_id"] for e in entries], more) == (["run_2", "run_1", "run_0"], False)
    assert latest_disclosures(base, "aeries_to_destiny", 2)[1] is True
    assert latest_disclosures(ObjectStoragePath(f"file://{tmp_path}/none"), "aeries_to_destiny", 2) == ([], False)


def test_a_torn_last_line_is_left_out_and_the_next_delivery_starts_a_line_of_its_own(tmp_path):
    # A full disk cut the last append short (_append raised): the line has no newline. Reading leaves it out; the
    # next delivery's line must not be glued onto it.
    base = ObjectStoragePath(f"file://{tmp_path}")
    record_disclosures(base, [_entry(0, "aeries_to_destiny")])
    torn = b'{"at": "2026-01-01T01:00:00+00:00", "dag_id": "aeries_to_destiny", "run_id": "run_'
    with open(tmp_path / DISCLOSURE_FOLDER / LOG_FILE, "ab") as log:
        log.write(torn)
    assert [e["run_id"] for e in read_disclosures(base)] == ["run_0"]

    record_disclosures(base, [_entry(2, "aeries_to_destiny")])
    lines = (tmp_path / DISCLOSURE_FOLDER / LOG_FILE).read_bytes().split(b"\n")
    assert lines[1:] == [torn, json.dumps(_entry(2, "aeries_to_destiny"), sort_keys=True).encode(), b""]


def test_a_line_that_is_not_json_before_the_end_is_an_error_naming_the_file_and_line(tmp_path):
    base = ObjectStoragePath(f"file://{tmp_path}")
    record_disclosures(base, [_entry(0, "aeries_to_destiny")])
    with open(tmp_path / DISCLOSURE_FOLDER / LOG_FILE, "ab") as log:
        log.write(b'{"at": "2026-01-01T01:00:00+00:00", "dag_id": "aeries_to_dest\n\n')
    record_disclosures(base, [_entry(2, "aeries_to_destiny")])
    path = base / DISCLOSURE_FOLDER / LOG_FILE
    with pytest.raises(ValueError) as error:
        read_disclosures(base)
    assert str(error.value) == (
        f"{path}: line 2 of the disclosure log is not JSON (61 bytes): a line cut short by a full disk (the "
        "deliver task of that run failed saying so, naming its files) or a damaged file: rewrite the line whole "
        "from that run's deliver log or delete it, then read again")
    assert [e["run_id"] for e in latest_disclosures(base, "aeries_to_destiny", 10)[0]] == ["run_2", "run_0"]
