"""A local stand-in for a vendor's HTTPS import API: SchoolMint Enroll's student import (see vendor_api_README.md).

A real HTTP server, standard library only (``ThreadingHTTPServer`` + ``json``), like the Aeries emulator:

    with VendorApiServer(tokens=[token]) as api:              # in this process, a daemon thread
        api.url                                                # http://127.0.0.1:PORT
        api.airflow_connection("enroll_sandbox", "sandbox", token)   # AIRFLOW_CONN_* dict (type http)
        api.set_faults({"503": 1.0}, max_faults=2)             # fails twice, then succeeds
        api.state("sandbox")                                   # {"records", "batches", "requests", ...}

    with VendorApiProcess(tokens=[token]) as api:             # python -m aeries_sandbox.vendor_api
        ...                                                    # the same helpers, over the control endpoints

Every instance (the first path segment: ``/sandbox``, ``/production``, any ``[a-z0-9_-]+``) has its own store.
``POST /{instance}/api/v1/students/import`` takes ``{"records": [...]}`` with ``Authorization: Bearer <token>``
and an ``Idempotency-Key``; each record is checked on its own and upserted by ``students.student_district_id``
(Enroll's "Overwrite": null clears a field, an absent key keeps it, a list replaces the stored list). The
same key with the same body replays the first answer; with another body it is a 422. The export side (what a
write-back with ``source.http`` reads): ``GET /{instance}/api/v1/exports`` lists the files placed with
``put_export(instance, name, data)`` and ``GET /{instance}/api/v1/exports/{name}`` serves one (both need the
token). Faults are seeded and
rate-controlled with the emulator's :class:`~aeries_sandbox.emulator.faults.FaultInjector`.

Tokens are never logged: one line per request gives method, path, status, milliseconds, the idempotency
key, counts and the injected fault.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import hmac
import json
import logging
import os
import re
import sys
import threading
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import quote, unquote, urlsplit

from aeries_sandbox.emulator.errors import HttpError
from aeries_sandbox.emulator.faults import FaultConfig, FaultInjector
from aeries_sandbox.emulator.http import BackgroundServer, JsonRequestHandler, SandboxHTTPServer
from aeries_sandbox.emulator.process import (
    ServerProcess,
    add_server_options,
    parse_cli,
    read_secrets_file,
    serve_until_stopped,
)

__all__ = [
    "FAULT_KINDS",
    "REQUIRED_FIELDS",
    "ID_FIELD",
    "TokenError",
    "VendorApiError",
    "VendorApiServer",
    "VendorApiProcess",
    "ReceiverApp",
    "load_tokens",
    "record_errors",
]

log = logging.getLogger("aeries_sandbox.vendor_api")

#: Fault kinds, in the order they are tried (``latency`` comes on top of any of them).
FAULT_KINDS = ("429", "500", "503", "drop", "500_after_import")
ID_FIELD = "students.student_district_id"
#: Present and not blank in every record; the date fields must also be real YYYY-MM-DD dates.
REQUIRED_FIELDS = (
    ID_FIELD,
    "students.fname",
    "students.lname",
    "students.DOB",
    "students.sis_school_year",
    "students_annual.sis_entrydate",
)
DATE_FIELDS = frozenset({"students.DOB", "students_annual.sis_entrydate"})
#: Top-level keys of a record that must be objects / lists when present (null clears them).
OBJECT_KEYS = ("students", "students_annual", "custom")
LIST_KEYS = ("guardians", "emergency_contacts")
IMPORT_ROUTE = ("api", "v1", "students", "import")
#: ``GET /{instance}/api/v1/exports`` lists the instance's export files, ``.../exports/{name}`` serves one.
EXPORTS_ROUTE = ("api", "v1", "exports")
CONTROL_ROOT = "__receiver__"
#: A batch of 1000 records with guardians and contacts is about 2 MB.
MAX_BODY = 20_000_000
MAX_KEY_LENGTH = 255

_INSTANCE = re.compile(r"[a-z0-9_-]+")
_EXPORT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number",
               float: "a number", type(None): "null"}


class TokenError(ValueError):
    """The tokens are unusable (the message never contains a token)."""


class VendorApiError(RuntimeError):
    """The receiver subprocess did not start or a control request failed; says where the log is."""


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def load_tokens(source: Any) -> tuple[str, ...]:
    """The API tokens from a tokens file path (a JSON list of strings) or the list itself.

    Errors name the item by its position, never by its value.
    """
    if isinstance(source, (str, os.PathLike)):
        source = read_secrets_file(source, "tokens", TokenError)
    if not isinstance(source, (list, tuple)):
        raise TokenError(f"the tokens must be a JSON list of strings, not {_json_type(source)}")
    for position, token in enumerate(source, start=1):
        if not isinstance(token, str) or not token:
            raise TokenError(f"token #{position} must be a non-empty string")
        if any(c.isspace() for c in token):
            raise TokenError(f"token #{position} contains white space")
    if not source:
        raise TokenError("give at least one token")
    return tuple(source)


# -- one record -------------------------------------------------------------------------------------
def _field(record: Mapping[str, Any], path: str) -> Any:
    node: Any = record
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def record_errors(record: Any) -> list[str]:
    """Why Enroll refuses ``record``, one message per problem naming the field (empty: importable)."""
    if not isinstance(record, Mapping):
        return [f"record: must be an object, not {_json_type(record)}"]
    errors = []
    for key in OBJECT_KEYS + LIST_KEYS:
        value = record.get(key)
        wanted = dict if key in OBJECT_KEYS else list
        if value is not None and not isinstance(value, wanted):
            errors.append(f"{key}: must be {_json_type(wanted())} or null, not {_json_type(value)}")
    for path in REQUIRED_FIELDS:
        value = _field(record, path)
        if value is None or (isinstance(value, str) and not value.strip()):
            errors.append(f"{path}: is required (missing or blank)")
        elif not isinstance(value, str):
            errors.append(f"{path}: must be a string, not {_json_type(value)}")
        elif path in DATE_FIELDS and not _is_date(value):
            errors.append(f"{path}: {value!r} is not a YYYY-MM-DD date")
    return errors


def _is_date(text: str) -> bool:
    if not _DATE.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _merge(stored: Mapping[str, Any], incoming: Mapping[str, Any]) -> dict[str, Any]:
    """Enroll's Overwrite import: a null value clears the stored field (it is kept as null), an absent key
    keeps the stored value, objects merge key by key, lists and other values replace."""
    merged = dict(stored)
    for key, value in incoming.items():
        old = merged.get(key)
        merged[key] = _merge(old, value) if isinstance(value, dict) and isinstance(old, dict) else copy.deepcopy(value)
    return merged


def _parse_records(body: bytes) -> list[Any]:
    try:
        document = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise HttpError(400, "the body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise HttpError(400, f"the body is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if not isinstance(document, dict) or not isinstance(document.get("records"), list):
        raise HttpError(400, 'the body must be a JSON object {"records": [...]}')
    extra = sorted(set(document) - {"records"})
    if extra:
        raise HttpError(400, f"unknown keys in the body: {', '.join(extra)} (only records)")
    if not document["records"]:
        raise HttpError(400, "records is empty: send at least one record")
    return document["records"]


# -- the store --------------------------------------------------------------------------------------
class _Instance:
    """One vendor instance: imported records, batches, idempotency keys and request counts."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.batches: list[dict[str, Any]] = []
        self.answers: dict[str, tuple[str, bytes]] = {}  # idempotency key -> (body sha256, the 200 answer)
        self.requests = 0
        self.by_status: dict[str, int] = {}
        self.faults: dict[str, int] = {}
        self.exports: dict[str, bytes] = {}  # file name -> its bytes (the vendor's export side)

    def count(self, status: int | None, fault: str | None) -> None:
        self.requests += 1
        if status is not None:
            self.by_status[str(status)] = self.by_status.get(str(status), 0) + 1
        if fault:
            self.faults[fault] = self.faults.get(fault, 0) + 1

    def import_records(self, records: list[Any], key: str) -> dict[str, Any]:
        results = []
        imported = 0
        for index, record in enumerate(records):
            errors = record_errors(record)
            sid = _field(record, ID_FIELD) if isinstance(record, Mapping) else None
            sid = sid.strip() if isinstance(sid, str) and sid.strip() else None
            if errors:
                results.append({"index": index, "student_district_id": sid, "status": "error", "errors": errors})
                continue
            assert sid is not None
            before = self.records.get(sid)
            after = _merge(before or {}, record)
            status = "created" if before is None else ("unchanged" if after == before else "updated")
            self.records[sid] = after
            imported += 1
            results.append({"index": index, "student_district_id": sid, "status": status})
        answer = {"batch_id": str(uuid.uuid4()), "received": len(records), "imported": imported, "results": results}
        self.batches.append({"batch_id": answer["batch_id"], "idempotency_key": key, "received": len(records),
                             "imported": imported, "replayed": False})
        return answer

    def snapshot(self) -> dict[str, Any]:
        return {
            "records": copy.deepcopy(self.records),
            "batches": copy.deepcopy(self.batches),
            "requests": self.requests,
            "by_status": dict(sorted(self.by_status.items())),
            "faults": dict(sorted(self.faults.items())),
        }


