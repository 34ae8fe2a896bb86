"""The receiver in this process (:class:`VendorApiServer`, a daemon thread) or as a subprocess
(:class:`VendorApiProcess`, ``python -m aeries_sandbox.vendor_api``), with the same helpers."""

from __future__ import annotations

import os
import threading
from typing import Any, Mapping
from urllib.parse import urlsplit

from aeries_sandbox.emulator.faults import FaultConfig, FaultInjector
from aeries_sandbox.emulator.http import BackgroundServer, SandboxHTTPServer
from aeries_sandbox.emulator.process import ServerProcess
from aeries_sandbox.vendor_api.handler import ReceiverRequestHandler
from aeries_sandbox.vendor_api.receiver import (
    CONTROL_ROOT,
    FAULT_KINDS,
    IMPORT_ROUTE,
    INSTANCE_NAME,
    ReceiverApp,
    load_tokens,
)

__all__ = ["VendorApiError", "VendorApiServer", "VendorApiProcess"]


class VendorApiError(RuntimeError):
    """The receiver subprocess did not start or a control request failed; says where the log is."""


class _ReceiverHelpers:
    """What the in-process server and the subprocess both offer on top of their ``url``."""

    url: str

    def airflow_connection(self, conn_id: str, instance: str, token: str) -> dict[str, Any]:
        """The Airflow connection (JSON for ``AIRFLOW_CONN_<ID>``) that delivers to ``instance`` with ``token``.

        ``conn_id`` only goes into the description: the id is the environment variable's name.
        """
        if not INSTANCE_NAME.fullmatch(instance):
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
    :param fail_after_batches: each instance imports this many batches, then answers every new one with HTTP
        ``fail_status`` (:meth:`fail_after`).
    """

    thread_name = "vendor-api-receiver"

    def __init__(self, tokens: Any, *, host: str = "127.0.0.1", port: int = 0,
                 faults: str | Mapping[str, Any] | None = None, fault_seed: int = 0, access_log: bool = True,
                 fail_after_batches: int | None = None, fail_status: int = 503) -> None:
        injector = FaultInjector(FaultConfig.from_json({"rates": faults or {}, "seed": fault_seed}, FAULT_KINDS),
                                 kinds=FAULT_KINDS)
        self.app = ReceiverApp(tokens, faults=injector, access_log=access_log, fail_after_batches=fail_after_batches,
                               fail_status=fail_status)
        self.host = host
        self._httpd = SandboxHTTPServer((host, port), self.app, ReceiverRequestHandler)
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

    def fail_after(self, batches: int | None, status: int = 503) -> None:
        """Each instance imports new batches until it has taken ``batches`` (replays aside, since its last
        :meth:`reset`), then refuses every new one with HTTP ``status`` (``None``: takes them all again)."""
        self.app.fail_after(batches, status)

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
