"""AeriesHook against a scripted HTTP server (see conftest.py): paging, retries, errors, secrecy, Parquet."""

from __future__ import annotations

import json
import logging
import threading
import time

import pyarrow.parquet as pq
import pytest
from airflow.sdk import ObjectStoragePath
from airflow.sdk.exceptions import AirflowFailException

from aeries_hub.hooks import aeries as aeries_module
from aeries_hub.hooks.aeries import (
    TABLES,
    AeriesAuthError,
    AeriesConfigError,
    AeriesHook,
    AeriesNotFoundError,
    AeriesRequestError,
    AeriesValidationError,
    AeriesWriteUnknownError,
    ExtractResult,
)

SCHOOLS = [
    {
        "SchoolCode": 0,
        "Name": "Eagle Unified School District",
        "InactiveStatusCode": "",
        "LowGradeLevel": -1,
        "HighGradeLevel": 12,
        "Terms": [{"TermCode": "Y", "TermDescription": "Year", "StartDate": "2025-07-06T00:00:00", "EndDate": "2026-06-12T00:00:00"}],
    },
    {
        "SchoolCode": 990,
        "Name": "Golden Eagle Elementary School",
        "InactiveStatusCode": "",
        "LowGradeLevel": -2,
        "HighGradeLevel": 6,
        "Terms": [
            {"TermCode": "1", "TermDescription": "1st Trimester", "StartDate": "2025-07-06T00:00:00", "EndDate": "2025-11-06T00:00:00"},
            {"TermCode": "Y", "TermDescription": "Year", "StartDate": "2025-07-06T00:00:00", "EndDate": "2026-06-12T00:00:00"},
        ],
    },
    {
        "SchoolCode": 994,
        "Name": "Eagle High School",
        "InactiveStatusCode": "",
        "LowGradeLevel": 9,
        "HighGradeLevel": 12,
        "Terms": [{"TermCode": "F", "TermDescription": "Fall", "StartDate": "2025-07-06T00:00:00", "EndDate": "2025-12-23T00:00:00"}],
    },
]


def students(school: int, count: int) -> list[dict]:
    return [
        {"StudentID": school * 100000 + i, "SchoolCode": school, "LastName": f"Last{i}", "FirstName": f"First{i}", "Grade": 9}
        for i in range(1, count + 1)
    ]


def serve_pages(server, path: str, data: list[dict]):
    """A route answering StartingRecord/EndingRecord (1-based, inclusive) from ``data``."""

    def handle(seen):
        if "StartingRecord" not in seen.query:
            return server.reply(200, data)
        start, end = int(seen.query["StartingRecord"]), int(seen.query["EndingRecord"])
        return server.reply(200, data[start - 1 : end])

    server.route(path, handle)


class SleepRecorder:
    def __init__(self):
        self.calls: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.calls.append(seconds)


def hook_for(conn_id: str, **kwargs) -> tuple[AeriesHook, SleepRecorder]:
    hook = AeriesHook(aeries_conn_id=conn_id, **kwargs)
    hook.sleep = SleepRecorder()
    return hook, hook.sleep


# ------------------------------------------------------------------------------------------------
# Registry and UI
# ------------------------------------------------------------------------------------------------
def test_registry_and_provider_attributes():
    assert list(TABLES) == ["schools", "terms", "students", "contacts", "staff", "teachers", "courses", "sections", "rosters"]
    assert TABLES["students"].endpoint == "schools/{school_code}/students"
    assert TABLES["rosters"].path_for(994) == "schools/994/classes"
    assert TABLES["rosters"].security_area == "Class Schedules/History"
    assert TABLES["contacts"].key == ("StudentID", "SequenceNumber")
    assert [t.name for t in TABLES.values() if t.paged] == ["students", "contacts", "rosters"]
    assert [t.name for t in TABLES.values() if not t.per_school] == ["schools", "staff", "courses"]
    for spec in TABLES.values():
        assert set(spec.key) <= set(spec.column_names), spec.name
    assert AeriesHook.conn_name_attr == "aeries_conn_id"
    assert AeriesHook.default_conn_name == "aeries_default"
    assert AeriesHook.conn_type == "aeries"
    assert AeriesHook.hook_name == "Aeries SIS"
    ui = AeriesHook.get_ui_field_behaviour()
    assert set(ui["hidden_fields"]) == {"schema", "port", "login"}
    assert ui["relabeling"]["password"] == "API certificate"
    assert "https://district.aeries.net/admin" in ui["relabeling"]["host"]
    assert '"page_size": 500' in ui["placeholders"]["extra"]
    with pytest.raises(AeriesConfigError, match="known tables: schools, terms"):
        AeriesHook().get_table("gradebooks")


def test_connection_type_resolves_to_the_hook(make_conn):
    from airflow.sdk import BaseHook

    hook = BaseHook.get_hook(make_conn())  # through the provider entry point (connection type "aeries")
    assert isinstance(hook, AeriesHook) and hook.aeries_conn_id == "aeries_test"


