"""The docker compose stack: docker-compose.yml, Dockerfile, .dockerignore, config/ and docker/.

No Docker engine is needed: the compose file is checked against the Compose Specification (check-jsonschema's
bundled copy, offline) and its contents against what the project needs; the demo profile's generated
connections are checked against every connection the vendor mappings name.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from aeries_hub.mapping.loader import load_mapping

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
MAPPINGS = sorted((REPO / "include" / "mappings").glob("*.yml"))

AIRFLOW_SERVICES = {
    # service: its command (the official file's)
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-worker": "celery worker",
    "airflow-triggerer": "triggerer",
}
DEFAULT_SERVICES = {"postgres", "redis", "airflow-init", *AIRFLOW_SERVICES}
DEMO_SERVICES = {"demo-init", "aeries-emulator", "sftp", "vendor-api", "demo-setup"}
AIRFLOW_MOUNTS = {
    "/opt/airflow/dags": "./dags",
    "/opt/airflow/plugins": "./plugins",
    "/opt/airflow/include": "./include",
    "/opt/airflow/config": "./config",
    "/opt/airflow/logs": "./logs",
    "/opt/airflow/staging": "aeries-staging",
}
DEMO_SECRETS = "/opt/airflow/demo-secrets"


_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def interpolate(value, env: dict[str, str], missing: list[tuple[str, str]] | None = None):
    """``value`` as compose interpolates it with the variables ``env``: ``${VAR}``, ``${VAR:-default}``,
    ``${VAR-default}``, ``$$`` -> ``$``; a ``${VAR:?error}`` without a value goes into ``missing`` (compose stops)."""
    if isinstance(value, str):
        def one(match: re.Match) -> str:
            if match.group(0) == "$$":
                return "$"
            name, operator, argument = match.group(1) or match.group(4), match.group(2), match.group(3)
            current = env.get(name)
            absent = current is None or (current == "" and (operator or "").startswith(":"))
            if operator and absent and operator.endswith("-"):
                return argument
            if operator and absent and operator.endswith("?"):
                (missing if missing is not None else []).append((name, argument))
            return current or ""
        return _VARIABLE.sub(one, value)
    if isinstance(value, list):
        return [interpolate(v, env, missing) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, env, missing) for k, v in value.items()}
    return value


def docker_script(name: str):
    """A script of docker/, imported from its path (the services run it as a script)."""
    spec = importlib.util.spec_from_file_location(f"compose_{name}", REPO / "docker" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def compose_secrets():
    """docker/compose_secrets.py (``make compose-env`` and airflow-init run it)."""
    return docker_script("compose_secrets")


@pytest.fixture(scope="module")
def env(compose_secrets) -> dict[str, str]:
    """What ``make compose-env`` writes: the variables the stack runs with."""
    return {"AIRFLOW_UID": "50000", **compose_secrets.new_secrets()}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose, env) -> dict:
    missing: list = []
    interpolated = interpolate(compose["services"], env, missing)
    assert missing == []
    return interpolated


@pytest.fixture(scope="module")
def demo_init():
    """docker/demo_init.py (the demo-init service runs it)."""
    return docker_script("demo_init")


def mapping_documents() -> list[dict]:
    return [yaml.safe_load(path.read_text()) for path in MAPPINGS]


def mapping_conn_ids() -> set[str]:
    """Every connection a vendor mapping names: aeries.conn_id, delivery.sftp.conn_id, delivery.http.targets."""
    ids = set()
    for path in sorted((REPO / "include" / "writebacks").glob("*.yml")):
        doc = yaml.safe_load(path.read_text())
        ids |= {doc["aeries"]["conn_id"], doc["source"]["sftp"]["conn_id"]}
    for doc in mapping_documents():
        ids.add(doc["aeries"]["conn_id"])
        delivery = doc["delivery"]
        if "sftp" in delivery:
            ids.add(delivery["sftp"]["conn_id"])
        for target in delivery.get("http", {}).get("targets", {}).values():
            ids.add(target["conn_id"])
    return ids


def command_list(service: dict) -> list[str]:
    command = service.get("command")
    return shlex.split(command) if isinstance(command, str) else list(command or [])


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def mounts(service: dict) -> dict[str, str]:
    """target -> source of a service's short-syntax volumes."""
    result = {}
    for volume in service.get("volumes", []):
        source, target, *_ = volume.split(":")
        result[target] = source
    return result


# -- the Compose Specification --------------------------------------------------------------------------
def check_compose_schema(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True, text=True, timeout=120, check=False,
    )


def test_compose_file_follows_the_compose_specification():
    done = check_compose_schema(COMPOSE)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok -- validation done" in done.stdout


