"""The control endpoints under ``{base}/__emulator__`` (not Aeries' API): stats, faults, paging, the writes log, and
edits Aeries' API cannot make (a student's class schedule, staff fields)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from aeries_sandbox.emulator.errors import HttpError
from aeries_sandbox.emulator.faults import FaultConfig
from aeries_sandbox.emulator.http import json_bytes, log
from aeries_sandbox.emulator.paging import PagingConfig
from aeries_sandbox.emulator.routes.common import parse_int

if TYPE_CHECKING:  # pragma: no cover
    from aeries_sandbox.emulator.app import EmulatorApp

__all__ = ["control", "control_edit"]


def control(app: EmulatorApp, method: str, segments: list[str], body: bytes) -> tuple[int, bytes]:
    if segments and segments[0].lower() in ("classes", "staff") and len(segments) > 1:
        return control_edit(app, method, segments, body)
    name = segments[0].lower() if len(segments) == 1 else ""
    if name == "stats" and method == "GET":
        return 200, json_bytes({**app.stats.snapshot(), "fault_config": app.faults.state()})
    if name == "stats" and method == "DELETE":
        app.stats.reset()
        return 200, json_bytes(app.stats.snapshot())
    if name == "faults" and method == "GET":
        return 200, json_bytes(app.faults.state())
    if name == "faults" and method in ("PUT", "POST"):
        try:
            parsed = json.loads(body.decode("utf-8") or "{}")
            config = FaultConfig.from_json(parsed)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return 400, json_bytes({"Message": f"The body is not JSON: {exc}"})
        except ValueError as exc:
            return 400, json_bytes({"Message": str(exc)})
        app.faults.configure(config)
        log.info("faults set: %s", json.dumps(config.to_json()))
        return 200, json_bytes(app.faults.state())
    if name == "faults" and method == "DELETE":
        app.faults.clear()
        log.info("faults cleared")
        return 200, json_bytes(app.faults.state())
    if name == "paging" and method == "GET":
        return 200, json_bytes(app.paging.to_json())
    if name == "paging" and method in ("PUT", "POST"):
        try:
            parsed = json.loads(body.decode("utf-8") or "{}")
            if not isinstance(parsed, dict) or set(parsed) - {"unpaged_routes", "max_rows_per_request"}:
                raise ValueError("the body must be an object with unpaged_routes and/or max_rows_per_request")
            app.paging = PagingConfig.build(parsed.get("unpaged_routes", sorted(app.paging.unpaged_routes)),
                                             parsed.get("max_rows_per_request"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return 400, json_bytes({"Message": f"The body is not JSON: {exc}"})
        except ValueError as exc:
            return 400, json_bytes({"Message": str(exc)})
        log.info("paging set: %s", json.dumps(app.paging.to_json()))
        return 200, json_bytes(app.paging.to_json())
    if name == "writes" and method == "GET":
        return 200, json_bytes(app.writes())
    if name == "writes" and method == "DELETE":
        return 200, json_bytes({"cleared": app.clear_writes()})
    if name in ("stats", "faults", "writes", "paging"):
        return 405, json_bytes({"Message": f"The requested resource does not support http method '{method}'."})
    return 404, json_bytes({"Message": "Unknown emulator control endpoint; use stats, faults, paging or writes."})


def control_edit(app: EmulatorApp, method: str, segments: list[str], body: bytes) -> tuple[int, bytes]:
    """``PUT classes/{sc}/{StudentID}`` (body: the student's SEC rows at that school) and ``PUT staff/{ID}``
    (body: the fields to change): edits Aeries' API cannot make, logged as changes as Aeries logs them."""
    numbers = [parse_int(segment) for segment in segments[1:]]
    kind = segments[0].lower()
    if method != "PUT":
        return 405, json_bytes({"Message": f"The requested resource does not support http method '{method}'."})
    if None in numbers or len(numbers) != (2 if kind == "classes" else 1):
        return 404, json_bytes({"Message": "Use PUT classes/{SchoolCode}/{StudentID} or PUT staff/{ID}."})
    try:
        payload = json.loads(body.decode("utf-8") or "null")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return 400, json_bytes({"Message": f"The body is not JSON: {exc}"})
    ix = app.index
    with ix.lock:
        if kind == "staff":
            if not isinstance(payload, dict):
                return 400, json_bytes({"Message": "The body must be an object of staff fields."})
            try:
                return 200, json_bytes(ix.update_staff(numbers[0], payload))
            except HttpError as exc:
                return exc.status, json_bytes({"Message": exc.message})
        school, student_id = numbers
        if not isinstance(payload, list) or not all(isinstance(row, dict) for row in payload):
            return 400, json_bytes({"Message": "The body must be an array of class schedule (SEC) rows."})
        rows = [{"StudentID": student_id, "SchoolCode": school, **row} for row in payload]
        ix.replace_schedule(school, student_id, rows)
    return 200, json_bytes(rows)