def test_base_url_without_scheme_is_https(make_conn):
    conn_id = make_conn(host="district.aeries.net/admin/", api_version=5)
    hook = AeriesHook(aeries_conn_id=conn_id)
    assert hook.base_url == "https://district.aeries.net/admin"


# ------------------------------------------------------------------------------------------------
# Paging and per-school iteration
# ------------------------------------------------------------------------------------------------
def test_paging_three_pages_exact_records(server, make_conn, tmp_path):
    conn_id = make_conn(page_size=3, max_concurrency=1)
    server.json(server.api("schools"), SCHOOLS)
    data = students(994, 7)
    serve_pages(server, server.api("schools/994/students"), data)
    hook, _ = hook_for(conn_id)

    result = hook.extract_to_parquet("students", tmp_path / "students.parquet", school_codes=[994])

    pages = [(r.query["StartingRecord"], r.query["EndingRecord"]) for r in server.seen(server.api("schools/994/students"))]
    assert pages == [("1", "3"), ("4", "6"), ("7", "9")]
    assert isinstance(result, ExtractResult)
    assert (result.table, result.rows, result.pages, result.requests, result.retries) == ("students", 7, 3, 4, 0)
    assert result.path == str(tmp_path / "students.parquet")
    assert pq.read_table(tmp_path / "students.parquet").column("StudentID").to_pylist() == [r["StudentID"] for r in data]


def test_paging_with_prefetch_keeps_order_and_discards_pages_past_the_end(server, make_conn):
    conn_id = make_conn(page_size=4, max_concurrency=4)
    server.json(server.api("schools"), SCHOOLS)
    data = students(994, 10)  # pages of 4, 4, 2
    serve_pages(server, server.api("schools/994/students"), data)
    hook, _ = hook_for(conn_id)

    rows = hook.get_table("students", school_codes=[994])

    assert rows == data
    starts = sorted(int(r.query["StartingRecord"]) for r in server.seen(server.api("schools/994/students")))
    assert starts[:3] == [1, 5, 9]
    # no page twice; speculation reaches at most prefetch_pages (3) past the first unconfirmed page (page 3)
    assert len(starts) == len(set(starts)) and max(starts) <= 1 + 4 * (3 + 3 - 1)
    assert server.max_in_flight <= 4


def test_failed_speculative_page_past_the_end_is_ignored(server, make_conn):
    conn_id = make_conn(page_size=2, max_concurrency=3, max_retries=3, backoff_base=5, backoff_max=5)
    server.json(server.api("schools"), SCHOOLS)
    data = students(994, 3)

    def handle(seen):
        start = int(seen.query["StartingRecord"])
        if start > len(data):
            return server.reply(500, {"Message": "beyond the end"}, delay=0.05)
        # the last page (2) comes late, so the speculative page 3 has failed and is backing off by then
        return server.reply(200, data[start - 1 : int(seen.query["EndingRecord"])], delay=0.15 if start == 3 else 0)

    server.route(server.api("schools/994/students"), handle)
    hook = AeriesHook(aeries_conn_id=conn_id)  # the real, interruptible sleep
    hook.get_conn()  # the connection lookup took a second once on a busy CI machine; it is not what is measured
    started = time.monotonic()
    assert hook.get_table("students", school_codes=[994]) == data
    assert time.monotonic() - started < 0.5  # nobody waited for the failing speculative page
    assert "5" in {r.query["StartingRecord"] for r in server.seen(server.api("schools/994/students"))}


def test_per_school_tables_skip_the_district_office(server, make_conn):
    conn_id = make_conn(terms_from_schools=False)
    server.json(server.api("schools"), SCHOOLS)
    server.json(server.api("schools/990/teachers"), [{"SchoolCode": 990, "TeacherNumber": 1, "LastName": "Ames"}])
    server.json(server.api("schools/994/teachers"), [{"SchoolCode": 994, "TeacherNumber": 7, "LastName": "Boyd"}])
    server.json(server.api("schools/990/terms"), [{"TermCode": "1"}, {"TermCode": "Y"}])
    server.json(server.api("schools/994/terms"), [{"TermCode": "F"}])
    hook, _ = hook_for(conn_id)

    teachers = hook.get_table("teachers")
    terms = hook.get_table("terms")

    assert [(t["SchoolCode"], t["TeacherNumber"]) for t in teachers] == [(990, 1), (994, 7)]
    assert terms == [
        {"SchoolCode": 990, "TermCode": "1"},
        {"SchoolCode": 990, "TermCode": "Y"},
        {"SchoolCode": 994, "TermCode": "F"},
    ]
    assert not [r for r in server.seen() if r.path.startswith(server.api("schools/0/"))]


def test_terms_from_the_schools_list(server, make_conn):
    conn_id = make_conn()
    server.json(server.api("schools"), SCHOOLS)
    hook, _ = hook_for(conn_id)

    terms = hook.get_table("terms", school_codes=[994])

    assert terms == [{"SchoolCode": 994, "TermCode": "F", "TermDescription": "Fall", "StartDate": "2025-07-06T00:00:00", "EndDate": "2025-12-23T00:00:00"}]
    assert [r.path for r in server.seen()] == [server.api("schools")]