class ReceiverApp:
    """The import API's behaviour and the control endpoints, independent of the socket server."""

    def __init__(self, tokens: Any, *, faults: FaultInjector | None = None, access_log: bool = True) -> None:
        self._tokens = load_tokens(tokens)
        self.faults = faults or FaultInjector(kinds=FAULT_KINDS)
        self.access_log = access_log
        self._lock = threading.Lock()
        self._instances: dict[str, _Instance] = {}

    def authorized(self, header: str | None) -> bool:
        scheme, _, token = (header or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        given = token.strip().encode("utf-8")
        return any(hmac.compare_digest(given, known.encode("utf-8")) for known in self._tokens)

    def count(self, instance: str, status: int | None, fault: str | None) -> None:
        with self._lock:
            self._instances.setdefault(instance, _Instance()).count(status, fault)

    def import_batch(self, instance: str, key: str, body: bytes) -> tuple[bytes, str]:
        """The 200 answer to an import (replayed for a known key), and a note for the access log."""
        records = _parse_records(body)
        digest = hashlib.sha256(body).hexdigest()
        with self._lock:
            store = self._instances.setdefault(instance, _Instance())
            known = store.answers.get(key)
            if known is not None:
                if known[0] != digest:
                    raise HttpError(422, "Idempotency-Key reused with a different body")
                batch_id = json.loads(known[1])["batch_id"]
                store.batches.append({"batch_id": batch_id, "idempotency_key": key, "received": len(records),
                                      "imported": 0, "replayed": True})
                return known[1], f"received={len(records)} replayed={batch_id}"
            answer = store.import_records(records, key)
            body_out = _dumps(answer)
            store.answers[key] = (digest, body_out)
        return body_out, f"received={answer['received']} imported={answer['imported']}"

    def put_export(self, instance: str, name: str, data: bytes) -> dict[str, Any]:
        """Place (or replace) export file ``name`` of ``instance``; its listing entry. ValueError for a bad name."""
        if not _INSTANCE.fullmatch(instance):
            raise ValueError(f"instance {instance!r} must be lowercase letters, digits, '_' or '-'")
        if not _EXPORT_NAME.fullmatch(name):
            raise ValueError(f"export file name {name!r} must be letters, digits, '.', '_' or '-' (not starting with '.')")
        if not isinstance(data, (bytes, bytearray)):
            raise ValueError("an export file's data must be bytes")
        with self._lock:
            self._instances.setdefault(instance, _Instance()).exports[name] = bytes(data)
        log.info("export file %s put on %s (%d bytes)", name, instance, len(data))
        return _export_entry(instance, name, bytes(data))

    def exports(self, instance: str) -> dict[str, Any]:
        """The answer to ``GET /{instance}/api/v1/exports``: ``{"files": [{"name", "path", "bytes", "sha256"}]}``."""
        with self._lock:
            files = dict(self._instances.get(instance, _Instance()).exports)
        return {"files": [_export_entry(instance, name, data) for name, data in sorted(files.items())]}

    def export(self, instance: str, name: str) -> bytes | None:
        with self._lock:
            return self._instances.get(instance, _Instance()).exports.get(name)

    def state(self, instance: str | None = None) -> dict[str, Any]:
        """One instance's ``{"records", "batches", "requests", "by_status", "faults"}`` (empty when it never
        got a request), or ``{"instances": {name: ...}, "fault_config"}`` for all."""
        with self._lock:
            if instance is not None:
                return self._instances.get(instance, _Instance()).snapshot()
            instances = {name: store.snapshot() for name, store in sorted(self._instances.items())}
        return {"instances": instances, "fault_config": self.faults.state()}

    def reset(self) -> None:
        """Forget every instance: records, batches, idempotency keys and counts (faults stay)."""
        with self._lock:
            self._instances.clear()

    def set_faults(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Replace the fault configuration from the control body (``rates``, ``seed``, ``max_faults``,
        ``path_pattern``); ValueError names a bad item."""
        config = FaultConfig.from_json(body, FAULT_KINDS)
        self.faults.configure(config)
        log.info("faults set: %s", json.dumps(config.to_json()))
        return self.faults.state()

    def control(self, method: str, segments: list[str]) -> tuple[int, Any]:
        """``GET state[/{instance}]``, ``DELETE state``, ``GET``/``DELETE faults`` (``PUT faults`` needs the body:
        :meth:`set_faults`)."""
        name = segments[0] if segments else ""
        if name == "state" and len(segments) <= 2:
            if method == "GET":
                return 200, self.state(segments[1] if len(segments) == 2 else None)
            if method == "DELETE" and len(segments) == 1:
                self.reset()
                log.info("state forgotten")
                return 200, self.state()
        elif name == "faults" and len(segments) == 1:
            if method == "GET":
                return 200, self.faults.state()
            if method == "DELETE":
                self.faults.clear()
                log.info("faults cleared")
                return 200, self.faults.state()
        else:
            return 404, {"error": f"unknown control endpoint; use {CONTROL_ROOT}/state or {CONTROL_ROOT}/faults"}
        return 405, {"error": f"{method} is not supported here"}


def _export_entry(instance: str, name: str, data: bytes) -> dict[str, Any]:
    return {"name": name, "path": f"/{instance}/{'/'.join(EXPORTS_ROUTE)}/{quote(name)}", "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest()}


# -- HTTP -------------------------------------------------------------------------------------------
class _Handler(JsonRequestHandler):
    server_version = "VendorApiReceiver/1.0"
    max_body = MAX_BODY

    def _record(self, status: int | None) -> None:
        """Count the request once, in its instance, before the client can see the answer."""
        if self._pending is not None:
            instance, fault = self._pending
            self._pending = None
            self.server.app.count(instance, status, fault)

    internal_error_message = "internal server error"

    def _error_body(self, message: str) -> bytes:
        return _dumps({"error": message})

    def _respond(self, method: str) -> None:
        app: ReceiverApp = self.server.app
        path = urlsplit(self.path).path
        segments = [unquote(s) for s in path.split("/") if s]
        self._path, self._fault, self._note = path, None, ""
        body = self._read_body()
        if segments and segments[0] == CONTROL_ROOT:
            self._control(app, method, segments[1:], body)
            return
        if not segments or not _INSTANCE.fullmatch(segments[0]):
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
            self._send(200, _dumps(listing))
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
        self._send(status, _dumps(answer))


class _ReceiverHelpers:
    """What the in-process server and the subprocess both offer on top of their ``url``."""

    url: str

    def airflow_connection(self, conn_id: str, instance: str, token: str) -> dict[str, Any]:
        """The Airflow connection (JSON for ``AIRFLOW_CONN_<ID>``) that delivers to ``instance`` with ``token``.

        ``conn_id`` only goes into the description: the id is the environment variable's name.
        """
        if not _INSTANCE.fullmatch(instance):
            raise ValueError(f"instance {instance!r} must be lowercase letters, digits, '_' or '-'")
        address = urlsplit(self.url)
        return {
            "conn_type": "http",
            "description": f"vendor API receiver, instance {instance} ({conn_id})",
            "host": address.hostname,
            "port": address.port,
            "schema": "http",
            "password": token,
            # The receiver speaks plain http: the explicit, logged opt-in (aeries_hub.connection_extras).
            "extra": {"auth": "bearer", "timeout": 10, "endpoint_prefix": f"/{instance}", "allow_insecure": True},
        }

    def import_url(self, instance: str) -> str:
        return f"{self.url}/{instance}/{'/'.join(IMPORT_ROUTE)}"


class VendorApiServer(BackgroundServer, _ReceiverHelpers):
    """The receiver listening on ``host:port`` (0 = a free port), in this process; a context manager.

    :param tokens: the accepted API tokens: a list of strings or a tokens file (a JSON list).
    :param faults: a fault spec (``"429=0.1,latency=0.01"`` or a dict) active from the start.
    """

    thread_name = "vendor-api-receiver"

    def __init__(self, tokens: Any, *, host: str = "127.0.0.1", port: int = 0,
                 faults: str | Mapping[str, Any] | None = None, fault_seed: int = 0, access_log: bool = True) -> None:
        injector = FaultInjector(FaultConfig.from_json({"rates": faults or {}, "seed": fault_seed}, FAULT_KINDS),
                                 kinds=FAULT_KINDS)
        self.app = ReceiverApp(tokens, faults=injector, access_log=access_log)
        self.host = host
        self._httpd = SandboxHTTPServer((host, port), self.app, _Handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self._url(self.host)

    @property
    def faults(self) -> FaultInjector:
        return self.app.faults

    def state(self, instance: str | None = None) -> dict[str, Any]:
        """One instance's records, batches and counts (a copy), or every instance's with ``instance=None``."""
        return self.app.state(instance)

    def reset(self) -> dict[str, Any]:
        self.app.reset()
        return self.app.state()

    def set_faults(self, spec: str | Mapping[str, Any], seed: int = 0, max_faults: int | None = None,
                   path_pattern: str | None = None) -> dict[str, Any]:
        """Replace the fault configuration; returns it (with ``injected`` and ``remaining`` counts)."""
        return self.app.set_faults({"rates": spec, "seed": seed, "max_faults": max_faults, "path_pattern": path_pattern})

    def put_export(self, instance: str, name: str, data: bytes) -> dict[str, Any]:
        """Place export file ``name`` (its bytes) on ``instance``, listed by ``GET /{instance}/api/v1/exports``."""
        return self.app.put_export(instance, name, data)

    def clear_faults(self) -> dict[str, Any]:
        self.app.faults.clear()
        return self.app.faults.state()

    def stats(self) -> dict[str, Any]:
        """Counts over every instance: ``{"requests", "by_status", "faults", "fault_config"}``."""
        return _totals(self.app.state())


def _totals(state: Mapping[str, Any]) -> dict[str, Any]:
    requests, by_status, faults = 0, {}, {}
    for instance in state["instances"].values():
        requests += instance["requests"]
        for name, totals in (("by_status", by_status), ("faults", faults)):
            for key, value in instance[name].items():
                totals[key] = totals.get(key, 0) + value
    return {"requests": requests, "by_status": dict(sorted(by_status.items())), "faults": dict(sorted(faults.items())),
            "fault_config": state["fault_config"]}


class VendorApiProcess(ServerProcess, _ReceiverHelpers):
    """The receiver in a subprocess (``python -m aeries_sandbox.vendor_api``); a context manager.

    The tokens go to a private temp file (mode 0600, deleted by :meth:`stop`); :meth:`start` waits until the
    receiver answers. Its output (one line per request, never a token or header) stays at :attr:`log_path`.
    """

    label = "vendor API receiver"
    module = "aeries_sandbox.vendor_api"
    error = VendorApiError
    control_root = CONTROL_ROOT
    ready_path = f"{CONTROL_ROOT}/faults"
    secrets_option = "--tokens-file"
    secrets_name = "tokens.json"
    log_name = "vendor_api.log"
    workdir_prefix = "vendor-api-"
    fault_kinds = FAULT_KINDS

    def __init__(self, tokens: list[str], *, faults: str | Mapping[str, Any] | None = None, fault_seed: int = 0,
                 port: int = 0, host: str = "127.0.0.1", startup_timeout: float = 30.0,
                 log_path: str | os.PathLike[str] | None = None, access_log: bool = True) -> None:
        self.tokens = list(load_tokens(list(tokens)))
        super().__init__(faults=faults, fault_seed=fault_seed, port=port, host=host, startup_timeout=startup_timeout,
                         log_path=log_path, access_log=access_log)

    def secrets_document(self) -> Any:
        return self.tokens

    def state(self, instance: str | None = None) -> dict[str, Any]:
        """One instance's records, batches and counts, or every instance's with ``instance=None``."""
        return self._control("GET", f"state/{instance}" if instance is not None else "state")

    def reset(self) -> dict[str, Any]:
        return self._control("DELETE", "state")

    def stats(self) -> dict[str, Any]:
        """Counts over every instance: ``{"requests", "by_status", "faults", "fault_config"}``."""
        return _totals(self.state())


# -- python -m aeries_sandbox.vendor_api --------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m aeries_sandbox.vendor_api",
                                     description="A local stand-in for a vendor's student import API (SchoolMint Enroll).")
    parser.add_argument("--tokens-file", type=Path, required=True, metavar="FILE",
                        help="the accepted API tokens, a JSON list of strings")
    add_server_options(parser, port=8082, faults_example="429=0.1,503=0.05,500_after_import=0.02,latency=0.01")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parse_cli(parser, argv)
    try:
        tokens = load_tokens(args.tokens_file)
        server = VendorApiServer(tokens, host=args.host, port=args.port, faults=args.faults,
                                 fault_seed=args.fault_seed, access_log=not args.quiet)
    except (TokenError, ValueError) as exc:
        parser.error(str(exc))
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    log.info("tokens: %d accepted", len(tokens))
    serve_until_stopped(server, args.port_file, f"Vendor API receiver listening on {server.url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
