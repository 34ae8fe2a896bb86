"""The emulator over HTTP for the hub's tests that talk to it: a module gives its ``district`` and the
``certificates`` the server accepts (both module-scoped fixtures), and its tests take ``emu``."""

from __future__ import annotations

import pytest

from aeries_sandbox.emulator import EmulatorServer


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
