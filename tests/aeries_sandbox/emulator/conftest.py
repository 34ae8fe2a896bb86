"""Fixtures for the Aeries emulator tests: one small generated district served in-process over HTTP."""

from __future__ import annotations

from typing import Any, Callable

import pytest
import requests

from aeries_sandbox.emulator import READ_AREAS, EmulatorServer, generate_district

FULL_CERT = "Fu11AccessCert0000000000000000AA"
SCHOOLS_ONLY_CERT = "Sch0olsOnlyCert00000000000000000"
SIZE, SEED = 300, 7


@pytest.fixture(scope="session")
def full_cert() -> str:
    return FULL_CERT


@pytest.fixture(scope="session")
def schools_only_cert() -> str:
    return SCHOOLS_ONLY_CERT


@pytest.fixture(scope="session")
def district():
    return generate_district(SIZE, SEED)


@pytest.fixture(scope="session")
def certs() -> list[dict[str, Any]]:
    return [
        {"name": "full", "certificate": FULL_CERT, "areas": list(READ_AREAS)},
        {"name": "schools-only", "certificate": SCHOOLS_ONLY_CERT, "areas": ["Schools"]},
    ]


@pytest.fixture(scope="session")
def server(district, certs):
    with EmulatorServer(district, certs, base_path="/aeries") as srv:
        yield srv


@pytest.fixture()
def emulator(server):
    """The shared server with no faults configured before and after the test."""
    server.faults.clear()
    yield server
    server.faults.clear()


@pytest.fixture()
def get(emulator) -> Callable[..., requests.Response]:
    """``get("schools/100/students", StartingRecord=1)``: GET {base}/api/v5/<path> with the full certificate.

    A fresh connection per call, so that a dropped connection never leaks into the next request.
    """

    def _get(path: str, cert: str | None = FULL_CERT, **params: Any) -> requests.Response:
        headers = {"AERIES-CERT": cert} if cert is not None else {}
        return requests.get(f"{emulator.url}/api/v5/{path}", params=params or None, headers=headers,
                            timeout=10, proxies={"http": "", "https": ""})

    return _get


@pytest.fixture()
def control(emulator) -> Callable[..., requests.Response]:
    def _control(method: str, name: str, body: Any = None) -> requests.Response:
        return requests.request(method, f"{emulator.url}/__emulator__/{name}", json=body, timeout=10,
                                proxies={"http": "", "https": ""})

    return _control
