"""System tests: Airflow's real components as processes, on PostgreSQL (and Redis for Celery).

The rest of the suite runs DAGs in-process (``dag.test()``) on SQLite. These tests start what a deployment
runs: ``airflow scheduler``, ``airflow dag-processor`` and ``airflow api-server`` (and ``airflow celery
worker``) as subprocesses, against a PostgreSQL database created for the session, and look at the results
only through the REST API (v2) and the files that landed on the sandbox SFTP server.

Every subprocess gets its own environment (a copy of this process's, with every ``AIRFLOW*`` variable
replaced), so the in-process SQLite setup of tests/conftest.py is neither used nor disturbed. Each one
starts in a session of its own, and teardown ends every process of that session (the task processes
Airflow puts in process groups of their own included): nothing outlives the test.

Fixtures:

* ``postgres_database`` (session): a fresh ``aeries_hub_sched_<random>`` database, dropped at the end;
  skips the tests when PostgreSQL is not reachable on 127.0.0.1:5432 as user postgres.
* ``redis_broker`` (session): ``redis://127.0.0.1:6379/<n>`` with a database number no one else uses,
  flushed at the end; skips when Redis is not reachable.
* ``airflow_system`` (session): an AIRFLOW_HOME in a temporary folder and ``airflow db migrate`` on the
  database.
* ``launch`` (function): starts a sandbox stack (emulator, sshd, vendor API), a copy of include/ with the
  Destiny schedule the test asks for, and the Airflow components; waits until the API answers and the
  Destiny DAG is parsed and unpaused. On a failure the components' logs and the task logs are printed.
* ``launch_for_module`` (module): the same, for the tests of one module that share one deployment.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone

import pytest

from tests.system.deployment import (
    AERIES_POOL,
    DAG_ID,
    PG,
    REDIS_HOST,
    REDIS_PORT,
    REPO,
    STUDENTS,
    AirflowSystem,
    Deployment,
    set_destiny_schedule,
    tail,
)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixture teardown knows whether the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


# --------------------------------------------------------------------------------------------------------
# Services of the machine: PostgreSQL and Redis


def unavailable(reason: str) -> None:
    """Skip, except on CI (CI=true), where .ci/run starts the services and the system tests must run."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason}; CI is set, and there the system tests must run (.ci/run starts the service)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_database() -> str:
    psycopg2 = pytest.importorskip("psycopg2")
    try:
        admin = psycopg2.connect(dbname="postgres", connect_timeout=5, **PG)
    except psycopg2.OperationalError as exc:
        unavailable(f"PostgreSQL is not reachable at {PG['host']}:{PG['port']} as user {PG['user']}: {exc}".strip())
    admin.autocommit = True
    name = f"aeries_hub_sched_{secrets.token_hex(4)}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    try:
        yield name
    finally:
        admin = psycopg2.connect(dbname="postgres", connect_timeout=5, **PG)
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


@pytest.fixture(scope="session")
def redis_broker() -> str:
    """A Redis database number that holds no key (claimed with a key of ours), as a Celery broker URL."""
    redis = pytest.importorskip("redis")
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=5, socket_timeout=10)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable(f"Redis is not reachable at {REDIS_HOST}:{REDIS_PORT}: {exc}")
    try:
        databases = int(client.config_get("databases").get("databases", 16))
    except redis.RedisError:  # CONFIG can be disabled
        databases = 16
    used = {int(name[2:]) for name in client.info("keyspace")}
    client.close()
    claim = "aeries-hub-system-test"
    candidates = [n for n in range(1, databases) if n not in used]
    secrets.SystemRandom().shuffle(candidates)
    for number in candidates:
        db = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=number, socket_timeout=10)
        if db.set(claim, str(os.getpid()), nx=True, ex=3600) and db.dbsize() == 1:
            break
        db.close()
    else:
        pytest.fail(f"Every Redis database at {REDIS_HOST}:{REDIS_PORT} holds keys: no free one for the broker")
    try:
        yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{number}"
    finally:
        db.flushdb()
        db.close()


# --------------------------------------------------------------------------------------------------------
# Airflow


@pytest.fixture(scope="session")
def airflow_system(tmp_path_factory, postgres_database) -> AirflowSystem:
    if importlib.util.find_spec("asyncpg") is None:
        pytest.fail("Airflow 3.3 on PostgreSQL needs asyncpg too (its async engine, used by the api-server's "
                    "execution API, is postgresql+asyncpg): install requirements.txt")
    system = AirflowSystem(tmp_path_factory.mktemp("airflow-system"), postgres_database)
    log_path = system.home / "airflow-db-migrate.log"
    started = time.monotonic()
    with log_path.open("wb") as log:
        try:
            done = subprocess.run(
                [sys.executable, "-m", "airflow", "db", "migrate"],
                env=system.env(), cwd=system.home, stdout=log, stderr=subprocess.STDOUT, timeout=300,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"`airflow db migrate` took more than 300 s; end of its log:\n{tail(log_path)}")
    if done.returncode:
        pytest.fail(f"`airflow db migrate` failed (exit {done.returncode}); end of its log:\n{tail(log_path)}")
    system.migrate_seconds = time.monotonic() - started
    return system


