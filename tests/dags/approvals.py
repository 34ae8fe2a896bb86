"""Answering an approval task (Airflow's HITL ApprovalOperator) the way a person does in the UI.

A thread waits for the task to park in AWAITING_INPUT, then answers it through Airflow's own REST API (PATCH
.../hitlDetails, the call the UI's Required actions page makes) or lets it time out with the scheduler's own
timeout sweep, while the test runs the DAG with ``dag.test()`` (or a subprocess runs it).
"""

from __future__ import annotations

import threading
import time


def answer_when_waiting(dag_id: str, task_id: str, decision: str | None, answered: dict,
                        on_waiting=None) -> threading.Thread:
    """Wait for ``task_id`` of ``dag_id`` to park, then answer it over the REST API (or time it out when None);
    ``on_waiting(answered)`` runs while it waits, before the answer (to look at what happened so far)."""

    def respond():
        from airflow.models import TaskInstance
        from airflow.models.hitl import HITLDetail
        from airflow.utils.session import create_session
        from airflow.utils.state import TaskInstanceState

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with create_session() as session:
                ti = (
                    session.query(TaskInstance)
                    .filter_by(dag_id=dag_id, task_id=task_id, state=TaskInstanceState.AWAITING_INPUT)
                    .one_or_none()
                )
                if ti is not None:
                    detail = session.query(HITLDetail).filter_by(ti_id=ti.id).one()
                    answered["subject"], answered["body"] = detail.subject, detail.body
                    run_id = ti.run_id
                    break
            time.sleep(0.5)
        else:
            answered["error"] = f"{task_id} never waited for input"
            return
        try:
            if on_waiting is not None:
                on_waiting(answered)
            if decision is None:
                time_out(dag_id, task_id, run_id)
            else:
                answered["status"] = respond_over_api(dag_id, task_id, run_id, decision)
        except BaseException:
            import traceback

            answered["error"] = traceback.format_exc()
            time_out(dag_id, task_id, run_id)  # end the run rather than leave dag.test() waiting forever

    thread = threading.Thread(target=respond, daemon=True)
    thread.start()
    return thread


def respond_over_api(dag_id: str, task_id: str, run_id: str, decision: str) -> int:
    from airflow.api_fastapi.app import create_app
    from airflow.configuration import conf
    from fastapi.testclient import TestClient

    # Every request an admin's for this answer only: the setting is the process's, and other tests check logins.
    saved = conf.get("core", "simple_auth_manager_all_admins", fallback="False")
    conf.set("core", "simple_auth_manager_all_admins", "True")
    try:
        with TestClient(create_app("core")) as client:
            response = client.patch(
                f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/-1/hitlDetails",
                json={"chosen_options": [decision], "params_input": {}},
            )
    finally:
        conf.set("core", "simple_auth_manager_all_admins", saved)
    assert response.status_code == 200, response.text
    return response.status_code


def time_out(dag_id: str, task_id: str, run_id: str) -> None:
    """Move the response deadline into the past and run the scheduler's own AWAITING_INPUT timeout sweep."""
    import logging
    from datetime import timedelta
    from types import SimpleNamespace

    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
    from airflow.models import TaskInstance
    from airflow.utils import timezone
    from airflow.utils.session import create_session

    with create_session() as session:
        ti = session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=run_id, task_id=task_id).one()
        ti.trigger_timeout = timezone.utcnow() - timedelta(seconds=1)
    SchedulerJobRunner.check_awaiting_input_timeouts(SimpleNamespace(log=logging.getLogger("sweep")))
