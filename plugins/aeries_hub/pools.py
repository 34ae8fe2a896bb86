"""The Airflow pools the hub's DAGs take slots of, created by every way the hub starts.

Every task that talks to Aeries takes a slot of the pool named after its Aeries connection (a vendor DAG's
extract tasks, a write-back's plan and write tasks; ``dag_factory``), so that DAGs starting together cannot
overload the district's SIS. The scheduler never queues a task whose pool does not exist: the task waits, with
nothing in its log. So ``make demo``, ``make airflow`` and docker compose's ``airflow-init`` all run

    python -m aeries_hub.pools --slots 4

which creates each missing pool of :func:`required_pools`. A pool that exists keeps the slots an operator gave it.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

from aeries_hub.paths import MAPPINGS_DIR, WRITEBACKS_DIR

DEFAULT_SLOTS = 4


def required_pools(mappings_dir: Path = MAPPINGS_DIR, writebacks_dir: Path = WRITEBACKS_DIR) -> dict[str, str]:
    """Each pool a task of the valid mapping and write-back files takes, with a description naming its DAGs."""
    from aeries_hub.dag_factory import load_mappings, load_writebacks

    dags_by_pool: dict[str, list[str]] = defaultdict(list)
    for spec in [*load_mappings(mappings_dir)[0], *load_writebacks(writebacks_dir)[0]]:
        dags_by_pool[spec.aeries_conn_id].append(spec.dag_id)
    return {
        pool: f"Tasks at once against the Aeries server of the connection {pool} ({', '.join(sorted(dag_ids))})"
        for pool, dag_ids in sorted(dags_by_pool.items())
    }


def create_missing_pools(slots: int = DEFAULT_SLOTS, pools: dict[str, str] | None = None) -> dict[str, str]:
    """Create each pool of ``pools`` (default :func:`required_pools`) that the metadata database lacks, with ``slots``
    slots; returns each pool with what happened to it (created, or kept with its slots)."""
    from airflow.models.pool import Pool
    from airflow.utils.session import create_session
    from sqlalchemy import select

    outcome = {}
    with create_session() as session:
        existing = {pool.pool: pool.slots for pool in session.scalars(select(Pool))}
        for name, description in (required_pools() if pools is None else pools).items():
            if name in existing:
                outcome[name] = f"exists, keeps its {existing[name]} slots"
            else:
                session.add(Pool(pool=name, slots=slots, description=description, include_deferred=False))
                outcome[name] = f"created with {slots} slots"
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slots", type=int, default=DEFAULT_SLOTS, help="slots of each pool created")
    args = parser.parse_args(argv)
    if args.slots < 1:
        parser.error(f"--slots is {args.slots}; give the tasks that may talk to one Aeries server at once, e.g. 4")
    for name, outcome in create_missing_pools(args.slots).items():
        print(f"Pool {name}: {outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
