"""The import API's behaviour independent of the socket server: tokens, one store per vendor instance (records,
batches, idempotency keys, export files, request counts) and the control endpoints."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import logging
import os
import re
import threading
import uuid
from typing import Any, Mapping
from urllib.parse import quote

from aeries_sandbox.emulator.errors import HttpError
from aeries_sandbox.emulator.faults import FaultConfig, FaultInjector
from aeries_sandbox.emulator.http import json_bytes
from aeries_sandbox.emulator.process import read_secrets_file
from aeries_sandbox.vendor_api.records import (
    ID_FIELD,
    field_value,
    json_type,
    merge_record,
    parse_records,
    record_errors,
)

__all__ = ["FAULT_KINDS", "IMPORT_ROUTE", "EXPORTS_ROUTE", "CONTROL_ROOT", "INSTANCE_NAME", "TokenError", "ReceiverApp",
           "load_tokens"]

log = logging.getLogger("aeries_sandbox.vendor_api")

#: Fault kinds, in the order they are tried (``latency`` comes on top of any of them).
FAULT_KINDS = ("429", "500", "503", "drop", "500_after_import")
IMPORT_ROUTE = ("api", "v1", "students", "import")
#: ``GET /{instance}/api/v1/exports`` lists the instance's export files, ``.../exports/{name}`` serves one.
EXPORTS_ROUTE = ("api", "v1", "exports")
CONTROL_ROOT = "__receiver__"

INSTANCE_NAME = re.compile(r"[a-z0-9_-]+")
_EXPORT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")


class TokenError(ValueError):
    """The tokens are unusable (the message never contains a token)."""


def load_tokens(source: Any) -> tuple[str, ...]:
    """The API tokens from a tokens file path (a JSON list of strings) or the list itself.

    Errors name the item by its position, never by its value.
    """
    if isinstance(source, (str, os.PathLike)):
        source = read_secrets_file(source, "tokens", TokenError)
    if not isinstance(source, (list, tuple)):
        raise TokenError(f"the tokens must be a JSON list of strings, not {json_type(source)}")
    for position, token in enumerate(source, start=1):
        if not isinstance(token, str) or not token:
            raise TokenError(f"token #{position} must be a non-empty string")
        if any(c.isspace() for c in token):
            raise TokenError(f"token #{position} contains white space")
    if not source:
        raise TokenError("give at least one token")
    return tuple(source)



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
            sid = field_value(record, ID_FIELD) if isinstance(record, Mapping) else None
            sid = sid.strip() if isinstance(sid, str) and sid.strip() else None
            if errors:
                results.append({"index": index, "student_district_id": sid, "status": "error", "errors": errors})
                continue
            assert sid is not None
            before = self.records.get(sid)
            after = merge_record(before or {}, record)
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

    def __init__(self, tokens: Any, *, faults: FaultInjector | None = None, access_log: bool = True,
                 fail_after_batches: int | None = None, fail_status: int = 503) -> None:
        self._tokens = load_tokens(tokens)
        self.faults = faults or FaultInjector(kinds=FAULT_KINDS)
        self.access_log = access_log
        self.fail_after(fail_after_batches, fail_status)
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
        records = parse_records(body)
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
            taken = sum(not batch["replayed"] for batch in store.batches)
            if self.fail_after_batches is not None and taken >= self.fail_after_batches:
                raise HttpError(self.fail_status, f"import limit reached: {taken} batches taken, no more are imported")
            answer = store.import_records(records, key)
            body_out = json_bytes(answer)
            store.answers[key] = (digest, body_out)
        return body_out, f"received={answer['received']} imported={answer['imported']}"

    def fail_after(self, batches: int | None, status: int = 503) -> None:
        """From now on, an instance that imported ``batches`` batches answers every new one (not a replay) with HTTP
        ``status`` and imports nothing: a vendor that stops taking an import halfway (``None``: never)."""
        if batches is not None and batches < 0 or not 400 <= status <= 599:
            raise ValueError(f"fail after {batches} batches with HTTP {status}: give batches >= 0 and a 4xx or 5xx status")
        self.fail_after_batches, self.fail_status = batches, status

    def put_export(self, instance: str, name: str, data: bytes) -> dict[str, Any]:
        """Place (or replace) export file ``name`` of ``instance``; its listing entry. ValueError for a bad name."""
        if not INSTANCE_NAME.fullmatch(instance):
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
