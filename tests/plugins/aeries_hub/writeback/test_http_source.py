"""The write-back's HTTP source (``source.http``): the vendor's export API, here the vendor-API receiver
(aeries_sandbox.vendor_api) over real HTTP on localhost. Listing, fetching, the token, retries, and a file
already written into Aeries being skipped as with the SFTP source."""

from __future__ import annotations

import hashlib
import json
import secrets

import pytest
import yaml

from aeries_hub.config_files import read_yaml
from aeries_hub.delivery import DeliveryError
from aeries_hub.mapping.models import MappingError
from aeries_hub.paths import WRITEBACKS_DIR
from aeries_hub.tasks import writeback as tasks
from aeries_hub.writeback import sources, state
from aeries_hub.writeback.loader import load_writeback

CONN_ID = "enroll_export_test"
TOKEN = secrets.token_urlsafe(24)
RECORD = b'{"students": {"enroll_id": "E-1", "state_id": "9900000001"}}\n'


def enroll_yml(tmp_path, source: dict) -> str:
    document = read_yaml(WRITEBACKS_DIR / "schoolmint_enroll.yml", shown="schoolmint_enroll.yml", error=ValueError)
    document["source"] = source
    path = tmp_path / "schoolmint_enroll.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@pytest.fixture
def writeback(tmp_path):
    return load_writeback(enroll_yml(tmp_path, {"http": {"conn_id": CONN_ID, "endpoint": "/api/v1/exports", "format": "jsonl"}}))


def read_all(writeback, **options) -> dict[str, bytes]:
    options.setdefault("sleep", lambda seconds: None)
    return {name: read()[0] for name, _sha, read in sources.http_exports(writeback, **options)}


def test_loader_reads_the_http_source(writeback):
    assert (writeback.source, writeback.http_conn_id, writeback.endpoint, writeback.format) == (
        "http", CONN_ID, "/api/v1/exports", "jsonl")
    assert (writeback.sftp_conn_id, writeback.remote_dir, writeback.pattern) == ("", "", "")


def test_loader_wants_exactly_one_source_and_names_the_key_path(tmp_path):
    both = {"sftp": {"conn_id": "x", "remote_dir": "d"}, "http": {"conn_id": CONN_ID, "endpoint": "/e"}}
    for source, expected in ((both, "schoolmint_enroll.yml:56: source: give exactly one of: sftp, http (it has both)"),
                             ({}, "schoolmint_enroll.yml:56: source: give exactly one of: sftp, http (it has neither)")):
        with pytest.raises(MappingError) as err:
            load_writeback(enroll_yml(tmp_path, source))
        assert str(err.value) == expected
    with pytest.raises(MappingError, match=r"schoolmint_enroll.yml:57: source.http: .*'endpoint'"):
        load_writeback(enroll_yml(tmp_path, {"http": {"conn_id": CONN_ID}}))
    with pytest.raises(MappingError, match=r"source.http: unknown key 'remote_dir'"):
        load_writeback(enroll_yml(tmp_path, {"http": {"conn_id": CONN_ID, "endpoint": "/e", "remote_dir": "d"}}))


def test_lists_and_fetches_every_export_file_by_name(api, writeback):
    api.put_export("sandbox", "enroll_2026-12-02.jsonl", RECORD * 2)
    api.put_export("sandbox", "enroll_2026-12-01.jsonl", RECORD)
    api.put_export("production", "elsewhere.jsonl", b"{}\n")
    listed = [(name, sha) for name, sha, _read in sources.http_exports(writeback)]
    assert listed == [("enroll_2026-12-01.jsonl", hashlib.sha256(RECORD).hexdigest()),
                      ("enroll_2026-12-02.jsonl", hashlib.sha256(RECORD * 2).hexdigest())]
    assert read_all(writeback) == {"enroll_2026-12-01.jsonl": RECORD, "enroll_2026-12-02.jsonl": RECORD * 2}


def test_a_wrong_token_names_the_connection_and_url_never_the_token(api, writeback, monkeypatch):
    conn = api.airflow_connection(CONN_ID, "sandbox", "wrong-" + TOKEN)
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
    with pytest.raises(DeliveryError) as err:
        read_all(writeback)
    message = str(err.value)
    assert f"http connection {CONN_ID!r} ({api.url}/sandbox/api/v1/exports) answered HTTP 401" in message
    assert "check the API token" in message and TOKEN not in message


def test_a_503_then_200_is_retried(api, writeback):
    api.put_export("sandbox", "a.jsonl", RECORD)
    api.set_faults({"503": 1.0}, max_faults=1)
    waits = []
    assert read_all(writeback, sleep=waits.append) == {"a.jsonl": RECORD}
    assert len(waits) == 1
    assert api.state("sandbox")["by_status"] == {"200": 2, "503": 1}


def test_keeps_failing_is_a_retryable_error(api, writeback):
    api.put_export("sandbox", "a.jsonl", RECORD)
    api.set_faults({"503": 1.0})
    with pytest.raises(DeliveryError, match="kept failing after 3 attempts") as err:
        read_all(writeback, max_attempts=3)
    assert err.value.retryable


def test_fetch_exports_stages_new_files_and_skips_one_already_written(api, writeback, tmp_path, monkeypatch):
    from airflow.sdk import ObjectStoragePath

    from aeries_hub.staging import RunFolder

    run = RunFolder(ObjectStoragePath(f"file://{tmp_path}/staging"), writeback.dag_id, "run-1")
    written = hashlib.sha256(RECORD).hexdigest()

    class Written:
        def manifest(self):
            return {"files": {written: {"run_id": "run-0"}}}

    monkeypatch.setattr(tasks, "writeback_for", lambda _file: writeback)
    monkeypatch.setattr(tasks.RunFolder, "current", classmethod(lambda cls: run))
    monkeypatch.setattr(state, "processed_state", lambda _writeback: Written())
    monkeypatch.setattr(state, "quarantine_state", lambda _writeback: Written())
    api.put_export("sandbox", "old.jsonl", RECORD)
    api.put_export("sandbox", "new.jsonl", RECORD * 3)
    fetched = tasks.fetch_exports("schoolmint_enroll.yml")
    summary = run.read_json("summary/fetch_exports.json")
    assert summary == {
        "files": [{"file": "new.jsonl", "sha256": hashlib.sha256(RECORD * 3).hexdigest(), "bytes": len(RECORD) * 3}],
        "skipped": [{"file": "old.jsonl", "sha256": written, "written_by": "run-0"}],
        "quarantined": [],
    }
    assert run.path("inbound", "new.jsonl").read_bytes() == RECORD * 3
    assert not run.path("inbound", "old.jsonl").exists()
    assert fetched == {"files": summary["files"]}  # what validate_exports takes
