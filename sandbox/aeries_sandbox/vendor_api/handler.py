"""One request to the receiver over HTTP: the instance and route, faults, the token, the idempotency key, then
the import or the export file (:class:`~aeries_sandbox.vendor_api.receiver.ReceiverApp`)."""

from __future__ import annotations

import json
import time
from urllib.parse import quote, unquote, urlsplit

from aeries_sandbox.emulator.errors import HttpError
from aeries_sandbox.emulator.http import JsonRequestHandler, json_bytes
from aeries_sandbox.vendor_api.receiver import (
    CONTROL_ROOT,
    EXPORTS_ROUTE,
    IMPORT_ROUTE,
    INSTANCE_NAME,
    ReceiverApp,
    log,
)

__all__ = ["ReceiverRequestHandler", "MAX_BODY"]

#: A batch of 1000 records with guardians and contacts is about 2 MB.
MAX_BODY = 20_000_000
MAX_KEY_LENGTH = 255


class ReceiverRequestHandler(JsonRequestHandler):
    server_version = "VendorApiReceiver/1.0"
    max_body = MAX_BODY

    def _record(self, status: int | None) -> None:
        """Count the request in its instance, before the client can see the answer."""
        if self._pending is not None:
            instance, fault = self._pending
            self.server.app.count(instance, status, fault)

    internal_error_message = "internal server error"

    def _error_body(self, message: str) -> bytes:
        return json_bytes({"error": message})

    def _respond(self, method: str) -> None:
        app: ReceiverApp = self.server.app
        path = urlsplit(self.path).path
        segments = [unquote(s) for s in path.split("/") if s]
        self._path, self._fault, self._note = path, None, ""
        body = self._read_body()
        if segments and segments[0] == CONTROL_ROOT:
            self._control(app, method, segments[1:], body)
            return
        if not segments or not INSTANCE_NAME.fullmatch(segments[0]):
            raise HttpError(404, f"no such endpoint: {path} (POST /{{instance}}/{'/'.join(IMPORT_ROUTE)})")
        instance = segments[0]
        self._pending = (instance, None)
        route = tuple(segments[1:])
        exports = route[:3] == EXPORTS_ROUTE and len(route) in (3, 4)
        if route != IMPORT_ROUTE and not exports:
            raise HttpError(404, f"no such endpoint: {path} (POST /{instance}/{'/'.join(IMPORT_ROUTE)}, "
                                 f"GET /{instance}/{'/'.join(EXPORTS_ROUTE)}[/{{name}}])")
        wanted = "GET" if exports else "POST"
        if method != wanted:
            raise HttpError(405, f"{method} is not supported here; use {wanted}")
        fault, latency = app.faults.decide("/".join(segments))
        self._fault = fault
        self._pending = (instance, fault)
        if latency:
            time.sleep(latency)
        if fault == "drop":
            self.close_connection = True
            return
        if fault in ("429", "500", "503"):
            messages = {"429": "too many requests", "500": "internal server error", "503": "service unavailable"}
            self._send(int(fault), self._error_body(messages[fault]), headers={"Retry-After": "1"} if fault == "429" else None)
            return
        if not app.authorized(self.headers.get("Authorization")):
            raise HttpError(401, "invalid or missing API token")
        if exports:
            self._export(app, instance, route)
            return
        key = (self.headers.get("Idempotency-Key") or "").strip()
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise HttpError(400, f"the Idempotency-Key header is required (1 to {MAX_KEY_LENGTH} printable characters)")
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise HttpError(415, "Content-Type must be application/json")
        answer, note = app.import_batch(instance, key, body)
        self._note = f" key={key} {note}"
        if fault == "500_after_import":  # imported, then the answer is lost
            self._send(500, self._error_body("internal server error"))
            return
        self._send(200, answer)

    def _export(self, app: ReceiverApp, instance: str, route: tuple[str, ...]) -> None:
        if len(route) == 3:
            listing = app.exports(instance)
            self._note = f" files={len(listing['files'])}"
            self._send(200, json_bytes(listing))
            return
        data = app.export(instance, route[3])
        if data is None:
            raise HttpError(404, f"no export file {route[3]!r} on {instance}")
        self._note = f" bytes={len(data)}"
        self._send(200, data, content_type="application/octet-stream")

    def _log_access(self, method: str, status: int | None, milliseconds: float) -> None:
        if self.server.app.access_log:
            log.info("%s %s %s %.1fms%s%s", method, quote(getattr(self, "_path", "-")),
                     status if status is not None else "-", milliseconds, getattr(self, "_note", ""),
                     f" fault={self._fault}" if getattr(self, "_fault", None) else "")

    def _control(self, app: ReceiverApp, method: str, segments: list[str], body: bytes) -> None:
        if len(segments) == 3 and segments[0] == "exports" and method in ("PUT", "POST"):
            try:
                status, answer = 200, app.put_export(segments[1], segments[2], body)
            except ValueError as exc:
                status, answer = 400, {"error": str(exc)}
        elif segments == ["faults"] and method in ("PUT", "POST"):
            try:
                status, answer = 200, app.set_faults(json.loads(body.decode("utf-8") or "{}"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                status, answer = 400, {"error": f"the body is not JSON: {exc}"}
            except ValueError as exc:
                status, answer = 400, {"error": str(exc)}
        else:
            status, answer = app.control(method, segments)
        self._send(status, json_bytes(answer))
