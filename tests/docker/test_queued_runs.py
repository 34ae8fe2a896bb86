"""docker/queued_runs.py, with Airflow 3.3's own scheduling queries on the tests' metadata database: while a paused
DAG's triggered runs are not counted by a parse of its file, unpausing it would make the scheduler create the run of
its latest cron time (before the dry run); once a parse has counted them, it creates none and starts the dry run
first. This is why docker/demo_setup.sh triggers, waits for the parse, and only then unpauses."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "aeries_to_destiny"


@pytest.fixture(scope="module")
def queued_runs():
    spec = importlib.util.spec_from_file_location("compose_queued_runs", REPO / "docker" / "queued_runs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_dag_files() -> None:
    """What the DAG processor does each time it parses the DAG files: the DAGs and their run counts into the
    metadata database (``sync_bag_to_db``, as ``dag.test()`` and ``airflow dags reserialize`` call it)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db

    manager = DagBundlesManager()
    manager.sync_bundles_to_db()
    (bundle,) = [b for b in manager.get_all_dag_bundles() if b.name == "dags-folder"]
    bundle.initialize()
    sync_bag_to_db(BundleDagBag(bundle.path, bundle_path=bundle.path, bundle_name=bundle.name), bundle.name,
                   bundle_version=None)


def set_dag(**values) -> None:
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        dag = session.get(DagModel, DAG_ID)
        for name, value in values.items():
            setattr(dag, name, value)


def once_unpaused() -> tuple[bool, list[dict]]:
    """Whether the scheduler would create a scheduled run of the DAG if it were unpaused now, and the confs of its
    queued runs in the order the scheduler would start them (the unpause is rolled back)."""
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        session.get(DagModel, DAG_ID).is_paused = False
        session.flush()
        needing, _ = DagModel.dags_needing_dagruns(session)
        would_create = DAG_ID in {dag.dag_id for dag in needing}
        order = [run.conf for run in DagRun.get_queued_dag_runs_to_set_running(session) if run.dag_id == DAG_ID]
        session.rollback()
    return would_create, order


@pytest.fixture
def triggered(airflow_db):
    """A dry run, then a delivery, triggered as demo_setup.sh does (``airflow dags trigger``) on the paused DAG;
    deleted after the test, and the DAG put back as it was."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType
    from sqlalchemy import delete, select, update

    parse_dag_files()
    with create_session() as session:
        dag = session.get(DagModel, DAG_ID)
        was = {"is_paused": dag.is_paused, "exceeds_max_non_backfill": dag.exceeds_max_non_backfill}
        # Runs an earlier module on this worker left queued or running (its test ended: one module runs at a time)
        # count against max_active_runs: set aside while this one runs, as a fresh compose database has none.
        left_over = {run.run_id: run.state for run in session.scalars(select(DagRun).where(
            DagRun.dag_id == DAG_ID, DagRun.state.in_((DagRunState.QUEUED, DagRunState.RUNNING))))}
        if left_over:
            session.execute(update(DagRun).where(DagRun.dag_id == DAG_ID, DagRun.run_id.in_(left_over))
                            .values(state=DagRunState.FAILED))
    set_dag(is_paused=True, exceeds_max_non_backfill=False)
    runs = [trigger_dag(DAG_ID, triggered_by=DagRunTriggeredByType.CLI, conf=conf).run_id
            for conf in ({"dry_run": True}, {"dry_run": False})]
    time.sleep(1.1)  # the scheduler starts runs whose run_after has passed: SQLite's now() has whole seconds
    yield runs
    with create_session() as session:
        session.execute(delete(DagRun).where(DagRun.dag_id == DAG_ID, DagRun.run_id.in_(runs)))
        for run_id, state in left_over.items():
            session.execute(update(DagRun).where(DagRun.dag_id == DAG_ID, DagRun.run_id == run_id).values(state=state))
    set_dag(**was)


def test_unpausing_starts_the_dry_run_first_only_once_a_parse_counted_the_queued_runs(triggered, queued_runs, capsys):
    # Not parsed since the triggers: unpaused now, the DAG would get the run of its latest cron time, whose run_after
    # is before the triggers' (it would start first).
    capsys.readouterr()  # the parse's log
    assert once_unpaused() == (True, [{"dry_run": True}, {"dry_run": False}])
    assert queued_runs.waiting_for_parse([DAG_ID]) == [DAG_ID]
    assert queued_runs.main(["--timeout", "0", DAG_ID]) == 1
    assert capsys.readouterr().err == (
        f"The DAG processor has not counted the queued runs of {DAG_ID} within 0 s: not unpaused (unpausing would "
        "start a scheduled run before the dry run); see the airflow-dag-processor log\n")

    parse_dag_files()  # the DAG processor's next parse: max_active_runs reached by the queued runs
    capsys.readouterr()
    assert queued_runs.waiting_for_parse([DAG_ID]) == []
    assert queued_runs.main(["--timeout", "0", DAG_ID]) == 0
    assert capsys.readouterr().out == "The queued runs of 1 DAGs come first once they are unpaused\n"
    assert once_unpaused() == (False, [{"dry_run": True}, {"dry_run": False}])


def test_an_unpaused_dag_runs_its_queued_runs_already_and_an_unknown_one_is_waited_for(triggered, queued_runs):
    set_dag(is_paused=False)
    assert queued_runs.waiting_for_parse([DAG_ID, "aeries_to_nowhere"]) == ["aeries_to_nowhere"]
