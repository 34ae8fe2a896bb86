"""Airflow components as processes, and a client of their REST API, for the system tests (see conftest.py)."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
DAG_ID = "aeries_to_destiny"
#: Every task of the Destiny DAG.
DESTINY_TASKS = frozenset({
    "extract_schools", "extract_students", "extract_staff", "extract_teachers", "validate_sources",
    "build_patrons", "track_changes", "approve_changes", "deliver", "report",
})
STUDENTS = 300
#: The pool of the extract tasks: the Destiny mapping's Aeries connection (aeries.conn_id).
AERIES_POOL = "aeries_default"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(text.splitlines()[-lines:])


class ApiError(AssertionError):
    """The api-server answered with an unexpected status (or not at all)."""


# --------------------------------------------------------------------------------------------------------
# Airflow: a home and a metadata database, components as processes, the REST API


class AirflowSystem:
    """AIRFLOW_HOME and the PostgreSQL metadata database shared by the tests of the session."""

    def __init__(self, home: Path, database: str):
        from cryptography.fernet import Fernet

        self.home = home
        self.database = database
        self.sql_alchemy_conn = f"postgresql+psycopg2://{PG['user']}@{PG['host']}:{PG['port']}/{database}"
        self.secrets = {
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        }
        self.migrate_seconds = 0.0

    def env(self, **overrides: str) -> dict[str, str]:
        """This process's environment without any AIRFLOW* variable, plus the system's Airflow settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        no_proxy = ",".join(filter(None, [env.get("NO_PROXY") or env.get("no_proxy"), "127.0.0.1,localhost"]))
        env.update(
            {
                "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
                "NO_PROXY": no_proxy,
                "no_proxy": no_proxy,
                "GX_ANALYTICS_ENABLED": "False",
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.sql_alchemy_conn,
                "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
                # Every DAG starts paused; the tests unpause only Destiny through the API, so the other
                # vendors' schedules start no run.
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__CORE__PARALLELISM": "4",
                # Short loops: a test waits for the scheduler, not for the defaults of a production deployment.
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
                "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "60",
                "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "2",
                "AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL": "600",
                "AIRFLOW__API__WORKERS": "1",
                # Each test's first run is a first delivery (tests/system/conftest.py): it goes without asking, as
                # in the rest of the suite (tests/conftest.py).
                "AIRFLOW__AERIES_HUB__APPROVE_FIRST_DELIVERY": "False",
                **self.secrets,
            }
        )
        env.update(overrides)
        return env


def _session_members(session: int) -> list[int]:
    """The live (not zombie) processes of a process session: a component and everything it started."""
    import psutil

    members = []
    for pid in psutil.pids():
        try:
            if os.getsid(pid) == session and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                members.append(pid)
        except (ProcessLookupError, PermissionError, psutil.Error):
            pass
    return members


class Component:
    """One ``airflow ...`` command in a process session of its own, its output in ``log_path``."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_path: Path, cwd: Path):
        self.name = name
        self.args = args
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "airflow", *args],
            env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.session = self.popen.pid

    def exited(self) -> int | None:
        return self.popen.poll()

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM every process of the session, SIGKILL what is left after ``grace`` seconds."""
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            for pid in _session_members(self.session):
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                self.popen.poll()  # reap the leader once it exits
                if not _session_members(self.session):
                    break
                time.sleep(0.3)
            else:
                continue
            break
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self._log.close()


