"""`make demo`'s and `make airflow`'s Airflow side in one process, which imports Airflow, the hub and GX once.

    python -m aeries_sandbox.demo_runs WORKDIR < plan.json

run with the demo's Airflow environment (:func:`aeries_sandbox.demo.airflow_env`), imports what the runs import
(:func:`warm_up`), migrates the metadata database (as ``airflow db migrate``, its lines in
``WORKDIR/logs/airflow-db-migrate.log``), then reads ``{"connections": {conn_id: connection JSON}, "slots": N, "runs": [[dag_id, conf], ...]}`` on stdin (the
connections hold the stack's secrets: never a file or the command line) and

* stores the connections (:func:`aeries_sandbox.demo_connections.store_connections`, its record in
  ``WORKDIR/airflow/demo_connections.json``) and creates the missing pools with ``slots`` slots
  (:func:`aeries_hub.pools.create_missing_pools`), each step's lines in ``WORKDIR/logs/airflow-<step>.log``;
* runs each of ``runs`` under ``dag.test()`` in turn, as ``airflow dags test DAG_ID --conf CONF`` would, its
  output appended to ``WORKDIR/logs/<dag_id>.log``.

On stdout it prints one JSON line per step as it ends: ``{"connections": [line, ...]}``, ``{"pools": [...]}``, then
``{"dag_id", "started" (epoch seconds), "seconds", "state"}`` per run; anything else it prints goes to stderr.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


def dag_files() -> dict[str, tuple[str, Path, str]]:
    """Where each DAG of the configured DAG bundles (the dags folder) is defined: its file, its bundle's path and
    name (the DAGs parsed once, as ``airflow dags test`` finds the one it runs)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag

    files: dict[str, tuple[str, Path, str]] = {}
    for bundle in DagBundlesManager().get_all_dag_bundles():
        bundle.initialize()
        bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)
        files.update({dag_id: (dag.fileloc, bundle.path, bundle.name) for dag_id, dag in bag.dags.items()})
    return files


def parse_dag(dag_id: str, where: tuple[str, Path, str]) -> Any:
    """``dag_id`` parsed anew from its file alone. Each run needs DAG objects of its own, as each ``airflow dags
    test`` has: dag.test() leaves a run's conf in the Params of the DAG it ran (a dry run's ``dry_run: true`` would
    stay for the delivery after it), and a copy.deepcopy of the DAG shares them."""
    from airflow.dag_processing.dagbag import BundleDagBag

    fileloc, bundle_path, bundle_name = where
    return BundleDagBag(dag_folder=fileloc, bundle_path=bundle_path, bundle_name=bundle_name).dags[dag_id]


@contextmanager
def output_to(log_path: Path) -> Iterator[None]:
    """This process's stdout and stderr (file descriptors 1 and 2, which Airflow's and the tasks' logs write to)
    appended to ``log_path`` while the block runs."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log_path.open("ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, original in zip((1, 2), saved):
            os.dup2(original, fd)
            os.close(original)


def run_dag(dag_id: str, files: dict[str, tuple[str, Path, str]], conf: dict) -> str:
    """One run of ``dag_id`` under ``dag.test()``, as ``airflow dags test`` starts it; the run's state, or ``error``
    (the reason printed) when it could not run."""
    from airflow.sdk import timezone

    if dag_id not in files:
        print(f"Dag {dag_id!r} could not be found; either it does not exist or it failed to parse.")
        return "error"
    try:
        return str(parse_dag(dag_id, files[dag_id]).test(logical_date=timezone.utcnow(), run_conf=conf or None).state)
    except Exception:
        traceback.print_exc()
        return "error"


def setup(plan: dict, workdir: Path) -> Iterator[dict]:
    """The connections and the pools of ``plan`` into the metadata database; one outcome per step."""
    from aeries_hub.pools import create_missing_pools
    from aeries_sandbox.demo_connections import store_connections

    with output_to(workdir / "logs" / "airflow-connections.log"):
        lines = store_connections(plan["connections"], workdir / "airflow" / "demo_connections.json")
        print("\n".join(lines))
    yield {"connections": lines}
    with output_to(workdir / "logs" / "airflow-pools.log"):
        lines = [f"Pool {name}: {outcome}" for name, outcome in create_missing_pools(plan["slots"]).items()]
        print("\n".join(lines))
    yield {"pools": lines}


def warm_up() -> None:
    """What every run imports (Airflow's task runner, the hub's tasks, pandas, Arrow, Great Expectations): the demo
    starts this process first, so that these seconds pass while it generates the district, starts the servers and
    migrates the database (the plan comes on stdin after that), on the machine's other core."""
    import airflow.sdk.execution_time.task_runner  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    import aeries_hub.mapping.build  # noqa: F401
    import aeries_hub.quality.runner  # noqa: F401
    import aeries_hub.tasks.extract  # noqa: F401
    from aeries_hub.quality.gx_adapter import import_gx

    import_gx()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python -m aeries_sandbox.demo_runs WORKDIR < plan.json")
    workdir = Path(args[0])
    # The JSON lines get stdout to themselves: whatever else prints (Airflow's start-up) goes to stderr.
    results = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    warm_up()

    from airflow.utils import db
    from airflow.utils.providers_configuration_loader import providers_configuration_loaded

    with output_to(workdir / "logs" / "airflow-db-migrate.log"):  # what `airflow db migrate` does
        providers_configuration_loaded(db.upgradedb)()
    plan = json.load(sys.stdin)

    for outcome in setup(plan, workdir):
        print(json.dumps(outcome), file=results)
    files = providers_configuration_loaded(dag_files)() if plan["runs"] else {}
    for dag_id, conf in plan["runs"]:
        started = time.time()
        with output_to(workdir / "logs" / f"{dag_id}.log"):
            state = run_dag(dag_id, files, conf)
        print(json.dumps({"dag_id": dag_id, "started": started, "seconds": time.time() - started, "state": state}),
              file=results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
