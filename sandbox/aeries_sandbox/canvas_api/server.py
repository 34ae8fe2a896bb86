"""The emulator over HTTP: :class:`CanvasApiServer` (a daemon thread in this process) and its request handler.

Routes (https://canvas.instructure.com/doc/api/sis_imports.html), ``:account_id`` a number or ``self``:

* ``POST /api/v1/accounts/:account_id/sis_imports`` (``.json`` allowed): the file as a multipart ``attachment`` field,
  or the raw body with ``Content-Type`` application/zip, application/octet-stream (with ``extension=zip`` or
  ``csv``) or text/csv; ``import_type`` may only be instructure_csv. Answers the new SisImport object.
* ``GET /api/v1/accounts/:account_id/sis_imports/:id``: the SisImport, one step further on each look.
* ``PUT /api/v1/accounts/:account_id/sis_imports/:id/abort``: the import, aborted if it had not ended.

Every request needs ``Authorization: Bearer <token>`` (401 otherwise). Every answer carries ``X-Request-Cost`` and
``X-Rate-Limit-Remaining``, and a throttled request is ``403`` with the text ``403 Forbidden (Rate Limit Exceeded)``
(https://canvas.instructure.com/doc/api/file.throttling.html). Faults (:meth:`CanvasApiServer.set_faults`, the
emulator's seeded :class:`~aeries_sandbox.emulator.faults.FaultInjector`; its ``path_pattern`` is searched in
``"<METHOD> <path>"``): ``500`` (an error answer; an upload is then not taken) and ``rate_limit``; and
``never_finish`` keeps every import importing. The error answers' JSON shape (``{"errors": [{"message": ...}]}``)
and the 500's text are our stand-in. Tokens and bodies are never logged.
"""

from __future__ import annotations

import logging
import re
import threading
from email.parser import BytesParser
from email.policy import default as default_policy
from typing import Any, Mapping
from urllib.parse import parse_qsl, urlsplit

from aeries_sandbox.canvas_api.imports import CanvasImports, Upload
from aeries_sandbox.emulator.errors import HttpError
from aeries_sandbox.emulator.faults import FaultConfig, FaultInjector
from aeries_sandbox.emulator.http import BackgroundServer, JsonRequestHandler, SandboxHTTPServer, json_bytes

__all__ = ["CanvasApiServer", "FAULT_KINDS"]

log = logging.getLogger("aeries_sandbox.canvas_api")

FAULT_KINDS = ("500", "rate_limit")
ROUTE = re.compile(r"/api/v1/accounts/(?P<account>\d+|self)/sis_imports(?:\.json)?"
                   r"(?:/(?P<id>\d+)(?:\.json)?(?P<abort>/abort)?)?/?")
RATE_LIMITED = b"403 Forbidden (Rate Limit Exceeded)\n"
RAW_TYPES = {"application/zip": "zip", "application/x-zip-compressed": "zip", "text/csv": "csv"}
MAX_UPLOAD = 100_000_000


class _App:
    def __init__(self, tokens: list[str], faults: FaultInjector, access_log: bool) -> None:
        if not tokens or not all(isinstance(t, str) and t.strip() for t in tokens):
            raise ValueError("tokens must be a non-empty list of non-empty strings")
        self.tokens = frozenset(tokens)
        self.faults = faults
        self.imports = CanvasImports()
        self.access_log = access_log
        self.requests: list[tuple[str, str, int | None]] = []  # method, path, status
        self.lock = threading.Lock()


