"""Servers for the hub's tests that talk to one over HTTP on localhost.

The emulator: a module gives its ``district`` and the ``certificates`` the server accepts (both module-scoped
fixtures), and its tests take ``emu``. The vendor-API receiver: a module names its connection ``CONN_ID`` and the
API token ``TOKEN`` the receiver accepts (module constants), and its tests take ``api``.
"""

from __future__ import annotations

import json

import pytest

from aeries_sandbox.emulator import EmulatorServer
from aeries_sandbox.vendor_api.server import VendorApiServer


@pytest.fixture(scope="module")
def emulator(district, certificates):
    with EmulatorServer(district, certificates, access_log=False) as server:
        yield server


@pytest.fixture()
def emu(emulator):
    """The module's emulator, its paging put back to the default before and after each test."""
    emulator.set_paging()
    yield emulator
    emulator.set_paging()


@pytest.fixture(scope="module")
def vendor_api_server(request):
    with VendorApiServer(tokens=[request.module.TOKEN]) as server:
        yield server


@pytest.fixture()
def api(vendor_api_server, request, monkeypatch):
    """The module's receiver, empty and without faults, behind connection ``CONN_ID`` (instance sandbox)."""
    conn_id, token = request.module.CONN_ID, request.module.TOKEN
    vendor_api_server.reset()
    vendor_api_server.clear_faults()
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}",
                       json.dumps(vendor_api_server.airflow_connection(conn_id, "sandbox", token)))
    yield vendor_api_server
    vendor_api_server.clear_faults()
    vendor_api_server.fail_after(None)
