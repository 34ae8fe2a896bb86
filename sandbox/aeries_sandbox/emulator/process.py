"""Run the emulator as a subprocess (``python -m aeries_sandbox.emulator``) for tests and the demo.

:class:`ServerProcess` is the part every sandbox server run this way shares (the vendor-API receiver too):
the private secrets file, the port file, waiting until it answers, the log, the control endpoints.

    with EmulatorProcess(generate=300, certs=[{"name": "tests", "certificate": cert, "areas": READ_AREAS}]) as emu:
        requests.get(f"{emu.url}/api/v5/schools", headers={"AERIES-CERT": cert})
        emu.set_faults({"429": 1.0}, max_faults=3)   # the next 3 requests get a 429, then all succeed
        emu.stats()["faults"]                        # {"429": 3}

The certificates file is written to a private temp dir (mode 0600) and deleted by :meth:`stop`; the log file
(the subprocess's stdout and stderr: one line per request, never a header or certificate) is kept at
:attr:`log_path` so that a failing test can show it (pass ``log_path=tmp_path / "emulator.log"`` in tests to
let pytest clean it up).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import weakref
from pathlib import Path
from typing import Any, Mapping, Self

from aeries_sandbox.emulator.faults import FAULT_KINDS, parse_fault_spec

__all__ = ["EmulatorProcess", "EmulatorError", "ServerProcess", "add_server_options", "parse_cli",
           "serve_until_stopped", "write_port_file"]

#: Talks to the sandbox servers on localhost directly, whatever http_proxy says.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

log = logging.getLogger("aeries_sandbox.emulator")


class EmulatorError(RuntimeError):
    """The emulator subprocess did not start or a control request failed; says where the log is."""


def _fault_spec_text(faults: str | Mapping[str, Any], kinds: tuple[str, ...] = FAULT_KINDS) -> str:
    rates = parse_fault_spec(faults, kinds)  # validates before the subprocess is started
    return ",".join(f"{kind}={value:g}" for kind, value in rates.items())


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def read_secrets_file(path: str | os.PathLike[str], what: str, error: type[Exception]) -> Any:
    """The parsed JSON of a secrets file; ``error`` names the file and the problem, never its content."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as exc:
        raise error(f"cannot read the {what} file: {exc.strerror} ({os.fspath(path)})") from None
    except json.JSONDecodeError as exc:
        raise error(f"the {what} file is not valid JSON ({exc.msg} at line {exc.lineno})") from None