def test_the_schema_check_rejects_a_wrong_compose_file(tmp_path):
    # The same file with a misspelt key in the shared Airflow settings: every Airflow service inherits it.
    text = COMPOSE.read_text().replace("  user: \"${AIRFLOW_UID:-50000}:0\"\n  depends_on:",
                                       "  usr: \"${AIRFLOW_UID:-50000}:0\"\n  depends_on:", 1)
    assert "usr:" in text
    bad = tmp_path / "docker-compose.yml"
    bad.write_text(text)
    done = check_compose_schema(bad)
    assert done.returncode == 1
    assert "$.services['airflow-scheduler']: Unevaluated properties are not allowed ('usr' was unexpected)" in done.stdout


# -- services, profiles, commands ------------------------------------------------------------------------
def test_services_by_profile(services):
    by_profile: dict[str, set[str]] = {}
    for name, service in services.items():
        for profile in service.get("profiles", ["(default)"]):
            by_profile.setdefault(profile, set()).add(name)
    assert by_profile == {
        "(default)": DEFAULT_SERVICES,
        "flower": {"flower"},
        "debug": {"airflow-cli"},
        "demo": DEMO_SERVICES,
    }


def test_airflow_services_run_their_component(services):
    for name, command in AIRFLOW_SERVICES.items():
        assert services[name]["command"] == command, name
    assert services["flower"]["command"] == "celery flower"
    assert services["airflow-apiserver"]["ports"] == ["127.0.0.1:8080:8080"]
    assert services["flower"]["ports"] == ["127.0.0.1:5555:5555"]
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7.2-bookworm"


def test_every_long_running_service_has_a_healthcheck(services):
    one_shot = {"airflow-init", "airflow-cli", "demo-init", "demo-setup"}
    for name, service in services.items():
        if name not in one_shot:
            assert service["healthcheck"]["test"], name
            assert service["restart"] == "always", name
    assert services["airflow-apiserver"]["healthcheck"]["test"] == [
        "CMD", "curl", "--fail", "http://localhost:8080/api/v2/monitor/health"]
    assert services["airflow-scheduler"]["healthcheck"]["test"] == ["CMD", "curl", "--fail", "http://localhost:8974/health"]


def test_airflow_services_wait_for_the_database_broker_and_init(services):
    for name in [*AIRFLOW_SERVICES, "flower", "demo-setup"]:
        depends = services[name]["depends_on"]
        assert depends["postgres"] == {"condition": "service_healthy"}, name
        assert depends["redis"] == {"condition": "service_healthy"}, name
        assert depends["airflow-init"] == {"condition": "service_completed_successfully"}, name


