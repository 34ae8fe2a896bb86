"""The HTTP plumbing every sandbox server shares (the emulator and the vendor-API receiver): a JSON request handler,
a threading server that hands its ``app`` to the handler, and a runner that serves it from a thread or the caller."""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Mapping, Self
from urllib.parse import urlsplit

from aeries_sandbox.emulator.errors import HttpError
from aeries_sandbox.emulator.records import json_default

__all__ = ["JsonRequestHandler", "SandboxHTTPServer", "BackgroundServer", "json_bytes"]

log = logging.getLogger("aeries_sandbox.emulator")

_JSON = "application/json; charset=utf-8"


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=json_default).encode("utf-8")


class JsonRequestHandler(BaseHTTPRequestHandler):
    """The plumbing every sandbox HTTP server shares: HTTP/1.1 keep-alive, every method to ``_handle``, JSON
    answers counted by ``_record`` once, before the client can see them, bodies read with a size cap, and
    http.server's own lines (which show the request line) only at debug level. Headers are never logged."""

    protocol_version = "HTTP/1.1"
    timeout = 120  # idle keep-alive connections
    # TCP_NODELAY: an answer goes out as two writes (headers, then body). With Nagle's algorithm on, the body waits
    # for the ACK of the headers, which the client delays (Linux: up to 40 ms): every small answer took 40-50 ms
    # (socketserver.StreamRequestHandler.disable_nagle_algorithm; docs/benchmarks.md, "incremental runs").
    disable_nagle_algorithm = True
    max_body = 1_000_000
    server: SandboxHTTPServer

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
        log.debug("http.server: " + format, *args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    #: The answer to an unexpected exception (the exception goes to the log, not to the client).
    internal_error_message = "An error has occurred."

    def _handle(self, method: str) -> None:
        """One request: :meth:`_respond` answers (or raises :class:`HttpError`); whatever happens, the request
        is counted (:meth:`_record`) and logged (:meth:`_log_access`) once, with the status sent or None."""
        self._started = time.monotonic()
        self._method = method
        self._status: int | None = None
        self._pending = None
        self._recorded = False
        try:
            self._respond(method)
        except HttpError as exc:
            self._send(exc.status, self._error_body(exc.message))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            log.exception("internal error for %s %s", method, urlsplit(self.path).path)
            try:
                self._send(500, self._error_body(self.internal_error_message))
            except OSError:
                self.close_connection = True
        finally:
            self._record_once(self._status)  # requests that got no answer (drop, client gone)

    def _respond(self, method: str) -> None:
        raise NotImplementedError

    def _error_body(self, message: str) -> bytes:
        return json_bytes({"Message": message})

    def _log_access(self, method: str, status: int | None, milliseconds: float) -> None:
        """One line per request (a subclass decides what it shows; never headers)."""

    def _record_once(self, status: int | None) -> None:
        """:meth:`_record` and :meth:`_log_access` the request: at the first answer sent, before the client can
        see it (a test reading the log after its request finds the line), or at its end when none was sent."""
        if not self._recorded:
            self._recorded = True
            self._record(status)
            self._log_access(self._method, status, (time.monotonic() - self._started) * 1000)

    def _record(self, status: int | None) -> None:
        """Count the request (a subclass's counter; called once per request, before the answer is sent)."""

    def _send(self, status: int, body: bytes, content_type: str = _JSON, headers: Mapping[str, str] | None = None) -> None:
        self._status = status
        self._record_once(status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True
            raise HttpError(411, "Send the body with a Content-Length (chunked bodies are not accepted)")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise HttpError(400, "Content-Length is not a number") from None
        if length > self.max_body:
            self.close_connection = True  # the unread body would be taken for the next request
            raise HttpError(413, "The request body is too large")
        return self.rfile.read(length) if length > 0 else b""


class SandboxHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that hands its ``app`` to the handler (``self.server.app``)."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], app: Any, handler: type[JsonRequestHandler]) -> None:
        self.app = app
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            log.debug("connection from %s ended: %s", client_address, exc)
            return
        log.exception("error serving %s", client_address)


class BackgroundServer:
    """Serving a :class:`SandboxHTTPServer` (``self._httpd``): ``start()`` from a daemon thread (tests),
    ``serve_forever()`` from the calling thread (the CLI); ``stop()`` closes the socket; a context manager."""

    thread_name = "sandbox-server"
    _httpd: SandboxHTTPServer

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def _url(self, host: str, path: str = "") -> str:
        host = "127.0.0.1" if host in ("", "0.0.0.0") else host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}{path}"

    def serve_forever(self) -> None:
        self._httpd.serve_forever(poll_interval=0.2)

    def start(self) -> Self:
        if getattr(self, "_thread", None) is None:
            self._thread = threading.Thread(target=self.serve_forever, name=self.thread_name, daemon=True)
            self._thread.start()
        return self

    def shutdown(self) -> None:
        """Stop serve_forever (from another thread); the socket stays open until :meth:`stop`."""
        self._httpd.shutdown()

    def stop(self) -> None:
        if getattr(self, "_thread", None) is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

