"""Fault injection: every kind observed over real HTTP, capped by max_faults, seeded, path-filtered."""

from __future__ import annotations

import json
import time

import pytest
import requests

from aeries_sandbox.emulator import FaultConfig, FaultInjector, parse_fault_spec

PATH = "schools/100/students"


def test_parse_fault_spec():
    assert parse_fault_spec("429=0.1,500=0.05,html=0.02,latency=0.01") == {
        "429": 0.1, "500": 0.05, "html": 0.02, "latency": 0.01}
    assert parse_fault_spec({"drop": 1, "TRUNCATE": "0.5"}) == {"drop": 1.0, "truncate": 0.5}
    assert parse_fault_spec("") == {} and parse_fault_spec(None) == {}
    for bad in ("404=0.1", "429", "429=x", "500=1.5", "latency=-1", "drop=nan"):
        with pytest.raises(ValueError):
            parse_fault_spec(bad)


def test_same_seed_same_faults():
    def run(seed: int) -> list[str | None]:
        injector = FaultInjector(FaultConfig(rates={"429": 0.3, "500": 0.2}, seed=seed))
        return [injector.decide("schools/1/students")[0] for _ in range(200)]

    first = run(3)
    assert first == run(3) != run(4)
    counts = {kind: first.count(kind) for kind in ("429", "500", None)}
    assert 30 < counts["429"] < 90 and 15 < counts["500"] < 65


def _put(control, rates, **extra):
    response = control("PUT", "faults", {"rates": rates, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def _assert_normal(get):
    response = get(PATH, StartingRecord=1, EndingRecord=5)
    assert response.status_code == 200
    assert len(response.json()) == 5


def test_429_with_retry_after(get, control):
    _put(control, {"429": 1.0}, max_faults=1)
    response = get(PATH)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert response.json() == {"Message": "Too many requests"}
    _assert_normal(get)


@pytest.mark.parametrize("status", ["500", "503"])
def test_server_errors(get, control, status):
    _put(control, {status: 1.0}, max_faults=1)
    response = get(PATH)
    assert response.status_code == int(status)
    assert "Message" in response.json()
    _assert_normal(get)


def test_drop_closes_the_connection_without_an_answer(get, control):
    _put(control, {"drop": 1.0}, max_faults=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        get(PATH)
    _assert_normal(get)


def test_truncate_sends_200_with_half_a_body(get, control):
    _put(control, {"truncate": 1.0}, max_faults=1)
    response = get(PATH, StartingRecord=1, EndingRecord=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.content.startswith(b'[{"StudentID":')
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    _assert_normal(get)


def test_html_login_page(get, control):
    _put(control, {"html": 1.0}, max_faults=1)
    response = get(PATH)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert b"<html" in response.content and b"Aeries" in response.content
    _assert_normal(get)


def test_latency_applies_to_every_request(get, control):
    _put(control, {"latency": 0.15})
    for _ in range(2):
        started = time.monotonic()
        _assert_normal(get)
        assert time.monotonic() - started >= 0.15
    started = time.monotonic()
    assert get("systeminfo", cert=None).status_code == 200
    assert time.monotonic() - started < 0.15


def test_fails_three_times_then_succeeds(get, control):
    control("DELETE", "stats")
    state = _put(control, {"503": 1.0}, seed=1, max_faults=3)
    assert state["remaining"] == 3
    assert [get(PATH).status_code for _ in range(5)] == [503, 503, 503, 200, 200]
    stats = control("GET", "stats").json()
    assert stats["faults"] == {"503": 3} and stats["faults_injected"] == 3
    assert stats["by_status"] == {"200": 2, "503": 3}
    assert stats["fault_config"]["remaining"] == 0


def test_faults_skip_systeminfo_control_and_other_paths(get, control):
    _put(control, {"500": 1.0}, path_pattern=r"/students$")
    assert get("systeminfo", cert=None).status_code == 200
    assert control("GET", "stats").status_code == 200
    assert get("schools").status_code == 200
    assert get(PATH).status_code == 500
    assert control("DELETE", "faults").json()["rates"] == {}
    _assert_normal(get)


def test_faults_come_before_the_certificate_check(get, control):
    _put(control, {"429": 1.0}, max_faults=1)
    assert get(PATH, cert=None).status_code == 429
    assert get(PATH, cert=None).status_code == 401


def test_bad_fault_configuration_is_rejected(control):
    assert control("PUT", "faults", {"rates": {"teapot": 1}}).status_code == 400
    assert control("PUT", "faults", {"rates": {"429": 2}}).status_code == 400
    assert control("PUT", "faults", {"rates": {}, "max_faults": -1}).status_code == 400
    assert control("PUT", "faults", {"rates": {}, "path_pattern": "("}).status_code == 400
    assert control("PUT", "faults", {"rates": {}, "unknown": 1}).status_code == 400
    assert control("GET", "nothing").status_code == 404
    assert control("GET", "faults").json()["rates"] == {}


def test_mixed_rates_hit_every_kind(get, control):
    _put(control, {"429": 0.2, "500": 0.2, "503": 0.2, "drop": 0.1, "truncate": 0.1, "html": 0.1}, seed=11)
    control("DELETE", "stats")
    for _ in range(60):
        try:
            get(PATH, StartingRecord=1, EndingRecord=2)
        except requests.exceptions.ConnectionError:
            pass
    faults = control("GET", "stats").json()["faults"]
    assert set(faults) == {"429", "500", "503", "drop", "truncate", "html"}