def test_school_codes_filter(server, make_conn, caplog):
    conn_id = make_conn()
    server.json(server.api("schools"), SCHOOLS)
    server.json(server.api("schools/994/sections"), [{"SchoolCode": 994, "SectionNumber": 1}])
    hook, _ = hook_for(conn_id)

    with caplog.at_level(logging.WARNING, logger=aeries_module.LOGGER_NAME):
        rows = hook.get_table("sections", school_codes=[994, 123])

    assert rows == [{"SchoolCode": 994, "SectionNumber": 1}]
    assert [r.path for r in server.seen()] == [server.api("schools"), server.api("schools/994/sections")]
    assert "school codes 123 are not in the schools list" in caplog.text
    assert [s["SchoolCode"] for s in hook.get_table("schools", school_codes=[994])] == [994]
    assert [s["SchoolCode"] for s in hook.get_table("schools")] == [0, 990, 994]


def test_district_wide_tables_and_database_year(server, make_conn):
    conn_id = make_conn(database_year=2024)
    server.json(server.api("staff"), [{"ID": 884616, "LastName": "Abbott"}])
    server.json(server.api("courses"), [{"ID": "0001", "Title": "English 9"}])
    server.json(server.api("systeminfo"), {"AeriesVersion": "10.1", "LocalTimeZoneName": "Pacific Standard Time"})

    assert AeriesHook(aeries_conn_id=conn_id).get_table("staff") == [{"ID": 884616, "LastName": "Abbott"}]
    assert AeriesHook(aeries_conn_id=conn_id, database_year=2023).get_table("courses") == [{"ID": "0001", "Title": "English 9"}]
    assert AeriesHook(aeries_conn_id=conn_id).get_system_info()["AeriesVersion"] == "10.1"

    assert server.seen(server.api("staff"))[0].query == {"DatabaseYear": "2024"}
    assert server.seen(server.api("courses"))[0].query == {"DatabaseYear": "2023"}  # the run's year wins
    info = server.seen(server.api("systeminfo"))[0]
    assert info.query == {} and info.cert is None  # systeminfo needs no certificate


def test_pre_v5_fields_are_renamed(server, make_conn):
    conn_id = make_conn(api_version=4)
    server.json(server.api("schools", version=4), SCHOOLS)
    server.json(
        server.api("schools/994/students", version=4),
        [{"PermanentID": 99400001, "SchoolCode": 994, "Sex": "F", "LastName": "Abbott"}],
    )
    hook, _ = hook_for(conn_id)

    rows = hook.get_table("students", school_codes=[994])

    assert rows == [{"StudentID": 99400001, "SchoolCode": 994, "Gender": "F", "LastName": "Abbott"}]
    assert server.seen(server.api("schools/994/students", version=4))


# ------------------------------------------------------------------------------------------------
# Retries
# ------------------------------------------------------------------------------------------------
def test_429_retry_after_is_honoured(server, make_conn):
    conn_id = make_conn()
    server.script(server.api("schools"), server.reply(429, {"Message": "slow down"}, {"Retry-After": "2"}))
    server.json(server.api("schools"), SCHOOLS)
    hook, sleeps = hook_for(conn_id)

    result = hook.get_schools()

    assert [s["SchoolCode"] for s in result] == [0, 990, 994]
    assert len(sleeps.calls) == 1 and sleeps.calls[0] >= 2
    assert len(server.seen(server.api("schools"))) == 2


@pytest.mark.parametrize(
    ("failures", "causes"),
    [
        ([(500, {"Message": "Object reference not set"}), (503, "Service Unavailable")], {"http_500": 1, "http_503": 1}),
        ([(502, b""), (504, b"")], {"http_502": 1, "http_504": 1}),
    ],
)
def test_5xx_then_success(server, make_conn, tmp_path, failures, causes):
    conn_id = make_conn()
    server.script(server.api("schools"), *[server.reply(status, body) for status, body in failures])
    server.json(server.api("schools"), SCHOOLS)
    hook, sleeps = hook_for(conn_id)

    result = hook.extract_to_parquet("schools", tmp_path / "schools.parquet")

    assert (result.rows, result.requests, result.retries, result.retry_causes) == (3, 3, 2, causes)
    assert len(sleeps.calls) == 2
    assert all(0 <= s <= 0.05 for s in sleeps.calls)  # full jitter, capped by backoff_max