class _Handler(JsonRequestHandler):
    server_version = "CanvasEmulator/1.0"
    max_body = MAX_UPLOAD
    internal_error_message = "Internal server error"

    def _error_body(self, message: str) -> bytes:
        return json_bytes({"errors": [{"message": message}]})

    def _send(self, status: int, body: bytes, content_type: str = "application/json; charset=utf-8",
              headers: Mapping[str, str] | None = None) -> None:
        cost = {"X-Request-Cost": "0.01", "X-Rate-Limit-Remaining": "0.0" if body == RATE_LIMITED else "700.0"}
        super()._send(status, body, content_type, {**cost, **(headers or {})})

    def _record(self, status: int | None) -> None:
        """Count the request (the base handler calls this once per request)."""
        if self._pending is not None:
            method, path = self._pending
            with self.server.app.lock:
                self.server.app.requests.append((method, path, status))

    def _respond(self, method: str) -> None:
        app: _App = self.server.app
        address = urlsplit(self.path)
        self._pending = (self.command, address.path)
        route = ROUTE.fullmatch(address.path)
        if route is None:
            raise HttpError(404, "The specified resource does not exist.")
        fault, _latency = app.faults.decide(f"{method} {address.path}")
        if fault == "rate_limit":
            self._read_body()
            self._send(403, RATE_LIMITED, content_type="text/plain; charset=utf-8")
            return
        if fault == "500":
            self._read_body()
            raise HttpError(500, "Internal server error")
        if (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip() not in app.tokens:
            self._read_body()
            raise HttpError(401, "Invalid access token.")
        account, import_id = route["account"], route["id"]
        wanted = "POST" if import_id is None else "PUT" if route["abort"] else "GET"
        if method != wanted:
            self._read_body()
            raise HttpError(405, f"{method} is not supported here; use {wanted}")
        if import_id is None:
            self._send(200, json_bytes(self._create(app, account, dict(parse_qsl(address.query)))))
            return
        job = (app.imports.abort if route["abort"] else app.imports.look)(account, int(import_id))
        if job is None:
            raise HttpError(404, "The specified resource does not exist.")
        self._send(200, json_bytes(job))

    def _create(self, app: _App, account: str, params: dict[str, str]) -> dict[str, Any]:
        body = self._read_body()
        if params.get("import_type", "instructure_csv") != "instructure_csv":
            raise HttpError(400, f"Unknown import type {params['import_type']!r}: only instructure_csv is supported")
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type == "multipart/form-data":
            body, name = _attachment(self.headers.get("Content-Type") or "", body)
            kind = name.rsplit(".", 1)[-1].lower()
        else:
            kind = params.get("extension", "").lower() if content_type == "application/octet-stream" \
                else RAW_TYPES.get(content_type, "")
            name = f"sis_import.{kind}"  # a raw post has no file name: ours
        if kind not in ("zip", "csv"):
            raise HttpError(400, "Send a zip or a CSV: a multipart attachment, or a raw body with Content-Type "
                                 "application/zip or text/csv (application/octet-stream with extension=zip or csv)")
        if not body:
            raise HttpError(400, "The upload is empty")
        return app.imports.create(account, body, content_type, params, name, kind == "zip")

    def _log_access(self, method: str, status: int | None, milliseconds: float) -> None:
        if self.server.app.access_log:
            log.info("%s %s %s %.1fms", method, urlsplit(self.path).path, status if status is not None else "-",
                     milliseconds)


def _attachment(content_type: str, body: bytes) -> tuple[bytes, str]:
    """The bytes and file name of the multipart form field ``attachment``."""
    message = BytesParser(policy=default_policy).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    for part in message.iter_parts() if message.is_multipart() else ():
        if part.get_param("name", header="content-disposition") == "attachment":
            return part.get_payload(decode=True) or b"", part.get_filename() or "attachment"
    raise HttpError(400, "The multipart form has no attachment field")


class CanvasApiServer(BackgroundServer):
    """The SIS import API on ``host:port`` (0: a free port), in this process; a context manager.

        with CanvasApiServer(tokens=[token]) as canvas:
            canvas.airflow_connection(token)      # AIRFLOW_CONN_* document (type http)
            canvas.set_faults({"500": 1.0}, max_faults=1, path_pattern="^POST")   # the first upload fails
            canvas.uploads                        # what arrived, in order
    """

    thread_name = "canvas-api"

    def __init__(self, tokens: list[str], *, host: str = "127.0.0.1", port: int = 0, access_log: bool = True) -> None:
        self.app = _App(list(tokens), FaultInjector(kinds=FAULT_KINDS), access_log)
        self.host = host
        self._httpd = SandboxHTTPServer((host, port), self.app, _Handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self._url(self.host)

    @property
    def uploads(self) -> list[Upload]:
        return list(self.app.imports.uploads)

    @property
    def requests(self) -> list[tuple[str, str, int | None]]:
        """``(method, path, status)`` of every request so far."""
        with self.app.lock:
            return list(self.app.requests)

    @property
    def never_finish(self) -> bool:
        return self.app.imports.never_finish

    @never_finish.setter
    def never_finish(self, value: bool) -> None:
        self.app.imports.never_finish = value

    def set_faults(self, rates: Mapping[str, float], *, max_faults: int | None = None,
                   path_pattern: str | None = None, seed: int = 0) -> None:
        self.app.faults.configure(FaultConfig.from_json(
            {"rates": dict(rates), "seed": seed, "max_faults": max_faults, "path_pattern": path_pattern}, FAULT_KINDS))

    def abort(self, import_id: int, account: str = "self") -> dict[str, Any] | None:
        return self.app.imports.abort(account, import_id)

    def airflow_connection(self, token: str) -> dict[str, Any]:
        """The Airflow connection (JSON for ``AIRFLOW_CONN_<ID>``) that uploads here with ``token``."""
        address = urlsplit(self.url)
        return {"conn_type": "http", "host": address.hostname, "port": address.port, "schema": "http",
                "password": token,
                # The emulator speaks plain http: the explicit, logged opt-in (aeries_hub.connection_extras).
                "extra": {"timeout": 10, "allow_insecure": True}}
