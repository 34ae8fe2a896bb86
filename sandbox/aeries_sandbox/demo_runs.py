"""`make demo`'s DAG runs in one Airflow process, which imports Airflow, the hub and GX once for all of them.

    python -m aeries_sandbox.demo_runs LOGS < runs.json

run with the demo's Airflow environment (:func:`aeries_sandbox.demo.airflow_env`), reads ``[[dag_id, conf], ...]``
on stdin and runs each under ``dag.test()`` in turn, as ``airflow dags test DAG_ID --conf CONF`` would (the DAGs
of the configured bundles, parsed once; ``dag.test()`` writes them to the metadata database before each run), its
output appended to ``LOGS/<dag_id>.log``. On stdout it prints one JSON line per run, when the run ends:
``{"dag_id", "started" (epoch seconds), "seconds", "state"}``; anything else the process prints goes to stderr.
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


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python -m aeries_sandbox.demo_runs LOGS < runs.json")
    logs = Path(args[0])
    runs = json.load(sys.stdin)
    # The JSON lines get stdout to themselves: whatever else prints (Airflow's start-up) goes to stderr.
    results = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)

    from airflow.utils.providers_configuration_loader import providers_configuration_loaded

    files = providers_configuration_loaded(dag_files)()
    for dag_id, conf in runs:
        started = time.time()
        with output_to(logs / f"{dag_id}.log"):
            state = run_dag(dag_id, files, conf)
        print(json.dumps({"dag_id": dag_id, "started": started, "seconds": time.time() - started, "state": state}),
              file=results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
