"""The vendor-API receiver (SchoolMint Enroll's import) over real HTTP: auth, per-record checks, the Overwrite
upsert, idempotency keys, every fault kind, the control endpoints, and the subprocess."""

from __future__ import annotations

import copy
import json
import secrets
import subprocess
import sys
import time

import pytest
import requests

from aeries_sandbox.vendor_api.receiver import FAULT_KINDS, TokenError, load_tokens
from aeries_sandbox.vendor_api.records import record_errors
from aeries_sandbox.vendor_api.server import VendorApiError, VendorApiProcess, VendorApiServer

TOKEN = secrets.token_urlsafe(24)
NO_PROXY = {"http": "", "https": ""}
ANA = {
    "students": {"student_district_id": "141111", "fname": "Ana", "lname": "Cruz", "DOB": "2010-02-10",
                 "sis_school_year": "2026-2027", "gender": "female", "mname": "Zoë"},
    "students_annual": {"sis_entrydate": "2026-08-13", "grade": "9"},
    "guardians": [{"fname": "Rosa", "lname": "Cruz", "relationship": "Mother", "email": "rosa@example.org"}],
    "custom": {"home_language": "Spanish"},
}


@pytest.fixture(scope="module")
def server():
    with VendorApiServer(tokens=[TOKEN]) as srv:
        yield srv


@pytest.fixture
def api(server):
    """The shared receiver, empty and without faults before and after the test."""
    server.reset()
    server.clear_faults()
    yield server
    server.clear_faults()
    server.fail_after(None)


def post(api, records, *, key: str | None = "key-1", token: str | None = TOKEN, instance: str = "sandbox",
         body: bytes | None = None, headers: dict | None = None) -> requests.Response:
    sent = {"Content-Type": "application/json"}
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    if key is not None:
        sent["Idempotency-Key"] = key
    data = body if body is not None else json.dumps({"records": records}).encode()
    return requests.post(api.import_url(instance), data=data, headers={**sent, **(headers or {})}, timeout=5,
                         proxies=NO_PROXY)


def control(api, method: str, name: str, body=None) -> requests.Response:
    return requests.request(method, f"{api.url}/__receiver__/{name}", json=body, timeout=5, proxies=NO_PROXY)


def record(sid: str = "141111", **students) -> dict:
    result = copy.deepcopy(ANA)
    result["students"].update(student_district_id=sid, **students)
    return result


# -- auth and request checks ------------------------------------------------------------------------
@pytest.mark.parametrize("token", [None, "wrong-token", ""])
def test_a_missing_or_unknown_token_is_401_and_imports_nothing(api, token):
    answer = post(api, [record()], token=token)

    assert (answer.status_code, answer.json()) == (401, {"error": "invalid or missing API token"})
    basic = post(api, [record()], token=None, headers={"Authorization": "Basic " + TOKEN})
    assert basic.status_code == 401
    state = api.state("sandbox")
    assert state["records"] == {} and state["batches"] == [] and state["by_status"] == {"401": 2}


def test_bad_requests_get_a_json_error(api):
    cases = {
        "no key": (post(api, [record()], key=None), 400, "Idempotency-Key header is required"),
        "not json": (post(api, [], body=b'{"records": [', key="k2"), 400, "the body is not JSON"),
        "no records list": (post(api, [], body=b'{"records": {}}', key="k3"), 400, '{"records": [...]}'),
        "empty": (post(api, [], key="k4"), 400, "records is empty"),
        "content type": (post(api, [record()], key="k5", headers={"Content-Type": "text/plain"}), 415, "application/json"),
        "route": (requests.post(f"{api.url}/sandbox/api/v1/staff/import", json={}, timeout=5, proxies=NO_PROXY),
                  404, "no such endpoint"),
        "instance": (requests.post(f"{api.url}/Sandbox/api/v1/students/import", timeout=5, proxies=NO_PROXY),
                     404, "no such endpoint"),
        "method": (requests.get(api.import_url("sandbox"), timeout=5, proxies=NO_PROXY), 405, "use POST"),
    }
    for name, (answer, status, text) in cases.items():
        assert answer.status_code == status, name
        assert text in answer.json()["error"], name
    assert api.state("sandbox")["records"] == {}


