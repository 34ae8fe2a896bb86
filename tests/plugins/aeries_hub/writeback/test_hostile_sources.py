"""A write-back's source is a server the district does not control: every name and byte from it is untrusted.

Hostile SFTP and HTTP servers on localhost (tests/plugins/aeries_hub/writeback/hostile_servers.py) list names
that climb out of the staging folder, serve files larger than the limit, trickle one byte at a time, and the
SFTP connection may ask for no host key checking. ``fetch_exports`` runs for real against them (only the Airflow
context is stood in for); nothing may land outside the run's folder, the good file beside a bad one is still
fetched, and each refusal names the connection, the folder and the name.
"""

from __future__ import annotations

import hashlib
import json
import time

import pytest
import yaml

from aeries_hub.config_files import read_yaml
from aeries_hub.delivery import DeliveryError
from aeries_hub.paths import WRITEBACKS_DIR
from aeries_hub.tasks import writeback as tasks
from aeries_hub.writeback import sources, state
from aeries_hub.writeback.loader import load_writeback
from aeries_hub.writeback.records import unreadable_file
from tests.plugins.aeries_hub.writeback.hostile_servers import HostileHttpServer, HostileSftpServer

SFTP_CONN, HTTP_CONN = "hostile_export_sftp", "hostile_export_api"
GOOD = "CourseRequests_2027-03-01.txt"
GOOD_DATA = b"StudentID|SchoolCode|CourseCode|IsAlternate\n501|300|0001|0\n"
#: Names a vendor's listing may give that must never become a staged path (all match CourseRequests*).
CLIMBING = "CourseRequests/../../../dags/evil_dag.py"
HOSTILE_NAMES = [CLIMBING, "CourseRequests\\..\\..\\evil.py", "CourseRequests..", "CourseRequests\x00.txt",
                 "CourseRequests/evil.txt"]
RULE = ("not a plain file name (letters, digits, '_', '.', '-' and spaces, at most 255 characters, not hidden, "
        "no '/', '\\', '..' or NUL)")


def xello(tmp_path, source: dict) -> str:
    document = read_yaml(WRITEBACKS_DIR / "xello.yml", shown="xello.yml", error=ValueError)
    document["source"] = source
    path = tmp_path / "xello.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def sftp_source(**limits) -> dict:
    return {"sftp": {"conn_id": SFTP_CONN, "remote_dir": "xello_export", "pattern": "CourseRequests*",
                     "format": "csv", "delimiter": "|", **limits}}


def http_source(**limits) -> dict:
    return {"http": {"conn_id": HTTP_CONN, "endpoint": "/api/v1/exports", "format": "csv", "delimiter": "|",
                     **limits}}


@pytest.fixture
def fetch(tmp_path, monkeypatch):
    """``fetch(source) -> (summary, run)``: fetch_exports of a xello write-back reading ``source``, staged under
    tmp_path/staging (run ``run-1``), with the state of earlier runs under the same base."""
    import airflow.sdk
    from airflow.sdk import ObjectStoragePath

    from aeries_hub.changes import DeliveredState
    from aeries_hub.staging import RunFolder

    base = ObjectStoragePath(f"file://{tmp_path}/staging")

    def run_fetch(source: dict, run_id: str = "run-1"):
        writeback = load_writeback(xello(tmp_path, source))
        run = RunFolder(base, writeback.dag_id, run_id)
        monkeypatch.setattr(tasks, "writeback_for", lambda _file: writeback)
        monkeypatch.setattr(tasks.RunFolder, "current", classmethod(lambda cls: run))
        monkeypatch.setattr(state, "processed_state", lambda w: DeliveredState(base, w.dag_id, "inbound"))
        monkeypatch.setattr(state, "quarantine_state", lambda w: DeliveredState(base, w.dag_id, "quarantine"))
        monkeypatch.setattr(airflow.sdk, "get_current_context", lambda: {"run_id": run_id})
        tasks.fetch_exports("xello.yml")
        return run.read_json("summary/fetch_exports.json"), run

    return run_fetch