@pytest.mark.parametrize(
    ("bad", "cause"),
    [
        ("drop", "dropped"),
        ("html", "html"),
        ("truncated_json", "invalid_json"),
        ("short_body", "dropped"),
        ("not_json", "invalid_json"),
    ],
)
def test_broken_answers_then_success(server, make_conn, bad, cause):
    conn_id = make_conn()
    broken = {
        "drop": server.reply(200, server.DROP),
        "html": server.reply(200, "<html><body><form action='/login'>Windows sign in</form></body></html>"),
        "truncated_json": server.reply(200, b'[{"StudentID": 99400001, "LastName": "Ab'),
        "short_body": server.reply(200, server.SHORT_BODY),
        "not_json": server.reply(200, b"Object moved"),
    }[bad]
    server.json(server.api("schools"), SCHOOLS)
    server.script(server.api("schools/994/students"), broken)
    server.json(server.api("schools/994/students"), students(994, 2))
    hook, sleeps = hook_for(conn_id)

    rows = hook.get_table("students", school_codes=[994])

    assert rows == students(994, 2)
    first_pages = [r for r in server.seen(server.api("schools/994/students")) if r.query["StartingRecord"] == "1"]
    assert len(first_pages) == 2  # the broken answer, then the good one (later pages were prefetched)
    assert len(sleeps.calls) == 1


def test_read_timeout_then_success(server, make_conn, tmp_path):
    conn_id = make_conn(timeout=0.2)
    server.script(server.api("schools"), server.reply(200, SCHOOLS, delay=0.6))
    server.json(server.api("schools"), SCHOOLS)
    hook, _ = hook_for(conn_id)
    result = hook.extract_to_parquet("schools", tmp_path / "schools.parquet")
    assert (result.rows, result.retry_causes) == (3, {"timeout": 1})


def test_retry_causes_are_counted(server, make_conn, tmp_path):
    conn_id = make_conn()
    server.script(server.api("schools"), server.reply(200, server.DROP), server.reply(200, "<html>login</html>"))
    server.json(server.api("schools"), SCHOOLS)
    hook, _ = hook_for(conn_id)
    result = hook.extract_to_parquet("schools", tmp_path / "s.parquet")
    assert result.retry_causes == {"dropped": 1, "html": 1}
    assert result.to_dict()["retries"] == 2


def test_exhausted_retries_raise_request_error(server, make_conn):
    conn_id = make_conn(max_retries=2)
    server.json(server.api("schools"), SCHOOLS)
    server.json(server.api("schools/994/students"), {"Message": "The service is unavailable."}, status=503)
    hook, sleeps = hook_for(conn_id)

    with pytest.raises(AeriesRequestError) as caught:
        hook.get_table("students", school_codes=[994])

    message = str(caught.value)
    assert message == (
        "Aeries request failed for connection 'aeries_test' at /api/v5/schools/994/students after 3 attempts; "
        "last cause: HTTP 503: The service is unavailable."
    )
    assert not isinstance(caught.value, AirflowFailException)  # Airflow may retry the task later
    assert "StartingRecord" not in message
    assert len(server.seen(server.api("schools/994/students"))) == 3
    assert len(sleeps.calls) == 2


def test_connection_refused_is_retried_then_reported(make_conn):
    conn_id = make_conn(host="http://127.0.0.1:9/aeries", max_retries=1)
    hook, sleeps = hook_for(conn_id)
    with pytest.raises(AeriesRequestError, match=r"'aeries_test' at /api/v5/schools after 2 attempts; last cause: could not connect"):
        hook.get_schools()
    assert len(sleeps.calls) == 1


# ------------------------------------------------------------------------------------------------
# Errors that are not retried
# ------------------------------------------------------------------------------------------------
def test_401_fails_at_once(server, make_conn):
    conn_id = make_conn()
    server.json(server.api("schools"), {"Message": "Authorization has been denied for this request."}, status=401)
    hook, sleeps = hook_for(conn_id)

    with pytest.raises(AeriesAuthError) as caught:
        hook.get_table("students")

    assert str(caught.value) == (
        "Aeries refused connection 'aeries_test' at /api/v5/schools (HTTP 401): the certificate was not accepted. "
        "Check the password (API certificate) of connection 'aeries_test'. "
        "Aeries said: Authorization has been denied for this request."
    )
    assert isinstance(caught.value, AirflowFailException)
    assert caught.value.status == 401
    assert len(server.seen()) == 1 and not sleeps.calls


def test_403_names_the_security_area(server, make_conn):
    conn_id = make_conn(max_concurrency=1)
    server.json(server.api("schools"), SCHOOLS)
    server.json(server.api("schools/994/students"), {}, status=403)
    hook, sleeps = hook_for(conn_id)

    with pytest.raises(AeriesAuthError) as caught:
        hook.get_table("students", school_codes=[994])

    assert str(caught.value) == (
        "Aeries refused connection 'aeries_test' at /api/v5/schools/994/students (HTTP 403): the certificate lacks "
        "the security area 'Student Data'. Grant it in Aeries under Security > API Security for this certificate."
    )
    assert caught.value.security_area == "Student Data"
    assert len(server.seen(server.api("schools/994/students"))) == 1 and not sleeps.calls


