"""The Canvas SIS import emulator over real HTTP: the upload forms Canvas documents, the import's states, the files and
rows it knows, the token, throttling and the abort endpoint (each behaviour's source: aeries_sandbox.canvas_api)."""

from __future__ import annotations

import io
import zipfile

import pytest
import requests

from aeries_sandbox.canvas_api import CanvasApiServer

TOKEN = "canvas-test-token"
IMPORTS = "/api/v1/accounts/self/sis_imports"
USERS = "user_id,login_id,first_name,last_name,status\n141111,ana.cruz,Ana,Cruz,active\n"


@pytest.fixture()
def canvas():
    with CanvasApiServer(tokens=[TOKEN], access_log=False) as server:
        yield server


@pytest.fixture()
def http():
    session = requests.Session()
    session.trust_env = False  # no proxy for localhost
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    yield session
    session.close()


def zipped(files: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def run_import(canvas, http, **post) -> list[dict]:
    """POST, then look until the import ends: every SisImport answer, the upload's first."""
    answers = [http.post(f"{canvas.url}{IMPORTS}", timeout=10, **post).json()]
    while answers[-1]["workflow_state"] in ("created", "importing"):
        answers.append(http.get(f"{canvas.url}{IMPORTS}/{answers[0]['id']}", timeout=10).json())
    return answers


def test_a_multipart_attachment_is_created_then_importing_then_imported(canvas, http):
    data = zipped({"users.csv": USERS, "courses.csv": "course_id,short_name,long_name,status\nc1,C1,Course 1,active\n"})

    answers = run_import(canvas, http, files={"attachment": ("sis.zip", data, "application/zip")},
                         params={"import_type": "instructure_csv", "batch_mode": "true"})

    assert [(a["workflow_state"], a["progress"]) for a in answers] == [("created", 0), ("importing", 50),
                                                                      ("imported", 100)]
    assert answers[0]["batch_mode"] is True
    assert answers[-1]["data"]["supplied_batches"] == ["user", "course"]
    assert answers[-1]["data"]["counts"] == {"users": 1, "courses": 1, "error_count": 0, "warning_count": 0}
    (upload,) = canvas.uploads
    assert (upload.body, upload.content_type) == (data, "multipart/form-data")


def test_a_user_without_login_id_is_a_warning_and_the_import_ends_with_messages(canvas, http):
    data = zipped({"users.csv": USERS + "141112,,Lee,Oh,active\n", "readme.txt": "hello"})

    answers = run_import(canvas, http, data=data, headers={"Content-Type": "application/zip"})

    last = answers[-1]
    assert last["workflow_state"] == "imported_with_messages"
    assert last["processing_warnings"] == [["users.csv", "No login_id given for user 141112"],
                                           ["readme.txt", "Skipping unknown file type"]]
    assert last["data"]["counts"]["users"] == 1 and last["errors_attachment"] is not None


def test_a_csv_of_unknown_headers_fails_with_messages_and_an_unreadable_zip_fails(canvas, http):
    unknown = run_import(canvas, http, data=b"course_id,randomness\nc1,x\n", headers={"Content-Type": "text/csv"})
    broken = run_import(canvas, http, data=b"PK\x03\x04", headers={"Content-Type": "application/octet-stream"},
                        params={"extension": "zip"})

    assert (unknown[-1]["workflow_state"], unknown[-1]["processing_errors"]) == (
        "failed_with_messages", [["sis_import.csv", "Couldn't find Canvas CSV import headers"]])
    assert (broken[-1]["workflow_state"], broken[-1]["processing_errors"]) == (
        "failed", [["sis_import.zip", "Error while importing CSV. Please contact support."]])


def test_a_wrong_token_an_unknown_import_type_and_an_unknown_body_are_refused(canvas, http):
    bad = http.post(f"{canvas.url}{IMPORTS}", data=b"x", headers={"Authorization": "Bearer nope",
                                                                     "Content-Type": "text/csv"}, timeout=10)
    ims = http.post(f"{canvas.url}{IMPORTS}", data=b"x", params={"import_type": "ims_xml"},
                    headers={"Content-Type": "text/csv"}, timeout=10)
    unknown = http.post(f"{canvas.url}{IMPORTS}", data=b"x", headers={"Content-Type": "application/json"}, timeout=10)
    missing = http.get(f"{canvas.url}{IMPORTS}/42", timeout=10)

    assert (bad.status_code, bad.json()) == (401, {"errors": [{"message": "Invalid access token."}]})
    assert ims.status_code == unknown.status_code == 400
    assert missing.status_code == 404
    assert canvas.uploads == []


def test_throttling_is_a_403_rate_limit_exceeded_with_the_quota_headers(canvas, http):
    canvas.set_faults({"rate_limit": 1.0}, max_faults=1)

    throttled = http.post(f"{canvas.url}{IMPORTS}", data=USERS.encode(), headers={"Content-Type": "text/csv"}, timeout=10)
    taken = http.post(f"{canvas.url}{IMPORTS}", data=USERS.encode(), headers={"Content-Type": "text/csv"}, timeout=10)

    assert (throttled.status_code, throttled.text) == (403, "403 Forbidden (Rate Limit Exceeded)\n")
    assert throttled.headers["X-Rate-Limit-Remaining"] == "0.0" and "X-Request-Cost" in throttled.headers
    assert taken.status_code == 200 and len(canvas.uploads) == 1


def test_an_import_never_finishes_while_asked_and_abort_ends_it(canvas, http):
    canvas.never_finish = True
    created = http.post(f"{canvas.url}{IMPORTS}", data=USERS.encode(), headers={"Content-Type": "text/csv"},
                        timeout=10).json()
    looks = [http.get(f"{canvas.url}{IMPORTS}/{created['id']}", timeout=10).json()["workflow_state"] for _ in range(3)]

    aborted = http.put(f"{canvas.url}{IMPORTS}/{created['id']}/abort", timeout=10).json()

    assert looks == ["importing"] * 3
    assert aborted["workflow_state"] == "aborted"
    assert http.get(f"{canvas.url}{IMPORTS}/{created['id']}", timeout=10).json()["workflow_state"] == "aborted"
