"""AeriesHook.request against a scripted HTTP server (see conftest.py): which failures are retried and how,
and the errors that are not."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException

from aeries_hub.aeries.collect import extract_to_parquet, read_table
from aeries_hub.aeries.errors import (
    AeriesAuthError,
    AeriesConfigError,
    AeriesNotFoundError,
    AeriesRequestError,
)
from aeries_hub.aeries.hook import AeriesHook
from tests.plugins.aeries_hub.aeries.scripted import SCHOOLS, hook_for, students


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

    result = extract_to_parquet(hook, "schools", tmp_path / "schools.parquet")

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

    rows = read_table(hook, "students", school_codes=[994])

    assert rows == students(994, 2)
    first_pages = [r for r in server.seen(server.api("schools/994/students")) if r.query["StartingRecord"] == "1"]
    assert len(first_pages) == 2  # the broken answer, then the good one (later pages were prefetched)
    assert len(sleeps.calls) == 1


def test_read_timeout_then_success(server, make_conn, tmp_path):
    conn_id = make_conn(timeout=0.2)
    server.script(server.api("schools"), server.reply(200, SCHOOLS, delay=0.6))
    server.json(server.api("schools"), SCHOOLS)
    hook, _ = hook_for(conn_id)
    result = extract_to_parquet(hook, "schools", tmp_path / "schools.parquet")
    assert (result.rows, result.retry_causes) == (3, {"timeout": 1})


def test_retry_causes_are_counted(server, make_conn, tmp_path):
    conn_id = make_conn()
    server.script(server.api("schools"), server.reply(200, server.DROP), server.reply(200, "<html>login</html>"))
    server.json(server.api("schools"), SCHOOLS)
    hook, _ = hook_for(conn_id)
    result = extract_to_parquet(hook, "schools", tmp_path / "s.parquet")
    assert result.retry_causes == {"dropped": 1, "html": 1}
    assert result.to_dict()["retries"] == 2


def test_exhausted_retries_raise_request_error(server, make_conn):
    conn_id = make_conn(max_retries=2)
    server.json(server.api("schools"), SCHOOLS)
    server.json(server.api("schools/994/students"), {"Message": "The service is unavailable."}, status=503)
    hook, sleeps = hook_for(conn_id)

    with pytest.raises(AeriesRequestError) as caught:
        read_table(hook, "students", school_codes=[994])

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


@pytest.fixture
def proxy_environment(monkeypatch):
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTPS_PROXY", "ALL_PROXY",
                 "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_environments_proxy_is_used_unless_no_proxy_names_the_host(server, make_conn, proxy_environment):
    """requests' environment settings, read once for the hook's session: a proxy that is not there cannot be
    connected to; NO_PROXY naming the Aeries host goes straight to it."""
    server.json(server.api("schools"), SCHOOLS)
    proxy_environment.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    proxy_environment.setenv("NO_PROXY", "example.org")
    hook, _ = hook_for(make_conn(max_retries=0))
    with pytest.raises(AeriesRequestError, match=r"at /api/v5/schools after 1 attempt; last cause: could not connect \(ProxyError\)$"):
        hook.get_schools()

    proxy_environment.setenv("NO_PROXY", "example.org,127.0.0.1")
    hook, _ = hook_for(make_conn(max_retries=0))
    assert [s["SchoolCode"] for s in hook.get_schools()] == [0, 990, 994]


@pytest.mark.parametrize(("verify_ssl", "verify"), [(True, "/etc/district-ca.pem"), (False, False),
                                                     ("/etc/aeries-ca.pem", "/etc/aeries-ca.pem")])
def test_the_environments_ca_bundle_is_used_unless_the_connection_names_its_own(make_conn, proxy_environment, tmp_path,
                                                                                 verify_ssl, verify):
    proxy_environment.setenv("REQUESTS_CA_BUNDLE", "/etc/district-ca.pem")
    if isinstance(verify_ssl, str):
        verify_ssl = verify = str(tmp_path / "aeries-ca.pem")
        (tmp_path / "aeries-ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    hook, _ = hook_for(make_conn(verify_ssl=verify_ssl))
    assert hook.get_conn().verify == verify


# ------------------------------------------------------------------------------------------------
# Errors that are not retried
# ------------------------------------------------------------------------------------------------
def test_401_fails_at_once(server, make_conn):
    conn_id = make_conn()
    server.json(server.api("schools"), {"Message": "Authorization has been denied for this request."}, status=401)
    hook, sleeps = hook_for(conn_id)

    with pytest.raises(AeriesAuthError) as caught:
        read_table(hook, "students")

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
        read_table(hook, "students", school_codes=[994])

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
        read_table(hook, "rosters", school_codes=[990])


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