def test_403_with_server_message(server, make_conn):
    conn_id = make_conn()
    server.json(server.api("schools"), SCHOOLS)
    server.json(server.api("schools/990/classes"), {"Message": "No access to SEC"}, status=403)
    hook, _ = hook_for(conn_id)
    with pytest.raises(AeriesAuthError, match=r"'Class Schedules/History'\. Grant it .* Aeries said: No access to SEC$"):
        hook.get_table("rosters", school_codes=[990])


def test_404_and_400(server, make_conn):
    conn_id = make_conn()
    server.json(server.api("schools/123"), {"Message": "School 123 does not exist"}, status=404)
    server.json(server.api("schools/994"), [SCHOOLS[2]])  # a one-item array is accepted
    server.json(server.api("schools/990"), SCHOOLS[1])  # and so is an object
    server.json(server.api("schools"), {"Message": "The request is invalid."}, status=400)
    hook, sleeps = hook_for(conn_id)

    with pytest.raises(AeriesNotFoundError, match=r"/api/v5/schools/123 was not found \(HTTP 404\): School 123 does not exist"):
        hook.get_school(123)
    assert hook.get_school(994)["Name"] == "Eagle High School"
    assert hook.get_school(990)["Name"] == "Golden Eagle Elementary School"
    with pytest.raises(AeriesRequestError, match=r"at /api/v5/schools \(1 attempt\): HTTP 400: The request is invalid\.$"):
        hook.get_schools()
    assert len(server.seen(server.api("schools"))) == 1 and not sleeps.calls


def test_redirects_are_not_followed(server, make_conn):
    conn_id = make_conn()
    server.script(server.api("schools"), server.reply(302, b"", {"Location": "https://login.example.com/adfs/ls?wa=signin"}))
    hook, _ = hook_for(conn_id)
    with pytest.raises(AeriesRequestError, match=r"HTTP 302 redirect to /adfs/ls; check the base URL"):
        hook.get_schools()
    assert len(server.seen()) == 1


def test_missing_certificate(server, make_conn):
    conn_id = make_conn(password="")
    with pytest.raises(AeriesConfigError, match="has no Aeries certificate"):
        AeriesHook(aeries_conn_id=conn_id).get_schools()
    assert not server.seen()


def test_bad_extra(make_conn):
    conn_id = make_conn(page_size=0)
    with pytest.raises(AeriesConfigError, match="page_size must be at least 1"):
        AeriesHook(aeries_conn_id=conn_id).get_schools()


# ------------------------------------------------------------------------------------------------
# Transport: plain http and unchecked certificates only with the explicit, logged opt-in
# ------------------------------------------------------------------------------------------------
PLAIN_HTTP = "plain http:// (the credentials and student data travel unencrypted)"
NO_VERIFY = "verify_ssl false (any server can pretend to be this one)"


@pytest.mark.parametrize("host, extra, what", [
    (None, {}, PLAIN_HTTP),                                                    # the scripted server: http://
    (None, {"verify_ssl": False}, f"{PLAIN_HTTP} and {NO_VERIFY}"),
    ("https://district.aeries.test/admin", {"verify_ssl": False}, NO_VERIFY),
    ("https://district.aeries.test/admin", {"verify_ssl": "false", "allow_insecure": False}, NO_VERIFY),
])
def test_insecure_transport_is_refused_without_the_opt_in(server, cert, monkeypatch, host, extra, what):
    monkeypatch.setenv("AIRFLOW_CONN_AERIES_TEST", json.dumps(
        {"conn_type": "aeries", "host": host or server.url, "password": cert, "extra": extra}))
    with pytest.raises(AeriesConfigError) as err:
        AeriesHook(aeries_conn_id="aeries_test").get_schools()
    assert str(err.value) == (f"connection 'aeries_test' uses {what}: use https with certificate checks, or, for a "
                              "test server only, set the extra allow_insecure: true")
    assert cert not in str(err.value)
    assert not server.seen()


def test_the_opt_in_is_logged_loudly(server, make_conn, caplog):
    conn_id = make_conn(verify_ssl=False)  # make_conn sets allow_insecure: true (the scripted server is http)
    server.script(server.api("schools"), server.reply(200, SCHOOLS))
    with caplog.at_level(logging.WARNING):
        assert AeriesHook(aeries_conn_id=conn_id).get_schools()
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.getMessage() == (f"INSECURE: connection 'aeries_test' uses {PLAIN_HTTP} and {NO_VERIFY}, allowed "
                                    "by its extra allow_insecure: true; never use it for real student data")


def test_https_with_a_ca_bundle_needs_no_opt_in(make_conn, tmp_path, caplog):
    bundle = tmp_path / "district-ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    conn_id = make_conn(host="https://district.aeries.test/admin", verify_ssl=str(bundle), allow_insecure=False)
    assert AeriesHook(aeries_conn_id=conn_id).settings.verify_ssl == str(bundle)
    default = make_conn(host="district.aeries.test/admin", allow_insecure=False)
    assert AeriesHook(aeries_conn_id=default).settings.verify_ssl is True
    assert "INSECURE" not in caplog.text