def files_under(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def refusal(where: str, name: str) -> dict:
    return {"file": name, "reason": f"{where}: export file name {name!r} refused: {RULE}; it was not fetched "
                                    "(ask the vendor to rename it)"}


@pytest.mark.parametrize("names", [[CLIMBING], HOSTILE_NAMES], ids=["climbing", "every-hostile-name"])
def test_listed_names_that_climb_out_of_staging_are_refused_and_the_good_file_is_fetched(fetch, monkeypatch,
                                                                                         tmp_path, names):
    files = {GOOD: GOOD_DATA, **{name: b"print('owned')\n" for name in names}, ".CourseRequests": b"x"}
    with HostileSftpServer(files, folder="xello_export") as server:
        monkeypatch.setenv(f"AIRFLOW_CONN_{SFTP_CONN.upper()}", json.dumps(server.airflow_connection()))
        summary, run = fetch(sftp_source())
    assert files_under(tmp_path / "staging") == [
        f"xello_to_aeries/run-1/inbound/{GOOD}", "xello_to_aeries/run-1/summary/fetch_exports.json"]
    assert not list(tmp_path.rglob("evil*"))
    assert summary["files"] == [{"file": GOOD, "sha256": hashlib.sha256(GOOD_DATA).hexdigest(),
                                 "bytes": len(GOOD_DATA)}]
    # .CourseRequests does not match the pattern CourseRequests*: not listed as the vendor's export at all.
    where = f"sftp connection {SFTP_CONN!r} folder 'xello_export'"
    assert summary["quarantined"] == [refusal(where, name) for name in sorted(names)]
    assert ("open", GOOD) in server.requests
    assert not [name for kind, name in server.requests if kind == "open" and name != GOOD]  # never even read


def test_the_http_source_refuses_the_same_names_with_the_same_rule(fetch, monkeypatch, tmp_path):
    listing = [{"name": GOOD, "path": "/files/good"}] + [
        {"name": name, "path": f"/files/{position}"} for position, name in enumerate(HOSTILE_NAMES)]
    files = {"/files/good": GOOD_DATA, **{f"/files/{i}": b"print('owned')\n" for i in range(len(HOSTILE_NAMES))}}
    with HostileHttpServer(listing, files) as server:
        monkeypatch.setenv(f"AIRFLOW_CONN_{HTTP_CONN.upper()}", json.dumps(server.airflow_connection()))
        summary, run = fetch(http_source())
    where = f"http connection {HTTP_CONN!r} endpoint '/api/v1/exports'"
    assert [f["file"] for f in summary["files"]] == [GOOD]
    assert summary["quarantined"] == [refusal(where, name) for name in sorted(HOSTILE_NAMES)]
    assert files_under(tmp_path / "staging") == [
        f"xello_to_aeries/run-1/inbound/{GOOD}", "xello_to_aeries/run-1/summary/fetch_exports.json"]
    assert server.requests == ["/api/v1/exports", "/files/good"]


def test_the_staged_path_is_checked_again_where_it_is_written(tmp_path):
    from airflow.sdk import ObjectStoragePath

    from aeries_hub.staging import RunFolder

    run = RunFolder(ObjectStoragePath(f"file://{tmp_path}/staging"), "xello_to_aeries", "run-1")
    assert sources.staged_path(run, "inbound", GOOD) == f"inbound/{GOOD}"
    with pytest.raises(ValueError) as err:
        sources.staged_path(run, "inbound", CLIMBING)
    assert str(err.value) == f"export file name {CLIMBING!r} may not be staged: {RULE}"


@pytest.mark.parametrize("lie_about_size", [False, True], ids=["listed-size", "streamed"])
def test_a_file_larger_than_max_file_bytes_is_refused_without_reading_it_all(fetch, monkeypatch, tmp_path,
                                                                            lie_about_size):
    huge = "CourseRequests_huge.txt"
    with HostileSftpServer({GOOD: GOOD_DATA}, huge={huge: 50 * 1024 * 1024},
                           lie_about_size=lie_about_size) as server:
        monkeypatch.setenv(f"AIRFLOW_CONN_{SFTP_CONN.upper()}", json.dumps(server.airflow_connection()))
        summary, run = fetch(sftp_source(max_file_bytes=1_000_000))
    assert [f["file"] for f in summary["files"]] == [GOOD]
    assert summary["quarantined"] == [{"file": huge, "reason": (
        f"sftp connection {SFTP_CONN!r} (127.0.0.1:{server.port}): export file 'xello_export/{huge}' is larger "
        "than 1000000 bytes (xello.yml source.sftp.max_file_bytes); it was not fetched (ask the vendor to split "
        "it, or raise max_file_bytes)")}]
    assert server.bytes_served < 1_200_000 + len(GOOD_DATA)
    assert not (run.root / "inbound" / huge).exists()


def test_an_endless_http_file_is_refused_past_max_file_bytes(fetch, monkeypatch):
    listing = [{"name": GOOD, "path": "/files/good"}, {"name": "CourseRequests_endless.txt", "path": "/endless"}]
    with HostileHttpServer(listing, {"/files/good": GOOD_DATA}) as server:
        monkeypatch.setenv(f"AIRFLOW_CONN_{HTTP_CONN.upper()}", json.dumps(server.airflow_connection()))
        summary, _run = fetch(http_source(max_file_bytes=1_000_000))
    assert [f["file"] for f in summary["files"]] == [GOOD]
    assert summary["quarantined"] == [{"file": "CourseRequests_endless.txt", "reason": (
        f"http connection {HTTP_CONN!r} ({server.url}/endless): export file 'CourseRequests_endless.txt' is larger "
        "than 1000000 bytes (xello.yml source.http.max_file_bytes); it was not fetched (ask the vendor to split "
        "it, or raise max_file_bytes)")}]


def test_a_gzip_answer_is_bounded_by_what_it_unpacks_to(fetch, monkeypatch):
    bomb = GOOD_DATA + b"9" * 5_000_000  # about 5 kB on the wire
    listing = [{"name": GOOD, "path": "/files/good.gz"}, {"name": "CourseRequests_bomb.txt", "path": "/files/bomb.gz"}]
    with HostileHttpServer(listing, {"/files/good.gz": GOOD_DATA, "/files/bomb.gz": bomb}) as server:
        monkeypatch.setenv(f"AIRFLOW_CONN_{HTTP_CONN.upper()}", json.dumps(server.airflow_connection()))
        summary, run = fetch(http_source(max_file_bytes=1_000_000))
    assert server.bytes_served < 100_000
    assert (run.root / "inbound" / GOOD).read_bytes() == GOOD_DATA
    assert summary["quarantined"] == [{"file": "CourseRequests_bomb.txt", "reason": (
        f"http connection {HTTP_CONN!r} ({server.url}/files/bomb.gz): export file 'CourseRequests_bomb.txt' is larger "
        "than 1000000 bytes (xello.yml source.http.max_file_bytes); it was not fetched (ask the vendor to split "
        "it, or raise max_file_bytes)")}]


def trickling(kind: str):
    """A server of ``kind`` sending one small piece every 0.1 s (never idle for the connection's 5 s timeout),
    the source reading it, and where the fetch is cut off."""
    if kind == "http":
        server = HostileHttpServer([{"name": "CourseRequests_slow.txt", "path": "/trickle"}], trickle_seconds=0.1)
        return (server, HTTP_CONN, http_source(max_fetch_seconds=2),
                lambda: (f"http connection {HTTP_CONN!r} ({server.url}/trickle)", "'CourseRequests_slow.txt'"))
    server = HostileSftpServer({GOOD: b"x" * 100_000}, trickle=(16, 0.1))
    return (server, SFTP_CONN, sftp_source(max_fetch_seconds=2),
            lambda: (f"sftp connection {SFTP_CONN!r} (127.0.0.1:{server.port})", f"'xello_export/{GOOD}'"))


@pytest.mark.parametrize("kind", ["http", "sftp"])
def test_a_server_that_trickles_is_cut_off_at_the_fetch_deadline(fetch, monkeypatch, kind):
    server, conn_id, source, where = trickling(kind)
    with server:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(server.airflow_connection()))
        started = time.monotonic()
        with pytest.raises(DeliveryError) as err:
            fetch(source)
        took = time.monotonic() - started
    connection, file = where()
    assert str(err.value) == (
        f"{connection}: cut off while reading export file {file}: the fetch took longer than 2 s (xello.yml "
        f"source.{kind}.max_fetch_seconds); the server is too slow or stalls. Nothing was written into Aeries; the "
        "next run tries again")
    assert 2 <= took < 4, took


