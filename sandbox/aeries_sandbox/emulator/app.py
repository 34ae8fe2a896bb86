"""The emulator's behaviour independent of the socket server: routing to the routes, paging, stats, the writes log.

Write requests are validated and applied by :mod:`aeries_sandbox.emulator.writes` under ``DistrictIndex.lock``,
and every one is logged (``GET {base}/__emulator__/writes``).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Mapping

from aeries_sandbox.emulator.certificates import Certificate
from aeries_sandbox.emulator.district import District
from aeries_sandbox.emulator.faults import FaultInjector
from aeries_sandbox.emulator.index import DistrictIndex
from aeries_sandbox.emulator.paging import PagingConfig, requested_range
from aeries_sandbox.emulator.routes import control as control_routes
from aeries_sandbox.emulator.routes import reads as read_routes
from aeries_sandbox.emulator.routes import writes as write_routes

__all__ = ["EmulatorApp", "RequestStats", "normalise_base_path"]


def normalise_base_path(base_path: str | None) -> str:
    """``"aeries/"`` -> ``"/aeries"``; ``""`` and ``"/"`` -> ``""`` (the site root)."""
    text = (base_path or "").strip().strip("/")
    return f"/{text}" if text else ""


class RequestStats:
    """Requests by route, status and injected fault since the last reset (``GET __emulator__/stats``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests = 0
            self.by_status: dict[str, int] = {}
            self.faults: dict[str, int] = {}
            self.by_route: dict[str, int] = {}
            self.started = time.time()

    def record(self, route: str, status: int | None, fault: str | None) -> None:
        with self._lock:
            self.requests += 1
            self.by_route[route] = self.by_route.get(route, 0) + 1
            if status is not None:
                key = str(status)
                self.by_status[key] = self.by_status.get(key, 0) + 1
            if fault:
                self.faults[fault] = self.faults.get(fault, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "by_status": dict(sorted(self.by_status.items())),
                "faults": dict(sorted(self.faults.items())),
                "faults_injected": sum(self.faults.values()),
                "by_route": dict(sorted(self.by_route.items())),
                "seconds": round(time.time() - self.started, 3),
            }


class EmulatorApp:
    """Routing and the API's behaviour, independent of the socket server."""

    def __init__(self, district: District, certificates: dict[str, Certificate], *,
                 base_path: str = "/aeries", faults: FaultInjector | None = None, access_log: bool = True,
                 paging: PagingConfig | None = None) -> None:
        self.index = DistrictIndex(district)
        self.paging = paging or PagingConfig()
        self.certificates = certificates
        self.base_path = normalise_base_path(base_path)
        self._base_lower = self.base_path.lower()
        self.faults = faults or FaultInjector()
        self.stats = RequestStats()
        self.access_log = access_log
        self._writes: list[dict[str, Any]] = []
        self._writes_lock = threading.Lock()

    # -- the writes log --------------------------------------------------------------------------------------
    def record_write(self, entry: dict[str, Any]) -> None:
        """Append one write request (any method but GET under ``api/``) to the log ``GET __emulator__/writes``
        shows."""
        with self._writes_lock:
            entry["seq"] = len(self._writes) + 1
            self._writes.append(entry)

    def writes(self) -> list[dict[str, Any]]:
        with self._writes_lock:
            return [dict(entry) for entry in self._writes]

    def clear_writes(self) -> int:
        with self._writes_lock:
            count = len(self._writes)
            self._writes.clear()
            return count

    def relative_path(self, path: str) -> str | None:
        if not self._base_lower:
            return path
        lower = path.lower()
        if lower == self._base_lower or lower.startswith(self._base_lower + "/"):
            return path[len(self.base_path):]
        return None

    @staticmethod
    def not_found_message(path: str) -> str:
        return f"No HTTP resource was found that matches the request URI '{path}'."

    # -- routing -------------------------------------------------------------------------------
    def control(self, method: str, segments: list[str], body: bytes) -> tuple[int, bytes]:
        """``{base}/__emulator__/...``: stats, faults, paging, the writes log and edits (routes/control.py)."""
        return control_routes.control(self, method, segments, body)

    def resolve(self, api: list[str]) -> tuple[str, Callable[[dict[str, str]], bytes]] | None:
        """``(route name, action)`` for the path segments after ``api/v5``, or None (404)."""
        return read_routes.resolve_read(self, api)

    def resolve_write(self, method: str, api: list[str]) -> tuple[str, write_routes.WriteAction] | None:
        """``(route name, action)`` for a write request, or None (then 405 if a GET route matches, else 404)."""
        return write_routes.resolve_write(self, method, api)

    # -- behaviour -----------------------------------------------------------------------------
    def page(self, route: str, rows: list[dict[str, Any]], params: Mapping[str, str]) -> list[dict[str, Any]]:
        """The rows of a list answer: the range asked for (unless ``route`` ignores paging), then the row cap."""
        paging = self.paging
        if route not in paging.unpaged_routes:
            rows = requested_range(rows, params)
        elif params.get("startingrecord") or params.get("endingrecord"):
            requested_range(rows, params)  # still 400 for a range that is not a number
        if paging.max_rows_per_request is not None:
            rows = rows[:paging.max_rows_per_request]
        return rows
