"""upload_and_wait and HttpUploadDelivery against the Canvas SIS import emulator (aeries_sandbox.canvas_api) over real
HTTP on localhost. The emulator moves an import one step per look (created, importing, its outcome); waits between
looks go through an injected ``sleep`` that records them, except where a test needs the clock to pass."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import secrets
import time
import zipfile

import pytest

from aeries_hub.delivery import DeliveryError
from aeries_hub.delivery.http_upload import HttpUploadDelivery, upload_and_wait
from aeries_hub.delivery.vendor_api import RetryPolicy
from aeries_hub.mapping.models import HttpUpload
from aeries_sandbox.canvas_api import CanvasApiServer

CONN_ID = "canvas_test"
TOKEN = secrets.token_urlsafe(24)
ENDPOINT = "/api/v1/accounts/self/sis_imports"
USERS = "user_id,login_id,first_name,last_name,status\r\n141111,ana.cruz,Ana,Cruz,active\r\n141112,lee.oh,Lee,Oh,active\r\n"
COURSES = "course_id,short_name,long_name,status\r\n994-101,ALG1,Algebra 1,active\r\n"
FAST = RetryPolicy(max_attempts=3, backoff_base=0.01, backoff_max=0.02, retry_after_max=0.05)


@pytest.fixture(scope="module")
def canvas_server():
    with CanvasApiServer(tokens=[TOKEN], access_log=False) as server:
        yield server


@pytest.fixture()
def canvas(canvas_server, monkeypatch):
    """The module's emulator, without faults, behind connection ``CONN_ID``; its uploads counted from this test on."""
    canvas_server.set_faults({})
    canvas_server.never_finish = False
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(canvas_server.airflow_connection(TOKEN)))
    canvas_server.first_upload = len(canvas_server.uploads)
    canvas_server.first_request = len(canvas_server.requests)
    yield canvas_server
    canvas_server.set_faults({})
    canvas_server.never_finish = False


def uploads(canvas):
    return canvas.uploads[canvas.first_upload:]


def requests_made(canvas):
    return [(method, status) for method, _path, status in canvas.requests[canvas.first_request:]]


def write_zip(tmp_path, files: dict[str, str], name: str = "canvas_sis.zip"):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for file, text in files.items():
            archive.writestr(file, text)
    path = tmp_path / name
    path.write_bytes(buffer.getvalue())
    return path


def run_folder(tmp_path, run_id: str):
    from airflow.sdk import ObjectStoragePath

    from aeries_hub.staging import RunFolder

    return RunFolder(ObjectStoragePath(f"file://{tmp_path}"), "aeries_to_canvas", run_id)


def upload(path, **options):
    """upload_and_wait with fast retries; returns (receipt, the waits it asked for)."""
    sleeps: list[float] = []
    options = {"name": path.name, "retry": FAST, "sleep": sleeps.append, "poll_seconds": 5, **options}
    return upload_and_wait(CONN_ID, ENDPOINT, path, **options), sleeps


def test_a_zip_is_uploaded_once_and_waited_on_until_imported(canvas, tmp_path, caplog):
    path = write_zip(tmp_path, {"users.csv": USERS, "courses.csv": COURSES})
    kept = []

    with caplog.at_level(logging.DEBUG):
        receipt, sleeps = upload(path, params={"import_type": "instructure_csv", "diffing_data_set_identifier":
                                               "aeries-canvas", "batch_mode": False}, remember=kept.append)

    data = path.read_bytes()
    (sent,) = uploads(canvas)
    assert (sent.body, sent.content_type, sent.account) == (data, "application/zip", "self")
    assert sent.params == {"extension": "zip", "import_type": "instructure_csv",
                           "diffing_data_set_identifier": "aeries-canvas", "batch_mode": "false"}
    url = f"{canvas.url}{ENDPOINT}/{sent.import_id}"
    assert receipt.to_dict() == {
        "conn_id": CONN_ID, "url": url, "import_id": sent.import_id, "workflow_state": "imported",
        "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "warnings": [], "warning_count": 0,
        "polls": 2, "resumed": False, "seconds": receipt.seconds}
    assert kept == [{"import_id": sent.import_id, "sha256": hashlib.sha256(data).hexdigest(), "url": url}]
    assert sleeps == [2.0]  # the first look finds it importing
    assert requests_made(canvas) == [("POST", 200), ("GET", 200), ("GET", 200)]
    assert TOKEN not in caplog.text


