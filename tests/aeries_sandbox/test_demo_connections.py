"""The demo's connections go into the metadata database (aeries_sandbox.demo_connections): added, brought up to date
at the next start, and kept as they are once an operator edited them; no secret in what it prints. The demo's
Airflow process stores them, and creates the pools, before any run."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

AERIES = {"conn_type": "aeries", "host": "http://127.0.0.1:40001/aeries", "password": "Cert0000firststart0000000000000",
          "extra": {"timeout": 10, "allow_insecure": True}}
SFTP = {"conn_type": "sftp", "host": "127.0.0.1", "port": 40002, "login": "aeries", "extra": {"host_key": "ssh-ed25519 AAAA"}}


def store(connections: dict, record) -> list[str]:
    from airflow.configuration import conf

    # The key this process encrypts and decrypts with: an airflow.cfg written after it read its own may hold another.
    env = {**os.environ, "AIRFLOW__CORE__FERNET_KEY": conf.get("core", "fernet_key", fallback="")}
    done = subprocess.run([sys.executable, "-m", "aeries_sandbox.demo_connections", str(record)], check=True,
                          input=json.dumps(connections), capture_output=True, text=True, env=env)
    for secret in (document.get("password") for document in connections.values()):
        assert not secret or secret not in done.stdout + done.stderr
    return [line for line in done.stdout.splitlines() if line.startswith("democonn_")]  # not Airflow's own log lines


def store_in_process(connections: dict, record) -> list[str]:
    from aeries_sandbox.demo_connections import store_connections

    return store_connections(connections, record)


def stored(conn_id: str) -> dict:
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    with create_session() as session:
        connection = session.query(Connection).filter_by(conn_id=conn_id).one()
        return {"host": connection.host, "port": connection.port, "password": connection.password,
                "extra": connection.extra_dejson}


def edit_host(conn_id: str, host: str) -> None:
    """What an operator does in Admin > Connections."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(Connection).filter_by(conn_id=conn_id).one().host = host


def test_connections_are_added_updated_at_the_next_start_and_an_operators_edit_is_kept(airflow_db, tmp_path):
    record = tmp_path / "demo_connections.json"

    assert store({"democonn_aeries": AERIES, "democonn_sftp": SFTP}, record) == [
        "democonn_aeries: added", "democonn_sftp: added"]
    assert stored("democonn_aeries") == {"host": AERIES["host"], "port": None, "password": AERIES["password"],
                                         "extra": AERIES["extra"]}
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    assert AERIES["password"] not in record.read_text()  # fingerprints only

    # The next start: new ports, a new certificate.
    second = {"democonn_aeries": {**AERIES, "host": "http://127.0.0.1:40011/aeries", "password": "Cert0000secondstart000000000000"},
              "democonn_sftp": {**SFTP, "port": 40012}}
    assert store_in_process(second, record) == [
        "democonn_aeries: updated (the demo's servers and secrets of this start)",
        "democonn_sftp: updated (the demo's servers and secrets of this start)"]
    assert stored("democonn_aeries")["password"] == "Cert0000secondstart000000000000"
    assert stored("democonn_sftp")["port"] == 40012

    edit_host("democonn_aeries", "https://aeries.district.example/aeries")
    third = {"democonn_aeries": {**AERIES, "host": "http://127.0.0.1:40021/aeries"}, "democonn_sftp": {**SFTP, "port": 40022},
             "democonn_new": SFTP}
    assert store_in_process(third, record) == [
        "democonn_aeries: kept as it is in the database (changed since the demo wrote it, or not the demo's); delete it "
        "in Admin > Connections to get the demo's again",
        "democonn_sftp: updated (the demo's servers and secrets of this start)",
        "democonn_new: added"]
    assert stored("democonn_aeries")["host"] == "https://aeries.district.example/aeries"
    assert stored("democonn_sftp")["port"] == 40022


def test_a_connection_the_demo_did_not_write_is_kept(airflow_db, tmp_path):
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    with create_session() as session:
        session.add(Connection(conn_id="democonn_operators", conn_type="aeries", host="https://aeries.example/aeries"))

    assert store_in_process({"democonn_operators": AERIES}, tmp_path / "record.json") == [
        "democonn_operators: kept as it is in the database (changed since the demo wrote it, or not the demo's); "
        "delete it in Admin > Connections to get the demo's again"]
    assert stored("democonn_operators")["host"] == "https://aeries.example/aeries"


def demo_setup(workdir, connections: dict) -> list[dict]:
    """What the demo's one Airflow process (aeries_sandbox.demo_runs) answers to a plan of ``connections``, the
    demo's pool slots and no run, on this session's database."""
    from types import SimpleNamespace

    from airflow.configuration import conf

    from aeries_sandbox.demo import airflow_process, airflow_side

    env = {**os.environ, "AIRFLOW__CORE__FERNET_KEY": conf.get("core", "fernet_key", fallback="")}
    with airflow_process(env, workdir) as process:
        return list(airflow_side(process, SimpleNamespace(connections=lambda: connections), [], workdir))


def test_the_demo_stores_its_connections_in_the_database_sets_no_connection_variable_and_creates_the_pools(
        airflow_db, tmp_path):
    # make demo and make airflow both start through aeries_sandbox.demo.main, whose one Airflow process
    # (aeries_sandbox.demo_runs) stores the connections and creates the pools before any run.
    from aeries_hub.pools import required_pools
    from aeries_sandbox.demo import airflow_env
    from tests.plugins.aeries_hub.test_pools import delete_required_pools, pool_slots

    delete_required_pools()
    connections = {"democonn_demo_aeries": AERIES, "democonn_demo_sftp": SFTP}
    outcomes = demo_setup(tmp_path, connections)

    assert outcomes == [{"connections": ["democonn_demo_aeries: added", "democonn_demo_sftp: added"]},
                        {"pools": [f"Pool {name}: created with 4 slots" for name in required_pools()]}]
    assert pool_slots() == {name: 4 for name in required_pools()}
    assert stored("democonn_demo_aeries") == {"host": AERIES["host"], "port": None, "password": AERIES["password"],
                                              "extra": AERIES["extra"]}
    assert stored("democonn_demo_sftp")["port"] == SFTP["port"]
    # AIRFLOW_CONN_* variables come before the database in Airflow's lookup: they would hide an operator's edit.
    assert [name for name in airflow_env(tmp_path) if name.startswith("AIRFLOW_CONN_")] == []
