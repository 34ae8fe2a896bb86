"""Run the emulator as a subprocess (``python -m aeries_sandbox.emulator``) for tests and the demo.

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

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import weakref
from pathlib import Path
from typing import Any, Mapping

from aeries_sandbox.emulator.faults import parse_fault_spec

__all__ = ["EmulatorProcess", "EmulatorError"]

_REPO_ROOT = Path(__file__).resolve().parents[2]
#: Talks to the emulator on localhost directly, whatever http_proxy says.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class EmulatorError(RuntimeError):
    """The emulator subprocess did not start or a control request failed; says where the log is."""


def _fault_spec_text(faults: str | Mapping[str, Any]) -> str:
    rates = parse_fault_spec(faults)  # validates before the subprocess is started
    return ",".join(f"{kind}={value:g}" for kind, value in rates.items())


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class EmulatorProcess:
    """An Aeries emulator in a subprocess; a context manager.

    :param data_dir: serve this district data dir, or
    :param generate: generate a district of this many students (with ``seed``) in the subprocess.
    :param certs: certificate entries ``{"name", "certificate", "areas"}`` (the certs file's list).
    :param faults: fault spec active from the start (``"429=0.1,latency=0.01"`` or a dict), seeded by
        ``fault_seed``; change it later with :meth:`set_faults`.
    :param port: 0 picks a free port. ``base_path``: the Aeries base path (``/aeries``).
    :param log_path: where the subprocess's output goes (default: ``emulator.log`` in a temp dir).
    :param access_log: log one line per request.
    """

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
    ) -> None:
        if (data_dir is None) == (generate is None):
            raise ValueError("give exactly one of data_dir= and generate=")
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.generate = generate
        self.seed = seed
        self.certs = list(certs or [])
        self.faults = _fault_spec_text(faults) if faults else None
        self.fault_seed = fault_seed
        self.requested_port = port
        self.base_path = base_path
        self.host = host
        self.startup_timeout = startup_timeout
        self.access_log = access_log
        self.workdir = Path(tempfile.mkdtemp(prefix="aeries-emulator-"))
        self.log_path = Path(log_path) if log_path is not None else self.workdir / "emulator.log"
        self.port: int | None = None
        self.url: str = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize | None = None
        self._certs_path = self.workdir / "certs.json"
        self._port_file = self.workdir / "port"

    # -- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "aeries_sandbox.emulator", "--host", self.host, "--port", str(self.requested_port),
               "--base-path", self.base_path or "/", "--certs", str(self._certs_path), "--port-file", str(self._port_file)]
        if self.data_dir is not None:
            cmd += ["--data", str(self.data_dir)]
        else:
            cmd += ["--generate", str(self.generate), "--seed", str(self.seed)]
        if self.faults:
            cmd += ["--faults", self.faults, "--fault-seed", str(self.fault_seed)]
        if not self.access_log:
            cmd.append("--quiet")
        return cmd

    def start(self) -> EmulatorProcess:
        if self.running:
            return self
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o700)
        fd = os.open(self._certs_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"certificates": self.certs}, handle)
        self._port_file.unlink(missing_ok=True)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_REPO_ROOT), env.get("PYTHONPATH", "")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, env=env, cwd=str(_REPO_ROOT))
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
                raise EmulatorError(f"the Aeries emulator exited with code {code} while starting; "
                                    f"end of {self.log_path}:\n{self.read_log(tail=30)}")
            if self._port_file.exists():
                text = self._port_file.read_text().strip()
                if text.isdigit():
                    self.port = int(text)
                    host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
                    base = "/" + self.base_path.strip("/") if self.base_path.strip("/") else ""
                    self.url = f"http://{host}:{self.port}{base}"
                    try:
                        with _OPENER.open(f"{self.url}/api/v5/systeminfo", timeout=5) as response:
                            if response.status == 200:
                                return
                    except (urllib.error.URLError, ConnectionError, TimeoutError):
                        pass
            time.sleep(0.05)
        raise EmulatorError(f"the Aeries emulator did not answer within {self.startup_timeout:g} s; "
                            f"end of {self.log_path}:\n{self.read_log(tail=30)}")

    def stop(self) -> None:
        """Stop the subprocess and delete the certificates file (the log stays at :attr:`log_path`)."""
        if self._process is not None:
            _kill(self._process)
            if self._finalizer is not None:
                self._finalizer.detach()
            self._process = None
        self._certs_path.unlink(missing_ok=True)
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
    def _control(self, method: str, name: str, body: Any = None) -> dict[str, Any]:
        if not self.running:
            raise EmulatorError("the Aeries emulator is not running: call start() first")
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = urllib.request.Request(f"{self.url}/__emulator__/{name}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with _OPENER.open(request, timeout=10) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            raise EmulatorError(f"{method} __emulator__/{name} failed: HTTP {exc.code} {detail}") from None

    def set_faults(self, spec: str | Mapping[str, Any], seed: int = 0, max_faults: int | None = None,
                   path_pattern: str | None = None) -> dict[str, Any]:
        """Replace the fault configuration; returns it (with ``injected`` and ``remaining`` counts)."""
        rates = parse_fault_spec(spec)
        return self._control("PUT", "faults", {"rates": rates, "seed": seed, "max_faults": max_faults,
                                               "path_pattern": path_pattern})

    def clear_faults(self) -> dict[str, Any]:
        return self._control("DELETE", "faults")

    def stats(self) -> dict[str, Any]:
        """``{"requests", "by_status", "faults", "faults_injected", "by_route", "seconds", "fault_config"}``."""
        return self._control("GET", "stats")

    def reset_stats(self) -> dict[str, Any]:
        return self._control("DELETE", "stats")

    def __repr__(self) -> str:
        state = f"running at {self.url}" if self.running else "stopped"
        return f"<EmulatorProcess {state}, log {self.log_path}>"