def test_a_single_csv_is_uploaded_as_text_csv(canvas, tmp_path):
    path = tmp_path / "users.csv"
    path.write_text(USERS)

    receipt, _ = upload(path)

    (sent,) = uploads(canvas)
    assert (sent.body, sent.content_type, sent.params) == (path.read_bytes(), "text/csv", {"extension": "csv"})
    assert receipt.workflow_state == "imported"


def test_imported_with_messages_succeeds_with_canvas_warnings_in_the_receipt(canvas, tmp_path, caplog):
    path = write_zip(tmp_path, {"users.csv": USERS + "141113,,Sam,Ray,active\r\n141114,sam.o,Sam,O,gone\r\n"})

    with caplog.at_level(logging.INFO, logger="aeries_hub.delivery.http_upload"):
        receipt, _ = upload(path)

    assert receipt.workflow_state == "imported_with_messages"
    assert (receipt.warnings, receipt.warning_count) == ([
        {"file": "users.csv", "message": "No login_id given for user 141113"},
        {"file": "users.csv", "message": "Improper status for user 141114"}], 2)
    assert caplog.messages[-1] == (
        f"Import {receipt.import_id} of canvas_sis.zip ended imported_with_messages after 2 looks: 2 warnings, e.g. "
        "users.csv: No login_id given for user 141113; users.csv: Improper status for user 141114")


def test_a_zip_canvas_cannot_read_fails_naming_the_connection_the_import_and_the_error(canvas, tmp_path):
    path = tmp_path / "canvas_sis.zip"
    path.write_bytes(b"PK\x03\x04 not a zip")
    kept = []

    with pytest.raises(DeliveryError) as err:
        upload(path, remember=kept.append)

    (sent,) = uploads(canvas)
    assert str(err.value) == (
        f"http connection {CONN_ID!r} ({canvas.url}{ENDPOINT}/{sent.import_id}): import {sent.import_id} of "
        "canvas_sis.zip ended failed: sis_import.zip: Error while importing CSV. Please contact support. Check the "
        "file against Canvas's SIS CSV format (https://canvas.instructure.com/doc/api/file.sis_csv.html) and the "
        f"import's errors (Admin > SIS Import, or GET {ENDPOINT}/{sent.import_id}/errors); then clear the task to "
        "upload again")
    assert not err.value.retryable
    assert kept[-1] is None  # forgotten: clearing the task uploads again


def test_failed_with_messages_names_canvass_first_errors(canvas, tmp_path):
    path = write_zip(tmp_path, {f"x{i}.csv": "course_id,randomness\r\nc1,x\r\n" for i in range(5)})

    with pytest.raises(DeliveryError, match=(
            r"ended failed_with_messages: x0.csv: Couldn't find Canvas CSV import headers; x1.csv: Couldn't find "
            r"Canvas CSV import headers; x2.csv: Couldn't find Canvas CSV import headers \(and 2 more\)\. Check")):
        upload(path)


def test_an_aborted_import_fails_and_says_to_look_at_canvass_sis_imports(canvas, tmp_path):
    path = write_zip(tmp_path, {"users.csv": USERS})

    def abort_then_wait(seconds):
        canvas.abort(uploads(canvas)[0].import_id)

    with pytest.raises(DeliveryError, match=r"ended aborted: Canvas gave no error message\. Someone or Canvas aborted "
                                            r"it: check the SIS imports in Canvas \(Admin > SIS Import\); then clear"):
        upload(path, sleep=abort_then_wait)


def test_a_500_to_the_upload_is_retried_and_one_import_is_made(canvas, tmp_path):
    canvas.set_faults({"500": 1.0}, max_faults=1, path_pattern="^POST")
    path = write_zip(tmp_path, {"users.csv": USERS})

    receipt, _ = upload(path)

    assert receipt.workflow_state == "imported"
    assert len(uploads(canvas)) == 1
    assert requests_made(canvas)[:2] == [("POST", 500), ("POST", 200)]


