"""The run's one-line outcome as its note in Airflow's grid: ``Completed with errors: 12 rows rejected, top reasons:
...``, ``Error: deliver failed: DeliveryError: cannot reach sftp connection 'destiny_sftp' ...``.

A task cannot set its run's note: the Task SDK's Execution API reads a DagRun's note but writes one only on a run
it triggers, and the REST API would need credentials in the task. So the report task pushes the outcome as its
XCom ``outcome``, and this listener, in the process that ends the run (the scheduler; ``dag.test()`` under test),
writes it as the run's note when the run succeeds or fails. It uses that process's own session (the one holding
the run), reads only the metadata database, and leaves a note an operator wrote alone. Airflow loads it from the
plugins folder (``plugins/aeries_hub_run_notes.py``; the folder's ``aeries_hub/`` is ``.airflowignore``d).
"""

from __future__ import annotations

import logging

from airflow.listeners import hookimpl

log = logging.getLogger(__name__)

#: The task whose XCom ``outcome`` is the run's one line (``aeries_hub.tasks.report``).
REPORT_TASK_ID = "report"


@hookimpl
def on_dag_run_success(dag_run, msg: str) -> None:
    note_outcome(dag_run)


@hookimpl
def on_dag_run_failed(dag_run, msg: str) -> None:
    note_outcome(dag_run)


def note_outcome(dag_run) -> None:
    """Set the run's note to its report's one-line outcome, unless the run has none (not a hub DAG, or the report
    did not run) or a person wrote the note (it has a user)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy.orm import Session

    try:
        session = Session.object_session(dag_run)
        if session is not None:  # the scheduler's, which holds the run's row: a second session would wait on it
            _note(session, dag_run)
            return
        with create_session() as own:  # dag.test() hands over a run of no session
            _note(own, own.get(DagRun, dag_run.id))
    except Exception:  # noqa: BLE001 - a note must never disturb the scheduler
        log.warning("Could not set the note of %s run %s", dag_run.dag_id, dag_run.run_id, exc_info=True)


def _note(session, dag_run) -> None:
    from airflow.models.dagrun import DagRunNote
    from airflow.models.xcom import XComModel

    xcom = session.scalars(XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id,
                                              task_ids=REPORT_TASK_ID, key="outcome")).first()
    if xcom is None:
        return
    outcome = XComModel.deserialize_value(xcom)
    note = dag_run.dag_run_note
    if not isinstance(outcome, str) or (note is not None and note.user_id is not None):
        return
    if note is None:
        dag_run.dag_run_note = DagRunNote(content=outcome)
    else:
        note.content = outcome

