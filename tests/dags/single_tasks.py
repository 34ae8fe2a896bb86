"""Running some tasks of a DAG alone, on what an earlier full run of it staged: a variant of a run (a fault, a param,
a mapping option) that changes what one stage sees runs that stage only, instead of a whole ``dag.test()``.

:func:`run_tasks` makes a new run of the DAG in the metadata database (as ``dag.test()`` does) in which the tasks
upstream of the ones asked for are as they ended in the earlier run (state and returned value), its staging folder a
copy of that run's without what the asked-for tasks and those after them wrote. Then each asked-for task runs the
way ``dag.test()`` runs a task (Airflow's task runner in this process: the real context, params, XComs, inlet and
outlet events; no retry), in the order given, when its upstream tasks let it under its trigger rule (the two the
DAGs use: all_success, and all_done for the report); else it ends upstream_failed or skipped as under dag.test().
A task that parks in AWAITING_INPUT (an approval) waits, as under ``dag.test()``, until an answer from outside (the
REST API, the scheduler's timeout sweep: ``tests/dags/approvals.py``) schedules it again, and then resumes.
Tasks after them do not run; when every task of the run has ended, the run takes its final state.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from typing import Any


def tasks_from(dag, *task_ids: str) -> list[str]:
    """``task_ids`` and every task after them, in an order their dependencies allow."""
    chosen = set(task_ids)
    for task_id in task_ids:
        chosen |= {task.task_id for task in dag.get_task(task_id).get_flat_relatives(upstream=False)}
    return [task.task_id for task in dag.topological_sort() if task.task_id in chosen]


def extract_tasks(dag) -> list[str]:
    return [task.task_id for task in dag.tasks if task.task_id.startswith("extract_")]


def run_tasks(dag, after, task_ids: list[str], *, run_conf: dict[str, Any] | None = None,
              logical_date: datetime | None = None):
    """A new run of ``dag`` in which only ``task_ids`` run, on a copy of the staging folder of ``after`` (an earlier
    run of ``dag``: the DagRun ``dag.test()`` returned); the DagRun, its task instances read back after the last."""
    from airflow.models.dagrun import DagRun, get_or_create_dagrun
    from airflow.models.xcom import XComModel
    from airflow.sdk import timezone
    from airflow.sdk.definitions.dag import _run_task
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.utils.session import create_session
    from airflow.utils.state import State, TaskInstanceState
    from airflow.utils.trigger_rule import TriggerRule
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    from aeries_hub.staging import RunFolder, staging_base

    rerun = set(tasks_from(dag, *task_ids))
    scheduler_dag = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
    now = timezone.utcnow()
    logical_date = logical_date or now
    with create_session() as session:
        run = get_or_create_dagrun(
            dag=scheduler_dag, run_id=DagRun.generate_run_id(run_type=DagRunType.MANUAL, logical_date=logical_date,
                                                             run_after=now),
            logical_date=logical_date, data_interval=None, run_after=now, conf=run_conf,
            triggered_by=DagRunTriggeredByType.TEST, triggering_user_name="dag_test", start_date=now, session=session,
        )
        run_id = run.run_id
        earlier = {ti.task_id: ti for ti in after.get_task_instances(session=session)}
        for ti in run.get_task_instances(session=session):
            if ti.task_id not in rerun:
                ti.state = earlier[ti.task_id].state
                ti.try_number = earlier[ti.task_id].try_number
        for xcom in session.scalars(XComModel.get_many(run_id=after.run_id, dag_ids=dag.dag_id, key="return_value")):
            if xcom.task_id not in rerun:
                XComModel.set("return_value", xcom.value, dag_id=dag.dag_id, task_id=xcom.task_id, run_id=run_id,
                              serialize=False, session=session)

    source, target = (Path(RunFolder(staging_base(), dag.dag_id, r).root.path) for r in (after.run_id, run_id))
    shutil.copytree(source, target)
    (target / "report.json").unlink(missing_ok=True)
    for task_id in rerun:
        for folder in ("summary", "resources", "failures"):
            (target / folder / f"{task_id}.json").unlink(missing_ok=True)

    for task_id in task_ids:
        task = dag.task_dict[task_id]
        with create_session() as session:
            (run,) = DagRun.find(dag_id=dag.dag_id, run_id=run_id, session=session)
            upstream = {ti.state for ti in run.get_task_instances(session=session) if ti.task_id in task.upstream_task_ids}
            ti = run.get_task_instance(task_id, session=session)
            if ti.state in State.finished:  # skipped by a task before it (a rejected approval)
                continue
            if task.trigger_rule not in (TriggerRule.ALL_SUCCESS, TriggerRule.ALL_DONE):
                raise NotImplementedError(f"{task_id}: trigger rule {task.trigger_rule}")
            if task.trigger_rule == TriggerRule.ALL_SUCCESS and None in upstream:
                raise ValueError(f"{task_id} waits for a task of this run that is not asked for: ask for it too")
            if task.trigger_rule == TriggerRule.ALL_SUCCESS and upstream - {TaskInstanceState.SUCCESS}:
                failed = upstream & {TaskInstanceState.FAILED, TaskInstanceState.UPSTREAM_FAILED}
                ti.state = TaskInstanceState.UPSTREAM_FAILED if failed else TaskInstanceState.SKIPPED
                session.commit()
                continue
            ti.try_number += 1
            ti.state = TaskInstanceState.SCHEDULED
            session.commit()
            _run_task(ti=ti, task=task, run_triggerer=True)
            _resume_after_input(ti, task)
    with create_session() as session:
        (result,) = DagRun.find(dag_id=dag.dag_id, run_id=run_id, session=session)
        if not [ti for ti in result.get_task_instances(session=session) if ti.state not in State.finished]:
            result.dag = scheduler_dag
            result.update_state(session=session, execute_callbacks=False)
        session.commit()
        session.expunge(result)
    return result


def _resume_after_input(ti, task, timeout: float = 180) -> None:
    """While ``ti`` waits in AWAITING_INPUT, wait for the answer that schedules it again, then resume it."""
    import time

    from airflow.models import TaskInstance
    from airflow.sdk.definitions.dag import _run_task
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    deadline = time.monotonic() + timeout
    while True:
        with create_session() as session:
            ti = session.get(TaskInstance, ti.id)
        if ti.state == TaskInstanceState.SCHEDULED:
            _run_task(ti=ti, task=task, run_triggerer=True)
        elif ti.state != TaskInstanceState.AWAITING_INPUT:
            return
        elif time.monotonic() > deadline:
            raise AssertionError(f"{ti.task_id} waited for input more than {timeout} s: nobody answered it")
        else:
            time.sleep(0.5)


def run_note(dag_run) -> str | None:
    """The run's note, as the grid shows it (read back from the metadata database)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        (run,) = DagRun.find(dag_id=dag_run.dag_id, run_id=dag_run.run_id, session=session)
        return run.note


def run_folder(dag_run):
    """The staged folder of ``dag_run`` (``aeries_hub.staging.RunFolder`` of its DAG and run)."""
    from aeries_hub.staging import RunFolder, staging_base

    return RunFolder(staging_base(), dag_run.dag_id, dag_run.run_id)
