"""A scripted HTTP server standing in for Aeries, and an Airflow connection pointing at it.

The server answers each path from a queue of programmed responses (then from a route function or a
sticky default), records every request with its ``AERIES-CERT`` header, and tracks how many requests
were in flight at once.
"""

from __future__ import annotations

import json
import secrets
import string
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

import pytest

BASE_PATH = "/aeries"
CONN_ID = "aeries_test"

# Special bodies
DROP = object()  # close the connection without answering
SHORT_BODY = object()  # announce a longer Content-Length than the body sent, then close


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # bytes, str, DROP, SHORT_BODY, or anything JSON-serialisable
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    method: str = "GET"
    body: Any = None  # the parsed JSON body of a POST or PUT

    @property
    def cert(self) -> str | None:
        return self.headers.get("aeries-cert")


def reply(status: int = 200, body: Any = None, headers: dict[str, str] | None = None, delay: float = 0.0) -> Reply:
    return Reply(status, body, dict(headers or {}), delay)


def api(path: str, version: int = 5) -> str:
    return f"{BASE_PATH}/api/v{version}/{path.lstrip('/')}"


class ScriptedAeries:
    # Helpers reachable from the fixture (test modules cannot import conftest under importlib mode).
    DROP = DROP
    SHORT_BODY = SHORT_BODY
    CONN_ID = CONN_ID
    reply = staticmethod(reply)
    api = staticmethod(api)

    def __init__(self) -> None:
        self.queues: dict[str, deque[Reply]] = defaultdict(deque)
        self.routes: dict[str, Callable[[Seen], Reply]] = {}
        self.sticky: dict[str, Reply] = {}
        self.requests: list[Seen] = []
        self.delay = 0.0
        self._lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="scripted-aeries", daemon=True)

    # -- programming ------------------------------------------------------------------------------
    def script(self, path: str, *replies: Reply) -> None:
        """Answer the next requests to ``path`` with ``replies``, in order."""
        self.queues[path].extend(replies)

    def json(self, path: str, data: Any, status: int = 200) -> None:
        """Answer every request to ``path`` (once its queue is empty) with ``data``."""
        self.sticky[path] = Reply(status, data)

    def route(self, path: str, fn: Callable[[Seen], Reply]) -> None:
        self.routes[path] = fn

    def seen(self, path: str | None = None) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{BASE_PATH}"

    def start(self) -> ScriptedAeries:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- serving ----------------------------------------------------------------------------------
    def _next(self, seen: Seen) -> Reply:
        with self._lock:
            queue = self.queues.get(seen.path)
            if queue:
                return queue.popleft()
        if seen.path in self.routes:
            return self.routes[seen.path](seen)
        if seen.path in self.sticky:
            return self.sticky[seen.path]
        return Reply(404, {"Message": f"no script for {seen.path}"})

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                self.do_GET()

            def do_PUT(self) -> None:  # noqa: N802
                self.do_GET()

            def do_GET(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                seen = Seen(parts.path, dict(parse_qsl(parts.query)), {k.lower(): v for k, v in self.headers.items()},
                            method=self.command, body=body)
                with server._lock:
                    server.requests.append(seen)
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    answer = server._next(seen)
                    pause = answer.delay or server.delay
                    if pause:
                        time.sleep(pause)
                    self._send(answer)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _send(self, answer: Reply) -> None:
                if answer.body is DROP:
                    self.close_connection = True
                    return
                if answer.body is SHORT_BODY:
                    payload = b'[{"StudentID": 1, "LastName": "Tru'
                    self.send_response(answer.status)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(payload) + 200))
                    self.end_headers()
                    self.wfile.write(payload)
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if isinstance(answer.body, bytes):
                    payload, content_type = answer.body, "application/json; charset=utf-8"
                elif isinstance(answer.body, str):
                    payload = answer.body.encode()
                    content_type = "text/html; charset=utf-8" if answer.body.lstrip().startswith("<") else "application/json"
                else:
                    payload, content_type = json.dumps(answer.body).encode(), "application/json; charset=utf-8"
                self.send_response(answer.status)
                headers = {"Content-Type": content_type, **answer.headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler


@pytest.fixture
def server():
    srv = ScriptedAeries().start()
    try:
        yield srv
    finally:
        srv.stop()


def random_cert() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(32))


@pytest.fixture
def cert() -> str:
    return random_cert()


@pytest.fixture
def make_conn(server, cert, monkeypatch):
    """Create the Airflow connection ``aeries_test`` (env var) pointing at the scripted server."""

    def make(conn_id: str = CONN_ID, *, host: str | None = None, password: str | None = None, **extra: Any) -> str:
        # The scripted server speaks plain http: the explicit opt-in (aeries_hub.connection_extras).
        extra = {"backoff_base": 0.01, "backoff_max": 0.05, "allow_insecure": True, **extra}
        document = {
            "conn_type": "aeries",
            "host": host if host is not None else server.url,
            "password": cert if password is None else password,
            "extra": extra,
        }
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(document))
        return conn_id

    return make