def test_canvass_rate_limit_403_is_waited_out_not_taken_for_a_bad_token(canvas, tmp_path):
    canvas.set_faults({"rate_limit": 1.0}, max_faults=2)
    path = write_zip(tmp_path, {"users.csv": USERS})

    receipt, _ = upload(path)

    assert receipt.workflow_state == "imported"
    assert requests_made(canvas)[:3] == [("POST", 403), ("POST", 403), ("POST", 200)]


def test_a_rate_limit_that_lasts_ends_in_a_retryable_error(canvas, tmp_path):
    canvas.set_faults({"rate_limit": 1.0})
    path = write_zip(tmp_path, {"users.csv": USERS})

    with pytest.raises(DeliveryError, match=r"kept failing after 3 attempts; last cause: HTTP 403 \(403 Forbidden "
                                            r"\(Rate Limit Exceeded\)\)") as err:
        upload(path)

    assert err.value.retryable and uploads(canvas) == []


def test_a_bad_token_fails_at_once(canvas, tmp_path, monkeypatch):
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(canvas.airflow_connection("not-the-token")))
    path = write_zip(tmp_path, {"users.csv": USERS})

    with pytest.raises(DeliveryError, match=rf"answered HTTP 401 .*; check the API token in connection '{CONN_ID}'") as err:
        upload(path)

    assert not err.value.retryable and "not-the-token" not in str(err.value)


def test_an_import_that_never_finishes_times_out_retryably_after_timeout_minutes(canvas, tmp_path):
    canvas.never_finish = True
    path = write_zip(tmp_path, {"users.csv": USERS})
    started = time.monotonic()

    with pytest.raises(DeliveryError) as err:
        upload(path, timeout_minutes=0.02, poll_seconds=1, sleep=time.sleep)

    (sent,) = uploads(canvas)
    assert 1.2 <= time.monotonic() - started < 5
    assert err.value.retryable
    assert str(err.value) == (
        f"http connection {CONN_ID!r} ({canvas.url}{ENDPOINT}/{sent.import_id}): import {sent.import_id} is still "
        "importing (50% done) after 0.02 minutes (delivery.http_upload.timeout_minutes); a retry of the task waits on "
        "it again without uploading. Check Canvas's SIS imports (Admin > SIS Import) for a queue of imports, or raise "
        "timeout_minutes")


def test_a_retry_after_the_upload_was_accepted_waits_on_the_same_import(canvas, tmp_path):
    canvas.never_finish = True
    path = write_zip(tmp_path, {"users.csv": USERS})
    kept = []
    with pytest.raises(DeliveryError):
        upload(path, timeout_minutes=0.001, sleep=time.sleep, remember=kept.append)
    canvas.never_finish = False

    receipt, _ = upload(path, accepted=kept[-1], remember=kept.append)

    (sent,) = uploads(canvas)
    assert (receipt.import_id, receipt.workflow_state, receipt.resumed) == (sent.import_id, "imported", True)
    assert len(kept) == 1
    assert [method for method, _ in requests_made(canvas)].count("POST") == 1


def test_a_record_of_other_bytes_is_not_resumed(canvas, tmp_path):
    path = write_zip(tmp_path, {"users.csv": USERS})

    receipt, _ = upload(path, accepted={"import_id": 999, "sha256": "0" * 64})

    assert not receipt.resumed and len(uploads(canvas)) == 1