@pytest.mark.parametrize("key, value, shown", [
    ("verify_ssl", None, "null"), ("verify_ssl", 0, "0"), ("verify_ssl", [], "[]"), ("verify_ssl", {}, "{}"),
    ("allow_insecure", None, "null"), ("allow_insecure", 1, "1"), ("allow_insecure", "yes", '"yes"'),
    ("terms_from_schools", 0, "0"), ("terms_from_schools", "no", '"no"'), ("terms_from_schools", "off", '"off"'),
])
def test_junk_for_a_true_false_extra_is_a_load_error(server, make_conn, key, value, shown):
    conn_id = make_conn(**{key: value})
    with pytest.raises(AeriesConfigError) as err:
        AeriesHook(aeries_conn_id=conn_id).get_schools()
    assert str(err.value) == f"connection 'aeries_test': extra {key} must be true or false, not {shown}"
    assert not server.seen()


@pytest.mark.parametrize("value", ["no", "0", "/no/such/ca-bundle.pem"])
def test_verify_ssl_text_is_true_false_or_a_ca_bundle(make_conn, value):
    with pytest.raises(AeriesConfigError) as err:
        AeriesHook(aeries_conn_id=make_conn(verify_ssl=value)).settings  # noqa: B018 - loads the connection
    assert str(err.value) == (f"connection 'aeries_test': extra verify_ssl must be true, false or the path of a CA "
                              f'bundle file; "{value}" is none of them')


# ------------------------------------------------------------------------------------------------
# Secrecy
# ------------------------------------------------------------------------------------------------
def test_certificate_never_leaks(server, make_conn, cert, caplog, tmp_path):
    conn_id = make_conn(max_retries=1)
    server.json(server.api("schools"), SCHOOLS)
    server.script(server.api("schools/994/students"), server.reply(503, {"Message": "busy"}), server.reply(200, server.DROP))
    server.json(server.api("schools/990/students"), students(990, 2))
    server.json(server.api("schools/990/contacts"), {"Message": f"certificate {cert} lacks Contacts"}, status=403)
    server.json(server.api("staff"), {"Message": "no"}, status=401)
    server.json(server.api("systeminfo"), {"AeriesVersion": "10.1"})
    hook, _ = hook_for(conn_id)
    messages = []

    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger=aeries_module.LOGGER_NAME):
        with pytest.raises(AeriesRequestError) as exhausted:
            hook.get_table("students", school_codes=[994])
        messages.append(str(exhausted.value))
        for table in ("contacts", "staff"):
            with pytest.raises(AeriesAuthError) as refused:
                hook.get_table(table, school_codes=[990])
            messages.append(str(refused.value))
        result = hook.extract_to_parquet("students", tmp_path / "students.parquet", school_codes=[990])
        ok, text = hook.test_connection()
        messages.append(text)

    assert result.rows == 2 and ok
    # the certificate was really sent ...
    assert {r.cert for r in server.seen() if not r.path.endswith("systeminfo")} == {cert}
    # ... and is nowhere else
    assert "***" in messages[1]  # the server echoed it: redacted
    everything = "\n".join(
        messages
        + [caplog.text, repr(hook), str(result), str(result.to_dict())]
        + [record.getMessage() for record in caplog.records]
        + [repr(record.args) for record in caplog.records]
    )
    assert any(r.levelno == logging.DEBUG and "GET /api/v5/schools/990/students -> 200" in r.getMessage() for r in caplog.records)
    assert any(r.levelno == logging.INFO and "Aeries students: 2 rows" in r.getMessage() for r in caplog.records)
    assert cert not in everything
    assert cert.encode() not in (tmp_path / "students.parquet").read_bytes()
    assert cert not in str(vars(result))


def test_test_connection(server, make_conn, cert):
    conn_id = make_conn()
    server.json(server.api("systeminfo"), {"AeriesVersion": "10.1.2"})
    server.json(server.api("schools"), SCHOOLS)
    ok, message = AeriesHook(aeries_conn_id=conn_id).test_connection()
    assert ok
    assert message == f"Connected to Aeries 10.1.2 at {server.url}/api/v5: the certificate can read 3 schools."

    server.script(server.api("schools"), server.reply(401, {"Message": "denied"}))
    ok, message = AeriesHook(aeries_conn_id=conn_id).test_connection()
    assert not ok
    assert message.startswith("Aeries refused connection 'aeries_test' at /api/v5/schools (HTTP 401)")
    assert cert not in message