@pytest.mark.parametrize("extra", ["no_host_key_check", "allow_host_key_change"])
def test_an_sftp_source_without_host_key_checking_is_refused_as_deliveries_are(fetch, monkeypatch, extra):
    with HostileSftpServer({GOOD: GOOD_DATA}) as server:
        conn = server.airflow_connection(**{extra: True})
        del conn["extra"]["host_key"]
        monkeypatch.setenv(f"AIRFLOW_CONN_{SFTP_CONN.upper()}", json.dumps(conn))
        with pytest.raises(DeliveryError) as err:
            fetch(sftp_source())
    assert str(err.value) == (
        f"sftp connection {SFTP_CONN!r} turns host key checking off (no_host_key_check or allow_host_key_change); "
        "remove that extra and set host_key to the server's public key")
    assert server.requests == []


POISON = "CourseRequests_2027-03-02.txt"
#: One field past Python's csv field limit (131,072 characters): csv.Error, which failed every later run.
POISON_DATA = b"StudentID|SchoolCode|CourseCode|IsAlternate\n501|300|" + b"9" * 131_073 + b"|0\n"


def test_a_file_with_a_field_past_the_csv_limit_is_quarantined_remembered_and_skipped_later(fetch, monkeypatch,
                                                                                            tmp_path):
    sha256 = hashlib.sha256(POISON_DATA).hexdigest()
    with HostileSftpServer({GOOD: GOOD_DATA, POISON: POISON_DATA}) as server:
        monkeypatch.setenv(f"AIRFLOW_CONN_{SFTP_CONN.upper()}", json.dumps(server.airflow_connection()))
        first, run = fetch(sftp_source())
        second, run_2 = fetch(sftp_source(), run_id="run-2")
    reason = (f"sftp connection {SFTP_CONN!r} (127.0.0.1:{server.port}): xello_export/{POISON}: {POISON} line 2 "
              "has a field longer than 131072 characters; the file is kept in quarantine/ and not read again")
    assert [f["file"] for f in first["files"]] == [GOOD]
    assert first["quarantined"] == [{"file": POISON, "sha256": sha256, "bytes": len(POISON_DATA),
                                     "kept": f"quarantine/{POISON}", "reason": reason}]
    assert (run.root / "quarantine" / POISON).read_bytes() == POISON_DATA
    assert not (run.root / "inbound" / POISON).exists()
    # The next run (the good file not yet written into Aeries) skips the poison file by its sha256.
    assert [f["file"] for f in second["files"]] == [GOOD]
    assert second["quarantined"] == []
    assert second["skipped"] == [{"file": POISON, "sha256": sha256, "quarantined_by": "run-1", "reason": reason}]
    assert not (run_2.root / "quarantine").exists()