# -- records ------------------------------------------------------------------------------------------
def test_each_record_is_checked_on_its_own_and_the_others_are_imported(api):
    bad = record("141112", fname=" ", DOB="02/10/2010", sis_school_year=2026)
    del bad["students_annual"]["sis_entrydate"]
    not_a_day = record("141113", DOB="2010-02-30")
    no_id = record("")

    answer = post(api, [record(), bad, not_a_day, no_id, "text"])

    assert answer.status_code == 200
    document = answer.json()
    assert (document["received"], document["imported"]) == (5, 1)
    assert [(r["index"], r["student_district_id"], r["status"]) for r in document["results"]] == [
        (0, "141111", "created"), (1, "141112", "error"), (2, "141113", "error"), (3, None, "error"), (4, None, "error")]
    assert "errors" not in document["results"][0]
    assert document["results"][1]["errors"] == [
        "students.fname: is required (missing or blank)",
        "students.DOB: '02/10/2010' is not a YYYY-MM-DD date",
        "students.sis_school_year: must be a string, not a number",
        "students_annual.sis_entrydate: is required (missing or blank)",
    ]
    assert document["results"][2]["errors"] == ["students.DOB: '2010-02-30' is not a YYYY-MM-DD date"]
    assert document["results"][3]["errors"] == ["students.student_district_id: is required (missing or blank)"]
    assert document["results"][4]["errors"] == ["record: must be an object, not a string"]
    assert list(api.state("sandbox")["records"]) == ["141111"]


def test_record_errors_name_sections_of_the_wrong_type():
    broken = {**record(), "guardians": {"fname": "x"}, "custom": []}
    assert record_errors(broken) == ["custom: must be an object or null, not an array",
                                     "guardians: must be an array or null, not an object"]
    assert record_errors(record()) == []


def test_upsert_null_clears_absent_keeps_and_lists_replace(api):
    assert post(api, [record()], key="a").json()["results"][0]["status"] == "created"
    assert api.state("sandbox")["records"]["141111"] == ANA  # stored exactly as sent

    change = {"students": {"student_district_id": "141111", "fname": "Ana", "lname": "Cruz-Lee", "DOB": "2010-02-10",
                           "sis_school_year": "2026-2027", "gender": None},
              "students_annual": {"sis_entrydate": "2026-08-13"},
              "guardians": [{"fname": "Lee", "lname": "Cruz", "relationship": "Father", "email": None}]}
    assert post(api, [change], key="b").json()["results"][0]["status"] == "updated"

    stored = api.state("sandbox")["records"]["141111"]
    assert stored["students"] == {"student_district_id": "141111", "fname": "Ana", "lname": "Cruz-Lee",
                                  "DOB": "2010-02-10", "sis_school_year": "2026-2027", "gender": None, "mname": "Zoë"}
    assert stored["students_annual"] == {"sis_entrydate": "2026-08-13", "grade": "9"}  # absent grade kept
    assert stored["guardians"] == change["guardians"]  # replaced, not merged
    assert stored["custom"] == {"home_language": "Spanish"}  # absent section kept
    assert post(api, [change], key="c").json()["results"][0]["status"] == "unchanged"


def test_every_instance_has_its_own_store(api):
    post(api, [record("1")], instance="sandbox")
    post(api, [record("2")], instance="production")  # the same key in another instance is another key

    assert list(api.state("sandbox")["records"]) == ["1"]
    assert list(api.state("production")["records"]) == ["2"]
    assert api.state("never-used") == {"records": {}, "batches": [], "requests": 0, "by_status": {}, "faults": {}}
    assert sorted(api.state()["instances"]) == ["production", "sandbox"]