def write_port_file(path: Path, port: int) -> None:
    """Write the listening port to ``path`` atomically (what :class:`ServerProcess` waits for)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(f"{port}\n")
    os.replace(tmp, path)


def add_server_options(parser: argparse.ArgumentParser, *, port: int, faults_example: str) -> None:
    """The command-line options every sandbox server has: where it listens, its faults, its log."""
    parser.add_argument("--port", type=int, default=port, help=f"TCP port; 0 picks a free one (default {port})")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--faults", metavar="SPEC", help=f'e.g. "{faults_example}"')
    parser.add_argument("--fault-seed", type=int, default=0, help="seed of the fault RNG (default 0)")
    parser.add_argument("--port-file", type=Path, metavar="FILE", help="write the port here once listening")
    parser.add_argument("--quiet", action="store_true", help="no per-request log lines")


def parse_cli(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """The arguments, with logging to stderr set up (one line per request goes there)."""
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")
    return args


def serve_until_stopped(server: Any, port_file: Path | None, banner: str) -> None:
    """The CLI's serving loop: SIGTERM or Ctrl-C stops ``server`` (``serve_forever``, ``shutdown``, ``stop``,
    ``port``, ``faults``); the port goes to ``port_file`` and ``banner`` to stdout once it listens."""
    config = server.faults.config
    if config.rates:
        log.info("faults: %s (seed %d)", ",".join(f"{k}={v:g}" for k, v in config.rates.items()), config.seed)

    def stop(signum: int, _frame: object) -> None:
        log.info("signal %d: stopping", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    if port_file:
        write_port_file(port_file, server.port)
    print(banner, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


class ServerProcess:
    """A sandbox server run as ``python -m <module>`` in a subprocess; a context manager.

    The subprocess gets its secrets (certificates, tokens) in a private temp file (mode 0600, deleted by
    :meth:`stop`) and writes its port to a file once listening; :meth:`start` waits until ``ready_path``
    answers 200. Its stdout and stderr go to :attr:`log_path`, kept after :meth:`stop`. Subclasses set the
    class attributes and :meth:`secrets_document`, and add their own options in :meth:`command`.
    """

    #: What the messages call the server, its module, the error they raise and the control endpoints' root.
    label = "sandbox server"
    module = ""
    error: type[RuntimeError] = RuntimeError
    control_root = ""
    #: Path (after :meth:`base_url`) that answers 200 once the server is ready.
    ready_path = ""
    secrets_option = "--secrets"
    secrets_name = "secrets.json"
    log_name = "server.log"
    workdir_prefix = "aeries-sandbox-"
    fault_kinds: tuple[str, ...] = FAULT_KINDS

    def __init__(self, *, faults: str | Mapping[str, Any] | None = None, fault_seed: int = 0, port: int = 0,
                 host: str = "127.0.0.1", startup_timeout: float = 30.0,
                 log_path: str | os.PathLike[str] | None = None, access_log: bool = True) -> None:
        self.faults = _fault_spec_text(faults, self.fault_kinds) if faults else None
        self.fault_seed = fault_seed
        self.requested_port = port
        self.host = host
        self.startup_timeout = startup_timeout
        self.access_log = access_log
        self.workdir = Path(tempfile.mkdtemp(prefix=self.workdir_prefix))
        self.log_path = Path(log_path) if log_path is not None else self.workdir / self.log_name
        self.port: int | None = None
        self.url: str = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize | None = None
        self._secrets_path = self.workdir / self.secrets_name
        self._port_file = self.workdir / "port"

    # -- what a subclass says ---------------------------------------------------------------------
    def secrets_document(self) -> Any:
        """The JSON written to the private secrets file."""
        raise NotImplementedError

    def base_url(self, host: str, port: int) -> str:
        return f"http://{host}:{port}"

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", self.module, "--host", self.host, "--port", str(self.requested_port),
               self.secrets_option, str(self._secrets_path), "--port-file", str(self._port_file)]
        if self.faults:
            cmd += ["--faults", self.faults, "--fault-seed", str(self.fault_seed)]
        if not self.access_log:
            cmd.append("--quiet")
        return cmd

    # -- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> Self:
        if self.running:
            return self
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o700)
        fd = os.open(self._secrets_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self.secrets_document(), handle)
        self._port_file.unlink(missing_ok=True)
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log_file:
            self._process = subprocess.Popen(self.command(), stdout=log_file, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, env=env)
        self._finalizer = weakref.finalize(self, _kill, self._process)
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                raise self.error(f"the {self.label} exited with code {code} while starting; "
                                 f"end of {self.log_path}:\n{self.read_log(tail=30)}")
            if self._port_file.exists():
                text = self._port_file.read_text().strip()
                if text.isdigit():
                    self.port = int(text)
                    self.url = self.base_url("127.0.0.1" if self.host in ("", "0.0.0.0") else self.host, self.port)
                    try:
                        with _OPENER.open(f"{self.url}/{self.ready_path}", timeout=5) as response:
                            if response.status == 200:
                                return
                    except (urllib.error.URLError, ConnectionError, TimeoutError):
                        pass
            time.sleep(0.05)
        raise self.error(f"the {self.label} did not answer within {self.startup_timeout:g} s; "
                         f"end of {self.log_path}:\n{self.read_log(tail=30)}")

    def stop(self) -> None:
        """Stop the subprocess and delete the secrets file (the log stays at :attr:`log_path`)."""
        if self._process is not None:
            _kill(self._process)
            if self._finalizer is not None:
                self._finalizer.detach()
            self._process = None
        self._secrets_path.unlink(missing_ok=True)
        self._port_file.unlink(missing_ok=True)
        try:
            self.workdir.rmdir()  # only when empty, i.e. the log lives elsewhere
        except OSError:
            pass

    def read_log(self, tail: int | None = None) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        if tail is not None:
            text = "\n".join(text.splitlines()[-tail:])
        return text

    # -- control endpoints ----------------------------------------------------------------------
    def _control(self, method: str, name: str, body: Any = None) -> Any:
        if not self.running:
            raise self.error(f"the {self.label} is not running: call start() first")
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = urllib.request.Request(f"{self.url}/{self.control_root}/{name}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with _OPENER.open(request, timeout=10) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            raise self.error(f"{method} {self.control_root}/{name} failed: HTTP {exc.code} {detail}") from None

    def set_faults(self, spec: str | Mapping[str, Any], seed: int = 0, max_faults: int | None = None,
                   path_pattern: str | None = None) -> dict[str, Any]:
        """Replace the fault configuration; returns it (with ``injected`` and ``remaining`` counts)."""
        rates = parse_fault_spec(spec, self.fault_kinds)
        return self._control("PUT", "faults", {"rates": rates, "seed": seed, "max_faults": max_faults,
                                               "path_pattern": path_pattern})

    def clear_faults(self) -> dict[str, Any]:
        return self._control("DELETE", "faults")

    def __repr__(self) -> str:
        state = f"running at {self.url}" if self.running else "stopped"
        return f"<{type(self).__name__} {state}, log {self.log_path}>"


class EmulatorProcess(ServerProcess):
    """An Aeries emulator in a subprocess; a context manager.

    :param data_dir: serve this district data dir, or
    :param generate: generate a district of this many students (with ``seed``) in the subprocess.
    :param certs: certificate entries ``{"name", "certificate", "areas"}`` (the certs file's list).
    :param faults: fault spec active from the start (``"429=0.1,latency=0.01"`` or a dict), seeded by
        ``fault_seed``; change it later with :meth:`set_faults`.
    :param port: 0 picks a free port. ``base_path``: the Aeries base path (``/aeries``).
    :param log_path: where the subprocess's output goes (default: ``emulator.log`` in a temp dir).
    :param access_log: log one line per request.
    :param unpaged_routes: routes that ignore ``StartingRecord``/``EndingRecord`` (None: the emulator's default;
        ``[]``: every route pages); ``max_rows_per_request``: a row cap per list answer (README.md, "Paging").
    """

    label = "Aeries emulator"
    module = "aeries_sandbox.emulator"
    error = EmulatorError
    control_root = "__emulator__"
    ready_path = "api/v5/systeminfo"
    secrets_option = "--certs"
    secrets_name = "certs.json"
    log_name = "emulator.log"
    workdir_prefix = "aeries-emulator-"

    def __init__(
        self,
        *,
        data_dir: str | os.PathLike[str] | None = None,
        generate: int | None = None,
        seed: int = 0,
        certs: list[dict[str, Any]] | None = None,
        faults: str | Mapping[str, Any] | None = None,
        fault_seed: int = 0,
        port: int = 0,
        base_path: str = "/aeries",
        host: str = "127.0.0.1",
        startup_timeout: float = 180.0,
        log_path: str | os.PathLike[str] | None = None,
        access_log: bool = True,
        unpaged_routes: str | list[str] | None = None,
        max_rows_per_request: int | None = None,
    ) -> None:
        if (data_dir is None) == (generate is None):
            raise ValueError("give exactly one of data_dir= and generate=")
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.generate = generate
        self.seed = seed
        self.certs = list(certs or [])
        self.base_path = base_path
        if unpaged_routes is not None and not isinstance(unpaged_routes, str):
            unpaged_routes = ",".join(unpaged_routes) or "none"
        self.unpaged_routes = unpaged_routes
        self.max_rows_per_request = max_rows_per_request
        super().__init__(faults=faults, fault_seed=fault_seed, port=port, host=host, startup_timeout=startup_timeout,
                         log_path=log_path, access_log=access_log)

    def secrets_document(self) -> Any:
        return {"certificates": self.certs}

    def base_url(self, host: str, port: int) -> str:
        base = "/" + self.base_path.strip("/") if self.base_path.strip("/") else ""
        return f"http://{host}:{port}{base}"

    def command(self) -> list[str]:
        cmd = super().command() + ["--base-path", self.base_path or "/"]
        if self.unpaged_routes is not None:
            cmd += ["--unpaged-routes", self.unpaged_routes]
        if self.max_rows_per_request is not None:
            cmd += ["--max-rows-per-request", str(self.max_rows_per_request)]
        if self.data_dir is not None:
            return cmd + ["--data", str(self.data_dir)]
        return cmd + ["--generate", str(self.generate), "--seed", str(self.seed)]

    def stats(self) -> dict[str, Any]:
        """``{"requests", "by_status", "faults", "faults_injected", "by_route", "seconds", "fault_config"}``."""
        return self._control("GET", "stats")

    def reset_stats(self) -> dict[str, Any]:
        return self._control("DELETE", "stats")

    def set_paging(self, unpaged_routes: list[str] | None = None,
                   max_rows_per_request: int | None = None) -> dict[str, Any]:
        """Change how the emulator pages (``PUT __emulator__/paging``); None keeps the routes that ignore paging."""
        body: dict[str, Any] = {"max_rows_per_request": max_rows_per_request}
        if unpaged_routes is not None:
            body["unpaged_routes"] = list(unpaged_routes)
        return self._control("PUT", "paging", body)

    def writes(self) -> list[dict[str, Any]]:
        """Every write request so far: ``[{"seq", "time", "method", "path", "route", "cert", "body", "status",
        "fault"}]`` (see README.md, "Writes")."""
        return self._control("GET", "writes")

    def clear_writes(self) -> int:
        return self._control("DELETE", "writes")["cleared"]

    def set_schedule(self, school_code: int, student_id: int, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Replace a student's class schedule (SEC rows) at a school; logged as a ``class`` change."""
        return self._control("PUT", f"classes/{int(school_code)}/{int(student_id)}", rows)

    def update_staff(self, staff_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Change fields of a staff record; logged as a ``staff`` change."""
        return self._control("PUT", f"staff/{int(staff_id)}", dict(fields))