ENROLL = WRITEBACKS_DIR / "schoolmint_enroll.yml"
GOOD_LINE = b'{"students": {"enroll_id": "E-1", "state_id": "9900000001"}}\n'


@pytest.mark.parametrize(("line", "reason"), [
    (b'{"students": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",  # RecursionError in json.loads
     "x.jsonl line 2 is nested deeper than 32 levels"),
    (b'{"a": ' + b"[" * 40 + b"]" * 40 + b"}\n", "x.jsonl line 2 is nested deeper than 32 levels"),
    (b'{"a": "' + b"x" * (1024 * 1024) + b'"}\n', "x.jsonl line 2 is longer than 1048576 bytes"),
], ids=["recursion", "deep", "long"])
def test_a_json_lines_file_past_the_bounds_is_unreadable_as_a_whole(line, reason):
    writeback = load_writeback(ENROLL)
    assert unreadable_file(writeback, "x.jsonl", GOOD_LINE + line + GOOD_LINE) == reason
    assert unreadable_file(writeback, "x.jsonl", GOOD_LINE + b"not json\n" + GOOD_LINE) is None  # a reject



def test_the_limits_default_and_are_checked_at_load(tmp_path):
    from aeries_hub.mapping.models import MappingError

    writeback = load_writeback(xello(tmp_path, sftp_source()))
    assert (writeback.max_file_bytes, writeback.max_fetch_seconds) == (256 * 1024 * 1024, 1800.0)
    limited = load_writeback(xello(tmp_path, http_source(max_file_bytes=10, max_fetch_seconds=1.5)))
    assert (limited.max_file_bytes, limited.max_fetch_seconds) == (10, 1.5)
    for limits, key in (({"max_file_bytes": 0}, "max_file_bytes"), ({"max_fetch_seconds": 0}, "max_fetch_seconds"),
                        ({"max_file_bytes": "1 GB"}, "max_file_bytes")):
        with pytest.raises(MappingError, match=rf"^xello.yml:\d+: source.sftp.{key}: "):
            load_writeback(xello(tmp_path, sftp_source(**limits)))
