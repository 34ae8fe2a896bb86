"""The track_changes task: the run's files compared with the last delivery, for the mass-change guard."""

from __future__ import annotations

import dataclasses
import logging

from aeries_hub.delivery.state import delivered_state
from aeries_hub.delivery.tracking import compare_files, state_loss
from aeries_hub.run.summary import ChangeTracking, write_summary
from aeries_hub.staging import RunFolder
from aeries_hub.tasks.context import mapping_for

log = logging.getLogger(__name__)


def track_changes(mapping_file: str) -> dict:
    """Compare every built file with the last delivered one by its key: added, changed and removed rows,
    and whether the run exceeds the mapping's mass-change guard (the approve_changes task acts on that, from the
    summary). Returns how many guard limits the run exceeds.

    A DAG that delivered before but has no readable record of it (staging lost, moved or cut off) is not
    a first delivery: it needs approval, with the reason. A first delivery is marked, with the last successful
    dry run to the target (the approve_changes task decides on them)."""
    from airflow.sdk import get_current_context

    mapping = mapping_for(mapping_file)
    run = RunFolder.current()
    context = get_current_context()
    state = delivered_state(mapping, context["params"])
    last_delivery = state.read()
    last = last_delivery.manifest
    exceeded = [] if last else state_loss(mapping, state, last_delivery, context)
    first = not last and not exceeded
    files, over_guard = compare_files(mapping, run, last_delivery)
    exceeded += over_guard
    summary = ChangeTracking(
        target=state.root.name,
        last_delivery={"run_id": last["run_id"], "delivered_at": last["delivered_at"]} if last else None,
        files=files,
        exceeded=exceeded,
        guard=dataclasses.asdict(mapping.guard),
        state_problems=[
            f"{problem}; this run was compared with the previous generation ({last_delivery.folder}, run "
            f"{last['run_id']}), and its delivery writes a new record" for problem in last_delivery.problems
        ] if last else [],
        first_delivery=first,
        dry_run=state.dry_run() if first else None,
    )
    if first:
        log.info("No earlier delivery to %s: every row is new, and the mass-change guard does not apply", state.root.name)
    for problem in summary.state_problems:
        log.warning("Last delivery record: %s", problem)
    for reason in exceeded:
        log.warning("Mass-change guard: %s", reason)
    write_summary(run, "track_changes", summary)
    return {"exceeded": len(exceeded)}