# -- idempotency ----------------------------------------------------------------------------------------
def test_the_same_key_replays_the_answer_and_another_body_is_422(api):
    first = post(api, [record()], key="batch-1")
    replay = post(api, [record()], key="batch-1")
    conflict = post(api, [record(fname="Other")], key="batch-1")

    assert replay.status_code == 200 and replay.content == first.content
    assert (conflict.status_code, conflict.json()) == (422, {"error": "Idempotency-Key reused with a different body"})
    batches = api.state("sandbox")["batches"]
    assert [(b["idempotency_key"], b["received"], b["imported"], b["replayed"]) for b in batches] == [
        ("batch-1", 1, 1, False), ("batch-1", 1, 0, True)]
    assert batches[0]["batch_id"] == batches[1]["batch_id"] == first.json()["batch_id"]
    assert api.state("sandbox")["records"]["141111"]["students"]["fname"] == "Ana"


# -- faults ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["429", "500", "503"])
def test_error_faults_answer_before_importing(api, kind):
    api.set_faults({kind: 1.0}, max_faults=1)

    failed = post(api, [record()])
    ok = post(api, [record()])

    assert failed.status_code == int(kind) and "error" in failed.json()
    assert failed.headers.get("Retry-After") == ("1" if kind == "429" else None)
    assert ok.status_code == 200 and ok.json()["results"][0]["status"] == "created"
    state = api.state("sandbox")
    assert state["faults"] == {kind: 1} and state["by_status"] == {kind: 1, "200": 1}
    assert [b["replayed"] for b in state["batches"]] == [False]


def test_drop_closes_the_connection_without_an_answer(api):
    api.set_faults("drop=1", max_faults=1)

    with pytest.raises(requests.exceptions.ConnectionError):
        post(api, [record()])

    assert api.state("sandbox")["records"] == {}
    assert post(api, [record()]).status_code == 200
    state = api.state("sandbox")
    assert state["requests"] == 2 and state["by_status"] == {"200": 1} and state["faults"] == {"drop": 1}


def test_500_after_import_imports_then_fails_and_the_retry_is_a_replay(api):
    api.set_faults({"500_after_import": 1.0}, max_faults=1)

    lost = post(api, [record()])
    retry = post(api, [record()])

    assert lost.status_code == 500
    assert retry.status_code == 200 and retry.json()["results"][0]["status"] == "created"
    state = api.state("sandbox")
    assert list(state["records"]) == ["141111"]
    assert [(b["imported"], b["replayed"]) for b in state["batches"]] == [(1, False), (0, True)]


def test_latency_path_pattern_and_max_faults(api):
    api.set_faults({"latency": 0.3, "503": 1.0}, seed=4, max_faults=2, path_pattern="^production/")

    started = time.monotonic()
    assert post(api, [record()], instance="sandbox").status_code == 200
    assert time.monotonic() - started < 0.3  # not matched: no latency, no fault
    codes = [post(api, [record()], instance="production").status_code for _ in range(3)]
    assert time.monotonic() - started >= 0.9

    assert codes == [503, 503, 200]
    assert api.faults.state()["remaining"] == 0
    assert api.stats()["faults"] == {"503": 2}


def test_same_seed_same_faults(api):
    def run(seed):
        api.reset()
        api.set_faults({"429": 0.3, "500": 0.3}, seed=seed)
        return [post(api, [record()], key=f"k{i}").status_code for i in range(12)]

    assert run(9) == run(9)
    assert set(run(9)) == {200, 429, 500}


def test_after_n_batches_an_instance_refuses_every_new_one_and_still_replays_those_it_took(api):
    api.fail_after(2, status=400)

    codes = [post(api, [record(f"14111{n}")], key=f"k{n}").status_code for n in range(3)]
    refused = post(api, [record("141119")], key="k9")
    replay = post(api, [record("141110")], key="k0")

    assert codes == [200, 200, 400]
    assert (refused.status_code, refused.json()) == (
        400, {"error": "import limit reached: 2 batches taken, no more are imported"})
    assert replay.status_code == 200 and replay.json()["results"][0]["status"] == "created"
    state = api.state("sandbox")
    assert sorted(state["records"]) == ["141110", "141111"]
    assert [(b["imported"], b["replayed"]) for b in state["batches"]] == [(1, False), (1, False), (0, True)]
    assert post(api, [record()], instance="production").status_code == 200  # each instance counts its own
    api.fail_after(None)
    assert post(api, [record("141119")], key="k9").status_code == 200
    with pytest.raises(ValueError, match="give batches >= 0 and a 4xx or 5xx status"):
        api.fail_after(1, status=200)


