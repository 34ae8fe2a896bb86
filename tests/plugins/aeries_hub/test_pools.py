"""Every pool a task of the DAGs takes is created by every way the hub starts (aeries_hub.pools).

The scheduler never queues a task whose pool is missing, and says so nowhere in the task's log: the write-back
DAGs once waited forever under `make airflow` for their pool ``aeries_writeback``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from aeries_hub.pools import create_missing_pools, required_pools

REPO = Path(__file__).resolve().parents[3]


def test_every_pool_a_task_of_the_dagbag_takes_is_a_required_pool():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    assert bag.import_errors == {}
    taken = {task.pool for dag in bag.dags.values() for task in dag.tasks} - {"default_pool"}

    assert set(required_pools()) == taken == {"aeries_default", "aeries_writeback"}
    assert required_pools()["aeries_writeback"] == (
        "Tasks at once against the Aeries server of the connection aeries_writeback "
        "(powerschool_learning_to_aeries, schoolmint_enroll_to_aeries, xello_to_aeries)"
    )


def test_missing_pools_are_created_and_an_existing_pool_keeps_its_slots(airflow_db):
    from airflow.models.pool import Pool
    from airflow.utils.session import create_session

    pools = {"pools_test_aeries_a": "a", "pools_test_aeries_b": "b"}
    assert create_missing_pools(3, {"pools_test_aeries_a": "a"}) == {"pools_test_aeries_a": "created with 3 slots"}
    with create_session() as session:
        session.get(Pool, Pool.get_pool("pools_test_aeries_a", session=session).id).slots = 9  # an operator's edit

    assert create_missing_pools(3, pools) == {
        "pools_test_aeries_a": "exists, keeps its 9 slots", "pools_test_aeries_b": "created with 3 slots",
    }
    with create_session() as session:
        created = Pool.get_pool("pools_test_aeries_b", session=session)
        assert (created.slots, created.description, created.include_deferred) == (3, "b", False)


def delete_required_pools() -> None:
    from airflow.models.pool import Pool
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(Pool).filter(Pool.pool.in_(list(required_pools()))).delete(synchronize_session=False)


def pool_slots() -> dict[str, int]:
    from airflow.models.pool import Pool
    from airflow.utils.session import create_session

    with create_session() as session:
        return {pool.pool: pool.slots for pool in session.query(Pool).filter(Pool.pool.in_(list(required_pools())))}


def test_the_compose_init_creates_the_required_pools(airflow_db):
    # The demo's pools: tests/aeries_sandbox/test_demo_connections.py (one start of the demo's Airflow process).
    # Every compose profile runs airflow-init before any other Airflow service: its pools line, run as it is there
    # (the image's entrypoint aside), with the compose default of AERIES_POOL_SLOTS.
    import subprocess
    import sys

    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    init = compose["services"]["airflow-init"]
    [line] = [line.strip() for line in init["command"][1].splitlines() if "aeries_hub.pools" in line]
    slots = init["environment"]["AERIES_POOL_SLOTS"].removeprefix("${AERIES_POOL_SLOTS:-").removesuffix("}")
    command = line.removeprefix("/entrypoint python ").replace('"$${AERIES_POOL_SLOTS}"', slots).split()
    delete_required_pools()

    subprocess.run([sys.executable, *command], check=True, capture_output=True, env=os.environ.copy())

    assert pool_slots() == {name: 4 for name in required_pools()}


def test_the_command_line_creates_the_pools(airflow_db, capsys):
    from aeries_hub.pools import main

    assert main(["--slots", "2"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("Pool aeries_default: ")
    with pytest.raises(SystemExit):
        main(["--slots", "0"])
    assert "--slots is 0; give the tasks that may talk to one Aeries server at once, e.g. 4" in capsys.readouterr().err