def test_the_delivery_keeps_the_accepted_import_in_the_run_folder(canvas, tmp_path):
    run = run_folder(tmp_path, "manual__1")
    data = write_zip(tmp_path, {"users.csv": USERS}).read_bytes()
    run.write_bytes("output/canvas_sis.zip", data)
    delivery = HttpUploadDelivery(HttpUpload(CONN_ID, ENDPOINT, {"import_type": "instructure_csv"}, 1, 1))
    item = {"file": "canvas_sis.zip", "rows": 2, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}

    (receipt,) = delivery.deliver(run, [item], {}, None)
    again = delivery.deliver(run, [item], {}, None)  # a retry after the import was accepted

    assert receipt["file"] == "canvas_sis.zip" and receipt["rows"] == 2 and receipt["workflow_state"] == "imported"
    assert run.read_json("uploads/canvas_sis.zip.json")["import_id"] == receipt["import_id"]
    assert again[0]["resumed"] and again[0]["import_id"] == receipt["import_id"]
    assert len(uploads(canvas)) == 1
    assert (delivery.target_name({}), delivery.target_address({})) == ("http_upload", (CONN_ID, ENDPOINT))


def test_a_held_file_is_uploaded_in_place_of_the_built_one(canvas, tmp_path):
    run = run_folder(tmp_path, "manual__2")
    run.write_bytes("output/canvas_sis.zip", write_zip(tmp_path, {"users.csv": USERS}).read_bytes())
    held = run.write_bytes("held/canvas_sis.zip", write_zip(tmp_path, {"users.csv": USERS + "141113,sam,Sam,Ray,active\r\n"},
                                                            name="held.zip").read_bytes()).read_bytes()
    item = {"file": "canvas_sis.zip", "rows": 3, "bytes": len(held), "sha256": hashlib.sha256(held).hexdigest(),
            "folder": "held"}

    (receipt,) = HttpUploadDelivery(HttpUpload(CONN_ID, ENDPOINT)).deliver(run, [item], {}, None)

    (sent,) = uploads(canvas)
    assert sent.body == held and receipt["sha256"] == item["sha256"]


class HostileSisImportApi:
    """A server on localhost that answers like an SIS import API an attacker controls: the upload's id and the
    import's warnings are what the test sets."""

    def __init__(self, upload_answer: dict, job: dict):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        outer = self
        self.paths: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def answer(self, document: dict) -> None:
                body = json.dumps(document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):  # noqa: N802 - http.server's name
                outer.paths.append(self.path)
                self.rfile.read(int(self.headers["Content-Length"]))
                self.answer(upload_answer)

            def do_GET(self):  # noqa: N802
                outer.paths.append(self.path)
                self.answer(job)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def connection(self) -> str:
        return json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": self.server.server_port,
                           "schema": "http", "password": TOKEN, "extra": {"timeout": 10, "allow_insecure": True}})

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_an_import_id_that_is_a_path_is_refused_before_any_look(tmp_path, monkeypatch):
    hostile = HostileSisImportApi({"id": "../../users/self", "workflow_state": "created"}, {"workflow_state": "imported"})
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", hostile.connection())
    try:
        with pytest.raises(DeliveryError) as refused:
            upload(write_zip(tmp_path, {"users.csv": USERS}))
    finally:
        hostile.close()
    assert "answered the upload of canvas_sis.zip with HTTP 200 but no import id (a number); it is not an SIS import " \
           "API (check delivery.http_upload.endpoint)" in str(refused.value)
    assert [path.split("?")[0] for path in hostile.paths] == [ENDPOINT]  # no GET of ../../users/self


def test_a_huge_or_formula_like_canvas_warning_is_cut_and_its_quoted_values_left_out(tmp_path, monkeypatch):
    huge = "No login_id given for user 141113 " + "A" * 1_000_000
    job = {"id": 7, "workflow_state": "imported_with_messages",
           "processing_warnings": [["=HYPERLINK(\"http://x\")/../../etc/passwd", huge]]}
    hostile = HostileSisImportApi({"id": 7, "workflow_state": "created"}, job)
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", hostile.connection())
    try:
        receipt, _ = upload(write_zip(tmp_path, {"users.csv": USERS}))
    finally:
        hostile.close()
    (warning,) = receipt.warnings
    assert len(warning["message"]) == 300 and warning["message"].endswith("…")
    assert warning["message"].startswith("No login_id given for user 141113 AAA")
    assert warning["file"] == "=HYPERLINK(<value>)/../../etc/passwd"  # the quoted URL cut; a name only, never opened