# ------------------------------------------------------------------------------------------------
# Parquet
# ------------------------------------------------------------------------------------------------
def test_parquet_round_trip_with_nested_values(server, make_conn, tmp_path):
    conn_id = make_conn()
    server.json(server.api("schools"), SCHOOLS)
    sections = [
        {
            "SchoolCode": 994,
            "SectionNumber": 12,
            "Period": "1",
            "CourseID": "0001",
            "Credit": 5.0,
            "SectionStaffMembers": [
                {"StaffID": 884616, "LastName": "Abbott", "FirstName": "Dario", "IsPrimaryTeacher": True, "StaffRoleCode": "1"},
                {"StaffID": 884700, "LastName": "Bell", "FirstName": "Ann", "IsPrimaryTeacher": False, "StaffRoleCode": "2"},
            ],
        },
        {"SchoolCode": 994, "SectionNumber": 13, "Period": "2", "CourseID": "0002", "SectionStaffMembers": [], "Room": "B12"},
    ]
    server.json(server.api("schools/994/sections"), sections)
    hook, _ = hook_for(conn_id)
    target = tmp_path / "nested" / "sections.parquet"

    result = hook.extract_to_parquet("sections", str(target), school_codes=[994])

    table = pq.read_table(target)
    assert result.rows == table.num_rows == 2
    staff_type = table.schema.field("SectionStaffMembers").type
    assert str(staff_type.value_type) .startswith("struct<StaffID: int64, LastName: string")
    staff = table.column("SectionStaffMembers").to_pylist()
    assert [m["StaffID"] for m in staff[0]] == [884616, 884700]
    assert staff[0][0]["IsPrimaryTeacher"] is True and staff[1] == []
    assert table.column("Room").to_pylist() == [None, "B12"]  # union of keys, missing -> null
    assert table.column("Credit").to_pylist() == [5.0, None]
    assert table.column("CourseID").to_pylist() == ["0001", "0002"]  # leading zeros kept
    assert "MaxStudents" in table.column_names  # known columns are always present
    assert table.schema.metadata[b"aeries.table"] == b"sections"
    frame = pq.read_table(target).to_pandas()
    assert list(frame["SectionNumber"]) == [12, 13]


def test_empty_table_writes_known_columns(server, make_conn, tmp_path):
    conn_id = make_conn()
    server.json(server.api("schools"), SCHOOLS)
    for school in (990, 994):
        server.json(server.api(f"schools/{school}/students"), [])
    hook, _ = hook_for(conn_id)

    result = hook.extract_to_parquet("students", tmp_path / "students.parquet")

    table = pq.read_table(tmp_path / "students.parquet")
    assert table.num_rows == 0 == result.rows
    assert table.column_names == list(TABLES["students"].column_names)
    assert table.schema.field("StudentID").type == "int64"
    assert (result.pages, result.requests) == (2, 3)  # one page per school; the schools list is not a page


def test_extract_to_object_storage_path(server, make_conn):
    conn_id = make_conn()
    server.json(server.api("schools"), SCHOOLS)
    server.json(server.api("staff"), [
        {"ID": 1, "LastName": "Abbott", "SchoolAccessPermissions": [{"SchoolCode": 994, "ReadOnlyAccess": False, "CommunicationGroup": True}]},
        {"ID": 2, "LastName": "Bell", "SchoolAccessPermissions": None},
    ])
    import fsspec
    from airflow.sdk.io import attach

    attach("memory", fs=fsspec.filesystem("memory"))  # stands in for s3:// and friends
    target = ObjectStoragePath("memory://aeries-hook-test/extract/staff.parquet")
    hook, _ = hook_for(conn_id)

    result = hook.extract_to_parquet("staff", target)

    with target.open("rb") as handle:
        table = pq.read_table(handle)
    assert result.path == str(target)
    assert table.column("ID").to_pylist() == [1, 2]
    assert table.column("SchoolAccessPermissions").to_pylist()[0] == [{"SchoolCode": 994, "ReadOnlyAccess": False, "CommunicationGroup": True}]


def test_mixed_value_types_fall_back_to_text():
    table = aeries_module.rows_to_arrow("courses", [{"ID": "0001", "Weird": 1}, {"ID": "0002", "Weird": "x"}])
    assert table.column("Weird").to_pylist() == ["1", "x"]


def test_padded_blank_in_a_number_or_boolean_column_is_null_and_the_column_keeps_its_type(caplog):
    import pyarrow as pa

    rows = [
        {"StudentID": 1, "SchoolCode": 100, "NextSchoolCode": 300, "Grade": 5, "Gender": "F"},
        {"StudentID": 2, "SchoolCode": 100, "NextSchoolCode": "  ", "Grade": "", "Gender": "  "},
    ]
    with caplog.at_level(logging.WARNING, logger=aeries_module.LOGGER_NAME):
        table = aeries_module.rows_to_arrow("students", rows)
    assert table.schema.field("NextSchoolCode").type == pa.int64()
    assert table.column("NextSchoolCode").to_pylist() == [300, None]
    assert table.column("Grade").to_pylist() == [5, None]
    # a text column keeps the padding (the mapping engine reads a value of only spaces as blank)
    assert table.column("Gender").to_pylist() == ["F", "  "]
    assert "mixes value types" not in caplog.text
    sections = aeries_module.rows_to_arrow("sections", [
        {"SchoolCode": 100, "SectionNumber": 1, "SectionStaffMembers": [{"StaffID": 7, "IsPrimaryTeacher": True}]},
        {"SchoolCode": 100, "SectionNumber": 2, "SectionStaffMembers": [], "Credit": " "},
    ])
    assert sections.schema.field("Credit").type == pa.float64()
    assert sections.column("Credit").to_pylist() == [None, None]


