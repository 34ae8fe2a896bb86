"""VendorApiHook's GET with a bounded size and deadline, its one-host rule and its refusal of unknown extras,
against the vendor-API receiver (aeries_sandbox.vendor_api) over real HTTP on localhost. Its POST of batches is
proven by test_http.py (deliver_records)."""

from __future__ import annotations

import json
import secrets
import time
from urllib.parse import urljoin

import pytest

from aeries_hub.delivery import DeliveryError
from aeries_hub.delivery.vendor_api import DeadlinePassed, ResponseTooLarge, RetryPolicy, VendorApiHook

CONN_ID = "vendor_hook_test"
ENV = f"AIRFLOW_CONN_{CONN_ID.upper()}"
TOKEN = secrets.token_urlsafe(24)
EXPORTS = "/api/v1/exports"


def hook(sleeps: list[float] | None = None, **policy) -> VendorApiHook:
    recorder = sleeps.append if sleeps is not None else (lambda seconds: None)
    return VendorApiHook(CONN_ID, retry=RetryPolicy(backoff_base=0.01, backoff_max=0.02, sleep=recorder, **policy))


def test_get_bytes_reads_the_export_list_and_a_file_with_the_token(api):
    data = b'{"students": {"enroll_id": "E-1"}}\n' * 100
    api.put_export("sandbox", "students_2027-03-01.jsonl", data)

    with hook() as vendor:
        listing = json.loads(vendor.get_bytes(EXPORTS, label="the export list", max_bytes=10_000))
        (entry,) = listing["files"]
        link = urljoin(vendor.url_from_endpoint(EXPORTS), entry.get("url") or entry["path"])  # an absolute URL
        fetched = vendor.get_bytes(link, label="export file", max_bytes=len(data))

    assert entry["name"] == "students_2027-03-01.jsonl" and fetched == data
    assert api.state("sandbox")["by_status"] == {"200": 2}


def test_get_bytes_retries_a_503_under_the_same_policy(api):
    api.put_export("sandbox", "a.jsonl", b"{}\n")
    api.set_faults({"503": 1.0}, max_faults=2)
    sleeps: list[float] = []

    with hook(sleeps) as vendor:
        assert vendor.get_bytes(f"{EXPORTS}/a.jsonl", label="export file 'a.jsonl'", max_bytes=10) == b"{}\n"

    assert len(sleeps) == 2 and all(0 <= s <= 0.02 for s in sleeps)
    with hook(max_attempts=2) as vendor, pytest.raises(DeliveryError) as err:
        api.set_faults({"503": 1.0})
        vendor.get_bytes(f"{EXPORTS}/a.jsonl", label="export file 'a.jsonl'", max_bytes=10)
    assert err.value.retryable
    assert str(err.value) == (
        f"export file 'a.jsonl' from http connection {CONN_ID!r} ({api.url}/sandbox/api/v1/exports/a.jsonl) kept "
        "failing after 2 attempts; last cause: HTTP 503 (service unavailable)")


def test_get_bytes_refuses_an_answer_over_max_bytes(api):
    api.put_export("sandbox", "big.jsonl", b"x" * 101)
    with hook() as vendor, pytest.raises(ResponseTooLarge) as err:
        vendor.get_bytes(f"{EXPORTS}/big.jsonl", label="export file 'big.jsonl'", max_bytes=100)
    assert str(err.value) == (f"http connection {CONN_ID!r} ({api.url}/sandbox/api/v1/exports/big.jsonl): export "
                              "file 'big.jsonl' is larger than 100 bytes")
    with hook() as vendor:
        assert vendor.get_bytes(f"{EXPORTS}/big.jsonl", label="export file", max_bytes=101) == b"x" * 101


def test_get_bytes_stops_at_its_deadline_when_the_server_stalls(api):
    api.put_export("sandbox", "slow.jsonl", b"{}\n")
    api.set_faults({"latency": 1.0})
    started = time.monotonic()

    with hook() as vendor, pytest.raises(DeadlinePassed, match=r"cut off while reading export file 'slow.jsonl'"):
        vendor.get_bytes(f"{EXPORTS}/slow.jsonl", label="export file 'slow.jsonl'", max_bytes=10,
                         deadline=time.monotonic() + 0.3)

    assert time.monotonic() - started < 0.9


def test_the_token_is_only_sent_to_the_connections_own_host(api):
    with hook() as vendor, pytest.raises(DeliveryError) as err:
        vendor.get_bytes("https://elsewhere.example/exports/a.jsonl", label="export file", max_bytes=10)
    assert str(err.value) == (f"http connection {CONN_ID!r} ({api.url}/sandbox): https://elsewhere.example/exports/"
                              f"a.jsonl is on another host; the API token is only sent to {api.url.split('//')[1]}")
    assert api.stats()["requests"] == 0


def test_a_misspelt_extra_is_refused_naming_the_closest_valid_one(api, monkeypatch):
    connection = api.airflow_connection(CONN_ID, "sandbox", TOKEN)
    connection["extra"] = {**connection["extra"], "endpoint_prefx": "/sandbox", "colour": "blue"}
    monkeypatch.setenv(ENV, json.dumps(connection))

    with hook() as vendor, pytest.raises(DeliveryError) as err:
        vendor.get_bytes(EXPORTS, label="the export list", max_bytes=10)

    assert str(err.value) == (
        f"http connection {CONN_ID!r}: unknown extra 'endpoint_prefx' (did you mean 'endpoint_prefix'?), 'colour'; "
        "the extras this connection type reads are: allow_insecure, auth, endpoint_prefix, headers, timeout, "
        "verify_ssl")
    assert api.stats()["requests"] == 0