def test_the_cli_takes_the_fail_after_batches_option():
    from aeries_sandbox.vendor_api.__main__ import build_parser

    args = build_parser().parse_args(["--tokens-file", "t.json", "--fail-after-batches", "3", "--fail-status", "429"])
    assert (args.fail_after_batches, args.fail_status) == (3, 429)
    assert build_parser().parse_args(["--tokens-file", "t.json"]).fail_after_batches is None


# -- control endpoints -------------------------------------------------------------------------------
def test_control_endpoints(api):
    put = control(api, "PUT", "faults", {"rates": "503=1", "seed": 2, "max_faults": 1, "path_pattern": "import"})
    assert put.status_code == 200
    assert put.json() == {"rates": {"503": 1.0}, "seed": 2, "max_faults": 1, "path_pattern": "import",
                          "injected": 0, "remaining": 1}
    for bad in ({"rates": {"html": 1}}, {"rates": {"429": 2}}, {"rates": {}, "max_faults": -1}, {"unknown": 1}):
        assert control(api, "PUT", "faults", bad).status_code == 400
    assert control(api, "GET", "faults").json()["rates"] == {"503": 1.0}
    post(api, [record()])
    post(api, [record()])

    everything = control(api, "GET", "state").json()
    assert everything["fault_config"]["injected"] == 1
    sandbox = everything["instances"]["sandbox"]
    assert (sandbox["requests"], sandbox["by_status"], sandbox["faults"]) == (2, {"200": 1, "503": 1}, {"503": 1})
    assert control(api, "GET", "state/sandbox").json() == sandbox == api.state("sandbox")

    assert control(api, "DELETE", "faults").json()["rates"] == {}
    assert control(api, "DELETE", "state").json()["instances"] == {}
    assert api.state("sandbox")["records"] == {}
    assert control(api, "GET", "nothing").status_code == 404
    assert control(api, "POST", "state").status_code == 405


def test_airflow_connection_shape(api):
    token = secrets.token_hex(8)
    assert api.airflow_connection("enroll_sandbox", "sandbox", token) == {
        "conn_type": "http",
        "description": "vendor API receiver, instance sandbox (enroll_sandbox)",
        "host": "127.0.0.1",
        "port": api.port,
        "schema": "http",
        "password": token,
        "extra": {"auth": "bearer", "timeout": 10, "endpoint_prefix": "/sandbox", "allow_insecure": True},
    }
    with pytest.raises(ValueError, match="instance"):
        api.airflow_connection("x", "Not Valid", token)


def test_tokens_are_checked_without_showing_them(tmp_path):
    secret = secrets.token_hex(8)
    assert load_tokens([secret]) == (secret,)
    for bad, message in (([], "at least one"), ([secret, 3], "token #2"), ([f"{secret} x"], "white space"),
                         ({"tokens": [secret]}, "JSON list")):
        with pytest.raises(TokenError, match=message) as err:
            load_tokens(bad)
        assert secret not in str(err.value)
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps([secret]))
    assert load_tokens(path) == (secret,)
    assert FAULT_KINDS == ("429", "500", "503", "drop", "500_after_import")


