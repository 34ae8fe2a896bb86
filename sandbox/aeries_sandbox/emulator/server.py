"""The emulator in this process: :class:`EmulatorServer` serves a :class:`~aeries_sandbox.emulator.district.District`
with the standard library's ``ThreadingHTTPServer`` (HTTP/1.1, keep-alive), from a daemon thread or the caller.

A request goes to :class:`~aeries_sandbox.emulator.handler.EmulatorRequestHandler`, which routes it through
:class:`~aeries_sandbox.emulator.app.EmulatorApp` to :mod:`aeries_sandbox.emulator.routes`.
"""

from __future__ import annotations

import threading
from typing import Any, Mapping

from aeries_sandbox.emulator.app import EmulatorApp
from aeries_sandbox.emulator.certificates import load_certificates
from aeries_sandbox.emulator.district import District
from aeries_sandbox.emulator.faults import FaultConfig, FaultInjector, parse_fault_spec
from aeries_sandbox.emulator.handler import EmulatorRequestHandler
from aeries_sandbox.emulator.http import BackgroundServer, SandboxHTTPServer
from aeries_sandbox.emulator.paging import PagingConfig

__all__ = ["EmulatorServer"]


class EmulatorServer(BackgroundServer):
    """An emulator listening on ``host:port`` (0 = a free port), in this process.

    ``start()`` serves from a daemon thread (tests); ``serve_forever()`` serves from the calling thread
    (the CLI). ``url`` is the Aeries base URL with its path, e.g. ``http://127.0.0.1:8081/aeries``.

    :param certs: the certificates: a certs file path, its parsed JSON, or the list of entries.
    :param faults: a fault spec (``"429=0.1,latency=0.01"`` or a dict) active from the start.
    :param unpaged_routes: routes whose answers ignore ``StartingRecord``/``EndingRecord`` (names from
        :data:`PAGED_ROUTES`, a list or ``"contacts,classes"``; ``[]`` or ``"none"``: all page; None:
        :data:`DEFAULT_UNPAGED_ROUTES`). ``max_rows_per_request``: a row cap on every paged list answer.
    """

    thread_name = "aeries-emulator"

    def __init__(self, district: District, certs: Any, *, host: str = "127.0.0.1", port: int = 0,
                 base_path: str = "/aeries", faults: str | Mapping[str, Any] | None = None, fault_seed: int = 0,
                 access_log: bool = True, unpaged_routes: Any = None,
                 max_rows_per_request: int | None = None) -> None:
        injector = FaultInjector(FaultConfig(rates=parse_fault_spec(faults), seed=fault_seed))
        paging = PagingConfig.build(unpaged_routes, max_rows_per_request)
        self.app = EmulatorApp(district, load_certificates(certs), base_path=base_path, faults=injector,
                               access_log=access_log, paging=paging)
        self.host = host
        self._httpd = SandboxHTTPServer((host, port), self.app, EmulatorRequestHandler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self._url(self.host, self.app.base_path)

    @property
    def faults(self) -> FaultInjector:
        return self.app.faults

    def stats(self) -> dict[str, Any]:
        return {**self.app.stats.snapshot(), "fault_config": self.app.faults.state()}

    def set_paging(self, unpaged_routes: Any = None, max_rows_per_request: int | None = None) -> dict[str, Any]:
        """Change how the server pages (see :class:`PagingConfig`; None: the default routes, no cap)."""
        self.app.paging = PagingConfig.build(unpaged_routes, max_rows_per_request)
        return self.app.paging.to_json()

    def writes(self) -> list[dict[str, Any]]:
        """The writes log: ``[{"seq", "time", "method", "path", "route", "cert", "body", "status", "fault"}]``."""
        return self.app.writes()

    def clear_writes(self) -> int:
        return self.app.clear_writes()
