"""The report task: every stage's summary gathered into the run's ``report.json`` (:mod:`aeries_hub.run.report`)."""

from __future__ import annotations

import dataclasses
import logging

from aeries_hub.delivery.state import delivered_state
from aeries_hub.run.report import report_lines, summarize_run
from aeries_hub.run.summary import read_run
from aeries_hub.staging import RunFolder
from aeries_hub.tasks.context import mapping_for

log = logging.getLogger(__name__)

#: The statuses of a dry run that count as seen before a first delivery (files built and checked).
DRY_RUN_SEEN = ("Completed", "Completed with errors")


def is_plain_dry_run(params) -> bool:
    """The ``dry_run`` param of a whole run: not a rollover preview (next year's data) nor a ``test_record`` run."""
    return bool(params.get("dry_run") and not params.get("rollover_preview") and not params.get("test_record"))


def report(mapping_file: str) -> dict:
    """Gather every stage's summary into ``report.json``, log it, and fail when the run ended in Error. The report
    is also the task's XCom (the status, counts and deliveries an operator reads in the UI), and its one-line
    outcome the XCom ``outcome``.

    The report holds counts, check outcomes and record ids, never other student data, so it is kept when
    the retention DAG deletes the run's staged files. A dry run that completed is remembered beside the record of
    the last delivery to its target (``dry_run.json``): the first delivery there then needs no approval.
    """
    from datetime import datetime, timezone

    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowFailException

    from aeries_hub.resources import read_resources

    mapping = mapping_for(mapping_file)
    run = RunFolder.current()
    report = dataclasses.replace(summarize_run(mapping, read_run(run)), staging=str(run.root),
                                 resources=read_resources(run),
                                 generated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    document = report.to_json()
    run.write_json("report.json", document)
    for line in report_lines(document):
        log.info("%s", line)
    # A task cannot set its run's note (the Execution API has none for a running DagRun): the run's one line
    # is this XCom, next to the report (docs/operations.md, "The run's outcome").
    context = get_current_context()
    context["ti"].xcom_push(key="outcome", value=report.outcome)
    if report.dry_run and report.status in DRY_RUN_SEEN and is_plain_dry_run(context["params"]):
        state = delivered_state(mapping, context["params"])
        state.save_dry_run(context["run_id"], report.generated_at or "")
        log.info("Dry run recorded in %s: a first delivery to %s goes without approval", state.root, state.root.name)
    if report.status == "Error":
        raise AirflowFailException(f"{report.outcome} (see {run.root}/report.json)")
    return document