class Deployment:
    """Airflow components sharing one environment, and a client of their api-server's REST API (v2)."""

    def __init__(self, name: str, system: AirflowSystem, workdir: Path, env: dict[str, str]):
        import requests

        self.name = name
        self.system = system
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.env.update(
            {
                "AIRFLOW__API__BASE_URL": self.url,
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            }
        )
        self.components: dict[str, Component] = {}
        self.http = requests.Session()
        self.http.trust_env = False  # never through a proxy: everything is on 127.0.0.1
        self.started_at = time.time()
        self.timings: dict[str, float] = {}
        self.stack = None  # the sandbox stack (aeries_sandbox.stack.Stack) the connections point at
        #: {username: password} of the simple auth manager's users when the launch named some (the first one is
        #: the REST API client's); empty when every request is an admin's (SIMPLE_AUTH_MANAGER_ALL_ADMINS).
        self.users: dict[str, str] = {}

    # -- processes

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> Component:
        component = Component(name, list(args), {**self.env, **(env or {})}, self.workdir / f"{name}.log",
                              self.system.home)
        self.components[name] = component
        return component

    def check_alive(self) -> None:
        for component in self.components.values():
            code = component.exited()
            if code is not None:
                raise AssertionError(
                    f"`airflow {' '.join(component.args)}` exited with {code}; end of {component.log_path}:\n"
                    f"{tail(component.log_path)}"
                )

    def stop(self) -> None:
        # The scheduler and workers first (they hold task processes), the api-server last.
        for component in reversed(list(self.components.values())):
            component.stop()
        self.http.close()

    # -- REST API

    def api(self, method: str, path: str, *, expect: tuple[int, ...] = (200,), **kwargs) -> Any:
        response = self.http.request(method, f"{self.url}/api/v2/{path.lstrip('/')}", timeout=30, **kwargs)
        if response.status_code not in expect:
            raise ApiError(f"{method} /api/v2/{path} answered {response.status_code}: {response.text[:2000]}")
        return response.json() if response.content else None

    def wait_for(self, what: str, probe: Callable[[], Any], *, timeout: float, interval: float = 2.0) -> Any:
        """Call ``probe`` until it returns something truthy; fail naming ``what`` (and the last value seen).

        An api-server that does not answer yet, or answers an error, is tried again until the deadline; an
        assertion of the probe itself (a run that failed) fails at once.
        """
        import requests

        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            self.check_alive()
            try:
                last = probe()
            except (requests.RequestException, ApiError) as exc:
                last = exc
            else:
                if last:
                    return last
            if time.monotonic() > deadline:
                raise AssertionError(f"Timed out after {timeout:.0f} s waiting for {what}; last seen: {last!r}")
            time.sleep(interval)

    def login(self, timeout: float = 150) -> None:
        """Wait for the api-server, then take a token (simple auth manager): the first user's, with its password, or
        when there are no users (every user an admin) one for nobody in particular."""
        def healthy():
            return self.http.get(f"{self.url}/api/v2/monitor/health", timeout=5).ok

        self.wait_for("the api-server to answer /api/v2/monitor/health", healthy, timeout=timeout, interval=1)
        if self.users:
            username, password = next(iter(self.users.items()))
            response = self.http.post(f"{self.url}/auth/token", json={"username": username, "password": password},
                                      timeout=30)
        else:
            response = self.http.get(f"{self.url}/auth/token", timeout=30)
        if response.status_code not in (200, 201):
            raise AssertionError(f"GET /auth/token answered {response.status_code}: {response.text[:500]}")
        self.http.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def dag_runs(self, dag_id: str = DAG_ID) -> list[dict]:
        return self.api("GET", f"dags/{dag_id}/dagRuns", params={"limit": 100, "order_by": "run_after"})["dag_runs"]

    def dag_run(self, run_id: str, dag_id: str = DAG_ID) -> dict:
        return self.api("GET", f"dags/{dag_id}/dagRuns/{run_id}")

    def task_instances(self, run_id: str, dag_id: str = DAG_ID) -> list[dict]:
        return self.api("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100})["task_instances"]

    def xcom(self, run_id: str, task_id: str, key: str = "return_value", dag_id: str = DAG_ID) -> Any:
        value = self.api("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}")["value"]
        return json.loads(value) if isinstance(value, str) else value

    def trigger(self, dag_id: str = DAG_ID, **body) -> dict:
        return self.api("POST", f"dags/{dag_id}/dagRuns", json={"logical_date": None, **body})

    def wait_for_run(self, run_id: str, *, timeout: float, dag_id: str = DAG_ID) -> dict:
        def finished():
            run = self.dag_run(run_id, dag_id)
            return run if run["state"] in ("success", "failed") else None

        return self.wait_for(f"run {run_id} to finish", finished, timeout=timeout)

    # -- what to look at when something went wrong

    def diagnostics(self) -> str:
        parts = [f"===== Airflow deployment {self.name!r} ({self.url}, AIRFLOW_HOME {self.system.home}) ====="]
        for component in self.components.values():
            parts.append(f"----- end of {component.log_path} (exit {component.exited()}) -----")
            parts.append(tail(component.log_path, 80))
        try:
            errors = self.api("GET", "importErrors")["import_errors"]
            parts.append(f"----- import errors: {json.dumps(errors, indent=1)[:4000]}")
            for run in self.dag_runs():
                parts.append(f"----- run {run['dag_run_id']} ({run['run_type']}): {run['state']}")
                for ti in self.task_instances(run["dag_run_id"]):
                    parts.append(f"      {ti['task_id']:<18} {ti['state']} try {ti['try_number']} on {ti['hostname']}")
        except Exception as exc:  # noqa: BLE001 - the API may be the thing that is broken
            parts.append(f"----- (the API did not answer: {exc})")
        logs = [p for p in (self.system.home / "logs").glob(f"dag_id={DAG_ID}/**/*.log")
                if p.stat().st_mtime >= self.started_at]
        logs.sort(key=lambda p: p.stat().st_mtime)
        for path in logs[-25:]:
            parts.append(f"----- task log {path.relative_to(self.system.home)} -----")
            parts.append(tail(path, 25))
        return "\n".join(parts)


def set_destiny_schedule(include_dir: Path, schedule: dict | None) -> None:
    """Replace the ``schedule:`` block of the Destiny mapping in a copy of include/ (None: only when triggered)."""
    path = include_dir / "mappings" / "destiny.yml"
    block = "schedule: null\n" if schedule is None else (
        f"schedule:\n  cron: {json.dumps(schedule['cron'])}\n  timezone: {schedule['timezone']}\n"
    )
    text, count = re.subn(r"^schedule:.*\n(?:[ \t]+.*\n)*", block, path.read_text(encoding="utf-8"), flags=re.M)
    assert count == 1, f"no top-level schedule block in {path}"
    path.write_text(text, encoding="utf-8")