def test_workers_can_be_scaled(services):
    worker = services["airflow-worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert worker["environment"]["DUMB_INIT_SETSID"] == "0"


def test_airflow_services_share_the_project_image_and_only_the_demo_runs_the_sandbox(compose, services):
    for name in [*AIRFLOW_SERVICES, "airflow-init", "airflow-cli", "flower"]:
        assert services[name]["image"] == "aeries-integration-hub:latest", name
        assert services[name]["build"] == {"context": ".", "dockerfile": "Dockerfile", "target": "production"}, name
    # The demo services run the sandbox (demo-setup reads aeries_sandbox.demo.DEMO_RUNS): the demo stage's image.
    for name in ("demo-init", "aeries-emulator", "vendor-api", "demo-setup"):
        assert services[name]["image"] == "aeries-integration-hub-demo:latest", name
        assert services[name]["build"] == {"context": ".", "dockerfile": "Dockerfile", "target": "demo"}, name
    assert services["sftp"]["image"] == "atmoz/sftp:debian"
    assert services["demo-setup"]["command"] == ["bash", "/opt/aeries-docker/demo_setup.sh"]  # not the image's


# -- secrets and exposure ----------------------------------------------------------------------------------
REQUIRED_MESSAGE = "run make compose-env first (see docs/deployment.md)"
#: What the stack ran with before `make compose-env` existed (each a way in): never accepted again.
PUBLISHED_DEFAULTS = {
    "AIRFLOW__API_AUTH__JWT_SECRET": "not-a-secret-local-compose-placeholder-set-AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY": "",
    "AIRFLOW__CORE__FERNET_KEY": "",
    "_AIRFLOW_WWW_USER_PASSWORD": "airflow",
    "POSTGRES_PASSWORD": "airflow",
    "AIRFLOW__CELERY__FLOWER_BASIC_AUTH": "",
}


def test_compose_up_without_an_env_file_stops_naming_every_secret(compose, compose_secrets):
    missing: list = []
    interpolate(compose["services"], {}, missing)
    assert {name for name, _ in missing} == set(compose_secrets.SECRETS) == set(PUBLISHED_DEFAULTS)
    assert {message for _, message in missing} == {REQUIRED_MESSAGE}
    text = COMPOSE.read_text()
    for name in compose_secrets.SECRETS:  # no default anywhere: every use is ${NAME:?...}
        uses = re.findall(r"(?<!\$)\$\{" + name + r"(\W{0,2})", text)  # $${...}: the container's shell
        assert uses and set(uses) == {":?"}, (name, uses)
    assert PUBLISHED_DEFAULTS["AIRFLOW__API_AUTH__JWT_SECRET"] not in text
    assert "airflow:airflow@" not in text and "POSTGRES_PASSWORD: airflow" not in text


def test_every_published_port_listens_on_localhost_unless_told_otherwise(compose, env):
    published = {name: service["ports"] for name, service in interpolate(compose["services"], env).items()
                 if "ports" in service}
    assert published == {"airflow-apiserver": ["127.0.0.1:8080:8080"], "flower": ["127.0.0.1:5555:5555"],
                         "vendor-api": ["127.0.0.1:8082:8082"]}
    opened = interpolate(compose["services"], {**env, "AERIES_HUB_BIND_ADDRESS": "0.0.0.0"})
    assert [port for service in opened.values() for port in service.get("ports", [])] == [
        "0.0.0.0:8080:8080", "0.0.0.0:5555:5555", "0.0.0.0:8082:8082"]
    assert "expose" in compose["services"]["redis"] and "ports" not in compose["services"]["postgres"]


def test_flower_asks_for_basic_auth(services, env):
    flower = services["flower"]
    assert flower["environment"]["AIRFLOW__CELERY__FLOWER_BASIC_AUTH"] == env["AIRFLOW__CELERY__FLOWER_BASIC_AUTH"]
    assert flower["healthcheck"]["test"] == ["CMD-SHELL", 'curl --fail --silent --output /dev/null --user '
                                             '"${AIRFLOW__CELERY__FLOWER_BASIC_AUTH}" http://localhost:5555/']


def test_the_secrets_reach_airflow_and_the_ui_password_file_is_private(services, env):
    for name in [*AIRFLOW_SERVICES, "airflow-init", "flower", "demo-setup"]:
        settings = services[name]["environment"]
        for key in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY"):
            assert settings[key] == env[key], (name, key)
    assert services["airflow-init"]["environment"]["_AIRFLOW_WWW_USER_PASSWORD"] == env["_AIRFLOW_WWW_USER_PASSWORD"]
    script = services["airflow-init"]["command"][1]
    assert "0o600" in script and 'chmod 600 "${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE}"' in script


def make_compose_env(folder: Path) -> subprocess.CompletedProcess:
    """`make compose-env` run for real in ``folder`` (a copy of the Makefile and docker/compose_secrets.py)."""
    (folder / "docker").mkdir(exist_ok=True)
    for name in ("Makefile", "docker/compose_secrets.py"):
        (folder / name).write_bytes((REPO / name).read_bytes())
    return subprocess.run(["make", "--no-print-directory", "compose-env", f"PYTHON={sys.executable}"], cwd=folder,
                          capture_output=True, text=True, timeout=60, check=False)


def read_env_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))


