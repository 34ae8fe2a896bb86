"""One emulator request over HTTP: the base path and API version, faults, the certificate and its permissions,
field level security, the writes log entry, then the route's action (:mod:`aeries_sandbox.emulator.app`)."""

from __future__ import annotations

import json
import re
import time
from typing import Any, Callable
from urllib.parse import parse_qsl, unquote, urlsplit

from aeries_sandbox.emulator.certificates import SECURITY_AREAS, WRITE_PERMISSIONS, Certificate
from aeries_sandbox.emulator.errors import HttpError
from aeries_sandbox.emulator.http import JsonRequestHandler, json_bytes, log
from aeries_sandbox.emulator.index import local_now

__all__ = ["EmulatorRequestHandler", "LOGIN_PAGE"]

_SAFE_QUERY_KEYS = {"startingrecord", "endingrecord", "databaseyear"}
_VERSION = re.compile(r"v5(\.\d+)?", re.IGNORECASE)

LOGIN_PAGE = b"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Aeries: Portals</title></head>
<body class="login">
<form method="post" action="./LoginParent.aspx" id="form1">
<div id="LoginPage"><h1>Aeries</h1><p>Please sign in with your district account.</p>
<label for="portalAccountUsername">Email or Username</label><input id="portalAccountUsername" type="text">
<label for="portalAccountPassword">Password</label><input id="portalAccountPassword" type="password">
<button type="submit" id="LoginButton">Sign In</button>
<p>Windows Authentication is required for this site.</p></div>
</form></body></html>
"""


class EmulatorRequestHandler(JsonRequestHandler):
    server_version = "Microsoft-IIS/10.0"

    def _record(self, status: int | None) -> None:
        """Count the request (not a control request: ``_pending`` None) and log a write, before the client can
        see the answer (so stats and the writes log are never behind)."""
        if self._pending is not None:
            route, fault = self._pending
            self.server.app.stats.record(route, status, fault)
        entry = getattr(self, "_write_entry", None)
        if entry is not None:
            entry["status"] = status
            self.server.app.record_write(entry)

    def _safe_target(self, path: str, query: list[tuple[str, str]]) -> str:
        if not query:
            return path
        shown = "&".join(f"{k}={v if k.lower() in _SAFE_QUERY_KEYS else '***'}" for k, v in query)
        return f"{path}?{shown}"

    # -- one request ---------------------------------------------------------------------------
    def _respond(self, method: str) -> None:
        app = self.server.app
        split = urlsplit(self.path)
        path = split.path
        query = parse_qsl(split.query, keep_blank_values=True)
        self._target = self._safe_target(path, query)
        self._fault: str | None = None
        self._cert_name = "-"
        self._pending = ("unknown", None)
        self._write_entry: dict[str, Any] | None = None
        body = self._read_body()
        relative = app.relative_path(path)
        segments = [unquote(s) for s in relative.split("/") if s] if relative is not None else None
        if segments and segments[0].lower() == "__emulator__":
            self._pending = None  # control requests are not counted
            status, answer = app.control(method, segments[1:], body)
            self._send(status, answer)
            return
        if segments is None or len(segments) < 2 or segments[0].lower() != "api" or not _VERSION.fullmatch(segments[1]):
            raise HttpError(404, app.not_found_message(path))
        api = segments[2:]
        if method != "GET":
            self._respond_write(method, path, api, body, query)
            return
        resolved = app.resolve(api)
        if resolved is None:
            raise HttpError(404, app.not_found_message(path))
        route, action = resolved
        self._pending = (route, None)
        if route != "systeminfo":
            fault, latency = app.faults.decide("/".join(api))
            self._fault = fault
            self._pending = (route, fault)
            if latency:
                time.sleep(latency)
            if fault:
                self._inject(fault, action, query)
                return
            self._check_certificate((SECURITY_AREAS[route],))
        params = {k.lower(): v for k, v in query}
        self._send(200, action(params))

    def _check_certificate(self, needed: tuple[str, ...]) -> Certificate:
        """The request's certificate: 401 without a known one; 403 naming the first of ``needed`` it lacks."""
        app = self.server.app
        cert = (self.headers.get("AERIES-CERT") or "").strip()
        known = app.certificates.get(cert) if cert else None
        if known is None:
            raise HttpError(401, "Authorization has been denied for this request."
                            if cert else "Authorization has been denied for this request: no AERIES-CERT header.")
        self._cert_name = known[0]
        if self._write_entry is not None:
            self._write_entry["cert"] = known[0]
        for area in needed:
            if area not in known[1]:
                raise HttpError(403, f"The certificate does not have access to {area}")
        return known

    def _without_denied_fields(self, certificate: Certificate, area: str, body: bytes) -> bytes:
        """The body without the fields field level security denies this certificate in ``area``: Aeries answers
        as if they had not been sent (the writes log lists them as ``ignored_fields``)."""
        denied = certificate.denied_fields.get(area.split(" - ")[0]) if isinstance(certificate, Certificate) else None
        if not denied:
            return body
        try:
            payload = json.loads(body.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return body  # the write itself answers 400
        if not isinstance(payload, dict):
            return body
        ignored = [key for key in payload if str(key).lower() in denied]
        if not ignored:
            return body
        if self._write_entry is not None:
            self._write_entry["ignored_fields"] = ignored
        return json_bytes({k: v for k, v in payload.items() if k not in ignored})

    def _respond_write(self, method: str, path: str, api: list[str], body: bytes,
                       query: list[tuple[str, str]]) -> None:
        """Any method but GET: logged in the writes log (with the status sent), checked like a read (faults,
        certificate, the route's permissions), then applied. A ``truncate`` fault applies the write and cuts the
        answer (the write happened, the client cannot tell); the other faults answer before anything is written."""
        app = self.server.app
        try:
            logged: Any = json.loads(body.decode("utf-8-sig")) if body.strip() else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            logged = body.decode("utf-8", "replace")
        self._write_entry = {"seq": 0, "time": local_now().strftime("%Y-%m-%dT%H:%M:%S"), "method": method,
                             "path": path, "route": None, "cert": "-", "body": logged, "status": None, "fault": None}
        resolved = app.resolve_write(method, api)
        if resolved is None:
            readable = app.resolve(api)
            if readable is None:
                raise HttpError(404, app.not_found_message(path))
            self._pending = (readable[0], None)
            self._write_entry["route"] = readable[0]
            raise HttpError(405, f"The requested resource does not support http method '{method}'.")
        route, action = resolved
        self._pending = (route, None)
        self._write_entry["route"] = route
        fault, latency = app.faults.decide("/".join(api))
        self._fault = fault
        self._pending = (route, fault)
        self._write_entry["fault"] = fault
        if latency:
            time.sleep(latency)
        if fault and fault != "truncate":
            self._inject(fault, lambda p: b"", query)
            return
        certificate = self._check_certificate(WRITE_PERMISSIONS[route])
        body = self._without_denied_fields(certificate, WRITE_PERMISSIONS[route][0], body)
        status, answer = action({k.lower(): v for k, v in query}, body)
        if fault == "truncate":
            answer = answer[: max(1, len(answer) // 2)]
        self._send(status, answer)

    def _log_access(self, method: str, status: int | None, milliseconds: float) -> None:
        if self.server.app.access_log:
            log.info("%s %s %s %.1fms cert=%s%s", method, getattr(self, "_target", "-"),
                     status if status is not None else "-", milliseconds, getattr(self, "_cert_name", "-"),
                     f" fault={self._fault}" if getattr(self, "_fault", None) else "")

    def _inject(self, fault: str, action: Callable[[dict[str, str]], bytes], query: list[tuple[str, str]]) -> None:
        if fault == "drop":
            self.close_connection = True
            return
        if fault == "429":
            self._send(429, json_bytes({"Message": "Too many requests"}), headers={"Retry-After": "1"})
            return
        if fault in ("500", "503"):
            message = "An error has occurred." if fault == "500" else "The service is unavailable."
            self._send(int(fault), json_bytes({"Message": message}))
            return
        if fault == "html":
            self._send(200, LOGIN_PAGE, content_type="text/html; charset=utf-8")
            return
        # truncate: a real answer cut off mid-body (Content-Length matches what is sent)
        try:
            body = action({k.lower(): v for k, v in query})
        except HttpError as exc:
            body = json_bytes({"Message": exc.message})
        self._send(200, body[: max(1, len(body) // 2)])