# -- the subprocess ---------------------------------------------------------------------------------
def test_the_subprocess_answers_and_never_logs_a_token(tmp_path):
    log_path = tmp_path / "vendor_api.log"
    with VendorApiProcess(tokens=[TOKEN], faults={"429": 1.0}, fault_seed=1, log_path=log_path) as proc:
        tokens_file = proc.workdir / "tokens.json"
        assert proc.running and proc.url.startswith("http://127.0.0.1:")
        assert (tokens_file.stat().st_mode & 0o777) == 0o600
        assert post(proc, [record()]).status_code == 429  # faults from the command line
        assert proc.clear_faults()["rates"] == {}
        assert post(proc, [record()], token="wrong").status_code == 401
        assert post(proc, [record()]).json()["imported"] == 1
        assert proc.set_faults("503=1", max_faults=1)["remaining"] == 1
        assert post(proc, [record()], key="other").status_code == 503
        state = proc.state("sandbox")
        assert list(state["records"]) == ["141111"] and state["by_status"] == {"200": 1, "401": 1, "429": 1, "503": 1}
        assert proc.stats()["requests"] == 4
        assert proc.reset()["instances"] == {}
        connection = proc.airflow_connection("enroll", "production", TOKEN)
        assert (connection["host"], connection["port"]) == ("127.0.0.1", proc.port)
    assert not proc.running and not tokens_file.exists()
    log = log_path.read_text()
    assert f"Vendor API receiver listening on {proc.url}" in log
    assert "POST /sandbox/api/v1/students/import 200" in log and "key=key-1" in log
    assert TOKEN not in log and "Bearer" not in log
    with pytest.raises(VendorApiError, match="not running"):
        proc.state("sandbox")


def test_the_cli_refuses_bad_tokens_without_echoing_them(tmp_path):
    secret = secrets.token_hex(8)
    bad = tmp_path / "tokens.json"
    bad.write_text(json.dumps([secret, ""]))
    done = subprocess.run([sys.executable, "-m", "aeries_sandbox.vendor_api", "--port", "0", "--tokens-file", str(bad)],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "token #2 must be a non-empty string" in done.stderr
    assert secret not in done.stdout + done.stderr
    with pytest.raises(ValueError, match="unknown fault kind 'html'"):
        VendorApiProcess(tokens=[secret], faults="html=1")


# -- the export side ------------------------------------------------------------------------------------
def get(api, path: str, *, token: str | None = TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"{api.url}{path}", headers=headers, timeout=5, proxies=NO_PROXY)


def test_exports_are_listed_and_served_per_instance_with_the_token(api):
    import hashlib

    data = b'{"students": {"state_id": "1"}}\n'
    entry = api.put_export("sandbox", "enroll_2026-12-01.jsonl", data)
    assert entry == {"name": "enroll_2026-12-01.jsonl", "path": "/sandbox/api/v1/exports/enroll_2026-12-01.jsonl",
                     "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    listing = get(api, "/sandbox/api/v1/exports")
    assert listing.status_code == 200 and listing.json() == {"files": [entry]}
    served = get(api, entry["path"])
    assert served.status_code == 200 and served.content == data
    assert served.headers["Content-Type"] == "application/octet-stream"
    assert get(api, "/production/api/v1/exports").json() == {"files": []}
    assert get(api, "/sandbox/api/v1/exports/other.jsonl").status_code == 404
    for answer in (get(api, "/sandbox/api/v1/exports", token=None), get(api, entry["path"], token="wrong")):
        assert answer.status_code == 401 and "API token" in answer.json()["error"]
    assert requests.post(f"{api.url}/sandbox/api/v1/exports", timeout=5, proxies=NO_PROXY).status_code == 405
    with pytest.raises(ValueError, match="export file name"):
        api.put_export("sandbox", "../x", b"")


def test_exports_can_be_put_over_the_control_endpoint_and_reset_forgets_them(api):
    answer = requests.put(f"{api.url}/__receiver__/exports/sandbox/a.csv", data=b"id\n1\n", timeout=5, proxies=NO_PROXY)
    assert answer.status_code == 200 and answer.json()["name"] == "a.csv"
    assert get(api, "/sandbox/api/v1/exports/a.csv").content == b"id\n1\n"
    api.reset()
    assert get(api, "/sandbox/api/v1/exports").json() == {"files": []}


def test_faults_apply_to_the_export_reads(api):
    api.put_export("sandbox", "a.jsonl", b"{}\n")
    api.set_faults({"503": 1.0}, max_faults=1)
    assert get(api, "/sandbox/api/v1/exports").status_code == 503
    assert get(api, "/sandbox/api/v1/exports").status_code == 200