@pytest.fixture
def launch(request, airflow_system, tmp_path_factory):
    """Start a sandbox stack and Airflow components; ``launch(name, schedule=..., env=..., workers=...)``.

    The scheduler, dag-processor and api-server always run; ``workers`` adds components
    (``{name: (args, extra_env)}``, e.g. a Celery worker). ``users`` (``{username: role}``, the first one an
    admin, the REST API client) gives the simple auth manager users with passwords instead of making every
    request an admin's. Returns the ready :class:`Deployment`, with ``.stack`` (the sandbox), ``.users``
    (``{username: password}``) and ``.timings``. Everything stops when the test ends.
    """
    def failed() -> bool:
        outcome = getattr(request.node, "rep_call", None)
        return outcome is None or outcome.failed

    with deployments(airflow_system, tmp_path_factory, failed) as launcher:
        yield launcher


@pytest.fixture(scope="module")
def launch_for_module(request, airflow_system, tmp_path_factory):
    """``launch`` for the tests of one module, which share what it starts: it stops after the module's last test."""
    failed_before = request.session.testsfailed
    with deployments(airflow_system, tmp_path_factory, lambda: request.session.testsfailed > failed_before) as launcher:
        yield launcher


@contextmanager
def deployments(airflow_system: AirflowSystem, tmp_path_factory, failed: Callable[[], bool]) -> Iterator[Callable]:
    """The ``launch`` function; on leaving, every deployment it started stops (its logs printed when ``failed()``)."""
    from aeries_sandbox.stack import sandbox_stack

    exits = ExitStack()
    started_here: list[Deployment] = []

    def _launch(name: str, *, schedule: dict | None, env: dict[str, str] | None = None,
                workers: dict[str, tuple[list[str], dict[str, str]]] | None = None,
                users: dict[str, str] | None = None) -> Deployment:
        started = time.monotonic()
        workdir = tmp_path_factory.mktemp(f"system-{name}")
        stack = exits.enter_context(sandbox_stack(workdir / "sandbox", students=STUDENTS))
        include_dir = workdir / "include"
        shutil.copytree(REPO / "include", include_dir)
        set_destiny_schedule(include_dir, schedule)
        passwords = {name: secrets.token_urlsafe(12) for name in users or {}}
        if users:
            (workdir / "passwords.json").write_text(json.dumps(passwords), encoding="utf-8")
            env = {"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
                   "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{n}:{r}" for n, r in users.items()),
                   "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(workdir / "passwords.json"),
                   **(env or {})}
        deployment_env = airflow_system.env(
            AERIES_HUB_INCLUDE_DIR=str(include_dir),
            # Each test stages into its own folder: its first run is the first delivery of its SFTP server.
            AIRFLOW__AERIES_HUB__STAGING_URL=f"file://{workdir}/staging",
            **stack.connection_env(),
            **(env or {}),
        )
        deployment = Deployment(name, airflow_system, workdir, deployment_env)
        deployment.stack = stack
        deployment.users = passwords
        started_here.append(deployment)
        deployment.timings["sandbox"] = time.monotonic() - started
        deployment.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(deployment.port))
        deployment.start("dag-processor", "dag-processor")
        deployment.start("scheduler", "scheduler")
        for worker, (args, extra_env) in (workers or {}).items():
            deployment.start(worker, *args, env=extra_env)
        deployment.login()
        deployment.timings["api_up"] = time.monotonic() - started
        # README (Operating): every extract task takes a slot of the pool named after its Aeries connection;
        # without the pool the scheduler never queues them.
        deployment.api("POST", "pools", expect=(201, 409), json={
            "name": AERIES_POOL, "slots": 4, "description": "Extract tasks at once against the Aeries emulator",
        })
        launched_at = datetime.fromtimestamp(deployment.started_at, timezone.utc)

        def parsed_now():  # by this deployment's dag-processor (the database may hold an earlier test's DAG)
            dag = deployment.api("GET", f"dags/{DAG_ID}", expect=(200, 404))
            parsed = dag.get("last_parsed_time")
            return parsed and datetime.fromisoformat(parsed.replace("Z", "+00:00")) >= launched_at

        deployment.wait_for(f"the dag-processor to parse {DAG_ID}", parsed_now, timeout=180)
        deployment.timings["dag_parsed"] = time.monotonic() - started
        import_errors = deployment.api("GET", "importErrors")["import_errors"]
        assert import_errors == [], f"the dag-processor reports import errors: {import_errors}"
        dag = deployment.api("PATCH", f"dags/{DAG_ID}", json={"is_paused": False})
        assert dag["is_paused"] is False, dag
        return deployment

    try:
        yield _launch
    finally:
        with exits:  # the sandbox servers stop last, whatever happens while stopping Airflow
            for deployment in started_here:
                try:
                    if failed():
                        print(deployment.diagnostics(), file=sys.stderr)
                finally:
                    deployment.stop()
