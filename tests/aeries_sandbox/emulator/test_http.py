"""The HTTP plumbing the sandbox servers share (aeries_sandbox.emulator.http): whatever a request's end (an answer,
an HttpError, an internal error, no answer at all), the handler's counter ``_record`` runs exactly once for it."""

from __future__ import annotations

import threading

import pytest
import requests

from aeries_sandbox.emulator.errors import HttpError
from aeries_sandbox.emulator.http import BackgroundServer, JsonRequestHandler, SandboxHTTPServer


class _Counted(JsonRequestHandler):
    def _respond(self, method: str) -> None:
        if self.path == "/missing":
            raise HttpError(404, "no such thing")
        if self.path == "/broken":
            raise RuntimeError("a bug")
        if self.path == "/silent":
            self.close_connection = True  # no answer, as the emulator's drop fault
            return
        self._send(200, b"{}")

    def _record(self, status: int | None) -> None:
        with self.server.app["lock"]:
            self.server.app["recorded"].append((self.path, status))


class _Server(BackgroundServer):
    def __init__(self) -> None:
        self.app = {"lock": threading.Lock(), "recorded": []}
        self._httpd = SandboxHTTPServer(("127.0.0.1", 0), self.app, _Counted)


def test_each_request_is_recorded_once_whatever_its_end():
    with _Server() as server, requests.Session() as session:
        for path in ("/", "/missing", "/broken", "/", "/missing"):
            session.get(f"{server._url('127.0.0.1', path)}", timeout=5)
        with pytest.raises(requests.ConnectionError):
            requests.get(server._url("127.0.0.1", "/silent"), timeout=5)
        assert server.app["recorded"] == [("/", 200), ("/missing", 404), ("/broken", 500), ("/", 200),
                                          ("/missing", 404), ("/silent", None)]


def test_the_emulator_counts_each_request_once_dropped_ones_too(emulator, get, control):
    control("DELETE", "stats")
    get("schools")
    get("nope")
    assert control("PUT", "faults", {"rates": {"drop": 1.0}, "max_faults": 1}).status_code == 200
    with pytest.raises(requests.ConnectionError):
        get("schools")
    stats = control("GET", "stats").json()
    assert (stats["requests"], stats["by_status"], stats["faults"]) == (3, {"200": 1, "404": 1}, {"drop": 1})


def test_a_small_answer_is_not_held_back_by_nagles_algorithm():
    # An answer is two writes (headers, body): with Nagle's algorithm the body waits for the client's delayed ACK
    # of the headers, 40 ms or more on Linux, on every request of a keep-alive connection.
    import statistics
    import time

    with _Server() as server, requests.Session() as session:
        seconds = []
        for _ in range(15):
            started = time.perf_counter()
            session.get(server._url("127.0.0.1", "/"), timeout=5).raise_for_status()
            seconds.append(time.perf_counter() - started)
    assert statistics.median(seconds) < 0.025, seconds
