"""AeriesHook against a scripted HTTP server (see conftest.py): the registry, the transport opt-in, the
extras (against the emulator), secrecy, bounded concurrency and writes."""

from __future__ import annotations

import json
import logging

import pytest

from aeries_hub.aeries.collect import extract_to_parquet, read_table
from aeries_hub.aeries.errors import (
    AeriesAuthError,
    AeriesConfigError,
    AeriesRequestError,
    AeriesValidationError,
    AeriesWriteUnknownError,
)
from aeries_hub.aeries.hook import AeriesHook
from aeries_hub.aeries.logs import LOGGER_NAME
from aeries_hub.aeries.tables import TABLES
from aeries_sandbox.emulator import READ_AREAS, EmulatorServer
from aeries_sandbox.emulator.district import District
from tests.plugins.aeries_hub.aeries.scripted import SCHOOLS, hook_for, serve_pages, students


# ------------------------------------------------------------------------------------------------
# Registry
# ------------------------------------------------------------------------------------------------
def test_registry_and_provider_attributes():
    assert list(TABLES) == ["schools", "terms", "students", "contacts", "staff", "teachers", "courses", "sections", "rosters",
                            "programs"]
    assert TABLES["programs"].path_for(994) == "schools/994/students/0/programs"
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
    with pytest.raises(AeriesConfigError, match="known tables: schools, terms"):
        read_table(AeriesHook(), "gradebooks")


def test_connection_type_resolves_to_the_hook(make_conn):
    from airflow.sdk import BaseHook

    hook = BaseHook.get_hook(make_conn())  # through the provider entry point (connection type "aeries")
    assert isinstance(hook, AeriesHook) and hook.aeries_conn_id == "aeries_test"


def test_base_url_without_scheme_is_https(make_conn):
    conn_id = make_conn(host="district.aeries.net/admin/", api_version=5)
    hook = AeriesHook(aeries_conn_id=conn_id)
    assert hook.base_url == "https://district.aeries.net/admin"


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
    ("verify_ssl", 0, "0"), ("verify_ssl", [], "[]"), ("verify_ssl", {}, "{}"),
    ("allow_insecure", 1, "1"), ("allow_insecure", "yes", '"yes"'),
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
# Extras: a misspelt key is refused, an empty form field (null) is the default
# ------------------------------------------------------------------------------------------------
EMULATOR_CERT = "ExtrasCheckCert00000000000000000"


@pytest.fixture(scope="module")
def emulator():
    district = District(schools=[{"SchoolCode": 994, "Name": "Eagle High", "Terms": []}])
    with EmulatorServer(district, [{"name": "t", "certificate": EMULATOR_CERT, "areas": list(READ_AREAS)}],
                        access_log=False) as srv:
        yield srv


def emulator_connection(emulator, monkeypatch, extra: dict) -> str:
    monkeypatch.setenv("AIRFLOW_CONN_AERIES_EMULATOR", json.dumps(
        {"conn_type": "aeries", "host": emulator.url, "password": EMULATOR_CERT, "extra": extra}))
    return "aeries_emulator"


def test_a_misspelt_extra_is_refused_naming_the_closest_key_before_any_request(emulator, monkeypatch):
    conn_id = emulator_connection(emulator, monkeypatch, {"allow_insecure": True, "page_sise": 100})
    asked = emulator.stats()["requests"]
    with pytest.raises(AeriesConfigError) as err:
        AeriesHook(aeries_conn_id=conn_id).get_schools()
    assert str(err.value) == (
        "connection 'aeries_emulator': unknown extra 'page_sise' (did you mean 'page_size'?); the extras this "
        "connection type reads are: allow_insecure, api_version, backoff_base, backoff_max, database_year, "
        "max_concurrency, max_page_bytes, max_retries, page_size, prefetch_pages, probe_short_pages, terms_from_schools, timeout, "
        "unavailable_year, verify_ssl")
    assert emulator.stats()["requests"] == asked


def test_extras_the_connection_form_left_empty_are_the_defaults(emulator, monkeypatch):
    from aeries_hub.connection_extras import AERIES_CONN_FIELDS

    saved_by_the_form = {**dict.fromkeys(AERIES_CONN_FIELDS), "allow_insecure": True}
    hook = AeriesHook(aeries_conn_id=emulator_connection(emulator, monkeypatch, saved_by_the_form))
    assert [school["SchoolCode"] for school in hook.get_schools()] == [994]
    settings = hook.settings
    assert (settings.api_version, settings.database_year, settings.timeout, settings.max_concurrency,
            settings.verify_ssl, settings.page_size, settings.max_retries, settings.backoff_base,
            settings.backoff_max, settings.prefetch_pages, settings.terms_from_schools, settings.unavailable_year,
            settings.probe_short_pages, settings.max_page_bytes) == (
        5, None, 30.0, 4, True, 500, 6, 0.5, 30.0, 3, True, "newest_started", True, 64 << 20)


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

    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger=LOGGER_NAME):
        with pytest.raises(AeriesRequestError) as exhausted:
            read_table(hook, "students", school_codes=[994])
        messages.append(str(exhausted.value))
        for table in ("contacts", "staff"):
            with pytest.raises(AeriesAuthError) as refused:
                read_table(hook, table, school_codes=[990])
            messages.append(str(refused.value))
        result = extract_to_parquet(hook, "students", tmp_path / "students.parquet", school_codes=[990])
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
# Concurrency
# ------------------------------------------------------------------------------------------------
def serve_ten_slow_schools(server):
    """Ten schools of 7 students each (two pages of 5), every answer 30 ms late."""
    schools = [{"SchoolCode": 0, "Name": "District"}] + [{"SchoolCode": code, "Name": f"S{code}"} for code in range(101, 111)]
    server.json(server.api("schools"), schools)
    for school in schools[1:]:
        serve_pages(server, server.api(f"schools/{school['SchoolCode']}/students"), students(school["SchoolCode"], 7))
    server.delay = 0.03


def test_bounded_concurrency(server, make_conn):
    conn_id = make_conn(max_concurrency=3, page_size=5)
    serve_ten_slow_schools(server)
    hook, _ = hook_for(conn_id)

    rows = read_table(hook, "students")

    assert len(rows) == 70
    assert [r["SchoolCode"] for r in rows[::7]] == list(range(101, 111))  # school order kept
    assert 2 <= server.max_in_flight <= 3


def test_bounded_concurrency_while_pages_are_parsed(server, make_conn, tmp_path):
    """An extract parses its pages after their requests (more pages on their way than slots): still at most
    max_concurrency requests at the server at once."""
    conn_id = make_conn(max_concurrency=3, page_size=5)
    serve_ten_slow_schools(server)
    hook, _ = hook_for(conn_id)

    result = extract_to_parquet(hook, "students", tmp_path / "students.parquet")

    assert result.rows == 70
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
