"""deliver_records against the vendor-API receiver (aeries_sandbox.vendor_api) over real HTTP on localhost.

What the receiver cannot do (a Retry-After date, a 200 that is not JSON, a redirect, a long error text) comes
from a scripted local HTTP server; nothing is mocked. Waits go through an injected ``sleep`` that records them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from aeries_hub.delivery import DeliveryError as SharedDeliveryError
from aeries_hub.delivery.http import HttpReceipt, deliver_records
from aeries_hub.delivery.sftp import DeliveryError

CONN_ID = "enroll_test"
ENV = f"AIRFLOW_CONN_{CONN_ID.upper()}"
ENDPOINT = "/api/v1/students/import"
TOKEN = secrets.token_urlsafe(24)


def student(i: int, *, dob: str = "2010-02-10") -> dict:
    return {
        "students": {"student_district_id": str(141000 + i), "fname": f"Zoë {i}", "lname": "O'Brien", "DOB": dob,
                     "sis_school_year": "2026-2027", "mname": None, "gender": "female" if i % 2 else None},
        "students_annual": {"sis_entrydate": "2026-08-13", "grade": str(i % 13)},
        "guardians": [{"fname": "Rosa", "lname": "Cruz", "relationship": "Mother", "email": f"rosa{i}@example.org"}],
        "emergency_contacts": [] if i % 3 else [{"fname": "Lee", "phone": "5555550100"}],
    }


def write_jsonl(tmp_path, records: list, name: str = "students.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records),
                    encoding="utf-8")
    return path


def deliver(path, prefix: str = "aeries_to_schoolmint_enroll-manual__2026-11-22-students", **options):
    """deliver_records with fast backoff; returns (receipt, the waits it asked for)."""
    sleeps: list[float] = []
    options = {"sleep": sleeps.append, "backoff_base": 0.01, "backoff_max": 0.02, **options}
    receipt = deliver_records(CONN_ID, ENDPOINT, path, idempotency_prefix=prefix, **options)
    return receipt, sleeps


# -- what arrives -------------------------------------------------------------------------------------
def test_records_arrive_exactly_in_batches(api, tmp_path, caplog):
    records = [student(i) for i in range(250)]
    path = write_jsonl(tmp_path, records)

    with caplog.at_level(logging.INFO, logger="aeries_hub.delivery.http"):
        receipt, sleeps = deliver(path, batch_size=100)

    data = path.read_bytes()
    assert isinstance(receipt, HttpReceipt) and sleeps == []
    assert receipt.to_dict() == {
        "conn_id": CONN_ID, "url": f"{api.url}/sandbox/api/v1/students/import", "batches": 3, "records_sent": 250,
        "imported": 250, "rejected": [], "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
        "seconds": receipt.seconds, "retries": 0,
    }
    json.dumps(receipt.to_dict())
    state = api.state("sandbox")
    assert state["records"] == {r["students"]["student_district_id"]: r for r in records}
    assert list(state["records"]) == [r["students"]["student_district_id"] for r in records]  # in file order
    assert [b["received"] for b in state["batches"]] == [100, 100, 50]
    keys = [b["idempotency_key"] for b in state["batches"]]
    assert all(re.fullmatch(rf"aeries_to_schoolmint_enroll-manual__2026-11-22-students-{n}-[0-9a-f]{{16}}", k)
               for n, k in enumerate(keys, start=1))
    lines = [m for m in caplog.messages if m.startswith("batch ")]
    assert lines == [f"batch {n} of 3: {size} records, HTTP 200 after 1 attempt: {size} imported, 0 rejected"
                     for n, size in ((1, 100), (2, 100), (3, 50))]
    assert "Zoë" not in caplog.text and TOKEN not in caplog.text


def test_an_object_storage_path_is_read_too(api, tmp_path):
    from airflow.sdk import ObjectStoragePath

    path = write_jsonl(tmp_path, [student(1), student(2)])

    receipt, _ = deliver(ObjectStoragePath(f"file://{path}"))

    assert (receipt.batches, receipt.imported) == (1, 2)
    assert receipt.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_records_the_vendor_refuses_come_back_with_their_ids_and_reasons(api, tmp_path):
    records = [student(i, dob="02/10/2010" if i in (5, 160) else "2010-02-10") for i in range(250)]
    records[42]["students"]["fname"] = "  "

    receipt, _ = deliver(write_jsonl(tmp_path, records), batch_size=100)

    assert (receipt.records_sent, receipt.imported) == (250, 247)
    assert receipt.rejected == [
        {"index": 5, "id": "141005", "errors": ["students.DOB: '02/10/2010' is not a YYYY-MM-DD date"]},
        {"index": 42, "id": "141042", "errors": ["students.fname: is required (missing or blank)"]},
        {"index": 160, "id": "141160", "errors": ["students.DOB: '02/10/2010' is not a YYYY-MM-DD date"]},
    ]
    assert len(api.state("sandbox")["records"]) == 247


def test_an_empty_file_sends_nothing(api, tmp_path):
    receipt, _ = deliver(write_jsonl(tmp_path, []))
    assert (receipt.batches, receipt.records_sent, receipt.bytes) == (0, 0, 0)
    assert api.stats()["requests"] == 0


# -- retries ----------------------------------------------------------------------------------------------
def test_429_is_retried_after_retry_after_and_503_with_backoff(api, tmp_path):
    path = write_jsonl(tmp_path, [student(i) for i in range(3)])
    api.set_faults({"429": 1.0}, max_faults=2)

    receipt, sleeps = deliver(path)

    assert (receipt.imported, receipt.retries) == (3, 2)
    assert sleeps == [1.0, 1.0]  # Retry-After: 1 beats the 0.01 s backoff
    api.reset()
    api.set_faults({"503": 1.0}, max_faults=2)

    receipt, sleeps = deliver(path)

    assert (receipt.imported, receipt.retries) == (3, 2)
    assert len(sleeps) == 2 and all(0 <= s <= 0.02 for s in sleeps)
    assert api.state("sandbox")["by_status"] == {"200": 1, "503": 2}


def test_retry_after_is_capped(api, tmp_path):
    api.set_faults({"429": 1.0}, max_faults=1)
    receipt, sleeps = deliver(write_jsonl(tmp_path, [student(1)]), retry_after_max=0.5)
    assert receipt.imported == 1 and sleeps == [0.5]


def test_dropped_connections_and_timeouts_are_retried(api, tmp_path, monkeypatch):
    path = write_jsonl(tmp_path, [student(1)])
    api.set_faults({"drop": 1.0}, max_faults=1)
    receipt, sleeps = deliver(path)
    assert (receipt.imported, receipt.retries, len(sleeps)) == (1, 1, 1)

    # Another instance: the receiver still answers the timed-out requests later, in the next tests' time.
    connection = api.airflow_connection(CONN_ID, "slow", TOKEN)
    connection["extra"]["timeout"] = 0.2
    monkeypatch.setenv(ENV, json.dumps(connection))
    api.set_faults({"latency": 0.5}, path_pattern="^slow/")
    with pytest.raises(DeliveryError, match=r"kept failing after 2 attempts; last cause: no answer within 0.2 s") as err:
        deliver(path, max_attempts=2)
    assert err.value.retryable
    # The receiver answers both timed-out requests 0.5 s after each arrived: wait for them here, or they would
    # be counted in the next test's requests.
    deadline = time.monotonic() + 5
    while api.state("slow")["requests"] < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert api.state("slow")["requests"] == 2


def test_a_lost_answer_is_retried_and_replayed_not_imported_twice(api, tmp_path):
    path = write_jsonl(tmp_path, [student(i) for i in range(3)])
    api.set_faults({"500_after_import": 1.0}, max_faults=1)

    receipt, _ = deliver(path)

    assert (receipt.imported, receipt.retries) == (3, 1)
    assert [(b["imported"], b["replayed"]) for b in api.state("sandbox")["batches"]] == [(3, False), (0, True)]


def test_running_the_delivery_again_imports_nothing_new(api, tmp_path):
    records = [student(i) for i in range(150)]
    path = write_jsonl(tmp_path, records)
    first, _ = deliver(path, batch_size=100)

    again, _ = deliver(path, batch_size=100)  # a cleared and re-run task: same prefix, same bytes

    assert again.to_dict() | {"seconds": 0} == first.to_dict() | {"seconds": 0}
    batches = api.state("sandbox")["batches"]
    assert [(b["imported"], b["replayed"]) for b in batches] == [(100, False), (50, False), (0, True), (0, True)]
    assert batches[0]["batch_id"] == batches[2]["batch_id"]

    records[0]["students"]["lname"] = "Changed"
    changed, _ = deliver(write_jsonl(tmp_path, records), batch_size=100)  # other bytes: new keys, no 422
    assert changed.imported == 150
    assert api.state("sandbox")["records"]["141000"]["students"]["lname"] == "Changed"


def test_a_vendor_that_keeps_failing_ends_in_a_retryable_error(api, tmp_path):
    api.set_faults({"503": 1.0})

    with pytest.raises(DeliveryError) as err:
        deliver(write_jsonl(tmp_path, [student(1)]), max_attempts=3)

    assert err.value.retryable and isinstance(err.value, SharedDeliveryError)
    assert str(err.value) == (
        f"batch 1 of 1 to http connection {CONN_ID!r} ({api.url}/sandbox/api/v1/students/import) kept failing after "
        "3 attempts; last cause: HTTP 503 (service unavailable); nothing is imported twice when it is sent again")
    assert api.state("sandbox")["requests"] == 3 and api.state("sandbox")["records"] == {}


# -- failures that are not retried ----------------------------------------------------------------------
def test_a_refused_token_fails_at_once_naming_the_connection_not_the_token(api, tmp_path, monkeypatch, caplog):
    wrong = secrets.token_urlsafe(24)
    monkeypatch.setenv(ENV, json.dumps(api.airflow_connection(CONN_ID, "sandbox", wrong)))

    with caplog.at_level(logging.DEBUG), pytest.raises(DeliveryError) as err:
        deliver(write_jsonl(tmp_path, [student(1)]))

    assert str(err.value) == (
        f"http connection {CONN_ID!r} ({api.url}/sandbox/api/v1/students/import) answered HTTP 401 (invalid or "
        f"missing API token); check the API token in connection {CONN_ID!r}")
    assert not err.value.retryable
    assert wrong not in caplog.text and TOKEN not in caplog.text
    assert api.state("sandbox")["requests"] == 1


def test_other_client_errors_fail_at_once_with_the_vendor_text(api, tmp_path):
    with pytest.raises(DeliveryError, match=r"refused the batch with HTTP 404: no such endpoint: /sandbox/api/v2/") as err:
        deliver_records(CONN_ID, "/api/v2/students/import", write_jsonl(tmp_path, [student(1)]), idempotency_prefix="p")
    assert not err.value.retryable and api.state("sandbox")["requests"] == 1


def test_an_error_after_some_batches_carries_the_receipt_of_those_the_vendor_took(api, tmp_path):
    api.fail_after(2, status=409)
    path = write_jsonl(tmp_path, [student(i) for i in range(250)])

    with pytest.raises(DeliveryError, match="refused the batch with HTTP 409: import limit reached") as err:
        deliver(path, batch_size=100)

    (received,) = err.value.received
    assert {k: received[k] for k in ("batches", "records_sent", "imported", "rejected", "sha256")} == {
        "batches": 2, "records_sent": 200, "imported": 200, "rejected": [],
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    assert len(api.state("sandbox")["records"]) == 200
    with pytest.raises(DeliveryError) as first:  # refused from the first batch on: nothing was received
        deliver(path, prefix="another-run", batch_size=100)
    assert first.value.received == []


@pytest.mark.parametrize("lines, message", [
    ('{"students": {}}\n\n{"students": \n', r"students.jsonl line 3 is not JSON \(Expecting value at column 14\)"),
    ('{"students": {}}\n[1, 2]\n', r"students.jsonl line 2 is a JSON list, not an object"),
    (b'{"students": {"fname": "\xff"}}\n', r"students.jsonl line 1 is not UTF-8 \(byte 25\)"),
])
def test_a_broken_line_is_named_before_anything_is_sent(api, tmp_path, lines, message):
    path = tmp_path / "students.jsonl"
    path.write_bytes(lines if isinstance(lines, bytes) else lines.encode())

    with pytest.raises(DeliveryError, match=message + r"; nothing was sent"):
        deliver(path)

    assert api.stats()["requests"] == 0


def test_connection_problems_say_what_to_set(api, tmp_path, monkeypatch):
    path = write_jsonl(tmp_path, [student(1)])
    good = api.airflow_connection(CONN_ID, "sandbox", TOKEN)
    cases = [
        ({**good, "password": None}, "has no API token: put the API token in the connection's password"),
        ({**good, "extra": {**good["extra"], "auth": "basic"}}, "uses auth basic but has no login: set the login"),
        ({**good, "extra": {**good["extra"], "auth": "digest"}}, "extra auth 'digest' is not bearer or basic"),
        ({**good, "extra": {**good["extra"], "timeout": 0}}, "extra timeout must be a number of seconds above 0"),
        ({**good, "extra": {"headers": {"Authorization": "x"}}}, "without Authorization"),
        ({**good, "schema": "ftp"}, "schema 'ftp' is not http or https"),
        ({**good, "host": None}, "has no host"),
        ({**good, "conn_type": "sftp"}, "is of type 'sftp'; the vendor API needs an http connection"),
    ]
    for connection, message in cases:
        monkeypatch.setenv(ENV, json.dumps(connection))
        with pytest.raises(DeliveryError, match=re.escape(message)) as err:
            deliver(path)
        assert TOKEN not in str(err.value)
    monkeypatch.delenv(ENV)
    with pytest.raises(DeliveryError, match=rf"http connection {CONN_ID!r} is not defined: .* {ENV} environment"):
        deliver(path)
    assert api.stats()["requests"] == 0


# -- transport: plain http and unchecked certificates only with the explicit, logged opt-in ----------------
PLAIN_HTTP = "plain http:// (the credentials and student data travel unencrypted)"
NO_VERIFY = "verify_ssl false (any server can pretend to be this one)"


def without_opt_in(connection: dict, **extra) -> dict:
    kept = {k: v for k, v in connection["extra"].items() if k != "allow_insecure"}
    return {**connection, "extra": {**kept, **extra}}


def test_insecure_transport_is_refused_without_the_opt_in(api, tmp_path, monkeypatch):
    path = write_jsonl(tmp_path, [student(1)])
    receiver = api.airflow_connection(CONN_ID, "sandbox", TOKEN)  # http://127.0.0.1
    cases = [
        (without_opt_in(receiver), PLAIN_HTTP),
        (without_opt_in(receiver, verify_ssl="false"), f"{PLAIN_HTTP} and {NO_VERIFY}"),
        (without_opt_in({**receiver, "schema": "https"}, verify_ssl=False, allow_insecure="false"), NO_VERIFY),
    ]
    for connection, what in cases:
        monkeypatch.setenv(ENV, json.dumps(connection))
        with pytest.raises(DeliveryError) as err:
            deliver(path)
        assert str(err.value) == (f"http connection {CONN_ID!r} uses {what}: use https with certificate checks, or, "
                                  "for a test server only, set the extra allow_insecure: true")
    assert api.stats()["requests"] == 0


def test_the_opt_in_is_logged_loudly(api, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="aeries_hub.delivery.http"):
        receipt, _ = deliver(write_jsonl(tmp_path, [student(1)]))
    assert receipt.imported == 1
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.getMessage() == (f"INSECURE: connection {CONN_ID!r} uses {PLAIN_HTTP}, allowed by its extra "
                                    "allow_insecure: true; never use it for real student data")


@pytest.mark.parametrize("key, value, shown", [
    ("verify_ssl", None, "null"), ("verify_ssl", 0, "0"), ("verify_ssl", [], "[]"), ("verify_ssl", 1, "1"),
    ("allow_insecure", None, "null"), ("allow_insecure", 0, "0"), ("allow_insecure", [], "[]"),
    ("allow_insecure", "no", '"no"'),
])
def test_junk_for_a_true_false_extra_is_a_load_error(api, tmp_path, monkeypatch, key, value, shown):
    connection = api.airflow_connection(CONN_ID, "sandbox", TOKEN)
    monkeypatch.setenv(ENV, json.dumps({**connection, "extra": {**connection["extra"], key: value}}))
    with pytest.raises(DeliveryError) as err:
        deliver(write_jsonl(tmp_path, [student(1)]))
    assert str(err.value) == f"http connection {CONN_ID!r}: extra {key} must be true or false, not {shown}"
    assert api.stats()["requests"] == 0


def test_verify_ssl_text_other_than_true_false_must_be_a_ca_bundle(api, tmp_path, monkeypatch):
    connection = api.airflow_connection(CONN_ID, "sandbox", TOKEN)
    monkeypatch.setenv(ENV, json.dumps({**connection, "extra": {**connection["extra"], "verify_ssl": "no"}}))
    with pytest.raises(DeliveryError) as err:
        deliver(write_jsonl(tmp_path, [student(1)]))
    assert str(err.value) == (f"http connection {CONN_ID!r}: extra verify_ssl must be true, false or the path of a CA "
                              'bundle file; "no" is none of them')


def test_basic_auth_and_static_headers_reach_the_vendor(scripted, tmp_path, monkeypatch):
    password = secrets.token_hex(12)
    scripted.answers = [(200, {}, json.dumps({"results": [{"index": 0, "status": "created"}]}).encode())]
    monkeypatch.setenv(ENV, json.dumps({"conn_type": "http", "host": f"http://127.0.0.1:{scripted.port}/vendor",
                                        "login": "district", "password": password,
                                        "extra": {"auth": "basic", "endpoint_prefix": "sandbox", "allow_insecure": True,
                                                  "headers": {"X-District": "demo"}}}))

    receipt, _ = deliver(write_jsonl(tmp_path, [student(1)]))

    (request,) = scripted.requests
    assert request["path"] == "/vendor/sandbox/api/v1/students/import"
    assert request["headers"]["Authorization"].startswith("Basic ") and request["headers"]["X-District"] == "demo"
    assert request["headers"]["Idempotency-Key"].startswith("aeries_to_schoolmint_enroll-")
    assert receipt.url == f"http://127.0.0.1:{scripted.port}/vendor/sandbox/api/v1/students/import"
    assert password not in json.dumps(receipt.to_dict())


# -- what only a scripted server shows -----------------------------------------------------------------
class _Scripted(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        status, headers, answer = self.server.answers.pop(0)
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers, "Content-Length": str(len(answer))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(answer)


@pytest.fixture
def scripted(monkeypatch):
    """A local HTTP server that answers each POST with the next of ``scripted.answers`` (status, headers, body)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    httpd.daemon_threads = True
    httpd.answers, httpd.requests, httpd.port = [], [], httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv(ENV, json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": httpd.port, "schema": "http",
                                        "password": TOKEN, "extra": {"timeout": 5, "allow_insecure": True}}))
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_retry_after_as_an_http_date_and_a_200_that_is_not_json(scripted, tmp_path):
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    scripted.answers = [
        (503, {"Retry-After": when}, b'{"error": "maintenance"}'),
        (200, {"Content-Type": "text/html"}, b"<html>Sign in</html>"),
        (200, {}, json.dumps({"results": [{"index": 0, "status": "updated"}]}).encode()),
    ]

    receipt, sleeps = deliver(write_jsonl(tmp_path, [student(1)]))

    assert (receipt.imported, receipt.retries) == (1, 2)
    assert 28 <= sleeps[0] <= 30 and sleeps[1] <= 0.02
    assert len({r["headers"]["Idempotency-Key"] for r in scripted.requests}) == 1
    assert len({r["body"] for r in scripted.requests}) == 1


def test_redirects_are_not_followed_and_long_vendor_errors_are_cut(scripted, tmp_path):
    path = write_jsonl(tmp_path, [student(1)])
    scripted.answers = [(302, {"Location": "https://user:pw@login.example/sso"}, b"")]
    with pytest.raises(DeliveryError, match=r"HTTP 302, a redirect to https://login.example/sso, which is not followed"):
        deliver(path)

    scripted.answers = [(400, {}, json.dumps({"error": f"bad batch {TOKEN} " + "x" * 2000}).encode())]
    with pytest.raises(DeliveryError) as err:
        deliver(path)
    text = str(err.value).split("refused the batch with HTTP 400: ", 1)[1]
    assert len(text) == 500 and text.startswith("bad batch *** xxx") and TOKEN not in str(err.value)
    assert len(scripted.requests) == 2