def test_a_non_blank_text_in_a_number_column_still_falls_back_to_text_not_to_null():
    table = aeries_module.rows_to_arrow("students", [{"StudentID": 1, "NextSchoolCode": 300}, {"StudentID": 2, "NextSchoolCode": "3OO"}])
    assert table.column("NextSchoolCode").to_pylist() == ["300", "3OO"]


# ------------------------------------------------------------------------------------------------
# Concurrency
# ------------------------------------------------------------------------------------------------
def test_bounded_concurrency(server, make_conn):
    conn_id = make_conn(max_concurrency=3, page_size=5)
    schools = [{"SchoolCode": 0, "Name": "District"}] + [{"SchoolCode": code, "Name": f"S{code}"} for code in range(101, 111)]
    server.json(server.api("schools"), schools)
    for school in schools[1:]:
        serve_pages(server, server.api(f"schools/{school['SchoolCode']}/students"), students(school["SchoolCode"], 7))
    server.delay = 0.03
    hook, _ = hook_for(conn_id)

    rows = hook.get_table("students")

    assert len(rows) == 70
    assert [r["SchoolCode"] for r in rows[::7]] == list(range(101, 111))  # school order kept
    assert 2 <= server.max_in_flight <= 3


# ------------------------------------------------------------------------------------------------
# Writes
# ------------------------------------------------------------------------------------------------
STUDENT = {"StudentID": 99400001, "FirstName": "Ana", "LastName": "Ruiz", "Grade": 9}


def test_write_posts_the_json_body_with_the_certificate_and_school_year(server, make_conn, cert):
    conn_id = make_conn(database_year=2025)
    server.json(server.api("schools/994/InsertStudent"), STUDENT)
    hook, _ = hook_for(conn_id)

    answer = hook.write("schools/994/InsertStudent", STUDENT, security_area="Student Data")

    assert answer == STUDENT
    (seen,) = server.seen(server.api("schools/994/InsertStudent"))
    assert (seen.method, seen.body, seen.cert, seen.query) == ("POST", STUDENT, cert, {"DatabaseYear": "2025"})


def test_write_refused_by_aeries_names_the_endpoint_and_aeries_reason_and_is_not_retried(server, make_conn):
    conn_id = make_conn()
    server.json(server.api("UpdateStudent/99400001"), {"Message": "Grade must be between -2 and 18"}, status=400)
    hook, sleeps = hook_for(conn_id)

    with pytest.raises(AeriesValidationError) as caught:
        hook.write("UpdateStudent/99400001", {"Grade": 19}, security_area="Student Data", idempotent=True)

    assert str(caught.value) == (
        "Aeries refused POST /api/v5/UpdateStudent/99400001 for connection 'aeries_test' (HTTP 400): "
        "Grade must be between -2 and 18"
    )
    assert len(server.seen()) == 1 and sleeps.calls == []


@pytest.mark.parametrize("status", [429, 503])
def test_insert_is_retried_when_aeries_certainly_did_nothing(server, make_conn, status):
    conn_id = make_conn()
    path = server.api("schools/994/InsertStudent")
    server.script(path, server.reply(status, {"Message": "busy"}), server.reply(200, STUDENT))
    hook, _ = hook_for(conn_id)

    assert hook.write("schools/994/InsertStudent", STUDENT, security_area="Student Data") == STUDENT
    assert [s.body for s in server.seen(path)] == [STUDENT, STUDENT]


def test_insert_whose_answer_is_lost_is_not_sent_again(server, make_conn):
    conn_id = make_conn()
    path = server.api("schools/994/InsertStudent")
    server.script(path, server.reply(500, {"Message": "An error has occurred."}), server.reply(200, STUDENT))
    hook, _ = hook_for(conn_id)

    with pytest.raises(AeriesWriteUnknownError) as caught:
        hook.write("schools/994/InsertStudent", STUDENT, security_area="Student Data")

    assert str(caught.value) == (
        "Aeries POST /api/v5/schools/994/InsertStudent for connection 'aeries_test': HTTP 500: An error has occurred.; "
        "Aeries may or may not have written it, so it was not sent again. Read the record back before writing it again"
    )
    assert len(server.seen(path)) == 1


def test_an_update_is_idempotent_and_retried_after_a_lost_answer(server, make_conn):
    conn_id = make_conn(timeout=0.2)
    path = server.api("UpdateStudent/99400001")
    server.script(path, server.reply(200, STUDENT, delay=0.6), server.reply(200, STUDENT))
    hook, _ = hook_for(conn_id)

    assert hook.write("UpdateStudent/99400001", STUDENT, security_area="Student Data", idempotent=True) == STUDENT
    assert len(server.seen(path)) == 2