def test_make_compose_env_writes_a_private_env_file_the_stack_starts_with(tmp_path, compose, compose_secrets):
    from cryptography.fernet import Fernet

    done = make_compose_env(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    env_file = tmp_path / ".env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    values = read_env_file(env_file)
    assert set(compose_secrets.SECRETS) <= set(values)
    assert values["AERIES_HUB_BIND_ADDRESS"] == "127.0.0.1" and int(values["AIRFLOW_UID"]) > 0
    token = Fernet(values["AIRFLOW__CORE__FERNET_KEY"].encode()).encrypt(b"aeries certificate")
    assert Fernet(values["AIRFLOW__CORE__FERNET_KEY"].encode()).decrypt(token) == b"aeries certificate"
    assert compose_secrets.problems(values) == []
    missing: list = []
    assert interpolate(compose["services"], values, missing)["airflow-apiserver"]["ports"] == ["127.0.0.1:8080:8080"]
    assert missing == []

    # A second run keeps the file: the database and the encrypted connections use its secrets.
    again = make_compose_env(tmp_path)
    assert again.returncode != 0
    assert ".env exists and is kept" in again.stderr
    assert read_env_file(env_file) == values
    other = tmp_path / "other"
    other.mkdir()
    assert make_compose_env(other).returncode == 0
    assert read_env_file(other / ".env")["POSTGRES_PASSWORD"] != values["POSTGRES_PASSWORD"]


def run_airflow_init(services, environment: dict[str, str]) -> subprocess.CompletedProcess:
    """airflow-init's script for real, with docker/ where the container mounts it; it must stop at the check."""
    script = services["airflow-init"]["command"][1].replace("python /opt/aeries-docker/",
                                                            f"{sys.executable} {REPO}/docker/")
    return subprocess.run(["bash", "-c", script], env={"PATH": "/usr/bin:/bin", **environment},
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("case", ["unset", "published defaults", "too short or not a key"])
def test_airflow_init_refuses_to_start_with_missing_or_placeholder_secrets(services, compose_secrets, case):
    environment = {"unset": {}, "published defaults": PUBLISHED_DEFAULTS, "too short or not a key": {
        **PUBLISHED_DEFAULTS, "AIRFLOW__API_AUTH__JWT_SECRET": "s3cret", "AIRFLOW__CORE__FERNET_KEY": "x" * 44,
        "AIRFLOW__CELERY__FLOWER_BASIC_AUTH": "flower:airflow", "POSTGRES_PASSWORD": "short",
        "AIRFLOW__API__SECRET_KEY": "a" * 15, "_AIRFLOW_WWW_USER_PASSWORD": "admin"}}[case]
    done = run_airflow_init(services, environment)
    assert done.returncode == 1
    assert "Creating missing opt dirs" not in done.stdout  # nothing ran after the check
    expected = {
        "unset": [f"  {name} is empty" for name in compose_secrets.SECRETS],
        "published defaults": [
            "  AIRFLOW__CORE__FERNET_KEY is empty", "  AIRFLOW__API_AUTH__JWT_SECRET is a published placeholder",
            "  AIRFLOW__API__SECRET_KEY is empty", "  _AIRFLOW_WWW_USER_PASSWORD is a published placeholder",
            "  POSTGRES_PASSWORD is a published placeholder", "  AIRFLOW__CELERY__FLOWER_BASIC_AUTH is empty"],
        "too short or not a key": [
            "  AIRFLOW__CORE__FERNET_KEY is not a Fernet key (32 url-safe base64-encoded bytes)",
            "  AIRFLOW__API_AUTH__JWT_SECRET is shorter than 16 characters",
            "  AIRFLOW__API__SECRET_KEY is shorter than 16 characters",
            "  _AIRFLOW_WWW_USER_PASSWORD is a published placeholder",
            "  POSTGRES_PASSWORD is shorter than 16 characters",
            "  AIRFLOW__CELERY__FLOWER_BASIC_AUTH is a published placeholder"],
    }[case]
    assert done.stderr.splitlines() == [
        "Refusing to start: the compose secrets are not set safely:", *expected,
        "Run `make compose-env` to write a .env with generated secrets (docs/deployment.md).",
    ]


def test_the_init_check_passes_generated_secrets(env, compose_secrets):
    done = subprocess.run([sys.executable, str(REPO / "docker" / "compose_secrets.py"), "check"],
                          env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "compose secrets: 6 set, none empty or a placeholder\n"
    assert compose_secrets.problems({**env, "POSTGRES_PASSWORD": "p@ss/word:with-url-syntax"}) == [
        "POSTGRES_PASSWORD may hold only letters, digits and . _ ~ - (it goes into the database URL)"]


# -- executor, database, configuration --------------------------------------------------------------------
def test_celery_executor_with_redis_broker_and_postgres_metadata_database(services, env):
    database = f"postgresql+psycopg2://airflow:{env['POSTGRES_PASSWORD']}@postgres/airflow"
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == env["POSTGRES_PASSWORD"]
    for name in [*AIRFLOW_SERVICES, "airflow-init", "flower", "demo-setup"]:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://:@redis:6379/0", name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == database, name
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == f"db+{database}", name
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false", name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/", name
        assert env["AIRFLOW_CONFIG"] == "/opt/airflow/config/airflow.cfg", name
        assert env["AIRFLOW__AERIES_HUB__STAGING_URL"] == "file:///opt/airflow/staging", name
        # aeries_hub finds include/ beside the plugins folder it is installed from (see the Dockerfile test).
        assert "AERIES_HUB_INCLUDE_DIR" not in env and "PYTHONPATH" not in env, name
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"], name
        # The retention DAG's `airflow db clean` reaches the metadata database through this connection.
        assert env["AIRFLOW__AERIES_HUB__METADATA_DB_CONN_ID"] == "airflow_metadata_db", name
        assert env["AIRFLOW_CONN_AIRFLOW_METADATA_DB"] == database.replace("+psycopg2", ""), name


def test_airflow_services_mount_the_project_folders_and_the_shared_staging_volume(compose, services):
    for name in [*AIRFLOW_SERVICES, "airflow-init", "flower"]:
        extra = {"/opt/aeries-docker": "./docker"} if name == "airflow-init" else {}  # compose_secrets.py check
        assert mounts(services[name]) == AIRFLOW_MOUNTS | extra, name
        assert services[name]["user"] == ("0:0" if name == "airflow-init" else "50000:0"), name
    assert "aeries-staging" in compose["volumes"]


def test_config_folder_holds_the_airflow_cfg_the_stack_reads():
    import configparser

    config = configparser.ConfigParser()
    config.read(REPO / "config" / "airflow.cfg")
    assert config["aeries_hub"]["staging_url"] == "file:///opt/airflow/staging"
    assert config["aeries_hub"].getint("staging_retention_days") == 30
    assert "simple_auth_manager_passwords.json" in (REPO / "config" / ".gitignore").read_text().split()


def test_airflow_init_migrates_and_creates_every_pool_the_dags_take(services):
    init = services["airflow-init"]
    assert init["user"] == "0:0" and init["entrypoint"] == "/bin/bash"
    lines = [line.strip() for line in init["command"][1].splitlines()]
    # aeries_hub.pools creates each pool a task of the DAGs takes (tests/plugins/aeries_hub/test_pools.py), once
    # the database is migrated.
    migrate = lines.index("/entrypoint airflow db migrate")
    assert lines.index('/entrypoint python -m aeries_hub.pools --slots "${AERIES_POOL_SLOTS}"') > migrate
    assert init["environment"]["AERIES_POOL_SLOTS"] == "4"


# -- the demo profile ---------------------------------------------------------------------------------------
def test_demo_servers_commands(services, demo_init):
    emulator = command_list(services["aeries-emulator"])
    assert emulator == ["python", "-m", "aeries_sandbox.emulator", "--host", "0.0.0.0", "--port", "8081",
                        "--generate", "2000", "--seed", "42", "--certs", f"{DEMO_SECRETS}/{demo_init.CERTS_FILE}"]
    vendor_api = command_list(services["vendor-api"])
    assert vendor_api == ["python", "-m", "aeries_sandbox.vendor_api", "--host", "0.0.0.0", "--port", "8082",
                          "--tokens-file", f"{DEMO_SECRETS}/{demo_init.TOKENS_FILE}"]
    assert command_list(services["demo-init"]) == ["python", "/opt/aeries-docker/demo_init.py", "--out", DEMO_SECRETS,
                                                   "--owner", "50000"]
    assert command_list(services["demo-setup"]) == ["bash", "/opt/aeries-docker/demo_setup.sh"]
    assert services["sftp"]["entrypoint"] == ["bash", "/opt/aeries-docker/sftp-entrypoint.sh"]
    for name in ("demo-init", "sftp", "demo-setup"):
        assert mounts(services[name])["/opt/aeries-docker"] == "./docker", name
    for script in ("demo_init.py", "demo_setup.sh", "sftp-entrypoint.sh"):
        assert (REPO / "docker" / script).is_file()


def test_demo_servers_read_the_generated_secrets_from_one_volume(compose, services):
    assert mounts(services["demo-init"])[DEMO_SECRETS] == "demo-secrets"
    for name in ("aeries-emulator", "vendor-api", "demo-setup"):
        assert mounts(services[name])[DEMO_SECRETS] == "demo-secrets", name
        assert f"{DEMO_SECRETS}:ro" in " ".join(services[name]["volumes"]), name
    assert mounts(services["sftp"])["/demo-secrets"] == "demo-secrets"
    assert {"demo-secrets", "sftp-data"} <= set(compose["volumes"])
    for name in ("aeries-emulator", "sftp", "vendor-api", "demo-setup"):
        assert services[name]["depends_on"]["demo-init"] == {"condition": "service_completed_successfully"}, name
    for name in ("aeries-emulator", "sftp", "vendor-api", "airflow-worker", "airflow-scheduler", "airflow-dag-processor"):
        assert services["demo-setup"]["depends_on"][name] == {"condition": "service_healthy"}, name
    assert services["demo-setup"]["environment"]["DEMO_SECRETS_DIR"] == DEMO_SECRETS


def test_demo_connections_cover_every_connection_the_mappings_name(demo_init):
    connections = demo_init.build_connections(
        certificate="C" * 32, vendor_token="T" * 32, host_key="ssh-ed25519 AAAAHOSTKEY demo-host",
        private_key="-----BEGIN OPENSSH PRIVATE KEY-----\nkey\n-----END OPENSSH PRIVATE KEY-----\n",
    )
    assert set(connections) == mapping_conn_ids() == {
        "aeries_default", "destiny_sftp", "xello_sftp", "powerschool_learning_sftp", "stemscopes_sftp",
        "schoolmint_enroll_sandbox", "schoolmint_enroll", "aeries_writeback", "schoolmint_enroll_export_sftp",
        "xello_export_sftp", "powerschool_learning_export_sftp",
    }
    assert connections["aeries_default"]["conn_type"] == "aeries"
    assert connections["aeries_default"]["host"] == "http://aeries-emulator:8081/aeries"
    assert connections["aeries_default"]["password"] == "C" * 32
    # Plain http inside the compose network: the explicit opt-in, for the demo's own servers only.
    assert connections["aeries_default"]["extra"]["allow_insecure"] is True
    assert connections["schoolmint_enroll"]["extra"]["allow_insecure"] is True
    for conn_id in ("destiny_sftp", "xello_sftp", "powerschool_learning_sftp", "stemscopes_sftp",
                    "schoolmint_enroll_export_sftp", "xello_export_sftp", "powerschool_learning_export_sftp"):
        sftp = connections[conn_id]
        assert (sftp["conn_type"], sftp["host"], sftp["port"], sftp["login"]) == ("sftp", "sftp", 22, "aeries")
        assert sftp["extra"]["host_key"] == "ssh-ed25519 AAAAHOSTKEY"
        assert sftp["extra"]["private_key"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
        assert sftp["extra"]["no_host_key_check"] is False
    for conn_id, instance in (("schoolmint_enroll_sandbox", "sandbox"), ("schoolmint_enroll", "production")):
        http = connections[conn_id]
        assert (http["conn_type"], http["schema"], http["host"], http["port"]) == ("http", "http", "vendor-api", 8082)
        assert http["password"] == "T" * 32
        assert http["extra"]["endpoint_prefix"] == f"/{instance}"


def test_demo_connections_point_at_the_demo_services(services, demo_init):
    assert demo_init.AERIES_URL == (f"http://aeries-emulator:{option(command_list(services['aeries-emulator']), '--port')}"
                                    "/aeries")
    assert demo_init.VENDOR_API_URL == f"http://vendor-api:{option(command_list(services['vendor-api']), '--port')}"
    assert {demo_init.SFTP_HOST, "aeries-emulator", "vendor-api"} <= DEMO_SERVICES
    # atmoz/sftp user spec user::uid:gid:dirs: the connections' login, and one folder per mapping's remote_dir.
    user, _password, _uid, _gid, folders = services["sftp"]["command"][0].split(":")
    assert user == demo_init.SFTP_LOGIN
    export_dirs = {yaml.safe_load(p.read_text())["source"]["sftp"]["remote_dir"]
                   for p in (REPO / "include" / "writebacks").glob("*.yml")}
    assert set(folders.split(",")) == {doc["delivery"]["sftp"]["remote_dir"] for doc in mapping_documents()
                                       if "sftp" in doc["delivery"]} | export_dirs
    healthcheck = services["sftp"]["healthcheck"]["test"][1]
    assert "/demo-secrets/ssh_host_ed25519_key.pub" in healthcheck and "$(" in healthcheck


def test_demo_init_generates_secrets_and_an_importable_connections_file(tmp_path, demo_init, monkeypatch):
    out = tmp_path / "demo-secrets"
    connections = demo_init.generate(out)
    expected = {"aeries_certs.json", "vendor_tokens.json", "ssh_host_ed25519_key", "ssh_host_ed25519_key.pub",
                "sftp_user_ed25519", "sftp_user_ed25519.pub", "connections.json"}
    assert {p.name for p in out.iterdir()} == expected
    for path in out.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name

    certs = json.loads((out / "aeries_certs.json").read_text())["certificates"]
    assert connections["aeries_default"]["password"] == certs[0]["certificate"]
    token = json.loads((out / "vendor_tokens.json").read_text())[0]
    assert connections["schoolmint_enroll"]["password"] == token
    host_public = (out / "ssh_host_ed25519_key.pub").read_text().split()
    assert connections["destiny_sftp"]["extra"]["host_key"] == " ".join(host_public[:2])
    assert connections["destiny_sftp"]["extra"]["private_key"] == (out / "sftp_user_ed25519").read_text()

    # A second run keeps the secrets (the servers and Airflow stay in step); --rotate replaces them.
    assert demo_init.generate(out) == connections
    assert demo_init.generate(out, rotate=True)["destiny_sftp"]["extra"]["host_key"] != " ".join(host_public[:2])

    # What `airflow connections import` reads, and what the SFTP hook makes of it (keys parsed by paramiko).
    from airflow.secrets.local_filesystem import load_connections_dict

    loaded = load_connections_dict(str(out / "connections.json"))
    assert set(loaded) == mapping_conn_ids()
    assert loaded["aeries_default"].conn_type == "aeries"
    assert loaded["xello_sftp"].extra_dejson["look_for_keys"] is False

    from airflow.providers.sftp.hooks.sftp import SFTPHook

    sftp = json.loads((out / "connections.json").read_text())["destiny_sftp"]
    monkeypatch.setenv("AIRFLOW_CONN_DESTINY_SFTP", json.dumps(sftp))
    hook = SFTPHook(ssh_conn_id="destiny_sftp")
    assert hook.host_key.get_name() == "ssh-ed25519"
    assert f"{hook.host_key.get_name()} {hook.host_key.get_base64()}" == sftp["extra"]["host_key"]
    assert hook.pkey.get_name() == "ssh-ed25519" and not hook.no_host_key_check


def run_demo_setup(tmp_path: Path, *, wait_status: int = 0, **env: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    """docker/demo_setup.sh run by bash, with an ``airflow`` and a ``python`` on its PATH that answer as a stack whose
    DAGs are parsed (``python -c`` is the real one; ``python queued_runs.py`` exits with ``wait_status``); every
    call they take, in order."""
    calls, bin_dir = tmp_path / "calls", tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "airflow").write_text(f'#!/usr/bin/env bash\necho "airflow $*" >> {calls}\n')
    (bin_dir / "python").write_text(
        f'#!/usr/bin/env bash\nif [[ "$1" == -c ]]; then exec {sys.executable} "$@"; fi\n'
        f'echo "python $*" >> {calls}\nexit {wait_status}\n')
    for fake in bin_dir.iterdir():
        fake.chmod(0o755)
    environment = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "DEMO_SECRETS_DIR": "/secrets", **env}
    done = subprocess.run(["bash", str(REPO / "docker" / "demo_setup.sh")], capture_output=True, text=True,
                          env=environment, timeout=120, check=False)
    return done, calls.read_text().splitlines() if calls.exists() else []


def test_demo_setup_imports_only_new_connections_and_unpauses_once_the_dry_runs_are_queued_first(tmp_path):
    from aeries_sandbox.demo import DEMO_RUNS

    assert set(DEMO_RUNS) == {load_mapping(path).dag_id for path in MAPPINGS}
    done, calls = run_demo_setup(tmp_path)
    assert done.returncode == 0, done.stderr
    # No --overwrite: a connection the database has (an operator's edit) is kept.
    expected = ["airflow connections import /secrets/connections.json"]
    for dag_id, conf in DEMO_RUNS.items():
        dry_conf = json.dumps({**conf, "dry_run": True}, separators=(",", ":"))
        expected += [f"airflow dags details {dag_id}", f"airflow dags trigger {dag_id} --conf {dry_conf}",
                     f"airflow dags trigger {dag_id} --conf {json.dumps(conf, separators=(',', ':'))}"]
    # Still paused, the runs wait queued; unpaused only once the DAG processor counted them (docker/queued_runs.py).
    expected.append(f"python /opt/aeries-docker/queued_runs.py --timeout 600 {' '.join(DEMO_RUNS)}")
    expected += [f"airflow dags unpause {dag_id}" for dag_id in DEMO_RUNS]
    assert calls == expected


def test_demo_setup_unpauses_nothing_when_the_queued_runs_were_not_counted(tmp_path):
    done, calls = run_demo_setup(tmp_path, wait_status=1)
    assert done.returncode == 1
    assert calls[-1].startswith("python /opt/aeries-docker/queued_runs.py") and not any("unpause" in c for c in calls)


def test_demo_setup_without_runs_imports_the_connections_only(tmp_path):
    done, calls = run_demo_setup(tmp_path, DEMO_TRIGGER_RUNS="false")
    assert done.returncode == 0 and calls == ["airflow connections import /secrets/connections.json"]
    assert "DEMO_TRIGGER_RUNS is not true: no DAG is unpaused or triggered" in done.stdout


def test_sftp_entrypoint_installs_the_generated_keys():
    script = (REPO / "docker" / "sftp-entrypoint.sh").read_text()
    assert 'install -m 600 -o root -g root "${keys}/ssh_host_ed25519_key" /etc/ssh/ssh_host_ed25519_key' in script
    assert '"${keys}/sftp_user_ed25519.pub" "/home/${user}/.ssh/keys/airflow.pub"' in script
    assert script.rstrip().endswith('exec /entrypoint "$@"')
    for script_name in ("sftp-entrypoint.sh", "demo_setup.sh"):
        done = subprocess.run(["bash", "-n", str(REPO / "docker" / script_name)], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr


def test_no_key_or_secret_is_part_of_the_stack():
    files = [COMPOSE, DOCKERFILE, REPO / ".dockerignore", *(REPO / "config").iterdir(), *(REPO / "docker").iterdir()]
    for path in files:
        if path.is_file():
            text = path.read_text()
            assert "PRIVATE KEY-----\n" not in text and not re.search(r"AAAAC3NzaC1lZDI1NTE5AAAA\w{20,}", text), path


# -- the image ----------------------------------------------------------------------------------------------
def dockerfile_steps() -> list[str]:
    """The Dockerfile's instructions, one per item, continuation lines joined and comments left out."""
    text = DOCKERFILE.read_text()
    instructions = re.sub(r"\\\n\s*", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    return [" ".join(line.split()) for line in instructions.splitlines() if line.strip()]


def dockerfile_stages() -> dict[str, list[str]]:
    """Stage name -> its instructions, the FROM first (in the Dockerfile's order)."""
    stages: dict[str, list[str]] = {}
    for step in dockerfile_steps():
        if step.startswith("FROM "):
            current = stages.setdefault(step.split(" AS ")[1], [])
        current.append(step)
    return stages


def test_dockerfile_extends_the_airflow_image_of_the_pinned_version():
    stages = dockerfile_stages()
    assert [steps[0] for steps in stages.values()] == [
        "FROM apache/airflow:3.3.2-python3.11 AS hub", "FROM hub AS demo", "FROM hub AS production"]
    pinned = re.search(r"^apache-airflow==(\S+)$", (REPO / "requirements.txt").read_text(), re.MULTILINE).group(1)
    locked = re.search(r"^apache-airflow==(\S+)$", (REPO / "constraints.txt").read_text(), re.MULTILINE).group(1)
    assert stages["hub"][0] == f"FROM apache/airflow:{pinned}-python3.11 AS hub" and locked == pinned
    assert '">=3.11,<3.12"' in (REPO / "pyproject.toml").read_text()  # the image's Python
    for pyproject in (REPO / "pyproject.toml", REPO / "sandbox" / "pyproject.toml"):
        assert '\nrequires-python = ">=3.11,<3.12"\n' in pyproject.read_text(), pyproject


def test_the_production_image_has_no_sandbox_and_the_demo_image_installs_it():
    stages = dockerfile_stages()
    # `docker build .` builds the last stage: production, which adds nothing to hub.
    assert list(stages)[-1] == "production" and stages["production"] == ["FROM hub AS production"]
    assert not any("sandbox" in step for step in stages["hub"])
    assert stages["demo"][1:] == [
        "COPY --chown=airflow:0 sandbox /tmp/aeries-hub-sandbox",
        "RUN pip install --no-cache-dir --no-deps /tmp/aeries-hub-sandbox && rm -rf /tmp/aeries-hub-sandbox",
    ]


def test_the_image_installs_the_package_in_place_so_airflow_imports_the_installed_files(monkeypatch):
    """One aeries_hub: the editable install of /opt/airflow maps it to /opt/airflow/plugins/aeries_hub, the
    folder Airflow puts on sys.path (and compose mounts the working copy on); no copy in site-packages, no
    PYTHONPATH, and aeries_hub/paths.py finds /opt/airflow/include beside it."""
    steps = dockerfile_steps()
    plugins = steps.index("COPY --chown=airflow:0 plugins /opt/airflow/plugins")
    pyproject = steps.index("COPY --chown=airflow:0 pyproject.toml /opt/airflow/pyproject.toml")
    install = steps.index("RUN pip install --no-cache-dir --no-deps --editable /opt/airflow")
    assert plugins < install and pyproject < install
    assert not any("PYTHONPATH" in step or "AERIES_HUB_INCLUDE_DIR" in step for step in steps)
    assert not any(step.startswith("COPY") and "/tmp/aeries-hub-src" in step for step in steps)
    # paths.py as the image imports it: from /opt/airflow/plugins, without AERIES_HUB_INCLUDE_DIR.
    monkeypatch.delenv("AERIES_HUB_INCLUDE_DIR", raising=False)
    in_image = "/opt/airflow/plugins/aeries_hub/paths.py"
    namespace = {"__file__": in_image, "__name__": "aeries_hub_paths_in_the_image"}
    exec(compile((REPO / "plugins" / "aeries_hub" / "paths.py").read_text(), in_image, "exec"), namespace)
    assert namespace["INCLUDE_DIR"] == Path("/opt/airflow/include")


def test_dockerfile_installs_requirements_with_constraints_and_the_project():
    steps = dockerfile_steps()
    text = DOCKERFILE.read_text()
    user = steps.index("USER airflow")
    install = next(i for i, s in enumerate(steps) if s.startswith("RUN pip install") and " -r " in s)
    assert user < install
    assert re.search(r"pip install --no-cache-dir \"apache-airflow==\$\{AIRFLOW_VERSION\}\" "
                     r"-r /tmp/aeries-hub-requirements/requirements.txt -c /tmp/aeries-hub-requirements/constraints.txt",
                     steps[install])
    assert "COPY --chown=airflow:0 requirements.txt constraints.txt /tmp/aeries-hub-requirements/" in steps
    package = next(i for i, s in enumerate(steps) if "--no-deps" in s)
    assert install < package and steps[package] == "RUN pip install --no-cache-dir --no-deps --editable /opt/airflow"
    for folder in ("dags", "plugins", "include"):
        assert f"COPY --chown=airflow:0 {folder} /opt/airflow/{folder}" in steps
    assert "openssh-server" not in text and "apt-get" not in text


def test_dockerignore_keeps_local_state_out_of_the_build():
    ignored = set((REPO / ".dockerignore").read_text().split())
    # An editable install leaves its egg-info in plugins/ and sandbox/: not the image's package metadata.
    assert {".venv", ".demo", ".git", ".env", "logs", "**/__pycache__", ".pytest_cache", "**/*.egg-info"} <= ignored
    assert not ignored & {"dags", "plugins", "include", "sandbox", "requirements.txt", "constraints.txt",
                          "pyproject.toml"}
