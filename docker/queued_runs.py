"""Part of the `demo-setup` service (docker/demo_setup.sh): wait until unpausing the DAGs starts their queued runs
first, the dry run before anything else.

    python /opt/aeries-docker/queued_runs.py --timeout 600 aeries_to_destiny aeries_to_xello ...

Why a wait: a paused DAG's triggered runs stay queued, and unpausing it makes the scheduler create, at once, the run
of its latest cron time (catchup is off, so only that one). That scheduled run would come first: the scheduler starts
queued runs in the order of their ``run_after``, and a cron time that has passed is earlier than the triggers' "now";
it would be a first delivery with no dry run seen, waiting for approval with the dry run queued behind it
(``max_active_runs`` 1). Airflow 3.3 creates no scheduled run of a DAG whose active runs (queued ones count) are at
its ``max_active_runs``: ``DagModel.exceeds_max_non_backfill``, which the DAG processor computes each time it parses
the DAG's file, and the scheduler when it creates or ends a run, never when a run is triggered. So the script
triggers while the DAGs are paused, then this waits for a parse after the triggers (every
``[dag_processor] min_file_process_interval``, 30 s by default) before the script unpauses them. Exit status 1 when a
DAG is not counted within ``--timeout`` seconds.
"""

from __future__ import annotations

import argparse
import sys
import time


def waiting_for_parse(dag_ids: list[str]) -> list[str]:
    """The DAGs of ``dag_ids`` that are paused and whose queued runs the DAG processor has not counted yet (the
    scheduler would create a scheduled run before them once they are unpaused). An unpaused DAG runs what is
    queued already: nothing to wait for."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        dags = {dag.dag_id: dag for dag in session.scalars(select(DagModel).where(DagModel.dag_id.in_(dag_ids)))}
        return [dag_id for dag_id in dag_ids
                if dag_id not in dags or (dags[dag_id].is_paused and not dags[dag_id].exceeds_max_non_backfill)]


def main(argv: list[str] | None = None, *, poll_seconds: float = 5) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait at most")
    parser.add_argument("dag_ids", nargs="+")
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.timeout
    while waiting := waiting_for_parse(args.dag_ids):
        if time.monotonic() >= deadline:
            print(f"The DAG processor has not counted the queued runs of {', '.join(waiting)} within {args.timeout:g} "
                  "s: not unpaused (unpausing would start a scheduled run before the dry run); see the "
                  "airflow-dag-processor log", file=sys.stderr)
            return 1
        time.sleep(poll_seconds)
    print(f"The queued runs of {len(args.dag_ids)} DAGs come first once they are unpaused")
    return 0


if __name__ == "__main__":
    sys.exit(main())
